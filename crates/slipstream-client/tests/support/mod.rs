//! Test support: a scripted server (websocket or long-poll) the test drives frame by frame, the
//! demo server, and helpers to run one test over each transport.

#![allow(dead_code)]
// tungstenite fixes the callback signature (its error type is a full HTTP response).
#![allow(clippy::result_large_err)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::http::HeaderValue;

pub mod capture;
pub mod proxy;
pub mod scripted_longpoll;

use scripted_longpoll::{Session, Sessions};
use slipstream_client::Transport;

/// Bound on every wait in these tests.
pub const WAIT: Duration = Duration::from_secs(120);

/// A server the test drives frame by frame, over one transport: each connection the client
/// makes (a websocket, or a long-poll session) is a [`Conn`] with the same methods.
pub struct ScriptedServer {
    side: Side,
    pub port: u16,
    transport: Transport,
}

enum Side {
    WebSocket(TcpListener),
    LongPoll(Sessions),
}

/// What the client sent in its upgrade request (over long-poll: its session-opening GET).
#[derive(Debug, Clone, Default)]
pub struct Upgrade {
    pub uri: String,
    pub protocols: Option<String>,
    /// The `x-phoenix-authtoken` header of a session-opening GET (long-poll only).
    pub auth_token: Option<String>,
}

/// One connection of the client's, as the scripted server sees it.
pub struct Conn {
    link: Link,
    pub upgrade: Upgrade,
}

enum Link {
    WebSocket(Box<WebSocketStream<TcpStream>>),
    LongPoll(Session),
}

impl ScriptedServer {
    /// A websocket server.
    pub async fn start() -> Self {
        Self::start_over(Transport::WebSocket).await
    }

    /// A server speaking `transport`: the websocket endpoint, or `/socket/longpoll`.
    pub async fn start_over(transport: Transport) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let side = match transport {
            Transport::LongPoll => Side::LongPoll(Sessions::serve(listener)),
            _ => Side::WebSocket(listener),
        };
        ScriptedServer {
            side,
            port,
            transport,
        }
    }

    /// The socket URL a client is given (it derives the transport's endpoint from it).
    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}/socket", self.port)
    }

    /// The transport this server speaks, for the client's builder.
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// Accepts the next connection; `echo_protocol` echoes `phoenix` when offered (websocket
    /// only: long-poll has no subprotocols).
    pub async fn accept_with(&self, echo_protocol: bool) -> Conn {
        let listener = match &self.side {
            Side::WebSocket(listener) => listener,
            Side::LongPoll(sessions) => {
                let session = sessions.accept().await;
                let upgrade = session.upgrade.clone();
                return Conn {
                    link: Link::LongPoll(session),
                    upgrade,
                };
            }
        };
        let (tcp, _) = tokio::time::timeout(WAIT, listener.accept())
            .await
            .expect("no connection")
            .unwrap();
        let seen = Arc::new(Mutex::new(Upgrade::default()));
        let seen2 = seen.clone();
        let callback = move |req: &Request, mut resp: Response| {
            let protocols = req
                .headers()
                .get("sec-websocket-protocol")
                .map(|v| v.to_str().unwrap().to_owned());
            if echo_protocol && protocols.is_some() {
                resp.headers_mut().insert(
                    "sec-websocket-protocol",
                    HeaderValue::from_static("phoenix"),
                );
            }
            *seen2.lock().unwrap() = Upgrade {
                uri: req.uri().to_string(),
                protocols,
                auth_token: None,
            };
            Ok(resp)
        };
        let ws = tokio_tungstenite::accept_hdr_async(tcp, callback)
            .await
            .unwrap();
        let upgrade = seen.lock().unwrap().clone();
        Conn {
            link: Link::WebSocket(Box::new(ws)),
            upgrade,
        }
    }

    pub async fn accept(&self) -> Conn {
        self.accept_with(true).await
    }
}

impl Conn {
    /// The next non-heartbeat frame; heartbeats met on the way are acknowledged (paused-time
    /// tests may jump past a heartbeat interval while waiting for I/O).
    pub async fn recv(&mut self) -> Value {
        loop {
            let frame = self.recv_any().await;
            if frame[2] == "phoenix" && frame[3] == "heartbeat" {
                let ack = serde_json::json!([null, frame[1], "phoenix", "phx_reply", {"status": "ok", "response": {}}]);
                self.send(ack).await;
                continue;
            }
            return frame;
        }
    }

    /// The next text frame, parsed as a V2 array (pings/pongs skipped).
    pub async fn recv_any(&mut self) -> Value {
        loop {
            match self.recv_raw().await {
                Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    /// The next frame the client sent, as a websocket message (a long-poll POST's lines are
    /// text or binary messages).
    pub async fn recv_raw(&mut self) -> Message {
        match &mut self.link {
            Link::WebSocket(ws) => tokio::time::timeout(WAIT, ws.next())
                .await
                .expect("no frame from the client")
                .expect("client closed the stream")
                .expect("websocket error"),
            Link::LongPoll(session) => session.recv_raw().await,
        }
    }

    pub async fn send(&mut self, frame: Value) {
        self.send_text(&frame.to_string()).await;
    }

    /// Sends `text` as it is: a text frame, or a message of the next poll's answer.
    pub async fn send_text(&mut self, text: &str) {
        match &mut self.link {
            Link::WebSocket(ws) => ws
                .send(Message::Text(text.to_owned().into()))
                .await
                .unwrap(),
            Link::LongPoll(session) => session.send_text(text),
        }
    }

    /// The server ends the connection: a close frame without a code on a websocket, a session
    /// it forgets (every request answered `410`) over long-poll.
    pub async fn close(&mut self) {
        match &mut self.link {
            Link::WebSocket(ws) => WebSocketStream::close(ws, None).await.unwrap(),
            Link::LongPoll(session) => session.close(),
        }
    }

    /// Checks that the client ended this connection on purpose: a close frame with code 1000
    /// on a websocket; over long-poll (which has no close frame) no poll left in flight and no
    /// request afterwards.
    pub async fn expect_closed_by_client(&mut self) {
        match &mut self.link {
            Link::WebSocket(_) => match self.recv_raw().await {
                Message::Close(Some(f)) => assert_eq!(u16::from(f.code), 1000),
                other => panic!("expected a close frame, got {other:?}"),
            },
            Link::LongPoll(session) => session.expect_abandoned().await,
        }
    }

    /// The websocket itself, for what only a websocket has (pings, close frames).
    pub fn ws(&mut self) -> &mut WebSocketStream<TcpStream> {
        match &mut self.link {
            Link::WebSocket(ws) => ws,
            Link::LongPoll(_) => panic!("a long-poll connection has no websocket"),
        }
    }

    /// Receives a phx_join for `topic` and answers ok; returns its join_ref.
    pub async fn expect_join(&mut self, topic: &str) -> String {
        let join = self.recv().await;
        assert_eq!(join[2], topic, "{join}");
        assert_eq!(join[3], "phx_join", "{join}");
        assert_eq!(join[0], join[1], "join_ref must equal ref: {join}");
        let r = join[0].as_str().unwrap().to_owned();
        self.send(serde_json::json!([r, r, topic, "phx_reply", {"status": "ok", "response": {}}]))
            .await;
        r
    }
}

/// The demo server (docs/demo-server.md) in-process on a free port, for tests that talk to it.
pub async fn demo() -> slipstream_server::RunningServer {
    slipstream_server::spawn_demo("127.0.0.1:0".parse().unwrap(), Default::default())
        .await
        .expect("demo server")
}

/// The demo server with a long-poll window of `window`: a long-poll session whose client stopped
/// polling (a disconnect) is forgotten 1.5 windows later, so tests need not wait 15 s for it.
pub async fn demo_with_window(window: Duration) -> slipstream_server::RunningServer {
    let config = slipstream_server::ServerConfig::default().with_longpoll_window(window);
    slipstream_server::spawn_demo("127.0.0.1:0".parse().unwrap(), config)
        .await
        .expect("demo server")
}

/// Builds the socket, connects and joins `topic` with `{}`; any failure fails the test.
pub async fn joined_socket(
    builder: slipstream_client::SocketBuilder,
    topic: &str,
) -> slipstream_client::Socket {
    let socket = builder.build().expect("socket");
    socket.connect();
    socket.await_connect(None).await.expect("connected");
    socket.join(topic, serde_json::json!({}));
    socket.await_join(topic, None).await.expect("joined");
    socket
}

/// A builder for the demo server's socket over `transport`.
pub fn builder(
    server: &slipstream_server::RunningServer,
    transport: slipstream_client::Transport,
) -> slipstream_client::SocketBuilder {
    slipstream_client::Socket::builder(server.ws_url()).transport(transport)
}

/// Whether `reason` is how `transport` reports that the server dropped the connection: a close
/// frame with `code` on a websocket, a lost session (or failed poll) over long-poll.
pub fn closed_by_server(
    reason: &slipstream_client::DisconnectReason,
    transport: slipstream_client::Transport,
    code: u16,
) -> bool {
    use slipstream_client::{DisconnectReason, Transport};
    match (transport, reason) {
        (Transport::WebSocket, DisconnectReason::ClosedByRemote { code: c, .. }) => {
            *c == Some(code)
        }
        (Transport::LongPoll, DisconnectReason::TransportError(text)) => text.contains("long-poll"),
        _ => false,
    }
}

/// One test per transport for `async fn $name(transport: Transport)`: a module `$name` with
/// the tests `websocket` and `long_poll`, each carrying the attributes given (`#[tokio::test]`…).
/// `per_transport!(sync #[test] name)` does the same for a plain `fn name(transport: Transport)`.
// Not every test binary that includes this module uses it.
#[allow(unused_macros)]
macro_rules! per_transport {
    (sync $(#[$attr:meta])* $name:ident) => {
        mod $name {
            $(#[$attr])*
            fn websocket() {
                super::$name(slipstream_client::Transport::WebSocket)
            }
            $(#[$attr])*
            fn long_poll() {
                super::$name(slipstream_client::Transport::LongPoll)
            }
        }
    };
    ($(#[$attr:meta])* $name:ident) => {
        mod $name {
            $(#[$attr])*
            async fn websocket() {
                super::$name(slipstream_client::Transport::WebSocket).await
            }
            $(#[$attr])*
            async fn long_poll() {
                super::$name(slipstream_client::Transport::LongPoll).await
            }
        }
    };
}
#[allow(unused_imports)]
pub(crate) use per_transport;
