//! Against the real demo server (`slipstream_server::spawn_demo`).

use std::time::Duration;

use serde_json::json;
use slipstream_client::presence::Presence;
use slipstream_client::{
    ConnectError, DisconnectReason, JoinStatus, MessagePattern, ReplyError, Socket, SocketEvent,
    pattern,
};

use slipstream_client::Transport;

use crate::support::{
    builder, closed_by_server, demo, demo_with_window, joined_socket, per_transport,
};

/// The next event that is not a push's reply.
async fn next_lifecycle_event(socket: &Socket) -> SocketEvent {
    loop {
        match socket.next_event(None).await.unwrap() {
            SocketEvent::Reply { .. } => continue,
            other => return other,
        }
    }
}

/// The scripting guide, step by step.
async fn the_guides_flow(transport: Transport) {
    let server = demo().await;
    let socket = builder(&server, transport).build().unwrap();
    assert_eq!(socket.transport(), None);
    socket.connect();
    socket.await_connect(None).await.unwrap();
    assert_eq!(socket.transport(), Some(transport));

    let topic = "rooms:lobby";
    socket.join(topic, json!({"fizz": "buzz"}));
    assert_eq!(
        socket.await_join(topic, None).await.unwrap(),
        json!({}).into()
    );

    let quicksand = socket.push(topic, "quicksand", json!({"a": "b"}));
    assert_eq!(
        socket
            .await_reply(&quicksand, Some(Duration::from_millis(300)))
            .await,
        Err(ReplyError::Timeout)
    );

    let ping = socket.push(topic, "ping", json!({}));
    let reply = socket.await_reply(&ping, None).await.unwrap();
    assert_eq!(reply.status, "ok");
    assert_eq!(reply.response, json!({"pong": "pong"}).into());

    socket.push(topic, "push to me", json!({}));
    let pat = MessagePattern::any()
        .topic(topic)
        .event("foo")
        .payload(pattern!({"bar": "baz"}));
    let msg = socket.await_message(&pat, None).await.unwrap();
    assert_eq!(msg.json(), Some(json!({"bar": "baz"})));

    socket.push(topic, "push to me", json!({}));
    let msg = socket
        .await_message(&MessagePattern::any(), None)
        .await
        .unwrap();
    assert_eq!((msg.topic.as_str(), msg.event.as_str()), (topic, "foo"));

    socket.leave(topic);
    socket.await_leave(topic, None).await.unwrap();
    socket.disconnect();
    assert_eq!(
        socket.await_disconnect(None).await,
        Ok(DisconnectReason::ClientRequested)
    );
    assert_eq!(socket.transport(), None);
    server.shutdown().await;
}
per_transport!(
    #[tokio::test]
    the_guides_flow
);

async fn refused_upgrade_carries_the_http_status(transport: Transport) {
    let server = demo().await;
    let socket = builder(&server, transport)
        .param("reject", "true")
        .build()
        .unwrap();
    socket.connect();
    match socket.await_connect(None).await {
        Err(ConnectError::Refused { status, .. }) => assert_eq!(status, 403),
        other => panic!("{other:?}"),
    }
    server.shutdown().await;
}
per_transport!(
    #[tokio::test]
    refused_upgrade_carries_the_http_status
);

async fn join_refusal_crash_rejoin_and_server_close(transport: Transport) {
    let server = demo().await;
    let socket = builder(&server, transport)
        .rejoin_after(slipstream_client::Backoff::steps([50], 50))
        .build()
        .unwrap();
    socket.connect();
    socket.await_connect(None).await.unwrap();

    socket.join("rooms:secret", json!({"deny": true}));
    let err = socket.await_join("rooms:secret", None).await.unwrap_err();
    assert_eq!(
        err.rejection(),
        Some(&json!({"reason": "unauthorized"}).into())
    );

    socket.join("rooms:lobby", json!({}));
    socket.await_join("rooms:lobby", None).await.unwrap();
    let crash = socket.push("rooms:lobby", "crash", json!({}));
    // The crashed push is reported, not lost, and says the channel crashed (not "closed").
    let err = socket.await_reply(&crash, None).await.unwrap_err();
    assert_eq!(err, ReplyError::ChannelCrashed("rooms:lobby".into()));
    assert_eq!(
        err.to_string(),
        r#"the channel for topic "rooms:lobby" crashed before the reply arrived"#
    );
    // The state agrees with the outcome already: errored, to be rejoined.
    assert_eq!(socket.join_status("rooms:lobby"), JoinStatus::Errored);
    let ev = next_lifecycle_event(&socket).await;
    assert!(matches!(ev, SocketEvent::TopicErrored { .. }), "{ev:?}");
    socket.await_join("rooms:lobby", None).await.unwrap();
    assert!(socket.is_joined("rooms:lobby"));

    socket.push("rooms:lobby", "stop", json!({}));
    let ev = next_lifecycle_event(&socket).await;
    assert!(matches!(ev, SocketEvent::TopicClosed { .. }), "{ev:?}");
    assert!(!socket.is_joined("rooms:lobby"));
    server.shutdown().await;
}
per_transport!(
    #[tokio::test]
    join_refusal_crash_rejoin_and_server_close
);

/// The server drops every connection (a long-poll session is forgotten, so the next poll
/// answers 410): the socket reconnects over the same transport and rejoins.
async fn server_side_close_reconnects_and_rejoins(transport: Transport) {
    let server = demo().await;
    let socket = joined_socket(builder(&server, transport), "rooms:lobby").await;
    server.close_all_connections(1012);
    let reason = socket.await_disconnect(None).await.unwrap();
    assert!(closed_by_server(&reason, transport, 1012), "{reason}");
    socket.await_connect(None).await.unwrap();
    assert_eq!(socket.transport(), Some(transport));
    socket.await_join("rooms:lobby", None).await.unwrap();
    let r = socket.push("rooms:lobby", "ping", json!({}));
    assert_eq!(socket.await_reply(&r, None).await.unwrap().status, "ok");
    server.shutdown().await;
}
per_transport!(
    #[tokio::test]
    server_side_close_reconnects_and_rejoins
);

/// Alice on `transport`, Bob on the other one: presence crosses transports. A long-poll
/// disconnect only stops the polls (there is no close frame); the server forgets the session
/// 1.5 windows after its last poll, so the window is short here.
async fn presence_state_and_diffs_from_the_server(transport: Transport) {
    let server = demo_with_window(Duration::from_millis(400)).await;
    let other = match transport {
        Transport::LongPoll => Transport::WebSocket,
        _ => Transport::LongPoll,
    };
    let alice = builder(&server, transport).build().unwrap();
    let bob = builder(&server, other).build().unwrap();
    for s in [&alice, &bob] {
        s.connect();
        s.await_connect(None).await.unwrap();
    }
    let topic = "presence:room";
    let state_pat = MessagePattern::any().topic(topic).event("presence_state");
    let diff_pat = MessagePattern::any().topic(topic).event("presence_diff");

    alice.join(topic, json!({"user": "alice"}));
    alice.await_join(topic, None).await.unwrap();
    let mut presence = Presence::new();
    let state = alice.await_message(&state_pat, None).await.unwrap();
    presence.apply_state(&state.json().unwrap());
    assert_eq!(presence.keys(), vec!["alice".to_owned()]);

    bob.join(topic, json!({"user": "bob"}));
    bob.await_join(topic, None).await.unwrap();
    let diff = loop {
        let d = alice.await_message(&diff_pat, None).await.unwrap();
        if d.json().unwrap()["joins"].get("bob").is_some() {
            break d;
        }
    };
    presence.apply_diff(&diff.json().unwrap());
    assert_eq!(presence.keys(), vec!["alice".to_owned(), "bob".to_owned()]);

    bob.disconnect();
    let diff = loop {
        let d = alice.await_message(&diff_pat, None).await.unwrap();
        if d.json().unwrap()["leaves"].get("bob").is_some() {
            break d;
        }
    };
    presence.apply_diff(&diff.json().unwrap());
    assert_eq!(presence.keys(), vec!["alice".to_owned()]);
    server.shutdown().await;
}
per_transport!(
    #[tokio::test]
    presence_state_and_diffs_from_the_server
);

/// The state getters agree with the event just awaited: the connection task updates the topics'
/// states before it emits `Disconnected`. The socket's task runs on another worker than this
/// test, so the getter races the task's next steps; many rounds make the old order show.
async fn topic_state_agrees_with_an_awaited_disconnect(transport: Transport) {
    let server = demo().await;
    let topic = "rooms:lobby";
    let socket = builder(&server, transport).build().unwrap();
    for round in 0..100 {
        // A user's disconnect: every topic is closed.
        socket.connect();
        socket.await_connect(None).await.unwrap();
        socket.join(topic, json!({}));
        socket.await_join(topic, None).await.unwrap();
        socket.disconnect();
        assert_eq!(
            socket.await_disconnect(None).await,
            Ok(DisconnectReason::ClientRequested)
        );
        assert!(!socket.is_joined(topic), "round {round}: still joined");
        assert_eq!(
            socket.join_status(topic),
            JoinStatus::Closed,
            "round {round}"
        );
        socket.flush();
    }
    server.shutdown().await;
}
per_transport!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    topic_state_agrees_with_an_awaited_disconnect
);

/// A lost connection: the joined topic is errored (to be rejoined) as soon as the disconnect
/// can be awaited.
async fn topic_state_agrees_with_an_awaited_connection_loss(transport: Transport) {
    let server = demo().await;
    let topic = "rooms:lobby";
    let socket = joined_socket(
        builder(&server, transport).reconnect_after(slipstream_client::Backoff::steps([10], 10)),
        topic,
    )
    .await;
    for round in 0..30 {
        server.close_all_connections(1012);
        let reason = socket.await_disconnect(None).await.unwrap();
        assert!(closed_by_server(&reason, transport, 1012), "{reason}");
        assert!(!socket.is_joined(topic), "round {round}: still joined");
        assert_eq!(
            socket.join_status(topic),
            JoinStatus::Errored,
            "round {round}"
        );
        socket.await_connect(None).await.unwrap();
        socket.await_join(topic, None).await.unwrap();
        socket.flush();
    }
    server.shutdown().await;
}
per_transport!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    topic_state_agrees_with_an_awaited_connection_loss
);
