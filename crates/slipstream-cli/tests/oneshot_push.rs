//! `slipstream push [URL] TOPIC EVENT [JSON]` against the demo server, in-process: the reply as a
//! JSON line when piped and as words on a terminal, the exit codes of the scheme (0 ok reply,
//! 1 error reply / no reply / refused join, 2 usage and connection errors, 130 Ctrl-C), JSON
//! checked before connecting, `-` for stdin, and `--no-reply` delivering what it pushed.

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use slipstream_client::{await_message, blocking};
use slipstream_server::{BackgroundServer, ServerConfig};

/// The demo server on a free loopback port; stopped on drop.
struct DemoServer {
    server: BackgroundServer,
}

impl DemoServer {
    fn start() -> Self {
        let server =
            BackgroundServer::start_demo(([127, 0, 0, 1], 0).into(), ServerConfig::default())
                .expect("the demo server starts");
        DemoServer { server }
    }

    fn url(&self) -> String {
        self.server.ws_url()
    }
}

fn slipstream() -> Command {
    Command::new(env!("CARGO_BIN_EXE_slipstream"))
}

/// What a finished command printed.
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    took: Duration,
}

impl Ran {
    fn from(output: Output, took: Duration) -> Self {
        Ran {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            took,
        }
    }
}

impl std::fmt::Display for Ran {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?} after {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.took, self.stdout, self.stderr
        )
    }
}

/// `slipstream push ARGS…` with stdout and stderr piped (so not a terminal) and no stdin.
fn push(args: &[&str]) -> Ran {
    let started = Instant::now();
    let output = slipstream()
        .arg("push")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("slipstream runs");
    Ran::from(output, started.elapsed())
}

/// A loopback URL where nothing listens (a port just freed).
fn nothing_listens() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = listener.local_addr().expect("its address").port();
    drop(listener);
    format!("ws://127.0.0.1:{port}/socket/websocket")
}

#[test]
fn a_ping_prints_the_ok_reply_as_one_json_line_when_piped() {
    let server = DemoServer::start();
    let url = server.url();
    for args in [
        vec![url.as_str(), "rooms:lobby", "ping", "{}"],
        vec!["--url", url.as_str(), "rooms:lobby", "ping"],
        vec!["--demo", "rooms:lobby", "ping", "{}"],
    ] {
        let ran = push(&args);
        assert_eq!(ran.code, Some(0), "{args:?}: {ran}");
        assert_eq!(
            ran.stdout, "{\"status\":\"ok\",\"response\":{\"pong\":\"pong\"}}\n",
            "{args:?}: {ran}"
        );
        assert_eq!(ran.stderr, "", "{args:?}: {ran}");
    }
}

#[test]
fn the_payload_goes_as_given_and_dash_reads_it_from_stdin() {
    let server = DemoServer::start();
    let url = server.url();
    let ran = push(&[
        &url,
        "rooms:lobby",
        "echo",
        r#"{"text": "hi", "n": [1, 2]}"#,
    ]);
    assert_eq!(ran.code, Some(0), "{ran}");
    let line: serde_json::Value = serde_json::from_str(ran.stdout.trim()).expect("one JSON line");
    assert_eq!(
        line,
        json!({"status": "ok", "response": {"text": "hi", "n": [1, 2]}})
    );

    let mut child = slipstream()
        .args(["push", &url, "rooms:lobby", "echo", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("slipstream runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"{\"from\": \"stdin\"}\n")
        .expect("written");
    let started = Instant::now();
    let ran = Ran::from(
        child.wait_with_output().expect("it ends"),
        started.elapsed(),
    );
    assert_eq!(ran.code, Some(0), "{ran}");
    assert_eq!(
        ran.stdout, "{\"status\":\"ok\",\"response\":{\"from\":\"stdin\"}}\n",
        "{ran}"
    );
}

#[test]
fn an_error_reply_is_printed_and_exits_1() {
    let server = DemoServer::start();
    let ran = push(&[&server.url(), "rooms:lobby", "error reply"]);
    assert_eq!(ran.code, Some(1), "{ran}");
    assert_eq!(
        ran.stdout, "{\"status\":\"error\",\"response\":{\"reason\":\"nope\"}}\n",
        "{ran}"
    );
}

#[test]
fn an_event_never_answered_times_out_after_the_timeout_with_exit_1() {
    let server = DemoServer::start();
    let ran = push(&[
        &server.url(),
        "rooms:lobby",
        "quicksand",
        "--timeout",
        "0.5",
    ]);
    assert_eq!(ran.code, Some(1), "{ran}");
    assert!(
        ran.stderr
            .contains(r#"error: no reply to "quicksand" on rooms:lobby within 0.5 s"#),
        "{ran}"
    );
    assert_eq!(ran.stdout, "", "{ran}");
    assert!(
        ran.took >= Duration::from_millis(500) && ran.took < Duration::from_secs(4),
        "waited the timeout, not more: {ran}"
    );
}

#[test]
fn bad_json_is_a_usage_error_named_before_anything_connects() {
    // Nothing listens there: had the command connected first, it would say so instead.
    let url = nothing_listens();
    let ran = push(&[&url, "rooms:lobby", "echo", "{oops"]);
    assert_eq!(ran.code, Some(2), "{ran}");
    assert!(
        ran.stderr
            .starts_with("error: the JSON argument is not valid JSON: "),
        "{ran}"
    );
    assert!(ran.stderr.contains(r#"got "{oops""#), "{ran}");
    assert!(!ran.stderr.contains("connect"), "{ran}");

    let ran = push(&[&url, "rooms:lobby", "ping", "--params", "[1,"]);
    assert_eq!(ran.code, Some(2), "{ran}");
    assert!(
        ran.stderr
            .starts_with("error: the --params is not valid JSON: "),
        "{ran}"
    );
}

#[test]
fn a_refused_connection_exits_2_with_a_hint() {
    let url = nothing_listens();
    let ran = push(&[&url, "rooms:lobby", "ping"]);
    assert_eq!(ran.code, Some(2), "{ran}");
    assert!(
        ran.stderr
            .starts_with(&format!("error: could not connect to {url}: ")),
        "{ran}"
    );
    assert!(ran.stderr.contains("\nhint: "), "{ran}");
    assert_eq!(ran.stdout, "", "{ran}");
}

#[test]
fn a_refused_join_exits_1_with_the_servers_payload() {
    let server = DemoServer::start();
    let ran = push(&[
        &server.url(),
        "rooms:private",
        "ping",
        "--params",
        r#"{"deny": true}"#,
    ]);
    assert_eq!(ran.code, Some(1), "{ran}");
    assert!(
        ran.stderr
            .contains(r#"rooms:private refused the join: {"reason":"unauthorized"}"#),
        "{ran}"
    );
    // The same room joins with other params.
    let ran = push(&[&server.url(), "rooms:private", "ping"]);
    assert_eq!(ran.code, Some(0), "{ran}");
}

#[test]
fn usage_errors_exit_2() {
    let url = nothing_listens();
    for (args, expected) in [
        (
            vec!["rooms:lobby"],
            "push takes [URL] TOPIC EVENT [JSON]; got 1 argument",
        ),
        (
            vec![url.as_str(), "a", "b", "{}", "extra"],
            "push takes [URL] TOPIC EVENT [JSON]; got 4 arguments",
        ),
        (
            vec!["localhost:4000/socket", "rooms:lobby", "ping", "{}"],
            "it needs its scheme",
        ),
        (
            vec![url.as_str(), "--url", "ws://other/socket", "a", "b"],
            "two different URLs",
        ),
        (vec!["--demo", url.as_str(), "a", "b"], "drop the URL"),
        (vec!["ftp://host/socket", "a", "b"], "invalid socket URL"),
        (vec!["--timeout", "0", "a", "b"], "the timeout must be from"),
    ] {
        let ran = push(&args);
        assert_eq!(ran.code, Some(2), "{args:?}: {ran}");
        assert!(ran.stderr.contains(expected), "{args:?}: {ran}");
    }
}

#[test]
fn no_reply_returns_once_the_server_has_the_push() {
    let server = DemoServer::start();
    let url = server.url();
    // Another client in the room sees the broadcast the push asks for.
    let watcher = blocking::connect(url.as_str())
        .expect("a socket")
        .with_timeout(Duration::from_secs(5));
    watcher.await_connect().expect("connected");
    watcher.join("rooms:lobby", json!({}));
    watcher.await_join("rooms:lobby").expect("joined");

    // `broadcast` is never answered: without --no-reply this would wait out the timeout.
    let ran = push(&[
        &url,
        "rooms:lobby",
        "broadcast",
        r#"{"n": 1}"#,
        "--no-reply",
        "--timeout",
        "3",
    ]);
    assert_eq!(ran.code, Some(0), "{ran}");
    assert_eq!(ran.stdout, "", "{ran}");
    assert!(
        ran.took < Duration::from_secs(2),
        "did not wait for a reply: {ran}"
    );
    let message = await_message!(watcher, "rooms:lobby", "broadcast_event", {"n": 1})
        .expect("the push reached the server");
    assert_eq!(message.event, "broadcast_event");
}

#[test]
fn on_a_terminal_the_reply_is_its_status_then_its_response() {
    let server = DemoServer::start();
    let on_terminal = |args: &str| {
        // `script` (util-linux) runs the command on a pseudo-terminal; -e passes its exit code.
        let command = format!(
            "{} push {} {args}",
            env!("CARGO_BIN_EXE_slipstream"),
            server.url()
        );
        let output = Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .stdin(Stdio::null())
            .output()
            .expect("`script` (util-linux) runs the command on a pseudo-terminal");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).replace('\r', ""),
        )
    };
    let (code, screen) = on_terminal("rooms:lobby ping");
    assert_eq!(code, Some(0), "{screen}");
    assert_eq!(screen, "ok {\"pong\":\"pong\"}\n");
    let (code, screen) = on_terminal("rooms:lobby 'error reply'");
    assert_eq!(code, Some(1), "{screen}");
    assert_eq!(screen, "error {\"reason\":\"nope\"}\n");
    // --json asks for the JSON line on a terminal too.
    let (code, screen) = on_terminal("rooms:lobby ping --json");
    assert_eq!(code, Some(0), "{screen}");
    assert_eq!(
        screen,
        "{\"status\":\"ok\",\"response\":{\"pong\":\"pong\"}}\n"
    );
}

#[test]
fn ctrl_c_while_waiting_for_the_reply_exits_130() {
    let server = DemoServer::start();
    let child = slipstream()
        .args([
            "push",
            &server.url(),
            "rooms:lobby",
            "quicksand",
            "--timeout",
            "30",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("slipstream runs");
    let pid = i32::try_from(child.id()).expect("a pid");
    // A Ctrl-C before the handler is installed would kill the process instead (no exit code).
    wait_until_it_catches_sigint(pid);
    // By then it is connecting or waiting for the reply: Ctrl-C stops either.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let started = Instant::now();
    let ran = Ran::from(
        child.wait_with_output().expect("it ends"),
        started.elapsed(),
    );
    assert_eq!(ran.code, Some(130), "{ran}");
    assert!(ran.took < Duration::from_secs(5), "{ran}");
    assert!(!ran.stderr.contains("panicked"), "{ran}");
}

/// Waits until process `pid` has a handler for SIGINT (Linux: the `SigCgt` mask of
/// /proc/PID/status), so a SIGINT sent after this is caught, not fatal.
fn wait_until_it_catches_sigint(pid: i32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let sigint_bit = 1u64 << (libc::SIGINT - 1);
    while Instant::now() < deadline {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let caught = status
            .lines()
            .find_map(|line| line.strip_prefix("SigCgt:"))
            .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok());
        if caught.is_some_and(|mask| mask & sigint_bit != 0) {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("process {pid} never installed a SIGINT handler");
}
