//! `slipstream`: the command-line tool. Each subcommand lives in its own module under `cmd/`.

mod cmd;
mod display;
mod script;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Slipstream: a toolkit for Phoenix Channels.
#[derive(Parser)]
#[command(name = "slipstream", version, about, after_help = cmd::EXIT_CODES_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The subcommands.
#[derive(Subcommand)]
enum Command {
    /// Run the demo Phoenix-compatible server (docs/demo-server.md).
    Serve(cmd::serve::ServeArgs),
    /// Walk through Slipstream's scripting guide, one blocking call at a time.
    Tour(cmd::tour::TourArgs),
    /// Run a Slipstream script (Rhai) against a server: exit 0 when it finishes, 1 when an
    /// assertion or await fails, 2 for usage and connection errors (see `slipstream --help`).
    Run(cmd::run::RunArgs),
    /// An interactive shell (REPL) for Phoenix Channels, in the script language of `run`.
    Shell(cmd::shell::ShellArgs),
    /// Join a topic, push one event and print the reply: a one-shot, with no script to write.
    ///
    /// Exits 0 for an ok reply, 1 for another status or no reply within --timeout. A first argument with `://` is the URL (or give --url; default
    /// ws://localhost:4000/socket/websocket). The reply is printed as `STATUS RESPONSE` on a
    /// terminal, as one JSON object {"status":…,"response":…} when stdout is not a terminal or
    /// with --json. Bad JSON is refused before connecting.
    #[command(
        override_usage = "slipstream push [OPTIONS] [URL] TOPIC EVENT [JSON]",
        after_help = PUSH_HELP,
        mut_arg("timeout", |a| a.help(
            "How long to wait for the connection, for the join and for the reply (0.001 to 86400)"
        ))
    )]
    Push(cmd::push::PushArgs),
    /// Join topics and print every message that arrives on them (JSON lines when piped).
    ///
    /// Runs until Ctrl-C (exit 130), --count messages, --duration, or the server closes every
    /// topic. A first argument with `://` is the URL (or give --url; default
    /// ws://localhost:4000/socket/websocket). Each message is printed as `TOPIC EVENT PAYLOAD`
    /// on a terminal, as one JSON object a line {"topic":…,"event":…,"payload":…} when stdout is
    /// not a terminal or with --json. Joins, refused joins, disconnects, reconnects and rejoins
    /// (the client reconnects and rejoins by itself) are reported on stderr.
    #[command(
        override_usage = "slipstream listen [OPTIONS] [URL] TOPIC...",
        after_help = LISTEN_HELP,
        mut_arg("timeout", |a| a.help(
            "How long to wait for the connection and for each join (0.001 to 86400)"
        )),
        mut_arg("params", |a| a.help("The params of every join, as JSON"))
    )]
    Listen(cmd::listen::ListenArgs),
    /// Load-test a Phoenix server: virtual users run a scenario along a load shape; a live
    /// display, a summary, thresholds for CI, JSON results and an HTML report.
    #[command(after_help = cmd::bench::BENCH_HELP)]
    Bench(Box<cmd::bench::BenchArgs>),
}

const PUSH_HELP: &str = "\
Arguments:
  [URL]   the websocket URL, when the first argument has :// (the same as --url)
  TOPIC   the topic to join, e.g. rooms:lobby
  EVENT   the event to push, e.g. ping
  [JSON]  the payload, {} when not given; - reads it from stdin

Examples:
  slipstream push --demo rooms:lobby ping '{}'          ok {\"pong\":\"pong\"}
  slipstream push ws://localhost:4000/socket rooms:lobby echo '{\"a\":1}'
  slipstream push --url wss://example.com/socket rooms:42 new_msg - < message.json
  slipstream push --params '{\"token\":\"abc\"}' rooms:private ping | jq .response
  slipstream push --no-reply rooms:lobby broadcast '{\"text\":\"hi\"}'

Exit codes: 0 ok reply (or, with --no-reply, the server has the push); 1 a reply with
another status, no reply within --timeout, a refused join; 2 usage error, bad JSON, could
not connect; 130 Ctrl-C.";

const LISTEN_HELP: &str = "\
Arguments:
  [URL]     the websocket URL, when the first argument has :// (the same as --url)
  TOPIC...  the topics to join, e.g. rooms:lobby rooms:other

Examples:
  slipstream listen --demo rooms:lobby
  slipstream listen ws://localhost:4000/socket rooms:lobby rooms:other
  slipstream listen rooms:lobby --count 1 --duration 10 | jq .payload
  slipstream listen rooms:lobby > messages.jsonl     (JSON lines; Ctrl-C stops)

Exit codes: 0 --count messages came, or --duration ran out (without --count), or the
server closed every topic (without --count); 1 no topic could be joined, or --count was
not reached in time; 2 usage error, could not connect; 130 Ctrl-C.";

fn main() -> ExitCode {
    let cli = Cli::parse();
    let success = |()| ExitCode::SUCCESS;
    let result = match cli.command {
        Command::Serve(args) => cmd::serve::run(args).map(success),
        Command::Tour(args) => cmd::tour::run(args).map(success),
        Command::Shell(args) => cmd::shell::run(args).map(success),
        Command::Push(args) => cmd::push::run(args),
        Command::Listen(args) => cmd::listen::run(args),
        Command::Run(args) => return cmd::run::run(args),
        Command::Bench(args) => return cmd::bench::run(*args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            // The chain of causes on one line, as ripgrep and hyperfine print theirs; never a
            // backtrace, even with RUST_BACKTRACE set (that is for panics).
            eprintln!("error: {error:#}");
            ExitCode::from(error.exit_code())
        }
    }
}
