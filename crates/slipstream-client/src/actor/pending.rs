//! Requests on the wire that wait for a `phx_reply`, keyed by ref.

use std::collections::HashMap;

use slipstream_protocol::Ref;
use tokio::time::Instant;

/// What a pending ref stands for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Pending {
    Push { topic: String, sent_at: Instant },
    Join { topic: String, sent_at: Instant },
    Leave { topic: String },
}

impl Pending {
    pub(crate) fn topic(&self) -> &str {
        match self {
            Pending::Push { topic, .. }
            | Pending::Join { topic, .. }
            | Pending::Leave { topic } => topic,
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct PendingTable {
    entries: HashMap<Ref, Pending>,
}

impl PendingTable {
    pub(crate) fn insert(&mut self, r: Ref, p: Pending) {
        self.entries.insert(r, p);
    }

    /// Takes the entry for `r` if it belongs to `topic` (a robust client matches topic and ref).
    pub(crate) fn take(&mut self, r: &Ref, topic: &str) -> Option<Pending> {
        if self.entries.get(r)?.topic() == topic {
            self.entries.remove(r)
        } else {
            None
        }
    }

    pub(crate) fn remove(&mut self, r: &Ref) -> Option<Pending> {
        self.entries.remove(r)
    }

    /// Removes and returns every entry (connection lost).
    pub(crate) fn drain(&mut self) -> Vec<(Ref, Pending)> {
        let mut all: Vec<_> = self.entries.drain().collect();
        // Report in ref order so events come out in the order the requests were made.
        all.sort_by_key(|(r, _)| r.as_text().parse::<u64>().unwrap_or(u64::MAX));
        all
    }

    /// Removes and returns the entries of one topic.
    pub(crate) fn drain_topic(&mut self, topic: &str) -> Vec<(Ref, Pending)> {
        let refs: Vec<Ref> = self
            .entries
            .iter()
            .filter(|(_, p)| p.topic() == topic)
            .map(|(r, _)| r.clone())
            .collect();
        let mut out: Vec<_> = refs
            .into_iter()
            .filter_map(|r| self.entries.remove(&r).map(|p| (r, p)))
            .collect();
        out.sort_by_key(|(r, _)| r.as_text().parse::<u64>().unwrap_or(u64::MAX));
        out
    }
}
