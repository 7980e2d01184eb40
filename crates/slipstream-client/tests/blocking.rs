//! The blocking scripting API against the in-process demo server: the guide's happy path and the
//! timeout and error paths of every blocking call.

use std::time::Duration;

use serde_json::json;
use slipstream_client::{
    AwaitError, DisconnectReason, JoinError, ReplyError, SocketEvent, await_message, blocking,
    message_pattern,
};
use slipstream_client::{Socket, Transport};
use slipstream_server::{BackgroundServer, ServerConfig};

use crate::support::{closed_by_server, per_transport};

const TOPIC: &str = "rooms:lobby";

/// The demo server on a runtime of its own, so the test thread stays free of any runtime.
fn demo_server() -> BackgroundServer {
    BackgroundServer::start_demo(([127, 0, 0, 1], 0).into(), ServerConfig::default())
        .expect("demo server starts")
}

/// A connected socket joined to the guide's topic, with short awaits.
fn joined(server: &BackgroundServer) -> blocking::Socket {
    joined_over(server, Transport::WebSocket)
}

/// [`joined`] over `transport`.
fn joined_over(server: &BackgroundServer, transport: Transport) -> blocking::Socket {
    let socket =
        blocking::Socket::from_builder(Socket::builder(server.ws_url()).transport(transport))
            .expect("valid URL")
            .with_timeout(Duration::from_secs(5));
    socket.connect();
    socket.await_connect().expect("connects");
    assert_eq!(socket.transport(), Some(transport));
    socket.join(TOPIC, json!({"fizz": "buzz"}));
    socket.await_join(TOPIC).expect("joins");
    socket
}

fn the_guide_step_by_step(transport: Transport) {
    let server = demo_server();
    let socket = joined_over(&server, transport);

    let quicksand = socket.push(TOPIC, "quicksand", json!({"a": "b"}));
    assert_eq!(quicksand.as_str(), Some("2"), "the join took ref 1");

    let reply = socket
        .await_reply(&socket.push(TOPIC, "ping", json!({})))
        .expect("ping is answered");
    assert_eq!(reply.status, "ok");
    assert_eq!(reply.response.to_value().unwrap(), json!({"pong": "pong"}));

    socket.push(TOPIC, "push to me", json!({}));
    let message = await_message!(socket, TOPIC, "foo", {"bar": "baz"}).expect("server push");
    assert_eq!(
        (message.topic.as_str(), message.event.as_str()),
        (TOPIC, "foo")
    );
    assert_eq!(message.json(), Some(json!({"bar": "baz"})));

    socket.push(TOPIC, "push to me", json!({}));
    let message = await_message!(socket, _, _, _).expect("any message");
    assert_eq!(message.event, "foo");

    socket.leave(TOPIC);
    socket.await_leave(TOPIC).expect("leaves");
    assert!(!socket.is_joined(TOPIC));
    socket.disconnect();
    socket.await_disconnect().expect("disconnects");
    assert!(!socket.is_connected());
    assert_eq!(socket.transport(), None);
}
per_transport!(sync #[test] the_guide_step_by_step);

#[test]
fn a_denied_join_carries_the_servers_reason() {
    let server = demo_server();
    let socket = joined(&server);
    socket.join("rooms:secret", json!({"deny": true}));
    let error = socket
        .await_join("rooms:secret")
        .expect_err("the join is refused");
    let JoinError::Rejected {
        response: payload, ..
    } = &error
    else {
        panic!("expected JoinError::Rejected, got {error:?}");
    };
    assert_eq!(
        payload.to_value().unwrap(),
        json!({"reason": "unauthorized"})
    );
}

#[test]
fn a_reply_that_never_comes_times_out() {
    let server = demo_server();
    let socket = joined(&server).with_timeout(Duration::from_millis(300));
    let quicksand = socket.push(TOPIC, "quicksand", json!({}));
    assert_eq!(socket.await_reply(&quicksand), Err(ReplyError::Timeout));
    // The socket is still usable after the timeout.
    let ping = socket.push(TOPIC, "ping", json!({}));
    assert_eq!(socket.await_reply(&ping).expect("ping").status, "ok");
}

#[test]
fn an_await_message_timeout_leaves_the_mailbox_intact() {
    let server = demo_server();
    let socket = joined(&server);
    socket.push(TOPIC, "push to me", json!({}));
    // Wait for "foo" to arrive without taking it: a pattern that cannot match times out…
    let short = socket.with_timeout(Duration::from_millis(500));
    let missed = await_message!(short, TOPIC, "no such event", _);
    assert!(
        matches!(missed, Err(AwaitError::Timeout)),
        "expected a timeout, got {missed:?}"
    );
    // …and "foo" is still there, first in line.
    let events = socket.flush();
    assert!(
        matches!(events.as_slice(), [SocketEvent::Message(m)] if m.event == "foo"),
        "the mailbox kept exactly the unmatched message: {events:?}"
    );
}

fn a_disconnect_while_awaiting_a_reply_fails_the_push_at_once(transport: Transport) {
    let server = demo_server();
    let socket = joined_over(&server, transport).with_timeout(Duration::from_secs(30));
    let quicksand = socket.push(TOPIC, "quicksand", json!({}));
    // Let the push reach the wire, then drop every connection from the server side.
    assert_eq!(
        socket
            .await_reply(&socket.push(TOPIC, "ping", json!({})))
            .unwrap()
            .status,
        "ok"
    );
    let started = std::time::Instant::now();
    std::thread::scope(|scope| {
        let waiter = scope.spawn(|| socket.await_reply(&quicksand));
        std::thread::sleep(Duration::from_millis(100));
        server.running().close_all_connections(1011);
        let outcome = waiter.join().expect("the awaiting thread does not panic");
        assert!(
            matches!(
                &outcome,
                Err(ReplyError::Disconnected(reason)) if closed_by_server(reason, transport, 1011)
            ),
            "expected ReplyError::Disconnected with the server's close, got {outcome:?}"
        );
    });
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the await ended with the connection, not at its deadline"
    );
}
per_transport!(sync #[test] a_disconnect_while_awaiting_a_reply_fails_the_push_at_once);

#[test]
fn await_disconnect_times_out_while_connected() {
    let server = demo_server();
    let socket = joined(&server).with_timeout(Duration::from_millis(200));
    assert!(matches!(
        socket.await_disconnect(),
        Err(AwaitError::Timeout)
    ));
    assert!(socket.is_connected());
}

#[test]
fn await_connect_reports_a_refused_connection() {
    // Bind a port and close it again, so nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let socket = blocking::connect(format!("ws://127.0.0.1:{port}/socket/websocket"))
        .expect("valid URL")
        .with_timeout(Duration::from_secs(5));
    let error = socket.await_connect().expect_err("nothing listens there");
    assert!(
        error.to_string().to_lowercase().contains("refused"),
        "the error says the connection was refused: {error}"
    );
}

#[test]
fn an_invalid_url_is_a_typed_error() {
    let error = blocking::connect("ftp://example.com/socket").expect_err("ftp is no websocket");
    assert!(
        matches!(error, slipstream_client::ConfigError::InvalidUrl { .. }),
        "{error:?}"
    );
}

#[test]
fn message_patterns_built_by_the_macro_match_like_the_guide() {
    let foo = message_pattern!(TOPIC, "foo", {"bar": "baz"});
    let message = slipstream_client::ChannelMessage {
        topic: TOPIC.into(),
        event: "foo".into(),
        payload: slipstream_client::Payload::json(&json!({"bar": "baz"})),
    };
    assert!(foo.matches(&message));
    assert!(!message_pattern!("rooms:other", _, _).matches(&message));
}

#[tokio::test]
#[should_panic(expected = "inside an async runtime")]
async fn blocking_calls_refuse_to_run_inside_a_runtime() {
    let _ = blocking::Socket::new("ws://127.0.0.1:9/socket/websocket");
}

#[test]
fn await_reply_on_a_ref_this_socket_never_issued_fails_at_once() {
    let server = demo_server();
    let socket = joined(&server).with_timeout(Duration::from_secs(30));
    let started = std::time::Instant::now();
    for unknown in ["999", "abc", "02", "0"] {
        let r = slipstream_client::Ref::from(unknown);
        assert_eq!(
            socket.await_reply(&r),
            Err(ReplyError::UnknownRef(r.clone())),
            "{unknown}"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "answered at once, not at the deadline"
    );
    // A real ref still works.
    let ping = socket.push(TOPIC, "ping", json!({}));
    assert_eq!(socket.await_reply(&ping).unwrap().status, "ok");
}

#[test]
fn joining_a_joined_topic_answers_at_once_with_the_join_in_force() {
    let server = demo_server();
    let socket = joined(&server).with_timeout(Duration::from_secs(2));
    socket.join(TOPIC, json!({"again": true}));
    assert_eq!(
        socket
            .await_join(TOPIC)
            .expect("answered")
            .to_value()
            .unwrap(),
        json!({})
    );
    socket.join("rooms:other", json!({}));
    socket.join("rooms:other", json!({}));
    // A second request while the first is on the wire is served by that join's one answer;
    // a later one by the join in force.
    let first = socket.await_join("rooms:other").unwrap();
    assert_eq!(first.to_value().unwrap(), json!({"joined": "rooms:other"}));
    socket.join("rooms:other", json!({}));
    assert_eq!(socket.await_join("rooms:other").unwrap(), first);
}

#[test]
fn connect_and_disconnect_requests_are_answered_even_when_nothing_changes() {
    let server = demo_server();
    let socket = joined(&server).with_timeout(Duration::from_secs(2));
    socket.connect();
    socket
        .await_connect()
        .expect("already connected: answered at once");
    socket.disconnect();
    socket.await_disconnect().unwrap();
    socket.disconnect();
    assert_eq!(
        socket.await_disconnect(),
        Ok(slipstream_client::DisconnectReason::ClientRequested),
        "not connected: answered at once"
    );
    assert!(!socket.is_connected());
}

/// `await_disconnect` returns with everything that disconnect ended already in the mailbox: a
/// script that flushes right after it sees the pushes it failed and the topics it closed. (The
/// connection task used to queue the disconnect first and its consequences after, so a fast
/// reader on another thread could flush in between.)
#[test]
fn await_disconnect_returns_with_its_consequences_already_queued() {
    let server = demo_server();
    for round in 0..200 {
        let socket = joined(&server);
        socket.join("rooms:other", json!({}));
        socket.await_join("rooms:other").expect("joins");
        let unanswered = socket.push(TOPIC, "quicksand", json!({}));
        socket.disconnect();
        assert_eq!(
            socket.await_disconnect().expect("disconnects"),
            DisconnectReason::ClientRequested
        );
        let rest = socket.flush();
        let closed = |topic: &str| {
            rest.iter().any(
                |e| matches!(e, SocketEvent::TopicClosed { topic: t, .. } if t.as_str() == topic),
            )
        };
        let failed = rest
            .iter()
            .any(|e| matches!(e, SocketEvent::Reply { push_ref, .. } if *push_ref == unanswered));
        assert!(
            closed(TOPIC) && closed("rooms:other") && failed,
            "round {round}: flush() right after await_disconnect() gave {rest:?}"
        );
    }
}
