//! Slow clients: a client that stops reading is closed once its queue passes
//! `max_outbound_bytes` (close code 1008 when the close frame gets through; the TCP connection
//! ends either way), the server's own accounting stays under the bound meanwhile, and other
//! clients miss nothing. A client flooding a slow channel is pushed back on (the server stops
//! reading from it) instead of growing the channel's mailbox.
//!
//! The slow clients are raw TCP sockets with a hand-made websocket handshake, so that they can
//! simply stop reading; a small receive buffer makes the kernel's share of the backlog small.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use slipstream_server::{
    Channel, ChannelContext, HandleResult, JoinResult, Payload, RunningServer, Server,
    ServerConfig, Socket,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;

use crate::support::{any_port, demo_with, logs};

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The outbound bound the tests run with.
const LIMIT: usize = 64 * 1024;
/// "It happens" waits: generous, for a loaded machine.
const WAIT: Duration = Duration::from_secs(20);

/// A websocket over a raw TCP socket with a small receive buffer; returns it after the 101.
async fn raw_websocket(addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    let mut tcp = socket.connect(addr).await.expect("connects");
    let request = format!(
        "GET /socket/websocket?vsn=2.0.0 HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await.expect("request");
    // Byte by byte, so that nothing after the head is consumed.
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let byte = tokio::time::timeout(WAIT, tcp.read_u8())
            .await
            .expect("the upgrade answer in time")
            .expect("the upgrade answer");
        head.push(byte);
        assert!(head.len() < 4096, "an upgrade answer of sane size");
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "upgraded: {}",
        String::from_utf8_lossy(&head)
    );
    tcp
}

/// A masked client text frame.
fn client_frame(text: &str) -> Vec<u8> {
    let payload = text.as_bytes();
    let mask = [7u8, 1, 3, 9];
    let mut out = vec![0x81];
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n <= 0xffff => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
    out
}

/// Reads one server frame: (opcode, payload).
async fn read_frame(tcp: &mut TcpStream) -> (u8, Vec<u8>) {
    tokio::time::timeout(WAIT, async {
        let mut head = [0u8; 2];
        tcp.read_exact(&mut head).await.expect("frame head");
        let len = match head[1] & 0x7f {
            126 => u64::from(tcp.read_u16().await.expect("length")),
            127 => tcp.read_u64().await.expect("length"),
            n => u64::from(n),
        };
        let mut payload = vec![0u8; usize::try_from(len).expect("length")];
        tcp.read_exact(&mut payload).await.expect("payload");
        (head[0] & 0x0f, payload)
    })
    .await
    .expect("a frame in time")
}

/// Reads everything until the server ends the connection (EOF or reset), within [`WAIT`];
/// returns the close code of the last frame when the stream ends with a complete close frame.
async fn read_to_end(mut tcp: TcpStream) -> Option<u16> {
    let mut data = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    tokio::time::timeout(WAIT, async {
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => data.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .expect("the server ended the slow client's TCP connection");
    last_close_code(&data)
}

/// Walks the server frames in `data`; the code of a close frame ending it, if any. A close frame
/// anywhere else, or with another code, fails the test.
fn last_close_code(data: &[u8]) -> Option<u16> {
    let mut at = 0;
    while data.len() >= at + 2 {
        let (opcode, mut len, mut header) = (data[at] & 0x0f, usize::from(data[at + 1] & 0x7f), 2);
        if len == 126 {
            let bytes = data.get(at + 2..at + 4)?;
            len = usize::from(u16::from_be_bytes([bytes[0], bytes[1]]));
            header = 4;
        } else if len == 127 {
            let bytes = data.get(at + 2..at + 10)?;
            len = usize::try_from(u64::from_be_bytes(bytes.try_into().expect("8 bytes")))
                .expect("length");
            header = 10;
        }
        let end = at + header + len;
        if end > data.len() {
            return None; // the frame being written when the server gave up
        }
        if opcode == 0x8 {
            assert_eq!(end, data.len(), "nothing follows a close frame");
            let code = u16::from_be_bytes([data[at + header], data[at + header + 1]]);
            assert_eq!(
                code, 1008,
                "a client that does not read is closed with 1008"
            );
            return Some(code);
        }
        at = end;
    }
    None
}

async fn connect(url: &str) -> Ws {
    tokio_tungstenite::connect_async(url)
        .await
        .expect("websocket connects")
        .0
}

async fn recv_json(ws: &mut Ws) -> Value {
    loop {
        let next = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a frame in time");
        match next {
            Some(Ok(Message::Text(text))) => {
                return serde_json::from_str(&text).expect("server sent JSON");
            }
            Some(Ok(_)) => continue,
            other => panic!("the connection ended: {other:?}"),
        }
    }
}

async fn send_json(ws: &mut Ws, frame: Value) {
    ws.send(Message::Text(frame.to_string().into()))
        .await
        .expect("send");
}

/// Waits (bounded) until the server counts `n` websockets.
async fn until_connections(server: &RunningServer, n: usize) {
    tokio::time::timeout(WAIT, async {
        while server.connection_count() != n {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{n} connections, not {}", server.connection_count()));
}

#[tokio::test]
async fn a_joined_client_that_never_reads_is_closed_and_the_others_get_every_broadcast() {
    logs();
    let server = demo_with(ServerConfig::default().with_max_outbound_bytes(LIMIT)).await;
    let mut slow = raw_websocket(server.local_addr()).await;
    slow.write_all(&client_frame(r#"["1","1","rooms:lobby","phx_join",{}]"#))
        .await
        .expect("join");
    let (_, reply) = read_frame(&mut slow).await;
    let reply: Value = serde_json::from_slice(&reply).expect("JSON reply");
    assert_eq!(reply[4]["status"], "ok", "{reply}");
    // From here on the slow client reads nothing.

    let mut fast = connect(&format!("{}?vsn=2.0.0", server.ws_url())).await;
    send_json(&mut fast, json!(["1", "1", "rooms:lobby", "phx_join", {}])).await;
    assert_eq!(recv_json(&mut fast).await[4]["status"], "ok");
    until_connections(&server, 2).await;

    let pad = "x".repeat(1000);
    const BATCH: usize = 50;
    const MAX_BATCHES: usize = 1_000; // 50 MB of broadcasts: far more than the kernel buffers
    let mut closed_after = None;
    let mut peak = 0;
    for batch in 0..MAX_BATCHES {
        for i in batch * BATCH..(batch + 1) * BATCH {
            let push =
                json!(["1", i.to_string(), "rooms:lobby", "broadcast", {"i": i, "pad": pad}]);
            fast.feed(Message::Text(push.to_string().into()))
                .await
                .expect("push");
        }
        fast.flush().await.expect("flush");
        for i in batch * BATCH..(batch + 1) * BATCH {
            let frame = recv_json(&mut fast).await;
            assert_eq!(frame[3], "broadcast_event", "{frame}");
            assert_eq!(
                frame[4]["i"], i,
                "the fast client gets every broadcast, in order"
            );
        }
        // The server's own accounting: each connection's share stays within the bound.
        let queued = server.outbound_queued_bytes();
        peak = peak.max(queued);
        assert!(
            queued <= 2 * LIMIT,
            "{queued} bytes queued, bound {LIMIT} per connection"
        );
        if server.connection_count() == 1 {
            match closed_after {
                None => closed_after = Some(batch),
                // Some more broadcasts after the close: the fast client still gets them all.
                Some(first) if batch >= first + 10 => break,
                Some(_) => {}
            }
        }
    }
    assert!(
        closed_after.is_some(),
        "the slow client was never closed ({} broadcasts, peak queue {peak} bytes)",
        MAX_BATCHES * BATCH
    );
    // Its TCP connection ends; a close frame, if it got through, says 1008.
    let code = read_to_end(slow).await;
    eprintln!(
        "slow client closed after {} broadcasts (peak queue {peak} bytes), close frame: {code:?}",
        closed_after.map_or(0, |b| (b + 1) * BATCH)
    );
    assert_eq!(server.connection_count(), 1);
    server.shutdown().await;
}

#[tokio::test]
async fn a_client_that_sends_heartbeats_and_never_reads_is_closed() {
    logs();
    let server = demo_with(ServerConfig::default().with_max_outbound_bytes(LIMIT)).await;
    let mut slow = raw_websocket(server.local_addr()).await;
    until_connections(&server, 1).await;
    const BATCH: usize = 500;
    const MAX_BATCHES: usize = 1_000; // 500,000 heartbeats: ~30 MB of replies
    let mut closed = false;
    for batch in 0..MAX_BATCHES {
        let mut wire = Vec::new();
        for i in 0..BATCH {
            let n = batch * BATCH + i;
            wire.extend(client_frame(&format!(
                r#"[null,"{n}","phoenix","heartbeat",{{}}]"#
            )));
        }
        let written = tokio::time::timeout(WAIT, slow.write_all(&wire)).await;
        let queued = server.outbound_queued_bytes();
        assert!(queued <= LIMIT, "{queued} bytes queued, bound {LIMIT}");
        if !matches!(written, Ok(Ok(()))) || server.connection_count() == 0 {
            closed = true;
            break;
        }
    }
    assert!(closed, "the client was never closed");
    until_connections(&server, 0).await;
    let code = read_to_end(slow).await;
    eprintln!("heartbeating client closed, close frame: {code:?}");
    server.shutdown().await;
}

/// A channel whose `handle_in` waits for the test to open a gate, then replies ok.
struct Gated(Arc<Semaphore>);

impl Channel for Gated {
    async fn join(&mut self, _: &str, _: Payload, _: &mut ChannelContext) -> JoinResult {
        JoinResult::Ok(Payload::empty())
    }

    async fn handle_in(&mut self, _: &str, _: Payload, _: &mut ChannelContext) -> HandleResult {
        if let Ok(permit) = self.0.acquire().await {
            permit.forget();
        }
        HandleResult::ok(Payload::empty())
    }
}

#[tokio::test]
async fn a_client_flooding_a_slow_channel_is_pushed_back_on_and_loses_nothing() {
    logs();
    let gate = Arc::new(Semaphore::new(0));
    let channel_gate = gate.clone();
    let socket = Socket::new().channel("gated:*", move |_| Gated(channel_gate.clone()));
    let config = ServerConfig::default().with_max_pending_pushes(4);
    let server = Server::new(socket, config)
        .bind(any_port())
        .await
        .expect("server starts");

    let mut flooder = connect(&format!("{}?vsn=2.0.0", server.ws_url())).await;
    send_json(&mut flooder, json!(["1", "1", "gated:a", "phx_join", {}])).await;
    assert_eq!(recv_json(&mut flooder).await[4]["status"], "ok");
    const PUSHES: usize = 50;
    for i in 0..PUSHES {
        let push = json!(["1", format!("p{i}"), "gated:a", "work", {}]);
        flooder
            .feed(Message::Text(push.to_string().into()))
            .await
            .expect("push");
    }
    send_json(
        &mut flooder,
        json!([null, "hb", "phoenix", "heartbeat", {}]),
    )
    .await;

    // The channel holds 4 pushes and the connection reads no further: the heartbeat behind the
    // flood is not answered (an unbounded mailbox would take every push and answer it at once).
    if let Ok(frame) = tokio::time::timeout(Duration::from_millis(300), flooder.next()).await {
        panic!("nothing is answered while the channel is full, got {frame:?}");
    }

    // Another client does not notice.
    let mut other = connect(&format!("{}?vsn=2.0.0", server.ws_url())).await;
    send_json(&mut other, json!([null, "h1", "phoenix", "heartbeat", {}])).await;
    assert_eq!(recv_json(&mut other).await[1], "h1");
    send_json(&mut other, json!(["2", "2", "gated:b", "phx_join", {}])).await;
    assert_eq!(recv_json(&mut other).await[4]["status"], "ok");

    // Open the gate: every push is answered, and so is the heartbeat.
    gate.add_permits(PUSHES + 10);
    let mut refs = std::collections::BTreeSet::new();
    while refs.len() < PUSHES + 1 {
        let frame = recv_json(&mut flooder).await;
        assert_eq!(frame[4]["status"], "ok", "{frame}");
        let msg_ref = frame[1].as_str().expect("a ref").to_owned();
        assert!(refs.insert(msg_ref), "each reply once: {frame}");
    }
    assert!(refs.contains("hb"));
    assert!((0..PUSHES).all(|i| refs.contains(&format!("p{i}"))));
    server.shutdown().await;
}
