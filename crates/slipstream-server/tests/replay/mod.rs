//! The replayer: plays the client side of one recorded scenario against an in-process demo server.

pub mod json;
pub mod longpoll;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use slipstream_server::{RunningServer, ServerConfig, spawn_demo};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{Frame, Utf8Bytes};
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Bytes, Error as WsError, Message};

type Sink = futures_util::stream::SplitSink<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    Message,
>;

/// Default wait for an expected frame.
const DEFAULT_WAIT: Duration = Duration::from_secs(5);
/// The idle timeout used for `v2_idle_timeout` unless the full 60 s is asked for.
const SHORT_IDLE: Duration = Duration::from_secs(3);

/// Where the repository's copy of the recordings lives.
pub fn conformance_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/conformance")
}

/// Loads one scenario file.
pub fn load(name: &str) -> Value {
    let path = conformance_dir().join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

/// What a socket received.
#[derive(Debug)]
enum Got {
    Text(String),
    Binary(Bytes),
    Pong(Bytes),
    Close(Option<u16>),
    /// The stream ended or failed without a close frame.
    End(String),
}

struct Conn {
    sink: Sink,
    queue: mpsc::UnboundedReceiver<Got>,
}

/// Replays scenario `name`; panics with the scenario name and step on the first mismatch.
pub async fn run(name: &str) {
    let scenario = load(name);
    assert_eq!(
        scenario["transport"], "websocket",
        "{name} is not a websocket scenario"
    );
    let full_idle = std::env::var_os("SLIPSTREAM_CONFORMANCE_FULL_IDLE").is_some();
    let mut config = ServerConfig::default();
    // Waits in the recording are scaled for a shortened idle timeout (see the test crate's docs).
    let mut scale = 1.0;
    if name == "v2_idle_timeout" && !full_idle {
        config = config.with_idle_timeout(SHORT_IDLE);
        scale = SHORT_IDLE.as_secs_f64() / 60.0;
    }
    let server = spawn_demo("127.0.0.1:0".parse().expect("address"), config)
        .await
        .expect("demo server starts");
    let mut conns: HashMap<String, Conn> = HashMap::new();
    let connect = &scenario["connect"];
    if let Some(conn) = open(name, &server, "a", connect).await {
        conns.insert("a".to_owned(), conn);
    }
    if let Some(extra) = scenario["extra_connections"].as_object() {
        for (label, spec) in extra {
            if let Some(conn) = open(name, &server, label, spec).await {
                conns.insert(label.clone(), conn);
            }
        }
    }
    let mut binds = HashMap::new();
    let steps = scenario["steps"].as_array().cloned().unwrap_or_default();
    for (i, step) in steps.iter().enumerate() {
        let label = step["socket"].as_str().unwrap_or("a");
        let at = format!("{name} step {i} (socket {label}): {step}");
        let at = truncate(&at);
        let conn = conns
            .get_mut(label)
            .unwrap_or_else(|| panic!("{at}: socket not open"));
        if let Some(send) = step.get("send") {
            let message = outgoing(send, &at);
            conn.sink
                .send(message)
                .await
                .unwrap_or_else(|e| panic!("{at}: send failed: {e}"));
        } else if let Some(expect) = step.get("expect") {
            let wait = within(step, scale);
            let got = next(conn, wait).await;
            if let Err(why) = check(expect, &got, &mut binds) {
                panic!("{at}\n  got {got:?}\n  {why}");
            }
        } else if let Some(list) = step.get("expect_unordered").and_then(Value::as_array) {
            let wait = within(step, scale);
            let mut got = Vec::new();
            for _ in list {
                got.push(next(conn, wait).await);
            }
            if !match_unordered(list, &got, &mut binds) {
                panic!("{at}\n  got {got:?}\n  no one-to-one matching");
            }
        } else if let Some(silence) = step.get("expect_silence") {
            let ms = silence["ms"].as_u64().unwrap_or(250) as f64 * scale;
            tokio::time::sleep(Duration::from_millis(ms as u64)).await;
            if let Ok(got) = conn.queue.try_recv() {
                panic!("{at}\n  expected silence, got {got:?}");
            }
        } else {
            panic!("{at}: unknown step kind");
        }
    }
    drop(conns);
    server.shutdown().await;
}

fn truncate(text: &str) -> String {
    match text.char_indices().nth(400) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

fn within(step: &Value, scale: f64) -> Duration {
    step["within_ms"]
        .as_u64()
        .map(|ms| Duration::from_millis((ms as f64 * scale) as u64 + 1000))
        .unwrap_or(DEFAULT_WAIT)
}

/// Opens a socket and checks the HTTP status; `None` when the upgrade was (rightly) refused.
async fn open(name: &str, server: &RunningServer, label: &str, spec: &Value) -> Option<Conn> {
    let path = spec["path"].as_str().unwrap_or("/socket/websocket");
    let mut query = form_urlencoded::Serializer::new(String::new());
    if let Some(params) = spec["params"].as_object() {
        for (key, value) in params {
            query.append_pair(key, value.as_str().unwrap_or_default());
        }
    }
    let query = query.finish();
    let mut url = format!("ws://{}{path}", server.local_addr());
    if !query.is_empty() {
        url = format!("{url}?{query}");
    }
    let expected = spec["expect_http_status"].as_u64().unwrap_or(101);
    let config = WebSocketConfig::default()
        .max_message_size(Some(64 << 20))
        .max_frame_size(Some(64 << 20));
    let result =
        tokio_tungstenite::connect_async_with_config(url.as_str(), Some(config), false).await;
    match result {
        Ok((stream, response)) => {
            assert_eq!(
                u64::from(response.status().as_u16()),
                expected,
                "{name}: socket {label} upgraded but the recording expects {expected}"
            );
            let (sink, mut source) = stream.split();
            let (tx, queue) = mpsc::unbounded_channel();
            tokio::spawn(async move {
                while let Some(item) = source.next().await {
                    let got = match item {
                        Ok(Message::Text(text)) => Got::Text(text.to_string()),
                        Ok(Message::Binary(bytes)) => Got::Binary(bytes),
                        Ok(Message::Pong(bytes)) => Got::Pong(bytes),
                        Ok(Message::Ping(_)) => continue,
                        Ok(Message::Close(frame)) => Got::Close(frame.map(|f| u16::from(f.code))),
                        Ok(Message::Frame(_)) => continue,
                        Err(err) => Got::End(err.to_string()),
                    };
                    let last = matches!(got, Got::Close(_) | Got::End(_));
                    if tx.send(got).is_err() || last {
                        return;
                    }
                }
                let _ = tx.send(Got::End("stream ended".to_owned()));
            });
            Some(Conn { sink, queue })
        }
        Err(WsError::Http(response)) => {
            assert_eq!(
                u64::from(response.status().as_u16()),
                expected,
                "{name}: socket {label} HTTP status"
            );
            if let Some(body) = spec["expect_http_body"].as_str() {
                let got = response.body().clone().unwrap_or_default();
                assert_eq!(
                    String::from_utf8_lossy(&got),
                    body,
                    "{name}: socket {label} HTTP body"
                );
            }
            None
        }
        Err(err) => panic!("{name}: socket {label} failed to connect: {err}"),
    }
}

async fn next(conn: &mut Conn, wait: Duration) -> Got {
    match tokio::time::timeout(wait, conn.queue.recv()).await {
        Ok(Some(got)) => got,
        Ok(None) => Got::End("reader gone".to_owned()),
        Err(_) => Got::End(format!("nothing within {wait:?}")),
    }
}

fn b64(value: &Value, at: &str) -> Vec<u8> {
    B64.decode(value.as_str().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{at}: bad base64: {e}"))
}

/// Expands `text_parts` and checks `byte_length`.
fn expand(spec: &Value, at: &str) -> String {
    let mut out = String::new();
    for part in spec["text_parts"].as_array().into_iter().flatten() {
        match part {
            Value::String(s) => out.push_str(s),
            Value::Object(rep) => {
                let unit = rep["repeat"].as_str().unwrap_or_default();
                let count = rep["count"].as_u64().unwrap_or_default() as usize;
                out.push_str(&unit.repeat(count));
            }
            other => panic!("{at}: bad text part {other}"),
        }
    }
    if let Some(len) = spec["byte_length"].as_u64() {
        assert_eq!(out.len() as u64, len, "{at}: expanded text_parts length");
    }
    out
}

fn outgoing(send: &Value, at: &str) -> Message {
    if let Some(text) = send["text"].as_str() {
        Message::Text(text.into())
    } else if send.get("text_parts").is_some() {
        Message::Text(expand(send, at).into())
    } else if let Some(bytes) = send.get("text_bytes_base64") {
        // Deliberately invalid UTF-8 in a text frame: only a raw frame can carry it.
        Message::Frame(Frame::message(
            b64(bytes, at),
            OpCode::Data(Data::Text),
            true,
        ))
    } else if let Some(bytes) = send.get("binary_base64") {
        Message::Binary(b64(bytes, at).into())
    } else if let Some(bytes) = send.get("ping_base64") {
        Message::Ping(b64(bytes, at).into())
    } else if let Some(code) = send["close"].as_u64() {
        Message::Close(Some(CloseFrame {
            code: CloseCode::from(code as u16),
            reason: Utf8Bytes::from_static(""),
        }))
    } else {
        panic!("{at}: unknown send {send}")
    }
}

/// Compares one received frame with one `expect` body.
fn check(expect: &Value, got: &Got, binds: &mut HashMap<String, String>) -> Result<(), String> {
    if let Got::End(why) = got {
        return Err(format!("no frame: {why}"));
    }
    let mut json_text = |expected: &str| -> Result<(), String> {
        let Got::Text(text) = got else {
            return Err("expected a text frame".to_owned());
        };
        let want = json::parse(expected).ok_or("recorded text is not JSON")?;
        let have = json::parse(text).ok_or("received text is not JSON")?;
        if json::matches(&want, &have, binds) {
            Ok(())
        } else {
            Err(format!("expected (by value) {}", truncate(expected)))
        }
    };
    if let Some(text) = expect["text"].as_str() {
        return json_text(text);
    }
    if expect.get("text_parts").is_some() {
        return json_text(&expand(expect, "expect"));
    }
    if let Some(pattern) = expect.get("json_match") {
        return json_text(&pattern.to_string());
    }
    if let Some(bytes) = expect.get("binary_base64") {
        let want = b64(bytes, "expect");
        return match got {
            Got::Binary(have) if have[..] == want[..] => Ok(()),
            _ => Err(format!("expected binary {want:?}")),
        };
    }
    if let Some(bytes) = expect.get("pong_base64") {
        let want = b64(bytes, "expect");
        return match got {
            Got::Pong(have) if have[..] == want[..] => Ok(()),
            _ => Err(format!("expected pong {want:?}")),
        };
    }
    if let Some(code) = expect["close"].as_u64() {
        return match got {
            Got::Close(Some(have)) if u64::from(*have) == code => Ok(()),
            _ => Err(format!("expected close {code}")),
        };
    }
    Err(format!("unknown expectation {expect}"))
}

/// Finds a one-to-one matching between expectations and frames (backtracking; N is tiny).
fn match_unordered(expects: &[Value], got: &[Got], binds: &mut HashMap<String, String>) -> bool {
    fn go(
        expects: &[Value],
        got: &[Got],
        used: &mut Vec<bool>,
        binds: &mut HashMap<String, String>,
    ) -> bool {
        let Some((first, rest)) = expects.split_first() else {
            return true;
        };
        for (j, frame) in got.iter().enumerate() {
            if used[j] {
                continue;
            }
            let mut trial = binds.clone();
            if check(first, frame, &mut trial).is_ok() {
                used[j] = true;
                if go(rest, got, used, &mut trial) {
                    *binds = trial;
                    return true;
                }
                used[j] = false;
            }
        }
        false
    }
    let mut used = vec![false; got.len()];
    go(expects, got, &mut used, binds)
}
