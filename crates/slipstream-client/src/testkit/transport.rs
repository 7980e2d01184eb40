//! The in-memory connection between a socket's actor and the test server.
//!
//! The client end is what the actor reads and writes instead of a websocket. Writing to it is
//! synchronous: each frame is decoded on the spot, heartbeats are answered right there (unless
//! the test stopped answering them), and everything else goes to the test server's inbox. So no
//! task, no socket and no timer is involved, and paused-time tests stay deterministic.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};

use futures_util::{Sink, Stream};
use slipstream_protocol::{Event, Frame, FrameRef, Message, PHOENIX_TOPIC, Payload, Serializer};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage};

use super::frames::ClientFrame;

/// Frames travelling from the test server to the client.
pub(crate) type ToClient = mpsc::UnboundedSender<Result<WsMessage, WsError>>;

/// Whether heartbeats are answered, and how many arrived; shared by every connection of a server.
#[derive(Debug)]
pub(crate) struct Heartbeats {
    pub(crate) answer: AtomicBool,
    pub(crate) seen: AtomicU64,
}

impl Default for Heartbeats {
    fn default() -> Self {
        Heartbeats {
            answer: AtomicBool::new(true),
            seen: AtomicU64::new(0),
        }
    }
}

/// The actor's end of an in-memory connection.
pub(crate) struct ClientEnd {
    incoming: mpsc::UnboundedReceiver<Result<WsMessage, WsError>>,
    /// For heartbeat acks; weak so that the server dropping its sender ends the stream.
    loopback: mpsc::WeakUnboundedSender<Result<WsMessage, WsError>>,
    outgoing: mpsc::UnboundedSender<ClientFrame>,
    heartbeats: Arc<Heartbeats>,
    serializer: Serializer,
    /// Set once the client sent a close frame: the stream ends.
    closed: bool,
}

/// Makes a connected pair: the client end, the server's sender, and the server's inbox receiver.
pub(crate) fn pair(
    serializer: Serializer,
    heartbeats: Arc<Heartbeats>,
) -> (ClientEnd, ToClient, mpsc::UnboundedReceiver<ClientFrame>) {
    let (to_client, incoming) = mpsc::unbounded_channel();
    let (outgoing, inbox) = mpsc::unbounded_channel();
    let client = ClientEnd {
        incoming,
        loopback: to_client.downgrade(),
        outgoing,
        heartbeats,
        serializer,
        closed: false,
    };
    (client, to_client, inbox)
}

/// Encodes a server message as the websocket frame the client expects.
pub(crate) fn encode(serializer: Serializer, message: &Message) -> Result<WsMessage, String> {
    match serializer.encode_to_client(message) {
        Ok(Frame::Text(text)) => Ok(WsMessage::Text(text.into())),
        Ok(Frame::Binary(bytes)) => Ok(WsMessage::Binary(bytes)),
        Err(e) => Err(e.to_string()),
    }
}

impl ClientEnd {
    /// Handles one frame the actor wrote.
    fn receive(&mut self, frame: WsMessage) -> Result<(), WsError> {
        let decoded = match &frame {
            WsMessage::Text(text) => self
                .serializer
                .decode_from_client(FrameRef::Text(text.as_str())),
            WsMessage::Binary(bytes) => self.serializer.decode_from_client(FrameRef::Binary(bytes)),
            WsMessage::Close(close) => {
                self.closed = true;
                let (code, reason) = match close {
                    Some(f) => (Some(u16::from(f.code)), f.reason.to_string()),
                    None => (None, String::new()),
                };
                return self.forward(ClientFrame::Close { code, reason });
            }
            WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Frame(_) => return Ok(()),
        };
        match decoded {
            Ok(message) if message.topic == PHOENIX_TOPIC && message.event == Event::Heartbeat => {
                self.heartbeat(message);
                Ok(())
            }
            Ok(message) => self.forward(ClientFrame::Message(message)),
            Err(e) => self.forward(ClientFrame::Undecodable(e.to_string())),
        }
    }

    fn heartbeat(&self, message: Message) {
        self.heartbeats.seen.fetch_add(1, Ordering::Relaxed);
        if !self.heartbeats.answer.load(Ordering::Relaxed) {
            tracing::debug!("test server: heartbeat left unanswered");
            return;
        }
        let ack = Message::reply(None, message.msg_ref, PHOENIX_TOPIC, "ok", Payload::empty());
        match (encode(self.serializer, &ack), self.loopback.upgrade()) {
            (Ok(frame), Some(tx)) => {
                // Fails only if the client end is gone, and it is the caller.
                let _ = tx.send(Ok(frame));
            }
            (Err(e), _) => {
                tracing::warn!(error = %e, "test server: could not encode a heartbeat ack")
            }
            (_, None) => {}
        }
    }

    fn forward(&self, frame: ClientFrame) -> Result<(), WsError> {
        self.outgoing
            .send(frame)
            .map_err(|_| WsError::ConnectionClosed)
    }
}

impl Stream for ClientEnd {
    type Item = Result<WsMessage, WsError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.closed {
            return Poll::Ready(None);
        }
        self.incoming.poll_recv(cx)
    }
}

impl Sink<WsMessage> for ClientEnd {
    type Error = WsError;

    fn poll_ready(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        if self.closed {
            Poll::Ready(Err(WsError::AlreadyClosed))
        } else {
            Poll::Ready(Ok(()))
        }
    }

    fn start_send(mut self: Pin<&mut Self>, item: WsMessage) -> Result<(), WsError> {
        if self.closed {
            return Err(WsError::AlreadyClosed);
        }
        self.receive(item)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        self.closed = true;
        Poll::Ready(Ok(()))
    }
}
