//! `presence`: each user joins a `presence:*` topic under its own key (`u<index>`), stays
//! `hold`, leaves, thinks, and joins again, until stopped; while joined it watches the topic's
//! `presence_diff`s. Users start staggered over one `hold` (user i waits `(i % 8) / 8` of it),
//! so joins and leaves interleave instead of all coming at once.
//!
//! A board shared by the process's users knows who is joined. When a user asks to join (or to
//! leave), the board notes the time and the other users joined then: the watchers that must see
//! it. Each watcher that sees the key under `joins` (`leaves`) records the time since then as
//! `presence.join.each` (`presence.leave.each`); when the last of them has, the time is recorded
//! as `presence.join` (`presence.leave`): the time until every other user saw it. A join whose
//! watchers did not all stay to see it (one left first) is not timed as a whole: it is counted
//! in `presence.incomplete`. Only users of the same process are known to the board; with
//! `--workers` or `--segment` a diff about another process's user is counted in
//! `presence.seen_remote`, not timed.

use std::collections::{HashMap, HashSet};
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
    board: Mutex<Board>,
}

/// Who is joined, and the joins and leaves not yet seen by all their watchers.
#[derive(Debug, Default)]
struct Board {
    /// Every key a user of this process has used.
    known: HashSet<String>,
    joined: HashSet<String>,
    /// By (key, whether a join): when it was asked for, and who has still to see it.
    pending: HashMap<(String, bool), Pending>,
}

#[derive(Debug)]
struct Pending {
    at: Instant,
    waiting: HashSet<String>,
}

impl Board {
    fn asked(&mut self, key: &str, join: bool, user: &User) {
        if join {
            self.known.insert(key.to_owned());
            self.joined.insert(key.to_owned());
        } else {
            self.forget(key, user);
        }
        let waiting: HashSet<String> = self.joined.iter().filter(|k| *k != key).cloned().collect();
        let entry = (key.to_owned(), join);
        if waiting.is_empty() {
            self.pending.remove(&entry);
        } else {
            self.pending.insert(
                entry,
                Pending {
                    at: Instant::now(),
                    waiting,
                },
            );
        }
    }

    /// `key` no longer watches (it left, or its join failed): whatever it had still to see
    /// will never be seen by all.
    fn forget(&mut self, key: &str, user: &User) {
        self.joined.remove(key);
        let before = self.pending.len();
        self.pending.retain(|_, p| !p.waiting.contains(key));
        let dropped = (before - self.pending.len()) as u64;
        if dropped > 0 {
            user.recorder.count("presence.incomplete", dropped);
        }
    }

    /// `watcher` saw `key` join (or leave): the time since it was asked for, and, when
    /// `watcher` was the last to see it, that time as the time until all did.
    fn saw(&mut self, watcher: &str, key: &str, join: bool) -> Option<(Duration, bool)> {
        let entry = (key.to_owned(), join);
        let pending = self.pending.get_mut(&entry)?;
        if !pending.waiting.remove(watcher) {
            return None;
        }
        let elapsed = pending.at.elapsed();
        let last = pending.waiting.is_empty();
        if last {
            self.pending.remove(&entry);
        }
        Some((elapsed, last))
    }
}

impl PresenceScenario {
    /// The scenario on `topic`, each user joined for `hold` at a time.
    pub fn new(target: Target, topic: String, hold: Duration) -> PresenceScenario {
        PresenceScenario {
            target,
            topic,
            hold,
            board: Mutex::new(Board::default()),
        }
    }

    fn board(&self) -> std::sync::MutexGuard<'_, Board> {
        self.board.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn seen(&self, user: &User, own: &str, diff: &Value) {
        for (field, join, metric) in [
            ("joins", true, "presence.join"),
            ("leaves", false, "presence.leave"),
        ] {
            let Some(keys) = diff.get(field).and_then(Value::as_object) else {
                continue;
            };
            for key in keys.keys().filter(|k| k.as_str() != own) {
                let (seen, known) = {
                    let mut board = self.board();
                    (board.saw(own, key, join), board.known.contains(key))
                };
                match seen {
                    Some((elapsed, last)) => {
                        user.recorder.latency(&format!("{metric}.each"), elapsed);
                        if last {
                            user.recorder.latency(metric, elapsed);
                        }
                    }
                    None if !known => user.recorder.count("presence.seen_remote", 1),
                    // Seen by a user that joined after it was asked for: not one of its
                    // watchers.
                    None => {}
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

    fn counters(&self) -> Vec<String> {
        ["iterations", "presence.incomplete", "presence.seen_remote"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    fn run_user(self: Arc<Self>, user: User) -> UserFuture {
        Box::pin(async move {
            let Some(socket) = self.target.connect(&user, &[]).await else {
                return;
            };
            let key = format!("u{}", user.index);
            let stagger = self.hold.mul_f64((user.index % 8) as f64 / 8.0);
            if !user.sleep(stagger).await {
                super::close(socket).await;
                return;
            }
            while user.next_iteration() {
                self.board().asked(&key, true, &user);
                let params = Payload::json(&json!({"user": key}));
                if !self.target.join(&user, &socket, &self.topic, params).await {
                    self.board().forget(&key, &user);
                    break;
                }
                let go_on = self.watch(&user, &socket, &key).await;
                self.board().asked(&key, false, &user);
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
