//! `slipstream serve --pubsub redis://…` as separate node processes sharing one real
//! `redis-server`: a killed node's presences leave on the others, and `--reuse-port` lets nodes
//! share one port. (The server crate's `tests/cluster.rs` covers broadcasts, disconnects,
//! presence across three nodes and Redis restarts with in-process nodes.)

#[path = "../../slipstream-server/tests/support/redis.rs"]
mod redis;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use slipstream_client::MessagePattern;
use slipstream_client::blocking::Socket;

use redis::RedisServer;

mod support;

/// A `slipstream serve` node process; killed (SIGKILL) on drop.
struct Node {
    child: Child,
    port: u16,
}

impl Node {
    fn start(redis: &RedisServer, name: &str, extra: &[&str]) -> Node {
        let mut child = support::slipstream()
            .args(["serve", "--pubsub", &redis.url(), "--node", name])
            .args(["--node-timeout-ms", "1000"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("slipstream serve starts");
        let mut first = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut first)
            .expect("the banner");
        let port = first
            .trim_end()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected banner {first:?}"));
        Node { child, port }
    }

    fn url(&self) -> String {
        format!("ws://127.0.0.1:{}/socket", self.port)
    }

    /// `kill -9`: no leave, no goodbye.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

fn socket(url: &str) -> Socket {
    let builder = slipstream_client::Socket::builder(url).await_timeout(Duration::from_secs(10));
    let socket = Socket::from_builder(builder).expect("a valid URL");
    socket.connect();
    socket.await_connect().expect("connects");
    socket
}

/// Waits for a `presence_diff` on `topic` in which `key` is under `side` ("joins"/"leaves").
fn await_diff(socket: &Socket, topic: &str, side: &str, key: &str) {
    let pattern = MessagePattern::any().topic(topic).event("presence_diff");
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        let message = socket.await_message(&pattern).expect("a presence_diff");
        let diff: Value = message.json().expect("JSON");
        if diff[side].get(key).is_some() {
            return;
        }
    }
    panic!("no presence_diff with {key} in {side} within 15 s");
}

#[test]
fn a_killed_nodes_presences_leave_on_the_other_nodes() {
    let redis = RedisServer::start();
    let mut one = Node::start(&redis, "one", &["--port", "0"]);
    let two = Node::start(&redis, "two", &["--port", "0"]);
    let watcher = socket(&two.url());
    watcher.join("presence:lobby", json!({"user": "watcher"}));
    watcher.await_join("presence:lobby").expect("joins");
    let alice = socket(&one.url());
    alice.join("presence:lobby", json!({"user": "alice"}));
    alice.await_join("presence:lobby").expect("joins");
    await_diff(&watcher, "presence:lobby", "joins", "alice");

    one.kill();
    let killed = Instant::now();
    await_diff(&watcher, "presence:lobby", "leaves", "alice");
    // Documented bound: node_timeout (1 s here) plus a heartbeat; generous for a loaded machine.
    assert!(
        killed.elapsed() < Duration::from_secs(10),
        "alice left {:?} after the kill",
        killed.elapsed()
    );
    drop(alice);
}

#[test]
fn nodes_with_reuse_port_share_one_port_and_broadcast_to_each_other() {
    let redis = RedisServer::start();
    let first = Node::start(&redis, "one", &["--reuse-port", "--port", "0"]);
    let port = first.port.to_string();
    let second = Node::start(&redis, "two", &["--reuse-port", "--port", &port]);
    assert_eq!(first.port, second.port);
    // Several clients: the kernel spreads them over both nodes; a broadcast from any one reaches
    // every other, whichever node it landed on.
    let clients: Vec<Socket> = (0..6).map(|_| socket(&first.url())).collect();
    for client in &clients {
        client.join("rooms:lobby", json!({}));
        client.await_join("rooms:lobby").expect("joins");
    }
    // Until both nodes hear each other a broadcast may miss the other node: retry with fresh
    // payloads until one reaches everyone.
    let pattern = |n: u64| {
        MessagePattern::any()
            .topic("rooms:lobby")
            .event("broadcast_event")
            .payload(json!({"n": n}))
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut n = 0u64;
    loop {
        clients[0].push("rooms:lobby", "broadcast", json!({"n": n}));
        let everyone = clients.iter().all(|c| {
            c.with_timeout(Duration::from_millis(500))
                .await_message(&pattern(n))
                .is_ok()
        });
        if everyone {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no broadcast reached every client in 15 s"
        );
        n += 1;
    }
}
