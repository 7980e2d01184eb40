//! Rate-limits a repeated warning, so a hostile or broken server cannot flood the log.
//!
//! The first occurrence is logged at once; later ones within [`INTERVAL`] are counted, and the
//! next line that is due says how many were left out.

use std::time::Duration;

use tokio::time::Instant;

/// At most one line per this interval.
pub(super) const INTERVAL: Duration = Duration::from_secs(1);

/// Counts occurrences and says when one should be logged.
#[derive(Debug, Default)]
pub(super) struct LogThrottle {
    last_line: Option<Instant>,
    suppressed: u64,
}

impl LogThrottle {
    /// Records one occurrence at `now`. Returns `Some(n)` when it should be logged, `n` being how
    /// many occurrences were left out since the last line; `None` when it is to be left out.
    pub(super) fn occurred(&mut self, now: Instant) -> Option<u64> {
        let due = self
            .last_line
            .is_none_or(|last| now.saturating_duration_since(last) >= INTERVAL);
        if due {
            self.last_line = Some(now);
            Some(std::mem::take(&mut self.suppressed))
        } else {
            self.suppressed += 1;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_interval_with_the_count_left_out() {
        let start = Instant::now();
        let mut throttle = LogThrottle::default();
        assert_eq!(throttle.occurred(start), Some(0));
        for i in 1..1000u64 {
            let at = start + Duration::from_micros(i);
            assert_eq!(throttle.occurred(at), None);
        }
        assert_eq!(throttle.occurred(start + INTERVAL), Some(999));
        assert_eq!(throttle.occurred(start + INTERVAL * 3), Some(0));
    }
}
