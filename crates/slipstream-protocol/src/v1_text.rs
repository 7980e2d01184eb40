//! The V1 JSON serializer: `{"topic", "event", "payload", "ref", "join_ref"?}` object frames.
//!
//! A server never writes `join_ref` in V1; a client may send it.

use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::error::{DecodeError, EncodeError, Field};
use crate::json::{self, kind_of_document};
use crate::message::{Message, MessageRef};
use crate::v2_text::write_payload;

/// Decodes a V1 object frame from a text frame.
pub(crate) fn decode_text(text: &str, parse_replies: bool) -> Result<Message, DecodeError> {
    // From `&str`, serde_json need not re-validate UTF-8 (see `v2_text::decode`).
    decode(
        serde_json::Deserializer::from_str(text),
        text.as_bytes(),
        parse_replies,
    )
}

/// Decodes a V1 object frame from the bytes of a binary frame (V1 ignores the opcode).
pub(crate) fn decode_bytes(bytes: &[u8], parse_replies: bool) -> Result<Message, DecodeError> {
    decode(
        serde_json::Deserializer::from_slice(bytes),
        bytes,
        parse_replies,
    )
}

fn decode<'de, R: serde_json::de::Read<'de>>(
    mut de: serde_json::Deserializer<R>,
    text: &'de [u8],
    parse_replies: bool,
) -> Result<Message, DecodeError> {
    let keys = match de.deserialize_map(KeysVisitor) {
        Ok(keys) => keys,
        Err(err) if err.is_data() => {
            return Err(DecodeError::NotAnObject {
                found: kind_of_document(text),
            });
        }
        Err(err) => return Err(DecodeError::from_json(&err)),
    };
    de.end().map_err(|e| DecodeError::from_json(&e))?;
    let topic = required(keys.topic, Field::Topic)?;
    let event = required(keys.event, Field::Event)?;
    let payload = required(keys.payload, Field::Payload)?;
    let msg_ref = json::read_ref(required(keys.msg_ref, Field::Ref)?)?;
    let join_ref = match keys.join_ref {
        Some(raw) => json::read_ref(raw)?,
        None => None,
    };
    json::read_message(
        join_ref,
        msg_ref,
        topic,
        event,
        json::PayloadElement::Raw(payload),
        parse_replies,
    )
}

fn required(value: Option<&RawValue>, key: Field) -> Result<&RawValue, DecodeError> {
    value.ok_or(DecodeError::MissingKey { key })
}

/// Encodes a message as a V1 object. `with_join_ref` is true for a client's frames; a server
/// never writes the key. Keys come in Phoenix's (sorted) order.
pub(crate) fn encode(message: MessageRef<'_>, with_join_ref: bool) -> Result<String, EncodeError> {
    let mut out = String::with_capacity(64 + message.topic.len());
    out.push_str("{\"event\":");
    json::write_string(&mut out, message.event);
    if with_join_ref {
        out.push_str(",\"join_ref\":");
        json::write_ref(&mut out, message.join_ref);
    }
    out.push_str(",\"payload\":");
    write_payload(&mut out, message.payload)?;
    out.push_str(",\"ref\":");
    json::write_ref(&mut out, message.msg_ref);
    out.push_str(",\"topic\":");
    json::write_string(&mut out, message.topic);
    out.push('}');
    Ok(out)
}

#[derive(Default)]
struct Keys<'a> {
    topic: Option<&'a RawValue>,
    event: Option<&'a RawValue>,
    payload: Option<&'a RawValue>,
    msg_ref: Option<&'a RawValue>,
    join_ref: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum Key {
    Topic,
    Event,
    Payload,
    Ref,
    JoinRef,
    #[serde(other)]
    Other,
}

struct KeysVisitor;

impl<'de> Visitor<'de> for KeysVisitor {
    type Value = Keys<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object with topic, event, payload and ref")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut keys = Keys::default();
        while let Some(key) = map.next_key::<Key>()? {
            let slot = match key {
                Key::Topic => &mut keys.topic,
                Key::Event => &mut keys.event,
                Key::Payload => &mut keys.payload,
                Key::Ref => &mut keys.msg_ref,
                Key::JoinRef => &mut keys.join_ref,
                Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            let value = map.next_value::<&'de RawValue>()?;
            // Like Jason, keep the first value of a duplicated key.
            slot.get_or_insert(value);
        }
        Ok(keys)
    }
}
