//! `slipstream run FILE`: runs a Slipstream script (Rhai, see [`crate::script`]) without a prompt.
//! `run -` reads the script from stdin; a `#!` first line is ignored (blanked, so the lines of
//! errors stay right), so `#!/usr/bin/env -S slipstream run` scripts work.
//!
//! Exit codes: 0 when the script finishes; 1 when an assertion or an await fails (or any other
//! runtime error); 2 for usage and connection errors: a bad URL (rejected before the script
//! starts), a bad `--timeout`, a refused connection, a file that cannot be read, a syntax error.
//! A failure is reported on stderr with the script line, what was expected and what was
//! received, and a `hint:` line when there is advice (the signatures of a function called
//! wrongly, "did you mean …?", an Elixir habit); a syntax error names the line the fix goes on
//! (see [`crate::script::error`]).
//!
//! When a socket's mailbox overflowed (the script left more server pushes unconsumed than
//! `--mailbox-capacity`), one line on stderr at the end says how many pushes were dropped.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use clap::Args;
use tracing_subscriber::EnvFilter;

use slipstream_client::DEFAULT_MAILBOX_CAPACITY;

use crate::script::{Session, SessionOptions};

/// The URL scripts connect to unless told otherwise.
pub const DEFAULT_URL: &str = "ws://localhost:4000/socket/websocket";

/// Options of `slipstream run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// The script to run (Rhai); `-` reads it from stdin.
    file: PathBuf,

    /// The websocket URL that `connect()` and `socket()` use when given none.
    #[arg(long, default_value = DEFAULT_URL)]
    url: String,

    /// Start the embedded demo server on a free local port and use it instead of --url.
    #[arg(long, conflicts_with = "url")]
    demo: bool,

    /// How long each await waits, until the script calls set_timeout(ms) (0.001 to 86400).
    #[arg(long, value_name = "SECONDS", default_value = "5", value_parser = super::timeout_seconds)]
    timeout: std::time::Duration,

    /// How many unconsumed server pushes each socket keeps; further ones are dropped (replies,
    /// joins and other lifecycle events never are).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAILBOX_CAPACITY, value_parser = mailbox_capacity)]
    mailbox_capacity: usize,
    /// How sockets reach the server: websocket, or long-poll (phoenix.js's fallback; the same
    /// URL, its path's `websocket` becoming `longpoll`).
    #[arg(long, value_enum, default_value_t = super::TransportArg::Websocket)]
    transport: super::TransportArg,
}

/// Parses `--mailbox-capacity`: a whole number, at least 1.
pub(crate) fn mailbox_capacity(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("the mailbox must hold at least 1 event".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("not a number of events: {e}")),
    }
}

/// The line that says a session's sockets dropped `dropped` server pushes (`None` for none).
pub(crate) fn dropped_note(dropped: u64, capacity: usize) -> Option<String> {
    (dropped > 0).then(|| {
        let pushes = if dropped == 1 { "push" } else { "pushes" };
        format!(
            "dropped {dropped} server {pushes}: the mailbox holds {capacity} events; \
             raise it with --mailbox-capacity"
        )
    })
}

/// Runs the script and says how it went as an exit code.
pub fn run(args: RunArgs) -> ExitCode {
    init_logging();
    let timeout = args.timeout;
    let from_stdin = args.file.as_os_str() == "-";
    let name = if from_stdin {
        "<stdin>".to_owned()
    } else {
        args.file.display().to_string()
    };
    let read = if from_stdin {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(&args.file)
    };
    let source = match read {
        Ok(source) => without_shebang(source),
        Err(e) => {
            eprintln!("error: cannot read {name}: {e}");
            return ExitCode::from(super::EXIT_USAGE);
        }
    };
    if !args.demo
        && let Err(e) = super::check_url(&args.url)
    {
        eprintln!("error: {e:#}");
        return ExitCode::from(e.exit_code());
    }
    let demo = match args.demo.then(super::start_demo).transpose() {
        Ok(demo) => demo,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(super::EXIT_USAGE);
        }
    };
    let url = demo.as_ref().map_or(args.url, |server| server.ws_url());
    let mut session = Session::new(SessionOptions {
        url,
        timeout,
        cancel: Arc::new(AtomicBool::new(false)),
        print: Box::new(|text| println!("{text}")),
        on_socket: None,
        on_join: None,
        mailbox_capacity: args.mailbox_capacity,
        transport: args.transport.to_client(),
    });
    let outcome = session.run(&source);
    let dropped = dropped_note(session.dropped_events(), args.mailbox_capacity);
    session.shutdown();
    let code = match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{}", error.report(&name, &source));
            ExitCode::from(error.exit_code())
        }
    };
    if let Some(note) = dropped {
        eprintln!("{note}");
    }
    code
}

/// The script with a `#!` first line blanked (kept as an empty line, so line numbers stay).
fn without_shebang(source: String) -> String {
    if !source.starts_with("#!") {
        return source;
    }
    match source.find('\n') {
        Some(end) => source[end..].to_owned(),
        None => String::new(),
    }
}

/// Logs go to stderr: warnings, unless `RUST_LOG` says otherwise. The client's own warnings
/// (a refused join, a failed connect) are left out: the script's failure report says the same.
pub(crate) fn init_logging() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("warn,slipstream_client=error")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::without_shebang;

    #[test]
    fn a_shebang_line_is_blanked_not_removed() {
        assert_eq!(
            without_shebang("#!/usr/bin/env -S slipstream run\nprint(1);\n".into()),
            "\nprint(1);\n"
        );
        assert_eq!(without_shebang("#!only".into()), "");
        assert_eq!(without_shebang("print(1);\n".into()), "print(1);\n");
    }
}
