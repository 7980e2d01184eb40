//! The server speaking: join answers, replies, pushes, broadcasts, crashes and closes.

use slipstream_protocol::{Event, Message, Payload, Ref};

use super::{JoinRequest, TestKitError, TestServer};

/// `{"reason": "channel_crash"}`, Phoenix 1.8.10+'s `phx_error` payload.
fn crash_payload() -> Payload {
    Payload::json(&serde_json::json!({"reason": "channel_crash"}))
}

impl TestServer {
    /// Answers an asserted join with `ok` and `response`: the client sees the topic joined.
    pub fn accept_join(
        &mut self,
        join: &JoinRequest,
        response: impl Into<Payload>,
    ) -> Result<(), TestKitError> {
        self.reply(&join.join_ref, "ok", response)
    }

    /// Answers an asserted join with `error` and `response` (e.g. `{"reason": "unauthorized"}`):
    /// the client sees the join refused, with that payload.
    pub fn refuse_join(
        &mut self,
        join: &JoinRequest,
        response: impl Into<Payload>,
    ) -> Result<(), TestKitError> {
        self.reply(&join.join_ref, "error", response)
    }

    /// Answers the asserted join or push with ref `request_ref`: `status` (`"ok"`, `"error"` or
    /// any other) and `response`. Each request can be answered once.
    pub fn reply(
        &mut self,
        request_ref: &Ref,
        status: &str,
        response: impl Into<Payload>,
    ) -> Result<(), TestKitError> {
        let conn = self.conn()?;
        let asked = conn
            .asked
            .remove(request_ref)
            .ok_or_else(|| TestKitError::UnknownRef(request_ref.clone()))?;
        let is_join = asked.join_ref.as_ref() == Some(request_ref);
        conn.send(&Message::reply(
            asked.join_ref.clone(),
            Some(request_ref.clone()),
            asked.topic.clone(),
            status,
            response.into(),
        ))?;
        if is_join && status == "ok" {
            conn.joined.insert(asked.topic, request_ref.clone());
        } else if is_join {
            conn.joined.remove(&asked.topic);
        }
        Ok(())
    }

    /// Pushes `event` with `payload` to the client on `topic`, as a channel's `push/3` does
    /// (with the topic's join_ref).
    pub fn push(
        &mut self,
        topic: &str,
        event: &str,
        payload: impl Into<Payload>,
    ) -> Result<(), TestKitError> {
        let conn = self.conn()?;
        let join_ref = conn
            .joined
            .get(topic)
            .cloned()
            .ok_or_else(|| TestKitError::NotJoined(topic.to_owned()))?;
        conn.send(&Message::new(
            Some(join_ref),
            None,
            topic,
            Event::from(event),
            payload.into(),
        ))
    }

    /// Broadcasts `event` with `payload` on `topic`, as `Endpoint.broadcast` does (no join_ref,
    /// no ref). Sent whether or not the topic is joined.
    pub fn broadcast(
        &mut self,
        topic: &str,
        event: &str,
        payload: impl Into<Payload>,
    ) -> Result<(), TestKitError> {
        self.conn()?.send(&Message::new(
            None,
            None,
            topic,
            Event::from(event),
            payload.into(),
        ))
    }

    /// Crashes the channel of `topic`: `phx_error` with `{"reason": "channel_crash"}`. The client
    /// rejoins on its rejoin schedule (expect another [`assert_join`](Self::assert_join)).
    pub fn crash(&mut self, topic: &str) -> Result<(), TestKitError> {
        self.end_channel(topic, Event::Error, crash_payload())
    }

    /// Closes the channel of `topic` from the server side (`phx_close`, as `{:stop, :normal, _}`
    /// does). The client does not rejoin.
    pub fn close_topic(&mut self, topic: &str) -> Result<(), TestKitError> {
        self.end_channel(topic, Event::Close, Payload::empty())
    }

    fn end_channel(
        &mut self,
        topic: &str,
        event: Event,
        payload: Payload,
    ) -> Result<(), TestKitError> {
        let conn = self.conn()?;
        let join_ref = conn
            .joined
            .remove(topic)
            .ok_or_else(|| TestKitError::NotJoined(topic.to_owned()))?;
        conn.send(&Message::new(
            Some(join_ref.clone()),
            Some(join_ref),
            topic,
            event,
            payload,
        ))
    }
}
