//! The events of one turn of the loop, gathered to reach the mailbox together.

use std::collections::VecDeque;

use crate::event::SocketEvent;
use crate::mailbox::Mailbox;

/// A turn that emits at least this many events is a burst, whose batch storage is worth keeping.
const BURST: usize = 16;

/// Events emitted while the actor handles a batch of frames or commands; [`finish`](Self::finish)
/// puts them into the mailbox under one lock, with one wake-up.
///
/// The storage is kept from one turn to the next while turns are bursts (at least [`BURST`]
/// events) that use at least a quarter of it, so a burst does not regrow it on every turn; it is
/// given back after any other turn, so an idle socket keeps none. A batch handed to an empty
/// mailbox trades storage with its queue (see [`Mailbox::append`]), so the storage kept may be
/// the queue's old one: between them, a burst's storage still goes round instead of regrowing.
#[derive(Debug, Default)]
pub(super) struct EventBatch {
    events: VecDeque<SocketEvent>,
    gathering: bool,
}

impl EventBatch {
    /// Starts gathering; `false` if a batch is already being gathered (whose
    /// [`finish`](Self::finish) then delivers these events too).
    pub(super) fn start(&mut self) -> bool {
        !std::mem::replace(&mut self.gathering, true)
    }

    /// Adds `event` to the batch being gathered, or gives it back when there is none.
    pub(super) fn push(&mut self, event: SocketEvent) -> Result<(), SocketEvent> {
        if !self.gathering {
            return Err(event);
        }
        self.events.push_back(event);
        Ok(())
    }

    /// Delivers the gathered events to `mailbox`, in order, and stops gathering.
    pub(super) fn finish(&mut self, mailbox: &Mailbox) {
        self.gathering = false;
        let used = self.events.len();
        if used > 0 {
            mailbox.append(&mut self.events);
        }
        if used < BURST || used * 4 < self.events.capacity() {
            self.events = VecDeque::new();
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

    #[test]
    fn a_batch_reaches_the_mailbox_in_order_and_keeps_only_storage_it_uses() {
        let mailbox = Mailbox::new(1_000);
        let mut batch = EventBatch::default();
        assert!(batch.start());
        assert!(!batch.start(), "a nested start joins the outer batch");
        for attempt in 1..=100 {
            let event = SocketEvent::Reconnecting {
                attempt,
                delay: std::time::Duration::ZERO,
                error: None,
            };
            assert!(batch.push(event).is_ok());
        }
        assert_eq!(mailbox.len(), 0, "nothing is delivered before finish");
        batch.finish(&mailbox);
        assert!(
            batch.events.capacity() + mailbox.storage() >= 100,
            "a full turn's storage is kept: the batch's own, or the mailbox's after a hand-over"
        );
        let attempts: Vec<u32> = mailbox
            .drain()
            .into_iter()
            .map(|event| match event {
                SocketEvent::Reconnecting { attempt, .. } => attempt,
                other => panic!("unexpected {other}"),
            })
            .collect();
        assert_eq!(attempts, (1..=100).collect::<Vec<_>>());

        assert!(batch.start());
        batch.push(SocketEvent::Connected).unwrap();
        batch.finish(&mailbox);
        assert_eq!(
            batch.events.capacity(),
            0,
            "a quiet turn gives the storage back"
        );
    }
}
