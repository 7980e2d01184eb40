//! JSON helpers shared by the V1 and V2 text serializers.

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::{DecodeError, Field};
use crate::message::{Event, Message, Payload, Ref, Reply};

/// The JSON kind of a raw value, for error messages.
pub(crate) fn kind_of(raw: &str) -> &'static str {
    match raw.as_bytes().first() {
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't') | Some(b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

/// The JSON kind of a whole frame's text, skipping leading whitespace.
pub(crate) fn kind_of_document(text: &[u8]) -> &'static str {
    let start = text
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(text.len());
    kind_of(std::str::from_utf8(&text[start..]).unwrap_or(""))
}

/// Reads a `ref`/`join_ref` element: `null` → `None`, string → `Ref::Str`, anything else kept as JSON text.
pub(crate) fn read_ref(raw: &RawValue) -> Result<Option<Ref>, DecodeError> {
    let text = raw.get();
    match text.as_bytes().first() {
        Some(b'n') => Ok(None),
        Some(b'"') => read_string(raw).map(|s| Some(Ref::Str(s))),
        _ => Ok(Some(Ref::Json(text.to_owned()))),
    }
}

/// Reads a JSON string element, or reports the wrong type for `field`.
pub(crate) fn read_string_field(raw: &RawValue, field: Field) -> Result<String, DecodeError> {
    if raw.get().starts_with('"') {
        read_string(raw)
    } else {
        Err(DecodeError::WrongType {
            field,
            expected: "a string",
            found: kind_of(raw.get()),
        })
    }
}

/// Reads the event element. Phoenix's reserved names (`phx_reply`, `phx_join`, …) need no
/// allocation when they are written without escapes, which is how every encoder writes them.
pub(crate) fn read_event(raw: &RawValue) -> Result<Event, DecodeError> {
    let text = raw.get();
    if text.starts_with('"') && !text[1..text.len() - 1].contains('\\') {
        return Ok(Event::from(&text[1..text.len() - 1]));
    }
    read_string_field(raw, Field::Event).map(Event::from)
}

fn read_string(raw: &RawValue) -> Result<String, DecodeError> {
    let text = raw.get();
    // Fast path: no escapes, so the text between the quotes is the string itself.
    if !text[1..text.len() - 1].contains('\\') {
        return Ok(text[1..text.len() - 1].to_owned());
    }
    serde_json::from_str(text).map_err(|e| DecodeError::from_json(&e))
}

/// Reads a topic, keeping what a server needs to answer a non-string one as Phoenix does.
pub(crate) fn read_topic(
    raw: &RawValue,
    join_ref: &Option<Ref>,
    msg_ref: &Option<Ref>,
) -> Result<String, DecodeError> {
    if raw.get().starts_with('"') {
        read_string(raw)
    } else {
        Err(DecodeError::TopicNotString {
            join_ref: join_ref.clone(),
            msg_ref: msg_ref.clone(),
            topic_json: raw.get().to_owned(),
        })
    }
}

/// Builds a message from the raw topic, event and payload of a text frame, once its refs are read.
/// `parse_replies` turns a `phx_reply` payload into [`Payload::Reply`] (what a client wants).
pub(crate) fn read_message(
    join_ref: Option<Ref>,
    msg_ref: Option<Ref>,
    topic: &RawValue,
    event: &RawValue,
    payload: &RawValue,
    parse_replies: bool,
) -> Result<Message, DecodeError> {
    let topic = read_topic(topic, &join_ref, &msg_ref)?;
    let event = read_event(event)?;
    let payload = if parse_replies && event == Event::Reply {
        read_reply(payload)?
    } else {
        Payload::Json(payload.to_owned())
    };
    Ok(Message {
        join_ref,
        msg_ref,
        topic,
        event,
        payload,
    })
}

#[derive(Deserialize)]
struct ReplyParts<'a> {
    status: String,
    #[serde(borrow)]
    response: &'a RawValue,
}

/// Parses a `phx_reply` payload `{"status": …, "response": …}`, keeping the response raw.
pub(crate) fn read_reply(raw: &RawValue) -> Result<Payload, DecodeError> {
    let parts: ReplyParts<'_> =
        serde_json::from_str(raw.get()).map_err(|e| DecodeError::MalformedReply {
            reason: e.to_string(),
        })?;
    Ok(Payload::Reply(Box::new(Reply {
        status: parts.status,
        response: Payload::Json(parts.response.to_owned()),
    })))
}

/// Appends a JSON string literal, escaping as JSON requires.
pub(crate) fn write_string(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape: Option<&str> = match b {
            b'"' => Some("\\\""),
            b'\\' => Some("\\\\"),
            b'\n' => Some("\\n"),
            b'\r' => Some("\\r"),
            b'\t' => Some("\\t"),
            0x08 => Some("\\b"),
            0x0c => Some("\\f"),
            0x00..=0x1f => None,
            _ => continue,
        };
        out.push_str(&s[start..i]);
        match escape {
            Some(e) => out.push_str(e),
            None => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(HEX[(b >> 4) as usize] as char);
                out.push(HEX[(b & 0xf) as usize] as char);
            }
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Appends a ref as JSON: `null`, a string, or the kept JSON text.
pub(crate) fn write_ref(out: &mut String, r: &Option<Ref>) {
    match r {
        None => out.push_str("null"),
        Some(Ref::Str(s)) => write_string(out, s),
        Some(Ref::Json(text)) => out.push_str(text),
    }
}
