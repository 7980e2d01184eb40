//! The Phoenix 1.8 auth-token sub-protocol, end to end against our server.

use serde_json::json;
use slipstream_client::{ConnectError, Socket};
use slipstream_server::{RunningServer, ServerConfig, spawn_demo};

async fn demo(config: ServerConfig) -> RunningServer {
    spawn_demo("127.0.0.1:0".parse().unwrap(), config)
        .await
        .expect("demo server")
}

#[tokio::test]
async fn a_token_is_accepted_by_a_server_that_takes_tokens() {
    let server = demo(ServerConfig::default().with_auth_token(true)).await;
    let socket = Socket::builder(server.ws_url())
        .auth_token("secret-token/with+symbols")
        .build()
        .unwrap();
    socket.connect();
    socket
        .await_connect(None)
        .await
        .expect("connected with a token");
    socket.join("rooms:lobby", json!({}));
    socket.await_join("rooms:lobby", None).await.unwrap();
    server.shutdown().await;
}

#[tokio::test]
async fn a_token_offered_to_a_server_without_tokens_is_a_clear_error() {
    let server = demo(ServerConfig::default()).await;
    let socket = Socket::builder(server.ws_url())
        .auth_token("secret-token")
        .build()
        .unwrap();
    socket.connect();
    let error = socket
        .await_connect(None)
        .await
        .expect_err("no sub-protocol is echoed");
    assert_eq!(error, ConnectError::AuthTokenNotAccepted);
    server.shutdown().await;
}
