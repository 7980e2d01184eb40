//! What the connection task reports: every arrival becomes one [`SocketEvent`] in the mailbox.

use std::time::Duration;

use slipstream_protocol::{Payload, Ref, Reply};

use crate::error::{ConnectError, JoinError, ReplyError};

/// A push or broadcast the server sent to a topic (anything that is not a reply or a lifecycle
/// notification).
///
/// ```
/// use slipstream_client::{ChannelMessage, Payload};
/// let m = ChannelMessage {
///     topic: "rooms:lobby".into(),
///     event: "foo".into(),
///     payload: Payload::json(&serde_json::json!({"bar": "baz"})),
/// };
/// assert_eq!(m.json().unwrap()["bar"], "baz");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelMessage {
    /// The topic, e.g. `rooms:lobby`.
    pub topic: String,
    /// The event name, e.g. `foo`.
    pub event: String,
    /// The payload: JSON or binary.
    pub payload: Payload,
}

impl ChannelMessage {
    /// The payload parsed as JSON (`None` for binary payloads).
    pub fn json(&self) -> Option<serde_json::Value> {
        match &self.payload {
            Payload::Binary(_) => None,
            other => other.to_value().ok(),
        }
    }
}

/// Why the websocket connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// [`Socket::disconnect`](crate::Socket::disconnect) was called.
    ClientRequested,
    /// A heartbeat was not acknowledged within one heartbeat interval.
    HeartbeatTimeout,
    /// The server sent a close frame.
    ClosedByRemote {
        /// The close code (`None` when the frame had no code).
        code: Option<u16>,
        /// The close reason text.
        reason: String,
    },
    /// The TCP/TLS stream ended or failed without a close frame.
    TransportError(String),
}

/// Why a topic closed for good (no automatic rejoin follows).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum TopicCloseReason {
    /// The server closed the channel (`phx_close`), with its payload.
    ClosedByServer(Payload),
    /// The connection dropped and automatic rejoin is switched off.
    Disconnected,
}

/// One thing that happened on the socket, in arrival order.
///
/// The `await_*` methods of [`Socket`](crate::Socket) each take the first event they match out of the
/// mailbox; [`Socket::flush`](crate::Socket::flush) and [`Socket::next_event`](crate::Socket::next_event)
/// take whatever is there.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SocketEvent {
    /// The websocket is open (after a connect or a reconnect).
    Connected,
    /// A connect attempt failed and no retry is scheduled (the initial connect, unless
    /// `retry_on_initial_connect` is on).
    ConnectFailed(ConnectError),
    /// A reconnect is scheduled after `delay`; `error` is why the last attempt failed, if it did.
    Reconnecting {
        /// 1 for the first retry after a loss, then 2, 3…
        attempt: u32,
        /// How long until the attempt.
        delay: Duration,
        /// The failure of the previous attempt, if there was one.
        error: Option<ConnectError>,
    },
    /// The websocket closed.
    Disconnected(DisconnectReason),
    /// A topic was joined (also after each automatic rejoin), with the server's response.
    Joined {
        /// The topic.
        topic: String,
        /// The join reply's `response`.
        response: Payload,
    },
    /// A join failed.
    JoinFailed {
        /// The topic.
        topic: String,
        /// Why.
        error: JoinError,
        /// When another attempt is scheduled, in how long.
        rejoin_in: Option<Duration>,
    },
    /// A push or broadcast for a topic.
    Message(ChannelMessage),
    /// The outcome of a push: the server's reply, or why none will come.
    Reply {
        /// The ref returned by [`Socket::push`](crate::Socket::push).
        push_ref: Ref,
        /// The topic pushed to.
        topic: String,
        /// The reply, or why there is none.
        result: Result<Reply, ReplyError>,
    },
    /// The server's channel crashed (`phx_error`); a rejoin is scheduled after `rejoin_in`.
    TopicErrored {
        /// The topic.
        topic: String,
        /// The `phx_error` payload (`{}` or `{"reason":"channel_crash"}`).
        payload: Payload,
        /// Delay until the rejoin attempt.
        rejoin_in: Duration,
    },
    /// A topic closed for good, not by our leave.
    TopicClosed {
        /// The topic.
        topic: String,
        /// Why.
        reason: TopicCloseReason,
    },
    /// A [`Socket::leave`](crate::Socket::leave) completed (the server answered, or the channel was
    /// already gone, or the leave timed out — all mean the topic is no longer joined).
    Left {
        /// The topic.
        topic: String,
    },
    /// A frame from the server could not be decoded; it was skipped.
    MalformedFrame {
        /// What was wrong.
        error: String,
    },
}

impl SocketEvent {
    /// Whether this event is a *server push*: a [`Message`](Self::Message) or a
    /// [`MalformedFrame`](Self::MalformedFrame), something the server sent of its own accord, as
    /// many times as it likes. Only these count against the mailbox capacity and are dropped when
    /// it is reached ([`SocketBuilder::mailbox_capacity`](crate::SocketBuilder::mailbox_capacity));
    /// every other event (replies, connects, joins, leaves, closes, crashes, disconnects,
    /// reconnects) answers a request or marks a connection or rejoin attempt, and is never
    /// dropped.
    ///
    /// ```
    /// use slipstream_client::{ChannelMessage, Payload, SocketEvent};
    /// let push = SocketEvent::Message(ChannelMessage {
    ///     topic: "rooms:lobby".into(),
    ///     event: "foo".into(),
    ///     payload: Payload::empty(),
    /// });
    /// assert!(push.is_server_push());
    /// assert!(!SocketEvent::Connected.is_server_push());
    /// ```
    pub fn is_server_push(&self) -> bool {
        // No wildcard: a new variant must be classified here.
        match self {
            SocketEvent::Message(_) | SocketEvent::MalformedFrame { .. } => true,
            SocketEvent::Connected
            | SocketEvent::ConnectFailed(_)
            | SocketEvent::Reconnecting { .. }
            | SocketEvent::Disconnected(_)
            | SocketEvent::Joined { .. }
            | SocketEvent::JoinFailed { .. }
            | SocketEvent::Reply { .. }
            | SocketEvent::TopicErrored { .. }
            | SocketEvent::TopicClosed { .. }
            | SocketEvent::Left { .. } => false,
        }
    }
}

/// The client-side state of one topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JoinStatus {
    /// Not joined (never joined, left, refused, or closed by the server).
    Closed,
    /// A join was requested and is not answered yet (also while waiting for the connection).
    Joining,
    /// Joined.
    Joined,
    /// A leave was requested and is not answered yet.
    Leaving,
    /// The channel crashed or the connection dropped; a rejoin will follow.
    Errored,
}
