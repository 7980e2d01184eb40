//! The connection task: owns the websocket, pending replies, topic state, heartbeats, reconnects.
//!
//! It runs one `select!` loop over three inputs — commands from [`Socket`](crate::Socket) handles,
//! the websocket (or the connect attempt in progress), and the earliest timer — and reports
//! everything as [`SocketEvent`]s into the shared mailbox, never waiting on a consumer.
//!
//! * `commands.rs`: requests from the handle (join, push, leave, …);
//! * `inbound.rs`: decoded server frames (replies, pushes, `phx_close`, `phx_error`);
//! * `lifecycle.rs`: connecting, heartbeats, disconnects, reconnects and timers.

mod channels;
mod commands;
mod connection;
mod inbound;
mod lifecycle;
mod pending;
mod timers;
mod transport;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use slipstream_protocol::{Frame, Message, Payload, Ref};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite;

use crate::config::Config;
use crate::error::ConnectError;
use crate::event::{DisconnectReason, SocketEvent};
use crate::socket::Shared;
use channels::Channel;
use pending::PendingTable;
use timers::Timers;
use transport::ConnectFuture;
pub(crate) use transport::{BoxTransport, Connector};

/// A request from a [`Socket`](crate::Socket) handle.
#[derive(Debug)]
pub(crate) enum Command {
    Connect,
    Disconnect,
    Reconnect,
    Join {
        topic: String,
        params: Payload,
    },
    Rejoin {
        topic: String,
    },
    Leave {
        topic: String,
    },
    Push {
        topic: String,
        event: String,
        payload: Payload,
        push_ref: Ref,
        /// Overrides the configured push timeout.
        timeout: Option<Duration>,
    },
}

/// The connection's state.
enum Conn {
    /// Not connected; nothing planned.
    Idle,
    /// A connect attempt is running.
    Connecting {
        attempt: ConnectFuture,
        initial: bool,
        started: Instant,
    },
    /// The websocket is open.
    Connected { ws: BoxTransport, since: Instant },
    /// A reconnect timer is armed.
    Waiting,
}

impl Conn {
    async fn next(&mut self) -> Input {
        match self {
            Conn::Connecting { attempt, .. } => Input::Opened(attempt.as_mut().await),
            Conn::Connected { ws, .. } => Input::Frame(ws.next().await),
            Conn::Idle | Conn::Waiting => std::future::pending().await,
        }
    }
}

enum Input {
    Command(Option<Command>),
    Opened(Result<BoxTransport, ConnectError>),
    Frame(Option<Result<tungstenite::Message, tungstenite::Error>>),
    Timer,
}

/// Why a write did not happen.
#[derive(Debug)]
enum SendError {
    NotConnected,
    Encode(String),
    Transport,
}

pub(crate) struct Actor {
    config: Arc<Config>,
    shared: Arc<Shared>,
    commands: mpsc::UnboundedReceiver<Command>,
    conn: Conn,
    /// Incremented per established connection; stale heartbeat timers carry an older id.
    conn_id: u64,
    channels: HashMap<String, Channel>,
    /// Params of topics that closed, for [`Command::Rejoin`].
    closed_params: HashMap<String, Payload>,
    pending: PendingTable,
    timers: Timers,
    /// The heartbeat awaiting its ack, and when it was sent.
    heartbeat: Option<(Ref, Instant)>,
    reconnect_attempt: u32,
    /// Set when a write fails; the loop then tears the connection down.
    broken: Option<DisconnectReason>,
}

/// Closes the mailbox when the task ends, even by panic, so awaits return `Closed`.
struct CloseOnDrop(Arc<Shared>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0
            .connected
            .store(false, std::sync::atomic::Ordering::Release);
        self.0.mailbox.close();
    }
}

impl Actor {
    pub(crate) fn new(
        config: Arc<Config>,
        shared: Arc<Shared>,
        commands: mpsc::UnboundedReceiver<Command>,
    ) -> Self {
        Actor {
            config,
            shared,
            commands,
            conn: Conn::Idle,
            conn_id: 0,
            channels: HashMap::new(),
            closed_params: HashMap::new(),
            pending: PendingTable::default(),
            timers: Timers::default(),
            heartbeat: None,
            reconnect_attempt: 0,
            broken: None,
        }
    }

    pub(crate) async fn run(mut self) {
        let _close = CloseOnDrop(self.shared.clone());
        loop {
            let deadline = self.timers.next_deadline();
            let input = tokio::select! {
                cmd = self.commands.recv() => Input::Command(cmd),
                input = self.conn.next() => input,
                () = sleep_until(deadline) => Input::Timer,
            };
            match input {
                Input::Command(None) => break,
                Input::Command(Some(command)) => self.on_command(command).await,
                Input::Opened(result) => self.on_opened(result).await,
                Input::Frame(frame) => self.on_frame(frame).await,
                Input::Timer => self.on_timers().await,
            }
            if let Some(reason) = self.broken.take() {
                self.connection_lost(reason).await;
            }
        }
        // Every handle is gone: close politely.
        if let Conn::Connected { ws, .. } = std::mem::replace(&mut self.conn, Conn::Idle) {
            close_ws(
                ws,
                tungstenite::protocol::frame::coding::CloseCode::Normal,
                "",
            )
            .await;
        }
        tracing::debug!("socket task stopped: every handle was dropped");
    }

    fn emit(&self, event: SocketEvent) {
        self.shared.mailbox.push(event);
    }

    fn is_connected(&self) -> bool {
        matches!(self.conn, Conn::Connected { .. })
    }

    /// Encodes and writes one message.
    async fn send(&mut self, message: &Message) -> Result<(), SendError> {
        let Conn::Connected { ws, .. } = &mut self.conn else {
            return Err(SendError::NotConnected);
        };
        let frame = self
            .config
            .serializer
            .encode_to_server(message)
            .map_err(|e| SendError::Encode(e.to_string()))?;
        let ws_message = match frame {
            Frame::Text(text) => tungstenite::Message::Text(text.into()),
            Frame::Binary(bytes) => tungstenite::Message::Binary(bytes),
        };
        if let Err(e) = ws.send(ws_message).await {
            tracing::warn!(error = %e, "websocket write failed");
            self.broken
                .get_or_insert(DisconnectReason::TransportError(e.to_string()));
            return Err(SendError::Transport);
        }
        Ok(())
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Sends a close frame and waits briefly for the server's close, then drops the socket.
async fn close_ws(
    mut ws: BoxTransport,
    code: tungstenite::protocol::frame::coding::CloseCode,
    reason: &str,
) {
    let frame = tungstenite::protocol::CloseFrame {
        code,
        reason: reason.to_owned().into(),
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), async {
        if ws
            .send(tungstenite::Message::Close(Some(frame)))
            .await
            .is_ok()
        {
            while let Some(Ok(_)) = ws.next().await {}
        }
    })
    .await;
}
