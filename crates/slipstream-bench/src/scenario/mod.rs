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
    /// Each socket's websocket read and write buffer, in bytes ([`DEFAULT_BUFFER`]).
    pub buffer: usize,
    /// How many loopback source addresses the users are spread over (127.0.0.1, 127.0.0.2, …,
    /// by user index); 0 or 1 lets the system pick. One source address has about 28,000
    /// ephemeral ports towards one server address.
    pub source_addrs: u32,
}

/// Users per loopback source address when the spread is chosen for the user
/// ([`source_addrs_for`]), well under one address's ephemeral ports.
pub const USERS_PER_SOURCE_ADDR: u64 = 20_000;

/// How many loopback source addresses `users` sockets to `url` need: more than one only when the
/// server is on loopback (an IP of 127.0.0.0/8, `::1` or `localhost`) and the users would not fit
/// in one address's ephemeral ports.
pub fn source_addrs_for(url: &str, users: u64) -> u32 {
    let loopback = url::Url::parse(url).ok().is_some_and(|u| match u.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    });
    if !loopback || users <= USERS_PER_SOURCE_ADDR {
        return 1;
    }
    u32::try_from(users.div_ceil(USERS_PER_SOURCE_ADDR)).unwrap_or(u32::MAX)
}

/// The source address of user `index` among `spread` loopback addresses (127.0.0.1 onwards).
pub fn source_addr(index: u64, spread: u32) -> std::net::IpAddr {
    let offset = u32::try_from(index % u64::from(spread.max(1))).unwrap_or(0);
    std::net::Ipv4Addr::from(0x7F00_0001u32.saturating_add(offset).min(0x7FFF_FFFE)).into()
}

/// The read and write buffer of a virtual user's socket: the client's own default read buffer
/// (8 KiB). Bigger messages still arrive whole (the buffer is the read chunk, not a limit).
pub const DEFAULT_BUFFER: usize = slipstream_client::DEFAULT_READ_BUFFER_SIZE;

impl Target {
    /// A target with the client's timeout and heartbeat (10 s, 30 s) and [`DEFAULT_BUFFER`].
    pub fn new(url: impl Into<String>) -> Target {
        Target {
            url: url.into(),
            timeout: slipstream_client::DEFAULT_PUSH_TIMEOUT,
            heartbeat: slipstream_client::DEFAULT_HEARTBEAT_INTERVAL,
            buffer: DEFAULT_BUFFER,
            source_addrs: 1,
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
        if self.source_addrs > 1 {
            builder = builder.local_addr(source_addr(user.index, self.source_addrs));
        }
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

#[cfg(test)]
mod source_addr_tests {
    use super::*;

    #[test]
    fn only_loopback_targets_past_one_address_worth_of_users_are_spread() {
        let local = "ws://127.0.0.1:4000/socket/websocket";
        assert_eq!(source_addrs_for(local, 15_000), 1);
        assert_eq!(source_addrs_for(local, 20_001), 2);
        assert_eq!(source_addrs_for(local, 100_000), 5);
        assert_eq!(source_addrs_for("ws://localhost:4000/socket", 50_000), 3);
        assert_eq!(source_addrs_for("ws://[::1]:4000/socket", 50_000), 3);
        assert_eq!(source_addrs_for("wss://example.com/socket", 100_000), 1);
        assert_eq!(source_addrs_for("not a url", 100_000), 1);
    }

    #[test]
    fn users_take_the_addresses_in_turn() {
        let ip = |n: u64| source_addr(n, 3).to_string();
        assert_eq!(
            [ip(0), ip(1), ip(2), ip(3)],
            ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.1"]
        );
        assert_eq!(source_addr(300, 1_000).to_string(), "127.0.1.45");
    }
}
