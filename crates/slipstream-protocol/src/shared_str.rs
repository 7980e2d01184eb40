//! [`SharedStr`]: an immutable string that may be a slice of a larger shared buffer.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

use bytes::Bytes;
use bytestring::ByteString;

use crate::copy_buffer::CopyBuffer;

/// An immutable UTF-8 string that is cheap to clone and to slice out of a received frame.
///
/// A string of up to [`SharedStr::INLINE_CAPACITY`] bytes is stored inline (a topic or an event
/// name, usually): copying it costs less than counting a reference to a buffer another thread
/// frees. A longer one is reference-counted, so cloning it, or slicing it out of a frame, copies
/// nothing.
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
#[derive(Clone)]
pub struct SharedStr(Repr);

#[derive(Clone)]
enum Repr {
    Inline(Inline),
    Shared(ByteString),
}

/// Text of at most [`SharedStr::INLINE_CAPACITY`] bytes, stored in place.
#[derive(Clone, Copy)]
struct Inline {
    len: u8,
    bytes: [u8; SharedStr::INLINE_CAPACITY],
}

impl Inline {
    /// `text` stored in place, if it is short enough.
    fn new(text: &str) -> Option<Inline> {
        let len = text.len();
        if len > SharedStr::INLINE_CAPACITY {
            return None;
        }
        let mut bytes = [0; SharedStr::INLINE_CAPACITY];
        bytes[..len].copy_from_slice(text.as_bytes());
        Some(Inline {
            len: len as u8,
            bytes,
        })
    }

    fn as_str(&self) -> &str {
        // SAFETY: `bytes[..len]` is a copy of a `str` (see `new`).
        unsafe { std::str::from_utf8_unchecked(&self.bytes[..usize::from(self.len)]) }
    }
}

impl SharedStr {
    /// The longest text stored inline, without a shared buffer.
    pub const INLINE_CAPACITY: usize = 23;

    /// The text.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Inline(inline) => inline.as_str(),
            Repr::Shared(shared) => shared,
        }
    }

    /// A string over static text (no allocation).
    pub const fn from_static(text: &'static str) -> SharedStr {
        SharedStr(Repr::Shared(ByteString::from_static(text)))
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
        ByteString::try_from(bytes).map(|text| SharedStr(Repr::Shared(text)))
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
        SharedStr(Repr::Shared(unsafe {
            ByteString::from_bytes_unchecked(bytes)
        }))
    }

    /// The longest part of a received frame that [`part_of_frame`](Self::part_of_frame) copies
    /// out of it.
    pub(crate) const FRAME_PART_COPY_LIMIT: usize = 512;

    /// `part` (which must lie within `self`, a received frame) as a string of its own when it is
    /// at most [`FRAME_PART_COPY_LIMIT`](Self::FRAME_PART_COPY_LIMIT) bytes long, else a slice
    /// sharing the frame's buffer.
    ///
    /// A frame is a slice of the websocket's read buffer. While any slice of that buffer lives
    /// (a message waiting in a mailbox, say), the websocket cannot reuse the buffer in place:
    /// it allocates a fresh one, and reads into what is left of the old one, in short reads.
    /// Copying a short part (into `copies`, with the other parts of a burst) costs less than
    /// that; a long part is still shared, not copied.
    pub(crate) fn part_of_frame(&self, part: &str, copies: &mut CopyBuffer) -> SharedStr {
        if part.len() <= Self::FRAME_PART_COPY_LIMIT {
            copies.copy(part)
        } else {
            self.slice_ref(part)
        }
    }

    /// `part` (which must lie within `self`): a copy if it is short enough to be stored inline,
    /// else a string sharing `self`'s buffer.
    pub(crate) fn slice_ref(&self, part: &str) -> SharedStr {
        if let Some(inline) = Inline::new(part) {
            return SharedStr(Repr::Inline(inline));
        }
        match &self.0 {
            Repr::Shared(shared) => SharedStr(Repr::Shared(shared.slice_ref(part))),
            // Not reached: the parts of an inline string are short enough to be inline too.
            Repr::Inline(_) => SharedStr(Repr::Shared(ByteString::from(part))),
        }
    }
}

impl Default for SharedStr {
    fn default() -> Self {
        SharedStr::from_static("")
    }
}

impl PartialEq for SharedStr {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for SharedStr {}

impl PartialOrd for SharedStr {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SharedStr {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

/// Hashes as its text does, so a `HashMap<SharedStr, _>` can be looked up with a `&str`.
impl Hash for SharedStr {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl From<&str> for SharedStr {
    fn from(text: &str) -> Self {
        match Inline::new(text) {
            Some(inline) => SharedStr(Repr::Inline(inline)),
            None => SharedStr(Repr::Shared(ByteString::from(text))),
        }
    }
}

impl From<String> for SharedStr {
    /// Takes the string's buffer (no copy).
    fn from(text: String) -> Self {
        SharedStr(Repr::Shared(ByteString::from(text)))
    }
}

impl From<SharedStr> for String {
    fn from(text: SharedStr) -> Self {
        match text.0 {
            Repr::Inline(inline) => inline.as_str().to_owned(),
            Repr::Shared(shared) => String::from(shared),
        }
    }
}

impl Deref for SharedStr {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for SharedStr {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for SharedStr {
    fn borrow(&self) -> &str {
        self.as_str()
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
    fn a_long_slice_shares_the_buffer_and_a_short_one_is_stored_inline() {
        let frame = SharedStr::from(
            r#"[null,null,"rooms:lobby","an event name of some length",{}]"#.to_owned(),
        );
        let topic = frame.slice_ref(&frame[12..23]);
        assert_eq!(topic, "rooms:lobby");
        assert_eq!("rooms:lobby", topic);
        assert_eq!(topic, String::from("rooms:lobby"));
        assert!(matches!(topic.0, Repr::Inline(_)));
        assert_eq!(format!("{topic:?}"), r#""rooms:lobby""#);
        let event = frame.slice_ref(&frame[26..54]);
        assert_eq!(event, "an event name of some length");
        assert_eq!(event.as_ptr(), frame[26..].as_ptr(), "no copy");
    }

    #[test]
    fn a_part_of_a_frame_is_copied_up_to_the_limit_and_shared_beyond_it() {
        let limit = SharedStr::FRAME_PART_COPY_LIMIT;
        let frame = SharedStr::from(format!("[{}]", "x".repeat(limit + 1)));
        let owns = |part: &SharedStr| {
            let inside = frame.as_bytes().as_ptr_range();
            !inside.contains(&part.as_ptr())
        };
        let short = frame.part_of_frame(&frame[1..1 + limit], &mut CopyBuffer::new());
        assert_eq!(short.len(), limit);
        assert!(owns(&short), "a short part is a copy");
        let long = frame.part_of_frame(&frame[1..2 + limit], &mut CopyBuffer::new());
        assert_eq!(long, "x".repeat(limit + 1));
        assert!(!owns(&long), "a long part shares the frame");
    }

    #[test]
    fn inline_and_shared_strings_of_the_same_text_are_one_value() {
        use std::collections::HashSet;
        let inline = SharedStr::from("phx_reply");
        let shared = SharedStr::from("phx_reply".to_owned());
        assert!(matches!(shared.0, Repr::Shared(_)));
        assert_eq!(inline, shared);
        assert_eq!(inline.cmp(&shared), Ordering::Equal);
        let set: HashSet<SharedStr> = [inline, shared].into_iter().collect();
        assert_eq!(set.len(), 1);
        assert!(set.contains("phx_reply"));
        assert_eq!(SharedStr::default(), "");
        let longest = "x".repeat(SharedStr::INLINE_CAPACITY);
        assert!(matches!(
            SharedStr::from(longest.as_str()).0,
            Repr::Inline(_)
        ));
        let longer = "x".repeat(SharedStr::INLINE_CAPACITY + 1);
        assert!(matches!(
            SharedStr::from(longer.as_str()).0,
            Repr::Shared(_)
        ));
        assert_eq!(SharedStr::from(longer.as_str()), longer);
    }

    #[test]
    fn is_no_bigger_than_a_shared_buffer() {
        assert_eq!(
            std::mem::size_of::<SharedStr>(),
            std::mem::size_of::<ByteString>()
        );
    }
}
