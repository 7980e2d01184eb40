//! The actor's timers: one ordered queue, one sleep for the earliest deadline.

use std::collections::BTreeMap;
use std::time::Duration;

use slipstream_protocol::Ref;
use tokio::time::Instant;

/// What a timer is for. Each kind is checked against the current state when it fires, so a timer
/// made obsolete (a reply arrived, the connection changed) is simply ignored.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Timer {
    /// Send the next heartbeat, or declare the pending one lost (connection `conn_id`).
    Heartbeat { conn_id: u64 },
    /// Try to connect again.
    Reconnect,
    /// A push's reply is due (whether it was sent or is still buffered).
    PushTimeout {
        topic: String,
        push_ref: Ref,
        after: Duration,
    },
    /// A join's reply is due.
    JoinTimeout { topic: String, join_ref: Ref },
    /// A leave's reply is due.
    LeaveTimeout { leave_ref: Ref },
    /// Rejoin an errored topic (`token` identifies the scheduling).
    Rejoin { topic: String, token: u64 },
}

#[derive(Debug, Default)]
pub(crate) struct Timers {
    queue: BTreeMap<(Instant, u64), Timer>,
    seq: u64,
}

impl Timers {
    pub(crate) fn add(&mut self, at: Instant, timer: Timer) {
        self.seq += 1;
        self.queue.insert((at, self.seq), timer);
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.queue.keys().next().map(|(at, _)| *at)
    }

    /// Removes and returns the earliest timer if it is due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<Timer> {
        let (&key, _) = self.queue.iter().next()?;
        if key.0 <= now {
            self.queue.remove(&key)
        } else {
            None
        }
    }

    /// Drops every timer matching `pred`.
    pub(crate) fn cancel(&mut self, mut pred: impl FnMut(&Timer) -> bool) {
        self.queue.retain(|_, t| !pred(t));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn pops_in_deadline_order_and_only_when_due() {
        let now = Instant::now();
        let mut t = Timers::default();
        t.add(now + Duration::from_secs(2), Timer::Reconnect);
        t.add(
            now + Duration::from_secs(1),
            Timer::Heartbeat { conn_id: 1 },
        );
        assert_eq!(t.next_deadline(), Some(now + Duration::from_secs(1)));
        assert_eq!(t.pop_due(now), None);
        assert_eq!(
            t.pop_due(now + Duration::from_secs(5)),
            Some(Timer::Heartbeat { conn_id: 1 })
        );
        t.cancel(|t| *t == Timer::Reconnect);
        assert_eq!(t.next_deadline(), None);
    }
}
