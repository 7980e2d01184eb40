//! The end-of-test summary for people, and the number formats every report shares.
//!
//! [`render`] prints what k6 and hyperfine print at the end of a run: a header (scenario, URL,
//! users, start, duration), one row per latency metric (count, rate, min, p50, p90, p99, max in
//! human units), the counters, and the errors by kind with their share of all operations.
//! The `format_*` functions are the units used everywhere (the summary, thresholds, the HTML
//! report, the live display): `812µs`, `3.41ms`, `1.2s`, `3,000`, `0.4%`, `41.7/s`, `2m 5s`.

use std::fmt::Write as _;

use hdrhistogram::Histogram;

use crate::result::RunResult;

/// The summary of a run (or a merge of runs) as plain text, one line per row, ending in a
/// newline. No colours: the caller decides about terminals.
///
/// ```
/// use slipstream_bench::result::{new_latency_histogram, RunMeta, RunResult};
/// let mut run = RunResult::new(RunMeta::new("ping", "ws://localhost:4000/socket/websocket"));
/// run.meta.duration_ms = 2_000;
/// let mut h = new_latency_histogram();
/// h.record(3_410).unwrap();
/// run.latencies.insert("reply.ping".into(), h);
/// let text = slipstream_bench::summary::render(&run);
/// assert!(text.contains("reply.ping"));
/// assert!(text.contains("3.41ms"));
/// ```
pub fn render(result: &RunResult) -> String {
    let mut out = String::new();
    render_header(result, &mut out);
    out.push('\n');
    render_latencies(result, &mut out);
    render_counters(result, &mut out);
    render_errors(result, &mut out);
    out
}

/// What ran, where and when, as (label, value) rows: the summary's header and the HTML
/// report's first table.
pub fn meta_rows(result: &RunResult) -> Vec<(&'static str, String)> {
    let meta = &result.meta;
    let mut rows = vec![
        ("scenario", meta.scenario.clone()),
        ("url", meta.url.clone()),
        ("users", format_count(meta.users)),
        ("started", format_unix_ms(meta.started_unix_ms)),
        ("duration", format_run_duration_ms(meta.duration_ms)),
    ];
    if meta.runs > 1 {
        rows.push(("merged", format!("{} runs", format_count(meta.runs.into()))));
    }
    if let Some((i, n)) = meta.segment {
        rows.push(("segment", format!("{i}/{n} of the load")));
    }
    rows
}

fn render_header(result: &RunResult, out: &mut String) {
    let rows = meta_rows(result);
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (key, value) in rows {
        let _ = writeln!(out, "  {key:<width$}  {}", one_line(&value));
    }
}

fn render_latencies(result: &RunResult, out: &mut String) {
    if result.latencies.is_empty() {
        out.push_str("  no latencies recorded\n\n");
        return;
    }
    let secs = result.duration_secs();
    let mut table = Table::new(&[
        "latency", "count", "rate", "min", "p50", "p90", "p99", "max",
    ]);
    for (name, h) in &result.latencies {
        let mut row = vec![
            one_line(name),
            format_count(h.len()),
            rate_cell(h.len(), secs),
        ];
        row.extend(latency_cells(h));
        table.row(row);
    }
    table.write(out);
    out.push('\n');
}

/// min, p50, p90, p99, max of `h` in human units (`-` for an empty histogram).
fn latency_cells(h: &Histogram<u64>) -> Vec<String> {
    if h.is_empty() {
        return vec!["-".into(); 5];
    }
    let us = |v: u64| format_latency_us(v as f64);
    vec![
        us(h.min()),
        us(h.value_at_percentile(50.0)),
        us(h.value_at_percentile(90.0)),
        us(h.value_at_percentile(99.0)),
        us(h.max()),
    ]
}

/// `n` over `secs` as a rate, or `-` for a run of no length (the summary's and the report's rate
/// column).
pub(crate) fn rate_cell(n: u64, secs: f64) -> String {
    if secs > 0.0 {
        format_rate(n as f64 / secs)
    } else {
        "-".into()
    }
}

fn render_counters(result: &RunResult, out: &mut String) {
    let counters: Vec<_> = result.plain_counters().collect();
    if counters.is_empty() {
        return;
    }
    let secs = result.duration_secs();
    let mut table = Table::new(&["counter", "total", "rate"]);
    for (name, n) in counters {
        table.row(vec![one_line(name), format_count(*n), rate_cell(*n, secs)]);
    }
    table.write(out);
    out.push('\n');
}

fn render_errors(result: &RunResult, out: &mut String) {
    let errors = result.errors();
    let attempts = errors.saturating_add(result.operations());
    if errors == 0 {
        let _ = writeln!(
            out,
            "  errors  none in {} operations",
            format_count(result.operations())
        );
        return;
    }
    let share = |n: u64| format_percent(n as f64 / attempts as f64);
    let mut table = Table::new(&["errors", "count", "share"]);
    table.row(vec!["all".into(), format_count(errors), share(errors)]);
    for (kind, n) in result.errors_by_kind() {
        table.row(vec![
            format!("  {}", one_line(kind)),
            format_count(n),
            share(n),
        ]);
    }
    table.write(out);
    let _ = writeln!(
        out,
        "  share: of {} attempts (operations that recorded a latency, plus errors)",
        format_count(attempts)
    );
}

/// Text from a result file on one line: control characters (newlines, escapes that could
/// move a terminal's cursor) are shown as `?`.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// A table with a left-aligned first column and right-aligned others, two spaces between.
struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    fn new(header: &[&str]) -> Self {
        Table {
            rows: vec![header.iter().map(|h| (*h).to_owned()).collect()],
        }
    }

    fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    fn write(&self, out: &mut String) {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(c))
                    .map(|cell| cell.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for row in &self.rows {
            let mut line = String::new();
            for (c, cell) in row.iter().enumerate() {
                let pad = widths[c].saturating_sub(cell.chars().count());
                line.push_str("  ");
                if c == 0 {
                    line.push_str(cell);
                    line.extend(std::iter::repeat_n(' ', pad));
                } else {
                    line.extend(std::iter::repeat_n(' ', pad));
                    line.push_str(cell);
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
}

/// `x` with three significant digits, trailing zeros dropped: `3.41`, `12.3`, `812`, `1.2`.
fn significant(x: f64) -> String {
    if !x.is_finite() || x <= 0.0 {
        return "0".into();
    }
    let decimals = if x >= 100.0 {
        0
    } else if x >= 10.0 {
        1
    } else if x >= 1.0 {
        2
    } else {
        // Below 1: enough decimals for three significant digits, at most 6.
        (2 - x.log10().floor() as i32).clamp(2, 6) as usize
    };
    let text = format!("{x:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

/// A latency given in microseconds, in the unit that reads best: `812µs`, `3.41ms`, `1.2s`.
///
/// ```
/// use slipstream_bench::summary::format_latency_us;
/// assert_eq!(format_latency_us(812.0), "812µs");
/// assert_eq!(format_latency_us(3_410.0), "3.41ms");
/// assert_eq!(format_latency_us(1_200_000.0), "1.2s");
/// ```
pub fn format_latency_us(us: f64) -> String {
    if !us.is_finite() || us < 0.0 {
        return "-".into();
    }
    // Switch units where three significant digits would round up to 1000.
    if us < 999.5 {
        format!("{}µs", significant(us))
    } else if us < 999_500.0 {
        format!("{}ms", significant(us / 1_000.0))
    } else {
        format!("{}s", significant(us / 1_000_000.0))
    }
}

/// A count with thousands separators: `3,000`, `1,234,567`.
///
/// ```
/// assert_eq!(slipstream_bench::summary::format_count(1_234_567), "1,234,567");
/// ```
pub fn format_count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// A fraction (0.004) as a percentage (`0.4%`): two decimals, or three significant digits
/// below 0.01%, trailing zeros dropped.
///
/// ```
/// use slipstream_bench::summary::format_percent;
/// assert_eq!(format_percent(0.004), "0.4%");
/// assert_eq!(format_percent(1.0 / 3.0), "33.33%");
/// assert_eq!(format_percent(0.0), "0%");
/// ```
pub fn format_percent(fraction: f64) -> String {
    if !fraction.is_finite() || fraction <= 0.0 {
        return "0%".into();
    }
    let pct = fraction * 100.0;
    if pct < 0.01 {
        return format!("{}%", significant(pct));
    }
    let text = format!("{pct:.2}");
    format!("{}%", text.trim_end_matches('0').trim_end_matches('.'))
}

/// A rate per second: `41.7/s`, `1,250/s` (whole numbers from 100 on).
pub fn format_rate(per_second: f64) -> String {
    if !per_second.is_finite() || per_second <= 0.0 {
        return "0/s".into();
    }
    if per_second >= 100.0 {
        format!("{}/s", format_count(per_second.round() as u64))
    } else {
        format!("{}/s", significant(per_second))
    }
}

/// A run's length: `850ms`, `45s`, `1.5s`, `2m 5s`, `1h 0m 3s`.
///
/// ```
/// use slipstream_bench::summary::format_run_duration_ms;
/// assert_eq!(format_run_duration_ms(125_000), "2m 5s");
/// assert_eq!(format_run_duration_ms(1_500), "1.5s");
/// ```
pub fn format_run_duration_ms(ms: u64) -> String {
    if ms < 1_000 {
        return format!("{ms}ms");
    }
    if ms < 60_000 {
        return format!("{}s", significant(ms as f64 / 1_000.0));
    }
    let secs = ms / 1_000;
    let (h, m, s) = (secs / 3_600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}h {m}m {s}s")
    } else {
        format!("{m}m {s}s")
    }
}

/// Milliseconds since the Unix epoch as `2026-12-02 14:44:37 UTC` (`-` for 0, "not known").
pub fn format_unix_ms(ms: u64) -> String {
    if ms == 0 {
        return "-".into();
    }
    let secs = ms / 1_000;
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_date(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rest / 3_600,
        rest / 60 % 60,
        rest % 60
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01: count whole 400-year eras (146,097
/// days each), then the year within the era, with years starting on 1 March so that the leap
/// day falls at the end of a year.
fn civil_date(days: u64) -> (u64, u64, u64) {
    let shifted = days + 719_468; // days from 0000-03-01 to 1970-01-01
    let era = shifted / 146_097;
    let day_of_era = shifted % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = era * 400 + year_of_era + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_in_human_units() {
        let cases = [
            (0.0, "0µs"),
            (1.0, "1µs"),
            (812.0, "812µs"),
            (999.0, "999µs"),
            (999.7, "1ms"),
            (1_000.0, "1ms"),
            (3_414.0, "3.41ms"),
            (12_345.0, "12.3ms"),
            (62_100.0, "62.1ms"),
            (999_999.0, "1s"),
            (1_200_000.0, "1.2s"),
            (3_600_000_000.0, "3600s"),
            (0.5, "0.5µs"),
        ];
        for (us, text) in cases {
            assert_eq!(format_latency_us(us), text, "{us}");
        }
        assert_eq!(format_latency_us(f64::NAN), "-");
    }

    #[test]
    fn counts_rates_and_percentages() {
        assert_eq!(format_count(0), "0");
        assert_eq!(format_count(999), "999");
        assert_eq!(format_count(1_000), "1,000");
        assert_eq!(format_count(u64::MAX), "18,446,744,073,709,551,615");
        assert_eq!(format_rate(41.66), "41.7/s");
        assert_eq!(format_rate(1_250.4), "1,250/s");
        assert_eq!(format_percent(12.0 / 3_000.0), "0.4%");
        assert_eq!(format_percent(1.0), "100%");
        assert_eq!(format_percent(0.000_012_34), "0.00123%");
    }

    #[test]
    fn run_durations() {
        assert_eq!(format_run_duration_ms(850), "850ms");
        assert_eq!(format_run_duration_ms(45_000), "45s");
        assert_eq!(format_run_duration_ms(120_000), "2m 0s");
        assert_eq!(format_run_duration_ms(3_603_000), "1h 0m 3s");
    }

    #[test]
    fn dates_in_utc() {
        assert_eq!(format_unix_ms(1_000), "1970-01-01 00:00:01 UTC");
        // 2000-02-29 (a leap day in a year divisible by 400) at 12:00:00 UTC.
        assert_eq!(format_unix_ms(951_825_600_000), "2000-02-29 12:00:00 UTC");
        assert_eq!(format_unix_ms(1_709_251_199_000), "2024-02-29 23:59:59 UTC");
        assert_eq!(format_unix_ms(1_796_223_082_000), "2026-12-02 14:51:22 UTC");
        // Far future values do not overflow.
        assert!(format_unix_ms(u64::MAX).ends_with("UTC"));
    }

    #[test]
    fn the_table_aligns_columns() {
        let mut t = Table::new(&["name", "n"]);
        t.row(vec!["a".into(), "1,000".into()]);
        t.row(vec!["longer".into(), "5".into()]);
        let mut out = String::new();
        t.write(&mut out);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "  name        n");
        assert_eq!(lines[1], "  a       1,000");
        assert_eq!(lines[2], "  longer      5");
    }
}
