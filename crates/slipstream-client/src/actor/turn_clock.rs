//! The time of the connection task's current turn: the clock is read at most once a turn.

use tokio::time::Instant;

/// When the loop's current turn started, read from the clock the first time it is asked for.
///
/// A turn handles up to a batch of commands, so a burst of pushes costs one clock reading, not
/// one each (a reading is tens of nanoseconds on a virtual machine's clock). A push's deadline
/// counts from the start of the turn that handled it, so it is at most one turn early: the
/// length of a batch of commands, microseconds.
#[derive(Debug, Default)]
pub(super) struct TurnClock {
    now: Option<Instant>,
}

impl TurnClock {
    /// A new turn starts: the next [`now`](Self::now) reads the clock again.
    pub(super) fn new_turn(&mut self) {
        self.now = None;
    }

    /// The time of this turn.
    pub(super) fn now(&mut self) -> Instant {
        *self.now.get_or_insert_with(Instant::now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn one_reading_a_turn() {
        let mut clock = TurnClock::default();
        let first = clock.now();
        tokio::time::advance(Duration::from_millis(5)).await;
        assert_eq!(clock.now(), first, "the same turn keeps its reading");
        clock.new_turn();
        assert_eq!(clock.now(), first + Duration::from_millis(5));
    }
}
