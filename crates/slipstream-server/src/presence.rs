//! Phoenix.Presence on a single node: who is on each topic, `presence_state` and `presence_diff`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

/// One tracked presence: a key (e.g. a user id) with its metadata, owned by a channel.
struct Entry {
    key: String,
    meta: Map<String, Value>,
    channel_id: u64,
}

/// Tracked presences per topic, in tracking order.
pub(crate) struct Presence {
    topics: Mutex<HashMap<String, Vec<Entry>>>,
    counter: AtomicU64,
    epoch: u64,
}

impl Default for Presence {
    fn default() -> Self {
        let epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_micros() as u64)
            .unwrap_or_default();
        Presence {
            topics: Mutex::default(),
            counter: AtomicU64::new(0),
            epoch,
        }
    }
}

impl Presence {
    /// Tracks `key` on `topic` for a channel; returns the `presence_diff` payload to broadcast.
    pub(crate) fn track(
        &self,
        topic: &str,
        channel_id: u64,
        key: &str,
        mut meta: Map<String, Value>,
    ) -> Value {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        meta.insert(
            "phx_ref".to_owned(),
            Value::String(format!("F{:x}-{n:x}", self.epoch)),
        );
        let diff = json!({"joins": group([(key, &meta)]), "leaves": {}});
        let mut topics = self.topics.lock().unwrap_or_else(|e| e.into_inner());
        topics.entry(topic.to_owned()).or_default().push(Entry {
            key: key.to_owned(),
            meta,
            channel_id,
        });
        diff
    }

    /// Removes what a channel tracked under `key` on `topic`; returns the `presence_diff` payload
    /// to broadcast, or `None` if nothing was tracked.
    pub(crate) fn untrack(&self, topic: &str, channel_id: u64, key: &str) -> Option<Value> {
        let mut topics = self.topics.lock().unwrap_or_else(|e| e.into_inner());
        let entries = topics.get_mut(topic)?;
        let (gone, kept): (Vec<Entry>, Vec<Entry>) = std::mem::take(entries)
            .into_iter()
            .partition(|e| e.channel_id == channel_id && e.key == key);
        *entries = kept;
        if entries.is_empty() {
            topics.remove(topic);
        }
        if gone.is_empty() {
            return None;
        }
        let leaves = group(gone.iter().map(|e| (e.key.as_str(), &e.meta)));
        Some(json!({"joins": {}, "leaves": leaves}))
    }

    /// Removes every presence a channel tracked; returns `(topic, presence_diff payload)` pairs.
    pub(crate) fn untrack_channel(&self, channel_id: u64) -> Vec<(String, Value)> {
        let mut topics = self.topics.lock().unwrap_or_else(|e| e.into_inner());
        let mut diffs = Vec::new();
        topics.retain(|topic, entries| {
            let (gone, kept): (Vec<Entry>, Vec<Entry>) = std::mem::take(entries)
                .into_iter()
                .partition(|e| e.channel_id == channel_id);
            *entries = kept;
            if !gone.is_empty() {
                let leaves = group(gone.iter().map(|e| (e.key.as_str(), &e.meta)));
                diffs.push((topic.clone(), json!({"joins": {}, "leaves": leaves})));
            }
            !entries.is_empty()
        });
        diffs
    }

    /// The `presence_state` payload of a topic: `{key: {"metas": [meta, …]}}`.
    pub(crate) fn list(&self, topic: &str) -> Value {
        let topics = self.topics.lock().unwrap_or_else(|e| e.into_inner());
        match topics.get(topic) {
            Some(entries) => group(entries.iter().map(|e| (e.key.as_str(), &e.meta))),
            None => json!({}),
        }
    }
}

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

    #[test]
    fn track_list_untrack() {
        let presence = Presence::default();
        let meta = |n: i64| {
            json!({"online_at": n})
                .as_object()
                .cloned()
                .unwrap_or_default()
        };
        let diff = presence.track("p:1", 1, "alice", meta(1));
        let alice_ref = diff["joins"]["alice"]["metas"][0]["phx_ref"].clone();
        assert!(alice_ref.is_string());
        presence.track("p:1", 2, "alice", meta(2));
        presence.track("p:1", 3, "bob", meta(3));
        let state = presence.list("p:1");
        assert_eq!(state["alice"]["metas"].as_array().map(Vec::len), Some(2));
        let diffs = presence.untrack_channel(1);
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
