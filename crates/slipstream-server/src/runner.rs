//! Runs one joined channel in a task of its own and supervises it there: a panic or a crash
//! becomes `phx_error` for that topic only.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::FutureExt;

use slipstream_protocol::{Event, Message, Payload, Ref};
use tokio::sync::{mpsc, oneshot};

use crate::channel::Channel;
use crate::context::ChannelContext;
use crate::messages::{ChannelMsg, ChannelStart, Control, Push};
use crate::outbound::{self, Out};
use crate::outcome::{HandleResult, InfoResult, JoinResult, StopReason, TerminateReason};
use crate::shared::Shared;

/// How a joined channel ended.
enum Exit {
    /// Write `phx_close`.
    Close,
    /// Write `phx_error`.
    Error,
    /// Write nothing (never joined, replaced, or the connection is gone).
    Silent,
}

/// Starts the channel's task (which is its own supervisor).
pub(crate) fn spawn<C: Channel>(channel: C, start: ChannelStart, shared: Arc<Shared>) {
    tokio::spawn(supervise(channel, start, shared));
}

async fn supervise<C: Channel>(channel: C, start: ChannelStart, shared: Arc<Shared>) {
    let ChannelStart {
        topic,
        params,
        join_ref,
        msg_ref,
        channel_id,
        serializer,
        out,
        socket,
        mailbox_tx,
        mailbox_rx,
        join_tx,
        go_rx,
        exit_tx,
    } = start;
    let ctx = ChannelContext {
        topic: topic.clone(),
        join_ref: join_ref.clone().or(msg_ref),
        channel_id,
        serializer,
        out: out.clone(),
        shared: shared.clone(),
        socket,
        mailbox: mailbox_tx,
        held: Some(Vec::new()),
    };
    let joined = Arc::new(AtomicBool::new(false));
    // In this task, not one of its own: a panic is caught where the channel is polled, and the
    // channel's state is dropped by the end of this statement, as a panicked task's would be.
    let run = run(
        channel,
        ctx,
        params,
        join_tx,
        go_rx,
        mailbox_rx,
        joined.clone(),
    );
    let result = AssertUnwindSafe(run).catch_unwind().await;
    let exit = match result {
        Ok(exit) => exit,
        Err(panic) => {
            let detail = panic_text(panic);
            tracing::warn!(%topic, panic = %detail, "channel panicked");
            Exit::Error
        }
    };
    shared.pubsub.unsubscribe(&topic, channel_id);
    for (presence_topic, diff) in shared.presence.untrack_channel(&shared.pubsub, channel_id) {
        let _ = shared.pubsub.broadcast_local(
            &presence_topic,
            "presence_diff",
            Payload::json(&diff),
            None,
        );
    }
    let event = match exit {
        Exit::Close => Some(Event::Close),
        Exit::Error => Some(Event::Error),
        Exit::Silent => None,
    };
    if let Some(event) = event.filter(|_| joined.load(Ordering::Acquire)) {
        // phx_close / phx_error carry the join_ref the client sent, as both refs.
        let notice = Message::new(join_ref.clone(), join_ref, topic, event, Payload::empty());
        if let Ok(frame) = outbound::encode(serializer, &notice) {
            let _ = out.send(Out::Frame(frame));
        }
    }
    let _ = exit_tx.send(Control::ChannelEnded(channel_id));
}

async fn run<C: Channel>(
    mut channel: C,
    mut ctx: ChannelContext,
    params: Payload,
    join_tx: oneshot::Sender<JoinResult>,
    go_rx: oneshot::Receiver<()>,
    mut mailbox: mpsc::UnboundedReceiver<ChannelMsg>,
    joined: Arc<AtomicBool>,
) -> Exit {
    let topic = ctx.topic.clone();
    let result = channel.join(&topic, params, &mut ctx).await;
    let ok = matches!(result, JoinResult::Ok(_));
    if join_tx.send(result).is_err() || !ok || go_rx.await.is_err() {
        return Exit::Silent;
    }
    joined.store(true, Ordering::Release);
    ctx.release_held();
    while let Some(message) = mailbox.recv().await {
        let stop = match message {
            ChannelMsg::In(push) => {
                let Push {
                    event,
                    payload,
                    msg_ref,
                    permit,
                } = *push;
                let stop = match channel.handle_in(&event, payload, &mut ctx).await {
                    HandleResult::Reply { status, response } => {
                        reply_to_push(&mut ctx, msg_ref, status, response).await;
                        None
                    }
                    HandleResult::NoReply => None,
                    HandleResult::Stop { reason, reply } => {
                        if let Some((status, response)) = reply {
                            reply_to_push(&mut ctx, msg_ref, status, response).await;
                        }
                        Some(reason)
                    }
                };
                drop(permit);
                stop
            }
            ChannelMsg::Info(info) => match channel.handle_info(info, &mut ctx).await {
                InfoResult::Continue => None,
                InfoResult::Stop(reason) => Some(reason),
            },
            ChannelMsg::Leave { msg_ref } => {
                drop(mailbox);
                channel.terminate(&TerminateReason::Left, &mut ctx).await;
                ctx.reply(msg_ref, "ok".to_owned(), Payload::empty());
                return Exit::Close;
            }
            ChannelMsg::Shutdown(reason) => {
                drop(mailbox);
                channel.terminate(&reason, &mut ctx).await;
                return Exit::Silent;
            }
        };
        if let Some(reason) = stop {
            drop(mailbox);
            let exit = match &reason {
                StopReason::Normal | StopReason::Shutdown => Exit::Close,
                StopReason::Crash(why) => {
                    tracing::warn!(%topic, reason = %why, "channel crashed");
                    Exit::Error
                }
            };
            channel
                .terminate(&TerminateReason::Stopped(reason), &mut ctx)
                .await;
            return exit;
        }
    }
    Exit::Silent
}

fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned())
}

/// Sends a channel's reply to a client push, unless fault injection delays or drops it.
async fn reply_to_push(
    ctx: &mut ChannelContext,
    msg_ref: Option<Ref>,
    status: String,
    response: Payload,
) {
    let delay = ctx.shared.reply_delay_ms.load(Ordering::Relaxed);
    if delay > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
    }
    if ctx.shared.drop_replies.load(Ordering::Relaxed) {
        tracing::debug!(topic = %ctx.topic, "reply dropped (fault injection)");
        return;
    }
    ctx.reply(msg_ref, status, response);
}
