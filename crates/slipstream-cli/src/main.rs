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
    /// Run the demo Phoenix-compatible server (DEMO_SERVER.md).
    Serve(cmd::serve::ServeArgs),
    /// Walk through Slipstream's scripting guide, one blocking call at a time.
    Tour(cmd::tour::TourArgs),
    /// Run a Slipstream script (Rhai) against a server: exit 0 when it finishes, 1 when an
    /// assertion or await fails, 2 for usage and connection errors (see `slipstream --help`).
    Run(cmd::run::RunArgs),
    /// An interactive shell (REPL) for Phoenix Channels, in the script language of `run`.
    Shell(cmd::shell::ShellArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => cmd::serve::run(args),
        Command::Tour(args) => cmd::tour::run(args),
        Command::Shell(args) => cmd::shell::run(args),
        Command::Run(args) => return cmd::run::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // The chain of causes on one line, as ripgrep and hyperfine print theirs; never a
            // backtrace, even with RUST_BACKTRACE set (that is for panics).
            eprintln!("error: {error:#}");
            ExitCode::from(error.exit_code())
        }
    }
}
