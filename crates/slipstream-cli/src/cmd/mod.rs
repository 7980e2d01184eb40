//! One module per subcommand.

pub mod bench;
pub mod bench_report;
pub mod listen;
pub mod oneshot;
pub mod push;
pub mod run;
pub mod serve;
pub mod shell;
pub mod tour;

/// Exit code: the script or the tour failed (an assertion, an await that failed or timed out,
/// a runtime error).
pub(crate) const EXIT_FAILED: u8 = 1;
/// Exit code: a usage error (bad flag, bad URL, bad `--timeout`, unreadable script, syntax
/// error), or the command could not connect or do its I/O.
pub(crate) const EXIT_USAGE: u8 = 2;
/// Exit code: Ctrl-C stopped the command (128 + SIGINT, as shells report it).
pub(crate) const EXIT_INTERRUPTED: u8 = 130;

/// The exit codes, once, for `slipstream --help` (README.md's CLI section has the same table).
pub(crate) const EXIT_CODES_HELP: &str = "\
Exit codes (tour, run, shell, push, listen; serve uses 0 and 2):
  0    done: the script or the tour finished, the shell reached end of input, push got an
       ok reply, listen got its --count messages or ran for its --duration
  1    failed: an assertion, an await that failed or timed out, a runtime error; push got
       a reply with another status or none in time; a join was refused
  2    usage error (bad flag, bad URL, bad --timeout, bad JSON argument, unreadable script,
       syntax error), or could not connect (refused, no server, bind failed)
  130  interrupted by Ctrl-C (run, push, listen)
A piped shell exits with the code of its first failed entry (1, or 2 for a syntax, usage or
connection error); an interactive shell exits 0. bench: 0 passed, 1 a threshold failed or
users were not reached, 2 usage or no user could connect, 130 Ctrl-C (see bench --help).";

/// Why a subcommand stopped, and so its exit code.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    /// A bad flag value or URL, named in the message: exit 2.
    #[error("{0}")]
    Usage(String),
    /// Could not connect, bind or do I/O: exit 2.
    #[error(transparent)]
    Connection(anyhow::Error),
    /// The tour (or another check) failed: exit 1.
    #[error(transparent)]
    Failed(anyhow::Error),
}

impl CliError {
    /// The exit code of the scheme in [`EXIT_CODES_HELP`].
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) | CliError::Connection(_) => EXIT_USAGE,
            CliError::Failed(_) => EXIT_FAILED,
        }
    }
}

/// The shortest `--timeout` honoured, in seconds (one millisecond: awaits count in ms).
pub(crate) const MIN_TIMEOUT_SECS: f64 = 0.001;
/// The longest `--timeout` honoured, in seconds (one day).
pub(crate) const MAX_TIMEOUT_SECS: f64 = 86_400.0;

/// Parses `--timeout SECONDS`: a number from [`MIN_TIMEOUT_SECS`] to [`MAX_TIMEOUT_SECS`].
/// `--transport`: how `tour`, `run` and `shell` reach the server.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum TransportArg {
    /// One websocket (`…/socket/websocket`), as phoenix.js by default.
    #[default]
    Websocket,
    /// HTTP long-poll (`…/socket/longpoll`), phoenix.js's fallback.
    Longpoll,
}

impl TransportArg {
    /// The client's transport.
    pub(crate) fn to_client(self) -> slipstream_client::Transport {
        match self {
            TransportArg::Websocket => slipstream_client::Transport::WebSocket,
            TransportArg::Longpoll => slipstream_client::Transport::LongPoll,
        }
    }
}

pub(crate) fn timeout_seconds(text: &str) -> Result<std::time::Duration, String> {
    let bounds = || format!("must be from {MIN_TIMEOUT_SECS} to {MAX_TIMEOUT_SECS} seconds");
    let seconds: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("not a number of seconds; the timeout {}", bounds()))?;
    if !(MIN_TIMEOUT_SECS..=MAX_TIMEOUT_SECS).contains(&seconds) {
        return Err(format!("the timeout {}", bounds()));
    }
    std::time::Duration::try_from_secs_f64(seconds).map_err(|_| format!("the timeout {}", bounds()))
}

/// Rejects a socket URL the client cannot use, before anything runs: a usage error that names
/// the URL once.
pub(crate) fn check_url(url: &str) -> Result<(), CliError> {
    // Building a socket validates its URL and does not connect; the socket is dropped at once.
    match slipstream_client::blocking::Socket::new(url) {
        Ok(_) => Ok(()),
        Err(e @ slipstream_client::ConfigError::InvalidUrl { .. }) => {
            Err(CliError::Usage(e.to_string()))
        }
        Err(e) => Err(CliError::Connection(e.into())),
    }
}

/// The embedded demo server (what `slipstream serve` runs) on a free loopback port, for
/// `tour`, `run --demo` and `shell --demo`: everything works on a machine with no server.
pub(crate) fn start_demo() -> anyhow::Result<slipstream_server::BackgroundServer> {
    use anyhow::Context;
    slipstream_server::BackgroundServer::start_demo(
        ([127, 0, 0, 1], 0).into(),
        slipstream_server::ServerConfig::default(),
    )
    .context("could not start the embedded demo server")
}
