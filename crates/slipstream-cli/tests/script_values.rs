//! What scripts see of events, disconnects and sockets: maps of readable fields and plain words,
//! never Rust `Debug` text, through `slipstream run` against the demo server (also one that
//! goes away and comes back on the same port).

mod support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};
use support::{DemoServer, Ran, script_file, slipstream};

fn run(name: &str, source: &str, url: &str) -> Ran {
    let file = script_file(name, source);
    Ran::from(
        slipstream()
            .arg("run")
            .arg(&file)
            .args(["--url", url])
            .output()
            .expect("slipstream runs"),
    )
}

/// Text a person or a script reads must not look like Rust's `Debug` output.
fn assert_no_debug_text(text: &str) {
    for debug in [
        "ClientRequested",
        "ClosedByRemote",
        "TransportError",
        "Reconnecting {",
        "Some(",
        "ConnectionRefused",
        "slipstream::",
        "\"other\"",
        "description",
    ] {
        assert!(!text.contains(debug), "{debug:?} in\n{text}");
    }
}

#[test]
fn events_disconnects_and_sockets_are_readable_values() {
    let server = DemoServer::start();
    let ran = run(
        "values.rhai",
        r#"
connect(); await_connect();
join("rooms:lobby"); await_join("rooms:lobby");
print(socket());
let b = socket(); b.connect(); b.await_connect();
print(`${b}`);
print([b]);
b.join("rooms:lobby"); b.await_join("rooms:lobby");
print(b);
push("rooms:lobby", "push to me", #{});
let m = await_event();
assert_eq(m.type, "message");
assert_eq(m.event, "foo");
print(m);
disconnect();
let why = await_disconnect();
assert_eq(why.type, "disconnected");
assert_eq(why.reason, "client_requested");
assert_eq(why.code, ());
print(why);
let rest = flush();
for e in rest { print(e); }
b.disconnect();
assert_eq(b.await_disconnect().reason, "client_requested");
"#,
        server.url(),
    );
    assert_eq!(ran.code, Some(0), "{ran}");
    let url = server.url();
    for expected in [
        format!("Socket({url}, not connected)"),
        format!("Socket({url}, connected)"),
        format!("[Socket({url}, connected)]"),
        format!("Socket({url}, connected, joined rooms:lobby)"),
        r#"{"event":"foo","payload":{"bar":"baz"},"topic":"rooms:lobby","type":"message"}"#
            .to_owned(),
        r#"{"code":null,"reason":"client_requested","type":"disconnected"}"#.to_owned(),
        r#"{"reason":"disconnected","topic":"rooms:lobby","type":"topic_closed"}"#.to_owned(),
    ] {
        assert!(
            ran.stdout.lines().any(|l| l == expected),
            "no line {expected:?} in\n{ran}"
        );
    }
    assert_no_debug_text(&ran.stdout);
}

#[test]
fn a_failed_await_lists_the_recent_events_in_words_one_a_line() {
    let server = DemoServer::start();
    let ran = run(
        "report.rhai",
        r#"
connect(); await_connect();
join("rooms:lobby"); await_join("rooms:lobby");
push("rooms:lobby", "push to me", #{});
sleep(200);
set_timeout(200);
await_message("rooms:lobby", "never", ANY);
"#,
        server.url(),
    );
    assert_eq!(ran.code, Some(1), "{ran}");
    let report = ran.stderr.as_str();
    let listed: Vec<&str> = report
        .lines()
        .skip_while(|l| !l.contains("the last events on this socket were:"))
        .skip(1)
        .collect();
    assert_eq!(
        listed,
        [
            "    connected",
            r#"    joined   topic: "rooms:lobby"  response: {}"#,
            r#"    message  topic: "rooms:lobby"  event: "foo"  payload: {"bar":"baz"}"#,
        ],
        "{ran}"
    );
    assert_no_debug_text(report);
}

#[test]
fn a_server_that_goes_away_and_comes_back_is_seen_as_maps() {
    let server = DemoServer::start();
    let port = server.port();
    let file = script_file(
        "restart.rhai",
        r#"
connect(); await_connect();
join("rooms:lobby"); await_join("rooms:lobby");
print("ready");
set_timeout(20000);
loop {
    let e = await_event();
    print(to_json(e));
    if e.type == "joined" { break; }
}
let r = await_reply(push("rooms:lobby", "ping", #{}));
print(r.response.pong);
"#,
    );
    let mut child = slipstream()
        .arg("run")
        .arg(&file)
        .args(["--url", server.url()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("slipstream runs");
    let (lines_tx, lines) = mpsc::channel();
    let stdout = child.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let next = |what: &str| {
        lines
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("no line while waiting for {what}"))
    };
    assert_eq!(next("ready"), "ready");

    server.stop();
    // Away long enough for a few refused attempts (10, 50, 100, 150… ms apart).
    let mut seen: Vec<Value> = Vec::new();
    let mut refused = false;
    while !refused {
        let line = next("a refused reconnect");
        let event: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("{line:?} is not an event as JSON: {e}"));
        refused = event["type"] == "reconnecting"
            && event["error"]
                .as_str()
                .is_some_and(|e| e.starts_with("connection refused by 127.0.0.1:"));
        seen.push(event);
    }
    let server = DemoServer::start_on(port);
    let mut pong = None;
    while pong.is_none() {
        let line = next("the rejoin and the pong");
        match serde_json::from_str::<Value>(&line) {
            Ok(event) => seen.push(event),
            Err(_) => pong = Some(line),
        }
    }
    let status = child.wait().expect("slipstream exits");
    drop(server);
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr)
        .expect("stderr read");
    assert!(status.success(), "exit {status:?}\n{stderr}");
    assert_eq!(pong.as_deref(), Some("pong"));

    let types: Vec<&str> = seen.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(
        seen[0],
        json!({"type": "disconnected", "reason": "closed_by_remote", "code": 1012,
               "close_reason": seen[0]["close_reason"].as_str().unwrap_or("(missing)")}),
        "{seen:#?}"
    );
    assert_eq!(types.last(), Some(&"joined"), "{types:?}");
    assert!(types.contains(&"connected"), "{types:?}");
    let first_retry = seen
        .iter()
        .find(|e| e["type"] == "reconnecting")
        .expect("a reconnect was scheduled");
    assert_eq!(first_retry["attempt"], 1, "{first_retry}");
    assert!(first_retry["delay_ms"].is_u64(), "{first_retry}");
    assert_eq!(first_retry["error"], Value::Null, "{first_retry}");
    let all = serde_json::to_string(&seen).expect("JSON");
    assert_no_debug_text(&all);
}
