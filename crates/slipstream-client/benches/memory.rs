//! Memory per socket before it connects: builds `SLIPSTREAM_BENCH_SOCKETS` sockets (10,000 by
//! default) on one runtime, each with its connection task, and prints the growth of the
//! process's resident memory divided by the sockets. Nothing is dialled: this is what a socket
//! costs while it waits for `connect()` (the part of issue 12's S3 that is not the websocket).

use std::time::Duration;

use slipstream_client::Socket;

/// The process's resident memory in KiB (`VmRSS` of `/proc/self/status`).
fn resident_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmRSS line")
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing: run small then.
    let benching = std::env::args().any(|a| a == "--bench");
    let sockets: usize = std::env::var("SLIPSTREAM_BENCH_SOCKETS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(if benching { 10_000 } else { 100 });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        // One socket first, so that what every process pays once (TLS roots, runtime pools) is
        // not counted per socket.
        let first = Socket::builder("ws://127.0.0.1:9/socket/websocket")
            .build()
            .expect("socket");
        tokio::time::sleep(Duration::from_millis(100)).await;
        let before = resident_kib();
        let all: Vec<Socket> = (0..sockets)
            .map(|_| {
                Socket::builder("ws://127.0.0.1:9/socket/websocket")
                    .build()
                    .expect("socket")
            })
            .collect();
        // Let every connection task start and park.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let after = resident_kib();
        let per_socket = (after.saturating_sub(before)) as f64 / sockets as f64;
        println!(
            "{sockets} sockets, not connected: {per_socket:.1} KiB each \
             (resident {before} KiB -> {after} KiB)"
        );
        drop(all);
        drop(first);
    });
}
