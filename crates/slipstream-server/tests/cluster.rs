//! Several nodes sharing one real `redis-server`: broadcasts across nodes (in order, exactly
//! once, `broadcast_from` excluding the sender), socket-id disconnects on every node, presence
//! across three nodes, Redis restarted mid-test, and `SO_REUSEPORT`. The nodes here are servers
//! in one process; `slipstream-cli`'s `tests/cluster.rs` kills whole node processes.

mod support;

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};
use slipstream_server::{
    Channel, ChannelContext, HandleResult, JoinResult, Payload, RunningServer, Server,
    ServerConfig, Socket, spawn_demo,
};
use tokio_tungstenite::tungstenite::Message;

use support::any_port;
use support::redis::RedisServer;
use support::ws::{Ws, connect_v2, recv, send};

fn config(redis: &RedisServer, name: &str) -> ServerConfig {
    ServerConfig::default()
        .with_redis(redis.url())
        .with_node_name(name)
        .with_node_liveness(Duration::from_millis(100), Duration::from_millis(600))
}

async fn node(redis: &RedisServer, name: &str) -> RunningServer {
    spawn_demo(any_port(), config(redis, name))
        .await
        .expect("node starts")
}

/// Waits until every node hears from every other.
async fn linked(nodes: &[&RunningServer]) {
    for _ in 0..200 {
        if nodes
            .iter()
            .all(|n| n.endpoint().nodes().len() == nodes.len() - 1)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let seen: Vec<Vec<String>> = nodes.iter().map(|n| n.endpoint().nodes()).collect();
    panic!("the nodes did not find each other within 5 s: {seen:?}");
}

/// Nothing arrives for 300 ms.
async fn silent(ws: &mut Ws) {
    if let Ok(Some(frame)) = tokio::time::timeout(Duration::from_millis(300), ws.next()).await {
        panic!("expected silence, got {frame:?}");
    }
}

async fn join(ws: &mut Ws, topic: &str, params: Value) {
    send(ws, json!(["1", "1", topic, "phx_join", params])).await;
    let reply = recv(ws).await;
    assert_eq!(reply[4]["status"], "ok", "join {topic}: {reply}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcasts_reach_every_node_once_and_in_order() {
    let redis = RedisServer::start();
    let (a, b) = (node(&redis, "a").await, node(&redis, "b").await);
    linked(&[&a, &b]).await;
    let mut on_a = connect_v2(&a, "").await;
    let mut on_b = connect_v2(&b, "").await;
    join(&mut on_a, "rooms:lobby", json!({})).await;
    join(&mut on_b, "rooms:lobby", json!({})).await;
    for n in 0..20 {
        send(
            &mut on_b,
            json!(["1", format!("{}", n + 2), "rooms:lobby", "broadcast", {"n": n}]),
        )
        .await;
    }
    for ws in [&mut on_a, &mut on_b] {
        for n in 0..20 {
            assert_eq!(
                recv(ws).await,
                json!([null, null, "rooms:lobby", "broadcast_event", {"n": n}])
            );
        }
        silent(ws).await;
    }
    // Binary payloads cross as bytes, and a V1 subscriber on the other node gets its own encoding.
    let mut v1 = tokio_tungstenite::connect_async(format!("{}?vsn=1.0.0", a.ws_url()))
        .await
        .unwrap()
        .0;
    send(
        &mut v1,
        json!({"topic": "rooms:lobby", "event": "phx_join", "payload": {}, "ref": "1"}),
    )
    .await;
    assert_eq!(recv(&mut v1).await["payload"]["status"], "ok");
    b.endpoint()
        .broadcast("rooms:lobby", "news", Payload::json(&json!({"from": "b"})))
        .unwrap();
    assert_eq!(
        recv(&mut v1).await,
        json!({"event": "news", "payload": {"from": "b"}, "ref": null, "topic": "rooms:lobby"})
    );
    assert_eq!(recv(&mut on_a).await[3], "news");
}

/// A channel that relays pushes with `broadcast_from`.
struct Relay;

impl Channel for Relay {
    async fn join(
        &mut self,
        _topic: &str,
        _params: Payload,
        _ctx: &mut ChannelContext,
    ) -> JoinResult {
        JoinResult::Ok(Payload::empty())
    }

    async fn handle_in(
        &mut self,
        event: &str,
        payload: Payload,
        ctx: &mut ChannelContext,
    ) -> HandleResult {
        let _ = ctx.broadcast_from(event, payload);
        HandleResult::NoReply
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_from_excludes_only_the_sender_on_every_node() {
    let redis = RedisServer::start();
    let relay = || Socket::new().channel("relay:*", |_| Relay);
    let a = Server::new(relay(), config(&redis, "a"))
        .bind(any_port())
        .await
        .unwrap();
    let b = Server::new(relay(), config(&redis, "b"))
        .bind(any_port())
        .await
        .unwrap();
    linked(&[&a, &b]).await;
    let mut sender = connect_v2(&a, "").await;
    let mut same_node = connect_v2(&a, "").await;
    let mut other_node = connect_v2(&b, "").await;
    for ws in [&mut sender, &mut same_node, &mut other_node] {
        join(ws, "relay:1", json!({})).await;
    }
    send(&mut sender, json!(["1", "2", "relay:1", "said", {"x": 1}])).await;
    for ws in [&mut same_node, &mut other_node] {
        assert_eq!(
            recv(ws).await,
            json!([null, null, "relay:1", "said", {"x": 1}])
        );
    }
    silent(&mut sender).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_id_disconnect_closes_that_user_on_every_node() {
    let redis = RedisServer::start();
    let (a, b) = (node(&redis, "a").await, node(&redis, "b").await);
    linked(&[&a, &b]).await;
    let mut victim_on_b = connect_v2(&b, "&user_id=7").await;
    let mut victim_on_a = connect_v2(&a, "&user_id=7").await;
    let mut bystander = connect_v2(&b, "&user_id=8").await;
    let mut admin = connect_v2(&a, "").await;
    join(&mut admin, "rooms:lobby", json!({})).await;
    send(
        &mut admin,
        json!(["1", "2", "rooms:lobby", "disconnect user", {"user_id": "7"}]),
    )
    .await;
    assert_eq!(recv(&mut admin).await[4]["status"], "ok");
    assert_eq!(recv(&mut victim_on_a).await, json!({"close": 1000}));
    assert_eq!(recv(&mut victim_on_b).await, json!({"close": 1000}));
    send(
        &mut bystander,
        json!([null, "1", "phoenix", "heartbeat", {}]),
    )
    .await;
    assert_eq!(recv(&mut bystander).await[3], "phx_reply");
}

/// Frames until one of `event` comes (others are skipped); its payload.
async fn next_event(ws: &mut Ws, event: &str) -> Value {
    for _ in 0..20 {
        let frame = recv(ws).await;
        if frame[3] == event {
            return frame[4].clone();
        }
    }
    panic!("no {event} in 20 frames");
}

fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    keys.sort();
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_spans_three_nodes() {
    let redis = RedisServer::start();
    let (a, b, c) = (
        node(&redis, "a").await,
        node(&redis, "b").await,
        node(&redis, "c").await,
    );
    linked(&[&a, &b, &c]).await;
    let mut alice = connect_v2(&a, "").await;
    join(&mut alice, "presence:lobby", json!({"user": "alice"})).await;
    assert_eq!(
        keys(&next_event(&mut alice, "presence_state").await),
        ["alice"]
    );
    let mut bob = connect_v2(&b, "").await;
    join(&mut bob, "presence:lobby", json!({"user": "bob"})).await;
    assert_eq!(
        keys(&next_event(&mut bob, "presence_state").await),
        ["alice", "bob"]
    );
    let diff = next_event(&mut alice, "presence_diff").await;
    assert_eq!(keys(&diff["joins"]), ["bob"], "alice sees bob join: {diff}");
    let mut carol = connect_v2(&c, "").await;
    join(&mut carol, "presence:lobby", json!({"user": "carol"})).await;
    let state = next_event(&mut carol, "presence_state").await;
    assert_eq!(keys(&state), ["alice", "bob", "carol"]);
    // The same phx_ref everywhere.
    let bob_ref = state["bob"]["metas"][0]["phx_ref"].clone();
    assert!(bob_ref.is_string());
    for ws in [&mut alice, &mut bob] {
        assert_eq!(
            keys(&next_event(ws, "presence_diff").await["joins"]),
            ["carol"]
        );
    }
    // Bob leaves (his socket closes): alice and carol see it, with his phx_ref.
    bob.close(None).await.unwrap();
    for ws in [&mut alice, &mut carol] {
        let diff = next_event(ws, "presence_diff").await;
        assert_eq!(keys(&diff["leaves"]), ["bob"]);
        assert_eq!(diff["leaves"]["bob"]["metas"][0]["phx_ref"], bob_ref);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcasts_resume_after_redis_restarts_and_nothing_crashes() {
    let mut redis = RedisServer::start();
    let (a, b) = (node(&redis, "a").await, node(&redis, "b").await);
    linked(&[&a, &b]).await;
    let mut on_a = connect_v2(&a, "").await;
    let mut on_b = connect_v2(&b, "").await;
    join(&mut on_a, "rooms:lobby", json!({})).await;
    join(&mut on_b, "rooms:lobby", json!({})).await;

    redis.kill();
    // Meanwhile each node serves its own clients.
    send(
        &mut on_a,
        json!(["1", "2", "rooms:lobby", "broadcast", {"during": true}]),
    )
    .await;
    assert_eq!(recv(&mut on_a).await[4], json!({"during": true}));
    send(&mut on_b, json!(["1", "2", "rooms:lobby", "ping", {}])).await;
    assert_eq!(
        recv(&mut on_b).await[4]["response"],
        json!({"pong": "pong"})
    );

    redis.restart();
    // Until both nodes have resubscribed a broadcast may be lost (and counted); retry until one
    // crosses, then every later one does.
    let mut crossed = false;
    for attempt in 0..100 {
        a.endpoint()
            .broadcast(
                "rooms:lobby",
                "probe",
                Payload::json(&json!({"attempt": attempt})),
            )
            .unwrap();
        assert_eq!(recv(&mut on_a).await[3], "probe");
        if let Ok(Some(Ok(Message::Text(text)))) =
            tokio::time::timeout(Duration::from_millis(100), on_b.next()).await
        {
            let frame: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(frame[3], "probe");
            crossed = true;
            break;
        }
    }
    assert!(
        crossed,
        "no broadcast crossed within 10 s of Redis restarting"
    );
    assert!(
        a.endpoint().node_messages_lost() > 0,
        "what could not go was counted"
    );
    for n in 0..5 {
        send(
            &mut on_a,
            json!(["1", format!("{}", n + 3), "rooms:lobby", "broadcast", {"after": n}]),
        )
        .await;
    }
    for n in 0..5 {
        assert_eq!(
            next_event(&mut on_b, "broadcast_event").await,
            json!({"after": n})
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_with_reuse_port_share_one_port() {
    let redis = RedisServer::start();
    let first = spawn_demo(any_port(), config(&redis, "a").with_reuse_port(true))
        .await
        .unwrap();
    let second = spawn_demo(
        first.local_addr(),
        config(&redis, "b").with_reuse_port(true),
    )
    .await
    .expect("a second node binds the same port");
    assert_eq!(first.local_addr(), second.local_addr());
    let without = spawn_demo(first.local_addr(), ServerConfig::default()).await;
    assert!(without.is_err(), "without SO_REUSEPORT the port is taken");
    linked(&[&first, &second]).await;
    // Whichever node takes a connection, a broadcast from the other reaches it.
    let mut ws = connect_v2(&first, "").await;
    join(&mut ws, "rooms:lobby", json!({})).await;
    for server in [&first, &second] {
        server
            .endpoint()
            .broadcast(
                "rooms:lobby",
                "hello",
                Payload::json(&json!({"from": server.endpoint().node_name()})),
            )
            .unwrap();
    }
    let mut from: Vec<String> = Vec::new();
    for _ in 0..2 {
        from.push(recv(&mut ws).await[4]["from"].as_str().unwrap().to_owned());
    }
    from.sort();
    assert_eq!(from, ["a", "b"]);
}
