//! `ping`: each user joins a `bench:*` topic and pushes an event, awaiting its reply: in a
//! closed loop (push, await, think, again), or at `rate` pushes a second per user, open model.
//!
//! At a rate, pushes go out on their schedule whether or not earlier ones were answered, and
//! each latency is measured from the push's *intended* send time, not from when it went out:
//! when the user falls behind (the server is slow), the wait is counted, as wrk2 and k6 do, so
//! coordinated omission does not hide it. Records `reply.<event>`, `pushes`, `iterations`.

use std::sync::Arc;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use serde_json::json;
use slipstream_client::{Payload, Socket};
use tokio::time::Instant;

use super::{Target, close, record_reply};
use crate::duration::Rate;
use crate::executor::{Scenario, User, UserFuture};

/// The `ping` scenario.
#[derive(Debug, Clone)]
pub struct Ping {
    /// Where and how to connect.
    pub target: Target,
    /// The topic every user joins (the demo's `bench:*` answers `ping` with its payload).
    pub topic: String,
    /// The event pushed.
    pub event: String,
    /// Bytes of padding in each payload (the payload is `{"user":…,"n":…,"pad":"xx…"}`).
    pub payload_size: usize,
    /// Pushes a second per user (open model); `None` for a closed loop.
    pub rate: Option<Rate>,
}

impl Ping {
    fn payload(&self, user: &User, n: u64) -> Payload {
        Payload::json(&json!({"user": user.index, "n": n, "pad": "x".repeat(self.payload_size)}))
    }

    fn metric(&self) -> String {
        format!("reply.{}", self.event)
    }

    async fn closed_loop(&self, user: &User, socket: &Socket) {
        let metric = self.metric();
        let mut n = 0;
        while user.next_iteration() {
            let sent = Instant::now();
            let r = socket.push(&self.topic, &self.event, self.payload(user, n));
            let outcome = socket.await_reply(&r, None).await;
            record_reply(user, &metric, sent, outcome);
            n += 1;
            if !user.think().await {
                break;
            }
        }
    }

    async fn open_loop(&self, user: &User, socket: &Socket, rate: Rate) {
        let metric = self.metric();
        let interval = rate.interval();
        let mut intended = Instant::now();
        let mut n = 0;
        let mut in_flight = FuturesUnordered::new();
        loop {
            tokio::select! {
                Some((outcome, since)) = in_flight.next(), if !in_flight.is_empty() => {
                    record_reply(user, &metric, since, outcome);
                }
                go = user.sleep_until(intended) => {
                    if !go || !user.next_iteration() {
                        break;
                    }
                    let r = socket.push(&self.topic, &self.event, self.payload(user, n));
                    let socket = socket.clone();
                    let since = intended;
                    in_flight.push(async move { (socket.await_reply(&r, None).await, since) });
                    n += 1;
                    intended += interval;
                }
            }
        }
        // The pushes already sent are answered (or time out) before the user closes.
        while let Some((outcome, since)) = in_flight.next().await {
            record_reply(user, &metric, since, outcome);
        }
    }
}

impl Scenario for Ping {
    fn name(&self) -> String {
        "ping".into()
    }

    fn primary_metric(&self) -> String {
        self.metric()
    }

    fn counters(&self) -> Vec<String> {
        ["iterations", "pushes"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    fn run_user(self: Arc<Self>, user: User) -> UserFuture {
        Box::pin(async move {
            let Some(socket) = self.target.connect(&user, &[]).await else {
                return;
            };
            if self
                .target
                .join(&user, &socket, &self.topic, Payload::json(&json!({})))
                .await
            {
                match self.rate {
                    None => self.closed_loop(&user, &socket).await,
                    Some(rate) => self.open_loop(&user, &socket, rate).await,
                }
            }
            close(socket).await;
        })
    }
}
