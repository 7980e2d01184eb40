//! What the connect hook sees and decides ([`ConnectInfo`], [`ConnectResult`]), and what a
//! channel knows of its connection ([`SocketInfo`]).

use axum::http::{HeaderMap, StatusCode};
use slipstream_protocol::Serializer;

/// What the connect hook sees of an upgrade request.
#[derive(Debug)]
#[non_exhaustive]
pub struct ConnectInfo {
    /// The query parameters, in order (`vsn` included).
    pub params: Vec<(String, String)>,
    /// The request headers.
    pub headers: HeaderMap,
    /// The Phoenix 1.8 auth token from `Sec-WebSocket-Protocol`, when the server has
    /// [`auth_token`](crate::ServerConfig::auth_token) enabled and the client sent one.
    pub auth_token: Option<Vec<u8>>,
    /// The negotiated serializer.
    pub serializer: Serializer,
}

impl ConnectInfo {
    /// The last value of query parameter `name`, as Plug reads a repeated key.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The connect hook's decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConnectResult {
    /// Accept, optionally with a socket id (the target of [`crate::Endpoint::disconnect_socket_id`]).
    Accept {
        /// The socket id, e.g. `user_socket:42`.
        socket_id: Option<String>,
    },
    /// Refuse the upgrade with this HTTP status (Phoenix uses 403) and an empty body.
    Refuse(StatusCode),
}

/// What a channel knows about its connection.
#[derive(Debug)]
#[non_exhaustive]
pub struct SocketInfo {
    /// The connect query parameters, in order.
    pub params: Vec<(String, String)>,
    /// The socket id chosen by the connect hook.
    pub socket_id: Option<String>,
    /// The auth token, if any (see [`ConnectInfo::auth_token`]).
    pub auth_token: Option<Vec<u8>>,
    /// The connection's serializer.
    pub serializer: Serializer,
}
