//! The HTML report: one self-contained file (no scripts, no external files) with the summary,
//! the thresholds and inline SVG charts.
//!
//! Charts: latency percentiles (p50/p90/p99) over time for each metric, the latency
//! distribution (percentile curve), active users, throughput (operations per second) and
//! errors per second. Every text that comes from a result file is HTML-escaped.

mod plot;

use std::fmt::Write as _;

use hdrhistogram::Histogram;

use crate::result::RunResult;
use crate::summary::{format_count, format_latency_us, format_percent, rate_cell};
use crate::threshold::ThresholdOutcome;

/// The report of a run (or a merge of runs) as one HTML document, without thresholds.
///
/// ```
/// use slipstream_bench::result::{RunMeta, RunResult};
/// let page = slipstream_bench::report::html(&RunResult::new(RunMeta::new("ping", "ws://x/s")));
/// assert!(page.starts_with("<!DOCTYPE html>"));
/// assert!(page.contains("<svg"));
/// ```
pub fn html(result: &RunResult) -> String {
    html_with_thresholds(result, &[])
}

/// The report with the outcomes of the run's thresholds near the top.
pub fn html_with_thresholds(result: &RunResult, outcomes: &[ThresholdOutcome]) -> String {
    let meta = &result.meta;
    let mut page = String::with_capacity(64 * 1024);
    let title = format!("slipstream bench: {}", meta.scenario);
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        escape(&title),
        escape(&title)
    );
    write_meta(result, &mut page);
    if !outcomes.is_empty() {
        write_thresholds(outcomes, &mut page);
    }
    write_latencies(result, &mut page);
    write_counters(result, &mut page);
    write_errors(result, &mut page);
    page.push_str("<h2>Charts</h2>\n");
    let mut charts: Vec<plot::Chart> = result
        .latencies
        .keys()
        .map(|metric| plot::percentiles_over_time(result, metric))
        .collect();
    charts.push(plot::distribution(result));
    charts.push(plot::active_users(result));
    charts.push(plot::throughput(result));
    charts.push(plot::errors(result));
    for chart in &charts {
        write_chart(chart, &mut page);
    }
    page.push_str("</body>\n</html>\n");
    page
}

const STYLE: &str = "
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1000px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { padding: 0.25em 0.8em; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child { text-align: left; }
table.meta th { text-align: left; font-weight: normal; color: #666; }
table.meta td { text-align: left; }
code { font-family: ui-monospace, monospace; }
.pass { color: #0a7d32; } .fail { color: #b00020; font-weight: bold; }
figure { margin: 1em 0; } figcaption { font-weight: bold; margin-bottom: 0.3em; }
figure svg { max-width: 100%; height: auto; }
.empty { color: #888; font-style: italic; }
";

/// Text safe in HTML element content and in quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

fn write_meta(result: &RunResult, page: &mut String) {
    let rows = crate::summary::meta_rows(result);
    page.push_str("<table class=\"meta\">\n");
    for (key, value) in rows {
        let _ = writeln!(page, "<tr><th>{key}</th><td>{}</td></tr>", escape(&value));
    }
    page.push_str("</table>\n");
}

fn write_thresholds(outcomes: &[ThresholdOutcome], page: &mut String) {
    let failed = outcomes.iter().filter(|o| !o.passed).count();
    let _ = writeln!(
        page,
        "<h2>Thresholds: {}</h2>\n<ul class=\"thresholds\">",
        if failed == 0 {
            "all met".to_owned()
        } else {
            format!("{failed} of {} violated", outcomes.len())
        }
    );
    for o in outcomes {
        let (class, mark) = if o.passed {
            ("pass", "✓")
        } else {
            ("fail", "✗")
        };
        let _ = writeln!(
            page,
            "<li class=\"{class}\">{mark} <code>{}</code> (observed {})</li>",
            escape(&o.threshold.to_string()),
            escape(&o.observed)
        );
    }
    page.push_str("</ul>\n");
}

fn write_latencies(result: &RunResult, page: &mut String) {
    page.push_str("<h2>Latency</h2>\n");
    if result.latencies.is_empty() {
        page.push_str("<p class=\"empty\">No latencies recorded.</p>\n");
        return;
    }
    page.push_str(
        "<table>\n<tr><th>metric</th><th>count</th><th>rate</th><th>min</th><th>p50</th>\
         <th>p90</th><th>p95</th><th>p99</th><th>p99.9</th><th>max</th><th>mean</th></tr>\n",
    );
    let secs = result.duration_secs();
    for (name, h) in &result.latencies {
        let _ = write!(
            page,
            "<tr><td>{}</td><td>{}</td><td>{}</td>",
            escape(name),
            format_count(h.len()),
            rate_cell(h.len(), secs)
        );
        for cell in latency_cells(h) {
            let _ = write!(page, "<td>{cell}</td>");
        }
        page.push_str("</tr>\n");
    }
    page.push_str("</table>\n");
}

fn latency_cells(h: &Histogram<u64>) -> Vec<String> {
    if h.is_empty() {
        return vec!["-".into(); 8];
    }
    let us = |v: u64| format_latency_us(v as f64);
    let mut cells = vec![us(h.min())];
    cells.extend([50.0, 90.0, 95.0, 99.0, 99.9].map(|p| us(h.value_at_percentile(p))));
    cells.push(us(h.max()));
    cells.push(format_latency_us(h.mean()));
    cells
}

fn write_counters(result: &RunResult, page: &mut String) {
    let counters: Vec<_> = result.plain_counters().collect();
    if counters.is_empty() {
        return;
    }
    page.push_str(
        "<h2>Counters</h2>\n<table>\n<tr><th>counter</th><th>total</th><th>rate</th></tr>\n",
    );
    let secs = result.duration_secs();
    for (name, n) in counters {
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(name),
            format_count(*n),
            rate_cell(*n, secs)
        );
    }
    page.push_str("</table>\n");
}

fn write_errors(result: &RunResult, page: &mut String) {
    page.push_str("<h2>Errors</h2>\n");
    let errors = result.errors();
    let attempts = errors.saturating_add(result.operations());
    if errors == 0 {
        let _ = writeln!(
            page,
            "<p>None in {} operations.</p>",
            format_count(result.operations())
        );
        return;
    }
    let share = |n: u64| format_percent(n as f64 / attempts as f64);
    page.push_str("<table>\n<tr><th>kind</th><th>count</th><th>share</th></tr>\n");
    let _ = writeln!(
        page,
        "<tr><td>all</td><td>{}</td><td>{}</td></tr>",
        format_count(errors),
        share(errors)
    );
    for (kind, n) in result.errors_by_kind() {
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(kind),
            format_count(n),
            share(n)
        );
    }
    let _ = writeln!(
        page,
        "</table>\n<p>Share: of {} attempts (operations that recorded a latency, plus errors).</p>",
        format_count(attempts)
    );
}

fn write_chart(chart: &plot::Chart, page: &mut String) {
    let _ = writeln!(
        page,
        "<figure>\n<figcaption>{}</figcaption>",
        escape(&chart.title)
    );
    if chart.is_empty() {
        page.push_str("<p class=\"empty\">Nothing recorded.</p>\n");
    }
    match chart.svg() {
        Ok(svg) => page.push_str(&svg),
        Err(e) => {
            tracing::warn!(chart = %chart.title, error = %e, "could not draw a chart");
            let _ = write!(
                page,
                "<p class=\"empty\">This chart could not be drawn: {}</p>",
                escape(&e)
            );
        }
    }
    page.push_str("\n</figure>\n");
}

/// Where `slipstream bench report` writes the HTML when not told: `report.html` in the
/// directory of the first result file.
///
/// ```
/// use std::path::Path;
/// let path = slipstream_bench::report::default_html_path(Path::new("runs/a.json"));
/// assert_eq!(path, Path::new("runs/report.html"));
/// ```
pub fn default_html_path(first_file: &std::path::Path) -> std::path::PathBuf {
    first_file
        .parent()
        .unwrap_or_else(|| std::path::Path::new(""))
        .join("report.html")
}
