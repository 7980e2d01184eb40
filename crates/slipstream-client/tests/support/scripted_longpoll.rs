//! The scripted server's long-poll side: `/socket/longpoll` answered as Phoenix answers it, with
//! each session handed to the test as a [`Session`] that it drives frame by frame.
//!
//! * A GET without a (known) token opens a session: `{"status":410,"token":…}`, and the test's
//!   next [`Sessions::accept`] returns it.
//! * A GET with the session's token is a poll: the frames the test queued (`200` with
//!   `messages`), or `204` after [`POLL_WINDOW`] without any.
//! * A POST delivers its frames to the test: one V2 text frame (`application/json`) or up to 100
//!   lines (`application/x-ndjson`: a text frame, or the standard base64 of a binary one).
//! * Once the test closes or drops the session, its pending poll and every later request are
//!   answered `410`: the session is lost, as when a Phoenix node forgets it.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc};
use tokio_tungstenite::tungstenite::Message;

use super::{Upgrade, WAIT};

/// How long a poll waits for frames before it is answered `204`, as Phoenix's default window.
pub const POLL_WINDOW: Duration = Duration::from_secs(10);

/// One long-poll session as the server keeps it.
struct State {
    /// Frames the test queued, waiting for the next poll.
    outbox: Mutex<VecDeque<String>>,
    /// Frames the client POSTed, for the test.
    inbox: mpsc::UnboundedSender<Message>,
    /// Wakes a waiting poll: frames were queued or the session closed.
    wake: Notify,
    closed: AtomicBool,
    /// Polls being answered right now, and every request the session has seen.
    polls_in_flight: AtomicUsize,
    requests: AtomicU64,
}

/// Every session the server knows, and the new ones not accepted yet.
struct Registry {
    sessions: Mutex<HashMap<String, Arc<State>>>,
    opened: Mutex<Option<mpsc::UnboundedSender<Session>>>,
    next_token: AtomicU64,
}

/// The long-poll server: an HTTP/1.1 listener whose sessions the test accepts one by one.
pub struct Sessions {
    opened: tokio::sync::Mutex<mpsc::UnboundedReceiver<Session>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Sessions {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Sessions {
    /// Serves `listener` until dropped.
    pub fn serve(listener: TcpListener) -> Sessions {
        let (tx, rx) = mpsc::unbounded_channel();
        let registry = Arc::new(Registry {
            sessions: Mutex::new(HashMap::new()),
            opened: Mutex::new(Some(tx)),
            next_token: AtomicU64::new(1),
        });
        let server = tokio::spawn(accept_loop(listener, registry));
        Sessions {
            opened: tokio::sync::Mutex::new(rx),
            server,
        }
    }

    /// The next session a client opens.
    pub async fn accept(&self) -> Session {
        let mut opened = self.opened.lock().await;
        tokio::time::timeout(WAIT, opened.recv())
            .await
            .expect("no long-poll session opened")
            .expect("the long-poll server stopped")
    }
}

async fn accept_loop(listener: TcpListener, registry: Arc<Registry>) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            return;
        };
        let _ = tcp.set_nodelay(true);
        let registry = registry.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let registry = registry.clone();
                async move { Ok::<_, Infallible>(answer(&registry, request).await) }
            });
            // A client that goes away mid-request just ends this connection.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), service)
                .await;
        });
    }
}

/// The session token in the query (the last `token` wins: a user param may share the name).
fn token_of(request: &Request<Incoming>) -> Option<String> {
    let query = request.uri().query()?;
    url::form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
        .last()
}

async fn answer(registry: &Registry, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let session = token_of(&request).and_then(|t| {
        let sessions = registry.sessions.lock().unwrap();
        sessions.get(&t).cloned().map(|s| (t, s))
    });
    match (request.method().clone(), session) {
        (Method::GET, None) => open(registry, &request),
        (_, Some((_, state))) if state.closed.load(Ordering::SeqCst) => {
            body(json!({"status": 410}))
        }
        (Method::GET, Some((token, state))) => poll(&token, &state).await,
        (Method::POST, Some((token, state))) => post(&token, &state, request).await,
        (Method::POST, None) => body(json!({"status": 410})),
        _ => Response::builder()
            .status(405)
            .body(Full::new(Bytes::new()))
            .unwrap(),
    }
}

fn body(value: Value) -> Response<Full<Bytes>> {
    Response::builder()
        .header("content-type", "application/json; charset=utf-8")
        .body(Full::new(Bytes::from(value.to_string())))
        .unwrap()
}

/// A new session: registered, handed to the test, answered `410` with its token.
fn open(registry: &Registry, request: &Request<Incoming>) -> Response<Full<Bytes>> {
    let token = format!(
        "scripted-{}",
        registry.next_token.fetch_add(1, Ordering::SeqCst)
    );
    let (inbox, frames) = mpsc::unbounded_channel();
    let state = Arc::new(State {
        outbox: Mutex::new(VecDeque::new()),
        inbox,
        wake: Notify::new(),
        closed: AtomicBool::new(false),
        polls_in_flight: AtomicUsize::new(0),
        requests: AtomicU64::new(0),
    });
    registry
        .sessions
        .lock()
        .unwrap()
        .insert(token.clone(), state.clone());
    let session = Session {
        state,
        frames,
        upgrade: Upgrade {
            uri: request.uri().to_string(),
            protocols: None,
            auth_token: request
                .headers()
                .get("x-phoenix-authtoken")
                .map(|v| v.to_str().unwrap().to_owned()),
        },
    };
    if let Some(opened) = registry.opened.lock().unwrap().as_ref() {
        let _ = opened.send(session);
    }
    body(json!({"status": 410, "token": token}))
}

/// Counts a poll as in flight while it lives, even when the client abandons it.
struct InFlight<'a>(&'a State);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.polls_in_flight.fetch_sub(1, Ordering::SeqCst);
        self.0.wake.notify_waiters();
    }
}

async fn poll(token: &str, state: &State) -> Response<Full<Bytes>> {
    state.requests.fetch_add(1, Ordering::SeqCst);
    state.polls_in_flight.fetch_add(1, Ordering::SeqCst);
    let _in_flight = InFlight(state);
    let deadline = tokio::time::Instant::now() + POLL_WINDOW;
    loop {
        let woken = state.wake.notified();
        if state.closed.load(Ordering::SeqCst) {
            return body(json!({"status": 410}));
        }
        let messages: Vec<String> = state.outbox.lock().unwrap().drain(..).collect();
        if !messages.is_empty() {
            return body(json!({"status": 200, "token": token, "messages": messages}));
        }
        if tokio::time::timeout_at(deadline, woken).await.is_err() {
            return body(json!({"status": 204, "token": token, "messages": []}));
        }
    }
}

async fn post(token: &str, state: &State, request: Request<Incoming>) -> Response<Full<Bytes>> {
    state.requests.fetch_add(1, Ordering::SeqCst);
    let ndjson = request
        .headers()
        .get("content-type")
        .is_some_and(|v| v.as_bytes().starts_with(b"application/x-ndjson"));
    let Ok(collected) = request.into_body().collect().await else {
        return body(json!({"status": 500}));
    };
    let text = String::from_utf8(collected.to_bytes().to_vec()).expect("a UTF-8 POST body");
    let frames: Vec<Message> = if ndjson {
        text.lines().map(line_frame).collect()
    } else {
        vec![Message::Text(text.into())]
    };
    for frame in frames {
        let _ = state.inbox.send(frame);
    }
    body(json!({"status": 200, "token": token}))
}

/// One ndjson line: a V2 text frame, or the base64 of a binary frame.
fn line_frame(line: &str) -> Message {
    if line.starts_with('[') {
        Message::Text(line.to_owned().into())
    } else {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(line)
            .expect("a base64 line");
        Message::Binary(bytes.into())
    }
}

/// One long-poll session, driven by the test.
pub struct Session {
    state: Arc<State>,
    frames: mpsc::UnboundedReceiver<Message>,
    pub upgrade: Upgrade,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.close();
    }
}

impl Session {
    /// The next frame the client POSTed.
    pub async fn recv_raw(&mut self) -> Message {
        tokio::time::timeout(WAIT, self.frames.recv())
            .await
            .expect("no frame from the client")
            .expect("the session's inbox closed")
    }

    /// Queues `text` for the client's next poll.
    pub fn send_text(&self, text: &str) {
        self.state.outbox.lock().unwrap().push_back(text.to_owned());
        self.state.wake.notify_waiters();
    }

    /// Forgets the session: the pending poll and every later request are answered `410`.
    pub fn close(&self) {
        self.state.closed.store(true, Ordering::SeqCst);
        self.state.wake.notify_waiters();
    }

    /// Checks that the client has let this session go: no poll in flight and no request for
    /// three poll windows. A poll the client sent just before it noticed its own disconnect is
    /// allowed once (it must then be abandoned too); a client that keeps polling fails.
    pub async fn expect_abandoned(&self) {
        for _ in 0..2 {
            self.until_no_poll_in_flight().await;
            let seen = self.state.requests.load(Ordering::SeqCst);
            tokio::time::sleep(POLL_WINDOW * 3).await;
            if self.state.requests.load(Ordering::SeqCst) == seen {
                return;
            }
        }
        panic!("the client kept making requests on a session it let go");
    }

    async fn until_no_poll_in_flight(&self) {
        tokio::time::timeout(WAIT, async {
            loop {
                let woken = self.state.wake.notified();
                if self.state.polls_in_flight.load(Ordering::SeqCst) == 0 {
                    return;
                }
                woken.await;
            }
        })
        .await
        .expect("the client kept a poll in flight");
    }
}
