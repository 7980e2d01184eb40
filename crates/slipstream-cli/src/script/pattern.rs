//! `await_message` patterns written as Rhai values.
//!
//! The wildcard is the constant `ANY` (Elixir's `_`): `await_message(ANY, ANY, ANY)` takes the
//! next message. A map matches partially, as an Elixir map pattern does: `#{bar: "baz"}` matches
//! any payload that has `bar` equal to `"baz"`, whatever else it holds; `ANY` may appear inside
//! (`#{user: ANY}` requires the key, any value). Arrays must match element by element. `()` is
//! JSON `null`, not a wildcard. A topic may also be `prefix("rooms:")` (Elixir's `"rooms:" <> _`).

use rhai::{Array, Dynamic, Map};
use slipstream_client::{MessagePattern, Pattern};

use super::convert::{self, ConvertError};

/// The wildcard value behind the script constant `ANY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wildcard;

/// A topic pattern that matches every topic starting with a prefix (`prefix("rooms:")`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicPrefix(pub String);

/// Why a value cannot be a pattern.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PatternError {
    /// A topic or event that is neither a string nor `ANY` (nor `prefix(…)` for topics).
    #[error("the {part} pattern must be a string or ANY{extra}, not {type_name}")]
    NotAString {
        /// `topic` or `event`.
        part: &'static str,
        /// What else would have been accepted.
        extra: &'static str,
        /// What was given.
        type_name: String,
    },
    /// A payload pattern with a part JSON cannot express.
    #[error("payload pattern: {0}")]
    Payload(#[from] ConvertError),
}

/// Builds the pattern of a payload: `ANY`, or a value whose maps match partially.
pub fn payload_pattern(value: &Dynamic) -> Result<Pattern, PatternError> {
    if value.is::<Wildcard>() {
        return Ok(Pattern::Any);
    }
    if let Some(map) = value.read_lock::<Map>() {
        return map
            .iter()
            .map(|(k, v)| payload_pattern(v).map(|p| (k.to_string(), p)))
            .collect::<Result<Vec<_>, _>>()
            .map(Pattern::Object);
    }
    if let Some(items) = value.read_lock::<Array>() {
        return items
            .iter()
            .map(payload_pattern)
            .collect::<Result<Vec<_>, _>>()
            .map(Pattern::Array);
    }
    Ok(Pattern::Exact(convert::to_json(value)?))
}

/// Builds the whole `await_message(topic, event, payload)` pattern.
pub fn message_pattern(
    topic: &Dynamic,
    event: &Dynamic,
    payload: &Dynamic,
) -> Result<MessagePattern, PatternError> {
    let mut pattern = MessagePattern::any();
    if let Some(prefix) = topic.read_lock::<TopicPrefix>() {
        pattern = pattern.topic_prefix(prefix.0.clone());
    } else if let Some(topic) = text_or_any(topic, "topic", ", or prefix(\"…\")")? {
        pattern = pattern.topic(topic);
    }
    if let Some(event) = text_or_any(event, "event", "")? {
        pattern = pattern.event(event);
    }
    let payload = payload_pattern(payload)?;
    if payload != Pattern::Any {
        pattern = pattern.payload(payload);
    }
    Ok(pattern)
}

fn text_or_any(
    value: &Dynamic,
    part: &'static str,
    extra: &'static str,
) -> Result<Option<String>, PatternError> {
    if value.is::<Wildcard>() {
        return Ok(None);
    }
    if value.is_string() {
        return Ok(Some(value.clone().into_string().unwrap_or_default()));
    }
    Err(PatternError::NotAString {
        part,
        extra,
        type_name: value.type_name().to_owned(),
    })
}

/// Describes a pattern for a failure message, e.g. `topic "rooms:lobby", event "foo", payload {"bar":"baz"}`.
pub fn describe(topic: &Dynamic, event: &Dynamic, payload: &Dynamic) -> String {
    format!(
        "a message with topic {}, event {}, payload {}",
        describe_part(topic),
        describe_part(event),
        describe_part(payload)
    )
}

fn describe_part(value: &Dynamic) -> String {
    if value.is::<Wildcard>() {
        return "ANY".into();
    }
    if let Some(prefix) = value.read_lock::<TopicPrefix>() {
        return format!("prefix({:?})", prefix.0);
    }
    if value.is_map() || value.is_array() {
        // Show nested wildcards as ANY rather than failing to convert them.
        return match payload_pattern(value) {
            Ok(pattern) => describe_pattern(&pattern),
            Err(_) => value.to_string(),
        };
    }
    convert::show(value)
}

fn describe_pattern(pattern: &Pattern) -> String {
    match pattern {
        Pattern::Any => "ANY".into(),
        Pattern::Exact(value) => value.to_string(),
        Pattern::Object(fields) => {
            let inner: Vec<String> = fields
                .iter()
                .map(|(k, p)| format!("{k:?}:{}", describe_pattern(p)))
                .collect();
            format!("{{{}, ..}}", inner.join(","))
        }
        Pattern::Array(items) => {
            let inner: Vec<String> = items.iter().map(describe_pattern).collect();
            format!("[{}]", inner.join(","))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use slipstream_client::{ChannelMessage, Payload};

    fn message(topic: &str, event: &str, payload: serde_json::Value) -> ChannelMessage {
        ChannelMessage {
            topic: topic.into(),
            event: event.into(),
            payload: Payload::json(&payload),
        }
    }

    fn map(entries: &[(&str, Dynamic)]) -> Dynamic {
        Dynamic::from_map(
            entries
                .iter()
                .map(|(k, v)| ((*k).into(), v.clone()))
                .collect(),
        )
    }

    fn any() -> Dynamic {
        Dynamic::from(Wildcard)
    }

    #[test]
    fn wildcards_everywhere_match_everything() {
        let p = message_pattern(&any(), &any(), &any()).unwrap();
        assert_eq!(p, MessagePattern::any());
        assert!(p.matches(&message("t", "e", json!([1]))));
    }

    #[test]
    fn maps_match_partially_and_nested_any_requires_the_key() {
        let payload = map(&[("bar", Dynamic::from("baz")), ("n", any())]);
        let p = message_pattern(
            &Dynamic::from("rooms:lobby"),
            &Dynamic::from("foo"),
            &payload,
        )
        .unwrap();
        assert!(p.matches(&message(
            "rooms:lobby",
            "foo",
            json!({"bar": "baz", "n": 1, "x": 2})
        )));
        assert!(!p.matches(&message("rooms:lobby", "foo", json!({"bar": "baz"}))));
        assert!(!p.matches(&message(
            "rooms:lobby",
            "foo",
            json!({"bar": "qux", "n": 1})
        )));
        assert!(!p.matches(&message(
            "rooms:other",
            "foo",
            json!({"bar": "baz", "n": 1})
        )));
        assert!(!p.matches(&message(
            "rooms:lobby",
            "bar",
            json!({"bar": "baz", "n": 1})
        )));
    }

    #[test]
    fn unit_is_null_not_a_wildcard() {
        let p = payload_pattern(&Dynamic::UNIT).unwrap();
        assert_eq!(p, Pattern::Exact(serde_json::Value::Null));
    }

    #[test]
    fn arrays_match_element_by_element() {
        let p = payload_pattern(&Dynamic::from_array(vec![Dynamic::from_int(1), any()])).unwrap();
        assert!(p.matches_value(&json!([1, "x"])));
        assert!(!p.matches_value(&json!([1])));
        assert!(!p.matches_value(&json!([2, "x"])));
    }

    #[test]
    fn topic_prefixes_match_by_prefix() {
        let prefix = Dynamic::from(TopicPrefix("rooms:".into()));
        let p = message_pattern(&prefix, &any(), &any()).unwrap();
        assert!(p.matches(&message("rooms:9", "e", json!({}))));
        assert!(!p.matches(&message("presence:9", "e", json!({}))));
    }

    #[test]
    fn non_string_topics_are_refused() {
        let err = message_pattern(&Dynamic::from_int(3), &any(), &any()).unwrap_err();
        assert!(
            err.to_string().contains("topic pattern must be a string"),
            "{err}"
        );
    }

    #[test]
    fn descriptions_show_wildcards() {
        let payload = map(&[("bar", Dynamic::from("baz")), ("n", any())]);
        assert_eq!(
            describe(&Dynamic::from("rooms:lobby"), &any(), &payload),
            r#"a message with topic "rooms:lobby", event ANY, payload {"bar":"baz","n":ANY, ..}"#
        );
    }
}
