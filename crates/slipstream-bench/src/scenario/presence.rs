//! `presence`: each user joins a `presence:*` topic under its own key (`u<index>`), stays
//! `hold`, leaves, thinks, and joins again, until stopped; while joined it watches the topic's
//! `presence_diff`s.
//!
//! A joiner notes in a board shared by the process's users when it asked to join (and, later,
//! to leave); a watcher that sees the key under `joins` (or `leaves`) records the time since
//! then as `presence.join` (`presence.leave`). So there is one sample for each (watcher, joiner)
//! pair: the samples of one join are the times until each other user saw it, and the largest
//! of them is when every user had. Only users of the same process are timed (the board is in
//! memory); with `--workers` or `--segment` a diff from another process's user is counted in
//! `presence.seen_remote` but not timed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use slipstream_client::{MessagePattern, Payload, Socket};
use tokio::time::Instant;

use super::Target;
use crate::executor::{Scenario, User, UserFuture};

/// The `presence` scenario.
#[derive(Debug)]
pub struct PresenceScenario {
    /// Where and how to connect.
    pub target: Target,
    /// The topic (a `presence:*` topic on the demo server).
    pub topic: String,
    /// How long each user stays joined before it leaves.
    pub hold: Duration,
    board: Mutex<HashMap<String, Moments>>,
}

/// When a user last asked to join and to leave.
#[derive(Debug, Default, Clone, Copy)]
struct Moments {
    join: Option<Instant>,
    leave: Option<Instant>,
}

impl PresenceScenario {
    /// The scenario on `topic`, each user joined for `hold` at a time.
    pub fn new(target: Target, topic: String, hold: Duration) -> PresenceScenario {
        PresenceScenario {
            target,
            topic,
            hold,
            board: Mutex::new(HashMap::new()),
        }
    }

    fn note(&self, key: &str, join: bool) {
        let mut board = self.board.lock().unwrap_or_else(|p| p.into_inner());
        let moments = board.entry(key.to_owned()).or_default();
        if join {
            moments.join = Some(Instant::now());
        } else {
            moments.leave = Some(Instant::now());
        }
    }

    fn seen(&self, user: &User, own: &str, diff: &Value) {
        let now = Instant::now();
        for (field, metric) in [("joins", "presence.join"), ("leaves", "presence.leave")] {
            let Some(keys) = diff.get(field).and_then(Value::as_object) else {
                continue;
            };
            for key in keys.keys().filter(|k| k.as_str() != own) {
                let at = {
                    let board = self.board.lock().unwrap_or_else(|p| p.into_inner());
                    board
                        .get(key)
                        .and_then(|m| if field == "joins" { m.join } else { m.leave })
                };
                match at {
                    Some(at) => user.recorder.latency(metric, now - at),
                    None => user.recorder.count("presence.seen_remote", 1),
                }
            }
        }
    }

    async fn watch(&self, user: &User, socket: &Socket, own: &str) -> bool {
        let pattern = MessagePattern::any().topic(self.topic.clone());
        let until = Instant::now() + self.hold;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return true;
            }
            tokio::select! {
                message = socket.await_message(&pattern, Some(left)) => match message {
                    Ok(m) if m.event == "presence_diff" => {
                        if let Ok(diff) = m.payload.to_value() {
                            self.seen(user, own, &diff);
                        }
                    }
                    Ok(_) => {} // presence_state: the starting point, nothing to time
                    Err(slipstream_client::AwaitError::Timeout) => return true,
                    Err(_) => return false,
                },
                () = user.stopped() => return false,
            }
        }
    }
}

impl Scenario for PresenceScenario {
    fn name(&self) -> String {
        "presence".into()
    }

    fn primary_metric(&self) -> String {
        "presence.join".into()
    }

    fn run_user(self: Arc<Self>, user: User) -> UserFuture {
        Box::pin(async move {
            let Some(socket) = self.target.connect(&user, &[]).await else {
                return;
            };
            let key = format!("u{}", user.index);
            while user.next_iteration() {
                self.note(&key, true);
                let params = Payload::json(&json!({"user": key}));
                if !self.target.join(&user, &socket, &self.topic, params).await {
                    break;
                }
                let go_on = self.watch(&user, &socket, &key).await;
                self.note(&key, false);
                socket.leave(&self.topic);
                let _ = socket
                    .await_leave(&self.topic, Some(self.target.timeout))
                    .await;
                // What came for the topic after the leave is of no use.
                socket.flush();
                if !go_on || !user.think().await {
                    break;
                }
            }
            super::close(socket).await;
        })
    }
}
