//! The logical Phoenix message: `join_ref`, `ref`, `topic`, `event` and `payload`.

use std::fmt;

use crate::json_text::JsonText;
use bytes::Bytes;
use compact_str::{CompactString, ToCompactString};

/// A `ref` or `join_ref`, kept exactly as it travelled.
///
/// Clients send decimal strings, but Phoenix echoes whatever JSON value it received,
/// so a number stays a number ([`Ref::from_json_text`]`("4.5")`) and a string stays a string.
///
/// Refs are short, so their text is stored inline (up to 24 bytes): making, copying and
/// decoding one allocates nothing.
///
/// ```
/// use slipstream_protocol::Ref;
/// let r = Ref::from("7");
/// assert_eq!(r.as_str(), Some("7"));
/// assert_eq!(r.to_string(), "7");
/// assert_eq!(Ref::from(7u64), r);
/// assert_eq!(Ref::from_json_text("4.5").as_str(), None);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ref {
    /// Whether the text is JSON for a non-string value (a number, a boolean…) rather than a
    /// string's contents. Strings sort first.
    is_json: bool,
    text: CompactString,
}

impl Ref {
    /// A ref that travelled as a JSON value other than a string or `null` (e.g. `4.5`, `true`),
    /// from its compact JSON text.
    pub fn from_json_text(text: &str) -> Self {
        Ref {
            is_json: true,
            text: CompactString::from(text),
        }
    }

    /// The string value, if this ref is a string.
    pub fn as_str(&self) -> Option<&str> {
        (!self.is_json).then_some(self.text.as_str())
    }

    /// The text that stands for this ref in a V2 binary frame (a number keeps its JSON text).
    pub fn as_text(&self) -> &str {
        &self.text
    }

    /// Whether this ref travelled as a JSON value other than a string (see [`Ref::from_json_text`]).
    pub fn is_json(&self) -> bool {
        self.is_json
    }
}

impl From<&str> for Ref {
    fn from(s: &str) -> Self {
        Ref {
            is_json: false,
            text: CompactString::from(s),
        }
    }
}

impl From<String> for Ref {
    fn from(s: String) -> Self {
        Ref {
            is_json: false,
            text: CompactString::from(s),
        }
    }
}

impl From<u64> for Ref {
    /// A counter rendered as a decimal string, as phoenix.js does.
    fn from(n: u64) -> Self {
        Ref {
            is_json: false,
            text: n.to_compact_string(),
        }
    }
}

impl fmt::Display for Ref {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_text())
    }
}

/// An event name. Phoenix's reserved names get their own variant; every other name is carried as is.
///
/// ```
/// use slipstream_protocol::Event;
/// assert_eq!(Event::from("phx_join"), Event::Join);
/// assert_eq!(Event::from("push to me").as_str(), "push to me");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Event {
    /// `phx_join`: join a topic.
    Join,
    /// `phx_leave`: leave a topic.
    Leave,
    /// `phx_reply`: the server's reply to a request.
    Reply,
    /// `phx_error`: the channel crashed.
    Error,
    /// `phx_close`: the channel was closed on purpose.
    Close,
    /// `heartbeat`: keep-alive on topic `phoenix`.
    Heartbeat,
    /// Any application event.
    Custom(String),
}

impl Event {
    /// The event's name on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Event::Join => "phx_join",
            Event::Leave => "phx_leave",
            Event::Reply => "phx_reply",
            Event::Error => "phx_error",
            Event::Close => "phx_close",
            Event::Heartbeat => "heartbeat",
            Event::Custom(name) => name,
        }
    }

    /// The event's name on the wire, as an owned string; an application event's name is moved,
    /// not copied.
    ///
    /// ```
    /// use slipstream_protocol::Event;
    /// assert_eq!(Event::from("shout").into_name(), "shout");
    /// assert_eq!(Event::Reply.into_name(), "phx_reply");
    /// ```
    pub fn into_name(self) -> String {
        match self {
            Event::Custom(name) => name,
            reserved => reserved.as_str().to_owned(),
        }
    }

    /// The reserved event `name` stands for, if any (`None` for an application event).
    ///
    /// ```
    /// use slipstream_protocol::Event;
    /// assert_eq!(Event::reserved("phx_close"), Some(Event::Close));
    /// assert_eq!(Event::reserved("foo"), None);
    /// ```
    pub fn reserved(name: &str) -> Option<Event> {
        Some(match name {
            "phx_join" => Event::Join,
            "phx_leave" => Event::Leave,
            "phx_reply" => Event::Reply,
            "phx_error" => Event::Error,
            "phx_close" => Event::Close,
            "heartbeat" => Event::Heartbeat,
            _ => return None,
        })
    }
}

impl From<&str> for Event {
    fn from(name: &str) -> Self {
        Event::reserved(name).unwrap_or_else(|| Event::Custom(name.to_owned()))
    }
}

impl From<String> for Event {
    fn from(name: String) -> Self {
        Event::reserved(&name).unwrap_or(Event::Custom(name))
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The topic Phoenix reserves for heartbeats.
pub const PHOENIX_TOPIC: &str = "phoenix";

/// What a message carries.
///
/// JSON stays raw (unparsed) until someone asks for it, so routing a frame costs no payload parsing.
///
/// ```
/// use slipstream_protocol::Payload;
/// let p = Payload::json(&serde_json::json!({"body": "hi"}));
/// assert_eq!(p.to_value().unwrap()["body"], "hi");
/// ```
#[derive(Clone, Debug)]
pub enum Payload {
    /// A JSON value, as its text (checked, shared, parsed only on demand).
    Json(JsonText),
    /// Raw bytes, sent as a V2 binary frame.
    Binary(Bytes),
    /// The payload of a `phx_reply`: a status and a response.
    Reply(Box<Reply>),
}

impl Payload {
    /// The empty JSON object `{}`.
    pub fn empty() -> Self {
        Payload::Json(JsonText::empty_object())
    }

    /// Serializes any `serde` value into a JSON payload.
    ///
    /// Panics never: a value that fails to serialize (a map with non-string keys) becomes `null`.
    /// Use [`Payload::try_json`] to see that error.
    pub fn json<T: serde::Serialize + ?Sized>(value: &T) -> Self {
        Self::try_json(value).unwrap_or_else(|_| Payload::Json(JsonText::null()))
    }

    /// Serializes any `serde` value into a JSON payload, reporting serialization errors.
    pub fn try_json<T: serde::Serialize + ?Sized>(value: &T) -> Result<Self, serde_json::Error> {
        JsonText::from_value(value).map(Payload::Json)
    }

    /// Parses JSON text into a payload, checking that it is valid JSON.
    pub fn from_json_str(text: &str) -> Result<Self, serde_json::Error> {
        JsonText::parse(text).map(Payload::Json)
    }

    /// Wraps bytes as a binary payload.
    pub fn binary(bytes: impl Into<Bytes>) -> Self {
        Payload::Binary(bytes.into())
    }

    /// A reply payload with the given status and response.
    pub fn reply(status: impl Into<String>, response: Payload) -> Self {
        Payload::Reply(Box::new(Reply {
            status: status.into(),
            response,
        }))
    }

    /// The raw JSON text, for a JSON payload.
    pub fn as_json_str(&self) -> Option<&str> {
        match self {
            Payload::Json(json) => Some(json.as_str()),
            _ => None,
        }
    }

    /// The bytes, for a binary payload.
    pub fn as_binary(&self) -> Option<&Bytes> {
        match self {
            Payload::Binary(bytes) => Some(bytes),
            _ => None,
        }
    }

    /// The reply, for a `phx_reply` payload.
    pub fn as_reply(&self) -> Option<&Reply> {
        match self {
            Payload::Reply(reply) => Some(reply),
            _ => None,
        }
    }

    /// Parses the payload into a `serde_json::Value`.
    ///
    /// A binary payload becomes an error; a reply becomes `{"status": …, "response": …}`
    /// (binary responses appear as an array of byte values).
    pub fn to_value(&self) -> Result<serde_json::Value, serde_json::Error> {
        match self {
            Payload::Json(json) => serde_json::from_str(json.as_str()),
            Payload::Binary(bytes) => Ok(serde_json::Value::from(bytes.to_vec())),
            Payload::Reply(reply) => Ok(serde_json::json!({
                "status": reply.status,
                "response": reply.response.to_value()?,
            })),
        }
    }
}

impl PartialEq for Payload {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Payload::Json(a), Payload::Json(b)) => a == b,
            (Payload::Binary(a), Payload::Binary(b)) => a == b,
            (Payload::Reply(a), Payload::Reply(b)) => a == b,
            _ => false,
        }
    }
}

/// What a person reads: JSON as its compact text (`{"bar":"baz"}`), binary as its size
/// (`<binary, 12 bytes>`), a reply as its status and response (`ok {"pong":"pong"}`).
///
/// ```
/// use slipstream_protocol::Payload;
/// let json = Payload::from_json_str(r#"{ "bar": "baz" }"#).unwrap();
/// assert_eq!(json.to_string(), r#"{"bar":"baz"}"#);
/// assert_eq!(Payload::binary(vec![0; 12]).to_string(), "<binary, 12 bytes>");
/// assert_eq!(Payload::reply("ok", Payload::empty()).to_string(), "ok {}");
/// ```
impl fmt::Display for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Payload::Json(json) => write_compact_json(f, json.as_str()),
            Payload::Binary(bytes) => match bytes.len() {
                1 => f.write_str("<binary, 1 byte>"),
                n => write!(f, "<binary, {n} bytes>"),
            },
            Payload::Reply(reply) => fmt::Display::fmt(reply, f),
        }
    }
}

/// Writes valid JSON text without the whitespace between its tokens (strings are kept as they
/// are, keys in their order).
fn write_compact_json(f: &mut fmt::Formatter<'_>, json: &str) -> fmt::Result {
    let is_space = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    if !json.bytes().any(is_space) {
        return f.write_str(json);
    }
    let bytes = json.as_bytes();
    let (mut in_string, mut escaped, mut start) = (false, false, 0);
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
        } else if b == b'"' {
            in_string = true;
        } else if is_space(b) {
            // Whitespace is ASCII, so `start..i` always falls on character boundaries.
            f.write_str(&json[start..i])?;
            start = i + 1;
        }
    }
    f.write_str(&json[start..])
}

impl From<serde_json::Value> for Payload {
    fn from(value: serde_json::Value) -> Self {
        Payload::json(&value)
    }
}

/// The content of a `phx_reply`: any status string and any JSON or binary response.
#[derive(Clone, Debug, PartialEq)]
pub struct Reply {
    /// `"ok"`, `"error"`, or any other status the application chose.
    pub status: String,
    /// The response: JSON (any value) or binary. Never itself a reply.
    pub response: Payload,
}

impl Reply {
    /// Whether the status is `"ok"`.
    pub fn is_ok(&self) -> bool {
        self.status == "ok"
    }
}

/// The status, then the response: `ok {"pong":"pong"}`, `error {"reason":"unauthorized"}`.
///
/// ```
/// use slipstream_protocol::{Payload, Reply};
/// let reply = Reply { status: "ok".into(), response: Payload::json(&serde_json::json!({"pong": "pong"})) };
/// assert_eq!(reply.to_string(), r#"ok {"pong":"pong"}"#);
/// ```
impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status, self.response)
    }
}

/// One Phoenix message, in either direction.
///
/// ```
/// use slipstream_protocol::{Event, Message, Payload};
/// let join = Message::new(Some("1".into()), Some("1".into()), "rooms:lobby", Event::Join, Payload::empty());
/// assert_eq!(join.topic, "rooms:lobby");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    /// The join this message belongs to; `None` for heartbeats, broadcasts and unmatched-topic replies.
    pub join_ref: Option<Ref>,
    /// The request reference; `None` for server pushes and broadcasts.
    pub msg_ref: Option<Ref>,
    /// The routing key, e.g. `rooms:lobby`.
    pub topic: String,
    /// The event name.
    pub event: Event,
    /// The data.
    pub payload: Payload,
}

/// A message whose five parts are borrowed, for encoding without building a [`Message`]
/// ([`Serializer::encode_ref_to_server`](crate::Serializer::encode_ref_to_server)).
#[derive(Debug, Clone, Copy)]
pub struct MessageRef<'a> {
    /// See [`Message::join_ref`].
    pub join_ref: Option<&'a Ref>,
    /// See [`Message::msg_ref`].
    pub msg_ref: Option<&'a Ref>,
    /// See [`Message::topic`].
    pub topic: &'a str,
    /// The event's name on the wire ([`Event::as_str`]).
    pub event: &'a str,
    /// See [`Message::payload`].
    pub payload: &'a Payload,
}

impl<'a> From<&'a Message> for MessageRef<'a> {
    fn from(message: &'a Message) -> Self {
        MessageRef {
            join_ref: message.join_ref.as_ref(),
            msg_ref: message.msg_ref.as_ref(),
            topic: &message.topic,
            event: message.event.as_str(),
            payload: &message.payload,
        }
    }
}

impl Message {
    /// Builds a message from its five fields.
    pub fn new(
        join_ref: Option<Ref>,
        msg_ref: Option<Ref>,
        topic: impl Into<String>,
        event: impl Into<Event>,
        payload: Payload,
    ) -> Self {
        Message {
            join_ref,
            msg_ref,
            topic: topic.into(),
            event: event.into(),
            payload,
        }
    }

    /// A heartbeat request with the given ref.
    pub fn heartbeat(msg_ref: Ref) -> Self {
        Message::new(
            None,
            Some(msg_ref),
            PHOENIX_TOPIC,
            Event::Heartbeat,
            Payload::empty(),
        )
    }

    /// A `phx_reply` to a request.
    pub fn reply(
        join_ref: Option<Ref>,
        msg_ref: Option<Ref>,
        topic: impl Into<String>,
        status: impl Into<String>,
        response: Payload,
    ) -> Self {
        Message::new(
            join_ref,
            msg_ref,
            topic,
            Event::Reply,
            Payload::reply(status, response),
        )
    }

    /// Whether this is a broadcast (neither join_ref nor ref), as seen from the client.
    pub fn is_broadcast(&self) -> bool {
        self.join_ref.is_none() && self.msg_ref.is_none()
    }
}

/// Topic, event and payload, then the refs: `rooms:lobby ping {} (ref 2, join_ref 1)`; refs
/// that are null are left out.
///
/// ```
/// use slipstream_protocol::{Event, Message, Payload};
/// let push = Message::new(Some("1".into()), Some("2".into()), "rooms:lobby", "ping", Payload::empty());
/// assert_eq!(push.to_string(), "rooms:lobby ping {} (ref 2, join_ref 1)");
/// let broadcast = Message::new(None, None, "rooms:lobby", "shout", Payload::empty());
/// assert_eq!(broadcast.to_string(), "rooms:lobby shout {}");
/// ```
impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.topic, self.event, self.payload)?;
        match (&self.msg_ref, &self.join_ref) {
            (None, None) => Ok(()),
            (Some(r), None) => write!(f, " (ref {r})"),
            (None, Some(j)) => write!(f, " (join_ref {j})"),
            (Some(r), Some(j)) => write!(f, " (ref {r}, join_ref {j})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_payloads_print_as_compact_json_in_their_key_order() {
        let p = Payload::from_json_str("{ \"z\" : 1,\n \"a\": [1, 2, {\"b\": \"x y\"}] }").unwrap();
        assert_eq!(p.to_string(), r#"{"z":1,"a":[1,2,{"b":"x y"}]}"#);
        // Whitespace and escaped quotes inside strings are kept.
        let p = Payload::from_json_str(r#" "say \" hi\\" "#).unwrap();
        assert_eq!(p.to_string(), r#""say \" hi\\""#);
        assert_eq!(Payload::empty().to_string(), "{}");
        assert_eq!(Payload::json(&json!(null)).to_string(), "null");
        assert_eq!(Payload::json(&json!("é ü")).to_string(), r#""é ü""#);
    }

    #[test]
    fn binary_payloads_print_their_size() {
        assert_eq!(
            Payload::binary(vec![1, 2, 3]).to_string(),
            "<binary, 3 bytes>"
        );
        assert_eq!(Payload::binary(vec![7]).to_string(), "<binary, 1 byte>");
        assert_eq!(Payload::binary(Vec::new()).to_string(), "<binary, 0 bytes>");
    }

    #[test]
    fn replies_print_status_then_response() {
        let ok = Payload::reply("ok", Payload::json(&json!({"pong": "pong"})));
        assert_eq!(ok.to_string(), r#"ok {"pong":"pong"}"#);
        let error = Reply {
            status: "error".into(),
            response: Payload::json(&json!({"reason": "unauthorized"})),
        };
        assert_eq!(error.to_string(), r#"error {"reason":"unauthorized"}"#);
        let binary = Payload::reply("ok", Payload::binary(vec![0; 12]));
        assert_eq!(binary.to_string(), "ok <binary, 12 bytes>");
    }

    #[test]
    fn messages_print_topic_event_payload_and_refs() {
        let join = Message::new(
            Some("1".into()),
            Some("1".into()),
            "rooms:lobby",
            Event::Join,
            Payload::empty(),
        );
        assert_eq!(
            join.to_string(),
            "rooms:lobby phx_join {} (ref 1, join_ref 1)"
        );
        let reply = Message::reply(None, Some("3".into()), "phoenix", "ok", Payload::empty());
        assert_eq!(reply.to_string(), "phoenix phx_reply ok {} (ref 3)");
        let push = Message::new(Some("1".into()), None, "t", "e", Payload::binary(vec![1]));
        assert_eq!(push.to_string(), "t e <binary, 1 byte> (join_ref 1)");
    }
}
