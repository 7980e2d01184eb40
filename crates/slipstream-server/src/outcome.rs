//! What a [`Channel`](crate::Channel)'s callbacks return and receive: join, push and info
//! outcomes, and why a channel stops or ends. Plain data, so the connection, the runner and the
//! messages between them can use it without the trait.

use std::any::Any;

use slipstream_protocol::Payload;

/// A message for [`Channel::handle_info`](crate::Channel::handle_info): anything sent with
/// [`ChannelContext::send_info`](crate::ChannelContext::send_info) or an
/// [`InfoSender`](crate::InfoSender). Downcast it to the type you sent.
pub type Info = Box<dyn Any + Send>;

/// The outcome of [`Channel::join`](crate::Channel::join).
#[derive(Debug)]
pub enum JoinResult {
    /// Joined; the reply's `response` is this payload (`{}` for a plain ok).
    Ok(Payload),
    /// Refused; the reply has status `error` and this `response`.
    Error(Payload),
    /// The join failed unexpectedly: the client gets `{"reason":"join crashed"}` (as a panic would).
    Crash(String),
}

/// The outcome of [`Channel::handle_in`](crate::Channel::handle_in).
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

/// The outcome of [`Channel::handle_info`](crate::Channel::handle_info).
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

/// Why a channel ends, as [`Channel::terminate`](crate::Channel::terminate) sees it.
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
