//! Binary payloads and the V1 serializer, against the demo server.

use serde_json::json;
use slipstream_client::{MessagePattern, Payload, Serializer, Socket, message_pattern};
use slipstream_server::RunningServer;

use crate::support::{demo, joined_socket};

async fn joined(server: &RunningServer, serializer: Serializer) -> Socket {
    joined_socket(
        Socket::builder(server.ws_url()).serializer(serializer),
        "rooms:lobby",
    )
    .await
}

#[tokio::test]
async fn binary_pushes_replies_and_messages() {
    let server = demo().await;
    let socket = joined(&server, Serializer::V2).await;

    let bytes = vec![0u8, 1, 2, 254, 255];
    let echo = socket.push("rooms:lobby", "binary echo", Payload::binary(bytes.clone()));
    let reply = socket.await_reply(&echo, None).await.unwrap();
    assert_eq!(reply.status, "ok");
    assert_eq!(reply.response, Payload::binary(bytes));

    socket.push("rooms:lobby", "push binary", json!({}));
    let message = socket
        .await_message(&message_pattern!("rooms:lobby", "bin", _), None)
        .await
        .unwrap();
    assert_eq!(message.payload, Payload::binary(vec![1u8, 2, 3]));

    // A binary broadcast comes back to the sender too (kind 2 frame).
    socket.push("rooms:lobby", "broadcast", Payload::binary(vec![9u8, 8, 7]));
    let broadcast = socket
        .await_message(
            &MessagePattern::any()
                .topic("rooms:lobby")
                .event("broadcast_event"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(broadcast.payload, Payload::binary(vec![9u8, 8, 7]));
    server.shutdown().await;
}

#[tokio::test]
async fn the_v1_serializer_speaks_the_guide_too() {
    let server = demo().await;
    let socket = joined(&server, Serializer::V1).await;

    let ping = socket.push("rooms:lobby", "ping", json!({}));
    let reply = socket.await_reply(&ping, None).await.unwrap();
    assert_eq!(
        (reply.status.as_str(), reply.response.to_value().unwrap()),
        ("ok", json!({"pong": "pong"}))
    );

    socket.push("rooms:lobby", "push to me", json!({}));
    let foo = socket
        .await_message(
            &message_pattern!("rooms:lobby", "foo", {"bar": "baz"}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(foo.event, "foo");

    // V1 has no binary frames: the push is answered with an error, never silently dropped.
    let binary = socket.push("rooms:lobby", "binary echo", Payload::binary(vec![1u8]));
    let outcome = socket.await_reply(&binary, None).await;
    assert!(outcome.is_err(), "a binary push over V1 fails: {outcome:?}");

    socket.leave("rooms:lobby");
    socket.await_leave("rooms:lobby", None).await.unwrap();
    server.shutdown().await;
}
