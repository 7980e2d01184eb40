//! What a flood of malformed server frames writes to the log: a line when it starts and at most
//! one a second after that, never one per frame. Alone in its binary, like `observability`: its
//! thread-scoped subscriber must not race other tests for the callsites' interest cache.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use slipstream_client::{Socket, SocketEvent};

use crate::support::{ScriptedServer, WAIT};

/// Collects everything the subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_flood_of_malformed_frames_is_logged_in_a_few_lines() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

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

    let log = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
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
