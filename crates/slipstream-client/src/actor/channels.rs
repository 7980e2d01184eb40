//! Per-topic state: status, current join_ref, join params and the push buffer.

use std::collections::HashMap;
use std::time::Duration;

use slipstream_protocol::{Payload, Ref, SharedStr};
use tokio::time::Instant;

use crate::event::JoinStatus;

/// A push waiting for its topic's join; its timeout is already running.
#[derive(Debug, Clone)]
pub(crate) struct BufferedPush {
    pub(crate) push_ref: Ref,
    pub(crate) event: SharedStr,
    pub(crate) payload: Payload,
    pub(crate) deadline: Instant,
    /// The push's timeout, for the error that reports it.
    pub(crate) timeout: Duration,
    /// `false` for a no-reply push.
    pub(crate) wants_reply: bool,
}

#[derive(Debug)]
pub(crate) struct Channel {
    pub(crate) status: JoinStatus,
    pub(crate) params: Payload,
    /// The join_ref of the join on the wire or in force; `None` when no join was sent on the
    /// current connection.
    pub(crate) join_ref: Option<Ref>,
    pub(crate) buffer: Vec<BufferedPush>,
    pub(crate) rejoin_attempt: u32,
    /// Identifies the latest scheduled rejoin; older rejoin timers are ignored.
    pub(crate) rejoin_token: u64,
    /// The server's response to the join in force, for a `join` of a topic already joined.
    pub(crate) response: Option<Payload>,
}

impl Channel {
    pub(crate) fn new(params: Payload) -> Self {
        Channel {
            status: JoinStatus::Joining,
            params,
            join_ref: None,
            buffer: Vec::new(),
            rejoin_attempt: 0,
            rejoin_token: 0,
            response: None,
        }
    }

    /// Whether a server frame with this `join_ref` belongs to the current join. A null join_ref
    /// (broadcasts, unmatched-topic replies) always does.
    pub(crate) fn accepts(&self, join_ref: Option<&Ref>) -> bool {
        match join_ref {
            None => true,
            Some(r) => self.join_ref.as_ref() == Some(r),
        }
    }
}

/// How many closed topics keep their params for a later [`Command::Rejoin`](super::Command).
pub(crate) const MAX_CLOSED_TOPICS: usize = 1024;

/// The params of topics that closed, so that `rejoin` can join them again. Bounded: past
/// [`MAX_CLOSED_TOPICS`] the topic that closed longest ago is forgotten (a rejoin of it is then
/// ignored, as for a topic never joined), so a socket joining ever new topics keeps a fixed size.
#[derive(Debug, Default)]
pub(crate) struct ClosedTopics {
    entries: HashMap<String, (u64, Payload)>,
    seq: u64,
}

impl ClosedTopics {
    pub(crate) fn insert(&mut self, topic: String, params: Payload) {
        self.seq += 1;
        self.entries.insert(topic, (self.seq, params));
        if self.entries.len() > MAX_CLOSED_TOPICS {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, (seq, _))| *seq)
                .map(|(topic, _)| topic.clone());
            if let Some(topic) = oldest {
                self.entries.remove(&topic);
            }
        }
    }

    pub(crate) fn remove(&mut self, topic: &str) {
        self.entries.remove(topic);
    }

    pub(crate) fn get(&self, topic: &str) -> Option<&Payload> {
        self.entries.get(topic).map(|(_, params)| params)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_topics_forget_the_oldest_past_the_bound() {
        let mut closed = ClosedTopics::default();
        for i in 0..MAX_CLOSED_TOPICS + 10 {
            closed.insert(format!("t:{i}"), Payload::empty());
        }
        assert_eq!(closed.len(), MAX_CLOSED_TOPICS);
        assert!(closed.get("t:0").is_none());
        assert!(closed.get("t:9").is_none());
        assert!(closed.get("t:10").is_some());
        assert!(
            closed
                .get(&format!("t:{}", MAX_CLOSED_TOPICS + 9))
                .is_some()
        );
        // Closing a topic again refreshes it.
        closed.insert("t:10".into(), Payload::empty());
        closed.insert("new".into(), Payload::empty());
        assert!(closed.get("t:10").is_some());
        assert!(closed.get("t:11").is_none());
    }
}
