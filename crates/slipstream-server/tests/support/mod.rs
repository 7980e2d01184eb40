//! What the server's test binaries share: starting the demo server and showing its logs.

#![allow(dead_code)]

use std::net::SocketAddr;

use slipstream_server::{RunningServer, ServerConfig, spawn_demo};

/// 127.0.0.1 with a port the system picks.
pub fn any_port() -> SocketAddr {
    "127.0.0.1:0".parse().expect("address")
}

/// The demo server on a free loopback port.
pub async fn demo_with(config: ServerConfig) -> RunningServer {
    spawn_demo(any_port(), config)
        .await
        .expect("demo server starts")
}

/// Server logs on the test's output when `RUST_LOG` asks for them.
pub fn logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}
