//! `slipstream serve --port 0`: prints `listening on http://ADDR:PORT` as its first stdout line,
//! then the websocket URL and a `slipstream shell` command, serves the demo app, and stops cleanly
//! on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn serve_prints_its_address_and_stops_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_slipstream"))
        .args(["serve", "--port", "0", "--idle-timeout-ms", "5000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("slipstream starts");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("one line");
    let addr = line
        .trim_end()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    assert!(!addr.ends_with(":0"), "the real port is printed: {addr}");
    // Then the websocket URL and a ready-to-paste shell command, on 127.0.0.1 and the real port.
    let port = addr.rsplit(':').next().expect("a port");
    let ws_url = format!("ws://127.0.0.1:{port}/socket/websocket");
    let mut websocket = String::new();
    stdout.read_line(&mut websocket).expect("a second line");
    assert_eq!(websocket, format!("websocket: {ws_url}\n"));
    let mut hint = String::new();
    stdout.read_line(&mut hint).expect("a third line");
    assert_eq!(hint, format!("try: slipstream shell {ws_url}\n"));
    let mut longpoll = String::new();
    stdout.read_line(&mut longpoll).expect("a fourth line");
    assert_eq!(
        longpoll,
        format!("long-poll: http://127.0.0.1:{port}/socket/longpoll\n")
    );

    let mut tcp = TcpStream::connect(&addr).expect("server accepts");
    tcp.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    tcp.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("request");
    let mut response = String::new();
    tcp.read_to_string(&mut response).expect("response");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with("ok"), "{response}");

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let exit = child.wait().expect("slipstream exits");
    assert!(exit.success(), "clean exit on SIGTERM: {exit:?}");
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).expect("rest of stdout");
    assert_eq!(rest, "", "nothing else on stdout after the banner");
}
