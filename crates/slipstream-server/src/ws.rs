//! A minimal server-side websocket (RFC 6455) layer: the handshake key, a frame reader and a
//! frame encoder.
//!
//! Why not tungstenite (axum's `ws`): Phoenix on Bandit answers a client's close frame with code
//! `1000` whatever code the client sent (recording `v2_client_close_4000`), while tungstenite always
//! echoes the client's code and gives the application no say. Owning the framing also lets us pick
//! every close code (1007, 1009, 1011, 1002) exactly as Bandit does, and lets a broadcast build its
//! websocket frame bytes once and hand the same bytes to every subscriber.

mod source;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use sha1::{Digest, Sha1};

pub(crate) use source::{Source, Stream};

const OP_CONTINUATION: u8 = 0x0;
/// Opcode of a text frame.
pub(crate) const OP_TEXT: u8 = 0x1;
/// Opcode of a binary frame.
pub(crate) const OP_BINARY: u8 = 0x2;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;
/// Opcode of a pong frame.
pub(crate) const OP_PONG: u8 = 0xA;

/// Close code: normal closure.
pub(crate) const CLOSE_NORMAL: u16 = 1000;
/// Close code: service restart (Phoenix's shutdown drain).
pub(crate) const CLOSE_SERVICE_RESTART: u16 = 1012;
/// Close code: protocol error (Bandit also uses it for its idle timeout).
pub(crate) const CLOSE_PROTOCOL: u16 = 1002;
/// Close code: invalid frame payload data (text that is not UTF-8).
pub(crate) const CLOSE_INVALID_DATA: u16 = 1007;
/// Close code: policy violation (a client that does not read what it is sent).
pub(crate) const CLOSE_POLICY: u16 = 1008;
/// Close code: message too big.
pub(crate) const CLOSE_TOO_BIG: u16 = 1009;
/// Close code: internal error (the socket could not handle a frame).
pub(crate) const CLOSE_INTERNAL: u16 = 1011;

/// The `Sec-WebSocket-Accept` value for a client's `Sec-WebSocket-Key`.
pub(crate) fn accept_key(key: &[u8]) -> String {
    use base64::Engine;
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}

/// One complete message (or control frame) from the client.
#[derive(Debug, PartialEq)]
pub(crate) enum WsMessage {
    /// A text message; its bytes are valid UTF-8.
    Text(Bytes),
    /// A binary message.
    Binary(Bytes),
    /// A ping with its payload.
    Ping(Bytes),
    /// A pong.
    Pong,
    /// A close frame, with its code if it had one.
    Close(Option<u16>),
}

/// Why reading from the client stopped or a frame was refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WsError {
    /// The connection ended or failed.
    #[error("connection closed: {0}")]
    Io(#[from] std::io::Error),
    /// A frame breaking RFC 6455 (the stream cannot be trusted afterwards).
    #[error("websocket protocol violation: {0}")]
    Protocol(&'static str),
    /// A text message that is not UTF-8 (the stream is still in sync).
    #[error("text frame is not valid UTF-8")]
    InvalidUtf8,
    /// A frame or message larger than the limit (its payload will be skipped).
    #[error("a frame or message of {size} bytes exceeds the limit of {limit} bytes")]
    TooBig {
        /// The frame's size including its header, plus, for a continuation, the fragments
        /// buffered before it (the size of the message it would make).
        size: u64,
        /// The configured limit.
        limit: usize,
    },
}

impl WsError {
    /// The close code Bandit sends for this error.
    pub(crate) fn close_code(&self) -> u16 {
        match self {
            WsError::Io(_) | WsError::Protocol(_) => CLOSE_PROTOCOL,
            WsError::InvalidUtf8 => CLOSE_INVALID_DATA,
            WsError::TooBig { .. } => CLOSE_TOO_BIG,
        }
    }

    /// Whether reading may go on after this error.
    pub(crate) fn is_recoverable(&self) -> bool {
        matches!(self, WsError::InvalidUtf8 | WsError::TooBig { .. })
    }
}

/// How many bytes a read asks for at least: a few small frames. A bigger frame gets a buffer
/// of its own size once its header is read.
const READ_CHUNK: usize = 4 * 1024;

/// Reads client frames (masked, possibly fragmented) and assembles messages.
///
/// It holds no read buffer while the client is quiet: bytes are read into a buffer made when
/// they arrive (as large as the frame being read needs), each complete frame is taken out of it,
/// and once nothing is left over the buffer is let go. [`WsReader::next`] is cancel-safe: every
/// byte read is kept in the reader, so it can be raced against other events.
pub(crate) struct WsReader<R> {
    io: R,
    max_frame_size: usize,
    /// Bytes read and not yet taken as a frame (empty, with no allocation, between bursts).
    buf: BytesMut,
    fragments: Option<(u8, BytesMut)>,
    /// Bytes of a refused frame still to be dropped as they arrive.
    skip: u64,
}

/// What the bytes buffered so far make.
enum Parsed {
    /// A complete message or control frame.
    Message(WsMessage),
    /// A frame of a fragmented message (taken); the next frame may already be buffered.
    Fragment,
    /// Not enough: at least this many more bytes are needed.
    Need(usize),
}

impl<R: Source> WsReader<R> {
    /// A reader refusing frames larger than `max_frame_size` bytes (header included).
    pub(crate) fn new(io: R, max_frame_size: usize) -> Self {
        Self::with_buffered(io, max_frame_size, &[])
    }

    /// A reader whose stream starts with `buffered` (what the HTTP layer read past the
    /// upgrade request), then goes on with `io`.
    pub(crate) fn with_buffered(io: R, max_frame_size: usize, buffered: &[u8]) -> Self {
        WsReader {
            io,
            max_frame_size,
            buf: BytesMut::from(buffered),
            fragments: None,
            skip: 0,
        }
    }

    /// The next message. After a [`WsError::TooBig`] the next call first skips that payload.
    pub(crate) async fn next(&mut self) -> Result<WsMessage, WsError> {
        loop {
            let parsed = self.parse();
            if self.buf.is_empty() {
                // Let go of the buffer's memory (once the frames taken from it are dropped).
                self.buf = BytesMut::new();
            }
            match parsed? {
                Parsed::Message(message) => return Ok(message),
                Parsed::Fragment => {}
                Parsed::Need(more) => {
                    if self.io.read_into(&mut self.buf, more).await? == 0 {
                        return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
                    }
                }
            }
        }
    }

    /// Takes the next frame out of the buffer, if it is all there.
    fn parse(&mut self) -> Result<Parsed, WsError> {
        if self.skip > 0 {
            let dropped = self.skip.min(self.buf.len() as u64);
            self.buf.advance(dropped as usize);
            self.skip -= dropped;
            if self.skip > 0 {
                return Ok(Parsed::Need(self.skip.min(READ_CHUNK as u64) as usize));
            }
        }
        let Some(&[first, second]) = self.buf.get(..2) else {
            return Ok(Parsed::Need(2 - self.buf.len()));
        };
        let fin = first & 0x80 != 0;
        if first & 0x70 != 0 {
            return Err(WsError::Protocol("reserved bits set without an extension"));
        }
        let opcode = first & 0x0f;
        if second & 0x80 == 0 {
            return Err(WsError::Protocol("client frames must be masked"));
        }
        let (len, length_end) = match second & 0x7f {
            126 => match self.buf.get(2..4) {
                Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 4),
                None => return Ok(Parsed::Need(4 - self.buf.len())),
            },
            127 => match self.buf.get(2..10) {
                Some(b) => {
                    let mut be = [0u8; 8];
                    be.copy_from_slice(b);
                    (u64::from_be_bytes(be), 10)
                }
                None => return Ok(Parsed::Need(10 - self.buf.len())),
            },
            n => (u64::from(n), 2),
        };
        if len >> 63 != 0 {
            return Err(WsError::Protocol(
                "64-bit payload length with its most significant bit set",
            ));
        }
        let is_control = opcode & 0x8 != 0;
        if is_control && (len > 125 || !fin) {
            return Err(WsError::Protocol(
                "control frames must be short and unfragmented",
            ));
        }
        // A continuation adds to the message being assembled; a control frame (at most 125
        // bytes, so always under the limit) interleaves with it without adding to it.
        let buffered = match (&self.fragments, opcode) {
            (Some((_, buf)), OP_CONTINUATION) => buf.len() as u64,
            _ => 0,
        };
        let header_len = length_end as u64 + 4;
        let size = len.saturating_add(header_len).saturating_add(buffered);
        if size > self.max_frame_size as u64 {
            self.buf.advance(length_end);
            self.skip = len + 4;
            self.fragments = None;
            return Err(WsError::TooBig {
                size,
                limit: self.max_frame_size,
            });
        }
        // Under the limit, so the frame's length fits in memory.
        let frame_len = (len + header_len) as usize;
        if self.buf.len() < frame_len {
            return Ok(Parsed::Need(frame_len - self.buf.len()));
        }
        let mut payload = self.buf.split_to(frame_len);
        let mut mask = [0u8; 4];
        mask.copy_from_slice(&payload[length_end..length_end + 4]);
        payload.advance(length_end + 4);
        for (i, byte) in payload.iter_mut().enumerate() {
            *byte ^= mask[i & 3];
        }
        match opcode {
            OP_PING => Ok(Parsed::Message(WsMessage::Ping(payload.freeze()))),
            OP_PONG => Ok(Parsed::Message(WsMessage::Pong)),
            OP_CLOSE => close_message(&payload).map(Parsed::Message),
            OP_TEXT | OP_BINARY => {
                if self.fragments.is_some() {
                    return Err(WsError::Protocol("new message inside a fragmented one"));
                }
                if fin {
                    return complete(opcode, payload.freeze()).map(Parsed::Message);
                }
                // A copy: the fragment must not keep the read buffer alive while the rest comes.
                self.fragments = Some((opcode, BytesMut::from(&payload[..])));
                Ok(Parsed::Fragment)
            }
            OP_CONTINUATION => {
                let Some((first, mut buf)) = self.fragments.take() else {
                    return Err(WsError::Protocol("continuation without a message"));
                };
                buf.put_slice(&payload);
                if fin {
                    return complete(first, buf.freeze()).map(Parsed::Message);
                }
                self.fragments = Some((first, buf));
                Ok(Parsed::Fragment)
            }
            _ => Err(WsError::Protocol("unknown opcode")),
        }
    }
}

fn complete(opcode: u8, bytes: Bytes) -> Result<WsMessage, WsError> {
    if opcode == OP_TEXT {
        std::str::from_utf8(&bytes).map_err(|_| WsError::InvalidUtf8)?;
        Ok(WsMessage::Text(bytes))
    } else {
        Ok(WsMessage::Binary(bytes))
    }
}

fn close_message(payload: &[u8]) -> Result<WsMessage, WsError> {
    match payload {
        [] => Ok(WsMessage::Close(None)),
        [_] => Err(WsError::Protocol("close frame with a one-byte payload")),
        [hi, lo, reason @ ..] => {
            std::str::from_utf8(reason).map_err(|_| WsError::InvalidUtf8)?;
            Ok(WsMessage::Close(Some(u16::from_be_bytes([*hi, *lo]))))
        }
    }
}

/// Encodes one unmasked server frame (FIN set).
pub(crate) fn encode_frame(opcode: u8, payload: &[u8]) -> Bytes {
    let len = payload.len();
    let mut out = BytesMut::with_capacity(len + 10);
    out.put_u8(0x80 | opcode);
    if len < 126 {
        out.put_u8(len as u8);
    } else if len <= usize::from(u16::MAX) {
        out.put_u8(126);
        out.put_u16(len as u16);
    } else {
        out.put_u8(127);
        out.put_u64(len as u64);
    }
    out.put_slice(payload);
    out.freeze()
}

/// The opcode and payload of a frame made by [`encode_frame`] (for transports that carry
/// payloads, not websocket frames); `None` if `frame` is not one.
pub(crate) fn frame_payload(frame: &Bytes) -> Option<(u8, Bytes)> {
    let opcode = frame.first()? & 0x0F;
    let (len, header) = match frame.get(1)? & 0x7F {
        126 => (
            usize::from(u16::from_be_bytes([*frame.get(2)?, *frame.get(3)?])),
            4,
        ),
        127 => {
            let bytes: [u8; 8] = frame.get(2..10)?.try_into().ok()?;
            (usize::try_from(u64::from_be_bytes(bytes)).ok()?, 10)
        }
        short => (usize::from(short), 2),
    };
    (frame.len() == header + len).then(|| (opcode, frame.slice(header..)))
}

/// Encodes a close frame with a code and no reason (Bandit never sends one).
pub(crate) fn encode_close(code: u16) -> Bytes {
    encode_frame(OP_CLOSE, &code.to_be_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_payload_takes_back_what_encode_frame_made() {
        for len in [0, 1, 125, 126, 65_535, 65_536, 100_000] {
            let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let frame = encode_frame(OP_BINARY, &payload);
            let (opcode, back) = frame_payload(&frame).unwrap();
            assert_eq!(
                (opcode, &back[..]),
                (OP_BINARY, &payload[..]),
                "length {len}"
            );
        }
        assert_eq!(frame_payload(&Bytes::from_static(&[0x81])), None);
        assert_eq!(frame_payload(&Bytes::from_static(&[0x81, 5, b'a'])), None);
    }

    fn masked(opcode: u8, fin: bool, payload: &[u8]) -> Vec<u8> {
        let mask = [1u8, 2, 3, 4];
        let mut out = vec![if fin { 0x80 } else { 0 } | opcode];
        if payload.len() < 126 {
            out.push(0x80 | payload.len() as u8);
        } else {
            out.push(0x80 | 126);
            out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        }
        out.extend_from_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
        out
    }

    #[test]
    fn accept_key_matches_rfc_example() {
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[tokio::test]
    async fn reads_fragmented_text_and_rejects_bad_utf8() {
        let mut wire = masked(OP_TEXT, false, b"he");
        wire.extend(masked(OP_CONTINUATION, true, b"llo"));
        wire.extend(masked(OP_TEXT, true, &[0xff]));
        wire.extend(masked(OP_CLOSE, true, &4000u16.to_be_bytes()));
        let mut reader = WsReader::new(Stream(&wire[..]), 1000);
        assert!(matches!(reader.next().await, Ok(WsMessage::Text(t)) if &t[..] == b"hello"));
        assert!(matches!(reader.next().await, Err(WsError::InvalidUtf8)));
        assert!(matches!(
            reader.next().await,
            Ok(WsMessage::Close(Some(4000)))
        ));
    }

    #[tokio::test]
    async fn too_big_frames_are_skipped() {
        let mut wire = masked(OP_BINARY, true, &[7u8; 300]);
        wire.extend(masked(OP_PING, true, b"hi"));
        let mut reader = WsReader::new(Stream(&wire[..]), 100);
        assert!(matches!(
            reader.next().await,
            Err(WsError::TooBig { size: 308, .. })
        ));
        assert!(matches!(reader.next().await, Ok(WsMessage::Ping(p)) if &p[..] == b"hi"));
    }

    #[tokio::test]
    async fn a_fragmented_message_is_bounded_by_its_total_size() {
        // Each fragment is small; together they pass the limit, so the message is refused
        // (not buffered on and on), and what follows is read as usual.
        let mut wire = masked(OP_TEXT, false, &[b'a'; 40]);
        wire.extend(masked(OP_CONTINUATION, false, &[b'b'; 40]));
        wire.extend(masked(OP_CONTINUATION, true, &[b'c'; 40]));
        wire.extend(masked(OP_PING, true, b"hi"));
        let mut reader = WsReader::new(Stream(&wire[..]), 100);
        // The refusal names the size the message would reach (80 buffered + 46), not the last
        // frame's own 46.
        assert!(matches!(
            reader.next().await,
            Err(WsError::TooBig { size: 126, .. })
        ));
        assert!(reader.fragments.is_none(), "the partial message is dropped");
        assert!(matches!(reader.next().await, Ok(WsMessage::Ping(p)) if &p[..] == b"hi"));
    }

    #[tokio::test]
    async fn a_ping_between_fragments_does_not_count_them() {
        // 90 bytes buffered and a 16-byte ping would be 106 > 100, but the ping is no part of
        // the message: it is answered, and the message completes under the limit.
        let mut wire = masked(OP_TEXT, false, &[b'a'; 90]);
        wire.extend(masked(OP_PING, true, &[b'p'; 10]));
        wire.extend(masked(OP_CONTINUATION, true, b"bc"));
        let mut reader = WsReader::new(Stream(&wire[..]), 100);
        assert!(matches!(reader.next().await, Ok(WsMessage::Ping(p)) if p.len() == 10));
        match reader.next().await {
            Ok(WsMessage::Text(text)) => assert_eq!(text.len(), 92),
            other => panic!("expected the text message, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn control_frames_must_be_short_and_whole() {
        let mut long_ping = vec![0x80 | OP_PING, 0x80 | 126];
        long_ping.extend_from_slice(&200u16.to_be_bytes());
        let reader_err = WsReader::new(Stream(&long_ping[..]), 1000).next().await;
        assert!(matches!(reader_err, Err(WsError::Protocol(_))));
        let fragmented_ping = masked(OP_PING, false, b"hi");
        let reader_err = WsReader::new(Stream(&fragmented_ping[..]), 1000)
            .next()
            .await;
        assert!(matches!(reader_err, Err(WsError::Protocol(_))));
    }

    #[tokio::test]
    async fn absurd_lengths_are_refused_without_allocating() {
        // 127 → a 64-bit length: with the top bit set it breaks RFC 6455; just below, it is
        // simply too big. Neither may overflow or allocate.
        for len in [u64::MAX, u64::MAX - 5, 1 << 63, (1 << 63) - 1] {
            let mut wire = vec![0x82, 0x80 | 127];
            wire.extend_from_slice(&len.to_be_bytes());
            wire.extend_from_slice(&[0, 0, 0, 0]);
            let mut reader = WsReader::new(Stream(&wire[..]), 8_000_000);
            match reader.next().await {
                Err(WsError::Protocol(_)) => assert!(len >> 63 != 0, "{len}"),
                Err(WsError::TooBig { .. }) => assert!(len >> 63 == 0, "{len}"),
                other => panic!("{len}: {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn arbitrary_bytes_never_panic_the_reader() {
        // A small deterministic generator (xorshift) over many frame-like and random inputs.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let len = (next() % 40) as usize;
            let mut wire: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if let Some(first) = wire.get_mut(1) {
                *first |= 0x80; // mostly masked, to get past the first check
            }
            let mut reader = WsReader::new(Stream(&wire[..]), 64);
            for _ in 0..4 {
                match reader.next().await {
                    Ok(_) => {}
                    Err(e) if e.is_recoverable() => {}
                    Err(_) => break,
                }
            }
        }
    }

    #[test]
    fn encodes_lengths() {
        assert_eq!(&encode_close(1000)[..], &[0x88, 2, 0x03, 0xe8]);
        assert_eq!(encode_frame(OP_TEXT, &[0; 200])[1], 126);
        assert_eq!(encode_frame(OP_BINARY, &vec![0; 70_000])[1], 127);
    }
}
