//! Broadcast latency across nodes against one node, side by side in one run.
//!
//! Starts a real `redis-server` on a free port and two demo nodes sharing it (in this process),
//! joins `--clients` raw websocket clients (default 500) to `rooms:lobby` on node A and as many on
//! node B, then for `--rounds` rounds (default 40) broadcasts once from node A's endpoint and
//! records, per round, the time until the last client of each node has the frame: A's clients
//! measure one node, B's the trip through Redis. Rounds are 50 ms apart.
//!
//! `cargo bench -p slipstream-server --bench cluster_latency -- [--clients N] [--rounds N]`

#[path = "../tests/support/redis.rs"]
mod redis;

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use slipstream_server::{Payload, RunningServer, ServerConfig, spawn_demo};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn node(redis: &redis::RedisServer, name: &str) -> RunningServer {
    let config = ServerConfig::default()
        .with_redis(redis.url())
        .with_node_name(name)
        .with_idle_timeout(Duration::from_secs(3600));
    spawn_demo("127.0.0.1:0".parse().unwrap(), config)
        .await
        .expect("node starts")
}

/// Joins `n` clients on `server`; each reports `(round, when)` for every broadcast it gets.
async fn clients(server: &RunningServer, n: usize, report: mpsc::UnboundedSender<(u64, Instant)>) {
    for _ in 0..n {
        let url = format!("{}?vsn=2.0.0", server.ws_url());
        let (mut ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("connects");
        let join = json!(["1", "1", "rooms:lobby", "phx_join", {}]).to_string();
        ws.send(Message::Text(join.into())).await.unwrap();
        let _reply = ws.next().await;
        let report = report.clone();
        tokio::spawn(async move {
            while let Some(Ok(frame)) = ws.next().await {
                if let Message::Text(text) = frame {
                    let at = Instant::now();
                    let value: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                    if let Some(round) = value[4]["round"].as_u64() {
                        let _ = report.send((round, at));
                    }
                }
            }
        });
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn show(name: &str, mut lasts: Vec<Duration>) -> Duration {
    lasts.sort();
    let (p50, p99) = (percentile(&lasts, 0.5), percentile(&lasts, 0.99));
    println!(
        "{name:<28} rounds {:>3}  last delivery p50 {:>8.2} ms  p99 {:>8.2} ms",
        lasts.len(),
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3
    );
    p50
}

#[tokio::main]
async fn main() {
    let (n, rounds) = (arg("--clients", 500), arg("--rounds", 40) as u64);
    let redis = redis::RedisServer::start();
    let (a, b) = (node(&redis, "a").await, node(&redis, "b").await);
    while a.endpoint().nodes().is_empty() || b.endpoint().nodes().is_empty() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (on_a_tx, mut on_a) = mpsc::unbounded_channel();
    let (on_b_tx, mut on_b) = mpsc::unbounded_channel();
    clients(&a, n, on_a_tx).await;
    clients(&b, n, on_b_tx).await;
    println!("{n} clients on node A, {n} on node B; {rounds} broadcasts from node A");
    let (mut local, mut cross) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let sent = Instant::now();
        a.endpoint()
            .broadcast(
                "rooms:lobby",
                "tick",
                Payload::json(&json!({"round": round})),
            )
            .unwrap();
        for (queue, lasts) in [(&mut on_a, &mut local), (&mut on_b, &mut cross)] {
            let mut last = sent;
            for _ in 0..n {
                let (r, at) = tokio::time::timeout(Duration::from_secs(10), queue.recv())
                    .await
                    .expect("every client gets every broadcast within 10 s")
                    .expect("clients live");
                assert_eq!(r, round, "broadcasts arrive in order");
                last = last.max(at);
            }
            lasts.push(last - sent);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let one = show("one node (A to A)", local);
    let two = show("across nodes (A to B)", cross);
    println!(
        "p50 ratio across/one: {:.2}",
        two.as_secs_f64() / one.as_secs_f64()
    );
}
