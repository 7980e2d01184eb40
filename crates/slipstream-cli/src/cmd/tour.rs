//! `slipstream tour`: Slipstream's scripting guide, one blocking call at a time.
//!
//! Without `--url` it starts the embedded demo server on a free local port and talks to it; with
//! `--url` it talks to whatever serves the demo channels there (our `slipstream serve`, or a real
//! Phoenix application). Each step prints the call and what it returned; the first failing step is
//! named and the process exits 1, or 2 when the first step (connect) fails or the URL or
//! `--timeout` is bad (the scheme of `slipstream --help`).

use std::time::Duration;

use anyhow::{Context, bail};

use super::CliError;
use clap::Args;
use serde_json::json;
use slipstream_client::blocking;
use slipstream_client::{SocketEvent, await_message};

use crate::display::{show_disconnect, show_event, show_message, show_payload, show_reply};

/// Options of `slipstream tour`.
#[derive(Args, Debug)]
pub struct TourArgs {
    /// Talk to this websocket URL instead of starting the embedded demo server,
    /// e.g. ws://localhost:4000/socket/websocket.
    #[arg(long)]
    url: Option<String>,

    /// How long each await waits for its answer (0.001 to 86400).
    #[arg(long, value_name = "SECONDS", default_value = "5", value_parser = super::timeout_seconds)]
    timeout: Duration,

    /// Walk the guide over this transport: websocket, or long-poll (phoenix.js's fallback).
    #[arg(long, value_enum, default_value_t = super::TransportArg::Websocket)]
    transport: super::TransportArg,
}

const TOPIC: &str = "rooms:lobby";

/// Runs the walkthrough.
pub fn run(args: TourArgs) -> Result<(), CliError> {
    let timeout = args.timeout;
    let embedded = match &args.url {
        Some(url) => {
            super::check_url(url)?;
            None
        }
        None => Some(super::start_demo().map_err(CliError::Connection)?),
    };
    let url = match (&args.url, &embedded) {
        (Some(url), _) => url.clone(),
        (None, Some(server)) => server.ws_url(),
        (None, None) => unreachable!("an embedded server is started when no --url is given"),
    };
    let transport = args.transport.to_client();
    let over = match args.transport {
        super::TransportArg::Websocket => String::new(),
        super::TransportArg::Longpoll => format!(", over {transport}"),
    };
    match &embedded {
        Some(_) => println!(
            "Slipstream tour: the scripting guide against the embedded demo server at {url}{over}"
        ),
        None => println!("Slipstream tour: the scripting guide against {url}{over}"),
    }
    let mut tour = Tour::default();
    let result = walk(&mut tour, &url, timeout, transport);
    if let Some(server) = embedded {
        server.stop();
    }
    // The first step is the connection: when it fails, nothing of the guide was tried.
    result.map_err(|e| match tour.done {
        0 | 1 => CliError::Connection(e),
        _ => CliError::Failed(e),
    })
}

/// The guide, step by step.
fn walk(
    tour: &mut Tour,
    url: &str,
    timeout: Duration,
    transport: slipstream_client::Transport,
) -> anyhow::Result<()> {
    let code = match transport {
        slipstream_client::Transport::LongPoll => format!(
            "let socket = blocking::Socket::from_builder(Socket::builder({url:?}).transport(Transport::LongPoll))?; socket.connect(); socket.await_connect()"
        ),
        _ => format!("let socket = blocking::connect({url:?})?; socket.await_connect()"),
    };
    let socket = tour.step(
        "connect",
        "connect asks for a connection and returns at once; await_connect blocks until it is up.",
        &code,
        || {
            let builder = slipstream_client::Socket::builder(url).transport(transport);
            let socket = blocking::Socket::from_builder(builder)?.with_timeout(timeout);
            socket.connect();
            socket
                .await_connect()
                .map_err(|e| crate::script::hints::tour_connect_error(e, url))?;
            anyhow::Ok(socket)
        },
        |_| format!("connected to {url} over {transport}"),
    )?;

    tour.step(
        "join",
        "join is a request too; await_join waits for the channel's answer.",
        &format!(
            "socket.join({TOPIC:?}, json!({{\"fizz\": \"buzz\"}})); socket.await_join({TOPIC:?})"
        ),
        || {
            socket.join(TOPIC, json!({"fizz": "buzz"}));
            Ok(socket.await_join(TOPIC)?)
        },
        |response| format!("joined {TOPIC}, response {}", show_payload(response)),
    )?;

    tour.step(
        "push without a reply",
        "push returns the request's ref at once; the \"quicksand\" handler swallows the push and never replies.",
        &format!("socket.push({TOPIC:?}, \"quicksand\", json!({{\"a\": \"b\"}}))"),
        || anyhow::Ok(socket.push(TOPIC, "quicksand", json!({"a": "b"}))),
        |push_ref| format!("{:?}", push_ref.to_string()),
    )?;

    tour.step(
        "push and await the reply",
        "await_reply uses the ref that push returned to find the reply to that push.",
        &format!("let r = socket.push({TOPIC:?}, \"ping\", json!({{}})); socket.await_reply(&r)"),
        || {
            let push_ref = socket.push(TOPIC, "ping", json!({}));
            Ok(socket.await_reply(&push_ref)?)
        },
        show_reply,
    )?;

    tour.step(
        "a server push lands in the mailbox",
        "\"push to me\" makes the channel push event \"foo\" to us; flush shows what arrived.",
        &format!("socket.push({TOPIC:?}, \"push to me\", json!({{}})); socket.flush()"),
        || {
            socket.push(TOPIC, "push to me", json!({}));
            // Like typing `flush` in IEx once the message is there: wait for it, then drain.
            let mut events = vec![socket.next_event()?];
            events.extend(socket.flush());
            if !events
                .iter()
                .any(|e| matches!(e, SocketEvent::Message(m) if m.event == "foo"))
            {
                let got: Vec<String> = events
                    .iter()
                    .map(|e| format!("\n  {}", show_event(e)))
                    .collect();
                bail!("expected the server push \"foo\", got:{}", got.concat());
            }
            Ok(events)
        },
        |events| events.iter().map(show_event).collect::<Vec<_>>().join("\n"),
    )?;

    tour.step(
        "await a message by pattern",
        "await_message! takes patterns for topic, event and payload and waits for the first message that matches.",
        &format!(
            "socket.push({TOPIC:?}, \"push to me\", json!({{}})); await_message!(socket, {TOPIC:?}, \"foo\", {{\"bar\": \"baz\"}})"
        ),
        || {
            socket.push(TOPIC, "push to me", json!({}));
            Ok(await_message!(socket, TOPIC, "foo", {"bar": "baz"})?)
        },
        show_message,
    )?;

    tour.step(
        "await any message",
        "_ matches anything, so this takes whatever message comes first.",
        &format!(
            "socket.push({TOPIC:?}, \"push to me\", json!({{}})); await_message!(socket, _, _, _)"
        ),
        || {
            socket.push(TOPIC, "push to me", json!({}));
            Ok(await_message!(socket, _, _, _)?)
        },
        show_message,
    )?;

    tour.step(
        "leave",
        "leave asks the channel to close; await_leave waits until it has.",
        &format!("socket.leave({TOPIC:?}); socket.await_leave({TOPIC:?})"),
        || {
            socket.leave(TOPIC);
            Ok(socket.await_leave(TOPIC)?)
        },
        |()| format!("left {TOPIC}"),
    )?;

    tour.step(
        "disconnect",
        "disconnect ends the connection; await_disconnect waits for it to be closed.",
        "socket.disconnect(); socket.await_disconnect()",
        || {
            socket.disconnect();
            Ok(socket.await_disconnect()?)
        },
        |reason| format!("disconnected: {}", show_disconnect(reason)),
    )?;

    println!("\nThe tour is over: every step of the guide worked.");
    Ok(())
}

/// Numbers the steps and prints each call and its result.
#[derive(Default)]
struct Tour {
    done: usize,
}

impl Tour {
    fn step<T>(
        &mut self,
        title: &str,
        explanation: &str,
        call: &str,
        action: impl FnOnce() -> anyhow::Result<T>,
        show: impl FnOnce(&T) -> String,
    ) -> anyhow::Result<T> {
        self.done += 1;
        println!("\n{}. {title}\n   {explanation}", self.done);
        println!("> {call}");
        let value = action().with_context(|| format!("step {} ({title}) failed", self.done))?;
        for line in show(&value).lines() {
            println!("  {line}");
        }
        Ok(value)
    }
}
