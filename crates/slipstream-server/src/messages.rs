//! What a connection, its channel tasks and the server hand each other: the start of a
//! channel task, the messages to it, and the notices to a connection's loop.

use std::sync::Arc;

use slipstream_protocol::{Payload, Ref, Serializer};
use tokio::sync::{mpsc, oneshot};

use crate::connect::SocketInfo;
use crate::outbound::OutTx;
use crate::outcome::{Info, JoinResult, TerminateReason};

/// A request or notice to a connection's main loop.
#[derive(Debug)]
pub(crate) enum Control {
    /// Close the websocket with this code.
    Close(u16),
    /// The channel with this id has ended (its task is done).
    ChannelEnded(u64),
}

/// A client push, on its way to a channel's `handle_in`.
pub(crate) struct Push {
    pub(crate) event: String,
    pub(crate) payload: Payload,
    pub(crate) msg_ref: Option<Ref>,
    /// The push's place in the channel's bounded backlog (`max_pending_pushes`), given back
    /// once `handle_in` (and its reply) is done.
    pub(crate) permit: tokio::sync::OwnedSemaphorePermit,
}

/// A message from the connection (or an [`InfoSender`](crate::InfoSender)) to a channel task. Small (the
/// push is boxed), because a mailbox allocates its first block of 32 slots when it is made,
/// and every joined channel has one.
pub(crate) enum ChannelMsg {
    /// A client push.
    In(Box<Push>),
    /// A server-side message.
    Info(Info),
    /// The client left: reply ok and close.
    Leave { msg_ref: Option<Ref> },
    /// End silently (duplicate join, connection closed).
    Shutdown(TerminateReason),
}

/// Everything a new channel task needs but the server's state (which its starter is given
/// beside it).
pub(crate) struct ChannelStart {
    pub(crate) topic: String,
    pub(crate) params: Payload,
    /// The join_ref the client sent (used for `phx_close`/`phx_error`).
    pub(crate) join_ref: Option<Ref>,
    /// The join's ref (the channel's join_ref when the client sent none).
    pub(crate) msg_ref: Option<Ref>,
    pub(crate) channel_id: u64,
    pub(crate) serializer: Serializer,
    pub(crate) out: OutTx,
    pub(crate) socket: Arc<SocketInfo>,
    pub(crate) mailbox_tx: mpsc::WeakUnboundedSender<ChannelMsg>,
    pub(crate) mailbox_rx: mpsc::UnboundedReceiver<ChannelMsg>,
    pub(crate) join_tx: oneshot::Sender<JoinResult>,
    pub(crate) go_rx: oneshot::Receiver<()>,
    /// Told `Control::ChannelEnded` once the channel is over.
    pub(crate) exit_tx: mpsc::UnboundedSender<Control>,
}
