//! Thresholds for CI: `--threshold 'reply.p99 < 50ms'`; a violated one makes the run fail.
//!
//! # Grammar
//!
//! ```text
//! THRESHOLD := NAME OP VALUE          (spaces anywhere between the parts, or none)
//! OP        := <  |  <=  |  >  |  >=  |  ==
//! ```
//!
//! | form | example | what is compared |
//! | --- | --- | --- |
//! | `METRIC.STAT OP DURATION` | `reply.p99 < 50ms` | a statistic of a latency histogram |
//! | `errors OP PERCENT` | `errors < 0.1%` | the error rate (below) |
//! | `errors.KIND OP PERCENT` | `errors.push_timeout < 0.1%` | one kind's share, same denominator |
//! | `COUNTER OP COUNT` | `errors < 10`, `messages.lost == 0` | a counter's total |
//! | `NAME.rate OP N/s` | `pushes.rate > 100/s` | a total divided by the run's duration |
//!
//! - METRIC is a latency histogram: `connect`, `join`, `reply.ping`, `delivery`,
//!   `presence.join`, `reconnect`, …. A name also takes in its sub-metrics: `reply` is every
//!   `reply.*` histogram added together, `presence` both `presence.join` and `presence.leave`.
//! - STAT is one of `p50`, `p90`, `p95`, `p99`, `p99.9`, `min`, `max`, `mean` (k6's `avg`,
//!   `med` and `p(95)` are read as `mean`, `p50` and `p95`). Percentiles are HdrHistogram's (3 significant digits).
//! - DURATION is a number with a unit: `us` (or `µs`), `ms`, `s`: `250us`, `0.5ms`, `2s`.
//! - COUNTER is a counter's name; `errors` is the sum of every `errors.*` counter. An error
//!   counter the run never incremented is 0; any other name the run neither counted nor
//!   recorded a latency for fails with "no samples". A latency METRIC used as a counter counts
//!   its samples (`connect >= 5000`: five thousand connects succeeded).
//! - The **error rate** is `errors / (errors + operations)`, where operations are all latency
//!   samples the run recorded (every successful connect, join, reply, delivery, …): the share
//!   of attempts that failed. `errors.KIND < X%` uses the same denominator.
//! - A rate divides a total (a counter's, or a metric's sample count) by the run's duration.
//!
//! A threshold on something the run never recorded fails with "no samples" instead of passing
//! silently. Mistakes are [`ThresholdError`]s whose messages say what to write instead.
//!
//! ```
//! use slipstream_bench::threshold::Threshold;
//! let t: Threshold = "reply.p99<100ms".parse().unwrap();
//! assert_eq!(t.to_string(), "reply.p99 < 100ms");
//! let err = "reply.p999 < 1ms".parse::<Threshold>().unwrap_err();
//! assert!(err.to_string().contains("use p50, p90, p95, p99, p99.9, min, max, mean"));
//! ```

use std::fmt;
use std::str::FromStr;

use crate::result::{ERROR_PREFIX, RunResult};
use crate::summary::{
    format_count, format_latency_us, format_percent, format_rate, format_run_duration_ms,
};

/// The statistics a latency threshold can name, as the error messages list them.
const STATS_HELP: &str = "p50, p90, p95, p99, p99.9, min, max, mean";
const EXAMPLES: &str = "e.g. `reply.p99 < 50ms`, `errors < 0.1%`, `messages.lost == 0`, \
                        `pushes.rate > 100/s`";

/// One threshold: what to measure, how to compare it, and the bound.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    target: Target,
    op: Op,
    bound: Bound,
}

/// What a threshold measures.
#[derive(Debug, Clone, PartialEq)]
enum Target {
    /// A statistic of a latency metric (with its sub-metrics).
    Latency { metric: String, stat: Stat },
    /// A counter's total (or a metric's sample count).
    Count { name: String },
    /// `errors` or `errors.KIND` over errors + operations.
    ErrorRate { name: String },
    /// A total per second of the run.
    Rate { name: String },
}

/// A latency statistic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stat {
    P50,
    P90,
    P95,
    P99,
    P999,
    Min,
    Max,
    Mean,
}

impl Stat {
    /// Longest first, so that `p99.9` is tried before `p99` would leave `.9` behind.
    const SUFFIXES: [(&'static str, Stat); 10] = [
        ("p99.9", Stat::P999),
        ("p50", Stat::P50),
        ("p90", Stat::P90),
        ("p95", Stat::P95),
        ("p99", Stat::P99),
        ("min", Stat::Min),
        ("max", Stat::Max),
        ("mean", Stat::Mean),
        ("avg", Stat::Mean),
        ("med", Stat::P50),
    ];

    fn name(self) -> &'static str {
        match self {
            Stat::P50 => "p50",
            Stat::P90 => "p90",
            Stat::P95 => "p95",
            Stat::P99 => "p99",
            Stat::P999 => "p99.9",
            Stat::Min => "min",
            Stat::Max => "max",
            Stat::Mean => "mean",
        }
    }

    /// Whether `word` was meant as a statistic (`p999`, `p75`, `median`, `average`, …).
    fn looks_like_one(word: &str) -> bool {
        let w = word.to_ascii_lowercase();
        let percentile = w
            .strip_prefix('p')
            .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit() || c == '('));
        percentile
            || ["median", "average", "minimum", "maximum", "avg", "med"].contains(&w.as_str())
            || Stat::SUFFIXES.iter().any(|(s, _)| *s == w)
    }
}

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
}

impl Op {
    /// Longest first, so `<=` is not read as `<` followed by `=`.
    const TOKENS: [(&'static str, Op); 5] = [
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("==", Op::Eq),
        ("<", Op::Lt),
        (">", Op::Gt),
    ];

    fn token(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "==",
        }
    }

    fn holds(self, observed: f64, bound: f64) -> bool {
        match self {
            Op::Lt => observed < bound,
            Op::Le => observed <= bound,
            Op::Gt => observed > bound,
            Op::Ge => observed >= bound,
            Op::Eq => observed == bound,
        }
    }
}

/// The value on the right, as written (number and unit), for the canonical text.
#[derive(Debug, Clone, PartialEq)]
struct Bound {
    number: f64,
    text: String,
    unit: Unit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    None,
    Micros,
    Millis,
    Seconds,
    Percent,
    PerSecond,
}

impl Unit {
    fn suffix(self) -> &'static str {
        match self {
            Unit::None => "",
            Unit::Micros => "µs",
            Unit::Millis => "ms",
            Unit::Seconds => "s",
            Unit::Percent => "%",
            Unit::PerSecond => "/s",
        }
    }

    fn is_time(self) -> bool {
        matches!(self, Unit::Micros | Unit::Millis | Unit::Seconds)
    }
}

impl Bound {
    /// The bound in the unit observations are made in: µs for durations, percent for
    /// percentages, per second for rates, a count otherwise.
    fn value(&self) -> f64 {
        match self.unit {
            Unit::Millis => self.number * 1_000.0,
            Unit::Seconds => self.number * 1_000_000.0,
            _ => self.number,
        }
    }
}

/// Why a threshold's text is not a threshold (or names what the run did not record). Each
/// message says what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThresholdError {
    /// Nothing was written.
    #[error("empty threshold; write NAME OP VALUE, {EXAMPLES}")]
    Empty,
    /// No `<`, `<=`, `>`, `>=` or `==` in the text.
    #[error("`{text}` has no comparison; use <, <=, >, >= or ==, {EXAMPLES}")]
    NoComparison {
        /// The whole threshold.
        text: String,
    },
    /// A single `=` (or `!=`, `=<`, `=>`) where a comparison was meant.
    #[error("`{op}` is not a comparison; use <, <=, >, >= or == (`messages.lost == 0`)")]
    BadComparison {
        /// What was written.
        op: String,
    },
    /// Nothing left of the comparison, or nothing right of it.
    #[error("nothing {side} `{op}`; write NAME OP VALUE, {EXAMPLES}")]
    Missing {
        /// `before` or `after`.
        side: &'static str,
        /// The comparison.
        op: String,
    },
    /// Something that is not a name left of the comparison.
    #[error(
        "`{name}` is not a metric or counter name (letters, digits, `.`, `_`, `-`); {EXAMPLES}"
    )]
    BadName {
        /// What was written.
        name: String,
    },
    /// The value right of the comparison is not a non-negative number with a known unit.
    #[error(
        "`{value}` is not a value; write a number with a unit: 50ms, 250us, 1.5s (latency), \
         0.1% (error rate), 100/s (rate), or a plain count such as 0"
    )]
    BadValue {
        /// What was written.
        value: String,
    },
    /// A statistic that is not one of the known ones.
    #[error("unknown statistic `{stat}`; use {STATS_HELP} (e.g. `{metric}.p99 < 50ms`)")]
    UnknownStatistic {
        /// What was written.
        stat: String,
        /// The metric it followed.
        metric: String,
    },
    /// A duration compared with something that is not `METRIC.STAT`.
    #[error(
        "`{name}` has no statistic to compare with a duration; write `{name}.p99 {op} {value}` \
         (or another of {STATS_HELP})"
    )]
    MissingStatistic {
        /// The metric.
        name: String,
        /// The comparison.
        op: String,
        /// The value.
        value: String,
    },
    /// A latency statistic compared with a value that is not a duration.
    #[error(
        "`{name}` is a latency: give the value a unit, e.g. `{name} {op} {number}ms` \
         (us, µs, ms or s)"
    )]
    MissingDuration {
        /// `METRIC.STAT`.
        name: String,
        /// The comparison.
        op: String,
        /// The number written.
        number: String,
    },
    /// A percentage on something other than errors.
    #[error(
        "a percentage is for errors (`errors < 0.1%`, `errors.push_timeout < 0.1%`); compare \
         `{name}` with a count (`{name} == 0`) or a rate (`{name}.rate < 1/s`)"
    )]
    PercentNotErrors {
        /// The counter.
        name: String,
    },
    /// `NAME.rate` without `/s`, or `/s` without `.rate`.
    #[error("a rate is `NAME.rate OP N/s`: write `{name}.rate {op} {number}/s`")]
    RateForm {
        /// The counter or metric.
        name: String,
        /// The comparison.
        op: String,
        /// The number written.
        number: String,
    },
    /// The threshold names a metric or counter the run did not record (see
    /// [`Threshold::validate`]).
    #[error(
        "unknown metric `{name}`: the run recorded {}{}",
        list(recorded),
        suggest(suggestion)
    )]
    UnknownMetric {
        /// The name in the threshold.
        name: String,
        /// The latency metrics and counters the run has, in order.
        recorded: Vec<String>,
        /// The recorded name closest to `name`, when one is close.
        suggestion: Option<String>,
    },
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "nothing".into()
    } else {
        names.join(", ")
    }
}

fn suggest(suggestion: &Option<String>) -> String {
    suggestion
        .as_ref()
        .map_or_else(String::new, |s| format!("; did you mean `{s}`?"))
}

impl FromStr for Threshold {
    type Err = ThresholdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.is_empty() {
            return Err(ThresholdError::Empty);
        }
        let (at, op, len) = find_op(text)?;
        let name = k6_percentile(text[..at].trim());
        let name = name.as_str();
        let value = text[at + len..].trim();
        for (side, empty) in [("before", name.is_empty()), ("after", value.is_empty())] {
            if empty {
                return Err(ThresholdError::Missing {
                    side,
                    op: op.token().into(),
                });
            }
        }
        check_name(name)?;
        let bound = parse_bound(value)?;
        let target = classify(name, op, &bound)?;
        Ok(Threshold { target, op, bound })
    }
}

/// k6 writes percentiles as `p(95)`: `reply.p(99.9)` is read as `reply.p99.9`.
fn k6_percentile(name: &str) -> String {
    match name.strip_suffix(')').and_then(|n| n.rsplit_once(".p(")) {
        Some((metric, p)) => format!("{metric}.p{p}"),
        None => name.to_owned(),
    }
}

/// The first comparison in `text`: its byte offset, the operator and its length.
fn find_op(text: &str) -> Result<(usize, Op, usize), ThresholdError> {
    let Some(at) = text.find(['<', '>', '=', '!']) else {
        return Err(ThresholdError::NoComparison { text: text.into() });
    };
    let rest = &text[at..];
    let written: String = rest
        .chars()
        .take_while(|c| matches!(c, '<' | '>' | '=' | '!'))
        .collect();
    match Op::TOKENS.iter().find(|(token, _)| *token == written) {
        Some((token, op)) => Ok((at, *op, token.len())),
        None => Err(ThresholdError::BadComparison { op: written }),
    }
}

fn check_name(name: &str) -> Result<(), ThresholdError> {
    let ok_char = |c: char| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | ':');
    let ok = !name.is_empty()
        && name.chars().all(ok_char)
        && !name.starts_with('.')
        && !name.ends_with('.')
        && !name.contains("..");
    if ok {
        Ok(())
    } else {
        Err(ThresholdError::BadName { name: name.into() })
    }
}

fn parse_bound(value: &str) -> Result<Bound, ThresholdError> {
    let bad = || ThresholdError::BadValue {
        value: value.into(),
    };
    let split = value
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(value.len());
    let (number_text, unit_text) = (&value[..split], value[split..].trim());
    let digits = number_text.chars().filter(char::is_ascii_digit).count();
    if digits == 0 || number_text.matches('.').count() > 1 {
        return Err(bad());
    }
    let number: f64 = number_text.parse().map_err(|_| bad())?;
    let unit = match unit_text.to_ascii_lowercase().as_str() {
        "" => Unit::None,
        "us" | "µs" | "μs" => Unit::Micros,
        "ms" => Unit::Millis,
        "s" => Unit::Seconds,
        "%" => Unit::Percent,
        "/s" => Unit::PerSecond,
        _ => return Err(bad()),
    };
    if !number.is_finite() {
        return Err(bad());
    }
    Ok(Bound {
        number,
        text: number_text
            .trim_start_matches('0')
            .trim_end_matches('.')
            .to_owned(),
        unit,
    })
}

fn classify(name: &str, op: Op, bound: &Bound) -> Result<Target, ThresholdError> {
    let number = bound_number(bound);
    if let Some(base) = name.strip_suffix(".rate") {
        if bound.unit != Unit::PerSecond {
            return Err(ThresholdError::RateForm {
                name: base.into(),
                op: op.token().into(),
                number,
            });
        }
        return Ok(Target::Rate { name: base.into() });
    }
    if bound.unit == Unit::PerSecond {
        return Err(ThresholdError::RateForm {
            name: name.into(),
            op: op.token().into(),
            number,
        });
    }
    let stat = Stat::SUFFIXES.iter().find_map(|(suffix, stat)| {
        let metric = name.strip_suffix(suffix)?.strip_suffix('.')?;
        (!metric.is_empty()).then_some((metric, *stat))
    });
    if let Some((metric, stat)) = stat {
        if !bound.unit.is_time() {
            return Err(ThresholdError::MissingDuration {
                name: name.into(),
                op: op.token().into(),
                number,
            });
        }
        return Ok(Target::Latency {
            metric: metric.into(),
            stat,
        });
    }
    let (prefix, last) = match name.rsplit_once('.') {
        Some((prefix, last)) => (prefix, last),
        None => ("", name),
    };
    if !prefix.is_empty() && (bound.unit.is_time() || Stat::looks_like_one(last)) {
        return Err(ThresholdError::UnknownStatistic {
            stat: last.into(),
            metric: prefix.into(),
        });
    }
    if bound.unit.is_time() {
        return Err(ThresholdError::MissingStatistic {
            name: name.into(),
            op: op.token().into(),
            value: format!("{number}{}", bound.unit.suffix()),
        });
    }
    if bound.unit == Unit::Percent {
        if !is_error_counter(name) {
            return Err(ThresholdError::PercentNotErrors { name: name.into() });
        }
        return Ok(Target::ErrorRate { name: name.into() });
    }
    Ok(Target::Count { name: name.into() })
}

fn bound_number(bound: &Bound) -> String {
    if bound.text.is_empty() || bound.text.starts_with('.') {
        format!("0{}", bound.text)
    } else {
        bound.text.clone()
    }
}

/// `errors` or `errors.KIND`.
fn is_error_counter(name: &str) -> bool {
    name == "errors" || name.starts_with(ERROR_PREFIX)
}

impl fmt::Display for Threshold {
    /// The canonical text: `NAME OP VALUE` with single spaces and the unit normalized
    /// (`reply.p99 < 50ms`, `errors < 0.1%`, `pushes.rate > 100/s`). It parses back to the
    /// same threshold.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.target {
            Target::Latency { metric, stat } => write!(f, "{metric}.{}", stat.name())?,
            Target::Count { name } | Target::ErrorRate { name } => write!(f, "{name}")?,
            Target::Rate { name } => write!(f, "{name}.rate")?,
        }
        write!(
            f,
            " {} {}{}",
            self.op.token(),
            bound_number(&self.bound),
            self.bound.unit.suffix()
        )
    }
}

/// A threshold checked against a run.
#[derive(Debug, Clone, PartialEq)]
pub struct ThresholdOutcome {
    /// The threshold.
    pub threshold: Threshold,
    /// Whether the run met it (a threshold on something not recorded is not met).
    pub passed: bool,
    /// What the run measured, for people: `62.1ms`, `0.4% (12 of 3,000)`, `no samples …`.
    pub observed: String,
}

impl Threshold {
    /// Checks the run against the threshold.
    ///
    /// ```
    /// use slipstream_bench::result::{new_latency_histogram, RunMeta, RunResult};
    /// use slipstream_bench::threshold::Threshold;
    /// let mut run = RunResult::new(RunMeta::new("ping", "ws://localhost/socket"));
    /// let mut h = new_latency_histogram();
    /// h.record(12_300).unwrap();
    /// run.latencies.insert("reply.ping".into(), h);
    /// let ok = "reply.p99 < 50ms".parse::<Threshold>().unwrap().check(&run);
    /// assert!(ok.passed);
    /// assert_eq!(ok.observed, "12.3ms");
    /// let missing = "join.p99 < 50ms".parse::<Threshold>().unwrap().check(&run);
    /// assert!(!missing.passed);
    /// assert!(missing.observed.starts_with("no samples"));
    /// ```
    pub fn check(&self, result: &RunResult) -> ThresholdOutcome {
        let (passed, observed) = match self.observe(result) {
            Ok((value, observed)) => (self.op.holds(value, self.bound.value()), observed),
            Err(why) => (false, why),
        };
        ThresholdOutcome {
            threshold: self.clone(),
            passed,
            observed,
        }
    }

    /// Says whether the run recorded what the threshold names: `Err(UnknownMetric)` with the
    /// names it did record (and the closest one) when not. [`check`](Self::check) fails such a
    /// threshold anyway; this is for telling a typo apart from a metric with no samples.
    pub fn validate(&self, result: &RunResult) -> Result<(), ThresholdError> {
        let name = self.name();
        if self.find(result, name).is_some() {
            return Ok(());
        }
        let latencies_only = matches!(self.target, Target::Latency { .. });
        let recorded = recorded_names(result, latencies_only);
        let suggestion = closest(name, &recorded);
        Err(ThresholdError::UnknownMetric {
            name: name.into(),
            recorded,
            suggestion,
        })
    }

    /// The metric or counter the threshold is about (`reply`, `errors.push_timeout`, …).
    pub fn name(&self) -> &str {
        match &self.target {
            Target::Latency { metric, .. } => metric,
            Target::Count { name } | Target::ErrorRate { name } | Target::Rate { name } => name,
        }
    }

    /// The total the threshold's name stands for: a counter's, the sum of `errors.*`, or a
    /// metric's sample count; `None` when the run has none of them. Error counters the run
    /// never incremented are 0: errors are only counted when they happen.
    fn find(&self, result: &RunResult, name: &str) -> Option<u64> {
        if let Target::Latency { .. } = self.target {
            return result.latency(name).map(|h| h.len());
        }
        if name == "errors" {
            return Some(result.errors());
        }
        if let Some(n) = result.counters.get(name) {
            return Some(*n);
        }
        if name.starts_with(ERROR_PREFIX) {
            return Some(0);
        }
        result.latency(name).map(|h| h.len())
    }

    /// The observed value (in the bound's unit) and its text, or why there is none.
    fn observe(&self, result: &RunResult) -> Result<(f64, String), String> {
        let no_samples = |detail: String| format!("no samples ({detail})");
        let unknown = || match self.validate(result) {
            Err(ThresholdError::UnknownMetric {
                recorded,
                suggestion,
                ..
            }) => no_samples(format!(
                "the run recorded {}{}",
                list(&recorded),
                suggest(&suggestion)
            )),
            _ => no_samples(format!("nothing named `{}`", self.name())),
        };
        match &self.target {
            Target::Latency { metric, stat } => {
                let h = result.latency(metric).ok_or_else(unknown)?;
                if h.is_empty() {
                    return Err(no_samples(format!("`{metric}` recorded none")));
                }
                let us = match stat {
                    Stat::P50 => h.value_at_percentile(50.0) as f64,
                    Stat::P90 => h.value_at_percentile(90.0) as f64,
                    Stat::P95 => h.value_at_percentile(95.0) as f64,
                    Stat::P99 => h.value_at_percentile(99.0) as f64,
                    Stat::P999 => h.value_at_percentile(99.9) as f64,
                    Stat::Min => h.min() as f64,
                    Stat::Max => h.max() as f64,
                    Stat::Mean => h.mean(),
                };
                Ok((us, format_latency_us(us)))
            }
            Target::Count { name } => {
                let n = self.find(result, name).ok_or_else(unknown)?;
                Ok((n as f64, format_count(n)))
            }
            Target::ErrorRate { name } => {
                let n = self.find(result, name).ok_or_else(unknown)?;
                let attempts = result.errors().saturating_add(result.operations());
                if attempts == 0 {
                    return Err(no_samples("no operations and no errors".into()));
                }
                let fraction = n as f64 / attempts as f64;
                Ok((
                    fraction * 100.0,
                    format!(
                        "{} ({} of {})",
                        format_percent(fraction),
                        format_count(n),
                        format_count(attempts)
                    ),
                ))
            }
            Target::Rate { name } => {
                let n = self.find(result, name).ok_or_else(unknown)?;
                let secs = result.duration_secs();
                if secs <= 0.0 {
                    return Err(no_samples("the run lasted no time".into()));
                }
                let rate = n as f64 / secs;
                Ok((
                    rate,
                    format!(
                        "{} ({} in {})",
                        format_rate(rate),
                        format_count(n),
                        format_run_duration_ms(result.meta.duration_ms)
                    ),
                ))
            }
        }
    }
}

/// Every name a threshold can use on this run, sorted: latency metrics (with their groups,
/// such as `reply`), and unless `latencies_only`, counters and `errors`.
fn recorded_names(result: &RunResult, latencies_only: bool) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for metric in result.latencies.keys() {
        let mut prefix = metric.as_str();
        names.push(metric.clone());
        while let Some((group, _)) = prefix.rsplit_once('.') {
            names.push(group.to_owned());
            prefix = group;
        }
    }
    if latencies_only {
        names.sort();
        names.dedup();
        return names;
    }
    names.extend(result.counters.keys().cloned());
    if result.counters.keys().any(|k| k.starts_with(ERROR_PREFIX)) {
        names.push("errors".into());
    }
    names.sort();
    names.dedup();
    names
}

/// The name in `names` closest to `name` by edit distance, if within a third of its length.
fn closest(name: &str, names: &[String]) -> Option<String> {
    let limit = (name.chars().count() / 3).max(1);
    names
        .iter()
        .map(|n| (edit_distance(name, n), n))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n.clone())
}

/// Levenshtein distance over characters, with one row of memory.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

/// One line per outcome: `✓ reply.p99 < 50ms (observed 12.3ms)` or `✗ …`, each ending in a
/// newline.
pub fn render_outcomes(outcomes: &[ThresholdOutcome]) -> String {
    outcomes
        .iter()
        .map(|o| {
            format!(
                "{} {} (observed {})\n",
                if o.passed { '✓' } else { '✗' },
                o.threshold,
                o.observed
            )
        })
        .collect()
}

/// Checks every threshold; the outcomes are in the same order.
pub fn check_all(thresholds: &[Threshold], result: &RunResult) -> Vec<ThresholdOutcome> {
    thresholds.iter().map(|t| t.check(result)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("rply", "reply"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(
            closest("rply", &["connect".into(), "reply".into()]),
            Some("reply".into())
        );
        assert_eq!(closest("xyz", &["connect".into()]), None);
    }

    #[test]
    fn bounds_in_observation_units() {
        let t: Threshold = "reply.p99 < 1.5s".parse().unwrap();
        assert_eq!(t.bound.value(), 1_500_000.0);
        let t: Threshold = "reply.p99 < 250us".parse().unwrap();
        assert_eq!(t.bound.value(), 250.0);
        let t: Threshold = "reply.p99 < 0.5ms".parse().unwrap();
        assert_eq!(t.bound.value(), 500.0);
    }
}
