//! The configurable policies, against the demo server: stop reconnecting on a final HTTP status,
//! a push's own timeout, rejoin switched off, and retrying rejected joins.

use std::time::Duration;

use serde_json::json;
use slipstream_client::{
    Backoff, ConnectError, MessagePattern, Ref, ReplyError, Socket, SocketEvent, TopicCloseReason,
};

use crate::support::{demo, joined_socket};

/// Takes events until one satisfies `wanted`, failing after `limit` of them.
async fn event_where(socket: &Socket, wanted: impl Fn(&SocketEvent) -> bool) -> SocketEvent {
    for _ in 0..50 {
        let event = socket
            .next_event(Some(Duration::from_secs(10)))
            .await
            .expect("an event");
        if wanted(&event) {
            return event;
        }
    }
    panic!("no matching event among the next 50");
}

/// Pushes `quicksand`, which the demo's lobby never answers, with its own `timeout`.
fn push_quicksand(socket: &Socket, timeout: Duration) -> Ref {
    socket.push_with_timeout("rooms:lobby", "quicksand", json!({}), timeout)
}

/// Waits (at most 5 s) for `push`'s outcome, which must be its own timeout, `after`.
async fn assert_times_out(socket: &Socket, push: &Ref, after: Duration) {
    assert_eq!(
        socket.await_reply(push, Some(Duration::from_secs(5))).await,
        Err(ReplyError::PushTimeout(after))
    );
}

#[tokio::test]
async fn a_final_status_stops_the_retries() {
    let server = demo().await;
    let socket = Socket::builder(server.ws_url())
        .param("reject", "true")
        .retry_on_initial_connect(true)
        .reconnect_after(Backoff::steps([10], 10))
        .stop_reconnecting_on_status([403])
        .build()
        .unwrap();
    socket.connect();
    match socket.next_event(Some(Duration::from_secs(10))).await {
        Ok(SocketEvent::ConnectFailed(ConnectError::Refused { status: 403, .. })) => {}
        other => panic!("expected ConnectFailed(Refused 403) first, got {other:?}"),
    }
    // No retry follows: the mailbox stays empty.
    assert!(
        socket
            .next_event(Some(Duration::from_millis(300)))
            .await
            .is_err(),
        "nothing after a final refusal: {:?}",
        socket.flush()
    );
    assert!(!socket.is_connected());
}

#[tokio::test]
async fn without_a_final_status_a_refusal_is_retried() {
    let server = demo().await;
    let socket = Socket::builder(server.ws_url())
        .param("reject", "true")
        .retry_on_initial_connect(true)
        .reconnect_after(Backoff::steps([10], 10))
        .build()
        .unwrap();
    socket.connect();
    let event = event_where(&socket, |e| matches!(e, SocketEvent::Reconnecting { .. })).await;
    let SocketEvent::Reconnecting { error, .. } = event else {
        unreachable!()
    };
    assert!(
        matches!(error, Some(ConnectError::Refused { status: 403, .. })),
        "{error:?}"
    );
    socket.disconnect();
}

#[tokio::test]
async fn a_push_can_carry_its_own_timeout() {
    let server = demo().await;
    let socket = joined_socket(Socket::builder(server.ws_url()), "rooms:lobby").await;
    let quicksand = push_quicksand(&socket, Duration::from_millis(200));
    // Well before the configured 10 s push timeout, the push is reported as timed out.
    assert_times_out(&socket, &quicksand, Duration::from_millis(200)).await;
}

#[tokio::test]
async fn a_shorter_timeout_behind_a_longer_one_fires_on_time() {
    // The connection task's one sleep only ever moves earlier: a push whose deadline comes
    // before those already waiting must move it.
    let server = demo().await;
    let socket = joined_socket(Socket::builder(server.ws_url()), "rooms:lobby").await;
    let _long = push_quicksand(&socket, Duration::from_secs(60));
    let short = push_quicksand(&socket, Duration::from_millis(200));
    assert_times_out(&socket, &short, Duration::from_millis(200)).await;
}

#[tokio::test]
async fn a_timeout_behind_an_answered_push_fires_after_the_early_wake() {
    // An answered push leaves the sleep at its deadline; the sleep fires early for the next
    // push, finds nothing due, and must move on to that push's own deadline.
    let server = demo().await;
    let socket = joined_socket(Socket::builder(server.ws_url()), "rooms:lobby").await;
    let ping =
        socket.push_with_timeout("rooms:lobby", "ping", json!({}), Duration::from_millis(200));
    assert_eq!(socket.await_reply(&ping, None).await.unwrap().status, "ok");
    let lost = push_quicksand(&socket, Duration::from_millis(600));
    assert_times_out(&socket, &lost, Duration::from_millis(600)).await;
}

#[tokio::test]
async fn with_auto_rejoin_off_a_reconnect_closes_the_topics() {
    let server = demo().await;
    let socket = joined_socket(
        Socket::builder(server.ws_url())
            .auto_rejoin(false)
            .reconnect_after(Backoff::steps([10], 10)),
        "rooms:lobby",
    )
    .await;

    server.close_all_connections(1011);
    let closed = event_where(&socket, |e| matches!(e, SocketEvent::TopicClosed { .. })).await;
    assert!(
        matches!(
            &closed,
            SocketEvent::TopicClosed { topic, reason: TopicCloseReason::Disconnected } if topic == "rooms:lobby"
        ),
        "{closed:?}"
    );
    socket
        .await_connect(None)
        .await
        .expect("the socket itself reconnects");
    assert!(!socket.is_joined("rooms:lobby"));
    // Nothing rejoins on its own.
    assert!(
        socket
            .await_join("rooms:lobby", Some(Duration::from_millis(300)))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn rejected_joins_can_be_retried_on_the_rejoin_schedule() {
    let server = demo().await;
    let socket = Socket::builder(server.ws_url())
        .retry_rejected_joins(true)
        .rejoin_after(Backoff::steps([20], 20).without_jitter())
        .build()
        .unwrap();
    socket.connect();
    socket.await_connect(None).await.unwrap();
    socket.join("rooms:secret", json!({"deny": true}));
    for attempt in 0..2 {
        let failed = event_where(&socket, |e| matches!(e, SocketEvent::JoinFailed { .. })).await;
        let SocketEvent::JoinFailed {
            error, rejoin_in, ..
        } = failed
        else {
            unreachable!()
        };
        assert_eq!(
            error.rejection(),
            Some(&json!({"reason": "unauthorized"}).into()),
            "attempt {attempt}"
        );
        assert!(rejoin_in.is_some(), "another attempt is scheduled");
    }
    socket.leave("rooms:secret");
}

#[tokio::test]
async fn a_reply_the_server_drops_ends_as_a_push_timeout() {
    let server = demo().await;
    let socket = joined_socket(Socket::builder(server.ws_url()), "rooms:lobby").await;
    server.set_drop_replies(true);
    let ping =
        socket.push_with_timeout("rooms:lobby", "ping", json!({}), Duration::from_millis(300));
    assert_times_out(&socket, &ping, Duration::from_millis(300)).await;
    server.set_drop_replies(false);
    let ping = socket.push("rooms:lobby", "ping", json!({}));
    assert_eq!(socket.await_reply(&ping, None).await.unwrap().status, "ok");
}

#[tokio::test]
async fn a_push_with_the_default_timeout_times_out_among_answered_ones() {
    // Pushes with the socket's own timeout take the timers' lane, where replies remove nothing:
    // the unanswered one must still time out, once, and the answered ones must not.
    let server = demo().await;
    let builder = Socket::builder(server.ws_url()).push_timeout(Duration::from_millis(300));
    let socket = joined_socket(builder, "rooms:lobby").await;
    let before: Vec<_> = (0..200)
        .map(|_| socket.push("rooms:lobby", "ping", json!({})))
        .collect();
    for r in &before {
        assert_eq!(socket.await_reply(r, None).await.unwrap().status, "ok");
    }
    // The demo's lobby never answers `quicksand`.
    let lost = socket.push("rooms:lobby", "quicksand", json!({}));
    let after: Vec<_> = (0..200)
        .map(|_| socket.push("rooms:lobby", "ping", json!({})))
        .collect();
    for r in &after {
        assert_eq!(socket.await_reply(r, None).await.unwrap().status, "ok");
    }
    assert_eq!(
        socket.await_reply(&lost, None).await,
        Err(ReplyError::PushTimeout(Duration::from_millis(300)))
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    let late: Vec<_> = socket
        .flush()
        .into_iter()
        .filter(|e| matches!(e, SocketEvent::Reply { .. }))
        .collect();
    assert!(
        late.is_empty(),
        "answered pushes must not time out: {late:?}"
    );
}

#[tokio::test]
async fn a_server_refusing_connects_is_retried_until_it_accepts() {
    let server = demo().await;
    server.set_refuse_connects(Some(503));
    let socket = Socket::builder(server.ws_url())
        .retry_on_initial_connect(true)
        .reconnect_after(Backoff::steps([20], 20))
        .build()
        .unwrap();
    socket.connect();
    event_where(&socket, |e| {
        matches!(
            e,
            SocketEvent::Reconnecting {
                error: Some(ConnectError::Refused { status: 503, .. }),
                ..
            }
        )
    })
    .await;
    server.set_refuse_connects(None);
    event_where(&socket, |e| matches!(e, SocketEvent::Connected)).await;
    assert!(socket.is_connected());
}

#[tokio::test]
async fn a_push_without_a_wanted_reply_leaves_nothing_behind_when_it_goes_out() {
    let server = demo().await;
    let builder = Socket::builder(server.ws_url()).push_timeout(Duration::from_millis(200));
    let socket = joined_socket(builder, "rooms:lobby").await;
    // `ping` is answered (the reply is ignored); `broadcast` never is (no timeout either).
    socket.push_no_reply("rooms:lobby", "ping", json!({}));
    socket.push_no_reply("rooms:lobby", "broadcast", json!({"n": 1}));
    let echo = MessagePattern::any()
        .topic("rooms:lobby")
        .event("broadcast_event");
    let message = socket.await_message(&echo, None).await.unwrap();
    assert_eq!(message.payload.to_value().unwrap(), json!({"n": 1}));
    // Past the push timeout: no reply, no timeout, nothing at all.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let left: Vec<_> = socket.flush();
    assert!(left.is_empty(), "nothing may be left: {left:?}");
}

#[tokio::test]
async fn a_push_without_a_wanted_reply_that_cannot_go_out_says_so() {
    let server = demo().await;
    let socket = joined_socket(Socket::builder(server.ws_url()), "rooms:lobby").await;
    let nowhere = socket.push_no_reply("rooms:never-joined", "ping", json!({}));
    assert_eq!(
        socket.await_reply(&nowhere, None).await,
        Err(ReplyError::NotJoined("rooms:never-joined".into()))
    );
}
