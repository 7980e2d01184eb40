//! `reconnect`: each user joins `rooms:lobby` with the socket id `user_socket:bench-<index>`,
//! then, each iteration, asks the demo server to cut its own connection (the `disconnect user`
//! event), pushes a `ping` at once (the client holds it until the topic is rejoined), and waits
//! for the client to reconnect and rejoin.
//!
//! Records `reconnect` (from the disconnect to the rejoin: reconnect, backoff included, and
//! join), `reconnect.connect` (to the new connection), and `pushes.lost` for each `ping` made
//! during the outage that got no reply; `errors.reconnect` when no rejoin came within the
//! timeout.

use std::sync::Arc;

use serde_json::json;
use slipstream_client::{DisconnectReason, Payload, Socket, SocketEvent};
use tokio::time::Instant;

use super::Target;
use crate::executor::{Scenario, User, UserFuture};
use crate::kind;

/// The demo's topic with the `disconnect user` event.
pub const TOPIC: &str = "rooms:lobby";

/// The `reconnect` scenario.
#[derive(Debug, Clone)]
pub struct Reconnect {
    /// Where and how to connect.
    pub target: Target,
}

/// Waits for the first event `wanted` accepts, discarding the others; `None` after `deadline`
/// or when the socket is gone.
async fn until<T>(
    socket: &Socket,
    deadline: Instant,
    mut wanted: impl FnMut(&SocketEvent) -> Option<T>,
) -> Option<T> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        match socket.next_event(Some(left)).await {
            Ok(event) => {
                if let Some(found) = wanted(&event) {
                    return Some(found);
                }
            }
            Err(_) => return None,
        }
    }
}

impl Reconnect {
    /// One cut and recovery; `false` when the user cannot go on.
    async fn cycle(&self, user: &User, socket: &Socket, id: &str) -> bool {
        let deadline = Instant::now() + self.target.timeout;
        socket.push(
            TOPIC,
            "disconnect user",
            Payload::json(&json!({"user_id": id})),
        );
        let cut = until(socket, deadline, |e| match e {
            SocketEvent::Disconnected(reason) if *reason != DisconnectReason::ClientRequested => {
                Some(Instant::now())
            }
            _ => None,
        })
        .await;
        let Some(cut) = cut else {
            user.recorder
                .error("timeout", &"the server did not cut the connection");
            return false;
        };
        let ping = socket.push(TOPIC, "ping", Payload::json(&json!({})));
        let deadline = Instant::now() + self.target.timeout;
        let mut connected = false;
        let rejoined = until(socket, deadline, |e| match e {
            SocketEvent::Connected => {
                connected = true;
                user.recorder.latency("reconnect.connect", cut.elapsed());
                None
            }
            SocketEvent::Joined { topic, .. } if topic == TOPIC => Some(()),
            _ => None,
        })
        .await;
        if rejoined.is_none() {
            let what = if connected {
                "no rejoin in time"
            } else {
                "no reconnect in time"
            };
            user.recorder.error("reconnect", &what);
            return false;
        }
        user.recorder.latency("reconnect", cut.elapsed());
        user.recorder.count("pushes", 1);
        match socket.await_reply(&ping, None).await {
            Ok(reply) if reply.is_ok() => {}
            Ok(reply) => user
                .recorder
                .error(&kind::reply_status(&reply.status), &reply),
            Err(e) => {
                user.recorder.count("pushes.lost", 1);
                user.recorder.error(&kind::reply_error(&e), &e);
            }
        }
        // The cut's own push outcome and lifecycle events are of no further use.
        socket.flush();
        true
    }
}

impl Scenario for Reconnect {
    fn name(&self) -> String {
        "reconnect".into()
    }

    fn primary_metric(&self) -> String {
        "reconnect".into()
    }

    fn run_user(self: Arc<Self>, user: User) -> UserFuture {
        Box::pin(async move {
            let id = format!("bench-{}", user.index);
            let Some(socket) = self.target.connect(&user, &[]).await else {
                return;
            };
            if self
                .target
                .join(&user, &socket, TOPIC, Payload::json(&json!({})))
                .await
            {
                while user.next_iteration() {
                    if !self.cycle(&user, &socket, &id).await || !user.think().await {
                        break;
                    }
                }
            }
            super::close(socket).await;
        })
    }
}
