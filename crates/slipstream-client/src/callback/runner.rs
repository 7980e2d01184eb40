//! The runner: connects the socket, turns each mailbox event and handle request into one callback,
//! and stops when a callback says so or the socket closes for good.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::handle::Request;
use super::{Client, ClientHandle, Context, Disconnect, Flow, ReplyTo, StopReason, TopicClose};
use crate::config::SocketBuilder;
use crate::error::{AwaitError, ConfigError};
use crate::event::{DisconnectReason, SocketEvent};
use crate::socket::Socket;

/// How long one wait for an event lasts before the loop simply waits again.
const IDLE_WAIT: Duration = Duration::from_secs(3600);

/// After this many events in a row, a waiting handle request goes first (so a flood of events
/// cannot delay `stop()` for ever).
const FAIRNESS: u32 = 64;

/// What the loop picked.
enum Next<C: Client> {
    Event(Result<SocketEvent, AwaitError>),
    Request(Option<Request<C>>),
}

/// A [`Socket`], or a [`SocketBuilder`] to build one.
pub trait IntoSocket {
    /// The socket (building it if needed; must run inside a tokio runtime).
    fn into_socket(self) -> Result<Socket, ConfigError>;
}

impl IntoSocket for Socket {
    fn into_socket(self) -> Result<Socket, ConfigError> {
        Ok(self)
    }
}

impl IntoSocket for SocketBuilder {
    fn into_socket(self) -> Result<Socket, ConfigError> {
        self.build()
    }
}

/// Drives one [`Client`] on one socket. [`run`](super::run) and [`spawn`](super::spawn) cover the
/// usual cases; use a `Runner` to get a [`handle`](Self::handle) before running in place.
pub struct Runner<C: Client> {
    client: C,
    cx: Context<C>,
    requests: mpsc::UnboundedReceiver<Request<C>>,
}

impl<C: Client> std::fmt::Debug for Runner<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("socket", self.cx.socket())
            .finish_non_exhaustive()
    }
}

impl<C: Client> Runner<C> {
    /// Prepares `client` on `socket` (a [`Socket`] or a [`SocketBuilder`]). Nothing happens until
    /// [`run`](Self::run).
    pub fn new(client: C, socket: impl IntoSocket) -> Result<Self, ConfigError> {
        let socket = socket.into_socket()?;
        let (tx, requests) = mpsc::unbounded_channel();
        Ok(Runner {
            client,
            cx: Context::new(socket, ClientHandle::new(tx)),
            requests,
        })
    }

    /// A handle to the client.
    pub fn handle(&self) -> ClientHandle<C> {
        self.cx.handle()
    }

    /// The socket the client runs on.
    pub fn socket(&self) -> &Socket {
        self.cx.socket()
    }

    /// Connects the socket and runs callbacks, one at a time, until one returns
    /// [`Flow::Stop`], a handle calls [`stop`](ClientHandle::stop), or the socket's task ends.
    /// Then disconnects the socket and returns why it stopped.
    ///
    /// Events waiting in the socket's mailbox are handled before handle requests (after 64 in a
    /// row, a waiting request goes first), so a [`call`](ClientHandle::call) sees the effect of
    /// every event that arrived before it.
    pub async fn run(self) -> StopReason {
        let Runner {
            mut client,
            cx,
            mut requests,
        } = self;
        cx.socket().connect();
        // Consecutive events handled while a handle request may be waiting.
        let mut streak = 0u32;
        let reason = loop {
            let next = if streak < FAIRNESS {
                tokio::select! {
                    // Events already in the mailbox go first, so a call sees the effect of every
                    // event that arrived before it.
                    biased;
                    event = cx.socket().next_event(Some(IDLE_WAIT)) => Next::Event(event),
                    request = requests.recv() => Next::Request(request),
                }
            } else {
                tokio::select! {
                    biased;
                    request = requests.recv() => Next::Request(request),
                    event = cx.socket().next_event(Some(IDLE_WAIT)) => Next::Event(event),
                }
            };
            let flow = match next {
                Next::Event(Ok(event)) => {
                    streak += 1;
                    on_event(&mut client, &cx, event).await
                }
                Next::Event(Err(AwaitError::Timeout)) => Flow::Continue,
                Next::Event(Err(_)) => Flow::Stop(StopReason::SocketClosed),
                Next::Request(request) => {
                    streak = 0;
                    match request {
                        Some(request) => on_request(&mut client, &cx, request).await,
                        // Unreachable while `cx` holds a handle; stop cleanly all the same.
                        None => Flow::Stop(StopReason::Stopped),
                    }
                }
            };
            if let Flow::Stop(reason) = flow {
                break reason;
            }
        };
        tracing::info!(%reason, "callback client stopped");
        cx.socket().disconnect();
        reason
    }
}

/// Runs `client` on `socket` (a [`Socket`] or a [`SocketBuilder`]) in the current task until it
/// stops; see [`Runner::run`]. A builder that fails gives [`StopReason::Config`].
pub async fn run<C: Client>(client: C, socket: impl IntoSocket) -> StopReason {
    match Runner::new(client, socket) {
        Ok(runner) => runner.run().await,
        Err(error) => StopReason::Config(error),
    }
}

/// Runs `client` on `socket` in a new tokio task; returns a handle to it and the task, whose
/// output is the [`StopReason`].
pub fn spawn<C: Client>(
    client: C,
    socket: impl IntoSocket,
) -> Result<(ClientHandle<C>, JoinHandle<StopReason>), ConfigError> {
    let runner = Runner::new(client, socket)?;
    let handle = runner.handle();
    Ok((handle, tokio::spawn(runner.run())))
}

async fn on_request<C: Client>(client: &mut C, cx: &Context<C>, request: Request<C>) -> Flow {
    match request {
        Request::Info(info) => client.handle_info(info, cx).await,
        Request::Call(call, reply) => client.handle_call(call, ReplyTo::new(reply), cx).await,
        Request::Stop => Flow::Stop(StopReason::Stopped),
    }
}

async fn on_event<C: Client>(client: &mut C, cx: &Context<C>, event: SocketEvent) -> Flow {
    match event {
        SocketEvent::Connected => {
            cx.clear_reconnecting();
            client.connect(cx).await
        }
        SocketEvent::ConnectFailed(error) => {
            client
                .disconnect(Disconnect::ConnectFailed(error), cx)
                .await
        }
        SocketEvent::Reconnecting {
            attempt,
            delay,
            error: Some(error),
        } => {
            let why = Disconnect::RetryFailed {
                attempt,
                retry_in: delay,
                error,
            };
            client.disconnect(why, cx).await
        }
        SocketEvent::Reconnecting { attempt, delay, .. } => {
            // The first attempt after a loss: `disconnect(Lost)` has already been called.
            tracing::debug!(
                attempt,
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                "the socket reconnects by itself"
            );
            Flow::Continue
        }
        SocketEvent::Disconnected(DisconnectReason::ClientRequested) => {
            let why = if cx.take_reconnecting() {
                Disconnect::Reconnect
            } else {
                Disconnect::Requested
            };
            client.disconnect(why, cx).await
        }
        SocketEvent::Disconnected(reason) => {
            cx.clear_reconnecting();
            client.disconnect(Disconnect::Lost(reason), cx).await
        }
        SocketEvent::Joined { topic, response } => client.join(&topic, &response, cx).await,
        SocketEvent::JoinFailed {
            topic,
            error,
            rejoin_in,
        } => {
            let reason = TopicClose::JoinFailed { error, rejoin_in };
            client.topic_close(&topic, reason, cx).await
        }
        SocketEvent::TopicErrored {
            topic,
            payload,
            rejoin_in,
        } => {
            let reason = TopicClose::Crashed { payload, rejoin_in };
            client.topic_close(&topic, reason, cx).await
        }
        SocketEvent::TopicClosed { topic, reason } => {
            client
                .topic_close(&topic, TopicClose::Closed(reason), cx)
                .await
        }
        SocketEvent::Left { topic } => client.leave(&topic, cx).await,
        SocketEvent::Message(m) => client.message(&m.topic, &m.event, &m.payload, cx).await,
        SocketEvent::Reply {
            push_ref, result, ..
        } => client.reply(&push_ref, result, cx).await,
        SocketEvent::MalformedFrame { error } => {
            tracing::warn!(%error, "malformed frame skipped");
            Flow::Continue
        }
    }
}
