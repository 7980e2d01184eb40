//! The actor's timers: one ordered queue, one sleep for the earliest deadline. Timers for a
//! request (push, join, leave) are also indexed by its ref, so the reply that makes one
//! obsolete removes it in O(log n) however many requests are in flight.
//!
//! Pushes written at once with the socket's own push timeout, by far the most common timers, take
//! a cheaper lane: their deadlines come in the order the pushes were made, so a FIFO of
//! `(deadline, ref)` holds them sorted, and a reply does nothing to it. Entries whose push was
//! answered are dropped when they reach the front ([`Timers::prune_lane`]), and the lane is
//! compacted when it holds more than twice what is still live, so it never holds more than about
//! twice the pushes in flight.

use std::collections::{BTreeMap, HashMap, VecDeque};
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

/// A lane below this length is never compacted (its live entries are not even counted).
const LANE_COMPACTION_FLOOR: usize = 1024;

/// A timer that is due: one of the queue's, or a push of the lane (by its ref's number).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Due {
    Timer(Timer),
    LanePush(u64),
}

#[derive(Debug, Default)]
pub(crate) struct Timers {
    queue: BTreeMap<Key, Timer>,
    /// Where each request's timer sits in `queue` (refs are unique for the life of a socket).
    by_ref: HashMap<Ref, Key>,
    seq: u64,
    /// Push timeouts in deadline order (see the module docs), by the push's ref number.
    lane: VecDeque<(Instant, u64)>,
    /// The lane is compacted when it grows past this length.
    compact_at: usize,
}

impl Timers {
    /// Arms the timeout of a push sent at once with the socket's push timeout, `at` being no
    /// earlier than the deadline of any lane push before it. Such timers are never cancelled:
    /// the caller tells which are still live when pruning.
    pub(crate) fn add_lane_push(&mut self, at: Instant, push_ref: u64) {
        debug_assert!(self.lane.back().is_none_or(|(last, _)| *last <= at));
        self.lane.push_back((at, push_ref));
    }

    /// Drops the answered pushes at the front of the lane (so the next deadline is a live one),
    /// and compacts the whole lane when it has grown to twice its live length.
    pub(crate) fn prune_lane(&mut self, mut live: impl FnMut(u64) -> bool) {
        while let Some(&(_, push_ref)) = self.lane.front() {
            if live(push_ref) {
                break;
            }
            self.lane.pop_front();
        }
        if self.lane.len() > self.compact_at.max(LANE_COMPACTION_FLOOR) {
            self.lane.retain(|&(_, push_ref)| live(push_ref));
            self.compact_at = 2 * self.lane.len();
            if self.lane.capacity() > 4 * self.lane.len().max(LANE_COMPACTION_FLOOR) {
                self.lane.shrink_to(2 * self.lane.len());
            }
        }
    }

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
        let queued = self.queue.keys().next().map(|(at, _)| *at);
        let lane = self.lane.front().map(|(at, _)| *at);
        match (queued, lane) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Removes and returns the earliest timer if it is due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<Due> {
        let queued = self.queue.keys().next().map(|(at, _)| *at);
        let lane = self.lane.front().map(|(at, _)| *at);
        let from_lane = match (queued, lane) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(q), Some(l)) => l < q,
        };
        if from_lane {
            let (at, push_ref) = self.lane.front().copied()?;
            if at > now {
                return None;
            }
            self.lane.pop_front();
            return Some(Due::LanePush(push_ref));
        }
        let entry = self.queue.first_entry()?;
        if entry.key().0 > now {
            return None;
        }
        let timer = entry.remove();
        if let Some(r) = timer.request_ref() {
            self.by_ref.remove(r);
        }
        Some(Due::Timer(timer))
    }

    /// Drops the timer of the request with ref `request_ref`, if it has one in the queue.
    pub(crate) fn cancel_request(&mut self, request_ref: &Ref) {
        if self.by_ref.is_empty() {
            return;
        }
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
            Some(Due::Timer(Timer::Heartbeat { conn_id: 1 }))
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
            Some(Due::Timer(Timer::Reconnect))
        );
        assert!(matches!(
            t.pop_due(now + Duration::from_secs(11)),
            Some(Due::Timer(Timer::PushTimeout { push_ref, .. }))
                if push_ref == Ref::from("999".to_string())
        ));
        assert_eq!(t.len(), 0);
        assert!(t.by_ref.is_empty());
    }

    #[test]
    fn lane_pushes_and_queued_timers_come_out_in_deadline_order() {
        let now = Instant::now();
        let mut t = Timers::default();
        t.add_lane_push(now + Duration::from_secs(1), 7);
        t.add(now + Duration::from_secs(2), Timer::Reconnect);
        t.add_lane_push(now + Duration::from_secs(3), 8);
        assert_eq!(t.next_deadline(), Some(now + Duration::from_secs(1)));
        assert_eq!(t.pop_due(now), None);
        let later = now + Duration::from_secs(5);
        assert_eq!(t.pop_due(later), Some(Due::LanePush(7)));
        assert_eq!(t.pop_due(later), Some(Due::Timer(Timer::Reconnect)));
        assert_eq!(t.pop_due(later), Some(Due::LanePush(8)));
        assert_eq!(t.pop_due(later), None);
        assert_eq!(t.next_deadline(), None);
    }

    #[test]
    fn pruning_drops_answered_pushes_and_keeps_the_lane_near_its_live_size() {
        let now = Instant::now();
        let mut t = Timers::default();
        let mut live = std::collections::HashSet::new();
        // 100,000 pushes, each answered 10 pushes later except every 1,000th, which never is.
        for n in 0..100_000u64 {
            t.add_lane_push(now + Duration::from_millis(n), n);
            live.insert(n);
            if n >= 10 && (n - 10) % 1_000 != 0 {
                live.remove(&(n - 10));
            }
            t.prune_lane(|r| live.contains(&r));
            assert!(
                t.lane.len() <= 2 * live.len() + LANE_COMPACTION_FLOOR + 1,
                "lane of {} for {} live pushes",
                t.lane.len(),
                live.len()
            );
        }
        // The unanswered pushes are all still there, in order, and nothing answered is left at
        // the front.
        let (_, front) = t.lane.front().copied().unwrap();
        assert!(live.contains(&front));
        let mut due = Vec::new();
        while let Some(Due::LanePush(r)) = t.pop_due(now + Duration::from_secs(1_000)) {
            if live.contains(&r) {
                due.push(r);
            }
        }
        let mut expected: Vec<u64> = live.iter().copied().collect();
        expected.sort_unstable();
        assert_eq!(due, expected);
    }
}
