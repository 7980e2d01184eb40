//! An async [Phoenix Channels](https://hexdocs.pm/phoenix/channels.html) client, modelled on
//! Elixir's Slipstream.
//!
//! One connection task per [`Socket`] owns the websocket, the ref counter, pending replies,
//! topic state, heartbeats and reconnects. The cloneable [`Socket`] handle sends it requests
//! (`connect`, `join`, `push`, `leave`, `disconnect`) that return at once, and everything that
//! arrives becomes a [`SocketEvent`] in one shared mailbox. Each `await_*` method is a *selective
//! receive*: it takes the first event it matches and leaves the others, in order, for later.
//!
//! The scripting guide's flow, against the demo server:
//!
//! ```no_run
//! use slipstream_client::{pattern, MessagePattern, ReplyError, Socket};
//! use serde_json::json;
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let socket = Socket::builder("ws://localhost:4000/socket/websocket").build()?;
//! socket.connect();
//! socket.await_connect(None).await?;
//!
//! let topic = "rooms:lobby";
//! socket.join(topic, json!({"fizz": "buzz"}));
//! socket.await_join(topic, None).await?;
//!
//! // No reply comes for "quicksand": the await times out.
//! let r = socket.push(topic, "quicksand", json!({"a": "b"}));
//! assert_eq!(socket.await_reply(&r, None).await, Err(ReplyError::Timeout));
//!
//! let r = socket.push(topic, "ping", json!({}));
//! let reply = socket.await_reply(&r, None).await?;
//! assert_eq!(reply.status, "ok");
//!
//! socket.push(topic, "push to me", json!({}));
//! let pat = MessagePattern::any().topic(topic).event("foo").payload(pattern!({"bar": "baz"}));
//! let msg = socket.await_message(&pat, None).await?;
//! println!("{} {} {:?}", msg.topic, msg.event, msg.json());
//!
//! socket.leave(topic);
//! socket.await_leave(topic, None).await?;
//! socket.disconnect();
//! socket.await_disconnect(None).await?;
//! # Ok(()) }
//! ```
//!
//! See [`SocketBuilder`] for every setting and its default, and [`presence`] for a Presence helper.
//!
//! For long-running clients, [`callback`] has Slipstream's callback style: implement
//! [`callback::Client`] and run it. The `testkit` feature adds `testkit::TestServer`, which plays
//! the server in memory so such clients (and scripts) can be unit-tested without a network.

#![cfg_attr(docsrs, feature(doc_cfg))]

mod actor;
mod backoff;
pub mod blocking;
pub mod callback;
mod config;
mod error;
mod event;
mod mailbox;
mod message_macros;
pub mod pattern;
pub mod presence;
mod socket;
#[cfg(feature = "testkit")]
#[cfg_attr(docsrs, doc(cfg(feature = "testkit")))]
pub mod testkit;
mod url;

pub use backoff::Backoff;
pub use config::{
    DEFAULT_AWAIT_TIMEOUT, DEFAULT_HEARTBEAT_INTERVAL, DEFAULT_MAILBOX_CAPACITY,
    DEFAULT_MAX_FRAME_SIZE, DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_OUTBOUND_QUEUE_LIMIT,
    DEFAULT_PUSH_TIMEOUT, DEFAULT_READ_BUFFER_SIZE, DEFAULT_UPGRADE_TIMEOUT,
    DEFAULT_WRITE_BUFFER_SIZE, HEALTHY_CONNECTION_UPTIME, SocketBuilder,
};
pub use error::{AwaitError, ConfigError, ConnectError, JoinError, LeaveError, ReplyError};
pub use event::{ChannelMessage, DisconnectReason, JoinStatus, SocketEvent, TopicCloseReason};
pub use pattern::{MessagePattern, Pattern};
pub use slipstream_protocol::{Payload, Ref, Reply, Serializer};
pub use socket::Socket;

#[doc(hidden)]
pub mod __private {
    pub use serde_json::{Value, json};
}

/// The README's Rust examples, compiled (and run unless marked `no_run`) by `cargo test --doc`.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
