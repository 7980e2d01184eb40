//! The send queue: frames waiting for a POST, and how they are grouped into POST bodies.
//!
//! Phoenix reads an `application/x-ndjson` body line by line: a line starting with `[` is a V2
//! text frame, any other line is the standard base64 of a binary frame, and at most 100 lines
//! are read (PROTOCOL.md §9.4). So V2 text frames and binary frames share batches of at most
//! [`MAX_LINES`] lines, while a text frame that does not start with `[` (every V1 frame) cannot
//! be batched and travels alone, as `application/json`.
//!
//! The queue is bounded: it takes frames while it holds fewer than [`MAX_LINES`] of them and
//! fewer than [`MAX_QUEUED_BYTES`] bytes; beyond that the sink is not ready, and the connection's
//! own outbound queue (bounded by `outbound_queue_limit`) holds the rest.

use std::collections::VecDeque;

use base64::Engine as _;
use bytes::Bytes;

/// At most this many lines per POST (what Phoenix reads of one body).
pub(crate) const MAX_LINES: usize = 100;
/// A batch stops taking lines once its body is this large (a larger frame travels alone);
/// also the queue's byte bound. Phoenix reads bodies of about 8 MB.
pub(crate) const MAX_QUEUED_BYTES: usize = 1 << 20;

/// The content type of a batch.
pub(crate) const NDJSON: &str = "application/x-ndjson";
/// The content type of a single frame that cannot be batched.
pub(crate) const JSON: &str = "application/json";

/// One queued frame, encoded as it will be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Line {
    /// A V2 text frame or a base64 binary frame: may share a batch.
    Batchable(Bytes),
    /// A text frame that does not start with `[` (V1): one per POST.
    Alone(Bytes),
}

impl Line {
    fn len(&self) -> usize {
        match self {
            Line::Batchable(b) | Line::Alone(b) => b.len(),
        }
    }
}

/// One POST to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Post {
    pub(crate) content_type: &'static str,
    pub(crate) body: Bytes,
    /// How many frames it carries.
    pub(crate) frames: usize,
}

/// Frames waiting to be POSTed, in order.
#[derive(Debug, Default)]
pub(crate) struct SendQueue {
    lines: VecDeque<Line>,
    bytes: usize,
}

impl SendQueue {
    /// Whether another frame may be queued.
    pub(crate) fn has_room(&self) -> bool {
        self.lines.len() < MAX_LINES && self.bytes < MAX_QUEUED_BYTES
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Queues a text frame.
    pub(crate) fn push_text(&mut self, text: &str) {
        let bytes = Bytes::copy_from_slice(text.as_bytes());
        self.push(if text.starts_with('[') {
            Line::Batchable(bytes)
        } else {
            Line::Alone(bytes)
        });
    }

    /// Queues a binary frame, as one line of its standard base64.
    pub(crate) fn push_binary(&mut self, frame: &[u8]) {
        let line = base64::engine::general_purpose::STANDARD.encode(frame);
        self.push(Line::Batchable(Bytes::from(line)));
    }

    fn push(&mut self, line: Line) {
        self.bytes += line.len();
        self.lines.push_back(line);
    }

    /// Drops everything queued (the session is over).
    pub(crate) fn clear(&mut self) {
        self.lines.clear();
        self.bytes = 0;
    }

    /// The next POST: a frame that cannot be batched alone, else the batchable frames at the
    /// front, up to [`MAX_LINES`] and about [`MAX_QUEUED_BYTES`].
    pub(crate) fn next_post(&mut self) -> Option<Post> {
        if let Some(Line::Alone(_)) = self.lines.front() {
            let Some(Line::Alone(body)) = self.lines.pop_front() else {
                return None;
            };
            self.bytes -= body.len();
            return Some(Post {
                content_type: JSON,
                body,
                frames: 1,
            });
        }
        let mut body = Vec::new();
        let mut frames = 0;
        while frames < MAX_LINES && (frames == 0 || body.len() < MAX_QUEUED_BYTES) {
            let Some(Line::Batchable(line)) = self.lines.front() else {
                break;
            };
            body.extend_from_slice(line);
            body.push(b'\n');
            self.bytes -= line.len();
            self.lines.pop_front();
            frames += 1;
        }
        (frames > 0).then(|| Post {
            content_type: NDJSON,
            body: Bytes::from(body),
            frames,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(queue: &mut SendQueue) -> Vec<Post> {
        std::iter::from_fn(|| queue.next_post()).collect()
    }

    #[test]
    fn v2_frames_go_in_batches_of_at_most_100_lines() {
        let mut queue = SendQueue::default();
        let mut sent = 0;
        let mut posts = Vec::new();
        // The queue takes 100 frames, then is full until a POST takes them.
        for i in 0..250 {
            if !queue.has_room() {
                posts.extend(queue.next_post());
            }
            queue.push_text(&format!(r#"["1","{i}","t","e",{{}}]"#));
            sent += 1;
        }
        posts.extend(drain(&mut queue));
        assert_eq!(sent, 250);
        let sizes: Vec<_> = posts.iter().map(|p| p.frames).collect();
        assert_eq!(sizes, [100, 100, 50]);
        for post in &posts {
            assert_eq!(post.content_type, NDJSON);
            let body = std::str::from_utf8(&post.body).unwrap();
            assert_eq!(body.lines().count(), post.frames);
            assert!(body.lines().all(|l| l.starts_with('[')));
            assert!(body.ends_with('\n'));
        }
        let first = std::str::from_utf8(&posts[0].body).unwrap();
        assert!(first.starts_with("[\"1\",\"0\",") && first.contains("[\"1\",\"99\","));
        assert!(queue.is_empty() && queue.has_room());
    }

    #[test]
    fn binary_frames_are_standard_base64_lines_among_text_lines() {
        let mut queue = SendQueue::default();
        queue.push_text(r#"["1","1","t","a",{}]"#);
        queue.push_binary(&[0, 1, 0xfb, 0xff, 0xfe]);
        queue.push_text(r#"["1","2","t","b",{}]"#);
        let posts = drain(&mut queue);
        assert_eq!(posts.len(), 1);
        assert_eq!(
            std::str::from_utf8(&posts[0].body).unwrap(),
            "[\"1\",\"1\",\"t\",\"a\",{}]\nAAH7//4=\n[\"1\",\"2\",\"t\",\"b\",{}]\n"
        );
        assert_eq!(posts[0].frames, 3);
    }

    #[test]
    fn v1_object_frames_go_one_per_post_as_json() {
        let mut queue = SendQueue::default();
        let v1 = |r: u32| format!(r#"{{"topic":"t","event":"e","payload":{{}},"ref":"{r}"}}"#);
        queue.push_text(&v1(1));
        queue.push_text(&v1(2));
        queue.push_text(r#"["1","3","t","e",{}]"#);
        queue.push_text(&v1(4));
        let posts = drain(&mut queue);
        let shapes: Vec<_> = posts.iter().map(|p| (p.content_type, p.frames)).collect();
        assert_eq!(
            shapes,
            [(JSON, 1), (JSON, 1), (NDJSON, 1), (JSON, 1)],
            "order is kept; only batchable frames share a POST"
        );
        assert_eq!(posts[0].body, v1(1).as_bytes(), "sent as is, no newline");
    }

    #[test]
    fn the_queue_and_a_batch_are_bounded_in_bytes() {
        let mut queue = SendQueue::default();
        let big = format!("[{}]", "9".repeat(MAX_QUEUED_BYTES / 2));
        queue.push_text(&big);
        assert!(queue.has_room());
        queue.push_text(&big);
        assert!(!queue.has_room(), "two halves and brackets fill it");
        queue.push_text(&big); // the caller decides; the queue still counts it
        let posts = drain(&mut queue);
        let sizes: Vec<_> = posts.iter().map(|p| p.frames).collect();
        assert_eq!(
            sizes,
            [2, 1],
            "a batch stops once it reaches the byte bound"
        );
        let huge = format!("[{}]", "9".repeat(MAX_QUEUED_BYTES * 2));
        queue.push_text(&huge);
        assert_eq!(
            queue.next_post().unwrap().frames,
            1,
            "a larger frame goes alone"
        );
    }
}
