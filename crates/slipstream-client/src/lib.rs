//! A [Phoenix Channels](https://hexdocs.pm/phoenix/channels.html) client, modelled on Elixir's
//! Slipstream: async at heart, with a blocking API for scripts and a callback API for
//! long-running clients.
//!
//! # Start here
//!
//! All three APIs drive the same connection code (heartbeats, reconnects with backoff, rejoins,
//! one outcome for every push); they differ in how your code waits.
//!
//! | you are writing | use | how it waits |
//! |---|---|---|
//! | a script, a command-line tool, a test, a plain `fn main` without tokio | [`blocking`] | each `await_*` blocks the calling thread; the socket runs its connection on a runtime thread of its own |
//! | async code on tokio | [`Socket`] | the same calls, each `await_*` is a future; clones of a socket share one connection |
//! | a long-running client (a bot, a service) that reacts to whatever arrives | [`callback`] | you implement [`callback::Client`], one method per event, and the runner calls them |
//!
//! Start with [`blocking`] to explore a server step by step (it is Slipstream's scripting guide,
//! call for call), use [`Socket`] when your program is async anyway, and move to [`callback`]
//! when the client must run for hours and react to whatever comes. The [test kit][testkit-mod]
//! (feature `testkit`, see [Features](#features)) tests async and callback clients without a
//! network.
//! Blocking calls panic inside an async runtime (they would stall its thread): from async code,
//! use [`Socket`].
//!
//! # How it works
//!
//! One connection task per [`Socket`] owns the websocket, the ref counter, pending replies, topic
//! state, heartbeats and reconnects. Requests (`connect`, `join`, `push`, `leave`, `disconnect`)
//! post a command to it and return at once; everything that arrives becomes a [`SocketEvent`] in
//! one mailbox that all clones share. Each `await_*` is a *selective receive*: it takes the first
//! event it matches and leaves the others, in order, for later awaits. [`Socket::flush`] takes
//! whatever the mailbox holds at that instant and does not wait.
//!
//! # The guide, blocking
//!
//! The scripting guide against `slipstream serve` (the demo server, on `localhost:4000`), from a
//! plain `fn main`:
//!
//! ```no_run
//! use serde_json::json;
//! use slipstream_client::{await_message, blocking};
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let socket = blocking::connect("ws://localhost:4000/socket/websocket")?;
//!     socket.await_connect()?;
//!
//!     socket.join("rooms:lobby", json!({"fizz": "buzz"}));
//!     socket.await_join("rooms:lobby")?;
//!
//!     let ping = socket.push("rooms:lobby", "ping", json!({})); // the push's ref, "2"
//!     let reply = socket.await_reply(&ping)?;
//!     assert_eq!(reply.status, "ok"); // response {"pong": "pong"}
//!
//!     socket.push("rooms:lobby", "push to me", json!({}));
//!     let message = await_message!(socket, "rooms:lobby", "foo", {"bar": "baz"})?;
//!     println!("{} {}", message.event, message.payload.to_value()?);
//!
//!     socket.leave("rooms:lobby");
//!     socket.await_leave("rooms:lobby")?;
//!     socket.disconnect();
//!     socket.await_disconnect()?;
//!     Ok(())
//! }
//! ```
//!
//! Every `await_*` waits at most the socket's await timeout (5 s;
//! [`blocking::Socket::with_timeout`] changes it), and one that times out takes nothing from the
//! mailbox. [`blocking`] has the whole table of the guide's calls.
//!
//! # The guide, async
//!
//! The same flow with [`Socket`]; each `await_*` takes an optional timeout (`None`: the default,
//! 5 s).
//!
//! ```no_run
//! use serde_json::json;
//! use slipstream_client::{message_pattern, ReplyError, Socket};
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
//! let msg = socket.await_message(&message_pattern!(topic, "foo", {"bar": "baz"}), None).await?;
//! println!("{} {} {}", msg.topic, msg.event, msg.payload.to_value()?);
//!
//! socket.leave(topic);
//! socket.await_leave(topic, None).await?;
//! socket.disconnect();
//! socket.await_disconnect(None).await?;
//! # Ok(()) }
//! ```
//!
//! [`SocketBuilder`] has every setting (params, headers, auth token, serializer, heartbeat,
//! reconnect and rejoin schedules, timeouts, limits, TLS) and its default.
//!
//! # Choosing a transport
//!
//! A socket talks to the server over a websocket by default. [`Transport::LongPoll`] uses
//! Phoenix's long-poll transport instead (HTTP GETs that wait for the server's frames, POSTs
//! that carry ours, at `…/socket/longpoll`), for networks that let only plain HTTP through; the
//! endpoint must enable it (`longpoll: true`). [`SocketBuilder::long_poll_fallback`] starts with
//! the websocket and switches to long-poll when it has not opened in time, for the rest of the
//! socket's life; [`Socket::transport`] says which one the connection uses.
//!
//! ```no_run
//! use std::time::Duration;
//! use slipstream_client::{Socket, Transport};
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let socket = Socket::builder("ws://localhost:4000/socket")
//!     .long_poll_fallback(Duration::from_millis(2500))
//!     .build()?;
//! socket.connect();
//! socket.await_connect(None).await?;
//! if socket.transport() == Some(Transport::LongPoll) {
//!     println!("no websocket got through; polling");
//! }
//! # Ok(()) }
//! ```
//!
//! Everything above the transport is shared: refs, joins, pushes and their outcomes, rejoins,
//! backoff. What differs is the protocol's: long-poll sends no heartbeats (a dead server shows as
//! a poll that fails or exceeds [`SocketBuilder::long_poll_timeout`]), and the server cannot
//! send binary frames over it, though the client can push them.
//!
//! # Waiting for server messages: `message_pattern!`
//!
//! Build the pattern of an `await_message` with [`message_pattern!`](crate::message_pattern)`(topic,
//! event, payload)`, the Rust form of the guide's `await_message(topic, event, payload)`:
//!
//! * topic and event are a string (a literal, a variable, or an expression in parentheses), or
//!   `_` for any;
//! * the payload is JSON-like and **partial**: `{"bar": "baz"}` matches any object whose `bar` is
//!   `"baz"`, whatever else it holds; `_` matches anything, also inside objects and arrays
//!   (`{"user": _}` requires the key); arrays match element by element.
//!
//! ```
//! use slipstream_client::{message_pattern, ChannelMessage, Payload};
//!
//! let topic = "rooms:lobby";
//! let foo = message_pattern!(topic, "foo", {"bar": "baz"});
//! let anything = message_pattern!(_, _, _);
//! let m = ChannelMessage {
//!     topic: topic.into(),
//!     event: "foo".into(),
//!     payload: Payload::json(&serde_json::json!({"bar": "baz", "n": 1})),
//! };
//! assert!(foo.matches(&m) && anything.matches(&m));
//! assert!(!message_pattern!(_, "foo", {"bar": "nope"}).matches(&m));
//! ```
//!
//! Pass it to [`Socket::await_message`]; with [`blocking`],
//! [`await_message!`](crate::await_message)`(socket, topic, event, payload)` builds it and waits
//! in one step. The payload part alone is [`pattern!`](macro@crate::pattern) (also what the test
//! kit's assertions take). [`MessagePattern`]'s builder methods are what the macro expands to;
//! reach for them only for what the macro does not say, such as a topic prefix
//! ([`MessagePattern::topic_prefix`], the guide's `"rooms:" <> _`).
//!
//! # Performance: runtimes and tasks
//!
//! The connection task and your code hand events to each other, so where your code runs
//! matters. Measured against a bare tokio-tungstenite loop (`BENCHMARKS.md`, *Client at its
//! floor*):
//!
//! * **Await sockets from spawned tasks** on a multi-thread runtime (the default of
//!   `#[tokio::main]`). Code written straight in `main`'s body runs as `block_on`'s own future,
//!   on a thread that is not one of the runtime's workers, so every hand-off between it and the
//!   connection task wakes another thread: a push-and-reply loop there used 3.5 times the CPU
//!   of the same loop in a `tokio::spawn`ed task.
//! * **A current-thread runtime** costs about the same CPU per round trip as a multi-thread one
//!   and uses one core: pick it to keep a client to one core, not for speed. The multi-thread
//!   runtime pipelines (the connection task writes while your task reads replies), which gave
//!   about 1.6 times the replies per second with 1,000 pushes in flight.
//! * **Pipeline.** [`Socket::push`] returns at once; pushes made together are written together
//!   (one flush), and replies that arrive together reach the mailbox together. Keep many in
//!   flight and await their refs in order.
//! * **Pushes whose reply you do not want**: [`Socket::push_no_reply`] arms no timer and leaves
//!   nothing in the mailbox when it goes out (a failure to send it is still reported).
//! * **Memory**: an idle joined socket costs about 20 KiB (an 8 KiB read buffer included; see
//!   [`SocketBuilder::read_buffer_size`]); one process holds 15,000 of them within a 20,000-file
//!   limit.
//!
//! # More
//!
//! * [`callback`]: Slipstream's module-style client as a trait, with an example.
//! * [`presence`]: Phoenix Presence state and diffs, reconciled as phoenix.js does.
//! * The protocol rules this crate follows are summed up in the repository's `docs/protocol.md`;
//!   the demo server's channels in `docs/demo-server.md`.
//!
//! # Features
//!
//! * `testkit` (off by default): the [`testkit`][testkit-mod] module, whose `TestServer` plays
//!   the server in memory so clients and scripts can be unit-tested without a network. Its tests
//!   run in tokio's paused virtual time (`#[tokio::test(start_paused = true)]`), which needs
//!   tokio's `test-util` feature in your dev-dependencies:
//!
//!   ```toml
//!   [dev-dependencies]
//!   slipstream-client = { git = "https://github.com/slipstream-rs/slipstream", features = ["testkit"] }
//!   tokio = { version = "1", features = ["macros", "rt-multi-thread", "test-util"] }
//!   ```
#![cfg_attr(feature = "testkit", doc = "\n[testkit-mod]: crate::testkit")]
#![cfg_attr(not(feature = "testkit"), doc = "\n[testkit-mod]: #features")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod actor;
mod backoff;
pub mod blocking;
mod burst_storage;
pub mod callback;
mod config;
mod error;
mod event;
mod idle_storage;
mod longpoll;
mod mailbox;
mod message_macros;
pub mod pattern;
pub mod presence;
mod socket;
#[cfg(feature = "testkit")]
#[cfg_attr(docsrs, doc(cfg(feature = "testkit")))]
pub mod testkit;
mod transport;
mod url;

pub use backoff::Backoff;
pub use config::{
    DEFAULT_AWAIT_TIMEOUT, DEFAULT_HEARTBEAT_INTERVAL, DEFAULT_LONG_POLL_TIMEOUT,
    DEFAULT_MAILBOX_CAPACITY, DEFAULT_MAX_FRAME_SIZE, DEFAULT_MAX_MESSAGE_SIZE,
    DEFAULT_OUTBOUND_QUEUE_LIMIT, DEFAULT_PUSH_TIMEOUT, DEFAULT_READ_BUFFER_SIZE,
    DEFAULT_UPGRADE_TIMEOUT, DEFAULT_WRITE_BUFFER_SIZE, HEALTHY_CONNECTION_UPTIME, SocketBuilder,
};
pub use error::{AwaitError, ConfigError, ConnectError, JoinError, LeaveError, ReplyError};
pub use event::{
    ChannelMessage, DisconnectReason, JoinStatus, SocketEvent, TopicCloseReason, close_code_name,
};
pub use pattern::{MessagePattern, Pattern};
pub use slipstream_protocol::{Payload, Ref, Reply, Serializer, SharedStr};
pub use socket::Socket;
pub use transport::Transport;

#[doc(hidden)]
pub mod __private {
    pub use serde_json::{Value, json};
}

/// The README's Rust examples, compiled (and run unless marked `no_run`) by `cargo test --doc`.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
