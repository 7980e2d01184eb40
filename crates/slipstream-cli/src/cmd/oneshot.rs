//! What `slipstream push` and `slipstream listen` share: the connection options, telling a URL
//! argument from a topic, JSON arguments, the socket they use, Ctrl-C, and how payloads are
//! written (a line for people on a terminal, one JSON object a line otherwise).
//!
//! Both run the async client on a runtime of their own: the command's body races Ctrl-C (exit
//! 130), and the socket is closed politely however the body ended.

use std::future::Future;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::anyhow;
use clap::Args;
use slipstream_client::{ConnectError, Payload, Socket};

use super::CliError;

/// The options `push` and `listen` share: where to connect, how long to wait, the join params
/// and the output format.
#[derive(Args, Debug)]
pub struct Connection {
    /// The websocket URL, the same as a URL first argument
    /// [default: ws://localhost:4000/socket/websocket].
    #[arg(long = "url", value_name = "URL")]
    pub url_flag: Option<String>,

    /// Start the embedded demo server on a free local port and talk to it instead.
    #[arg(long, conflicts_with = "url_flag")]
    pub demo: bool,

    /// How long each wait lasts: for the connection, for each join, and (push) for the reply
    /// (0.001 to 86400).
    #[arg(long, value_name = "SECONDS", default_value = "5", value_parser = super::timeout_seconds)]
    pub timeout: Duration,

    /// The join's params, as JSON.
    #[arg(long, value_name = "JSON", default_value = "{}")]
    pub params: String,

    /// Print one JSON object a line even on a terminal (the default when stdout is not one).
    #[arg(long)]
    pub json: bool,
}

impl Connection {
    /// Whether to print JSON lines: asked for, or stdout is not a terminal.
    pub fn json_output(&self) -> bool {
        self.json || !std::io::stdout().is_terminal()
    }

    /// The join params, checked: a usage error naming `--params` when they are not JSON.
    pub fn join_params(&self) -> Result<Payload, CliError> {
        json_text("--params", &self.params)
    }
}

/// Splits the positional arguments into the URL (the first one, when it has `://`) and the rest.
pub fn split_url(mut args: Vec<String>) -> (Option<String>, Vec<String>) {
    if args.first().is_some_and(|first| first.contains("://")) {
        let url = args.remove(0);
        (Some(url), args)
    } else {
        (None, args)
    }
}

/// The arguments given, for a usage error: `no arguments`, `1 argument (x)`, `5 arguments (a b…)`.
pub fn listed(args: &[String]) -> String {
    match args.len() {
        0 => "no arguments".into(),
        1 => format!("1 argument ({})", args[0]),
        n => format!("{n} arguments ({})", args.join(" ")),
    }
}

/// The URL to talk to: the URL argument or `--url` (the same one if both are given), else the
/// default; `None` with `--demo`, which brings its own.
fn chosen_url(
    positional: Option<String>,
    options: &Connection,
) -> Result<Option<String>, CliError> {
    match (positional, &options.url_flag) {
        (Some(url), _) if options.demo => Err(CliError::Usage(format!(
            "--demo talks to the embedded server; drop the URL {url}, or drop --demo"
        ))),
        (Some(positional), Some(flag)) if &positional != flag => Err(CliError::Usage(format!(
            "two different URLs: {positional} and --url {flag}; give one"
        ))),
        (Some(url), _) => Ok(Some(url)),
        (None, Some(url)) => Ok(Some(url.clone())),
        (None, None) if options.demo => Ok(None),
        (None, None) => Ok(Some(super::run::DEFAULT_URL.to_owned())),
    }
}

/// A JSON argument as a payload; `-` reads it from stdin. Invalid JSON is a usage error that
/// names the argument.
pub fn json_argument(name: &str, text: &str) -> Result<Payload, CliError> {
    if text == "-" {
        let read = std::io::read_to_string(std::io::stdin())
            .map_err(|e| CliError::Usage(format!("cannot read the {name} from stdin: {e}")))?;
        return json_text(&format!("{name} (read from stdin)"), &read);
    }
    json_text(name, text)
}

fn json_text(name: &str, text: &str) -> Result<Payload, CliError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(CliError::Usage(format!(
            "the {name} is empty; give JSON, e.g. {{}}"
        )));
    }
    Payload::from_json_str(trimmed).map_err(|e| {
        CliError::Usage(format!(
            "the {name} is not valid JSON: {e}; got {}",
            shorten(trimmed)
        ))
    })
}

/// `text` quoted, cut to a length that fits an error line.
fn shorten(text: &str) -> String {
    const MAX: usize = 60;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{:?}…", &text[..cut]),
        None => format!("{text:?}"),
    }
}

/// Seconds as people write them: `5`, `0.5`.
pub fn seconds(duration: Duration) -> String {
    format!("{} s", duration.as_secs_f64())
}

/// Where a one-shot command runs: its runtime, the embedded demo server if asked for, the URL.
pub struct Oneshot {
    runtime: Option<tokio::runtime::Runtime>,
    demo: Option<slipstream_server::BackgroundServer>,
    url: String,
    timeout: Duration,
}

/// How a one-shot body ended.
pub enum Ended<T> {
    /// It ran to its end.
    Done(T),
    /// Ctrl-C stopped it (exit 130).
    Interrupted,
}

impl Oneshot {
    /// Checks the URL (before anything connects), starts the demo server when asked, and the
    /// runtime the socket runs on.
    pub fn start(positional_url: Option<String>, options: &Connection) -> Result<Self, CliError> {
        let url = chosen_url(positional_url, options)?;
        if let Some(url) = &url {
            super::check_url(url)?;
        }
        super::run::init_logging();
        let (url, demo) = match url {
            Some(url) => (url, None),
            None => {
                let server = super::start_demo().map_err(CliError::Connection)?;
                (server.ws_url(), Some(server))
            }
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("slipstream-oneshot")
            .enable_all()
            .build()
            .map_err(|e| CliError::Connection(anyhow!("cannot start the runtime: {e}")))?;
        Ok(Oneshot {
            runtime: Some(runtime),
            demo,
            url,
            timeout: options.timeout,
        })
    }

    /// The embedded demo server's URL, when `--demo` started one.
    pub fn demo_url(&self) -> Option<&str> {
        self.demo.as_ref().map(|_| self.url.as_str())
    }

    /// Builds the socket, runs `body` with it until it ends or Ctrl-C comes, then closes the
    /// socket (waiting a moment at most for the close to go out).
    pub fn run<T>(
        &self,
        body: impl AsyncFnOnce(&Socket, &str) -> Result<T, CliError>,
    ) -> Result<Ended<T>, CliError> {
        let runtime = self.runtime.as_ref().expect("the runtime lives until drop");
        runtime.block_on(async {
            let interrupt = interrupt_signal()
                .map_err(|e| CliError::Connection(anyhow!("cannot watch for Ctrl-C: {e}")))?;
            let socket = Socket::builder(self.url.as_str())
                .await_timeout(self.timeout)
                .push_timeout(self.timeout)
                .upgrade_timeout(self.timeout)
                .build()
                .map_err(|e| CliError::Usage(e.to_string()))?;
            let ended = tokio::select! {
                result = body(&socket, &self.url) => result.map(Ended::Done),
                () = interrupt => Ok(Ended::Interrupted),
            };
            if socket.is_connected() {
                socket.disconnect();
                let pause = Duration::from_secs(1);
                let _ = tokio::time::timeout(pause, socket.await_disconnect(Some(pause))).await;
            }
            ended
        })
    }
}

impl Drop for Oneshot {
    fn drop(&mut self) {
        // Never wait on what is left (a DNS lookup on a blocking thread, say).
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
        if let Some(server) = self.demo.take() {
            server.stop();
        }
    }
}

/// The exit code for an interrupted command (Ctrl-C), as `run` uses.
pub fn interrupted() -> ExitCode {
    ExitCode::from(super::EXIT_INTERRUPTED)
}

/// Ctrl-C, caught from now on (the handler is installed when this returns, not when the future
/// is first polled).
#[cfg(unix)]
fn interrupt_signal() -> std::io::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        int.recv().await;
    })
}

#[cfg(not(unix))]
fn interrupt_signal() -> std::io::Result<impl Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

/// Connects, or says why not (a connection error: exit 2).
pub async fn connect(socket: &Socket, url: &str, timeout: Duration) -> Result<(), CliError> {
    socket.connect();
    match socket.await_connect(Some(timeout)).await {
        Ok(()) => Ok(()),
        Err(ConnectError::Timeout) => Err(CliError::Connection(anyhow!(
            "could not connect to {url}: no answer within {}",
            seconds(timeout)
        ))),
        Err(error) => {
            // The same advice as `tour`, `run` and `shell` give, on a line of its own.
            let hint = crate::script::hints::connect_hint(&error, url)
                .map(|hint| format!("\nhint: {hint}"))
                .unwrap_or_default();
            Err(CliError::Connection(anyhow!(
                "could not connect to {url}: {error}{hint}"
            )))
        }
    }
}

/// Joins `topic` with `params`: the server's response, or why the join failed (in words, with
/// the server's payload for a refusal).
pub async fn join(
    socket: &Socket,
    topic: &str,
    params: Payload,
    timeout: Duration,
) -> Result<Payload, String> {
    socket.join(topic, params);
    await_join(socket, topic, timeout).await
}

/// Waits for the answer to a join already asked for.
pub async fn await_join(
    socket: &Socket,
    topic: &str,
    timeout: Duration,
) -> Result<Payload, String> {
    use slipstream_client::JoinError;
    match socket.await_join(topic, Some(timeout)).await {
        Ok(response) => Ok(response),
        Err(JoinError::Rejected { status, response }) => {
            let shown = crate::display::show_payload(&response);
            Err(if status == "error" {
                format!("{topic} refused the join: {shown}")
            } else {
                format!("{topic} refused the join with status {status:?}: {shown}")
            })
        }
        Err(JoinError::Timeout | JoinError::NoReply) => Err(format!(
            "{topic}: the join got no answer within {}",
            seconds(timeout)
        )),
        Err(error) => Err(format!("{topic}: the join failed: {error}")),
    }
}

/// A payload as JSON for a JSON line: the key it goes under and its text. JSON is written as the
/// server sent it, on one line; a binary payload goes under `binary` as a list of byte values
/// (`{"binary":[1,2,3]}`), so that a JSON payload and bytes can never be taken for each other;
/// a reply as `{"status":…,"response":…}`.
pub fn payload_json(payload: &Payload, json_key: &'static str) -> (&'static str, String) {
    match payload {
        Payload::Json(raw) => (json_key, compact_json(raw.as_str())),
        Payload::Binary(bytes) => {
            let listed: Vec<String> = bytes.iter().map(u8::to_string).collect();
            ("binary", format!("[{}]", listed.join(",")))
        }
        Payload::Reply(reply) => (json_key, reply_json(&reply.status, &reply.response)),
    }
}

/// A reply as one JSON object: `{"status":"ok","response":{…}}`.
pub fn reply_json(status: &str, response: &Payload) -> String {
    let (key, text) = payload_json(response, "response");
    format!(
        "{{\"status\":{},{}:{text}}}",
        json_string(status),
        json_string(key)
    )
}

/// A string as a JSON string.
pub fn json_string(text: &str) -> String {
    serde_json::Value::String(text.to_owned()).to_string()
}

/// Valid JSON text on one line: whitespace outside strings removed, everything else (key order,
/// number spelling) kept as it was.
pub fn compact_json(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            out.push(c);
        }
    }
    out
}

/// Writes lines to stdout and says when the reader has gone (a closed pipe), so a command can
/// stop quietly instead of panicking as `println!` does.
pub struct Out {
    stdout: std::io::Stdout,
}

/// Why a line could not be written.
pub enum WriteFailed {
    /// The reader closed the pipe (`| head -1` has what it wanted): stop quietly.
    Closed,
    /// Any other error.
    Other(std::io::Error),
}

impl Out {
    pub fn new() -> Self {
        Out {
            stdout: std::io::stdout(),
        }
    }

    /// Writes `text` and a newline, and flushes.
    pub fn line(&mut self, text: &str) -> Result<(), WriteFailed> {
        let mut lock = self.stdout.lock();
        let written = writeln!(lock, "{text}").and_then(|()| lock.flush());
        written.map_err(|e| match e.kind() {
            std::io::ErrorKind::BrokenPipe => WriteFailed::Closed,
            _ => WriteFailed::Other(e),
        })
    }
}

impl WriteFailed {
    /// The error for a failed write that is not a closed pipe.
    pub fn into_error(self) -> Option<CliError> {
        match self {
            WriteFailed::Closed => None,
            WriteFailed::Other(e) => {
                Some(CliError::Connection(anyhow!("cannot write to stdout: {e}")))
            }
        }
    }
}

/// A line on stderr that never panics (stderr may be closed too).
pub fn note(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_the_first_argument_with_a_scheme() {
        let args = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            split_url(args(&["ws://h/socket", "rooms:lobby", "ping"])),
            (Some("ws://h/socket".into()), args(&["rooms:lobby", "ping"]))
        );
        assert_eq!(
            split_url(args(&["rooms:lobby", "ping"])),
            (None, args(&["rooms:lobby", "ping"]))
        );
        assert_eq!(split_url(vec![]), (None, vec![]));
    }

    #[test]
    fn json_is_kept_as_sent_on_one_line() {
        assert_eq!(
            compact_json("{ \"b\" : [1, 2.50],\n \"a\": \"x y \\\" z\" }"),
            r#"{"b":[1,2.50],"a":"x y \" z"}"#
        );
        let binary = Payload::binary(vec![1u8, 2, 3]);
        assert_eq!(
            payload_json(&binary, "payload"),
            ("binary", "[1,2,3]".into())
        );
        let reply = reply_json(
            "ok",
            &Payload::from_json_str(r#"{"pong": "pong"}"#).unwrap(),
        );
        assert_eq!(reply, r#"{"status":"ok","response":{"pong":"pong"}}"#);
    }

    #[test]
    fn bad_json_names_the_argument() {
        let error = json_text("JSON argument", "{oops").expect_err("refused");
        let text = error.to_string();
        assert!(
            text.starts_with("the JSON argument is not valid JSON: "),
            "{text}"
        );
        assert!(text.ends_with("got \"{oops\""), "{text}");
        assert!(json_text("--params", "  ").is_err());
        assert!(json_text("--params", " [1] \n").is_ok());
    }
}
