//! What virtual users record into, and how one second's records become an [`Interval`].
//!
//! Thousands of users record on one runtime, so a sample never takes a global lock: the
//! [`Collector`] holds [`SHARDS`] shards, each behind its own mutex, and a user's [`Recorder`]
//! always writes to the shard of its index (user `i` to shard `i % SHARDS`): with far more
//! shards than worker threads, two threads rarely want the same one, and a lock is held for one
//! histogram increment. Once a second, [`Collector::tick`] takes each shard's records (adding
//! its histograms into the second's and resetting them, so nothing is allocated per sample) and
//! appends one [`Interval`]; [`Collector::finish`] makes the [`RunResult`].

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::result::{
    Interval, MAX_LATENCY_US, RunMeta, RunResult, new_interval_histogram, new_latency_histogram,
};

/// How many shards a collector has.
pub const SHARDS: usize = 16;

/// Records of one shard since the last tick.
#[derive(Default)]
struct Shard {
    latencies: BTreeMap<String, Histogram<u64>>,
    counters: BTreeMap<String, u64>,
}

/// Everything ticked so far.
#[derive(Default)]
struct Totals {
    latencies: BTreeMap<String, Histogram<u64>>,
    counters: BTreeMap<String, u64>,
    series: Vec<Interval>,
}

/// One second's figures for the live display.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// The second these figures are for (seconds since the Unix epoch).
    pub unix_second: u64,
    /// Virtual users running at the tick.
    pub active_users: u64,
    /// Latency samples recorded during the second, over every metric: operations done.
    pub ops: u64,
    /// The primary metric's median in that second, in µs, if it had samples.
    pub p50_us: Option<u64>,
    /// The primary metric's 99th percentile in that second, in µs, if it had samples.
    pub p99_us: Option<u64>,
    /// Errors counted during the run so far (every `errors.*` counter).
    pub errors_total: u64,
    /// Samples of every latency metric so far (`ops` summed over the run).
    pub ops_total: u64,
}

/// Where every virtual user's records go; shared by the users of one run.
pub struct Collector {
    shards: Box<[Mutex<Shard>]>,
    active: AtomicU64,
    primary: String,
    totals: Mutex<Totals>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere while holding a shard leaves counts that are still counts.
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl Collector {
    /// A collector whose live figures (p50/p99 in [`Snapshot`]) follow the metric `primary`
    /// (`reply.ping`, `delivery`, …).
    pub fn new(primary: impl Into<String>) -> Arc<Collector> {
        Arc::new(Collector {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            active: AtomicU64::new(0),
            primary: primary.into(),
            totals: Mutex::new(Totals::default()),
        })
    }

    /// Puts these counters in the totals at 0, so that they are in the result even when
    /// nothing increments them.
    pub fn declare(&self, counters: &[String]) {
        let mut totals = lock(&self.totals);
        for name in counters {
            totals.counters.entry(name.clone()).or_insert(0);
        }
    }

    /// The recorder of user `index`.
    pub fn recorder(self: &Arc<Self>, index: u64) -> Recorder {
        Recorder {
            collector: self.clone(),
            shard: (index % SHARDS as u64) as usize,
        }
    }

    /// Counts one more running user; the user is counted out when the guard is dropped.
    pub fn user_started(self: &Arc<Self>) -> ActiveGuard {
        self.active.fetch_add(1, Ordering::Relaxed);
        ActiveGuard {
            collector: self.clone(),
        }
    }

    /// Users running now.
    pub fn active_users(&self) -> u64 {
        self.active.load(Ordering::Relaxed)
    }

    /// Takes every record made since the last tick into one [`Interval`] for `unix_second`,
    /// adds it to the totals and says what it held.
    pub fn tick(&self, unix_second: u64) -> Snapshot {
        let mut interval = Interval {
            unix_second,
            active_users: self.active_users(),
            latencies: BTreeMap::new(),
            counters: BTreeMap::new(),
        };
        for shard in self.shards.iter() {
            let mut shard = lock(shard);
            for (name, histogram) in shard.latencies.iter_mut() {
                if histogram.is_empty() {
                    continue;
                }
                // A second's histogram grows with its largest value (a few dozen KB for
                // millisecond latencies), not the full hour's range (about 190 KB).
                let into = interval
                    .latencies
                    .entry(name.clone())
                    .or_insert_with(new_interval_histogram);
                // The shard clamps to the crate's range and the target grows: cannot fail.
                let _ = into.add(&*histogram);
                histogram.reset();
            }
            for (name, count) in shard.counters.iter_mut() {
                if *count > 0 {
                    *interval.counters.entry(name.clone()).or_insert(0) += *count;
                    *count = 0;
                }
            }
        }
        let mut totals = lock(&self.totals);
        for (name, histogram) in &interval.latencies {
            let into = totals
                .latencies
                .entry(name.clone())
                .or_insert_with(new_latency_histogram);
            let _ = into.add(histogram);
        }
        for (name, count) in &interval.counters {
            *totals.counters.entry(name.clone()).or_insert(0) += count;
        }
        let primary = interval.latencies.get(&self.primary);
        let snapshot = Snapshot {
            unix_second,
            active_users: interval.active_users,
            ops: interval.latencies.values().map(|h| h.len()).sum(),
            p50_us: primary.map(|h| h.value_at_quantile(0.5)),
            p99_us: primary.map(|h| h.value_at_quantile(0.99)),
            errors_total: totals
                .counters
                .iter()
                .filter(|(name, _)| name.starts_with("errors."))
                .map(|(_, n)| n)
                .sum(),
            ops_total: totals.latencies.values().map(|h| h.len()).sum(),
        };
        let empty = interval.latencies.is_empty() && interval.counters.is_empty();
        // Seconds with nothing recorded are kept when users ran in them (the active-users
        // series), left out otherwise.
        if !empty || interval.active_users > 0 {
            totals.series.push(interval);
        }
        snapshot
    }

    /// The run's result: the totals of every tick (tick once more first, so that the last
    /// partial second counts).
    pub fn finish(&self, meta: RunMeta) -> RunResult {
        let mut totals = lock(&self.totals);
        let totals = std::mem::take(&mut *totals);
        RunResult {
            meta,
            latencies: totals.latencies,
            counters: totals.counters,
            series: totals.series,
        }
    }
}

/// Keeps a user counted as active; see [`Collector::user_started`].
pub struct ActiveGuard {
    collector: Arc<Collector>,
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.collector.active.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What one virtual user records with. Cheap to clone.
#[derive(Clone)]
pub struct Recorder {
    collector: Arc<Collector>,
    shard: usize,
}

impl Recorder {
    fn shard(&self) -> MutexGuard<'_, Shard> {
        lock(&self.collector.shards[self.shard])
    }

    /// Records a latency for `metric` (clamped to 1 µs … 1 h).
    pub fn latency(&self, metric: &str, elapsed: Duration) {
        let us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.latency_us(metric, us);
    }

    /// Records a latency in microseconds for `metric` (clamped to 1 µs … 1 h).
    pub fn latency_us(&self, metric: &str, us: u64) {
        let us = us.clamp(1, MAX_LATENCY_US);
        let mut shard = self.shard();
        match shard.latencies.get_mut(metric) {
            Some(histogram) => histogram.saturating_record(us),
            None => {
                let mut histogram = new_latency_histogram();
                histogram.saturating_record(us);
                shard.latencies.insert(metric.to_owned(), histogram);
            }
        }
    }

    /// Adds `n` to the counter `name` (`iterations`, `pushes`, `messages.lost`, …).
    pub fn count(&self, name: &str, n: u64) {
        let mut shard = self.shard();
        match shard.counters.get_mut(name) {
            Some(count) => *count += n,
            None => {
                shard.counters.insert(name.to_owned(), n);
            }
        }
    }

    /// Counts one error of `kind` (see [`crate::kind`]) as `errors.<kind>`, and logs it at
    /// debug level with its text.
    pub fn error(&self, kind: &str, text: &dyn std::fmt::Display) {
        tracing::debug!(kind, error = %text, "virtual user error");
        self.count(&format!("errors.{kind}"), 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> RunMeta {
        RunMeta {
            scenario: "test".into(),
            url: "ws://127.0.0.1:1/socket/websocket".into(),
            users: 2,
            started_unix_ms: 0,
            duration_ms: 0,
            segment: None,
            runs: 1,
        }
    }

    #[test]
    fn each_tick_is_one_interval_and_the_totals_add_up() {
        let collector = Collector::new("reply.ping");
        let (a, b) = (collector.recorder(0), collector.recorder(17));
        a.latency("reply.ping", Duration::from_millis(2));
        b.latency("reply.ping", Duration::from_millis(4));
        a.count("pushes", 2);
        let first = collector.tick(100);
        assert_eq!(first.ops, 2);
        assert!(first.p50_us.unwrap() >= 1990 && first.p99_us.unwrap() >= 3990);
        b.error("push_timeout", &"no reply");
        b.latency_us("reply.ping", 0); // clamped to 1 µs, never lost
        let second = collector.tick(101);
        assert_eq!(
            (second.ops, second.errors_total, second.ops_total),
            (1, 1, 3)
        );
        let third = collector.tick(102); // nothing recorded, no user running: no interval
        assert_eq!(third.ops, 0);

        collector.declare(&["messages.lost".into(), "pushes".into()]);
        let result = collector.finish(meta());
        assert_eq!(result.counters["messages.lost"], 0); // declared, never counted
        assert_eq!(result.counters["pushes"], 2); // declaring keeps what was counted
        assert_eq!(result.latencies["reply.ping"].len(), 3);
        assert_eq!(result.latencies["reply.ping"].min(), 1);
        assert_eq!(result.counters["pushes"], 2);
        assert_eq!(result.counters["errors.push_timeout"], 1);
        let seconds: Vec<u64> = result.series.iter().map(|i| i.unix_second).collect();
        assert_eq!(seconds, [100, 101]);
        assert_eq!(result.series[1].counters["errors.push_timeout"], 1);
    }

    #[test]
    fn active_users_are_counted_while_their_guard_lives() {
        let collector = Collector::new("connect");
        let one = collector.user_started();
        let two = collector.user_started();
        drop(one);
        assert_eq!(collector.tick(5).active_users, 1);
        drop(two);
        assert_eq!(collector.active_users(), 0);
        // An idle second with a user running is still an interval (the active-users series).
        let result = collector.finish(meta());
        assert_eq!(result.series.len(), 1);
        assert_eq!(result.series[0].active_users, 1);
    }
}
