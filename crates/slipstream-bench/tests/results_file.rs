//! The result file: lossless round trips and clear errors for bad files.

use std::path::Path;

use slipstream_bench::file::{self, FileError};
use slipstream_bench::result::{Interval, RunMeta, RunResult, new_latency_histogram};

/// A run with two metrics, counters and three seconds, from a simple deterministic generator.
fn sample_run(seed: u64) -> RunResult {
    let mut meta = RunMeta::new("ping", "ws://127.0.0.1:4000/socket/websocket");
    meta.users = 50;
    meta.started_unix_ms = 1_764_000_000_123;
    meta.duration_ms = 3_000;
    meta.segment = Some((2, 4));
    let mut result = RunResult::new(meta);
    let mut x = seed;
    for second in 0..3u64 {
        let mut interval = Interval::new(1_764_000_000 + second);
        interval.active_users = 10 * (second + 1);
        for metric in ["reply.ping", "join"] {
            let mut h = new_latency_histogram();
            for _ in 0..500 {
                x = x
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                h.record(1 + (x >> 40) % 250_000).unwrap();
            }
            result
                .latencies
                .entry(metric.to_owned())
                .or_insert_with(new_latency_histogram)
                .add(&h)
                .unwrap();
            interval.latencies.insert(metric.to_owned(), h);
        }
        interval.counters.insert("pushes".into(), 500);
        interval
            .counters
            .insert("errors.push_timeout".into(), second);
        result.series.push(interval);
    }
    result.counters.insert("pushes".into(), 1_500);
    result.counters.insert("errors.push_timeout".into(), 3);
    result
}

/// Every recorded value with its count: what a histogram holds, whatever its memory layout.
fn samples(h: &hdrhistogram::Histogram<u64>) -> Vec<(u64, u64)> {
    h.iter_recorded()
        .map(|v| (v.value_iterated_to(), v.count_at_value()))
        .collect()
}

fn assert_same_histograms(
    a: &std::collections::BTreeMap<String, hdrhistogram::Histogram<u64>>,
    b: &std::collections::BTreeMap<String, hdrhistogram::Histogram<u64>>,
) {
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (name, h) in a {
        assert_eq!(samples(h), samples(&b[name]), "{name}");
        assert_eq!(
            (h.len(), h.min(), h.max()),
            (b[name].len(), b[name].min(), b[name].max())
        );
    }
}

fn assert_same(a: &RunResult, b: &RunResult) {
    assert_eq!(a.meta, b.meta);
    assert_eq!(a.counters, b.counters);
    assert_same_histograms(&a.latencies, &b.latencies);
    assert_eq!(a.series.len(), b.series.len());
    for (x, y) in a.series.iter().zip(&b.series) {
        assert_eq!(x.unix_second, y.unix_second);
        assert_eq!(x.active_users, y.active_users);
        assert_eq!(x.counters, y.counters);
        assert_same_histograms(&x.latencies, &y.latencies);
    }
}

#[test]
fn a_round_trip_through_json_is_lossless() {
    let run = sample_run(7);
    let text = file::to_json(&run);
    let back = file::from_json(&text).expect("reads what it wrote");
    assert_same(&run, &back);
    for (name, h) in &run.latencies {
        let b = &back.latencies[name];
        for p in [0.0, 50.0, 90.0, 99.0, 99.9, 100.0] {
            assert_eq!(
                h.value_at_percentile(p),
                b.value_at_percentile(p),
                "{name} p{p}"
            );
        }
        assert_eq!(h.min(), b.min());
        assert_eq!(h.max(), b.max());
    }
    // Written again, the file says the same (the encodings may differ in layout only).
    let again = file::to_json(&back);
    assert_same(&run, &file::from_json(&again).unwrap());
    let without_hdr = |text: &str| {
        text.lines()
            .filter(|l| !l.contains("\"hdr\""))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(without_hdr(&again), without_hdr(&text));
}

#[test]
fn the_file_has_plain_figures_for_people() {
    let run = sample_run(3);
    let text = file::to_json(&run);
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let ping = &json["latencies"]["reply.ping"];
    let h = &run.latencies["reply.ping"];
    assert_eq!(ping["count"], h.len());
    assert_eq!(ping["p99_us"], h.value_at_percentile(99.0));
    assert_eq!(ping["max_us"], h.max());
    assert_eq!(json["meta"]["segment"]["index"], 2);
    assert_eq!(json["series"][1]["active_users"], 20);
}

#[test]
fn write_and_read_a_file() {
    let dir = tempdir();
    let path = dir.join("run.json");
    let run = sample_run(11);
    file::write(&path, &run).unwrap();
    assert_same(&run, &file::read(&path).unwrap());
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "slipstream-bench-results-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn read_text(text: &str) -> FileError {
    let dir = tempdir();
    let path = dir.join("bad.json");
    std::fs::write(&path, text).unwrap();
    let error = file::read(&path).expect_err("a bad file is refused");
    assert_eq!(error.path(), Some(path.as_path()));
    assert!(
        error.to_string().starts_with(&path.display().to_string()),
        "the message names the file: {error}"
    );
    error
}

#[test]
fn not_json_is_named_so() {
    let error = read_text("hello, this is not JSON");
    assert!(matches!(error.kind(), FileError::NotJson(_)), "{error:?}");
    assert!(error.to_string().contains("not JSON"), "{error}");
}

#[test]
fn json_that_is_not_a_result_file() {
    for text in [
        "{\"hello\": 1}",
        "[1, 2]",
        "{\"format\": \"k6\"}",
        "{\"format\": 3}",
    ] {
        let error = read_text(text);
        assert!(
            matches!(error.kind(), FileError::NotAResultFile),
            "{text}: {error:?}"
        );
        assert!(
            error
                .to_string()
                .contains("not a slipstream bench result file"),
            "{error}"
        );
    }
}

#[test]
fn an_unknown_version_is_named() {
    let text = file::to_json(&sample_run(1)).replace("slipstream-bench/1", "slipstream-bench/2");
    let error = read_text(&text);
    assert!(
        matches!(error.kind(), FileError::UnknownVersion(v) if v == "slipstream-bench/2"),
        "{error:?}"
    );
    assert!(error.to_string().contains("slipstream-bench/2"), "{error}");
}

#[test]
fn negative_and_huge_numbers_are_malformed_not_panics() {
    let text = file::to_json(&sample_run(1));
    for (from, to) in [
        ("\"users\": 50", "\"users\": -50"),
        ("\"users\": 50", "\"users\": 1e400"),
        ("\"users\": 50", "\"users\": 99999999999999999999999"),
        ("\"users\": 50", "\"users\": \"fifty\""),
        ("\"pushes\": 1500", "\"pushes\": -1"),
        ("\"runs\": 1", "\"runs\": 4294967296"),
    ] {
        assert!(text.contains(from), "{from}");
        let error = read_text(&text.replacen(from, to, 1));
        assert!(
            matches!(
                error.kind(),
                FileError::Malformed(_) | FileError::NotJson(_)
            ),
            "{to}: {error:?}"
        );
    }
}

#[test]
fn a_corrupt_histogram_names_its_metric() {
    let run = sample_run(5);
    let text = file::to_json(&run);
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let hdr = json["latencies"]["reply.ping"]["hdr"]
        .as_str()
        .unwrap()
        .to_owned();
    let bytes = base64_decode(&hdr);
    let encode = |b: &[u8]| base64_encode(b);
    let mut forged_length = bytes.clone();
    forged_length[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
    let mut forged_bounds = bytes.clone();
    forged_bounds[24..32].copy_from_slice(&u64::MAX.to_be_bytes());
    let mut truncated = bytes.clone();
    truncated.truncate(bytes.len() / 2);
    for bad in [
        "not base64 at all!".to_owned(),
        encode(b"short"),
        encode(&bytes[..20]),
        encode(&truncated),
        encode(&forged_length),
        encode(&forged_bounds),
        encode(&[0u8; 64]),
    ] {
        let broken = text.replacen(&hdr, &bad, 1);
        let error = read_text(&broken);
        match error.kind() {
            FileError::BadHistogram { metric, second, .. } => {
                assert_eq!(metric, "reply.ping");
                assert_eq!(*second, None);
            }
            other => panic!("{bad}: expected a bad histogram, got {other:?}"),
        }
        assert!(error.to_string().contains("`reply.ping`"), "{error}");
    }
}

#[test]
fn a_corrupt_histogram_in_the_series_names_its_second() {
    let run = sample_run(5);
    let text = file::to_json(&run);
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let hdr = json["series"][2]["latencies"]["join"]["hdr"]
        .as_str()
        .unwrap()
        .to_owned();
    let error = read_text(&text.replacen(&hdr, "AAAA", 1));
    match error.kind() {
        FileError::BadHistogram { metric, second, .. } => {
            assert_eq!(metric, "join");
            assert_eq!(*second, Some(run.series[2].unix_second));
        }
        other => panic!("expected a bad histogram, got {other:?}"),
    }
}

#[test]
fn a_missing_file_names_its_path() {
    let path = Path::new("/nonexistent/slipstream/run.json");
    let error = file::read(path).unwrap_err();
    assert!(matches!(error, FileError::Io { .. }));
    assert!(
        error
            .to_string()
            .contains("/nonexistent/slipstream/run.json"),
        "{error}"
    );
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn a_segment_that_is_no_share_is_refused() {
    let text = file::to_json(&sample_run(1));
    for (index, count) in [(0, 4), (5, 4), (1, 0)] {
        let bad = text.replacen(
            "\"index\": 2,\n      \"count\": 4",
            &format!("\"index\": {index},\n      \"count\": {count}"),
            1,
        );
        assert_ne!(bad, text);
        let error = read_text(&bad);
        assert!(
            matches!(
                error.kind(),
                FileError::Invalid {
                    field: "meta.segment",
                    ..
                }
            ),
            "{error:?}"
        );
        assert!(
            error
                .to_string()
                .contains(&format!("{index}/{count} is not a share")),
            "{error}"
        );
    }
}

#[test]
fn fields_a_later_writer_adds_are_ignored() {
    let text = file::to_json(&sample_run(1)).replacen(
        "\"scenario\": \"ping\",",
        "\"scenario\": \"ping\",\n    \"hostname\": \"worker-3\",",
        1,
    );
    assert!(text.contains("worker-3"));
    assert_same(&sample_run(1), &file::from_json(&text).unwrap());
}

/// A small deterministic generator for the mutation tests.
struct Rng(u64);

impl Rng {
    fn next(&mut self, below: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) as usize) % below.max(1)
    }
}

#[test]
fn mutated_histograms_are_errors_or_histograms_never_panics() {
    let run = sample_run(21);
    let text = file::to_json(&run);
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let hdr = json["latencies"]["join"]["hdr"]
        .as_str()
        .unwrap()
        .to_owned();
    let bytes = base64_decode(&hdr);
    let mut rng = Rng(99);
    let (mut refused, mut read) = (0, 0);
    for _ in 0..1_500 {
        let mut mutated = bytes.clone();
        for _ in 0..1 + rng.next(4) {
            let at = rng.next(mutated.len());
            match rng.next(3) {
                0 => mutated[at] = rng.next(256) as u8,
                1 => mutated[at] ^= 1 << rng.next(8),
                _ => mutated.truncate(at.max(1)),
            }
        }
        match file::from_json(&text.replacen(&hdr, &base64_encode(&mutated), 1)) {
            Ok(back) => {
                read += 1;
                // Whatever was read is a usable histogram.
                let h = &back.latencies["join"];
                let _ = (h.len(), h.value_at_percentile(99.0), h.max());
            }
            Err(FileError::BadHistogram { metric, .. }) => {
                refused += 1;
                assert_eq!(metric, "join");
            }
            Err(other) => panic!("expected a bad histogram, got {other:?}"),
        }
    }
    assert!(
        refused > 100,
        "most mutations are refused ({refused} of {})",
        refused + read
    );
}

#[test]
fn mutated_files_are_errors_never_panics() {
    let text = file::to_json(&sample_run(22));
    let bytes = text.as_bytes();
    let mut rng = Rng(7);
    let alphabet = b"{}[]\":,-0123456789eE.x \n";
    for _ in 0..1_500 {
        let mut mutated = bytes.to_vec();
        for _ in 0..1 + rng.next(3) {
            let at = rng.next(mutated.len());
            mutated[at] = alphabet[rng.next(alphabet.len())];
        }
        if let Ok(mutated) = String::from_utf8(mutated) {
            // Either outcome is fine; what matters is that reading returns.
            let _ = file::from_json(&mutated);
        }
    }
}

#[test]
fn writing_replaces_the_file_and_leaves_no_temporary() {
    let dir = tempdir();
    let path = dir.join("run.json");
    std::fs::write(&path, "old").unwrap();
    file::write(&path, &sample_run(2)).unwrap();
    assert_same(&sample_run(2), &file::read(&path).unwrap());
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("run.json")]);
    let error = file::write(&dir.join("no/such/dir/run.json"), &sample_run(2)).unwrap_err();
    assert!(
        error.to_string().contains("no/such/dir/run.json"),
        "{error}"
    );
}

#[test]
fn compact_and_empty_histograms_round_trip() {
    use slipstream_bench::result::new_interval_histogram;
    let mut run = RunResult::new(RunMeta::new("connect", "ws://x/socket"));
    let mut busy = new_interval_histogram();
    for us in [1, 7, 999, 25_000, 3_600_000_000] {
        busy.record(us).unwrap();
    }
    run.latencies.insert("connect".into(), busy);
    run.latencies
        .insert("join".into(), new_interval_histogram());
    run.latencies
        .insert("reconnect".into(), new_latency_histogram());
    let mut second = Interval::new(5);
    second
        .latencies
        .insert("join".into(), new_interval_histogram());
    run.series.push(second);
    let back = file::from_json(&file::to_json(&run)).unwrap();
    assert_same(&run, &back);
    assert!(back.latencies["join"].is_empty());
    assert_eq!(back.latencies["connect"].len(), 5);
}

#[test]
fn a_later_version_with_another_shape_is_named_not_called_malformed() {
    let error = read_text("{\"format\": \"slipstream-bench/2\", \"runs\": [{\"meta\": 1}]}");
    assert!(
        matches!(error.kind(), FileError::UnknownVersion(v) if v == "slipstream-bench/2"),
        "{error:?}"
    );
    let error = read_text("{\"format\": \"slipstream-bench/1\", \"meta\": 1}");
    assert!(matches!(error.kind(), FileError::Malformed(_)), "{error:?}");
}
