//! The [`Channel`] trait an application implements (what its callbacks return is in
//! `outcome`).

use std::future::Future;

use slipstream_protocol::Payload;

use crate::context::ChannelContext;
use crate::outcome::{HandleResult, Info, InfoResult, JoinResult, TerminateReason};

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
