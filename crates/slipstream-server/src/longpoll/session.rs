//! Long-poll sessions: one connection each, kept between requests.
//!
//! A session holds its connection's input (the frames POSTs bring) and what the connection sent
//! and no GET took yet (the bytes stay counted against `max_outbound_bytes` until a poll takes
//! them, so a client that stops polling is closed as a websocket client that stops reading is).
//! Ending a session removes it from the registry: its token is unknown from then on. Who runs
//! the connection and ends the session is the HTTP layer's keeper (`http::keeper`).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

use super::token::Signer;
use crate::inbound::Inbound;
use crate::outbound::QueueState;

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

    /// Registers `session` unless `max` sessions are open already; returns its token.
    pub(crate) fn insert(&self, session: Arc<Session>, max: usize) -> Result<String, Full> {
        let id = session.id;
        {
            let mut live = self.live();
            if live.len() >= max.max(1) {
                return Err(Full);
            }
            live.insert(id, session);
        }
        Ok(self.signer.sign(id))
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
    /// A session for connection `id`, reading `frames` and accounting on `queue`.
    pub(crate) fn new(
        id: u64,
        frames: mpsc::Sender<Inbound>,
        queue: Arc<QueueState>,
    ) -> Arc<Session> {
        Arc::new(Session {
            id,
            frames: Mutex::new(Some(frames)),
            state: Mutex::new(State {
                buffer: VecDeque::new(),
                ended: false,
                poll_epoch: 0,
                polls_in_flight: 0,
                last_poll: Instant::now(),
            }),
            changed: Notify::new(),
            queue,
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The session's connection id (as in the server's log lines).
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// The byte accounting of the connection's queue.
    pub(crate) fn queue(&self) -> &QueueState {
        &self.queue
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

    /// Keeps a frame the connection sent until a poll takes it.
    pub(crate) fn push(&self, frame: Bytes) {
        self.state().buffer.push_back(frame);
        self.changed.notify_waiters();
    }

    /// Whether no poll is in flight and none came for `limit`.
    pub(crate) fn expired(&self, limit: Duration) -> bool {
        let state = self.state();
        state.polls_in_flight == 0 && state.last_poll.elapsed() >= limit
    }

    /// Ends the session: its token is forgotten, its connection's input closes, and a waiting
    /// poll answers. Messages not polled yet are still delivered to a poll already waiting.
    pub(crate) fn end(&self, sessions: &Sessions) {
        sessions.remove(self.id);
        self.frames.lock().unwrap_or_else(|e| e.into_inner()).take();
        self.state().ended = true;
        self.changed.notify_waiters();
    }
}
