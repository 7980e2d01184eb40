//! A failed connection points at the fix: `run`, `shell` and `tour` add a `hint:` line that says
//! what to try, against a real server (or a port where none listens).

mod support;

use std::net::TcpListener;

use support::{DemoServer, Ran, slipstream};

const CONNECT: &str = "connect(); await_connect();\n";

/// A loopback port nothing listens on (bound, then released).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

fn run_script(url: &str) -> Ran {
    let script = support::script_file("connect.rhai", CONNECT);
    Ran::from(
        slipstream()
            .args(["run", "--timeout", "5", "--url", url])
            .arg(&script)
            .output()
            .expect("slipstream runs"),
    )
}

#[test]
fn refused_on_loopback_suggests_serve_or_demo() {
    let url = format!("ws://127.0.0.1:{}/socket/websocket", free_port());
    let ran = run_script(&url);
    assert_eq!(ran.code, Some(2), "{ran}");
    assert!(
        ran.stderr
            .contains("hint: start one with `slipstream serve`, or use --demo"),
        "{ran}"
    );
}

#[test]
fn a_wrong_path_suggests_the_phoenix_one() {
    let server = DemoServer::start();
    let url = format!("ws://127.0.0.1:{}/live/websocket", server.port());
    let ran = run_script(&url);
    assert_eq!(ran.code, Some(2), "{ran}");
    assert!(ran.stderr.contains("HTTP 404"), "{ran}");
    let expected = format!(
        "hint: try ws://127.0.0.1:{}/socket/websocket",
        server.port()
    );
    assert!(ran.stderr.contains(&expected), "{ran}");
}

#[test]
fn wss_against_a_plain_server_asks_for_ws() {
    let server = DemoServer::start();
    let url = format!("wss://127.0.0.1:{}/socket/websocket", server.port());
    let ran = run_script(&url);
    assert_eq!(ran.code, Some(2), "{ran}");
    assert!(ran.stderr.contains("is this a ws:// server?"), "{ran}");
    let expected = format!(
        "hint: try ws://127.0.0.1:{}/socket/websocket",
        server.port()
    );
    assert!(ran.stderr.contains(&expected), "{ran}");
}

#[test]
fn the_tour_refused_suggests_the_embedded_server() {
    let url = format!("ws://127.0.0.1:{}/socket/websocket", free_port());
    let ran = Ran::from(
        slipstream()
            .args(["tour", "--url", &url])
            .output()
            .expect("slipstream runs"),
    );
    assert_eq!(ran.code, Some(2), "{ran}");
    assert!(
        ran.stderr.contains(
            "hint: start one with `slipstream serve`, or leave out --url to use the embedded one"
        ),
        "{ran}"
    );
}
