//! The long-poll transport beyond the recorded scenarios: talking to websocket clients, the
//! server closing sessions, and every bound (expiry, a client that stops polling, the session
//! limit, body size, batch size, a POST that cannot be dispatched in time).

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::SinkExt;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use slipstream_server::{RunningServer, ServerConfig};
use tokio_tungstenite::tungstenite::Message;

use support::demo_with;
use support::ws::{connect_v2, recv};

/// One HTTP answer: status, headers, body.
struct Answer {
    status: u16,
    headers: hyper::HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.body))
    }
}

async fn request(
    addr: SocketAddr,
    method: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Answer {
    let mut builder = Request::builder()
        .method(method)
        .uri(path_and_query)
        .header("host", addr.to_string());
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let req = builder.body(Full::new(body.into())).expect("request");
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(connection);
    let response = tokio::time::timeout(Duration::from_secs(20), sender.send_request(req))
        .await
        .expect("an answer within 20 s")
        .expect("a response");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// A long-poll client session, driven by hand.
struct Lp {
    addr: SocketAddr,
    query: String,
    token: String,
}

impl Lp {
    /// Opens a session with these query params (`vsn=2.0.0` added).
    async fn open(server: &RunningServer, params: &str) -> Lp {
        let addr = server.local_addr();
        let query = if params.is_empty() {
            "vsn=2.0.0".to_owned()
        } else {
            format!("vsn=2.0.0&{params}")
        };
        let answer = request(addr, "GET", &format!("/socket/longpoll?{query}"), &[], "").await;
        let body = answer.json();
        assert_eq!(body["status"], 410, "a new session: {body}");
        let token = body["token"].as_str().expect("a token").to_owned();
        Lp { addr, query, token }
    }

    fn path(&self) -> String {
        format!("/socket/longpoll?{}&token={}", self.query, self.token)
    }

    /// A poll in a task of its own (to be answered later).
    fn spawn_get(&self) -> tokio::task::JoinHandle<Value> {
        let (addr, path) = (self.addr, self.path());
        tokio::spawn(async move { request(addr, "GET", &path, &[], "").await.json() })
    }

    async fn get(&self) -> Value {
        request(self.addr, "GET", &self.path(), &[], "")
            .await
            .json()
    }

    /// Polls until `n` messages came (each parsed as JSON), or panics after `limit` polls.
    async fn messages(&self, n: usize) -> Vec<Value> {
        let mut got = Vec::new();
        for _ in 0..20 {
            let body = self.get().await;
            assert!(
                body["status"] == 200 || body["status"] == 204,
                "poll answered {body}"
            );
            for message in body["messages"].as_array().into_iter().flatten() {
                got.push(serde_json::from_str(message.as_str().expect("a string")).expect("JSON"));
            }
            if got.len() >= n {
                return got;
            }
        }
        panic!("only {} of {n} messages came: {got:?}", got.len());
    }

    async fn post(&self, frames: &[Value]) -> Value {
        let body: Vec<String> = frames.iter().map(Value::to_string).collect();
        let headers = [("content-type", "application/x-ndjson")];
        request(self.addr, "POST", &self.path(), &headers, body.join("\n"))
            .await
            .json()
    }
}

async fn eventually(what: &str, check: impl Fn() -> bool) {
    for _ in 0..200 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{what} did not happen within 5 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcasts_cross_between_websocket_and_long_poll_clients() {
    let server = demo_with(ServerConfig::default()).await;
    let lp = Lp::open(&server, "").await;
    assert_eq!(
        lp.post(&[json!(["1", "1", "rooms:lobby", "phx_join", {}])])
            .await["status"],
        200
    );
    assert_eq!(lp.messages(1).await[0][3], "phx_reply");
    let mut ws = connect_v2(&server, "").await;
    ws.send(Message::Text(
        json!(["1", "1", "rooms:lobby", "phx_join", {}])
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    assert_eq!(recv(&mut ws).await[3], "phx_reply");

    ws.send(Message::Text(
        json!(["1", "2", "rooms:lobby", "broadcast", {"from": "ws"}])
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    assert_eq!(
        recv(&mut ws).await,
        json!([null, null, "rooms:lobby", "broadcast_event", {"from": "ws"}])
    );
    assert_eq!(
        lp.messages(1).await,
        [json!([null, null, "rooms:lobby", "broadcast_event", {"from": "ws"}])]
    );

    lp.post(&[json!(["1", "2", "rooms:lobby", "broadcast", {"from": "lp"}])])
        .await;
    assert_eq!(
        recv(&mut ws).await,
        json!([null, null, "rooms:lobby", "broadcast_event", {"from": "lp"}])
    );
    assert_eq!(
        lp.messages(1).await,
        [json!([null, null, "rooms:lobby", "broadcast_event", {"from": "lp"}])]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_answers_as_soon_as_a_message_comes() {
    let server = demo_with(ServerConfig::default()).await;
    let lp = Lp::open(&server, "").await;
    lp.post(&[json!(["1", "1", "rooms:lobby", "phx_join", {}])])
        .await;
    lp.messages(1).await;
    // The window is 10 s: a poll that waited for it would fail the 5 s bound below.
    let waiting = lp.spawn_get();
    tokio::time::sleep(Duration::from_millis(200)).await;
    server
        .endpoint()
        .broadcast(
            "rooms:lobby",
            "news",
            slipstream_server::Payload::json(&json!({"n": 1})),
        )
        .unwrap();
    let body = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("the waiting poll answered at once")
        .unwrap();
    assert_eq!(body["status"], 200);
    assert_eq!(
        body["messages"][0],
        r#"[null,null,"rooms:lobby","news",{"n":1}]"#
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_poll_takes_over_and_the_older_one_answers_empty() {
    let server = demo_with(ServerConfig::default()).await;
    let lp = Lp::open(&server, "").await;
    let older = lp.spawn_get();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let newer = lp.spawn_get();
    let older = tokio::time::timeout(Duration::from_secs(5), older)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(older["status"], 204);
    lp.post(&[json!([null, "1", "phoenix", "heartbeat", {}])])
        .await;
    let newer = tokio::time::timeout(Duration::from_secs(5), newer)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        newer["status"], 200,
        "the newer poll gets the reply: {newer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_id_disconnect_ends_the_session_and_its_token() {
    let server = demo_with(ServerConfig::default()).await;
    let lp = Lp::open(&server, "user_id=7").await;
    let poll = lp.spawn_get();
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.endpoint().disconnect_socket_id("user_socket:7");
    let body = tokio::time::timeout(Duration::from_secs(5), poll)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        body["status"], 410,
        "the waiting poll learns the session is gone: {body}"
    );
    let again = lp.get().await;
    assert_eq!(again["status"], 410);
    assert_ne!(
        again["token"],
        json!(lp.token),
        "a new session, with a new token"
    );
    assert_eq!(
        lp.post(&[json!([null, "1", "phoenix", "heartbeat", {}])])
            .await["status"],
        410
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_without_polls_expires_and_its_channels_end() {
    let window = Duration::from_millis(200);
    let server = demo_with(ServerConfig::default().with_longpoll_window(window)).await;
    let lp = Lp::open(&server, "").await;
    lp.post(&[json!(["1", "1", "presence:lobby", "phx_join", {"user": "ghost"}])])
        .await;
    assert_eq!(server.longpoll_session_count(), 1);
    assert_eq!(server.connection_count(), 1);
    // 1.5 × 200 ms without a poll, checked at most every 300 ms.
    eventually("the session's expiry", || {
        server.longpoll_session_count() == 0
    })
    .await;
    eventually("its connection's end", || server.connection_count() == 0).await;
    let mut watcher = connect_v2(&server, "").await;
    watcher
        .send(Message::Text(
            json!(["1", "1", "presence:lobby", "phx_join", {"user": "w"}])
                .to_string()
                .into(),
        ))
        .await
        .unwrap();
    let state = loop {
        let frame = recv(&mut watcher).await;
        if frame[3] == "presence_state" {
            break frame;
        }
    };
    assert!(
        state[4].get("ghost").is_none(),
        "the expired session's presence left: {state}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_polling_is_closed_at_the_outbound_limit() {
    let server = demo_with(ServerConfig::default().with_max_outbound_bytes(20_000)).await;
    let lp = Lp::open(&server, "").await;
    lp.post(&[json!(["1", "1", "rooms:lobby", "phx_join", {}])])
        .await;
    let big = "x".repeat(1_000);
    for n in 0..50 {
        let _ = server.endpoint().broadcast(
            "rooms:lobby",
            "filler",
            slipstream_server::Payload::json(&json!({"n": n, "pad": big})),
        );
    }
    eventually("the session's end", || server.longpoll_session_count() == 0).await;
    eventually("its connection's end", || server.connection_count() == 0).await;
    assert_eq!(server.outbound_queued_bytes(), 0);
    assert_eq!(
        lp.get().await["status"],
        410,
        "its token opens a new session"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_past_the_limit_are_refused_with_503() {
    let server = demo_with(ServerConfig::default().with_max_longpoll_sessions(2)).await;
    let _a = Lp::open(&server, "").await;
    let _b = Lp::open(&server, "").await;
    let third = request(
        server.local_addr(),
        "GET",
        "/socket/longpoll?vsn=2.0.0",
        &[],
        "",
    )
    .await;
    assert_eq!(third.status, 503);
    assert_eq!(third.headers["access-control-allow-origin"], "*");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_header_wins_over_the_query_and_forged_tokens_open_new_sessions() {
    let server = demo_with(ServerConfig::default()).await;
    let lp = Lp::open(&server, "").await;
    let addr = server.local_addr();
    let heartbeat = json!([null, "1", "phoenix", "heartbeat", {}]).to_string();
    let header = [("x-phoenix-longpoll-token", lp.token.as_str())];
    let posted = request(
        addr,
        "POST",
        "/socket/longpoll?vsn=2.0.0&token=bogus",
        &header,
        heartbeat.clone(),
    )
    .await;
    assert_eq!(posted.json()["status"], 200, "the header's token was used");
    assert_eq!(lp.messages(1).await[0][3], "phx_reply");
    // The token with its last signature character changed.
    let mut forged = lp.token.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    let answer = request(
        addr,
        "GET",
        &format!("/socket/longpoll?vsn=2.0.0&token={forged}"),
        &[],
        "",
    )
    .await;
    let body = answer.json();
    assert_eq!(body["status"], 410);
    assert_ne!(body["token"], json!(lp.token));
    assert_eq!(answer.headers["cache-control"], "no-store");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cors_preflight_is_answered() {
    let server = demo_with(ServerConfig::default()).await;
    let answer = request(
        server.local_addr(),
        "OPTIONS",
        "/socket/longpoll?vsn=2.0.0",
        &[(
            "access-control-request-headers",
            "content-type, x-phoenix-authtoken",
        )],
        "",
    )
    .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, "");
    let h = &answer.headers;
    assert_eq!(h["access-control-allow-origin"], "*");
    assert_eq!(
        h["access-control-allow-headers"],
        "content-type, x-phoenix-authtoken"
    );
    assert_eq!(h["access-control-allow-methods"], "get, post, options");
    assert_eq!(h["access-control-max-age"], "3600");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_takes_the_first_hundred_lines_and_a_body_past_the_frame_limit_is_refused() {
    let server = demo_with(ServerConfig::default().with_max_frame_size(64_000)).await;
    let lp = Lp::open(&server, "").await;
    let pings: Vec<Value> = (0..105)
        .map(|i| json!([null, format!("{i}"), "phoenix", "heartbeat", {}]))
        .collect();
    assert_eq!(lp.post(&pings).await["status"], 200);
    let replies = lp.messages(100).await;
    assert_eq!(replies.len(), 100);
    assert_eq!(replies[99][1], "99");
    let big = json!([null, "x", "phoenix", "heartbeat", {"pad": "y".repeat(70_000)}]).to_string();
    let answer = request(server.local_addr(), "POST", &lp.path(), &[], big).await;
    assert_eq!(answer.status, 413);
    assert_eq!(
        lp.post(&[json!([null, "z", "phoenix", "heartbeat", {}])])
            .await["status"],
        200,
        "the session lives on"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_that_cannot_be_dispatched_within_the_window_answers_408() {
    let config = ServerConfig::default()
        .with_longpoll_window(Duration::from_millis(300))
        .with_max_pending_pushes(1);
    let server = demo_with(config).await;
    let lp = Lp::open(&server, "").await;
    lp.post(&[json!(["1", "1", "rooms:lobby", "phx_join", {}])])
        .await;
    lp.messages(1).await;
    server.set_reply_delay(Duration::from_secs(2));
    // The channel holds the first ping for 2 s; the second waits for room, the POST for both.
    let pings = [
        json!(["1", "2", "rooms:lobby", "ping", {}]),
        json!(["1", "3", "rooms:lobby", "ping", {}]),
    ];
    assert_eq!(lp.post(&pings).await["status"], 408);
    server.set_reply_delay(Duration::ZERO);
    let replies = lp.messages(2).await;
    assert_eq!(replies[0][1], "2", "nothing was lost: {replies:?}");
    assert_eq!(replies[1][1], "3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_connects_answer_403_in_the_body() {
    let server = demo_with(ServerConfig::default()).await;
    let addr = server.local_addr();
    for query in ["vsn=2.0.0&reject=true", "vsn=3.0.0"] {
        let answer = request(addr, "GET", &format!("/socket/longpoll?{query}"), &[], "").await;
        assert_eq!(
            (answer.status, answer.json()),
            (200, json!({"status": 403})),
            "{query}"
        );
    }
    // Websocket fault injection leaves long-poll alone (a fallback target).
    server.set_refuse_connects(Some(503));
    server.set_hang_websocket_upgrades(true);
    Lp::open(&server, "").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_whose_client_hangs_up_does_not_keep_the_session_alive() {
    // A 2 s window: the session expires 3 s after its last poll ended; a poll counted in flight
    // until its window is over would push that past the 5 s `eventually` allows.
    let window = Duration::from_secs(2);
    let server = demo_with(ServerConfig::default().with_longpoll_window(window)).await;
    let lp = Lp::open(&server, "").await;
    // A GET whose client goes away before the window ends.
    let hung_up = tokio::spawn({
        let (addr, path) = (lp.addr, lp.path());
        async move { request(addr, "GET", &path, &[], "").await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    hung_up.abort();
    eventually("the session's expiry", || {
        server.longpoll_session_count() == 0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_binary_broadcast_a_long_poll_client_cannot_take_is_skipped_not_fatal() {
    let server = demo_with(ServerConfig::default()).await;
    let lp = Lp::open(&server, "").await;
    lp.post(&[json!(["1", "1", "rooms:lobby", "phx_join", {}])])
        .await;
    lp.messages(1).await;
    let endpoint = server.endpoint();
    endpoint
        .broadcast(
            "rooms:lobby",
            "bytes",
            slipstream_server::Payload::binary(vec![255u8, 0]),
        )
        .unwrap();
    let body = lp.get().await;
    assert_eq!(
        (&body["status"], &body["messages"]),
        (&json!(200), &json!([])),
        "nothing deliverable, and no failure: {body}"
    );
    endpoint
        .broadcast(
            "rooms:lobby",
            "bytes",
            slipstream_server::Payload::binary(vec![255u8, 0]),
        )
        .unwrap();
    endpoint
        .broadcast(
            "rooms:lobby",
            "news",
            slipstream_server::Payload::json(&json!({"n": 1})),
        )
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let body = lp.get().await;
    assert_eq!(body["status"], 200);
    assert_eq!(
        body["messages"],
        json!([r#"[null,null,"rooms:lobby","news",{"n":1}]"#])
    );
}
