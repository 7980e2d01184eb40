//! The events of one turn of the loop, gathered to reach the mailbox together.

use std::collections::VecDeque;

use crate::burst_storage;
use crate::event::SocketEvent;
use crate::idle_storage::{Carried, IDLE_SLOTS};
use crate::mailbox::Mailbox;

/// Events emitted while the actor handles a batch of frames or commands; [`finish`](Self::finish)
/// puts them into the mailbox under one lock, with one wake-up.
///
/// A socket keeps a burst's storage only while its events wait. A batch handed to an empty
/// mailbox becomes its queue (see [`Mailbox::append`]), and the mailbox gives the storage back
/// to the process's pool ([`crate::burst_storage`]) when a consumer empties it; the batch itself
/// keeps no more than a few slots. A turn takes room for as many events as the last turn
/// emitted, so a burst does not regrow its storage slot by slot. An idle socket keeps none (see
/// [`crate::idle_storage`]).
#[derive(Debug, Default)]
pub(super) struct EventBatch {
    events: VecDeque<SocketEvent>,
    gathering: bool,
    /// How many events the last turn that emitted any emitted.
    last_turn: usize,
    /// Events gathered over the socket's life (whether a few slots are worth keeping).
    carried: Carried,
}

impl EventBatch {
    /// Starts gathering; `false` if a batch is already being gathered (whose
    /// [`finish`](Self::finish) then delivers these events too).
    pub(super) fn start(&mut self) -> bool {
        !std::mem::replace(&mut self.gathering, true)
    }

    /// Adds `event` to the batch being gathered, or gives it back when there is none.
    #[inline]
    pub(super) fn push(&mut self, event: SocketEvent) -> Result<(), SocketEvent> {
        if !self.gathering {
            return Err(event);
        }
        if self.events.is_empty() && self.events.capacity() < self.last_turn {
            self.make_room();
        }
        self.events.push_back(event);
        self.carried.add_one();
        Ok(())
    }

    /// Room for as many events as the last turn emitted (once per turn, not per event).
    #[inline(never)]
    fn make_room(&mut self) {
        let room = self.last_turn.min(super::FRAME_BATCH);
        if room > IDLE_SLOTS {
            self.events = burst_storage::take(room);
        } else {
            self.events.reserve(room);
        }
    }

    /// Delivers the gathered events to `mailbox`, in order, and stops gathering.
    pub(super) fn finish(&mut self, mailbox: &Mailbox) {
        self.gathering = false;
        if self.events.is_empty() {
            return;
        }
        self.last_turn = self.events.len();
        mailbox.append(&mut self.events);
        // What is left is empty storage: the mailbox's old queue after a hand-over, else ours.
        if !self.carried.release_if_idle(&mut self.events) && self.events.capacity() > IDLE_SLOTS {
            burst_storage::give_back(std::mem::take(&mut self.events));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_outside_a_batch_are_given_back() {
        let mut batch = EventBatch::default();
        assert_eq!(
            batch.push(SocketEvent::Connected),
            Err(SocketEvent::Connected)
        );
    }

    fn reconnecting(attempt: u32) -> SocketEvent {
        SocketEvent::Reconnecting {
            attempt,
            delay: std::time::Duration::ZERO,
            error: None,
        }
    }

    fn attempts(events: Vec<SocketEvent>) -> Vec<u32> {
        events
            .into_iter()
            .map(|event| match event {
                SocketEvent::Reconnecting { attempt, .. } => attempt,
                other => panic!("unexpected {other}"),
            })
            .collect()
    }

    #[test]
    fn a_batch_reaches_the_mailbox_in_order_and_keeps_no_burst_storage() {
        let mailbox = Mailbox::new(1_000);
        let mut batch = EventBatch::default();
        assert!(batch.start());
        assert!(!batch.start(), "a nested start joins the outer batch");
        for attempt in 1..=100 {
            assert!(batch.push(reconnecting(attempt)).is_ok());
        }
        assert_eq!(mailbox.len(), 0, "nothing is delivered before finish");
        batch.finish(&mailbox);
        assert!(
            batch.events.capacity() <= IDLE_SLOTS,
            "the burst's storage went with its events"
        );
        assert!(mailbox.storage() >= 100);
        assert_eq!(attempts(mailbox.drain()), (1..=100).collect::<Vec<_>>());

        // The next turn reserves room for as many events as the last one emitted.
        assert!(batch.start());
        batch.push(reconnecting(101)).unwrap();
        assert!(batch.events.capacity() >= 100);
        batch.finish(&mailbox);
        assert_eq!(attempts(mailbox.drain()), vec![101]);
    }

    #[test]
    fn a_batch_keeps_a_few_slots_only_once_in_steady_use() {
        let mailbox = Mailbox::new(1_000);
        let mut batch = EventBatch::default();
        // A turn into a mailbox that still holds an event: the batch keeps its own storage.
        mailbox.push(SocketEvent::Connected);
        assert!(batch.start());
        batch.push(reconnecting(1)).unwrap();
        batch.finish(&mailbox);
        assert_eq!(batch.events.capacity(), 0, "an idle socket keeps none");
        for attempt in 2..=(IDLE_SLOTS as u32 + 2) {
            assert!(batch.start());
            batch.push(reconnecting(attempt)).unwrap();
            batch.finish(&mailbox);
        }
        let kept = batch.events.capacity();
        assert!(
            kept > 0 && kept <= IDLE_SLOTS,
            "a socket in steady use keeps its few slots, not {kept}"
        );
    }
}
