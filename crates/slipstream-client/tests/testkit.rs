//! The test kit, driving a plain `Socket`: every helper, in paused time.

use std::time::Duration;

use serde_json::json;
use slipstream_client::testkit::{ClientClose, TestKitError, TestServer};
use slipstream_client::{
    ConnectError, DisconnectReason, JoinStatus, MessagePattern, Payload, Socket, SocketEvent,
    TopicCloseReason, message_pattern, pattern,
};

const SHORT: Duration = Duration::from_millis(200);

async fn connected(server: &mut TestServer) -> Socket {
    let socket = server.socket().unwrap();
    socket.connect();
    server.accept_connect().await.unwrap();
    socket.await_connect(None).await.unwrap();
    socket
}

async fn joined(server: &mut TestServer, socket: &Socket, topic: &str) {
    socket.join(topic, json!({}));
    let join = server.assert_join(topic, pattern!(_)).await.unwrap();
    server.accept_join(&join, json!({})).unwrap();
    socket.await_join(topic, None).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn accept_connect_reports_the_url_and_params() {
    let mut server = TestServer::new();
    let socket = server.builder().param("token", "abc").build().unwrap();
    socket.connect();
    let request = server.accept_connect().await.unwrap();
    assert_eq!(request.param("token"), Some("abc"));
    assert_eq!(request.param("vsn"), Some("2.0.0"));
    assert!(
        request
            .url
            .starts_with("ws://testkit.invalid/socket/websocket?")
    );
    socket.await_connect(None).await.unwrap();
    assert!(socket.is_connected());
}

#[tokio::test(start_paused = true)]
async fn refuse_connect_is_an_http_refusal_and_refute_connect_sees_no_retry() {
    let mut server = TestServer::new();
    let socket = server.socket().unwrap();
    socket.connect();
    server.refuse_connect(403).await.unwrap();
    assert!(matches!(
        socket.await_connect(None).await,
        Err(ConnectError::Refused { status: 403, .. })
    ));
    // The initial connect is not retried by default.
    server
        .refute_connect(Duration::from_secs(60))
        .await
        .unwrap();

    socket.connect();
    assert_eq!(
        server.refute_connect(SHORT).await,
        Err(TestKitError::UnexpectedConnect {
            url: "ws://testkit.invalid/socket/websocket?vsn=2.0.0".into()
        })
    );
}

#[tokio::test(start_paused = true)]
async fn no_attempt_and_no_connection_are_errors_not_panics() {
    let mut server = TestServer::new();
    server.set_timeout(SHORT);
    assert_eq!(
        server.accept_connect().await,
        Err(TestKitError::NoConnectAttempt { waited: SHORT })
    );
    assert_eq!(
        server.assert_join("t", pattern!(_)).await,
        Err(TestKitError::NotConnected)
    );
    assert_eq!(
        server.push("t", "e", json!({})),
        Err(TestKitError::NotConnected)
    );
}

#[tokio::test(start_paused = true)]
async fn joins_are_matched_by_topic_and_params_and_can_be_refused() {
    let mut server = TestServer::new();
    let socket = connected(&mut server).await;
    socket.join("rooms:a", json!({"user": "ana", "extra": 1}));
    socket.join("rooms:b", json!({"user": "bo"}));
    // Selective: b's join is taken first, a's stays in the inbox.
    let b = server
        .assert_join("rooms:b", pattern!({"user": "bo"}))
        .await
        .unwrap();
    server
        .refuse_join(&b, json!({"reason": "unauthorized"}))
        .unwrap();
    let a = server
        .assert_join("rooms:a", pattern!({"user": "ana"}))
        .await
        .unwrap();
    assert_eq!(a.params, json!({"user": "ana", "extra": 1}).into());
    server.accept_join(&a, json!({"hello": true})).unwrap();

    assert_eq!(
        socket.await_join("rooms:a", None).await,
        Ok(json!({"hello": true}).into())
    );
    let refused = socket.await_join("rooms:b", None).await.unwrap_err();
    assert_eq!(
        refused.rejection(),
        Some(&Payload::from(json!({"reason": "unauthorized"})))
    );
    // Each request is answered once.
    assert_eq!(
        server.accept_join(&a, json!({})),
        Err(TestKitError::UnknownRef(a.join_ref.clone()))
    );
}

#[tokio::test(start_paused = true)]
async fn a_missing_join_times_out_with_what_came_instead() {
    let mut server = TestServer::new();
    let socket = connected(&mut server).await;
    server.set_timeout(SHORT);
    socket.join("rooms:a", json!({"user": "ana"}));
    let err = server
        .assert_join("rooms:a", pattern!({"user": "bo"}))
        .await
        .unwrap_err();
    let TestKitError::Timeout { seen, .. } = &err else {
        panic!("expected a timeout, got {err:?}");
    };
    assert_eq!(seen.len(), 1, "{err}");
    assert!(seen[0].contains("phx_join"), "{err}");
    server
        .refute_join("rooms:a", pattern!({"user": "bo"}), SHORT)
        .await
        .unwrap();
    assert!(matches!(
        server.refute_join("rooms:a", pattern!(_), SHORT).await,
        Err(TestKitError::Refuted { .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn pushes_are_asserted_replied_and_refuted() {
    let mut server = TestServer::new();
    let socket = connected(&mut server).await;
    joined(&mut server, &socket, "rooms:lobby").await;

    let r = socket.push("rooms:lobby", "ping", json!({"n": 1, "body": "hi"}));
    server
        .refute_push("rooms:lobby", "ping", pattern!({"n": 2}), SHORT)
        .await
        .unwrap();
    let push = server
        .assert_push("rooms:lobby", "ping", pattern!({"n": 1}))
        .await
        .unwrap();
    assert_eq!(push.push_ref, r);
    assert!(push.join_ref.is_some());
    server
        .reply(&push.push_ref, "rate_limited", json!({"retry": 5}))
        .unwrap();
    let reply = socket.await_reply(&r, None).await.unwrap();
    assert_eq!(reply.status, "rate_limited");
    assert_eq!(reply.response, json!({"retry": 5}).into());

    // Not joined: the client does not send it, so it cannot match below.
    socket.push("rooms:other", "typing", json!({}));
    socket.push("rooms:lobby", "typing", json!({}));
    let any_lobby = message_pattern!("rooms:lobby", _, _);
    let p = server.assert_push_matching(&any_lobby).await.unwrap();
    assert_eq!(p.event, "typing");
    assert!(matches!(
        server
            .refute_push("rooms:lobby", "typing", pattern!(_), SHORT)
            .await,
        Ok(())
    ));
    socket.push("rooms:lobby", "typing", json!({}));
    assert!(matches!(
        server
            .refute_push("rooms:lobby", "typing", pattern!(_), SHORT)
            .await,
        Err(TestKitError::Refuted { .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn server_pushes_and_broadcasts_reach_the_mailbox() {
    let mut server = TestServer::new();
    let socket = connected(&mut server).await;
    joined(&mut server, &socket, "rooms:lobby").await;
    server
        .push("rooms:lobby", "foo", json!({"bar": "baz"}))
        .unwrap();
    server
        .broadcast("rooms:lobby", "news", json!({"n": 1}))
        .unwrap();
    assert_eq!(
        server.push("rooms:nope", "foo", json!({})),
        Err(TestKitError::NotJoined("rooms:nope".into()))
    );
    let foo = socket
        .await_message(
            &message_pattern!("rooms:lobby", "foo", {"bar": "baz"}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(foo.event, "foo");
    let news = socket
        .await_message(&MessagePattern::any().event("news"), None)
        .await
        .unwrap();
    assert_eq!(news.json(), Some(json!({"n": 1})));
}

#[tokio::test(start_paused = true)]
async fn a_crash_is_rejoined_on_schedule_and_a_close_is_final() {
    let mut server = TestServer::new();
    let socket = connected(&mut server).await;
    joined(&mut server, &socket, "rooms:lobby").await;

    server.crash("rooms:lobby").unwrap();
    let event = socket.next_event(None).await.unwrap();
    assert_eq!(
        event,
        SocketEvent::TopicErrored {
            topic: "rooms:lobby".into(),
            payload: json!({"reason": "channel_crash"}).into(),
            rejoin_in: Duration::from_secs(1),
        }
    );
    // The default rejoin schedule, without jitter: 1 s.
    let before = tokio::time::Instant::now();
    let rejoin = server
        .assert_join("rooms:lobby", pattern!(_))
        .await
        .unwrap();
    assert_eq!(before.elapsed(), Duration::from_secs(1));
    server.accept_join(&rejoin, json!({})).unwrap();
    socket.await_join("rooms:lobby", None).await.unwrap();

    server.close_topic("rooms:lobby").unwrap();
    assert_eq!(
        socket.next_event(None).await.unwrap(),
        SocketEvent::TopicClosed {
            topic: "rooms:lobby".into(),
            reason: TopicCloseReason::ClosedByServer(json!({}).into()),
        }
    );
    server
        .refute_join("rooms:lobby", pattern!(_), Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        server.crash("rooms:lobby"),
        Err(TestKitError::NotJoined("rooms:lobby".into()))
    );
}

#[tokio::test(start_paused = true)]
async fn leaves_are_answered_like_phoenix() {
    let mut server = TestServer::new();
    let socket = connected(&mut server).await;
    joined(&mut server, &socket, "rooms:lobby").await;
    server.refute_leave("rooms:lobby", SHORT).await.unwrap();
    socket.leave("rooms:lobby");
    server.assert_leave("rooms:lobby").await.unwrap();
    socket.await_leave("rooms:lobby", None).await.unwrap();
    assert_eq!(socket.join_status("rooms:lobby"), JoinStatus::Closed);
    // The leave was answered: no leave timeout, nothing else in the mailbox.
    assert!(socket.flush().is_empty());
}

#[tokio::test(start_paused = true)]
async fn client_disconnects_are_seen_with_their_close_code() {
    let mut server = TestServer::new();
    let socket = connected(&mut server).await;
    server.refute_disconnect(SHORT).await.unwrap();
    socket.disconnect();
    assert_eq!(
        server.assert_disconnect().await,
        Ok(ClientClose {
            code: Some(1000),
            reason: String::new()
        })
    );
    assert_eq!(
        socket.await_disconnect(None).await,
        Ok(DisconnectReason::ClientRequested)
    );
    // No reconnect after a requested disconnect.
    server
        .refute_connect(Duration::from_secs(60))
        .await
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_dropped_connection_is_reconnected_and_topics_rejoined() {
    let mut server = TestServer::new();
    let socket = connected(&mut server).await;
    joined(&mut server, &socket, "rooms:lobby").await;
    server.drop_connection().unwrap();
    assert!(matches!(
        socket.await_disconnect(None).await,
        Ok(DisconnectReason::TransportError(_))
    ));
    // First reconnect step: 10 ms.
    server.accept_connect().await.unwrap();
    socket.await_connect(None).await.unwrap();
    let rejoin = server
        .assert_join("rooms:lobby", pattern!(_))
        .await
        .unwrap();
    server.accept_join(&rejoin, json!({})).unwrap();
    socket.await_join("rooms:lobby", None).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_close_frame_from_the_server_is_closed_by_remote() {
    let mut server = TestServer::new();
    let socket = connected(&mut server).await;
    server.close_connection(1012, "restart").unwrap();
    assert_eq!(
        socket.await_disconnect(None).await,
        Ok(DisconnectReason::ClosedByRemote {
            code: Some(1012),
            reason: "restart".into()
        })
    );
    assert_eq!(
        server.close_connection(1000, ""),
        Err(TestKitError::NotConnected)
    );
    server.accept_connect().await.unwrap();
    socket.await_connect(None).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn heartbeats_are_answered_until_stopped_then_time_out() {
    let mut server = TestServer::new();
    let socket = connected(&mut server).await;
    // Over five minutes of virtual time: heartbeats every 30 s, all answered.
    server
        .refute_disconnect(Duration::from_secs(315))
        .await
        .unwrap();
    assert_eq!(server.heartbeats(), 10);
    assert!(socket.is_connected());

    server.stop_heartbeats();
    server.set_timeout(Duration::from_secs(120));
    let before = tokio::time::Instant::now();
    let close = server.assert_disconnect().await.unwrap();
    assert_eq!(close.code, Some(1000));
    assert_eq!(close.reason, "heartbeat timeout");
    // The heartbeat at 330 s goes unanswered; the timeout is declared one interval later.
    assert_eq!(before.elapsed(), Duration::from_secs(360 - 315));
    assert_eq!(
        socket.await_disconnect(None).await,
        Ok(DisconnectReason::HeartbeatTimeout)
    );

    server.answer_heartbeats();
    server.accept_connect().await.unwrap();
    socket.await_connect(None).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn an_unanswered_connect_hits_the_upgrade_timeout() {
    let mut server = TestServer::new();
    let socket = server
        .builder()
        .upgrade_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    socket.connect();
    assert_eq!(
        socket.await_connect(None).await,
        Err(ConnectError::UpgradeTimeout(Duration::from_secs(2)))
    );
    // The stale attempt is skipped: nothing to accept.
    server.set_timeout(SHORT);
    assert!(server.accept_connect().await.is_err());
}

#[tokio::test(start_paused = true)]
async fn a_join_without_an_answer_times_out_and_the_join_is_left() {
    let mut server = TestServer::new();
    let socket = connected(&mut server).await;
    socket.join("rooms:lobby", json!({}));
    server
        .assert_join("rooms:lobby", pattern!(_))
        .await
        .unwrap();
    // The server never answers: after the push timeout (10 s) the socket gives up, reports it,
    // and tells the server to drop the join it might still complete, as phoenix.js does.
    let outcome = socket
        .await_join("rooms:lobby", Some(Duration::from_secs(30)))
        .await;
    assert!(
        matches!(outcome, Err(slipstream_client::JoinError::NoReply)),
        "{outcome:?}"
    );
    server.assert_leave("rooms:lobby").await.unwrap();
    assert!(!socket.is_joined("rooms:lobby"));
}

/// Pushes `count` server messages numbered from `first` to `topic` (a flood the client does not
/// read).
fn flood(server: &mut TestServer, topic: &str, first: u32, count: u32) {
    for n in first..first + count {
        server.push(topic, "flood", json!({"n": n})).unwrap();
    }
}

#[tokio::test(start_paused = true)]
async fn a_flood_into_a_full_mailbox_costs_no_reply_and_no_lifecycle_event() {
    let mut server = TestServer::new();
    let socket = server.builder().mailbox_capacity(10).build().unwrap();
    socket.connect();
    server.accept_connect().await.unwrap();
    socket.await_connect(None).await.unwrap();
    joined(&mut server, &socket, "rooms:flood").await;
    flood(&mut server, "rooms:flood", 0, 1_000);

    // A push sent after the flood still gets its reply.
    let ping = socket.push("rooms:flood", "ping", json!({}));
    let asked = server
        .assert_push("rooms:flood", "ping", pattern!(_))
        .await
        .unwrap();
    server
        .reply(&asked.push_ref, "ok", json!({"pong": 1}))
        .unwrap();
    let reply = socket.await_reply(&ping, None).await.unwrap();
    assert_eq!(reply.status, "ok");

    // Joins, leaves and crashes are still delivered, with the mailbox as full as ever.
    joined(&mut server, &socket, "rooms:other").await;
    socket.leave("rooms:other");
    server.assert_leave("rooms:other").await.unwrap();
    socket.await_leave("rooms:other", None).await.unwrap();
    flood(&mut server, "rooms:flood", 1_000, 10);
    server.crash("rooms:flood").unwrap();
    let rejoin = server
        .assert_join("rooms:flood", pattern!(_))
        .await
        .unwrap();
    server.accept_join(&rejoin, json!({})).unwrap();
    socket.await_join("rooms:flood", None).await.unwrap();

    // Exactly the pushes past the first ten were dropped; the ten kept are the first ten, in
    // order, and the crash is there too.
    assert_eq!(socket.dropped_events(), 1_000);
    let events = socket.flush();
    let kept: Vec<serde_json::Value> = events
        .iter()
        .filter_map(|e| match e {
            SocketEvent::Message(m) => m.json(),
            _ => None,
        })
        .collect();
    assert_eq!(kept, (0..10).map(|n| json!({"n": n})).collect::<Vec<_>>());
    assert!(
        events.iter().any(
            |e| matches!(e, SocketEvent::TopicErrored { topic, .. } if topic == "rooms:flood")
        ),
        "{events:?}"
    );

    // Once the mailbox is read, pushes are kept again.
    flood(&mut server, "rooms:flood", 2_000, 1);
    let m = socket
        .await_message(&MessagePattern::any().event("flood"), None)
        .await
        .unwrap();
    assert_eq!(m.json(), Some(json!({"n": 2_000})));
    assert_eq!(socket.dropped_events(), 1_000);
}
