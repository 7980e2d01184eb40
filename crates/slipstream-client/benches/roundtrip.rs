//! Client round trips against the in-process demo server over loopback: one push and its reply
//! (latency), and 100 or 1,000 pushes in flight at once with every reply awaited (throughput). Both
//! sides share the machine, so the figure is the whole path: encode, websocket, server channel,
//! reply, decode, mailbox, await.

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;
use slipstream_client::{Payload, Socket};
use slipstream_server::{ServerConfig, spawn_demo};

fn roundtrip(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (server, socket) = runtime.block_on(async {
        let server = spawn_demo("127.0.0.1:0".parse().unwrap(), ServerConfig::default())
            .await
            .expect("demo server");
        let socket = Socket::builder(server.ws_url()).build().expect("socket");
        socket.connect();
        socket.await_connect(None).await.expect("connected");
        socket.join("bench:roundtrip", json!({}));
        socket
            .await_join("bench:roundtrip", None)
            .await
            .expect("joined");
        (server, socket)
    });
    let payload = Payload::json(&json!({"body": "hello there, how are you doing today?"}));
    let timeout = Some(Duration::from_secs(10));

    let mut group = c.benchmark_group("client");
    group.throughput(Throughput::Elements(1));
    group.bench_function("push_and_await_reply", |b| {
        b.to_async(&runtime).iter(|| async {
            let r = socket.push("bench:roundtrip", "ping", payload.clone());
            socket.await_reply(&r, timeout).await.expect("reply")
        })
    });
    for in_flight in [100, 1000] {
        group.throughput(Throughput::Elements(in_flight));
        group.bench_function(format!("{in_flight}_pushes_in_flight"), |b| {
            b.to_async(&runtime).iter(|| async {
                let refs: Vec<_> = (0..in_flight)
                    .map(|_| socket.push("bench:roundtrip", "ping", payload.clone()))
                    .collect();
                for r in &refs {
                    socket.await_reply(r, timeout).await.expect("reply");
                }
            })
        });
    }
    group.finish();
    runtime.block_on(server.shutdown());
}

criterion_group!(benches, roundtrip);
criterion_main!(benches);
