//! `reconnect`: each user joins `rooms:lobby` with the socket id `user_socket:bench-<index>`,
//! then has its connection cut, pushes a `ping` at once (the client holds it until the topic is
//! rejoined), and waits for the client to reconnect and rejoin. Who cuts is [`Cut`]: the user
//! itself, asking the demo server (its `disconnect user` event), each iteration; or the server,
//! when it restarts (a deploy, or `--restart-every` with `--demo`), the user only waiting.
//!
//! Records `reconnect` (from the disconnect to the rejoin: reconnect, backoff included, and
//! join), `reconnect.connect` (to the new connection), and `pushes.lost` for each `ping` made
//! during the outage that got no reply; `errors.reconnect` when no rejoin came within the
//! timeout.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use slipstream_client::{DisconnectReason, Payload, Socket, SocketEvent};
use tokio::time::Instant;

use super::Target;
use crate::executor::{Scenario, User, UserFuture};
use crate::kind;

/// The demo's topic with the `disconnect user` event.
pub const TOPIC: &str = "rooms:lobby";

/// Who cuts the connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// Each user asks the demo server to cut its own connection, once an iteration.
    Kick,
    /// The users wait for the server to drop them (a restart); each drop is an iteration.
    Server,
}

/// The `reconnect` scenario.
#[derive(Debug, Clone)]
pub struct Reconnect {
    /// Where and how to connect.
    pub target: Target,
    /// Who cuts the connections.
    pub cut: Cut,
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
    /// The user's connection cut by the server at its request: when it went.
    async fn kick(&self, user: &User, socket: &Socket, id: &str) -> Option<Instant> {
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
        if cut.is_none() {
            user.recorder
                .error("timeout", &"the server did not cut the connection");
        }
        cut
    }

    /// Waits (until told to stop) for the server to drop the connection: when it went.
    async fn dropped(&self, user: &User, socket: &Socket) -> Option<Instant> {
        loop {
            tokio::select! {
                event = socket.next_event(Some(Duration::from_secs(60))) => match event {
                    Ok(SocketEvent::Disconnected(reason)) if reason != DisconnectReason::ClientRequested => {
                        return Some(Instant::now());
                    }
                    Ok(_) | Err(slipstream_client::AwaitError::Timeout) => {}
                    Err(_) => return None,
                },
                () = user.stopped() => return None,
            }
        }
    }

    /// One cut and recovery; `false` when the user cannot go on.
    async fn cycle(&self, user: &User, socket: &Socket, id: &str) -> bool {
        let cut = match self.cut {
            Cut::Kick => self.kick(user, socket, id).await,
            Cut::Server => self.dropped(user, socket).await,
        };
        let Some(cut) = cut else {
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

    fn counters(&self) -> Vec<String> {
        ["iterations", "pushes", "pushes.lost"]
            .iter()
            .map(|s| s.to_string())
            .collect()
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
                    if !self.cycle(&user, &socket, &id).await {
                        break;
                    }
                    // Waiting for the server, the user must be watching when the next drop
                    // comes (its time is taken when the event is read): no think time.
                    if self.cut == Cut::Kick && !user.think().await {
                        break;
                    }
                }
            }
            super::close(socket).await;
        })
    }
}
