//! Rhai values ↔ JSON and channel payloads.
//!
//! Maps and arrays become JSON objects and arrays, `()` is `null`, integers and floats are JSON
//! numbers, strings and characters are strings. A [`Blob`] is a binary payload: it may be a whole
//! payload (`push(topic, "binary echo", blob)`), never a part of a JSON value. Binary payloads that
//! arrive become blobs.

use rhai::{Array, Blob, Dynamic, FLOAT, INT, Map};
use serde_json::{Number, Value};
use slipstream_client::{
    ChannelMessage, ConnectError, DisconnectReason, JoinError, Payload, Reply, SocketEvent,
    TopicCloseReason,
};

use crate::display;

/// Why a Rhai value has no JSON form.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConvertError {
    /// A blob inside a map or array: binary data can only be a whole payload.
    #[error("a blob can only be a whole payload, not part of a JSON value (at {path})")]
    NestedBlob {
        /// Where in the value, e.g. `$.data[2]`.
        path: String,
    },
    /// NaN or an infinity, which JSON cannot hold.
    #[error("{value} has no JSON form (at {path})")]
    NonFiniteFloat {
        /// The float, as text.
        value: String,
        /// Where in the value.
        path: String,
    },
    /// A value of a type JSON has no counterpart for (a function pointer, a socket…).
    #[error("a value of type {type_name} has no JSON form (at {path})")]
    Unsupported {
        /// The Rhai type name.
        type_name: String,
        /// Where in the value.
        path: String,
    },
    /// Text given to `from_json` that is not JSON.
    #[error("not JSON: {0}")]
    BadJson(String),
}

/// Converts a Rhai value to JSON.
pub fn to_json(value: &Dynamic) -> Result<Value, ConvertError> {
    to_json_at(value, "$")
}

fn to_json_at(value: &Dynamic, path: &str) -> Result<Value, ConvertError> {
    if value.is_unit() {
        return Ok(Value::Null);
    }
    if let Ok(b) = value.as_bool() {
        return Ok(Value::Bool(b));
    }
    if let Ok(i) = value.as_int() {
        return Ok(Value::Number(i.into()));
    }
    if let Ok(f) = value.as_float() {
        return Number::from_f64(f).map(Value::Number).ok_or_else(|| {
            ConvertError::NonFiniteFloat {
                value: f.to_string(),
                path: path.to_owned(),
            }
        });
    }
    if let Ok(c) = value.as_char() {
        return Ok(Value::String(c.to_string()));
    }
    if value.is_string() {
        return Ok(Value::String(
            value.clone().into_string().unwrap_or_default(),
        ));
    }
    if value.is_blob() {
        return Err(ConvertError::NestedBlob {
            path: path.to_owned(),
        });
    }
    if let Some(array) = value.read_lock::<Array>() {
        return array
            .iter()
            .enumerate()
            .map(|(i, item)| to_json_at(item, &format!("{path}[{i}]")))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array);
    }
    if let Some(map) = value.read_lock::<Map>() {
        let mut object = serde_json::Map::new();
        for (key, item) in map.iter() {
            object.insert(key.to_string(), to_json_at(item, &format!("{path}.{key}"))?);
        }
        return Ok(Value::Object(object));
    }
    Err(ConvertError::Unsupported {
        type_name: type_name(value),
        path: path.to_owned(),
    })
}

/// A value's type as scripts name it (`type_of`): `Socket`, `Any`, `range`… rather than the Rust
/// path Rhai reports for the types the CLI registers.
pub fn type_name(value: &Dynamic) -> String {
    use super::error::Failure;
    use super::pattern::{TopicPrefix, Wildcard};
    use super::socket::ScriptSocket;
    let name = if value.is::<ScriptSocket>() {
        "Socket"
    } else if value.is::<Wildcard>() {
        "Any"
    } else if value.is::<TopicPrefix>() {
        "TopicPrefix"
    } else if value.is::<Failure>() {
        "Failure"
    } else if value.is::<std::ops::Range<INT>>() {
        "range"
    } else if value.is::<std::ops::RangeInclusive<INT>>() {
        "range="
    } else {
        value.type_name()
    };
    name.to_owned()
}

/// Converts JSON to a Rhai value. Numbers that fit an `i64` become integers, others floats.
pub fn from_json(value: &Value) -> Dynamic {
    match value {
        Value::Null => Dynamic::UNIT,
        Value::Bool(b) => Dynamic::from_bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Dynamic::from_int(i as INT),
            None => Dynamic::from_float(n.as_f64().unwrap_or(FLOAT::NAN)),
        },
        Value::String(s) => Dynamic::from(s.clone()),
        Value::Array(items) => Dynamic::from_array(items.iter().map(from_json).collect()),
        Value::Object(object) => Dynamic::from_map(
            object
                .iter()
                .map(|(k, v)| (k.as_str().into(), from_json(v)))
                .collect(),
        ),
    }
}

/// Parses JSON text into a Rhai value (the script's `from_json`).
pub fn parse_json(text: &str) -> Result<Dynamic, ConvertError> {
    serde_json::from_str::<Value>(text)
        .map(|v| from_json(&v))
        .map_err(|e| ConvertError::BadJson(e.to_string()))
}

/// The payload a script value stands for: a blob is a binary payload, anything else JSON.
pub fn to_payload(value: &Dynamic) -> Result<Payload, ConvertError> {
    if let Some(blob) = value.read_lock::<Blob>() {
        return Ok(Payload::binary(blob.clone()));
    }
    to_json(value).map(Payload::from)
}

/// A payload as a script value: JSON as maps/arrays/scalars, binary as a blob, a reply as
/// `#{status, response}`. JSON that does not parse comes back as its text.
pub fn from_payload(payload: &Payload) -> Dynamic {
    match payload {
        Payload::Binary(bytes) => Dynamic::from_blob(bytes.to_vec()),
        Payload::Reply(reply) => reply_to_dynamic(reply),
        other => match other.to_value() {
            Ok(value) => from_json(&value),
            Err(_) => Dynamic::from(other.as_json_str().unwrap_or_default().to_owned()),
        },
    }
}

/// A reply as the map `await_reply` returns: `#{status: "ok", response: …}`.
pub fn reply_to_dynamic(reply: &Reply) -> Dynamic {
    let mut map = Map::new();
    map.insert("status".into(), Dynamic::from(reply.status.clone()));
    map.insert("response".into(), from_payload(&reply.response));
    Dynamic::from_map(map)
}

/// A mailbox event as the map `flush()` lists and `await_event()` returns. `type` says which kind
/// it is; the other keys carry its fields, as script values (payloads as maps or blobs) or
/// readable text (errors), never Rust `Debug` text:
///
/// | `type` | other keys |
/// |---|---|
/// | `connected` | |
/// | `connect_failed` | `error`; `status` (the HTTP status) when the upgrade was refused |
/// | `reconnecting` | `attempt` (1, 2…), `delay_ms`, `error` (why the last attempt failed, or `()`) |
/// | `disconnected` | `reason`, `code`, and `close_reason` or `error`: see [`disconnect_to_dynamic`] |
/// | `joined` | `topic`, `response` |
/// | `join_failed` | `topic`, `error`, `rejoin_in_ms` (`()` when no retry follows); `status` and `response` when the server refused |
/// | `message` | `topic`, `event`, `payload` |
/// | `reply` | `ref`, `topic`, and `status` and `response`, or `error` when no reply will come |
/// | `topic_errored` | `topic`, `payload`, `rejoin_in_ms` (the channel crashed) |
/// | `topic_closed` | `topic`, `reason` (`closed_by_server`, with `payload`, or `disconnected`) |
/// | `left` | `topic` |
/// | `malformed_frame` | `error` |
pub fn event_to_dynamic(event: &SocketEvent) -> Dynamic {
    if let SocketEvent::Disconnected(reason) = event {
        return disconnect_to_dynamic(reason);
    }
    let mut map = Map::new();
    let mut put = |key: &str, value: Dynamic| {
        map.insert(key.into(), value);
    };
    let text = |s: &str| Dynamic::from(s.to_owned());
    let ms = |d: &std::time::Duration| Dynamic::from_int(millis_int(d));
    put("type", text(&display::event_type(event)));
    match event {
        SocketEvent::Message(message) => {
            put("topic", text(&message.topic));
            put("event", text(&message.event));
            put("payload", from_payload(&message.payload));
        }
        SocketEvent::Reply {
            push_ref,
            topic,
            result,
        } => {
            put("ref", text(push_ref.as_text()));
            put("topic", text(topic));
            match result {
                Ok(reply) => {
                    put("status", text(&reply.status));
                    put("response", from_payload(&reply.response));
                }
                Err(error) => put("error", text(&error.to_string())),
            }
        }
        SocketEvent::Joined { topic, response } => {
            put("topic", text(topic));
            put("response", from_payload(response));
        }
        SocketEvent::JoinFailed {
            topic,
            error,
            rejoin_in,
        } => {
            put("topic", text(topic));
            put("error", text(&error.to_string()));
            put("rejoin_in_ms", rejoin_in.as_ref().map_or(Dynamic::UNIT, ms));
            if let JoinError::Rejected { status, response } = error {
                put("status", text(status));
                put("response", from_payload(response));
            }
        }
        SocketEvent::Left { topic } => put("topic", text(topic)),
        SocketEvent::Connected => {}
        SocketEvent::ConnectFailed(error) => {
            put("error", text(&error.to_string()));
            if let ConnectError::Refused { status, .. } = error {
                put("status", Dynamic::from_int(INT::from(*status)));
            }
        }
        SocketEvent::Reconnecting {
            attempt,
            delay,
            error,
        } => {
            put("attempt", Dynamic::from_int(INT::from(*attempt)));
            put("delay_ms", ms(delay));
            put(
                "error",
                error
                    .as_ref()
                    .map_or(Dynamic::UNIT, |e| text(&e.to_string())),
            );
        }
        SocketEvent::TopicErrored {
            topic,
            payload,
            rejoin_in,
        } => {
            put("topic", text(topic));
            put("payload", from_payload(payload));
            put("rejoin_in_ms", ms(rejoin_in));
        }
        SocketEvent::TopicClosed { topic, reason } => {
            put("topic", text(topic));
            put("reason", text(&display::topic_close_kind(reason)));
            if let TopicCloseReason::ClosedByServer(payload) = reason {
                put("payload", from_payload(payload));
            }
        }
        SocketEvent::MalformedFrame { error } => put("error", text(error)),
        // A kind this code does not know yet: its `type` is its name; `text` says what it is.
        other => put("text", text(&display::show_event(other))),
    }
    Dynamic::from_map(map)
}

/// Why a connection ended, as the map `await_disconnect()` returns and `flush()` lists:
/// `#{type: "disconnected", reason, code}` where `reason` is `client_requested`,
/// `heartbeat_timeout`, `closed_by_remote` (with `code`, the close code or `()`, and
/// `close_reason`, the close frame's text) or `transport_error` (with `error`, what failed).
/// `code` is `()` unless the server sent one.
pub fn disconnect_to_dynamic(reason: &DisconnectReason) -> Dynamic {
    let mut map = Map::new();
    map.insert("type".into(), Dynamic::from("disconnected".to_owned()));
    map.insert(
        "reason".into(),
        Dynamic::from(display::disconnect_kind(reason)),
    );
    let mut code = Dynamic::UNIT;
    match reason {
        DisconnectReason::ClosedByRemote {
            code: close_code,
            reason: text,
        } => {
            if let Some(c) = close_code {
                code = Dynamic::from_int(INT::from(*c));
            }
            map.insert("close_reason".into(), Dynamic::from(text.clone()));
        }
        DisconnectReason::TransportError(error) => {
            map.insert("error".into(), Dynamic::from(error.clone()));
        }
        DisconnectReason::ClientRequested | DisconnectReason::HeartbeatTimeout => {}
        other => {
            map.insert(
                "error".into(),
                Dynamic::from(display::show_disconnect(other)),
            );
        }
    }
    map.insert("code".into(), code);
    Dynamic::from_map(map)
}

fn millis_int(duration: &std::time::Duration) -> INT {
    INT::try_from(display::millis(*duration)).unwrap_or(INT::MAX)
}

/// A message as the map `await_message` returns: `#{topic, event, payload}`.
pub fn message_to_dynamic(message: &ChannelMessage) -> Dynamic {
    let mut map = Map::new();
    map.insert("topic".into(), Dynamic::from(message.topic.to_string()));
    map.insert("event".into(), Dynamic::from(message.event.to_string()));
    map.insert("payload".into(), from_payload(&message.payload));
    Dynamic::from_map(map)
}

/// A value as one line for people: compact JSON, with blobs as `<<1, 2>>` and sockets as
/// `Socket(url, state)` wherever they are, and Rhai's own form for anything else JSON cannot show.
pub fn show(value: &Dynamic) -> String {
    if let Some(socket) = value.read_lock::<super::socket::ScriptSocket>() {
        return socket.to_string();
    }
    if value.is::<super::pattern::Wildcard>() {
        return "ANY".into();
    }
    if let Some(prefix) = value.read_lock::<super::pattern::TopicPrefix>() {
        return format!("prefix({})", Value::String(prefix.0.clone()));
    }
    if let Some(failure) = value.read_lock::<super::error::Failure>() {
        return failure.to_string();
    }
    if let Some(range) = value.read_lock::<std::ops::Range<INT>>() {
        return format!("{}..{}", range.start, range.end);
    }
    if let Some(range) = value.read_lock::<std::ops::RangeInclusive<INT>>() {
        return format!("{}..={}", range.start(), range.end());
    }
    if let Some(blob) = value.read_lock::<Blob>() {
        return crate::display::show_payload(&Payload::binary(blob.clone()));
    }
    if let Some(items) = value.read_lock::<Array>() {
        let inner: Vec<String> = items.iter().map(show).collect();
        return format!("[{}]", inner.join(","));
    }
    if let Some(map) = value.read_lock::<Map>() {
        let inner: Vec<String> = map
            .iter()
            .map(|(k, v)| format!("{}:{}", Value::String(k.to_string()), show(v)))
            .collect();
        return format!("{{{}}}", inner.join(","));
    }
    match to_json(value) {
        Ok(json) => json.to_string(),
        Err(_) => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use slipstream_client::ReplyError;

    #[test]
    fn json_round_trips_through_rhai_values() {
        let original = json!({
            "s": "text", "i": -3, "f": 1.5, "t": true, "n": null,
            "list": [1, "two", {"three": [3]}], "empty": {}
        });
        let dynamic = from_json(&original);
        assert!(dynamic.is_map());
        assert_eq!(to_json(&dynamic), Ok(original));
    }

    #[test]
    fn large_unsigned_numbers_become_floats() {
        let big = json!(u64::MAX);
        assert!(from_json(&big).is_float());
    }

    #[test]
    fn chars_become_strings_and_unit_null() {
        assert_eq!(to_json(&Dynamic::from_char('x')), Ok(json!("x")));
        assert_eq!(to_json(&Dynamic::UNIT), Ok(Value::Null));
    }

    #[test]
    fn nested_blobs_and_nan_are_refused_with_a_path() {
        let mut map = Map::new();
        map.insert(
            "data".into(),
            Dynamic::from_array(vec![Dynamic::from_blob(vec![1])]),
        );
        assert_eq!(
            to_json(&Dynamic::from_map(map)),
            Err(ConvertError::NestedBlob {
                path: "$.data[0]".into()
            })
        );
        let err = to_json(&Dynamic::from_float(FLOAT::NAN)).unwrap_err();
        assert!(matches!(err, ConvertError::NonFiniteFloat { .. }), "{err}");
    }

    #[test]
    fn blobs_are_binary_payloads_both_ways() {
        let payload = to_payload(&Dynamic::from_blob(vec![1, 2, 3])).unwrap();
        assert_eq!(payload.as_binary().map(|b| b.to_vec()), Some(vec![1, 2, 3]));
        let back = from_payload(&payload);
        assert_eq!(back.into_blob().ok(), Some(vec![1, 2, 3]));
    }

    #[test]
    fn json_payloads_and_replies_become_maps() {
        let payload = to_payload(&from_json(&json!({"a": [1]}))).unwrap();
        assert_eq!(payload.to_value().unwrap(), json!({"a": [1]}));
        let reply = Reply {
            status: "ok".into(),
            response: Payload::json(&json!({"pong": "pong"})),
        };
        assert_eq!(
            to_json(&reply_to_dynamic(&reply)),
            Ok(json!({"status": "ok", "response": {"pong": "pong"}}))
        );
    }

    #[test]
    fn bad_json_text_is_an_error() {
        assert!(matches!(parse_json("{nope"), Err(ConvertError::BadJson(_))));
        assert_eq!(
            to_json(&parse_json(r#"{"x": [true]}"#).unwrap()),
            Ok(json!({"x": [true]}))
        );
    }

    #[test]
    fn events_become_typed_maps() {
        let message = SocketEvent::Message(ChannelMessage {
            topic: "rooms:lobby".into(),
            event: "foo".into(),
            payload: Payload::json(&json!({"bar": "baz"})),
        });
        assert_eq!(
            to_json(&event_to_dynamic(&message)),
            Ok(
                json!({"type": "message", "topic": "rooms:lobby", "event": "foo", "payload": {"bar": "baz"}})
            )
        );
        let reply = SocketEvent::Reply {
            push_ref: "3".into(),
            topic: "t".into(),
            result: Ok(Reply {
                status: "ok".into(),
                response: Payload::json(&json!({})),
            }),
        };
        assert_eq!(
            to_json(&event_to_dynamic(&reply)),
            Ok(json!({"type": "reply", "ref": "3", "topic": "t", "status": "ok", "response": {}}))
        );
    }

    fn event_json(event: SocketEvent) -> Value {
        to_json(&event_to_dynamic(&event)).expect("every event map has a JSON form")
    }

    #[test]
    fn connection_events_are_maps_of_readable_fields() {
        use std::time::Duration;
        assert_eq!(
            event_json(SocketEvent::Reconnecting {
                attempt: 2,
                delay: Duration::from_nanos(51_895_836),
                error: Some(ConnectError::ConnectionRefused {
                    addr: "127.0.0.1:4000".into()
                }),
            }),
            json!({"type": "reconnecting", "attempt": 2, "delay_ms": 52,
                   "error": "connection refused by 127.0.0.1:4000: nothing listens at that address"})
        );
        assert_eq!(
            event_json(SocketEvent::Reconnecting {
                attempt: 1,
                delay: Duration::from_millis(10),
                error: None,
            }),
            json!({"type": "reconnecting", "attempt": 1, "delay_ms": 10, "error": null})
        );
        assert_eq!(
            event_json(SocketEvent::Connected),
            json!({"type": "connected"})
        );
        assert_eq!(
            event_json(SocketEvent::ConnectFailed(ConnectError::Refused {
                status: 403,
                path: "/socket/websocket".into(),
                headers: vec![],
                body: None,
            })),
            json!({"type": "connect_failed", "status": 403,
                   "error": "websocket upgrade refused with HTTP 403 (forbidden) at /socket/websocket"})
        );
        assert_eq!(
            event_json(SocketEvent::MalformedFrame {
                error: "not JSON".into()
            }),
            json!({"type": "malformed_frame", "error": "not JSON"})
        );
    }

    #[test]
    fn disconnect_reasons_are_snake_case_words_with_their_details() {
        let disconnected = |reason| event_json(SocketEvent::Disconnected(reason));
        assert_eq!(
            disconnected(DisconnectReason::ClientRequested),
            json!({"type": "disconnected", "reason": "client_requested", "code": null})
        );
        assert_eq!(
            disconnected(DisconnectReason::HeartbeatTimeout),
            json!({"type": "disconnected", "reason": "heartbeat_timeout", "code": null})
        );
        assert_eq!(
            disconnected(DisconnectReason::ClosedByRemote {
                code: Some(1009),
                reason: "too big".into()
            }),
            json!({"type": "disconnected", "reason": "closed_by_remote", "code": 1009,
                   "close_reason": "too big"})
        );
        assert_eq!(
            disconnected(DisconnectReason::TransportError("reset by peer".into())),
            json!({"type": "disconnected", "reason": "transport_error", "code": null,
                   "error": "reset by peer"})
        );
        // await_disconnect() returns the same map.
        assert_eq!(
            to_json(&disconnect_to_dynamic(&DisconnectReason::ClientRequested)),
            Ok(json!({"type": "disconnected", "reason": "client_requested", "code": null}))
        );
    }

    #[test]
    fn topic_events_are_maps_of_readable_fields() {
        use std::time::Duration;
        assert_eq!(
            event_json(SocketEvent::JoinFailed {
                topic: "rooms:secret".into(),
                error: JoinError::Rejected {
                    status: "error".into(),
                    response: Payload::json(&json!({"reason": "unauthorized"})),
                },
                rejoin_in: None,
            }),
            json!({"type": "join_failed", "topic": "rooms:secret", "rejoin_in_ms": null,
                   "status": "error", "response": {"reason": "unauthorized"},
                   "error": r#"join rejected with status "error": {"reason":"unauthorized"}"#})
        );
        assert_eq!(
            event_json(SocketEvent::JoinFailed {
                topic: "t".into(),
                error: JoinError::NoReply,
                rejoin_in: Some(Duration::from_secs(2)),
            }),
            json!({"type": "join_failed", "topic": "t", "rejoin_in_ms": 2000,
                   "error": JoinError::NoReply.to_string()})
        );
        assert_eq!(
            event_json(SocketEvent::Left { topic: "t".into() }),
            json!({"type": "left", "topic": "t"})
        );
        assert_eq!(
            event_json(SocketEvent::TopicErrored {
                topic: "t".into(),
                payload: Payload::json(&json!({"reason": "channel_crash"})),
                rejoin_in: Duration::from_millis(1000),
            }),
            json!({"type": "topic_errored", "topic": "t",
                   "payload": {"reason": "channel_crash"}, "rejoin_in_ms": 1000})
        );
        assert_eq!(
            event_json(SocketEvent::TopicClosed {
                topic: "t".into(),
                reason: TopicCloseReason::ClosedByServer(Payload::json(&json!({}))),
            }),
            json!({"type": "topic_closed", "topic": "t", "reason": "closed_by_server",
                   "payload": {}})
        );
        assert_eq!(
            event_json(SocketEvent::TopicClosed {
                topic: "t".into(),
                reason: TopicCloseReason::Disconnected,
            }),
            json!({"type": "topic_closed", "topic": "t", "reason": "disconnected"})
        );
        assert_eq!(
            event_json(SocketEvent::Reply {
                push_ref: "4".into(),
                topic: "t".into(),
                result: Err(ReplyError::Disconnected(DisconnectReason::ClientRequested)),
            }),
            json!({"type": "reply", "ref": "4", "topic": "t",
                   "error": "disconnected before the reply arrived: client requested"})
        );
    }

    #[test]
    fn script_types_are_named_and_shown_as_scripts_write_them() {
        use super::super::pattern::{TopicPrefix, Wildcard};
        let err = to_json(&Dynamic::from(Wildcard)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "a value of type Any has no JSON form (at $)"
        );
        assert_eq!(show(&Dynamic::from(Wildcard)), "ANY");
        assert_eq!(
            show(&Dynamic::from(TopicPrefix("rooms:".into()))),
            r#"prefix("rooms:")"#
        );
        let range: std::ops::Range<INT> = 1..3;
        assert_eq!(show(&Dynamic::from(range)), "1..3");
    }

    #[test]
    fn show_is_compact_json_or_bytes() {
        assert_eq!(show(&from_json(&json!({"a": 1}))), r#"{"a":1}"#);
        assert_eq!(show(&Dynamic::from_blob(vec![7, 8])), "<<7, 8>>");
        let mut map = Map::new();
        map.insert("b".into(), Dynamic::from_blob(vec![1]));
        map.insert("s".into(), Dynamic::from("x"));
        assert_eq!(show(&Dynamic::from_map(map)), r#"{"b":<<1>>,"s":"x"}"#);
    }
}
