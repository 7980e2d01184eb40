//! Phoenix Presence reconciliation, with phoenix.js's semantics (docs/protocol.md §13.2).
//!
//! A state maps each presence key to `{"metas": [{…, "phx_ref": …}, …], …}`. [`sync_state`] merges a
//! full `presence_state` snapshot, [`sync_diff`] applies a `presence_diff` (joins first, then
//! leaves), and [`list`] maps each entry through a chooser. [`Presence`] keeps the state and
//! buffers diffs that arrive before the first snapshot.
//!
//! ```
//! use serde_json::json;
//! use slipstream_client::presence::Presence;
//!
//! let mut p = Presence::new();
//! p.apply_state(&json!({"ana": {"metas": [{"phx_ref": "1"}]}}));
//! p.apply_diff(&json!({"joins": {"bo": {"metas": [{"phx_ref": "2"}]}}, "leaves": {}}));
//! assert_eq!(p.keys(), ["ana", "bo"]);
//! p.apply_diff(&json!({"joins": {}, "leaves": {"ana": {"metas": [{"phx_ref": "1"}]}}}));
//! assert_eq!(p.keys(), ["bo"]);
//! ```

use std::collections::{BTreeMap, HashSet};

use serde_json::Value;

/// Presence key → presence (`{"metas": [...], ...}`).
pub type PresenceState = BTreeMap<String, Value>;

fn metas(presence: &Value) -> &[Value] {
    presence
        .get("metas")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn refs(presence: &Value) -> HashSet<&str> {
    metas(presence)
        .iter()
        .filter_map(|m| m.get("phx_ref").and_then(Value::as_str))
        .collect()
}

fn with_metas(presence: &Value, new_metas: Vec<Value>) -> Value {
    let mut out = match presence {
        Value::Object(map) => Value::Object(map.clone()),
        _ => Value::Object(Default::default()),
    };
    out["metas"] = Value::Array(new_metas);
    out
}

/// Turns a JSON object into a state; anything else is an empty state.
pub fn state_from_value(value: &Value) -> PresenceState {
    value
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

/// Merges a full snapshot into `current` as phoenix.js's `syncState` does: keys missing from
/// `incoming` leave; new keys join; for known keys, metas are compared by `phx_ref`.
pub fn sync_state(current: &PresenceState, incoming: &PresenceState) -> PresenceState {
    let mut joins = PresenceState::new();
    let mut leaves = PresenceState::new();
    for (key, presence) in current {
        if !incoming.contains_key(key) {
            leaves.insert(key.clone(), presence.clone());
        }
    }
    for (key, new_presence) in incoming {
        match current.get(key) {
            None => {
                joins.insert(key.clone(), new_presence.clone());
            }
            Some(old) => {
                let new_refs = refs(new_presence);
                let old_refs = refs(old);
                let joined: Vec<Value> = metas(new_presence)
                    .iter()
                    .filter(|m| {
                        m.get("phx_ref")
                            .and_then(Value::as_str)
                            .is_none_or(|r| !old_refs.contains(r))
                    })
                    .cloned()
                    .collect();
                let left: Vec<Value> = metas(old)
                    .iter()
                    .filter(|m| {
                        m.get("phx_ref")
                            .and_then(Value::as_str)
                            .is_none_or(|r| !new_refs.contains(r))
                    })
                    .cloned()
                    .collect();
                if !joined.is_empty() {
                    joins.insert(key.clone(), with_metas(new_presence, joined));
                }
                if !left.is_empty() {
                    leaves.insert(key.clone(), with_metas(old, left));
                }
            }
        }
    }
    sync_diff(current, &joins, &leaves)
}

/// Applies a diff as phoenix.js's `syncDiff`: joins first (older metas of a known key are kept in
/// front of the joined ones), then leaves (metas removed by `phx_ref`; a key with no metas left is
/// deleted).
pub fn sync_diff(
    state: &PresenceState,
    joins: &PresenceState,
    leaves: &PresenceState,
) -> PresenceState {
    let mut state = state.clone();
    for (key, joined) in joins {
        let mut new_presence = joined.clone();
        if let Some(previous) = state.get(key) {
            let joined_refs = refs(joined);
            let mut combined: Vec<Value> = metas(previous)
                .iter()
                .filter(|m| {
                    m.get("phx_ref")
                        .and_then(Value::as_str)
                        .is_none_or(|r| !joined_refs.contains(r))
                })
                .cloned()
                .collect();
            combined.extend(metas(joined).iter().cloned());
            new_presence = with_metas(joined, combined);
        }
        state.insert(key.clone(), new_presence);
    }
    for (key, left) in leaves {
        let Some(current) = state.get(key) else {
            continue;
        };
        let left_refs = refs(left);
        let remaining: Vec<Value> = metas(current)
            .iter()
            .filter(|m| {
                m.get("phx_ref")
                    .and_then(Value::as_str)
                    .is_none_or(|r| !left_refs.contains(r))
            })
            .cloned()
            .collect();
        if remaining.is_empty() {
            state.remove(key);
        } else {
            let updated = with_metas(current, remaining);
            state.insert(key.clone(), updated);
        }
    }
    state
}

/// Maps every entry through `chooser(key, presence)`, in key order.
pub fn list<T>(state: &PresenceState, mut chooser: impl FnMut(&str, &Value) -> T) -> Vec<T> {
    state.iter().map(|(k, v)| chooser(k, v)).collect()
}

/// A presence state fed from `presence_state` / `presence_diff` payloads.
///
/// Diffs that arrive before the first full state are buffered and applied after it, in order.
#[derive(Debug, Clone, Default)]
pub struct Presence {
    state: PresenceState,
    synced: bool,
    pending: Vec<Value>,
}

impl Presence {
    /// An empty, not yet synced presence.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies a `presence_state` payload, then any buffered diffs.
    pub fn apply_state(&mut self, payload: &Value) {
        self.state = sync_state(&self.state, &state_from_value(payload));
        self.synced = true;
        for diff in std::mem::take(&mut self.pending) {
            self.apply_diff(&diff);
        }
    }

    /// Applies a `presence_diff` payload (`{"joins": …, "leaves": …}`), or buffers it until the
    /// first state arrives.
    pub fn apply_diff(&mut self, payload: &Value) {
        if !self.synced {
            self.pending.push(payload.clone());
            return;
        }
        let joins = state_from_value(&payload["joins"]);
        let leaves = state_from_value(&payload["leaves"]);
        self.state = sync_diff(&self.state, &joins, &leaves);
    }

    /// Forgets the state (e.g. after a rejoin, before the new snapshot).
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// The current state.
    pub fn state(&self) -> &PresenceState {
        &self.state
    }

    /// The presence keys, sorted.
    pub fn keys(&self) -> Vec<String> {
        self.state.keys().cloned().collect()
    }

    /// [`list`] over the current state.
    pub fn list<T>(&self, chooser: impl FnMut(&str, &Value) -> T) -> Vec<T> {
        list(&self.state, chooser)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn st(v: Value) -> PresenceState {
        state_from_value(&v)
    }

    #[test]
    fn sync_state_computes_joins_and_leaves_against_the_old_state() {
        let current = st(json!({
            "ana": {"metas": [{"phx_ref": "1"}]},
            "bo": {"metas": [{"phx_ref": "2"}, {"phx_ref": "3"}]},
        }));
        let incoming = st(json!({
            "bo": {"metas": [{"phx_ref": "3"}, {"phx_ref": "4"}], "user": {"n": 1}},
            "cy": {"metas": [{"phx_ref": "5"}]},
        }));
        let s = sync_state(&current, &incoming);
        assert_eq!(s.keys().collect::<Vec<_>>(), ["bo", "cy"]);
        // bo: kept meta 3, gained 4 (after the older ones), lost 2; non-meta fields from the join
        assert_eq!(
            s["bo"],
            json!({"metas": [{"phx_ref": "3"}, {"phx_ref": "4"}], "user": {"n": 1}})
        );
    }

    #[test]
    fn sync_diff_applies_joins_before_leaves_for_updates() {
        let state = st(json!({"ana": {"metas": [{"status": "online", "phx_ref": "F1a"}]}}));
        let joins = st(
            json!({"ana": {"metas": [{"status": "away", "phx_ref": "F2a", "phx_ref_prev": "F1a"}]}}),
        );
        let leaves = st(json!({"ana": {"metas": [{"status": "online", "phx_ref": "F1a"}]}}));
        let s = sync_diff(&state, &joins, &leaves);
        assert_eq!(
            s["ana"]["metas"],
            json!([{"status": "away", "phx_ref": "F2a", "phx_ref_prev": "F1a"}])
        );
    }

    #[test]
    fn second_device_keeps_older_metas_first_and_leave_of_unknown_key_is_skipped() {
        let state = st(json!({"ana": {"metas": [{"phx_ref": "1"}]}}));
        let s = sync_diff(
            &state,
            &st(json!({"ana": {"metas": [{"phx_ref": "2"}]}})),
            &st(json!({"zed": {"metas": [{"phx_ref": "9"}]}})),
        );
        assert_eq!(
            s["ana"]["metas"],
            json!([{"phx_ref": "1"}, {"phx_ref": "2"}])
        );
        let s = sync_diff(
            &s,
            &PresenceState::new(),
            &st(json!({"ana": {"metas": [{"phx_ref": "1"}]}})),
        );
        assert_eq!(s["ana"]["metas"], json!([{"phx_ref": "2"}]));
        let s = sync_diff(
            &s,
            &PresenceState::new(),
            &st(json!({"ana": {"metas": [{"phx_ref": "2"}]}})),
        );
        assert!(s.is_empty());
    }

    #[test]
    fn keys_like_proto_are_ordinary() {
        let s = sync_diff(
            &PresenceState::new(),
            &st(json!({"__proto__": {"metas": [{"phx_ref": "1"}]}})),
            &PresenceState::new(),
        );
        assert_eq!(list(&s, |k, _| k.to_owned()), ["__proto__"]);
    }

    #[test]
    fn diffs_before_the_first_state_are_buffered() {
        let mut p = Presence::new();
        p.apply_diff(&json!({"joins": {"bo": {"metas": [{"phx_ref": "2"}]}}, "leaves": {}}));
        assert!(p.keys().is_empty());
        p.apply_state(&json!({"ana": {"metas": [{"phx_ref": "1"}]}}));
        assert_eq!(p.keys(), ["ana", "bo"]);
        assert_eq!(
            p.list(|_, v| v["metas"].as_array().map_or(0, Vec::len)),
            [1, 1]
        );
    }
}
