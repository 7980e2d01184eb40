//! [`ChannelContext`]: what a channel callback can do (push, broadcast, presence, messages to itself).

use std::any::Any;
use std::sync::Arc;

use bytes::Bytes;

use serde_json::{Map, Value};
use slipstream_protocol::{EncodeError, Message, Payload, Ref, Serializer};
use tokio::sync::mpsc;

use crate::connect::SocketInfo;
use crate::endpoint::{BroadcastError, Endpoint};
use crate::messages::ChannelMsg;
use crate::outbound::{self, Out, OutTx};
use crate::shared::Shared;

/// A push to the channel's own client failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PushError {
    /// The message cannot be encoded for this client (e.g. binary on a V1 socket).
    #[error("push could not be encoded: {0}")]
    Encode(#[from] EncodeError),
    /// The connection is gone.
    #[error("the connection is closed")]
    Disconnected,
}

/// Sends [`Info`](crate::Info) messages to one channel from anywhere (a timer, another task).
/// It does not keep the channel alive.
#[derive(Clone, Debug)]
pub struct InfoSender {
    mailbox: mpsc::WeakUnboundedSender<ChannelMsg>,
}

impl InfoSender {
    /// Delivers `message` to [`Channel::handle_info`](crate::Channel::handle_info); `false` if
    /// the channel has ended.
    pub fn send<T: Any + Send>(&self, message: T) -> bool {
        self.mailbox
            .upgrade()
            .is_some_and(|tx| tx.send(ChannelMsg::Info(Box::new(message))).is_ok())
    }
}

/// The channel's view of its topic, connection and server, passed to every callback.
pub struct ChannelContext {
    pub(crate) topic: String,
    pub(crate) join_ref: Option<Ref>,
    pub(crate) channel_id: u64,
    pub(crate) serializer: Serializer,
    pub(crate) out: OutTx,
    pub(crate) shared: Arc<Shared>,
    pub(crate) socket: Arc<SocketInfo>,
    pub(crate) mailbox: mpsc::WeakUnboundedSender<ChannelMsg>,
    /// Pushes made during `join`, held until the join reply is written (`None` once joined).
    pub(crate) held: Option<Vec<Bytes>>,
}

impl ChannelContext {
    /// The joined topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The join_ref this channel's pushes and replies carry (the join's ref when the client
    /// joined with a null join_ref).
    pub fn join_ref(&self) -> Option<&Ref> {
        self.join_ref.as_ref()
    }

    /// The connection: connect params, socket id, auth token, serializer.
    pub fn socket(&self) -> &SocketInfo {
        &self.socket
    }

    /// Pushes `event` to this client only (`[join_ref, null, topic, event, payload]`).
    ///
    /// A push made inside [`Channel::join`](crate::Channel::join) is held back and written right
    /// after the join's ok reply (and dropped if the join fails), so the client always sees the
    /// reply first.
    pub fn push(&mut self, event: &str, payload: Payload) -> Result<(), PushError> {
        let message = Message::new(
            self.join_ref.clone(),
            None,
            self.topic.as_str(),
            event,
            payload,
        );
        match &mut self.held {
            Some(held) => {
                held.push(outbound::encode(self.serializer, &message)?);
                Ok(())
            }
            None => self.send(&message),
        }
    }

    /// Writes the pushes held during the join (called once the join reply is queued).
    pub(crate) fn release_held(&mut self) {
        for frame in self.held.take().unwrap_or_default() {
            let _ = self.out.send(Out::Frame(frame));
        }
    }

    /// Broadcasts `event` to every subscriber of this topic, this client included.
    pub fn broadcast(&self, event: &str, payload: Payload) -> Result<(), BroadcastError> {
        self.shared
            .pubsub
            .broadcast(&self.topic, event, payload, None)?;
        Ok(())
    }

    /// Broadcasts `event` to every subscriber of this topic except this channel.
    pub fn broadcast_from(&self, event: &str, payload: Payload) -> Result<(), BroadcastError> {
        self.shared
            .pubsub
            .broadcast(&self.topic, event, payload, Some(self.channel_id))?;
        Ok(())
    }

    /// The server's [`Endpoint`], to broadcast to other topics or disconnect sockets.
    pub fn endpoint(&self) -> Endpoint {
        Endpoint {
            shared: self.shared.clone(),
        }
    }

    /// Queues `message` for this channel's own [`handle_info`](crate::Channel::handle_info).
    pub fn send_info<T: Any + Send>(&self, message: T) {
        self.info_sender().send(message);
    }

    /// A handle to send [`handle_info`](crate::Channel::handle_info) messages from elsewhere.
    pub fn info_sender(&self) -> InfoSender {
        InfoSender {
            mailbox: self.mailbox.clone(),
        }
    }

    /// Tracks `key` with `meta` on this topic (Phoenix.Presence): a `phx_ref` is added and
    /// `presence_diff` is broadcast to the topic. The presence ends with the channel.
    pub fn track_presence(
        &self,
        key: &str,
        meta: Map<String, Value>,
    ) -> Result<(), BroadcastError> {
        let diff = self.shared.presence.track(
            &self.shared.pubsub,
            &self.topic,
            self.channel_id,
            key,
            meta,
        );
        self.presence_diff(diff)
    }

    /// Stops tracking `key` for this channel on this topic, broadcasting the `presence_diff`
    /// leave; `Ok(false)` if this channel was not tracking `key`.
    pub fn untrack_presence(&self, key: &str) -> Result<bool, BroadcastError> {
        match self
            .shared
            .presence
            .untrack(&self.shared.pubsub, &self.topic, self.channel_id, key)
        {
            Some(diff) => self.presence_diff(diff).map(|()| true),
            None => Ok(false),
        }
    }

    /// Sends this node's subscribers a `presence_diff` (the other nodes derive theirs from the
    /// presence delta they get).
    fn presence_diff(&self, diff: Value) -> Result<(), BroadcastError> {
        self.shared.pubsub.broadcast_local(
            &self.topic,
            "presence_diff",
            Payload::json(&diff),
            None,
        )?;
        Ok(())
    }

    /// The topic's presences in `presence_state` form: `{key: {"metas": [...]}}`.
    pub fn presence_list(&self) -> Value {
        self.shared.presence.list(&self.topic)
    }

    /// Writes a reply to the client's push `msg_ref`.
    pub(crate) fn reply(&self, msg_ref: Option<Ref>, status: String, response: Payload) {
        let message = Message::reply(
            self.join_ref.clone(),
            msg_ref,
            self.topic.as_str(),
            status,
            response,
        );
        if let Err(err) = self.send(&message) {
            tracing::warn!(topic = %self.topic, error = %err, "could not send a reply");
        }
    }

    fn send(&self, message: &Message) -> Result<(), PushError> {
        let frame = outbound::encode(self.serializer, message)?;
        self.out
            .send(Out::Frame(frame))
            .map_err(|_| PushError::Disconnected)
    }
}
