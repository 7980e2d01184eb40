//! Entry points for the fuzz targets of `fuzz/` (cargo feature `fuzzing`, off by default).
//!
//! Not a stable API: it exposes just enough of the crate-private websocket layer for a fuzz target
//! to feed the frame reader a client's byte stream without a socket, and to play a websocket
//! server by hand (the handshake's accept key).

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;

use crate::ws::{Stream, WsError, WsMessage, WsReader};

/// The `Sec-WebSocket-Accept` value for a client's `Sec-WebSocket-Key` (RFC 6455 section 4.2.2).
pub fn accept_key(key: &[u8]) -> String {
    crate::ws::accept_key(key)
}

/// One message (or control frame) the server's frame reader assembled from a client's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A complete text message; its bytes are valid UTF-8.
    Text(Bytes),
    /// A complete binary message.
    Binary(Bytes),
    /// A ping with its payload.
    Ping(Bytes),
    /// A pong.
    Pong,
    /// A close frame, with its code if it had one.
    Close(Option<u16>),
}

/// Why the frame reader refused a frame or stopped reading: the server's own typed error.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct FrameError(WsError);

impl FrameError {
    /// The close code the server sends for this error.
    pub fn close_code(&self) -> u16 {
        self.0.close_code()
    }

    /// Whether the server goes on reading the connection after this error.
    pub fn is_recoverable(&self) -> bool {
        self.0.is_recoverable()
    }

    /// Whether the input ended (mid-frame or between frames) rather than breaking a rule.
    pub fn is_end_of_input(&self) -> bool {
        matches!(self.0, WsError::Io(_))
    }

    /// For a frame over the limit: its size (header included, plus the fragments buffered
    /// before it when it is a continuation) and the limit.
    pub fn too_big(&self) -> Option<(u64, usize)> {
        match self.0 {
            WsError::TooBig { size, limit } => Some((size, limit)),
            _ => None,
        }
    }
}

/// Reads `bytes` as a client's whole byte stream, the way a connection's read loop does: every
/// message or recoverable error in order, ending with a close frame or with the first error after
/// which the server stops reading (the end of the input is one). Frames over `max_frame_size`
/// bytes (header included) are refused and skipped.
pub fn read_frames(bytes: &[u8], max_frame_size: usize) -> Vec<Result<Frame, FrameError>> {
    let mut reader = WsReader::new(Stream(bytes), max_frame_size);
    let mut out = Vec::new();
    // Each message or recoverable error consumes at least a two-byte header, so this bound is
    // never reached; it only keeps the loop visibly finite.
    for _ in 0..=bytes.len() / 2 + 1 {
        let next = match poll_once(reader.next()) {
            Some(next) => next,
            None => break,
        };
        match next {
            Ok(message) => {
                let close = matches!(message, WsMessage::Close(_));
                out.push(Ok(frame_of(message)));
                if close {
                    break;
                }
            }
            Err(e) => {
                let go_on = e.is_recoverable();
                out.push(Err(FrameError(e)));
                if !go_on {
                    break;
                }
            }
        }
    }
    out
}

fn frame_of(message: WsMessage) -> Frame {
    match message {
        WsMessage::Text(b) => Frame::Text(b),
        WsMessage::Binary(b) => Frame::Binary(b),
        WsMessage::Ping(b) => Frame::Ping(b),
        WsMessage::Pong => Frame::Pong,
        WsMessage::Close(code) => Frame::Close(code),
    }
}

/// Polls a future once: reading from a byte slice never waits, so one poll finishes it.
fn poll_once<F: Future>(future: F) -> Option<F::Output> {
    let future = pin!(future);
    match future.poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_masked_ping_then_stops_at_the_end_of_input() {
        // A masked ping "hi" (mask 1, 2, 3, 4), then nothing.
        let wire = [0x89, 0x82, 1, 2, 3, 4, b'h' ^ 1, b'i' ^ 2];
        let frames = read_frames(&wire, 100);
        assert!(matches!(&frames[0], Ok(Frame::Ping(p)) if &p[..] == b"hi"));
        assert!(matches!(&frames[1], Err(e) if e.is_end_of_input()));
        assert_eq!(frames.len(), 2);
    }
}
