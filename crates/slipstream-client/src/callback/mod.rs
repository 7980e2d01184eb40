//! Callback clients: Slipstream's module-based client, as a trait.
//!
//! Implement [`Client`] — every callback has a default — and [`run`] (or [`spawn`]) it on a socket.
//! The runner connects, turns each [`SocketEvent`](crate::SocketEvent) into one callback, one at
//! a time, and keeps your state in `&mut self`. Callbacks act through their [`Context`] (join,
//! leave, push, disconnect), and other tasks reach the client through a [`ClientHandle`]
//! (`info`, `call`, `stop`), Slipstream's `handle_info`/`handle_call`.
//!
//! | callback | when | default |
//! |---|---|---|
//! | [`connect`](Client::connect) | the socket connected (also after each reconnect) | nothing |
//! | [`disconnect`](Client::disconnect) | the connection ended, a reconnect attempt failed, or a connect failed for good | [`Disconnect::default_flow`] |
//! | [`join`](Client::join) | a join succeeded (also after each automatic rejoin) | nothing |
//! | [`message`](Client::message) | a push or broadcast arrived | nothing |
//! | [`reply`](Client::reply) | a push was answered, or will not be | nothing |
//! | [`topic_close`](Client::topic_close) | a join failed, a channel crashed or was closed | nothing (see below) |
//! | [`leave`](Client::leave) | a leave completed | nothing |
//! | [`handle_info`](Client::handle_info) | [`ClientHandle::info`] | nothing |
//! | [`handle_call`](Client::handle_call) | [`ClientHandle::call`] | no answer ([`CallError::NoReply`]) |
//!
//! # Defaults, and how they differ from Slipstream's
//!
//! Slipstream's default `handle_disconnect` reconnects and its default `handle_topic_close`
//! rejoins. Here the socket itself already does both, so the defaults only let it:
//!
//! * a **lost connection** is reconnected by the socket with backoff, and joined topics are
//!   rejoined after it; the default `disconnect` continues ([`Disconnect::Lost`]), and `connect`
//!   and `join` run again when it is back;
//! * a **crashed channel** (`phx_error`) is rejoined by the socket on the rejoin schedule
//!   ([`TopicClose::Crashed`] says when);
//! * a **refused join** is retried only if the socket was built with
//!   [`retry_rejected_joins(true)`](crate::SocketBuilder::retry_rejected_joins) (then
//!   `rejoin_in` is `Some`); override `topic_close` and call [`Context::rejoin`] to retry anyway;
//! * a **channel closed by the server** (`phx_close`) is final, as in phoenix.js;
//! * unlike Slipstream, a **disconnect you requested** ([`Context::disconnect`]) is not undone:
//!   the default stops the client ([`StopReason::Disconnected`]), and so does a **connect that
//!   failed for good** ([`StopReason::ConnectFailed`]).
//!
//! When the client stops, for any reason, the runner disconnects the socket.
//!
//! # Writing a callback client
//!
//! A client that joins a room on every connect, answers `ping` broadcasts with a push, and counts
//! the answers the server acknowledged; another task asks for the count.
//!
//! ```no_run
//! use serde_json::json;
//! use slipstream_client::callback::{self, Client, Context, Flow, ReplyTo};
//! use slipstream_client::{Payload, Ref, Reply, ReplyError, Socket};
//!
//! #[derive(Default)]
//! struct Pinger {
//!     acknowledged: u64,
//! }
//!
//! impl Client for Pinger {
//!     type Info = ();
//!     type Call = ();         // "how many?"
//!     type Response = u64;
//!
//!     async fn connect(&mut self, cx: &Context<Self>) -> Flow {
//!         cx.join("rooms:lobby", json!({}));
//!         Flow::Continue
//!     }
//!
//!     async fn message(&mut self, topic: &str, event: &str, payload: &Payload, cx: &Context<Self>) -> Flow {
//!         let body = payload.to_value().ok().and_then(|v| v["body"].as_str().map(str::to_owned));
//!         if event == "broadcast_event" && body.as_deref() == Some("ping") {
//!             cx.push(topic, "broadcast", json!({"body": "pong"}));
//!         }
//!         Flow::Continue
//!     }
//!
//!     async fn reply(&mut self, _ref: &Ref, reply: Result<Reply, ReplyError>, _cx: &Context<Self>) -> Flow {
//!         if reply.is_ok_and(|r| r.is_ok()) {
//!             self.acknowledged += 1;
//!         }
//!         Flow::Continue
//!     }
//!
//!     async fn handle_call(&mut self, _call: (), reply: ReplyTo<u64>, _cx: &Context<Self>) -> Flow {
//!         reply.send(self.acknowledged);
//!         Flow::Continue
//!     }
//! }
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let socket = Socket::builder("ws://localhost:4000/socket/websocket");
//! let (handle, task) = callback::spawn(Pinger::default(), socket)?;
//! println!("acknowledged so far: {}", handle.call(()).await?);
//! handle.stop();
//! println!("stopped: {}", task.await?);
//! # Ok(()) }
//! ```
//!
//! # Testing it without a server
//!
//! With the `testkit` feature, `testkit::TestServer` plays the server in
//! memory; run the client on a socket it builds and script the server's side:
//!
//! ```
//! # use serde_json::json;
//! # use slipstream_client::callback::{self, Client, Context, Flow};
//! # use slipstream_client::Payload;
//! # #[derive(Default)] struct Pinger;
//! # impl Client for Pinger {
//! #     type Info = (); type Call = (); type Response = u64;
//! #     async fn connect(&mut self, cx: &Context<Self>) -> Flow { cx.join("rooms:lobby", json!({})); Flow::Continue }
//! #     async fn message(&mut self, topic: &str, event: &str, payload: &Payload, cx: &Context<Self>) -> Flow {
//! #         if event == "broadcast_event" { cx.push(topic, "broadcast", json!({"body": "pong"})); }
//! #         Flow::Continue
//! #     }
//! # }
//! use slipstream_client::callback::StopReason;
//! use slipstream_client::pattern;
//! use slipstream_client::testkit::TestServer;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut server = TestServer::new();
//! let (handle, task) = callback::spawn(Pinger::default(), server.builder())?;
//!
//! server.accept_connect().await?;
//! let join = server.assert_join("rooms:lobby", pattern!(_)).await?;
//! server.accept_join(&join, json!({}))?;
//!
//! server.broadcast("rooms:lobby", "broadcast_event", json!({"body": "ping"}))?;
//! let pong = server.assert_push("rooms:lobby", "broadcast", pattern!({"body": "pong"})).await?;
//! server.reply(&pong.push_ref, "ok", json!({}))?;
//!
//! // A crash: the socket rejoins by itself after the rejoin delay (1 s, in virtual time).
//! server.crash("rooms:lobby")?;
//! let rejoin = server.assert_join("rooms:lobby", pattern!(_)).await?;
//! server.accept_join(&rejoin, json!({}))?;
//!
//! handle.stop();
//! assert_eq!(task.await?, StopReason::Stopped);
//! server.assert_disconnect().await?;
//! # Ok(()) }
//! ```

mod context;
mod handle;
mod runner;

use std::fmt;
use std::future::Future;
use std::time::Duration;

use slipstream_protocol::{Payload, Ref, Reply};

use crate::error::{ConfigError, ConnectError, JoinError, ReplyError};
use crate::event::human::duration;
use crate::event::{DisconnectReason, TopicCloseReason};

pub use context::Context;
pub use handle::{CallError, ClientHandle, ReplyTo};
pub use runner::{IntoSocket, Runner, run, spawn};

/// What the runner does after a callback.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "a callback's Flow decides whether the client keeps running"]
pub enum Flow {
    /// Keep running.
    Continue,
    /// Stop the client (the runner then disconnects the socket).
    Stop(StopReason),
}

/// `continue`, or `stop: ` and the reason.
impl fmt::Display for Flow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Flow::Continue => f.write_str("continue"),
            Flow::Stop(reason) => write!(f, "stop: {reason}"),
        }
    }
}

impl Flow {
    /// Stop with [`StopReason::Requested`] and this reason text (Slipstream's `{:stop, reason, socket}`).
    pub fn stop(reason: impl Into<String>) -> Flow {
        Flow::Stop(StopReason::Requested(reason.into()))
    }
}

/// Why a callback client stopped; what [`run`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StopReason {
    /// A callback returned [`Flow::stop`] with this reason.
    Requested(String),
    /// [`ClientHandle::stop`] was called.
    Stopped,
    /// The connection was closed on request and the default `disconnect` callback ended the client.
    Disconnected,
    /// A connect failed and the socket will not retry; the default `disconnect` ended the client.
    ConnectFailed(ConnectError),
    /// The socket's connection task stopped.
    SocketClosed,
    /// The socket could not be built.
    Config(ConfigError),
}

/// e.g. `stopped`, `stopped by the client: done`, `connect failed: connection refused by …`.
impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopReason::Requested(reason) => write!(f, "stopped by the client: {reason}"),
            StopReason::Stopped => f.write_str("stopped"),
            StopReason::Disconnected => f.write_str("disconnected on request"),
            StopReason::ConnectFailed(error) => write!(f, "connect failed: {error}"),
            StopReason::SocketClosed => f.write_str("the socket's connection task has stopped"),
            StopReason::Config(error) => write!(f, "the socket could not be built: {error}"),
        }
    }
}

/// Why [`Client::disconnect`] is called.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Disconnect {
    /// The connection was lost; the socket reconnects by itself, with backoff.
    Lost(DisconnectReason),
    /// [`Context::disconnect`] (or [`Socket::disconnect`](crate::Socket::disconnect)) closed it;
    /// nothing reconnects unless the client asks.
    Requested,
    /// [`Context::reconnect`] closed it; the socket connects again at once.
    Reconnect,
    /// A connect attempt failed and the socket will not retry (the initial connect, unless
    /// `retry_on_initial_connect` is set, or a status listed in `stop_reconnecting_on_status`).
    ConnectFailed(ConnectError),
    /// A reconnect attempt failed; the socket tries again after `retry_in`. Return
    /// [`Flow::Stop`] here to give up after some number of attempts.
    RetryFailed {
        /// How many attempts have been scheduled since the connection was lost.
        attempt: u32,
        /// When the next attempt starts.
        retry_in: Duration,
        /// Why this attempt failed.
        error: ConnectError,
    },
}

/// e.g. `connection lost: heartbeat timed out`,
/// `reconnect attempt 2 failed, retrying in 2 s: connection refused by …`.
impl fmt::Display for Disconnect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Disconnect::Lost(reason) => write!(f, "connection lost: {reason}"),
            Disconnect::Requested => f.write_str("disconnected on request"),
            Disconnect::Reconnect => f.write_str("disconnected to reconnect"),
            Disconnect::ConnectFailed(error) => write!(f, "connect failed: {error}"),
            Disconnect::RetryFailed {
                attempt,
                retry_in,
                error,
            } => write!(
                f,
                "reconnect attempt {attempt} failed, retrying in {}: {error}",
                duration(*retry_in)
            ),
        }
    }
}

impl Disconnect {
    /// The default reaction: continue while the socket reconnects by itself (`Lost`,
    /// `Reconnect`, `RetryFailed`), stop otherwise ([`StopReason::Disconnected`], [`StopReason::ConnectFailed`]).
    pub fn default_flow(self) -> Flow {
        match self {
            Disconnect::Lost(_) | Disconnect::Reconnect | Disconnect::RetryFailed { .. } => {
                Flow::Continue
            }
            Disconnect::Requested => Flow::Stop(StopReason::Disconnected),
            Disconnect::ConnectFailed(error) => Flow::Stop(StopReason::ConnectFailed(error)),
        }
    }
}

/// Why [`Client::topic_close`] is called.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum TopicClose {
    /// The join failed: refused by the server ([`JoinError::Rejected`], with its payload), not
    /// answered, or cut by a disconnect. `rejoin_in` is when the socket retries, if it does.
    JoinFailed {
        /// Why.
        error: JoinError,
        /// When the socket joins again by itself, if it does.
        rejoin_in: Option<Duration>,
    },
    /// The channel crashed (`phx_error`); the socket rejoins after `rejoin_in`.
    Crashed {
        /// The `phx_error` payload.
        payload: Payload,
        /// When the socket joins again.
        rejoin_in: Duration,
    },
    /// The topic closed for good: the server closed the channel (`phx_close`), or the connection
    /// dropped with auto-rejoin off.
    Closed(TopicCloseReason),
}

/// e.g. `join failed: … ; rejoining in 1 s`, `channel crashed; rejoining in 1 s`,
/// `closed by the server`.
impl fmt::Display for TopicClose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TopicClose::JoinFailed { error, rejoin_in } => {
                write!(f, "join failed: {error}")?;
                match rejoin_in {
                    Some(delay) => write!(f, "; rejoining in {}", duration(*delay)),
                    None => Ok(()),
                }
            }
            TopicClose::Crashed { payload, rejoin_in } => {
                f.write_str("channel crashed")?;
                if payload.as_json_str().is_none_or(|json| json.trim() != "{}") {
                    write!(f, " {payload}")?;
                }
                write!(f, "; rejoining in {}", duration(*rejoin_in))
            }
            TopicClose::Closed(reason) => write!(f, "{reason}"),
        }
    }
}

/// A callback client. Every method has a default (see the [module docs](self)); implement the
/// ones you need as `async fn`. Callbacks run one at a time, in event order, and may await
/// (including the socket's `await_*`: what they take is not dispatched again).
///
/// The three associated types are the messages other tasks send through a [`ClientHandle`]:
/// use `()` (or an uninhabited enum) for those you do not use.
pub trait Client: Send + Sized + 'static {
    /// Messages for [`handle_info`](Self::handle_info).
    type Info: Send + 'static;
    /// Requests for [`handle_call`](Self::handle_call).
    type Call: Send + 'static;
    /// Answers to [`handle_call`](Self::handle_call).
    type Response: Send + 'static;

    /// The socket connected (first connect and every reconnect). Join your topics here: a topic
    /// already joined, or being rejoined by the socket, is left as it is.
    fn connect(&mut self, cx: &Context<Self>) -> impl Future<Output = Flow> + Send {
        let _ = cx;
        async { Flow::Continue }
    }

    /// The connection ended, or a connect failed for good. Default:
    /// [`Disconnect::default_flow`] (continue while the socket reconnects, stop otherwise).
    fn disconnect(
        &mut self,
        reason: Disconnect,
        cx: &Context<Self>,
    ) -> impl Future<Output = Flow> + Send {
        let _ = cx;
        async move { reason.default_flow() }
    }

    /// `topic` was joined, with the server's `response` (also after each automatic rejoin).
    fn join(
        &mut self,
        topic: &str,
        response: &Payload,
        cx: &Context<Self>,
    ) -> impl Future<Output = Flow> + Send {
        let _ = (topic, response, cx);
        async { Flow::Continue }
    }

    /// A push or broadcast arrived on `topic`.
    fn message(
        &mut self,
        topic: &str,
        event: &str,
        payload: &Payload,
        cx: &Context<Self>,
    ) -> impl Future<Output = Flow> + Send {
        let _ = (topic, event, payload, cx);
        async { Flow::Continue }
    }

    /// The outcome of the push with ref `push_ref`: the server's reply (any status), or why none
    /// will come.
    fn reply(
        &mut self,
        push_ref: &Ref,
        reply: Result<Reply, ReplyError>,
        cx: &Context<Self>,
    ) -> impl Future<Output = Flow> + Send {
        let _ = (push_ref, reply, cx);
        async { Flow::Continue }
    }

    /// `topic`'s join failed, its channel crashed, or it closed for good. Default: continue —
    /// the socket rejoins what it rejoins by itself (see the [module docs](self)).
    fn topic_close(
        &mut self,
        topic: &str,
        reason: TopicClose,
        cx: &Context<Self>,
    ) -> impl Future<Output = Flow> + Send {
        let _ = cx;
        tracing::debug!(%topic, %reason, "topic closed");
        async { Flow::Continue }
    }

    /// A leave of `topic` completed.
    fn leave(&mut self, topic: &str, cx: &Context<Self>) -> impl Future<Output = Flow> + Send {
        let _ = (topic, cx);
        async { Flow::Continue }
    }

    /// A message from [`ClientHandle::info`]. Default: ignored.
    fn handle_info(
        &mut self,
        info: Self::Info,
        cx: &Context<Self>,
    ) -> impl Future<Output = Flow> + Send {
        let _ = (info, cx);
        async { Flow::Continue }
    }

    /// A request from [`ClientHandle::call`]; answer through `reply`, now or from a later
    /// callback. Default: `reply` is dropped and the caller gets [`CallError::NoReply`].
    fn handle_call(
        &mut self,
        call: Self::Call,
        reply: ReplyTo<Self::Response>,
        cx: &Context<Self>,
    ) -> impl Future<Output = Flow> + Send {
        let _ = (call, reply, cx);
        async { Flow::Continue }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused() -> ConnectError {
        ConnectError::ConnectionRefused {
            addr: "127.0.0.1:4000".into(),
        }
    }

    #[test]
    fn stop_reasons_print_as_words() {
        assert_eq!(StopReason::Stopped.to_string(), "stopped");
        assert_eq!(
            StopReason::Requested("done".into()).to_string(),
            "stopped by the client: done"
        );
        assert_eq!(
            StopReason::Disconnected.to_string(),
            "disconnected on request"
        );
        assert_eq!(
            StopReason::ConnectFailed(refused()).to_string(),
            "connect failed: connection refused by 127.0.0.1:4000: nothing listens at that address"
        );
        assert_eq!(
            StopReason::SocketClosed.to_string(),
            "the socket's connection task has stopped"
        );
    }

    #[test]
    fn flows_print_as_words() {
        assert_eq!(Flow::Continue.to_string(), "continue");
        assert_eq!(
            Flow::stop("done").to_string(),
            "stop: stopped by the client: done"
        );
    }

    #[test]
    fn disconnects_print_as_words() {
        assert_eq!(
            Disconnect::Lost(DisconnectReason::HeartbeatTimeout).to_string(),
            "connection lost: heartbeat timed out"
        );
        assert_eq!(Disconnect::Requested.to_string(), "disconnected on request");
        assert_eq!(
            Disconnect::Reconnect.to_string(),
            "disconnected to reconnect"
        );
        assert_eq!(
            Disconnect::RetryFailed {
                attempt: 2,
                retry_in: Duration::from_millis(2_000),
                error: refused(),
            }
            .to_string(),
            "reconnect attempt 2 failed, retrying in 2 s: connection refused by 127.0.0.1:4000: \
             nothing listens at that address"
        );
    }

    #[test]
    fn topic_closes_print_as_words() {
        assert_eq!(
            TopicClose::JoinFailed {
                error: JoinError::NoReply,
                rejoin_in: Some(Duration::from_secs(5)),
            }
            .to_string(),
            "join failed: the server did not answer the join in time; rejoining in 5 s"
        );
        assert_eq!(
            TopicClose::Crashed {
                payload: Payload::empty(),
                rejoin_in: Duration::from_secs(1),
            }
            .to_string(),
            "channel crashed; rejoining in 1 s"
        );
        assert_eq!(
            TopicClose::Crashed {
                payload: Payload::json(&serde_json::json!({"reason": "channel_crash"})),
                rejoin_in: Duration::from_millis(50),
            }
            .to_string(),
            r#"channel crashed {"reason":"channel_crash"}; rejoining in 50 ms"#
        );
        assert_eq!(
            TopicClose::Closed(TopicCloseReason::ClosedByServer(Payload::empty())).to_string(),
            "closed by the server"
        );
    }
}
