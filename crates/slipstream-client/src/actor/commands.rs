//! Requests from the handle, and the topic operations they share with inbound handling.

use std::time::Duration;

use slipstream_protocol::{Event, Message, MessageRef, Payload, Ref, SharedStr};
use tokio::time::Instant;

use super::channels::{BufferedPush, Channel};
use super::pending::Pending;
use super::timers::Timer;
use super::{Actor, Command, Conn, SendError};
use crate::error::{JoinError, ReplyError};
use crate::event::{JoinStatus, SocketEvent};

impl Actor {
    pub(super) fn on_command(&mut self, command: Command) {
        match command {
            Command::Connect => match self.conn {
                Conn::Idle => {
                    self.connect_requests = self.connect_requests.saturating_add(1);
                    self.start_connect(true);
                }
                Conn::Waiting => {
                    self.connect_requests = self.connect_requests.saturating_add(1);
                    self.timers.cancel(|t| *t == Timer::Reconnect);
                    self.start_connect(false);
                }
                // The attempt under way answers this request too, with an event of its own.
                Conn::Connecting { .. } => {
                    self.connect_requests = self.connect_requests.saturating_add(1);
                }
                // Already up: answer at once, so that every request gets an answer.
                Conn::Connected { .. } => self.emit(SocketEvent::Connected),
            },
            Command::Sync(done) => {
                let _ = done.send(());
            }
            Command::Disconnect => self.disconnect(),
            Command::Reconnect => self.reconnect(),
            Command::Join { topic, params } => self.join(topic, params),
            Command::Rejoin { topic } => self.rejoin(topic),
            Command::Leave { topic } => self.leave(topic),
            Command::Push {
                topic,
                event,
                payload,
                push_ref,
                timeout,
                wants_reply,
            } => self.push(topic, event, payload, push_ref, timeout, wants_reply),
        }
    }

    fn join(&mut self, topic: String, params: Payload) {
        match self.channels.get_mut(&topic) {
            Some(ch) if ch.status == JoinStatus::Errored => {
                ch.params = params;
                ch.rejoin_token += 1;
                if self.is_connected() {
                    self.send_join(&topic);
                }
            }
            Some(ch) if ch.status == JoinStatus::Joined => {
                // Already joined: answer at once with the join in force (rejoin or leave first
                // to join with other params), so that every join gets an answer.
                let response = ch.response.clone().unwrap_or_else(Payload::empty);
                tracing::debug!(%topic, "join of a joined topic: answered with the current join");
                self.emit(SocketEvent::Joined { topic, response });
            }
            Some(ch) => {
                // Joining: the join on the wire answers this request too. Leaving: ignored.
                tracing::debug!(%topic, status = %ch.status, "join ignored: topic busy");
            }
            None => {
                self.closed_params.remove(&topic);
                self.channels
                    .insert(topic.clone(), Box::new(Channel::new(params)));
                self.shared.set_status(&topic, JoinStatus::Joining);
                if self.is_connected() {
                    self.send_join(&topic);
                }
            }
        }
    }

    fn rejoin(&mut self, topic: String) {
        match self.channels.get(&topic).map(|ch| ch.status) {
            Some(JoinStatus::Errored) => {
                let params = self.channels[&topic].params.clone();
                self.join(topic, params);
            }
            Some(status) => tracing::debug!(%topic, %status, "rejoin ignored"),
            None => match self.closed_params.get(&topic).cloned() {
                Some(params) => self.join(topic, params),
                None => tracing::debug!(%topic, "rejoin ignored: topic never joined"),
            },
        }
    }

    /// Sends a `phx_join` with a fresh join_ref (= its ref).
    pub(super) fn send_join(&mut self, topic: &str) {
        let join_ref = self.shared.next_ref();
        let Some(ch) = self.channels.get_mut(topic) else {
            return;
        };
        ch.join_ref = Some(join_ref.clone());
        ch.status = JoinStatus::Joining;
        let params = ch.params.clone();
        self.shared.set_status(topic, JoinStatus::Joining);
        let now = self.clock.now();
        self.pending.insert(
            join_ref.clone(),
            Pending::Join {
                topic: topic.to_owned(),
                sent_at: now,
            },
        );
        self.timers.add(
            now + self.config.push_timeout,
            Timer::JoinTimeout {
                topic: topic.to_owned(),
                join_ref: join_ref.clone(),
            },
        );
        tracing::debug!(%topic, %join_ref, "join sent");
        let message = Message::new(
            Some(join_ref.clone()),
            Some(join_ref.clone()),
            topic,
            Event::Join,
            params,
        );
        if let Err(SendError::Encode(e)) = self.send(&message) {
            self.pending.remove(&join_ref);
            self.join_failed(topic, JoinError::Encode(e), true);
        }
    }

    /// A join was refused, timed out or could not be sent: retry or close, per the policy.
    pub(super) fn join_failed(&mut self, topic: &str, error: JoinError, permanent: bool) {
        if !self.channels.contains_key(topic) {
            return;
        }
        tracing::warn!(%topic, %error, "join failed");
        if self.config.retry_rejected_joins && !permanent {
            // `schedule_rejoin` sets the state before the event goes out.
            let delay = self.schedule_rejoin(topic);
            self.emit(SocketEvent::JoinFailed {
                topic: topic.to_owned(),
                error,
                rejoin_in: Some(delay),
            });
        } else {
            // The state getters must agree with the event by the time it can be awaited.
            self.shared.set_status(topic, JoinStatus::Closed);
            self.emit(SocketEvent::JoinFailed {
                topic: topic.to_owned(),
                error,
                rejoin_in: None,
            });
            self.close_channel(topic, ReplyError::TopicClosed(topic.to_owned()));
        }
    }

    /// Forgets a topic: its buffered pushes and in-flight pushes fail with `error`.
    pub(super) fn close_channel(&mut self, topic: &str, error: ReplyError) {
        let Some(ch) = self.channels.remove(topic) else {
            return;
        };
        self.shared.set_status(topic, JoinStatus::Closed);
        self.closed_params.insert(topic.to_owned(), ch.params);
        for (push_ref, pending) in self.pending.drain_topic(topic) {
            if pending.is_a_push() {
                self.emit(SocketEvent::Reply {
                    push_ref,
                    topic: topic.to_owned(),
                    result: Err(error.clone()),
                });
            }
        }
        for buffered in ch.buffer {
            self.emit(SocketEvent::Reply {
                push_ref: buffered.push_ref,
                topic: topic.to_owned(),
                result: Err(error.clone()),
            });
        }
    }

    fn leave(&mut self, topic: String) {
        let connected = self.is_connected();
        let Some(ch) = self.channels.get_mut(&topic) else {
            // Nothing joined, nothing to leave: `await_leave` answers this with `NotJoined`.
            tracing::debug!(%topic, "leave of a topic not joined ignored");
            return;
        };
        if ch.status == JoinStatus::Leaving {
            return;
        }
        let join_ref = ch.join_ref.clone();
        let Some(join_ref) = join_ref.filter(|_| connected) else {
            // The server has no channel for us: leaving is local.
            self.finish_leave(&topic);
            return;
        };
        ch.status = JoinStatus::Leaving;
        let buffered = std::mem::take(&mut ch.buffer);
        self.shared.set_status(&topic, JoinStatus::Leaving);
        for b in buffered {
            self.emit(SocketEvent::Reply {
                push_ref: b.push_ref,
                topic: topic.clone(),
                result: Err(ReplyError::TopicClosed(topic.clone())),
            });
        }
        let leave_ref = self.shared.next_ref();
        self.pending.insert(
            leave_ref.clone(),
            Pending::Leave {
                topic: topic.clone(),
            },
        );
        self.timers.add(
            self.clock.now() + self.config.push_timeout,
            Timer::LeaveTimeout {
                leave_ref: leave_ref.clone(),
            },
        );
        tracing::debug!(%topic, %leave_ref, "leave sent");
        let message = Message::new(
            Some(join_ref),
            Some(leave_ref),
            topic,
            Event::Leave,
            Payload::empty(),
        );
        let _ = self.send(&message);
    }

    /// The leave is done (answered, timed out, or nothing to tell the server).
    pub(super) fn finish_leave(&mut self, topic: &str) {
        self.close_channel(topic, ReplyError::TopicClosed(topic.to_owned()));
        self.emit(SocketEvent::Left {
            topic: topic.to_owned(),
        });
    }

    fn push(
        &mut self,
        topic: String,
        event: SharedStr,
        payload: Payload,
        push_ref: Ref,
        timeout: Option<Duration>,
        wants_reply: bool,
    ) {
        let status = self.channels.get(&topic).map(|ch| ch.status);
        let timeout = timeout.unwrap_or(self.config.push_timeout);
        let now = self.clock.now();
        let deadline = now + timeout;
        let Some(status @ (JoinStatus::Joined | JoinStatus::Joining | JoinStatus::Errored)) =
            status
        else {
            self.emit(SocketEvent::Reply {
                push_ref,
                topic: topic.clone(),
                result: Err(ReplyError::NotJoined(topic)),
            });
            return;
        };
        if status == JoinStatus::Joined && self.is_connected() {
            // Written at once. With the socket's own timeout its timer takes the timers' lane,
            // which its reply costs nothing; a no-reply push has no timer at all.
            let lane = wants_reply && timeout == self.config.push_timeout;
            if wants_reply && !lane {
                self.timers.add(
                    deadline,
                    Timer::PushTimeout {
                        topic: topic.clone(),
                        push_ref: push_ref.clone(),
                        after: timeout,
                    },
                );
            }
            let pending = self.send_push(topic, push_ref, event, payload, now, wants_reply);
            if let Some(n) = pending.filter(|_| lane) {
                self.timers.add_lane_push(deadline, n);
            }
            return;
        }
        // Buffered until the (re)join; the timeout runs from now.
        self.timers.add(
            deadline,
            Timer::PushTimeout {
                topic: topic.clone(),
                push_ref: push_ref.clone(),
                after: timeout,
            },
        );
        if let Some(ch) = self.channels.get_mut(&topic) {
            tracing::debug!(%topic, %push_ref, "push buffered until the join completes");
            ch.buffer.push(BufferedPush {
                push_ref,
                event,
                payload,
                deadline,
                timeout,
                wants_reply,
            });
        }
    }

    /// Writes a push on a joined topic and records it as pending (a no-reply push until it is
    /// flushed). Returns its ref's number when it is pending (written, or queued for writing); a
    /// push that could not be queued has had its failure reported.
    fn send_push(
        &mut self,
        topic: String,
        push_ref: Ref,
        event: SharedStr,
        payload: Payload,
        now: Instant,
        wants_reply: bool,
    ) -> Option<u64> {
        let number = super::pending::ref_number(&push_ref);
        let cast = if wants_reply { None } else { number };
        // Encoded from borrowed parts: no `Message` (and none of its allocations) per push.
        let message = MessageRef {
            join_ref: self
                .channels
                .get(&topic)
                .and_then(|ch| ch.join_ref.as_ref()),
            msg_ref: Some(&push_ref),
            topic: &topic,
            event: &event,
            payload: &payload,
        };
        let error = match super::enqueue(&mut self.conn, &self.config, message, true, cast) {
            Ok(()) | Err(SendError::NotConnected) => {
                tracing::debug!(%topic, %push_ref, event = event.as_str(), "push sent");
                let pending = if wants_reply {
                    Pending::Push {
                        topic,
                        sent_at: now,
                    }
                } else {
                    Pending::Cast { topic }
                };
                self.pending.insert(push_ref, pending);
                return number;
            }
            Err(SendError::Encode(e)) => ReplyError::Encode(e),
            Err(SendError::QueueFull { queued, limit }) => {
                tracing::warn!(
                    %topic, %push_ref, queued_bytes = queued, limit_bytes = limit,
                    "push refused: the outbound queue is full (the link is not keeping up)"
                );
                ReplyError::OutboundQueueFull { queued, limit }
            }
        };
        self.emit(SocketEvent::Reply {
            push_ref,
            topic,
            result: Err(error),
        });
        None
    }

    /// Sends the pushes buffered while the topic was joining; expired ones were already failed.
    pub(super) fn flush_buffer(&mut self, topic: &str) {
        let Some(ch) = self.channels.get_mut(topic) else {
            return;
        };
        let buffered = std::mem::take(&mut ch.buffer);
        let now = self.clock.now();
        for b in buffered {
            if b.deadline > now {
                // Its timer was armed in the queue when it was buffered.
                let topic = topic.to_owned();
                self.send_push(topic, b.push_ref, b.event, b.payload, now, b.wants_reply);
            } else {
                self.emit(SocketEvent::Reply {
                    push_ref: b.push_ref,
                    topic: topic.to_owned(),
                    result: Err(ReplyError::PushTimeout(b.timeout)),
                });
            }
        }
    }
}
