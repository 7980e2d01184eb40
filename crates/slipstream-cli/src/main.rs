//! `slipstream`: the command-line tool. Each subcommand lives in its own module under `cmd/`.

mod cmd;

use clap::{Parser, Subcommand};

/// Slipstream: a toolkit for Phoenix Channels.
#[derive(Parser)]
#[command(name = "slipstream", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The subcommands.
#[derive(Subcommand)]
enum Command {
    /// Run the demo Phoenix-compatible server (DEMO_SERVER.md).
    Serve(cmd::serve::ServeArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => cmd::serve::run(args),
    }
}
