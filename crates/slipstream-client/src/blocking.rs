//! A blocking API over the async client, for scripts, tests and a plain `fn main`.
//!
//! Every call of Slipstream's scripting guide has a twin here: [`connect`] → [`Socket::await_connect`],
//! [`Socket::join`] → [`Socket::await_join`], [`Socket::push`] (returns the ref) →
//! [`Socket::await_reply`], [`await_message!`](crate::await_message) for server pushes,
//! [`Socket::leave`] → [`Socket::await_leave`], [`Socket::disconnect`] →
//! [`Socket::await_disconnect`], and [`Socket::flush`] for IEx's `flush`.
//!
//! As in reqwest's `blocking` module, each socket owns a small tokio runtime on a background
//! thread that runs the connection task; the calls here send it requests and wait, each with a
//! deadline (the socket's await timeout, 5 s unless configured). Calling them from inside an async
//! runtime would stall that runtime's thread, so they panic there with a message saying so.
//!
//! ```no_run
//! use slipstream_client::{await_message, blocking};
//! use serde_json::json;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let socket = blocking::connect("ws://localhost:4000/socket/websocket")?;
//! socket.await_connect()?;
//! socket.join("rooms:lobby", json!({"fizz": "buzz"}));
//! socket.await_join("rooms:lobby")?;
//! let reply = socket.await_reply(&socket.push("rooms:lobby", "ping", json!({})))?;
//! assert_eq!(reply.status, "ok");
//! socket.push("rooms:lobby", "push to me", json!({}));
//! let message = await_message!(socket, "rooms:lobby", "foo", {"bar": "baz"})?;
//! assert_eq!(message.event, "foo");
//! socket.leave("rooms:lobby");
//! socket.await_leave("rooms:lobby")?;
//! socket.disconnect();
//! socket.await_disconnect()?;
//! # Ok(()) }
//! ```

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::runtime::Runtime;

use crate::{
    AwaitError, ChannelMessage, ConfigError, ConnectError, DisconnectReason, JoinError, JoinStatus,
    LeaveError, MessagePattern, Payload, Ref, Reply, ReplyError, SocketBuilder, SocketEvent,
};

/// Builds a socket for `url` with the default configuration and asks it to connect, like
/// Slipstream's `connect!`. Wait for the connection with [`Socket::await_connect`].
pub fn connect(url: impl Into<String>) -> Result<Socket, ConfigError> {
    let socket = Socket::new(url)?;
    socket.connect();
    Ok(socket)
}

/// A blocking handle to one Phoenix socket. Clones share the connection.
#[derive(Clone)]
pub struct Socket {
    inner: crate::Socket,
    core: Arc<Core>,
    timeout: Option<Duration>,
}

/// Owns the runtime thread; the last handle to go closes the connection politely, then the runtime.
struct Core {
    runtime: Option<Runtime>,
    socket: crate::Socket,
}

impl Drop for Core {
    fn drop(&mut self) {
        let Some(runtime) = self.runtime.take() else {
            return;
        };
        if self.socket.is_connected() {
            self.socket.disconnect();
            let socket = self.socket.clone();
            // Give the close frame a moment to go out; never hang on it.
            let _ = runtime.block_on(async move {
                tokio::time::timeout(
                    Duration::from_secs(1),
                    socket.await_disconnect(Some(Duration::from_secs(1))),
                )
                .await
            });
        }
        runtime.shutdown_background();
    }
}

impl Socket {
    /// Builds a socket for `url` with the default configuration, without connecting.
    pub fn new(url: impl Into<String>) -> Result<Self, ConfigError> {
        Self::from_builder(crate::Socket::builder(url))
    }

    /// Builds a socket from an async [`SocketBuilder`], so every option of the async client is
    /// available here too.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use slipstream_client::{blocking, Socket};
    /// # fn main() -> Result<(), slipstream_client::ConfigError> {
    /// let builder = Socket::builder("ws://localhost:4000/socket").await_timeout(Duration::from_secs(2));
    /// let socket = blocking::Socket::from_builder(builder)?;
    /// # Ok(()) }
    /// ```
    pub fn from_builder(builder: SocketBuilder) -> Result<Self, ConfigError> {
        forbid_async_context("Socket::from_builder");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("slipstream-blocking")
            .enable_all()
            .build()
            .map_err(|e| ConfigError::Runtime(e.to_string()))?;
        let inner = {
            let _entered = runtime.enter();
            builder.build()?
        };
        let core = Arc::new(Core {
            runtime: Some(runtime),
            socket: inner.clone(),
        });
        Ok(Socket {
            inner,
            core,
            timeout: None,
        })
    }

    /// A handle to the same socket whose `await_*` calls wait at most `timeout`.
    pub fn with_timeout(&self, timeout: Duration) -> Self {
        Socket {
            timeout: Some(timeout),
            ..self.clone()
        }
    }

    /// The async socket underneath, for use from async code.
    pub fn as_async(&self) -> &crate::Socket {
        &self.inner
    }

    /// Asks the socket to connect; returns at once.
    pub fn connect(&self) {
        self.inner.connect();
    }

    /// Waits until the socket is connected, or the connection attempt failed.
    pub fn await_connect(&self) -> Result<(), ConnectError> {
        self.block_on("await_connect", self.inner.await_connect(self.timeout))
    }

    /// Asks to join `topic` with `params`; returns at once.
    pub fn join(&self, topic: &str, params: impl Into<Payload>) {
        self.inner.join(topic, params);
    }

    /// Waits for the answer to the join of `topic`: the server's response, or why it failed.
    /// [`JoinError::NotRequested`] at once when no join of `topic` was asked for (see
    /// [`crate::Socket::await_join`]).
    pub fn await_join(&self, topic: &str) -> Result<Payload, JoinError> {
        self.block_on("await_join", self.inner.await_join(topic, self.timeout))
    }

    /// Pushes `event` with `payload` to `topic` and returns the push's ref (the guide's `"2"`).
    pub fn push(&self, topic: &str, event: &str, payload: impl Into<Payload>) -> Ref {
        self.inner.push(topic, event, payload)
    }

    /// Pushes without wanting a reply: see
    /// [`Socket::push_no_reply`](crate::Socket::push_no_reply).
    pub fn push_no_reply(&self, topic: &str, event: &str, payload: impl Into<Payload>) -> Ref {
        self.inner.push_no_reply(topic, event, payload)
    }

    /// Like [`push`](Self::push), with this push's own reply timeout.
    pub fn push_with_timeout(
        &self,
        topic: &str,
        event: &str,
        payload: impl Into<Payload>,
        timeout: Duration,
    ) -> Ref {
        self.inner.push_with_timeout(topic, event, payload, timeout)
    }

    /// Waits for the reply to the push with `push_ref`.
    pub fn await_reply(&self, push_ref: &Ref) -> Result<Reply, ReplyError> {
        self.block_on(
            "await_reply",
            self.inner.await_reply(push_ref, self.timeout),
        )
    }

    /// Waits for the first message that matches `pattern`, removing only that one from the mailbox.
    /// [`await_message!`](crate::await_message) builds the pattern from a literal. A pattern naming
    /// one topic that is not joined (nor joining), with no matching message queued, is
    /// [`AwaitError::NotJoined`] at once (see [`crate::Socket::await_message`]).
    pub fn await_message(&self, pattern: &MessagePattern) -> Result<ChannelMessage, AwaitError> {
        self.block_on(
            "await_message",
            self.inner.await_message(pattern, self.timeout),
        )
    }

    /// Asks to leave `topic`; returns at once.
    pub fn leave(&self, topic: &str) {
        self.inner.leave(topic);
    }

    /// Waits until `topic` has been left. [`LeaveError::NotJoined`] at once when there is nothing
    /// to leave (see [`crate::Socket::await_leave`]).
    pub fn await_leave(&self, topic: &str) -> Result<(), LeaveError> {
        self.block_on("await_leave", self.inner.await_leave(topic, self.timeout))
    }

    /// Asks the socket to disconnect; returns at once.
    pub fn disconnect(&self) {
        self.inner.disconnect();
    }

    /// Waits until the socket is disconnected, and says why it was.
    pub fn await_disconnect(&self) -> Result<DisconnectReason, AwaitError> {
        self.block_on(
            "await_disconnect",
            self.inner.await_disconnect(self.timeout),
        )
    }

    /// Drops the connection and connects again.
    pub fn reconnect(&self) {
        self.inner.reconnect();
    }

    /// Joins `topic` again with the params of its last join.
    pub fn rejoin(&self, topic: &str) {
        self.inner.rejoin(topic);
    }

    /// Whether the socket is connected now.
    pub fn is_connected(&self) -> bool {
        self.inner.is_connected()
    }

    /// The transport of the current connection, `None` when not connected (see
    /// [`crate::Socket::transport`]).
    ///
    /// ```no_run
    /// use slipstream_client::{blocking, Socket, Transport};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let socket = blocking::Socket::from_builder(
    ///     Socket::builder("ws://localhost:4000/socket").transport(Transport::LongPoll),
    /// )?;
    /// socket.connect();
    /// socket.await_connect()?;
    /// assert_eq!(socket.transport(), Some(Transport::LongPoll));
    /// # Ok(()) }
    /// ```
    pub fn transport(&self) -> Option<crate::Transport> {
        self.inner.transport()
    }

    /// Whether `topic` is joined now.
    pub fn is_joined(&self, topic: &str) -> bool {
        self.inner.is_joined(topic)
    }

    /// Where the join of `topic` stands.
    pub fn join_status(&self, topic: &str) -> JoinStatus {
        self.inner.join_status(topic)
    }

    /// Takes every event out of the mailbox, oldest first (IEx's `flush`).
    pub fn flush(&self) -> Vec<SocketEvent> {
        self.inner.flush()
    }

    /// A receiver of a copy of every event that arrives from now on, without taking anything from
    /// the mailbox; see [`crate::Socket::observe`]. Read it with `blocking_recv` or `try_recv`.
    pub fn observe(&self) -> tokio::sync::broadcast::Receiver<SocketEvent> {
        self.inner.observe()
    }

    /// Waits for the next event of any kind and takes it out of the mailbox.
    pub fn next_event(&self) -> Result<SocketEvent, AwaitError> {
        self.block_on("next_event", self.inner.next_event(self.timeout))
    }

    fn block_on<F: Future>(&self, operation: &str, future: F) -> F::Output {
        forbid_async_context(operation);
        let runtime = self
            .core
            .runtime
            .as_ref()
            .expect("the runtime lives as long as any handle");
        runtime.block_on(future)
    }
}

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("blocking::Socket")
            .field("connected", &self.is_connected())
            .field("timeout", &self.timeout)
            .finish()
    }
}

fn forbid_async_context(operation: &str) {
    if tokio::runtime::Handle::try_current().is_ok() {
        panic!(
            "slipstream_client::blocking::{operation} was called inside an async runtime, where \
             blocking would stall the runtime's thread; use the async slipstream_client::Socket \
             there, or call this from a thread of its own (std::thread::spawn)"
        );
    }
}
