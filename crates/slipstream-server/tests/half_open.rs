//! Half-open and surplus TCP connections: a request head that does not arrive in
//! `handshake_timeout` gets its connection closed, connections beyond `max_connections` are
//! refused with a 503 at once, and neither stops a good client from being served.

mod support;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use slipstream_server::{RunningServer, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

use crate::support::{demo_with, logs};

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// "It happens" waits: generous, for a loaded machine.
const WAIT: Duration = Duration::from_secs(20);
/// The handshake timeout of the tests that exercise it.
const SHORT: Duration = Duration::from_millis(300);
/// Half a websocket upgrade request: the head never ends.
const HALF_REQUEST: &[u8] = b"GET /socket/websocket?vsn=2.0.0 HTTP/1.1\r\nHost: 127.0.0.1\r\n";

fn url(server: &RunningServer) -> String {
    format!("{}?vsn=2.0.0", server.ws_url())
}

/// Reads until the server closes (EOF or reset) within [`WAIT`]; what it sent meanwhile.
async fn until_closed(tcp: &mut TcpStream) -> Vec<u8> {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(WAIT, async {
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => data.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .expect("the server closed the connection in time");
    data
}

async fn recv_json(ws: &mut Ws) -> Value {
    loop {
        match tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a frame in time")
        {
            Some(Ok(Message::Text(text))) => {
                return serde_json::from_str(&text).expect("server sent JSON");
            }
            Some(Ok(_)) => continue,
            other => panic!("the connection ended: {other:?}"),
        }
    }
}

/// Connects, joins `rooms:lobby` and gets a heartbeat answered: a client being served.
async fn good_client(url: &str) -> Result<Ws, String> {
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .map_err(|err| err.to_string())?;
    let join = json!(["1", "1", "rooms:lobby", "phx_join", {}]);
    ws.send(Message::Text(join.to_string().into()))
        .await
        .map_err(|err| err.to_string())?;
    let reply = recv_json(&mut ws).await;
    assert_eq!(reply[4]["status"], "ok", "{reply}");
    let heartbeat = json!([null, "2", "phoenix", "heartbeat", {}]);
    ws.send(Message::Text(heartbeat.to_string().into()))
        .await
        .map_err(|err| err.to_string())?;
    assert_eq!(recv_json(&mut ws).await[1], "2");
    Ok(ws)
}

#[tokio::test]
async fn half_a_request_is_closed_after_the_handshake_timeout() {
    logs();
    let server = demo_with(ServerConfig::default().with_handshake_timeout(SHORT)).await;
    let mut half = TcpStream::connect(server.local_addr())
        .await
        .expect("connects");
    half.write_all(HALF_REQUEST).await.expect("writes");
    let mut silent = TcpStream::connect(server.local_addr())
        .await
        .expect("connects");
    // Both end without any answer (a timed-out head gets no response).
    assert!(until_closed(&mut half).await.is_empty());
    assert!(until_closed(&mut silent).await.is_empty());
    // A good client is served meanwhile and after (its websocket outlives the timeout).
    let mut ws = good_client(&url(&server)).await.expect("served");
    tokio::time::sleep(SHORT * 2).await;
    let heartbeat = json!([null, "3", "phoenix", "heartbeat", {}]);
    ws.send(Message::Text(heartbeat.to_string().into()))
        .await
        .expect("send");
    assert_eq!(recv_json(&mut ws).await[1], "3");
    server.shutdown().await;
}

#[tokio::test]
async fn connections_beyond_the_limit_get_503_and_room_comes_back() {
    logs();
    const LIMIT: usize = 3;
    let config = ServerConfig::default()
        .with_max_connections(LIMIT)
        .with_handshake_timeout(Duration::from_secs(60));
    let server = demo_with(config).await;
    // Hold the limit: two websockets and one idle TCP connection.
    let ws1 = good_client(&url(&server)).await.expect("first served");
    let ws2 = good_client(&url(&server)).await.expect("second served");
    let mut idle = TcpStream::connect(server.local_addr())
        .await
        .expect("connects");
    idle.write_all(HALF_REQUEST).await.expect("writes");

    // The next one is refused at once with a 503, never served.
    let mut surplus = TcpStream::connect(server.local_addr())
        .await
        .expect("the kernel accepts");
    let _ = surplus
        .write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await;
    let answer = until_closed(&mut surplus).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 503"),
        "refused, not served: {answer}"
    );
    assert!(
        good_client(&url(&server)).await.is_err(),
        "a websocket beyond the limit is refused"
    );

    // Once they go, a good client is served again.
    drop((ws1, ws2, idle));
    let served = tokio::time::timeout(WAIT, async {
        loop {
            if let Ok(ws) = good_client(&url(&server)).await {
                return ws;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("served again once the held connections closed");
    drop(served);
    server.shutdown().await;
}

#[tokio::test]
async fn a_flood_of_half_open_connections_does_not_keep_a_good_client_out() {
    logs();
    let server = demo_with(ServerConfig::default().with_handshake_timeout(SHORT)).await;
    let mut flood = Vec::new();
    for _ in 0..200 {
        let mut tcp = TcpStream::connect(server.local_addr())
            .await
            .expect("connects");
        tcp.write_all(HALF_REQUEST).await.expect("writes");
        flood.push(tcp);
    }
    let ws = good_client(&url(&server))
        .await
        .expect("served despite the flood");
    // Every half-open connection is closed by the server.
    for tcp in &mut flood {
        assert!(until_closed(tcp).await.is_empty());
    }
    // The websocket is not: it still answers.
    let mut ws = ws;
    let heartbeat = json!([null, "9", "phoenix", "heartbeat", {}]);
    ws.send(Message::Text(heartbeat.to_string().into()))
        .await
        .expect("send");
    assert_eq!(recv_json(&mut ws).await[1], "9");
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_closes_half_open_connections_and_websockets_with_1012() {
    logs();
    let config = ServerConfig::default().with_handshake_timeout(Duration::from_secs(60));
    let server = demo_with(config).await;
    let mut half = TcpStream::connect(server.local_addr())
        .await
        .expect("connects");
    half.write_all(HALF_REQUEST).await.expect("writes");
    let mut ws = good_client(&url(&server)).await.expect("served");
    tokio::time::timeout(WAIT, server.shutdown())
        .await
        .expect("shutdown finishes");
    assert!(until_closed(&mut half).await.is_empty());
    let close = tokio::time::timeout(WAIT, async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => continue,
                other => panic!("a close frame, not {other:?}"),
            }
        }
    })
    .await
    .expect("a close frame in time");
    assert_eq!(close, Some(1012));
}
