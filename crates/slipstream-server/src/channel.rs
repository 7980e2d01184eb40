//! The [`Channel`] trait an application implements, and what its callbacks return.

use std::any::Any;
use std::future::Future;

use slipstream_protocol::Payload;

use crate::context::ChannelContext;

/// A message for [`Channel::handle_info`]: anything sent with [`ChannelContext::send_info`] or an
/// [`InfoSender`](crate::InfoSender). Downcast it to the type you sent.
pub type Info = Box<dyn Any + Send>;

/// One joined topic on one connection, like a Phoenix channel process.
///
/// Every joined channel runs in its own task: a panic in any callback is contained there — the
/// client gets `phx_error` for that topic (or `join crashed` during a join) and nothing else on the
/// connection is affected.
///
/// Implement the methods with `async fn`; the futures must be `Send`.
pub trait Channel: Send + 'static {
    /// A client asked to join `topic` with `params` (the join payload, JSON or binary).
    ///
    /// Pushes made here are written after the join's ok reply (Phoenix forbids them; the
    /// idiom there is to [`send_info`](ChannelContext::send_info) yourself a message and push
    /// from [`handle_info`](Channel::handle_info), which works here too).
    fn join(
        &mut self,
        topic: &str,
        params: Payload,
        ctx: &mut ChannelContext,
    ) -> impl Future<Output = JoinResult> + Send;

    /// A client pushed `event` with `payload` on this channel's topic.
    fn handle_in(
        &mut self,
        event: &str,
        payload: Payload,
        ctx: &mut ChannelContext,
    ) -> impl Future<Output = HandleResult> + Send;

    /// A server-side message arrived (see [`Info`]). By default it is ignored.
    fn handle_info(
        &mut self,
        message: Info,
        ctx: &mut ChannelContext,
    ) -> impl Future<Output = InfoResult> + Send {
        let _ = (message, ctx);
        async { InfoResult::Continue }
    }

    /// The channel is ending (not called after a panic). By default it does nothing.
    fn terminate(
        &mut self,
        reason: &TerminateReason,
        ctx: &mut ChannelContext,
    ) -> impl Future<Output = ()> + Send {
        let _ = (reason, ctx);
        async {}
    }
}

/// The outcome of [`Channel::join`].
#[derive(Debug)]
pub enum JoinResult {
    /// Joined; the reply's `response` is this payload (`{}` for a plain ok).
    Ok(Payload),
    /// Refused; the reply has status `error` and this `response`.
    Error(Payload),
    /// The join failed unexpectedly: the client gets `{"reason":"join crashed"}` (as a panic would).
    Crash(String),
}

/// The outcome of [`Channel::handle_in`].
#[derive(Debug)]
pub enum HandleResult {
    /// Reply to the push with this status (`ok`, `error` or any other) and response.
    Reply {
        /// The reply status.
        status: String,
        /// The reply's response (JSON or binary).
        response: Payload,
    },
    /// Send no reply.
    NoReply,
    /// Stop the channel, optionally replying first.
    Stop {
        /// Why: a normal stop closes the channel (`phx_close`), a crash errors it (`phx_error`).
        reason: StopReason,
        /// A reply `(status, response)` written before the channel ends.
        reply: Option<(String, Payload)>,
    },
}

impl HandleResult {
    /// Reply `ok` with `response`.
    pub fn ok(response: Payload) -> Self {
        Self::reply("ok", response)
    }

    /// Reply `error` with `response`.
    pub fn error(response: Payload) -> Self {
        Self::reply("error", response)
    }

    /// Reply with any status.
    pub fn reply(status: impl Into<String>, response: Payload) -> Self {
        HandleResult::Reply {
            status: status.into(),
            response,
        }
    }

    /// Stop normally, without a reply: the client gets `phx_close`.
    pub fn stop() -> Self {
        HandleResult::Stop {
            reason: StopReason::Normal,
            reply: None,
        }
    }

    /// Crash the channel: the client gets `phx_error`, as if the handler had raised.
    pub fn crash(reason: impl Into<String>) -> Self {
        HandleResult::Stop {
            reason: StopReason::Crash(reason.into()),
            reply: None,
        }
    }
}

/// The outcome of [`Channel::handle_info`].
#[derive(Debug)]
pub enum InfoResult {
    /// Keep going.
    Continue,
    /// Stop the channel for this reason.
    Stop(StopReason),
}

/// Why a channel stops itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// `:normal`: the client gets `phx_close`.
    Normal,
    /// `:shutdown`: the client gets `phx_close`.
    Shutdown,
    /// Anything else: the client gets `phx_error`.
    Crash(String),
}

/// Why a channel ends, as [`Channel::terminate`] sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TerminateReason {
    /// The client sent `phx_leave`.
    Left,
    /// The channel stopped itself.
    Stopped(StopReason),
    /// The client joined the same topic again; this instance is replaced.
    DuplicateJoin,
    /// The connection ended.
    Closed,
}
