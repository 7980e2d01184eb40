//! `slipstream shell` driven through a pipe: results, live pushes that stay in the mailbox,
//! errors that do not end the shell, Ctrl-C interrupting an await, and end of input closing it.

mod support;

use std::io::Write;
use std::process::{Child, Stdio};
use std::time::Duration;

use support::{DemoServer, Ran, slipstream};

fn start_shell(url: &str) -> Child {
    let history = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("shell-history-{}", std::process::id()));
    slipstream()
        .args(["shell", url])
        .env("SLIPSTREAM_HISTORY", history)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("slipstream shell starts")
}

fn shell(url: &str, input: &str) -> Ran {
    let mut child = start_shell(url);
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("input written");
    Ran::from(
        child
            .wait_with_output()
            .expect("the shell exits at end of input"),
    )
}

#[test]
fn the_guide_through_a_pipe() {
    let server = DemoServer::start();
    let ran = shell(
        server.url(),
        "connect(); await_connect();\n\
         join(\"rooms:lobby\", #{fizz: \"buzz\"}); await_join(\"rooms:lobby\")\n\
         let r = push(\"rooms:lobby\", \"ping\", #{});\n\
         await_reply(r)\n\
         push(\"rooms:lobby\", \"push to me\", #{});\n\
         sleep(300);\n\
         await_message(\"rooms:lobby\", \"foo\", #{bar: \"baz\"})\n\
         flush()\n",
    );
    assert_eq!(ran.code, Some(0), "{ran}");
    let lines: Vec<&str> = ran.stdout.lines().collect();
    for expected in [
        "{}",
        r#"{"response":{"pong":"pong"},"status":"ok"}"#,
        // shown live while the script slept...
        r#"<- rooms:lobby foo {"bar":"baz"}"#,
        // ...and still in the mailbox for await_message
        r#"{"event":"foo","payload":{"bar":"baz"},"topic":"rooms:lobby"}"#,
        "[]",
    ] {
        assert!(lines.contains(&expected), "no line {expected:?} in\n{ran}");
    }
}

#[test]
fn entries_span_lines_and_errors_do_not_end_the_shell() {
    let ran = shell(
        "ws://127.0.0.1:9/socket/websocket",
        "fn twice(x) {\n  x * 2\n}\nassert_eq(twice(2), 5);\nlet y = ;\ntwice(21)\n",
    );
    // The entries after the failed ones ran; the failures make the exit code (the first, an
    // assertion: 1), and each names its line of the input.
    assert_eq!(ran.code, Some(1), "{ran}");
    assert!(ran.stdout.lines().any(|l| l == "42"), "{ran}");
    assert!(
        ran.stderr
            .contains("assertion failed at <stdin>:4:1\n  4 | assert_eq(twice(2), 5);"),
        "{ran}"
    );
    assert!(ran.stderr.contains("expected: 5"), "{ran}");
    assert!(
        ran.stderr
            .contains("syntax error at <stdin>:5:9\n  5 | let y = ;"),
        "{ran}"
    );
    assert!(
        ran.stderr
            .contains("error: 2 entries failed; the first at <stdin>:4"),
        "{ran}"
    );
}

#[test]
fn ctrl_c_interrupts_an_await_and_the_shell_goes_on() {
    let server = DemoServer::start();
    let mut child = start_shell(server.url());
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(
            b"connect(); await_connect();\njoin(\"rooms:lobby\"); await_join(\"rooms:lobby\");\nset_timeout(60000);\nprint(\"waiting\");\nawait_message(\"rooms:lobby\", \"never\");\n",
        )
        .expect("input written");
    stdin.flush().expect("flushed");
    // Give the shell time to start the await; a Ctrl-C before it would find nothing to stop
    // and the test would then hang on the 60 s await and fail on the missing message below.
    std::thread::sleep(Duration::from_millis(800));
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    stdin
        .write_all(b"print(\"still here\");\n")
        .expect("input written");
    drop(stdin);
    let ran = Ran::from(child.wait_with_output().expect("the shell exits"));
    assert_eq!(ran.code, Some(0), "{ran}");
    assert!(ran.stderr.contains("interrupted by Ctrl-C"), "{ran}");
    assert!(ran.stdout.contains("still here"), "{ran}");
}

#[test]
fn end_of_input_closes_the_shells_sockets() {
    use slipstream_client::{MessagePattern, blocking, pattern};

    let server = DemoServer::start();
    let alice = blocking::connect(server.url()).expect("a socket");
    alice.await_connect().expect("alice connects");
    alice.join("presence:lobby", serde_json::json!({"user": "alice"}));
    alice.await_join("presence:lobby").expect("alice joins");

    let ran = shell(
        server.url(),
        "connect(); await_connect();\n\
         join(\"presence:lobby\", #{user: \"bob\"}); await_join(\"presence:lobby\");\n\
         is_joined(\"presence:lobby\")\n",
    );
    assert_eq!(ran.code, Some(0), "{ran}");
    assert!(ran.stdout.lines().any(|l| l == "true"), "{ran}");
    // The shell has exited: alice sees bob come and go.
    let came = MessagePattern::any()
        .event("presence_diff")
        .payload(pattern!({"joins": {"bob": _}}));
    alice.await_message(&came).expect("bob joined");
    let went = MessagePattern::any()
        .event("presence_diff")
        .payload(pattern!({"leaves": {"bob": _}}));
    alice
        .await_message(&went)
        .expect("bob left when the shell ended");
}

#[test]
fn demo_starts_the_embedded_server_for_the_shell() {
    let history = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("shell-demo-history-{}", std::process::id()));
    let mut child = slipstream()
        .args(["shell", "--demo"])
        .env("SLIPSTREAM_HISTORY", history)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("slipstream shell starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(
            b"connect(); await_connect(); join(\"rooms:lobby\"); await_join(\"rooms:lobby\");\n\
              await_reply(push(\"rooms:lobby\", \"ping\"))\n",
        )
        .expect("input written");
    let ran = Ran::from(child.wait_with_output().expect("the shell exits"));
    assert_eq!(ran.code, Some(0), "{ran}");
    assert!(ran.stdout.contains(r#""pong":"pong""#), "{ran}");
}

#[test]
fn the_shell_says_after_an_entry_that_pushes_were_dropped() {
    let server = DemoServer::start();
    let history = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("shell-flood-history-{}", std::process::id()));
    let mut child = slipstream()
        .args(["shell", server.url(), "--mailbox-capacity", "5"])
        .env("SLIPSTREAM_HISTORY", history)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("slipstream shell starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(
            b"connect(); await_connect(); join(\"rooms:lobby\"); await_join(\"rooms:lobby\");\n\
              for i in 0..50 { push(\"rooms:lobby\", \"push to me\"); }\n\
              await_reply(push(\"rooms:lobby\", \"ping\")).status\n\
              dropped()\n",
        )
        .expect("input written");
    let ran = Ran::from(child.wait_with_output().expect("the shell exits"));
    assert_eq!(ran.code, Some(0), "{ran}");
    assert!(ran.stdout.lines().any(|l| l == r#""ok""#), "{ran}");
    assert!(ran.stdout.lines().any(|l| l == "45"), "{ran}");
    // One line, after the entry whose reply proves every push had arrived: the counts of the
    // entries before add up to the 45.
    let noted: u64 = ran
        .stderr
        .lines()
        .filter_map(|l| l.strip_prefix("dropped "))
        .map(|rest| {
            assert!(
                rest.ends_with("the mailbox holds 5 events; raise it with --mailbox-capacity"),
                "{ran}"
            );
            rest.split(' ')
                .next()
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0)
        })
        .sum();
    assert_eq!(noted, 45, "{ran}");
}

/// Runs `slipstream shell ARGS` with `input` piped in.
fn shell_with(args: &[&str], input: &str) -> Ran {
    support::with_stdin(&[&["shell"], args].concat(), input)
}

#[test]
fn the_shell_takes_url_as_a_flag_too() {
    let server = DemoServer::start();
    let input = "connect(); await_connect();\nprint(`up: ${is_connected()}`);\n";
    let ran = shell_with(&["--url", server.url()], input);
    assert_eq!(ran.code, Some(0), "{ran}");
    assert!(ran.stdout.contains("up: true"), "{ran}");

    // The same URL twice is fine; two different ones are a usage error.
    let ran = shell_with(&[server.url(), "--url", server.url()], input);
    assert_eq!(ran.code, Some(0), "{ran}");
    assert!(ran.stdout.contains("up: true"), "{ran}");
    let ran = shell_with(
        &[server.url(), "--url", "ws://127.0.0.1:9/socket/websocket"],
        input,
    );
    assert_eq!(ran.code, Some(2), "{ran}");
    assert!(ran.stderr.contains("two different URLs"), "{ran}");
    assert!(!ran.stdout.contains("up:"), "{ran}");
}

#[test]
fn a_bad_url_or_timeout_stops_the_shell_before_it_reads_exit_2() {
    let ran = shell_with(&["nope://localhost/socket"], "print(\"read\");\n");
    assert_eq!(ran.code, Some(2), "{ran}");
    assert!(ran.stderr.contains("unsupported scheme"), "{ran}");
    assert_eq!(
        ran.stderr.matches("nope://localhost/socket").count(),
        1,
        "{ran}"
    );
    assert!(!ran.stdout.contains("read"), "{ran}");

    let ran = shell_with(&["--timeout", "0"], "print(\"read\");\n");
    assert_eq!(ran.code, Some(2), "{ran}");
    assert!(ran.stderr.contains("from 0.001 to 86400 seconds"), "{ran}");
    assert!(!ran.stdout.contains("read"), "{ran}");
}
