//! One websocket connection: reads frames, routes messages to channels, and keeps Phoenix's
//! socket-level rules (heartbeat, join/leave bookkeeping, unmatched topics, idle timeout).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use slipstream_protocol::{
    DecodeError, Event, FrameRef, Message, PHOENIX_TOPIC, Payload, Ref, Serializer,
};
use tokio::io::AsyncWrite;
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot, watch};

use crate::accepted::Accepted;
use crate::connect::SocketInfo;
use crate::inbound::{FrameResult, Inbound, Incoming, SocketInput};
use crate::log_filter;
use crate::messages::{ChannelMsg, ChannelStart, Control, Push};
use crate::outbound::{self, ConnLabel, Out, OutTx, Overflow, QueueState, overflowed};
use crate::outcome::{JoinResult, TerminateReason};
use crate::pubsub::Subscriber;
use crate::shared::{ConnHandle, Shared};
use crate::writer;
use crate::ws::{self, Source, WsError, WsMessage, WsReader};

/// How long to wait for the client's answer after we sent a close frame.
const CLOSE_GRACE: Duration = Duration::from_secs(3);

/// A joined channel, as the connection tracks it.
struct Joined {
    channel_id: u64,
    /// The join_ref the client joined with (checked on `phx_leave`).
    join_ref: Option<Ref>,
    mailbox: mpsc::UnboundedSender<ChannelMsg>,
    /// One permit per client push the channel may have waiting (`max_pending_pushes`).
    pushes: Arc<Semaphore>,
}

/// A client push waiting for its channel to have room (the connection reads nothing meanwhile).
struct Blocked {
    topic: String,
    channel_id: u64,
    mailbox: mpsc::UnboundedSender<ChannelMsg>,
    event: String,
    payload: Payload,
    msg_ref: Option<Ref>,
    permit: std::pin::Pin<
        Box<
            dyn std::future::Future<
                    Output = Result<OwnedSemaphorePermit, tokio::sync::AcquireError>,
                > + Send,
        >,
    >,
}

/// How a connection reaches its client: set up by the transport (`run` for a websocket,
/// `longpoll` for a long-poll session), then driven by [`serve`].
pub(crate) struct Wiring<I> {
    pub(crate) conn_id: u64,
    /// The client's frames; the connection ends when they end.
    pub(crate) frames: I,
    /// The writer's queue (what the client will receive).
    pub(crate) out: OutTx,
    pub(crate) queue: Arc<QueueState>,
    /// Close after `idle_timeout` without a frame (websocket). A long-poll session has no
    /// heartbeats; its own expiry ends it instead.
    pub(crate) idle_close: bool,
}

/// Runs a websocket connection on an upgraded HTTP connection until it closes. `accepted` (the
/// TCP connection's peer and its place in the connection limit) is held until the end.
///
/// On the server's own TCP streams (always, but for a transport we do not know) the socket is
/// read and written directly, so an idle connection holds no read or write buffer.
pub(crate) async fn run_upgraded(
    upgraded: Upgraded,
    shared: Arc<Shared>,
    socket: Arc<SocketInfo>,
    accepted: Option<Accepted>,
) {
    let max_frame_size = shared.config.max_frame_size;
    match upgraded.downcast::<TokioIo<TcpStream>>() {
        Ok(parts) => {
            let (read_half, write_half) = parts.io.into_inner().into_split();
            // What hyper read past the upgrade request (a client may send its first frames
            // without waiting for the 101) comes first.
            let reader = WsReader::with_buffered(read_half, max_frame_size, &parts.read_buf);
            drop(parts.read_buf);
            run(reader, write_half, shared, socket, accepted).await;
        }
        Err(upgraded) => {
            let (read_half, write_half) = tokio::io::split(TokioIo::new(upgraded));
            let reader = WsReader::new(ws::Stream(read_half), max_frame_size);
            run(reader, write_half, shared, socket, accepted).await;
        }
    }
}

/// Runs a websocket connection until it closes: its frames are read in the connection's own
/// loop, its writer is a task of its own.
async fn run<R, W>(
    reader: WsReader<R>,
    write_half: W,
    shared: Arc<Shared>,
    socket: Arc<SocketInfo>,
    accepted: Option<Accepted>,
) where
    R: Source,
    W: AsyncWrite + Send + Unpin + 'static,
{
    let conn_id = shared.next_id();
    let label = ConnLabel {
        conn_id,
        peer: accepted.as_ref().map(|a| a.peer),
        socket_id: socket.socket_id.clone(),
    };
    let (out, out_rx, queue) = outbound::queue(shared.config.max_outbound_bytes);
    let writer = tokio::spawn(writer::write_loop(write_half, out_rx, queue.clone(), label));
    let wiring = Wiring {
        conn_id,
        frames: SocketInput::new(reader),
        out,
        queue,
        idle_close: true,
    };
    serve(shared, socket, wiring).await;
    // The writer ends once it wrote a close frame, or when every sender is gone; a channel still
    // busy in a callback keeps a sender, so do not wait for it forever.
    let writer_abort = writer.abort_handle();
    if tokio::time::timeout(CLOSE_GRACE, writer).await.is_err() {
        tracing::debug!(conn_id, "writer did not finish in time");
        writer_abort.abort();
    }
    drop(accepted);
    tracing::debug!(conn_id, "connection ended");
}

/// Serves one client over any transport until the connection ends: registers it (so broadcasts
/// to its socket id and `close_all_connections` reach it), runs Phoenix's socket rules, and ends
/// its channels.
pub(crate) async fn serve<I: Incoming>(
    shared: Arc<Shared>,
    socket: Arc<SocketInfo>,
    wiring: Wiring<I>,
) {
    let Wiring {
        conn_id,
        frames,
        out,
        queue,
        idle_close,
    } = wiring;
    let overflow = queue.overflowed();
    let (control_tx, control) = mpsc::unbounded_channel();
    shared
        .connections
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(
            conn_id,
            ConnHandle {
                socket_id: socket.socket_id.clone(),
                control: control_tx.clone(),
                queue,
            },
        );
    let mut conn = Connection {
        conn_id,
        serializer: socket.serializer,
        shared: shared.clone(),
        socket,
        out,
        channels: HashMap::new(),
        exit_tx: control_tx,
        blocked: None,
        idle_close,
    };
    conn.main_loop(frames, control, overflow).await;
    shared
        .connections
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&conn_id);
    for (topic, joined) in conn.channels.drain() {
        shared.pubsub.unsubscribe(&topic, joined.channel_id);
        let _ = joined
            .mailbox
            .send(ChannelMsg::Shutdown(TerminateReason::Closed));
    }
}

struct Connection {
    conn_id: u64,
    serializer: Serializer,
    shared: Arc<Shared>,
    socket: Arc<SocketInfo>,
    out: OutTx,
    channels: HashMap<String, Joined>,
    /// Given to each channel, which sends `Control::ChannelEnded` on it when it ends.
    exit_tx: mpsc::UnboundedSender<Control>,
    /// A push waiting for room in its channel; while set, no frame is read.
    blocked: Option<Blocked>,
    /// Whether a client silent for `idle_timeout` is closed (see [`Wiring::idle_close`]).
    idle_close: bool,
}

/// How a connection ends after a frame.
enum Ending {
    /// Send a close frame with `code`; with `drain`, wait for the client's close.
    Close { code: u16, drain: bool },
    /// The client is gone; nothing can be sent.
    Gone,
}

impl Connection {
    async fn main_loop<I: Incoming>(
        &mut self,
        mut frames: I,
        mut control: mpsc::UnboundedReceiver<Control>,
        mut overflow: watch::Receiver<Option<Overflow>>,
    ) {
        let idle = self.shared.config.idle_timeout;
        let mut deadline = tokio::time::Instant::now() + idle;
        loop {
            tokio::select! {
                // The writer logs, drops the queue and closes with 1008 on its own.
                _ = overflowed(&mut overflow) => return,
                permit = wait_blocked(&mut self.blocked), if self.blocked.is_some() => {
                    if let Some(blocked) = self.blocked.take() {
                        self.deliver_blocked(blocked, permit);
                    }
                    deadline = tokio::time::Instant::now() + idle;
                }
                frame = frames.next(), if self.blocked.is_none() => {
                    let frame = match frame {
                        None => return,
                        Some(Inbound::Frame(frame)) => frame,
                        Some(Inbound::Barrier(done)) => {
                            let _ = done.send(());
                            continue;
                        }
                    };
                    deadline = tokio::time::Instant::now() + idle;
                    match self.on_frame(frame).await {
                        None => {}
                        Some(Ending::Gone) => return,
                        Some(Ending::Close { code, drain }) => {
                            self.close(code, drain.then_some(&mut frames)).await;
                            return;
                        }
                    }
                }
                Some(control) = control.recv() => match control {
                    Control::ChannelEnded(channel_id) => {
                        self.channels.retain(|_, j| j.channel_id != channel_id);
                    }
                    Control::Close(code) => {
                        tracing::info!(conn_id = self.conn_id, code, "closing connection on request");
                        self.close(code, Some(&mut frames)).await;
                        return;
                    }
                },
                _ = tokio::time::sleep_until(deadline), if self.blocked.is_some() => {
                    let topic = self.blocked.as_ref().map(|b| b.topic.clone()).unwrap_or_default();
                    tracing::warn!(conn_id = self.conn_id, %topic, "channel {topic} took no push for {} ms; closing the connection with 1011", idle.as_millis());
                    self.close::<I>(ws::CLOSE_INTERNAL, None).await;
                    return;
                }
                _ = tokio::time::sleep_until(deadline), if self.blocked.is_none() && self.idle_close => {
                    tracing::info!(conn_id = self.conn_id, ?idle, "idle timeout: no frame from the client; closing with 1002");
                    self.close(ws::CLOSE_PROTOCOL, Some(&mut frames)).await;
                    return;
                }
            }
        }
    }

    /// Sends a close frame; with `drain`, waits (briefly) for the client's close or EOF.
    async fn close<I: Incoming>(&mut self, code: u16, drain: Option<&mut I>) {
        let _ = self.out.send(Out::Close(code));
        if let Some(frames) = drain {
            let _ = tokio::time::timeout(CLOSE_GRACE, async {
                while let Some(item) = frames.next().await {
                    match item {
                        Inbound::Frame(Ok(WsMessage::Close(_))) => break,
                        Inbound::Frame(_) => {}
                        Inbound::Barrier(done) => {
                            let _ = done.send(());
                        }
                    }
                }
            })
            .await;
        }
    }

    /// Handles one websocket message; returns how the connection ends, if it does.
    async fn on_frame(&mut self, frame: FrameResult) -> Option<Ending> {
        let frame = match frame {
            Ok(frame) => frame,
            Err(WsError::Io(err)) => {
                tracing::debug!(conn_id = self.conn_id, error = %err, "the client went away");
                return Some(Ending::Gone);
            }
            Err(err) => {
                tracing::warn!(conn_id = self.conn_id, error = %err, code = err.close_code(), "bad websocket frame; closing the connection");
                return Some(Ending::Close {
                    code: err.close_code(),
                    drain: err.is_recoverable(),
                });
            }
        };
        let decoded = match &frame {
            WsMessage::Text(bytes) => match std::str::from_utf8(bytes) {
                Ok(text) => self.serializer.decode_from_client(FrameRef::Text(text)),
                Err(_) => {
                    return Some(Ending::Close {
                        code: ws::CLOSE_INVALID_DATA,
                        drain: true,
                    });
                }
            },
            WsMessage::Binary(bytes) => self.serializer.decode_from_client(FrameRef::Binary(bytes)),
            WsMessage::Ping(payload) => {
                let _ = self
                    .out
                    .send(Out::Frame(ws::encode_frame(ws::OP_PONG, payload)));
                return None;
            }
            WsMessage::Pong => return None,
            WsMessage::Close(code) => {
                tracing::debug!(
                    conn_id = self.conn_id,
                    ?code,
                    "client closed the connection"
                );
                return Some(Ending::Close {
                    code: ws::CLOSE_NORMAL,
                    drain: false,
                });
            }
        };
        match decoded {
            Ok(message) => {
                self.on_message(message).await;
                None
            }
            Err(DecodeError::TopicNotString {
                msg_ref,
                topic_json,
                ..
            }) => {
                self.send_raw_unmatched(msg_ref, &topic_json);
                None
            }
            Err(err) => {
                tracing::warn!(conn_id = self.conn_id, error = %err, "malformed frame from the client; closing the connection with 1011");
                Some(Ending::Close {
                    code: ws::CLOSE_INTERNAL,
                    drain: true,
                })
            }
        }
    }

    async fn on_message(&mut self, message: Message) {
        let Message {
            join_ref,
            msg_ref,
            topic,
            event,
            payload,
        } = message;
        if topic == PHOENIX_TOPIC && event == Event::Heartbeat {
            if self
                .shared
                .answer_heartbeats
                .load(std::sync::atomic::Ordering::Relaxed)
            {
                self.reply(None, msg_ref, &topic, "ok", Payload::empty());
            }
            return;
        }
        match event {
            Event::Join => self.join(join_ref, msg_ref, topic, payload).await,
            Event::Leave => self.leave(join_ref, msg_ref, topic),
            event => {
                let Some(joined) = self.channels.get(&topic) else {
                    return self.unmatched(msg_ref, &topic);
                };
                let event = event.as_str().to_owned();
                match joined.pushes.clone().try_acquire_owned() {
                    Ok(permit) => {
                        let (mailbox, channel_id) = (joined.mailbox.clone(), joined.channel_id);
                        self.push_to(&mailbox, channel_id, topic, event, payload, msg_ref, permit);
                    }
                    Err(_) => {
                        // The channel is `max_pending_pushes` behind: stop reading from this
                        // client until it takes one (backpressure down to the TCP socket).
                        tracing::debug!(conn_id = self.conn_id, %topic, "channel is behind; reading from the client paused");
                        self.blocked = Some(Blocked {
                            channel_id: joined.channel_id,
                            mailbox: joined.mailbox.clone(),
                            permit: Box::pin(joined.pushes.clone().acquire_owned()),
                            topic,
                            event,
                            payload,
                            msg_ref,
                        });
                    }
                }
            }
        }
    }

    /// Hands a client push to its channel's task.
    #[allow(clippy::too_many_arguments)]
    fn push_to(
        &mut self,
        mailbox: &mpsc::UnboundedSender<ChannelMsg>,
        channel_id: u64,
        topic: String,
        event: String,
        payload: Payload,
        msg_ref: Option<Ref>,
        permit: OwnedSemaphorePermit,
    ) {
        let push = ChannelMsg::In(Box::new(Push {
            event,
            payload,
            msg_ref,
            permit,
        }));
        if let Err(mpsc::error::SendError(ChannelMsg::In(push))) = mailbox.send(push) {
            let msg_ref = push.msg_ref;
            // The channel has just ended; Phoenix answers as for any unjoined topic.
            if self
                .channels
                .get(&topic)
                .is_some_and(|j| j.channel_id == channel_id)
            {
                self.channels.remove(&topic);
            }
            self.unmatched(msg_ref, &topic);
        }
    }

    /// Delivers the push that waited for room, once its channel has some (or has ended).
    fn deliver_blocked(
        &mut self,
        blocked: Blocked,
        permit: Result<OwnedSemaphorePermit, tokio::sync::AcquireError>,
    ) {
        let Blocked {
            topic,
            channel_id,
            mailbox,
            event,
            payload,
            msg_ref,
            ..
        } = blocked;
        match permit {
            Ok(permit) => {
                self.push_to(&mailbox, channel_id, topic, event, payload, msg_ref, permit)
            }
            Err(_) => self.unmatched(msg_ref, &topic),
        }
    }

    fn leave(&mut self, join_ref: Option<Ref>, msg_ref: Option<Ref>, topic: String) {
        match self.channels.get(&topic) {
            // As Phoenix: a leave counts when its join_ref is the stored one, or when the join
            // had none (V1, or a null join_ref); otherwise it raced a rejoin and is dropped.
            Some(joined) if joined.join_ref.is_none() || joined.join_ref == join_ref => {
                if let Some(joined) = self.channels.remove(&topic) {
                    self.shared.pubsub.unsubscribe(&topic, joined.channel_id);
                    if let Err(mpsc::error::SendError(ChannelMsg::Leave { msg_ref })) =
                        joined.mailbox.send(ChannelMsg::Leave { msg_ref })
                    {
                        self.reply(join_ref, msg_ref, &topic, "ok", Payload::empty());
                    }
                }
            }
            Some(_) => {
                tracing::debug!(conn_id = self.conn_id, %topic, "phx_leave with a stale join_ref dropped");
            }
            None => self.reply(join_ref, msg_ref, &topic, "ok", Payload::empty()),
        }
    }

    async fn join(
        &mut self,
        join_ref: Option<Ref>,
        msg_ref: Option<Ref>,
        topic: String,
        params: Payload,
    ) {
        let Some(starter) = self.shared.socket.route(&topic) else {
            return self.unmatched(msg_ref, &topic);
        };
        let replaced = self.channels.remove(&topic);
        if let Some(old) = &replaced {
            self.shared.pubsub.unsubscribe(&topic, old.channel_id);
            let _ = old
                .mailbox
                .send(ChannelMsg::Shutdown(TerminateReason::DuplicateJoin));
        } else if self.channels.len() >= self.shared.config.max_channels {
            let reason = Payload::json(&serde_json::json!({"reason": "too many channels joined"}));
            return self.reply(join_ref, msg_ref, &topic, "error", reason);
        }
        let started = Instant::now();
        let params_log = log_filter::payload(&params, &self.shared.config.filter_parameters);
        let channel_id = self.shared.next_id();
        let (mailbox, mailbox_rx) = mpsc::unbounded_channel();
        let pushes = Arc::new(Semaphore::new(
            self.shared
                .config
                .max_pending_pushes
                .clamp(1, Semaphore::MAX_PERMITS),
        ));
        let (join_tx, join_rx) = oneshot::channel();
        let (go_tx, go_rx) = oneshot::channel();
        starter(
            ChannelStart {
                topic: topic.clone(),
                params,
                join_ref: join_ref.clone(),
                msg_ref: msg_ref.clone(),
                channel_id,
                serializer: self.serializer,
                out: self.out.clone(),
                socket: self.socket.clone(),
                mailbox_tx: mailbox.downgrade(),
                mailbox_rx,
                join_tx,
                go_rx,
                exit_tx: self.exit_tx.clone(),
            },
            self.shared.clone(),
        );
        match join_rx.await {
            Ok(JoinResult::Ok(response)) => {
                let subscriber = Subscriber {
                    channel_id,
                    serializer: self.serializer,
                    out: self.out.clone(),
                };
                self.shared.pubsub.subscribe_after(&topic, subscriber, || {
                    self.reply(join_ref.clone(), msg_ref, &topic, "ok", response);
                });
                self.channels.insert(
                    topic.clone(),
                    Joined {
                        channel_id,
                        join_ref,
                        mailbox,
                        pushes,
                    },
                );
                let _ = go_tx.send(());
                tracing::info!(
                    conn_id = self.conn_id,
                    "JOINED {topic} in {:?}\n  Parameters: {params_log}",
                    started.elapsed()
                );
            }
            Ok(JoinResult::Error(response)) => {
                tracing::info!(
                    conn_id = self.conn_id,
                    "REFUSED JOIN {topic} in {:?}\n  Parameters: {params_log}",
                    started.elapsed()
                );
                self.reply(join_ref, msg_ref, &topic, "error", response);
            }
            Ok(JoinResult::Crash(reason)) => {
                tracing::warn!(conn_id = self.conn_id, %topic, %reason, "join crashed");
                self.join_crashed(join_ref, msg_ref, &topic);
            }
            Err(_) => {
                tracing::warn!(conn_id = self.conn_id, %topic, "join crashed (the channel panicked)");
                self.join_crashed(join_ref, msg_ref, &topic);
            }
        }
        if let Some(old) = replaced {
            let close = Message::new(
                old.join_ref.clone(),
                old.join_ref,
                topic,
                Event::Close,
                Payload::empty(),
            );
            self.send(&close);
        }
    }

    fn join_crashed(&self, join_ref: Option<Ref>, msg_ref: Option<Ref>, topic: &str) {
        let reason = Payload::json(&serde_json::json!({"reason": "join crashed"}));
        self.reply(join_ref, msg_ref, topic, "error", reason);
    }

    fn unmatched(&self, msg_ref: Option<Ref>, topic: &str) {
        let reason = Payload::json(&serde_json::json!({"reason": "unmatched topic"}));
        self.reply(None, msg_ref, topic, "error", reason);
    }

    /// The 'unmatched topic' reply for a frame whose topic is not a string, echoing its JSON.
    fn send_raw_unmatched(&self, msg_ref: Option<Ref>, topic_json: &str) {
        let ref_json = match &msg_ref {
            None => "null".to_owned(),
            Some(r) if r.is_json() => r.as_text().to_owned(),
            Some(r) => serde_json::to_string(r.as_text()).unwrap_or_else(|_| "null".to_owned()),
        };
        let reply = r#"{"response":{"reason":"unmatched topic"},"status":"error"}"#;
        let text = match self.serializer {
            Serializer::V1 => format!(
                r#"{{"event":"phx_reply","payload":{reply},"ref":{ref_json},"topic":{topic_json}}}"#
            ),
            Serializer::V2 => format!(r#"[null,{ref_json},{topic_json},"phx_reply",{reply}]"#),
        };
        let _ = self
            .out
            .send(Out::Frame(ws::encode_frame(ws::OP_TEXT, text.as_bytes())));
    }

    fn reply(
        &self,
        join_ref: Option<Ref>,
        msg_ref: Option<Ref>,
        topic: &str,
        status: &str,
        response: Payload,
    ) {
        self.send(&Message::reply(join_ref, msg_ref, topic, status, response));
    }

    fn send(&self, message: &Message) {
        match outbound::encode(self.serializer, message) {
            Ok(frame) => {
                let _ = self.out.send(Out::Frame(frame));
            }
            Err(err) => {
                tracing::warn!(conn_id = self.conn_id, error = %err, "could not encode a frame")
            }
        }
    }
}

/// Waits for the blocked push's permit (never resolves when nothing is blocked).
async fn wait_blocked(
    blocked: &mut Option<Blocked>,
) -> Result<OwnedSemaphorePermit, tokio::sync::AcquireError> {
    match blocked {
        Some(blocked) => blocked.permit.as_mut().await,
        None => std::future::pending().await,
    }
}
