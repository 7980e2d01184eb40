//! [`BackgroundServer`]: the demo server on a runtime thread of its own, for sync code.

use std::io;
use std::net::SocketAddr;

use tokio::runtime::Runtime;

use crate::{RunningServer, ServerConfig, spawn_demo};

/// The demo application running on a tokio runtime of its own, so that code without a runtime
/// (a plain `fn main`, a `#[test]`, the blocking client) can start one and talk to it.
/// Dropping it shuts the server down.
///
/// ```
/// use slipstream_server::{BackgroundServer, ServerConfig};
///
/// let server = BackgroundServer::start_demo(([127, 0, 0, 1], 0).into(), ServerConfig::default())?;
/// assert!(server.ws_url().ends_with("/socket/websocket"));
/// server.stop();
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct BackgroundServer {
    runtime: Option<Runtime>,
    server: Option<RunningServer>,
}

impl BackgroundServer {
    /// Starts the demo application on `addr` (port 0 picks a free port).
    ///
    /// Panics if called from inside a tokio runtime (use [`spawn_demo`] there).
    pub fn start_demo(addr: SocketAddr, config: ServerConfig) -> io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("slipstream-demo-server")
            .enable_all()
            .build()?;
        let server = runtime.block_on(spawn_demo(addr, config))?;
        Ok(BackgroundServer {
            runtime: Some(runtime),
            server: Some(server),
        })
    }

    /// The websocket URL, e.g. `ws://127.0.0.1:4000/socket/websocket`.
    pub fn ws_url(&self) -> String {
        self.running().ws_url()
    }

    /// The running server: its address, endpoint and fault injection.
    pub fn running(&self) -> &RunningServer {
        self.server
            .as_ref()
            .expect("the server runs until stop or drop")
    }

    /// Shuts the server down gracefully and waits for it.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let (Some(runtime), Some(server)) = (self.runtime.take(), self.server.take()) {
            runtime.block_on(server.shutdown());
        }
    }
}

impl Drop for BackgroundServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl std::fmt::Debug for BackgroundServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackgroundServer")
            .field("addr", &self.server.as_ref().map(RunningServer::local_addr))
            .finish()
    }
}
