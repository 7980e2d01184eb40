//! The server's websocket frame reader on arbitrary bytes as a client's whole byte stream
//! (masked or not, fragments, control frames, huge lengths, close frames).
//!
//! Two checks beyond "no panic": the reader's output is compared with a small independent model
//! of RFC 6455 as the server applies it (below), and every message it returns is within the frame
//! limit, so no input makes it buffer more than the limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slipstream_server::fuzzing::{Frame, FrameError, read_frames};

/// Small, so that the limit is easy to cross with a short input.
const MAX_FRAME: usize = 512;

/// What the reader gives for one frame or message, in a form both sides can produce.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Text(Vec<u8>),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong,
    Close(Option<u16>),
    /// The input ended (the server sees the client go away).
    End,
    /// A broken rule: close 1002, stop reading.
    Protocol,
    /// Text (or a close reason) that is not UTF-8: close 1007, the stream is still in sync.
    InvalidUtf8,
    /// A frame or message over the limit (the frame's size, header included, plus the fragments
    /// buffered before a continuation): close 1009.
    TooBig(u64),
}

fn outcome(result: &Result<Frame, FrameError>) -> Outcome {
    match result {
        Ok(Frame::Text(b)) => Outcome::Text(b.to_vec()),
        Ok(Frame::Binary(b)) => Outcome::Binary(b.to_vec()),
        Ok(Frame::Ping(b)) => Outcome::Ping(b.to_vec()),
        Ok(Frame::Pong) => Outcome::Pong,
        Ok(Frame::Close(code)) => Outcome::Close(*code),
        Err(e) if e.is_end_of_input() => Outcome::End,
        Err(e) => match (e.close_code(), e.too_big()) {
            // `size` is the refused frame's size plus, for a continuation, the fragments
            // already buffered: the size of the message it would have made.
            (1009, Some((size, limit))) => {
                assert_eq!(limit, MAX_FRAME);
                Outcome::TooBig(size)
            }
            (1007, None) => Outcome::InvalidUtf8,
            (1002, None) => Outcome::Protocol,
            (code, _) => panic!("unexpected close code {code} for {e}"),
        },
    }
}

/// A byte cursor over the input.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn take(&mut self, n: u64) -> Option<&[u8]> {
        let n = usize::try_from(n).ok().filter(|&n| n <= self.0.len())?;
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn uint(&mut self, n: u64) -> Option<u64> {
        Some(
            self.take(n)?
                .iter()
                .fold(0, |acc, &b| acc << 8 | u64::from(b)),
        )
    }
}

/// RFC 6455 section 5 as the server applies it: client frames masked, no extensions, control
/// frames short and whole, fragments of one message at a time, the limit applying to the frame
/// header plus everything buffered; an oversize frame's payload is skipped and reading goes on.
fn model(data: &[u8], max: usize) -> Vec<Outcome> {
    let mut input = Input(data);
    let mut out = Vec::new();
    let mut fragments: Option<(u8, Vec<u8>)> = None;
    let stop = loop {
        let Some(b0) = input.uint(1) else {
            break Outcome::End;
        };
        let Some(b1) = input.uint(1) else {
            break Outcome::End;
        };
        let fin = b0 & 0x80 != 0;
        if b0 & 0x70 != 0 || b1 & 0x80 == 0 {
            break Outcome::Protocol;
        }
        let opcode = (b0 & 0x0f) as u8;
        let (len, header) = match b1 & 0x7f {
            126 => match input.uint(2) {
                Some(n) => (n, 8),
                None => break Outcome::End,
            },
            127 => match input.uint(8) {
                Some(n) => (n, 14),
                None => break Outcome::End,
            },
            n => (n, 6),
        };
        if len >= 1 << 63 {
            break Outcome::Protocol;
        }
        let control = opcode >= 8;
        if control && (len > 125 || !fin) {
            break Outcome::Protocol;
        }
        let buffered = match (&fragments, opcode) {
            (Some((_, b)), 0) => b.len() as u64,
            _ => 0,
        };
        if len + header + buffered > max as u64 {
            out.push(Outcome::TooBig(len + header + buffered));
            fragments = None;
            if input.take(len + 4).is_none() {
                break Outcome::End;
            }
            continue;
        }
        let Some(mask) = input.take(4).map(<[u8]>::to_vec) else {
            break Outcome::End;
        };
        let Some(masked) = input.take(len) else {
            break Outcome::End;
        };
        let payload: Vec<u8> = masked
            .iter()
            .zip(mask.iter().cycle())
            .map(|(b, m)| b ^ m)
            .collect();
        let message = match (opcode, fragments.take()) {
            (0x9, f) => {
                fragments = f;
                Outcome::Ping(payload)
            }
            (0xA, f) => {
                fragments = f;
                Outcome::Pong
            }
            (0x8, f) => {
                fragments = f;
                match payload.as_slice() {
                    [] => Outcome::Close(None),
                    [_] => break Outcome::Protocol,
                    [hi, lo, reason @ ..] => match std::str::from_utf8(reason) {
                        Ok(_) => Outcome::Close(Some(u16::from_be_bytes([*hi, *lo]))),
                        Err(_) => Outcome::InvalidUtf8,
                    },
                }
            }
            (0x1 | 0x2, Some(_)) => break Outcome::Protocol,
            (0x1 | 0x2, None) if !fin => {
                fragments = Some((opcode, payload));
                continue;
            }
            (0x1 | 0x2, None) => whole(opcode, payload),
            (0x0, None) => break Outcome::Protocol,
            (0x0, Some((first, mut buffer))) => {
                buffer.extend_from_slice(&payload);
                if !fin {
                    fragments = Some((first, buffer));
                    continue;
                }
                whole(first, buffer)
            }
            _ => break Outcome::Protocol,
        };
        let close = matches!(message, Outcome::Close(_));
        out.push(message);
        if close {
            return out;
        }
    };
    out.push(stop);
    out
}

fn whole(opcode: u8, bytes: Vec<u8>) -> Outcome {
    match (opcode, std::str::from_utf8(&bytes)) {
        (0x1, Err(_)) => Outcome::InvalidUtf8,
        (0x1, Ok(_)) => Outcome::Text(bytes),
        _ => Outcome::Binary(bytes),
    }
}

fuzz_target!(|data: &[u8]| {
    let results = read_frames(data, MAX_FRAME);
    let mut payload_bytes = 0;
    for result in &results {
        if let Ok(Frame::Text(b) | Frame::Binary(b) | Frame::Ping(b)) = result {
            assert!(
                b.len() <= MAX_FRAME,
                "a {}-byte message passed the limit",
                b.len()
            );
            payload_bytes += b.len();
        }
    }
    // Payloads are input bytes unmasked: the reader never makes more than it was given.
    assert!(payload_bytes <= data.len());
    let got: Vec<Outcome> = results.iter().map(outcome).collect();
    assert_eq!(got, model(data, MAX_FRAME));
});
