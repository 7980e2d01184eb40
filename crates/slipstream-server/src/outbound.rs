//! What a connection's writer receives (ready-made websocket frames, or a close), and the bound
//! on how many bytes may wait for it.
//!
//! Every sender (the connection, its channels, pubsub broadcasts, the endpoint) enqueues without
//! ever waiting: [`OutTx::send`] reserves the frame's length in the connection's byte counter and
//! refuses the frame when the reservation would pass the limit. The writer gives the bytes back
//! once it has handed the frame to the socket. The first refusal marks the queue as overflowed:
//! every later frame is refused at once, and the writer drops what is queued and closes the
//! connection (see `writer::write_loop`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use bytes::Bytes;
use slipstream_protocol::{EncodeError, Frame, Message, Serializer};
use tokio::sync::{mpsc, watch};

use crate::ws;

/// One item for a connection's writer task.
#[derive(Debug)]
pub(crate) enum Out {
    /// A complete websocket frame (header included), possibly shared with other connections.
    Frame(Bytes),
    /// Send a close frame with this code, then stop writing.
    Close(u16),
}

/// Why an item was not queued.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SendError {
    /// The writer is gone (the connection ended).
    #[error("the connection is closed")]
    Closed,
    /// The client fell behind: its queue is over the limit and the connection is closing.
    #[error("the client is not reading fast enough; its connection is closing")]
    Full,
}

/// The moment a connection's queue first refused a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Overflow {
    /// Bytes queued when the frame came.
    pub(crate) queued: usize,
    /// The refused frame's length.
    pub(crate) frame: usize,
    /// The configured limit.
    pub(crate) limit: usize,
}

/// Who a connection is, for log lines.
#[derive(Clone, Debug)]
pub(crate) struct ConnLabel {
    pub(crate) conn_id: u64,
    pub(crate) peer: Option<SocketAddr>,
    pub(crate) socket_id: Option<String>,
}

impl std::fmt::Display for ConnLabel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "connection {}", self.conn_id)?;
        if let Some(peer) = self.peer {
            write!(f, " from {peer}")?;
        }
        if let Some(id) = &self.socket_id {
            write!(f, " (socket id {id})")?;
        }
        Ok(())
    }
}

/// The byte accounting of one connection's queue, shared by its senders and its writer.
#[derive(Debug)]
pub(crate) struct QueueState {
    /// Bytes of frames accepted and not yet handed to the socket by the writer.
    queued: AtomicUsize,
    limit: usize,
    /// Fast path for [`Self::overflow`] being set.
    full: AtomicBool,
    overflow: watch::Sender<Option<Overflow>>,
}

impl QueueState {
    /// Bytes queued and not yet written.
    pub(crate) fn queued(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }

    /// Whether the queue has refused a frame (the connection is being closed for it).
    pub(crate) fn is_full(&self) -> bool {
        self.full.load(Ordering::Acquire)
    }

    /// Called by the writer once a frame of `len` bytes is written.
    pub(crate) fn release(&self, len: usize) {
        self.queued.fetch_sub(len, Ordering::AcqRel);
    }

    /// Resolves (with the overflow) once the queue has refused a frame.
    pub(crate) fn overflowed(&self) -> watch::Receiver<Option<Overflow>> {
        self.overflow.subscribe()
    }

    /// Reserves `len` bytes unless that would pass the limit. A frame bigger than the limit is
    /// still accepted when nothing is queued, so one large reply can always go out; the queue
    /// therefore never holds more than `max(limit, largest frame)`.
    fn reserve(&self, len: usize) -> Result<(), SendError> {
        if self.full.load(Ordering::Acquire) {
            return Err(SendError::Full);
        }
        let mut current = self.queued.load(Ordering::Acquire);
        loop {
            if current != 0 && current.saturating_add(len) > self.limit {
                self.mark_full(current, len);
                return Err(SendError::Full);
            }
            match self.queued.compare_exchange_weak(
                current,
                current + len,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Ok(()),
                Err(actual) => current = actual,
            }
        }
    }

    fn mark_full(&self, queued: usize, frame: usize) {
        self.full.store(true, Ordering::Release);
        let limit = self.limit;
        self.overflow.send_if_modified(|state| {
            if state.is_some() {
                return false;
            }
            *state = Some(Overflow {
                queued,
                frame,
                limit,
            });
            true
        });
    }
}

/// The sending side of a connection's writer queue. Cheap to clone; sending never waits.
#[derive(Clone, Debug)]
pub(crate) struct OutTx {
    tx: mpsc::UnboundedSender<Out>,
    state: Arc<QueueState>,
}

impl OutTx {
    /// Queues `item` for the writer without waiting. A frame is refused with
    /// [`SendError::Full`] when the connection's queued bytes would pass the limit (and from
    /// then on); a close is always queued while the writer lives.
    pub(crate) fn send(&self, item: Out) -> Result<(), SendError> {
        let len = match &item {
            Out::Frame(frame) => frame.len(),
            Out::Close(_) => return self.tx.send(item).map_err(|_| SendError::Closed),
        };
        if self.tx.is_closed() {
            return Err(SendError::Closed);
        }
        self.state.reserve(len)?;
        if self.tx.send(item).is_err() {
            self.state.release(len);
            return Err(SendError::Closed);
        }
        Ok(())
    }
}

/// Resolves once the queue has overflowed (never, if its state is gone).
pub(crate) async fn overflowed(overflow: &mut watch::Receiver<Option<Overflow>>) {
    if overflow.wait_for(Option::is_some).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// A connection's queue: senders, the writer's receiver, and the shared accounting.
pub(crate) fn queue(limit: usize) -> (OutTx, mpsc::UnboundedReceiver<Out>, Arc<QueueState>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let state = Arc::new(QueueState {
        queued: AtomicUsize::new(0),
        limit,
        full: AtomicBool::new(false),
        overflow: watch::Sender::new(None),
    });
    (
        OutTx {
            tx,
            state: state.clone(),
        },
        rx,
        state,
    )
}

/// Encodes a message for a client with its serializer, as a complete websocket frame.
pub(crate) fn encode(serializer: Serializer, message: &Message) -> Result<Bytes, EncodeError> {
    Ok(match serializer.encode_to_client(message)? {
        Frame::Text(text) => ws::encode_frame(ws::OP_TEXT, text.as_bytes()),
        Frame::Binary(bytes) => ws::encode_frame(ws::OP_BINARY, &bytes),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(len: usize) -> Out {
        Out::Frame(Bytes::from(vec![0u8; len]))
    }

    #[test]
    fn frames_past_the_limit_are_refused_and_the_queue_stays_refusing() {
        let (tx, mut rx, state) = queue(100);
        assert!(tx.send(frame(60)).is_ok());
        assert!(tx.send(frame(40)).is_ok());
        assert_eq!(state.queued(), 100);
        assert!(matches!(tx.send(frame(1)), Err(SendError::Full)));
        assert_eq!(
            *state.overflowed().borrow(),
            Some(Overflow {
                queued: 100,
                frame: 1,
                limit: 100
            })
        );
        // The writer catching up does not reopen it: the connection is closing.
        while let Ok(Out::Frame(f)) = rx.try_recv() {
            state.release(f.len());
        }
        assert_eq!(state.queued(), 0);
        assert!(matches!(tx.send(frame(1)), Err(SendError::Full)));
        assert!(tx.send(Out::Close(1008)).is_ok());
    }

    #[test]
    fn one_frame_bigger_than_the_limit_passes_an_empty_queue() {
        let (tx, _rx, state) = queue(10);
        assert!(tx.send(frame(50)).is_ok());
        assert_eq!(state.queued(), 50);
        assert!(matches!(tx.send(frame(1)), Err(SendError::Full)));
    }

    #[test]
    fn a_gone_writer_refuses_without_counting() {
        let (tx, rx, state) = queue(10);
        drop(rx);
        assert!(matches!(tx.send(frame(5)), Err(SendError::Closed)));
        assert_eq!(state.queued(), 0);
        assert!(state.overflowed().borrow().is_none());
    }
}
