//! What a connection reads, whatever carries it: [`Inbound`] items from an [`Incoming`] source,
//! either a websocket's own socket (read in the connection's loop, no task or queue between) or
//! the queue a long-poll session's POSTs feed.

use std::future::Future;

use tokio::sync::{mpsc, oneshot};

use crate::ws::{Source, WsError, WsMessage, WsReader};

/// A frame from the client, or why reading stopped.
pub(crate) type FrameResult = Result<WsMessage, WsError>;

/// What a connection reads: the client's frames in order.
pub(crate) enum Inbound {
    /// A frame, or why reading stopped.
    Frame(FrameResult),
    /// Answered once every frame before it has been handled (a long-poll POST waits on it).
    Barrier(oneshot::Sender<()>),
}

/// A connection's input. `next` must be cancel-safe: the connection races it against its other
/// events and reads nothing while a channel is behind.
pub(crate) trait Incoming: Send {
    /// The next item; `None` once the input has ended (nothing more will come).
    fn next(&mut self) -> impl Future<Output = Option<Inbound>> + Send;
}

/// A long-poll session's input: the frames of its POSTs, and their barriers.
impl Incoming for mpsc::Receiver<Inbound> {
    async fn next(&mut self) -> Option<Inbound> {
        self.recv().await
    }
}

/// A websocket's input: frames read straight from its socket. It ends after a close frame or an
/// error reading cannot go on from.
pub(crate) struct SocketInput<R> {
    reader: WsReader<R>,
    ended: bool,
}

impl<R> SocketInput<R> {
    /// The frames `reader` reads.
    pub(crate) fn new(reader: WsReader<R>) -> Self {
        SocketInput {
            reader,
            ended: false,
        }
    }
}

impl<R: Source> Incoming for SocketInput<R> {
    async fn next(&mut self) -> Option<Inbound> {
        if self.ended {
            return None;
        }
        let frame = self.reader.next().await;
        self.ended = match &frame {
            Ok(WsMessage::Close(_)) => true,
            Ok(_) => false,
            Err(err) => !err.is_recoverable(),
        };
        Some(Inbound::Frame(frame))
    }
}
