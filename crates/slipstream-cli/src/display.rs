//! How the CLI shows payloads, replies, messages and events to a person: compact JSON, and binary
//! payloads as byte lists.

use slipstream_client::{ChannelMessage, Payload, Reply, SocketEvent};

/// A payload as one line: compact JSON, `<<1, 2, 3>>` for bytes, `(status, response)` for a reply.
pub fn show_payload(payload: &Payload) -> String {
    match payload {
        Payload::Json(raw) => match serde_json::from_str::<serde_json::Value>(raw.get()) {
            Ok(value) => value.to_string(),
            Err(_) => raw.get().to_owned(),
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

/// One mailbox event, as `flush` lists it.
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
        SocketEvent::Joined { topic, response } => {
            format!(
                "joined   topic: {topic:?}  response: {}",
                show_payload(response)
            )
        }
        SocketEvent::JoinFailed { topic, error, .. } => {
            format!("join failed  topic: {topic:?}  {error}")
        }
        SocketEvent::Left { topic } => format!("left     topic: {topic:?}"),
        SocketEvent::TopicErrored { topic, payload, .. } => format!(
            "channel crashed  topic: {topic:?}  payload: {}",
            show_payload(payload)
        ),
        SocketEvent::TopicClosed { topic, reason } => {
            format!("channel closed  topic: {topic:?}  {reason:?}")
        }
        SocketEvent::Disconnected(reason) => format!("disconnected: {reason:?}"),
        other => format!("{other:?}"),
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
}
