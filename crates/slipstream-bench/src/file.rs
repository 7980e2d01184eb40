//! The result file (`--out run.json`): one JSON document a run, read back by `bench report`.
//!
//! ```text
//! {
//!   "format": "slipstream-bench/1",
//!   "meta": { "scenario": "ping", "url": "ws://…", "users": 100, "started_unix_ms": …,
//!             "duration_ms": 60000, "segment": null | { "index": 1, "count": 4 }, "runs": 1 },
//!   "counters": { "pushes": 6000, "errors.push_timeout": 3 },
//!   "latencies": { "reply.ping": { "count": 5997, "min_us": …, "p50_us": …, "p90_us": …,
//!                                  "p99_us": …, "max_us": …, "mean_us": …, "hdr": "HISTEw…" } },
//!   "series": [ { "unix_second": …, "active_users": 100, "counters": { … },
//!                 "latencies": { "reply.ping": { "count": 99, …, "hdr": "…" } } } ]
//! }
//! ```
//!
//! Every histogram is kept whole in `hdr`: HdrHistogram's V2 encoding (uncompressed), in
//! standard base64, so merged files give exact percentiles, per run and per second. The plain
//! figures beside it (`count`, `p50_us`, …, in microseconds) are for people skimming the file
//! and for tools such as `jq`; reading ignores them. The format string carries a version: a
//! reader refuses a version it does not know instead of guessing. Within a version, readers
//! ignore fields they do not know, so a field may be added without a new version; a change an
//! older reader must not ignore takes a new version.
//!
//! A result file is user input: reading never panics, bounds what a histogram header may make
//! it allocate, and says which part of which file is wrong.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer as _, V2Serializer};
use serde::{Deserialize, Serialize};

use crate::result::{
    Interval, MAX_LATENCY_US, RunMeta, RunResult, add_clamped, new_interval_histogram,
    new_latency_histogram,
};

/// The format string of the files this version writes.
pub const FORMAT: &str = "slipstream-bench/1";

/// The prefix every version of the format string starts with.
const FORMAT_FAMILY: &str = "slipstream-bench/";

/// Why a result file could not be read or written. Errors of [`read()`] and [`write()`] name the
/// file; errors of [`from_json`] do not know it.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file could not be opened, read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The text is not JSON at all.
    #[error("not JSON ({0}); a result file is what `slipstream bench --out FILE` writes")]
    NotJson(serde_json::Error),
    /// The text is JSON but not a result file (no `"format": "slipstream-bench/…"`).
    #[error(
        "not a slipstream bench result file (no \"format\": \"{FORMAT}\" field); \
         a result file is what `slipstream bench --out FILE` writes"
    )]
    NotAResultFile,
    /// A result file of a format version this build does not read.
    #[error(
        "unknown result format `{0}`; this slipstream reads `{FORMAT}` (a newer slipstream \
         may have written the file)"
    )]
    UnknownVersion(String),
    /// The result file has the right format string but a field is missing or of the wrong kind
    /// (a negative count, a number too large, a string where a number belongs, …).
    #[error("malformed result file: {0}")]
    Malformed(serde_json::Error),
    /// A field has a value of the right type that makes no sense (a segment 5 of 4, …).
    #[error("malformed result file: {field}: {reason}")]
    Invalid {
        /// Where in the file, e.g. `meta.segment`.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A histogram (`hdr`) could not be decoded.
    #[error("bad histogram for metric `{metric}`{}: {reason}", at_second(*second))]
    BadHistogram {
        /// The metric whose histogram it is.
        metric: String,
        /// The second of the series it belongs to, if not the run's total.
        second: Option<u64>,
        /// What is wrong with it.
        reason: String,
    },
    /// The file's histograms would take more memory than one file may (a forged file, or a
    /// series far longer than any run).
    #[error(
        "the histograms in this file would take more than {} MiB of memory",
        limit_bytes / (1 << 20)
    )]
    TooLarge {
        /// The limit, in bytes.
        limit_bytes: u64,
    },
    /// One of the other errors, in the file at `path`.
    #[error("{}: {source}", path.display())]
    InFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        source: Box<FileError>,
    },
}

fn at_second(second: Option<u64>) -> String {
    second.map_or_else(String::new, |s| format!(" in the second at unix time {s}"))
}

impl FileError {
    /// The error without the file it happened in (for matching on the kind of error).
    pub fn kind(&self) -> &FileError {
        match self {
            FileError::InFile { source, .. } => source.kind(),
            other => other,
        }
    }

    /// The file the error happened in, when known.
    pub fn path(&self) -> Option<&Path> {
        match self {
            FileError::Io { path, .. } | FileError::InFile { path, .. } => Some(path),
            _ => None,
        }
    }
}

// ---- the JSON shape ----------------------------------------------------------------------

#[derive(Serialize, Deserialize)]
struct FileRepr {
    format: String,
    meta: MetaRepr,
    #[serde(default)]
    counters: BTreeMap<String, u64>,
    #[serde(default)]
    latencies: BTreeMap<String, HistogramRepr>,
    #[serde(default)]
    series: Vec<IntervalRepr>,
}

#[derive(Serialize, Deserialize)]
struct MetaRepr {
    scenario: String,
    url: String,
    users: u64,
    started_unix_ms: u64,
    duration_ms: u64,
    #[serde(default)]
    segment: Option<SegmentRepr>,
    #[serde(default = "one")]
    runs: u32,
}

fn one() -> u32 {
    1
}

#[derive(Serialize, Deserialize)]
struct SegmentRepr {
    index: u32,
    count: u32,
}

/// A histogram: the figures for people (ignored when reading) and the encoding.
#[derive(Serialize, Deserialize)]
struct HistogramRepr {
    #[serde(default, skip_deserializing)]
    count: u64,
    #[serde(default, skip_deserializing)]
    min_us: u64,
    #[serde(default, skip_deserializing)]
    p50_us: u64,
    #[serde(default, skip_deserializing)]
    p90_us: u64,
    #[serde(default, skip_deserializing)]
    p99_us: u64,
    #[serde(default, skip_deserializing)]
    max_us: u64,
    #[serde(default, skip_deserializing)]
    mean_us: f64,
    hdr: String,
}

#[derive(Serialize, Deserialize)]
struct IntervalRepr {
    unix_second: u64,
    #[serde(default)]
    active_users: u64,
    #[serde(default)]
    counters: BTreeMap<String, u64>,
    #[serde(default)]
    latencies: BTreeMap<String, HistogramRepr>,
}

/// Only the format string, to tell a result file of another version from a malformed one.
#[derive(Deserialize)]
struct FormatProbe {
    format: Option<serde_json::Value>,
}

// ---- writing -----------------------------------------------------------------------------

/// The result as the JSON of a result file (pretty-printed, keys in a stable order).
///
/// ```
/// use slipstream_bench::{file, result::{RunMeta, RunResult}};
/// let text = file::to_json(&RunResult::new(RunMeta::new("ping", "ws://localhost/socket")));
/// assert!(text.contains("\"format\": \"slipstream-bench/1\""));
/// let back = file::from_json(&text).unwrap();
/// assert_eq!(back.meta.scenario, "ping");
/// ```
pub fn to_json(result: &RunResult) -> String {
    let repr = FileRepr {
        format: FORMAT.to_owned(),
        meta: MetaRepr {
            scenario: result.meta.scenario.clone(),
            url: result.meta.url.clone(),
            users: result.meta.users,
            started_unix_ms: result.meta.started_unix_ms,
            duration_ms: result.meta.duration_ms,
            segment: result
                .meta
                .segment
                .map(|(index, count)| SegmentRepr { index, count }),
            runs: result.meta.runs,
        },
        counters: result.counters.clone(),
        latencies: encode_map(&result.latencies),
        series: result
            .series
            .iter()
            .map(|i| IntervalRepr {
                unix_second: i.unix_second,
                active_users: i.active_users,
                counters: i.counters.clone(),
                latencies: encode_map(&i.latencies),
            })
            .collect(),
    };
    // Serializing these plain structs cannot fail: every key is a string and the one float
    // (a mean of finite values) is finite, so a failure would be a bug, not bad input.
    let mut text = serde_json::to_string_pretty(&repr).unwrap_or_else(|e| {
        tracing::error!(error = %e, "could not serialize a run result");
        String::from("{}")
    });
    text.push('\n');
    text
}

fn encode_map(map: &BTreeMap<String, Histogram<u64>>) -> BTreeMap<String, HistogramRepr> {
    map.iter()
        .map(|(name, h)| (name.clone(), encode(h)))
        .collect()
}

fn encode(h: &Histogram<u64>) -> HistogramRepr {
    let mut bytes = Vec::new();
    if let Err(e) = V2Serializer::new().serialize(h, &mut bytes) {
        // Only possible for counts arrays beyond any histogram this crate makes.
        tracing::error!(error = %e, "could not encode a histogram");
        bytes.clear();
    }
    let empty = h.is_empty();
    let at = |p: f64| if empty { 0 } else { h.value_at_percentile(p) };
    let mean = h.mean();
    HistogramRepr {
        count: h.len(),
        min_us: if empty { 0 } else { h.min() },
        p50_us: at(50.0),
        p90_us: at(90.0),
        p99_us: at(99.0),
        max_us: if empty { 0 } else { h.max() },
        mean_us: if mean.is_finite() {
            (mean * 10.0).round() / 10.0
        } else {
            0.0
        },
        hdr: base64::engine::general_purpose::STANDARD.encode(bytes),
    }
}

/// Writes the result file at `path` (replacing it); errors name the path.
///
/// The text goes to a temporary file beside `path` first, renamed over `path` once complete,
/// so a run stopped while writing leaves the old file or the new one, never half of one.
pub fn write(path: &Path, result: &RunResult) -> Result<(), FileError> {
    let io = |source| FileError::Io {
        path: path.to_owned(),
        source,
    };
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}.tmp", std::process::id()));
    let temporary = path.with_file_name(name);
    if let Err(e) = std::fs::write(&temporary, to_json(result)) {
        let _ = std::fs::remove_file(&temporary);
        return Err(io(e));
    }
    std::fs::rename(&temporary, path).map_err(|e| {
        let _ = std::fs::remove_file(&temporary);
        io(e)
    })
}

// ---- reading -----------------------------------------------------------------------------

/// Reads a result from the JSON of a result file.
pub fn from_json(text: &str) -> Result<RunResult, FileError> {
    // A struct also deserializes from an array: only an object can be a result file.
    let object = text.trim_start().starts_with('{');
    match serde_json::from_str::<FileRepr>(text) {
        Ok(repr) if object => {
            check_format(Some(&serde_json::Value::String(repr.format.clone())))?;
            decode_file(repr)
        }
        // Parsing failed (or was not of an object): find out why, from the most basic reason
        // up, so that a file of another version is not called malformed.
        outcome => {
            serde_json::from_str::<serde::de::IgnoredAny>(text).map_err(FileError::NotJson)?;
            if !object {
                return Err(FileError::NotAResultFile);
            }
            let probe: FormatProbe =
                serde_json::from_str(text).map_err(|_| FileError::NotAResultFile)?;
            check_format(probe.format.as_ref())?;
            match outcome {
                Err(e) => Err(FileError::Malformed(e)),
                Ok(_) => Err(FileError::NotAResultFile),
            }
        }
    }
}

/// Accepts this version's format string; names another version or says it is none.
fn check_format(format: Option<&serde_json::Value>) -> Result<(), FileError> {
    match format {
        Some(serde_json::Value::String(f)) if f == FORMAT => Ok(()),
        Some(serde_json::Value::String(f)) if f.starts_with(FORMAT_FAMILY) => {
            Err(FileError::UnknownVersion(f.clone()))
        }
        _ => Err(FileError::NotAResultFile),
    }
}

/// Reads the result file at `path`; every error names the path.
pub fn read(path: &Path) -> Result<RunResult, FileError> {
    let text = std::fs::read_to_string(path).map_err(|source| FileError::Io {
        path: path.to_owned(),
        source,
    })?;
    from_json(&text).map_err(|e| FileError::InFile {
        path: path.to_owned(),
        source: Box::new(e),
    })
}

fn decode_file(repr: FileRepr) -> Result<RunResult, FileError> {
    if let Some(SegmentRepr { index, count }) = &repr.meta.segment
        && (*index == 0 || index > count)
    {
        return Err(FileError::Invalid {
            field: "meta.segment",
            reason: format!(
                "{index}/{count} is not a share of the load (`--segment I/N` has I from 1 to N)"
            ),
        });
    }
    let meta = RunMeta {
        scenario: repr.meta.scenario,
        url: repr.meta.url,
        users: repr.meta.users,
        started_unix_ms: repr.meta.started_unix_ms,
        duration_ms: repr.meta.duration_ms,
        segment: repr.meta.segment.map(|s| (s.index, s.count)),
        runs: repr.meta.runs,
    };
    let mut budget = Budget {
        counts_left: MAX_FILE_COUNTS,
    };
    let mut result = RunResult::new(meta);
    result.counters = repr.counters;
    result.latencies = decode_map(repr.latencies, None, &mut budget)?;
    // Seconds sorted; a second given twice is added up (as a merge would).
    let mut by_second: BTreeMap<u64, Interval> = BTreeMap::new();
    for i in repr.series {
        let interval = Interval {
            unix_second: i.unix_second,
            active_users: i.active_users,
            latencies: decode_map(i.latencies, Some(i.unix_second), &mut budget)?,
            counters: i.counters,
        };
        match by_second.get_mut(&interval.unix_second) {
            Some(known) => known.add(&interval),
            None => {
                by_second.insert(interval.unix_second, interval);
            }
        }
    }
    result.series = by_second.into_values().collect();
    Ok(result)
}

/// How many histogram counts one file may still make this process hold.
struct Budget {
    counts_left: u64,
}

/// The most histogram counts (8 bytes each) one file may make this process hold: 2 GiB. A
/// histogram of a few dozen bytes in the file can take up to ~190 KB of counts in memory, so
/// without a budget a small forged file could exhaust memory.
const MAX_FILE_COUNTS: u64 = 1 << 28;

fn decode_map(
    map: BTreeMap<String, HistogramRepr>,
    second: Option<u64>,
    budget: &mut Budget,
) -> Result<BTreeMap<String, Histogram<u64>>, FileError> {
    let mut out = BTreeMap::new();
    for (metric, repr) in map {
        let h = match decode(&repr.hdr) {
            Ok(h) => h,
            Err(reason) => {
                return Err(FileError::BadHistogram {
                    metric,
                    second,
                    reason,
                });
            }
        };
        let size = h.distinct_values() as u64;
        if size > budget.counts_left {
            return Err(FileError::TooLarge {
                limit_bytes: MAX_FILE_COUNTS * 8,
            });
        }
        budget.counts_left -= size;
        out.insert(metric, h);
    }
    Ok(out)
}

/// The V2 header: cookie, payload length, normalizing offset, significant digits (4 bytes
/// each), lowest and highest trackable values (8 bytes each), integer-to-double ratio (8).
const V2_HEADER_LEN: usize = 40;
/// The V2 cookie of an uncompressed histogram (what [`V2Serializer`] writes).
const V2_COOKIE: u32 = 0x1c84_9313;
/// The largest `highest trackable value` accepted in a header: it sizes the counts array the
/// decoder allocates, so a forged header could otherwise ask for gigabytes.
const MAX_HEADER_HIGH: u64 = 1 << 40;

/// Decodes one `hdr` string into a histogram, or says why not.
fn decode(hdr: &str) -> Result<Histogram<u64>, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(hdr.trim())
        .map_err(|e| format!("not base64 ({e})"))?;
    check_header(&bytes)?;
    let decoded: Histogram<u64> = Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| format!("not an HdrHistogram V2 encoding ({e})"))?;
    if !decoded.is_empty() && decoded.max() > MAX_LATENCY_US.saturating_mul(2) {
        return Err(format!(
            "it holds latencies up to {} µs, beyond the 1-hour range of a bench histogram",
            decoded.max()
        ));
    }
    Ok(compact(decoded))
}

/// The histogram in as little memory as holds its samples exactly, and allowed to grow so
/// that merging a wider histogram into it stays exact instead of clamping.
///
/// A histogram of the crate's precision (3 digits from 1 µs) is re-laid out to cover only up
/// to its largest sample (a per-second histogram of millisecond replies takes a quarter of a
/// full-range one), which is exact: the buckets are the same. One of another precision is
/// kept as it is, unless it takes more than a full-range histogram of the crate's precision;
/// then it is re-recorded at that precision (bounded memory, percentiles to 3 digits).
fn compact(mut decoded: Histogram<u64>) -> Histogram<u64> {
    if decoded.sigfig() == 3 && decoded.low() == 1 {
        let mut small = new_interval_histogram();
        if small.add(&decoded).is_ok() && small.distinct_values() < decoded.distinct_values() {
            return small;
        }
    } else if decoded.distinct_values() > full_range_len() {
        tracing::warn!(
            digits = decoded.sigfig(),
            low = decoded.low(),
            "a histogram of another precision is re-recorded at 3 significant digits"
        );
        let mut h = new_latency_histogram();
        add_clamped(&mut h, &decoded);
        return h;
    }
    decoded.auto(true);
    decoded
}

/// How many counts a full-range histogram of the crate's precision has.
fn full_range_len() -> usize {
    static LEN: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *LEN.get_or_init(|| new_latency_histogram().distinct_values())
}

fn check_header(bytes: &[u8]) -> Result<(), String> {
    let word = |at: usize| -> Option<u32> {
        Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
    };
    let long = |at: usize| -> Option<u64> {
        Some(u64::from_be_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
    };
    let too_short = || format!("{} bytes, shorter than a histogram header", bytes.len());
    let cookie = word(0).ok_or_else(too_short)?;
    if cookie != V2_COOKIE {
        return Err(format!(
            "not an uncompressed HdrHistogram V2 encoding (cookie {cookie:#010x})"
        ));
    }
    let payload = word(4).ok_or_else(too_short)? as usize;
    let digits = word(12).ok_or_else(too_short)?;
    let low = long(16).ok_or_else(too_short)?;
    let high = long(24).ok_or_else(too_short)?;
    if payload != bytes.len().saturating_sub(V2_HEADER_LEN) || bytes.len() < V2_HEADER_LEN {
        return Err(format!(
            "the header announces {payload} bytes of counts but {} follow",
            bytes.len().saturating_sub(V2_HEADER_LEN)
        ));
    }
    if digits > 5 || low == 0 || high > MAX_HEADER_HIGH || high < low.saturating_mul(2) {
        return Err(format!(
            "unusable bounds: {digits} significant digits, values {low} to {high}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repr_of(values: &[u64]) -> HistogramRepr {
        let mut h = new_latency_histogram();
        for v in values {
            h.record(*v).unwrap();
        }
        encode(&h)
    }

    #[test]
    fn a_full_range_histogram_of_small_values_is_read_compact_and_exact() {
        let values: Vec<u64> = (1..=25_000).step_by(7).collect();
        let mut original = new_latency_histogram();
        for v in &values {
            original.record(*v).unwrap();
        }
        let read = decode(&encode(&original).hdr).unwrap();
        assert!(
            read.distinct_values() * 3 < original.distinct_values(),
            "{} counts read for {} written",
            read.distinct_values(),
            original.distinct_values()
        );
        let pairs = |h: &Histogram<u64>| -> Vec<(u64, u64)> {
            h.iter_recorded()
                .map(|v| (v.value_iterated_to(), v.count_at_value()))
                .collect()
        };
        assert_eq!(pairs(&read), pairs(&original));
        // And it still takes an hour-long sample exactly.
        let mut grown = read.clone();
        grown.record(MAX_LATENCY_US).unwrap();
        assert_eq!(grown.max(), {
            let mut o = original.clone();
            o.record(MAX_LATENCY_US).unwrap();
            o.max()
        });
    }

    #[test]
    fn a_file_may_not_make_the_process_hold_unbounded_counts() {
        let map: BTreeMap<String, HistogramRepr> = (0..3)
            .map(|i| (format!("m{i}"), repr_of(&[MAX_LATENCY_US])))
            .collect();
        let one = full_range_len() as u64;
        let mut budget = Budget {
            counts_left: 2 * one + one / 2,
        };
        let error = decode_map(map, None, &mut budget).unwrap_err();
        assert!(matches!(error, FileError::TooLarge { .. }), "{error:?}");
        assert!(error.to_string().contains("MiB of memory"), "{error}");

        let map: BTreeMap<String, HistogramRepr> = (0..2)
            .map(|i| (format!("m{i}"), repr_of(&[MAX_LATENCY_US])))
            .collect();
        let mut budget = Budget {
            counts_left: 2 * one + one / 2,
        };
        assert_eq!(decode_map(map, None, &mut budget).unwrap().len(), 2);
    }
}
