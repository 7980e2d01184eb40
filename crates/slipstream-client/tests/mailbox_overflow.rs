//! What a flood into a full mailbox writes to the log: a few lines, never one per dropped push,
//! never a payload. Alone in its binary, like `observability`: its thread-scoped subscriber must
//! not race other tests for the callsites' interest cache.

mod support;

use std::time::Duration;

use serde_json::json;
use slipstream_client::pattern;
use slipstream_client::testkit::TestServer;
use tokio::sync::broadcast::error::RecvError;

use crate::support::capture::capture_logs;

/// The number after `name=` in `line`.
fn field(line: &str, name: &str) -> Option<u64> {
    let start = line.find(&format!(" {name}="))? + name.len() + 2;
    let digits: String = line[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[tokio::test(start_paused = true)]
async fn a_flood_is_reported_in_a_few_lines_without_payloads() {
    let (captured, _guard) = capture_logs(tracing::Level::WARN);

    let mut server = TestServer::new();
    let socket = server.builder().mailbox_capacity(10).build().unwrap();
    socket.connect();
    server.accept_connect().await.unwrap();
    socket.await_connect(None).await.unwrap();
    socket.join("rooms:flood", json!({}));
    let join = server
        .assert_join("rooms:flood", pattern!(_))
        .await
        .unwrap();
    server.accept_join(&join, json!({})).unwrap();
    socket.await_join("rooms:flood", None).await.unwrap();

    // 1,000 pushes in ten bursts 300 ms apart: 990 are dropped over 2.7 s.
    for burst in 0..10 {
        for n in 0..100 {
            server
                .push(
                    "rooms:flood",
                    "flood",
                    json!({"secret": "payload-marker", "n": burst * 100 + n}),
                )
                .unwrap();
        }
        // A reply after each burst proves the burst was read (and a reply is never dropped).
        let ping = socket.push("rooms:flood", "ping", json!({}));
        let asked = server
            .assert_push("rooms:flood", "ping", pattern!(_))
            .await
            .unwrap();
        server.reply(&asked.push_ref, "ok", json!({})).unwrap();
        socket.await_reply(&ping, None).await.unwrap();
        tokio::time::advance(Duration::from_millis(300)).await;
    }
    assert_eq!(socket.dropped_events(), 990);

    // The socket's task ends when the last handle goes; the mailbox then reports what is left.
    let mut events = socket.observe();
    drop(socket);
    let ended = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            if let Err(RecvError::Closed) = events.recv().await {
                break;
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the socket's task did not end");

    let log = captured.text();
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("mailbox full")).collect();
    assert!(!lines.is_empty(), "no overflow line in:\n{log}");
    // 2.7 s of drops: the first line, at most one a second, and one at the end.
    assert!(lines.len() <= 5, "{} overflow lines:\n{log}", lines.len());
    assert!(
        !log.contains("payload-marker"),
        "a payload was logged:\n{log}"
    );
    // Together the lines account for every drop: the first says 1, the others how many since.
    let reported: u64 = lines.iter().map(|l| field(l, "dropped").unwrap_or(1)).sum();
    assert_eq!(reported, 990, "{log}");
    assert_eq!(
        lines.last().and_then(|l| field(l, "dropped_total")),
        Some(990),
        "{log}"
    );
}
