//! Thresholds: every form parses, violated ones fail, met ones pass, typos name the fix.

use slipstream_bench::result::{RunMeta, RunResult, new_latency_histogram};
use slipstream_bench::threshold::{Threshold, ThresholdError, check_all, render_outcomes};

/// A ping run of 60 s: replies at 1..=1000 ms (so p50 ≈ 500ms, p99 ≈ 990ms), 3,000 joins at
/// 2 ms, 12 push timeouts, 3 refused connects, 9,000 pushes.
fn run() -> RunResult {
    let mut meta = RunMeta::new("ping", "ws://127.0.0.1:4000/socket/websocket");
    meta.duration_ms = 60_000;
    meta.users = 3_000;
    let mut run = RunResult::new(meta);
    let mut reply = new_latency_histogram();
    for ms in 1..=1_000u64 {
        reply.record(ms * 1_000).unwrap();
    }
    let mut echo = new_latency_histogram();
    echo.record_n(5_000_000, 1_000).unwrap();
    let mut join = new_latency_histogram();
    join.record_n(2_000, 3_000).unwrap();
    run.latencies.insert("reply.ping".into(), reply);
    run.latencies.insert("reply.echo".into(), echo);
    run.latencies.insert("join".into(), join);
    run.counters.insert("errors.push_timeout".into(), 12);
    run.counters.insert("errors.refused".into(), 3);
    run.counters.insert("pushes".into(), 9_000);
    run.counters.insert("messages.lost".into(), 0);
    run
}

fn parse(text: &str) -> Threshold {
    text.parse()
        .unwrap_or_else(|e| panic!("`{text}` should parse: {e}"))
}

fn error(text: &str) -> ThresholdError {
    match text.parse::<Threshold>() {
        Ok(t) => panic!("`{text}` should not parse, got {t}"),
        Err(e) => e,
    }
}

#[test]
fn every_form_parses_to_its_canonical_text() {
    let cases = [
        ("reply.p99 < 50ms", "reply.p99 < 50ms"),
        ("reply.p99<100ms", "reply.p99 < 100ms"),
        (
            "  reply.ping.p99.9   <=   1.5s ",
            "reply.ping.p99.9 <= 1.5s",
        ),
        ("connect.p50 > 250us", "connect.p50 > 250µs"),
        ("connect.p50>250µs", "connect.p50 > 250µs"),
        ("join.p90 >= 0.5ms", "join.p90 >= 0.5ms"),
        ("join.p95 < 2s", "join.p95 < 2s"),
        ("delivery.min < 10ms", "delivery.min < 10ms"),
        ("presence.join.max < 1s", "presence.join.max < 1s"),
        ("reconnect.mean < 3s", "reconnect.mean < 3s"),
        ("reply.avg < 3ms", "reply.mean < 3ms"),
        ("reply.med < 3ms", "reply.p50 < 3ms"),
        ("errors < 0.1%", "errors < 0.1%"),
        ("errors<10", "errors < 10"),
        ("errors.push_timeout == 0", "errors.push_timeout == 0"),
        ("errors.push_timeout < .5%", "errors.push_timeout < 0.5%"),
        ("messages.lost == 0", "messages.lost == 0"),
        ("pushes.rate > 100/s", "pushes.rate > 100/s"),
        ("reply.rate>=50.5/s", "reply.rate >= 50.5/s"),
        ("reply.p99 < 1.ms", "reply.p99 < 1ms"),
        ("reply.p99 < 007ms", "reply.p99 < 7ms"),
        ("errors == 0.", "errors == 0"),
        ("reply.p(95) < 3ms", "reply.p95 < 3ms"),
        ("reply.ping.p(99.9)<3ms", "reply.ping.p99.9 < 3ms"),
    ];
    for (text, canonical) in cases {
        let t = parse(text);
        assert_eq!(t.to_string(), canonical, "{text}");
        assert_eq!(
            parse(canonical),
            t,
            "the canonical text of `{text}` parses back"
        );
    }
}

#[test]
fn mistakes_name_the_fix() {
    let cases: [(&str, &[&str]); 15] = [
        ("", &["empty threshold", "reply.p99 < 50ms"]),
        (
            "reply.p99 50ms",
            &["has no comparison", "<, <=, >, >= or =="],
        ),
        ("messages.lost = 0", &["`=` is not a comparison", "=="]),
        ("messages.lost != 0", &["`!=` is not a comparison"]),
        (
            "reply.p999 < 50ms",
            &[
                "unknown statistic `p999`",
                "use p50, p90, p95, p99, p99.9, min, max, mean",
            ],
        ),
        ("reply.p75 < 50ms", &["unknown statistic `p75`"]),
        ("reply.median < 50ms", &["unknown statistic `median`"]),
        ("reply.p(75) < 50ms", &["unknown statistic `p75`"]),
        ("reply.p999 < 50", &["unknown statistic `p999`"]),
        (
            "reply < 50ms",
            &["`reply` has no statistic", "reply.p99 < 50ms"],
        ),
        ("reply.p99 < 50", &["is a latency", "reply.p99 < 50ms"]),
        (
            "reply.p99 < 50 minutes",
            &["`50 minutes` is not a value", "50ms"],
        ),
        ("reply.p99 < -5ms", &["`-5ms` is not a value"]),
        (
            "messages.lost < 1%",
            &["a percentage is for errors", "messages.lost == 0"],
        ),
        ("pushes.rate > 100", &["pushes.rate > 100/s"]),
    ];
    for (text, needles) in cases {
        let message = error(text).to_string();
        for needle in needles {
            assert!(
                message.contains(needle),
                "`{text}`: {message:?} lacks {needle:?}"
            );
        }
    }
    assert_eq!(
        error("< 5ms"),
        ThresholdError::Missing {
            side: "before",
            op: "<".into()
        }
    );
    assert!(
        error("reply.p99 <=")
            .to_string()
            .starts_with("nothing after `<=`; write NAME OP VALUE")
    );
    assert!(matches!(
        error("re ply.p99 < 5ms"),
        ThresholdError::BadName { .. }
    ));
    assert!(matches!(
        error("pushes > 100/s"),
        ThresholdError::RateForm { .. }
    ));
    assert!(matches!(
        error("reply.p99 < 1.2.3ms"),
        ThresholdError::BadValue { .. }
    ));
    assert!(matches!(
        error("reply.p99 < ms"),
        ThresholdError::BadValue { .. }
    ));
}

#[test]
fn met_thresholds_pass_and_violated_ones_fail() {
    let run = run();
    // (threshold, should pass)
    let cases = [
        ("reply.ping.p99 < 1s", true),
        ("reply.ping.p99 < 900ms", false),
        ("reply.ping.p50 <= 501ms", true),
        ("reply.ping.p50 < 400ms", false),
        ("reply.ping.min >= 1ms", true),
        ("reply.ping.max > 1.01s", false),
        ("reply.ping.max < 1.01s", true),
        ("reply.ping.mean < 600ms", true),
        ("reply.ping.mean < 400ms", false),
        // `reply` merges reply.ping (1,000 samples up to 1s) and reply.echo (1,000 at 5s).
        ("reply.p50 < 1.1s", true),
        ("reply.p90 < 1.1s", false),
        ("reply.max > 4s", true),
        ("join.p99.9 < 2.1ms", true),
        ("join.p99.9 < 1.9ms", false),
        // 15 errors of 15 + 5,000 operations = 0.299%.
        ("errors < 0.3%", true),
        ("errors < 0.29%", false),
        ("errors < 16", true),
        ("errors < 15", false),
        ("errors <= 15", true),
        ("errors.push_timeout == 12", true),
        ("errors.push_timeout == 0", false),
        ("errors.refused < 0.1%", true),
        ("errors.refused < 0.05%", false),
        // An error kind that never happened counts 0.
        ("errors.http_403 == 0", true),
        ("errors.http_403 > 0", false),
        ("messages.lost == 0", true),
        ("pushes.rate > 149/s", true),
        ("pushes.rate > 151/s", false),
        ("join.rate == 50/s", true),
        ("join >= 3000", true),
    ];
    for (text, should_pass) in cases {
        let outcome = parse(text).check(&run);
        assert_eq!(
            outcome.passed, should_pass,
            "{text}: observed {}",
            outcome.observed
        );
    }
}

#[test]
fn observed_texts_are_for_people() {
    let run = run();
    let observed = |text: &str| parse(text).check(&run).observed;
    assert_eq!(observed("errors < 0.1%"), "0.3% (15 of 5,015)");
    assert_eq!(observed("join.p99 < 1ms"), "2ms");
    assert_eq!(observed("errors < 10"), "15");
    assert_eq!(observed("pushes.rate > 1/s"), "150/s (9,000 in 1m 0s)");
}

#[test]
fn a_metric_never_recorded_fails_with_no_samples() {
    let run = run();
    for text in ["connect.p99 < 1s", "rply.p99 < 1s"] {
        let outcome = parse(text).check(&run);
        assert!(!outcome.passed, "{text} must not pass silently");
        assert!(
            outcome
                .observed
                .starts_with("no samples (the run recorded join, reply, reply.echo, reply.ping"),
            "a latency threshold lists the latency metrics: {}",
            outcome.observed
        );
    }
    for text in ["messages.received > 0", "iterations.rate > 1/s"] {
        let outcome = parse(text).check(&run);
        assert!(!outcome.passed, "{text} must not pass silently");
        assert!(
            outcome.observed.starts_with("no samples"),
            "{text}: {}",
            outcome.observed
        );
        assert!(
            outcome.observed.contains("join, messages.lost, pushes"),
            "{}",
            outcome.observed
        );
    }
    let typo = parse("rply.p99 < 1s");
    assert!(typo.check(&run).observed.contains("did you mean `reply`?"));
    let message = typo.validate(&run).unwrap_err().to_string();
    assert_eq!(
        message,
        "unknown metric `rply`: the run recorded join, reply, reply.echo, reply.ping; \
         did you mean `reply`?"
    );
    let counter = parse("pushs.rate > 1/s")
        .validate(&run)
        .unwrap_err()
        .to_string();
    assert!(
        counter.contains("errors.push_timeout") && counter.contains("did you mean `pushes`?"),
        "{counter}"
    );
    assert!(parse("reply.p99 < 1s").validate(&run).is_ok());

    let mut empty = RunResult::new(RunMeta::new("ping", "ws://x/socket"));
    empty
        .latencies
        .insert("join".into(), new_latency_histogram());
    let outcome = parse("join.p99 < 1s").check(&empty);
    assert!(!outcome.passed);
    assert_eq!(outcome.observed, "no samples (`join` recorded none)");
    let outcome = parse("errors < 1%").check(&empty);
    assert!(
        !outcome.passed,
        "an error rate of nothing is not 0%: {}",
        outcome.observed
    );
    let outcome = parse("errors.rate < 1/s").check(&empty);
    assert!(!outcome.passed, "a rate over no time: {}", outcome.observed);
}

#[test]
fn outcomes_render_one_line_each() {
    let run = run();
    let thresholds = [parse("join.p99<50ms"), parse("errors < 0.1%")];
    let text = render_outcomes(&check_all(&thresholds, &run));
    assert_eq!(
        text,
        "✓ join.p99 < 50ms (observed 2ms)\n✗ errors < 0.1% (observed 0.3% (15 of 5,015))\n"
    );
}
