//! Server pushes shown as they arrive, without taking them from the mailbox.
//!
//! Each socket a script makes gets a thread that reads [`blocking::Socket::observe`]: a copy of
//! every event, so `flush()` and `await_message` still find them all. Printing copies was chosen
//! over printing at `flush()` time because a REPL user wants to see a broadcast when it lands,
//! and over draining the mailbox because that would race with (and steal from) the awaits.
//! Only what the user did not ask for is printed ([`LiveLines`]): messages, channel crashes and
//! closes, disconnects the script did not request, and what follows them (reconnect attempts,
//! the reconnect, the rejoins); replies, joins and leaves are what awaits return.
//!
//! Each live line is a line of its own: it ends with a newline however it is printed (rustyline's
//! external printer adds one only while it is reading a line; while an entry runs it writes the
//! text as given, which ran the line into the entry's result), and it is written while holding
//! stdout's and stderr's locks, so that it never lands inside a result or an error report the
//! shell is printing (e.g. between a report and its colour reset).

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::{Arc, Mutex};

use slipstream_client::{DisconnectReason, SocketEvent, TopicCloseReason, blocking};
use tokio::sync::broadcast::error::RecvError;

use super::complete::SharedWords;
use crate::display;

/// Where live lines go: rustyline's external printer (above the prompt) or stdout.
pub type Sink = Arc<dyn Fn(String) + Send + Sync>;

/// How many reconnect attempts in a row are each shown; after them, every tenth is.
const SHOWN_ATTEMPTS: u32 = 5;

/// `line` with exactly one newline at its end.
fn terminated(line: String) -> String {
    let mut line = line;
    while line.ends_with('\n') || line.ends_with('\r') {
        line.pop();
    }
    line.push('\n');
    line
}

/// Runs `print` with stdout and stderr locked (and stdout's buffer written out first), so that
/// what it prints comes between two of the shell's own `println!`/`eprintln!`, never inside one.
fn between_outputs(print: impl FnOnce(&mut std::io::StdoutLock<'static>)) {
    let mut out = std::io::stdout().lock();
    let _ = out.flush();
    let _err = std::io::stderr().lock();
    print(&mut out);
    let _ = out.flush();
}

/// A sink over rustyline's external printer.
pub fn printer_sink(printer: impl rustyline::ExternalPrinter + Send + 'static) -> Sink {
    let printer = Mutex::new(printer);
    Arc::new(move |line| {
        let line = terminated(line);
        between_outputs(|out| {
            let mut printer = printer.lock().unwrap_or_else(|p| p.into_inner());
            if printer.print(line.clone()).is_err() {
                let _ = out.write_all(line.as_bytes());
            }
        });
    })
}

/// A sink that prints lines to stdout (no terminal, or no external printer).
pub fn stdout_sink() -> Sink {
    Arc::new(|line| {
        let line = terminated(line);
        between_outputs(|out| {
            let _ = out.write_all(line.as_bytes());
        });
    })
}

/// Starts the thread that shows `socket`'s events on `sink` and records event names in `words`.
pub fn watch(socket: &blocking::Socket, sink: Sink, words: SharedWords) {
    let mut events = socket.observe();
    let spawned = std::thread::Builder::new()
        .name("slipstream-shell-live".into())
        .spawn(move || {
            let mut lines = LiveLines::default();
            loop {
                match events.blocking_recv() {
                    Ok(event) => {
                        if let SocketEvent::Message(m) = &event {
                            let mut words = words.lock().unwrap_or_else(|p| p.into_inner());
                            words.events.insert(m.event.to_string());
                        }
                        if let Some(line) = lines.line(&event) {
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

/// What one socket's live printer remembers to tell a rejoin from the user's own join, and a
/// reconnect from the user's own connect.
#[derive(Debug, Default)]
pub struct LiveLines {
    /// Topics joined (by the user's join or a rejoin) and not left or closed since.
    joined: BTreeSet<String>,
    /// Joined topics the client will rejoin on its own: after a lost connection or a crash.
    rejoining: BTreeSet<String>,
    /// The connection was lost (not by `disconnect()`) and is not back yet.
    reconnecting: bool,
    /// The last disconnect was the user's `disconnect()`.
    client_disconnected: bool,
}

impl LiveLines {
    /// The line shown for an event, or `None` for events that answer the user's own requests.
    pub fn line(&mut self, event: &SocketEvent) -> Option<String> {
        match event {
            SocketEvent::Message(m) => Some(format!(
                "<- {} {} {}",
                m.topic,
                m.event,
                display::show_payload(&m.payload)
            )),
            SocketEvent::Disconnected(DisconnectReason::ClientRequested) => {
                self.client_disconnected = true;
                self.reconnecting = false;
                self.rejoining.clear();
                None
            }
            SocketEvent::Disconnected(reason) => {
                self.client_disconnected = false;
                self.reconnecting = true;
                self.rejoining.extend(self.joined.iter().cloned());
                Some(format!(
                    "<- disconnected: {}",
                    display::show_disconnect(reason)
                ))
            }
            SocketEvent::Reconnecting {
                attempt,
                delay,
                error,
            } => {
                self.reconnecting = true;
                (*attempt <= SHOWN_ATTEMPTS || attempt % 10 == 0).then(|| {
                    format!(
                        "<- {}",
                        display::show_reconnecting(*attempt, *delay, error.as_ref())
                    )
                })
            }
            SocketEvent::Connected => {
                self.client_disconnected = false;
                std::mem::take(&mut self.reconnecting).then(|| "<- reconnected".to_owned())
            }
            SocketEvent::ConnectFailed(error) => std::mem::take(&mut self.reconnecting)
                .then(|| format!("<- reconnecting stopped: {error}")),
            SocketEvent::Joined { topic, .. } => {
                self.joined.insert(topic.clone());
                self.rejoining
                    .remove(topic)
                    .then(|| format!("<- rejoined {topic}"))
            }
            SocketEvent::JoinFailed {
                topic,
                error,
                rejoin_in,
            } => {
                let rejoin = self.rejoining.contains(topic);
                if rejoin_in.is_none() {
                    self.forget(topic);
                }
                rejoin.then(|| match rejoin_in {
                    Some(delay) => format!(
                        "<- rejoin of {topic} failed: {error} (next attempt in {} ms)",
                        display::millis(*delay)
                    ),
                    None => format!("<- rejoin of {topic} failed: {error}"),
                })
            }
            SocketEvent::TopicErrored { topic, .. } => {
                if self.joined.contains(topic) {
                    self.rejoining.insert(topic.clone());
                }
                Some(format!("<- {}", display::show_event(event)))
            }
            SocketEvent::TopicClosed { topic, reason } => {
                self.forget(topic);
                // After the user's own disconnect() the topics closing is what they asked for.
                let asked =
                    self.client_disconnected && matches!(reason, TopicCloseReason::Disconnected);
                (!asked).then(|| format!("<- {}", display::show_event(event)))
            }
            SocketEvent::Left { topic } => {
                self.forget(topic);
                None
            }
            SocketEvent::MalformedFrame { .. } => {
                Some(format!("<- {}", display::show_event(event)))
            }
            _ => None,
        }
    }

    fn forget(&mut self, topic: &str) {
        self.joined.remove(topic);
        self.rejoining.remove(topic);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use slipstream_client::{ChannelMessage, ConnectError, Payload};

    fn joined(topic: &str) -> SocketEvent {
        SocketEvent::Joined {
            topic: topic.into(),
            response: Payload::json(&serde_json::json!({})),
        }
    }

    #[test]
    fn messages_show_and_answers_do_not() {
        let mut lines = LiveLines::default();
        let message = SocketEvent::Message(ChannelMessage {
            topic: "rooms:lobby".into(),
            event: "foo".into(),
            payload: Payload::json(&serde_json::json!({"bar": "baz"})),
        });
        assert_eq!(
            lines.line(&message).as_deref(),
            Some(r#"<- rooms:lobby foo {"bar":"baz"}"#)
        );
        assert_eq!(lines.line(&SocketEvent::Connected), None);
        assert_eq!(lines.line(&joined("rooms:lobby")), None);
        // A second join of a joined topic is answered at once: still the user's own.
        assert_eq!(lines.line(&joined("rooms:lobby")), None);
        assert_eq!(
            lines.line(&SocketEvent::Disconnected(
                DisconnectReason::ClientRequested
            )),
            None
        );
        assert_eq!(
            lines.line(&SocketEvent::TopicClosed {
                topic: "rooms:lobby".into(),
                reason: TopicCloseReason::Disconnected,
            }),
            None,
            "closing the topics is what disconnect() asked for"
        );
    }

    #[test]
    fn a_lost_connection_shows_its_reconnect_and_rejoins() {
        let mut lines = LiveLines::default();
        lines.line(&SocketEvent::Connected);
        lines.line(&joined("rooms:lobby"));
        lines.line(&joined("rooms:other"));
        let shown: Vec<Option<String>> = [
            SocketEvent::Disconnected(DisconnectReason::ClosedByRemote {
                code: Some(1012),
                reason: String::new(),
            }),
            SocketEvent::Reconnecting {
                attempt: 1,
                delay: Duration::from_micros(10_400),
                error: None,
            },
            SocketEvent::Reconnecting {
                attempt: 2,
                delay: Duration::from_nanos(51_895_836),
                error: Some(ConnectError::ConnectionRefused {
                    addr: "127.0.0.1:4000".into(),
                }),
            },
            SocketEvent::Connected,
            joined("rooms:lobby"),
            joined("rooms:other"),
            joined("rooms:other"),
        ]
        .iter()
        .map(|e| lines.line(e))
        .collect();
        let expected = [
            Some("<- disconnected: closed by the server (code 1012, service restart)"),
            Some("<- reconnecting (attempt 1 in 10 ms)"),
            Some(
                "<- reconnecting (attempt 2 in 52 ms): connection refused by 127.0.0.1:4000: nothing listens at that address",
            ),
            Some("<- reconnected"),
            Some("<- rejoined rooms:lobby"),
            Some("<- rejoined rooms:other"),
            None,
        ];
        assert_eq!(
            shown.iter().map(Option::as_deref).collect::<Vec<_>>(),
            expected
        );
    }

    #[test]
    fn long_outages_show_every_tenth_attempt_and_crashes_their_rejoin() {
        let mut lines = LiveLines::default();
        let attempt = |n| SocketEvent::Reconnecting {
            attempt: n,
            delay: Duration::from_secs(5),
            error: None,
        };
        let shown: Vec<u32> = (1..=40)
            .filter(|n| lines.line(&attempt(*n)).is_some())
            .collect();
        assert_eq!(shown, [1, 2, 3, 4, 5, 10, 20, 30, 40]);

        lines.line(&joined("rooms:lobby"));
        let crash = SocketEvent::TopicErrored {
            topic: "rooms:lobby".into(),
            payload: Payload::json(&serde_json::json!({})),
            rejoin_in: Duration::from_secs(1),
        };
        assert!(
            lines
                .line(&crash)
                .is_some_and(|l| l.contains("channel crashed"))
        );
        assert_eq!(
            lines.line(&joined("rooms:lobby")).as_deref(),
            Some("<- rejoined rooms:lobby")
        );
    }

    #[test]
    fn every_line_ends_with_one_newline() {
        assert_eq!(terminated("<- a".into()), "<- a\n");
        assert_eq!(terminated("<- a\n".into()), "<- a\n");
        assert_eq!(terminated("<- a\r\n\n".into()), "<- a\n");
    }
}
