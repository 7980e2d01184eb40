//! How the CLI shows payloads, replies, messages, events and disconnect reasons to a person:
//! compact JSON, binary payloads as byte lists, and plain words for the rest. This is the one
//! place that turns them into text: the shell's live lines, `tour`, the failure reports of `run`
//! and `shell`, and the field values of the event maps scripts get (see
//! [`crate::script::convert::event_to_dynamic`]) all use it. Nothing here prints Rust `Debug`
//! text (strings are quoted with `{:?}`, which is Rust's and JSON's quoting alike).

use std::time::Duration;

use slipstream_client::{
    ChannelMessage, ConnectError, DisconnectReason, Payload, Reply, SocketEvent, TopicCloseReason,
};

/// A payload as one line: compact JSON, `<<1, 2, 3>>` for bytes, `(status, response)` for a reply.
pub fn show_payload(payload: &Payload) -> String {
    match payload {
        Payload::Json(raw) => match serde_json::from_str::<serde_json::Value>(raw.as_str()) {
            Ok(value) => value.to_string(),
            Err(_) => raw.as_str().to_owned(),
        },
        Payload::Binary(bytes) => {
            let listed: Vec<String> = bytes.iter().map(u8::to_string).collect();
            format!("<<{}>>", listed.join(", "))
        }
        Payload::Reply(reply) => show_reply(reply),
    }
}

/// A reply as `(status, response)`, e.g. `(ok, {"pong":"pong"})`.
pub fn show_reply(reply: &Reply) -> String {
    format!("({}, {})", reply.status, show_payload(&reply.response))
}

/// A message as `(topic, event, payload)`, the shape the guide's `await_message!` returns.
pub fn show_message(message: &ChannelMessage) -> String {
    format!(
        "({:?}, {:?}, {})",
        message.topic,
        message.event,
        show_payload(&message.payload)
    )
}

/// A duration as whole milliseconds, rounded (`51.895836ms` is 52).
pub fn millis(duration: Duration) -> u64 {
    let rounded = (duration.as_secs_f64() * 1000.0).round();
    if rounded >= u64::MAX as f64 {
        u64::MAX
    } else {
        rounded as u64
    }
}

/// The name of a variant this code does not know yet (the library's enums are
/// `#[non_exhaustive]`), in snake case: `MessageTooBig { .. }` is `message_too_big`. Only the
/// variant's name is taken from its `Debug` form, never its fields.
pub fn variant_name(value: &impl std::fmt::Debug) -> String {
    let debug = format!("{value:?}");
    let name: String = debug
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    let mut snake = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() {
            if i > 0 {
                snake.push('_');
            }
            snake.extend(c.to_lowercase());
        } else {
            snake.push(c);
        }
    }
    if snake.is_empty() {
        "unknown".into()
    } else {
        snake
    }
}

/// Why a connection ended, as the word scripts compare with: `client_requested`,
/// `heartbeat_timeout`, `closed_by_remote` or `transport_error`.
pub fn disconnect_kind(reason: &DisconnectReason) -> String {
    match reason {
        DisconnectReason::ClientRequested => "client_requested".into(),
        DisconnectReason::HeartbeatTimeout => "heartbeat_timeout".into(),
        DisconnectReason::ClosedByRemote { .. } => "closed_by_remote".into(),
        DisconnectReason::TransportError(_) => "transport_error".into(),
        other => variant_name(other),
    }
}

/// Why a connection ended, in words: `closed by the client`, `closed by the server (code 1012,
/// service restart)`, `connection lost: …`.
pub fn show_disconnect(reason: &DisconnectReason) -> String {
    match reason {
        DisconnectReason::ClientRequested => "closed by the client".into(),
        DisconnectReason::HeartbeatTimeout => {
            "the server did not answer a heartbeat in time".into()
        }
        DisconnectReason::ClosedByRemote { code, reason } => {
            let mut details = Vec::new();
            if let Some(code) = code {
                details.push(match slipstream_client::close_code_name(*code) {
                    Some(meaning) => format!("code {code}, {meaning}"),
                    None => format!("code {code}"),
                });
            }
            if !reason.is_empty() {
                details.push(format!("{reason:?}"));
            }
            if details.is_empty() {
                "closed by the server".into()
            } else {
                format!("closed by the server ({})", details.join(": "))
            }
        }
        DisconnectReason::TransportError(error) => format!("connection lost: {error}"),
        other => variant_name(other).replace('_', " "),
    }
}

/// Why a topic closed for good, in words.
pub fn show_topic_close(reason: &TopicCloseReason) -> String {
    match reason {
        TopicCloseReason::ClosedByServer(payload) => {
            format!("closed by the server, payload: {}", show_payload(payload))
        }
        TopicCloseReason::Disconnected => "the connection closed and no rejoin follows".into(),
        other => variant_name(other).replace('_', " "),
    }
}

/// A topic close reason as the word scripts compare with: `closed_by_server`, `disconnected`.
pub fn topic_close_kind(reason: &TopicCloseReason) -> String {
    match reason {
        TopicCloseReason::ClosedByServer(_) => "closed_by_server".into(),
        TopicCloseReason::Disconnected => "disconnected".into(),
        other => variant_name(other),
    }
}

/// A scheduled reconnect: `reconnecting (attempt 2 in 52 ms): connection refused by …`.
pub fn show_reconnecting(attempt: u32, delay: Duration, error: Option<&ConnectError>) -> String {
    let head = format!("reconnecting (attempt {attempt} in {} ms)", millis(delay));
    match error {
        Some(error) => format!("{head}: {error}"),
        None => head,
    }
}

/// The name `flush()` and `await_event()` give an event's kind (its map's `type`).
pub fn event_type(event: &SocketEvent) -> String {
    match event {
        SocketEvent::Connected => "connected".into(),
        SocketEvent::ConnectFailed(_) => "connect_failed".into(),
        SocketEvent::Reconnecting { .. } => "reconnecting".into(),
        SocketEvent::Disconnected(_) => "disconnected".into(),
        SocketEvent::Joined { .. } => "joined".into(),
        SocketEvent::JoinFailed { .. } => "join_failed".into(),
        SocketEvent::Message(_) => "message".into(),
        SocketEvent::Reply { .. } => "reply".into(),
        SocketEvent::TopicErrored { .. } => "topic_errored".into(),
        SocketEvent::TopicClosed { .. } => "topic_closed".into(),
        SocketEvent::Left { .. } => "left".into(),
        SocketEvent::MalformedFrame { .. } => "malformed_frame".into(),
        other => variant_name(other),
    }
}

/// One mailbox event on one line, as failure reports and the tour list them.
pub fn show_event(event: &SocketEvent) -> String {
    match event {
        SocketEvent::Message(message) => format!(
            "message  topic: {:?}  event: {:?}  payload: {}",
            message.topic,
            message.event,
            show_payload(&message.payload)
        ),
        SocketEvent::Reply {
            push_ref,
            topic,
            result,
        } => match result {
            Ok(reply) => format!(
                "reply    ref: \"{push_ref}\" topic: {topic:?} {}",
                show_reply(reply)
            ),
            Err(error) => format!("reply    ref: \"{push_ref}\" topic: {topic:?} error: {error}"),
        },
        SocketEvent::Connected => "connected".into(),
        SocketEvent::ConnectFailed(error) => format!("connect failed: {error}"),
        SocketEvent::Reconnecting {
            attempt,
            delay,
            error,
        } => show_reconnecting(*attempt, *delay, error.as_ref()),
        SocketEvent::Joined { topic, response } => {
            format!(
                "joined   topic: {topic:?}  response: {}",
                show_payload(response)
            )
        }
        SocketEvent::JoinFailed {
            topic,
            error,
            rejoin_in,
        } => match rejoin_in {
            Some(delay) => format!(
                "join failed  topic: {topic:?}  {error} (next attempt in {} ms)",
                millis(*delay)
            ),
            None => format!("join failed  topic: {topic:?}  {error}"),
        },
        SocketEvent::Left { topic } => format!("left     topic: {topic:?}"),
        SocketEvent::TopicErrored {
            topic,
            payload,
            rejoin_in,
        } => format!(
            "channel crashed  topic: {topic:?}  payload: {} (rejoin in {} ms)",
            show_payload(payload),
            millis(*rejoin_in)
        ),
        SocketEvent::TopicClosed { topic, reason } => {
            format!(
                "channel closed  topic: {topic:?}  {}",
                show_topic_close(reason)
            )
        }
        SocketEvent::Disconnected(reason) => format!("disconnected: {}", show_disconnect(reason)),
        SocketEvent::MalformedFrame { error } => format!("malformed frame skipped: {error}"),
        other => event_type(other).replace('_', " "),
    }
}

/// ANSI colours for [`pretty_json`].
const KEY: &str = "\x1b[34m";
const STRING: &str = "\x1b[32m";
const NUMBER: &str = "\x1b[36m";
const LITERAL: &str = "\x1b[33m";
const RESET: &str = "\x1b[0m";

/// JSON indented over several lines, with keys, strings, numbers and literals coloured when
/// `color` is on (for a terminal); plain `serde_json` pretty printing otherwise.
pub fn pretty_json(value: &serde_json::Value, color: bool) -> String {
    if !color {
        return serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    }
    let mut out = String::new();
    write_pretty(value, 0, &mut out);
    out
}

fn write_pretty(value: &serde_json::Value, depth: usize, out: &mut String) {
    use serde_json::Value;
    let indent = |d: usize| "  ".repeat(d);
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push_str("{\n");
            for (i, (key, item)) in map.iter().enumerate() {
                out.push_str(&format!(
                    "{}{KEY}{}{RESET}: ",
                    indent(depth + 1),
                    Value::String(key.clone())
                ));
                write_pretty(item, depth + 1, out);
                out.push_str(if i + 1 < map.len() { ",\n" } else { "\n" });
            }
            out.push_str(&format!("{}}}", indent(depth)));
        }
        Value::Array(items) if !items.is_empty() => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                out.push_str(&indent(depth + 1));
                write_pretty(item, depth + 1, out);
                out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
            }
            out.push_str(&format!("{}]", indent(depth)));
        }
        Value::String(_) => out.push_str(&format!("{STRING}{value}{RESET}")),
        Value::Number(_) => out.push_str(&format!("{NUMBER}{value}{RESET}")),
        Value::Bool(_) | Value::Null => out.push_str(&format!("{LITERAL}{value}{RESET}")),
        empty => out.push_str(&empty.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_payloads_compactly() {
        let json = Payload::from_json_str("{ \"bar\" : \"baz\" }").unwrap();
        assert_eq!(show_payload(&json), r#"{"bar":"baz"}"#);
        assert_eq!(
            show_payload(&Payload::binary(vec![1u8, 2, 3])),
            "<<1, 2, 3>>"
        );
        let reply = Reply {
            status: "ok".into(),
            response: Payload::json(&serde_json::json!({"pong": "pong"})),
        };
        assert_eq!(show_reply(&reply), r#"(ok, {"pong":"pong"})"#);
    }

    #[test]
    fn pretty_json_is_plain_without_color_and_coloured_with() {
        let value = serde_json::json!({"a": [1, "x"], "b": {}});
        assert_eq!(
            pretty_json(&value, false),
            "{\n  \"a\": [\n    1,\n    \"x\"\n  ],\n  \"b\": {}\n}"
        );
        let coloured = pretty_json(&value, true);
        assert!(coloured.contains("\x1b[34m\"a\"\x1b[0m: "), "{coloured:?}");
        assert!(coloured.contains("\x1b[32m\"x\"\x1b[0m"), "{coloured:?}");
        assert!(coloured.contains("\x1b[36m1\x1b[0m"), "{coloured:?}");
    }

    #[test]
    fn shows_lifecycle_events_with_payloads_as_json() {
        let joined = SocketEvent::Joined {
            topic: "rooms:lobby".into(),
            response: Payload::json(&serde_json::json!({})),
        };
        assert_eq!(
            show_event(&joined),
            r#"joined   topic: "rooms:lobby"  response: {}"#
        );
        assert_eq!(show_event(&SocketEvent::Connected), "connected");
    }

    #[test]
    fn disconnects_and_reconnects_read_as_words() {
        use std::time::Duration;
        let shown = |reason| show_event(&SocketEvent::Disconnected(reason));
        assert_eq!(
            shown(DisconnectReason::ClientRequested),
            "disconnected: closed by the client"
        );
        assert_eq!(
            shown(DisconnectReason::ClosedByRemote {
                code: Some(1009),
                reason: "frame too large".into()
            }),
            r#"disconnected: closed by the server (code 1009, message too big: "frame too large")"#
        );
        assert_eq!(
            shown(DisconnectReason::ClosedByRemote {
                code: None,
                reason: String::new()
            }),
            "disconnected: closed by the server"
        );
        assert_eq!(
            shown(DisconnectReason::TransportError(
                "WebSocket protocol error: reset".into()
            )),
            "disconnected: connection lost: WebSocket protocol error: reset"
        );
        assert_eq!(
            show_event(&SocketEvent::Reconnecting {
                attempt: 2,
                delay: Duration::from_nanos(51_895_836),
                error: Some(ConnectError::ConnectionRefused {
                    addr: "127.0.0.1:4000".into()
                }),
            }),
            "reconnecting (attempt 2 in 52 ms): connection refused by 127.0.0.1:4000: nothing listens at that address"
        );
        assert_eq!(
            show_event(&SocketEvent::TopicClosed {
                topic: "t".into(),
                reason: TopicCloseReason::ClosedByServer(Payload::json(&serde_json::json!({}))),
            }),
            r#"channel closed  topic: "t"  closed by the server, payload: {}"#
        );
    }

    #[test]
    fn unknown_variants_are_named_by_their_variant_alone() {
        #[derive(Debug)]
        #[allow(dead_code)]
        enum Future {
            MessageTooBig { limit: usize },
            Gone,
        }
        assert_eq!(
            variant_name(&Future::MessageTooBig { limit: 3 }),
            "message_too_big"
        );
        assert_eq!(variant_name(&Future::Gone), "gone");
        assert_eq!(millis(Duration::from_micros(10_499)), 10);
    }
}
