//! Reliability: the client against links and servers that misbehave (issue 10, items 5 and 7).
//!
//! The link faults come from the fault-injection proxy (`support::proxy`) in front of the
//! in-process demo server; the hostile server is a few lines of tokio below. Bounds are generous
//! for "it happens" and tight only where the old behaviour must be told apart.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;
use slipstream_client::testkit::TestServer;
use slipstream_client::{
    Backoff, ConfigError, ConnectError, DisconnectReason, Payload, ReplyError, Serializer, Socket,
    SocketEvent,
};
use slipstream_protocol::Ref;
use slipstream_server::RunningServer;
use tokio::net::TcpListener;

use crate::support::proxy::{Direction, Proxy, Refuse};
use crate::support::{WAIT, demo, joined_socket};

const HEARTBEAT: Duration = Duration::from_secs(1);
/// Enough 1 MB pushes to fill the client's and the proxy's kernel buffers on loopback.
const BIG_PUSHES: usize = 40;

/// A 1 MB JSON payload, serialised once (cloning it is a copy, not a serialisation).
fn megabyte_payload() -> Payload {
    Payload::json(&json!({ "data": "x".repeat(1 << 20) }))
}

/// Waits for every push's outcome; each must be an error (nothing can be answered through a
/// blackhole) and come exactly once.
async fn assert_one_error_each(socket: &Socket, refs: &[Ref]) {
    for r in refs {
        match socket.await_reply(r, Some(WAIT)).await {
            Err(ReplyError::Timeout) => panic!("push {r} got no outcome"),
            Err(_) => {}
            Ok(reply) => panic!("push {r} was answered through a blackhole: {reply:?}"),
        }
    }
    let twice: Vec<_> = socket
        .flush()
        .into_iter()
        .filter(|e| matches!(e, SocketEvent::Reply { push_ref, .. } if refs.contains(push_ref)))
        .collect();
    assert!(twice.is_empty(), "second outcomes: {twice:?}");
}

#[tokio::test]
async fn a_write_blocked_on_a_dead_link_does_not_stop_the_heartbeat() {
    let server = demo().await;
    let proxy = Proxy::start(server.local_addr()).await;
    let builder = Socket::builder(proxy.url_for(&server.ws_url()))
        .heartbeat_interval(HEARTBEAT)
        .reconnect_after(Backoff::steps([200], 200).without_jitter())
        .await_timeout(WAIT);
    let socket = joined_socket(builder, "rooms:lobby").await;

    let payload = megabyte_payload();
    proxy.faults().blackhole(Direction::Both);
    let blackholed = std::time::Instant::now();
    let refs: Vec<Ref> = (0..BIG_PUSHES)
        .map(|_| socket.push("rooms:lobby", "echo", payload.clone()))
        .collect();

    // The heartbeat sent during the stalled write goes unanswered: the link is declared dead
    // within two intervals, long before the link returns (it never does in this test).
    let reason = socket.await_disconnect(Some(3 * HEARTBEAT)).await;
    assert_eq!(reason, Ok(DisconnectReason::HeartbeatTimeout));
    assert!(
        blackholed.elapsed() < 3 * HEARTBEAT,
        "{:?}",
        blackholed.elapsed()
    );
    assert_one_error_each(&socket, &refs).await;

    // Still blackholed (the reconnect attempt hangs in its upgrade): disconnect is honoured.
    socket.disconnect();
    assert_eq!(
        socket.await_disconnect(Some(Duration::from_secs(5))).await,
        Ok(DisconnectReason::ClientRequested)
    );
}

/// A socket joined to `rooms:lobby` through a proxy that then blackholes both ways. A long
/// heartbeat: only a disconnect can end the connection within a test. A queue that takes every
/// push, so that the last ones wait behind the stalled write.
async fn stalled_socket() -> (RunningServer, Proxy, Socket) {
    let server = demo().await;
    let proxy = Proxy::start(server.local_addr()).await;
    let builder = Socket::builder(proxy.url_for(&server.ws_url()))
        .heartbeat_interval(Duration::from_secs(60))
        .outbound_queue_limit(64 << 20)
        .await_timeout(WAIT);
    let socket = joined_socket(builder, "rooms:lobby").await;
    proxy.faults().blackhole(Direction::Both);
    (server, proxy, socket)
}

#[tokio::test]
async fn disconnect_is_honoured_while_a_write_is_stalled() {
    let (_server, proxy, socket) = stalled_socket().await;
    let payload = megabyte_payload();
    let refs: Vec<Ref> = (0..BIG_PUSHES)
        .map(|_| socket.push("rooms:lobby", "echo", payload.clone()))
        .collect();
    // Push timeouts still fire while the write is stalled (this one waits behind it).
    let late =
        socket.push_with_timeout("rooms:lobby", "ping", json!({}), Duration::from_millis(300));
    assert!(matches!(
        socket
            .await_reply(&late, Some(Duration::from_secs(5)))
            .await,
        Err(ReplyError::PushTimeout(_))
    ));

    socket.disconnect();
    assert_eq!(
        socket.await_disconnect(Some(Duration::from_secs(5))).await,
        Ok(DisconnectReason::ClientRequested)
    );
    assert_one_error_each(&socket, &refs).await;
    // And the socket is usable again once the link is back.
    proxy.faults().restore(Direction::Both);
    socket.connect();
    socket.await_connect(Some(WAIT)).await.unwrap();
}

#[tokio::test]
async fn no_reply_pushes_the_link_never_took_are_reported_when_the_connection_ends() {
    // A no-reply push is done once flushed; one still queued behind a stalled write when the
    // connection ends must not vanish: it ends as one Reply with the disconnect.
    let (_server, _proxy, socket) = stalled_socket().await;
    let payload = megabyte_payload();
    let refs: Vec<Ref> = (0..BIG_PUSHES)
        .map(|_| socket.push_no_reply("rooms:lobby", "broadcast", payload.clone()))
        .collect();
    // Let the task hand the link what it takes before the kernel buffers fill.
    tokio::time::sleep(Duration::from_millis(300)).await;
    socket.disconnect();
    assert_eq!(
        socket.await_disconnect(Some(Duration::from_secs(5))).await,
        Ok(DisconnectReason::ClientRequested)
    );
    let failed: Vec<Ref> = socket
        .flush()
        .into_iter()
        .filter_map(|e| match e {
            SocketEvent::Reply {
                push_ref,
                result: Err(ReplyError::Disconnected(_)),
                ..
            } if refs.contains(&push_ref) => Some(push_ref),
            _ => None,
        })
        .collect();
    assert!(
        !failed.is_empty(),
        "the pushes stuck behind the stalled link must be reported"
    );
    // Those reported are the last ones, each once: what was flushed before them is done.
    assert_eq!(failed, refs[refs.len() - failed.len()..]);
}

#[tokio::test]
async fn a_silent_server_is_reported_after_two_heartbeat_intervals_not_three() {
    let server = demo().await;
    let proxy = Proxy::start(server.local_addr()).await;
    let socket = Socket::builder(proxy.url_for(&server.ws_url()))
        .heartbeat_interval(HEARTBEAT)
        .reconnect_after(Backoff::steps([200], 200).without_jitter())
        .await_timeout(WAIT)
        .build()
        .unwrap();
    socket.connect();
    socket.await_connect(None).await.unwrap();
    let connected = std::time::Instant::now();
    // Before the first heartbeat (due 1 s after connecting): nothing comes back from now on.
    proxy.faults().blackhole(Direction::Both);

    let reason = socket.await_disconnect(Some(Duration::from_secs(10))).await;
    let after = connected.elapsed();
    assert_eq!(reason, Ok(DisconnectReason::HeartbeatTimeout));
    // Heartbeat at 1 s, no ack by 2 s: reported then. Waiting for a close handshake that a dead
    // peer never answers would make it 3 s.
    assert!(
        after >= Duration::from_millis(1800) && after < Duration::from_millis(2600),
        "reported after {after:?}"
    );
}

#[tokio::test]
async fn the_outbound_queue_is_bounded_and_refuses_pushes_beyond() {
    let server = demo().await;
    let proxy = Proxy::start(server.local_addr()).await;
    let builder = Socket::builder(proxy.url_for(&server.ws_url()))
        .heartbeat_interval(Duration::from_secs(60))
        .outbound_queue_limit(2 << 20)
        .await_timeout(WAIT);
    let socket = joined_socket(builder, "rooms:lobby").await;

    let payload = megabyte_payload();
    proxy.faults().blackhole(Direction::Both);
    let refs: Vec<Ref> = (0..BIG_PUSHES)
        .map(|_| socket.push("rooms:lobby", "echo", payload.clone()))
        .collect();
    // The first refusal comes at once, while the link is still open.
    let mut refused = 0;
    for r in &refs {
        if let Ok(Err(ReplyError::OutboundQueueFull { limit, .. })) = tokio::time::timeout(
            Duration::from_millis(500),
            socket.await_reply(r, Some(WAIT)),
        )
        .await
        {
            assert_eq!(limit, 2 << 20);
            refused += 1;
        }
    }
    assert!(refused > 0, "no push was refused");
    assert!(socket.is_connected());
    socket.disconnect();
    socket.await_disconnect(None).await.unwrap();
}

/// A server that completes the websocket upgrade and closes at once, counting connections.
async fn hostile_server() -> (String, Arc<AtomicUsize>, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/socket", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let count2 = count.clone();
    let task = tokio::spawn(async move {
        // Bounded: the test aborts this task; each connection gets at most 5 s.
        for _ in 0..10_000 {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            count2.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let _ = tokio::time::timeout(Duration::from_secs(5), async {
                    if let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await {
                        let _ = ws.close(None).await;
                    }
                })
                .await;
            });
        }
    });
    (url, count, task)
}

#[tokio::test]
async fn a_server_that_closes_every_connection_at_once_is_not_redialled_in_a_storm() {
    let (url, count, task) = hostile_server().await;
    let socket = Socket::builder(url)
        // phoenix.js's schedule, without jitter: 10, 50, 100, 150, 200, 250, 500, 1000 ms… add
        // up to 2.26 s, so about 10 attempts fit in 3 s if the schedule keeps climbing.
        .reconnect_after(
            Backoff::steps([10, 50, 100, 150, 200, 250, 500, 1000, 2000], 5000).without_jitter(),
        )
        .build()
        .unwrap();
    socket.connect();
    socket.await_connect(Some(WAIT)).await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let attempts = count.load(Ordering::SeqCst);
    task.abort();
    socket.disconnect();
    // Resetting the schedule on every upgrade redials every 10 ms: hundreds in 3 s.
    assert!((3..15).contains(&attempts), "{attempts} connections in 3 s");
}

async fn next_reconnecting(socket: &Socket) -> (u32, Duration) {
    for _ in 0..100 {
        match socket.next_event(Some(WAIT)).await {
            Ok(SocketEvent::Reconnecting { attempt, delay, .. }) => return (attempt, delay),
            Ok(_) => continue,
            Err(e) => panic!("no reconnect scheduled: {e}"),
        }
    }
    panic!("no reconnect scheduled within 100 events");
}

#[tokio::test(start_paused = true)]
async fn the_reconnect_schedule_restarts_only_after_a_heartbeat_ack() {
    let mut server = TestServer::new();
    let socket = server
        .builder()
        .heartbeat_interval(HEARTBEAT)
        .reconnect_after(Backoff::steps([10, 50, 100], 200).without_jitter())
        .build()
        .unwrap();
    socket.connect();
    server.accept_connect().await.unwrap();
    socket.await_connect(None).await.unwrap();

    // Two connections that die young: the schedule climbs.
    server.drop_connection().unwrap();
    assert_eq!(
        next_reconnecting(&socket).await,
        (1, Duration::from_millis(10))
    );
    server.accept_connect().await.unwrap();
    server.drop_connection().unwrap();
    assert_eq!(
        next_reconnecting(&socket).await,
        (2, Duration::from_millis(50))
    );

    // One that gets its first heartbeat ack (the test server answers it): the schedule restarts.
    server.accept_connect().await.unwrap();
    tokio::time::sleep(HEARTBEAT + Duration::from_millis(100)).await;
    server.drop_connection().unwrap();
    assert_eq!(
        next_reconnecting(&socket).await,
        (1, Duration::from_millis(10))
    );
}

#[tokio::test]
async fn a_v1_vsn_in_the_url_selects_the_v1_serializer() {
    let server = demo().await;
    let url = format!("{}?vsn=1.0.0", server.ws_url());
    let socket = joined_socket(Socket::builder(&url).await_timeout(WAIT), "rooms:lobby").await;
    let ping = socket.push("rooms:lobby", "ping", json!({}));
    let reply = socket.await_reply(&ping, None).await.unwrap();
    assert_eq!(reply.status, "ok");

    // A serializer that contradicts the URL's vsn is a configuration error, not V2 frames.
    assert!(matches!(
        Socket::builder(&url).serializer(Serializer::V2).build(),
        Err(ConfigError::SerializerConflict { .. })
    ));
}

/// The next `Reconnecting` event whose error satisfies `want`.
async fn reconnect_failing_with(socket: &Socket, want: impl Fn(&ConnectError) -> bool) {
    for _ in 0..1000 {
        match socket.next_event(Some(WAIT)).await {
            Ok(SocketEvent::Reconnecting {
                error: Some(error), ..
            }) if want(&error) => return,
            Ok(_) => continue,
            Err(e) => panic!("no such reconnect failure: {e}"),
        }
    }
    panic!("no such reconnect failure within 1000 events");
}

#[tokio::test]
async fn the_proxy_delays_throttles_cuts_and_refuses() {
    let server = demo().await;
    let proxy = Proxy::start(server.local_addr()).await;
    let builder = Socket::builder(proxy.url_for(&server.ws_url()))
        .reconnect_after(Backoff::steps([50], 50).without_jitter())
        .await_timeout(WAIT);
    let socket = joined_socket(builder, "rooms:lobby").await;

    // Delay: each chunk waits, both ways.
    proxy.faults().delay(Duration::from_millis(150));
    let started = std::time::Instant::now();
    let ping = socket.push("rooms:lobby", "ping", json!({}));
    socket.await_reply(&ping, None).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    proxy.faults().delay(Duration::ZERO);

    // Throttle: 100 KB up and back at 200 KB/s takes about a second.
    proxy.faults().throttle(Some(200_000));
    let started = std::time::Instant::now();
    let echo = socket.push(
        "rooms:lobby",
        "echo",
        json!({ "data": "y".repeat(100_000) }),
    );
    socket.await_reply(&echo, None).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(700));
    proxy.faults().throttle(None);

    // Stop listening, then cut: reconnects are refused by the kernel.
    proxy.refuse(Refuse::StopListening);
    proxy.cut_all();
    assert!(matches!(
        socket.await_disconnect(None).await,
        Ok(DisconnectReason::TransportError(_) | DisconnectReason::ClosedByRemote { .. })
    ));
    reconnect_failing_with(&socket, |e| {
        matches!(e, ConnectError::ConnectionRefused { .. })
    })
    .await;

    // Accept and close at once: the upgrade fails.
    let before = proxy.accepted();
    proxy.refuse(Refuse::CloseAtOnce);
    reconnect_failing_with(&socket, |e| matches!(e, ConnectError::Transport(_))).await;
    assert!(proxy.accepted() > before);

    // Forward again: the socket reconnects and rejoins by itself.
    proxy.refuse(Refuse::No);
    socket.await_connect(None).await.unwrap();
    socket.await_join("rooms:lobby", None).await.unwrap();

    // One connection's own blackhole: its next ping gets no answer, then a cut ends it.
    let link = proxy.last_link().expect("the live link");
    link.faults.blackhole(Direction::Down);
    let ping =
        socket.push_with_timeout("rooms:lobby", "ping", json!({}), Duration::from_millis(300));
    assert!(matches!(
        socket.await_reply(&ping, None).await,
        Err(ReplyError::PushTimeout(_))
    ));
    link.cut();
    assert!(socket.await_disconnect(None).await.is_ok());
}

/// Over long-poll there are no heartbeats: a silent server is noticed by the poll's timeout,
/// and the socket reconnects and rejoins once the link works again.
#[tokio::test]
async fn a_silent_server_is_reported_over_long_poll_by_the_poll_timeout() {
    let server = demo().await;
    let proxy = Proxy::start(server.local_addr()).await;
    let socket = Socket::builder(proxy.url_for(&server.ws_url()))
        .transport(slipstream_client::Transport::LongPoll)
        .long_poll_timeout(Duration::from_millis(800))
        .reconnect_after(Backoff::steps([100], 100).without_jitter())
        .await_timeout(WAIT)
        .build()
        .unwrap();
    socket.connect();
    socket.await_connect(None).await.unwrap();
    socket.join("rooms:lobby", serde_json::json!({}));
    socket.await_join("rooms:lobby", None).await.unwrap();
    proxy.faults().blackhole(Direction::Both);
    let blackholed = std::time::Instant::now();

    let reason = socket
        .await_disconnect(Some(Duration::from_secs(10)))
        .await
        .unwrap();
    let after = blackholed.elapsed();
    assert!(
        reason.to_string().contains("no long-poll response within"),
        "{reason}"
    );
    assert!(
        after < Duration::from_millis(2000),
        "reported after {after:?}"
    );

    proxy.faults().restore(Direction::Both);
    socket.await_connect(None).await.unwrap();
    socket.await_join("rooms:lobby", None).await.unwrap();
}

/// How many broadcasts the burst below holds (about 60 KB of frames: within loopback's kernel
/// buffers, so the whole burst is waiting when the receiver's task first runs).
const BURST: usize = 1_000;

#[test]
fn a_burst_reaches_its_consumer_a_batch_at_a_time_not_all_at_once() {
    // The server and the sender run on a runtime of their own; the receiver on a current-thread
    // runtime that runs only inside `block_on`, so the burst piles up in its kernel buffer first.
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let receiver_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let server = server_rt.block_on(demo());
    let topic = "bench:burst";
    let receiver = receiver_rt.block_on(joined_socket(Socket::builder(server.ws_url()), topic));
    server_rt.block_on(async {
        let sender = joined_socket(Socket::builder(server.ws_url()), topic).await;
        for n in 0..BURST {
            sender.push_no_reply(topic, "fanout", json!({ "n": n }));
        }
        // The channel handles pushes in order: once this is answered, the burst was broadcast.
        let ping = sender.push(topic, "ping", json!({}));
        sender.await_reply(&ping, Some(WAIT)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
    });
    // A task, as consumers are: the runtime polls `block_on`'s own future only between rounds
    // of tasks.
    let consumer = async move {
        let fanout = slipstream_client::MessagePattern::any().event("fanout");
        let mut most_waiting = 0;
        for n in 0..BURST {
            let message = receiver.await_message(&fanout, Some(WAIT)).await.unwrap();
            assert_eq!(message.payload, json!({ "n": n }).into(), "in order");
            most_waiting = most_waiting.max(receiver.pending_events());
        }
        most_waiting
    };
    let most_waiting = receiver_rt
        .block_on(async { tokio::spawn(consumer).await })
        .unwrap();
    // The connection task hands over a batch (at most 256 frames), then lets the consumer run
    // before it reads on: a burst never sits in the mailbox whole.
    assert!(
        most_waiting < 300,
        "{most_waiting} events waited in the mailbox at once"
    );
}
