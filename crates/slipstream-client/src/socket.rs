//! [`Socket`]: the cloneable handle. Requests are plain functions that post a command to the
//! connection task; awaits are selective receives on the shared mailbox.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use slipstream_protocol::{Payload, Ref, Reply, SharedStr};
use tokio::time::Instant;
use tracing::Instrument;

use crate::actor::{Actor, Command, CommandSender, command_queue};
use crate::config::{Config, SocketBuilder};
use crate::error::{AwaitError, ConnectError, JoinError, LeaveError, ReplyError};
use crate::event::{ChannelMessage, DisconnectReason, JoinStatus, SocketEvent};
use crate::mailbox::{Mailbox, Selected, WaitError};
use crate::pattern::MessagePattern;
use crate::transport::Transport;

/// State the handle reads without asking the connection task.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) mailbox: Mailbox,
    /// The ref counter: one per socket, never reset, shared by heartbeats, joins and pushes.
    next_ref: AtomicU64,
    pub(crate) connected: AtomicBool,
    /// The current connection's [`Transport`] (`Transport::to_u8`), 0 when not connected.
    transport: AtomicU8,
    topics: Mutex<HashMap<String, JoinStatus>>,
}

impl Shared {
    pub(crate) fn next_ref(&self) -> Ref {
        Ref::from(self.next_ref.fetch_add(1, Ordering::Relaxed) + 1)
    }

    /// Whether `r` is a ref this socket has handed out (refs are 1, 2, 3… in decimal).
    fn issued(&self, r: &Ref) -> bool {
        crate::actor::ref_number(r)
            .is_some_and(|n| n >= 1 && n <= self.next_ref.load(Ordering::Relaxed))
    }

    pub(crate) fn set_transport(&self, transport: Option<Transport>) {
        self.transport
            .store(transport.map_or(0, Transport::to_u8), Ordering::Release);
    }

    pub(crate) fn set_status(&self, topic: &str, status: JoinStatus) {
        let mut topics = self.topics.lock().unwrap_or_else(|p| p.into_inner());
        if status == JoinStatus::Closed {
            topics.remove(topic);
        } else {
            topics.insert(topic.to_owned(), status);
        }
    }

    fn status(&self, topic: &str) -> JoinStatus {
        let topics = self.topics.lock().unwrap_or_else(|p| p.into_inner());
        topics.get(topic).copied().unwrap_or(JoinStatus::Closed)
    }
}

/// A Phoenix socket: one websocket connection (re-established as needed) and the topics joined
/// on it.
///
/// Cheap to clone; all clones talk to the same connection task and share one event mailbox.
/// Request methods (`connect`, `join`, `push`, …) return at once and may be called from any thread;
/// the `await_*` methods wait for the matching [`SocketEvent`] (see the crate docs).
///
/// The connection task stops when the last clone is dropped.
#[derive(Clone)]
pub struct Socket {
    commands: CommandSender,
    shared: Arc<Shared>,
    config: Arc<Config>,
}

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket")
            .field("url", &self.config.url.as_str())
            .field("connected", &self.is_connected())
            .finish_non_exhaustive()
    }
}

impl Socket {
    /// Starts building a socket for `url`: `ws(s)://` or `http(s)://`, either the mount
    /// (`…/socket`) or the full websocket path (`…/socket/websocket`).
    pub fn builder(url: impl Into<String>) -> SocketBuilder {
        SocketBuilder::new(url.into())
    }

    pub(crate) fn spawn(config: Arc<Config>, runtime: &tokio::runtime::Handle) -> Socket {
        let (tx, rx) = command_queue();
        let shared = Arc::new(Shared {
            mailbox: Mailbox::new(config.mailbox_capacity),
            next_ref: AtomicU64::new(0),
            connected: AtomicBool::new(false),
            transport: AtomicU8::new(0),
            topics: Mutex::new(HashMap::new()),
        });
        let span = tracing::info_span!("slipstream_socket", url = %config.url);
        let actor = Actor::new(config.clone(), shared.clone(), rx);
        runtime.spawn(actor.run().instrument(span));
        Socket {
            commands: tx,
            shared,
            config,
        }
    }

    fn send(&self, command: Command) {
        if self.commands.send(command).is_err() {
            tracing::warn!("request ignored: the socket's connection task has stopped");
        }
    }

    fn deadline(&self, timeout: Option<Duration>) -> Instant {
        Instant::now() + timeout.unwrap_or(self.config.await_timeout)
    }

    #[cfg(test)]
    pub(crate) fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    #[cfg(test)]
    pub(crate) fn config_arc(&self) -> Arc<Config> {
        self.config.clone()
    }

    #[cfg(test)]
    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    /// The normalised websocket URL (without per-connect parameters such as `vsn`).
    pub fn url(&self) -> &str {
        self.config.url.as_str()
    }

    /// Requests a connection. Returns at once; see [`await_connect`](Self::await_connect).
    /// Every request gets its own answer event, so that each `await_connect` is satisfied: when
    /// already connected, a new [`SocketEvent::Connected`] at once; while connecting, the
    /// attempt under way answers it too (one `Connected` or `ConnectFailed` per request).
    pub fn connect(&self) {
        self.send(Command::Connect);
    }

    /// Waits for the first [`SocketEvent::Connected`] or [`SocketEvent::ConnectFailed`] in the
    /// mailbox and consumes it. `None` uses the default await timeout (5 s).
    pub async fn await_connect(&self, timeout: Option<Duration>) -> Result<(), ConnectError> {
        let deadline = self.deadline(timeout);
        let found = self
            .shared
            .mailbox
            .select(deadline, |ev| match ev {
                SocketEvent::Connected => Ok(Ok(())),
                SocketEvent::ConnectFailed(e) => Ok(Err(e)),
                other => Err(other),
            })
            .await;
        match found {
            Ok(result) => result,
            Err(WaitError::Timeout) => Err(ConnectError::Timeout),
            Err(WaitError::Closed) => Err(ConnectError::Closed),
        }
    }

    /// Requests a join of `topic` with `params`. Returns at once; see
    /// [`await_join`](Self::await_join). When not connected yet, the join is sent as soon as the
    /// connection is up. A topic already joined answers at once with the response of the join in
    /// force (to join with other params, leave first); while a join is on the wire, its answer
    /// serves this request too; while the topic is being left, the request is ignored (await
    /// the leave first).
    pub fn join(&self, topic: &str, params: impl Into<Payload>) {
        self.send(Command::Join {
            topic: topic.to_owned(),
            params: params.into(),
        });
    }

    /// Waits for the first [`SocketEvent::Joined`] or [`SocketEvent::JoinFailed`] for `topic` and
    /// consumes it. `Ok` carries the server's join response.
    ///
    /// An answer already in the mailbox is found first. When there is none and the topic has no
    /// join in progress (never asked to join, or closed and its answer already consumed), no
    /// answer can come: [`JoinError::NotRequested`] at once, instead of waiting out the timeout.
    pub async fn await_join(
        &self,
        topic: &str,
        timeout: Option<Duration>,
    ) -> Result<Payload, JoinError> {
        let mut select = |ev: SocketEvent| match ev {
            SocketEvent::Joined { topic: t, response } if t == topic => Ok(Ok(response)),
            SocketEvent::JoinFailed {
                topic: t, error, ..
            } if t == topic => Ok(Err(error)),
            other => Err(other),
        };
        match self.precheck(topic, &mut select).await {
            Precheck::Found(result) => return result,
            Precheck::Never => return Err(JoinError::NotRequested(topic.to_owned())),
            Precheck::Wait => {}
        }
        let deadline = self.deadline(timeout);
        let found = self.shared.mailbox.select(deadline, select).await;
        match found {
            Ok(result) => result,
            Err(WaitError::Timeout) => Err(JoinError::Timeout),
            Err(WaitError::Closed) => Err(JoinError::Closed),
        }
    }

    /// Pushes `event` with `payload` to `topic` and returns the push's ref (the guide's `"2"`).
    ///
    /// Pushes made while the topic is (re)joining are buffered and sent after the join; the push
    /// timeout runs from now. Exactly one [`SocketEvent::Reply`] with this ref follows: the
    /// server's reply, or why none will come (push timeout, disconnect, topic not joined…).
    pub fn push(&self, topic: &str, event: &str, payload: impl Into<Payload>) -> Ref {
        self.push_inner(topic, event, payload.into(), None)
    }

    /// Like [`push`](Self::push), with this push's own reply timeout instead of the configured
    /// one: when no reply comes within `timeout`, its outcome is
    /// [`ReplyError::PushTimeout`](crate::ReplyError::PushTimeout).
    pub fn push_with_timeout(
        &self,
        topic: &str,
        event: &str,
        payload: impl Into<Payload>,
        timeout: Duration,
    ) -> Ref {
        self.push_inner(topic, event, payload.into(), Some(timeout))
    }

    /// Pushes `event` with `payload` to `topic` when no reply is wanted (phoenix.js's push
    /// without a `receive`): no timer is armed and a reply from the server is ignored.
    ///
    /// Nothing is reported once the websocket has flushed the push to the network. If it cannot
    /// get there, one [`SocketEvent::Reply`] with the error says so, as for any push: the topic
    /// is not joined, the outbound queue is full, the topic closes or the connection ends before
    /// the push is flushed, or it waited for a (re)join longer than the push timeout. So
    /// [`await_reply`](Self::await_reply) on its ref returns only a failure; on success it waits
    /// out its own timeout.
    ///
    /// ```no_run
    /// # async fn demo(socket: slipstream_client::Socket) {
    /// socket.push_no_reply("rooms:lobby", "typing", serde_json::json!({"user": "ann"}));
    /// # }
    /// ```
    pub fn push_no_reply(&self, topic: &str, event: &str, payload: impl Into<Payload>) -> Ref {
        self.push_command(topic, event, payload.into(), None, false)
    }

    fn push_inner(
        &self,
        topic: &str,
        event: &str,
        payload: Payload,
        timeout: Option<Duration>,
    ) -> Ref {
        self.push_command(topic, event, payload, timeout, true)
    }

    fn push_command(
        &self,
        topic: &str,
        event: &str,
        payload: Payload,
        timeout: Option<Duration>,
        wants_reply: bool,
    ) -> Ref {
        let push_ref = self.shared.next_ref();
        self.send(Command::Push {
            topic: topic.to_owned(),
            event: SharedStr::from(event),
            payload,
            push_ref: push_ref.clone(),
            timeout,
            wants_reply,
        });
        push_ref
    }

    /// Waits for the outcome of the push with ref `push_ref` and consumes it.
    ///
    /// A reply with any status (including `"error"`) is `Ok`; `Err` means no reply: the await's
    /// own [`Timeout`](ReplyError::Timeout) (nothing consumed), or the push failed
    /// ([`PushTimeout`](ReplyError::PushTimeout), [`Disconnected`](ReplyError::Disconnected), …).
    /// A ref this socket never handed out is [`UnknownRef`](ReplyError::UnknownRef) at once.
    pub async fn await_reply(
        &self,
        push_ref: &Ref,
        timeout: Option<Duration>,
    ) -> Result<Reply, ReplyError> {
        if !self.shared.issued(push_ref) {
            return Err(ReplyError::UnknownRef(push_ref.clone()));
        }
        let mut select = |ev| match ev {
            SocketEvent::Reply {
                push_ref: r,
                result,
                ..
            } if r == *push_ref => Ok(result),
            other => Err(other),
        };
        // Under load the reply is often here already: no clock, no wait.
        if let Some(result) = self.shared.mailbox.try_select(&mut select) {
            return result;
        }
        let deadline = self.deadline(timeout);
        let found = self.shared.mailbox.select(deadline, select).await;
        match found {
            Ok(result) => result,
            Err(WaitError::Timeout) => Err(ReplyError::Timeout),
            Err(WaitError::Closed) => Err(ReplyError::Closed),
        }
    }

    /// Waits for the first [`SocketEvent::Message`] that `pattern` matches and consumes it;
    /// other events stay in the mailbox, in order.
    ///
    /// Messages already in the mailbox are found first. When `pattern` names one exact topic
    /// that is not joined, joining, errored (to be rejoined) or being left, and no queued message
    /// matches, none can arrive: [`AwaitError::NotJoined`] at once, instead of waiting out the
    /// timeout. Patterns with any topic or a topic prefix always wait.
    pub async fn await_message(
        &self,
        pattern: &MessagePattern,
        timeout: Option<Duration>,
    ) -> Result<ChannelMessage, AwaitError> {
        let mut select = |ev: SocketEvent| match ev {
            SocketEvent::Message(m) if pattern.matches(&m) => Ok(m),
            other => Err(other),
        };
        // Under load the message is often here already: found before any state is read.
        if let Some(message) = self.shared.mailbox.try_select(&mut select) {
            return Ok(message);
        }
        if let Some(topic) = pattern.exact_topic() {
            match self.precheck(topic, &mut select).await {
                Precheck::Found(message) => return Ok(message),
                Precheck::Never => return Err(AwaitError::NotJoined(topic.to_owned())),
                Precheck::Wait => {}
            }
        }
        let deadline = self.deadline(timeout);
        self.shared
            .mailbox
            .select(deadline, select)
            .await
            .map_err(await_error)
    }

    /// Requests leaving `topic`. Returns at once; see [`await_leave`](Self::await_leave).
    /// Buffered pushes for the topic are failed. Leaving a topic that is not joined (nor being
    /// joined) does nothing; `await_leave` then says [`LeaveError::NotJoined`].
    pub fn leave(&self, topic: &str) {
        self.send(Command::Leave {
            topic: topic.to_owned(),
        });
    }

    /// Waits for [`SocketEvent::Left`] for `topic` and consumes it.
    ///
    /// A `Left` already in the mailbox is found first. When there is none and the topic is not
    /// joined, joining or being left (never joined, or its leave already awaited), there is
    /// nothing to leave: [`LeaveError::NotJoined`] at once (as
    /// [`await_reply`](Self::await_reply) says `NotJoined` for a push to such a topic).
    pub async fn await_leave(
        &self,
        topic: &str,
        timeout: Option<Duration>,
    ) -> Result<(), LeaveError> {
        let mut select = |ev: SocketEvent| match ev {
            SocketEvent::Left { topic: t } if t == topic => Ok(()),
            other => Err(other),
        };
        match self.precheck(topic, &mut select).await {
            Precheck::Found(()) => return Ok(()),
            Precheck::Never => return Err(LeaveError::NotJoined(topic.to_owned())),
            Precheck::Wait => {}
        }
        let deadline = self.deadline(timeout);
        let found = self.shared.mailbox.select(deadline, select).await;
        match found {
            Ok(()) => Ok(()),
            Err(WaitError::Timeout) => Err(LeaveError::Timeout),
            Err(WaitError::Closed) => Err(LeaveError::Closed),
        }
    }

    /// Closes the connection (with a close frame), stops reconnecting, and closes every topic.
    /// When not connected the request is answered at once (a
    /// [`SocketEvent::Disconnected`] with [`DisconnectReason::ClientRequested`]).
    pub fn disconnect(&self) {
        self.send(Command::Disconnect);
    }

    /// Waits for the first [`SocketEvent::Disconnected`] and consumes it.
    pub async fn await_disconnect(
        &self,
        timeout: Option<Duration>,
    ) -> Result<DisconnectReason, AwaitError> {
        let deadline = self.deadline(timeout);
        self.shared
            .mailbox
            .select(deadline, |ev| match ev {
                SocketEvent::Disconnected(reason) => Ok(reason),
                other => Err(other),
            })
            .await
            .map_err(await_error)
    }

    /// Reconnects now: drops the current connection if there is one (topics are rejoined when
    /// auto-rejoin is on), or skips the wait of a scheduled reconnect.
    pub fn reconnect(&self) {
        self.send(Command::Reconnect);
    }

    /// Joins `topic` again with its last params, now, if it is closed or errored (e.g. after a
    /// refusal or a `phx_close`). Does nothing for a topic never joined, or one joined or joining.
    pub fn rejoin(&self, topic: &str) {
        self.send(Command::Rejoin {
            topic: topic.to_owned(),
        });
    }

    /// Whether the connection (websocket or long-poll session) is open.
    pub fn is_connected(&self) -> bool {
        self.shared.connected.load(Ordering::Acquire)
    }

    /// The transport of the current connection: `None` when not connected. With
    /// [`SocketBuilder::long_poll_fallback`] this tells whether the fallback happened.
    ///
    /// ```no_run
    /// use slipstream_client::{Socket, Transport};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let socket = Socket::builder("ws://localhost:4000/socket")
    ///     .transport(Transport::LongPoll)
    ///     .build()?;
    /// assert_eq!(socket.transport(), None);
    /// socket.connect();
    /// socket.await_connect(None).await?;
    /// assert_eq!(socket.transport(), Some(Transport::LongPoll));
    /// # Ok(()) }
    /// ```
    pub fn transport(&self) -> Option<Transport> {
        Transport::from_u8(self.shared.transport.load(Ordering::Acquire))
    }

    /// Whether `topic` is joined.
    pub fn is_joined(&self, topic: &str) -> bool {
        self.join_status(topic) == JoinStatus::Joined
    }

    /// The client-side state of `topic`.
    pub fn join_status(&self, topic: &str) -> JoinStatus {
        self.shared.status(topic)
    }

    /// Removes and returns every event in the mailbox (IEx's `flush`).
    pub fn flush(&self) -> Vec<SocketEvent> {
        self.shared.mailbox.drain()
    }

    /// A receiver of a copy of every event that arrives from now on, for watching the socket
    /// (e.g. printing pushes as they come) without taking anything from the mailbox, so the
    /// `await_*` calls and [`flush`](Self::flush) still see every event.
    ///
    /// The receiver keeps the last 256 events it has not read; an observer that falls further
    /// behind gets [`RecvError::Lagged`](tokio::sync::broadcast::error::RecvError::Lagged) with the
    /// number it missed. Use `blocking_recv` from a plain thread, `recv().await` from async code.
    pub fn observe(&self) -> tokio::sync::broadcast::Receiver<SocketEvent> {
        self.shared.mailbox.observe()
    }

    /// Waits for the next event of any kind and consumes it.
    pub async fn next_event(&self, timeout: Option<Duration>) -> Result<SocketEvent, AwaitError> {
        let deadline = self.deadline(timeout);
        self.shared
            .mailbox
            .select(deadline, Ok)
            .await
            .map_err(await_error)
    }

    /// Waits until the connection task has handled every request sent before this call;
    /// `false` when the task is gone.
    async fn settled(&self) -> bool {
        let (done, handled) = tokio::sync::oneshot::channel();
        if self.commands.send(Command::Sync(done)).is_err() {
            return false;
        }
        handled.await.is_ok()
    }

    /// What an await on `topic` can tell before it waits: its answer is already in the mailbox,
    /// it can never come (the topic is closed: nothing joined, joining or leaving), or it may.
    async fn precheck<T>(
        &self,
        topic: &str,
        select: &mut impl FnMut(SocketEvent) -> Selected<T>,
    ) -> Precheck<T> {
        if self.shared.status(topic) != JoinStatus::Closed {
            return Precheck::Wait;
        }
        // A request sent just before this await (e.g. `join`) may not be handled yet; once it
        // is, so is any step of the task's that was under way (its events are queued).
        if !self.settled().await {
            return Precheck::Wait;
        }
        // The state before the mailbox: the task sets a topic's state before emitting the
        // events that follow from it.
        let closed = self.shared.status(topic) == JoinStatus::Closed;
        match self.shared.mailbox.try_select(select) {
            Some(found) => Precheck::Found(found),
            None if closed => Precheck::Never,
            None => Precheck::Wait,
        }
    }

    /// The timeout used by `await_*` calls given `None`.
    pub fn default_await_timeout(&self) -> Duration {
        self.config.await_timeout
    }

    /// How many server pushes were dropped because the mailbox was full (exact). Replies and
    /// lifecycle events are never dropped; see
    /// [`SocketBuilder::mailbox_capacity`](crate::SocketBuilder::mailbox_capacity).
    pub fn dropped_events(&self) -> u64 {
        self.shared.mailbox.dropped()
    }

    /// How many events are waiting in the mailbox.
    pub fn pending_events(&self) -> usize {
        self.shared.mailbox.len()
    }
}

/// See [`Socket::precheck`].
enum Precheck<T> {
    Found(T),
    Never,
    Wait,
}

fn await_error(e: WaitError) -> AwaitError {
    match e {
        WaitError::Timeout => AwaitError::Timeout,
        WaitError::Closed => AwaitError::Closed,
    }
}
