//! JSON comparison "by value" as the conformance README defines it: key order, number formatting
//! and escapes do not matter; a duplicated key keeps its first value (Jason); integers compare
//! exactly (no float rounding); a number never equals a string. Placeholders in expectations.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

/// A parsed JSON value with exact integers.
#[derive(Clone, Debug, PartialEq)]
pub enum J {
    Null,
    Bool(bool),
    /// An integer literal, as its text.
    Int(String),
    /// A literal with a fraction or exponent.
    Float(f64),
    Str(String),
    Arr(Vec<J>),
    Obj(BTreeMap<String, J>),
}

/// Parses JSON text; `None` if it is not JSON.
pub fn parse(text: &str) -> Option<J> {
    let raw: &RawValue = serde_json::from_str(text).ok()?;
    from_raw(raw)
}

fn from_raw(raw: &RawValue) -> Option<J> {
    let text = raw.get().trim();
    Some(match text.as_bytes().first()? {
        b'n' => J::Null,
        b't' => J::Bool(true),
        b'f' => J::Bool(false),
        b'"' => J::Str(serde_json::from_str(text).ok()?),
        b'[' => {
            let items: Vec<&RawValue> = serde_json::from_str(text).ok()?;
            J::Arr(items.into_iter().map(from_raw).collect::<Option<_>>()?)
        }
        b'{' => {
            let Entries(entries) = serde_json::from_str(text).ok()?;
            let mut map = BTreeMap::new();
            for (key, value) in entries {
                if let std::collections::btree_map::Entry::Vacant(slot) = map.entry(key) {
                    slot.insert(from_raw(value)?);
                }
            }
            J::Obj(map)
        }
        _ if text.contains(['.', 'e', 'E']) => J::Float(text.parse().ok()?),
        _ => J::Int(text.to_owned()),
    })
}

struct Entries<'a>(Vec<(String, &'a RawValue)>);

impl<'de> serde::Deserialize<'de> for Entries<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entries<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, &'de RawValue>()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }
        deserializer.deserialize_map(V)
    }
}

/// Whether `actual` matches `expected`, whose strings may be placeholders
/// (`<any-string>`, `<any-int>`, `<any-string:NAME>`); NAME bindings live in `binds`.
pub fn matches(expected: &J, actual: &J, binds: &mut HashMap<String, String>) -> bool {
    match (expected, actual) {
        (J::Str(p), actual) if p.starts_with("<any-") && p.ends_with('>') => {
            let inner = &p[1..p.len() - 1];
            match (inner, actual) {
                ("any-string", J::Str(_)) => true,
                ("any-int", J::Int(_)) => true,
                (named, J::Str(value)) if named.starts_with("any-string:") => {
                    let name = &named["any-string:".len()..];
                    match binds.get(name) {
                        Some(bound) => bound == value,
                        None => {
                            binds.insert(name.to_owned(), value.clone());
                            true
                        }
                    }
                }
                _ => false,
            }
        }
        (J::Float(a), J::Float(b)) => a == b && a.is_sign_negative() == b.is_sign_negative(),
        (J::Int(a), J::Int(b)) => a == b,
        (J::Arr(a), J::Arr(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| matches(x, y, binds))
        }
        (J::Obj(a), J::Obj(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(k, x)| b.get(k).is_some_and(|y| matches(x, y, binds)))
        }
        (a, b) => a == b,
    }
}
