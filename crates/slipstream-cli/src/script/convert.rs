//! Rhai values ↔ JSON and channel payloads.
//!
//! Maps and arrays become JSON objects and arrays, `()` is `null`, integers and floats are JSON
//! numbers, strings and characters are strings. A [`Blob`] is a binary payload: it may be a whole
//! payload (`push(topic, "binary echo", blob)`), never a part of a JSON value. Binary payloads that
//! arrive become blobs.

use rhai::{Array, Blob, Dynamic, FLOAT, INT, Map};
use serde_json::{Number, Value};
use slipstream_client::{ChannelMessage, Payload, Reply, SocketEvent};

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
        type_name: value.type_name().to_owned(),
        path: path.to_owned(),
    })
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

/// A mailbox event as the map `flush()` lists: `type` says which kind (`message`, `reply`,
/// `joined`, `join_failed`, `left`, `connected`, `disconnected`, `topic_errored`, `topic_closed`,
/// …), the other keys carry its fields.
pub fn event_to_dynamic(event: &SocketEvent) -> Dynamic {
    let mut map = Map::new();
    let mut put = |key: &str, value: Dynamic| {
        map.insert(key.into(), value);
    };
    let text = |s: &str| Dynamic::from(s.to_owned());
    match event {
        SocketEvent::Message(message) => {
            put("type", text("message"));
            put("topic", text(&message.topic));
            put("event", text(&message.event));
            put("payload", from_payload(&message.payload));
        }
        SocketEvent::Reply {
            push_ref,
            topic,
            result,
        } => {
            put("type", text("reply"));
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
            put("type", text("joined"));
            put("topic", text(topic));
            put("response", from_payload(response));
        }
        SocketEvent::JoinFailed { topic, error, .. } => {
            put("type", text("join_failed"));
            put("topic", text(topic));
            put("error", text(&error.to_string()));
        }
        SocketEvent::Left { topic } => {
            put("type", text("left"));
            put("topic", text(topic));
        }
        SocketEvent::Connected => put("type", text("connected")),
        SocketEvent::ConnectFailed(error) => {
            put("type", text("connect_failed"));
            put("error", text(&error.to_string()));
        }
        SocketEvent::Disconnected(reason) => {
            put("type", text("disconnected"));
            put("reason", text(&format!("{reason:?}")));
        }
        SocketEvent::TopicErrored { topic, payload, .. } => {
            put("type", text("topic_errored"));
            put("topic", text(topic));
            put("payload", from_payload(payload));
        }
        SocketEvent::TopicClosed { topic, reason } => {
            put("type", text("topic_closed"));
            put("topic", text(topic));
            put("reason", text(&format!("{reason:?}")));
        }
        other => {
            put("type", text("other"));
            put("description", text(&format!("{other:?}")));
        }
    }
    Dynamic::from_map(map)
}

/// A message as the map `await_message` returns: `#{topic, event, payload}`.
pub fn message_to_dynamic(message: &ChannelMessage) -> Dynamic {
    let mut map = Map::new();
    map.insert("topic".into(), Dynamic::from(message.topic.clone()));
    map.insert("event".into(), Dynamic::from(message.event.clone()));
    map.insert("payload".into(), from_payload(&message.payload));
    Dynamic::from_map(map)
}

/// A value as one line for people: compact JSON, with blobs as `<<1, 2>>` wherever they are and
/// Rhai's own form for anything else JSON cannot show.
pub fn show(value: &Dynamic) -> String {
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
