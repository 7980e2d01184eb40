//! [`ClientHandle`]: how other tasks talk to a running callback client.

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::Client;

/// What a handle asks of the runner.
pub(crate) enum Request<C: Client> {
    Info(C::Info),
    Call(C::Call, oneshot::Sender<C::Response>),
    Stop,
}

/// Why a handle's request got no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// The client has stopped (or stopped before answering).
    #[error("the callback client has stopped")]
    Stopped,
    /// `handle_call` dropped its [`ReplyTo`] without answering.
    #[error("the callback client did not answer the call")]
    NoReply,
    /// No answer within the call's timeout.
    #[error("no answer to the call within {}", crate::event::human::duration(*.0))]
    Timeout(Duration),
}

/// A cloneable handle to a running callback client: send it [`info`](Self::info) messages,
/// [`call`](Self::call) it, [`stop`](Self::stop) it. Obtain one from
/// [`Runner::handle`](super::Runner::handle), [`spawn`](super::spawn) or
/// [`Context::handle`](super::Context::handle).
pub struct ClientHandle<C: Client> {
    tx: mpsc::UnboundedSender<Request<C>>,
}

impl<C: Client> Clone for ClientHandle<C> {
    fn clone(&self) -> Self {
        ClientHandle {
            tx: self.tx.clone(),
        }
    }
}

impl<C: Client> std::fmt::Debug for ClientHandle<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientHandle")
            .field("running", &self.is_running())
            .finish()
    }
}

impl<C: Client> ClientHandle<C> {
    pub(crate) fn new(tx: mpsc::UnboundedSender<Request<C>>) -> Self {
        ClientHandle { tx }
    }

    /// Delivers `info` to [`Client::handle_info`] (Slipstream's `send`/`handle_info`). Returns at
    /// once.
    pub fn info(&self, info: C::Info) -> Result<(), CallError> {
        self.tx
            .send(Request::Info(info))
            .map_err(|_| CallError::Stopped)
    }

    /// Asks [`Client::handle_call`] and waits for its answer (Slipstream's `GenServer.call`),
    /// however long it takes; see [`call_timeout`](Self::call_timeout).
    pub async fn call(&self, call: C::Call) -> Result<C::Response, CallError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Request::Call(call, reply))
            .map_err(|_| CallError::Stopped)?;
        answer.await.map_err(|_| {
            if self.tx.is_closed() {
                CallError::Stopped
            } else {
                CallError::NoReply
            }
        })
    }

    /// Like [`call`](Self::call), giving up after `timeout`.
    pub async fn call_timeout(
        &self,
        call: C::Call,
        timeout: Duration,
    ) -> Result<C::Response, CallError> {
        tokio::time::timeout(timeout, self.call(call))
            .await
            .unwrap_or(Err(CallError::Timeout(timeout)))
    }

    /// Asks the client to stop; the runner finishes with
    /// [`StopReason::Stopped`](super::StopReason::Stopped) after the callback in progress, if
    /// any. Does nothing if it already stopped.
    pub fn stop(&self) {
        // A stopped client needs no stopping.
        let _ = self.tx.send(Request::Stop);
    }

    /// Whether the client is still running.
    pub fn is_running(&self) -> bool {
        !self.tx.is_closed()
    }
}

/// The answer slot of one [`Client::handle_call`]: answer now, or keep it and answer from a later
/// callback (Slipstream's deferred `GenServer.reply`). Dropping it unanswered gives the caller
/// [`CallError::NoReply`].
#[derive(Debug)]
pub struct ReplyTo<T> {
    tx: oneshot::Sender<T>,
}

impl<T> ReplyTo<T> {
    pub(crate) fn new(tx: oneshot::Sender<T>) -> Self {
        ReplyTo { tx }
    }

    /// Answers the call. Returns `false` if the caller stopped waiting.
    pub fn send(self, response: T) -> bool {
        self.tx.send(response).is_ok()
    }
}
