//! A test's websocket client: connect, send a frame, take the next one.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use slipstream_server::RunningServer;
use tokio_tungstenite::tungstenite::Message;

/// A client's websocket.
pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Connects to `url`; panics if that fails.
pub async fn connect(url: &str) -> Ws {
    tokio_tungstenite::connect_async(url)
        .await
        .expect("websocket connects")
        .0
}

/// Connects a V2 client to `server`, with `params` (`&k=v…`) after `vsn`.
pub async fn connect_v2(server: &RunningServer, params: &str) -> Ws {
    connect(&format!("{}?vsn=2.0.0{params}", server.ws_url())).await
}

/// Sends `frame` as a text frame.
pub async fn send(ws: &mut Ws, frame: Value) {
    send_text(ws, frame.to_string()).await;
}

/// Sends a text frame.
pub async fn send_text(ws: &mut Ws, text: impl Into<String>) {
    ws.send(Message::Text(text.into().into()))
        .await
        .expect("send");
}

/// The next message (text as JSON; a close as `{"close": code}`; the stream's end as
/// `{"ended": …}`), skipping pings and pongs; panics after 5 s.
pub async fn recv(ws: &mut Ws) -> Value {
    loop {
        let next = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a frame within 5 s");
        match next {
            Some(Ok(Message::Text(text))) => {
                return serde_json::from_str(&text).expect("server sent JSON");
            }
            Some(Ok(Message::Close(frame))) => {
                return json!({"close": frame.map(|f| u16::from(f.code))});
            }
            Some(Ok(_)) => continue,
            other => return json!({"ended": format!("{other:?}")}),
        }
    }
}

/// The next text frame as it came, within `patience`; panics on anything but a text frame
/// (pings and pongs are skipped).
pub async fn recv_text(ws: &mut Ws, patience: Duration) -> String {
    loop {
        let next = tokio::time::timeout(patience, ws.next())
            .await
            .expect("a frame in time");
        match next {
            Some(Ok(Message::Text(text))) => return text.as_str().to_owned(),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}
