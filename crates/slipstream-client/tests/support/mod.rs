//! A scripted websocket server: the test drives each connection frame by frame.

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

/// Bound on every wait in these tests.
pub const WAIT: Duration = Duration::from_secs(120);

pub struct ScriptedServer {
    listener: TcpListener,
    pub port: u16,
}

/// What the client sent in its upgrade request.
#[derive(Debug, Clone, Default)]
pub struct Upgrade {
    pub uri: String,
    pub protocols: Option<String>,
}

pub struct Conn {
    pub ws: WebSocketStream<TcpStream>,
    pub upgrade: Upgrade,
}

impl ScriptedServer {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        ScriptedServer { listener, port }
    }

    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}/socket", self.port)
    }

    /// Accepts the next connection; `echo_protocol` echoes `phoenix` when offered.
    pub async fn accept_with(&self, echo_protocol: bool) -> Conn {
        let (tcp, _) = tokio::time::timeout(WAIT, self.listener.accept())
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
            };
            Ok(resp)
        };
        let ws = tokio_tungstenite::accept_hdr_async(tcp, callback)
            .await
            .unwrap();
        let upgrade = seen.lock().unwrap().clone();
        Conn { ws, upgrade }
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

    pub async fn recv_raw(&mut self) -> Message {
        tokio::time::timeout(WAIT, self.ws.next())
            .await
            .expect("no frame from the client")
            .expect("client closed the stream")
            .expect("websocket error")
    }

    pub async fn send(&mut self, frame: Value) {
        self.ws
            .send(Message::Text(frame.to_string().into()))
            .await
            .unwrap();
    }

    pub async fn send_text(&mut self, text: &str) {
        self.ws
            .send(Message::Text(text.to_owned().into()))
            .await
            .unwrap();
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
