//! A chat bot on the callback client: joins `rooms:lobby`, answers every ping-like message with a
//! pong, and logs who is online in `presence:lobby`.
//!
//! ```text
//! cargo run -p slipstream-client --example chat_bot [-- ws://localhost:4000/socket/websocket]
//! ```
//!
//! Try it against `slipstream serve`: from another client, push `broadcast` with
//! `{"body": "ping"}` on `rooms:lobby`. Ctrl-C makes it say bye, print how many pings it
//! answered and who was online, and stop; a second Ctrl-C ends it at once.

mod bot;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use slipstream_client::Socket;
use slipstream_client::callback::{self, ClientHandle, StopReason};
use tracing_subscriber::EnvFilter;

const DEFAULT_URL: &str = "ws://localhost:4000/socket/websocket";

/// How long the Ctrl-C report may take before the bot stops without it.
const REPORT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long the bot may take to stop after Ctrl-C before the process ends anyway.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        // A log nobody reads any more (a closed pipe) is not worth a complaint on that same pipe.
        .log_internal_errors(false)
        .init();
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| DEFAULT_URL.to_owned());
    let (handle, task) = match callback::spawn(bot::ChatBot::new("bot"), Socket::builder(url)) {
        Ok(started) => started,
        Err(error) => {
            say_on_stderr(&format!("chat_bot: {error}"));
            return ExitCode::FAILURE;
        }
    };
    tokio::spawn(on_ctrl_c(handle.clone()));
    match task.await {
        Ok(StopReason::Stopped) => ExitCode::SUCCESS,
        Ok(reason) => {
            say_on_stderr(&format!("chat_bot stopped: {reason}"));
            ExitCode::FAILURE
        }
        Err(error) => {
            say_on_stderr(&format!("chat_bot: the bot task failed: {error}"));
            ExitCode::FAILURE
        }
    }
}

/// On Ctrl-C: say goodbye, print the report, and stop, whatever becomes of the report (stdout
/// may be a pipe whose reader has gone). A second Ctrl-C, or a bot that does not stop in time,
/// ends the process at once.
async fn on_ctrl_c(bot: ClientHandle<bot::ChatBot>) {
    if tokio::signal::ctrl_c().await.is_err() {
        return;
    }
    let _ = bot.info(bot::BotInfo::Say("bye".into()));
    match tokio::time::timeout(REPORT_TIMEOUT, report(&bot)).await {
        Ok(Ok(())) => {}
        // The reader of our output has gone: nothing more to print, and nothing to say about it.
        Ok(Err(error)) if error.kind() == std::io::ErrorKind::BrokenPipe => {}
        Ok(Err(error)) => tracing::warn!(%error, "could not print the report"),
        Err(_) => tracing::warn!("the bot did not answer in time; stopping without the report"),
    }
    bot.stop();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = tokio::time::sleep(STOP_TIMEOUT) => {
            tracing::warn!("the bot did not stop in time; exiting");
        }
    }
    std::process::exit(130);
}

/// Prints how many pings the bot answered and who is online, with checked writes.
async fn report(bot: &ClientHandle<bot::ChatBot>) -> std::io::Result<()> {
    let pongs = match bot.call(bot::BotCall::Pongs).await {
        Ok(bot::BotAnswer::Pongs(n)) => Some(n),
        _ => None,
    };
    let online = match bot.call(bot::BotCall::Online).await {
        Ok(bot::BotAnswer::Online(who)) => Some(who),
        _ => None,
    };
    let mut out = std::io::stdout().lock();
    match pongs {
        Some(1) => writeln!(out, "answered 1 ping")?,
        Some(n) => writeln!(out, "answered {n} pings")?,
        None => {}
    }
    match online {
        Some(who) if who.is_empty() => writeln!(out, "online at the end: nobody")?,
        Some(who) => writeln!(out, "online at the end: {}", who.join(", "))?,
        None => {}
    }
    out.flush()
}

/// A line on stderr; a stderr that cannot be written to is ignored (there is no one to tell).
fn say_on_stderr(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}
