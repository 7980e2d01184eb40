//! The built-in scenarios, and the steps they share (connect, join, push and await its reply,
//! close) with what each step records.
//!
//! | scenario | what each user does | main metrics |
//! |---|---|---|
//! | [`connect`] | connects, joins K topics and holds them (heartbeats) until stopped | `connect`, `join` |
//! | [`ping`] | pushes an event and awaits its reply, closed loop or at `--rate` | `reply.<event>` |
//! | [`fanout`] | S senders broadcast at a rate, the other users receive | `delivery`, `messages.lost` |
//! | [`presence`] | joins and leaves a presence topic, watches the others do it | `presence.join`, `presence.leave` |
//! | [`reconnect`] | has its connection cut by the server, times the reconnect and rejoin | `reconnect`, `pushes.lost` |

pub mod connect;
pub mod fanout;
pub mod ping;
pub mod presence;
pub mod reconnect;

use std::time::Duration;

use slipstream_client::{Payload, Reply, Socket};
use tokio::time::Instant;

use crate::executor::User;
use crate::kind;

/// The built-in scenarios' names and one-line descriptions, in `--help` order.
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "connect",
        "Users connect, join --topics topics each and hold them with heartbeats (a soak): connect and join latency",
    ),
    (
        "ping",
        "Users push an event and await its reply, closed loop or at --rate per user: reply latency",
    ),
    (
        "fanout",
        "--senders users broadcast at --rate on one topic, the others receive: delivery latency and messages lost",
    ),
    (
        "presence",
        "Users join and leave a presence topic: time until the others see each join and leave",
    ),
    (
        "reconnect",
        "The server cuts each user's connection: time to reconnect and rejoin, pushes lost",
    ),
];

/// The one-line description of the built-in scenario `name` (empty for an unknown name).
pub fn about(name: &str) -> &'static str {
    BUILTIN
        .iter()
        .find(|(n, _)| *n == name)
        .map_or("", |(_, about)| about)
}

/// Where users connect and how patient they are; what every scenario shares.
#[derive(Debug, Clone)]
pub struct Target {
    /// The socket URL.
    pub url: String,
    /// How long a connect, a join, or a push's reply may take before it is an error.
    pub timeout: Duration,
    /// The socket's heartbeat interval.
    pub heartbeat: Duration,
    /// Each socket's websocket read and write buffer, in bytes ([`DEFAULT_BUFFER`]): the
    /// client's own default (128 KiB each) would cost 256 KiB per idle user.
    pub buffer: usize,
}

/// The read and write buffer of a virtual user's socket: 16 KiB each. Bigger messages still
/// arrive whole (the buffer is the read chunk, not a limit); a user costs 32 KiB of buffers
/// instead of the client's default 256 KiB, which matters at 15,000 users a process.
pub const DEFAULT_BUFFER: usize = 16 << 10;

impl Target {
    /// A target with the client's timeout and heartbeat (10 s, 30 s) and [`DEFAULT_BUFFER`].
    pub fn new(url: impl Into<String>) -> Target {
        Target {
            url: url.into(),
            timeout: slipstream_client::DEFAULT_PUSH_TIMEOUT,
            heartbeat: slipstream_client::DEFAULT_HEARTBEAT_INTERVAL,
            buffer: DEFAULT_BUFFER,
        }
    }

    /// A socket for `user` (not connected yet), with the connect param `user_id=bench-<index>`
    /// and `extra` params; `None`, with the error counted, when the client refuses the URL.
    pub fn socket(&self, user: &User, extra: &[(&str, String)]) -> Option<Socket> {
        let mut builder = Socket::builder(self.url.clone())
            .param("user_id", format!("bench-{}", user.index))
            .push_timeout(self.timeout)
            // The await outlives the push timeout, so a missing reply is a push timeout.
            .await_timeout(self.timeout + Duration::from_secs(1))
            .upgrade_timeout(self.timeout)
            .heartbeat_interval(self.heartbeat)
            .read_buffer_size(self.buffer)
            .write_buffer_size(self.buffer);
        for (key, value) in extra {
            builder = builder.param(*key, value.clone());
        }
        match builder.build() {
            Ok(socket) => Some(socket),
            Err(e) => {
                user.recorder.error("config", &e);
                None
            }
        }
    }

    /// Connects `user`: records `connect` (or the error's kind). `None` when it failed or the
    /// user was told to stop meanwhile.
    pub async fn connect(&self, user: &User, extra: &[(&str, String)]) -> Option<Socket> {
        let socket = self.socket(user, extra)?;
        let started = Instant::now();
        socket.connect();
        tokio::select! {
            result = socket.await_connect(Some(self.timeout)) => match result {
                Ok(()) => {
                    user.recorder.latency("connect", started.elapsed());
                    Some(socket)
                }
                Err(e) => {
                    user.recorder.error(&kind::connect_error(&e), &e);
                    None
                }
            },
            () = user.stopped() => None,
        }
    }

    /// Joins `topic`: records `join` (or the error's kind); whether it was joined.
    pub async fn join(&self, user: &User, socket: &Socket, topic: &str, params: Payload) -> bool {
        let started = Instant::now();
        socket.join(topic, params);
        match socket.await_join(topic, Some(self.timeout)).await {
            Ok(_) => {
                user.recorder.latency("join", started.elapsed());
                true
            }
            Err(e) => {
                user.recorder.error(&kind::join_error(&e), &e);
                false
            }
        }
    }
}

/// Records a push's outcome under `metric` (latency from `since`), or the error's kind; counts
/// `pushes`. Whether an `ok` reply came.
pub fn record_reply(
    user: &User,
    metric: &str,
    since: Instant,
    outcome: Result<Reply, slipstream_client::ReplyError>,
) -> bool {
    user.recorder.count("pushes", 1);
    match outcome {
        Ok(reply) if reply.is_ok() => {
            user.recorder.latency(metric, since.elapsed());
            true
        }
        Ok(reply) => {
            user.recorder
                .error(&kind::reply_status(&reply.status), &reply);
            false
        }
        Err(e) => {
            user.recorder.error(&kind::reply_error(&e), &e);
            false
        }
    }
}

/// Closes a user's socket and waits (briefly) for the close, so the server sees a clean
/// disconnect rather than a dropped connection.
pub async fn close(socket: Socket) {
    socket.disconnect();
    let _ = socket.await_disconnect(Some(Duration::from_secs(2))).await;
}

/// Microseconds since the Unix epoch, the clock senders stamp payloads with (comparable across
/// processes on one machine, and across machines as far as their clocks agree).
pub fn unix_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
