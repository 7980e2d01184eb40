//! `assert_*` and `refute_*`: selective receives over the frames the client sent.

use std::time::Duration;

use slipstream_protocol::{Event, Message, Payload};
use tokio::time::Instant;

use super::connection::Asked;
use super::frames::{ClientFrame, Missing};
use super::{ClientClose, JoinRequest, PushRequest, TestKitError, TestServer};
use crate::event::ChannelMessage;
use crate::pattern::{MessagePattern, Pattern};

fn is_message<'a>(frame: &'a ClientFrame, topic: &str, event: &Event) -> Option<&'a Message> {
    match frame {
        ClientFrame::Message(m) if m.topic == topic && m.event == *event => Some(m),
        _ => None,
    }
}

fn as_channel_message(m: &Message) -> ChannelMessage {
    ChannelMessage {
        topic: m.topic.as_str().into(),
        event: m.event.as_str().into(),
        payload: m.payload.clone(),
    }
}

/// Whether a client message is an application push (not a join or leave).
fn is_push(m: &Message) -> bool {
    !matches!(m.event, Event::Join | Event::Leave)
}

impl TestServer {
    /// Takes the first frame `pick` selects within `wait`, describing failures as `expected`.
    async fn expect<T>(
        &mut self,
        expected: impl FnOnce() -> String,
        wait: Duration,
        pick: impl FnMut(&ClientFrame) -> Option<T>,
    ) -> Result<T, TestKitError> {
        let conn = self.conn()?;
        match conn.inbox.take(Instant::now() + wait, pick).await {
            Ok(value) => Ok(value),
            Err(Missing::Timeout) => Err(TestKitError::Timeout {
                expected: expected(),
                waited: wait,
                seen: conn.inbox.pending(),
            }),
            Err(Missing::Closed) => Err(TestKitError::ClientClosed {
                expected: expected(),
            }),
        }
    }

    /// Fails if `pick` selects a frame within `within` (a closed connection counts as nothing).
    async fn refute(
        &mut self,
        refuted: impl FnOnce() -> String,
        within: Duration,
        mut pick: impl FnMut(&ClientFrame) -> bool,
    ) -> Result<(), TestKitError> {
        let conn = self.conn()?;
        let found = conn
            .inbox
            .take(Instant::now() + within, |f| pick(f).then(|| f.describe()))
            .await;
        match found {
            Ok(frame) => Err(TestKitError::Refuted {
                refuted: refuted(),
                frame,
            }),
            Err(_) => Ok(()),
        }
    }

    /// Waits for a `phx_join` of `topic` whose params match `params`, and takes it. Answer it with
    /// [`accept_join`](Self::accept_join) or [`refuse_join`](Self::refuse_join).
    pub async fn assert_join(
        &mut self,
        topic: &str,
        params: impl Into<Pattern>,
    ) -> Result<JoinRequest, TestKitError> {
        let params = params.into();
        let wait = self.timeout;
        let message = self
            .expect(
                || format!("a join of {topic:?} with params matching {params}"),
                wait,
                |f| {
                    is_message(f, topic, &Event::Join)
                        .filter(|m| params.matches_payload(&m.payload))
                        .cloned()
                },
            )
            .await?;
        let join_ref = message
            .join_ref
            .clone()
            .or_else(|| message.msg_ref.clone())
            .unwrap_or_else(|| "".into());
        self.conn()?.asked.insert(
            join_ref.clone(),
            Asked {
                topic: topic.to_owned(),
                join_ref: Some(join_ref.clone()),
            },
        );
        Ok(JoinRequest {
            topic: message.topic,
            params: message.payload,
            join_ref,
        })
    }

    /// Fails if the client sends a join of `topic` matching `params` within `within`.
    pub async fn refute_join(
        &mut self,
        topic: &str,
        params: impl Into<Pattern>,
        within: Duration,
    ) -> Result<(), TestKitError> {
        let params = params.into();
        self.refute(
            || format!("join of {topic:?} with params matching {params}"),
            within,
            |f| {
                is_message(f, topic, &Event::Join)
                    .is_some_and(|m| params.matches_payload(&m.payload))
            },
        )
        .await
    }

    /// Waits for a push of `event` to `topic` whose payload matches `payload`, and takes it.
    /// Answer it with [`reply`](Self::reply) and the returned request's `push_ref`.
    pub async fn assert_push(
        &mut self,
        topic: &str,
        event: &str,
        payload: impl Into<Pattern>,
    ) -> Result<PushRequest, TestKitError> {
        let pattern = MessagePattern::any()
            .topic(topic)
            .event(event)
            .payload(payload);
        self.assert_push_matching(&pattern).await
    }

    /// Like [`assert_push`](Self::assert_push), with a full [`MessagePattern`] (topic prefixes,
    /// any event: see [`message_pattern!`](crate::message_pattern)).
    pub async fn assert_push_matching(
        &mut self,
        pattern: &MessagePattern,
    ) -> Result<PushRequest, TestKitError> {
        let wait = self.timeout;
        let message = self
            .expect(
                || format!("a push matching {pattern}"),
                wait,
                |f| match f {
                    ClientFrame::Message(m)
                        if is_push(m) && pattern.matches(&as_channel_message(m)) =>
                    {
                        Some(m.clone())
                    }
                    _ => None,
                },
            )
            .await?;
        let push_ref = message.msg_ref.clone().unwrap_or_else(|| "".into());
        self.conn()?.asked.insert(
            push_ref.clone(),
            Asked {
                topic: message.topic.clone(),
                join_ref: message.join_ref.clone(),
            },
        );
        Ok(PushRequest {
            topic: message.topic,
            event: message.event.as_str().to_owned(),
            payload: message.payload,
            push_ref,
            join_ref: message.join_ref,
        })
    }

    /// Fails if the client pushes `event` to `topic` with a payload matching `payload` within
    /// `within`.
    pub async fn refute_push(
        &mut self,
        topic: &str,
        event: &str,
        payload: impl Into<Pattern>,
        within: Duration,
    ) -> Result<(), TestKitError> {
        let pattern = MessagePattern::any()
            .topic(topic)
            .event(event)
            .payload(payload);
        self.refute(
            || format!("push matching {pattern}"),
            within,
            |f| matches!(f, ClientFrame::Message(m) if is_push(m) && pattern.matches(&as_channel_message(m))),
        )
        .await
    }

    /// Waits for a `phx_leave` of `topic`, takes it, and answers as Phoenix does: an `ok` reply,
    /// then `phx_close`. The client sees the topic left.
    pub async fn assert_leave(&mut self, topic: &str) -> Result<(), TestKitError> {
        let wait = self.timeout;
        let leave = self
            .expect(
                || format!("a leave of {topic:?}"),
                wait,
                |f| is_message(f, topic, &Event::Leave).cloned(),
            )
            .await?;
        let conn = self.conn()?;
        let join_ref = conn.joined.remove(topic).or(leave.join_ref);
        conn.send(&Message::reply(
            join_ref.clone(),
            leave.msg_ref,
            topic,
            "ok",
            Payload::empty(),
        ))?;
        if let Some(join_ref) = join_ref {
            conn.send(&Message::new(
                Some(join_ref.clone()),
                Some(join_ref),
                topic,
                Event::Close,
                Payload::empty(),
            ))?;
        }
        Ok(())
    }

    /// Fails if the client leaves `topic` within `within`.
    pub async fn refute_leave(
        &mut self,
        topic: &str,
        within: Duration,
    ) -> Result<(), TestKitError> {
        self.refute(
            || format!("leave of {topic:?}"),
            within,
            |f| is_message(f, topic, &Event::Leave).is_some(),
        )
        .await
    }

    /// Waits for the client to end the connection — a close frame (after `disconnect()`, or a
    /// heartbeat timeout) or a dropped transport — and reports how.
    pub async fn assert_disconnect(&mut self) -> Result<ClientClose, TestKitError> {
        let wait = self.timeout;
        let close = self
            .expect(
                || "the client to close the connection".to_owned(),
                wait,
                |f| match f {
                    ClientFrame::Close { code, reason } => Some(ClientClose {
                        code: *code,
                        reason: reason.clone(),
                    }),
                    ClientFrame::Gone => Some(ClientClose {
                        code: None,
                        reason: String::new(),
                    }),
                    _ => None,
                },
            )
            .await?;
        if let Ok(conn) = self.conn() {
            conn.joined.clear();
        }
        Ok(close)
    }

    /// Fails if the client ends the connection within `within`.
    pub async fn refute_disconnect(&mut self, within: Duration) -> Result<(), TestKitError> {
        self.refute(
            || "disconnect".to_owned(),
            within,
            |f| matches!(f, ClientFrame::Close { .. } | ClientFrame::Gone),
        )
        .await
    }
}
