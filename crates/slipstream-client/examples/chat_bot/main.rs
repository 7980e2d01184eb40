//! A chat bot on the callback client: joins `rooms:lobby`, answers every ping-like message with a
//! pong, and logs who is online in `presence:lobby`.
//!
//! ```text
//! cargo run -p slipstream-client --example chat_bot [-- ws://localhost:4000/socket/websocket]
//! ```
//!
//! Try it against `slipstream serve`: from another client, push `broadcast` with
//! `{"body": "ping"}` on `rooms:lobby`. Ctrl-C makes it say bye, print how many pings it
//! answered and who was online, and stop.

mod bot;

use slipstream_client::Socket;
use slipstream_client::callback::{self, StopReason};
use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

const DEFAULT_URL: &str = "ws://localhost:4000/socket/websocket";

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| DEFAULT_URL.to_owned());
    let (handle, task) = match callback::spawn(bot::ChatBot::new("bot"), Socket::builder(url)) {
        Ok(started) => started,
        Err(error) => {
            eprintln!("chat_bot: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let stopper = handle.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            // Say goodbye and report, through the handle, before stopping.
            let _ = stopper.info(bot::BotInfo::Say("bye".into()));
            if let Ok(bot::BotAnswer::Pongs(n)) = stopper.call(bot::BotCall::Pongs).await {
                println!("answered {n} pings");
            }
            if let Ok(bot::BotAnswer::Online(who)) = stopper.call(bot::BotCall::Online).await {
                println!("online at the end: {who:?}");
            }
            stopper.stop();
        }
    });
    match task.await {
        Ok(StopReason::Stopped) => std::process::ExitCode::SUCCESS,
        Ok(reason) => {
            eprintln!("chat_bot stopped: {reason:?}");
            std::process::ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("chat_bot: the bot task failed: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
