//! A Phoenix-Channels-compatible server, and the demo app of `docs/demo-server.md`.
//!
//! * A [`Socket`] has a connect hook (query params, headers, the Phoenix 1.8 auth token → accept
//!   with an optional socket id, or refuse with an HTTP status) and channel routes (`"room:lobby"`
//!   or `"room:*"`, first match wins).
//! * A [`Channel`] is one joined topic on one connection, running in its own task: `join`,
//!   `handle_in`, `handle_info`, `terminate`. A panic there errors that channel only (`phx_error`).
//! * The connection keeps Phoenix's rules as recorded from Phoenix 1.7.24 on Bandit
//!   (`tests/conformance/`): heartbeat replies, duplicate join (new reply, then `phx_close` of
//!   the old join_ref), `unmatched topic` replies with a null join_ref, 100 channels at most,
//!   idle close 1002, malformed frame close 1011, invalid UTF-8 close 1007, oversize close 1009.
//! * Both of Phoenix's transports: the websocket at `<mount>/websocket` and long-poll at
//!   `<mount>/longpoll` (the fallback of phoenix.js), with the same connect checks, channels,
//!   broadcasts, presence and socket-id disconnects; long-poll sessions are signed, bounded
//!   ([`ServerConfig::max_longpoll_sessions`]) and end after 1.5 polling windows without a poll
//!   ([`ServerConfig::longpoll_window`]).
//! * Several server processes (nodes) can act as one application: with
//!   [`ServerConfig::with_redis`] they share broadcasts, socket-id disconnects and presences over
//!   Redis PUB/SUB, and with [`ServerConfig::reuse_port`] they can share one port.
//! * Broadcasts are encoded once per serializer and the same bytes go to every subscriber; the
//!   [`Endpoint`] broadcasts from anywhere and disconnects sockets by id.
//! * No client can make the server grow without bound: each connection's unsent bytes are capped
//!   ([`ServerConfig::max_outbound_bytes`]; a client past it is closed with 1008), each channel's
//!   pending pushes are capped ([`ServerConfig::max_pending_pushes`]; then the client is not read
//!   until the channel catches up), an HTTP request head must arrive within
//!   [`ServerConfig::handshake_timeout`], and connections beyond
//!   [`ServerConfig::max_connections`] get a 503.
//! * [`spawn_demo`] runs the demo app (for `slipstream serve` and for other crates' tests).
//!
//! # Writing a channel
//!
//! ```no_run
//! use std::net::SocketAddr;
//! use slipstream_server::{
//!     Channel, ChannelContext, HandleResult, JoinResult, Payload, Server, ServerConfig, Socket,
//! };
//!
//! struct Room;
//!
//! impl Channel for Room {
//!     async fn join(&mut self, topic: &str, _params: Payload, _ctx: &mut ChannelContext) -> JoinResult {
//!         JoinResult::Ok(Payload::json(&serde_json::json!({"welcome": topic})))
//!     }
//!
//!     async fn handle_in(&mut self, event: &str, payload: Payload, ctx: &mut ChannelContext) -> HandleResult {
//!         match event {
//!             "shout" => {
//!                 let _ = ctx.broadcast("shout", payload);
//!                 HandleResult::NoReply
//!             }
//!             "ping" => HandleResult::ok(payload),
//!             _ => HandleResult::error(Payload::json(&serde_json::json!({"reason": "unknown event"}))),
//!         }
//!     }
//! }
//!
//! # async fn run() -> std::io::Result<()> {
//! let socket = Socket::new().channel("room:*", |_topic| Room);
//! let addr: SocketAddr = "127.0.0.1:4000".parse().unwrap();
//! let server = Server::new(socket, ServerConfig::default()).bind(addr).await?;
//! println!("websocket at {}", server.ws_url());
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod accepted;
mod background;
mod channel;
mod cluster;
mod config;
mod connect;
mod connection;
mod context;
pub mod demo;
mod endpoint;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod http;
mod inbound;
pub mod json;
mod log_filter;
mod longpoll;
mod messages;
mod outbound;
mod outcome;
mod presence;
mod pubsub;
mod runner;
mod server;
mod shared;
mod socket;
mod writer;
mod ws;

pub use background::BackgroundServer;
pub use channel::Channel;
pub use config::{
    DEFAULT_FILTER_PARAMETERS, DEFAULT_MAX_LONGPOLL_SESSIONS, DEFAULT_MAX_OUTBOUND_BYTES,
    DEFAULT_PUBSUB_CHANNEL, PubSubConfig, ServerConfig, default_max_connections,
};
pub use connect::{ConnectInfo, ConnectResult, SocketInfo};
pub use context::{ChannelContext, InfoSender, PushError};
pub use demo::spawn_demo;
pub use endpoint::{BroadcastError, Endpoint};
pub use outcome::{HandleResult, Info, InfoResult, JoinResult, StopReason, TerminateReason};
pub use server::{RunningServer, Server};
pub use slipstream_protocol::{Payload, Ref, Serializer};
pub use socket::Socket;
