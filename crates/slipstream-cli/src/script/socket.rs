//! The library's vocabulary as Rhai functions, over [`blocking::Socket`].
//!
//! Every function exists twice: as a plain function acting on the *default socket* (the one
//! `connect()` opens), and as a method of a `Socket` object made by `socket(url)`, for scripts
//! that need several connections:
//!
//! ```text
//! connect(); await_connect();                 // the default socket, at the runner's URL
//! let b = socket(); b.connect(); b.await_connect();   // a second one
//! b.join("rooms:lobby", #{}); b.await_join("rooms:lobby");
//! ```
//!
//! Awaits wait at most the session's timeout (`set_timeout(ms)`, 5000 by default). They wait in
//! short slices so that Ctrl-C (the session's cancel flag) interrupts them; a slice that times out
//! consumes nothing, so slicing changes nothing else.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeSet, VecDeque};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rhai::{Array, Dynamic, Engine, INT, NativeCallContext};
use slipstream_client::{
    AwaitError, ConnectError, JoinError, LeaveError, Ref, ReplyError, SocketEvent, blocking,
};
use tokio::sync::broadcast::{self, error::TryRecvError};

use super::convert;
use super::error::{Failure, FailureKind};
use super::pattern::{self, Wildcard};
use crate::display;

/// How long one slice of an await lasts before the cancel flag is checked again.
const SLICE: Duration = Duration::from_millis(50);

/// How many recent events each socket remembers for failure reports.
const RECENT: usize = 8;

/// Settings every socket of a session shares.
#[derive(Debug)]
pub struct Settings {
    /// The await timeout.
    pub timeout: Cell<Duration>,
    /// Set (by Ctrl-C) to interrupt the running await or sleep.
    pub cancel: Arc<AtomicBool>,
}

impl Settings {
    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Acquire)
    }
}

/// Called with each new socket (the shell starts its live printer there).
pub type SocketHook = Box<dyn Fn(&blocking::Socket)>;
/// Called with each topic a script joins (the shell completes topic names).
pub type TopicHook = Box<dyn Fn(&str)>;

/// The session's sockets: the default one and every one a script made.
pub struct Context {
    /// The URL `connect()` and `socket()` use when given none.
    pub default_url: String,
    /// How many unconsumed server pushes each socket keeps.
    pub mailbox_capacity: usize,
    /// How each socket reaches the server.
    pub transport: slipstream_client::Transport,
    /// Shared settings.
    pub settings: Rc<Settings>,
    default: RefCell<Option<ScriptSocket>>,
    sockets: RefCell<Vec<ScriptSocket>>,
    on_socket: Option<SocketHook>,
    on_join: Option<Rc<TopicHook>>,
}

impl Context {
    /// A context with no socket yet.
    pub fn new(
        default_url: String,
        timeout: Duration,
        cancel: Arc<AtomicBool>,
        on_socket: Option<SocketHook>,
        on_join: Option<TopicHook>,
        mailbox_capacity: usize,
        transport: slipstream_client::Transport,
    ) -> Self {
        Context {
            default_url,
            mailbox_capacity,
            transport,
            settings: Rc::new(Settings {
                timeout: Cell::new(timeout),
                cancel,
            }),
            default: RefCell::new(None),
            sockets: RefCell::new(Vec::new()),
            on_socket,
            on_join: on_join.map(Rc::new),
        }
    }

    /// Makes a socket for `url` (not connected yet).
    pub fn new_socket(&self, url: &str) -> Result<ScriptSocket, Failure> {
        let builder = slipstream_client::Socket::builder(url)
            .mailbox_capacity(self.mailbox_capacity)
            .transport(self.transport);
        let socket = blocking::Socket::from_builder(builder).map_err(|e| {
            Failure::new(
                FailureKind::Connection,
                format!("cannot use URL {url:?}: {e}"),
            )
        })?;
        if let Some(hook) = &self.on_socket {
            hook(&socket);
        }
        let script_socket = ScriptSocket {
            url: url.to_owned(),
            observer: Rc::new(RefCell::new(Observer {
                receiver: socket.observe(),
                recent: VecDeque::new(),
            })),
            topics: Rc::new(RefCell::new(BTreeSet::new())),
            settings: self.settings.clone(),
            on_join: self.on_join.clone(),
            socket,
        };
        self.sockets.borrow_mut().push(script_socket.clone());
        Ok(script_socket)
    }

    /// The default socket, made (for the default URL) when there is none yet.
    fn default_or_new(&self) -> Result<ScriptSocket, Failure> {
        if let Some(socket) = self.default.borrow().as_ref() {
            return Ok(socket.clone());
        }
        let socket = self.new_socket(&self.default_url)?;
        *self.default.borrow_mut() = Some(socket.clone());
        Ok(socket)
    }

    /// Replaces the default socket by a new one for `url`.
    fn replace_default(&self, url: &str) -> Result<ScriptSocket, Failure> {
        let socket = self.new_socket(url)?;
        if let Some(old) = self.default.borrow_mut().replace(socket.clone()) {
            old.socket.disconnect();
        }
        Ok(socket)
    }

    /// The default socket, or a usage failure saying to connect first.
    pub fn default_socket(&self) -> Result<ScriptSocket, Failure> {
        self.default.borrow().clone().ok_or_else(|| {
            Failure::new(
                FailureKind::Usage,
                "there is no socket yet: call connect() first",
            )
        })
    }

    /// How many server pushes all the sockets made so far dropped, because their mailboxes were
    /// full.
    pub fn dropped_events(&self) -> u64 {
        self.sockets
            .borrow()
            .iter()
            .map(ScriptSocket::dropped)
            .sum()
    }

    /// Leaves every joined topic and closes every socket, waiting briefly for each.
    pub fn shutdown(&self) {
        let quick = Duration::from_millis(500);
        for s in self.sockets.borrow_mut().drain(..) {
            if !s.socket.is_connected() {
                continue;
            }
            let socket = s.socket.with_timeout(quick);
            let topics: Vec<String> = s.topics.borrow().iter().cloned().collect();
            for topic in topics.iter().filter(|t| socket.is_joined(t)) {
                socket.leave(topic);
                if let Err(e) = socket.await_leave(topic) {
                    tracing::debug!(%topic, error = %e, "leave at exit did not complete");
                }
            }
            socket.disconnect();
            if let Err(e) = socket.await_disconnect() {
                tracing::debug!(error = %e, "disconnect at exit did not complete");
            }
        }
        self.default.borrow_mut().take();
    }
}

/// Events seen on one socket, kept for failure reports ("what did arrive").
struct Observer {
    receiver: broadcast::Receiver<SocketEvent>,
    recent: VecDeque<SocketEvent>,
}

impl Observer {
    /// The last few events the socket received, oldest first.
    fn recent(&mut self) -> Vec<SocketEvent> {
        loop {
            match self.receiver.try_recv() {
                Ok(event) => {
                    if self.recent.len() == RECENT {
                        self.recent.pop_front();
                    }
                    self.recent.push_back(event);
                }
                Err(TryRecvError::Lagged(_)) => continue,
                Err(TryRecvError::Empty | TryRecvError::Closed) => break,
            }
        }
        self.recent.iter().cloned().collect()
    }
}

/// A socket as scripts see it: the type `Socket`.
#[derive(Clone)]
pub struct ScriptSocket {
    socket: blocking::Socket,
    url: String,
    observer: Rc<RefCell<Observer>>,
    topics: Rc<RefCell<BTreeSet<String>>>,
    settings: Rc<Settings>,
    on_join: Option<Rc<TopicHook>>,
}

/// How a sliced await ended without a result.
enum Waited<E> {
    Failed(E),
    TimedOut(Duration),
    Interrupted,
}

impl ScriptSocket {
    fn wait<T, E>(
        &self,
        op: impl Fn(&blocking::Socket) -> Result<T, E>,
        is_timeout: impl Fn(&E) -> bool,
    ) -> Result<T, Waited<E>> {
        let timeout = self.settings.timeout.get();
        let deadline = Instant::now() + timeout;
        loop {
            if self.settings.cancelled() {
                return Err(Waited::Interrupted);
            }
            let slice = deadline
                .saturating_duration_since(Instant::now())
                .min(SLICE);
            match op(&self.socket.with_timeout(slice)) {
                Ok(value) => return Ok(value),
                Err(e) if is_timeout(&e) => {
                    if Instant::now() >= deadline {
                        return Err(Waited::TimedOut(timeout));
                    }
                }
                Err(e) => return Err(Waited::Failed(e)),
            }
        }
    }

    /// Failure for an await that ended without its answer.
    fn await_failure<E: std::fmt::Display>(
        &self,
        waited: Waited<E>,
        what: &str,
        kind: FailureKind,
    ) -> Failure {
        match waited {
            Waited::Interrupted => Failure::new(
                FailureKind::Interrupted,
                format!("{what}: interrupted by Ctrl-C"),
            ),
            Waited::TimedOut(timeout) => Failure::new(
                kind,
                format!("{what}: nothing came within {} ms", timeout.as_millis()),
            )
            .received(self.recently_received()),
            Waited::Failed(e) => Failure::new(kind, format!("{what}: {e}")),
        }
    }

    fn recently_received(&self) -> String {
        let recent = self.observer.borrow_mut().recent();
        if recent.is_empty() {
            return "nothing".into();
        }
        let lines: Vec<String> = recent
            .iter()
            .map(|e| format!("\n    {}", display::show_event(e)))
            .collect();
        format!("the last events on this socket were:{}", lines.concat())
    }

    /// `connect()`: asks to connect; returns at once.
    pub fn connect(&self) {
        self.socket.connect();
    }

    /// `await_connect()`.
    pub fn await_connect(&self) -> Result<(), Failure> {
        self.wait(|s| s.await_connect(), |e| *e == ConnectError::Timeout)
            .map_err(|w| {
                let what = format!("await_connect to {}", self.url);
                let hint = match &w {
                    Waited::Failed(e) => super::hints::connect_hint(e, &self.url),
                    _ => None,
                };
                match w {
                    Waited::TimedOut(t) => Failure::new(
                        FailureKind::Connection,
                        format!("{what}: not connected within {} ms", t.as_millis()),
                    ),
                    other => self.await_failure(other, &what, FailureKind::Connection),
                }
                .with_hint(hint)
            })
    }

    /// `join(topic, params)`.
    pub fn join(&self, topic: &str, params: &Dynamic) -> Result<(), Failure> {
        let params = if params.is_unit() {
            slipstream_client::Payload::json(&serde_json::json!({}))
        } else {
            convert::to_payload(params)
                .map_err(|e| Failure::new(FailureKind::Usage, format!("join params: {e}")))?
        };
        self.topics.borrow_mut().insert(topic.to_owned());
        if let Some(hook) = &self.on_join {
            hook(topic);
        }
        self.socket.join(topic, params);
        Ok(())
    }

    /// `await_join(topic)`: the join response.
    pub fn await_join(&self, topic: &str) -> Result<Dynamic, Failure> {
        match self.wait(|s| s.await_join(topic), |e| *e == JoinError::Timeout) {
            Ok(response) => Ok(convert::from_payload(&response)),
            Err(Waited::Failed(JoinError::Rejected { status, response })) => Err(Failure::new(
                FailureKind::Await,
                format!("await_join({topic:?}): the join was refused"),
            )
            .expected("status \"ok\"")
            .received(format!(
                "status {status:?}, response {}",
                display::show_payload(&response)
            ))),
            Err(w) => {
                Err(self.await_failure(w, &format!("await_join({topic:?})"), FailureKind::Await))
            }
        }
    }

    /// `push(topic, event, payload)`: the push's ref.
    pub fn push(&self, topic: &str, event: &str, payload: &Dynamic) -> Result<String, Failure> {
        let payload = convert::to_payload(payload)
            .map_err(|e| Failure::new(FailureKind::Usage, format!("push payload: {e}")))?;
        Ok(self.socket.push(topic, event, payload).as_text().to_owned())
    }

    /// `await_reply(ref)`: `#{status, response}`.
    pub fn await_reply(&self, push_ref: &str) -> Result<Dynamic, Failure> {
        let push_ref = Ref::from(push_ref);
        self.wait(|s| s.await_reply(&push_ref), |e| *e == ReplyError::Timeout)
            .map(|reply| convert::reply_to_dynamic(&reply))
            .map_err(|w| {
                self.await_failure(
                    w,
                    &format!("await_reply({:?})", push_ref.as_text()),
                    FailureKind::Await,
                )
            })
    }

    /// `await_message(topic, event, payload)`: `#{topic, event, payload}`.
    pub fn await_message(
        &self,
        topic: &Dynamic,
        event: &Dynamic,
        payload: &Dynamic,
    ) -> Result<Dynamic, Failure> {
        let pattern = pattern::message_pattern(topic, event, payload)
            .map_err(|e| Failure::new(FailureKind::Usage, format!("await_message: {e}")))?;
        self.wait(|s| s.await_message(&pattern), |e| *e == AwaitError::Timeout)
            .map(|m| convert::message_to_dynamic(&m))
            .map_err(|w| {
                self.await_failure(w, "await_message", FailureKind::Await)
                    .expected(pattern::describe(topic, event, payload))
            })
    }

    /// `leave(topic)`.
    pub fn leave(&self, topic: &str) {
        self.socket.leave(topic);
    }

    /// `await_leave(topic)`.
    pub fn await_leave(&self, topic: &str) -> Result<(), Failure> {
        self.wait(|s| s.await_leave(topic), |e| *e == LeaveError::Timeout)
            .map(|()| {
                self.topics.borrow_mut().remove(topic);
            })
            .map_err(|w| {
                self.await_failure(w, &format!("await_leave({topic:?})"), FailureKind::Await)
            })
    }

    /// `disconnect()`.
    pub fn disconnect(&self) {
        self.socket.disconnect();
    }

    /// `await_disconnect()`: why the socket disconnected, as the map `flush()` shows the
    /// `disconnected` event: `#{type: "disconnected", reason: "client_requested", code: ()}`.
    pub fn await_disconnect(&self) -> Result<Dynamic, Failure> {
        self.wait(|s| s.await_disconnect(), |e| *e == AwaitError::Timeout)
            .map(|reason| convert::disconnect_to_dynamic(&reason))
            .map_err(|w| self.await_failure(w, "await_disconnect", FailureKind::Await))
    }

    /// `flush()`: every event in the mailbox, taken out.
    pub fn flush(&self) -> Array {
        self.socket
            .flush()
            .iter()
            .map(convert::event_to_dynamic)
            .collect()
    }

    /// `dropped()`: how many server pushes this socket dropped because its mailbox was full.
    pub fn dropped(&self) -> u64 {
        self.socket.as_async().dropped_events()
    }

    /// `await_event()`: the next event of any kind, taken out.
    pub fn await_event(&self) -> Result<Dynamic, Failure> {
        self.wait(|s| s.next_event(), |e| *e == AwaitError::Timeout)
            .map(|e| convert::event_to_dynamic(&e))
            .map_err(|w| self.await_failure(w, "await_event", FailureKind::Await))
    }
}

impl std::fmt::Debug for ScriptSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Socket({})", self.url)
    }
}

/// `Socket(ws://127.0.0.1:4000/socket/websocket, connected, joined rooms:lobby)`: what `print`,
/// `to_string` and the shell show for a socket (its state read from cheap flags).
impl std::fmt::Display for ScriptSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = if self.socket.is_connected() {
            "connected"
        } else {
            "not connected"
        };
        write!(f, "Socket({}, {state}", self.url)?;
        let joined: Vec<String> = self
            .topics
            .borrow()
            .iter()
            .filter(|t| self.socket.is_joined(t))
            .cloned()
            .collect();
        if !joined.is_empty() {
            write!(f, ", joined {}", joined.join(", "))?;
        }
        write!(f, ")")
    }
}

/// Sleeps `ms` milliseconds, or until the cancel flag is set.
pub fn sleep(settings: &Settings, ms: INT) -> Result<(), Failure> {
    let ms = u64::try_from(ms)
        .map_err(|_| Failure::new(FailureKind::Usage, format!("sleep({ms}): negative time")))?;
    let deadline = Instant::now() + Duration::from_millis(ms);
    loop {
        if settings.cancelled() {
            return Err(Failure::new(
                FailureKind::Interrupted,
                "sleep: interrupted by Ctrl-C",
            ));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        std::thread::sleep(left.min(SLICE));
    }
}

type Res<T> = Result<T, Box<rhai::EvalAltResult>>;

fn at<T>(ctx: &NativeCallContext, result: Result<T, Failure>) -> Res<T> {
    result.map_err(|f| f.into_error(ctx.call_position()))
}

/// Registers the `Socket` type, its methods, and the plain functions on the default socket.
pub fn register(engine: &mut Engine, context: &Rc<Context>) {
    engine
        .register_type_with_name::<ScriptSocket>("Socket")
        .register_fn("to_string", |s: &mut ScriptSocket| s.to_string())
        .register_fn("to_debug", |s: &mut ScriptSocket| s.to_string())
        .register_fn("print", |s: &mut ScriptSocket| s.to_string())
        .register_fn("debug", |s: &mut ScriptSocket| s.to_string())
        .register_get("url", |s: &mut ScriptSocket| s.url.clone());

    // Making sockets.
    let c = context.clone();
    engine.register_fn("socket", move |ctx: NativeCallContext| {
        at(&ctx, c.new_socket(&c.default_url))
    });
    let c = context.clone();
    engine.register_fn("socket", move |ctx: NativeCallContext, url: &str| {
        at(&ctx, c.new_socket(url))
    });
    let c = context.clone();
    engine.register_fn("connect", move |ctx: NativeCallContext| {
        at(&ctx, c.default_or_new().map(|s| s.connect()))
    });
    let c = context.clone();
    engine.register_fn("connect", move |ctx: NativeCallContext, url: &str| {
        at(&ctx, c.replace_default(url).map(|s| s.connect()))
    });

    // Methods.
    engine
        .register_fn("connect", |s: &mut ScriptSocket| s.connect())
        .register_fn(
            "await_connect",
            |ctx: NativeCallContext, s: &mut ScriptSocket| at(&ctx, s.await_connect()),
        )
        .register_fn(
            "join",
            |ctx: NativeCallContext, s: &mut ScriptSocket, topic: &str| {
                at(&ctx, s.join(topic, &Dynamic::UNIT))
            },
        )
        .register_fn(
            "join",
            |ctx: NativeCallContext, s: &mut ScriptSocket, topic: &str, params: Dynamic| {
                at(&ctx, s.join(topic, &params))
            },
        )
        .register_fn(
            "await_join",
            |ctx: NativeCallContext, s: &mut ScriptSocket, topic: &str| {
                at(&ctx, s.await_join(topic))
            },
        )
        .register_fn(
            "push",
            |ctx: NativeCallContext, s: &mut ScriptSocket, topic: &str, event: &str| {
                at(
                    &ctx,
                    s.push(topic, event, &Dynamic::from_map(Default::default())),
                )
            },
        )
        .register_fn(
            "push",
            |ctx: NativeCallContext,
             s: &mut ScriptSocket,
             topic: &str,
             event: &str,
             payload: Dynamic| { at(&ctx, s.push(topic, event, &payload)) },
        )
        .register_fn(
            "await_reply",
            |ctx: NativeCallContext, s: &mut ScriptSocket, r: &str| at(&ctx, s.await_reply(r)),
        )
        .register_fn(
            "await_message",
            |ctx: NativeCallContext, s: &mut ScriptSocket| {
                at(&ctx, s.await_message(&any(), &any(), &any()))
            },
        )
        .register_fn(
            "await_message",
            |ctx: NativeCallContext, s: &mut ScriptSocket, t: Dynamic| {
                at(&ctx, s.await_message(&t, &any(), &any()))
            },
        )
        .register_fn(
            "await_message",
            |ctx: NativeCallContext, s: &mut ScriptSocket, t: Dynamic, e: Dynamic| {
                at(&ctx, s.await_message(&t, &e, &any()))
            },
        )
        .register_fn(
            "await_message",
            |ctx: NativeCallContext, s: &mut ScriptSocket, t: Dynamic, e: Dynamic, p: Dynamic| {
                at(&ctx, s.await_message(&t, &e, &p))
            },
        )
        .register_fn("leave", |s: &mut ScriptSocket, topic: &str| s.leave(topic))
        .register_fn(
            "await_leave",
            |ctx: NativeCallContext, s: &mut ScriptSocket, topic: &str| {
                at(&ctx, s.await_leave(topic))
            },
        )
        .register_fn("disconnect", |s: &mut ScriptSocket| s.disconnect())
        .register_fn(
            "await_disconnect",
            |ctx: NativeCallContext, s: &mut ScriptSocket| at(&ctx, s.await_disconnect()),
        )
        .register_fn("flush", |s: &mut ScriptSocket| s.flush())
        .register_fn("dropped", |s: &mut ScriptSocket| count(s.dropped()))
        .register_fn(
            "await_event",
            |ctx: NativeCallContext, s: &mut ScriptSocket| at(&ctx, s.await_event()),
        )
        .register_fn("is_connected", |s: &mut ScriptSocket| {
            s.socket.is_connected()
        })
        .register_fn("is_joined", |s: &mut ScriptSocket, topic: &str| {
            s.socket.is_joined(topic)
        });

    register_default_socket_functions(engine, context);
}

/// A count as a script integer (saturating: no count comes near `INT::MAX`).
fn count(n: u64) -> INT {
    INT::try_from(n).unwrap_or(INT::MAX)
}

fn any() -> Dynamic {
    Dynamic::from(Wildcard)
}

/// The same vocabulary as plain functions on the default socket.
fn register_default_socket_functions(engine: &mut Engine, context: &Rc<Context>) {
    macro_rules! on_default {
        ($name:literal, |$s:ident $(, $arg:ident : $ty:ty)*| $body:expr) => {{
            let c = context.clone();
            engine.register_fn($name, move |ctx: NativeCallContext $(, $arg: $ty)*| {
                let result = c.default_socket().and_then(|$s| $body);
                at(&ctx, result)
            });
        }};
    }
    on_default!("await_connect", |s| s.await_connect());
    on_default!("join", |s, topic: &str| s.join(topic, &Dynamic::UNIT));
    on_default!("join", |s, topic: &str, params: Dynamic| s
        .join(topic, &params));
    on_default!("await_join", |s, topic: &str| s.await_join(topic));
    on_default!("push", |s, topic: &str, event: &str| s.push(
        topic,
        event,
        &Dynamic::from_map(Default::default())
    ));
    on_default!("push", |s, topic: &str, event: &str, payload: Dynamic| s
        .push(topic, event, &payload));
    on_default!("await_reply", |s, r: &str| s.await_reply(r));
    on_default!("await_message", |s| s.await_message(&any(), &any(), &any()));
    on_default!("await_message", |s, t: Dynamic| s.await_message(
        &t,
        &any(),
        &any()
    ));
    on_default!("await_message", |s, t: Dynamic, e: Dynamic| s
        .await_message(&t, &e, &any()));
    on_default!("await_message", |s, t: Dynamic, e: Dynamic, p: Dynamic| s
        .await_message(&t, &e, &p));
    on_default!("leave", |s, topic: &str| {
        s.leave(topic);
        Ok(())
    });
    on_default!("await_leave", |s, topic: &str| s.await_leave(topic));
    on_default!("disconnect", |s| {
        s.disconnect();
        Ok(())
    });
    on_default!("await_disconnect", |s| s.await_disconnect());
    on_default!("flush", |s| Ok(s.flush()));
    on_default!("dropped", |s| Ok(count(s.dropped())));
    on_default!("await_event", |s| s.await_event());
    on_default!("is_joined", |s, topic: &str| Ok(s.socket.is_joined(topic)));
    let c = context.clone();
    engine.register_fn("is_connected", move || {
        c.default
            .borrow()
            .as_ref()
            .is_some_and(|s| s.socket.is_connected())
    });
}
