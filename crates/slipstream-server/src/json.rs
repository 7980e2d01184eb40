//! Re-encoding a client's JSON the way Phoenix does (decode with Jason, encode again), by value:
//! a duplicated key keeps its FIRST value, object keys come out sorted, strings are written with
//! raw UTF-8. Numbers keep their exact text, so big integers survive (no float rounding).

use std::fmt;

use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use slipstream_protocol::Payload;

/// Re-encodes a JSON payload as Phoenix would echo it; binary payloads are returned unchanged.
///
/// ```
/// use slipstream_server::{json::normalize, Payload};
/// let p = Payload::from_json_str(r#"{"b":1,"a":2,"b":3,"big":123456789012345678901234567890}"#).unwrap();
/// assert_eq!(normalize(p).as_json_str(), Some(r#"{"a":2,"b":1,"big":123456789012345678901234567890}"#));
/// ```
pub fn normalize(payload: Payload) -> Payload {
    let Payload::Json(raw) = &payload else {
        return payload;
    };
    let mut out = String::with_capacity(raw.get().len());
    match write_value(raw, &mut out).and_then(|()| RawValue::from_string(out)) {
        Ok(raw) => Payload::Json(raw),
        Err(_) => payload,
    }
}

fn write_value(raw: &RawValue, out: &mut String) -> Result<(), serde_json::Error> {
    let text = raw.get().trim();
    match text.as_bytes().first() {
        Some(b'{') => {
            let Entries(mut entries) = serde_json::from_str(text)?;
            // Stable sort keeps the first of equal keys first; dedup then keeps it.
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            entries.dedup_by(|later, first| later.0 == first.0);
            out.push('{');
            for (i, (key, value)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(key)?);
                out.push(':');
                write_value(value, out)?;
            }
            out.push('}');
        }
        Some(b'[') => {
            let items: Vec<&RawValue> = serde_json::from_str(text)?;
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, out)?;
            }
            out.push(']');
        }
        Some(b'"') => {
            let s: String = serde_json::from_str(text)?;
            out.push_str(&serde_json::to_string(&s)?);
        }
        _ => out.push_str(text),
    }
    Ok(())
}

/// An object's entries in document order, duplicates included.
struct Entries<'a>(Vec<(String, &'a RawValue)>);

impl<'de> serde::Deserialize<'de> for Entries<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(EntriesVisitor)
    }
}

struct EntriesVisitor;

impl<'de> Visitor<'de> for EntriesVisitor {
    type Value = Entries<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, &'de RawValue>()? {
            entries.push((key, value));
        }
        Ok(Entries(entries))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(serde::de::Error::custom("expected an object"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_duplicate_wins_and_numbers_keep_their_text() {
        let p = Payload::from_json_str(
            r#"{"z":[1,{"y":2,"x":"caf\u00e9"}],"dup":1,"dup":2,"f":2.50,"n":null}"#,
        )
        .unwrap_or_else(|_| Payload::empty());
        assert_eq!(
            normalize(p).as_json_str(),
            Some(r#"{"dup":1,"f":2.50,"n":null,"z":[1,{"x":"café","y":2}]}"#)
        );
    }
}
