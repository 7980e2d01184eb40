//! The chat bot's logic: a callback client, kept apart from `main` so the tests can run it.

use std::collections::HashSet;

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
    /// The refs of the `broadcast`s sent and not settled yet. The demo's `broadcast` is fire and
    /// forget (no reply comes), so their push timeout is expected, not worth a warning. Every
    /// push gets exactly one outcome, which removes its ref: the set stays small.
    broadcasts: HashSet<Ref>,
}

impl ChatBot {
    /// A bot that appears in presence as `name`.
    pub fn new(name: impl Into<String>) -> Self {
        ChatBot {
            name: name.into(),
            presence: Presence::new(),
            pongs: 0,
            broadcasts: HashSet::new(),
        }
    }

    /// Broadcasts `body` to the lobby (fire and forget: the demo does not reply to it).
    fn say(&mut self, cx: &Context<Self>, body: &str) -> Ref {
        let push_ref = cx.push(LOBBY, "broadcast", json!({"body": body, "from": self.name}));
        self.broadcasts.insert(push_ref.clone());
        push_ref
    }

    fn log_online(&self, change: &str) {
        let online = names(&self.presence.keys());
        tracing::info!(%online, "presence: {change}");
    }
}

/// Names for the log: `ana, bot`, or `nobody`.
fn names(keys: &[String]) -> String {
    if keys.is_empty() {
        "nobody".to_owned()
    } else {
        keys.join(", ")
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
        tracing::warn!(%reason, "disconnected");
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
                let from = value["from"].as_str().unwrap_or("someone");
                tracing::info!(%from, "ping; answering");
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
                    "joined: {}; left: {}",
                    names(&keys_of(&value, "joins")),
                    names(&keys_of(&value, "leaves"))
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
        let broadcast = self.broadcasts.remove(push_ref);
        match reply {
            Ok(reply) if reply.is_ok() => tracing::debug!(%push_ref, "push acknowledged"),
            // What a fire-and-forget broadcast ends with on the demo server.
            Err(ReplyError::PushTimeout(_)) if broadcast => {
                tracing::debug!(%push_ref, "broadcast sent; no reply expected")
            }
            Ok(reply) => tracing::warn!(%push_ref, %reply, "push refused"),
            Err(error) => tracing::warn!(%push_ref, %error, "push not acknowledged"),
        }
        Flow::Continue
    }

    async fn topic_close(&mut self, topic: &str, reason: TopicClose, _cx: &Context<Self>) -> Flow {
        // The socket rejoins crashed channels by itself; say so in the log.
        tracing::warn!(%topic, %reason, "topic closed");
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
