//! The client's side of the conversation as the test server sees it: decoded frames, and an inbox
//! with selective receive (the first frame a helper matches is taken; the others stay, in order).

use std::collections::VecDeque;

use slipstream_protocol::{Message, Payload};
use tokio::sync::mpsc;
use tokio::time::Instant;

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
    /// A short description for error messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            ClientFrame::Message(m) => format!(
                "{} on {:?} (ref {}, join_ref {}): {}",
                m.event.as_str(),
                m.topic,
                text_of(m.msg_ref.as_ref()),
                text_of(m.join_ref.as_ref()),
                payload_text(&m.payload)
            ),
            ClientFrame::Close { code, reason } => format!("close frame {code:?} {reason:?}"),
            ClientFrame::Undecodable(e) => format!("an undecodable frame ({e})"),
            ClientFrame::Gone => "a dropped connection".to_owned(),
        }
    }
}

fn text_of(r: Option<&slipstream_protocol::Ref>) -> String {
    r.map_or_else(|| "null".to_owned(), |r| r.to_string())
}

/// A payload as text: its JSON, or its size when binary.
pub(crate) fn payload_text(payload: &Payload) -> String {
    match payload {
        Payload::Binary(b) => format!("<{} bytes>", b.len()),
        other => other
            .to_value()
            .map_or_else(|e| format!("<invalid JSON: {e}>"), |v| v.to_string()),
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
