//! `slipstream listen [URL] TOPIC...` against the demo server, in-process, with a second client
//! (the library's blocking socket) broadcasting to the room: JSON lines when piped and words on a
//! terminal, `--count` and `--duration`, refused joins, Ctrl-C (exit 130), a reader that goes
//! away (no panic), and a server restart (reconnect and rejoin, reported on stderr).

use std::io::Read;
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use slipstream_client::blocking;
use slipstream_server::{BackgroundServer, ServerConfig};

/// The demo server on a loopback port; stopped on drop.
struct DemoServer {
    server: BackgroundServer,
}

impl DemoServer {
    fn start() -> Self {
        Self::start_on(0)
    }

    fn start_on(port: u16) -> Self {
        let server =
            BackgroundServer::start_demo(([127, 0, 0, 1], port).into(), ServerConfig::default())
                .unwrap_or_else(|e| panic!("the demo server starts on port {port}: {e}"));
        DemoServer { server }
    }

    fn url(&self) -> String {
        self.server.ws_url()
    }

    fn port(&self) -> u16 {
        self.server.running().local_addr().port()
    }

    /// Stops it as a deploy does (websockets closed with 1012); the port is free afterwards.
    fn stop(self) {
        self.server.stop();
    }
}

fn slipstream() -> Command {
    Command::new(env!("CARGO_BIN_EXE_slipstream"))
}

/// A second client in `topic`, to broadcast from.
fn broadcaster(url: &str, topic: &str) -> blocking::Socket {
    let socket = blocking::connect(url)
        .expect("a socket")
        .with_timeout(Duration::from_secs(5));
    socket.await_connect().expect("connected");
    socket.join(topic, json!({}));
    socket.await_join(topic).expect("joined");
    socket
}

/// Broadcasts `payload` to everyone in `topic` (the demo's `broadcast` event, never answered).
fn broadcast(socket: &blocking::Socket, topic: &str, payload: serde_json::Value) {
    socket.push(topic, "broadcast", payload);
}

/// `slipstream listen` running, its stderr collected as it comes.
struct Listening {
    child: Child,
    stdout: Option<ChildStdout>,
    stderr: Arc<Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

/// How it ended.
struct Ended {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl std::fmt::Display for Ended {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

impl Listening {
    fn start(args: &[&str]) -> Self {
        let mut child = slipstream()
            .arg("listen")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("slipstream runs");
        let mut err = child.stderr.take().expect("stderr");
        let stderr = Arc::new(Mutex::new(String::new()));
        let collected = stderr.clone();
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 1024];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                collected
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Listening {
            stdout: child.stdout.take(),
            child,
            stderr,
            reader: Some(reader),
        }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits until stderr shows `text`; panics with what it shows after `within`.
    fn wait_for(&mut self, text: &str, within: Duration) {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if self.stderr().contains(text) {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "listen ended ({status}) before {text:?}:\n{}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        panic!(
            "no {text:?} on stderr within {within:?}:\n{}",
            self.stderr()
        );
    }

    /// Closes our end of its stdout, as `| head -1` does once it has its line.
    fn close_stdout(&mut self) {
        drop(self.stdout.take());
    }

    fn interrupt(&self) {
        let pid = i32::try_from(self.child.id()).expect("a pid");
        assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    }

    /// Waits for it to end (killing it after `within`), with what it printed.
    fn end(mut self, within: Duration) -> Ended {
        let mut stdout = String::new();
        let out_reader = self.stdout.take().map(|mut out| {
            std::thread::spawn(move || {
                let mut text = String::new();
                let _ = out.read_to_string(&mut text);
                text
            })
        });
        let deadline = Instant::now() + within;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("it runs") {
                break Some(status);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        if let Some(reader) = out_reader {
            stdout = reader.join().expect("stdout read");
        }
        if let Some(reader) = self.reader.take() {
            reader.join().expect("stderr read");
        }
        let ended = Ended {
            code: status.and_then(|s| s.code()),
            stdout,
            stderr: self.stderr(),
        };
        assert!(
            status.is_some(),
            "still running after {within:?}, killed:\n{ended}"
        );
        ended
    }
}

/// A command run to its end.
fn ran(output: Output) -> Ended {
    Ended {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

const WAIT: Duration = Duration::from_secs(10);

#[test]
fn count_1_prints_the_broadcast_as_one_json_line_and_exits_0() {
    let server = DemoServer::start();
    let url = server.url();
    let mut listen = Listening::start(&[&url, "rooms:lobby", "--count", "1"]);
    listen.wait_for("joined rooms:lobby", WAIT);
    let other = broadcaster(&url, "rooms:lobby");
    broadcast(&other, "rooms:lobby", json!({"text": "hi", "n": 1}));
    broadcast(&other, "rooms:lobby", json!({"text": "not printed"}));
    let ended = listen.end(WAIT);
    assert_eq!(ended.code, Some(0), "{ended}");
    assert_eq!(
        ended.stdout,
        "{\"topic\":\"rooms:lobby\",\"event\":\"broadcast_event\",\"payload\":{\"n\":1,\"text\":\"hi\"}}\n",
        "{ended}"
    );
}

#[test]
fn several_topics_are_listened_to_and_a_refused_one_is_reported() {
    let server = DemoServer::start();
    let url = server.url();
    let mut listen = Listening::start(&[
        "--url",
        &url,
        "rooms:lobby",
        "nope:1",
        "rooms:other",
        "--count",
        "2",
    ]);
    listen.wait_for("joined rooms:other", WAIT);
    let lobby = broadcaster(&url, "rooms:lobby");
    broadcast(&lobby, "rooms:lobby", json!({"in": "lobby"}));
    // rooms:other has no `broadcast`; its `echo` replies to the sender only, so the second
    // message comes from the lobby too.
    broadcast(&lobby, "rooms:lobby", json!({"in": "lobby again"}));
    let ended = listen.end(WAIT);
    assert_eq!(ended.code, Some(0), "{ended}");
    let lines: Vec<serde_json::Value> = ended
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(
        lines,
        [
            json!({"topic": "rooms:lobby", "event": "broadcast_event", "payload": {"in": "lobby"}}),
            json!({"topic": "rooms:lobby", "event": "broadcast_event", "payload": {"in": "lobby again"}}),
        ],
        "{ended}"
    );
    assert!(
        ended
            .stderr
            .contains(r#"error: nope:1 refused the join: {"reason":"unmatched topic"}"#),
        "{ended}"
    );
    assert!(
        ended
            .stderr
            .contains(r#"joined rooms:other, response {"joined":"rooms:other"}"#),
        "{ended}"
    );
}

#[test]
fn no_topic_joined_exits_1_with_the_servers_payload() {
    let server = DemoServer::start();
    let output = slipstream()
        .args(["listen", &server.url(), "rooms:private"])
        .args(["--params", r#"{"deny": true}"#])
        // Ends a listen that went on without a topic (exit 0, which the assertion shows).
        .args(["--duration", "5"])
        .stdin(Stdio::null())
        .output()
        .expect("slipstream runs");
    let ended = ran(output);
    assert_eq!(ended.code, Some(1), "{ended}");
    assert!(
        ended
            .stderr
            .contains(r#"rooms:private refused the join: {"reason":"unauthorized"}"#),
        "{ended}"
    );
    assert!(
        ended
            .stderr
            .contains("error: nothing to listen to: the topic could not be joined"),
        "{ended}"
    );
}

#[test]
fn duration_ends_listening_and_fails_a_count_not_reached() {
    let server = DemoServer::start();
    let url = server.url();
    let listen = |extra: &[&str]| {
        let started = Instant::now();
        let output = slipstream()
            .args(["listen", &url, "rooms:lobby", "--duration", "0.3"])
            .args(extra)
            .stdin(Stdio::null())
            .output()
            .expect("slipstream runs");
        (ran(output), started.elapsed())
    };
    let (ended, took) = listen(&[]);
    assert_eq!(ended.code, Some(0), "{ended}");
    assert!(took < Duration::from_secs(4), "{took:?}\n{ended}");
    let (ended, _) = listen(&["--count", "1"]);
    assert_eq!(ended.code, Some(1), "{ended}");
    assert!(
        ended
            .stderr
            .contains("error: 0 of the 1 message asked for with --count came within 0.3 s"),
        "{ended}"
    );
}

#[test]
fn ctrl_c_exits_130() {
    let server = DemoServer::start();
    let mut listen = Listening::start(&[&server.url(), "rooms:lobby"]);
    listen.wait_for("joined rooms:lobby", WAIT);
    listen.interrupt();
    let ended = listen.end(WAIT);
    assert_eq!(ended.code, Some(130), "{ended}");
    assert!(!ended.stderr.contains("panicked"), "{ended}");
}

#[test]
fn a_reader_that_goes_away_ends_it_quietly() {
    let server = DemoServer::start();
    let url = server.url();
    let mut listen = Listening::start(&[&url, "rooms:lobby"]);
    listen.wait_for("joined rooms:lobby", WAIT);
    listen.close_stdout();
    let other = broadcaster(&url, "rooms:lobby");
    for n in 0..3 {
        broadcast(&other, "rooms:lobby", json!({"n": n}));
    }
    let ended = listen.end(WAIT);
    assert_eq!(ended.code, Some(0), "{ended}");
    assert!(!ended.stderr.contains("panicked"), "{ended}");
    assert!(!ended.stderr.contains("error"), "{ended}");
}

#[test]
fn a_server_restart_is_reported_and_listening_goes_on() {
    let server = DemoServer::start();
    let port = server.port();
    let url = server.url();
    let mut listen = Listening::start(&[&url, "rooms:lobby", "--count", "1"]);
    listen.wait_for("joined rooms:lobby", WAIT);
    server.stop();
    listen.wait_for("disconnected: closed by the server (code 1012", WAIT);
    let server = DemoServer::start_on(port);
    listen.wait_for("rejoined rooms:lobby", WAIT);
    let other = broadcaster(&server.url(), "rooms:lobby");
    broadcast(&other, "rooms:lobby", json!({"after": "restart"}));
    let ended = listen.end(WAIT);
    assert_eq!(ended.code, Some(0), "{ended}");
    assert_eq!(
        ended.stdout,
        "{\"topic\":\"rooms:lobby\",\"event\":\"broadcast_event\",\"payload\":{\"after\":\"restart\"}}\n",
        "{ended}"
    );
    assert!(ended.stderr.contains("\nreconnected\n"), "{ended}");
}

#[test]
fn a_refused_connection_exits_2() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = listener.local_addr().expect("its address").port();
    drop(listener);
    let url = format!("ws://127.0.0.1:{port}/socket/websocket");
    let output = slipstream()
        .args(["listen", &url, "rooms:lobby", "--duration", "5"])
        .stdin(Stdio::null())
        .output()
        .expect("slipstream runs");
    let ended = ran(output);
    assert_eq!(ended.code, Some(2), "{ended}");
    assert!(
        ended
            .stderr
            .starts_with(&format!("error: could not connect to {url}: ")),
        "{ended}"
    );
}

#[test]
fn on_a_terminal_each_message_is_topic_event_payload() {
    let server = DemoServer::start();
    let url = server.url();
    let command = format!(
        "{} listen {url} rooms:lobby --count 2 --duration 10",
        env!("CARGO_BIN_EXE_slipstream")
    );
    let child = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("`script` (util-linux) runs the command on a pseudo-terminal");
    // stderr shares the terminal, so wait for the join by trying until a message lands.
    let other = broadcaster(&url, "rooms:lobby");
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let output = std::thread::spawn(move || {
        let output = child.wait_with_output();
        let _ = done_tx.send(());
        output
    });
    let deadline = Instant::now() + WAIT;
    while done_rx.try_recv().is_err() && Instant::now() < deadline {
        broadcast(&other, "rooms:lobby", json!({"bar": "baz"}));
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = output.join().expect("joined").expect("script ran");
    let screen = String::from_utf8_lossy(&output.stdout).replace('\r', "");
    assert_eq!(output.status.code(), Some(0), "{screen}");
    assert!(screen.contains("joined rooms:lobby\n"), "{screen}");
    assert!(
        screen.ends_with("rooms:lobby broadcast_event {\"bar\":\"baz\"}\nrooms:lobby broadcast_event {\"bar\":\"baz\"}\n"),
        "{screen}"
    );
}

#[test]
fn with_demo_it_says_where_the_embedded_server_is_so_others_can_talk_to_it() {
    let mut listen = Listening::start(&["--demo", "rooms:lobby", "--count", "1"]);
    listen.wait_for("joined rooms:lobby", WAIT);
    let stderr = listen.stderr();
    let url = stderr
        .split_whitespace()
        .find(|word| word.starts_with("ws://127.0.0.1:"))
        .unwrap_or_else(|| panic!("no URL on stderr:\n{stderr}"))
        .trim_end_matches(';')
        .to_owned();
    assert!(
        stderr.contains(&format!(
            "try: slipstream push {url} rooms:lobby broadcast '{{\"hi\":1}}'"
        )),
        "{stderr}"
    );
    let other = broadcaster(&url, "rooms:lobby");
    broadcast(&other, "rooms:lobby", json!({"hi": 1}));
    let ended = listen.end(WAIT);
    assert_eq!(ended.code, Some(0), "{ended}");
    assert_eq!(
        ended.stdout,
        "{\"topic\":\"rooms:lobby\",\"event\":\"broadcast_event\",\"payload\":{\"hi\":1}}\n",
        "{ended}"
    );
}
