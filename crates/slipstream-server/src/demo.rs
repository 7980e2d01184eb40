//! The demo application of docs/demo-server.md: what `slipstream serve` runs and what the interop,
//! conformance and benchmark suites talk to. Event names (with their spaces) are part of the contract.

use std::net::SocketAddr;

use axum::http::StatusCode;
use serde_json::{Value, json};
use slipstream_protocol::Payload;

use crate::channel::Channel;
use crate::config::ServerConfig;
use crate::connect::{ConnectInfo, ConnectResult};
use crate::context::ChannelContext;
use crate::json::{normalize, object_field};
use crate::outcome::{HandleResult, Info, InfoResult, JoinResult};
use crate::server::{RunningServer, Server};
use crate::socket::Socket;

/// Serves the demo app on `addr` (port 0 allowed) in the background.
pub async fn spawn_demo(addr: SocketAddr, config: ServerConfig) -> std::io::Result<RunningServer> {
    Server::new(socket(), config).bind(addr).await
}

/// The demo socket: connect rules and the four channel routes, in docs/demo-server.md's order.
pub fn socket() -> Socket {
    Socket::new()
        .on_connect(connect)
        .channel("rooms:lobby", |_| Lobby)
        .channel("rooms:*", |_| Room)
        .channel("bench:*", |_| Bench)
        .channel("presence:*", |_| PresenceRoom)
}

/// `reject=true` refuses with 403; a non-empty `user_id` gives the socket id `user_socket:<id>`.
fn connect(info: &ConnectInfo) -> ConnectResult {
    if info.param("reject") == Some("true") {
        return ConnectResult::Refuse(StatusCode::FORBIDDEN);
    }
    let socket_id = info
        .param("user_id")
        .filter(|id| !id.is_empty())
        .map(|id| format!("user_socket:{id}"));
    ConnectResult::Accept { socket_id }
}

fn obj(value: Value) -> Payload {
    Payload::json(&value)
}

fn pong() -> HandleResult {
    HandleResult::ok(obj(json!({"pong": "pong"})))
}

/// No reply when a push or broadcast went out; a crash (`phx_error`) when it could not, as a
/// Phoenix channel raising in `handle_in` would.
fn no_reply_unless_failed<E: std::fmt::Display>(sent: Result<(), E>) -> HandleResult {
    match sent {
        Ok(()) => HandleResult::NoReply,
        Err(err) => HandleResult::crash(err.to_string()),
    }
}

/// What Phoenix does for an event a channel has no clause for: the channel crashes.
fn no_clause(topic: &str, event: &str) -> HandleResult {
    HandleResult::crash(format!("no handle_in clause for {event:?} on {topic}"))
}

/// `rooms:lobby`, the guide's channel.
struct Lobby;

impl Channel for Lobby {
    async fn join(&mut self, _: &str, _: Payload, _: &mut ChannelContext) -> JoinResult {
        JoinResult::Ok(Payload::empty())
    }

    async fn handle_in(
        &mut self,
        event: &str,
        payload: Payload,
        ctx: &mut ChannelContext,
    ) -> HandleResult {
        match event {
            "quicksand" => HandleResult::NoReply,
            "ping" => pong(),
            "push to me" => no_reply_unless_failed(ctx.push("foo", obj(json!({"bar": "baz"})))),
            "echo" => HandleResult::ok(normalize(payload)),
            "error reply" => HandleResult::error(obj(json!({"reason": "nope"}))),
            "broadcast" => {
                no_reply_unless_failed(ctx.broadcast("broadcast_event", normalize(payload)))
            }
            "crash" => HandleResult::crash("the client asked for a crash"),
            "stop" => HandleResult::stop(),
            "binary echo" => match payload {
                Payload::Binary(bytes) => HandleResult::ok(Payload::Binary(bytes)),
                _ => no_clause(ctx.topic(), event),
            },
            "push binary" => {
                no_reply_unless_failed(ctx.push("bin", Payload::binary(vec![1u8, 2, 3])))
            }
            "disconnect user" => disconnect_user(&payload, ctx),
            _ => no_clause(ctx.topic(), event),
        }
    }
}

/// The string member `key` of a JSON object payload, read without parsing the rest (which a
/// client may have made of any depth).
fn string_field(payload: &Payload, key: &str) -> Option<String> {
    let raw = object_field(payload.as_json_str()?, key).ok()??;
    serde_json::from_str(raw).ok()
}

/// Broadcasts `disconnect` to `user_socket:<user_id>` and replies ok `{}`.
fn disconnect_user(payload: &Payload, ctx: &ChannelContext) -> HandleResult {
    let number = || {
        let raw = object_field(payload.as_json_str()?, "user_id").ok()??;
        serde_json::from_str::<serde_json::Number>(raw).ok()
    };
    let user = match string_field(payload, "user_id") {
        Some(s) => s,
        None => match number() {
            Some(n) => n.to_string(),
            None => return no_clause(ctx.topic(), "disconnect user"),
        },
    };
    match ctx.endpoint().broadcast(
        &format!("user_socket:{user}"),
        "disconnect",
        Payload::empty(),
    ) {
        Ok(_) => HandleResult::ok(Payload::empty()),
        Err(err) => HandleResult::crash(err.to_string()),
    }
}

/// `rooms:*`: any other room.
struct Room;

impl Channel for Room {
    async fn join(&mut self, topic: &str, params: Payload, _: &mut ChannelContext) -> JoinResult {
        let Some(Ok(deny)) = params.as_json_str().map(|t| object_field(t, "deny")) else {
            return JoinResult::Crash("join params are not an object".to_owned());
        };
        let denied = deny.is_some_and(|raw| {
            raw == "true" || serde_json::from_str::<String>(raw).is_ok_and(|s| s == "true")
        });
        if denied {
            JoinResult::Error(obj(json!({"reason": "unauthorized"})))
        } else {
            JoinResult::Ok(obj(json!({"joined": topic})))
        }
    }

    async fn handle_in(
        &mut self,
        event: &str,
        payload: Payload,
        ctx: &mut ChannelContext,
    ) -> HandleResult {
        match event {
            "ping" => pong(),
            "echo" => HandleResult::ok(normalize(payload)),
            _ => no_clause(ctx.topic(), event),
        }
    }
}

/// `bench:*`: echo and fan-out for benchmarks (payloads pass through untouched, for speed).
struct Bench;

impl Channel for Bench {
    async fn join(&mut self, _: &str, _: Payload, _: &mut ChannelContext) -> JoinResult {
        JoinResult::Ok(Payload::empty())
    }

    async fn handle_in(
        &mut self,
        event: &str,
        payload: Payload,
        ctx: &mut ChannelContext,
    ) -> HandleResult {
        match event {
            "ping" => HandleResult::ok(payload),
            "fanout" => no_reply_unless_failed(ctx.broadcast("fanout", payload)),
            _ => no_clause(ctx.topic(), event),
        }
    }
}

/// `presence:*`: tracks the joiner and pushes `presence_state`.
struct PresenceRoom;

/// The message a presence channel sends itself right after its join.
struct AfterJoin {
    user: String,
}

impl Channel for PresenceRoom {
    async fn join(&mut self, _: &str, params: Payload, ctx: &mut ChannelContext) -> JoinResult {
        let user = string_field(&params, "user").unwrap_or_else(|| "anonymous".to_owned());
        ctx.send_info(AfterJoin { user });
        JoinResult::Ok(Payload::empty())
    }

    async fn handle_in(
        &mut self,
        event: &str,
        _: Payload,
        ctx: &mut ChannelContext,
    ) -> HandleResult {
        match event {
            "ping" => pong(),
            _ => no_clause(ctx.topic(), event),
        }
    }

    async fn handle_info(&mut self, message: Info, ctx: &mut ChannelContext) -> InfoResult {
        let Ok(after) = message.downcast::<AfterJoin>() else {
            return InfoResult::Continue;
        };
        let meta = json!({"online_at": unix_seconds()});
        let meta = meta.as_object().cloned().unwrap_or_default();
        if let Err(err) = ctx.track_presence(&after.user, meta) {
            tracing::warn!(error = %err, "presence_diff could not be broadcast");
        }
        let state = Payload::json(&ctx.presence_list());
        if let Err(err) = ctx.push("presence_state", state) {
            tracing::warn!(error = %err, "presence_state could not be pushed");
        }
        InfoResult::Continue
    }
}

/// Seconds since the Unix epoch, for `online_at`.
fn unix_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}
