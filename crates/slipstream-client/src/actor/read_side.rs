//! When the connection task polls its transport for frames: only on turns a read woke.
//!
//! Every turn of the loop used to poll the read side, whatever woke the turn (a command, a
//! timer, a write). Each such poll costs something even when nothing has arrived: a websocket
//! zero-fills its read buffer's free room before every read attempt (up to the read-buffer size).
//! So the read side is polled with a waker of its own, which records that it fired before it
//! wakes the task; a turn polls the transport only when that waker fired since the last
//! `Pending`, or when the last poll gave a frame (more may be buffered behind it).
//!
//! The rule rests on the `Stream` contract: a stream that answers `Pending` has registered the
//! waker it was given and will wake it when it can make progress.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use futures_util::StreamExt;
use futures_util::task::AtomicWaker;
use tokio_tungstenite::tungstenite::{Error, Message};

use super::transport::BoxTransport;

/// One connection's read side: whether a read woke the task, and the waker reads are given.
pub(super) struct ReadSide {
    wake: Arc<ReadWake>,
    /// A waker over `wake`, made once: the transport sees the same waker on every poll.
    waker: Waker,
}

struct ReadWake {
    /// A read woke the task (or may have a frame ready) since the last `Pending`.
    woken: AtomicBool,
    /// The connection task, woken after `woken` is set.
    task: AtomicWaker,
}

impl Wake for ReadWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.task.wake();
    }
}

impl ReadSide {
    /// A new connection's read side, to be polled on the first turn.
    pub(super) fn new() -> Self {
        let wake = Arc::new(ReadWake {
            woken: AtomicBool::new(true),
            task: AtomicWaker::new(),
        });
        let waker = Waker::from(wake.clone());
        ReadSide { wake, waker }
    }

    /// The next frame of `frames`, polled only if a read woke the task since the last
    /// `Pending` (else `Pending` at once). `cx`'s task is woken when a read can progress.
    pub(super) fn poll_next(
        &self,
        frames: &mut BoxTransport,
        cx: &Context<'_>,
    ) -> Poll<Option<Result<Message, Error>>> {
        // Registered before `woken` is read, so a read that fires in between still wakes us.
        self.wake.task.register(cx.waker());
        self.poll_again(frames)
    }

    /// [`poll_next`](Self::poll_next) for frames read behind the first within a turn: the
    /// task's waker is already registered.
    pub(super) fn poll_again(
        &self,
        frames: &mut BoxTransport,
    ) -> Poll<Option<Result<Message, Error>>> {
        if !self.wake.woken.swap(false, Ordering::AcqRel) {
            return Poll::Pending;
        }
        let polled = frames.poll_next_unpin(&mut Context::from_waker(&self.waker));
        if polled.is_ready() {
            // More may be buffered behind this frame: the next turn polls again.
            self.wake.woken.store(true, Ordering::Release);
        }
        polled
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::task::noop_waker_ref;
    use std::pin::Pin;
    use std::sync::Mutex;

    /// What a scripted transport will read, how often it was polled, and the waker it kept.
    #[derive(Default)]
    struct Script {
        ready: Vec<Message>,
        polls: usize,
        waker: Option<Waker>,
    }

    /// A transport that reads from its script: `Pending` until the script holds a frame. It
    /// keeps the waker it was given, as a stream must.
    struct Scripted(Arc<Mutex<Script>>);

    impl futures_util::Stream for Scripted {
        type Item = Result<Message, Error>;
        fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            let mut script = self.0.lock().unwrap();
            script.polls += 1;
            match script.ready.pop() {
                Some(frame) => Poll::Ready(Some(Ok(frame))),
                None => {
                    script.waker = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        }
    }

    impl futures_util::Sink<Message> for Scripted {
        type Error = Error;
        fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Error>> {
            Poll::Ready(Ok(()))
        }
        fn start_send(self: Pin<&mut Self>, _: Message) -> Result<(), Error> {
            Ok(())
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Error>> {
            Poll::Ready(Ok(()))
        }
        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Error>> {
            Poll::Ready(Ok(()))
        }
    }

    #[test]
    fn the_read_side_is_polled_only_after_a_read_woke_it_or_gave_a_frame() {
        let script = Arc::new(Mutex::new(Script {
            ready: vec![Message::text("b"), Message::text("a")],
            ..Script::default()
        }));
        let polls = || script.lock().unwrap().polls;
        let mut frames: BoxTransport = Box::new(Scripted(script.clone()));
        let side = ReadSide::new();
        let cx = Context::from_waker(noop_waker_ref());
        assert!(matches!(
            side.poll_next(&mut frames, &cx),
            Poll::Ready(Some(Ok(_)))
        ));
        assert!(matches!(
            side.poll_again(&mut frames),
            Poll::Ready(Some(Ok(_)))
        ));
        assert!(side.poll_again(&mut frames).is_pending());
        assert_eq!(polls(), 3);
        // Turns that no read woke leave the transport alone.
        for _ in 0..5 {
            assert!(side.poll_next(&mut frames, &cx).is_pending());
        }
        assert_eq!(polls(), 3);
        // The transport wakes the waker it kept: the next turn polls it.
        let kept = {
            let mut script = script.lock().unwrap();
            script.ready.push(Message::text("c"));
            script.waker.take().unwrap()
        };
        kept.wake();
        assert!(matches!(
            side.poll_next(&mut frames, &cx),
            Poll::Ready(Some(Ok(_)))
        ));
        assert_eq!(polls(), 4);
    }

    #[test]
    fn a_read_that_fires_wakes_the_task_registered_last() {
        let script = Arc::new(Mutex::new(Script::default()));
        let mut frames: BoxTransport = Box::new(Scripted(script.clone()));
        let side = ReadSide::new();
        let task = Arc::new(Counter::default());
        let task_waker = Waker::from(task.clone());
        assert!(
            side.poll_next(&mut frames, &Context::from_waker(&task_waker))
                .is_pending()
        );
        let kept = script.lock().unwrap().waker.take().unwrap();
        kept.wake_by_ref();
        assert_eq!(task.0.load(Ordering::Relaxed), 1);
    }

    #[derive(Default)]
    struct Counter(std::sync::atomic::AtomicUsize);

    impl Wake for Counter {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}
