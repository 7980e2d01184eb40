//! The tracing events a user sees: connect, join, push/reply, heartbeat and reconnect, each with
//! its duration. A subscriber set for this thread captures them; the test runs on a current-thread
//! runtime, so the socket's task logs through it too.

mod support;

use std::time::Duration;

use serde_json::json;
use slipstream_client::Socket;
use slipstream_server::{ServerConfig, spawn_demo};

use crate::support::capture::capture_logs;

#[tokio::test(flavor = "current_thread")]
async fn lifecycle_events_are_traced_with_their_durations() {
    let (captured, _guard) = capture_logs(tracing::Level::DEBUG);

    let server = spawn_demo("127.0.0.1:0".parse().unwrap(), ServerConfig::default())
        .await
        .unwrap();
    let socket = Socket::builder(server.ws_url())
        .heartbeat_interval(Duration::from_millis(250))
        .reconnect_after(slipstream_client::Backoff::steps([10], 10))
        .build()
        .unwrap();
    socket.connect();
    socket.await_connect(None).await.unwrap();
    socket.join("rooms:lobby", json!({}));
    socket.await_join("rooms:lobby", None).await.unwrap();
    let ping = socket.push("rooms:lobby", "ping", json!({}));
    socket.await_reply(&ping, None).await.unwrap();
    // Let a heartbeat or two go round, then lose the connection.
    tokio::time::sleep(Duration::from_millis(800)).await;
    server.close_all_connections(1012);
    socket.await_disconnect(None).await.unwrap();
    socket.await_connect(None).await.unwrap();
    socket.disconnect();
    socket.await_disconnect(None).await.unwrap();
    server.shutdown().await;

    let log = captured.text();
    for (what, needle) in [
        ("connect span", "connect{"),
        ("connected, with its duration", "connected elapsed_ms="),
        (
            "joined, with its duration",
            "joined topic=rooms:lobby elapsed_ms=",
        ),
        ("push sent", "push sent"),
        ("reply, with its duration", "status=ok elapsed_ms="),
        ("heartbeat round trip", "heartbeat ack rtt_ms="),
        ("reconnect scheduled", "reconnect scheduled attempt=1"),
        ("client disconnect", "disconnected reason=client requested"),
    ] {
        assert!(log.contains(needle), "no {what} ({needle:?}) in:\n{log}");
    }
}
