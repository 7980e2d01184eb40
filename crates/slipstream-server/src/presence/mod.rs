//! Phoenix.Presence: who is on each topic, `presence_state` and `presence_diff`, on one node or
//! across nodes.
//!
//! Each node owns the presences its channels track and is the only one to change them, so the
//! nodes never disagree about an entry: every change is a numbered delta of its owner's state,
//! published to the other nodes (`Body::Delta`), which keep a replica per node ([`tracker`]).
//! Every node sends its own clients the `presence_diff` of every change it learns of, local or
//! remote, so a diff reaches each client once. A `presence_state` lists the local entries and
//! every replica's.

pub(crate) mod tracker;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

use crate::pubsub::PubSub;
use crate::pubsub::adapter::{Body, PresenceEntry};
use tracker::Replica;

/// One tracked presence of this node: a key (e.g. a user id) with its metadata, owned by a
/// channel.
struct Entry {
    key: String,
    meta: Map<String, Value>,
    channel_id: u64,
}

/// Tracked presences: this node's per topic, in tracking order, and a replica of each other
/// node's.
pub(crate) struct Presence {
    state: Mutex<State>,
    counter: AtomicU64,
    /// Makes `phx_ref`s unique across nodes and restarts.
    ref_prefix: String,
}

struct State {
    local: HashMap<String, Vec<Entry>>,
    /// The version of `local`: bumped by every change, carried by its delta.
    seq: u64,
    remote: HashMap<crate::pubsub::adapter::NodeId, Replica>,
}

impl Presence {
    /// Presences for a node whose incarnation is `incarnation`.
    pub(crate) fn new(incarnation: u64) -> Self {
        let epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_micros() as u64)
            .unwrap_or_default();
        Presence {
            state: Mutex::new(State {
                local: HashMap::new(),
                seq: 0,
                remote: HashMap::new(),
            }),
            counter: AtomicU64::new(0),
            ref_prefix: format!("F{:x}{:x}", epoch, incarnation & 0xffff),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Tracks `key` on `topic` for a channel and tells the other nodes; returns the
    /// `presence_diff` payload for this node's clients.
    pub(crate) fn track(
        &self,
        pubsub: &PubSub,
        topic: &str,
        channel_id: u64,
        key: &str,
        mut meta: Map<String, Value>,
    ) -> Value {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        meta.insert(
            "phx_ref".to_owned(),
            Value::String(format!("{}-{n:x}", self.ref_prefix)),
        );
        let diff = json!({"joins": group([(key, &meta)]), "leaves": {}});
        let mut state = self.state();
        state.seq += 1;
        pubsub.publish(Body::Delta {
            seq: state.seq,
            joins: vec![PresenceEntry {
                topic: topic.to_owned(),
                key: key.to_owned(),
                meta: meta.clone(),
            }],
            leaves: Vec::new(),
        });
        state
            .local
            .entry(topic.to_owned())
            .or_default()
            .push(Entry {
                key: key.to_owned(),
                meta,
                channel_id,
            });
        diff
    }

    /// Removes what a channel tracked under `key` on `topic` and tells the other nodes; returns
    /// the `presence_diff` payload, or `None` if nothing was tracked.
    pub(crate) fn untrack(
        &self,
        pubsub: &PubSub,
        topic: &str,
        channel_id: u64,
        key: &str,
    ) -> Option<Value> {
        self.remove_local(pubsub, |t, e| {
            t == topic && e.channel_id == channel_id && e.key == key
        })
        .pop()
        .map(|(_, diff)| diff)
    }

    /// Removes every presence a channel tracked and tells the other nodes; returns
    /// `(topic, presence_diff payload)` pairs.
    pub(crate) fn untrack_channel(&self, pubsub: &PubSub, channel_id: u64) -> Vec<(String, Value)> {
        self.remove_local(pubsub, |_, e| e.channel_id == channel_id)
    }

    fn remove_local(
        &self,
        pubsub: &PubSub,
        gone: impl Fn(&str, &Entry) -> bool,
    ) -> Vec<(String, Value)> {
        let mut state = self.state();
        let mut diffs = Vec::new();
        let mut leaves = Vec::new();
        state.local.retain(|topic, entries| {
            let (left, kept): (Vec<Entry>, Vec<Entry>) = std::mem::take(entries)
                .into_iter()
                .partition(|e| gone(topic, e));
            *entries = kept;
            if !left.is_empty() {
                let grouped = group(left.iter().map(|e| (e.key.as_str(), &e.meta)));
                diffs.push((topic.clone(), json!({"joins": {}, "leaves": grouped})));
                leaves.extend(left.into_iter().map(|e| PresenceEntry {
                    topic: topic.clone(),
                    key: e.key,
                    meta: e.meta,
                }));
            }
            !entries.is_empty()
        });
        if !leaves.is_empty() {
            state.seq += 1;
            pubsub.publish(Body::Delta {
                seq: state.seq,
                joins: Vec::new(),
                leaves,
            });
        }
        diffs
    }

    /// The `presence_state` payload of a topic, every node's: `{key: {"metas": [meta, …]}}`.
    pub(crate) fn list(&self, topic: &str) -> Value {
        let state = self.state();
        let local = state
            .local
            .get(topic)
            .into_iter()
            .flatten()
            .map(|e| (e.key.as_str(), &e.meta));
        let remote = state
            .remote
            .values()
            .flat_map(|replica| replica.entries.iter())
            .filter(|e| e.topic == topic)
            .map(|e| (e.key.as_str(), &e.meta));
        group(local.chain(remote))
    }

    /// This node's presences and their version, for a dump.
    fn local_entries(state: &State) -> Vec<PresenceEntry> {
        state
            .local
            .iter()
            .flat_map(|(topic, entries)| {
                entries.iter().map(|e| PresenceEntry {
                    topic: topic.clone(),
                    key: e.key.clone(),
                    meta: e.meta.clone(),
                })
            })
            .collect()
    }
}

/// Entries grouped by key, Phoenix's `{key: {"metas": [...]}}`.
fn group<'a>(entries: impl IntoIterator<Item = (&'a str, &'a Map<String, Value>)>) -> Value {
    let mut out = Map::new();
    for (key, meta) in entries {
        let slot = out
            .entry(key.to_owned())
            .or_insert_with(|| json!({"metas": []}));
        if let Some(metas) = slot.get_mut("metas").and_then(Value::as_array_mut) {
            metas.push(Value::Object(meta.clone()));
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pubsub::adapter::NodeId;

    pub(super) fn pubsub() -> PubSub {
        PubSub::new(NodeId {
            name: "test".into(),
            incarnation: 1,
        })
    }

    #[test]
    fn track_list_untrack() {
        let pubsub = pubsub();
        let presence = Presence::new(1);
        let meta = |n: i64| {
            json!({"online_at": n})
                .as_object()
                .cloned()
                .unwrap_or_default()
        };
        let diff = presence.track(&pubsub, "p:1", 1, "alice", meta(1));
        let alice_ref = diff["joins"]["alice"]["metas"][0]["phx_ref"].clone();
        assert!(alice_ref.is_string());
        presence.track(&pubsub, "p:1", 2, "alice", meta(2));
        presence.track(&pubsub, "p:1", 3, "bob", meta(3));
        let state = presence.list("p:1");
        assert_eq!(state["alice"]["metas"].as_array().map(Vec::len), Some(2));
        let diffs = presence.untrack_channel(&pubsub, 1);
        assert_eq!(diffs.len(), 1);
        assert_eq!(
            diffs[0].1["leaves"]["alice"]["metas"][0]["phx_ref"],
            alice_ref
        );
        assert_eq!(
            presence.list("p:1")["alice"]["metas"]
                .as_array()
                .map(Vec::len),
            Some(1)
        );
    }
}
