//! The write side of a connection: a queue of encoded frames that feeds the transport's sink
//! without ever making the connection task wait for it.
//!
//! The task encodes a message and appends it here ([`Outbound::enqueue`]); every turn of its loop
//! then calls [`Outbound::poll_drive`], which hands the sink every frame it accepts and flushes
//! once. When the sink is not ready (a slow or dead link, full kernel buffers) the frames stay
//! queued and the loop goes on: timers, heartbeats and commands keep running while a write is
//! pending, and a dead link is noticed by the heartbeat timer.
//!
//! The queue is bounded in bytes (see [`Outbound::has_room`]); what is refused is decided by the
//! caller.

use std::collections::VecDeque;
use std::task::{Context, Poll};

use futures_util::{Sink, SinkExt};
use tokio_tungstenite::tungstenite;

/// Encoded frames waiting for the sink, in write order.
pub(crate) struct Outbound {
    /// Each frame with the ref number of the no-reply push it carries, if it carries one.
    frames: VecDeque<(tungstenite::Message, Option<u64>)>,
    /// No-reply pushes given to the sink and not flushed yet.
    unflushed_casts: Vec<u64>,
    /// No-reply pushes flushed, for the task to settle ([`Outbound::take_flushed_casts`]).
    flushed_casts: Vec<u64>,
    /// Bytes of the frames in `frames` (payload lengths).
    bytes: usize,
    /// The byte bound (see [`has_room`](Self::has_room)).
    limit: usize,
    /// Frames were given to the sink since its last completed flush.
    unflushed: bool,
}

impl Outbound {
    pub(crate) fn new(limit: usize) -> Self {
        Outbound {
            frames: VecDeque::new(),
            unflushed_casts: Vec::new(),
            flushed_casts: Vec::new(),
            bytes: 0,
            limit,
            unflushed: false,
        }
    }

    /// Whether a push may still be queued: the queue holds fewer bytes than its limit. A push is
    /// judged before it is added, so the queue never holds more than the limit plus one frame.
    pub(crate) fn has_room(&self) -> bool {
        self.bytes < self.limit
    }

    /// Bytes queued and not yet handed to the sink.
    pub(crate) fn queued_bytes(&self) -> usize {
        self.bytes
    }

    /// The byte bound.
    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    /// Appends a frame (whatever the queue holds: the caller applies the bound); `cast` is the
    /// ref number of the no-reply push it carries, reported once flushed.
    pub(crate) fn enqueue(&mut self, frame: tungstenite::Message, cast: Option<u64>) {
        self.bytes += frame.len();
        self.frames.push_back((frame, cast));
    }

    /// The no-reply pushes flushed since the last call.
    pub(crate) fn take_flushed_casts(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.flushed_casts)
    }

    /// Feeds the sink every queued frame it accepts, then flushes once. Never waits: when the
    /// sink is not ready the rest stays queued and the sink wakes the task when it can take more.
    pub(crate) fn poll_drive<S>(
        &mut self,
        sink: &mut S,
        cx: &mut Context<'_>,
    ) -> Result<(), S::Error>
    where
        S: Sink<tungstenite::Message> + Unpin + ?Sized,
    {
        while !self.frames.is_empty() {
            match sink.poll_ready_unpin(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Err(e),
                Poll::Pending => return Ok(()),
            }
            let Some((frame, cast)) = self.frames.pop_front() else {
                break;
            };
            self.bytes -= frame.len();
            sink.start_send_unpin(frame)?;
            self.unflushed_casts.extend(cast);
            self.unflushed = true;
        }
        if self.unflushed {
            match sink.poll_flush_unpin(cx) {
                Poll::Ready(Ok(())) => {
                    self.unflushed = false;
                    self.flushed_casts.append(&mut self.unflushed_casts);
                }
                Poll::Ready(Err(e)) => return Err(e),
                Poll::Pending => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::task::Waker;

    use super::*;

    /// A sink that accepts `room` frames, then is not ready; counts flushes.
    #[derive(Default)]
    struct Gate {
        room: usize,
        got: Vec<String>,
        flushes: usize,
    }

    impl Sink<tungstenite::Message> for Gate {
        type Error = tungstenite::Error;

        fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            if self.room > 0 {
                Poll::Ready(Ok(()))
            } else {
                Poll::Pending
            }
        }

        fn start_send(
            mut self: Pin<&mut Self>,
            item: tungstenite::Message,
        ) -> Result<(), Self::Error> {
            self.room -= 1;
            let text = item.into_text().map(|t| t.as_str().to_owned());
            self.got.push(text.unwrap_or_default());
            Ok(())
        }

        fn poll_flush(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Result<(), Self::Error>> {
            self.flushes += 1;
            Poll::Ready(Ok(()))
        }

        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }
    }

    fn text(s: &str) -> tungstenite::Message {
        tungstenite::Message::Text(s.to_owned().into())
    }

    #[test]
    fn feeds_every_ready_frame_in_order_and_flushes_once() {
        let mut out = Outbound::new(1000);
        for s in ["a", "bb", "ccc"] {
            out.enqueue(text(s), None);
        }
        assert_eq!(out.queued_bytes(), 6);
        let mut sink = Gate {
            room: 10,
            ..Gate::default()
        };
        let mut cx = Context::from_waker(Waker::noop());
        out.poll_drive(&mut sink, &mut cx).unwrap();
        assert_eq!(sink.got, ["a", "bb", "ccc"]);
        assert_eq!(sink.flushes, 1);
        assert_eq!(out.queued_bytes(), 0);
        // Nothing new: no flush either.
        out.poll_drive(&mut sink, &mut cx).unwrap();
        assert_eq!(sink.flushes, 1);
    }

    #[test]
    fn a_sink_that_is_not_ready_keeps_the_rest_queued_without_waiting() {
        let mut out = Outbound::new(7);
        let mut sink = Gate {
            room: 1,
            ..Gate::default()
        };
        let mut cx = Context::from_waker(Waker::noop());
        out.enqueue(text("one"), None);
        out.enqueue(text("two"), None);
        assert!(out.has_room());
        out.enqueue(text("three"), None);
        assert!(!out.has_room(), "11 bytes queued, limit 7");
        out.poll_drive(&mut sink, &mut cx).unwrap();
        assert_eq!(sink.got, ["one"]);
        assert_eq!(out.queued_bytes(), 8);
        sink.room = 5;
        out.poll_drive(&mut sink, &mut cx).unwrap();
        assert_eq!(sink.got, ["one", "two", "three"]);
        assert!(out.has_room());
    }
}
