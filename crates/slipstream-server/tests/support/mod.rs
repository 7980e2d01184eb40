//! What the server's test binaries share: starting the demo server, showing its logs, and a
//! websocket client (`ws`).

#![allow(dead_code)]

pub mod redis;
pub mod ws;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

/// Everything the subscriber writes.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// Takes what was written so far.
    pub fn take(&self) -> String {
        let bytes = std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()));
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Waits (up to 20 s) until the log holds `needle`; returns everything taken meanwhile.
    pub async fn until(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut log = String::new();
        loop {
            log.push_str(&self.take());
            if log.contains(needle) || Instant::now() > deadline {
                return log;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
