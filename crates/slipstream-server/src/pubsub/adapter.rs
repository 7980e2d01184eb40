//! The PubSub adapter seam: how what happens on one node reaches the others.
//!
//! A node delivers to its own subscribers itself (`PubSub`); the adapter only carries
//! [`NodeMessage`]s to the other nodes of the same application, where the receiving side (an
//! [`Inbox`]: the server's `cluster` module) delivers them to that node's subscribers. Two
//! implementations: [`Local`] (one node, nothing to carry; the default) and
//! `redis::RedisAdapter` (Redis PUB/SUB).

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use slipstream_protocol::{JsonText, Payload};

/// Carries messages to the other nodes. Publishing never waits: a message that cannot go (the
/// engine is unreachable, its queue is full) is counted as lost by the adapter.
pub(crate) trait Adapter: Send + Sync {
    /// Sends `message` to every other node.
    fn publish(&self, message: NodeMessage);

    /// Messages that could not be sent since the server started.
    fn lost(&self) -> u64 {
        0
    }

    /// Whether there may be other nodes (the single-node adapter skips building messages).
    fn reaches_other_nodes(&self) -> bool {
        true
    }
}

/// Where an adapter hands what arrives from other nodes. The server implements it (in `cluster`),
/// so the adapters know nothing above this seam.
pub(crate) trait Inbox: Send + Sync {
    /// Handles one message from another node (or this node's own, which it ignores).
    fn receive(&self, message: NodeMessage);
}

/// One node only: there is nowhere to publish.
pub(crate) struct Local;

impl Adapter for Local {
    fn publish(&self, _message: NodeMessage) {}

    fn reaches_other_nodes(&self) -> bool {
        false
    }
}

/// A shared adapter.
pub(crate) type SharedAdapter = Arc<dyn Adapter>;

/// Who a node is: its name (`--node`) and the incarnation of the process, so that a node
/// restarted under the same name is a new node to the others.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) struct NodeId {
    pub(crate) name: String,
    pub(crate) incarnation: u64,
}

/// One presence as nodes exchange it: topic, key and metadata (which holds its `phx_ref`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct PresenceEntry {
    pub(crate) topic: String,
    pub(crate) key: String,
    pub(crate) meta: Map<String, Value>,
}

/// What nodes tell each other.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Body {
    /// A broadcast to `topic`'s subscribers on every node. `event: "disconnect"` to a socket id
    /// also closes that id's connections, as in Phoenix.
    Broadcast {
        topic: String,
        event: String,
        /// The JSON payload, or
        #[serde(skip_serializing_if = "Option::is_none")]
        json: Option<Box<RawValue>>,
        /// the binary payload, base64.
        #[serde(skip_serializing_if = "Option::is_none")]
        binary: Option<String>,
    },
    /// "I am alive, and my presences are at version `seq`."
    Heartbeat { seq: u64 },
    /// A change to the sender's presences, version `seq` (the one after `seq - 1`).
    Delta {
        seq: u64,
        joins: Vec<PresenceEntry>,
        leaves: Vec<PresenceEntry>,
    },
    /// "Node `target`, send me all your presences."
    DumpRequest { target: NodeId },
    /// All of the sender's presences, at version `seq`.
    Dump {
        seq: u64,
        entries: Vec<PresenceEntry>,
    },
}

impl Body {
    /// A broadcast carrying `payload` (a reply payload is sent as its JSON form).
    pub(crate) fn broadcast(topic: &str, event: &str, payload: &Payload) -> Self {
        let (json, binary) = match payload {
            Payload::Binary(bytes) => (None, Some(STANDARD.encode(bytes))),
            Payload::Json(json) => (RawValue::from_string(json.as_str().to_owned()).ok(), None),
            other => (
                RawValue::from_string(other.to_value().unwrap_or(Value::Null).to_string()).ok(),
                None,
            ),
        };
        Body::Broadcast {
            topic: topic.to_owned(),
            event: event.to_owned(),
            json,
            binary,
        }
    }
}

/// A message from one node to the others.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct NodeMessage {
    pub(crate) from: NodeId,
    pub(crate) body: Body,
}

impl NodeMessage {
    /// The wire form.
    pub(crate) fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads the wire form; `None` for anything else (another program on the same channel).
    pub(crate) fn decode(bytes: &[u8]) -> Option<Self> {
        serde_json::from_slice(bytes).ok()
    }
}

/// The payload of a received broadcast.
pub(crate) fn broadcast_payload(json: Option<Box<RawValue>>, binary: Option<String>) -> Payload {
    match (json, binary) {
        (_, Some(b64)) => STANDARD
            .decode(b64)
            .map(Payload::binary)
            .unwrap_or_else(|_| Payload::empty()),
        (Some(raw), None) => Payload::Json(JsonText::from(raw)),
        (None, None) => Payload::empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node() -> NodeId {
        NodeId {
            name: "a".into(),
            incarnation: 7,
        }
    }

    #[test]
    fn broadcasts_keep_json_and_binary_payloads() {
        for payload in [
            Payload::json(&serde_json::json!({"n": [1, 2.5, "x"]})),
            Payload::binary(vec![0u8, 1, 255]),
        ] {
            let message = NodeMessage {
                from: node(),
                body: Body::broadcast("rooms:lobby", "news", &payload),
            };
            let back = NodeMessage::decode(&message.encode()).expect("decodes");
            assert_eq!(back.from, node());
            let Body::Broadcast {
                topic,
                event,
                json,
                binary,
            } = back.body
            else {
                panic!("a broadcast");
            };
            assert_eq!((topic.as_str(), event.as_str()), ("rooms:lobby", "news"));
            assert_eq!(broadcast_payload(json, binary), payload);
        }
    }

    #[test]
    fn presence_messages_round_trip_and_garbage_is_ignored() {
        let entry = PresenceEntry {
            topic: "presence:lobby".into(),
            key: "alice".into(),
            meta: serde_json::json!({"phx_ref": "r1"})
                .as_object()
                .cloned()
                .unwrap(),
        };
        let message = NodeMessage {
            from: node(),
            body: Body::Delta {
                seq: 3,
                joins: vec![entry.clone()],
                leaves: vec![],
            },
        };
        let back = NodeMessage::decode(&message.encode()).expect("decodes");
        assert_eq!(back.encode(), message.encode());
        assert!(NodeMessage::decode(b"hello").is_none());
        assert!(NodeMessage::decode(br#"{"kind":"nope"}"#).is_none());
    }
}
