//! The chat bot's logic: a callback client, kept apart from `main` so the tests can run it.

use serde_json::{Value, json};
use slipstream_client::callback::{Client, Context, Disconnect, Flow, ReplyTo, TopicClose};
use slipstream_client::presence::Presence;
use slipstream_client::{Payload, Ref, Reply, ReplyError};

/// The room the bot answers in.
pub const LOBBY: &str = "rooms:lobby";
/// The presence topic the bot watches (and appears in).
pub const PRESENCE: &str = "presence:lobby";

/// Asks the running bot something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BotCall {
    /// Who is online in the lobby.
    Online,
    /// How many pings the bot answered.
    Pongs,
}

/// The bot's answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BotAnswer {
    /// The presence keys, sorted.
    Online(Vec<String>),
    /// The number of pongs sent.
    Pongs(u64),
}

/// Messages for the bot from other tasks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BotInfo {
    /// Say this in the lobby.
    Say(String),
}

/// Joins the lobby, answers every ping-like message with a pong, and logs who is online.
#[derive(Debug)]
pub struct ChatBot {
    name: String,
    presence: Presence,
    pongs: u64,
}

impl ChatBot {
    /// A bot that appears in presence as `name`.
    pub fn new(name: impl Into<String>) -> Self {
        ChatBot {
            name: name.into(),
            presence: Presence::new(),
            pongs: 0,
        }
    }

    fn say(&self, cx: &Context<Self>, body: &str) -> Ref {
        cx.push(LOBBY, "broadcast", json!({"body": body, "from": self.name}))
    }

    fn log_online(&self, change: &str) {
        tracing::info!(online = ?self.presence.keys(), "presence: {change}");
    }
}

/// Whether a lobby message asks for a pong: a `ping` event, or a body whose first word is
/// "ping" ("ping", "Ping!", "ping? anyone").
pub fn is_ping(event: &str, payload: &Value) -> bool {
    if event == "ping" {
        return true;
    }
    let first_word = payload["body"]
        .as_str()
        .and_then(|body| body.split_whitespace().next())
        .map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase()
        });
    first_word.as_deref() == Some("ping")
}

/// Keys of a presence diff's `joins` or `leaves`, for the log.
fn keys_of(diff: &Value, side: &str) -> Vec<String> {
    diff[side]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

impl Client for ChatBot {
    type Info = BotInfo;
    type Call = BotCall;
    type Response = BotAnswer;

    async fn connect(&mut self, cx: &Context<Self>) -> Flow {
        tracing::info!(url = cx.socket().url(), "connected");
        cx.join(LOBBY, json!({}));
        cx.join(PRESENCE, json!({"user": self.name}));
        Flow::Continue
    }

    async fn disconnect(&mut self, reason: Disconnect, _cx: &Context<Self>) -> Flow {
        tracing::warn!(?reason, "disconnected");
        reason.default_flow()
    }

    async fn join(&mut self, topic: &str, _response: &Payload, _cx: &Context<Self>) -> Flow {
        tracing::info!(%topic, "joined");
        Flow::Continue
    }

    async fn message(
        &mut self,
        topic: &str,
        event: &str,
        payload: &Payload,
        cx: &Context<Self>,
    ) -> Flow {
        let Ok(value) = payload.to_value() else {
            return Flow::Continue;
        };
        match (topic, event) {
            (LOBBY, _) if is_ping(event, &value) => {
                tracing::info!(from = %value["from"], "ping; answering");
                self.say(cx, "pong");
                self.pongs += 1;
            }
            (PRESENCE, "presence_state") => {
                self.presence.apply_state(&value);
                self.log_online("state");
            }
            (PRESENCE, "presence_diff") => {
                self.presence.apply_diff(&value);
                let change = format!(
                    "joined {:?}, left {:?}",
                    keys_of(&value, "joins"),
                    keys_of(&value, "leaves")
                );
                self.log_online(&change);
            }
            _ => tracing::debug!(%topic, %event, "ignored"),
        }
        Flow::Continue
    }

    async fn reply(
        &mut self,
        push_ref: &Ref,
        reply: Result<Reply, ReplyError>,
        _cx: &Context<Self>,
    ) -> Flow {
        match reply {
            Ok(reply) if reply.is_ok() => tracing::debug!(%push_ref, "push acknowledged"),
            other => tracing::warn!(%push_ref, ?other, "push not acknowledged"),
        }
        Flow::Continue
    }

    async fn topic_close(&mut self, topic: &str, reason: TopicClose, _cx: &Context<Self>) -> Flow {
        // The socket rejoins crashed channels by itself; say so in the log.
        tracing::warn!(%topic, ?reason, "topic closed");
        if topic == PRESENCE {
            self.presence.reset();
        }
        Flow::Continue
    }

    async fn leave(&mut self, topic: &str, _cx: &Context<Self>) -> Flow {
        tracing::info!(%topic, "left");
        Flow::Continue
    }

    async fn handle_info(&mut self, info: BotInfo, cx: &Context<Self>) -> Flow {
        match info {
            BotInfo::Say(text) => {
                self.say(cx, &text);
            }
        }
        Flow::Continue
    }

    async fn handle_call(
        &mut self,
        call: BotCall,
        reply: ReplyTo<BotAnswer>,
        _cx: &Context<Self>,
    ) -> Flow {
        let answer = match call {
            BotCall::Online => BotAnswer::Online(self.presence.keys()),
            BotCall::Pongs => BotAnswer::Pongs(self.pongs),
        };
        reply.send(answer);
        Flow::Continue
    }
}
