//! What a flood of malformed server frames writes to the log: a line when it starts and at most
//! one a second after that, never one per frame. Alone in its binary, like `observability`: its
//! thread-scoped subscriber must not race other tests for the callsites' interest cache.

mod support;

use slipstream_client::{Socket, SocketEvent};

use crate::support::capture::capture_logs;
use crate::support::{ScriptedServer, WAIT};

#[tokio::test]
async fn a_flood_of_malformed_frames_is_logged_in_a_few_lines() {
    let (captured, _guard) = capture_logs(tracing::Level::WARN);

    let server = ScriptedServer::start().await;
    let socket = Socket::builder(server.url())
        .await_timeout(WAIT)
        .build()
        .unwrap();
    socket.connect();
    let mut conn = server.accept().await;
    socket.await_connect(None).await.unwrap();

    const FLOOD: usize = 500;
    for n in 0..FLOOD {
        conn.send_text(&format!("not json {n}")).await;
    }
    // Every malformed frame is still reported to the socket's user, one event each.
    for _ in 0..FLOOD {
        match socket.next_event(None).await.unwrap() {
            SocketEvent::MalformedFrame { .. } => {}
            other => panic!("expected a malformed-frame event, got {other:?}"),
        }
    }
    assert!(socket.is_connected());

    let log = captured.text();
    let lines = log
        .lines()
        .filter(|l| l.contains("malformed frame"))
        .count();
    assert!(lines >= 1, "the flood was not logged at all:\n{log}");
    // A burst that takes a few seconds on a loaded machine gives a few lines; one per frame
    // (the old behaviour) would be 500.
    assert!(
        lines <= 10,
        "{lines} log lines for {FLOOD} malformed frames"
    );
}
