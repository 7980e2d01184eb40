//! [`Endpoint`]: broadcast and disconnect from anywhere, not only from inside a channel.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use slipstream_protocol::{EncodeError, Payload};

use crate::shared::Shared;
use crate::ws;

/// A broadcast could not be encoded for some subscriber (e.g. a binary payload for a V1 socket).
/// Subscribers before that one (in join order) already received it, as in Phoenix.
#[derive(Debug, thiserror::Error)]
#[error("broadcast could not be encoded for a subscriber: {0}")]
pub struct BroadcastError(#[from] pub EncodeError);

/// A handle on a running server's pub/sub, like Phoenix's `MyAppWeb.Endpoint`. Cheap to clone.
#[derive(Clone)]
pub struct Endpoint {
    pub(crate) shared: Arc<Shared>,
}

impl Endpoint {
    /// Broadcasts `event` with `payload` to every channel joined to `topic`
    /// (`[null, null, topic, event, payload]`), encoded once per serializer.
    ///
    /// As in Phoenix, the event `disconnect` sent to a socket id (e.g. `user_socket:42`) closes
    /// every connection with that id instead (see [`disconnect_socket_id`](Self::disconnect_socket_id)).
    /// Returns how many channels (or, for `disconnect`, connections) it reached.
    pub fn broadcast(
        &self,
        topic: &str,
        event: &str,
        payload: Payload,
    ) -> Result<usize, BroadcastError> {
        let mut reached = 0;
        if event == "disconnect" {
            reached += self.disconnect_socket_id(topic);
        }
        reached += self.shared.pubsub.broadcast(topic, event, payload, None)?;
        Ok(reached)
    }

    /// Closes every connection whose socket id is `id` (close code 1000, as our reference Phoenix
    /// on Bandit does); their channels end without any `phx_*` frame. Returns how many.
    pub fn disconnect_socket_id(&self, id: &str) -> usize {
        self.shared
            .close_connections(ws::CLOSE_NORMAL, |c| c.socket_id.as_deref() == Some(id))
    }

    /// Closes every websocket with `code` (fault injection). Returns how many.
    pub fn close_all_connections(&self, code: u16) -> usize {
        self.shared.close_connections(code, |_| true)
    }

    /// Stops (`false`) or resumes (`true`) replying to heartbeats (fault injection).
    pub fn set_answer_heartbeats(&self, on: bool) {
        self.shared.answer_heartbeats.store(on, Ordering::Relaxed);
    }

    /// Refuses every websocket upgrade with HTTP `status` (`Some`), or accepts again (`None`)
    /// (fault injection).
    pub fn set_refuse_connects(&self, status: Option<u16>) {
        self.shared
            .refuse_status
            .store(status.unwrap_or(0), Ordering::Relaxed);
    }

    /// Makes websocket upgrades hang (`true`: the request is read and never answered, for a
    /// minute) or be answered again (`false`) (fault injection, e.g. for a client's fallback to
    /// long-poll; long-poll requests are not affected).
    pub fn set_hang_websocket_upgrades(&self, on: bool) {
        self.shared.hang_upgrades.store(on, Ordering::Relaxed);
    }

    /// How many long-poll sessions are open (each also counts in
    /// [`connection_count`](Self::connection_count) while its connection runs).
    pub fn longpoll_session_count(&self) -> usize {
        self.shared.longpoll.count()
    }

    /// Makes channels drop (`true`) or send again (`false`) their replies to client pushes
    /// (fault injection; join, leave and heartbeat replies are not affected).
    pub fn set_drop_replies(&self, on: bool) {
        self.shared.drop_replies.store(on, Ordering::Relaxed);
    }

    /// Makes channels wait `delay` before each reply to a client push (fault injection;
    /// `Duration::ZERO` turns it off). Replies keep their order.
    pub fn set_reply_delay(&self, delay: std::time::Duration) {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.shared.reply_delay_ms.store(ms, Ordering::Relaxed);
    }

    /// Bytes queued for all websockets and not yet written to their sockets; each connection's
    /// share is bounded by [`ServerConfig::max_outbound_bytes`](crate::ServerConfig::max_outbound_bytes).
    pub fn outbound_queued_bytes(&self) -> usize {
        self.shared.outbound_queued_bytes()
    }

    /// How many connections are open: websockets and long-poll sessions.
    pub fn connection_count(&self) -> usize {
        self.shared
            .connections
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }
}
