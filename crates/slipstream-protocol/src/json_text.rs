//! [`JsonText`]: the text of one JSON value, checked once and then shared.

use std::fmt;

use serde_json::value::RawValue;

use crate::shared_str::SharedStr;

/// The text of one valid JSON value, without surrounding whitespace: what a JSON
/// [`Payload`](crate::Payload) holds.
///
/// It is checked when it is made and never parsed again unless someone asks for a value.
/// Cloning it, or slicing it out of a received frame, copies nothing but a short text (up to
/// [`SharedStr::INLINE_CAPACITY`] bytes, stored inline): a longer payload a client
/// decodes shares the frame's buffer.
///
/// ```
/// use slipstream_protocol::JsonText;
/// let text = JsonText::parse(r#" {"body": "hi"} "#).unwrap();
/// assert_eq!(text.as_str(), r#"{"body": "hi"}"#);
/// assert_eq!(text, r#"{"body": "hi"}"#);
/// assert!(JsonText::parse("{").is_err());
/// assert!(JsonText::parse("1 2").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct JsonText(SharedStr);

impl JsonText {
    /// Checks that `text` is exactly one JSON value (whitespace around it is dropped) and keeps
    /// it. A `String` or a [`SharedStr`] without surrounding whitespace is kept as it is,
    /// without a copy.
    pub fn parse(text: impl Into<SharedStr>) -> Result<JsonText, serde_json::Error> {
        let text = text.into();
        let value = serde_json::from_str::<&RawValue>(&text)?.get();
        if value.len() == text.len() {
            return Ok(JsonText(text));
        }
        Ok(JsonText(text.slice_ref(value)))
    }

    /// Serializes any `serde` value as JSON text.
    ///
    /// ```
    /// use slipstream_protocol::JsonText;
    /// let text = JsonText::from_value(&serde_json::json!({"n": 1})).unwrap();
    /// assert_eq!(text, r#"{"n":1}"#);
    /// ```
    pub fn from_value<T: serde::Serialize + ?Sized>(
        value: &T,
    ) -> Result<JsonText, serde_json::Error> {
        serde_json::to_string(value).map(|text| JsonText(SharedStr::from(text)))
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `null`.
    pub(crate) fn null() -> JsonText {
        JsonText(SharedStr::from_static("null"))
    }

    /// The empty object, `{}`.
    pub(crate) fn empty_object() -> JsonText {
        JsonText(SharedStr::from_static("{}"))
    }

    /// Text the decoder has already checked is one JSON value, without surrounding whitespace.
    pub(crate) fn checked(text: SharedStr) -> JsonText {
        JsonText(text)
    }
}

impl From<Box<RawValue>> for JsonText {
    /// Takes a `serde_json` raw value (already checked) as it is.
    fn from(raw: Box<RawValue>) -> Self {
        JsonText(SharedStr::from(String::from(Box::<str>::from(raw))))
    }
}

impl From<&RawValue> for JsonText {
    /// Copies a borrowed `serde_json` raw value (already checked).
    fn from(raw: &RawValue) -> Self {
        JsonText(SharedStr::from(raw.get()))
    }
}

impl AsRef<str> for JsonText {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq<str> for JsonText {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for JsonText {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// The JSON text as it is.
impl fmt::Display for JsonText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for JsonText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("JsonText").field(&self.as_str()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_keeps_an_exact_text_without_copying_and_trims_whitespace() {
        let text = SharedStr::from(r#"{"a":[1,2]}"#.to_owned());
        let json = JsonText::parse(text.clone()).unwrap();
        assert_eq!(json.as_str().as_ptr(), text.as_str().as_ptr());
        let spaced = JsonText::parse(" \n[1] \t").unwrap();
        assert_eq!(spaced, "[1]");
    }

    #[test]
    fn parse_refuses_anything_but_one_value() {
        for bad in ["", " ", "{", "[1,]", "1 2", "{} x", "nul"] {
            assert!(JsonText::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn raw_values_convert_as_they_are() {
        let raw = RawValue::from_string(r#"{"k":"v"}"#.to_owned()).unwrap();
        assert_eq!(JsonText::from(&*raw), r#"{"k":"v"}"#);
        assert_eq!(JsonText::from(raw), r#"{"k":"v"}"#);
    }
}
