//! `slipstream`: the command-line tool. Each subcommand lives in its own module under `cmd/`.

mod cmd;
mod display;

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
    /// Walk through Slipstream's scripting guide, one blocking call at a time.
    Tour(cmd::tour::TourArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => cmd::serve::run(args),
        Command::Tour(args) => cmd::tour::run(args),
    }
}
