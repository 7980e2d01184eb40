//! [`CopyBuffer`]: where a burst of received frames copies its short parts, so that many frames
//! cost one allocation instead of one each.

use bytes::BytesMut;

use crate::shared_str::SharedStr;

/// Storage that the short parts of a burst of received frames are copied into.
///
/// A shared decode ([`Serializer::decode_text_from_server_copying`]) copies each short part of
/// a frame (a broadcast's payload, say) out of the websocket's read buffer, so that the buffer
/// can be reused while the message waits in a mailbox (see [`SharedStr`]). Copied one by one,
/// every frame costs an allocation, and a burst of them as many, freed on whichever thread
/// consumes them. Decoding a burst with one `CopyBuffer` puts the copies after one another in
/// chunks of [`CHUNK`](Self::CHUNK) bytes instead: one allocation for dozens of frames.
///
/// The first copy is still an allocation of its own size: a lone frame (a reply to a single
/// push) costs what it did, and an idle connection keeps no chunk. A chunk lives until the last
/// part copied into it is dropped, so keep a buffer for one burst (one turn of a read loop),
/// then drop it.
///
/// [`Serializer::decode_text_from_server_copying`]: crate::Serializer::decode_text_from_server_copying
///
/// ```
/// use slipstream_protocol::{CopyBuffer, Serializer, SharedStr};
/// let mut copies = CopyBuffer::new();
/// for n in 0..3 {
///     let frame = SharedStr::from(format!(
///         r#"[null,null,"rooms:lobby","new_msg",{{"body":"message number {n} of the burst"}}]"#
///     ));
///     let message = Serializer::V2
///         .decode_text_from_server_copying(&frame, &mut copies)
///         .unwrap();
///     assert_eq!(message.topic, "rooms:lobby");
///     assert_eq!(
///         message.payload.as_json_str(),
///         Some(format!(r#"{{"body":"message number {n} of the burst"}}"#).as_str())
///     );
/// }
/// ```
#[derive(Debug, Default)]
pub struct CopyBuffer {
    /// Room left in the current chunk (empty, without storage, until the second copy).
    chunk: BytesMut,
    /// Whether a part has been copied yet.
    copied_before: bool,
}

impl CopyBuffer {
    /// The size of each chunk that copies are put in.
    pub const CHUNK: usize = 4 << 10;

    /// An empty buffer; it allocates nothing until it holds a second copy.
    pub fn new() -> CopyBuffer {
        CopyBuffer::default()
    }

    /// `part` copied into a string of its own storage: inline when short enough, else in the
    /// current chunk (a new one when it is full).
    pub(crate) fn copy(&mut self, part: &str) -> SharedStr {
        if part.len() <= SharedStr::INLINE_CAPACITY {
            return SharedStr::from(part);
        }
        if !self.copied_before {
            self.copied_before = true;
            return SharedStr::from(part);
        }
        if self.chunk.capacity() < part.len() {
            self.chunk = BytesMut::with_capacity(Self::CHUNK.max(part.len()));
        }
        self.chunk.extend_from_slice(part.as_bytes());
        let copy = self.chunk.split().freeze();
        // SAFETY: the bytes are a copy of `part`, a `str`.
        unsafe { SharedStr::from_utf8_unchecked(copy) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_are_equal_to_their_parts_and_outlive_the_buffer() {
        let mut copies = CopyBuffer::new();
        let parts: Vec<String> = (0..200)
            .map(|n| format!("a part that is too long to be inline, number {n}"))
            .collect();
        let copied: Vec<SharedStr> = parts.iter().map(|part| copies.copy(part)).collect();
        drop(copies);
        for (part, copy) in parts.iter().zip(&copied) {
            assert_eq!(copy, part.as_str());
        }
    }

    #[test]
    fn the_first_copy_takes_no_chunk_and_later_ones_share_one() {
        let mut copies = CopyBuffer::new();
        let part = "x".repeat(100);
        let first = copies.copy(&part);
        assert_eq!(copies.chunk.capacity(), 0, "a lone frame costs no chunk");
        let second = copies.copy(&part);
        let third = copies.copy(&part);
        for copy in [&first, &second, &third] {
            assert_eq!(copy, part.as_str());
        }
        let gap = third.as_ptr() as usize - second.as_ptr() as usize;
        assert_eq!(
            gap,
            part.len(),
            "the third copy follows the second in its chunk"
        );
        assert_eq!(copies.chunk.capacity(), CopyBuffer::CHUNK - 2 * part.len());
    }

    #[test]
    fn a_part_longer_than_a_chunk_gets_a_chunk_of_its_size() {
        let mut copies = CopyBuffer::new();
        copies.copy(&"y".repeat(30));
        let long = "z".repeat(CopyBuffer::CHUNK + 1);
        assert_eq!(copies.copy(&long), long.as_str());
        let after = "w".repeat(40);
        assert_eq!(
            copies.copy(&after),
            after.as_str(),
            "a fresh chunk after the full one"
        );
    }

    #[test]
    fn short_parts_stay_inline() {
        let mut copies = CopyBuffer::new();
        for _ in 0..3 {
            assert_eq!(copies.copy("rooms:lobby"), "rooms:lobby");
        }
        assert!(!copies.copied_before, "inline parts are not copies");
        assert_eq!(copies.chunk.capacity(), 0);
    }
}
