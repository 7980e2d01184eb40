//! Patterns for [`Socket::await_message`](crate::Socket::await_message): the Rust form of Slipstream's
//! `await_message(topic, event, payload)` match patterns.
//!
//! ```
//! use slipstream_client::{pattern, ChannelMessage, MessagePattern, Payload};
//!
//! let msg = ChannelMessage {
//!     topic: "rooms:lobby".into(),
//!     event: "foo".into(),
//!     payload: Payload::json(&serde_json::json!({"bar": "baz", "n": 3})),
//! };
//! // Slipstream: await_message!(^topic, "foo", %{"bar" => "baz"})
//! let p = MessagePattern::any().topic("rooms:lobby").event("foo").payload(pattern!({"bar": "baz"}));
//! assert!(p.matches(&msg));
//! // Slipstream: await_message!(_, _, _)
//! assert!(MessagePattern::any().matches(&msg));
//! assert!(!MessagePattern::any().payload(pattern!({"bar": "nope", "n": _})).matches(&msg));
//! ```

use std::fmt;

use serde_json::Value;
use slipstream_protocol::Payload;

use crate::event::ChannelMessage;

/// A pattern over a JSON value.
#[derive(Debug, Clone, PartialEq)]
pub enum Pattern {
    /// Matches anything (`_`), including binary payloads.
    Any,
    /// Matches exactly this value.
    Exact(Value),
    /// Matches an object that has (at least) these keys, each matching its pattern; other keys are
    /// ignored, as in an Elixir map pattern. `Object(vec![])` matches any object (`%{}`).
    Object(Vec<(String, Pattern)>),
    /// Matches an array of exactly this length whose elements match in order.
    Array(Vec<Pattern>),
}

impl Pattern {
    /// Whether `value` matches.
    ///
    /// ```
    /// use slipstream_client::Pattern;
    /// let p = Pattern::from(serde_json::json!({"a": {"b": 1}}));
    /// assert!(p.matches_value(&serde_json::json!({"a": {"b": 1, "c": 2}, "d": 3})));
    /// assert!(!p.matches_value(&serde_json::json!({"a": {"b": 2}})));
    /// ```
    pub fn matches_value(&self, value: &Value) -> bool {
        match self {
            Pattern::Any => true,
            Pattern::Exact(expected) => expected == value,
            Pattern::Object(fields) => match value {
                Value::Object(map) => fields
                    .iter()
                    .all(|(key, p)| map.get(key).is_some_and(|v| p.matches_value(v))),
                _ => false,
            },
            Pattern::Array(items) => match value {
                Value::Array(values) => {
                    values.len() == items.len()
                        && items.iter().zip(values).all(|(p, v)| p.matches_value(v))
                }
                _ => false,
            },
        }
    }

    /// Whether a payload matches. Binary payloads match only [`Pattern::Any`]; JSON that does
    /// not parse matches nothing else either.
    pub fn matches_payload(&self, payload: &Payload) -> bool {
        match (self, payload) {
            (Pattern::Any, _) => true,
            (_, Payload::Binary(_)) => false,
            (_, other) => other.to_value().is_ok_and(|v| self.matches_value(&v)),
        }
    }
}

/// JSON-like, with `_` for "anything": `{"bar":"baz","n":_}`, `[1,_]`, `_`.
///
/// ```
/// use slipstream_client::pattern;
/// assert_eq!(pattern!({"bar": "baz", "n": _}).to_string(), r#"{"bar":"baz","n":_}"#);
/// ```
impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pattern::Any => f.write_str("_"),
            Pattern::Exact(value) => write!(f, "{value}"),
            Pattern::Object(fields) => {
                f.write_str("{")?;
                for (i, (key, pattern)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{}:{pattern}", Value::String(key.clone()))?;
                }
                f.write_str("}")
            }
            Pattern::Array(items) => {
                f.write_str("[")?;
                for (i, pattern) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{pattern}")?;
                }
                f.write_str("]")
            }
        }
    }
}

impl From<Value> for Pattern {
    /// Objects become partial [`Pattern::Object`]s and arrays [`Pattern::Array`]s, recursively;
    /// everything else must match exactly.
    fn from(value: Value) -> Self {
        match value {
            Value::Object(map) => Pattern::Object(
                map.into_iter()
                    .map(|(k, v)| (k, Pattern::from(v)))
                    .collect(),
            ),
            Value::Array(items) => Pattern::Array(items.into_iter().map(Pattern::from).collect()),
            other => Pattern::Exact(other),
        }
    }
}

impl From<&str> for Pattern {
    fn from(s: &str) -> Self {
        Pattern::Exact(Value::String(s.to_owned()))
    }
}

/// Which messages an [`await_message`](crate::Socket::await_message) takes: topic, event and payload
/// patterns, each `_` (anything) unless set.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MessagePattern {
    topic: Option<TopicPattern>,
    event: Option<String>,
    payload: Option<Pattern>,
}

#[derive(Debug, Clone, PartialEq)]
enum TopicPattern {
    Exact(String),
    Prefix(String),
}

/// `topic event payload`, each `_` when any is accepted; a topic prefix ends in `*`:
/// `rooms:lobby foo {"bar":"baz"}`, `rooms:* _ _`.
///
/// ```
/// use slipstream_client::{message_pattern, MessagePattern};
/// assert_eq!(message_pattern!("rooms:lobby", "foo", {"bar": "baz"}).to_string(), r#"rooms:lobby foo {"bar":"baz"}"#);
/// assert_eq!(MessagePattern::any().topic_prefix("rooms:").to_string(), "rooms:* _ _");
/// ```
impl fmt::Display for MessagePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.topic {
            None => f.write_str("_")?,
            Some(TopicPattern::Exact(topic)) => f.write_str(topic)?,
            Some(TopicPattern::Prefix(prefix)) => write!(f, "{prefix}*")?,
        }
        match &self.event {
            None => f.write_str(" _")?,
            Some(event) => write!(f, " {event}")?,
        }
        match &self.payload {
            None => f.write_str(" _"),
            Some(pattern) => write!(f, " {pattern}"),
        }
    }
}

impl MessagePattern {
    /// Matches every message (`_, _, _`).
    pub fn any() -> Self {
        Self::default()
    }

    /// Only this topic.
    pub fn topic(mut self, topic: impl Into<String>) -> Self {
        self.topic = Some(TopicPattern::Exact(topic.into()));
        self
    }

    /// Only topics starting with `prefix` (Slipstream's `"rooms:" <> _`).
    ///
    /// ```
    /// use slipstream_client::{ChannelMessage, MessagePattern, Payload};
    /// let m = ChannelMessage { topic: "rooms:9".into(), event: "e".into(), payload: Payload::empty() };
    /// assert!(MessagePattern::any().topic_prefix("rooms:").matches(&m));
    /// ```
    pub fn topic_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.topic = Some(TopicPattern::Prefix(prefix.into()));
        self
    }

    /// Only this event.
    pub fn event(mut self, event: impl Into<String>) -> Self {
        self.event = Some(event.into());
        self
    }

    /// Only payloads matching `pattern` (see [`Pattern`] and the [`pattern!`](crate::pattern!) macro).
    pub fn payload(mut self, pattern: impl Into<Pattern>) -> Self {
        self.payload = Some(pattern.into());
        self
    }

    /// The one topic this pattern accepts, when it names one exactly.
    pub(crate) fn exact_topic(&self) -> Option<&str> {
        match &self.topic {
            Some(TopicPattern::Exact(t)) => Some(t),
            _ => None,
        }
    }

    /// Whether `message` matches all three parts.
    pub fn matches(&self, message: &ChannelMessage) -> bool {
        let topic_ok = match &self.topic {
            None => true,
            Some(TopicPattern::Exact(t)) => &message.topic == t,
            Some(TopicPattern::Prefix(p)) => message.topic.starts_with(p.as_str()),
        };
        topic_ok
            && self.event.as_ref().is_none_or(|e| &message.event == e)
            && self
                .payload
                .as_ref()
                .is_none_or(|p| p.matches_payload(&message.payload))
    }
}

/// Builds a [`Pattern`] from JSON-like syntax, where `_` matches anything.
///
/// Objects are partial (extra keys are ignored); arrays must have the same length. A value that is
/// not a literal, `_`, `{…}` or `[…]` must be one token: wrap expressions in parentheses.
///
/// ```
/// use slipstream_client::{pattern, Pattern};
/// let expected = "baz";
/// let p = pattern!({"bar": (expected), "n": _, "list": [1, _]});
/// assert!(p.matches_value(&serde_json::json!({"bar": "baz", "n": null, "list": [1, 2], "x": 0})));
/// assert!(!p.matches_value(&serde_json::json!({"bar": "baz", "list": [1, 2]})));
/// assert_eq!(pattern!(_), Pattern::Any);
/// ```
#[macro_export]
macro_rules! pattern {
    (_) => {
        $crate::Pattern::Any
    };
    (null) => {
        $crate::Pattern::Exact($crate::__private::Value::Null)
    };
    ({ $($key:literal : $value:tt),* $(,)? }) => {
        $crate::Pattern::Object(::std::vec![
            $( (::std::string::String::from($key), $crate::pattern!($value)) ),*
        ])
    };
    ([ $($value:tt),* $(,)? ]) => {
        $crate::Pattern::Array(::std::vec![ $( $crate::pattern!($value) ),* ])
    };
    ($other:expr) => {
        $crate::Pattern::from($crate::__private::json!($other))
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn msg(topic: &str, event: &str, payload: Value) -> ChannelMessage {
        ChannelMessage {
            topic: topic.into(),
            event: event.into(),
            payload: Payload::json(&payload),
        }
    }

    #[test]
    fn object_patterns_are_partial_and_recursive() {
        let p = Pattern::from(json!({"a": {"b": [1, {"c": true}]}}));
        assert!(p.matches_value(&json!({"a": {"b": [1, {"c": true, "d": 0}], "e": 1}})));
        assert!(!p.matches_value(&json!({"a": {"b": [1, {"c": false}]}})));
        assert!(!p.matches_value(&json!({"a": {"b": [1]}})));
        assert!(!p.matches_value(&json!({"z": 1})));
        assert!(!p.matches_value(&json!([1])));
    }

    #[test]
    fn empty_object_matches_any_object_only() {
        let p = pattern!({});
        assert!(p.matches_value(&json!({"x": 1})));
        assert!(!p.matches_value(&json!([])));
        assert!(!p.matches_value(&json!("s")));
    }

    #[test]
    fn macro_wildcards_and_expressions() {
        let n = 3;
        let p = pattern!({"n": (n), "any": _, "nested": {"k": null}});
        assert!(p.matches_value(&json!({"n": 3, "any": [1], "nested": {"k": null}})));
        assert!(!p.matches_value(&json!({"n": 4, "any": [1], "nested": {"k": null}})));
        // a listed key must be present even when its pattern is `_`
        assert!(!p.matches_value(&json!({"n": 3, "nested": {"k": null}})));
    }

    #[test]
    fn message_pattern_checks_topic_event_payload() {
        let m = msg("rooms:lobby", "foo", json!({"bar": "baz"}));
        assert!(MessagePattern::any().matches(&m));
        assert!(MessagePattern::any().topic("rooms:lobby").matches(&m));
        assert!(!MessagePattern::any().topic("rooms:other").matches(&m));
        assert!(MessagePattern::any().topic_prefix("rooms:").matches(&m));
        assert!(!MessagePattern::any().event("bar").matches(&m));
        assert!(
            MessagePattern::any()
                .payload(json!({"bar": "baz"}))
                .matches(&m)
        );
        assert!(
            !MessagePattern::any()
                .payload(json!({"bar": "qux"}))
                .matches(&m)
        );
    }

    #[test]
    fn patterns_print_as_json_with_underscores() {
        assert_eq!(Pattern::Any.to_string(), "_");
        assert_eq!(pattern!({}).to_string(), "{}");
        assert_eq!(
            pattern!({"user": _, "list": [1, _], "s": "a \"q\""}).to_string(),
            r#"{"user":_,"list":[1,_],"s":"a \"q\""}"#
        );
        assert_eq!(pattern!(null).to_string(), "null");
        assert_eq!(MessagePattern::any().to_string(), "_ _ _");
        assert_eq!(
            MessagePattern::any()
                .topic("rooms:lobby")
                .event("foo")
                .payload(pattern!({"bar": "baz"}))
                .to_string(),
            r#"rooms:lobby foo {"bar":"baz"}"#
        );
        assert_eq!(
            MessagePattern::any()
                .topic_prefix("rooms:")
                .event("e")
                .to_string(),
            "rooms:* e _"
        );
    }

    #[test]
    fn binary_payloads_match_only_any() {
        let m = ChannelMessage {
            topic: "t".into(),
            event: "e".into(),
            payload: Payload::binary(vec![1, 2]),
        };
        assert!(MessagePattern::any().payload(Pattern::Any).matches(&m));
        assert!(!MessagePattern::any().payload(pattern!({})).matches(&m));
    }
}
