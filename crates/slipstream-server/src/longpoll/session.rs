//! Long-poll sessions: one connection each, kept between requests.
//!
//! A session is a [`connection::serve`] whose frames come from POSTs and whose writer's queue is
//! emptied by GETs. Its keeper task moves what the connection sends into the session's buffer
//! (the bytes stay counted against `max_outbound_bytes` until a poll takes them, so a client that
//! stops polling is closed as a websocket client that stops reading is), and ends the session
//! when the connection ends, when the server closes it, or when no GET came for 1.5 times the
//! poll window. Ending removes the session from the registry: its token is unknown from then on.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

use super::token::Signer;
use crate::connection::{self, Wiring};
use crate::inbound::Inbound;
use crate::outbound::{self, Out, QueueState};
use crate::shared::Shared;
use crate::socket::SocketInfo;

/// Every live session of a server, by id, and the key their tokens are signed with.
pub(crate) struct Sessions {
    signer: Signer,
    live: Mutex<HashMap<u64, Arc<Session>>>,
}

impl Default for Sessions {
    fn default() -> Self {
        Sessions {
            signer: Signer::new(),
            live: Mutex::default(),
        }
    }
}

/// Why a new session was not opened.
pub(crate) struct Full;

impl Sessions {
    fn live(&self) -> MutexGuard<'_, HashMap<u64, Arc<Session>>> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The live session `token` names, if any.
    pub(crate) fn find(&self, token: &str) -> Option<Arc<Session>> {
        let id = self.signer.verify(token)?;
        self.live().get(&id).cloned()
    }

    /// How many sessions are open.
    pub(crate) fn count(&self) -> usize {
        self.live().len()
    }

    /// Opens a session for an accepted connect and starts its connection; returns its token.
    pub(crate) fn open(
        &self,
        shared: &Arc<Shared>,
        socket: Arc<SocketInfo>,
    ) -> Result<(Arc<Session>, String), Full> {
        let conn_id = shared.next_id();
        let (out, out_rx, queue) = outbound::queue(shared.config.max_outbound_bytes);
        let (frames_tx, frames) = mpsc::channel(8);
        let session = Arc::new(Session {
            id: conn_id,
            frames: Mutex::new(Some(frames_tx)),
            state: Mutex::new(State {
                buffer: VecDeque::new(),
                ended: false,
                poll_epoch: 0,
                polls_in_flight: 0,
                last_poll: Instant::now(),
            }),
            changed: Notify::new(),
            queue: queue.clone(),
        });
        {
            let mut live = self.live();
            if live.len() >= shared.config.max_longpoll_sessions.max(1) {
                return Err(Full);
            }
            live.insert(conn_id, session.clone());
        }
        let wiring = Wiring {
            conn_id,
            frames,
            out,
            queue,
            idle_close: false,
        };
        let serve = connection::serve(shared.clone(), socket, wiring);
        tokio::spawn(keep(shared.clone(), session.clone(), out_rx, serve));
        Ok((session.clone(), self.signer.sign(conn_id)))
    }

    fn remove(&self, id: u64) {
        self.live().remove(&id);
    }
}

/// One long-poll client's connection, between its requests.
pub(crate) struct Session {
    id: u64,
    /// The connection's input; taken when the session ends, which ends the connection.
    frames: Mutex<Option<mpsc::Sender<Inbound>>>,
    state: Mutex<State>,
    /// Woken on a new message, on a newer poll and when the session ends.
    changed: Notify,
    queue: Arc<QueueState>,
}

struct State {
    /// Frames the connection sent (websocket-encoded, as the writer's queue holds them), not yet
    /// polled. Their bytes stay reserved on `queue`.
    buffer: VecDeque<Bytes>,
    ended: bool,
    /// Bumped by every GET: a poll that sees a newer one answers at once with nothing.
    poll_epoch: u64,
    polls_in_flight: usize,
    last_poll: Instant,
}

/// A poll in flight, counted out (and its time noted) when dropped.
struct InFlight<'a>(&'a Session);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut state = self.0.state();
        state.polls_in_flight -= 1;
        state.last_poll = Instant::now();
    }
}

/// What a poll got.
pub(crate) enum Polled {
    /// Frames in the order the connection sent them (websocket-encoded).
    Messages(Vec<Bytes>),
    /// Nothing came within the window, or a newer poll took over.
    NoContent,
    /// The session has ended.
    Gone,
}

impl Session {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The session's connection id (as in the server's log lines).
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// The connection's input, while the session lives.
    pub(crate) fn sender(&self) -> Option<mpsc::Sender<Inbound>> {
        self.frames
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Waits up to `window` for the connection's next frames and takes all that are buffered.
    pub(crate) async fn poll(&self, window: Duration) -> Polled {
        let epoch = {
            let mut state = self.state();
            state.poll_epoch += 1;
            state.polls_in_flight += 1;
            state.poll_epoch
        };
        // Counted out however the poll ends, also when its client hangs up mid-wait (the
        // handler's future is then dropped), so the session can still expire.
        let _in_flight = InFlight(self);
        self.changed.notify_waiters();
        let deadline = Instant::now() + window;
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if let Some(polled) = self.take(epoch) {
                return polled;
            }
            tokio::select! {
                _ = changed => {}
                _ = tokio::time::sleep_until(deadline) => return Polled::NoContent,
            }
        }
    }

    /// What a poll of `epoch` answers now, if it answers now.
    fn take(&self, epoch: u64) -> Option<Polled> {
        let mut state = self.state();
        if state.poll_epoch != epoch {
            return Some(Polled::NoContent);
        }
        if !state.buffer.is_empty() {
            let frames: Vec<Bytes> = state.buffer.drain(..).collect();
            drop(state);
            self.queue.release(frames.iter().map(Bytes::len).sum());
            return Some(Polled::Messages(frames));
        }
        state.ended.then_some(Polled::Gone)
    }

    fn push(&self, frame: Bytes) {
        self.state().buffer.push_back(frame);
        self.changed.notify_waiters();
    }

    /// Whether no poll is in flight and none came for `limit`.
    fn expired(&self, limit: Duration) -> bool {
        let state = self.state();
        state.polls_in_flight == 0 && state.last_poll.elapsed() >= limit
    }

    /// Ends the session: its token is forgotten, its connection's input closes, and a waiting
    /// poll answers. Messages not polled yet are still delivered to a poll already waiting.
    fn end(&self, sessions: &Sessions) {
        sessions.remove(self.id);
        self.frames.lock().unwrap_or_else(|e| e.into_inner()).take();
        self.state().ended = true;
        self.changed.notify_waiters();
    }
}

/// Why a session's keeper ended it.
enum Ended {
    /// The connection ended on its own (a malformed frame, the queue overflowing, ...).
    Connection,
    /// The connection sent a close (the server closed it, or a socket-id disconnect).
    Closed(u16),
    /// No GET for 1.5 times the window.
    Expired,
}

/// Runs a session's connection and ends the session with it (see the module docs).
async fn keep(
    shared: Arc<Shared>,
    session: Arc<Session>,
    mut out: mpsc::UnboundedReceiver<Out>,
    serve: impl std::future::Future<Output = ()>,
) {
    let window = shared.config.longpoll_window;
    let expiry = window + window / 2;
    tokio::pin!(serve);
    let mut check = tokio::time::interval(expiry.min(Duration::from_secs(1)));
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut finished = false;
    let ended = loop {
        tokio::select! {
            _ = &mut serve => {
                finished = true;
                break Ended::Connection;
            }
            item = out.recv() => match item {
                Some(Out::Frame(frame)) => session.push(frame),
                Some(Out::Close(code)) => break Ended::Closed(code),
                None => break Ended::Connection,
            },
            _ = check.tick() => {
                if session.expired(expiry) {
                    break Ended::Expired;
                }
            }
        }
    };
    let id = session.id;
    match ended {
        Ended::Connection if session.queue.is_full() => {
            let queued = session.queue.queued();
            tracing::warn!(
                conn_id = id,
                "long-poll session {id} is not polling: {queued} bytes wait for it, past the \
                 limit of {} (max_outbound_bytes); ending it",
                shared.config.max_outbound_bytes
            );
        }
        Ended::Connection => tracing::debug!(conn_id = id, "long-poll session ended"),
        Ended::Closed(code) => {
            tracing::debug!(conn_id = id, code, "long-poll session closed by the server")
        }
        Ended::Expired => tracing::info!(
            conn_id = id,
            "long-poll session {id} got no poll for {} ms; ending it",
            expiry.as_millis()
        ),
    }
    session.end(&shared.longpoll);
    // Nothing more can be delivered: free the queue now, then let the connection finish.
    drop(out);
    if !finished {
        serve.await;
    }
    tracing::debug!(conn_id = id, "connection ended");
}
