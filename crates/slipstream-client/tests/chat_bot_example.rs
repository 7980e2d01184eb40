//! The chat_bot example: under the test kit (no network), then against the in-process demo server.

use std::time::Duration;

use serde_json::json;
use slipstream_client::callback::{self, ClientHandle, StopReason};
use slipstream_client::presence::Presence;
use slipstream_client::testkit::TestServer;
use slipstream_client::{Socket, message_pattern, pattern};
use tokio::task::JoinHandle;

use crate::chat_bot::{BotAnswer, BotCall, BotInfo, ChatBot, LOBBY, PRESENCE, is_ping};

type Bot = (ClientHandle<ChatBot>, JoinHandle<StopReason>);

/// Starts the bot on the test server and answers its two joins.
async fn started(server: &mut TestServer) -> Bot {
    let bot = callback::spawn(ChatBot::new("bot"), server.builder()).unwrap();
    server.accept_connect().await.unwrap();
    joins_answered(server).await;
    bot
}

async fn joins_answered(server: &mut TestServer) {
    let lobby = server.assert_join(LOBBY, pattern!({})).await.unwrap();
    server.accept_join(&lobby, json!({})).unwrap();
    let presence = server
        .assert_join(PRESENCE, pattern!({"user": "bot"}))
        .await
        .unwrap();
    server.accept_join(&presence, json!({})).unwrap();
}

async fn pongs(handle: &ClientHandle<ChatBot>) -> u64 {
    match handle.call(BotCall::Pongs).await.unwrap() {
        BotAnswer::Pongs(n) => n,
        other => panic!("expected a count, got {other:?}"),
    }
}

async fn online(handle: &ClientHandle<ChatBot>) -> Vec<String> {
    match handle.call(BotCall::Online).await.unwrap() {
        BotAnswer::Online(who) => who,
        other => panic!("expected a list, got {other:?}"),
    }
}

#[test]
fn ping_like_means_a_ping_event_or_a_body_starting_with_ping() {
    assert!(is_ping("ping", &json!({})));
    assert!(is_ping("broadcast_event", &json!({"body": "Ping!"})));
    assert!(is_ping(
        "broadcast_event",
        &json!({"body": "  ping? anyone"})
    ));
    assert!(!is_ping("broadcast_event", &json!({"body": "pong"})));
    assert!(!is_ping("broadcast_event", &json!({"body": "pinged"})));
    assert!(!is_ping("broadcast_event", &json!({"text": "ping"})));
}

#[tokio::test(start_paused = true)]
async fn joins_the_lobby_and_presence_and_stops_cleanly() {
    let mut server = TestServer::new();
    let (handle, task) = started(&mut server).await;
    assert!(online(&handle).await.is_empty());
    handle.stop();
    assert_eq!(task.await.unwrap(), StopReason::Stopped);
    assert_eq!(server.assert_disconnect().await.unwrap().code, Some(1000));
    assert!(!handle.is_running());
}

#[tokio::test(start_paused = true)]
async fn answers_pings_and_only_pings() {
    let mut server = TestServer::new();
    let (handle, _task) = started(&mut server).await;

    server
        .broadcast(
            LOBBY,
            "broadcast_event",
            json!({"body": "ping", "from": "ana"}),
        )
        .unwrap();
    let pong = server
        .assert_push(
            LOBBY,
            "broadcast",
            pattern!({"body": "pong", "from": "bot"}),
        )
        .await
        .unwrap();
    server.reply(&pong.push_ref, "ok", json!({})).unwrap();

    server
        .broadcast(LOBBY, "broadcast_event", json!({"body": "hello"}))
        .unwrap();
    server
        .refute_push(LOBBY, "broadcast", pattern!(_), Duration::from_secs(1))
        .await
        .unwrap();

    server.push(LOBBY, "ping", json!({})).unwrap();
    server
        .assert_push(LOBBY, "broadcast", pattern!({"body": "pong"}))
        .await
        .unwrap();
    assert_eq!(pongs(&handle).await, 2);

    handle.info(BotInfo::Say("hi all".into())).unwrap();
    server
        .assert_push(LOBBY, "broadcast", pattern!({"body": "hi all"}))
        .await
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn logs_presence_with_the_presence_helper() {
    let mut server = TestServer::new();
    let (handle, _task) = started(&mut server).await;
    // A diff before the state is held until the state arrives (phoenix.js semantics).
    server
        .push(
            PRESENCE,
            "presence_diff",
            json!({"joins": {"cy": {"metas": [{"phx_ref": "3"}]}}, "leaves": {}}),
        )
        .unwrap();
    assert!(online(&handle).await.is_empty());
    server
        .push(
            PRESENCE,
            "presence_state",
            json!({
                "ana": {"metas": [{"phx_ref": "1"}]},
                "bot": {"metas": [{"phx_ref": "2"}]}
            }),
        )
        .unwrap();
    assert_eq!(online(&handle).await, ["ana", "bot", "cy"]);
    server
        .push(
            PRESENCE,
            "presence_diff",
            json!({"joins": {}, "leaves": {"ana": {"metas": [{"phx_ref": "1"}]}}}),
        )
        .unwrap();
    assert_eq!(online(&handle).await, ["bot", "cy"]);
}

#[tokio::test(start_paused = true)]
async fn rejoins_after_a_crash_and_reconnects_after_a_drop() {
    let mut server = TestServer::new();
    let (handle, _task) = started(&mut server).await;

    server.crash(LOBBY).unwrap();
    let rejoin = server.assert_join(LOBBY, pattern!({})).await.unwrap();
    server.accept_join(&rejoin, json!({})).unwrap();
    server
        .broadcast(LOBBY, "broadcast_event", json!({"body": "ping"}))
        .unwrap();
    server
        .assert_push(LOBBY, "broadcast", pattern!({"body": "pong"}))
        .await
        .unwrap();

    // The presence view is reset when its channel crashes, and rebuilt from the next state.
    server
        .push(
            PRESENCE,
            "presence_state",
            json!({"ana": {"metas": [{"phx_ref": "1"}]}}),
        )
        .unwrap();
    assert_eq!(online(&handle).await, ["ana"]);
    server.crash(PRESENCE).unwrap();
    let rejoin = server
        .assert_join(PRESENCE, pattern!({"user": "bot"}))
        .await
        .unwrap();
    assert!(online(&handle).await.is_empty());
    server.accept_join(&rejoin, json!({})).unwrap();

    server.drop_connection().unwrap();
    server.accept_connect().await.unwrap();
    joins_answered(&mut server).await;
    server
        .broadcast(LOBBY, "broadcast_event", json!({"body": "ping"}))
        .unwrap();
    server
        .assert_push(LOBBY, "broadcast", pattern!({"body": "pong"}))
        .await
        .unwrap();
    assert_eq!(pongs(&handle).await, 2);
}

/// The same bot against the real demo server, with a second client playing a human.
#[tokio::test]
async fn works_against_the_demo_server() {
    let server = slipstream_server::spawn_demo(
        "127.0.0.1:0".parse().unwrap(),
        slipstream_server::ServerConfig::default(),
    )
    .await
    .unwrap();
    let human = Socket::builder(server.ws_url()).build().unwrap();
    human.connect();
    human.await_connect(None).await.unwrap();
    human.join(LOBBY, json!({}));
    human.await_join(LOBBY, None).await.unwrap();
    human.join(PRESENCE, json!({"user": "ana"}));
    human.await_join(PRESENCE, None).await.unwrap();

    let (handle, task) =
        callback::spawn(ChatBot::new("bot"), Socket::builder(server.ws_url())).unwrap();

    // The human sees the bot arrive in presence…
    let mut presence = Presence::new();
    while !presence.keys().contains(&"bot".to_owned()) {
        let m = human
            .await_message(&message_pattern!(PRESENCE, _, _), None)
            .await
            .unwrap();
        let value = m.json().unwrap();
        match m.event.as_str() {
            "presence_state" => presence.apply_state(&value),
            "presence_diff" => presence.apply_diff(&value),
            _ => {}
        }
    }
    // …and a ping gets the bot's pong, broadcast to the room.
    human.push(LOBBY, "broadcast", json!({"body": "ping", "from": "ana"}));
    human
        .await_message(
            &message_pattern!(LOBBY, "broadcast_event", {"body": "pong", "from": "bot"}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(pongs(&handle).await, 1);

    // The bot's own presence view has the human (its state may still be on the way).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let who = online(&handle).await;
        if who.contains(&"ana".to_owned()) && who.contains(&"bot".to_owned()) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the bot sees {who:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    handle.stop();
    assert_eq!(task.await.unwrap(), StopReason::Stopped);
    // Its connection closed, so the human sees the bot leave.
    loop {
        let diff = human
            .await_message(&message_pattern!(PRESENCE, "presence_diff", _), None)
            .await
            .unwrap();
        if diff.json().unwrap()["leaves"].get("bot").is_some() {
            break;
        }
    }
}
