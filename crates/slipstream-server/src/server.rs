//! Binding a [`Socket`] to an address: [`Server`] and the [`RunningServer`] handle.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::ServerConfig;
use crate::endpoint::Endpoint;
use crate::http;
use crate::shared::Shared;
use crate::socket::Socket;
use crate::ws;

/// A socket plus settings, ready to [`bind`](Server::bind).
pub struct Server {
    socket: Socket,
    config: ServerConfig,
}

impl Server {
    /// A server for `socket` with `config`.
    pub fn new(socket: Socket, config: ServerConfig) -> Self {
        Server { socket, config }
    }

    /// Binds `addr` (port 0 picks a free port) and starts serving in the background.
    pub async fn bind(self, addr: SocketAddr) -> std::io::Result<RunningServer> {
        let listener = TcpListener::bind(addr).await?;
        self.serve(listener)
    }

    /// Starts serving on an already bound listener.
    pub fn serve(self, listener: TcpListener) -> std::io::Result<RunningServer> {
        let local_addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(self.socket, self.config));
        let app = http::router(shared.clone());
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        // Small frames go out at once: with Nagle's algorithm, replies written back to back wait
        // for the client's delayed ACK (about 40 ms per batch of pipelined pushes).
        let listener = listener.tap_io(|tcp| {
            if let Err(error) = tcp.set_nodelay(true) {
                tracing::debug!(%error, "could not set TCP_NODELAY");
            }
        });
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stop_rx.await;
            });
            if let Err(err) = serve.await {
                tracing::error!(error = %err, "server stopped with an error");
            }
        });
        Ok(RunningServer {
            local_addr,
            endpoint: Endpoint { shared },
            stop: Some(stop_tx),
            task: Some(task),
        })
    }
}

/// A server running in the background. Dropping it stops it too (closing websockets with 1012,
/// without waiting).
pub struct RunningServer {
    local_addr: SocketAddr,
    endpoint: Endpoint,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl RunningServer {
    /// The bound address (with the real port when port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The websocket URL, e.g. `ws://127.0.0.1:4000/socket/websocket`.
    pub fn ws_url(&self) -> String {
        format!(
            "ws://{}{}",
            self.local_addr,
            self.endpoint.shared.config.websocket_path()
        )
    }

    /// A handle to broadcast and disconnect from outside any channel.
    pub fn endpoint(&self) -> Endpoint {
        self.endpoint.clone()
    }

    /// Fault injection: closes every websocket with `code`.
    pub fn close_all_connections(&self, code: u16) {
        self.endpoint.close_all_connections(code);
    }

    /// Fault injection: stop (`false`) or resume (`true`) replying to heartbeats.
    pub fn set_answer_heartbeats(&self, on: bool) {
        self.endpoint.set_answer_heartbeats(on);
    }

    /// Fault injection: refuse every websocket upgrade with HTTP `status`, or accept again.
    pub fn set_refuse_connects(&self, status: Option<u16>) {
        self.endpoint.set_refuse_connects(status);
    }

    /// Fault injection: channels drop (`true`) their replies to client pushes.
    pub fn set_drop_replies(&self, on: bool) {
        self.endpoint.set_drop_replies(on);
    }

    /// Fault injection: channels wait `delay` before each reply to a client push.
    pub fn set_reply_delay(&self, delay: std::time::Duration) {
        self.endpoint.set_reply_delay(delay);
    }

    /// How many websocket connections are open.
    pub fn connection_count(&self) -> usize {
        self.endpoint.connection_count()
    }

    /// Stops accepting, closes every websocket with 1012 (service restart, as Phoenix's shutdown
    /// drain does, so clients reconnect) and waits (up to 5 s) for the listener to finish.
    pub async fn shutdown(mut self) {
        self.stop_now();
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
    }

    fn stop_now(&mut self) {
        if let Some(stop) = self.stop.take() {
            self.endpoint
                .close_all_connections(ws::CLOSE_SERVICE_RESTART);
            let _ = stop.send(());
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.stop_now();
    }
}
