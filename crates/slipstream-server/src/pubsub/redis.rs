//! The Redis adapter: nodes sharing one Redis exchange [`NodeMessage`]s over one PUB/SUB channel
//! (`ServerConfig::pubsub`), as `phoenix_pubsub_redis` does.
//!
//! Two tasks per node: a publisher that writes queued messages on a multiplexed connection in
//! order, and a subscriber that hands every message from another node to the node's [`Inbox`].
//! When Redis goes away both reconnect with backoff (100 ms doubling to 5 s) while the node goes
//! on serving its own clients; one WARN line says so, and one INFO line on return says how many
//! messages to other nodes were lost meanwhile (broadcasts from other nodes in that time are
//! missed too: PUB/SUB keeps nothing for absent subscribers). Publishing never waits: while the
//! link is down, or when the queue is full, a message is counted as lost.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::adapter::{Adapter, Inbox, NodeMessage};

/// Messages that may wait for the publisher.
const QUEUE: usize = 16_384;
/// First and largest wait between reconnect attempts.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(5));

/// Publishes to, and receives from, one Redis PUB/SUB channel.
pub(crate) struct RedisAdapter {
    outgoing: mpsc::Sender<Vec<u8>>,
    link: Arc<Link>,
    tasks: [tokio::task::AbortHandle; 2],
}

/// The state both tasks share.
struct Link {
    url: String,
    channel: String,
    /// Subscribed, so messages can flow both ways.
    up: AtomicBool,
    lost: AtomicU64,
}

impl Adapter for RedisAdapter {
    fn publish(&self, message: NodeMessage) {
        if !self.link.up.load(Ordering::Acquire)
            || self.outgoing.try_send(message.encode()).is_err()
        {
            self.link.lost.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn lost(&self) -> u64 {
        self.link.lost.load(Ordering::Relaxed)
    }
}

impl Drop for RedisAdapter {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Checks `url` and starts the adapter's tasks; Redis need not be reachable yet. The
/// subscriber hands messages to `inbox` and stops once it is gone.
pub(crate) fn start(
    url: &str,
    channel: &str,
    inbox: Weak<dyn Inbox>,
) -> Result<RedisAdapter, redis::RedisError> {
    let client = redis::Client::open(url)?;
    let link = Arc::new(Link {
        url: url.to_owned(),
        channel: channel.to_owned(),
        up: AtomicBool::new(false),
        lost: AtomicU64::new(0),
    });
    let (outgoing, queue) = mpsc::channel(QUEUE);
    let publisher = tokio::spawn(publish_loop(client.clone(), link.clone(), queue));
    let subscriber = tokio::spawn(subscribe_loop(client, link.clone(), inbox));
    Ok(RedisAdapter {
        outgoing,
        link,
        tasks: [publisher.abort_handle(), subscriber.abort_handle()],
    })
}

async fn publish_loop(client: redis::Client, link: Arc<Link>, mut queue: mpsc::Receiver<Vec<u8>>) {
    let mut wait = BACKOFF.0;
    loop {
        let mut conn = match client.get_multiplexed_async_connection().await {
            Ok(conn) => conn,
            Err(_) => {
                // The subscriber reports the outage; drop what waits, it cannot go.
                while queue.try_recv().is_ok() {
                    link.lost.fetch_add(1, Ordering::Relaxed);
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(BACKOFF.1);
                continue;
            }
        };
        wait = BACKOFF.0;
        while let Some(message) = queue.recv().await {
            let sent: redis::RedisResult<()> = redis::cmd("PUBLISH")
                .arg(&link.channel)
                .arg(message)
                .query_async(&mut conn)
                .await;
            if sent.is_err() {
                link.lost.fetch_add(1, Ordering::Relaxed);
                break;
            }
        }
        if queue.is_closed() && queue.is_empty() {
            return;
        }
    }
}

async fn subscribe_loop(client: redis::Client, link: Arc<Link>, inbox: Weak<dyn Inbox>) {
    let mut wait = BACKOFF.0;
    let mut connected_before = false;
    // When the current outage began, and the lost count then.
    let mut outage: Option<(Instant, u64)> = None;
    let mut outage_logged = false;
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => match pubsub.subscribe(&link.channel).await {
                Ok(()) => {
                    link.up.store(true, Ordering::Release);
                    wait = BACKOFF.0;
                    match outage.take() {
                        Some((since, lost_then)) if connected_before => tracing::info!(
                            "reconnected to Redis at {} after {:.1} s; {} messages to other \
                             nodes were lost meanwhile, and their broadcasts in that time \
                             were missed",
                            link.url,
                            since.elapsed().as_secs_f64(),
                            link.lost.load(Ordering::Relaxed) - lost_then
                        ),
                        _ => tracing::info!(
                            "connected to Redis at {} (channel {})",
                            link.url,
                            link.channel
                        ),
                    }
                    connected_before = true;
                    let mut messages = pubsub.on_message();
                    while let Some(message) = messages.next().await {
                        let Some(inbox) = inbox.upgrade() else {
                            return;
                        };
                        if let Some(message) = NodeMessage::decode(message.get_payload_bytes()) {
                            inbox.receive(message);
                        }
                    }
                    link.up.store(false, Ordering::Release);
                    outage = Some((Instant::now(), link.lost.load(Ordering::Relaxed)));
                    tracing::warn!(
                        "lost the connection to Redis at {}; this node serves its own clients \
                         only until it reconnects",
                        link.url
                    );
                    outage_logged = true;
                }
                Err(err) => report_unreachable(&link, &err, &mut outage, &mut outage_logged),
            },
            Err(err) => report_unreachable(&link, &err, &mut outage, &mut outage_logged),
        }
        if inbox.strong_count() == 0 {
            return;
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(BACKOFF.1);
    }
}

/// Logs, once per outage, that Redis cannot be reached.
fn report_unreachable(
    link: &Link,
    err: &redis::RedisError,
    outage: &mut Option<(Instant, u64)>,
    logged: &mut bool,
) {
    outage.get_or_insert_with(|| (Instant::now(), link.lost.load(Ordering::Relaxed)));
    if !*logged {
        tracing::warn!(
            "cannot reach Redis at {}: {err}; this node serves its own clients only, and keeps \
             trying",
            link.url
        );
        *logged = true;
    }
}
