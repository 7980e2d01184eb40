//! [`SocketBuilder`]: every connection setting, with phoenix.js's defaults.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use slipstream_protocol::Serializer;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::actor::Connector;
use crate::backoff::Backoff;
use crate::error::ConfigError;
use crate::socket::Socket;
use crate::transport::Transport;

type ParamsFn = Arc<dyn Fn() -> Vec<(String, String)> + Send + Sync>;
type TokenFn = Arc<dyn Fn() -> String + Send + Sync>;

/// Default heartbeat interval (phoenix.js).
pub const DEFAULT_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(30);
/// Default timeout of the `await_*` methods (Slipstream's `@default_timeout`).
pub const DEFAULT_AWAIT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default time a join, push or leave waits for the server's reply (phoenix.js).
pub const DEFAULT_PUSH_TIMEOUT: Duration = Duration::from_secs(10);
/// Default limit for DNS + TCP + TLS + websocket upgrade (Slipstream's `upgrade_timeout_msec`).
pub const DEFAULT_UPGRADE_TIMEOUT: Duration = Duration::from_secs(10);
/// Default mailbox capacity: how many unconsumed server pushes a socket keeps (replies and
/// lifecycle events are never dropped and do not count; see [`SocketBuilder::mailbox_capacity`]).
pub const DEFAULT_MAILBOX_CAPACITY: usize = 10_000;
/// Default bound of a connection's outbound queue, in bytes of encoded frames not yet taken by
/// the websocket (see [`SocketBuilder::outbound_queue_limit`]).
pub const DEFAULT_OUTBOUND_QUEUE_LIMIT: usize = 8 << 20;
/// Default largest message accepted from the server, in bytes (tungstenite's default).
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 64 << 20;
/// Default largest websocket frame accepted from the server, in bytes (tungstenite's default).
pub const DEFAULT_MAX_FRAME_SIZE: usize = 16 << 20;
/// Default websocket read buffer, in bytes: what a connection holds while idle and reads per
/// system call (a larger frame grows the buffer to its size while it is read). tungstenite's own
/// default, 128 KiB, made an idle socket cost 15 times as much and zero-filled 128 KiB per read.
pub const DEFAULT_READ_BUFFER_SIZE: usize = 8 << 10;
/// Default websocket write buffer, in bytes (tungstenite's default): frames are gathered up to
/// this size before they are written, and a flush writes them all.
pub const DEFAULT_WRITE_BUFFER_SIZE: usize = 128 << 10;
/// Default time a long-poll request may take before the connection counts as lost
/// (phoenix.js's `longpollerTimeout`; Phoenix answers an idle poll after 10 s).
pub const DEFAULT_LONG_POLL_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a connection must stay up to count as healthy when no heartbeat ack proved it first;
/// only a healthy connection restarts the reconnect schedule.
pub const HEALTHY_CONNECTION_UPTIME: Duration = Duration::from_secs(10);

/// Builds a [`Socket`]. Obtain one with [`Socket::builder`].
///
/// | setting | default |
/// |---|---|
/// | URL | `http(s)` → `ws(s)`; a mount (`/socket`) gets `/websocket` appended |
/// | serializer | [`Serializer::V2`] (`vsn=2.0.0` added to the query); a `vsn` in the URL selects it |
/// | heartbeat | every 30 s, ack within one interval or the connection is dropped; `ZERO` disables |
/// | reconnect | 10, 50, 100, 150, 200, 250, 500, 1000, 2000 ms, then 5 s, with jitter; restarts once a connection is healthy (below) |
/// | rejoin | 1, 2, 5 s, then 10 s, with jitter |
/// | await timeout | 5 s |
/// | push / join / leave timeout | 10 s |
/// | upgrade timeout | 10 s |
/// | mailbox | 10 000 server pushes; further pushes are dropped, counted and logged once per burst; replies and lifecycle events are never dropped |
/// | outbound queue | 8 MiB of frames waiting for the link; a push beyond is refused |
/// | incoming message / frame | at most 64 MiB / 16 MiB |
/// | websocket read / write buffers | 128 KiB each |
/// | TLS | rustls with the webpki root certificates |
/// | transport | websocket, no fallback (see [`transport`](Self::transport), [`long_poll_fallback`](Self::long_poll_fallback)) |
/// | long-poll request timeout | 20 s |
/// | auto-rejoin after reconnect | on |
/// | retry the initial connect | off (a script wants a fast failure) |
/// | retry rejected joins | off (the rejection is reported) |
/// | stop reconnecting on HTTP status | none (every refusal is retried) |
///
/// **Reconnect schedule.** Each failed attempt and each connection that dies young moves one
/// step along the [`reconnect_after`](Self::reconnect_after) schedule. The schedule restarts at
/// its first step only once a connection has proven healthy: it received its first heartbeat ack,
/// or it stayed up for [`HEALTHY_CONNECTION_UPTIME`] (10 s). A successful upgrade alone does not
/// count, so a server that accepts and closes at once (a crash loop, a frame it cannot read) is
/// retried at the schedule's pace, not as fast as it accepts. A join reply does not count either
/// (a channel that takes the connection down right after its join would otherwise be a storm). A
/// `disconnect()` or `reconnect()` restarts the schedule.
///
/// **Memory.** Everything a socket buffers is bounded: the mailbox, the observers' channel, the
/// websocket's read buffer and largest incoming message and frame, its write buffer, the
/// outbound queue (bytes) and the params kept for rejoining closed topics. Pending requests end
/// with their timeouts.
///
/// ```
/// use std::time::Duration;
/// use slipstream_client::{Backoff, Serializer, Socket};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let socket = Socket::builder("http://localhost:4000/socket")
///     .param("token", "abc")
///     .params_fn(|| vec![("nonce".into(), "42".into())])
///     .header("x-app", "demo")
///     .serializer(Serializer::V2)
///     .heartbeat_interval(Duration::from_secs(20))
///     .reconnect_after(Backoff::steps([100, 500], 2000))
///     .await_timeout(Duration::from_secs(2))
///     .build()
///     .unwrap();
/// assert_eq!(socket.url(), "ws://localhost:4000/socket/websocket");
/// # }
/// ```
#[derive(Clone)]
#[must_use = "a builder does nothing until .build()"]
pub struct SocketBuilder {
    url: String,
    normalize_path: bool,
    params: Vec<(String, String)>,
    params_fn: Option<ParamsFn>,
    headers: Vec<(String, String)>,
    auth_token: Option<TokenFn>,
    serializer: Option<Serializer>,
    heartbeat_interval: Duration,
    reconnect_after: Backoff,
    rejoin_after: Backoff,
    await_timeout: Duration,
    push_timeout: Duration,
    upgrade_timeout: Duration,
    mailbox_capacity: usize,
    outbound_queue_limit: usize,
    max_message_size: usize,
    max_frame_size: usize,
    read_buffer_size: usize,
    write_buffer_size: usize,
    tls: Option<Arc<rustls::ClientConfig>>,
    auto_rejoin: bool,
    retry_on_initial_connect: bool,
    retry_rejected_joins: bool,
    local_addr: Option<std::net::IpAddr>,
    final_statuses: Vec<u16>,
    transport: Transport,
    long_poll_fallback: Option<Duration>,
    long_poll_timeout: Duration,
    connector: Option<Connector>,
}

impl fmt::Debug for SocketBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SocketBuilder")
            .field("url", &self.url)
            .field("params", &self.params)
            .field("params_fn", &self.params_fn.is_some())
            .field("headers", &self.headers.len())
            .field("auth_token", &self.auth_token.is_some())
            .field("serializer", &self.serializer)
            .field("heartbeat_interval", &self.heartbeat_interval)
            .field("await_timeout", &self.await_timeout)
            .field("push_timeout", &self.push_timeout)
            .field("transport", &self.transport)
            .field("long_poll_fallback", &self.long_poll_fallback)
            .finish_non_exhaustive()
    }
}

impl SocketBuilder {
    pub(crate) fn new(url: String) -> Self {
        SocketBuilder {
            url,
            normalize_path: true,
            params: Vec::new(),
            params_fn: None,
            headers: Vec::new(),
            auth_token: None,
            serializer: None,
            heartbeat_interval: DEFAULT_HEARTBEAT_INTERVAL,
            reconnect_after: Backoff::default_reconnect(),
            rejoin_after: Backoff::default_rejoin(),
            await_timeout: DEFAULT_AWAIT_TIMEOUT,
            push_timeout: DEFAULT_PUSH_TIMEOUT,
            upgrade_timeout: DEFAULT_UPGRADE_TIMEOUT,
            mailbox_capacity: DEFAULT_MAILBOX_CAPACITY,
            outbound_queue_limit: DEFAULT_OUTBOUND_QUEUE_LIMIT,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            read_buffer_size: DEFAULT_READ_BUFFER_SIZE,
            write_buffer_size: DEFAULT_WRITE_BUFFER_SIZE,
            tls: None,
            auto_rejoin: true,
            retry_on_initial_connect: false,
            retry_rejected_joins: false,
            local_addr: None,
            final_statuses: Vec::new(),
            transport: Transport::WebSocket,
            long_poll_fallback: None,
            long_poll_timeout: DEFAULT_LONG_POLL_TIMEOUT,
            connector: None,
        }
    }

    /// Use the URL's path as is: do not append `/websocket` to it (for sockets whose websocket
    /// path was changed with `websocket: [path: …]`).
    pub fn exact_path(mut self) -> Self {
        self.normalize_path = false;
        self
    }

    /// Adds a static query parameter sent on every connect.
    pub fn param(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push((key.into(), value.into()));
        self
    }

    /// Computes query parameters at every connect and reconnect (e.g. a refreshed token).
    ///
    /// A `vsn` returned here is ignored: the serializer is fixed when the socket is built, so
    /// give `vsn` in the URL, with [`param`](Self::param), or choose a
    /// [`serializer`](Self::serializer).
    pub fn params_fn(
        mut self,
        params: impl Fn() -> Vec<(String, String)> + Send + Sync + 'static,
    ) -> Self {
        self.params_fn = Some(Arc::new(params));
        self
    }

    /// Adds an HTTP header to the upgrade request (e.g. `Cookie`).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sends `token` with Phoenix 1.8's auth-token sub-protocol
    /// (`Sec-WebSocket-Protocol: phoenix, base64url.bearer.phx.<base64>`).
    ///
    /// The server must declare the socket with `auth_token: true`; otherwise the connect fails
    /// with [`ConnectError::AuthTokenNotAccepted`](crate::ConnectError::AuthTokenNotAccepted).
    pub fn auth_token(self, token: impl Into<String>) -> Self {
        let token = token.into();
        self.auth_token_fn(move || token.clone())
    }

    /// Like [`auth_token`](Self::auth_token), evaluated at every connect.
    pub fn auth_token_fn(mut self, token: impl Fn() -> String + Send + Sync + 'static) -> Self {
        self.auth_token = Some(Arc::new(token));
        self
    }

    /// The serializer (and so the `vsn` parameter). Default: the one a `vsn` in the URL or the
    /// params names (`1.0.x` → V1, `2.0.x` → V2), else V2.
    ///
    /// A serializer set here that disagrees with such a `vsn` makes [`build`](Self::build) fail
    /// with [`ConfigError::SerializerConflict`]; a `vsn` that names no serializer fails with
    /// [`ConfigError::UnsupportedVsn`]. Frames are never encoded with another serializer than
    /// the `vsn` the server is told.
    ///
    /// ```
    /// use slipstream_client::{ConfigError, Serializer, Socket};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// // The URL's vsn picks V1.
    /// assert!(Socket::builder("ws://localhost:4000/socket?vsn=1.0.0").build().is_ok());
    /// let err = Socket::builder("ws://localhost:4000/socket?vsn=1.0.0")
    ///     .serializer(Serializer::V2)
    ///     .build()
    ///     .unwrap_err();
    /// assert!(matches!(err, ConfigError::SerializerConflict { .. }));
    /// # }
    /// ```
    pub fn serializer(mut self, serializer: Serializer) -> Self {
        self.serializer = Some(serializer);
        self
    }

    /// Heartbeat interval; also the time allowed for each heartbeat's ack. `Duration::ZERO`
    /// disables heartbeats. Default: 30 s.
    pub fn heartbeat_interval(mut self, interval: Duration) -> Self {
        self.heartbeat_interval = interval;
        self
    }

    /// Delay schedule for reconnect attempts.
    pub fn reconnect_after(mut self, schedule: Backoff) -> Self {
        self.reconnect_after = schedule;
        self
    }

    /// Delay schedule for rejoins after a channel error.
    pub fn rejoin_after(mut self, schedule: Backoff) -> Self {
        self.rejoin_after = schedule;
        self
    }

    /// Default timeout of the `await_*` methods. Default: 5 s.
    pub fn await_timeout(mut self, timeout: Duration) -> Self {
        self.await_timeout = timeout;
        self
    }

    /// How long a join, push or leave waits for its reply before it is failed. Default: 10 s.
    pub fn push_timeout(mut self, timeout: Duration) -> Self {
        self.push_timeout = timeout;
        self
    }

    /// Limit for DNS, TCP connect, TLS and the websocket upgrade together. Default: 10 s.
    pub fn upgrade_timeout(mut self, timeout: Duration) -> Self {
        self.upgrade_timeout = timeout;
        self
    }

    /// Maximum number of unconsumed *server pushes* ([`SocketEvent::Message`] and
    /// [`SocketEvent::MalformedFrame`]) the mailbox keeps. Default: 10 000; 0 counts as 1.
    ///
    /// * A push that arrives when this many are waiting is dropped (the newest, so what is kept
    ///   is everything up to the moment the mailbox filled, in order) and counted by
    ///   [`Socket::dropped_events`](crate::Socket::dropped_events).
    /// * Replies and lifecycle events (connected, connect failures, reconnecting, disconnected,
    ///   joined, join failures, left, topic crashed or closed) are never dropped and do not count
    ///   against the capacity: each answers a request (one reply per push) or marks a connection
    ///   or rejoin attempt, so they are bounded by what the socket was asked to do, and an
    ///   `await_reply` or `await_join` always gets its answer however full the mailbox is.
    /// * Overflow is logged without payloads: one WARN line when dropping starts, then at most
    ///   one line a second with the number dropped since the last one.
    ///
    /// Memory grows with use: the capacity is a bound, not a preallocation.
    ///
    /// [`SocketEvent::Message`]: crate::SocketEvent::Message
    /// [`SocketEvent::MalformedFrame`]: crate::SocketEvent::MalformedFrame
    pub fn mailbox_capacity(mut self, capacity: usize) -> Self {
        self.mailbox_capacity = capacity;
        self
    }

    /// Bound, in bytes, of the frames waiting to be written while the link does not take them
    /// (slow, or dead and not yet detected). Default: 8 MiB.
    ///
    /// A push that arrives while the queue holds this much or more is not queued: it is answered
    /// at once with [`ReplyError::OutboundQueueFull`](crate::ReplyError::OutboundQueueFull), so the
    /// queue never holds more than the limit plus one frame. Heartbeats, joins and leaves are
    /// always queued (they are small and few), so a dead link is still detected by its heartbeat.
    pub fn outbound_queue_limit(mut self, bytes: usize) -> Self {
        self.outbound_queue_limit = bytes;
        self
    }

    /// Largest message accepted from the server, in bytes; a bigger one ends the connection.
    /// Over long-poll it bounds the body of one answer (which carries every frame the server
    /// had for us). Default: 64 MiB.
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Largest websocket frame accepted from the server, in bytes. Default: 16 MiB.
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.max_frame_size = bytes;
        self
    }

    /// Size of the websocket read buffer, allocated per connection, and the most read per system
    /// call. Default: [`DEFAULT_READ_BUFFER_SIZE`] (8 KiB), small enough for tens of thousands
    /// of idle sockets; raise it for a connection that mostly receives large frames.
    pub fn read_buffer_size(mut self, bytes: usize) -> Self {
        self.read_buffer_size = bytes;
        self
    }

    /// Bytes of frames gathered before they are written to the socket (a flush writes them all
    /// whatever their size); `0` writes each frame at once. Default: 128 KiB.
    pub fn write_buffer_size(mut self, bytes: usize) -> Self {
        self.write_buffer_size = bytes;
        self
    }

    /// Use this rustls configuration for `wss://` instead of the webpki roots.
    pub fn tls_config(mut self, config: Arc<rustls::ClientConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    /// Rejoin every joined topic after a reconnect (default: on).
    pub fn auto_rejoin(mut self, on: bool) -> Self {
        self.auto_rejoin = on;
        self
    }

    /// HTTP statuses of a refused upgrade after which the socket stops reconnecting and reports
    /// [`SocketEvent::ConnectFailed`](crate::SocketEvent::ConnectFailed) instead (default: none,
    /// as phoenix.js retries everything). `[403]` stops when the server refuses the credentials.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let socket = slipstream_client::Socket::builder("ws://localhost:4000/socket")
    ///     .retry_on_initial_connect(true)
    ///     .stop_reconnecting_on_status([403])
    ///     .build()
    ///     .unwrap();
    /// # }
    /// ```
    pub fn stop_reconnecting_on_status(mut self, statuses: impl IntoIterator<Item = u16>) -> Self {
        self.final_statuses = statuses.into_iter().collect();
        self
    }

    /// Retry a failed *initial* connect on the reconnect schedule instead of reporting
    /// [`SocketEvent::ConnectFailed`](crate::SocketEvent::ConnectFailed) (default: off).
    pub fn retry_on_initial_connect(mut self, on: bool) -> Self {
        self.retry_on_initial_connect = on;
        self
    }

    /// Retry refused or unanswered joins on the rejoin schedule, as phoenix.js does (default: off;
    /// `unmatched topic` is never retried).
    pub fn retry_rejected_joins(mut self, on: bool) -> Self {
        self.retry_rejected_joins = on;
        self
    }

    /// Connects from this local address (any free port on it) instead of the one the system
    /// picks. A load generator spreads its sockets over several source addresses this way: one
    /// source address has about 28,000 ephemeral ports towards one server, and every address of
    /// 127.0.0.0/8 is local on Linux. A server address of the other IP family is skipped.
    ///
    /// ```no_run
    /// # #[tokio::main] async fn main() {
    /// let socket = slipstream_client::Socket::builder("ws://127.0.0.1:4000/socket")
    ///     .local_addr([127, 0, 0, 2].into())
    ///     .build()
    ///     .unwrap();
    /// # }
    /// ```
    pub fn local_addr(mut self, ip: std::net::IpAddr) -> Self {
        self.local_addr = Some(ip);
        self
    }

    /// The transport every connect uses. Default: [`Transport::WebSocket`].
    ///
    /// [`Transport::LongPoll`] talks to the server's long-poll endpoint (`…/socket/longpoll`,
    /// derived from the URL as phoenix.js does: `ws` → `http`, `/websocket` → `/longpoll`, the
    /// same query), which the Phoenix endpoint must enable with `longpoll: true`. Everything else
    /// works as over the websocket, except that no heartbeats are sent (a dead server shows as a
    /// poll that fails or times out, see [`long_poll_timeout`](Self::long_poll_timeout)) and the
    /// server cannot send binary frames.
    ///
    /// ```
    /// use slipstream_client::{Socket, Transport};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let socket = Socket::builder("ws://localhost:4000/socket")
    ///     .transport(Transport::LongPoll)
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(socket.transport(), None); // not connected yet
    /// # }
    /// ```
    pub fn transport(mut self, transport: Transport) -> Self {
        self.transport = transport;
        self
    }

    /// Start each connect with the websocket and, if it has not opened within `after` (or failed
    /// sooner), connect over long-poll instead, as phoenix.js's `longPollFallbackMs` does. Once a
    /// fallback has happened the socket remembers it: its reconnects go straight to long-poll for
    /// the rest of its life. [`Socket::transport`] tells which one a connection uses. Only
    /// applies with the websocket as the [`transport`](Self::transport) (the default).
    ///
    /// ```
    /// use std::time::Duration;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let socket = slipstream_client::Socket::builder("ws://localhost:4000/socket")
    ///     .long_poll_fallback(Duration::from_millis(2500))
    ///     .build()
    ///     .unwrap();
    /// # }
    /// ```
    pub fn long_poll_fallback(mut self, after: Duration) -> Self {
        self.long_poll_fallback = Some(after);
        self
    }

    /// How long one long-poll request (a poll or a send) may take before the connection counts
    /// as lost and is reconnected on the reconnect schedule. Keep it above the server's poll
    /// window (Phoenix answers an idle poll after 10 s). Default: [`DEFAULT_LONG_POLL_TIMEOUT`]
    /// (20 s, phoenix.js's `longpollerTimeout`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use slipstream_client::{Socket, Transport};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let socket = Socket::builder("ws://localhost:4000/socket")
    ///     .transport(Transport::LongPoll)
    ///     .long_poll_timeout(Duration::from_secs(30))
    ///     .build()
    ///     .unwrap();
    /// # }
    /// ```
    pub fn long_poll_timeout(mut self, timeout: Duration) -> Self {
        self.long_poll_timeout = timeout;
        self
    }

    /// Opens connections with `connector` instead of TCP/TLS (the test kit's in-memory
    /// transport). The upgrade timeout still bounds each attempt.
    #[cfg(any(test, feature = "testkit"))]
    pub(crate) fn connector(mut self, connector: Connector) -> Self {
        self.connector = Some(connector);
        self
    }

    /// Validates the settings and spawns the connection task. Does **not** connect: call
    /// [`Socket::connect`].
    ///
    /// Must be called inside a tokio runtime.
    pub fn build(self) -> Result<Socket, ConfigError> {
        let url = crate::url::normalize(&self.url, self.normalize_path)?;
        let serializer = crate::url::resolve_serializer(&url, &self.params, self.serializer)?;
        for (setting, value) in [
            ("outbound_queue_limit", self.outbound_queue_limit),
            ("max_message_size", self.max_message_size),
            ("max_frame_size", self.max_frame_size),
            ("read_buffer_size", self.read_buffer_size),
        ] {
            if value == 0 {
                return Err(ConfigError::InvalidSetting {
                    setting,
                    reason: "must be at least 1 byte".into(),
                });
            }
        }
        let mut headers = Vec::with_capacity(self.headers.len());
        for (name, value) in &self.headers {
            let invalid = |reason: String| ConfigError::InvalidHeader {
                name: name.clone(),
                reason,
            };
            let n = HeaderName::from_bytes(name.as_bytes()).map_err(|e| invalid(e.to_string()))?;
            let v = HeaderValue::from_str(value).map_err(|e| invalid(e.to_string()))?;
            headers.push((n, v));
        }
        let tls = match self.tls {
            Some(tls) => tls,
            None => default_tls()?,
        };
        let handle = tokio::runtime::Handle::try_current().map_err(|_| ConfigError::NoRuntime)?;
        let config = Config {
            url,
            params: self.params,
            params_fn: self.params_fn,
            headers,
            auth_token: self.auth_token,
            serializer,
            heartbeat_interval: self.heartbeat_interval,
            reconnect_after: self.reconnect_after,
            rejoin_after: self.rejoin_after,
            await_timeout: self.await_timeout,
            push_timeout: self.push_timeout,
            upgrade_timeout: self.upgrade_timeout,
            mailbox_capacity: self.mailbox_capacity,
            outbound_queue_limit: self.outbound_queue_limit,
            websocket: WebSocketConfig::default()
                .max_message_size(Some(self.max_message_size))
                .max_frame_size(Some(self.max_frame_size))
                .read_buffer_size(self.read_buffer_size)
                .write_buffer_size(self.write_buffer_size),
            tls,
            auto_rejoin: self.auto_rejoin,
            retry_on_initial_connect: self.retry_on_initial_connect,
            retry_rejected_joins: self.retry_rejected_joins,
            local_addr: self.local_addr,
            final_statuses: self.final_statuses,
            transport: self.transport,
            long_poll_fallback: self.long_poll_fallback,
            long_poll_timeout: self.long_poll_timeout,
            max_message_size: self.max_message_size,
            connector: self.connector,
        };
        Ok(Socket::spawn(Arc::new(config), &handle))
    }
}

/// The TLS settings of every socket not given its own: built once per process, on first use,
/// and shared (its root store is about 25 KB).
fn default_tls() -> Result<Arc<rustls::ClientConfig>, ConfigError> {
    static SHARED: std::sync::OnceLock<Result<Arc<rustls::ClientConfig>, String>> =
        std::sync::OnceLock::new();
    SHARED
        .get_or_init(build_default_tls)
        .clone()
        .map_err(ConfigError::Tls)
}

fn build_default_tls() -> Result<Arc<rustls::ClientConfig>, String> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The validated settings, shared by the handle and the connection task.
pub(crate) struct Config {
    pub(crate) url: url::Url,
    pub(crate) params: Vec<(String, String)>,
    pub(crate) params_fn: Option<ParamsFn>,
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    pub(crate) auth_token: Option<TokenFn>,
    pub(crate) serializer: Serializer,
    pub(crate) heartbeat_interval: Duration,
    pub(crate) reconnect_after: Backoff,
    pub(crate) rejoin_after: Backoff,
    pub(crate) await_timeout: Duration,
    pub(crate) push_timeout: Duration,
    pub(crate) upgrade_timeout: Duration,
    pub(crate) mailbox_capacity: usize,
    /// Bytes the outbound queue may hold before pushes are refused.
    pub(crate) outbound_queue_limit: usize,
    /// Limits and buffer sizes of the websocket (the real dialler only).
    pub(crate) websocket: WebSocketConfig,
    pub(crate) tls: Arc<rustls::ClientConfig>,
    pub(crate) auto_rejoin: bool,
    pub(crate) retry_on_initial_connect: bool,
    pub(crate) retry_rejected_joins: bool,
    /// The local address to connect from, if one was given.
    pub(crate) local_addr: Option<std::net::IpAddr>,
    pub(crate) final_statuses: Vec<u16>,
    /// The transport every connect uses (unless a fallback happened).
    pub(crate) transport: Transport,
    /// Fall back from the websocket to long-poll after this long.
    pub(crate) long_poll_fallback: Option<Duration>,
    /// The limit of one long-poll request.
    pub(crate) long_poll_timeout: Duration,
    /// The largest message accepted from the server; also bounds a long-poll answer's body.
    pub(crate) max_message_size: usize,
    /// Replaces TCP/TLS when set (see `actor::transport`).
    pub(crate) connector: Option<Connector>,
}

impl Config {
    /// The URL for one connect attempt: static params, then the provider's, then `vsn`.
    pub(crate) fn connect_url(&self) -> url::Url {
        let mut params = self.params.clone();
        if let Some(f) = &self.params_fn {
            // The serializer was fixed at build time: a vsn from here could contradict it.
            params.extend(f().into_iter().filter(|(k, _)| {
                let vsn = k == "vsn";
                if vsn {
                    tracing::debug!("vsn from params_fn ignored (set it in the URL or with param)");
                }
                !vsn
            }));
        }
        crate::url::with_params(&self.url, &params, self.serializer.vsn())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_outside_a_runtime_is_an_error_not_a_panic() {
        let err = Socket::builder("ws://localhost/socket")
            .build()
            .unwrap_err();
        assert_eq!(err, ConfigError::NoRuntime);
    }

    #[tokio::test]
    async fn build_validates_url_and_headers() {
        assert!(matches!(
            Socket::builder("gopher://x").build(),
            Err(ConfigError::InvalidUrl { .. })
        ));
        assert!(matches!(
            Socket::builder("ws://x").header("bad header", "v").build(),
            Err(ConfigError::InvalidHeader { .. })
        ));
    }

    #[tokio::test]
    async fn defaults_are_documented_values() {
        let s = Socket::builder("https://example.com/socket")
            .build()
            .unwrap();
        assert_eq!(s.url(), "wss://example.com/socket/websocket");
        assert_eq!(s.default_await_timeout(), Duration::from_secs(5));
        let c = s.config();
        assert_eq!(c.heartbeat_interval, Duration::from_secs(30));
        assert_eq!(c.push_timeout, Duration::from_secs(10));
        assert_eq!(c.serializer, Serializer::V2);
        assert!(c.auto_rejoin);
        assert!(!c.retry_on_initial_connect);
        assert!(!c.retry_rejected_joins);
        assert_eq!(c.mailbox_capacity, DEFAULT_MAILBOX_CAPACITY);
        // Every buffer is bounded: tungstenite's limits, and a small read buffer.
        assert_eq!(c.outbound_queue_limit, 8 << 20);
        assert_eq!(c.websocket.max_message_size, Some(64 << 20));
        assert_eq!(c.websocket.max_frame_size, Some(16 << 20));
        assert_eq!(c.websocket.read_buffer_size, 8 << 10);
        assert_eq!(c.websocket.write_buffer_size, 128 << 10);
    }

    #[tokio::test]
    async fn size_knobs_reach_the_websocket_config_and_zero_is_refused() {
        let s = Socket::builder("ws://h/socket")
            .outbound_queue_limit(1000)
            .max_message_size(2000)
            .max_frame_size(1500)
            .read_buffer_size(4096)
            .write_buffer_size(0)
            .build()
            .unwrap();
        let c = s.config();
        assert_eq!(c.outbound_queue_limit, 1000);
        assert_eq!(c.websocket.max_message_size, Some(2000));
        assert_eq!(c.websocket.max_frame_size, Some(1500));
        assert_eq!(c.websocket.read_buffer_size, 4096);
        assert_eq!(c.websocket.write_buffer_size, 0);
        assert_eq!(
            Socket::builder("ws://h/socket")
                .read_buffer_size(0)
                .build()
                .unwrap_err(),
            ConfigError::InvalidSetting {
                setting: "read_buffer_size",
                reason: "must be at least 1 byte".into()
            }
        );
    }

    #[tokio::test]
    async fn the_url_vsn_picks_the_serializer_and_params_fn_cannot_override_it() {
        let s = Socket::builder("ws://h/socket?vsn=1.0.0")
            .params_fn(|| vec![("vsn".into(), "2.0.0".into()), ("t".into(), "1".into())])
            .build()
            .unwrap();
        let c = s.config();
        assert_eq!(c.serializer, Serializer::V1);
        assert_eq!(
            c.connect_url().as_str(),
            "ws://h/socket/websocket?vsn=1.0.0&t=1"
        );
        assert!(matches!(
            Socket::builder("ws://h/socket?vsn=1.0.0")
                .serializer(Serializer::V2)
                .build(),
            Err(ConfigError::SerializerConflict { .. })
        ));
    }

    #[tokio::test]
    async fn params_fn_is_evaluated_at_every_connect() {
        use std::sync::atomic::{AtomicU32, Ordering};
        let n = Arc::new(AtomicU32::new(0));
        let n2 = n.clone();
        let s = Socket::builder("ws://h/socket")
            .param("a", "1")
            .params_fn(move || {
                let i = n2.fetch_add(1, Ordering::SeqCst);
                vec![("token".into(), format!("t{i}"))]
            })
            .serializer(Serializer::V1)
            .build()
            .unwrap();
        let c = s.config();
        assert_eq!(
            c.connect_url().as_str(),
            "ws://h/socket/websocket?a=1&token=t0&vsn=1.0.0"
        );
        assert_eq!(
            c.connect_url().as_str(),
            "ws://h/socket/websocket?a=1&token=t1&vsn=1.0.0"
        );
    }
}
