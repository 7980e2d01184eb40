//! `slipstream tour`: the guide's walkthrough, against the embedded server, against
//! `slipstream serve` through `--url`, and failing by name when a step fails.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};

fn slipstream() -> Command {
    Command::new(env!("CARGO_BIN_EXE_slipstream"))
}

fn tour(args: &[&str]) -> (Output, String) {
    let output = slipstream()
        .arg("tour")
        .args(args)
        .output()
        .expect("slipstream runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    (output, stdout)
}

/// Checks that the transcript shows every step of the guide with the guide's answers.
fn assert_full_walkthrough(stdout: &str) {
    for expected in [
        "connected to ws://",
        "joined rooms:lobby, response {}",
        "\"2\"",
        r#"(ok, {"pong":"pong"})"#,
        r#"event: "foo"  payload: {"bar":"baz"}"#,
        r#"("rooms:lobby", "foo", {"bar":"baz"})"#,
        "left rooms:lobby",
        "disconnected: closed by the client",
        "every step of the guide worked",
    ] {
        assert!(
            stdout.contains(expected),
            "the transcript lacks {expected:?}:\n{stdout}"
        );
    }
}

#[test]
fn tour_walks_the_guide_against_the_embedded_server() {
    let (output, stdout) = tour(&[]);
    assert!(
        output.status.success(),
        "exit {:?}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("embedded demo server"), "{stdout}");
    assert_full_walkthrough(&stdout);
}

/// `slipstream serve --port 0`, stopped on drop.
struct Serve {
    child: Child,
    addr: String,
}

impl Serve {
    fn start() -> Self {
        Serve::with(&[])
    }

    /// `slipstream serve --port 0` with more options.
    fn with(extra: &[&str]) -> Self {
        let mut child = slipstream()
            .args(["serve", "--port", "0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("slipstream serve starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the listening line");
        let addr = line
            .trim_end()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        Serve { child, addr }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn tour_walks_the_guide_against_slipstream_serve() {
    let serve = Serve::start();
    let url = format!("ws://{}/socket/websocket", serve.addr);
    let (output, stdout) = tour(&["--url", &url]);
    assert!(
        output.status.success(),
        "exit {:?}\n{stdout}",
        output.status
    );
    assert!(stdout.contains(&format!("against {url}")), "{stdout}");
    assert_full_walkthrough(&stdout);
}

#[test]
fn a_failing_step_is_named_and_the_exit_code_is_not_zero() {
    // A port where nothing listens: the very first step fails.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("ws://127.0.0.1:{port}/socket/websocket");
    let output = slipstream()
        .args(["tour", "--url", &url, "--timeout", "3"])
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("slipstream runs");
    assert_eq!(output.status.code(), Some(2), "could not connect: exit 2");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("error: step 1 (connect) failed: connection refused"),
        "stderr names the step and the cause: {stderr}"
    );
    assert!(
        !stderr.contains("backtrace"),
        "an error is a message, not a backtrace: {stderr}"
    );
}

#[test]
fn an_invalid_url_is_reported_not_panicked() {
    let (output, _) = tour(&["--url", "not a url"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("invalid socket URL"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_bad_timeout_is_a_usage_error_exit_2() {
    let (output, stdout) = tour(&["--timeout", "0"]);
    assert_eq!(output.status.code(), Some(2), "{stdout}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("from 0.001 to 86400 seconds"), "{stderr}");
    assert!(
        !stdout.contains("Slipstream tour"),
        "the tour did not start: {stdout}"
    );

    let (output, _) = tour(&["--url", "not a url"]);
    assert_eq!(output.status.code(), Some(2), "a bad URL is a usage error");
}

#[test]
fn tour_transport_longpoll_walks_the_guide_where_no_websocket_opens() {
    // This server refuses every websocket upgrade, so only long-poll can pass.
    let serve = Serve::with(&["--refuse-websocket", "503"]);
    let url = format!("ws://{}/socket/websocket", serve.addr);
    let (output, stdout) = tour(&["--url", &url, "--transport", "longpoll", "--timeout", "10"]);
    assert!(
        output.status.success(),
        "exit {:?}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("over long-poll"), "{stdout}");
    assert_full_walkthrough(&stdout);
    let (output, _) = tour(&["--url", &url]);
    assert!(!output.status.success(), "the websocket tour fails there");
}

#[test]
fn tour_transport_longpoll_against_the_embedded_server() {
    let (output, stdout) = tour(&["--transport", "longpoll"]);
    assert!(
        output.status.success(),
        "exit {:?}\n{stdout}",
        output.status
    );
    assert!(
        stdout.contains("connected to ws://") && stdout.contains("over long-poll"),
        "{stdout}"
    );
    assert_full_walkthrough(&stdout);
}
