//! The client's inbound path: a connected `Socket` reading whatever a hostile server sends.
//!
//! Each input plays one server connection, on a loopback listener in a runtime of its own: the
//! fuzz target does the HTTP upgrade by hand, then writes the input's frames (well-formed text or
//! binary frames with any content, or raw bytes: any header bits, fragments, control frames,
//! lengths, close frames) while the client joins, pushes and leaves as the input says. So the
//! whole path runs: tungstenite's frame reader, `Serializer::decode_from_server`, routing
//! (replies by ref, the stale-join_ref filter, `phx_error`/`phx_close`), the mailbox.
//!
//! Input: byte 0, bit 0 = use V1 (else V2); then records `[kind][...]`, kind modulo 5:
//! 0 text frame `[len u16 BE][bytes]`, 1 binary frame (same), 2 raw bytes (same), 3 let the
//! client catch up, 4 a client action `[action]` (high nibble: topic, low: join/push/leave).
//! The client joins `rooms:lobby` first, so its join has ref and join_ref "1", as in the
//! recordings of `tests/conformance/`.
//!
//! Checks, besides no panic and bounded time: the client ends (disconnect) within a deadline,
//! and every push has exactly one outcome (a reply, or why none will come).
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use slipstream_client::{Payload, ReplyError, Serializer, Socket, SocketEvent};
use slipstream_server::fuzzing::accept_key;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Generous: a loaded CI machine must not turn a slow input into a false alarm.
const DEADLINE: Duration = Duration::from_secs(10);
const TOPICS: [&str; 4] = ["rooms:lobby", "rooms:other", "phoenix", ""];
const MAX_RECORDS: usize = 64;

enum Record<'a> {
    Text(&'a [u8]),
    Binary(&'a [u8]),
    Raw(&'a [u8]),
    Settle,
    Client(u8),
}

fn records(mut data: &[u8]) -> Vec<Record<'_>> {
    let mut out = Vec::new();
    while let Some((&kind, rest)) = data.split_first() {
        if out.len() == MAX_RECORDS {
            break;
        }
        data = rest;
        let mut sized = || {
            let len = match data {
                [hi, lo, ..] => usize::from(u16::from_be_bytes([*hi, *lo])),
                _ => 0,
            };
            let body = data.get(2..).unwrap_or_default();
            let (bytes, rest) = body.split_at(len.min(body.len()));
            data = rest;
            bytes
        };
        out.push(match kind % 5 {
            0 => Record::Text(sized()),
            1 => Record::Binary(sized()),
            2 => Record::Raw(sized()),
            3 => Record::Settle,
            _ => match data.split_first() {
                Some((&action, rest)) => {
                    data = rest;
                    Record::Client(action)
                }
                None => break,
            },
        });
    }
    out
}

/// An unmasked server frame with FIN set (text frames may carry any bytes: that is the point).
fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0x80 | opcode];
    match payload.len() {
        n if n < 126 => out.push(n as u8),
        n if n <= usize::from(u16::MAX) => {
            out.push(126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(payload);
    out
}

/// Reads the client's upgrade request and accepts it.
async fn upgrade(stream: &mut TcpStream) -> Option<()> {
    let mut request = Vec::new();
    let mut chunk = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 || request.len() > 16 * 1024 {
            return None;
        }
        request.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&request);
    let key = text.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("sec-websocket-key")
            .then(|| value.trim().to_owned())
    })?;
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(key.as_bytes())
    );
    stream.write_all(response.as_bytes()).await.ok()
}

/// Lets the other tasks (the client's connection task, its reads) run for a moment.
async fn settle() {
    for _ in 0..16 {
        tokio::task::yield_now().await;
    }
}

async fn run(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let records = records(rest);
    let Ok(listener) = TcpListener::bind("127.0.0.1:0").await else {
        return;
    };
    let Ok(addr) = listener.local_addr() else {
        return;
    };
    let serializer = if flags & 1 == 1 {
        Serializer::V1
    } else {
        Serializer::V2
    };
    let Ok(socket) = Socket::builder(format!("ws://{addr}/socket"))
        .serializer(serializer)
        .build()
    else {
        return;
    };
    socket.connect();
    let Ok(Ok((mut stream, _))) = tokio::time::timeout(DEADLINE, listener.accept()).await else {
        panic!("the client did not connect");
    };
    drop(listener);
    if upgrade(&mut stream).await.is_none() {
        panic!("the client's upgrade request was not readable");
    }
    let connected = socket.await_connect(Some(DEADLINE)).await;
    assert!(connected.is_ok(), "the client did not see the upgrade");
    let (mut from_client, mut to_client) = stream.into_split();
    // Read (and drop) whatever the client writes, so that it never blocks on a full buffer.
    let drain = tokio::spawn(async move {
        let mut sink = tokio::io::sink();
        let _ = tokio::io::copy(&mut from_client, &mut sink).await;
    });

    socket.join("rooms:lobby", serde_json::json!({}));
    let mut pushes = Vec::new();
    for record in records {
        let written = match record {
            Record::Text(bytes) => to_client.write_all(&frame(0x1, bytes)).await,
            Record::Binary(bytes) => to_client.write_all(&frame(0x2, bytes)).await,
            Record::Raw(bytes) => to_client.write_all(bytes).await,
            Record::Settle => {
                settle().await;
                Ok(())
            }
            Record::Client(action) => {
                let topic = TOPICS[usize::from(action >> 4) % TOPICS.len()];
                match action & 3 {
                    0 => socket.join(topic, serde_json::json!({"n": action})),
                    1 => pushes.push(socket.push(topic, "ping", serde_json::json!({"n": action}))),
                    2 => pushes.push(socket.push(topic, "bytes", Payload::binary(vec![action; 3]))),
                    _ => socket.leave(topic),
                }
                Ok(())
            }
        };
        if written.is_err() {
            break; // the client closed the connection
        }
    }
    settle().await;
    // The server goes away; the client must wind everything up.
    drop(to_client);
    drain.abort();
    socket.disconnect();
    let disconnected = socket.await_disconnect(Some(DEADLINE)).await;
    assert!(disconnected.is_ok(), "no disconnect within {DEADLINE:?}");
    for push_ref in &pushes {
        let outcome = socket.await_reply(push_ref, Some(DEADLINE)).await;
        assert!(
            !matches!(outcome, Err(ReplyError::Timeout)),
            "push {push_ref} got no outcome within {DEADLINE:?}"
        );
    }
    for event in socket.flush() {
        if let SocketEvent::Reply { push_ref, .. } = event {
            assert!(
                !pushes.contains(&push_ref),
                "push {push_ref} got a second outcome"
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(run(data));
});
