//! Topic subscriptions and broadcasts ("fastlane"): a broadcast is encoded once per serializer
//! and the same frame bytes go to every subscriber of this node; the [`adapter`] carries it to
//! the other nodes, where it is delivered the same way (so each node encodes it once per
//! serializer too).
//!
//! * [`adapter`]: the seam, and the single-node [`adapter::Local`];
//! * [`redis`]: the Redis PUB/SUB adapter.

pub(crate) mod adapter;
pub(crate) mod redis;

use std::collections::HashMap;
use std::sync::{Mutex, RwLock};

use bytes::Bytes;
use slipstream_protocol::{EncodeError, Message, Payload, Serializer};

use crate::outbound::{self, Out, OutTx};
use adapter::{Body, Local, NodeId, NodeMessage, SharedAdapter};

/// One joined channel listening on a topic.
#[derive(Clone)]
pub(crate) struct Subscriber {
    pub(crate) channel_id: u64,
    pub(crate) serializer: Serializer,
    pub(crate) out: OutTx,
}

/// Subscribers per topic, in join order (Phoenix delivers in that order), and the way to the
/// other nodes.
pub(crate) struct PubSub {
    topics: Mutex<HashMap<String, Vec<Subscriber>>>,
    node: NodeId,
    adapter: RwLock<SharedAdapter>,
}

impl PubSub {
    /// A PubSub for node `node`, single-node until [`set_adapter`](Self::set_adapter).
    pub(crate) fn new(node: NodeId) -> Self {
        PubSub {
            topics: Mutex::default(),
            node,
            adapter: RwLock::new(std::sync::Arc::new(Local)),
        }
    }

    /// This node.
    pub(crate) fn node(&self) -> &NodeId {
        &self.node
    }

    /// Connects this node to others through `adapter`.
    pub(crate) fn set_adapter(&self, adapter: SharedAdapter) {
        *self.adapter.write().unwrap_or_else(|e| e.into_inner()) = adapter;
    }

    /// Sends a message to the other nodes (nowhere, on a single node).
    pub(crate) fn publish(&self, body: Body) {
        self.publish_with(|| body);
    }

    /// [`publish`](Self::publish), making the message only when there is another node to send
    /// it to (a broadcast's copy of its payload costs nothing on a single node).
    fn publish_with(&self, body: impl FnOnce() -> Body) {
        let adapter = self.adapter();
        if adapter.reaches_other_nodes() {
            adapter.publish(NodeMessage {
                from: self.node.clone(),
                body: body(),
            });
        }
    }

    /// Messages to other nodes that could not be sent.
    pub(crate) fn lost(&self) -> u64 {
        self.adapter().lost()
    }

    /// The adapter in use (a clone of the handle, so no lock is held while publishing).
    fn adapter(&self) -> SharedAdapter {
        self.adapter
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Adds a subscriber at the end of the topic's list, running `first` (which enqueues the
    /// join reply) under the same lock: a broadcast that sees the new subscriber is then always
    /// queued after that reply, and one that does not cannot have been caused by it.
    pub(crate) fn subscribe_after(
        &self,
        topic: &str,
        subscriber: Subscriber,
        first: impl FnOnce(),
    ) {
        let mut topics = self.topics.lock().unwrap_or_else(|e| e.into_inner());
        first();
        topics.entry(topic.to_owned()).or_default().push(subscriber);
    }

    /// Removes a channel's subscription (idempotent).
    pub(crate) fn unsubscribe(&self, topic: &str, channel_id: u64) {
        let mut topics = self.topics.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(list) = topics.get_mut(topic) {
            list.retain(|s| s.channel_id != channel_id);
            if list.is_empty() {
                topics.remove(topic);
            }
        }
    }

    /// Sends `[null, null, topic, event, payload]` to every subscriber on every node, except
    /// `exclude` (a channel of this node). Returns how many subscribers of this node got it.
    pub(crate) fn broadcast(
        &self,
        topic: &str,
        event: &str,
        payload: Payload,
        exclude: Option<u64>,
    ) -> Result<usize, EncodeError> {
        self.publish_with(|| Body::broadcast(topic, event, &payload));
        self.broadcast_local(topic, event, payload, exclude)
    }

    /// Sends `[null, null, topic, event, payload]` to every subscriber of this node except
    /// `exclude`.
    ///
    /// Frames are encoded lazily, once per serializer, in subscriber order; an encoding error
    /// (binary for a V1 subscriber) stops the broadcast there, as it does in Phoenix.
    /// Returns how many subscribers got the frame.
    pub(crate) fn broadcast_local(
        &self,
        topic: &str,
        event: &str,
        payload: Payload,
        exclude: Option<u64>,
    ) -> Result<usize, EncodeError> {
        let subscribers = {
            let topics = self.topics.lock().unwrap_or_else(|e| e.into_inner());
            match topics.get(topic) {
                Some(list) => list.clone(),
                None => return Ok(0),
            }
        };
        let message = Message::new(None, None, topic, event, payload);
        let mut encoded: [Option<Bytes>; 2] = [None, None];
        let mut sent = 0;
        for subscriber in subscribers {
            if Some(subscriber.channel_id) == exclude {
                continue;
            }
            let slot = match subscriber.serializer {
                Serializer::V1 => 0,
                Serializer::V2 => 1,
            };
            let frame = match &encoded[slot] {
                Some(frame) => frame.clone(),
                None => {
                    let frame = outbound::encode(subscriber.serializer, &message)?;
                    encoded[slot] = Some(frame.clone());
                    frame
                }
            };
            if subscriber.out.send(Out::Frame(frame)).is_ok() {
                sent += 1;
            }
        }
        Ok(sent)
    }
}
