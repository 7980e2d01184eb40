//! Errors that point at the fix, against the real in-process server on loopback: a wrong path, a
//! `wss://` URL for a plain server, nothing listening, and a push bigger than the server takes.

use std::time::Duration;

use serde_json::json;
use slipstream_client::{
    ConnectError, DisconnectReason, JoinError, ReplyError, Socket, SocketEvent,
};
use slipstream_server::{RunningServer, ServerConfig, spawn_demo};

use crate::support::{demo, joined_socket};

const WAIT: Option<Duration> = Some(Duration::from_secs(20));

async fn connect_error(url: &str) -> ConnectError {
    let socket = Socket::builder(url).build().unwrap();
    socket.connect();
    socket
        .await_connect(WAIT)
        .await
        .expect_err("the connect must fail")
}

#[tokio::test]
async fn a_404_names_the_path_tried_and_where_phoenix_sockets_live() {
    let server = demo().await;
    let url = format!("ws://{}/live", server.local_addr());
    let error = connect_error(&url).await;
    assert!(
        matches!(&error, ConnectError::Refused { status: 404, path, .. } if path == "/live/websocket"),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "websocket upgrade refused with HTTP 404 (not found): no socket at /live/websocket; \
         Phoenix sockets usually live at /socket/websocket"
    );
}

#[tokio::test]
async fn wss_against_a_plain_server_asks_whether_it_is_a_ws_server() {
    let server = demo().await;
    let addr = server.local_addr();
    let error = connect_error(&format!("wss://{addr}/socket")).await;
    match &error {
        ConnectError::NotTls { addr: seen, .. } => assert_eq!(*seen, addr.to_string()),
        other => panic!("expected ConnectError::NotTls, got {other:?}"),
    }
    let text = error.to_string();
    assert!(
        text.starts_with(&format!(
            "TLS handshake failed: the server at {addr} does not speak TLS"
        )),
        "{text}"
    );
    assert!(text.ends_with("is this a ws:// server?"), "{text}");
}

#[tokio::test]
async fn a_refused_connection_says_nothing_listens_there() {
    // Bind a port, then free it: nothing listens there any more.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let error = connect_error(&format!("ws://{addr}/socket")).await;
    assert_eq!(
        error,
        ConnectError::ConnectionRefused {
            addr: addr.to_string()
        }
    );
    assert_eq!(
        error.to_string(),
        format!("connection refused by {addr}: nothing listens at that address")
    );
}

/// The demo server with a small frame limit, so that a "big" push stays cheap.
async fn small_frame_server() -> RunningServer {
    spawn_demo(
        "127.0.0.1:0".parse().unwrap(),
        ServerConfig::default().with_max_frame_size(64 * 1024),
    )
    .await
    .expect("demo server")
}

#[tokio::test]
async fn a_push_bigger_than_the_servers_limit_fails_with_message_too_big() {
    let server = small_frame_server().await;
    let socket = joined_socket(Socket::builder(server.ws_url()), "rooms:lobby").await;
    let big = "x".repeat(100 * 1024);
    let push = socket.push("rooms:lobby", "ping", json!({ "big": big }));
    let error = socket
        .await_reply(&push, WAIT)
        .await
        .expect_err("no reply can come");
    match &error {
        ReplyError::Disconnected(reason) => assert_eq!(reason.close_code(), Some(1009)),
        other => panic!("expected ReplyError::Disconnected, got {other:?}"),
    }
    let text = error.to_string();
    assert!(text.starts_with("message too big for the server"), "{text}");
    assert!(text.contains("1009"), "{text}");
    // The disconnect itself says the same, in its words.
    let reason = socket.await_disconnect(WAIT).await.unwrap();
    assert_eq!(
        reason.to_string(),
        "closed by the server with 1009 (message too big)"
    );
    // A small push on the same socket still works once it has reconnected and rejoined.
    socket.await_connect(WAIT).await.unwrap();
    socket.await_join("rooms:lobby", WAIT).await.unwrap();
    let ping = socket.push("rooms:lobby", "ping", json!({}));
    assert!(socket.await_reply(&ping, WAIT).await.unwrap().is_ok());
}

#[tokio::test]
async fn a_join_too_big_for_the_server_says_so_when_no_rejoin_follows() {
    let server = small_frame_server().await;
    let socket = Socket::builder(server.ws_url())
        .auto_rejoin(false)
        .build()
        .unwrap();
    socket.connect();
    socket.await_connect(WAIT).await.unwrap();
    socket.join("rooms:lobby", json!({ "big": "x".repeat(100 * 1024) }));
    let error = socket
        .await_join("rooms:lobby", WAIT)
        .await
        .expect_err("the join cannot be answered");
    assert!(
        matches!(
            &error,
            JoinError::Disconnected(DisconnectReason::ClosedByRemote {
                code: Some(1009),
                ..
            })
        ),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .starts_with("message too big for the server"),
        "{error}"
    );
    // The events, printed, read as words.
    let events: Vec<String> = socket.flush().iter().map(SocketEvent::to_string).collect();
    assert!(
        events
            .iter()
            .any(|e| e == "disconnected: closed by the server with 1009 (message too big)"),
        "{events:#?}"
    );
}

#[tokio::test]
async fn a_local_address_is_the_source_of_the_connection() {
    // A listener that only reports where the connection came from.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let socket = Socket::builder(format!("ws://127.0.0.1:{port}/socket/websocket"))
        .local_addr([127, 0, 0, 7].into())
        .build()
        .unwrap();
    socket.connect();
    let (_stream, peer) = tokio::time::timeout(Duration::from_secs(5), listener.accept())
        .await
        .expect("the client connects")
        .unwrap();
    assert_eq!(peer.ip(), std::net::IpAddr::from([127, 0, 0, 7]));
}

#[tokio::test]
async fn a_local_address_that_is_not_ours_is_a_clear_connect_error() {
    let server = demo().await;
    // 192.0.2.0/24 is reserved for documentation: no interface here has it.
    let socket = Socket::builder(server.ws_url())
        .local_addr([192, 0, 2, 1].into())
        .build()
        .unwrap();
    socket.connect();
    let error = socket.await_connect(None).await.unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("binding local address 192.0.2.1"),
        "unexpected error: {text}"
    );
}
