//! `slipstream push [URL] TOPIC EVENT [JSON]`: connect, join TOPIC, push EVENT with the JSON
//! payload (`{}` when none is given; `-` reads it from stdin), print the reply, and exit.
//!
//! On a terminal the reply is one line for people, its status then its response
//! (`ok {"pong":"pong"}`); otherwise (or with `--json`) one JSON object,
//! `{"status":"ok","response":{"pong":"pong"}}` (a binary response goes under `binary` as a list
//! of bytes). With `--no-reply` nothing is awaited but the proof that the server has the push
//! (see [`push`]).
//!
//! Exit codes, the scheme of `slipstream --help`: 0 for an `ok` reply (or a delivered
//! `--no-reply` push); 1 for a reply with another status, no reply within `--timeout`, a refused
//! join; 2 for usage errors (arguments, bad JSON, checked before connecting) and a failed
//! connection; 130 for Ctrl-C.

use std::process::ExitCode;

use anyhow::anyhow;
use clap::Args;
use slipstream_client::{Payload, ReplyError, Socket};

use super::CliError;
use super::oneshot::{self, Connection, Ended, Out};

/// Options of `slipstream push`.
#[derive(Args, Debug)]
pub struct PushArgs {
    /// `[URL] TOPIC EVENT [JSON]`: a first argument with `://` is the URL; the JSON payload
    /// defaults to {}, and `-` reads it from stdin.
    #[arg(value_name = "ARGS", hide = true, allow_negative_numbers = true)]
    args: Vec<String>,

    #[command(flatten)]
    connection: Connection,

    /// Do not wait for a reply: push, make sure the server has read the push (the topic is left
    /// after it, and the server answers the leave once it has read both), exit 0.
    #[arg(long)]
    no_reply: bool,
}

/// What to push, from the positional arguments.
struct Request {
    topic: String,
    event: String,
    payload: Payload,
}

/// Runs the command.
pub fn run(args: PushArgs) -> Result<ExitCode, CliError> {
    let (url, rest) = oneshot::split_url(args.args);
    let request = match rest.as_slice() {
        [topic, event] => Request {
            topic: topic.clone(),
            event: event.clone(),
            payload: Payload::empty(),
        },
        [topic, event, json] => Request {
            topic: topic.clone(),
            event: event.clone(),
            payload: oneshot::json_argument("JSON argument", json)?,
        },
        _ => {
            return Err(CliError::Usage(format!(
                "push takes [URL] TOPIC EVENT [JSON]; got {}{}",
                oneshot::listed(&rest),
                match &url {
                    Some(url) => format!(" after the URL {url}"),
                    None if rest.len() == 4 => {
                        "; is the first one a URL? it needs its scheme, e.g. ws://".into()
                    }
                    None => String::new(),
                }
            )));
        }
    };
    let params = args.connection.join_params()?;
    let json = args.connection.json_output();
    let timeout = args.connection.timeout;
    let no_reply = args.no_reply;
    let oneshot = oneshot::Oneshot::start(url, &args.connection)?;
    let ended = oneshot.run(async |socket: &Socket, url: &str| {
        oneshot::connect(socket, url, timeout).await?;
        oneshot::join(socket, &request.topic, params, timeout)
            .await
            .map_err(|e| CliError::Failed(anyhow!(e)))?;
        if no_reply {
            push_no_reply(socket, &request, timeout).await
        } else {
            push(socket, &request, timeout, json).await
        }
    })?;
    Ok(match ended {
        Ended::Done(code) => code,
        Ended::Interrupted => oneshot::interrupted(),
    })
}

/// Pushes and prints the reply: exit 0 when its status is `ok`, 1 for any other status.
async fn push(
    socket: &Socket,
    request: &Request,
    timeout: std::time::Duration,
    json: bool,
) -> Result<ExitCode, CliError> {
    let Request {
        topic,
        event,
        payload,
    } = request;
    let push_ref = socket.push_with_timeout(topic, event, payload.clone(), timeout);
    let reply = match socket.await_reply(&push_ref, Some(timeout)).await {
        Ok(reply) => reply,
        Err(ReplyError::Timeout | ReplyError::PushTimeout(_)) => {
            return Err(CliError::Failed(anyhow!(
                "no reply to {event:?} on {topic} within {} (the server may never answer \
                 this event; --no-reply pushes without waiting)",
                oneshot::seconds(timeout)
            )));
        }
        Err(ReplyError::ChannelCrashed(_)) => {
            return Err(CliError::Failed(anyhow!(
                "the channel {topic} crashed on {event:?} (the server has no handler for it, \
                 or its handler failed); no reply will come"
            )));
        }
        Err(error) => {
            return Err(CliError::Failed(anyhow!(
                "no reply to {event:?} on {topic}: {error}"
            )));
        }
    };
    let line = if json {
        oneshot::reply_json(&reply.status, &reply.response)
    } else {
        format!(
            "{} {}",
            reply.status,
            crate::display::show_payload(&reply.response)
        )
    };
    if let Err(failed) = Out::new().line(&line)
        && let Some(error) = failed.into_error()
    {
        return Err(error);
    }
    Ok(if reply.status == "ok" {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(super::EXIT_FAILED)
    })
}

/// Pushes, then leaves the topic: the leave goes out after the push on the same connection, and
/// the server answers it only once it has read the push (a channel handles its messages in
/// order), so the answer to the leave proves the push arrived. Exit 0 then; 1 when no answer
/// came within `timeout`.
async fn push_no_reply(
    socket: &Socket,
    request: &Request,
    timeout: std::time::Duration,
) -> Result<ExitCode, CliError> {
    let Request {
        topic,
        event,
        payload,
    } = request;
    socket.push(topic, event, payload.clone());
    socket.leave(topic);
    match socket.await_leave(topic, Some(timeout)).await {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(error) => Err(CliError::Failed(anyhow!(
            "pushed {event:?} to {topic}, but the server did not confirm it has it: {error}"
        ))),
    }
}
