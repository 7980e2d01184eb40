//! What only the long-poll transport does: the fallback from a websocket that does not open,
//! binary pushes up as base64 lines, batching under load, no heartbeats, session loss, and the
//! request timeout and body checks against a scripted HTTP server.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;
use slipstream_client::{
    Backoff, ConnectError, MessagePattern, Payload, Socket, SocketEvent, Transport,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::support::{builder, demo, joined_socket, per_transport};

/// A websocket upgrade that is never answered: after the fallback time the socket connects over
/// long-poll, and its reconnects go straight there even once websockets work again.
#[tokio::test]
async fn a_hanging_websocket_upgrade_falls_back_to_long_poll_for_the_sockets_life() {
    let server = demo().await;
    server.set_hang_websocket_upgrades(true);
    let socket = Socket::builder(server.ws_url())
        .long_poll_fallback(Duration::from_millis(300))
        .reconnect_after(Backoff::steps([10], 10))
        .build()
        .unwrap();
    let started = tokio::time::Instant::now();
    socket.connect();
    socket.await_connect(None).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(socket.transport(), Some(Transport::LongPoll));
    socket.join("rooms:lobby", json!({}));
    socket.await_join("rooms:lobby", None).await.unwrap();

    server.set_hang_websocket_upgrades(false);
    server.close_all_connections(1012);
    socket.await_disconnect(None).await.unwrap();
    socket.await_connect(None).await.unwrap();
    assert_eq!(socket.transport(), Some(Transport::LongPoll), "remembered");
    socket.await_join("rooms:lobby", None).await.unwrap();
    let ping = socket.push("rooms:lobby", "ping", json!({}));
    assert_eq!(socket.await_reply(&ping, None).await.unwrap().status, "ok");
    server.shutdown().await;
}

/// A refused upgrade falls back at once, without waiting out the fallback time.
#[tokio::test]
async fn a_refused_websocket_upgrade_falls_back_to_long_poll() {
    let server = demo().await;
    server.set_refuse_connects(Some(503));
    let socket = Socket::builder(server.ws_url())
        .long_poll_fallback(Duration::from_millis(300))
        .build()
        .unwrap();
    socket.connect();
    socket.await_connect(None).await.unwrap();
    assert_eq!(socket.transport(), Some(Transport::LongPoll));
    server.shutdown().await;
}

/// A websocket that opens in time is kept; the fallback never happens.
#[tokio::test]
async fn a_working_websocket_is_kept_with_a_fallback_set() {
    let server = demo().await;
    let socket = joined_socket(
        Socket::builder(server.ws_url()).long_poll_fallback(Duration::from_secs(5)),
        "rooms:lobby",
    )
    .await;
    assert_eq!(socket.transport(), Some(Transport::WebSocket));
    server.shutdown().await;
}

/// Broadcasts travel between a websocket client and a long-poll client, both ways; a binary
/// push goes up as a base64 line and reaches the websocket client as the same bytes.
#[tokio::test]
async fn broadcasts_and_binary_pushes_cross_transports() {
    let server = demo().await;
    let topic = "rooms:lobby";
    let ws = joined_socket(builder(&server, Transport::WebSocket), topic).await;
    let lp = joined_socket(builder(&server, Transport::LongPoll), topic).await;
    let broadcast = MessagePattern::any().topic(topic).event("broadcast_event");

    ws.push_no_reply(topic, "broadcast", json!({"from": "ws"}));
    let got = lp.await_message(&broadcast, None).await.unwrap();
    assert_eq!(got.json(), Some(json!({"from": "ws"})));

    lp.push_no_reply(topic, "broadcast", json!({"from": "lp"}));
    loop {
        let got = ws.await_message(&broadcast, None).await.unwrap();
        if got.json() == Some(json!({"from": "lp"})) {
            break;
        }
    }

    // Bytes that are not UTF-8 and not a text frame: only a base64 line can carry them.
    let bytes = vec![0xff, 0x00, 0xfe, b'[', 0x80];
    lp.push_no_reply(topic, "broadcast", Payload::binary(bytes.clone()));
    let got = loop {
        let got = ws.await_message(&broadcast, None).await.unwrap();
        if got.payload.as_json_str().is_none() {
            break got;
        }
    };
    assert_eq!(got.payload, Payload::binary(bytes));
    server.shutdown().await;
}

/// Hundreds of pipelined pushes: batched into POSTs of at most 100 lines, each answered once.
async fn pipelined_pushes_are_all_answered(vsn: &'static str) {
    let server = demo().await;
    let topic = "rooms:lobby";
    let socket = joined_socket(
        Socket::builder(format!("{}?vsn={vsn}", server.ws_url())).transport(Transport::LongPoll),
        topic,
    )
    .await;
    let refs: Vec<_> = (0..250)
        .map(|i| socket.push(topic, "echo", json!({"i": i})))
        .collect();
    for (i, r) in refs.iter().enumerate() {
        let reply = socket.await_reply(r, None).await.unwrap();
        assert_eq!(reply.response, json!({"i": i}).into());
    }
    server.shutdown().await;
}

#[tokio::test]
async fn pipelined_v2_pushes_are_batched_and_all_answered() {
    pipelined_pushes_are_all_answered("2.0.0").await;
}

/// V1 object frames cannot share an ndjson body: one POST each, still all answered in order.
#[tokio::test]
async fn pipelined_v1_pushes_go_one_per_post_and_are_all_answered() {
    pipelined_pushes_are_all_answered("1.0.0").await;
}

/// No heartbeats over long-poll: a server that never answers them does not end the connection
/// (over a websocket it would within two intervals, see `policies`).
#[tokio::test]
async fn long_poll_sends_no_heartbeats() {
    let server = demo().await;
    server.set_answer_heartbeats(false);
    let socket = joined_socket(
        builder(&server, Transport::LongPoll).heartbeat_interval(Duration::from_millis(50)),
        "rooms:lobby",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(socket.is_connected());
    let ping = socket.push("rooms:lobby", "ping", json!({}));
    assert_eq!(socket.await_reply(&ping, None).await.unwrap().status, "ok");
    assert!(
        !socket
            .flush()
            .iter()
            .any(|e| matches!(e, SocketEvent::Disconnected(_))),
        "the connection never dropped"
    );
    server.shutdown().await;
}

/// The server restarts on the same port (every session is gone): the socket reconnects and
/// rejoins, over either transport.
async fn a_restarted_server_is_reconnected_and_rejoined(transport: Transport) {
    let server = demo().await;
    let addr = server.local_addr();
    let topic = "rooms:lobby";
    let socket = joined_socket(
        builder(&server, transport)
            .reconnect_after(Backoff::steps([20], 20))
            .long_poll_timeout(Duration::from_secs(2)),
        topic,
    )
    .await;
    server.shutdown().await;
    socket.await_disconnect(None).await.unwrap();
    let server = slipstream_server::spawn_demo(addr, Default::default())
        .await
        .expect("the port is free again");
    socket.await_connect(None).await.unwrap();
    assert_eq!(socket.transport(), Some(transport));
    socket.await_join(topic, None).await.unwrap();
    let ping = socket.push(topic, "ping", json!({}));
    assert_eq!(socket.await_reply(&ping, None).await.unwrap().status, "ok");
    server.shutdown().await;
}
per_transport!(
    #[tokio::test]
    a_restarted_server_is_reconnected_and_rejoined
);

/// How the scripted server answers the n-th request (0-based), or never (`None`).
type Script = Arc<dyn Fn(usize, &str) -> Option<String> + Send + Sync>;

/// A tiny HTTP/1.1 server for the answers the real one never gives; returns its socket URL and
/// the number of requests it has read.
async fn scripted_http(script: Script) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/socket", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let script = script.clone();
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                loop {
                    let mut chunk = [0u8; 4096];
                    let Ok(n) = tcp.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    // One request at a time; the client sends its body with a Content-Length.
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                    let length = head
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    if buf.len() < end + 4 + length {
                        continue;
                    }
                    buf.drain(..end + 4 + length);
                    let n = seen.fetch_add(1, Ordering::SeqCst);
                    let first_line = head.lines().next().unwrap_or("").to_owned();
                    match script(n, &first_line) {
                        Some(body) => {
                            let response = format!(
                                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                                 content-length: {}\r\n\r\n{body}",
                                body.len()
                            );
                            if tcp.write_all(response.as_bytes()).await.is_err() {
                                return;
                            }
                        }
                        None => std::future::pending::<()>().await,
                    }
                }
            });
        }
    });
    (url, count)
}

const OPENED: &str = r#"{"status":410,"token":"T1","messages":[]}"#;

/// A poll that never answers ends the connection after the long-poll timeout; the socket
/// reconnects on its schedule (a new session).
#[tokio::test]
async fn a_poll_without_answer_times_out_and_the_socket_reconnects() {
    let script: Script = Arc::new(|n, line| {
        assert!(line.starts_with("GET "), "{line}");
        (n == 0 || n == 2).then(|| OPENED.to_owned())
    });
    let (url, count) = scripted_http(script).await;
    let socket = Socket::builder(url)
        .transport(Transport::LongPoll)
        .long_poll_timeout(Duration::from_millis(300))
        .reconnect_after(Backoff::steps([10], 10))
        .build()
        .unwrap();
    socket.connect();
    socket.await_connect(None).await.unwrap();
    let started = tokio::time::Instant::now();
    let reason = socket.await_disconnect(None).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert!(
        reason.to_string().contains("no long-poll response within"),
        "{reason}"
    );
    socket.await_connect(None).await.unwrap();
    assert!(count.load(Ordering::SeqCst) >= 3);
}

/// A poll answered with a body that is not Phoenix's JSON, or one larger than the socket
/// accepts, is a lost connection with a reason, not a panic; a refused open is `Refused`.
#[tokio::test]
async fn bad_bodies_end_the_connection_with_a_reason() {
    for (bad, says) in [
        ("{not json".to_owned(), "not Phoenix's JSON"),
        (
            format!(r#"{{"status":200,"messages":["{}"]}}"#, "x".repeat(5000)),
            "larger than 4096 bytes",
        ),
        (r#"{"status":500}"#.to_owned(), "status 500"),
    ] {
        let script: Script = Arc::new(move |n, _| {
            Some(match n {
                0 => OPENED.to_owned(),
                1 => bad.clone(),
                _ => r#"{"status":403}"#.to_owned(),
            })
        });
        let (url, _) = scripted_http(script).await;
        let socket = Socket::builder(url)
            .transport(Transport::LongPoll)
            .max_message_size(4096)
            .reconnect_after(Backoff::steps([10], 10))
            .stop_reconnecting_on_status([403])
            .build()
            .unwrap();
        socket.connect();
        socket.await_connect(None).await.unwrap();
        let reason = socket.await_disconnect(None).await.unwrap();
        assert!(reason.to_string().contains(says), "{reason}");
        // The reconnect is refused with 403, a final status here: the socket stops.
        let refused = loop {
            match socket.next_event(None).await.unwrap() {
                SocketEvent::ConnectFailed(e) => break e,
                _ => continue,
            }
        };
        assert!(
            matches!(refused, ConnectError::Refused { status: 403, ref path, .. } if path == "/socket/longpoll"),
            "{refused}"
        );
    }
}

/// A disconnect stops the polls at once (the poll in flight is abandoned), so the server
/// forgets the session 1.5 windows later instead of keeping it.
#[tokio::test]
async fn a_disconnect_stops_polling_and_the_server_forgets_the_session() {
    let config =
        slipstream_server::ServerConfig::default().with_longpoll_window(Duration::from_millis(300));
    let server = slipstream_server::spawn_demo("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap();
    let socket = joined_socket(builder(&server, Transport::LongPoll), "rooms:lobby").await;
    assert_eq!(server.longpoll_session_count(), 1);
    // Polling keeps it alive past several windows.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(server.longpoll_session_count(), 1);
    socket.disconnect();
    socket.await_disconnect(None).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while server.longpoll_session_count() > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the session is kept"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.shutdown().await;
}
