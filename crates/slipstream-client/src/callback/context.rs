//! [`Context`]: what a callback can do to its socket and to itself.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use slipstream_protocol::{Payload, Ref};

use super::{Client, ClientHandle};
use crate::socket::Socket;

/// Passed to every callback: the socket's requests (join, leave, push, disconnect…) and a handle
/// to the client itself. Every request returns at once; its outcome arrives as a later callback
/// (`join`, `reply`, `leave`, `disconnect`…).
pub struct Context<C: Client> {
    socket: Socket,
    handle: ClientHandle<C>,
    /// Set by [`reconnect`](Self::reconnect), so the disconnect it causes is reported as
    /// [`Disconnect::Reconnect`](super::Disconnect::Reconnect).
    reconnecting: AtomicBool,
}

impl<C: Client> std::fmt::Debug for Context<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("socket", &self.socket)
            .finish_non_exhaustive()
    }
}

impl<C: Client> Context<C> {
    pub(crate) fn new(socket: Socket, handle: ClientHandle<C>) -> Self {
        Context {
            socket,
            handle,
            reconnecting: AtomicBool::new(false),
        }
    }

    /// The socket, for everything else (`join_status`, `await_reply` inside a callback, …).
    pub fn socket(&self) -> &Socket {
        &self.socket
    }

    /// A handle to this client, e.g. for a task that sends it [`Client::Info`] later.
    pub fn handle(&self) -> ClientHandle<C> {
        self.handle.clone()
    }

    /// Joins `topic` with `params` (see [`Socket::join`]); [`Client::join`] or
    /// [`Client::topic_close`] follows.
    pub fn join(&self, topic: &str, params: impl Into<Payload>) {
        self.socket.join(topic, params);
    }

    /// Leaves `topic`; [`Client::leave`] follows.
    pub fn leave(&self, topic: &str) {
        self.socket.leave(topic);
    }

    /// Joins a closed topic again with its last params (see [`Socket::rejoin`]).
    pub fn rejoin(&self, topic: &str) {
        self.socket.rejoin(topic);
    }

    /// Pushes `event` to `topic`; [`Client::reply`] follows with the returned ref.
    pub fn push(&self, topic: &str, event: &str, payload: impl Into<Payload>) -> Ref {
        self.socket.push(topic, event, payload)
    }

    /// Pushes without wanting a reply: see
    /// [`Socket::push_no_reply`](crate::Socket::push_no_reply).
    pub fn push_no_reply(&self, topic: &str, event: &str, payload: impl Into<Payload>) -> Ref {
        self.socket.push_no_reply(topic, event, payload)
    }

    /// Like [`push`](Self::push) with its own reply timeout.
    pub fn push_with_timeout(
        &self,
        topic: &str,
        event: &str,
        payload: impl Into<Payload>,
        timeout: Duration,
    ) -> Ref {
        self.socket
            .push_with_timeout(topic, event, payload, timeout)
    }

    /// Closes the connection; [`Client::disconnect`] follows with
    /// [`Disconnect::Requested`](super::Disconnect::Requested).
    pub fn disconnect(&self) {
        self.socket.disconnect();
    }

    /// Drops the connection and connects again at once; [`Client::disconnect`] follows with
    /// [`Disconnect::Reconnect`](super::Disconnect::Reconnect) (when connected), then
    /// [`Client::connect`].
    pub fn reconnect(&self) {
        if self.socket.is_connected() {
            self.reconnecting.store(true, Ordering::Release);
        }
        self.socket.reconnect();
    }

    /// Whether the disconnect being reported was caused by [`reconnect`](Self::reconnect); clears
    /// the mark.
    pub(crate) fn take_reconnecting(&self) -> bool {
        self.reconnecting.swap(false, Ordering::AcqRel)
    }

    pub(crate) fn clear_reconnecting(&self) {
        self.reconnecting.store(false, Ordering::Release);
    }
}
