//! [`Socket`]: the connect hook and the topic → channel routes, like a Phoenix `UserSocket`.

use std::sync::Arc;

use axum::http::{HeaderMap, StatusCode};
use slipstream_protocol::Serializer;

use crate::channel::Channel;
use crate::runner::{self, ChannelStart};

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

type ConnectFn = dyn Fn(&ConnectInfo) -> ConnectResult + Send + Sync;
pub(crate) type Starter = dyn Fn(ChannelStart) + Send + Sync;

#[derive(Clone)]
struct Route {
    pattern: String,
    starter: Arc<Starter>,
}

impl Route {
    fn matches(&self, topic: &str) -> bool {
        match self.pattern.strip_suffix('*') {
            Some(prefix) => topic.starts_with(prefix),
            None => topic == self.pattern,
        }
    }
}

/// A socket definition: a connect hook and channel routes (first match wins).
///
/// ```
/// use slipstream_server::{ConnectResult, Socket};
/// # use slipstream_server::{Channel, ChannelContext, HandleResult, JoinResult, Payload};
/// # struct Room;
/// # impl Channel for Room {
/// #     async fn join(&mut self, _: &str, _: Payload, _: &mut ChannelContext) -> JoinResult { JoinResult::Ok(Payload::empty()) }
/// #     async fn handle_in(&mut self, _: &str, _: Payload, _: &mut ChannelContext) -> HandleResult { HandleResult::NoReply }
/// # }
/// let socket = Socket::new()
///     .on_connect(|info| ConnectResult::Accept { socket_id: info.param("user_id").map(|u| format!("user:{u}")) })
///     .channel("room:*", |_topic| Room);
/// ```
#[derive(Clone)]
pub struct Socket {
    routes: Vec<Route>,
    connect: Arc<ConnectFn>,
}

impl Default for Socket {
    fn default() -> Self {
        Self::new()
    }
}

impl Socket {
    /// A socket that accepts every connection (no socket id) and has no channels.
    pub fn new() -> Self {
        Socket {
            routes: Vec::new(),
            connect: Arc::new(|_| ConnectResult::Accept { socket_id: None }),
        }
    }

    /// Sets the connect hook (query params, headers and auth token → accept or refuse).
    pub fn on_connect(
        mut self,
        hook: impl Fn(&ConnectInfo) -> ConnectResult + Send + Sync + 'static,
    ) -> Self {
        self.connect = Arc::new(hook);
        self
    }

    /// Routes `pattern` (an exact topic, or `prefix*` such as `room:*`) to a channel made by
    /// `factory` for each join. Routes are tried in the order they were added.
    pub fn channel<C, F>(mut self, pattern: &str, factory: F) -> Self
    where
        C: Channel,
        F: Fn(&str) -> C + Send + Sync + 'static,
    {
        let starter: Arc<Starter> = Arc::new(move |start: ChannelStart| {
            let channel = factory(&start.topic);
            runner::spawn(channel, start);
        });
        self.routes.push(Route {
            pattern: pattern.to_owned(),
            starter,
        });
        self
    }

    pub(crate) fn connect(&self, info: &ConnectInfo) -> ConnectResult {
        (self.connect)(info)
    }

    pub(crate) fn route(&self, topic: &str) -> Option<Arc<Starter>> {
        self.routes
            .iter()
            .find(|r| r.matches(topic))
            .map(|r| r.starter.clone())
    }
}
