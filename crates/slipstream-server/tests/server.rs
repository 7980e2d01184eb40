//! Behaviour beyond the recordings: containment (a bad frame or a panicking channel harms no one
//! else), presence leaves on disconnect, the auth-token sub-protocol, connect refusal, the
//! endpoint and the fault-injection handle.

mod support;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use slipstream_server::{
    Channel, ChannelContext, ConnectResult, HandleResult, JoinResult, Payload, RunningServer,
    Server, ServerConfig, Socket,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::http::StatusCode;

use crate::support::ws::{Ws, connect, recv, send};
use crate::support::{any_port, demo_with};

async fn demo() -> RunningServer {
    demo_with(ServerConfig::default()).await
}

async fn join(ws: &mut Ws, join_ref: &str, topic: &str, params: Value) -> Value {
    send(ws, json!([join_ref, join_ref, topic, "phx_join", params])).await;
    recv(ws).await
}

async fn assert_silent(ws: &mut Ws) {
    if let Ok(Some(frame)) = tokio::time::timeout(Duration::from_millis(200), ws.next()).await {
        panic!("expected silence, got {frame:?}");
    }
}

/// A channel that panics on demand, in `join` or in `handle_in`.
struct Fragile;

impl Channel for Fragile {
    async fn join(&mut self, topic: &str, _: Payload, _: &mut ChannelContext) -> JoinResult {
        if topic.ends_with(":explode") {
            panic!("join panicked on purpose");
        }
        JoinResult::Ok(Payload::empty())
    }

    async fn handle_in(&mut self, event: &str, _: Payload, _: &mut ChannelContext) -> HandleResult {
        match event {
            "boom" => panic!("handle_in panicked on purpose"),
            _ => HandleResult::ok(Payload::json(&json!({"alive": true}))),
        }
    }
}

#[tokio::test]
async fn a_panicking_channel_only_errors_that_channel() {
    let socket = Socket::new().channel("fragile:*", |_| Fragile);
    let server = Server::new(socket, ServerConfig::default())
        .bind(any_port())
        .await
        .expect("server starts");
    let url = format!("{}?vsn=2.0.0", server.ws_url());
    let mut ws = connect(&url).await;
    let mut other = connect(&url).await;
    assert_eq!(
        join(&mut ws, "1", "fragile:1", json!({})).await[4]["status"],
        "ok"
    );
    assert_eq!(
        join(&mut ws, "2", "fragile:2", json!({})).await[4]["status"],
        "ok"
    );
    assert_eq!(
        join(&mut other, "1", "fragile:1", json!({})).await[4]["status"],
        "ok"
    );

    send(&mut ws, json!(["1", "3", "fragile:1", "boom", {}])).await;
    assert_eq!(
        recv(&mut ws).await,
        json!(["1", "1", "fragile:1", "phx_error", {}])
    );

    // The sibling channel on the same connection and the same topic on another connection live on.
    send(&mut ws, json!(["2", "4", "fragile:2", "hi", {}])).await;
    assert_eq!(recv(&mut ws).await[4]["response"], json!({"alive": true}));
    send(&mut other, json!(["1", "2", "fragile:1", "hi", {}])).await;
    assert_eq!(
        recv(&mut other).await[4]["response"],
        json!({"alive": true})
    );

    // The crashed topic is unjoined, and can be joined again.
    send(&mut ws, json!(["1", "5", "fragile:1", "hi", {}])).await;
    assert_eq!(
        recv(&mut ws).await[4]["response"]["reason"],
        "unmatched topic"
    );
    assert_eq!(
        join(&mut ws, "6", "fragile:1", json!({})).await[4]["status"],
        "ok"
    );

    // A panic inside join is answered as "join crashed"; the socket stays usable.
    let reply = join(&mut ws, "7", "fragile:explode", json!({})).await;
    assert_eq!(
        reply[4],
        json!({"status": "error", "response": {"reason": "join crashed"}})
    );
    send(&mut ws, json!([null, "8", "phoenix", "heartbeat", {}])).await;
    assert_eq!(recv(&mut ws).await[4]["status"], "ok");
    assert_silent(&mut ws).await;
}

/// A channel that pushes from inside its join (and refuses topics ending in `:no`).
struct Greeter;

impl Channel for Greeter {
    async fn join(&mut self, topic: &str, _: Payload, ctx: &mut ChannelContext) -> JoinResult {
        ctx.push("welcome", Payload::json(&json!({"to": topic})))
            .expect("push");
        if topic.ends_with(":no") {
            return JoinResult::Error(Payload::json(&json!({"reason": "no"})));
        }
        JoinResult::Ok(Payload::empty())
    }

    async fn handle_in(&mut self, _: &str, _: Payload, _: &mut ChannelContext) -> HandleResult {
        HandleResult::NoReply
    }
}

#[tokio::test]
async fn pushes_made_during_join_follow_the_reply() {
    let socket = Socket::new().channel("greet:*", |_| Greeter);
    let server = Server::new(socket, ServerConfig::default())
        .bind(any_port())
        .await
        .expect("server starts");
    let mut ws = connect(&format!("{}?vsn=2.0.0", server.ws_url())).await;
    assert_eq!(
        join(&mut ws, "1", "greet:a", json!({})).await[3],
        "phx_reply"
    );
    assert_eq!(
        recv(&mut ws).await,
        json!(["1", null, "greet:a", "welcome", {"to": "greet:a"}])
    );
    // A refused join's pushes are dropped.
    assert_eq!(
        join(&mut ws, "2", "greet:no", json!({})).await[4]["status"],
        "error"
    );
    assert_silent(&mut ws).await;
}

#[tokio::test]
async fn a_malformed_frame_only_closes_that_client() {
    let server = demo().await;
    let url = format!("{}?vsn=2.0.0", server.ws_url());
    let mut bad = connect(&url).await;
    let mut good = connect(&url).await;
    join(&mut good, "1", "rooms:lobby", json!({})).await;
    join(&mut bad, "1", "rooms:lobby", json!({})).await;

    bad.send(Message::Text("{definitely not".into()))
        .await
        .expect("send");
    assert_eq!(recv(&mut bad).await, json!({"close": 1011}));

    send(&mut good, json!(["1", "2", "rooms:lobby", "ping", {}])).await;
    assert_eq!(
        recv(&mut good).await[4]["response"],
        json!({"pong": "pong"})
    );
    // Broadcasts still reach the survivor (and only it).
    send(
        &mut good,
        json!(["1", "3", "rooms:lobby", "broadcast", {"n": 1}]),
    )
    .await;
    assert_eq!(
        recv(&mut good).await,
        json!([null, null, "rooms:lobby", "broadcast_event", {"n": 1}])
    );
}

#[tokio::test]
async fn presence_leaves_when_a_connection_drops() {
    let server = demo().await;
    let url = format!("{}?vsn=2.0.0", server.ws_url());
    let mut alice = connect(&url).await;
    let mut bob = connect(&url).await;
    join(&mut alice, "1", "presence:room", json!({"user": "alice"})).await;
    let mut first = [recv(&mut alice).await, recv(&mut alice).await];
    first.sort_by_key(|f| f[3].as_str().map(str::to_owned));
    assert_eq!(first[0][3], "presence_diff");
    assert_eq!(first[1][3], "presence_state");
    let alice_ref = first[1][4]["alice"]["metas"][0]["phx_ref"].clone();
    assert!(alice_ref.is_string());
    assert!(first[1][4]["alice"]["metas"][0]["online_at"].is_u64());

    join(&mut bob, "1", "presence:room", json!({})).await;
    let mut frames = [recv(&mut bob).await, recv(&mut bob).await];
    frames.sort_by_key(|f| f[3].as_str().map(str::to_owned));
    assert_eq!(frames[1][4]["alice"]["metas"][0]["phx_ref"], alice_ref);
    assert!(frames[1][4]["anonymous"].is_object());
    assert_eq!(
        recv(&mut alice).await[4]["joins"]["anonymous"]["metas"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    alice.close(None).await.expect("close");
    let diff = recv(&mut bob).await;
    assert_eq!(diff[3], "presence_diff");
    assert_eq!(diff[4]["joins"], json!({}));
    assert_eq!(diff[4]["leaves"]["alice"]["metas"][0]["phx_ref"], alice_ref);
}

/// Sends a raw upgrade request and returns the response head (status line and headers).
async fn raw_upgrade(addr: SocketAddr, path: &str, protocols: Option<&str>) -> String {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.expect("tcp");
    let mut request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    );
    if let Some(protocols) = protocols {
        request.push_str(&format!("Sec-WebSocket-Protocol: {protocols}\r\n"));
    }
    request.push_str("\r\n");
    tcp.write_all(request.as_bytes()).await.expect("write");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut byte)).await {
            Ok(Ok(1)) => head.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).to_lowercase()
}

#[tokio::test]
async fn auth_token_subprotocol() {
    let seen: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let record = seen.clone();
    let socket = Socket::new().on_connect(move |info| {
        let token = info.auth_token.clone().unwrap_or_default();
        record.lock().expect("lock").push(token.clone());
        if token.starts_with(b"secret") || token == [0xfb, 0xff] {
            ConnectResult::Accept { socket_id: None }
        } else {
            ConnectResult::Refuse(StatusCode::FORBIDDEN)
        }
    });
    let server = Server::new(socket, ServerConfig::default().with_auth_token(true))
        .bind(any_port())
        .await
        .expect("server starts");
    let addr = server.local_addr();
    let path = "/socket/websocket?vsn=2.0.0";

    // phoenix.js's encoding: standard alphabet, no padding; `phoenix` is echoed.
    let head = raw_upgrade(
        addr,
        path,
        Some("phoenix, base64url.bearer.phx.c2VjcmV0LXRva2Vu"),
    )
    .await;
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(
        head.contains("sec-websocket-protocol: phoenix\r\n"),
        "{head}"
    );
    // Both alphabets are accepted: bytes fb ff are "+/8" in standard and "-_8" in URL-safe base64.
    for encoded in ["+/8", "-_8"] {
        let offer = format!("phoenix, base64url.bearer.phx.{encoded}");
        let head = raw_upgrade(addr, path, Some(&offer)).await;
        assert!(head.starts_with("http/1.1 101"), "{encoded}: {head}");
    }
    // A wrong token is refused by the connect hook; protocols without `phoenix` are refused.
    let head = raw_upgrade(addr, path, Some("phoenix, base64url.bearer.phx.bm9wZQ")).await;
    assert!(head.starts_with("http/1.1 403"), "{head}");
    let head = raw_upgrade(
        addr,
        path,
        Some("chat, base64url.bearer.phx.c2VjcmV0LXRva2Vu"),
    )
    .await;
    assert!(head.starts_with("http/1.1 403"), "{head}");
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen[0], b"secret-token");
    assert_eq!(seen[1], [0xfb, 0xff]);

    // Without auth_token the offer is ignored: 101 and no Sec-WebSocket-Protocol header.
    let plain = demo().await;
    let head = raw_upgrade(
        plain.local_addr(),
        path,
        Some("phoenix, base64url.bearer.phx.c2VjcmV0LXRva2Vu"),
    )
    .await;
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(!head.contains("sec-websocket-protocol"), "{head}");
}

#[tokio::test]
async fn connect_hook_sees_params_and_headers_and_can_refuse() {
    let socket = Socket::new().on_connect(|info| {
        if info.headers.get("x-client").is_some_and(|v| v == "blocked") {
            return ConnectResult::Refuse(StatusCode::TOO_MANY_REQUESTS);
        }
        match info.param("token") {
            Some("good") => ConnectResult::Accept { socket_id: None },
            _ => ConnectResult::Refuse(StatusCode::FORBIDDEN),
        }
    });
    let server = Server::new(socket, ServerConfig::default())
        .bind(any_port())
        .await
        .expect("server starts");
    let addr = server.local_addr();
    let ok = raw_upgrade(addr, "/socket/websocket?token=good&vsn=2.0.0", None).await;
    assert!(ok.starts_with("http/1.1 101"), "{ok}");
    let refused = raw_upgrade(addr, "/socket/websocket?token=bad&vsn=2.0.0", None).await;
    assert!(refused.starts_with("http/1.1 403"), "{refused}");

    let mut tcp = tokio::net::TcpStream::connect(addr).await.expect("tcp");
    let request = format!(
        "GET /socket/websocket?token=good HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\n\
         Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: a2V5a2V5a2V5a2V5a2V5aw==\r\n\
         X-Client: blocked\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await.expect("write");
    let mut buf = [0u8; 64];
    let n = tcp.read(&mut buf).await.expect("read");
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 429"));
}

#[tokio::test]
async fn endpoint_and_fault_injection() {
    let server = demo().await;
    let url = format!("{}?vsn=2.0.0&user_id=carol", server.ws_url());
    let mut ws = connect(&url).await;
    join(&mut ws, "1", "rooms:lobby", json!({})).await;
    assert_eq!(server.connection_count(), 1);

    // Broadcast from outside any channel.
    server
        .endpoint()
        .broadcast("rooms:lobby", "news", Payload::json(&json!({"x": 1})))
        .expect("broadcast");
    assert_eq!(
        recv(&mut ws).await,
        json!([null, null, "rooms:lobby", "news", {"x": 1}])
    );

    // Heartbeats can be muted and restored.
    server.set_answer_heartbeats(false);
    send(&mut ws, json!([null, "2", "phoenix", "heartbeat", {}])).await;
    assert_silent(&mut ws).await;
    server.set_answer_heartbeats(true);
    send(&mut ws, json!([null, "3", "phoenix", "heartbeat", {}])).await;
    assert_eq!(recv(&mut ws).await[1], "3");

    // Disconnect by socket id closes with 1000.
    assert_eq!(
        server.endpoint().disconnect_socket_id("user_socket:carol"),
        1
    );
    assert_eq!(recv(&mut ws).await, json!({"close": 1000}));

    // close_all_connections uses the given code.
    let mut again = connect(&url).await;
    server.close_all_connections(4001);
    assert_eq!(recv(&mut again).await, json!({"close": 4001}));

    // /health
    let mut tcp = tokio::net::TcpStream::connect(server.local_addr())
        .await
        .expect("tcp");
    tcp.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut response = String::new();
    tcp.read_to_string(&mut response).await.expect("read");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with("\r\n\r\nok"), "{response}");

    // Shutdown drains like Phoenix: close 1012 (service restart).
    let mut last = connect(&url).await;
    server.shutdown().await;
    assert_eq!(recv(&mut last).await, json!({"close": 1012}));
}

#[tokio::test]
async fn leave_rules_follow_phoenix() {
    let server = demo().await;
    let mut ws = connect(&format!("{}?vsn=2.0.0", server.ws_url())).await;
    // Joined with a null join_ref: any leave counts (Phoenix matches a nil stored join_ref).
    send(&mut ws, json!([null, "1", "rooms:lobby", "phx_join", {}])).await;
    assert_eq!(recv(&mut ws).await[4]["status"], "ok");
    send(&mut ws, json!(["x", "2", "rooms:lobby", "phx_leave", {}])).await;
    assert_eq!(
        recv(&mut ws).await,
        json!(["1", "2", "rooms:lobby", "phx_reply", {"status": "ok", "response": {}}])
    );
    assert_eq!(
        recv(&mut ws).await,
        json!([null, null, "rooms:lobby", "phx_close", {}])
    );
    // Joined with "3": a leave with a null join_ref raced nothing we know of and is dropped.
    join(&mut ws, "3", "rooms:lobby", json!({})).await;
    send(&mut ws, json!([null, "4", "rooms:lobby", "phx_leave", {}])).await;
    assert_silent(&mut ws).await;
}

#[tokio::test]
async fn fault_injection_refuses_connects_and_drops_or_delays_replies() {
    let server = demo().await;
    let url = format!("{}?vsn=2.0.0", server.ws_url());

    // Refused upgrades carry the chosen status, until turned off.
    server.set_refuse_connects(Some(429));
    match tokio_tungstenite::connect_async(&url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS)
        }
        other => panic!("expected HTTP 429, got {other:?}"),
    }
    server.set_refuse_connects(None);
    let mut ws = connect(&url).await;
    join(&mut ws, "1", "rooms:lobby", json!({})).await;

    // Dropped replies: the ping is handled, but its reply never comes.
    server.set_drop_replies(true);
    send(&mut ws, json!(["1", "2", "rooms:lobby", "ping", {}])).await;
    assert_silent(&mut ws).await;
    server.set_drop_replies(false);

    // Delayed replies keep their order and arrive after the delay.
    server.set_reply_delay(Duration::from_millis(300));
    let sent = std::time::Instant::now();
    send(&mut ws, json!(["1", "3", "rooms:lobby", "ping", {}])).await;
    send(&mut ws, json!(["1", "4", "rooms:lobby", "echo", {"n": 4}])).await;
    assert_eq!(recv(&mut ws).await[1], "3");
    assert_eq!(recv(&mut ws).await[1], "4");
    assert!(
        sent.elapsed() >= Duration::from_millis(300),
        "the delay was applied"
    );
    server.set_reply_delay(Duration::ZERO);
    send(&mut ws, json!(["1", "5", "rooms:lobby", "ping", {}])).await;
    assert_eq!(recv(&mut ws).await[1], "5");
}
