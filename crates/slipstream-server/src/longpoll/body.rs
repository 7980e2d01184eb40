//! A long-poll POST body, turned into the frames a websocket would have carried.
//!
//! An `application/x-ndjson` body is a batch: one frame a line (`\n` or `\r\n`), a line that
//! starts with `[` is a V2 text frame and any other line is the standard base64 of a binary frame.
//! As Phoenix, at most [`MAX_BATCH_LINES`] lines are taken and the rest are dropped (phoenix.js
//! never sends more). Any other content type carries one text frame, the whole body (V1 clients
//! send one object per POST).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;

use crate::ws::WsMessage;

/// Most lines of one batch that are dispatched (Phoenix 1.7.24 and 1.8.9+).
pub(crate) const MAX_BATCH_LINES: usize = 100;

/// What a POST body holds.
#[derive(Debug, PartialEq)]
pub(crate) struct Batch {
    /// The frames to dispatch, in order.
    pub(crate) frames: Vec<WsMessage>,
    /// Lines past [`MAX_BATCH_LINES`], not dispatched.
    pub(crate) dropped_lines: usize,
    /// The line (1-based) that is neither a text frame nor base64; the frames before it are
    /// still dispatched, as Phoenix does before its request fails.
    pub(crate) bad_line: Option<usize>,
}

/// Whether a POST's content type marks a batch.
pub(crate) fn is_batch(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/x-ndjson"))
}

/// The frames of a POST body.
pub(crate) fn parse(body: Bytes, batch: bool) -> Batch {
    if !batch {
        return Batch {
            frames: vec![WsMessage::Text(body)],
            dropped_lines: 0,
            bad_line: None,
        };
    }
    let mut frames = Vec::new();
    let mut lines = 0;
    let mut bad_line = None;
    for line in body.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        lines += 1;
        if lines > MAX_BATCH_LINES || bad_line.is_some() {
            continue;
        }
        if line.first() == Some(&b'[') {
            frames.push(WsMessage::Text(body.slice_ref(line)));
        } else {
            match STANDARD.decode(line) {
                Ok(bytes) => frames.push(WsMessage::Binary(Bytes::from(bytes))),
                Err(_) => bad_line = Some(lines),
            }
        }
    }
    Batch {
        frames,
        dropped_lines: lines.saturating_sub(MAX_BATCH_LINES),
        bad_line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> WsMessage {
        WsMessage::Text(Bytes::copy_from_slice(s.as_bytes()))
    }

    #[test]
    fn a_single_body_is_one_text_frame() {
        let body = Bytes::from_static(br#"{"topic":"t","event":"e","payload":{},"ref":"1"}"#);
        let batch = parse(body.clone(), false);
        assert_eq!(batch.frames, vec![WsMessage::Text(body)]);
    }

    #[test]
    fn a_batch_has_text_lines_and_base64_binary_lines() {
        let body = Bytes::from_static(
            b"[\"1\",\"2\",\"t\",\"a\",{}]\r\nAAEC\n\n[\"1\",\"3\",\"t\",\"b\",{}]\n",
        );
        let batch = parse(body, true);
        assert_eq!(
            batch.frames,
            vec![
                text(r#"["1","2","t","a",{}]"#),
                WsMessage::Binary(Bytes::from_static(&[0, 1, 2])),
                text(r#"["1","3","t","b",{}]"#),
            ]
        );
        assert_eq!((batch.dropped_lines, batch.bad_line), (0, None));
    }

    #[test]
    fn lines_past_the_hundredth_are_dropped_and_counted() {
        let body: String = (0..105)
            .map(|i| format!("[null,\"{i}\",\"t\",\"e\",{{}}]\n"))
            .collect();
        let batch = parse(Bytes::from(body), true);
        assert_eq!(batch.frames.len(), MAX_BATCH_LINES);
        assert_eq!(batch.frames[99], text(r#"[null,"99","t","e",{}]"#));
        assert_eq!(batch.dropped_lines, 5);
    }

    #[test]
    fn a_line_that_is_not_base64_stops_the_batch_there() {
        let batch = parse(Bytes::from_static(b"[1]\n!!not base64!!\n[2]"), true);
        assert_eq!(batch.frames, vec![text("[1]")]);
        assert_eq!(batch.bad_line, Some(2));
    }

    #[test]
    fn the_content_type_decides_what_a_batch_is() {
        assert!(is_batch(Some("application/x-ndjson")));
        assert!(is_batch(Some("Application/X-NDJSON; charset=utf-8")));
        assert!(!is_batch(Some("application/json")));
        assert!(!is_batch(None));
    }
}
