//! The client's side of the conversation as the test server sees it: decoded frames, and an inbox
//! with selective receive (the first frame a helper matches is taken; the others stay, in order).

use std::collections::VecDeque;

use slipstream_protocol::Message;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::event::human::close_code_name;

/// One thing the client sent (heartbeats excepted: the transport answers those itself).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ClientFrame {
    /// A Phoenix message (join, leave, push).
    Message(Message),
    /// A websocket close frame.
    Close { code: Option<u16>, reason: String },
    /// A frame the test server could not decode.
    Undecodable(String),
    /// The client dropped the connection (no more frames will come).
    Gone,
}

impl ClientFrame {
    /// A short description for error messages, e.g.
    /// `rooms:lobby phx_join {} (ref 1, join_ref 1)` or `a close frame with 1000 (normal closure)`.
    pub(crate) fn describe(&self) -> String {
        match self {
            ClientFrame::Message(m) => m.to_string(),
            ClientFrame::Close { code, reason } => {
                let mut text = match code {
                    Some(code) => match close_code_name(*code) {
                        Some(name) => format!("a close frame with {code} ({name})"),
                        None => format!("a close frame with {code}"),
                    },
                    None => "a close frame without a code".to_owned(),
                };
                if !reason.is_empty() {
                    text.push_str(&format!(": {reason:?}"));
                }
                text
            }
            ClientFrame::Undecodable(e) => format!("an undecodable frame ({e})"),
            ClientFrame::Gone => "a dropped connection".to_owned(),
        }
    }
}

/// Why a selective receive found nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Missing {
    Timeout,
    /// The connection is gone and nothing matching is buffered.
    Closed,
}

/// Frames received on one connection.
#[derive(Debug)]
pub(crate) struct Inbox {
    rx: mpsc::UnboundedReceiver<ClientFrame>,
    buffer: VecDeque<ClientFrame>,
    ended: bool,
}

impl Inbox {
    pub(crate) fn new(rx: mpsc::UnboundedReceiver<ClientFrame>) -> Self {
        Inbox {
            rx,
            buffer: VecDeque::new(),
            ended: false,
        }
    }

    /// Descriptions of the frames waiting in the inbox.
    pub(crate) fn pending(&self) -> Vec<String> {
        self.buffer.iter().map(ClientFrame::describe).collect()
    }

    fn take_buffered<T>(&mut self, pick: &mut impl FnMut(&ClientFrame) -> Option<T>) -> Option<T> {
        let (index, value) = self
            .buffer
            .iter()
            .enumerate()
            .find_map(|(i, f)| pick(f).map(|v| (i, v)))?;
        self.buffer.remove(index);
        Some(value)
    }

    /// Takes the first frame `pick` selects, waiting for new frames until `deadline`.
    pub(crate) async fn take<T>(
        &mut self,
        deadline: Instant,
        mut pick: impl FnMut(&ClientFrame) -> Option<T>,
    ) -> Result<T, Missing> {
        loop {
            if let Some(value) = self.take_buffered(&mut pick) {
                return Ok(value);
            }
            if self.ended {
                return Err(Missing::Closed);
            }
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(frame)) => self.buffer.push_back(frame),
                Ok(None) => {
                    self.ended = true;
                    self.buffer.push_back(ClientFrame::Gone);
                }
                Err(_) => return Err(Missing::Timeout),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use slipstream_protocol::{Event, Payload};

    use super::*;

    #[test]
    fn frames_are_described_with_display_text() {
        let join = Message::new(
            Some("1".into()),
            Some("1".into()),
            "rooms:lobby",
            Event::Join,
            Payload::json(&serde_json::json!({"user": "ana"})),
        );
        assert_eq!(
            ClientFrame::Message(join).describe(),
            r#"rooms:lobby phx_join {"user":"ana"} (ref 1, join_ref 1)"#
        );
        let close = ClientFrame::Close {
            code: Some(1000),
            reason: String::new(),
        };
        assert_eq!(close.describe(), "a close frame with 1000 (normal closure)");
        let close = ClientFrame::Close {
            code: Some(4000),
            reason: "bye".into(),
        };
        assert_eq!(close.describe(), r#"a close frame with 4000: "bye""#);
        let close = ClientFrame::Close {
            code: None,
            reason: String::new(),
        };
        assert_eq!(close.describe(), "a close frame without a code");
        assert_eq!(ClientFrame::Gone.describe(), "a dropped connection");
    }
}
