//! Merging runs: the results of several processes (`--workers`), machines (`--segment I/N`) or
//! files (`bench report a.json b.json`) become one result, exactly.
//!
//! - Histograms add bucket by bucket, so every percentile of the merge is the percentile of all
//!   the samples together (not an average of percentiles).
//! - Counters add.
//! - The time series add second by second, aligned on the wall-clock second (`unix_second`):
//!   active users add, counter increments add, per-second histograms add.
//! - Metadata: users add, the start is the earliest start, the duration spans from the earliest
//!   start to the latest end, `runs` add. The URL is kept when the runs share it; otherwise the
//!   distinct URLs are listed, comma-separated. `segment` becomes `None`: a merge is not one
//!   share of the load any more. Use [`segment_coverage`] before merging to say which shares
//!   are missing or doubled.
//!
//! Runs of different scenarios do not merge ([`MergeError::ScenarioMismatch`]).

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use crate::result::{Interval, RunResult, add_clamped};

/// Why two results cannot be merged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    /// The runs ran different scenarios: their metrics mean different things.
    #[error(
        "cannot merge a run of scenario `{theirs}` into a run of scenario `{ours}`: \
         merge only the results of one scenario"
    )]
    ScenarioMismatch {
        /// The scenario of the result merged into.
        ours: String,
        /// The scenario of the result being merged.
        theirs: String,
    },
}

impl RunResult {
    /// Adds `other` into `self`, exactly (see the [module docs](crate::merge) for each part).
    ///
    /// On error `self` is unchanged.
    ///
    /// ```
    /// use slipstream_bench::result::{new_latency_histogram, RunMeta, RunResult};
    /// let mut a = RunResult::new(RunMeta::new("ping", "ws://a/socket"));
    /// let mut b = RunResult::new(RunMeta::new("ping", "ws://a/socket"));
    /// let mut h = new_latency_histogram();
    /// h.record(1_200).unwrap();
    /// b.latencies.insert("reply.ping".into(), h);
    /// b.counters.insert("errors.push_timeout".into(), 2);
    /// a.merge(&b).unwrap();
    /// assert_eq!(a.latencies["reply.ping"].len(), 1);
    /// assert_eq!(a.errors(), 2);
    /// assert_eq!(a.meta.runs, 2);
    /// ```
    pub fn merge(&mut self, other: &RunResult) -> Result<(), MergeError> {
        if self.meta.scenario != other.meta.scenario {
            return Err(MergeError::ScenarioMismatch {
                ours: self.meta.scenario.clone(),
                theirs: other.meta.scenario.clone(),
            });
        }
        self.merge_meta(other);
        add_histograms(&mut self.latencies, &other.latencies, None);
        add_counters(&mut self.counters, &other.counters);
        self.merge_series(&other.series);
        Ok(())
    }

    fn merge_meta(&mut self, other: &RunResult) {
        let (ours, theirs) = (&mut self.meta, &other.meta);
        let end = ours.ended_unix_ms().max(theirs.ended_unix_ms());
        ours.started_unix_ms = ours.started_unix_ms.min(theirs.started_unix_ms);
        ours.duration_ms = end - ours.started_unix_ms;
        ours.users = ours.users.saturating_add(theirs.users);
        ours.runs = ours.runs.saturating_add(theirs.runs);
        ours.segment = None;
        for url in theirs.url.split(", ") {
            if !ours.url.split(", ").any(|known| known == url) {
                if !ours.url.is_empty() {
                    ours.url.push_str(", ");
                }
                ours.url.push_str(url);
            }
        }
    }

    fn merge_series(&mut self, other: &[Interval]) {
        if other.is_empty() {
            return;
        }
        let mut by_second: BTreeMap<u64, Interval> = BTreeMap::new();
        for interval in std::mem::take(&mut self.series)
            .into_iter()
            .chain(other.iter().cloned())
        {
            match by_second.get_mut(&interval.unix_second) {
                None => {
                    by_second.insert(interval.unix_second, interval);
                }
                Some(known) => known.add(&interval),
            }
        }
        self.series = by_second.into_values().collect();
    }
}

impl Interval {
    /// Adds another interval's figures into this one (whatever its second).
    pub fn add(&mut self, other: &Interval) {
        self.active_users = self.active_users.saturating_add(other.active_users);
        add_histograms(
            &mut self.latencies,
            &other.latencies,
            Some(self.unix_second),
        );
        add_counters(&mut self.counters, &other.counters);
    }
}

fn add_histograms(
    into: &mut BTreeMap<String, Histogram<u64>>,
    from: &BTreeMap<String, Histogram<u64>>,
    second: Option<u64>,
) {
    for (name, h) in from {
        match into.get_mut(name) {
            None => {
                into.insert(name.clone(), h.clone());
            }
            Some(known) => {
                if known.add(h).is_ok() {
                    continue;
                }
                // `h` holds values beyond `known`'s range: let `known` grow to take them
                // exactly. Only a resize beyond memory could still fail; then clamp.
                known.auto(true);
                if known.add(h).is_err() {
                    tracing::warn!(
                        metric = %name,
                        ?second,
                        "histogram too wide to merge: values beyond the range are clamped"
                    );
                    add_clamped(known, h);
                }
            }
        }
    }
}

fn add_counters(into: &mut BTreeMap<String, u64>, from: &BTreeMap<String, u64>) {
    for (name, n) in from {
        let known = into.entry(name.clone()).or_insert(0);
        *known = known.saturating_add(*n);
    }
}

/// Which shares of a load split with `--segment I/N` a set of results covers, to tell before
/// merging that one is missing or given twice. `None` when no result is a segment.
///
/// ```
/// use slipstream_bench::merge::segment_coverage;
/// use slipstream_bench::result::{RunMeta, RunResult};
/// let share = |i| {
///     let mut r = RunResult::new(RunMeta::new("ping", "ws://a/socket"));
///     r.meta.segment = Some((i, 3));
///     r
/// };
/// let coverage = segment_coverage(&[share(1), share(3), share(3)]).unwrap();
/// assert_eq!(coverage.missing, vec![2]);
/// assert_eq!(coverage.repeated, vec![3]);
/// assert!(!coverage.is_complete());
/// ```
pub fn segment_coverage(results: &[RunResult]) -> Option<SegmentCoverage> {
    let segments: Vec<(u32, u32)> = results.iter().filter_map(|r| r.meta.segment).collect();
    let of = segments.iter().map(|(_, n)| *n).max()?;
    let mut seen: BTreeMap<u32, usize> = BTreeMap::new();
    for (i, _) in &segments {
        *seen.entry(*i).or_insert(0) += 1;
    }
    // A share count above a few thousand is no real split; do not list millions of numbers.
    let missing = if of <= 10_000 {
        (1..=of).filter(|i| !seen.contains_key(i)).collect()
    } else {
        Vec::new()
    };
    Some(SegmentCoverage {
        of,
        mixed_counts: segments.iter().any(|(_, n)| *n != of),
        whole_runs: results.iter().filter(|r| r.meta.segment.is_none()).count(),
        missing,
        repeated: seen
            .into_iter()
            .filter(|(_, n)| *n > 1)
            .map(|(i, _)| i)
            .collect(),
    })
}

/// What [`segment_coverage`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentCoverage {
    /// N of `I/N` (the largest N when results disagree).
    pub of: u32,
    /// Whether the results were split into different numbers of shares.
    pub mixed_counts: bool,
    /// How many results were not a segment at all.
    pub whole_runs: usize,
    /// The shares no result covers, in order.
    pub missing: Vec<u32>,
    /// The shares given more than once, in order.
    pub repeated: Vec<u32>,
}

impl SegmentCoverage {
    /// Whether the results are every share exactly once and nothing else.
    pub fn is_complete(&self) -> bool {
        self.missing.is_empty()
            && self.repeated.is_empty()
            && !self.mixed_counts
            && self.whole_runs == 0
    }

    /// One warning line per problem, for people (empty when complete).
    pub fn warnings(&self) -> Vec<String> {
        let list = |v: &[u32]| {
            v.iter()
                .map(|i| format!("{i}/{}", self.of))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut lines = Vec::new();
        if self.mixed_counts {
            lines.push("the results split the load into different numbers of segments".into());
        }
        if !self.missing.is_empty() {
            lines.push(format!("segments missing: {}", list(&self.missing)));
        }
        if !self.repeated.is_empty() {
            lines.push(format!(
                "segments given more than once (counted twice): {}",
                list(&self.repeated)
            ));
        }
        if self.whole_runs > 0 {
            lines.push(format!(
                "{} result(s) are whole runs merged with segments",
                self.whole_runs
            ));
        }
        lines
    }
}

/// Why [`merge_files`] could not produce one result.
#[derive(Debug, thiserror::Error)]
pub enum MergeFilesError {
    /// No file was given.
    #[error("no result files given; pass one or more files written by `slipstream bench --out`")]
    NoFiles,
    /// A file could not be read (the error names it).
    #[error(transparent)]
    File(#[from] crate::file::FileError),
    /// A file's run does not merge with the ones before it.
    #[error("{}: {source}", path.display())]
    Merge {
        /// The file that did not merge.
        path: std::path::PathBuf,
        /// Why.
        source: MergeError,
    },
}

/// Files read and merged into one result, with warnings for people (segments missing or
/// given twice).
#[derive(Debug, Clone)]
pub struct MergedFiles {
    /// The merge of every file, in the order given.
    pub result: RunResult,
    /// One line per problem worth telling (empty when none).
    pub warnings: Vec<String>,
}

/// Reads every result file and merges them, in order (what `slipstream bench report` does).
/// The first file that cannot be read or merged stops it, with its path in the error.
pub fn merge_files<P: AsRef<std::path::Path>>(paths: &[P]) -> Result<MergedFiles, MergeFilesError> {
    let mut results = Vec::with_capacity(paths.len());
    for path in paths {
        results.push(crate::file::read(path.as_ref())?);
    }
    let warnings = segment_coverage(&results)
        .map(|c| c.warnings())
        .unwrap_or_default();
    let mut results = results.into_iter();
    let mut merged = results.next().ok_or(MergeFilesError::NoFiles)?;
    for (path, result) in paths.iter().skip(1).zip(results) {
        merged
            .merge(&result)
            .map_err(|source| MergeFilesError::Merge {
                path: path.as_ref().to_owned(),
                source,
            })?;
    }
    Ok(MergedFiles {
        result: merged,
        warnings,
    })
}
