//! State shared by every connection of one server.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use crate::config::ServerConfig;
use crate::connect::{ConnectInfo, ConnectResult};
use crate::longpoll::Sessions;
use crate::messages::{ChannelStart, Control};
use crate::outbound::QueueState;
use crate::presence::Presence;
use crate::pubsub::PubSub;
use crate::pubsub::adapter::NodeId;

/// Starts a channel task for a join that matched a route (made by `Socket::channel`, which
/// knows the channel's type and hands it to the runner).
pub(crate) type Starter = dyn Fn(ChannelStart, Arc<Shared>) + Send + Sync;

/// The connect hook and the channel routes, as the server's state holds them: the public
/// `Socket` implements this, so the state (and the channel API on it) does not depend on the
/// runner that the socket's routes start.
pub(crate) trait Routes: Send + Sync {
    /// The connect hook's decision for an upgrade request.
    fn connect(&self, info: &ConnectInfo) -> ConnectResult;

    /// The starter of the first route matching `topic`.
    fn route(&self, topic: &str) -> Option<Arc<Starter>>;
}

/// What the server knows about a live connection.
pub(crate) struct ConnHandle {
    pub(crate) socket_id: Option<String>,
    pub(crate) control: mpsc::UnboundedSender<Control>,
    /// The byte accounting of the connection's outbound queue.
    pub(crate) queue: Arc<QueueState>,
}

/// The server-wide state.
pub(crate) struct Shared {
    pub(crate) config: ServerConfig,
    /// The socket: connect hook and channel routes.
    pub(crate) socket: Box<dyn Routes>,
    pub(crate) pubsub: PubSub,
    pub(crate) presence: Presence,
    pub(crate) connections: Mutex<HashMap<u64, ConnHandle>>,
    /// The long-poll sessions (each is also in `connections` while its connection runs).
    pub(crate) longpoll: Sessions,
    pub(crate) answer_heartbeats: AtomicBool,
    /// Fault injection: refuse every websocket upgrade with this HTTP status (0: accept).
    pub(crate) refuse_status: AtomicU16,
    /// Fault injection: read websocket upgrade requests and never answer them.
    pub(crate) hang_upgrades: AtomicBool,
    /// Fault injection: channels' replies to client pushes are not sent.
    pub(crate) drop_replies: AtomicBool,
    /// Fault injection: channels' replies to client pushes wait this long (milliseconds).
    pub(crate) reply_delay_ms: AtomicU64,
    next_id: AtomicU64,
}

impl Shared {
    pub(crate) fn new(socket: impl Routes + 'static, config: ServerConfig) -> Self {
        let node = NodeId {
            name: config.node_name.clone(),
            incarnation: random_incarnation(),
        };
        Shared {
            presence: Presence::new(node.incarnation),
            pubsub: PubSub::new(node),
            config,
            socket: Box::new(socket),
            connections: Mutex::default(),
            longpoll: Sessions::default(),
            answer_heartbeats: AtomicBool::new(true),
            refuse_status: AtomicU16::new(0),
            hang_upgrades: AtomicBool::new(false),
            drop_replies: AtomicBool::new(false),
            reply_delay_ms: AtomicU64::new(0),
            next_id: AtomicU64::new(1),
        }
    }

    /// A fresh id for a connection or a channel.
    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Bytes queued for every connection's writer and not yet written to its socket.
    pub(crate) fn outbound_queued_bytes(&self) -> usize {
        let connections = self.connections.lock().unwrap_or_else(|e| e.into_inner());
        connections.values().map(|c| c.queue.queued()).sum()
    }

    /// Asks every connection matching `filter` to close with `code`; returns how many.
    pub(crate) fn close_connections(
        &self,
        code: u16,
        filter: impl Fn(&ConnHandle) -> bool,
    ) -> usize {
        let connections = self.connections.lock().unwrap_or_else(|e| e.into_inner());
        connections
            .values()
            .filter(|c| filter(c))
            .filter(|c| c.control.send(Control::Close(code)).is_ok())
            .count()
    }
}

/// A number that tells this process from an earlier one with the same node name.
fn random_incarnation() -> u64 {
    use ring::rand::{SecureRandom, SystemRandom};
    let mut bytes = [0u8; 8];
    if SystemRandom::new().fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or_default();
        return nanos ^ u64::from(std::process::id());
    }
    u64::from_be_bytes(bytes)
}
