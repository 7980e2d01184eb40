//! JSON helpers shared by the V1 and V2 text serializers.

use std::fmt;

use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::error::{DecodeError, Field};
use crate::json_text::JsonText;
use crate::message::{Event, Message, Payload, Ref, Reply};
use crate::plain_text::plain_prefix_len;

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

/// Reads a `ref`/`join_ref` element: `null` → `None`, a string → its value, anything else kept
/// as JSON text.
pub(crate) fn read_ref(raw: &RawValue) -> Result<Option<Ref>, DecodeError> {
    let text = raw.get();
    match text.as_bytes().first() {
        Some(b'n') => Ok(None),
        Some(b'"') => match unescaped(text) {
            Some(value) => Ok(Some(Ref::from(value))),
            None => read_string(raw).map(|s| Some(Ref::from(s))),
        },
        _ => Ok(Some(Ref::from_json_text(text))),
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
    if text.starts_with('"')
        && let Some(name) = unescaped(text)
    {
        return Ok(Event::from(name));
    }
    read_string_field(raw, Field::Event).map(Event::from)
}

fn read_string(raw: &RawValue) -> Result<String, DecodeError> {
    match unescaped(raw.get()) {
        Some(value) => Ok(value.to_owned()),
        None => serde_json::from_str(raw.get()).map_err(|e| DecodeError::from_json(&e)),
    }
}

/// The value of a valid JSON string literal (`text`, quotes included) when it has no escapes,
/// so that the text between the quotes is the value itself.
fn unescaped(text: &str) -> Option<&str> {
    let inner = &text[1..text.len() - 1];
    (!inner.contains('\\')).then_some(inner)
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

/// The payload element of a text frame as the decoder read it: raw, or (when the event was
/// already known to be `phx_reply`) already split into the reply's status and response.
pub(crate) enum PayloadElement<'a> {
    /// The payload's raw JSON.
    Raw(&'a RawValue),
    /// A reply payload read in the same pass as the frame, or why it is not a valid reply.
    Reply(Result<ReplySplit<'a>, String>),
}

/// A reply payload's two parts, still raw.
pub(crate) struct ReplySplit<'a> {
    status: &'a RawValue,
    response: &'a RawValue,
}

/// Builds a message from the raw topic, event and payload of a text frame, once its refs are read.
/// `parse_replies` turns a `phx_reply` payload into [`Payload::Reply`] (what a client wants).
pub(crate) fn read_message(
    join_ref: Option<Ref>,
    msg_ref: Option<Ref>,
    topic: &RawValue,
    event: &RawValue,
    payload: PayloadElement<'_>,
    parse_replies: bool,
) -> Result<Message, DecodeError> {
    let topic = read_topic(topic, &join_ref, &msg_ref)?;
    let event = read_event(event)?;
    let payload = read_payload(
        payload,
        event == Event::Reply,
        parse_replies,
        JsonText::from,
    )?;
    Ok(Message {
        join_ref,
        msg_ref,
        topic,
        event,
        payload,
    })
}

/// Builds the payload of a message, knowing whether its event `is_reply`: a `phx_reply` payload
/// becomes a [`Payload::Reply`] when `parse_replies` is on; any other payload stays JSON text.
/// `keep` makes the JSON text of a raw value read from the frame: a copy, or a slice of a shared
/// frame.
pub(crate) fn read_payload<'a>(
    payload: PayloadElement<'a>,
    is_reply: bool,
    parse_replies: bool,
    keep: impl FnOnce(&'a RawValue) -> JsonText,
) -> Result<Payload, DecodeError> {
    Ok(match payload {
        PayloadElement::Reply(split) => reply_payload(split, keep)?,
        PayloadElement::Raw(raw) if parse_replies && is_reply => {
            reply_payload(split_reply(raw), keep)?
        }
        PayloadElement::Raw(raw) => Payload::Json(keep(raw)),
    })
}

/// Splits a raw `phx_reply` payload `{"status": …, "response": …}` into its parts.
fn split_reply(raw: &RawValue) -> Result<ReplySplit<'_>, String> {
    let mut de = serde_json::Deserializer::from_str(raw.get());
    de.deserialize_any(ReplyVisitor)
        .map_err(|e| e.to_string())?
}

/// Turns a reply's parts into a [`Payload::Reply`], checking that the status is a string.
fn reply_payload<'a>(
    split: Result<ReplySplit<'a>, String>,
    keep: impl FnOnce(&'a RawValue) -> JsonText,
) -> Result<Payload, DecodeError> {
    let split = split.map_err(|reason| DecodeError::MalformedReply { reason })?;
    if !split.status.get().starts_with('"') {
        return Err(DecodeError::MalformedReply {
            reason: format!(
                "status must be a string, found {}",
                kind_of(split.status.get())
            ),
        });
    }
    Ok(Payload::Reply(Box::new(Reply {
        status: read_string(split.status)?,
        response: Payload::Json(keep(split.response)),
    })))
}

/// Reads a reply payload in place, in the same pass as the rest of the frame: an object with
/// `status` and `response` (the first of each wins, other keys are ignored). Anything else is
/// reported as not a reply rather than as a broken frame.
pub(crate) struct ReplySeed;

/// A reply payload split as [`ReplySeed`] does, as a type serde can deserialize on its own.
pub(crate) struct SplitReply<'a>(pub(crate) Result<ReplySplit<'a>, String>);

impl<'de> Deserialize<'de> for SplitReply<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        ReplySeed.deserialize(deserializer).map(SplitReply)
    }
}

impl<'de> DeserializeSeed<'de> for ReplySeed {
    type Value = Result<ReplySplit<'de>, String>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(ReplyVisitor)
    }
}

struct ReplyVisitor;

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum ReplyKey {
    Status,
    Response,
    #[serde(other)]
    Other,
}

fn not_an_object<'a, E>(found: &str) -> Result<Result<ReplySplit<'a>, String>, E> {
    Ok(Err(format!(
        "expected an object with status and response, found {found}"
    )))
}

impl<'de> Visitor<'de> for ReplyVisitor {
    type Value = Result<ReplySplit<'de>, String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a reply object with status and response")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (mut status, mut response) = (None, None);
        while let Some(key) = map.next_key::<ReplyKey>()? {
            let slot = match key {
                ReplyKey::Status => &mut status,
                ReplyKey::Response => &mut response,
                ReplyKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            let value = map.next_value::<&'de RawValue>()?;
            slot.get_or_insert(value);
        }
        Ok(match (status, response) {
            (Some(status), Some(response)) => Ok(ReplySplit { status, response }),
            (None, _) => Err("missing field `status`".to_owned()),
            (_, None) => Err("missing field `response`".to_owned()),
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        not_an_object("an array")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        not_an_object("a boolean")
    }

    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        not_an_object("a number")
    }

    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        not_an_object("a number")
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        not_an_object("a number")
    }

    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        not_an_object("a string")
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        not_an_object("null")
    }
}

/// Appends a JSON string literal, escaping as JSON requires. Plain runs are copied whole.
pub(crate) fn write_string(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    let mut rest = s;
    loop {
        // The plain prefix ends on a character boundary (see `plain_prefix_len`).
        let (plain, tail) = rest.split_at(plain_prefix_len(rest.as_bytes()));
        out.push_str(plain);
        let Some(&b) = tail.as_bytes().first() else {
            break;
        };
        match short_escape(b) {
            Some(escape) => out.push_str(escape),
            None => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(HEX[(b >> 4) as usize] as char);
                out.push(HEX[(b & 0xf) as usize] as char);
            }
        }
        // The escaped byte is ASCII, so the tail after it is still a `str`.
        rest = &tail[1..];
    }
    out.push('"');
}

/// The two-character escape of a byte a JSON string cannot hold as it is, if it has one (the
/// other control characters are written `\u00XX`).
fn short_escape(b: u8) -> Option<&'static str> {
    Some(match b {
        b'"' => "\\\"",
        b'\\' => "\\\\",
        b'\n' => "\\n",
        b'\r' => "\\r",
        b'\t' => "\\t",
        0x08 => "\\b",
        0x0c => "\\f",
        _ => return None,
    })
}

/// The length of the literal [`write_string`] writes for `s`.
pub(crate) fn string_literal_len(s: &str) -> usize {
    let bytes = s.as_bytes();
    let mut len = 2 + bytes.len();
    let mut rest = bytes;
    loop {
        rest = &rest[plain_prefix_len(rest)..];
        let Some((&b, tail)) = rest.split_first() else {
            return len;
        };
        // Each escape replaces one byte; `\u00XX` is six bytes.
        len += short_escape(b).map_or(6, str::len) - 1;
        rest = tail;
    }
}

/// The length of what [`write_ref`] writes for `r`.
pub(crate) fn ref_len(r: Option<&Ref>) -> usize {
    match r {
        None => "null".len(),
        Some(r) if r.is_json() => r.as_text().len(),
        Some(r) => string_literal_len(r.as_text()),
    }
}

/// Appends a ref as JSON: `null`, a string, or the kept JSON text.
pub(crate) fn write_ref(out: &mut String, r: Option<&Ref>) {
    match r {
        None => out.push_str("null"),
        Some(r) if r.is_json() => out.push_str(r.as_text()),
        Some(r) => write_string(out, r.as_text()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_lengths_are_what_the_writers_write() {
        let every_byte: String = (0u8..0x80).map(char::from).collect();
        for s in [
            "",
            "rooms:lobby",
            "é☃ plain",
            "a\"b\\c\n\r\t\u{8}\u{c}",
            &every_byte,
        ] {
            let mut out = String::new();
            write_string(&mut out, s);
            assert_eq!(string_literal_len(s), out.len(), "{s:?}");
            assert_eq!(serde_json::from_str::<String>(&out).unwrap(), s);
        }
        for r in [
            None,
            Some(Ref::from("12")),
            Some(Ref::from("a\"b")),
            Some(Ref::from_json_text("7")),
        ] {
            let mut out = String::new();
            write_ref(&mut out, r.as_ref());
            assert_eq!(ref_len(r.as_ref()), out.len(), "{r:?}");
        }
    }
}
