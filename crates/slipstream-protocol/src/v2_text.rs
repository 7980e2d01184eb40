//! The V2 JSON serializer: `[join_ref, ref, topic, event, payload]` text frames.

use std::fmt;

use serde::de::{Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::copy_buffer::CopyBuffer;
use crate::error::{DecodeError, EncodeError};
use crate::json::{self, kind_of_document};
use crate::json_text::JsonText;
use crate::message::{Message, MessageRef, Payload};
use crate::shared::SharedMessage;
use crate::shared_str::SharedStr;

mod common;

/// Decodes a V2 text frame. `parse_replies` turns `phx_reply` payloads into [`Payload::Reply`]
/// (what a client wants); a server keeps every payload as sent.
///
/// Takes `&str`, not bytes: serde_json then skips re-validating UTF-8 in every string and raw
/// value, which is a good part of the decoding time of a small frame.
pub(crate) fn decode(text: &str, parse_replies: bool) -> Result<Message, DecodeError> {
    match common::parse(text, parse_replies, JsonText::from) {
        Some(parts) => Ok(parts.into_message()),
        None => decode_exact(text, parse_replies),
    }
}

/// Decodes a V2 text frame from a server as [`decode`] does, taking the topic, event and payload
/// out of the shared `text` when the frame has the usual shape: short ones copied into
/// `copies`, long ones sliced.
pub(crate) fn decode_shared(
    text: &SharedStr,
    parse_replies: bool,
    copies: &mut CopyBuffer,
) -> Result<SharedMessage, DecodeError> {
    match common::parse(text, parse_replies, common::sliced(text, copies)) {
        Some(parts) => Ok(parts.into_shared(text, copies)),
        None => decode_exact(text, parse_replies).map(SharedMessage::from),
    }
}

/// Decodes any V2 text frame, reporting exactly what is wrong with an invalid one: each element
/// is first read as raw JSON, then checked for what it must be.
fn decode_exact(text: &str, parse_replies: bool) -> Result<Message, DecodeError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let elements = match de.deserialize_seq(ElementsVisitor { parse_replies }) {
        Ok(elements) => elements,
        Err(err) if err.is_data() => {
            return Err(DecodeError::NotAnArray {
                found: kind_of_document(text.as_bytes()),
            });
        }
        Err(err) => return Err(DecodeError::from_json(&err)),
    };
    de.end().map_err(|e| DecodeError::from_json(&e))?;
    let ([join_ref, msg_ref, topic, event], payload) = match elements {
        Elements::Five(head, payload) => (head, payload),
        Elements::Short(len) => return Err(DecodeError::WrongArity { len }),
    };
    let join_ref = json::read_ref(join_ref)?;
    let msg_ref = json::read_ref(msg_ref)?;
    json::read_message(join_ref, msg_ref, topic, event, payload, parse_replies)
}

/// Encodes a message whose payload is JSON (or a reply with a JSON response) as a V2 text frame.
pub(crate) fn encode(message: MessageRef<'_>) -> Result<String, EncodeError> {
    // The exact length: a frame handed to the websocket as `Bytes` then takes the string's
    // buffer as it is, with no separate allocation for its reference count.
    let len = 6
        + json::ref_len(message.join_ref)
        + json::ref_len(message.msg_ref)
        + json::string_literal_len(message.topic)
        + json::string_literal_len(message.event)
        + payload_len(message.payload);
    let mut out = String::with_capacity(len);
    out.push('[');
    json::write_ref(&mut out, message.join_ref);
    out.push(',');
    json::write_ref(&mut out, message.msg_ref);
    out.push(',');
    json::write_string(&mut out, message.topic);
    out.push(',');
    json::write_string(&mut out, message.event);
    out.push(',');
    write_payload(&mut out, message.payload)?;
    out.push(']');
    debug_assert_eq!(out.len(), len, "the frame's length was computed exactly");
    Ok(out)
}

/// Appends a JSON payload; a reply is written as `{"response": …, "status": …}` (Phoenix's key order).
pub(crate) fn write_payload(out: &mut String, payload: &Payload) -> Result<(), EncodeError> {
    match payload {
        Payload::Json(json) => out.push_str(json.as_str()),
        Payload::Reply(reply) => {
            out.push_str("{\"response\":");
            match &reply.response {
                Payload::Json(json) => out.push_str(json.as_str()),
                Payload::Binary(_) => return Err(EncodeError::BinaryUnsupported),
                Payload::Reply(_) => return Err(EncodeError::MisplacedReply),
            }
            out.push_str(",\"status\":");
            json::write_string(out, &reply.status);
            out.push('}');
        }
        Payload::Binary(_) => return Err(EncodeError::BinaryUnsupported),
    }
    Ok(())
}

/// The length of what [`write_payload`] writes for `payload` (a binary one is refused there).
fn payload_len(payload: &Payload) -> usize {
    match payload {
        Payload::Json(json) => json.as_str().len(),
        Payload::Reply(reply) => {
            "{\"response\":,\"status\":}".len()
                + payload_len(&reply.response)
                + json::string_literal_len(&reply.status)
        }
        Payload::Binary(bytes) => bytes.len(),
    }
}

enum Elements<'a> {
    Five([&'a RawValue; 4], json::PayloadElement<'a>),
    Short(usize),
}

/// Reads the five elements in one pass; a `phx_reply` payload is split as it is read when
/// `parse_replies` is on (so a client's replies are not parsed twice).
struct ElementsVisitor {
    parse_replies: bool,
}

impl<'de> Visitor<'de> for ElementsVisitor {
    type Value = Elements<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array [join_ref, ref, topic, event, payload]")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut head: [Option<&'de RawValue>; 4] = [None; 4];
        for (i, slot) in head.iter_mut().enumerate() {
            match seq.next_element::<&'de RawValue>()? {
                Some(raw) => *slot = Some(raw),
                None => return Ok(Elements::Short(i)),
            }
        }
        let head = head.map(|p| p.expect("all four slots were filled"));
        // An escaped spelling of the name misses this fast path and is split afterwards.
        let payload = if self.parse_replies && head[3].get() == "\"phx_reply\"" {
            seq.next_element_seed(json::ReplySeed)?
                .map(json::PayloadElement::Reply)
        } else {
            seq.next_element::<&'de RawValue>()?
                .map(json::PayloadElement::Raw)
        };
        let Some(payload) = payload else {
            return Ok(Elements::Short(4));
        };
        // Phoenix matches [join_ref, ref, topic, event, payload | _]: extra elements are ignored.
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Elements::Five(head, payload))
    }
}
