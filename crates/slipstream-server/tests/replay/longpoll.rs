//! The long-poll replayer: plays the HTTP requests of one recorded `lp_*` scenario against an
//! in-process demo server and compares each response as `tests/conformance/README.md` says:
//! HTTP status and the listed headers exactly, the body by value with placeholders, and each
//! string of a poll's `messages` as the frame it is (JSON by value, anything else exactly).
//!
//! The recorder waited 150 ms before each poll that carries a token; this replayer does the same,
//! and when a poll brings fewer messages than recorded it polls again and compares the
//! concatenation, as the README allows. The server runs with a 1 s poll window instead of 10 s
//! (set `SLIPSTREAM_CONFORMANCE_FULL_IDLE=1` for the real one), so `lp_poll_timeout` waits 1 s.

use std::collections::HashMap;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use slipstream_server::{RunningServer, ServerConfig, spawn_demo};

use super::json;
use super::load;

/// What the recorder waited before a poll with a token.
const POLL_DELAY: Duration = Duration::from_millis(150);

/// One response, as the comparison needs it.
#[derive(Debug)]
struct Answer {
    status: u16,
    content_type: Option<String>,
    allow_origin: Option<String>,
    body: String,
}

/// Replays long-poll scenario `name`; panics with the scenario name and step on a mismatch.
pub async fn run(name: &str) {
    let scenario = load(name);
    assert_eq!(
        scenario["transport"], "longpoll",
        "{name} is not a long-poll scenario"
    );
    let window = if std::env::var_os("SLIPSTREAM_CONFORMANCE_FULL_IDLE").is_some() {
        Duration::from_secs(10)
    } else {
        Duration::from_secs(1)
    };
    let config = ServerConfig::default().with_longpoll_window(window);
    let server = spawn_demo("127.0.0.1:0".parse().expect("address"), config)
        .await
        .expect("demo server starts");
    let steps = scenario["steps"].as_array().cloned().unwrap_or_default();
    let mut binds: HashMap<String, String> = HashMap::new();
    let mut i = 0;
    while i < steps.len() {
        let request = &steps[i]["http_request"];
        let expected = &steps[i + 1]["http_response"];
        let at = format!("{name} step {i}: {request}");
        assert!(
            request.is_object() && expected.is_object(),
            "{at}: steps must alternate request, response"
        );
        let query = query_of(request, &binds, &at);
        let is_poll = request["method"] == "GET" && query.iter().any(|(k, _)| k == "token");
        if is_poll {
            tokio::time::sleep(POLL_DELAY).await;
        }
        let mut answer = send(&server, request, &query).await;
        if is_poll {
            answer = poll_until_complete(&server, request, &query, answer, expected, window).await;
        }
        if let Err(why) = compare(expected, &answer, &mut binds) {
            panic!("{at}\n  got {answer:?}\n  {why}");
        }
        i += 2;
    }
    server.shutdown().await;
}

/// The request's query with `<var:NAME>` values substituted, in the recorded order.
fn query_of(request: &Value, binds: &HashMap<String, String>, at: &str) -> Vec<(String, String)> {
    let Some(query) = request["query"].as_object() else {
        return Vec::new();
    };
    query
        .iter()
        .map(|(key, value)| {
            let value = value.as_str().unwrap_or_default();
            let value = match value
                .strip_prefix("<var:")
                .and_then(|v| v.strip_suffix('>'))
            {
                Some(var) => binds
                    .get(var)
                    .unwrap_or_else(|| panic!("{at}: {var} is not bound yet"))
                    .clone(),
                None => value.to_owned(),
            };
            (key.clone(), value)
        })
        .collect()
}

/// Sends one request on a connection of its own.
async fn send(server: &RunningServer, request: &Value, query: &[(String, String)]) -> Answer {
    let mut uri = request["path"]
        .as_str()
        .unwrap_or("/socket/longpoll")
        .to_owned();
    if !query.is_empty() {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in query {
            q.append_pair(k, v);
        }
        uri = format!("{uri}?{}", q.finish());
    }
    let method = Method::from_bytes(request["method"].as_str().unwrap_or("GET").as_bytes())
        .expect("a recorded method");
    let mut builder = Request::builder()
        .method(method)
        .uri(uri)
        .header("host", server.local_addr().to_string());
    if let Some(content_type) = request["content_type"].as_str() {
        builder = builder.header("content-type", content_type);
    }
    let body = request["body"].as_str().unwrap_or_default().to_owned();
    let req = builder
        .body(Full::new(Bytes::from(body)))
        .expect("a valid request");
    let stream = tokio::net::TcpStream::connect(server.local_addr())
        .await
        .expect("connects to the server");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("HTTP handshake");
    tokio::spawn(connection);
    let response = tokio::time::timeout(Duration::from_secs(30), sender.send_request(req))
        .await
        .expect("an answer within 30 s")
        .expect("an HTTP response");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap_or_default().to_owned())
    };
    let status = response.status().as_u16();
    let content_type = header("content-type");
    let allow_origin = header("access-control-allow-origin");
    let body = response
        .into_body()
        .collect()
        .await
        .expect("the body")
        .to_bytes();
    Answer {
        status,
        content_type,
        allow_origin,
        body: String::from_utf8(body.to_vec()).expect("a UTF-8 body"),
    }
}

/// Polls again while a 200 poll holds fewer messages than recorded, appending what comes.
async fn poll_until_complete(
    server: &RunningServer,
    request: &Value,
    query: &[(String, String)],
    mut answer: Answer,
    expected: &Value,
    window: Duration,
) -> Answer {
    let want = expected["json_match"]["messages"]
        .as_array()
        .map_or(0, Vec::len);
    let deadline = tokio::time::Instant::now() + window * 3;
    loop {
        let Ok(mut body) = serde_json::from_str::<Value>(&answer.body) else {
            return answer;
        };
        let have = body["messages"].as_array().map_or(0, Vec::len);
        if answer.status != 200
            || body["status"] != 200
            || have >= want
            || tokio::time::Instant::now() >= deadline
        {
            return answer;
        }
        let more = send(server, request, query).await;
        let Ok(next) = serde_json::from_str::<Value>(&more.body) else {
            return more;
        };
        if let (Some(list), Some(extra)) =
            (body["messages"].as_array_mut(), next["messages"].as_array())
        {
            list.extend(extra.iter().cloned());
        }
        answer.body = body.to_string();
    }
}

/// Compares one response with its recording.
fn compare(
    expected: &Value,
    got: &Answer,
    binds: &mut HashMap<String, String>,
) -> Result<(), String> {
    let status = expected["status"].as_u64().unwrap_or(0);
    if u64::from(got.status) != status {
        return Err(format!("expected HTTP {status}"));
    }
    let headers = &expected["headers"];
    for (name, have) in [
        ("content-type", &got.content_type),
        ("access-control-allow-origin", &got.allow_origin),
    ] {
        if let Some(want) = headers.get(name)
            && want.as_str() != have.as_deref()
        {
            return Err(format!("expected header {name}: {want}"));
        }
    }
    if let Some(pattern) = expected.get("json_match").or_else(|| expected.get("json")) {
        let have: Value =
            serde_json::from_str(&got.body).map_err(|_| "the body is not JSON".to_owned())?;
        return body_matches(pattern, &have, binds);
    }
    if let Some(body) = expected["body"].as_str()
        && got.body != body
    {
        return Err(format!("expected body {body:?}"));
    }
    Ok(())
}

/// The body by value with placeholders; `messages` strings compared as the frames they are.
fn body_matches(
    pattern: &Value,
    have: &Value,
    binds: &mut HashMap<String, String>,
) -> Result<(), String> {
    let mut pattern = pattern.clone();
    let mut have = have.clone();
    let want_messages = pattern.as_object_mut().and_then(|o| o.remove("messages"));
    let have_messages = have.as_object_mut().and_then(|o| o.remove("messages"));
    let want = json::parse(&pattern.to_string()).ok_or("pattern is not JSON")?;
    let got = json::parse(&have.to_string()).ok_or("body is not JSON")?;
    if !json::matches(&want, &got, binds) {
        return Err(format!("expected (by value) {pattern}"));
    }
    match (want_messages, have_messages) {
        (None, None) => Ok(()),
        (Some(Value::Array(want)), Some(Value::Array(have))) if want.len() == have.len() => {
            for (w, h) in want.iter().zip(&have) {
                let (Some(w), Some(h)) = (w.as_str(), h.as_str()) else {
                    return Err(format!("messages must be strings: {w} / {h}"));
                };
                let same = match (json::parse(w), json::parse(h)) {
                    (Some(w), Some(h)) => json::matches(&w, &h, binds),
                    _ => w == h,
                };
                if !same {
                    return Err(format!("expected message {w:?}, got {h:?}"));
                }
            }
            Ok(())
        }
        (want, have) => Err(format!("expected messages {want:?}, got {have:?}")),
    }
}
