//! Connecting, heartbeats, disconnects, reconnects, and the timers that drive them.

use std::sync::atomic::Ordering;
use std::time::Duration;

use slipstream_protocol::{Event, Message, Payload};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tracing::Instrument;

use super::outbound::Outbound;
use super::pending::Pending;
use super::plan::Plan;
use super::read_side::ReadSide;
use super::timers::{Due, Timer};
use super::transport::{BoxTransport, Opened};
use super::{Actor, Conn, close_detached};
use crate::config::HEALTHY_CONNECTION_UPTIME;
use crate::error::{ConnectError, JoinError, ReplyError};
use crate::event::{DisconnectReason, JoinStatus, SocketEvent, TopicCloseReason};
use crate::transport::Transport;

/// What to do after a connection ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum After {
    /// The user asked to disconnect: close every topic, stay idle.
    Stop,
    /// Lost: reconnect on the schedule.
    Backoff,
    /// The user asked to reconnect: connect again at once.
    Now,
}

impl Actor {
    pub(super) fn start_connect(&mut self, initial: bool) {
        let config = self.config.clone();
        let url = config.connect_url();
        let plan = Plan::choose(&config, self.fell_back);
        let span = tracing::info_span!("connect", url = %config.url, initial, transport = %plan);
        tracing::debug!(parent: &span, "connecting");
        let attempt = async move {
            match &config.connector {
                Some(connect) => {
                    let limit = config.upgrade_timeout;
                    match tokio::time::timeout(limit, connect(url)).await {
                        Ok(result) => result.map(|frames| Opened {
                            frames,
                            kind: Transport::WebSocket,
                        }),
                        Err(_) => Err(ConnectError::UpgradeTimeout(limit)),
                    }
                }
                None => plan.open(config, url).await,
            }
        }
        .instrument(span);
        self.conn = Conn::Connecting {
            attempt: Box::pin(attempt),
            initial,
            started: Instant::now(),
        };
    }

    pub(super) fn on_opened(&mut self, result: Result<Opened, ConnectError>) {
        let (initial, started) = match &self.conn {
            Conn::Connecting {
                initial, started, ..
            } => (*initial, *started),
            _ => (false, Instant::now()),
        };
        let elapsed_ms = started.elapsed().as_millis() as u64;
        match result {
            Ok(Opened { frames: ws, kind }) => {
                tracing::info!(elapsed_ms, transport = %kind, "connected");
                if kind == Transport::LongPoll
                    && self.config.transport == Transport::WebSocket
                    && !self.fell_back
                {
                    tracing::info!("fell back to long-poll: later connects go straight to it");
                    self.fell_back = true;
                }
                self.conn = Conn::Connected {
                    ws,
                    out: Outbound::new(self.config.outbound_queue_limit),
                    since: Instant::now(),
                    reads: ReadSide::new(),
                };
                self.conn_id += 1;
                // The reconnect schedule restarts only once this connection proves healthy: a
                // server that accepts and closes at once must not be redialled at the first step.
                self.healthy = false;
                self.heartbeat = None;
                self.shared.connected.store(true, Ordering::Release);
                self.shared.set_transport(Some(kind));
                // One answer per `connect()` this attempt served (at least one: a reconnect
                // is reported too).
                for _ in 0..self.take_connect_requests() {
                    self.emit(SocketEvent::Connected);
                }
                // No heartbeats over long-poll (phoenix.js skips them; the server expects none).
                if kind == Transport::WebSocket && !self.config.heartbeat_interval.is_zero() {
                    self.timers.add(
                        Instant::now() + self.config.heartbeat_interval,
                        Timer::Heartbeat {
                            conn_id: self.conn_id,
                        },
                    );
                }
                let mut topics: Vec<String> = self
                    .channels
                    .iter()
                    .filter(|(_, ch)| {
                        matches!(ch.status, JoinStatus::Joining | JoinStatus::Errored)
                    })
                    .map(|(t, _)| t.clone())
                    .collect();
                topics.sort();
                for topic in topics {
                    self.send_join(&topic);
                }
            }
            Err(error) if self.is_final(&error) => {
                tracing::warn!(elapsed_ms, %error, "connect refused with a final status; not retrying");
                self.conn = Conn::Idle;
                self.connect_failed(error);
            }
            Err(error) if initial && !self.config.retry_on_initial_connect => {
                tracing::warn!(elapsed_ms, %error, "connect failed");
                self.conn = Conn::Idle;
                self.connect_failed(error);
            }
            Err(error) => {
                tracing::warn!(elapsed_ms, %error, "connect attempt failed; will retry");
                self.schedule_reconnect(Some(error));
            }
        }
    }

    /// How many answers the attempt that just ended owes (at least one), and clears the count.
    fn take_connect_requests(&mut self) -> u32 {
        std::mem::take(&mut self.connect_requests).max(1)
    }

    /// Answers every `connect()` the attempt that just ended served with `error`.
    fn connect_failed(&mut self, error: ConnectError) {
        for _ in 1..self.take_connect_requests() {
            self.emit(SocketEvent::ConnectFailed(error.clone()));
        }
        self.emit(SocketEvent::ConnectFailed(error));
    }

    /// Whether `error` is a refusal whose status the user listed as final.
    fn is_final(&self, error: &ConnectError) -> bool {
        matches!(error, ConnectError::Refused { status, .. } if self.config.final_statuses.contains(status))
    }

    fn schedule_reconnect(&mut self, error: Option<ConnectError>) {
        let delay = self.config.reconnect_after.delay(self.reconnect_attempt);
        self.reconnect_attempt = self.reconnect_attempt.saturating_add(1);
        tracing::info!(
            attempt = self.reconnect_attempt,
            delay_ms = delay.as_millis() as u64,
            "reconnect scheduled"
        );
        self.conn = Conn::Waiting;
        self.timers.add(Instant::now() + delay, Timer::Reconnect);
        self.emit(SocketEvent::Reconnecting {
            attempt: self.reconnect_attempt,
            delay,
            error,
        });
    }

    /// The connection has shown it works (its first heartbeat ack): the reconnect schedule
    /// starts again from its first step.
    fn proved_healthy(&mut self, how: &'static str) {
        if !self.healthy {
            self.healthy = true;
            if self.reconnect_attempt > 0 {
                tracing::debug!(how, "connection healthy: reconnect schedule reset");
            }
            self.reconnect_attempt = 0;
        }
    }

    /// Takes the open websocket out of the state (leaving `Idle`); a connection that stayed up
    /// for [`HEALTHY_CONNECTION_UPTIME`] counts as healthy.
    fn take_connection(&mut self) -> Option<BoxTransport> {
        match std::mem::replace(&mut self.conn, Conn::Idle) {
            Conn::Connected { ws, out, since, .. } => {
                self.connection_ended(&out, since);
                Some(ws)
            }
            other => {
                self.conn = other;
                None
            }
        }
    }

    fn connection_ended(&mut self, out: &Outbound, since: Instant) {
        let up = since.elapsed();
        tracing::debug!(
            connected_for_ms = up.as_millis() as u64,
            unsent_bytes = out.queued_bytes(),
            "connection ended"
        );
        if up >= HEALTHY_CONNECTION_UPTIME {
            self.proved_healthy("uptime");
        }
    }

    /// The user's `disconnect()`.
    pub(super) fn disconnect(&mut self) {
        match std::mem::replace(&mut self.conn, Conn::Idle) {
            Conn::Connected { ws, out, since, .. } => {
                self.connection_ended(&out, since);
                // Never wait on the sink: a wedged link must not delay the answer.
                close_detached(ws, CloseCode::Normal, "");
                self.teardown(DisconnectReason::ClientRequested, After::Stop);
            }
            Conn::Connecting { .. } => {
                self.connect_failed(ConnectError::Cancelled);
                self.teardown(DisconnectReason::ClientRequested, After::Stop);
            }
            Conn::Waiting => {
                self.timers.cancel(|t| *t == Timer::Reconnect);
                // `connect()` requests waiting for the next attempt: it will not come.
                if self.connect_requests > 0 {
                    self.connect_failed(ConnectError::Cancelled);
                }
                self.teardown(DisconnectReason::ClientRequested, After::Stop);
            }
            Conn::Idle => {
                self.close_all_channels(false);
                // Not connected: the request is answered at once.
                self.emit(SocketEvent::Disconnected(DisconnectReason::ClientRequested));
            }
        }
    }

    /// The user's `reconnect()`.
    pub(super) fn reconnect(&mut self) {
        match std::mem::replace(&mut self.conn, Conn::Idle) {
            Conn::Connected { ws, out, since, .. } => {
                self.connection_ended(&out, since);
                close_detached(ws, CloseCode::Normal, "reconnect");
                self.teardown(DisconnectReason::ClientRequested, After::Now);
            }
            connecting @ Conn::Connecting { .. } => self.conn = connecting,
            Conn::Waiting => {
                self.timers.cancel(|t| *t == Timer::Reconnect);
                self.start_connect(false);
            }
            Conn::Idle => self.start_connect(false),
        }
    }

    /// The websocket closed or failed by itself.
    pub(super) fn connection_lost(&mut self, reason: DisconnectReason) {
        if let Some(ws) = self.take_connection() {
            // Best effort, detached: tell the server we are going (it may already be gone).
            if !matches!(reason, DisconnectReason::ClosedByRemote { .. }) {
                close_detached(ws, CloseCode::Away, "");
            }
        }
        self.teardown(reason, After::Backoff);
    }

    /// Everything that follows the end of a connection (the socket is already closed or dropped).
    fn teardown(&mut self, reason: DisconnectReason, after: After) {
        self.conn = Conn::Idle;
        self.shared.connected.store(false, Ordering::Release);
        self.shared.set_transport(None);
        self.heartbeat = None;
        if after != After::Backoff {
            // The user asked: whatever comes next starts the schedule afresh.
            self.reconnect_attempt = 0;
        }
        match &reason {
            DisconnectReason::ClientRequested => tracing::info!(%reason, "disconnected"),
            _ => tracing::warn!(%reason, "disconnected"),
        }
        let keep = after != After::Stop && self.config.auto_rejoin;
        // Every topic's state is final before the event goes out, so that the state getters
        // agree with it as soon as it can be awaited; the loop below then does the rest.
        for (topic, ch) in &self.channels {
            let status = match ch.status {
                JoinStatus::Leaving => JoinStatus::Closed,
                JoinStatus::Joined if keep => JoinStatus::Errored,
                status if keep => status,
                _ => JoinStatus::Closed,
            };
            self.shared.set_status(topic, status);
        }
        // The disconnect and all it ends reach the mailbox together, so `await_disconnect`
        // returns with the failed pushes and closed topics already queued behind it.
        self.emit_together(|actor| {
            actor.emit(SocketEvent::Disconnected(reason.clone()));

            // Requests on the wire can never be answered now; each failure says how the connection
            // ended (a close with 1009 after a push too big for the server says so).
            for (push_ref, pending) in actor.pending.drain() {
                if let Pending::Push { topic, .. } | Pending::Cast { topic } = pending {
                    actor.emit(SocketEvent::Reply {
                        push_ref,
                        topic,
                        result: Err(ReplyError::Disconnected(reason.clone())),
                    });
                }
            }
            let mut topics: Vec<String> = actor.channels.keys().cloned().collect();
            topics.sort();
            for topic in topics {
                let Some(ch) = actor.channels.get_mut(&topic) else {
                    continue;
                };
                let status = ch.status;
                if status == JoinStatus::Leaving {
                    actor.close_channel(&topic, ReplyError::TopicClosed(topic.clone()));
                    actor.emit(SocketEvent::Left { topic });
                } else if keep {
                    ch.join_ref = None;
                    ch.rejoin_token += 1;
                    if status == JoinStatus::Joined {
                        ch.status = JoinStatus::Errored;
                        actor.shared.set_status(&topic, JoinStatus::Errored);
                    }
                } else {
                    actor.close_channel(&topic, ReplyError::Disconnected(reason.clone()));
                    if status == JoinStatus::Joining {
                        actor.emit(SocketEvent::JoinFailed {
                            topic,
                            error: JoinError::Disconnected(reason.clone()),
                            rejoin_in: None,
                        });
                    } else {
                        actor.emit(SocketEvent::TopicClosed {
                            topic,
                            reason: TopicCloseReason::Disconnected,
                        });
                    }
                }
            }
        });
        match after {
            After::Stop => {}
            After::Backoff => self.schedule_reconnect(None),
            After::Now => self.start_connect(false),
        }
    }

    /// Closes every topic while not connected (a `disconnect()` with no connection).
    fn close_all_channels(&mut self, _report: bool) {
        let mut topics: Vec<String> = self.channels.keys().cloned().collect();
        topics.sort();
        for topic in topics {
            let reason = DisconnectReason::ClientRequested;
            self.close_channel(&topic, ReplyError::Disconnected(reason.clone()));
            self.emit(SocketEvent::JoinFailed {
                topic,
                error: JoinError::Disconnected(reason),
                rejoin_in: None,
            });
        }
    }

    pub(super) fn on_timers(&mut self) {
        let now = Instant::now();
        while let Some(due) = self.timers.pop_due(now) {
            match due {
                Due::Timer(timer) => self.on_timer(timer),
                Due::LanePush(n) => self.on_lane_push_timeout(n),
            }
            if self.broken.is_some() {
                return;
            }
        }
    }

    /// The timeout of a push of the timers' lane: reported if the push is still waiting (the
    /// lane keeps answered pushes until they are pruned).
    fn on_lane_push_timeout(&mut self, n: u64) {
        match self.pending.remove_number(n) {
            Some(Pending::Push { topic, .. }) => {
                let after = self.config.push_timeout;
                let push_ref = slipstream_protocol::Ref::from(n);
                tracing::debug!(%topic, %push_ref, "push timed out");
                self.emit(SocketEvent::Reply {
                    push_ref,
                    topic,
                    result: Err(ReplyError::PushTimeout(after)),
                });
            }
            // Not a push (cannot happen: refs are unique); put it back.
            Some(other) => self
                .pending
                .insert(slipstream_protocol::Ref::from(n), other),
            None => {}
        }
    }

    fn on_timer(&mut self, timer: Timer) {
        match timer {
            Timer::Heartbeat { conn_id } => self.on_heartbeat_timer(conn_id),
            Timer::Reconnect => {
                if matches!(self.conn, Conn::Waiting) {
                    self.start_connect(false);
                }
            }
            Timer::PushTimeout {
                topic,
                push_ref,
                after,
            } => {
                let timed_out = match self.pending.remove(&push_ref) {
                    Some(Pending::Push { .. }) => true,
                    Some(other) => {
                        // Not a push (cannot happen: refs are unique); put it back.
                        self.pending.insert(push_ref.clone(), other);
                        false
                    }
                    None => self.channels.get_mut(&topic).is_some_and(|ch| {
                        let before = ch.buffer.len();
                        ch.buffer.retain(|b| b.push_ref != push_ref);
                        ch.buffer.len() != before
                    }),
                };
                if timed_out {
                    tracing::debug!(%topic, %push_ref, "push timed out");
                    self.emit(SocketEvent::Reply {
                        push_ref,
                        topic,
                        result: Err(ReplyError::PushTimeout(after)),
                    });
                }
            }
            Timer::JoinTimeout { topic, join_ref } => {
                if !matches!(self.pending.remove(&join_ref), Some(Pending::Join { .. })) {
                    return;
                }
                tracing::warn!(%topic, %join_ref, "join timed out");
                // As phoenix.js: tell the server to drop the join it may still complete.
                let leave = Message::new(
                    Some(join_ref.clone()),
                    Some(self.shared.next_ref()),
                    topic.clone(),
                    Event::Leave,
                    Payload::empty(),
                );
                let _ = self.send(&leave);
                self.join_failed(&topic, JoinError::NoReply, false);
            }
            Timer::LeaveTimeout { leave_ref } => {
                if let Some(Pending::Leave { topic }) = self.pending.remove(&leave_ref) {
                    tracing::debug!(%topic, "leave timed out; treating the topic as left");
                    self.finish_leave(&topic);
                }
            }
            Timer::Rejoin { topic, token } => {
                let due = self
                    .channels
                    .get(&topic)
                    .is_some_and(|ch| ch.status == JoinStatus::Errored && ch.rejoin_token == token);
                if due && self.is_connected() {
                    self.send_join(&topic);
                }
            }
        }
    }

    fn on_heartbeat_timer(&mut self, conn_id: u64) {
        if conn_id != self.conn_id || !self.is_connected() {
            return;
        }
        if let Some((heartbeat_ref, sent)) = self.heartbeat.take() {
            tracing::warn!(
                %heartbeat_ref,
                waited_ms = sent.elapsed().as_millis() as u64,
                "heartbeat timeout: no ack within one interval"
            );
            // The peer is presumed dead: report now; the close handshake runs detached.
            if let Some(ws) = self.take_connection() {
                close_detached(ws, CloseCode::Normal, "heartbeat timeout");
            }
            self.teardown(DisconnectReason::HeartbeatTimeout, After::Backoff);
            return;
        }
        let heartbeat_ref = self.shared.next_ref();
        tracing::trace!(%heartbeat_ref, "heartbeat");
        if self
            .send(&Message::heartbeat(heartbeat_ref.clone()))
            .is_ok()
        {
            self.heartbeat = Some((heartbeat_ref, Instant::now()));
            self.timers.add(
                Instant::now() + self.config.heartbeat_interval,
                Timer::Heartbeat { conn_id },
            );
        }
    }

    /// A reply on topic `phoenix`: the heartbeat ack, if its ref matches.
    pub(super) fn on_heartbeat_reply(&mut self, msg_ref: Option<&slipstream_protocol::Ref>) {
        match &self.heartbeat {
            Some((r, sent)) if Some(r) == msg_ref => {
                tracing::debug!(rtt_ms = sent.elapsed().as_millis() as u64, "heartbeat ack");
                self.heartbeat = None;
                self.proved_healthy("heartbeat ack");
            }
            _ => tracing::debug!(
                msg_ref = msg_ref.map_or("null", |r| r.as_text()),
                "reply on topic phoenix with an unknown ref ignored"
            ),
        }
    }

    /// Schedules a rejoin of an errored topic; returns the delay.
    pub(super) fn schedule_rejoin(&mut self, topic: &str) -> Duration {
        let Some(ch) = self.channels.get_mut(topic) else {
            return Duration::ZERO;
        };
        let delay = self.config.rejoin_after.delay(ch.rejoin_attempt);
        ch.rejoin_attempt = ch.rejoin_attempt.saturating_add(1);
        ch.rejoin_token += 1;
        ch.status = JoinStatus::Errored;
        ch.join_ref = None;
        let token = ch.rejoin_token;
        self.shared.set_status(topic, JoinStatus::Errored);
        tracing::info!(%topic, delay_ms = delay.as_millis() as u64, "rejoin scheduled");
        self.timers.add(
            Instant::now() + delay,
            Timer::Rejoin {
                topic: topic.to_owned(),
                token,
            },
        );
        delay
    }
}
