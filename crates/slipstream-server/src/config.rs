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
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            idle_timeout: Duration::from_secs(60),
            max_frame_size: 8_000_000,
            auth_token: false,
            max_channels: 100,
            mount: "/socket".to_owned(),
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

    /// The websocket's path, `<mount>/websocket`.
    pub fn websocket_path(&self) -> String {
        format!("{}/websocket", self.mount.trim_end_matches('/'))
    }
}
