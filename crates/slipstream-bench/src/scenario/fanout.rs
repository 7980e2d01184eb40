//! `fanout`: the users with the lowest `senders` indices broadcast through the demo's `bench:*`
//! `fanout` event at `rate` messages a second each; every other user receives.
//!
//! Each message's payload is `{"s": sender, "q": sequence, "t": unix µs at the intended send
//! time}`. A receiver records `delivery` (its clock minus `t`: exact on one machine, as good as
//! the clocks' agreement across machines) and counts `messages.received`. When the run stops,
//! each sender broadcasts `{"s": sender, "end": last sequence}` and receivers keep listening
//! (up to [`DRAIN`]) until every sender's end has come; then each receiver counts in
//! `messages.lost` the sequence numbers it never saw, from the first message it saw of each
//! sender up to that sender's end (or its last message seen, when no end came). Senders count
//! `messages.sent`.
//!
//! With [`Fanout::per_round`], each delivery is also recorded under [`round_metric`]
//! (`round.<sender>.<seq>`): one histogram per message, whose `max` is the time until its last
//! delivery and whose count is how many receivers it reached. Histograms merge exactly, so this
//! holds across `--workers` and `--segment` runs too, where no one process sees every receiver.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use slipstream_client::{MessagePattern, Payload, Socket, SocketEvent};
use tokio::time::Instant;

use super::{Target, close, unix_micros};
use crate::duration::Rate;
use crate::executor::{Scenario, User, UserFuture};

/// How long receivers keep listening after the stop for the senders' last messages.
pub const DRAIN: Duration = Duration::from_secs(3);

/// How long a sender waits after its join before its first message, by default: the receivers
/// that start with it are joined by then.
pub const DEFAULT_SEND_AFTER: Duration = Duration::from_millis(500);

/// The metric of message `seq` of `sender` when deliveries are recorded per round:
/// `round.<sender>.<seq>`, the sequence zero-padded to 4 digits so rounds sort in order.
pub fn round_metric(sender: u64, seq: u64) -> String {
    format!("round.{sender}.{seq:04}")
}

/// The `fanout` scenario.
#[derive(Debug, Clone)]
pub struct Fanout {
    /// Where and how to connect.
    pub target: Target,
    /// The topic (a `bench:*` topic on the demo server).
    pub topic: String,
    /// How many users send (global indices `0..senders`); the rest receive.
    pub senders: u64,
    /// Messages a second per sender.
    pub rate: Rate,
    /// How long a sender waits after its join before its first message
    /// ([`DEFAULT_SEND_AFTER`]; longer to let a long ramp-up finish first).
    pub send_after: Duration,
    /// Also record each delivery under [`round_metric`]: the time until each message's last
    /// delivery. One histogram per message: for runs of tens of rounds, not thousands.
    pub per_round: bool,
}

/// What one receiver saw of one sender.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SenderTrack {
    first: Option<u64>,
    last: Option<u64>,
    received: u64,
    end: Option<u64>,
}

impl SenderTrack {
    /// Notes message `seq`; `false` for a duplicate or one older than the last seen.
    pub fn saw(&mut self, seq: u64) -> bool {
        if self.last.is_some_and(|last| seq <= last) {
            return false;
        }
        self.first.get_or_insert(seq);
        self.last = Some(seq);
        self.received += 1;
        true
    }

    /// Notes the sender's end marker: its last sequence number.
    pub fn ended(&mut self, last: u64) {
        self.end = Some(last);
    }

    /// Messages sent while this receiver listened that it never got.
    pub fn lost(&self) -> u64 {
        let Some(first) = self.first else {
            return 0;
        };
        let last = self.end.max(self.last).unwrap_or(first);
        (last - first + 1).saturating_sub(self.received)
    }
}

impl Fanout {
    async fn send(&self, user: &User, socket: &Socket) {
        let interval = self.rate.interval();
        let mut intended = Instant::now();
        let wall_start = unix_micros();
        let started = intended;
        let mut seq = 0u64;
        while user.sleep_until(intended).await && user.next_iteration() {
            let t = wall_start + (intended - started).as_micros() as u64;
            let payload = Payload::json(&json!({"s": user.index, "q": seq, "t": t}));
            // `fanout` is never replied to: no timer, nothing in the mailbox once it is out.
            socket.push_no_reply(&self.topic, "fanout", payload);
            user.recorder.count("messages.sent", 1);
            // The sender receives its own broadcasts (dropped) and, for a push that could not go
            // out, its failure (counted).
            Self::count_send_failures(user, socket);
            seq += 1;
            intended += interval;
        }
        if seq > 0 {
            let end = Payload::json(&json!({"s": user.index, "end": seq - 1}));
            socket.push_no_reply(&self.topic, "fanout", end);
            // Give the frame time to be written before the close.
            tokio::time::sleep(Duration::from_millis(200)).await;
            Self::count_send_failures(user, socket);
        }
    }

    /// Empties the sender's mailbox, counting the broadcasts that could not be sent by kind.
    fn count_send_failures(user: &User, socket: &Socket) {
        for event in socket.flush() {
            if let SocketEvent::Reply { result: Err(e), .. } = event {
                user.recorder.error(&crate::kind::reply_error(&e), &e);
            }
        }
    }

    async fn receive(&self, user: &User, socket: &Socket) {
        let pattern = MessagePattern::any()
            .topic(self.topic.clone())
            .event("fanout");
        let mut tracks: HashMap<u64, SenderTrack> = HashMap::new();
        let ended = |tracks: &HashMap<u64, SenderTrack>| {
            tracks.values().filter(|t| t.end.is_some()).count() as u64
        };
        loop {
            tokio::select! {
                message = socket.await_message(&pattern, Some(Duration::from_secs(1))) => match message {
                    Ok(m) => self.on_message(user, &mut tracks, m.payload.to_value().ok()),
                    Err(slipstream_client::AwaitError::Timeout) => {}
                    Err(_) => break,
                },
                () = user.stopped() => break,
            }
        }
        let deadline = Instant::now() + DRAIN;
        while ended(&tracks) < self.senders {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match socket.await_message(&pattern, Some(left)).await {
                Ok(m) => self.on_message(user, &mut tracks, m.payload.to_value().ok()),
                Err(_) => break,
            }
        }
        let lost: u64 = tracks.values().map(SenderTrack::lost).sum();
        user.recorder.count("messages.lost", lost);
        if lost > 0 {
            user.recorder.count("receivers.with_loss", 1);
        }
    }

    fn on_message(
        &self,
        user: &User,
        tracks: &mut HashMap<u64, SenderTrack>,
        value: Option<Value>,
    ) {
        let now = unix_micros();
        let Some(value) = value else {
            user.recorder
                .error("bad_message", &"a fanout payload that is not JSON");
            return;
        };
        let Some(sender) = value.get("s").and_then(Value::as_u64) else {
            user.recorder
                .error("bad_message", &"a fanout payload without a sender");
            return;
        };
        let track = tracks.entry(sender).or_default();
        if let Some(end) = value.get("end").and_then(Value::as_u64) {
            track.ended(end);
            return;
        }
        let (Some(seq), Some(t)) = (
            value.get("q").and_then(Value::as_u64),
            value.get("t").and_then(Value::as_u64),
        ) else {
            user.recorder
                .error("bad_message", &"a fanout payload without q or t");
            return;
        };
        if track.saw(seq) {
            let latency = now.saturating_sub(t);
            user.recorder.count("messages.received", 1);
            user.recorder.latency_us("delivery", latency);
            if self.per_round {
                user.recorder
                    .latency_us(&round_metric(sender, seq), latency);
            }
        }
    }
}

impl Scenario for Fanout {
    fn name(&self) -> String {
        "fanout".into()
    }

    fn primary_metric(&self) -> String {
        "delivery".into()
    }

    fn counters(&self) -> Vec<String> {
        [
            "iterations",
            "messages.sent",
            "messages.received",
            "messages.lost",
            "receivers.with_loss",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    fn run_user(self: Arc<Self>, user: User) -> UserFuture {
        Box::pin(async move {
            let Some(socket) = self.target.connect(&user, &[]).await else {
                return;
            };
            let sender = user.index < self.senders;
            if self
                .target
                .join(&user, &socket, &self.topic, Payload::json(&json!({})))
                .await
            {
                if sender {
                    // Receivers join first: a sender waits a moment (or until the ramp-up is
                    // done) so the first messages find them listening.
                    if user.sleep(self.send_after).await {
                        self.send(&user, &socket).await;
                    }
                } else {
                    self.receive(&user, &socket).await;
                }
            }
            close(socket).await;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{SenderTrack, round_metric};

    #[test]
    fn round_metrics_sort_in_send_order() {
        assert_eq!(round_metric(0, 7), "round.0.0007");
        let mut names: Vec<String> = [10, 2, 1].iter().map(|q| round_metric(3, *q)).collect();
        names.sort();
        assert_eq!(names, ["round.3.0001", "round.3.0002", "round.3.0010"]);
    }

    #[test]
    fn losses_are_the_gaps_from_the_first_seen_to_the_end() {
        let mut track = SenderTrack::default();
        assert_eq!(track.lost(), 0);
        for seq in [3, 4, 6, 6, 5, 9] {
            track.saw(seq);
        }
        assert_eq!(track.lost(), 3); // 5 (came late, after 6), 7 and 8
        track.ended(11);
        assert_eq!(track.lost(), 5); // and 10, 11 never came
    }
}
