//! Server settings.

use std::time::Duration;

/// Settings of a [`crate::Server`]; the defaults are Phoenix's (on Bandit).
///
/// ```
/// use std::time::Duration;
/// use slipstream_server::ServerConfig;
/// let config = ServerConfig::default().with_idle_timeout(Duration::from_secs(5)).with_auth_token(true);
/// assert_eq!(config.max_frame_size, 8_000_000);
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Close a websocket (code 1002, as Bandit) when no frame at all arrived for this long. Default 60 s.
    pub idle_timeout: Duration,
    /// Largest inbound frame, header included; bigger ones close the socket with 1009. Default 8 000 000.
    pub max_frame_size: usize,
    /// Accept Phoenix 1.8's auth token in `Sec-WebSocket-Protocol` (and echo `phoenix`). Default off.
    pub auth_token: bool,
    /// At most this many channels per connection (Phoenix's `max_channels_per_transport`). Default 100.
    pub max_channels: usize,
    /// Where the socket is mounted; the websocket is at `<mount>/websocket`. Default `/socket`.
    pub mount: String,
    /// Most bytes of frames waiting to be written to one connection (frame lengths; a broadcast
    /// frame shared by many connections counts on each, since each keeps it alive). Default
    /// 4 MiB ([`DEFAULT_MAX_OUTBOUND_BYTES`]).
    ///
    /// A client that reads keeps this near zero: the kernel's socket buffer (up to 4 MiB on
    /// Linux) absorbs bursts first, and this absorbs as much again, i.e. seconds of a busy
    /// topic's traffic, a large `presence_state`, or a client on a slow link. A client past it
    /// has stopped reading: it is closed with 1008 (policy violation) and one WARN line. A single
    /// frame larger than the limit still goes out when nothing else is queued. Worst case memory
    /// is about this times the number of connections (less, as broadcasts share their bytes).
    pub max_outbound_bytes: usize,
    /// Most client pushes one channel may have waiting for (or inside) its `handle_in`. Default
    /// 128. When a channel is this far behind, the connection stops reading from that client until
    /// the channel takes the next push: TCP pushes back on the client, nothing is refused or lost.
    /// The client's other frames (heartbeats, other topics) wait behind too; other connections
    /// never notice. Inbound memory per connection is then bounded by about
    /// `(max_pending_pushes × channels + 1) × max_frame_size` (a long-poll session's POSTs may
    /// queue 8 frames more).
    pub max_pending_pushes: usize,
    /// Close a TCP connection whose HTTP request head (the websocket upgrade, or any request on a
    /// kept-alive connection) has not fully arrived this long after the server started waiting for
    /// it. Default 10 s: a real client sends its upgrade request in one packet right after
    /// connecting, so 10 s is generous even over a slow mobile link, while a half-open request holds
    /// a file descriptor for 10 s instead of forever (Bandit and Cowboy wait 60 s).
    /// `Duration::ZERO` turns the timeout off.
    pub handshake_timeout: Duration,
    /// Most TCP connections open at once (HTTP and websocket alike, counted from accept to close).
    /// Beyond it a new connection is answered at once with HTTP 503 and closed, and a (rate-limited)
    /// WARN line is logged. Default [`default_max_connections`]: 16 384, or less when the
    /// process's open-file limit is lower (leaving room for the files and sockets the rest of the
    /// process needs), so the server refuses cleanly before `accept` fails for lack of descriptors.
    pub max_connections: usize,
    /// Connect and join parameters whose values never reach the logs, at any level: the value of
    /// every key that contains one of these strings, ignoring ASCII case, is logged as
    /// `"[FILTERED]"`, at any depth of a join payload (Phoenix's `filter_parameters`, which
    /// matches the same way but minds case). Default [`DEFAULT_FILTER_PARAMETERS`]; an empty list
    /// logs every value.
    ///
    /// ```
    /// use slipstream_server::ServerConfig;
    /// let config = ServerConfig::default().with_filter_parameters(["password", "ssn"]);
    /// assert_eq!(config.filter_parameters, ["password", "ssn"]);
    /// ```
    pub filter_parameters: Vec<String>,
    /// How long a long-poll GET is held open when there is nothing to deliver (Phoenix's
    /// `window_ms`). Default 10 s. It also bounds a POST: one whose frames the connection has
    /// not dispatched within this long is answered with body status 408. A session that gets no
    /// GET for 1.5 times this long ends, as if its socket had closed.
    pub longpoll_window: Duration,
    /// Most long-poll sessions open at once. Beyond it a GET that would open one is answered with
    /// HTTP 503 and a (rate-limited) WARN line. Default [`DEFAULT_MAX_LONGPOLL_SESSIONS`]. A
    /// session holds no file descriptor between requests, so it is bounded apart from
    /// [`max_connections`](Self::max_connections); each one's unpolled messages are bounded by
    /// [`max_outbound_bytes`](Self::max_outbound_bytes), as a websocket's unsent frames are.
    pub max_longpoll_sessions: usize,
    /// Where broadcasts and presences are shared with other nodes. Default
    /// [`PubSubConfig::Local`]: this process only.
    pub pubsub: PubSubConfig,
    /// This node's name among the nodes sharing a PubSub engine (logs, presence). Default: the
    /// host name and the process id, `host-1234`.
    pub node_name: String,
    /// How often a node tells the others it is alive (with the version of its presences).
    /// Default 1 s.
    pub node_heartbeat: Duration,
    /// A node not heard from for this long is down: its presences leave on every other node.
    /// Default 5 s.
    pub node_timeout: Duration,
    /// Bind with `SO_REUSEPORT`, so several server processes on one machine share one port (the
    /// kernel spreads connections among them); combined with a shared [`pubsub`](Self::pubsub),
    /// one machine then holds more connections than one process's open-file limit allows.
    /// Default off.
    pub reuse_port: bool,
}

/// Where a server shares broadcasts, socket-id disconnects and presences.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PubSubConfig {
    /// Within this process only.
    Local,
    /// Over Redis PUB/SUB: every node publishing to and subscribed to `channel` on the Redis at
    /// `url` (`redis://HOST:PORT[/DB]`) is one application.
    Redis {
        /// The Redis URL.
        url: String,
        /// The PUB/SUB channel; nodes on other channels are other applications.
        channel: String,
    },
}

/// The PUB/SUB channel nodes use unless told otherwise.
pub const DEFAULT_PUBSUB_CHANNEL: &str = "slipstream";

/// `host-pid`, the default node name.
fn default_node_name() -> String {
    let pid = std::process::id();
    let mut buf = [0u8; 256];
    #[cfg(unix)]
    {
        // SAFETY: gethostname writes at most `buf.len()` bytes into the buffer we own.
        let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
        if rc == 0 {
            let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
            if let Ok(host) = std::str::from_utf8(&buf[..end])
                && !host.is_empty()
            {
                return format!("{host}-{pid}");
            }
        }
    }
    format!("node-{pid}")
}

/// The default of [`ServerConfig::max_longpoll_sessions`]: 16 384.
pub const DEFAULT_MAX_LONGPOLL_SESSIONS: usize = 16_384;

/// The default of [`ServerConfig::filter_parameters`]: Phoenix's `password`, and `token`,
/// `secret`, `api_key` and `auth` (which covers `authorization`, `auth_token`, `oauth`, ...).
pub const DEFAULT_FILTER_PARAMETERS: &[&str] = &["password", "token", "secret", "api_key", "auth"];

/// The default of [`ServerConfig::max_outbound_bytes`]: 4 MiB.
pub const DEFAULT_MAX_OUTBOUND_BYTES: usize = 4 * 1024 * 1024;

/// The default of [`ServerConfig::max_connections`]: 16 384, lowered to the process's soft
/// open-file limit (`RLIMIT_NOFILE`) minus 10% and at least 64 descriptors of headroom, so
/// that refusing happens before `accept` fails with EMFILE. Never below 1.
pub fn default_max_connections() -> usize {
    const CAP: usize = 16_384;
    match open_file_limit() {
        Some(limit) => {
            let headroom = (limit / 10).max(64);
            limit.saturating_sub(headroom).clamp(1, CAP)
        }
        None => CAP,
    }
}

/// The process's soft limit on open files, when the platform has one.
#[cfg(unix)]
fn open_file_limit() -> Option<usize> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct we pass, which lives for the call.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    if rc != 0 || limit.rlim_cur == libc::RLIM_INFINITY {
        return None;
    }
    usize::try_from(limit.rlim_cur).ok()
}

#[cfg(not(unix))]
fn open_file_limit() -> Option<usize> {
    None
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            idle_timeout: Duration::from_secs(60),
            max_frame_size: 8_000_000,
            auth_token: false,
            max_channels: 100,
            mount: "/socket".to_owned(),
            max_outbound_bytes: DEFAULT_MAX_OUTBOUND_BYTES,
            max_pending_pushes: 128,
            handshake_timeout: Duration::from_secs(10),
            max_connections: default_max_connections(),
            filter_parameters: DEFAULT_FILTER_PARAMETERS
                .iter()
                .map(|&s| s.to_owned())
                .collect(),
            longpoll_window: Duration::from_secs(10),
            max_longpoll_sessions: DEFAULT_MAX_LONGPOLL_SESSIONS,
            pubsub: PubSubConfig::Local,
            node_name: default_node_name(),
            node_heartbeat: Duration::from_secs(1),
            node_timeout: Duration::from_secs(5),
            reuse_port: false,
        }
    }
}

impl ServerConfig {
    /// Sets [`idle_timeout`](Self::idle_timeout).
    pub fn with_idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Sets [`max_frame_size`](Self::max_frame_size).
    pub fn with_max_frame_size(mut self, bytes: usize) -> Self {
        self.max_frame_size = bytes;
        self
    }

    /// Sets [`auth_token`](Self::auth_token).
    pub fn with_auth_token(mut self, enabled: bool) -> Self {
        self.auth_token = enabled;
        self
    }

    /// Sets [`max_channels`](Self::max_channels).
    pub fn with_max_channels(mut self, max: usize) -> Self {
        self.max_channels = max;
        self
    }

    /// Sets [`mount`](Self::mount) (e.g. `/socket`; no trailing slash).
    pub fn with_mount(mut self, mount: impl Into<String>) -> Self {
        self.mount = mount.into();
        self
    }

    /// Sets [`max_outbound_bytes`](Self::max_outbound_bytes).
    pub fn with_max_outbound_bytes(mut self, bytes: usize) -> Self {
        self.max_outbound_bytes = bytes;
        self
    }

    /// Sets [`max_pending_pushes`](Self::max_pending_pushes) (0 counts as 1).
    pub fn with_max_pending_pushes(mut self, max: usize) -> Self {
        self.max_pending_pushes = max;
        self
    }

    /// Sets [`handshake_timeout`](Self::handshake_timeout).
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Sets [`max_connections`](Self::max_connections) (0 counts as 1).
    pub fn with_max_connections(mut self, max: usize) -> Self {
        self.max_connections = max;
        self
    }

    /// Replaces [`filter_parameters`](Self::filter_parameters) (the defaults are not kept).
    pub fn with_filter_parameters<I, S>(mut self, filters: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.filter_parameters = filters.into_iter().map(Into::into).collect();
        self
    }

    /// Sets [`longpoll_window`](Self::longpoll_window) (at least 1 ms).
    pub fn with_longpoll_window(mut self, window: Duration) -> Self {
        self.longpoll_window = window.max(Duration::from_millis(1));
        self
    }

    /// Sets [`max_longpoll_sessions`](Self::max_longpoll_sessions) (0 counts as 1).
    pub fn with_max_longpoll_sessions(mut self, max: usize) -> Self {
        self.max_longpoll_sessions = max;
        self
    }

    /// Shares broadcasts and presences with the other nodes on the Redis at `url`
    /// ([`PubSubConfig::Redis`] on [`DEFAULT_PUBSUB_CHANNEL`]).
    ///
    /// ```
    /// use slipstream_server::{PubSubConfig, ServerConfig};
    /// let config = ServerConfig::default().with_redis("redis://127.0.0.1:6379").with_node_name("a");
    /// assert!(matches!(config.pubsub, PubSubConfig::Redis { .. }));
    /// ```
    pub fn with_redis(mut self, url: impl Into<String>) -> Self {
        self.pubsub = PubSubConfig::Redis {
            url: url.into(),
            channel: DEFAULT_PUBSUB_CHANNEL.to_owned(),
        };
        self
    }

    /// Sets [`pubsub`](Self::pubsub).
    pub fn with_pubsub(mut self, pubsub: PubSubConfig) -> Self {
        self.pubsub = pubsub;
        self
    }

    /// Sets [`node_name`](Self::node_name).
    pub fn with_node_name(mut self, name: impl Into<String>) -> Self {
        self.node_name = name.into();
        self
    }

    /// Sets [`node_heartbeat`](Self::node_heartbeat) and [`node_timeout`](Self::node_timeout)
    /// (the heartbeat at least 10 ms, the timeout at least two heartbeats).
    pub fn with_node_liveness(mut self, heartbeat: Duration, timeout: Duration) -> Self {
        self.node_heartbeat = heartbeat.max(Duration::from_millis(10));
        self.node_timeout = timeout.max(self.node_heartbeat * 2);
        self
    }

    /// Sets [`reuse_port`](Self::reuse_port).
    pub fn with_reuse_port(mut self, on: bool) -> Self {
        self.reuse_port = on;
        self
    }

    /// The long-poll transport's path, `<mount>/longpoll`.
    pub fn longpoll_path(&self) -> String {
        format!("{}/longpoll", self.mount.trim_end_matches('/'))
    }

    /// The websocket's path, `<mount>/websocket`.
    pub fn websocket_path(&self) -> String {
        format!("{}/websocket", self.mount.trim_end_matches('/'))
    }
}
