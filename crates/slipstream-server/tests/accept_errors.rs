//! When `accept` fails for lack of file descriptors, the server says so in a few log lines,
//! does not spin, and serves again once descriptors are free. Alone in its binary: it lowers the
//! process's open-file limit and installs the global tracing subscriber.

mod support;

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use slipstream_server::ServerConfig;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

use crate::support::{Captured, demo_with};

const FAILED: &str = "accepting a connection failed";

fn open_files() -> u64 {
    std::fs::read_dir("/proc/self/fd").map_or(0, |dir| dir.count() as u64)
}

fn set_soft_limit(soft: u64) -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        let before = limit.rlim_cur;
        limit.rlim_cur = soft.min(limit.rlim_max);
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
        before
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_out_of_descriptors_is_logged_a_few_times_and_survived() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");

    // The connection limit stays out of the way: only the descriptors run out.
    let server = demo_with(ServerConfig::default().with_max_connections(100_000)).await;
    let addr = server.local_addr();
    let original = set_soft_limit(open_files() + 40);

    // Connect until this process (client and server alike) has no descriptor left: the server's
    // accepts then fail while the kernel still completes the clients' handshakes.
    let started = Instant::now();
    let mut held = Vec::new();
    for _ in 0..200 {
        match TcpStream::connect(addr).await {
            Ok(tcp) => held.push(tcp),
            Err(_) => break,
        }
    }
    assert!(held.len() < 200, "the descriptors never ran out");
    let log = captured.until(FAILED).await;
    assert!(log.contains(FAILED), "no accept failure was logged:\n{log}");
    // Let the failures go on for a while: the log must not grow with them.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let log = log + &captured.take();
    let lines = log.lines().filter(|l| l.contains(FAILED)).count();
    let seconds = started.elapsed().as_secs() as usize;
    assert!(
        lines <= seconds + 2,
        "{lines} accept-failure lines in {seconds} s:\n{log}"
    );

    // Free the descriptors: the server serves again.
    drop(held);
    set_soft_limit(original);
    let url = format!("{}?vsn=2.0.0", server.ws_url());
    let (mut ws, _) = tokio::time::timeout(
        Duration::from_secs(20),
        tokio_tungstenite::connect_async(url),
    )
    .await
    .expect("connects in time")
    .expect("connects");
    ws.send(Message::Text(
        r#"["1","1","rooms:lobby","phx_join",{}]"#.into(),
    ))
    .await
    .expect("send");
    let reply = tokio::time::timeout(Duration::from_secs(20), ws.next())
        .await
        .expect("a reply in time")
        .expect("a frame")
        .expect("no error");
    assert!(
        reply.to_text().unwrap_or("").contains(r#""status":"ok""#),
        "{reply:?}"
    );
}
