//! Lifecycle rules against the scripted server, frame by frame, over both transports: each rule
//! that is not about one transport's own frames (subprotocols, pings, heartbeats, close frames)
//! runs once over a websocket and once over long-poll, through `per_transport!`.

use std::time::Duration;

use futures_util::SinkExt;
use serde_json::json;
use slipstream_client::{
    AwaitError, Backoff, ConnectError, DisconnectReason, JoinError, JoinStatus, LeaveError,
    MessagePattern, ReplyError, Socket, SocketEvent, TopicCloseReason, Transport, pattern,
};
use tokio_tungstenite::tungstenite::Message;

use crate::support::{ScriptedServer, WAIT, per_transport};

fn builder(server: &ScriptedServer) -> slipstream_client::SocketBuilder {
    Socket::builder(server.url())
        .transport(server.transport())
        .reconnect_after(Backoff::steps([10, 50], 100).without_jitter())
        .rejoin_after(Backoff::steps([1000, 2000], 5000).without_jitter())
        .await_timeout(WAIT)
}

async fn connected(server: &ScriptedServer, socket: &Socket) -> crate::support::Conn {
    socket.connect();
    let conn = server.accept().await;
    socket.await_connect(None).await.unwrap();
    conn
}

/// Joins `topic` with `{}`, the scripted server accepting; returns the join_ref.
async fn joined(socket: &Socket, conn: &mut crate::support::Conn, topic: &str) -> String {
    socket.join(topic, json!({}));
    let join_ref = conn.expect_join(topic).await;
    socket.await_join(topic, None).await.unwrap();
    join_ref
}

per_transport!(
    #[tokio::test(start_paused = true)]
    url_gets_the_transport_path_vsn_and_fresh_params_per_connect
);
async fn url_gets_the_transport_path_vsn_and_fresh_params_per_connect(transport: Transport) {
    let server = ScriptedServer::start_over(transport).await;
    let n = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let n2 = n.clone();
    let socket = builder(&server)
        .param("a", "1")
        .params_fn(move || {
            vec![(
                "user".into(),
                format!("u{}", n2.fetch_add(1, std::sync::atomic::Ordering::SeqCst)),
            )]
        })
        .build()
        .unwrap();
    let path = match transport {
        Transport::LongPoll => "/socket/longpoll",
        _ => "/socket/websocket",
    };
    let conn = connected(&server, &socket).await;
    assert_eq!(conn.upgrade.uri, format!("{path}?a=1&user=u0&vsn=2.0.0"));
    drop(conn); // the server drops the connection → the reconnect re-evaluates the params
    let conn = server.accept().await;
    assert_eq!(conn.upgrade.uri, format!("{path}?a=1&user=u1&vsn=2.0.0"));
}

#[tokio::test(start_paused = true)]
async fn auth_token_is_offered_as_subprotocols_and_missing_echo_is_a_clear_error() {
    let server = ScriptedServer::start().await;
    let socket = builder(&server).auth_token("secret-token").build().unwrap();
    socket.connect();
    let conn = server.accept_with(true).await;
    socket.await_connect(None).await.unwrap();
    assert_eq!(
        conn.upgrade.protocols.as_deref(),
        Some("phoenix, base64url.bearer.phx.c2VjcmV0LXRva2Vu")
    );
    socket.disconnect();
    socket.await_disconnect(None).await.unwrap();

    socket.connect();
    let _conn = server.accept_with(false).await;
    assert_eq!(
        socket.await_connect(None).await,
        Err(ConnectError::AuthTokenNotAccepted)
    );
}

/// Long-poll has no subprotocols: the token goes in the session-opening GET's header, as
/// Phoenix 1.8 reads it, and never in the URL.
#[tokio::test(start_paused = true)]
async fn auth_token_goes_in_a_header_over_long_poll() {
    let server = ScriptedServer::start_over(Transport::LongPoll).await;
    let socket = builder(&server).auth_token("secret-token").build().unwrap();
    let conn = connected(&server, &socket).await;
    assert_eq!(conn.upgrade.auth_token.as_deref(), Some("secret-token"));
    assert!(!conn.upgrade.uri.contains("secret"), "{}", conn.upgrade.uri);
}

per_transport!(
    #[tokio::test]
    connection_refused_and_dns_failures_are_distinct
);
async fn connection_refused_and_dns_failures_are_distinct(transport: Transport) {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let socket = Socket::builder(format!("ws://127.0.0.1:{port}/socket"))
        .transport(transport)
        .build()
        .unwrap();
    socket.connect();
    assert!(matches!(
        socket.await_connect(None).await,
        Err(ConnectError::ConnectionRefused { .. })
    ));
    let socket = Socket::builder("ws://no-such-host.invalid/socket")
        .transport(transport)
        .build()
        .unwrap();
    socket.connect();
    assert!(matches!(
        socket.await_connect(None).await,
        Err(ConnectError::Dns { .. })
    ));
}

per_transport!(
    #[tokio::test(start_paused = true)]
    upgrade_timeout_when_the_server_never_answers
);
async fn upgrade_timeout_when_the_server_never_answers(transport: Transport) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let socket = Socket::builder(format!("ws://127.0.0.1:{port}/socket"))
        .transport(transport)
        .upgrade_timeout(Duration::from_secs(3))
        .await_timeout(WAIT)
        .build()
        .unwrap();
    socket.connect();
    let (_tcp, _) = listener.accept().await.unwrap(); // accept, never answer
    assert_eq!(
        socket.await_connect(None).await,
        Err(ConnectError::UpgradeTimeout(Duration::from_secs(3)))
    );
}

#[tokio::test(start_paused = true)]
async fn heartbeat_ack_is_matched_by_ref_and_a_missing_ack_reconnects() {
    let server = ScriptedServer::start().await;
    let socket = builder(&server).build().unwrap();
    let mut conn = connected(&server, &socket).await;

    let hb = conn.recv_any().await; // after 30 s of virtual time
    assert_eq!(hb[2], "phoenix");
    assert_eq!(hb[3], "heartbeat");
    assert_eq!(hb[0], serde_json::Value::Null);
    let r = hb[1].as_str().unwrap().to_owned();
    conn.send(json!([null, r, "phoenix", "phx_reply", {"status": "ok", "response": {}}]))
        .await;

    let hb2 = conn.recv_any().await;
    assert_eq!(hb2[3], "heartbeat");
    assert_ne!(hb2[1], hb[1], "every heartbeat has a fresh ref");
    // An ack with the wrong ref does not count.
    conn.send(json!([null, "999", "phoenix", "phx_reply", {"status": "ok", "response": {}}]))
        .await;

    assert_eq!(
        socket.await_disconnect(None).await,
        Ok(DisconnectReason::HeartbeatTimeout)
    );
    // Close frame "heartbeat timeout" was sent.
    match conn.recv_raw().await {
        Message::Close(Some(f)) => assert_eq!(f.reason.as_str(), "heartbeat timeout"),
        other => panic!("expected a close frame, got {other:?}"),
    }
    let _conn2 = server.accept().await;
    socket.await_connect(None).await.unwrap();
}

/// Long-poll has no heartbeats (as phoenix.js): its polls tell the server the client is there.
#[tokio::test(start_paused = true)]
async fn no_heartbeats_over_long_poll() {
    let server = ScriptedServer::start_over(Transport::LongPoll).await;
    let socket = builder(&server).build().unwrap();
    let mut conn = connected(&server, &socket).await;
    // Four heartbeat intervals of the websocket, without a frame from either side.
    tokio::time::sleep(Duration::from_secs(120)).await;
    assert!(socket.is_connected());
    socket.join("room:1", json!({}));
    let first = conn.recv_any().await;
    assert_eq!(first[3], "phx_join", "the first frame sent: {first}");
}

per_transport!(
    #[tokio::test(start_paused = true)]
    join_push_reply_and_buffered_pushes_keep_their_refs
);
async fn join_push_reply_and_buffered_pushes_keep_their_refs(transport: Transport) {
    let server = ScriptedServer::start_over(transport).await;
    let socket = builder(&server).build().unwrap();
    let mut conn = connected(&server, &socket).await;

    socket.join("room:1", json!({"k": "v"}));
    let join = conn.recv().await;
    assert_eq!(join[4], json!({"k": "v"}));
    assert_eq!(socket.join_status("room:1"), JoinStatus::Joining);
    // Pushed while joining: buffered, not on the wire yet.
    let early = socket.push("room:1", "early", json!({"n": 1}));
    let jr = join[0].as_str().unwrap().to_owned();
    conn.send(json!([jr, jr, "room:1", "phx_reply", {"status": "ok", "response": {"hello": 1}}]))
        .await;
    assert_eq!(
        socket.await_join("room:1", None).await.unwrap(),
        json!({"hello": 1}).into()
    );
    assert!(socket.is_joined("room:1"));

    let sent = conn.recv().await;
    assert_eq!(
        sent,
        json!([jr, early.to_string(), "room:1", "early", {"n": 1}])
    );
    conn.send(json!([jr, early.to_string(), "room:1", "phx_reply", {"status": "error", "response": {"e": 1}}])).await;
    let reply = socket.await_reply(&early, None).await.unwrap();
    assert_eq!(reply.status, "error");

    // A push nobody answers: the push timeout (10 s) reports it.
    let lost = socket.push("room:1", "quicksand", json!({}));
    let _ = conn.recv().await;
    assert_eq!(
        socket
            .await_reply(&lost, Some(Duration::from_secs(1)))
            .await,
        Err(ReplyError::Timeout),
        "the await's own timeout consumes nothing"
    );
    assert_eq!(
        socket.await_reply(&lost, None).await,
        Err(ReplyError::PushTimeout(Duration::from_secs(10)))
    );
}

// Real time: nothing here waits for a timer except the short rejoin delay.
per_transport!(
    #[tokio::test]
    stale_join_refs_are_dropped_and_null_join_refs_accepted
);
async fn stale_join_refs_are_dropped_and_null_join_refs_accepted(transport: Transport) {
    let server = ScriptedServer::start_over(transport).await;
    let socket = builder(&server).build().unwrap();
    let mut conn = connected(&server, &socket).await;
    let jr = joined(&socket, &mut conn, "room:1").await;

    // Duplicate-join style close for an older join_ref: ignored.
    conn.send(json!(["0", "0", "room:1", "phx_close", {}]))
        .await;
    conn.send(json!(["0", null, "room:1", "old", {}])).await;
    conn.send(json!([null, null, "room:1", "broadcast", {"b": 1}]))
        .await;
    conn.send(json!([jr, null, "room:1", "push", {"p": 1}]))
        .await;
    let m = socket
        .await_message(&MessagePattern::any().event("broadcast"), None)
        .await
        .unwrap();
    assert_eq!(m.json(), Some(json!({"b": 1})));
    let m = socket
        .await_message(&MessagePattern::any().payload(pattern!({"p": _})), None)
        .await
        .unwrap();
    assert_eq!(m.event, "push");
    assert!(socket.is_joined("room:1"));
    assert!(
        socket.flush().is_empty(),
        "the stale frames produced no events"
    );

    // Unmatched-topic reply (null join_ref) resolves a push by its ref.
    let r = socket.push("room:1", "x", json!({}));
    let _ = conn.recv().await;
    conn.send(json!([null, r.to_string(), "room:1", "phx_reply", {"status": "error", "response": {"reason": "unmatched topic"}}])).await;
    let reply = socket.await_reply(&r, None).await.unwrap();
    assert_eq!(reply.status, "error");
}

per_transport!(
    #[tokio::test(start_paused = true)]
    drop_fails_in_flight_pushes_then_reconnects_and_rejoins_with_a_fresh_join_ref
);
async fn drop_fails_in_flight_pushes_then_reconnects_and_rejoins_with_a_fresh_join_ref(
    transport: Transport,
) {
    let server = ScriptedServer::start_over(transport).await;
    let socket = builder(&server).build().unwrap();
    let mut conn = connected(&server, &socket).await;
    socket.join("room:1", json!({"a": 1}));
    let jr1 = conn.expect_join("room:1").await;
    socket.await_join("room:1", None).await.unwrap();
    let r = socket.push("room:1", "slow", json!({}));
    let _ = conn.recv().await;
    conn.close().await;
    drop(conn);

    // The failure says how the connection ended: a close frame without a code, or a session
    // the server no longer knows.
    let lost = match socket.await_reply(&r, None).await {
        Err(ReplyError::Disconnected(reason)) => reason,
        other => panic!("expected the push to fail with the connection, got {other:?}"),
    };
    match transport {
        Transport::LongPoll => assert!(
            matches!(&lost, DisconnectReason::TransportError(t) if t.contains("session lost")),
            "{lost:?}"
        ),
        _ => assert_eq!(
            lost,
            DisconnectReason::ClosedByRemote {
                code: None,
                reason: String::new(),
            }
        ),
    }
    assert_eq!(socket.await_disconnect(None).await, Ok(lost));
    assert_eq!(socket.join_status("room:1"), JoinStatus::Errored);
    let mut conn = server.accept().await;
    socket.await_connect(None).await.unwrap();
    let join = conn.recv().await;
    assert_eq!(join[4], json!({"a": 1}), "rejoined with the same params");
    let jr2 = join[0].as_str().unwrap().to_owned();
    assert_ne!(jr1, jr2);
    assert!(
        jr2.parse::<u64>().unwrap() > r.to_string().parse::<u64>().unwrap(),
        "refs never reset"
    );
    conn.send(json!([jr2, jr2, "room:1", "phx_reply", {"status": "ok", "response": {}}]))
        .await;
    socket.await_join("room:1", None).await.unwrap();
}

// Real time, as the test above.
per_transport!(
    #[tokio::test]
    a_flood_of_phx_error_is_one_crash_and_one_rejoin
);
async fn a_flood_of_phx_error_is_one_crash_and_one_rejoin(transport: Transport) {
    let server = ScriptedServer::start_over(transport).await;
    let socket = builder(&server)
        .rejoin_after(Backoff::steps([50, 100], 200).without_jitter())
        .build()
        .unwrap();
    let mut conn = connected(&server, &socket).await;
    let jr = joined(&socket, &mut conn, "room:1").await;

    conn.send(json!([jr, jr, "room:1", "phx_error", {"reason": "channel_crash"}]))
        .await;
    for _ in 0..200 {
        conn.send(json!([null, null, "room:1", "phx_error", {"reason": "again"}]))
            .await;
    }
    // Frames are handled in order: once this one is reported, so are the 201 before it.
    conn.send_text("end of the flood").await;
    let mut crashes = 0;
    loop {
        match socket.next_event(None).await.unwrap() {
            SocketEvent::TopicErrored { .. } => crashes += 1,
            SocketEvent::MalformedFrame { .. } => break,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        crashes, 1,
        "one crash, however many phx_error frames say so"
    );
    let jr2 = conn.expect_join("room:1").await;
    assert_ne!(jr, jr2);
    socket.await_join("room:1", None).await.unwrap();
    // One rejoin, not one per phx_error: nothing more comes over several rejoin delays.
    let more = tokio::time::timeout(Duration::from_millis(400), conn.recv()).await;
    assert!(more.is_err(), "another frame after the rejoin: {more:?}");
}

// Real time: nothing here waits for a timer except the short rejoin delay.
per_transport!(
    #[tokio::test]
    phx_error_rejoins_on_the_rejoin_schedule_and_phx_close_is_final
);
async fn phx_error_rejoins_on_the_rejoin_schedule_and_phx_close_is_final(transport: Transport) {
    let server = ScriptedServer::start_over(transport).await;
    let socket = builder(&server)
        .rejoin_after(Backoff::steps([50, 100], 200).without_jitter())
        .build()
        .unwrap();
    let mut conn = connected(&server, &socket).await;
    let jr = joined(&socket, &mut conn, "room:1").await;

    conn.send(json!([jr, jr, "room:1", "phx_error", {"reason": "channel_crash"}]))
        .await;
    match socket.next_event(None).await.unwrap() {
        SocketEvent::TopicErrored {
            topic, rejoin_in, ..
        } => {
            assert_eq!(topic, "room:1");
            assert_eq!(rejoin_in, Duration::from_millis(50));
        }
        other => panic!("{other:?}"),
    }
    let started = tokio::time::Instant::now();
    let jr2 = conn.expect_join("room:1").await;
    assert!(started.elapsed() >= Duration::from_millis(40));
    assert_ne!(jr, jr2);
    socket.await_join("room:1", None).await.unwrap();

    conn.send(json!([jr2, jr2, "room:1", "phx_close", {}]))
        .await;
    match socket.next_event(None).await.unwrap() {
        SocketEvent::TopicClosed {
            topic,
            reason: TopicCloseReason::ClosedByServer(_),
        } => assert_eq!(topic, "room:1"),
        other => panic!("{other:?}"),
    }
    assert_eq!(socket.join_status("room:1"), JoinStatus::Closed);
    let r = socket.push("room:1", "x", json!({}));
    assert_eq!(
        socket.await_reply(&r, None).await,
        Err(ReplyError::NotJoined("room:1".into()))
    );
}

per_transport!(
    #[tokio::test(start_paused = true)]
    join_rejection_carries_the_server_payload
);
async fn join_rejection_carries_the_server_payload(transport: Transport) {
    let server = ScriptedServer::start_over(transport).await;
    let socket = builder(&server).build().unwrap();
    let mut conn = connected(&server, &socket).await;
    socket.join("room:1", json!({}));
    let join = conn.recv().await;
    let jr = join[0].as_str().unwrap();
    conn.send(json!([jr, jr, "room:1", "phx_reply", {"status": "error", "response": {"reason": "unauthorized"}}])).await;
    let err = socket.await_join("room:1", None).await.unwrap_err();
    assert_eq!(
        err.rejection(),
        Some(&json!({"reason": "unauthorized"}).into())
    );
    assert_eq!(socket.join_status("room:1"), JoinStatus::Closed);
}

per_transport!(
    #[tokio::test(start_paused = true)]
    malformed_frames_are_reported_not_fatal
);
async fn malformed_frames_are_reported_not_fatal(transport: Transport) {
    let server = ScriptedServer::start_over(transport).await;
    let socket = builder(&server).build().unwrap();
    let mut conn = connected(&server, &socket).await;
    conn.send_text("this is not json").await;
    conn.send_text("[1,2]").await;
    match socket.next_event(None).await.unwrap() {
        SocketEvent::MalformedFrame { .. } => {}
        other => panic!("{other:?}"),
    }
    match socket.next_event(None).await.unwrap() {
        SocketEvent::MalformedFrame { .. } => {}
        other => panic!("{other:?}"),
    }
    assert!(socket.is_connected());
    // Still in business: a join after the bad frames goes through.
    joined(&socket, &mut conn, "room:1").await;
}

#[tokio::test(start_paused = true)]
async fn websocket_pings_are_answered_with_their_data() {
    let server = ScriptedServer::start().await;
    let socket = builder(&server).build().unwrap();
    let mut conn = connected(&server, &socket).await;
    conn.ws()
        .send(Message::Ping(b"hi".to_vec().into()))
        .await
        .unwrap();
    match conn.recv_raw().await {
        Message::Pong(data) => assert_eq!(&data[..], b"hi"),
        other => panic!("expected a pong, got {other:?}"),
    }
    assert!(socket.is_connected());
}

per_transport!(
    #[tokio::test(start_paused = true)]
    leave_completes_and_disconnect_ends_the_connection_on_purpose
);
async fn leave_completes_and_disconnect_ends_the_connection_on_purpose(transport: Transport) {
    let server = ScriptedServer::start_over(transport).await;
    let socket = builder(&server).build().unwrap();
    let mut conn = connected(&server, &socket).await;
    let jr = joined(&socket, &mut conn, "room:1").await;
    socket.leave("room:1");
    let leave = conn.recv().await;
    assert_eq!(leave[0], jr.as_str());
    assert_eq!(leave[3], "phx_leave");
    conn.send(json!([jr, leave[1], "room:1", "phx_reply", {"status": "ok", "response": {}}]))
        .await;
    conn.send(json!([jr, jr, "room:1", "phx_close", {}])).await;
    socket.await_leave("room:1", None).await.unwrap();
    assert_eq!(socket.join_status("room:1"), JoinStatus::Closed);

    socket.disconnect();
    conn.expect_closed_by_client().await;
    assert_eq!(
        socket.await_disconnect(None).await,
        Ok(DisconnectReason::ClientRequested)
    );
    assert!(!socket.is_connected());
    // No TopicClosed for the topic we left, and no reconnect.
    assert!(socket.flush().is_empty());
}

per_transport!(
    #[tokio::test(start_paused = true)]
    initial_connect_failure_can_be_retried_on_the_schedule
);
async fn initial_connect_failure_can_be_retried_on_the_schedule(transport: Transport) {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let socket = Socket::builder(format!("ws://127.0.0.1:{port}/socket"))
        .transport(transport)
        .retry_on_initial_connect(true)
        .reconnect_after(Backoff::steps([10, 50], 100).without_jitter())
        .build()
        .unwrap();
    socket.connect();
    match socket.next_event(None).await.unwrap() {
        SocketEvent::Reconnecting {
            attempt: 1,
            delay,
            error: Some(ConnectError::ConnectionRefused { .. }),
        } => {
            assert_eq!(delay, Duration::from_millis(10));
        }
        other => panic!("{other:?}"),
    }
    match socket.next_event(None).await.unwrap() {
        SocketEvent::Reconnecting {
            attempt: 2, delay, ..
        } => assert_eq!(delay, Duration::from_millis(50)),
        other => panic!("{other:?}"),
    }
    socket.disconnect();
    assert_eq!(
        socket.await_disconnect(None).await,
        Ok(DisconnectReason::ClientRequested)
    );
}

per_transport!(
    #[tokio::test(start_paused = true)]
    every_connect_request_gets_its_own_answer
);
async fn every_connect_request_gets_its_own_answer(transport: Transport) {
    let server = ScriptedServer::start_over(transport).await;
    let socket = builder(&server).build().unwrap();
    // The second request arrives while the first attempt is under way.
    socket.connect();
    socket.connect();
    let _conn = server.accept().await;
    socket.await_connect(None).await.unwrap();
    socket.await_connect(None).await.unwrap();
    // While connected: answered at once.
    socket.connect();
    socket.await_connect(None).await.unwrap();
    // One answer per request, no more.
    assert!(socket.flush().is_empty());
}

per_transport!(
    #[tokio::test(start_paused = true)]
    connect_requests_during_a_failing_attempt_each_get_the_failure
);
async fn connect_requests_during_a_failing_attempt_each_get_the_failure(transport: Transport) {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let socket = Socket::builder(format!("ws://127.0.0.1:{port}/socket"))
        .transport(transport)
        .await_timeout(WAIT)
        .build()
        .unwrap();
    socket.connect();
    socket.connect();
    for _ in 0..2 {
        assert!(matches!(
            socket.await_connect(None).await,
            Err(ConnectError::ConnectionRefused { .. })
        ));
    }
}

// Real time: a paused clock could run the leave's timeout out while the server's frames are
// still on their way. The awaits' timeout is `WAIT`, so an await that waits fails the test by
// its error (a `Timeout`, not the `NotJoined` asserted).
per_transport!(
    #[tokio::test]
    awaits_that_can_never_be_satisfied_fail_at_once
);
async fn awaits_that_can_never_be_satisfied_fail_at_once(transport: Transport) {
    let server = ScriptedServer::start_over(transport).await;
    let socket = builder(&server).build().unwrap();
    let mut conn = connected(&server, &socket).await;

    assert_eq!(
        socket.await_join("nope", None).await,
        Err(JoinError::NotRequested("nope".into()))
    );
    assert_eq!(
        socket.await_leave("nope", None).await,
        Err(LeaveError::NotJoined("nope".into()))
    );
    socket.leave("nope");
    assert_eq!(
        socket.await_leave("nope", None).await,
        Err(LeaveError::NotJoined("nope".into()))
    );
    let never = MessagePattern::any().topic("rooms:never");
    assert_eq!(
        socket.await_message(&never, None).await,
        Err(AwaitError::NotJoined("rooms:never".into()))
    );
    assert_eq!(
        AwaitError::NotJoined("rooms:never".into()).to_string(),
        r#"topic "rooms:never" is not joined, so no message can arrive on it"#
    );

    // A join requested just before its await is waited for, not refused.
    socket.join("room:1", json!({}));
    let (joined, jr) = tokio::join!(
        socket.await_join("room:1", None),
        conn.expect_join("room:1")
    );
    joined.unwrap();

    // Messages already in the mailbox are found first, even once the topic is left.
    socket.leave("room:1");
    let leave = conn.recv().await;
    conn.send(json!([jr, null, "room:1", "news", {"n": 1}]))
        .await;
    conn.send(json!([jr, leave[1], "room:1", "phx_reply", {"status": "ok", "response": {}}]))
        .await;
    socket.await_leave("room:1", None).await.unwrap();
    assert!(!socket.is_joined("room:1"));
    let room = MessagePattern::any().topic("room:1");
    let news = socket.await_message(&room, None).await.unwrap();
    assert_eq!(news.event, "news");
    assert_eq!(
        socket.await_message(&room, None).await,
        Err(AwaitError::NotJoined("room:1".into()))
    );
    // The leave was awaited: a second await has nothing to wait for.
    assert_eq!(
        socket.await_leave("room:1", None).await,
        Err(LeaveError::NotJoined("room:1".into()))
    );
    // A refused join's answer is still found after the topic closed.
    socket.join("room:2", json!({}));
    let join = conn.recv().await;
    assert_eq!(join[3], "phx_join");
    conn.send(json!([join[0], join[1], "room:2", "phx_reply", {"status": "error", "response": {"reason": "no"}}]))
        .await;
    assert!(matches!(
        socket.await_join("room:2", None).await,
        Err(JoinError::Rejected { .. })
    ));
    assert_eq!(
        socket.await_join("room:2", None).await,
        Err(JoinError::NotRequested("room:2".into()))
    );
}
