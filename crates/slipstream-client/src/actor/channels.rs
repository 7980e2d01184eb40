//! Per-topic state: status, current join_ref, join params and the push buffer.

use std::time::Duration;

use slipstream_protocol::{Payload, Ref};
use tokio::time::Instant;

use crate::event::JoinStatus;

/// A push waiting for its topic's join; its timeout is already running.
#[derive(Debug, Clone)]
pub(crate) struct BufferedPush {
    pub(crate) push_ref: Ref,
    pub(crate) event: String,
    pub(crate) payload: Payload,
    pub(crate) deadline: Instant,
    /// The push's timeout, for the error that reports it.
    pub(crate) timeout: Duration,
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
