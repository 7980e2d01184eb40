//! Binding a [`Socket`] to an address: [`Server`] and the [`RunningServer`] handle.
//!
//! The accept loop is our own (hyper's HTTP/1 connection under it, axum's router above): it
//! bounds the time a client may take to send its request head (`handshake_timeout`), the number
//! of TCP connections open at once (`max_connections`, beyond which a client gets a 503 at once),
//! and keeps accepting after `accept` fails (EMFILE, ENFILE), with a backoff and a rate-limited
//! WARN line instead of a silent spin.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tower::ServiceExt;

use crate::accepted::{Accepted, Slot};
use crate::config::ServerConfig;
use crate::endpoint::Endpoint;
use crate::http;
use crate::shared::Shared;
use crate::socket::Socket;
use crate::ws;

/// The listen backlog `Server::bind` asks for (Phoenix's, on Bandit and Cowboy alike); the
/// kernel may cap it (`net.core.somaxconn`).
const LISTEN_BACKLOG: u32 = 1024;

/// The answer to a connection beyond `max_connections`.
const TOO_MANY_CONNECTIONS: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: text/plain\r\ncontent-length: 21\r\nretry-after: 1\r\nconnection: close\r\n\r\n\
too many connections\n";

/// How long a refused connection may take to read its 503 and close.
const REFUSAL_LINGER: Duration = Duration::from_secs(1);

/// At most this many refused connections linger at once (each holds a file descriptor).
const MAX_LINGERING_REFUSALS: usize = 16;

/// How long a stopping server lets an HTTP connection finish before dropping it.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// First and longest pause after `accept` failed for lack of resources.
const ACCEPT_BACKOFF: (Duration, Duration) = (Duration::from_millis(10), Duration::from_secs(1));

/// At most one WARN line per this long for a repeated condition.
const LOG_EVERY: Duration = Duration::from_secs(1);

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

    /// Binds `addr` (port 0 picks a free port) with a listen backlog of 1024 and starts serving
    /// in the background.
    pub async fn bind(self, addr: SocketAddr) -> io::Result<RunningServer> {
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        // As std's and tokio's `TcpListener::bind` do: a restarted server can bind at once.
        #[cfg(unix)]
        socket.set_reuseaddr(true)?;
        #[cfg(unix)]
        if self.config.reuse_port {
            socket.set_reuseport(true)?;
        }
        socket.bind(addr)?;
        let listener = socket.listen(LISTEN_BACKLOG)?;
        self.serve(listener)
    }

    /// Starts serving on an already bound listener.
    pub fn serve(self, listener: TcpListener) -> io::Result<RunningServer> {
        let local_addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(self.socket, self.config));
        crate::cluster::start(&shared)?;
        let app = http::router(shared.clone());
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let task = tokio::spawn(accept_loop(listener, app, shared.clone(), stop_rx));
        Ok(RunningServer {
            local_addr,
            endpoint: Endpoint { shared },
            stop: Some(stop_tx),
            task: Some(task),
        })
    }
}

/// A WARN line that is written at most once per [`LOG_EVERY`], counting the repeats it skipped.
#[derive(Default)]
struct RateLimited {
    last: Option<Instant>,
    suppressed: u64,
}

impl RateLimited {
    /// `Some(repeats skipped since the last line)` when a line may be written now.
    fn allow(&mut self) -> Option<u64> {
        let now = Instant::now();
        match self.last {
            Some(last) if now.duration_since(last) < LOG_EVERY => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

/// The tail of a rate-limited line: how many repeats were not logged since the last one.
fn repeats(skipped: u64, what: &str) -> String {
    if skipped == 0 {
        String::new()
    } else {
        format!(" ({skipped} more {what} since the last such line)")
    }
}

/// Errors of `accept` that concern one connection only (the next accept may succeed at once).
fn is_connection_error(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

async fn accept_loop(
    listener: TcpListener,
    app: Router,
    shared: Arc<Shared>,
    mut stop: oneshot::Receiver<()>,
) {
    let open = Arc::new(AtomicUsize::new(0));
    let lingering = Arc::new(AtomicUsize::new(0));
    let max_connections = shared.config.max_connections.max(1);
    let handshake_timeout =
        Some(shared.config.handshake_timeout).filter(|timeout| !timeout.is_zero());
    // Every HTTP connection task holds a clone; all are gone once the receiver sees `None`.
    let (alive_tx, mut alive_rx) = mpsc::channel::<()>(1);
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let mut backoff = ACCEPT_BACKOFF.0;
    let mut accept_log = RateLimited::default();
    let mut refuse_log = RateLimited::default();
    loop {
        let accepted = tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => accepted,
        };
        let (tcp, peer) = match accepted {
            Ok(accepted) => {
                backoff = ACCEPT_BACKOFF.0;
                accepted
            }
            Err(err) if is_connection_error(&err) => {
                tracing::debug!(error = %err, "a connection failed while being accepted");
                continue;
            }
            Err(err) => {
                if let Some(skipped) = accept_log.allow() {
                    tracing::warn!(
                        "accepting a connection failed: {err} (out of file descriptors?); \
                         pausing {} ms{}",
                        backoff.as_millis(),
                        repeats(skipped, "failed")
                    );
                }
                tokio::select! {
                    _ = &mut stop => break,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(ACCEPT_BACKOFF.1);
                continue;
            }
        };
        let reserved = open.fetch_add(1, Ordering::AcqRel);
        if reserved >= max_connections {
            open.fetch_sub(1, Ordering::AcqRel);
            if let Some(skipped) = refuse_log.allow() {
                tracing::warn!(
                    "connection limit reached ({max_connections} open, max_connections): \
                     refusing {peer} with 503{}",
                    repeats(skipped, "refused")
                );
            }
            refuse(tcp, &lingering);
            continue;
        }
        // Small frames go out at once: with Nagle's algorithm, replies written back to back wait
        // for the client's delayed ACK (about 40 ms per batch of pipelined pushes).
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY");
        }
        let accepted = Accepted {
            peer,
            _slot: Arc::new(Slot(open.clone())),
        };
        tokio::spawn(serve_connection(
            tcp,
            accepted,
            app.clone(),
            handshake_timeout,
            shutdown_rx.clone(),
            alive_tx.clone(),
        ));
    }
    drop(listener);
    let _ = shutdown_tx.send(true);
    drop(alive_tx);
    let _ = alive_rx.recv().await;
}

/// Answers 503 and closes. The answer is written, the write side shut, and what the client sends
/// read and dropped until it closes too (for at most [`REFUSAL_LINGER`]), so that closing does
/// not reset the connection before the client read the answer. At most
/// [`MAX_LINGERING_REFUSALS`] linger at once; beyond that the connection is closed at once.
fn refuse(tcp: TcpStream, lingering: &Arc<AtomicUsize>) {
    if lingering.fetch_add(1, Ordering::AcqRel) >= MAX_LINGERING_REFUSALS {
        lingering.fetch_sub(1, Ordering::AcqRel);
        return;
    }
    let slot = Slot(lingering.clone());
    tokio::spawn(async move {
        let mut tcp = tcp;
        let _ = tokio::time::timeout(REFUSAL_LINGER, async {
            tcp.write_all(TOO_MANY_CONNECTIONS).await?;
            tcp.shutdown().await?;
            let mut sink = [0u8; 4096];
            let mut read = 0;
            while read < 64 * 1024 {
                match tcp.read(&mut sink).await? {
                    0 => break,
                    n => read += n,
                }
            }
            Ok::<(), io::Error>(())
        })
        .await;
        drop(slot);
    });
}

/// Serves one TCP connection's HTTP requests (and hands a websocket upgrade over to
/// `connection`), until it closes, its request head is late, or the server stops.
async fn serve_connection(
    tcp: TcpStream,
    accepted: Accepted,
    app: Router,
    handshake_timeout: Option<Duration>,
    mut shutdown: watch::Receiver<bool>,
    alive: mpsc::Sender<()>,
) {
    let peer = accepted.peer;
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(accepted.clone());
        app.clone().oneshot(request)
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(handshake_timeout);
    let connection = builder
        .serve_connection(TokioIo::new(tcp), service)
        .with_upgrades();
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        _ = stopping(&mut shutdown) => {
            // Idle connections close at once, a request being answered is finished; one whose
            // request head is still arriving would wait for it, so it is dropped after a grace.
            connection.as_mut().graceful_shutdown();
            match tokio::time::timeout(SHUTDOWN_GRACE, connection).await {
                Ok(result) => result,
                Err(_) => Ok(()),
            }
        }
    };
    if let Err(err) = result {
        if err.is_timeout() {
            tracing::debug!(%peer, "closed a connection whose request head did not arrive in time");
        } else {
            tracing::debug!(%peer, error = %err, "HTTP connection ended with an error");
        }
    }
    drop(alive);
}

/// Resolves once the server stops (or its accept loop is gone).
async fn stopping(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
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

    /// The long-poll URL, e.g. `http://127.0.0.1:4000/socket/longpoll`.
    pub fn longpoll_url(&self) -> String {
        format!(
            "http://{}{}",
            self.local_addr,
            self.endpoint.shared.config.longpoll_path()
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

    /// Fault injection: websocket upgrades are read and never answered (`true`), or answered
    /// again; long-poll requests are not affected.
    pub fn set_hang_websocket_upgrades(&self, on: bool) {
        self.endpoint.set_hang_websocket_upgrades(on);
    }

    /// How many long-poll sessions are open.
    pub fn longpoll_session_count(&self) -> usize {
        self.endpoint.longpoll_session_count()
    }

    /// Fault injection: channels drop (`true`) their replies to client pushes.
    pub fn set_drop_replies(&self, on: bool) {
        self.endpoint.set_drop_replies(on);
    }

    /// Fault injection: channels wait `delay` before each reply to a client push.
    pub fn set_reply_delay(&self, delay: std::time::Duration) {
        self.endpoint.set_reply_delay(delay);
    }

    /// How many connections are open: websockets and long-poll sessions.
    pub fn connection_count(&self) -> usize {
        self.endpoint.connection_count()
    }

    /// Bytes queued for all websockets and not yet written to their sockets (see
    /// [`ServerConfig::max_outbound_bytes`]).
    pub fn outbound_queued_bytes(&self) -> usize {
        self.endpoint.outbound_queued_bytes()
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
