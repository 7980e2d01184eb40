//! Frames from the server: decoding, the stale-join_ref filter, replies and channel lifecycle.

use bytes::Bytes;
use slipstream_protocol::{
    CopyBuffer, Event, FrameRef, Message, PHOENIX_TOPIC, Payload, Reply, SharedMessage, SharedStr,
};
use tokio_tungstenite::tungstenite;

use super::Actor;
use super::pending::Pending;
use crate::error::{JoinError, ReplyError};
use crate::event::{ChannelMessage, DisconnectReason, JoinStatus, SocketEvent, TopicCloseReason};

impl Actor {
    pub(super) fn on_frame(
        &mut self,
        frame: Option<Result<tungstenite::Message, tungstenite::Error>>,
        copies: &mut CopyBuffer,
    ) {
        let decoded = match frame {
            // The message's topic, event and payload are inline or copied into `copies` when
            // short, slices of the frame when long (see `CopyBuffer`).
            Some(Ok(tungstenite::Message::Text(text))) => self
                .config
                .serializer
                .decode_text_from_server_copying(&shared_text(text), copies),
            Some(Ok(tungstenite::Message::Binary(bytes))) => self
                .config
                .serializer
                .decode_from_server(FrameRef::Binary(&bytes))
                .map(SharedMessage::from),
            // tungstenite queues the pong for a ping itself; it goes out on our next read/write.
            Some(Ok(tungstenite::Message::Ping(_) | tungstenite::Message::Pong(_))) => return,
            Some(Ok(tungstenite::Message::Frame(_))) => return,
            Some(Ok(tungstenite::Message::Close(close))) => {
                let (code, reason) = match close {
                    Some(f) => (Some(u16::from(f.code)), f.reason.to_string()),
                    None => (None, String::new()),
                };
                self.connection_lost(DisconnectReason::ClosedByRemote { code, reason });
                return;
            }
            Some(Err(e)) => {
                self.connection_lost(DisconnectReason::TransportError(e.to_string()));
                return;
            }
            None => {
                self.connection_lost(DisconnectReason::TransportError(
                    "connection closed without a close frame".into(),
                ));
                return;
            }
        };
        match decoded {
            Ok(message) => self.on_message(message),
            Err(error) => {
                match self.malformed_log.occurred(tokio::time::Instant::now()) {
                    Some(0) => tracing::warn!(%error, "malformed frame from the server skipped"),
                    Some(left_out) => tracing::warn!(
                        %error,
                        left_out,
                        "malformed frame from the server skipped ({left_out} more since the last such line)"
                    ),
                    None => tracing::debug!(%error, "malformed frame from the server skipped"),
                }
                self.emit(SocketEvent::MalformedFrame {
                    error: error.to_string(),
                });
            }
        }
    }

    fn on_message(&mut self, message: SharedMessage) {
        let reserved = message.reserved_event();
        if message.topic == PHOENIX_TOPIC && reserved == Some(Event::Reply) {
            self.on_heartbeat_reply(message.msg_ref.as_ref());
            return;
        }
        // Stale filter: a non-null join_ref must be the topic's current one. (A broadcast has
        // none, so it costs no lookup.)
        let accepted = message.join_ref.is_none()
            || self
                .channels
                .get(&*message.topic)
                .is_some_and(|ch| ch.accepts(message.join_ref.as_ref()));
        if !accepted {
            tracing::debug!(
                topic = %message.topic,
                join_ref = message.join_ref.as_ref().map_or("null", |r| r.as_text()),
                event = &*message.event,
                "stale message from an earlier join dropped"
            );
            return;
        }
        match reserved {
            Some(Event::Reply) => self.on_reply(message),
            Some(Event::Close) => self.on_close(message.into_message()),
            Some(Event::Error) => self.on_error(message.into_message()),
            _ => self.emit(SocketEvent::Message(ChannelMessage {
                topic: message.topic,
                event: message.event,
                payload: message.payload,
            })),
        }
    }

    /// A reply: its topic is matched against the pending request's, whose own copy is what the
    /// reply event carries (so the frame's topic is never copied).
    fn on_reply(&mut self, message: SharedMessage) {
        let Some(msg_ref) = message.msg_ref else {
            tracing::debug!(topic = %message.topic, "reply without a ref ignored");
            return;
        };
        let reply = match message.payload {
            Payload::Reply(reply) => *reply,
            other => {
                // The codec always builds Reply payloads for phx_reply; be defensive anyway.
                Reply {
                    status: "ok".into(),
                    response: other,
                }
            }
        };
        match self.pending.take(&msg_ref, &message.topic) {
            Some(Pending::Push { topic, sent_at }) => {
                self.timers.cancel_request(&msg_ref);
                tracing::debug!(
                    %topic, push_ref = %msg_ref, status = %reply.status,
                    elapsed_ms = sent_at.elapsed().as_millis() as u64, "reply"
                );
                self.emit(SocketEvent::Reply {
                    push_ref: msg_ref,
                    topic,
                    result: Ok(reply),
                });
            }
            Some(Pending::Join { topic, sent_at }) => {
                self.timers.cancel_request(&msg_ref);
                let elapsed_ms = sent_at.elapsed().as_millis() as u64;
                self.on_join_reply(&topic, reply, elapsed_ms);
            }
            Some(Pending::Cast { topic }) => {
                tracing::debug!(%topic, push_ref = %msg_ref, "reply to a no-reply push ignored");
            }
            Some(Pending::Leave { topic }) => {
                tracing::debug!(%topic, status = %reply.status, "leave answered");
                self.finish_leave(&topic);
            }
            None => tracing::debug!(
                topic = %message.topic, %msg_ref, "reply to an unknown or expired ref ignored"
            ),
        }
    }

    fn on_join_reply(&mut self, topic: &str, reply: Reply, elapsed_ms: u64) {
        let Some(ch) = self.channels.get_mut(topic) else {
            return;
        };
        if ch.status != JoinStatus::Joining {
            // e.g. a leave was requested meanwhile; the leave's reply settles the topic.
            return;
        }
        if reply.is_ok() {
            ch.status = JoinStatus::Joined;
            ch.rejoin_attempt = 0;
            ch.response = Some(reply.response.clone());
            self.shared.set_status(topic, JoinStatus::Joined);
            tracing::info!(%topic, elapsed_ms, "joined");
            self.emit(SocketEvent::Joined {
                topic: topic.to_owned(),
                response: reply.response,
            });
            self.flush_buffer(topic);
        } else {
            let permanent = reply
                .response
                .to_value()
                .ok()
                .is_some_and(|v| v["reason"] == "unmatched topic");
            self.join_failed(
                topic,
                JoinError::Rejected {
                    status: reply.status,
                    response: reply.response,
                },
                permanent,
            );
        }
    }

    /// `phx_close` of the current join: final.
    fn on_close(&mut self, message: Message) {
        let topic = message.topic;
        match self.channels.get(&topic).map(|ch| ch.status) {
            None => {}
            Some(JoinStatus::Leaving) => self.finish_leave(&topic),
            Some(_) => {
                tracing::info!(%topic, "channel closed by the server");
                self.close_channel(&topic, ReplyError::TopicClosed(topic.clone()));
                self.emit(SocketEvent::TopicClosed {
                    topic,
                    reason: TopicCloseReason::ClosedByServer(message.payload),
                });
            }
        }
    }

    /// `phx_error` of the current join: the channel crashed; rejoin on the schedule.
    fn on_error(&mut self, message: Message) {
        let topic = message.topic;
        match self.channels.get(&topic).map(|ch| ch.status) {
            None => {}
            Some(JoinStatus::Leaving) => self.finish_leave(&topic),
            // No join is on the wire (a rejoin is already scheduled): nothing can have crashed.
            // Ignoring it also keeps a flood of null-join_ref `phx_error`s from piling up timers.
            Some(JoinStatus::Errored) => {
                tracing::debug!(%topic, "phx_error for a topic already errored ignored");
            }
            Some(_) => {
                tracing::warn!(%topic, "channel crashed (phx_error)");
                // The state changes first, so that it agrees with every event below.
                let rejoin_in = self.schedule_rejoin(&topic);
                // In-flight pushes died with the channel process.
                for (push_ref, pending) in self.pending.drain_topic(&topic) {
                    if pending.is_a_push() {
                        self.emit(SocketEvent::Reply {
                            push_ref,
                            topic: topic.clone(),
                            result: Err(ReplyError::ChannelCrashed(topic.clone())),
                        });
                    }
                }
                self.emit(SocketEvent::TopicErrored {
                    topic,
                    payload: message.payload,
                    rejoin_in,
                });
            }
        }
    }
}

/// A text frame's payload as a shared string, without copying it or checking its UTF-8 again.
fn shared_text(text: tungstenite::Utf8Bytes) -> SharedStr {
    // SAFETY: a `Utf8Bytes` holds valid UTF-8 only: tungstenite checked the frame as it read
    // it, so checking again would only cost time.
    unsafe { SharedStr::from_utf8_unchecked(Bytes::from(text)) }
}
