//! Websocket frames as the codec sees them: text or binary, nothing else.

use bytes::Bytes;

/// An encoded frame, ready for the websocket.
///
/// Both variants are cheap to clone for binary frames (`Bytes`); a server that broadcasts
/// encodes once and hands clones of the same frame to every subscriber.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// A text frame (JSON).
    Text(String),
    /// A binary frame (the V2 binary layout).
    Binary(Bytes),
}

impl Frame {
    /// A borrowed view of this frame, for decoding.
    pub fn as_frame_ref(&self) -> FrameRef<'_> {
        match self {
            Frame::Text(text) => FrameRef::Text(text),
            Frame::Binary(bytes) => FrameRef::Binary(bytes),
        }
    }

    /// The frame's length in bytes.
    pub fn len(&self) -> usize {
        match self {
            Frame::Text(text) => text.len(),
            Frame::Binary(bytes) => bytes.len(),
        }
    }

    /// Whether the frame has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A borrowed frame to decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameRef<'a> {
    /// A text frame.
    Text(&'a str),
    /// A binary frame.
    Binary(&'a [u8]),
}
