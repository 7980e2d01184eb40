//! [`SharedStr`]: an immutable string that may be a slice of a larger shared buffer.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;

use bytes::Bytes;
use bytestring::ByteString;

/// An immutable, reference-counted UTF-8 string: cloning it, or slicing it out of a received
/// frame, copies nothing.
///
/// It reads as a `&str` ([`as_str`](Self::as_str), or any `str` method through `Deref`),
/// compares with `str`, `&str` and `String`, and prints as its text. `String::from` makes an
/// owned copy.
///
/// ```
/// use slipstream_protocol::SharedStr;
/// let topic = SharedStr::from("rooms:lobby");
/// assert_eq!(topic, "rooms:lobby");
/// assert_eq!(topic.as_str(), "rooms:lobby");
/// assert!(topic.starts_with("rooms:"));
/// assert_eq!(topic.to_string(), "rooms:lobby");
/// assert_eq!(String::from(topic), "rooms:lobby");
/// ```
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SharedStr(ByteString);

impl SharedStr {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A string over static text (no allocation).
    pub const fn from_static(text: &'static str) -> SharedStr {
        SharedStr(ByteString::from_static(text))
    }

    /// The text of `bytes`, sharing their buffer, or why they are not UTF-8.
    ///
    /// ```
    /// use slipstream_protocol::SharedStr;
    /// let frame = bytes::Bytes::from_static(b"hello");
    /// assert_eq!(SharedStr::from_utf8(frame).unwrap(), "hello");
    /// assert!(SharedStr::from_utf8(bytes::Bytes::from_static(b"\xff")).is_err());
    /// ```
    pub fn from_utf8(bytes: Bytes) -> Result<SharedStr, std::str::Utf8Error> {
        ByteString::try_from(bytes).map(SharedStr)
    }

    /// The text of `bytes` already known to be UTF-8 (a websocket text frame's, which the
    /// websocket library checked as it read it), sharing their buffer without checking again.
    ///
    /// # Safety
    /// `bytes` must be valid UTF-8.
    ///
    /// ```
    /// use slipstream_protocol::SharedStr;
    /// let frame = bytes::Bytes::from_static(b"hello");
    /// // SAFETY: the bytes above are ASCII.
    /// assert_eq!(unsafe { SharedStr::from_utf8_unchecked(frame) }, "hello");
    /// ```
    pub unsafe fn from_utf8_unchecked(bytes: Bytes) -> SharedStr {
        // SAFETY: the caller promises UTF-8.
        SharedStr(unsafe { ByteString::from_bytes_unchecked(bytes) })
    }

    /// `part` (which must lie within `self`) as a string sharing `self`'s buffer.
    pub(crate) fn slice_ref(&self, part: &str) -> SharedStr {
        SharedStr(self.0.slice_ref(part))
    }
}

impl From<&str> for SharedStr {
    fn from(text: &str) -> Self {
        SharedStr(ByteString::from(text))
    }
}

impl From<String> for SharedStr {
    /// Takes the string's buffer (no copy).
    fn from(text: String) -> Self {
        SharedStr(ByteString::from(text))
    }
}

impl From<SharedStr> for String {
    fn from(text: SharedStr) -> Self {
        String::from(text.0)
    }
}

impl Deref for SharedStr {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for SharedStr {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for SharedStr {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for SharedStr {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for SharedStr {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for SharedStr {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialEq<SharedStr> for str {
    fn eq(&self, other: &SharedStr) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<SharedStr> for &str {
    fn eq(&self, other: &SharedStr) -> bool {
        *self == other.as_str()
    }
}

impl PartialEq<SharedStr> for String {
    fn eq(&self, other: &SharedStr) -> bool {
        self.as_str() == other.as_str()
    }
}

/// Prints as a `str` does (`"rooms:lobby"`).
impl fmt::Debug for SharedStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for SharedStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slice_shares_the_buffer_and_compares_as_text() {
        let frame = SharedStr::from(r#"[null,null,"rooms:lobby","foo",{}]"#.to_owned());
        let topic = frame.slice_ref(&frame[12..23]);
        assert_eq!(topic, "rooms:lobby");
        assert_eq!("rooms:lobby", topic);
        assert_eq!(topic, String::from("rooms:lobby"));
        assert_eq!(topic.as_ptr(), frame[12..].as_ptr(), "no copy");
        assert_eq!(format!("{topic:?}"), r#""rooms:lobby""#);
    }
}
