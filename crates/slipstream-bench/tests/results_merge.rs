//! Merging: two runs recorded apart add up to exactly the run that recorded every sample.

use slipstream_bench::file;
use slipstream_bench::merge::{MergeError, segment_coverage};
use slipstream_bench::result::{Interval, RunMeta, RunResult, new_latency_histogram};

/// A deterministic stream of latencies in microseconds, spread over five orders of magnitude.
struct Latencies(u64);

impl Iterator for Latencies {
    type Item = u64;
    fn next(&mut self) -> Option<u64> {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let magnitude = (self.0 >> 61) as u32; // 0..8
        Some(1 + (self.0 >> 20) % 10u64.pow(magnitude.min(6)))
    }
}

/// Records `samples` (second offset, metric, latency) into a run, both in the totals and in
/// the per-second series, the way the engine does.
fn record(meta: RunMeta, samples: &[(u64, &str, u64)], errors: u64) -> RunResult {
    let base = meta.started_unix_ms / 1000;
    let mut run = RunResult::new(meta);
    for &(offset, metric, us) in samples {
        run.latencies
            .entry(metric.to_owned())
            .or_insert_with(new_latency_histogram)
            .record(us)
            .unwrap();
        let second = base + offset;
        let at = match run.series.iter().position(|i| i.unix_second == second) {
            Some(at) => at,
            None => {
                run.series.push(Interval::new(second));
                run.series.len() - 1
            }
        };
        let interval = &mut run.series[at];
        interval.active_users = 10;
        interval
            .latencies
            .entry(metric.to_owned())
            .or_insert_with(new_latency_histogram)
            .record(us)
            .unwrap();
        *interval.counters.entry("pushes".into()).or_insert(0) += 1;
        *run.counters.entry("pushes".into()).or_insert(0) += 1;
    }
    run.series.sort_by_key(|i| i.unix_second);
    if errors > 0 {
        run.counters.insert("errors.push_timeout".into(), errors);
    }
    run
}

fn meta(started_unix_ms: u64, duration_ms: u64, users: u64) -> RunMeta {
    let mut meta = RunMeta::new("ping", "ws://127.0.0.1:4000/socket/websocket");
    meta.started_unix_ms = started_unix_ms;
    meta.duration_ms = duration_ms;
    meta.users = users;
    meta
}

fn samples(seed: u64, n: usize) -> Vec<(u64, &'static str, u64)> {
    let metrics = ["reply.ping", "reply.echo", "join"];
    Latencies(seed)
        .take(n)
        .enumerate()
        .map(|(k, us)| ((k % 4) as u64, metrics[k % metrics.len()], us))
        .collect()
}

fn assert_histograms_equal(
    a: &hdrhistogram::Histogram<u64>,
    b: &hdrhistogram::Histogram<u64>,
    what: &str,
) {
    assert_eq!(a.len(), b.len(), "{what}: count");
    assert_eq!(a.min(), b.min(), "{what}: min");
    assert_eq!(a.max(), b.max(), "{what}: max");
    assert_eq!(a.mean(), b.mean(), "{what}: mean");
    for tenth in 0..=1000 {
        let p = tenth as f64 / 10.0;
        assert_eq!(
            a.value_at_percentile(p),
            b.value_at_percentile(p),
            "{what}: p{p}"
        );
    }
    assert_eq!(a, b, "{what}: every bucket");
}

#[test]
fn two_runs_merge_into_exactly_the_run_with_all_samples() {
    let first = samples(1, 20_000);
    let second = samples(2, 13_000);
    let all: Vec<_> = first.iter().chain(&second).copied().collect();

    let mut merged = record(meta(1_764_000_000_000, 4_000, 100), &first, 3);
    let b = record(meta(1_764_000_000_000, 4_000, 60), &second, 4);
    merged.merge(&b).unwrap();
    let whole = record(meta(1_764_000_000_000, 4_000, 160), &all, 7);

    assert_eq!(
        merged.latencies.keys().collect::<Vec<_>>(),
        whole.latencies.keys().collect::<Vec<_>>()
    );
    for (name, h) in &whole.latencies {
        assert_histograms_equal(&merged.latencies[name], h, name);
    }
    assert_eq!(merged.counters, whole.counters);
    assert_eq!(merged.errors(), 7);
    assert_eq!(merged.meta.users, 160);
    assert_eq!(merged.meta.runs, 2);
    assert_eq!(merged.series.len(), whole.series.len());
    for (m, w) in merged.series.iter().zip(&whole.series) {
        assert_eq!(m.unix_second, w.unix_second);
        assert_eq!(m.active_users, 20, "active users add");
        assert_eq!(m.counters, w.counters);
        for (name, h) in &w.latencies {
            assert_histograms_equal(
                &m.latencies[name],
                h,
                &format!("{name} at {}", m.unix_second),
            );
        }
    }
    // The grouped metric `reply` is the sum of reply.ping and reply.echo.
    let reply = merged.latency("reply").unwrap();
    assert_eq!(
        reply.len(),
        merged.latencies["reply.ping"].len() + merged.latencies["reply.echo"].len()
    );
}

#[test]
fn merging_through_files_is_as_exact_as_merging_in_memory() {
    let a = record(meta(1_764_000_000_000, 4_000, 10), &samples(3, 5_000), 0);
    let b = record(meta(1_764_000_002_000, 4_000, 10), &samples(4, 7_000), 1);
    let mut in_memory = a.clone();
    in_memory.merge(&b).unwrap();
    let mut through_files = file::from_json(&file::to_json(&a)).unwrap();
    through_files
        .merge(&file::from_json(&file::to_json(&b)).unwrap())
        .unwrap();
    // The same samples everywhere (the files may lay histograms out more compactly).
    let samples = |h: &hdrhistogram::Histogram<u64>| -> Vec<(u64, u64)> {
        h.iter_recorded()
            .map(|v| (v.value_iterated_to(), v.count_at_value()))
            .collect()
    };
    assert_eq!(in_memory.meta, through_files.meta);
    assert_eq!(in_memory.counters, through_files.counters);
    for (name, h) in &in_memory.latencies {
        assert_eq!(
            samples(h),
            samples(&through_files.latencies[name]),
            "{name}"
        );
    }
    assert_eq!(in_memory.series.len(), through_files.series.len());
    for (m, f) in in_memory.series.iter().zip(&through_files.series) {
        assert_eq!(
            (m.unix_second, m.active_users),
            (f.unix_second, f.active_users)
        );
        assert_eq!(m.counters, f.counters);
        for (name, h) in &m.latencies {
            assert_eq!(
                samples(h),
                samples(&f.latencies[name]),
                "{name} at {}",
                m.unix_second
            );
        }
    }
}

#[test]
fn meta_spans_the_runs() {
    let mut a = RunResult::new(meta(10_000, 5_000, 3));
    let mut b = RunResult::new(meta(12_000, 7_000, 4));
    b.meta.url = "ws://other:4000/socket/websocket".into();
    a.meta.segment = Some((1, 2));
    b.meta.segment = Some((2, 2));
    a.merge(&b).unwrap();
    assert_eq!(a.meta.started_unix_ms, 10_000);
    assert_eq!(
        a.meta.duration_ms, 9_000,
        "from the earliest start to the latest end"
    );
    assert_eq!(a.meta.users, 7);
    assert_eq!(a.meta.segment, None);
    assert_eq!(
        a.meta.url,
        "ws://127.0.0.1:4000/socket/websocket, ws://other:4000/socket/websocket"
    );
    a.merge(&b).unwrap();
    assert_eq!(
        a.meta.url.matches("ws://other").count(),
        1,
        "a URL is listed once"
    );
    assert_eq!(a.meta.runs, 3);
}

#[test]
fn series_interleave_by_second() {
    let a = record(meta(1_000_000, 4_000, 1), &samples(5, 100), 0);
    let b = record(meta(1_002_000, 4_000, 1), &samples(6, 100), 0);
    let mut m = a.clone();
    m.merge(&b).unwrap();
    let seconds: Vec<u64> = m.series.iter().map(|i| i.unix_second).collect();
    assert_eq!(seconds, vec![1000, 1001, 1002, 1003, 1004, 1005]);
    assert_eq!(m.series[0].active_users, 10);
    assert_eq!(m.series[2].active_users, 20);
}

#[test]
fn different_scenarios_do_not_merge_and_leave_the_run_unchanged() {
    let mut a = record(meta(1_000, 1_000, 1), &samples(7, 10), 0);
    let before = file::to_json(&a);
    let mut b = a.clone();
    b.meta.scenario = "fanout".into();
    let error = a.merge(&b).unwrap_err();
    assert!(matches!(error, MergeError::ScenarioMismatch { .. }));
    assert!(
        error.to_string().contains("`fanout`") && error.to_string().contains("`ping`"),
        "{error}"
    );
    assert_eq!(file::to_json(&a), before);
}

#[test]
fn segment_coverage_says_what_is_missing() {
    let share = |i: u32, n: u32| {
        let mut r = RunResult::new(meta(0, 0, 1));
        r.meta.segment = Some((i, n));
        r
    };
    assert!(segment_coverage(&[RunResult::new(meta(0, 0, 1))]).is_none());
    let complete = segment_coverage(&[share(2, 3), share(1, 3), share(3, 3)]).unwrap();
    assert!(complete.is_complete(), "{complete:?}");
    assert!(complete.warnings().is_empty());
    let partial = segment_coverage(&[share(1, 4), share(1, 4), share(4, 4)]).unwrap();
    assert_eq!(partial.missing, vec![2, 3]);
    assert_eq!(partial.repeated, vec![1]);
    let warnings = partial.warnings().join("\n");
    assert!(warnings.contains("2/4, 3/4"), "{warnings}");
}

#[test]
fn merge_files_reads_merges_and_names_the_bad_file() {
    use slipstream_bench::merge::{MergeFilesError, merge_files};
    let dir = std::env::temp_dir().join(format!("slipstream-merge-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let paths: Vec<_> = (1..=3u32)
        .map(|i| {
            let mut run = record(meta(1_000_000, 4_000, 10), &samples(u64::from(i), 300), 1);
            run.meta.segment = Some((i, 4));
            let path = dir.join(format!("seg{i}.json"));
            file::write(&path, &run).unwrap();
            path
        })
        .collect();

    let merged = merge_files(&paths).unwrap();
    assert_eq!(merged.result.meta.runs, 3);
    assert_eq!(merged.result.operations(), 900);
    assert_eq!(merged.result.errors(), 3);
    assert_eq!(merged.warnings, vec!["segments missing: 4/4".to_owned()]);

    let bad = dir.join("bad.json");
    std::fs::write(&bad, "{\"format\": \"slipstream-bench/1\"}").unwrap();
    let error = merge_files(&[&paths[0], &bad]).unwrap_err();
    assert!(matches!(error, MergeFilesError::File(_)), "{error:?}");
    assert!(
        error.to_string().starts_with(&bad.display().to_string()),
        "{error}"
    );

    let other = dir.join("fanout.json");
    let mut fanout = RunResult::new(meta(0, 0, 1));
    fanout.meta.scenario = "fanout".into();
    file::write(&other, &fanout).unwrap();
    let error = merge_files(&[&paths[0], &other]).unwrap_err();
    assert!(matches!(error, MergeFilesError::Merge { .. }), "{error:?}");
    assert!(
        error.to_string().starts_with(&other.display().to_string()),
        "{error}"
    );

    let none: [&std::path::Path; 0] = [];
    assert!(matches!(merge_files(&none), Err(MergeFilesError::NoFiles)));
}

#[test]
fn histograms_of_other_ranges_merge_exactly() {
    // A compact histogram (up to 100 ms) and one of the full range holding 30 s samples.
    let mut compact = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 100_000, 3).unwrap();
    let mut wide = new_latency_histogram();
    let mut all = new_latency_histogram();
    for (i, us) in Latencies(9).take(5_000).enumerate() {
        let us = us.min(99_000);
        compact.record(us).unwrap();
        all.record(us).unwrap();
        let slow = 30_000_000 + i as u64 * 1_000;
        wide.record(slow).unwrap();
        all.record(slow).unwrap();
    }
    let with = |h: &hdrhistogram::Histogram<u64>| {
        let mut r = RunResult::new(meta(0, 1_000, 1));
        r.latencies.insert("join".into(), h.clone());
        r
    };
    // In memory, and through files (which keep each histogram's own layout).
    let mut in_memory = with(&compact);
    in_memory.merge(&with(&wide)).unwrap();
    let mut from_files = file::from_json(&file::to_json(&with(&compact))).unwrap();
    from_files
        .merge(&file::from_json(&file::to_json(&with(&wide))).unwrap())
        .unwrap();
    for merged in [in_memory, from_files] {
        let h = &merged.latencies["join"];
        assert_eq!(h.len(), all.len());
        assert_eq!(h.max(), all.max());
        for p in [1.0, 25.0, 50.0, 75.0, 99.0, 99.99] {
            assert_eq!(h.value_at_percentile(p), all.value_at_percentile(p), "p{p}");
        }
    }
}
