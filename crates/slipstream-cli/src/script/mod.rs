//! Slipstream scripts: the [Rhai](https://rhai.rs) language with the client library's vocabulary.
//!
//! This module knows nothing of terminals; `slipstream run` and `slipstream shell` drive a
//! [`Session`]. A script reads like Slipstream's scripting guide:
//!
//! ```text
//! connect(); await_connect();
//! join("rooms:lobby", #{fizz: "buzz"}); await_join("rooms:lobby");
//! let r = push("rooms:lobby", "ping", #{}); print(await_reply(r));   // {"response":{"pong":"pong"},"status":"ok"}
//! push("rooms:lobby", "push to me", #{});
//! await_message("rooms:lobby", "foo", #{bar: "baz"});
//! leave("rooms:lobby"); await_leave("rooms:lobby");
//! disconnect(); await_disconnect();
//! ```
//!
//! The vocabulary:
//!
//! | function | returns |
//! |---|---|
//! | `connect()`, `connect(url)` | opens the default socket (the runner's URL unless given) |
//! | `socket()`, `socket(url)` | a further `Socket` object; every function below is also its method (`b.join(…)`) |
//! | `await_connect()` | `()`, or a connection failure |
//! | `join(topic)`, `join(topic, params)` | `()` |
//! | `await_join(topic)` | the join response |
//! | `push(topic, event)`, `push(topic, event, payload)` | the ref, e.g. `"3"` |
//! | `await_reply(ref)` | `#{status, response}` |
//! | `await_message([topic, [event, [payload]]])` | `#{topic, event, payload}`; left-out parts are `ANY` |
//! | `await_event()` | the next event of any kind, as `flush()` shows it |
//! | `leave(topic)`, `await_leave(topic)` | `()` |
//! | `disconnect()`, `await_disconnect()` | `()`, the reason |
//! | `flush()` | every event in the mailbox, each a map with a `type` |
//! | `dropped()` | how many server pushes this socket dropped because its mailbox was full |
//! | `is_connected()`, `is_joined(topic)` | booleans |
//! | `set_timeout(ms)`, `timeout()` | the await timeout (5000 ms by default) |
//! | `sleep(ms)`, `assert(cond[, msg])`, `assert_eq(actual, expected[, msg])` | `()` |
//! | `to_json(value)`, `from_json(text)` | JSON text, a value |
//! | `ANY`, `prefix(text)` | the wildcard; a topic pattern |
//! | `help()`, `help("push")` (or `help(push)`) | prints the vocabulary, or one function explained |
//!
//! Payloads are maps (JSON objects), or blobs for binary payloads (`let b = blob(); b.push(1);`);
//! binary payloads that arrive are blobs. See [`pattern`] for how `await_message` matches.
//! A failing function throws a `Failure` (`e.kind`, `e.message`, `e.expected`, `e.received`,
//! `e.hint`); uncaught, it ends the script with an [`ScriptError`] carrying the exit code.
//!
//! [`help`] holds the vocabulary once: `help()`'s text, the signatures an arity or type error
//! shows instead of Rhai's `Function not found: push (&str | ImmutableString | String)`, and the
//! names "did you mean …?" draws on ([`error`] renders those, and hints for Elixir habits).
//! [`hints`] turns a failed connection into what to try next.

pub mod convert;
pub mod engine;
pub mod error;
pub mod help;
pub mod hints;
pub mod pattern;
pub mod socket;

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use rhai::{AST, Dynamic, Engine, EvalAltResult, Scope};
use slipstream_client::blocking;

use error::Known;
pub use error::ScriptError;
pub use socket::{Context, SocketHook, TopicHook};

/// The names scripts use: this module's functions and constants, plus Rhai's most used
/// functions (what the shell completes and `help()` lists; see [`help::ENTRIES`]).
pub fn vocabulary() -> Vec<&'static str> {
    help::names()
}

/// What a session needs to start.
pub struct SessionOptions {
    /// The URL `connect()` uses by default.
    pub url: String,
    /// The initial await timeout.
    pub timeout: Duration,
    /// Set to interrupt the running await, sleep or loop (Ctrl-C).
    pub cancel: Arc<AtomicBool>,
    /// Where `print` writes.
    pub print: Box<dyn Fn(&str)>,
    /// Called with each socket a script makes.
    pub on_socket: Option<SocketHook>,
    /// Called with each topic a script joins.
    pub on_join: Option<TopicHook>,
    /// How many unconsumed server pushes each socket keeps (see
    /// [`slipstream_client::SocketBuilder::mailbox_capacity`]).
    pub mailbox_capacity: usize,
    /// How each socket reaches the server (websocket or long-poll).
    pub transport: slipstream_client::Transport,
}

/// An engine, its variables and functions, and the sockets scripts made.
pub struct Session {
    engine: Engine,
    scope: Scope<'static>,
    /// Functions defined by earlier shell lines.
    functions: AST,
    /// For each function defined, the input line its entry started on (for error positions).
    origins: HashMap<String, usize>,
    context: Rc<Context>,
    /// Every socket scripts made, and every topic they joined: what [`Session::shutdown`] says
    /// it closed and left.
    opened: Rc<RefCell<Vec<blocking::Socket>>>,
    joined: Rc<RefCell<BTreeSet<String>>>,
}

/// What [`Session::shutdown`] left and closed: `left rooms:lobby; closed 1 socket`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Closed {
    /// The topics left, sorted.
    pub left: Vec<String>,
    /// How many connected sockets were closed.
    pub sockets: usize,
}

impl fmt::Display for Closed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.sockets == 0 {
            return f.write_str("no socket was open");
        }
        if !self.left.is_empty() {
            write!(f, "left {}; ", self.left.join(", "))?;
        }
        let plural = if self.sockets == 1 { "" } else { "s" };
        write!(f, "closed {} socket{plural}", self.sockets)
    }
}

impl Session {
    /// A fresh session; nothing is connected yet.
    pub fn new(options: SessionOptions) -> Self {
        let opened: Rc<RefCell<Vec<blocking::Socket>>> = Rc::default();
        let joined: Rc<RefCell<BTreeSet<String>>> = Rc::default();
        let (on_socket, on_join) = (options.on_socket, options.on_join);
        let sockets = opened.clone();
        let topics = joined.clone();
        let context = Rc::new(Context::new(
            options.url,
            options.timeout,
            options.cancel,
            Some(Box::new(move |socket: &blocking::Socket| {
                sockets.borrow_mut().push(socket.clone());
                if let Some(hook) = &on_socket {
                    hook(socket);
                }
            })),
            Some(Box::new(move |topic: &str| {
                topics.borrow_mut().insert(topic.to_owned());
                if let Some(hook) = &on_join {
                    hook(topic);
                }
            })),
            options.mailbox_capacity,
            options.transport,
        ));
        let print = options.print;
        let engine = engine::build(&context, move |text| print(text));
        Session {
            engine,
            scope: Scope::new(),
            functions: AST::empty(),
            origins: HashMap::new(),
            context,
            opened,
            joined,
        }
    }

    /// Runs a whole script.
    pub fn run(&mut self, source: &str) -> Result<(), ScriptError> {
        let ast = self
            .engine
            .compile(source)
            .map_err(|e| ScriptError::from_parse(&e, source))?;
        self.engine
            .run_ast_with_scope(&mut self.scope, &ast)
            .map_err(|e| {
                let known = self.known(Some(&ast), source);
                ScriptError::from_eval(&e, &known)
            })
    }

    /// Evaluates one shell entry, keeping its variables and functions for the next ones, and
    /// returns its value. The entry starts on line `first_line` of the input: errors name lines
    /// of the input (an error inside a function an earlier entry defined, that entry's line).
    pub fn eval_at(&mut self, source: &str, first_line: usize) -> Result<Dynamic, ScriptError> {
        let below = first_line.saturating_sub(1);
        let ast = self
            .engine
            .compile_with_scope(&self.scope, source)
            .map_err(|e| ScriptError::from_parse(&e, source).shifted(below))?;
        for function in ast.iter_functions() {
            self.origins.insert(function.name.to_owned(), first_line);
        }
        self.functions += ast;
        let result = self
            .engine
            .eval_ast_with_scope::<Dynamic>(&mut self.scope, &self.functions);
        self.functions.clear_statements();
        result.map_err(|e| self.explain(&e, source, first_line))
    }

    /// A runtime error of the entry `source` (first line `first_line`), explained and placed.
    fn explain(&self, error: &EvalAltResult, source: &str, first_line: usize) -> ScriptError {
        let origin = ScriptError::function_of(error)
            .and_then(|f| self.origins.get(f))
            .copied()
            .unwrap_or(first_line);
        // Inside a function an earlier entry defined, this entry's text is not where it happened.
        let source = if origin == first_line { source } else { "" };
        let known = self.known(None, source);
        ScriptError::from_eval(error, &known).shifted(origin.saturating_sub(1))
    }

    /// The functions and variables a script has, to explain its errors with.
    fn known<'a>(&self, script: Option<&AST>, source: &'a str) -> Known<'a> {
        let mut variables = self.variable_names();
        variables.extend(declared_names(source));
        variables.sort();
        variables.dedup();
        Known {
            functions: script
                .into_iter()
                .flat_map(AST::iter_functions)
                .chain(self.functions.iter_functions())
                .map(|f| {
                    (
                        f.name.to_owned(),
                        f.params.iter().map(|p| (*p).to_owned()).collect(),
                    )
                })
                .collect(),
            variables,
            source,
        }
    }

    /// Names of the functions scripts can call (built-in and defined), for completion.
    pub fn function_names(&self) -> Vec<String> {
        let mut names: Vec<String> = vocabulary()
            .iter()
            .map(|name| (*name).to_owned())
            .chain(self.functions.iter_functions().map(|f| f.name.to_owned()))
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Names of the session's variables, for completion.
    pub fn variable_names(&self) -> Vec<String> {
        self.scope
            .iter_raw()
            .map(|(name, ..)| name.to_owned())
            .collect()
    }

    /// How many server pushes the session's sockets dropped so far, all together, because
    /// their mailboxes were full.
    pub fn dropped_events(&self) -> u64 {
        self.context.dropped_events()
    }

    /// How many unconsumed server pushes each socket keeps.
    pub fn mailbox_capacity(&self) -> usize {
        self.context.mailbox_capacity
    }

    /// Leaves every joined topic and closes every socket, and says what that was.
    pub fn shutdown(&self) -> Closed {
        let mut closed = Closed::default();
        for socket in self.opened.borrow().iter().filter(|s| s.is_connected()) {
            closed.sockets += 1;
            closed.left.extend(
                self.joined
                    .borrow()
                    .iter()
                    .filter(|t| socket.is_joined(t))
                    .cloned(),
            );
        }
        closed.left.sort();
        closed.left.dedup();
        self.context.shutdown();
        closed
    }
}

/// The names `let` and `const` declare in `source` (also the ones not run yet): for "did you
/// mean …?".
fn declared_names(source: &str) -> Vec<String> {
    let mut names = Vec::new();
    let words: Vec<&str> = source
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect();
    for pair in words.windows(2) {
        if matches!(pair[0], "let" | "const") {
            names.push(pair[1].to_owned());
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_names_are_found_before_they_run() {
        assert_eq!(
            declared_names("let abc = 1; const LIMIT = 2;\nlet r = push(\"t\", \"e\");"),
            ["abc", "LIMIT", "r"]
        );
    }

    #[test]
    fn what_was_closed_reads_as_a_sentence() {
        let closed = Closed {
            left: vec!["rooms:lobby".into()],
            sockets: 1,
        };
        assert_eq!(closed.to_string(), "left rooms:lobby; closed 1 socket");
        let closed = Closed {
            left: Vec::new(),
            sockets: 2,
        };
        assert_eq!(closed.to_string(), "closed 2 sockets");
        assert_eq!(Closed::default().to_string(), "no socket was open");
    }
}
