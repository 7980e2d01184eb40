//! The connection task: owns the websocket, pending replies, topic state, heartbeats, reconnects.
//!
//! It runs one `select!` loop over three inputs — commands from [`Socket`](crate::Socket) handles,
//! the websocket (or the connect attempt in progress), and the earliest timer — and reports
//! everything as [`SocketEvent`]s into the shared mailbox, never waiting on a consumer.
//!
//! It never waits on a write either: messages are encoded into the connection's outbound queue
//! (`outbound.rs`), which every turn of the loop feeds to the websocket's sink as far as the sink
//! accepts, flushing once. A link that stops taking bytes leaves frames queued while timers,
//! heartbeats and commands go on; the heartbeat timer then declares the link dead, and the
//! transport is dropped without waiting on it (a close handshake, if any, runs detached).
//!
//! * `commands.rs`: requests from the handle (join, push, leave, …);
//! * `inbound.rs`: decoded server frames (replies, pushes, `phx_close`, `phx_error`);
//! * `lifecycle.rs`: connecting, heartbeats, disconnects, reconnects and timers;
//! * `outbound.rs`: the bounded queue of encoded frames and the non-blocking writer.

mod channels;
mod command_queue;
mod commands;
mod connection;
mod event_batch;
mod inbound;
mod lifecycle;
mod log_throttle;
mod outbound;
mod pending;
mod plan;
mod read_side;
mod timers;
mod transport;
mod turn_clock;

use std::collections::HashMap;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use slipstream_protocol::{CopyBuffer, Frame, Message, MessageRef, Payload, Ref, SharedStr};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite;

use crate::config::Config;
use crate::error::ConnectError;
use crate::event::{DisconnectReason, SocketEvent};
use crate::socket::Shared;
use channels::{Channel, ClosedTopics};
pub(crate) use command_queue::{CommandSender, command_queue};
pub(crate) use connection::dial;
use event_batch::EventBatch;
use log_throttle::LogThrottle;
use outbound::Outbound;
use pending::PendingTable;
pub(crate) use pending::ref_number;
use read_side::ReadSide;
use timers::Timers;
use transport::{AttemptFuture, Opened};
pub(crate) use transport::{BoxTransport, Connector};
use turn_clock::TurnClock;

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
        event: SharedStr,
        payload: Payload,
        push_ref: Ref,
        /// Overrides the configured push timeout.
        timeout: Option<Duration>,
        /// `false` for [`Socket::push_no_reply`](crate::Socket::push_no_reply).
        wants_reply: bool,
    },
    /// Answered once every command sent before it has been handled (an await's barrier).
    Sync(tokio::sync::oneshot::Sender<()>),
}

/// The connection's state.
enum Conn {
    /// Not connected; nothing planned.
    Idle,
    /// A connect attempt is running.
    Connecting {
        attempt: AttemptFuture,
        initial: bool,
        started: Instant,
    },
    /// The connection is open; `out` holds the frames not yet handed to it.
    Connected {
        ws: BoxTransport,
        out: Outbound,
        since: Instant,
        /// When `ws` is polled for frames (see [`ReadSide`]).
        reads: ReadSide,
    },
    /// A reconnect timer is armed.
    Waiting,
}

impl Conn {
    async fn next(&mut self) -> Input {
        match self {
            Conn::Connecting { attempt, .. } => Input::Opened(attempt.as_mut().await),
            Conn::Connected { ws, out, reads, .. } => {
                std::future::poll_fn(|cx| {
                    // Write first (never waiting), then read.
                    if let Err(e) = out.poll_drive(ws.as_mut(), cx) {
                        return Poll::Ready(Input::WriteFailed(e));
                    }
                    reads.poll_next(ws, cx).map(Input::Frame)
                })
                .await
            }
            Conn::Idle | Conn::Waiting => std::future::pending().await,
        }
    }
}

enum Input {
    Command(Option<Command>),
    Opened(Result<Opened, ConnectError>),
    Frame(Option<Result<tungstenite::Message, tungstenite::Error>>),
    /// The sink refused a frame or a flush: the connection is broken.
    WriteFailed(tungstenite::Error),
    Timer,
}

/// Why a message was not queued for writing.
#[derive(Debug)]
enum SendError {
    NotConnected,
    Encode(String),
    /// The outbound queue is over its bound (pushes only).
    QueueFull {
        queued: usize,
        limit: usize,
    },
}

/// At most this many commands are handled in one turn of the loop (see `Actor::on_commands`).
const COMMAND_BATCH: usize = 256;
/// A turn stops taking commands once this many bytes wait to be written.
const BATCH_BYTES: usize = 256 << 10;
/// At most this many frames are handled in one turn of the loop (see `Actor::on_frames`).
const FRAME_BATCH: usize = 256;
/// Where the loop's sleep waits while no timer is armed (disabled then; any far time will do).
const IDLE_SLEEP: Duration = Duration::from_secs(86_400);

/// How long a detached close handshake may take before the transport is dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

pub(crate) struct Actor {
    config: Arc<Config>,
    shared: Arc<Shared>,
    commands: command_queue::CommandReceiver,
    conn: Conn,
    /// Incremented per established connection; stale heartbeat timers carry an older id.
    conn_id: u64,
    /// Boxed: a map of one topic allocates room for several entries, and a `Channel` is large.
    /// Hashed with foldhash (seeded per map), not SipHash: it is looked up on every push and
    /// every reply, and only this socket's own joins insert into it.
    channels: HashMap<String, Box<Channel>, foldhash::fast::RandomState>,
    /// Params of topics that closed, for [`Command::Rejoin`] (bounded).
    closed_params: ClosedTopics,
    pending: PendingTable,
    timers: Timers,
    /// The heartbeat awaiting its ack, and when it was sent.
    heartbeat: Option<(Ref, Instant)>,
    /// Retries since the last healthy connection (indexes the reconnect schedule).
    reconnect_attempt: u32,
    /// Whether the current connection has proven healthy (see `lifecycle::Actor::proved_healthy`).
    healthy: bool,
    /// Set once a connect fell back from the websocket to long-poll: the socket's later
    /// connects go straight to long-poll.
    fell_back: bool,
    /// Set when a write fails; the loop then tears the connection down.
    broken: Option<DisconnectReason>,
    /// Keeps a flood of malformed server frames from flooding the log.
    malformed_log: LogThrottle,
    /// `connect()` requests not yet answered: the attempt that ends them answers each one.
    connect_requests: u32,
    /// Events gathered to reach the mailbox together (see [`Actor::emit_together`]).
    batch: std::cell::RefCell<EventBatch>,
    /// The time of the current turn, for the deadlines of the requests it sends.
    clock: TurnClock,
}

/// Closes the mailbox when the task ends, even by panic, so awaits return `Closed`.
struct CloseOnDrop(Arc<Shared>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0
            .connected
            .store(false, std::sync::atomic::Ordering::Release);
        self.0.set_transport(None);
        self.0.mailbox.close();
    }
}

impl Actor {
    pub(crate) fn new(
        config: Arc<Config>,
        shared: Arc<Shared>,
        commands: command_queue::CommandReceiver,
    ) -> Self {
        Actor {
            config,
            shared,
            commands,
            conn: Conn::Idle,
            conn_id: 0,
            channels: HashMap::default(),
            closed_params: ClosedTopics::default(),
            pending: PendingTable::default(),
            timers: Timers::default(),
            heartbeat: None,
            reconnect_attempt: 0,
            healthy: false,
            fell_back: false,
            broken: None,
            batch: std::cell::RefCell::default(),
            malformed_log: LogThrottle::default(),
            connect_requests: 0,
            clock: TurnClock::default(),
        }
    }

    pub(crate) async fn run(mut self) {
        let _close = CloseOnDrop(self.shared.clone());
        // One sleep for the whole life of the task (a new sleep per turn registers a new timer).
        // It only ever moves earlier: a later earliest deadline (each push arms one behind
        // those before it; a reply removes one) leaves it where it is. It then fires early,
        // the turn finds nothing due, and it moves to the earliest deadline then. So a push
        // and its reply move no timer, and no timer ever fires late.
        let timer = tokio::time::sleep_until(Instant::now() + IDLE_SLEEP);
        tokio::pin!(timer);
        // Where the sleep is set, while it has not fired; `None` once it has.
        let mut armed_for = None;
        loop {
            // Writes progress on every turn, whichever input comes next.
            std::future::poll_fn(|cx| {
                self.drive_writes(cx);
                Poll::Ready(())
            })
            .await;
            if let Some(reason) = self.broken.take() {
                self.connection_lost(reason);
            }
            let pending = &self.pending;
            self.timers.prune_lane(|n| pending.is_push(n));
            let deadline = self.timers.next_deadline();
            if let Some(due) = deadline
                && armed_for.is_none_or(|armed| due < armed)
            {
                timer.as_mut().reset(due);
                armed_for = Some(due);
            }
            let input = tokio::select! {
                cmd = self.commands.recv() => Input::Command(cmd),
                input = self.conn.next() => input,
                () = timer.as_mut(), if deadline.is_some() => Input::Timer,
            };
            self.clock.new_turn();
            // Before anything can end the connection: what was flushed is not failed by it.
            self.settle_casts();
            match input {
                Input::Command(None) => break,
                Input::Command(Some(command)) => {
                    if !self.on_commands(command) {
                        break;
                    }
                }
                Input::Opened(result) => self.on_opened(result),
                Input::Frame(frame) => {
                    if self.on_frames(frame) {
                        yield_to_woken_tasks().await;
                    }
                }
                Input::WriteFailed(error) => self.write_failed(&error),
                Input::Timer => {
                    armed_for = None;
                    self.on_timers();
                }
            }
            if let Some(reason) = self.broken.take() {
                self.connection_lost(reason);
            }
        }
        // Every handle is gone: close politely.
        if let Conn::Connected { ws, .. } = std::mem::replace(&mut self.conn, Conn::Idle) {
            // Boxed: the close handshake's state would otherwise be part of every socket's task
            // for its whole life.
            Box::pin(close_ws(
                ws,
                tungstenite::protocol::frame::coding::CloseCode::Normal,
                "",
            ))
            .await;
        }
        tracing::debug!("socket task stopped: every handle was dropped");
    }

    /// Handles `first` and the commands already waiting behind it (up to [`COMMAND_BATCH`], or
    /// until [`BATCH_BYTES`] are queued for writing), so that pushes made together are written
    /// together, with one flush. `false` when every handle is gone.
    fn on_commands(&mut self, first: Command) -> bool {
        self.on_command(first);
        for _ in 1..COMMAND_BATCH {
            if self.queued_bytes() >= BATCH_BYTES || self.broken.is_some() {
                break;
            }
            match self.commands.try_recv() {
                Ok(command) => self.on_command(command),
                Err(command_queue::TryRecvError::Empty) => break,
                Err(command_queue::TryRecvError::Disconnected) => return false,
            }
        }
        true
    }

    /// Handles `first` and the frames already read behind it (up to [`FRAME_BATCH`]), their
    /// events reaching the mailbox together: a consumer is woken once for a burst of replies.
    /// `true` when the batch was full, so more frames may be waiting.
    fn on_frames(
        &mut self,
        first: Option<Result<tungstenite::Message, tungstenite::Error>>,
    ) -> bool {
        self.emit_together(|actor| {
            let conn_id = actor.conn_id;
            // The short parts of the batch's frames are copied together, a chunk for dozens.
            let mut copies = CopyBuffer::new();
            let mut next = Some(first);
            let mut handled = 0;
            while let Some(frame) = next.take() {
                let last = frame.as_ref().is_none_or(|f| f.is_err());
                actor.on_frame(frame, &mut copies);
                handled += 1;
                if last
                    || handled >= FRAME_BATCH
                    || conn_id != actor.conn_id
                    || actor.broken.is_some()
                {
                    break;
                }
                next = actor.ready_frame();
            }
            handled >= FRAME_BATCH
        })
    }

    /// The next frame if one can be read without waiting.
    fn ready_frame(&mut self) -> Option<Option<Result<tungstenite::Message, tungstenite::Error>>> {
        let Conn::Connected { ws, reads, .. } = &mut self.conn else {
            return None;
        };
        match reads.poll_again(ws) {
            Poll::Ready(frame) => Some(frame),
            Poll::Pending => None,
        }
    }

    fn queued_bytes(&self) -> usize {
        match &self.conn {
            Conn::Connected { out, .. } => out.queued_bytes(),
            _ => 0,
        }
    }

    fn emit(&self, event: SocketEvent) {
        let outside_a_batch = self.batch.borrow_mut().push(event);
        if let Err(event) = outside_a_batch {
            self.shared.mailbox.push(event);
        }
    }

    /// Runs `f`, and puts every event it emits into the mailbox at once: an await that takes
    /// the first of them finds the rest already queued (after `await_disconnect`, the failed
    /// pushes and closed topics of that disconnect are in the mailbox).
    fn emit_together<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> T {
        if !self.batch.borrow_mut().start() {
            return f(self); // already gathering: the outer call delivers these too
        }
        let result = f(self);
        self.batch.borrow_mut().finish(&self.shared.mailbox);
        result
    }

    fn is_connected(&self) -> bool {
        matches!(self.conn, Conn::Connected { .. })
    }

    /// Queues one message for writing, whatever the queue holds (heartbeats, joins, leaves:
    /// small, and at most one per topic or heartbeat interval).
    fn send(&mut self, message: &Message) -> Result<(), SendError> {
        enqueue(&mut self.conn, &self.config, message.into(), false, None)
    }

    /// No-reply pushes the websocket has flushed are done: nothing more is reported for them.
    fn settle_casts(&mut self) {
        if let Conn::Connected { out, .. } = &mut self.conn {
            for n in out.take_flushed_casts() {
                self.pending.cast_flushed(n);
            }
        }
    }

    /// Hands queued frames to the sink as far as it accepts them, without waiting.
    fn drive_writes(&mut self, cx: &mut Context<'_>) {
        let result = match &mut self.conn {
            Conn::Connected { ws, out, .. } => out.poll_drive(ws.as_mut(), cx),
            _ => Ok(()),
        };
        if let Err(error) = result {
            self.write_failed(&error);
        }
        self.settle_casts();
    }

    /// A write failed: the loop tears the connection down after this turn.
    fn write_failed(&mut self, error: &tungstenite::Error) {
        tracing::warn!(%error, "websocket write failed");
        self.broken
            .get_or_insert(DisconnectReason::TransportError(error.to_string()));
    }
}

/// Returns to the scheduler once, already rescheduled: after a full batch of frames, the tasks
/// its events woke run (and drain the mailbox) before this task reads more, so a burst of
/// broadcasts reaches its consumer a batch at a time instead of piling up in the mailbox.
/// (`tokio::task::yield_now` would also wait for the I/O driver's next poll.)
async fn yield_to_woken_tasks() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if std::mem::replace(&mut yielded, true) {
            return Poll::Ready(());
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await;
}

/// Encodes `message` into the connection's outbound queue; `bounded` refuses it when the queue is
/// over its bound (pushes), `cast` is the ref number of a no-reply push. A free function over the
/// two fields it needs, so a push can borrow its parts from the actor's other fields.
fn enqueue(
    conn: &mut Conn,
    config: &Config,
    message: MessageRef<'_>,
    bounded: bool,
    cast: Option<u64>,
) -> Result<(), SendError> {
    let Conn::Connected { out, .. } = conn else {
        return Err(SendError::NotConnected);
    };
    if bounded && !out.has_room() {
        return Err(SendError::QueueFull {
            queued: out.queued_bytes(),
            limit: out.limit(),
        });
    }
    let frame = config
        .serializer
        .encode_ref_to_server(message)
        .map_err(|e| SendError::Encode(e.to_string()))?;
    out.enqueue(
        match frame {
            Frame::Text(text) => tungstenite::Message::Text(text.into()),
            Frame::Binary(bytes) => tungstenite::Message::Binary(bytes),
        },
        cast,
    );
    Ok(())
}

fn close_frame(
    code: tungstenite::protocol::frame::coding::CloseCode,
    reason: &str,
) -> tungstenite::Message {
    tungstenite::Message::Close(Some(tungstenite::protocol::CloseFrame {
        code,
        reason: reason.to_owned().into(),
    }))
}

/// Sends a close frame and waits briefly for the server's close, then drops the socket.
async fn close_ws(
    mut ws: BoxTransport,
    code: tungstenite::protocol::frame::coding::CloseCode,
    reason: &str,
) {
    let frame = close_frame(code, reason);
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
        if ws.send(frame).await.is_ok() {
            while let Some(Ok(_)) = ws.next().await {}
        }
    })
    .await;
}

/// Ends a connection without making the task wait on it: the close frame is handed to the sink
/// at once if the sink takes it, and the rest of the handshake (flushing, the server's close) runs
/// in a detached task bounded by [`CLOSE_TIMEOUT`], after which the transport is dropped. Frames
/// still in the outbound queue are discarded: their pushes are failed by the teardown.
fn close_detached(
    mut ws: BoxTransport,
    code: tungstenite::protocol::frame::coding::CloseCode,
    reason: &str,
) {
    let mut cx = Context::from_waker(Waker::noop());
    let mut frame = Some(close_frame(code, reason));
    if let Poll::Ready(Ok(())) = ws.poll_ready_unpin(&mut cx) {
        if let Some(f) = frame.take()
            && ws.start_send_unpin(f).is_err()
        {
            return;
        }
        let _ = ws.poll_flush_unpin(&mut cx);
    }
    tokio::spawn(async move {
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
            let sent = match frame {
                Some(f) => ws.send(f).await,
                None => ws.flush().await,
            };
            if sent.is_ok() {
                while let Some(Ok(_)) = ws.next().await {}
            }
        })
        .await;
    });
}
#[cfg(test)]
mod tests {
    use super::*;

    /// Every socket carries its connection task's future for its whole life; it held the state
    /// of every nested `async fn` (3.4 KiB) until the handlers became plain functions.
    #[tokio::test]
    async fn the_connection_task_stays_small() {
        let (_tx, rx) = command_queue();
        let socket = crate::Socket::builder("ws://127.0.0.1:9/socket")
            .build()
            .unwrap();
        let actor = Actor::new(socket.config_arc(), socket.shared(), rx);
        let task = actor.run();
        let size = std::mem::size_of_val(&task);
        assert!(
            size <= 2048,
            "the connection task's future takes {size} bytes"
        );
    }
}
