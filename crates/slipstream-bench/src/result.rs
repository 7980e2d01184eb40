//! What a run produces: every latency histogram, every counter and a per-second time series.
//!
//! This is the contract between the engine (which fills it while virtual users run) and
//! everything that reads results: the summary table, thresholds, the JSON file (`--out`), the
//! merge of several files (`bench report`) and the HTML report. Results from several processes
//! or machines merge exactly: histograms add bucket by bucket, counters add, and time series add
//! second by second (aligned on the wall-clock second each run started in).

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
