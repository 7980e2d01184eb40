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
//!
//! Payloads are maps (JSON objects), or blobs for binary payloads (`let b = blob(); b.push(1);`);
//! binary payloads that arrive are blobs. See [`pattern`] for how `await_message` matches.
//! A failing function throws a `Failure` (`e.kind`, `e.message`, `e.expected`, `e.received`);
//! uncaught, it ends the script with an [`ScriptError`] carrying the exit code.

pub mod convert;
pub mod engine;
pub mod error;
pub mod pattern;
pub mod socket;

use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use rhai::{AST, Dynamic, Engine, Scope};

pub use error::ScriptError;
pub use socket::{Context, SocketHook, TopicHook};

/// The functions this module adds, plus Rhai's most used ones: what the shell completes.
pub const VOCABULARY: &[&str] = &[
    "ANY",
    "assert",
    "assert_eq",
    "await_connect",
    "await_disconnect",
    "await_event",
    "await_join",
    "await_leave",
    "await_message",
    "await_reply",
    "blob",
    "connect",
    "debug",
    "disconnect",
    "dropped",
    "flush",
    "from_json",
    "is_connected",
    "is_joined",
    "join",
    "keys",
    "leave",
    "len",
    "prefix",
    "print",
    "push",
    "set_timeout",
    "sleep",
    "socket",
    "timeout",
    "to_json",
    "type_of",
    "values",
];

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
}

/// An engine, its variables and functions, and the sockets scripts made.
pub struct Session {
    engine: Engine,
    scope: Scope<'static>,
    /// Functions defined by earlier shell lines.
    functions: AST,
    context: Rc<Context>,
}

impl Session {
    /// A fresh session; nothing is connected yet.
    pub fn new(options: SessionOptions) -> Self {
        let context = Rc::new(Context::new(
            options.url,
            options.timeout,
            options.cancel,
            options.on_socket,
            options.on_join,
            options.mailbox_capacity,
        ));
        let print = options.print;
        let engine = engine::build(&context, move |text| print(text));
        Session {
            engine,
            scope: Scope::new(),
            functions: AST::empty(),
            context,
        }
    }

    /// Runs a whole script.
    pub fn run(&mut self, source: &str) -> Result<(), ScriptError> {
        let ast = self.engine.compile(source)?;
        self.engine.run_ast_with_scope(&mut self.scope, &ast)?;
        Ok(())
    }

    /// Evaluates one shell entry, keeping its variables and functions for the next ones, and
    /// returns its value.
    pub fn eval(&mut self, source: &str) -> Result<Dynamic, ScriptError> {
        let ast = self.engine.compile_with_scope(&self.scope, source)?;
        self.functions += ast;
        let result = self
            .engine
            .eval_ast_with_scope::<Dynamic>(&mut self.scope, &self.functions);
        self.functions.clear_statements();
        Ok(result?)
    }

    /// Names of the functions scripts can call (built-in and defined), for completion.
    pub fn function_names(&self) -> Vec<String> {
        let mut names: Vec<String> = VOCABULARY
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

    /// Leaves every joined topic and closes every socket.
    pub fn shutdown(&self) {
        self.context.shutdown();
    }
}
