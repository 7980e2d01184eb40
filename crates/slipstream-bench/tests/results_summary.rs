//! The end-of-test summary: every metric with its figures in human units, and no Debug text.

use slipstream_bench::result::{RunMeta, RunResult, new_latency_histogram};
use slipstream_bench::summary::{format_latency_us, render};

fn run() -> RunResult {
    let mut meta = RunMeta::new("ping", "ws://127.0.0.1:4000/socket/websocket");
    meta.users = 5_000;
    meta.duration_ms = 120_000;
    meta.started_unix_ms = 1_796_223_082_000;
    meta.runs = 3;
    meta.segment = Some((1, 4));
    let mut run = RunResult::new(meta);
    let mut connect = new_latency_histogram();
    for us in [812u64, 900, 1_500, 2_000, 3_410, 9_000] {
        connect.record_n(us, 1_000).unwrap();
    }
    let mut reply = new_latency_histogram();
    for ms in 1..=2_000u64 {
        reply.record(ms * 700).unwrap();
    }
    run.latencies.insert("connect".into(), connect);
    run.latencies.insert("reply.ping".into(), reply);
    run.latencies
        .insert("presence.join".into(), new_latency_histogram());
    run.counters.insert("pushes".into(), 2_000);
    run.counters.insert("errors.push_timeout".into(), 12);
    run.counters.insert("errors.join.unmatched_topic".into(), 3);
    run
}

#[test]
fn every_metric_has_its_figures_in_human_units() {
    let run = run();
    let text = render(&run);
    for (name, h) in &run.latencies {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(name.as_str()))
            .unwrap_or_else(|| panic!("no row for {name} in\n{text}"));
        if h.is_empty() {
            assert!(
                line.contains(" 0 ") && line.trim_end().ends_with('-'),
                "{line}"
            );
            continue;
        }
        let count = slipstream_bench::summary::format_count(h.len());
        assert!(line.contains(&count), "{name}: count {count} in {line}");
        for value in [
            h.min(),
            h.value_at_percentile(50.0),
            h.value_at_percentile(90.0),
            h.value_at_percentile(99.0),
            h.max(),
        ] {
            let human = format_latency_us(value as f64);
            assert!(line.contains(&human), "{name}: {human} in {line}");
        }
    }
    // Rates over the 120 s run: 6,000 connects = 50/s.
    assert!(text.contains("50/s"), "{text}");
    assert!(text.contains("812µs"), "{text}");
}

#[test]
fn the_header_counters_and_errors() {
    let text = render(&run());
    for needle in [
        "ping",
        "ws://127.0.0.1:4000/socket/websocket",
        "5,000",
        "2m 0s",
        "2026-12-02 14:51:22 UTC",
        "3 runs",
        "1/4",
        "pushes",
        "2,000",
        "push_timeout",
        "join.unmatched_topic",
    ] {
        assert!(text.contains(needle), "{needle:?} in\n{text}");
    }
    // 15 errors of 15 + 8,000 samples: 0.19%; push timeouts 0.15%.
    let all = text
        .lines()
        .find(|l| l.trim_start().starts_with("all"))
        .unwrap();
    assert!(all.contains("15") && all.contains("0.19%"), "{all}");
    let kind = text.lines().find(|l| l.contains("push_timeout")).unwrap();
    assert!(kind.contains("12") && kind.contains("0.15%"), "{kind}");
}

#[test]
fn no_debug_text_even_for_odd_input() {
    let mut odd = run();
    odd.meta.scenario = "evil\n\u{1b}[2Jscenario".into();
    odd.meta.url = String::new();
    odd.meta.duration_ms = 0;
    odd.meta.started_unix_ms = 0;
    let empty = RunResult::new(RunMeta::new("connect", "ws://x/socket"));
    for run in [run(), odd, empty] {
        let text = render(&run);
        for debug in ["Some(", "None", "{ ", " }", "\"", "Histogram", "inf", "NaN"] {
            assert!(!text.contains(debug), "{debug:?} in\n{text}");
        }
        assert!(
            !text.contains('\u{1b}'),
            "no terminal escapes from a file: {text:?}"
        );
    }
}

#[test]
fn a_run_with_no_errors_says_so() {
    let mut run = run();
    run.counters.retain(|k, _| !k.starts_with("errors."));
    let text = render(&run);
    assert!(text.contains("errors  none in 8,000 operations"), "{text}");
}
