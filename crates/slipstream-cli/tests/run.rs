//! `slipstream run`: every example script against the embedded demo server, and the exit codes
//! and reports of scripts that fail.

mod support;

use std::path::{Path, PathBuf};

use support::{DemoServer, Ran, script_file, slipstream};

fn run(file: &Path, url: &str) -> Ran {
    Ran::from(
        slipstream()
            .arg("run")
            .arg(file)
            .args(["--url", url])
            .output()
            .expect("slipstream runs"),
    )
}

fn examples() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/scripts");
    let mut scripts: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "rhai"))
        .collect();
    scripts.sort();
    scripts
}

#[test]
fn every_example_script_runs_to_the_end() {
    let scripts = examples();
    let names: Vec<String> = scripts
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    for expected in [
        "guide.rhai",
        "presence.rhai",
        "binary.rhai",
        "broadcast.rhai",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} is missing from {names:?}"
        );
    }
    let server = DemoServer::start();
    for script in &scripts {
        let ran = run(script, server.url());
        assert_eq!(ran.code, Some(0), "{}:\n{ran}", script.display());
    }
}

#[test]
fn transport_longpoll_runs_the_guide_where_no_websocket_opens() {
    let server = DemoServer::start();
    server.refuse_websockets();
    let guide = examples()
        .into_iter()
        .find(|p| p.ends_with("guide.rhai"))
        .expect("guide.rhai");
    let ran = Ran::from(
        slipstream()
            .arg("run")
            .arg(&guide)
            .args(["--url", server.url(), "--transport", "longpoll"])
            .output()
            .expect("slipstream runs"),
    );
    assert_eq!(ran.code, Some(0), "{ran}");
    assert!(
        ran.stdout
            .contains(r#"{"response":{"pong":"pong"},"status":"ok"}"#),
        "{ran}"
    );
    let over_websocket = run(&guide, server.url());
    assert_ne!(
        over_websocket.code,
        Some(0),
        "the websocket run fails there"
    );
}

#[test]
fn the_guide_prints_what_the_guide_shows() {
    let server = DemoServer::start();
    let guide = examples()
        .into_iter()
        .find(|p| p.ends_with("guide.rhai"))
        .expect("guide.rhai");
    let ran = run(&guide, server.url());
    assert_eq!(ran.code, Some(0), "{ran}");
    for expected in [
        "push returned the ref 2",
        r#"{"response":{"pong":"pong"},"status":"ok"}"#,
        r#"{"event":"foo","payload":{"bar":"baz"},"topic":"rooms:lobby"}"#,
    ] {
        assert!(ran.stdout.contains(expected), "no {expected:?} in\n{ran}");
    }
}

#[test]
fn a_failing_assertion_exits_1_with_the_line_expected_and_received() {
    let server = DemoServer::start();
    let file = script_file(
        "assert.rhai",
        "connect();\nawait_connect();\njoin(\"rooms:lobby\");\nawait_join(\"rooms:lobby\");\n\
         let r = await_reply(push(\"rooms:lobby\", \"ping\"));\nassert_eq(r.status, \"error\");\nprint(\"not reached\");\n",
    );
    let ran = run(&file, server.url());
    assert_eq!(ran.code, Some(1), "{ran}");
    assert!(ran.stderr.contains("assertion failed at "), "{ran}");
    assert!(
        ran.stderr.contains(":6:"),
        "the report names line 6:\n{ran}"
    );
    assert!(
        ran.stderr.contains("6 | assert_eq(r.status, \"error\");"),
        "{ran}"
    );
    assert!(ran.stderr.contains("expected: \"error\""), "{ran}");
    assert!(ran.stderr.contains("received: \"ok\""), "{ran}");
    assert!(!ran.stdout.contains("not reached"), "{ran}");
}

#[test]
fn an_await_timeout_exits_1_and_says_what_did_arrive() {
    let server = DemoServer::start();
    let file = script_file(
        "timeout.rhai",
        "connect(); await_connect();\njoin(\"rooms:lobby\"); await_join(\"rooms:lobby\");\n\
         push(\"rooms:lobby\", \"push to me\");\nset_timeout(300);\n\
         await_message(\"rooms:lobby\", \"nope\", #{bar: ANY});\n",
    );
    let ran = run(&file, server.url());
    assert_eq!(ran.code, Some(1), "{ran}");
    assert!(ran.stderr.contains("await failed at "), "{ran}");
    assert!(ran.stderr.contains("5 | await_message("), "{ran}");
    assert!(ran.stderr.contains("nothing came within 300 ms"), "{ran}");
    assert!(
        ran.stderr.contains(
            r#"expected: a message with topic "rooms:lobby", event "nope", payload {"bar":ANY, ..}"#
        ),
        "{ran}"
    );
    assert!(
        ran.stderr
            .contains(r#"event: "foo"  payload: {"bar":"baz"}"#),
        "{ran}"
    );
}

#[test]
fn a_refused_join_exits_1_with_the_servers_reason() {
    let server = DemoServer::start();
    let file = script_file(
        "deny.rhai",
        "connect(); await_connect();\njoin(\"rooms:secret\", #{deny: true});\nawait_join(\"rooms:secret\");\n",
    );
    let ran = run(&file, server.url());
    assert_eq!(ran.code, Some(1), "{ran}");
    assert!(ran.stderr.contains(r#"{"reason":"unauthorized"}"#), "{ran}");
}

#[test]
fn a_bad_url_exits_2_before_the_script_starts_and_is_named_once() {
    let file = script_file(
        "connect.rhai",
        "print(\"started\");\nconnect();\nawait_connect();\n",
    );
    let ran = run(&file, "nope://localhost/socket");
    assert_eq!(ran.code, Some(2), "{ran}");
    assert!(!ran.stdout.contains("started"), "no script line ran: {ran}");
    assert!(ran.stderr.contains("unsupported scheme"), "{ran}");
    assert_eq!(
        ran.stderr.matches("nope://localhost/socket").count(),
        1,
        "the URL is named once: {ran}"
    );
}

#[test]
fn a_refused_connection_exits_2() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let file = script_file(
        "refused.rhai",
        "connect();\nawait_connect();\nprint(\"connected\");\n",
    );
    let ran = run(&file, &format!("ws://127.0.0.1:{port}/socket/websocket"));
    assert_eq!(ran.code, Some(2), "{ran}");
    assert!(ran.stderr.contains("2 | await_connect();"), "{ran}");
    assert!(ran.stderr.contains("connection refused"), "{ran}");
}

#[test]
fn syntax_errors_and_unreadable_files_exit_2() {
    let file = script_file("syntax.rhai", "let x = 1;\nlet y = ;\n");
    let ran = run(&file, "ws://127.0.0.1:9/socket/websocket");
    assert_eq!(ran.code, Some(2), "{ran}");
    assert!(ran.stderr.contains("syntax error at "), "{ran}");
    assert!(ran.stderr.contains("2 | let y = ;"), "{ran}");

    let missing = script_file("exists.rhai", "").with_extension("missing");
    let ran = run(&missing, "ws://127.0.0.1:9/socket/websocket");
    assert_eq!(ran.code, Some(2), "{ran}");
    assert!(ran.stderr.contains("cannot read"), "{ran}");
}

#[test]
fn a_caught_failure_does_not_fail_the_script() {
    let file = script_file(
        "caught.rhai",
        "try { assert_eq(1, 2) } catch (e) { print(`${e.kind}: ${e.expected} vs ${e.received}`) }\n",
    );
    let ran = run(&file, "ws://127.0.0.1:9/socket/websocket");
    assert_eq!(ran.code, Some(0), "{ran}");
    assert!(ran.stdout.contains("assertion: 2 vs 1"), "{ran}");
}

#[test]
fn demo_runs_a_script_against_the_embedded_server() {
    let guide = examples()
        .into_iter()
        .find(|p| p.ends_with("guide.rhai"))
        .expect("the guide script");
    let ran = Ran::from(
        slipstream()
            .arg("run")
            .arg(&guide)
            .arg("--demo")
            .output()
            .expect("slipstream runs"),
    );
    assert_eq!(ran.code, Some(0), "{ran}");
    assert!(ran.stdout.contains("pong"), "{ran}");
}

/// Joins `rooms:lobby`, asks the demo for 50 pushes without reading them, then pings: the
/// pushes all arrive before the ping's reply.
const FLOOD: &str = "connect(); await_connect();\njoin(\"rooms:lobby\"); await_join(\"rooms:lobby\");\n\
     for i in 0..50 { push(\"rooms:lobby\", \"push to me\"); }\n\
     let r = await_reply(push(\"rooms:lobby\", \"ping\"));\n\
     print(`ping: ${r.status}, dropped: ${dropped()}`);\n";

fn run_with_capacity(file: &Path, capacity: Option<&str>) -> Ran {
    let mut command = slipstream();
    command.arg("run").arg(file).arg("--demo");
    if let Some(capacity) = capacity {
        command.args(["--mailbox-capacity", capacity]);
    }
    Ran::from(command.output().expect("slipstream runs"))
}

#[test]
fn a_full_mailbox_drops_pushes_not_replies_and_run_says_so() {
    let file = script_file("flood.rhai", FLOOD);
    let ran = run_with_capacity(&file, Some("5"));
    assert_eq!(ran.code, Some(0), "{ran}");
    assert!(ran.stdout.contains("ping: ok, dropped: 45"), "{ran}");
    let notes: Vec<&str> = ran
        .stderr
        .lines()
        .filter(|l| l.starts_with("dropped "))
        .collect();
    assert_eq!(
        notes,
        ["dropped 45 server pushes: the mailbox holds 5 events; raise it with --mailbox-capacity"],
        "{ran}"
    );
}

#[test]
fn a_mailbox_that_never_fills_drops_nothing_and_says_nothing() {
    let file = script_file("no-flood.rhai", FLOOD);
    let ran = run_with_capacity(&file, None);
    assert_eq!(ran.code, Some(0), "{ran}");
    assert!(ran.stdout.contains("ping: ok, dropped: 0"), "{ran}");
    assert!(!ran.stderr.contains("dropped"), "{ran}");
}

#[test]
fn a_mailbox_capacity_of_zero_is_a_usage_error() {
    let file = script_file("zero.rhai", "print(1);\n");
    let ran = run_with_capacity(&file, Some("0"));
    assert_eq!(ran.code, Some(2), "{ran}");
    assert!(ran.stderr.contains("--mailbox-capacity"), "{ran}");
    assert!(ran.stderr.contains("at least 1"), "{ran}");
}

#[test]
fn timeout_outside_its_bounds_is_a_usage_error_naming_the_bounds() {
    let file = script_file("timeout-bounds.rhai", "print(\"ran\");\n");
    for bad in ["0", "-1", "NaN", "inf", "1e20", "1e-12", "86400.5", "soon"] {
        let ran = Ran::from(
            slipstream()
                .arg("run")
                .arg(&file)
                .arg(format!("--timeout={bad}"))
                .output()
                .expect("slipstream runs"),
        );
        assert_eq!(ran.code, Some(2), "--timeout {bad}: {ran}");
        assert!(
            ran.stderr.contains("from 0.001 to 86400 seconds"),
            "--timeout {bad}: {ran}"
        );
        assert!(!ran.stdout.contains("ran"), "--timeout {bad}: {ran}");
    }
    for good in ["0.001", "86400", "2.5"] {
        let ran = Ran::from(
            slipstream()
                .arg("run")
                .arg(&file)
                .args(["--timeout", good])
                .output()
                .expect("slipstream runs"),
        );
        assert_eq!(ran.code, Some(0), "--timeout {good}: {ran}");
        assert!(ran.stdout.contains("ran"), "--timeout {good}: {ran}");
    }
}

/// Runs `slipstream run - ARGS` with `script` on stdin.
fn run_stdin(script: &str, args: &[&str]) -> Ran {
    support::with_stdin(&[&["run", "-"], args].concat(), script)
}

#[test]
fn run_dash_reads_the_script_from_stdin() {
    let server = DemoServer::start();
    let ran = run_stdin(
        "connect(); await_connect();\nprint(`from stdin: ${is_connected()}`);\n",
        &["--url", server.url()],
    );
    assert_eq!(ran.code, Some(0), "{ran}");
    assert!(ran.stdout.contains("from stdin: true"), "{ran}");

    let ran = run_stdin("let x = 1;\nassert_eq(x, 2);\n", &[]);
    assert_eq!(ran.code, Some(1), "{ran}");
    assert!(ran.stderr.contains("<stdin>:2:"), "{ran}");
}

#[test]
fn a_shebang_line_is_allowed_and_error_lines_stay_right() {
    let source = "#!/usr/bin/env -S slipstream run\nlet x = 1;\nassert_eq(x, 2);\n";
    let file = script_file("shebang.rhai", source);
    let ran = run(&file, "ws://127.0.0.1:9/socket/websocket");
    assert_eq!(ran.code, Some(1), "{ran}");
    assert!(ran.stderr.contains("shebang.rhai:3:"), "{ran}");
    assert!(ran.stderr.contains("3 | assert_eq(x, 2);"), "{ran}");

    let ran = run_stdin("#!/usr/bin/env -S slipstream run\nlet y = ;\n", &[]);
    assert_eq!(ran.code, Some(2), "{ran}");
    assert!(ran.stderr.contains("2 | let y = ;"), "{ran}");

    let ok = script_file(
        "shebang-ok.rhai",
        "#!/usr/bin/env -S slipstream run\nprint(\"hi\");\n",
    );
    let ran = run(&ok, "ws://127.0.0.1:9/socket/websocket");
    assert_eq!(ran.code, Some(0), "{ran}");
    assert_eq!(ran.stdout, "hi\n", "{ran}");
}

#[test]
fn set_timeout_takes_one_millisecond_to_one_day_like_the_flag() {
    let file = script_file(
        "timeouts.rhai",
        "set_timeout(1); set_timeout(86400000); print(timeout());\n\
         for ms in [0, -5, 86400001] {\n\
             try { set_timeout(ms); print(`accepted ${ms}`) } catch (e) { print(`${e.kind}: ${e.message}`) }\n\
         }\n",
    );
    let ran = run(&file, "ws://127.0.0.1:9/socket/websocket");
    assert_eq!(ran.code, Some(0), "{ran}");
    assert!(ran.stdout.starts_with("86400000\n"), "{ran}");
    assert!(!ran.stdout.contains("accepted"), "{ran}");
    assert!(
        ran.stdout.contains(
            "usage: set_timeout(86400001): the timeout must be from 1 to 86400000 milliseconds"
        ),
        "{ran}"
    );
}
