//! Retry schedules for reconnects and rejoins.

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::Duration;

/// How long to wait before retry number `attempt` (0 for the first retry).
///
/// The default schedules are phoenix.js's: reconnect after 10, 50, 100, 150, 200, 250, 500, 1000,
/// 2000 ms then every 5 s; rejoin after 1, 2, 5 s then every 10 s. Phoenix-style schedules add up
/// to 25 % random jitter on top of each step so that many clients do not retry in lockstep.
///
/// ```
/// use std::time::Duration;
/// use slipstream_client::Backoff;
/// let b = Backoff::steps([10, 20], 50).without_jitter();
/// assert_eq!(b.delay(0), Duration::from_millis(10));
/// assert_eq!(b.delay(1), Duration::from_millis(20));
/// assert_eq!(b.delay(7), Duration::from_millis(50));
/// let custom = Backoff::custom(|attempt| Duration::from_secs(u64::from(attempt)));
/// assert_eq!(custom.delay(3), Duration::from_secs(3));
/// ```
#[derive(Clone)]
pub struct Backoff {
    kind: Kind,
}

#[derive(Clone)]
enum Kind {
    Steps {
        steps: Vec<Duration>,
        then: Duration,
        jitter: bool,
    },
    Custom(Arc<dyn Fn(u32) -> Duration + Send + Sync>),
}

impl Backoff {
    /// Millisecond steps, then `then_ms` forever, with jitter.
    pub fn steps(steps_ms: impl IntoIterator<Item = u64>, then_ms: u64) -> Self {
        Backoff {
            kind: Kind::Steps {
                steps: steps_ms.into_iter().map(Duration::from_millis).collect(),
                then: Duration::from_millis(then_ms),
                jitter: true,
            },
        }
    }

    /// A caller-supplied schedule (no jitter is added).
    pub fn custom(delay: impl Fn(u32) -> Duration + Send + Sync + 'static) -> Self {
        Backoff {
            kind: Kind::Custom(Arc::new(delay)),
        }
    }

    /// phoenix.js's reconnect schedule.
    pub fn default_reconnect() -> Self {
        Self::steps([10, 50, 100, 150, 200, 250, 500, 1000, 2000], 5000)
    }

    /// phoenix.js's rejoin schedule.
    pub fn default_rejoin() -> Self {
        Self::steps([1000, 2000, 5000], 10_000)
    }

    /// The same steps without random jitter (deterministic; useful in tests).
    pub fn without_jitter(mut self) -> Self {
        if let Kind::Steps { jitter, .. } = &mut self.kind {
            *jitter = false;
        }
        self
    }

    /// The delay before retry `attempt` (0-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        match &self.kind {
            Kind::Custom(f) => f(attempt),
            Kind::Steps {
                steps,
                then,
                jitter,
            } => {
                let base = usize::try_from(attempt)
                    .ok()
                    .and_then(|i| steps.get(i))
                    .copied()
                    .unwrap_or(*then);
                if *jitter {
                    base + base.mul_f64(random_unit() * 0.25)
                } else {
                    base
                }
            }
        }
    }
}

impl fmt::Debug for Backoff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Steps {
                steps,
                then,
                jitter,
            } => f
                .debug_struct("Backoff")
                .field("steps", steps)
                .field("then", then)
                .field("jitter", jitter)
                .finish(),
            Kind::Custom(_) => f.write_str("Backoff(custom)"),
        }
    }
}

/// A random number in `[0, 1)`; jitter needs no cryptographic quality, so the std hasher's random
/// keys are enough and no RNG dependency is needed.
fn random_unit() -> f64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phoenix_reconnect_schedule_without_jitter() {
        let b = Backoff::default_reconnect().without_jitter();
        let got: Vec<u64> = (0..11).map(|i| b.delay(i).as_millis() as u64).collect();
        assert_eq!(
            got,
            [10, 50, 100, 150, 200, 250, 500, 1000, 2000, 5000, 5000]
        );
        assert_eq!(b.delay(u32::MAX), Duration::from_millis(5000));
    }

    #[test]
    fn phoenix_rejoin_schedule_without_jitter() {
        let b = Backoff::default_rejoin().without_jitter();
        let got: Vec<u64> = (0..5).map(|i| b.delay(i).as_secs()).collect();
        assert_eq!(got, [1, 2, 5, 10, 10]);
    }

    #[test]
    fn jitter_stays_within_a_quarter_above_the_step() {
        let b = Backoff::default_reconnect();
        for _ in 0..200 {
            let d = b.delay(9);
            assert!(d >= Duration::from_millis(5000), "{d:?}");
            assert!(d <= Duration::from_millis(6250), "{d:?}");
        }
    }
}
