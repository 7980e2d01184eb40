//! What a run produces: every latency histogram, every counter and a per-second time series.
//!
//! This is the contract between the engine (which fills it while virtual users run) and
//! everything that reads results: the summary table, thresholds, the JSON file (`--out`), the
//! merge of several files (`bench report`) and the HTML report. Results from several processes
//! or machines merge exactly: histograms add bucket by bucket, counters add, and time series add
//! second by second (aligned on the wall-clock second each run started in).
//!
//! What readers expect of a filled result: latencies in microseconds, at most
//! [`MAX_LATENCY_US`]; the run's histograms equal to the sum of its seconds' (each sample in
//! both); per-second histograms made by [`new_interval_histogram`] (compact) or
//! [`new_latency_histogram`]; error counters named `errors.<kind>`, present once the first
//! error of the kind happens (an absent one reads as 0); every other counter a threshold may
//! name (`messages.lost`, …) present from the start, even at 0, since a threshold on a counter
//! the run never created fails with "no samples".

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

/// Latencies are recorded in microseconds, from 1 µs to 1 hour, with 3 significant digits.
pub const LATENCY_UNIT: &str = "us";

/// The largest latency a histogram holds, in microseconds (1 hour); longer ones are clamped.
pub const MAX_LATENCY_US: u64 = 3_600_000_000;

/// A new empty latency histogram with the crate's range and precision.
pub fn new_latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("static bounds are valid")
}

/// A new empty latency histogram for one second of the series: the same precision as
/// [`new_latency_histogram`], but its counts grow with the largest value recorded instead of
/// covering the full hour from the start (about 48 KB for values up to 25 ms against about
/// 190 KB), which matters for seconds x metrics histograms in a long run. Merges with
/// full-range histograms stay exact. Clamp values to [`MAX_LATENCY_US`] before recording.
///
/// ```
/// let mut h = slipstream_bench::result::new_interval_histogram();
/// h.record(25_000).unwrap();
/// assert_eq!(h.len(), 1);
/// ```
pub fn new_interval_histogram() -> Histogram<u64> {
    let mut h = Histogram::new(3).expect("static precision is valid");
    h.auto(true);
    h
}

/// Everything one run (or a merge of runs) measured.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// What ran, where and when.
    pub meta: RunMeta,
    /// Latency histograms by metric name (`connect`, `join`, `reply.<event>`, `delivery`,
    /// `presence.join`, `reconnect`, …), in microseconds.
    pub latencies: BTreeMap<String, Histogram<u64>>,
    /// Counters by name: `iterations`, `pushes`, `messages.received`, `messages.lost`, and one
    /// `errors.<kind>` per kind of error (`errors.refused`, `errors.http_403`,
    /// `errors.join.<reason>`, `errors.push_timeout`, `errors.disconnect`, …).
    pub counters: BTreeMap<String, u64>,
    /// One entry per second of the run, in order (seconds with nothing recorded may be absent).
    pub series: Vec<Interval>,
}

/// What ran, where and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunMeta {
    /// The scenario's name (`ping`, `connect`, … or the custom scenario file's name).
    pub scenario: String,
    /// The websocket URL the users connected to.
    pub url: String,
    /// Virtual users at the peak of the load shape (summed over merged runs).
    pub users: u64,
    /// When the run started, in milliseconds since the Unix epoch (the earliest of merged runs).
    pub started_unix_ms: u64,
    /// How long the run lasted, in milliseconds (the longest span of merged runs).
    pub duration_ms: u64,
    /// The share of the load this run was (`--segment I/N`), if it was one: `(I, N)`.
    pub segment: Option<(u32, u32)>,
    /// How many runs were merged into this one (1 for a single run).
    pub runs: u32,
}

/// What happened during one second of a run.
#[derive(Debug, Clone)]
pub struct Interval {
    /// Seconds since the Unix epoch at the start of this second (so runs merge by wall time).
    pub unix_second: u64,
    /// Virtual users running at the end of the second.
    pub active_users: u64,
    /// Latencies recorded during the second, by metric name.
    pub latencies: BTreeMap<String, Histogram<u64>>,
    /// Counter increments during the second, by counter name.
    pub counters: BTreeMap<String, u64>,
}

/// The prefix of every error counter: `errors.refused`, `errors.push_timeout`, ….
pub const ERROR_PREFIX: &str = "errors.";

impl RunResult {
    /// An empty result for `meta`: no histograms, no counters, no seconds.
    ///
    /// ```
    /// use slipstream_bench::result::{RunMeta, RunResult};
    /// let result = RunResult::new(RunMeta::new("ping", "ws://localhost:4000/socket/websocket"));
    /// assert_eq!(result.errors(), 0);
    /// assert!(result.series.is_empty());
    /// ```
    pub fn new(meta: RunMeta) -> Self {
        RunResult {
            meta,
            latencies: BTreeMap::new(),
            counters: BTreeMap::new(),
            series: Vec::new(),
        }
    }

    /// All errors: the sum of the counters named `errors.*` (saturating).
    pub fn errors(&self) -> u64 {
        error_total(&self.counters)
    }

    /// The counters that are not errors (`errors.*` are reported by kind), by name.
    pub fn plain_counters(&self) -> impl Iterator<Item = (&String, &u64)> {
        self.counters
            .iter()
            .filter(|(name, _)| !name.starts_with(ERROR_PREFIX))
    }

    /// The errors by kind (the counter name without `errors.`), largest first, then by name.
    pub fn errors_by_kind(&self) -> Vec<(&str, u64)> {
        let mut kinds: Vec<(&str, u64)> = self
            .counters
            .iter()
            .filter_map(|(name, n)| name.strip_prefix(ERROR_PREFIX).map(|kind| (kind, *n)))
            .collect();
        kinds.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        kinds
    }

    /// Operations: every latency sample recorded, over all metrics (each successful connect,
    /// join, reply, delivery, … is one sample). Together with [`errors`](Self::errors) this is
    /// the denominator of the error rate.
    pub fn operations(&self) -> u64 {
        sample_total(&self.latencies)
    }

    /// The latency of `metric` with its sub-metrics: the histogram named `metric` and every
    /// histogram named `metric.*`, added together (`reply` is `reply.ping` + `reply.echo` + …).
    /// `None` when the run recorded no such histogram (an empty one still counts as recorded).
    pub fn latency(&self, metric: &str) -> Option<Histogram<u64>> {
        merged_group(&self.latencies, metric)
    }

    /// The run's duration in seconds, as a float (0 for a run of no time).
    pub fn duration_secs(&self) -> f64 {
        self.meta.duration_ms as f64 / 1000.0
    }
}

/// The histograms of `group` in `map` (the one named `group` and every `group.*`) added into
/// one compact, growing histogram (exact); `None` when there is none.
pub(crate) fn merged_group(
    map: &BTreeMap<String, Histogram<u64>>,
    group: &str,
) -> Option<Histogram<u64>> {
    let mut sum = new_interval_histogram();
    add_group(&mut sum, map, group).then_some(sum)
}

/// Adds the histograms of `group` in `map` into `into`; whether `map` has any.
pub(crate) fn add_group(
    into: &mut Histogram<u64>,
    map: &BTreeMap<String, Histogram<u64>>,
    group: &str,
) -> bool {
    let mut found = false;
    for (name, h) in map {
        let in_group = name == group
            || name
                .strip_prefix(group)
                .is_some_and(|rest| rest.starts_with('.'));
        if in_group {
            add_clamped(into, h);
            found = true;
        }
    }
    found
}

/// Adds `from` into `into`; when `from` holds values beyond `into`'s range (only possible for
/// a histogram that was not made by [`new_latency_histogram`]), those values are clamped to
/// the range instead of failing.
pub(crate) fn add_clamped(into: &mut Histogram<u64>, from: &Histogram<u64>) {
    if into.add(from).is_ok() {
        return;
    }
    for v in from.iter_recorded() {
        into.saturating_record_n(v.value_iterated_to(), v.count_at_value());
    }
}

impl RunMeta {
    /// The metadata of a single run of `scenario` against `url` that has not started: no users,
    /// no duration, started at 0, not a segment, one run. The engine fills in the rest.
    pub fn new(scenario: impl Into<String>, url: impl Into<String>) -> Self {
        RunMeta {
            scenario: scenario.into(),
            url: url.into(),
            users: 0,
            started_unix_ms: 0,
            duration_ms: 0,
            segment: None,
            runs: 1,
        }
    }

    /// When the run ended, in milliseconds since the Unix epoch (start + duration, saturating).
    pub fn ended_unix_ms(&self) -> u64 {
        self.started_unix_ms.saturating_add(self.duration_ms)
    }
}

impl Interval {
    /// An empty second: no users, no samples, no counts.
    pub fn new(unix_second: u64) -> Self {
        Interval {
            unix_second,
            active_users: 0,
            latencies: BTreeMap::new(),
            counters: BTreeMap::new(),
        }
    }

    /// Errors counted in this second: the sum of its `errors.*` increments.
    pub fn errors(&self) -> u64 {
        error_total(&self.counters)
    }

    /// Operations completed in this second: every latency sample recorded in it.
    pub fn operations(&self) -> u64 {
        sample_total(&self.latencies)
    }

    /// The latency of `metric` with its sub-metrics in this second (see [`RunResult::latency`]).
    pub fn latency(&self, metric: &str) -> Option<Histogram<u64>> {
        merged_group(&self.latencies, metric)
    }
}

/// The sum of the `errors.*` counters.
fn error_total(counters: &BTreeMap<String, u64>) -> u64 {
    counters
        .iter()
        .filter(|(name, _)| name.starts_with(ERROR_PREFIX))
        .fold(0u64, |sum, (_, n)| sum.saturating_add(*n))
}

/// The number of samples in every histogram.
fn sample_total(latencies: &BTreeMap<String, Histogram<u64>>) -> u64 {
    latencies
        .values()
        .fold(0u64, |sum, h| sum.saturating_add(h.len()))
}
