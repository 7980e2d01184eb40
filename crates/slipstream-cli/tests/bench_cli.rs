//! `slipstream bench` as people run it: the summary, thresholds and exit codes, Ctrl-C, the
//! open-files check, custom files with typos, segments and workers that add up to the whole.

mod support;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use support::{DemoServer, Ran, script_file, slipstream};

fn bench(args: &[&str]) -> Ran {
    Ran::from(
        slipstream()
            .arg("bench")
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("slipstream runs"),
    )
}

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench");
    std::fs::create_dir_all(&dir).expect("scratch directory");
    let path = dir.join(format!("{}-{name}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

#[test]
fn a_small_ping_run_prints_its_summary_writes_its_files_and_exits_0() {
    let out = scratch("ping.json");
    let html = scratch("ping.html");
    let ran = bench(&[
        "ping",
        "--demo",
        "--users",
        "5",
        "--duration",
        "1s",
        "--out",
        out.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
        "--threshold",
        "errors < 1%",
    ]);
    assert_eq!(ran.code, Some(0), "{ran}");
    assert!(ran.stdout.contains("reply.ping"), "{ran}");
    assert!(ran.stdout.contains("errors < 1%"), "{ran}");
    // Not a terminal: plain progress lines, never Rust Debug text.
    assert!(ran.stderr.contains("users 5"), "{ran}");
    assert!(
        !ran.stderr.contains("Some(") && !ran.stdout.contains("Some("),
        "{ran}"
    );
    let result = slipstream_bench::file::read(&out).expect("the --out file reads back");
    assert_eq!(result.meta.users, 5);
    assert_eq!(result.errors(), 0);
    assert!(result.latencies["reply.ping"].len() > 50);
    let page = std::fs::read_to_string(&html).expect("the --html file");
    assert!(page.contains("<svg"));
}

#[test]
fn an_impossible_threshold_exits_1_with_a_clear_line() {
    let ran = bench(&[
        "ping",
        "--demo",
        "--users",
        "2",
        "--duration",
        "1s",
        "-q",
        "--threshold",
        "reply.p99 < 1us",
    ]);
    assert_eq!(ran.code, Some(1), "{ran}");
    let line = ran
        .stdout
        .lines()
        .find(|l| l.contains("reply.p99 < 1"))
        .unwrap_or_else(|| panic!("no threshold line: {ran}"));
    assert!(line.contains("observed"), "{line}");
    assert!(!line.contains('✓'), "{line}");
}

#[test]
fn no_server_at_all_exits_2_and_says_why() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("ws://127.0.0.1:{port}/socket/websocket");
    let started = Instant::now();
    let ran = bench(&[
        "connect",
        "--url",
        &url,
        "--users",
        "3",
        "--duration",
        "20s",
        "-q",
    ]);
    assert_eq!(ran.code, Some(2), "{ran}");
    assert!(ran.stderr.contains("no user could connect"), "{ran}");
    assert!(ran.stderr.contains("3 refused"), "{ran}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn ctrl_c_stops_the_users_and_still_prints_the_summary_and_writes_out() {
    let out = scratch("interrupted.json");
    let child = slipstream()
        .args([
            "bench",
            "ping",
            "--demo",
            "--users",
            "3",
            "--duration",
            "30s",
            "--out",
        ])
        .arg(&out)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("slipstream starts");
    std::thread::sleep(Duration::from_millis(1500));
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: a signal to the child this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let started = Instant::now();
    let ran = Ran::from(child.wait_with_output().expect("slipstream exits"));
    assert!(started.elapsed() < Duration::from_secs(15), "{ran}");
    assert_eq!(ran.code, Some(130), "{ran}");
    assert!(ran.stdout.contains("reply.ping"), "{ran}");
    assert!(ran.stderr.contains("interrupted"), "{ran}");
    let result = slipstream_bench::file::read(&out).expect("the --out file was written");
    assert!(
        result.meta.duration_ms < 10_000,
        "{}",
        result.meta.duration_ms
    );
    assert!(!result.latencies["reply.ping"].is_empty());
}

#[test]
fn more_users_than_the_file_limit_are_refused_before_anything_runs() {
    use std::os::unix::process::CommandExt;
    // The child gets a hard limit of 1,024 open files whatever this machine allows, so 2,000
    // users cannot fit even after it raises its soft limit. Nothing listens at the URL: the
    // refusal must come before any connect.
    let mut command = slipstream();
    command
        .args([
            "bench",
            "connect",
            "--url",
            "ws://127.0.0.1:9/socket",
            "--users",
            "2000",
            "-q",
        ])
        .stdin(Stdio::null());
    // SAFETY: setrlimit is async-signal-safe and touches only the child's own limits.
    unsafe {
        command.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 256,
                rlim_max: 1024,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let ran = Ran::from(command.output().expect("slipstream runs"));
    assert_eq!(ran.code, Some(2), "{ran}");
    assert!(
        ran.stderr.contains("2000 users need about 2064 open files"),
        "{ran}"
    );
    // The soft limit was raised to the hard one before the check.
    assert!(ran.stderr.contains("may open 1024"), "{ran}");
    assert!(ran.stderr.contains("--workers"), "{ran}");
    assert!(ran.stdout.is_empty(), "{ran}");
}

#[test]
fn a_custom_scenario_with_a_typo_reports_its_line() {
    let file = script_file(
        "typo.bench",
        "connect\njoin bench:x\nloop\n  pusj bench:x ping\nend\n",
    );
    let ran = bench(&["custom", file.to_str().unwrap(), "--demo"]);
    assert_eq!(ran.code, Some(2), "{ran}");
    let expected = format!(
        "{}:4: unknown step `pusj`; did you mean `push`?",
        file.display()
    );
    assert!(ran.stderr.contains(&expected), "{ran}");
}

#[test]
fn a_custom_scenario_runs_against_the_demo() {
    let file = script_file(
        "echo.bench",
        "connect\njoin bench:echo\nloop\n  push bench:echo ping {\"user\": ${user}, \"n\": ${i}}\n  sleep 10ms..20ms\nend\n",
    );
    let out = scratch("custom.json");
    let ran = bench(&[
        "custom",
        file.to_str().unwrap(),
        "--demo",
        "--users",
        "3",
        "--iterations",
        "30",
        "-q",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(ran.code, Some(0), "{ran}");
    assert!(ran.stdout.contains("reply.ping"), "{ran}");
    let result = slipstream_bench::file::read(&out).expect("custom result");
    assert_eq!(result.latencies["reply.ping"].len(), 30);
    assert_eq!(result.counters["iterations"], 30);
    assert_eq!(result.errors(), 0);
}

#[test]
fn two_segments_merged_cover_the_users_of_the_whole() {
    let server = DemoServer::start();
    let mut results = Vec::new();
    let mut files = Vec::new();
    for segment in ["1/2", "2/2"] {
        let out = scratch(&format!("segment-{}.json", &segment[..1]));
        files.push(out.clone());
        let ran = bench(&[
            "connect",
            "--url",
            server.url(),
            "--users",
            "7",
            "--duration",
            "1s",
            "-q",
            "--segment",
            segment,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(ran.code, Some(0), "{ran}");
        results.push(slipstream_bench::file::read(&out).expect("segment result"));
    }
    assert_eq!(results[0].meta.segment, Some((1, 2)));
    assert_eq!(results[0].meta.users + results[1].meta.users, 7);
    let mut merged = results[0].clone();
    merged.merge(&results[1]).expect("segments merge");
    assert_eq!(merged.meta.users, 7);
    assert_eq!(merged.latencies["connect"].len(), 7);
    assert_eq!(merged.counters["iterations"], 7);
    // `bench report` merges the same files into one summary of the 7 users.
    let ran = bench(&[
        "report",
        files[0].to_str().unwrap(),
        files[1].to_str().unwrap(),
        "--no-html",
    ]);
    assert_eq!(ran.code, Some(0), "{ran}");
    assert!(ran.stdout.contains("2 runs"), "{ran}");
    let users = ran
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("users"))
        .unwrap_or("");
    assert!(users.trim_end().ends_with(" 7"), "{ran}");
}

#[test]
fn workers_run_one_segment_each_and_merge_into_one_summary() {
    let out = scratch("workers.json");
    let ran = bench(&[
        "connect",
        "--demo",
        "--users",
        "6",
        "--duration",
        "1s",
        "--workers",
        "2",
        "-q",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(ran.code, Some(0), "{ran}");
    assert!(ran.stdout.contains("merged"), "{ran}");
    let result = slipstream_bench::file::read(&out).expect("merged result");
    assert_eq!(result.meta.runs, 2);
    assert_eq!(result.meta.users, 6);
    assert_eq!(result.latencies["connect"].len(), 6);
}

#[test]
fn a_run_that_cannot_reach_its_users_exits_1_and_says_how_many_it_reached() {
    let mut config = slipstream_server::ServerConfig::default();
    config.max_connections = 3;
    let server =
        slipstream_server::BackgroundServer::start_demo(([127, 0, 0, 1], 0).into(), config)
            .expect("the demo server starts");
    let url = server.ws_url();
    let ran = bench(&[
        "connect",
        "--url",
        &url,
        "--users",
        "5",
        "--duration",
        "1s",
        "-q",
    ]);
    assert_eq!(ran.code, Some(1), "{ran}");
    assert!(
        ran.stderr
            .contains("did not reach its users: 3 of 5 connected"),
        "{ran}"
    );
    assert!(ran.stdout.contains("http_503"), "{ran}");
}

#[test]
fn on_a_terminal_the_progress_is_one_live_line() {
    let command = format!(
        "{} bench ping --demo --users 2 --duration 2s",
        env!("CARGO_BIN_EXE_slipstream")
    );
    // `script` gives the command a pseudo-terminal (util-linux, as the shell's tests use).
    let output = std::process::Command::new("script")
        .args(["-qfec", &command, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .expect("script runs");
    let screen = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{screen}");
    // indicatif redraws the line in place (carriage returns or cursor moves), then clears it
    // before the summary.
    assert!(screen.contains("users 2  ops/s"), "{screen}");
    assert!(
        screen.contains('\r') || screen.contains("\u{1b}["),
        "{screen}"
    );
    assert!(screen.contains("reply.ping"), "{screen}");
}

#[test]
fn reconnect_times_the_users_through_restarts_of_the_demo_server() {
    let out = scratch("restarts.json");
    let ran = bench(&[
        "reconnect",
        "--demo",
        "--users",
        "4",
        "--duration",
        "2500ms",
        "--restart-every",
        "1s",
        "-q",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(ran.code, Some(0), "{ran}");
    let result = slipstream_bench::file::read(&out).expect("result");
    // Two restarts (at 1 s and 2 s), each seen by the 4 users, none of their pings lost.
    assert_eq!(result.latencies["reconnect"].len(), 8);
    assert_eq!(result.errors(), 0);
    let ran = bench(&[
        "reconnect",
        "--url",
        "ws://127.0.0.1:9/socket",
        "--restart-every",
        "1s",
    ]);
    assert_eq!(ran.code, Some(2), "{ran}");
    assert!(ran.stderr.contains("needs --demo"), "{ran}");
}

#[test]
fn a_threshold_on_a_counter_that_stayed_0_finds_it() {
    let ran = bench(&[
        "fanout",
        "--demo",
        "--users",
        "4",
        "--duration",
        "1s",
        "-q",
        "--threshold",
        "messages.lost == 0",
    ]);
    assert_eq!(ran.code, Some(0), "{ran}");
    assert!(
        ran.stdout.contains("messages.lost == 0 (observed 0)"),
        "{ran}"
    );
}
