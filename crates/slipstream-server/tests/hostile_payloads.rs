//! Payload shapes chosen to hurt: the demo's `rooms:lobby` echoes (`echo`) and broadcasts
//! (`broadcast`) what a client sends after re-encoding it as Phoenix would, so each shape below
//! goes through that re-encoding. Whatever the shape, the client must get its answer (the echo by
//! value, or the broadcast), and the server must go on serving other clients.
//!
//! The runtime is multi-threaded on purpose: the channel tasks then run on tokio's worker threads,
//! with the same 2 MiB stacks as in `slipstream serve`. Before the re-encoding was iterative, the
//! 20,000-deep array overflowed that stack and aborted this whole test process.
//!
//! Replies are read with `RawValue`s (never `serde_json::Value`, whose parser stops at depth 128
//! and whose drop recurses) and compared as text: the re-encoding of these shapes is known
//! exactly.

mod support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use serde_json::value::RawValue;
use slipstream_server::{RunningServer, ServerConfig, spawn_demo};

use support::ws::{Ws, recv_text, send_text};

/// Generous: a debug build on a loaded 2-core machine re-encodes megabytes.
const PATIENCE: Duration = Duration::from_secs(60);

async fn demo() -> (RunningServer, String) {
    let addr: SocketAddr = "127.0.0.1:0".parse().expect("address");
    let server = spawn_demo(addr, ServerConfig::default())
        .await
        .expect("demo server starts");
    let url = format!("{}?vsn=2.0.0", server.ws_url());
    (server, url)
}

/// A client joined to `rooms:lobby` with join_ref "1".
async fn joined(url: &str) -> Ws {
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("websocket connects");
    send_text(
        &mut ws,
        r#"["1","1","rooms:lobby","phx_join",{}]"#.to_owned(),
    )
    .await;
    let (status, _) = reply(&recv_text(&mut ws, PATIENCE).await);
    assert_eq!(status, "ok", "join of rooms:lobby");
    ws
}

fn elements(frame: &str) -> Vec<&RawValue> {
    let elements: Vec<&RawValue> = serde_json::from_str(frame).expect("a V2 frame");
    assert_eq!(elements.len(), 5, "a V2 frame has 5 elements");
    elements
}

/// A `phx_reply` frame's status and response (raw JSON).
fn reply(frame: &str) -> (String, String) {
    let elements = elements(frame);
    assert_eq!(elements[3].get(), r#""phx_reply""#);
    let payload: HashMap<String, &RawValue> =
        serde_json::from_str(elements[4].get()).expect("a reply payload");
    let status: String = serde_json::from_str(payload["status"].get()).expect("a status");
    (status, payload["response"].get().to_owned())
}

/// Pings `rooms:lobby` on `ws` and expects the pong.
async fn served(ws: &mut Ws, msg_ref: &str) {
    send_text(
        ws,
        format!(r#"["1","{msg_ref}","rooms:lobby","ping",{{}}]"#),
    )
    .await;
    let (status, response) = reply(&recv_text(ws, PATIENCE).await);
    assert_eq!(
        (status.as_str(), response.as_str()),
        ("ok", r#"{"pong":"pong"}"#)
    );
}

/// Sends `payload` in an `echo`, expects `expected` back (ok), then checks that this client and
/// a new one are both still served.
async fn echo(payload: &str, expected: &str) {
    let (_server, url) = demo().await;
    let mut ws = joined(&url).await;
    send_text(
        &mut ws,
        format!(r#"["1","2","rooms:lobby","echo",{payload}]"#),
    )
    .await;
    let (status, response) = reply(&recv_text(&mut ws, PATIENCE).await);
    assert_eq!(status, "ok");
    assert!(
        response == expected,
        "the echo of a {}-byte payload differs: {} bytes, starting {}",
        payload.len(),
        response.len(),
        response.chars().take(80).collect::<String>()
    );
    served(&mut ws, "3").await;
    let mut other = joined(&url).await;
    served(&mut other, "2").await;
}

/// Broadcasts `payload` from one client; both it and another subscriber get `expected`, and a
/// new client is served afterwards.
async fn broadcast(payload: &str, expected: &str) {
    let (_server, url) = demo().await;
    let mut sender = joined(&url).await;
    let mut listener = joined(&url).await;
    send_text(
        &mut sender,
        format!(r#"["1","2","rooms:lobby","broadcast",{payload}]"#),
    )
    .await;
    for ws in [&mut sender, &mut listener] {
        let frame = recv_text(ws, PATIENCE).await;
        let elements = elements(&frame);
        assert_eq!(elements[3].get(), r#""broadcast_event""#);
        assert!(
            elements[4].get() == expected,
            "the broadcast of a {}-byte payload differs ({} bytes)",
            payload.len(),
            elements[4].get().len()
        );
    }
    served(&mut sender, "3").await;
    let mut other = joined(&url).await;
    served(&mut other, "2").await;
}

fn nested_arrays(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

/// `{"b":0,"a":{"b":0,"a":…1…}}`, and its re-encoding with the keys sorted.
fn nested_objects(depth: usize) -> (String, String) {
    (
        format!("{}1{}", r#"{"b":0,"a":"#.repeat(depth), "}".repeat(depth)),
        format!(
            "{}1{}",
            r#"{"a":"#.repeat(depth),
            r#","b":0}"#.repeat(depth)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_array_20_000_deep_is_echoed() {
    let payload = nested_arrays(20_000);
    echo(&payload, &payload).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_array_20_000_deep_is_broadcast() {
    let payload = nested_arrays(20_000);
    broadcast(&payload, &payload).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_array_1_000_000_deep_is_echoed() {
    let payload = nested_arrays(1_000_000);
    echo(&payload, &payload).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_20_000_deep_are_echoed_sorted() {
    let (payload, expected) = nested_objects(20_000);
    echo(&payload, &expected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_100_000_deep_are_broadcast_sorted() {
    let (payload, expected) = nested_objects(100_000);
    broadcast(&payload, &expected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_1_000_000_deep_are_echoed() {
    // 6 MB, under the 8 MB frame limit.
    let depth = 1_000_000;
    let payload = format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth));
    echo(&payload, &payload).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_string_of_escapes_is_echoed_decoded() {
    let payload = format!(r#"{{"s":"{}\ud83d\ude00"}}"#, r"\u00e9".repeat(1_000_000));
    let expected = format!(r#"{{"s":"{}😀"}}"#, "é".repeat(1_000_000));
    echo(&payload, &expected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_surrogate_is_echoed_as_sent() {
    // Not a string any language can hold (Jason refuses it); the payload comes back unchanged.
    let payload = r#"{"b":"\ud800","a":"\udc00x"}"#;
    echo(payload, payload).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_keys_and_duplicates_keep_the_first_value() {
    let n = 100_000;
    let mut payload = String::from("{");
    for i in (0..n).rev() {
        payload.push_str(&format!(r#""k{i:06}":{i},"k{i:06}":"later","#));
    }
    payload.push_str(r#""k":true}"#);
    let kept: Vec<String> = (0..n).map(|i| format!(r#""k{i:06}":{i}"#)).collect();
    let expected = format!(r#"{{"k":true,{}}}"#, kept.join(","));
    echo(&payload, &expected).await;
    broadcast(&payload, &expected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_numbers_keep_their_text() {
    let digits = "9".repeat(10_000);
    let payload = format!("[1e999999,-{digits},{digits}.{digits}E-999999,-0.0]");
    echo(&payload, &payload).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_join_params_are_read_past() {
    // The demo reads one member of the join params (`deny` on `rooms:*`); a deep sibling must not
    // stop it (serde_json's Value gives up at depth 128, and the join crashed).
    let (_server, url) = demo().await;
    let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .expect("websocket connects");
    let deep = nested_arrays(20_000);
    for (join_ref, topic, deny, status, response) in [
        (
            "1",
            "rooms:a",
            "true",
            "error",
            r#"{"reason":"unauthorized"}"#,
        ),
        ("2", "rooms:b", "false", "ok", r#"{"joined":"rooms:b"}"#),
    ] {
        let params = format!(r#"{{"nest":{deep},"deny":{deny}}}"#);
        send_text(
            &mut ws,
            format!(r#"["{join_ref}","{join_ref}","{topic}","phx_join",{params}]"#),
        )
        .await;
        let (got_status, got_response) = reply(&recv_text(&mut ws, PATIENCE).await);
        assert_eq!(
            (got_status.as_str(), got_response.as_str()),
            (status, response)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_values_in_the_other_elements_of_a_frame_are_answered() {
    // Not payloads, but the same attack: a deep topic or ref. The codec keeps them as raw text,
    // so this held before the re-encoding was fixed too; it guards the whole path.
    let (_server, url) = demo().await;
    let mut ws = joined(&url).await;
    let deep = nested_arrays(1_000_000);
    send_text(&mut ws, format!(r#"[null,"2",{deep},"echo",{{}}]"#)).await;
    let frame = recv_text(&mut ws, PATIENCE).await;
    let elements = elements(&frame);
    assert!(elements[2].get() == deep, "the topic is echoed");
    let (status, response) = reply(&frame);
    assert_eq!(
        (status.as_str(), response.as_str()),
        ("error", r#"{"reason":"unmatched topic"}"#)
    );
    send_text(
        &mut ws,
        format!(r#"["1",{deep},"rooms:lobby","ping",{{}}]"#),
    )
    .await;
    let frame = recv_text(&mut ws, PATIENCE).await;
    assert!(elements_ref(&frame) == deep, "the ref is echoed");
    served(&mut ws, "3").await;
    let mut other = joined(&url).await;
    served(&mut other, "2").await;
}

fn elements_ref(frame: &str) -> String {
    elements(frame)[1].get().to_owned()
}
