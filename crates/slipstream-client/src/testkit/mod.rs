//! A test kit that plays the **server's** role in memory, to unit-test callback clients and
//! scripts without a network (Slipstream's `SocketTest`, the mirror image of Phoenix's
//! `ChannelTest`). Enabled by the `testkit` cargo feature.
//!
//! A [`TestServer`] hands out sockets ([`TestServer::builder`], [`TestServer::socket`]) whose
//! connection task runs the real client code — refs, heartbeats, joins, rejoins, reconnects — over
//! an in-memory connection instead of TCP. The test then drives the conversation:
//!
//! | the client… | the test |
//! |---|---|
//! | connects | [`accept_connect`](TestServer::accept_connect), [`refuse_connect`](TestServer::refuse_connect) (an HTTP status), [`refute_connect`](TestServer::refute_connect) |
//! | joins | [`assert_join`](TestServer::assert_join), then [`accept_join`](TestServer::accept_join) or [`refuse_join`](TestServer::refuse_join); [`refute_join`](TestServer::refute_join) |
//! | pushes | [`assert_push`](TestServer::assert_push) / [`assert_push_matching`](TestServer::assert_push_matching), then [`reply`](TestServer::reply); [`refute_push`](TestServer::refute_push) |
//! | leaves | [`assert_leave`](TestServer::assert_leave) (answers it); [`refute_leave`](TestServer::refute_leave) |
//! | disconnects | [`assert_disconnect`](TestServer::assert_disconnect), [`refute_disconnect`](TestServer::refute_disconnect) |
//!
//! and acts as the server: [`push`](TestServer::push) and [`broadcast`](TestServer::broadcast)
//! to a topic, [`crash`](TestServer::crash) a channel (`phx_error`), [`close_topic`](TestServer::close_topic)
//! (`phx_close`), [`drop_connection`](TestServer::drop_connection) (a transport failure),
//! [`close_connection`](TestServer::close_connection) (a close frame), and
//! [`stop_heartbeats`](TestServer::stop_heartbeats) (a heartbeat timeout follows).
//!
//! Assertions are *selective receives*: each takes the first frame it matches and leaves the others
//! for later assertions, in order. Payload patterns are the library's [`Pattern`](crate::Pattern)s (partial object
//! match, `_` wildcards; see [`pattern!`](macro@crate::pattern)). Each assertion waits up to the
//! server's timeout (5 s, see [`set_timeout`](TestServer::set_timeout)); each `refute_*` waits
//! the time it is given. Failures are [`TestKitError`]s that say what was expected and what came
//! instead.
//!
//! # Determinism and heartbeats
//!
//! Nothing here opens a socket, spawns a task or sleeps: frames move through in-memory queues,
//! and waits are tokio timeouts. Under `#[tokio::test(start_paused = true)]` every wait is in
//! virtual time, so a test that waits for a 1 s rejoin or a 30 s heartbeat runs instantly.
//! **Heartbeats are answered by the connection itself**, at the moment the client writes them,
//! so the client's heartbeat timer never fires a timeout however far time advances — until the
//! test calls [`stop_heartbeats`](TestServer::stop_heartbeats). The sockets the server builds use
//! the library's default backoff schedules *without jitter*, so reconnects and rejoins happen at
//! exact times.
//!
//! # Example: testing a script
//!
//! ```
//! use serde_json::json;
//! use slipstream_client::pattern;
//! use slipstream_client::testkit::TestServer;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut server = TestServer::new();
//! let socket = server.socket()?;
//!
//! socket.connect();
//! server.accept_connect().await?;
//! socket.await_connect(None).await?;
//!
//! socket.join("rooms:lobby", json!({"user": "ana"}));
//! let join = server.assert_join("rooms:lobby", pattern!({"user": "ana"})).await?;
//! server.accept_join(&join, json!({}))?;
//! socket.await_join("rooms:lobby", None).await?;
//!
//! let push_ref = socket.push("rooms:lobby", "ping", json!({"n": 1}));
//! let push = server.assert_push("rooms:lobby", "ping", pattern!({"n": _})).await?;
//! assert_eq!(push.push_ref, push_ref);
//! server.reply(&push.push_ref, "ok", json!({"pong": "pong"}))?;
//! assert_eq!(socket.await_reply(&push_ref, None).await?.status, "ok");
//! # Ok(()) }
//! ```

mod assertions;
mod channel_ops;
mod connect;
mod connection;
mod error;
mod frames;
mod transport;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use slipstream_protocol::{Payload, Ref, Serializer};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::backoff::Backoff;
use crate::config::SocketBuilder;
use crate::error::{ConfigError, ConnectError};
use crate::socket::Socket;
use connect::Attempt;
use connection::Connection;
use frames::Inbox;
use transport::Heartbeats;

pub use connect::ConnectRequest;
pub use error::TestKitError;

/// How long an assertion waits unless told otherwise.
pub const DEFAULT_ASSERT_TIMEOUT: Duration = Duration::from_secs(5);

/// The URL test sockets are built for (never dialled).
pub const TEST_URL: &str = "ws://testkit.invalid/socket";

/// A join the client sent, taken by [`TestServer::assert_join`].
#[derive(Debug, Clone, PartialEq)]
pub struct JoinRequest {
    /// The topic.
    pub topic: String,
    /// The join params.
    pub params: Payload,
    /// The join's ref (which is also its join_ref).
    pub join_ref: Ref,
}

/// A push the client sent, taken by [`TestServer::assert_push`].
#[derive(Debug, Clone, PartialEq)]
pub struct PushRequest {
    /// The topic.
    pub topic: String,
    /// The event name.
    pub event: String,
    /// The payload.
    pub payload: Payload,
    /// The push's ref: answer it with [`TestServer::reply`].
    pub push_ref: Ref,
    /// The join_ref the push carried.
    pub join_ref: Option<Ref>,
}

/// How the client ended a connection, as seen by [`TestServer::assert_disconnect`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientClose {
    /// The close frame's code; `None` when the client dropped the connection without one.
    pub code: Option<u16>,
    /// The close frame's reason text.
    pub reason: String,
}

/// `join of rooms:lobby {"user":"ana"} (ref 1)`.
impl std::fmt::Display for JoinRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "join of {} {} (ref {})",
            self.topic, self.params, self.join_ref
        )
    }
}

/// `push rooms:lobby ping {} (ref 2)`.
impl std::fmt::Display for PushRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "push {} {} {} (ref {})",
            self.topic, self.event, self.payload, self.push_ref
        )
    }
}

/// `closed with 1000 (normal closure)`, or `dropped without a close frame`.
impl std::fmt::Display for ClientClose {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.code {
            None if self.reason.is_empty() => f.write_str("dropped without a close frame"),
            None => write!(f, "closed without a code: {:?}", self.reason),
            Some(code) => {
                write!(f, "closed with {code}")?;
                if let Some(name) = crate::event::human::close_code_name(code) {
                    write!(f, " ({name})")?;
                }
                if !self.reason.is_empty() {
                    write!(f, ": {:?}", self.reason)?;
                }
                Ok(())
            }
        }
    }
}

/// Plays the server for the sockets it builds. See the [module docs](self).
#[derive(Debug)]
pub struct TestServer {
    attempts_tx: mpsc::UnboundedSender<Attempt>,
    attempts: mpsc::UnboundedReceiver<Attempt>,
    heartbeats: Arc<Heartbeats>,
    conn: Option<Connection>,
    timeout: Duration,
}

impl std::fmt::Debug for Attempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attempt")
            .field("url", &self.url.as_str())
            .finish()
    }
}

impl Default for TestServer {
    fn default() -> Self {
        Self::new()
    }
}

impl TestServer {
    /// A server with no connection yet, answering heartbeats.
    pub fn new() -> Self {
        let (attempts_tx, attempts) = mpsc::unbounded_channel();
        TestServer {
            attempts_tx,
            attempts,
            heartbeats: Arc::new(Heartbeats::default()),
            conn: None,
            timeout: DEFAULT_ASSERT_TIMEOUT,
        }
    }

    /// A builder for a socket that connects to this server (URL [`TEST_URL`], the default
    /// settings, backoff without jitter). Adjust it as for a real socket; build it inside a
    /// tokio runtime.
    pub fn builder(&self) -> SocketBuilder {
        Socket::builder(TEST_URL)
            .reconnect_after(Backoff::default_reconnect().without_jitter())
            .rejoin_after(Backoff::default_rejoin().without_jitter())
            .connector(connect::connector(self.attempts_tx.clone()))
    }

    /// `builder().build()`: a socket for this server, not connected yet.
    pub fn socket(&self) -> Result<Socket, ConfigError> {
        self.builder().build()
    }

    /// Sets how long assertions wait (default [`DEFAULT_ASSERT_TIMEOUT`]).
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Stops answering heartbeats, on this connection and later ones: the client declares a
    /// heartbeat timeout one heartbeat interval after its next heartbeat, closes the connection
    /// and reconnects.
    pub fn stop_heartbeats(&self) {
        self.heartbeats.answer.store(false, Ordering::Relaxed);
    }

    /// Answers heartbeats again (the default).
    pub fn answer_heartbeats(&self) {
        self.heartbeats.answer.store(true, Ordering::Relaxed);
    }

    /// How many heartbeats the clients sent so far, answered or not.
    pub fn heartbeats(&self) -> u64 {
        self.heartbeats.seen.load(Ordering::Relaxed)
    }

    fn deadline(&self) -> Instant {
        Instant::now() + self.timeout
    }

    /// The next connect attempt whose client still waits for an answer.
    async fn next_attempt(
        &mut self,
        deadline: Instant,
        waited: Duration,
    ) -> Result<Attempt, TestKitError> {
        loop {
            match tokio::time::timeout_at(deadline, self.attempts.recv()).await {
                // Skip attempts the client gave up on (its upgrade timeout ran out).
                Ok(Some(attempt)) if attempt.answer.is_closed() => continue,
                Ok(Some(attempt)) => return Ok(attempt),
                // The server holds a sender itself, so the channel never closes.
                Ok(None) | Err(_) => return Err(TestKitError::NoConnectAttempt { waited }),
            }
        }
    }

    /// Waits for the client's next connect attempt and accepts it: the client sees `Connected`.
    /// Replaces the current connection, if any.
    pub async fn accept_connect(&mut self) -> Result<ConnectRequest, TestKitError> {
        loop {
            let attempt = self.next_attempt(self.deadline(), self.timeout).await?;
            let request = ConnectRequest::new(&attempt.url);
            let vsn = request.param("vsn").map(str::to_owned);
            let serializer = Serializer::negotiate(vsn.as_deref()).unwrap_or_default();
            let (client, to_client, inbox) = transport::pair(serializer, self.heartbeats.clone());
            if attempt.answer.send(Ok(Box::new(client))).is_err() {
                continue;
            }
            tracing::debug!(url = %request.url, "test server: connection accepted");
            self.conn = Some(Connection::new(to_client, Inbox::new(inbox), serializer));
            return Ok(request);
        }
    }

    /// Waits for the client's next connect attempt and refuses the upgrade with HTTP `status`
    /// (the client sees [`ConnectError::Refused`]).
    pub async fn refuse_connect(&mut self, status: u16) -> Result<ConnectRequest, TestKitError> {
        let attempt = self.next_attempt(self.deadline(), self.timeout).await?;
        let request = ConnectRequest::new(&attempt.url);
        // The client may have given up meanwhile; then there is nobody to tell.
        let _ = attempt.answer.send(Err(ConnectError::Refused {
            status,
            headers: Vec::new(),
            body: None,
            path: attempt.url.path().to_owned(),
        }));
        Ok(request)
    }

    /// Fails if the client tries to connect within `within`.
    pub async fn refute_connect(&mut self, within: Duration) -> Result<(), TestKitError> {
        match self.next_attempt(Instant::now() + within, within).await {
            Ok(attempt) => Err(TestKitError::UnexpectedConnect {
                url: attempt.url.to_string(),
            }),
            Err(_) => Ok(()),
        }
    }

    /// Ends the connection without a close frame, as a network failure would; the client
    /// reports a transport error and reconnects.
    pub fn drop_connection(&mut self) -> Result<(), TestKitError> {
        let conn = self.conn.as_mut().ok_or(TestKitError::NotConnected)?;
        conn.drop_transport();
        Ok(())
    }

    /// Closes the connection with a close frame (`code`, `reason`), as a server shutting down
    /// (1012) or an idle timeout (1000) does.
    pub fn close_connection(&mut self, code: u16, reason: &str) -> Result<(), TestKitError> {
        self.conn
            .as_mut()
            .ok_or(TestKitError::NotConnected)?
            .close(code, reason)
    }

    fn conn(&mut self) -> Result<&mut Connection, TestKitError> {
        self.conn.as_mut().ok_or(TestKitError::NotConnected)
    }
}

#[cfg(test)]
mod display_tests {
    use super::*;

    #[test]
    fn requests_and_closes_print_as_words() {
        let join = JoinRequest {
            topic: "rooms:lobby".into(),
            params: Payload::json(&serde_json::json!({"user": "ana"})),
            join_ref: "1".into(),
        };
        assert_eq!(
            join.to_string(),
            r#"join of rooms:lobby {"user":"ana"} (ref 1)"#
        );
        let push = PushRequest {
            topic: "rooms:lobby".into(),
            event: "ping".into(),
            payload: Payload::empty(),
            push_ref: "2".into(),
            join_ref: Some("1".into()),
        };
        assert_eq!(push.to_string(), "push rooms:lobby ping {} (ref 2)");
        let close = |code, reason: &str| ClientClose {
            code,
            reason: reason.into(),
        };
        assert_eq!(
            close(Some(1000), "").to_string(),
            "closed with 1000 (normal closure)"
        );
        assert_eq!(
            close(Some(1000), "heartbeat timeout").to_string(),
            r#"closed with 1000 (normal closure): "heartbeat timeout""#
        );
        assert_eq!(close(None, "").to_string(), "dropped without a close frame");
    }
}
