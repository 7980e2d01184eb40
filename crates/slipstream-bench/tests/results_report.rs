//! The HTML report: one self-contained page with every chart, escaped text, and no panic on
//! runs with nothing in them.

use slipstream_bench::report::{html, html_with_thresholds};
use slipstream_bench::result::{Interval, RunMeta, RunResult, new_latency_histogram};
use slipstream_bench::threshold::{Threshold, check_all};

/// A 60 s ping run ramping up to 200 users over 20 s, with replies whose latency grows with
/// the load, joins, and a burst of push timeouts at 40 s.
fn realistic_run(scenario: &str) -> RunResult {
    let mut meta = RunMeta::new(scenario, "ws://127.0.0.1:4000/socket/websocket");
    meta.users = 200;
    meta.started_unix_ms = 1_796_223_000_000;
    meta.duration_ms = 60_000;
    let mut run = RunResult::new(meta);
    let mut x = 17u64;
    let mut noise = move || {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (x >> 33) % 1_000
    };
    for s in 0..60u64 {
        let users = (s * 10).min(200);
        let mut interval = Interval::new(1_796_223_000 + s);
        interval.active_users = users;
        let mut reply = new_latency_histogram();
        for _ in 0..users * 5 {
            reply
                .record(500 + users * 20 + noise() * noise() / 50)
                .unwrap();
        }
        interval.latencies.insert("reply.ping".into(), reply);
        if s < 20 {
            let mut join = new_latency_histogram();
            join.record_n(1_800 + noise(), 10).unwrap();
            interval.latencies.insert("join".into(), join);
        }
        interval.counters.insert("pushes".into(), users * 5);
        if (40..43).contains(&s) {
            interval.counters.insert("errors.push_timeout".into(), 7);
        }
        run.series.push(interval);
    }
    let mut totals = RunResult::new(run.meta.clone());
    for interval in &run.series {
        for (name, h) in &interval.latencies {
            totals
                .latencies
                .entry(name.clone())
                .or_insert_with(new_latency_histogram)
                .add(h)
                .unwrap();
        }
        for (name, n) in &interval.counters {
            *totals.counters.entry(name.clone()).or_insert(0) += n;
        }
    }
    run.latencies = totals.latencies;
    run.counters = totals.counters;
    run
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

#[test]
fn the_report_has_every_chart_and_table() {
    let run = realistic_run("ping");
    let page = html(&run);
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.trim_end().ends_with("</html>"));
    // One percentile chart per metric, then distribution, users, throughput, errors.
    let charts = run.latencies.len() + 4;
    assert_eq!(count(&page, "<svg"), charts, "one <svg> per chart");
    assert_eq!(count(&page, "</svg>"), charts);
    assert_eq!(count(&page, "<figure>"), charts);
    for caption in [
        "reply.ping: latency percentiles over time",
        "join: latency percentiles over time",
        "Latency distribution",
        "Active users",
        "Throughput",
        "Errors per second",
    ] {
        assert!(page.contains(caption), "{caption}");
    }
    for metric in run.latencies.keys() {
        assert!(
            page.contains(&format!("<td>{metric}</td>")),
            "{metric} in the table"
        );
    }
    assert!(page.contains("<td>push_timeout</td><td>21</td>"));
    // Self-contained: no scripts, no external resources.
    assert!(!page.contains("<script"));
    assert!(!page.contains("src=\"http") && !page.contains("href=\"http"));
    // Balanced tables.
    assert_eq!(count(&page, "<table"), count(&page, "</table>"));
}

#[test]
fn text_from_the_file_is_escaped() {
    let mut run = realistic_run("<script>alert('x')</script> & co");
    run.meta.url = "ws://h/\"><img src=x onerror=alert(1)>".into();
    let mut h = new_latency_histogram();
    h.record(10).unwrap();
    run.latencies.insert("reply.<b>bold</b>".into(), h);
    run.counters.insert("errors.<i>kind</i>".into(), 1);
    let page = html(&run);
    assert!(!page.contains("<script>"), "scenario escaped");
    assert!(page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co"));
    assert!(!page.contains("<img"), "url escaped");
    assert!(!page.contains("<b>bold</b>") && page.contains("reply.&lt;b&gt;bold&lt;/b&gt;"));
    assert!(!page.contains("<i>kind</i>"));
}

#[test]
fn thresholds_are_shown_with_their_outcome() {
    let run = realistic_run("ping");
    let thresholds: Vec<Threshold> = ["reply.p99 < 10s", "errors < 0.001%", "join.p50 < 1ms"]
        .iter()
        .map(|t| t.parse().unwrap())
        .collect();
    let outcomes = check_all(&thresholds, &run);
    let page = html_with_thresholds(&run, &outcomes);
    assert!(page.contains("Thresholds: 2 of 3 violated"));
    assert!(page.contains("<li class=\"pass\">✓ <code>reply.p99 &lt; 10s</code>"));
    assert!(page.contains("<li class=\"fail\">✗ <code>errors &lt; 0.001%</code>"));
    assert_eq!(count(&page, "class=\"fail\""), 2);
}

#[test]
fn empty_and_odd_runs_do_not_panic() {
    let empty = RunResult::new(RunMeta::new("connect", "ws://x/socket"));
    let page = html(&empty);
    assert_eq!(count(&page, "<svg"), 4, "the run-wide charts, empty");
    assert!(page.contains("No latencies recorded."));

    // Histograms but no series; a series with one second; a series with a huge gap.
    let mut no_series = realistic_run("ping");
    no_series.series.clear();
    let _ = html(&no_series);
    let mut one_second = realistic_run("ping");
    one_second.series.truncate(1);
    let _ = html(&one_second);
    let mut gap = realistic_run("ping");
    gap.series[59].unix_second = u64::MAX;
    gap.meta.duration_ms = u64::MAX;
    let page = html(&gap);
    assert!(page.contains("</html>"));
}
