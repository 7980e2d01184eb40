//! [`Socket`]: the connect hook and the topic → channel routes, like a Phoenix `UserSocket`.

use std::sync::Arc;

use crate::channel::Channel;
use crate::connect::{ConnectInfo, ConnectResult};
use crate::messages::ChannelStart;
use crate::runner;
use crate::shared::{Routes, Shared, Starter};

type ConnectFn = dyn Fn(&ConnectInfo) -> ConnectResult + Send + Sync;

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
        let starter: Arc<Starter> = Arc::new(move |start: ChannelStart, shared: Arc<Shared>| {
            let channel = factory(&start.topic);
            runner::spawn(channel, start, shared);
        });
        self.routes.push(Route {
            pattern: pattern.to_owned(),
            starter,
        });
        self
    }
}

/// The server holds its socket as [`Routes`]: the connection layer asks it, the runner's
/// starters (made in [`Socket::channel`]) answer.
impl Routes for Socket {
    fn connect(&self, info: &ConnectInfo) -> ConnectResult {
        (self.connect)(info)
    }

    fn route(&self, topic: &str) -> Option<Arc<Starter>> {
        self.routes
            .iter()
            .find(|r| r.matches(topic))
            .map(|r| r.starter.clone())
    }
}
