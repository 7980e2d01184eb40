//! The actor's timers: one ordered queue, one sleep for the earliest deadline. Timers for a
//! request (push, join, leave) are also indexed by its ref, so the reply that makes one
//! obsolete removes it in O(log n) however many requests are in flight.

use std::collections::{BTreeMap, HashMap};
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

impl Timer {
    /// The ref of the request this timer belongs to, if any.
    fn request_ref(&self) -> Option<&Ref> {
        match self {
            Timer::PushTimeout { push_ref, .. } => Some(push_ref),
            Timer::JoinTimeout { join_ref, .. } => Some(join_ref),
            Timer::LeaveTimeout { leave_ref } => Some(leave_ref),
            Timer::Heartbeat { .. } | Timer::Reconnect | Timer::Rejoin { .. } => None,
        }
    }
}

type Key = (Instant, u64);

#[derive(Debug, Default)]
pub(crate) struct Timers {
    queue: BTreeMap<Key, Timer>,
    /// Where each request's timer sits in `queue` (refs are unique for the life of a socket).
    by_ref: HashMap<Ref, Key>,
    seq: u64,
}

impl Timers {
    pub(crate) fn add(&mut self, at: Instant, timer: Timer) {
        self.seq += 1;
        let key = (at, self.seq);
        if let Some(r) = timer.request_ref()
            && let Some(old) = self.by_ref.insert(r.clone(), key)
        {
            self.queue.remove(&old);
        }
        self.queue.insert(key, timer);
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.queue.keys().next().map(|(at, _)| *at)
    }

    /// Removes and returns the earliest timer if it is due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<Timer> {
        let entry = self.queue.first_entry()?;
        if entry.key().0 > now {
            return None;
        }
        let timer = entry.remove();
        if let Some(r) = timer.request_ref() {
            self.by_ref.remove(r);
        }
        Some(timer)
    }

    /// Drops the timer of the request with ref `request_ref`, if it has one.
    pub(crate) fn cancel_request(&mut self, request_ref: &Ref) {
        if let Some(key) = self.by_ref.remove(request_ref) {
            self.queue.remove(&key);
        }
    }

    /// Drops every timer matching `pred` (a scan: for the rare kinds, not per reply).
    pub(crate) fn cancel(&mut self, mut pred: impl FnMut(&Timer) -> bool) {
        let by_ref = &mut self.by_ref;
        self.queue.retain(|_, t| {
            let drop = pred(t);
            if drop && let Some(r) = t.request_ref() {
                by_ref.remove(r);
            }
            !drop
        });
    }

    /// How many timers are armed.
    #[cfg(test)]
    fn len(&self) -> usize {
        debug_assert!(self.by_ref.len() <= self.queue.len());
        self.queue.len()
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

    #[test]
    fn a_request_timer_is_cancelled_by_its_ref_and_leaves_no_index_behind() {
        let now = Instant::now();
        let mut t = Timers::default();
        for n in 0..1000 {
            t.add(
                now + Duration::from_secs(10),
                Timer::PushTimeout {
                    topic: "t".into(),
                    push_ref: Ref::from(n.to_string()),
                    after: Duration::from_secs(10),
                },
            );
        }
        t.add(now + Duration::from_secs(1), Timer::Reconnect);
        for n in 0..999 {
            t.cancel_request(&Ref::from(n.to_string()));
        }
        t.cancel_request(&Ref::from("no such ref".to_string()));
        assert_eq!(t.len(), 2);
        assert_eq!(
            t.pop_due(now + Duration::from_secs(2)),
            Some(Timer::Reconnect)
        );
        assert!(matches!(
            t.pop_due(now + Duration::from_secs(11)),
            Some(Timer::PushTimeout { push_ref, .. }) if push_ref == Ref::from("999".to_string())
        ));
        assert_eq!(t.len(), 0);
        assert!(t.by_ref.is_empty());
    }
}
