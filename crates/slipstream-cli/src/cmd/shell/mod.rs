//! `slipstream shell [URL | --url URL]`: a REPL for Phoenix Channels, in the script language of
//! [`crate::script`].
//!
//! With a terminal it uses rustyline: line editing, history kept between sessions
//! ([`input::history_path`]), tab completion ([`complete`]), and server pushes printed above the
//! prompt as they arrive ([`live`]). Without one (stdin a pipe) it reads lines, evaluates each
//! entry and prints results in plain text, so it can be driven by other programs and tests.
//!
//! Ctrl-C interrupts a running await, sleep or loop and returns to the prompt; Ctrl-D (end of
//! input) leaves the joined topics, closes the sockets, says so (`left rooms:lobby; closed 1
//! socket`) and exits. `help()` lists the vocabulary, `help("push")` (or `help(push)`, or just
//! `push`) explains one function.
//!
//! Errors name the line of the input they happened on (`<stdin>:12:5` when piped, `<shell>:12:5`
//! counting the lines typed), also for an entry of several lines. Piped, the shell goes on
//! after a failed entry, and exits with the first failure's code (see `slipstream --help`: 1
//! when it failed, 2 for a syntax, usage or connection error) once the input ends; an entry
//! that Ctrl-C interrupted is not a failure.
//!
//! After an entry during which server pushes were dropped (a mailbox held `--mailbox-capacity`
//! unconsumed pushes), one line on stderr says how many.

mod complete;
mod input;
mod live;
mod typeahead;

use std::io::{BufRead, IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use clap::Args;
use rhai::Dynamic;
use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::{Config, Editor};

use super::CliError;
use crate::script::{ScriptError, Session, SessionOptions, convert, help, vocabulary};
use complete::{SharedWords, ShellHelper, Words};

/// Options of `slipstream shell`.
#[derive(Args, Debug)]
pub struct ShellArgs {
    /// The websocket URL that `connect()` uses (default ws://localhost:4000/socket/websocket).
    #[arg(value_name = "URL")]
    url: Option<String>,

    /// The same as the URL argument, as `tour` and `run` take it.
    #[arg(long = "url", value_name = "URL")]
    url_flag: Option<String>,

    /// Start the embedded demo server on a free local port and use it instead of URL.
    #[arg(long, conflicts_with_all = ["url", "url_flag"])]
    demo: bool,

    /// How long each await waits, until set_timeout(ms) changes it (0.001 to 86400).
    #[arg(long, value_name = "SECONDS", default_value = "5", value_parser = super::timeout_seconds)]
    timeout: std::time::Duration,

    /// How many unconsumed server pushes each socket keeps; further ones are dropped (replies,
    /// joins and other lifecycle events never are).
    #[arg(
        long,
        value_name = "N",
        default_value_t = slipstream_client::DEFAULT_MAILBOX_CAPACITY,
        value_parser = super::run::mailbox_capacity
    )]
    mailbox_capacity: usize,
    /// How sockets reach the server: websocket, or long-poll (phoenix.js's fallback; the same
    /// URL, its path's `websocket` becoming `longpoll`).
    #[arg(long, value_enum, default_value_t = super::TransportArg::Websocket)]
    transport: super::TransportArg,
}

/// What is shared between the read loop and the rest.
struct Shell {
    session: Session,
    words: SharedWords,
    cancel: Arc<AtomicBool>,
    color: bool,
    /// Server pushes dropped as of the last entry's end (to report new drops once).
    dropped: u64,
    /// Every line read so far, each ending with a newline: what error reports quote.
    transcript: String,
    /// How many lines were read so far.
    lines_read: usize,
    /// Whether a person types the input (at a terminal).
    interactive: bool,
    /// What errors call the input: `<stdin>` or `<shell>`.
    input_name: &'static str,
    /// The first entry of piped input that failed (not counting interruptions): its line and
    /// exit code.
    first_failure: Option<(usize, u8)>,
    /// How many entries failed.
    failures: usize,
}

/// The URL `connect()` uses: the positional URL or `--url` (the same one if both are given).
fn chosen_url(args: &ShellArgs) -> Result<String, CliError> {
    match (&args.url, &args.url_flag) {
        (Some(positional), Some(flag)) if positional != flag => Err(CliError::Usage(format!(
            "two different URLs: {positional} and --url {flag}; give one"
        ))),
        (Some(url), _) | (None, Some(url)) => Ok(url.clone()),
        (None, None) => Ok(super::run::DEFAULT_URL.to_owned()),
    }
}

/// Runs the shell until end of input. Piped, an entry that failed makes it fail too, once the
/// input has ended.
pub fn run(args: ShellArgs) -> Result<(), CliError> {
    let url = chosen_url(&args)?;
    if !args.demo {
        super::check_url(&url)?;
    }
    let shell = shell(args, url).map_err(CliError::Connection)?;
    match shell.first_failure {
        None => Ok(()),
        Some((line, code)) => {
            let entries = if shell.failures == 1 {
                "an entry".to_owned()
            } else {
                format!("{} entries", shell.failures)
            };
            let message = format!("{entries} failed; the first at {}:{line}", shell.input_name);
            Err(if code == super::EXIT_FAILED {
                CliError::Failed(anyhow::anyhow!(message))
            } else {
                CliError::Usage(message)
            })
        }
    }
}

fn shell(args: ShellArgs, url: String) -> anyhow::Result<Shell> {
    super::run::init_logging();
    let demo = args.demo.then(super::start_demo).transpose()?;
    let url = demo.as_ref().map_or(url, |server| server.ws_url());
    let timeout = args.timeout;
    let cancel = Arc::new(AtomicBool::new(false));
    watch_ctrl_c(cancel.clone())?;
    let interactive = std::io::stdin().is_terminal();

    let words: SharedWords = Arc::new(Mutex::new(Words::default()));
    let mut editor = if interactive {
        Some(new_editor(words.clone())?)
    } else {
        None
    };
    let sink = match editor.as_mut().map(|e| e.create_external_printer()) {
        Some(Ok(printer)) => live::printer_sink(printer),
        _ => live::stdout_sink(),
    };

    let (socket_words, join_words) = (words.clone(), words.clone());
    let session = Session::new(SessionOptions {
        url: url.clone(),
        timeout,
        cancel: cancel.clone(),
        print: Box::new(|text| println!("{text}")),
        on_socket: Some(Box::new(move |socket| {
            live::watch(socket, sink.clone(), socket_words.clone())
        })),
        on_join: Some(Box::new(move |topic| {
            let mut words = join_words.lock().unwrap_or_else(|p| p.into_inner());
            words.topics.insert(topic.to_owned());
        })),
        mailbox_capacity: args.mailbox_capacity,
        transport: args.transport.to_client(),
    });
    let mut shell = Shell {
        session,
        words,
        cancel,
        color: std::io::stdout().is_terminal(),
        dropped: 0,
        transcript: String::new(),
        lines_read: 0,
        interactive,
        input_name: if interactive { "<shell>" } else { "<stdin>" },
        first_failure: None,
        failures: 0,
    };
    shell.refresh_words();

    match editor {
        Some(editor) => {
            shell.interactive(editor, &url);
            // Ctrl-D: say what the exit closes.
            println!("{}", shell.session.shutdown());
        }
        None => {
            shell.piped();
            shell.session.shutdown();
        }
    }
    Ok(shell)
}

fn new_editor(words: SharedWords) -> anyhow::Result<Editor<ShellHelper, FileHistory>> {
    // Tab completes the longest common start, and lists the candidates when several remain
    // (as IEx and bash do), at the first Tab.
    let config = Config::builder()
        .auto_add_history(false)
        .completion_type(rustyline::CompletionType::List)
        .completion_show_all_if_ambiguous(true)
        .build();
    let mut editor = Editor::with_config(config).context("cannot start the line editor")?;
    editor.set_helper(Some(ShellHelper { words }));
    Ok(editor)
}

/// Ctrl-C sets `cancel` instead of ending the process: a tokio signal listener on a thread of
/// its own. (While rustyline reads a line the terminal is raw, and Ctrl-C reaches it as a key.)
fn watch_ctrl_c(cancel: Arc<AtomicBool>) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the Ctrl-C listener")?;
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("slipstream-shell-ctrl-c".into())
        .spawn(move || {
            runtime.block_on(async {
                let mut first = Some(ready_tx);
                loop {
                    let signal = tokio::signal::ctrl_c();
                    tokio::pin!(signal);
                    // Poll once so the handler is installed, then tell the shell it may start.
                    if futures_poll_once(signal.as_mut()).await.is_none()
                        && let Some(ready) = first.take()
                    {
                        let _ = ready.send(());
                    }
                    if signal.await.is_err() {
                        break;
                    }
                    cancel.store(true, Ordering::Release);
                }
            })
        })
        .context("cannot start the Ctrl-C listener")?;
    let _ = ready_rx.recv_timeout(std::time::Duration::from_secs(2));
    Ok(())
}

/// Polls `future` once: `Some(output)` if it was ready.
async fn futures_poll_once<F: std::future::Future + Unpin>(future: F) -> Option<F::Output> {
    let mut future = future;
    std::future::poll_fn(|cx| {
        std::task::Poll::Ready(match std::pin::Pin::new(&mut future).poll(cx) {
            std::task::Poll::Ready(out) => Some(out),
            std::task::Poll::Pending => None,
        })
    })
    .await
}

impl Shell {
    fn interactive(&mut self, mut editor: Editor<ShellHelper, FileHistory>, url: &str) {
        let history = input::history_path();
        if let Some(path) = &history
            && path.exists()
            && let Err(e) = editor.load_history(path)
        {
            eprintln!("(could not read the history in {}: {e})", path.display());
        }
        println!(
            "slipstream shell: connect() talks to {url}. help() lists what you can call; \
             Tab completes; Ctrl-C stops an await; Ctrl-D leaves."
        );
        let mut entry = String::new();
        let mut first_line = 1;
        let mut typed_ahead = std::collections::VecDeque::new();
        loop {
            let prompt = if entry.is_empty() {
                "slipstream> "
            } else {
                "       ...> "
            };
            if typed_ahead.is_empty() {
                typed_ahead = typeahead::pending_lines();
            }
            let read = match typed_ahead.pop_front() {
                Some(line) => {
                    println!("{prompt}{line}");
                    Ok(line)
                }
                None => editor.readline(prompt),
            };
            match read {
                Ok(line) => {
                    if entry.is_empty() {
                        first_line = self.lines_read + 1;
                    }
                    self.read_line(&line);
                    entry.push_str(&line);
                    entry.push('\n');
                    if !input::is_complete(&entry) {
                        continue;
                    }
                    let text = std::mem::take(&mut entry);
                    if text.trim().is_empty() {
                        continue;
                    }
                    let _ = editor.add_history_entry(text.trim_end());
                    self.evaluate(&text, first_line);
                }
                Err(ReadlineError::Interrupted) => entry.clear(),
                Err(ReadlineError::Eof) => break,
                Err(e) => {
                    eprintln!("error: reading input: {e}");
                    break;
                }
            }
        }
        if let Some(path) = &history {
            if let Some(dir) = path.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            if let Err(e) = editor.save_history(path) {
                eprintln!("(could not save the history in {}: {e})", path.display());
            }
        }
    }

    fn piped(&mut self) {
        let stdin = std::io::stdin();
        let mut entry = String::new();
        let mut first_line = 1;
        for line in stdin.lock().lines() {
            let Ok(line) = line else { break };
            if entry.is_empty() {
                first_line = self.lines_read + 1;
            }
            self.read_line(&line);
            entry.push_str(&line);
            entry.push('\n');
            if input::is_complete(&entry) {
                let text = std::mem::take(&mut entry);
                if !text.trim().is_empty() {
                    self.evaluate(&text, first_line);
                }
            }
        }
        if !entry.trim().is_empty() {
            self.evaluate(&entry, first_line);
        }
    }

    /// Keeps a line read, for error reports to quote.
    fn read_line(&mut self, line: &str) {
        self.lines_read += 1;
        self.transcript.push_str(line);
        self.transcript.push('\n');
    }

    /// Evaluates one entry (its first line is line `first_line` of the input) and prints its
    /// value or its error.
    fn evaluate(&mut self, text: &str, first_line: usize) {
        self.cancel.store(false, Ordering::Release);
        match self.session.eval_at(text, first_line) {
            Ok(value) => {
                self.record_pushed_events(text);
                if !value.is_unit() {
                    println!("{}", self.show(&value));
                }
            }
            Err(error) => {
                self.record_failure(&error, first_line);
                let report = error.report(self.input_name, &self.transcript);
                if self.color {
                    eprintln!("\x1b[31m{report}\x1b[0m");
                } else {
                    eprintln!("{report}");
                }
            }
        }
        let _ = std::io::stdout().flush();
        self.report_dropped();
        self.refresh_words();
    }

    /// Counts a failed entry of piped input (one that Ctrl-C interrupted is not a failure; at a
    /// terminal, a person saw the error, and the shell's exit code does not depend on it).
    fn record_failure(&mut self, error: &ScriptError, first_line: usize) {
        if self.interactive || error.is_interrupted() {
            return;
        }
        self.failures += 1;
        let line = error
            .position()
            .line()
            .filter(|l| *l >= first_line)
            .unwrap_or(first_line);
        self.first_failure.get_or_insert((line, error.exit_code()));
    }

    /// Event names the entry pushed (written as strings), for Tab to complete from now on.
    fn record_pushed_events(&self, text: &str) {
        let events = complete::pushed_events(text);
        if !events.is_empty() {
            let mut words = self.words.lock().unwrap_or_else(|p| p.into_inner());
            words.events.extend(events);
        }
    }

    /// Says once how many server pushes were dropped since the last entry, if any were.
    fn report_dropped(&mut self) {
        let total = self.session.dropped_events();
        let new = total.saturating_sub(self.dropped);
        self.dropped = total;
        if let Some(note) = super::run::dropped_note(new, self.session.mailbox_capacity()) {
            eprintln!("{note}");
        }
    }

    fn show(&self, value: &Dynamic) -> String {
        // A vocabulary function's bare name (`push`, `help`): what help says of it, as IEx's
        // `h push` does (Rhai calls need parentheses, unlike Elixir's).
        if let Some(pointer) = value.read_lock::<rhai::FnPtr>() {
            match pointer.fn_name() {
                "help" => return help::overview(),
                name => {
                    if let Some(entry) = help::entry(name) {
                        return format!(
                            "{name} is a function: call it with parentheses, {}\n{}",
                            entry.synopsis(),
                            entry.render()
                        );
                    }
                }
            }
        }
        match convert::to_json(value) {
            Ok(json) if self.color => crate::display::pretty_json(&json, true),
            _ => convert::show(value),
        }
    }

    fn refresh_words(&self) {
        let mut words = self.words.lock().unwrap_or_else(|p| p.into_inner());
        words
            .names
            .extend(vocabulary().iter().map(|n| (*n).to_owned()));
        words.names.extend(self.session.function_names());
        words.names.extend(self.session.variable_names());
    }
}
