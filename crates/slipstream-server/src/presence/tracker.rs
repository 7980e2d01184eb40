//! Presence across nodes, in the spirit of `Phoenix.Tracker`: heartbeats, deltas and dumps over
//! the PubSub adapter, and a replica of every other node's presences.
//!
//! * Every node publishes a heartbeat each `node_heartbeat` carrying the version of its own
//!   presences. A node heard from for the first time, or whose heartbeat or delta shows that a
//!   change was missed (versions are consecutive), is asked for a dump of all its presences,
//!   which replaces the replica; the difference goes to this node's clients as `presence_diff`.
//! * A node not heard from for `node_timeout` is down: its presences leave (one `presence_diff`
//!   per topic to this node's clients). A node restarted under the same name is a new
//!   incarnation; the old one's presences leave at once.
//!
//! Guarantees: every node converges to every live node's presences within a heartbeat of the
//! last change reaching it; a killed node's presences leave everywhere within `node_timeout`
//! plus one heartbeat. Not guaranteed: while the PubSub engine is unreachable, nodes cut off from
//! each other see each other leave, and rejoin once it is back.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Presence, group};
use crate::pubsub::PubSub;
use crate::pubsub::adapter::{Body, NodeId, PresenceEntry};

/// What this node knows of another node's presences.
pub(crate) struct Replica {
    /// The version held, `None` until a dump came.
    seq: Option<u64>,
    last_seen: Instant,
    /// When a dump was last asked for (at most one a heartbeat).
    dump_asked: Option<Instant>,
    pub(super) entries: Vec<PresenceEntry>,
}

/// A `presence_diff` for this node's clients: topic and payload.
type Diff = (String, Value);

impl Presence {
    /// Applies a presence message from another node; returns the diffs for this node's clients.
    pub(crate) fn receive(
        &self,
        pubsub: &PubSub,
        from: &NodeId,
        body: Body,
        heartbeat: Duration,
    ) -> Vec<Diff> {
        let mut state = self.state();
        if let Body::DumpRequest { target } = &body {
            if target == pubsub.node() {
                pubsub.publish(Body::Dump {
                    seq: state.seq,
                    entries: Presence::local_entries(&state),
                });
            }
            return Vec::new();
        }
        let mut diffs = Vec::new();
        // A restarted node: its earlier incarnation is gone.
        let stale: Vec<NodeId> = state
            .remote
            .keys()
            .filter(|id| id.name == from.name && id.incarnation != from.incarnation)
            .cloned()
            .collect();
        for id in stale {
            if let Some(old) = state.remote.remove(&id) {
                diffs.extend(changes(&old.entries, &[]));
            }
        }
        let replica = state.remote.entry(from.clone()).or_insert_with(|| Replica {
            seq: None,
            last_seen: Instant::now(),
            dump_asked: None,
            entries: Vec::new(),
        });
        replica.last_seen = Instant::now();
        let in_step = match &body {
            Body::Heartbeat { seq } => replica.seq == Some(*seq),
            Body::Delta { seq, .. } => replica.seq.is_some_and(|held| held + 1 == *seq),
            _ => true,
        };
        match body {
            Body::Delta {
                seq, joins, leaves, ..
            } if in_step => {
                replica
                    .entries
                    .retain(|e| !leaves.iter().any(|l| same(e, l)));
                replica.entries.extend(joins.iter().cloned());
                replica.seq = Some(seq);
                diffs.extend(changes(&leaves, &[]));
                diffs.extend(changes(&[], &joins));
            }
            Body::Dump { seq, entries } => {
                let old = std::mem::take(&mut replica.entries);
                diffs.extend(changes(&old, &entries));
                replica.entries = entries;
                replica.seq = Some(seq);
                replica.dump_asked = None;
            }
            _ => {}
        }
        if !in_step {
            let due = replica
                .dump_asked
                .is_none_or(|asked| asked.elapsed() >= heartbeat);
            if due {
                replica.dump_asked = Some(Instant::now());
                pubsub.publish(Body::DumpRequest {
                    target: from.clone(),
                });
            }
        }
        diffs
    }

    /// The other nodes this node hears from, by name, sorted.
    pub(crate) fn nodes(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .state()
            .remote
            .keys()
            .map(|id| id.name.clone())
            .collect();
        names.sort();
        names
    }

    /// Publishes this node's heartbeat and forgets nodes silent for `timeout`; returns the
    /// diffs (their presences leaving) for this node's clients.
    pub(crate) fn tick(&self, pubsub: &PubSub, timeout: Duration) -> Vec<Diff> {
        let mut state = self.state();
        pubsub.publish(Body::Heartbeat { seq: state.seq });
        let down: Vec<NodeId> = state
            .remote
            .iter()
            .filter(|(_, r)| r.last_seen.elapsed() >= timeout)
            .map(|(id, _)| id.clone())
            .collect();
        let mut diffs = Vec::new();
        for id in down {
            if let Some(replica) = state.remote.remove(&id) {
                tracing::warn!(
                    node = %id.name,
                    "node {} not heard from for {} ms: its {} presences leave",
                    id.name,
                    timeout.as_millis(),
                    replica.entries.len()
                );
                diffs.extend(changes(&replica.entries, &[]));
            }
        }
        diffs
    }
}

/// Whether two entries are the same presence (topic, key and `phx_ref`).
fn same(a: &PresenceEntry, b: &PresenceEntry) -> bool {
    a.topic == b.topic && a.key == b.key && a.meta.get("phx_ref") == b.meta.get("phx_ref")
}

/// The `presence_diff`s, per topic, that turn `before` into `after`.
fn changes(before: &[PresenceEntry], after: &[PresenceEntry]) -> Vec<Diff> {
    let left: Vec<&PresenceEntry> = before
        .iter()
        .filter(|b| !after.iter().any(|a| same(a, b)))
        .collect();
    let joined: Vec<&PresenceEntry> = after
        .iter()
        .filter(|a| !before.iter().any(|b| same(a, b)))
        .collect();
    let topics: HashSet<&str> = left
        .iter()
        .chain(joined.iter())
        .map(|e| e.topic.as_str())
        .collect();
    let mut topics: Vec<&str> = topics.into_iter().collect();
    topics.sort_unstable();
    topics
        .into_iter()
        .map(|topic| {
            let pick = |list: &[&PresenceEntry]| {
                let entries: Vec<(&str, &serde_json::Map<String, Value>)> = list
                    .iter()
                    .filter(|e| e.topic == topic)
                    .map(|e| (e.key.as_str(), &e.meta))
                    .collect();
                group(entries)
            };
            (
                topic.to_owned(),
                json!({"joins": pick(&joined), "leaves": pick(&left)}),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presence::tests::pubsub;

    fn entry(topic: &str, key: &str, phx_ref: &str) -> PresenceEntry {
        PresenceEntry {
            topic: topic.into(),
            key: key.into(),
            meta: json!({"phx_ref": phx_ref}).as_object().cloned().unwrap(),
        }
    }

    fn other() -> NodeId {
        NodeId {
            name: "b".into(),
            incarnation: 9,
        }
    }

    const BEAT: Duration = Duration::from_secs(1);

    #[test]
    fn a_dump_then_deltas_build_the_replica_and_the_diffs() {
        let (pubsub, presence) = (pubsub(), Presence::new(1));
        let dump = Body::Dump {
            seq: 4,
            entries: vec![entry("p:1", "alice", "r1")],
        };
        let diffs = presence.receive(&pubsub, &other(), dump, BEAT);
        assert_eq!(diffs.len(), 1);
        assert_eq!(diffs[0].1["joins"]["alice"]["metas"][0]["phx_ref"], "r1");
        let delta = Body::Delta {
            seq: 5,
            joins: vec![entry("p:1", "bob", "r2")],
            leaves: vec![entry("p:1", "alice", "r1")],
        };
        let diffs = presence.receive(&pubsub, &other(), delta, BEAT);
        assert_eq!(diffs.len(), 2, "{diffs:?}");
        let state = presence.list("p:1");
        assert!(state.get("alice").is_none());
        assert_eq!(state["bob"]["metas"][0]["phx_ref"], "r2");
    }

    #[test]
    fn a_delta_out_of_step_is_not_applied() {
        let (pubsub, presence) = (pubsub(), Presence::new(1));
        presence.receive(
            &pubsub,
            &other(),
            Body::Dump {
                seq: 1,
                entries: vec![],
            },
            BEAT,
        );
        let skipped = Body::Delta {
            seq: 3,
            joins: vec![entry("p:1", "carol", "r3")],
            leaves: vec![],
        };
        assert!(
            presence
                .receive(&pubsub, &other(), skipped, BEAT)
                .is_empty()
        );
        assert_eq!(presence.list("p:1"), json!({}));
    }

    #[test]
    fn a_silent_node_leaves_and_a_restarted_one_replaces_its_old_self() {
        let (pubsub, presence) = (pubsub(), Presence::new(1));
        let dump = Body::Dump {
            seq: 1,
            entries: vec![entry("p:1", "alice", "r1")],
        };
        presence.receive(&pubsub, &other(), dump.clone(), BEAT);
        let restarted = NodeId {
            name: "b".into(),
            incarnation: 10,
        };
        let diffs = presence.receive(&pubsub, &restarted, Body::Heartbeat { seq: 0 }, BEAT);
        assert_eq!(diffs[0].1["leaves"]["alice"]["metas"][0]["phx_ref"], "r1");
        presence.receive(&pubsub, &restarted, dump, BEAT);
        assert!(presence.tick(&pubsub, Duration::from_secs(60)).is_empty());
        let diffs = presence.tick(&pubsub, Duration::ZERO);
        assert_eq!(diffs.len(), 1);
        assert_eq!(presence.list("p:1"), json!({}));
    }
}
