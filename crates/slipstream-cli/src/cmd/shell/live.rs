//! Server pushes shown as they arrive, without taking them from the mailbox.
//!
//! Each socket a script makes gets a thread that reads [`blocking::Socket::observe`]: a copy of
//! every event, so `flush()` and `await_message` still find them all. Printing copies was chosen
//! over printing at `flush()` time because a REPL user wants to see a broadcast when it lands,
//! and over draining the mailbox because that would race with (and steal from) the awaits.
//! Only what the user did not ask for is printed: messages, channel crashes and closes, and
//! disconnects the script did not request; replies, joins and leaves are what awaits return.

use std::sync::{Arc, Mutex};

use slipstream_client::{DisconnectReason, SocketEvent, blocking};
use tokio::sync::broadcast::error::RecvError;

use super::complete::SharedWords;
use crate::display;

/// Where live lines go: rustyline's external printer (above the prompt) or stdout.
pub type Sink = Arc<dyn Fn(String) + Send + Sync>;

/// A sink over rustyline's external printer.
pub fn printer_sink(printer: impl rustyline::ExternalPrinter + Send + 'static) -> Sink {
    let printer = Mutex::new(printer);
    Arc::new(move |line| {
        let mut printer = printer.lock().unwrap_or_else(|p| p.into_inner());
        if printer.print(line.clone()).is_err() {
            println!("{line}");
        }
    })
}

/// A sink that prints lines to stdout (no terminal, or no external printer).
pub fn stdout_sink() -> Sink {
    Arc::new(|line| println!("{line}"))
}

/// Starts the thread that shows `socket`'s events on `sink` and records event names in `words`.
pub fn watch(socket: &blocking::Socket, sink: Sink, words: SharedWords) {
    let mut events = socket.observe();
    let spawned = std::thread::Builder::new()
        .name("slipstream-shell-live".into())
        .spawn(move || {
            loop {
                match events.blocking_recv() {
                    Ok(event) => {
                        if let SocketEvent::Message(m) = &event {
                            let mut words = words.lock().unwrap_or_else(|p| p.into_inner());
                            words.events.insert(m.event.clone());
                        }
                        if let Some(line) = live_line(&event) {
                            sink(line);
                        }
                    }
                    Err(RecvError::Lagged(missed)) => {
                        sink(format!("<- ({missed} events arrived too fast to show)"));
                    }
                    Err(RecvError::Closed) => break,
                }
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "could not start the live printer; pushes show in flush()");
    }
}

/// The line shown for an event, or `None` for events that answer the user's own requests.
pub fn live_line(event: &SocketEvent) -> Option<String> {
    match event {
        SocketEvent::Message(m) => Some(format!(
            "<- {} {} {}",
            m.topic,
            m.event,
            display::show_payload(&m.payload)
        )),
        SocketEvent::Disconnected(DisconnectReason::ClientRequested) => None,
        SocketEvent::Disconnected(_)
        | SocketEvent::TopicErrored { .. }
        | SocketEvent::TopicClosed { .. }
        | SocketEvent::MalformedFrame { .. } => Some(format!("<- {}", display::show_event(event))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use slipstream_client::{ChannelMessage, Payload};

    #[test]
    fn messages_show_and_answers_do_not() {
        let message = SocketEvent::Message(ChannelMessage {
            topic: "rooms:lobby".into(),
            event: "foo".into(),
            payload: Payload::json(&serde_json::json!({"bar": "baz"})),
        });
        assert_eq!(
            live_line(&message).as_deref(),
            Some(r#"<- rooms:lobby foo {"bar":"baz"}"#)
        );
        assert_eq!(live_line(&SocketEvent::Connected), None);
        assert_eq!(
            live_line(&SocketEvent::Disconnected(
                DisconnectReason::ClientRequested
            )),
            None
        );
        assert!(
            live_line(&SocketEvent::Disconnected(
                DisconnectReason::HeartbeatTimeout
            ))
            .is_some()
        );
    }
}
