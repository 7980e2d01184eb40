//! The shared event mailbox: the actor appends without ever waiting; consumers take events by
//! selective receive (the first event that matches, leaving the rest in order).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{Notify, broadcast};
use tokio::time::Instant;

use crate::event::SocketEvent;

/// What a selective wait ended with, when it found nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WaitError {
    /// The deadline passed.
    Timeout,
    /// The producer is gone and nothing matching is left.
    Closed,
}

#[derive(Debug)]
struct Inner {
    queue: Mutex<VecDeque<SocketEvent>>,
    notify: Notify,
    capacity: usize,
    dropped: AtomicU64,
    closed: AtomicBool,
    /// Copies of appended events for observers (see [`Mailbox::observe`]).
    observers: broadcast::Sender<SocketEvent>,
}

/// How many events an observer may fall behind before it starts missing some.
const OBSERVER_BACKLOG: usize = 256;

/// A bounded, multi-consumer queue of [`SocketEvent`]s with selective receive.
#[derive(Debug, Clone)]
pub(crate) struct Mailbox {
    inner: Arc<Inner>,
}

impl Mailbox {
    pub(crate) fn new(capacity: usize) -> Self {
        Mailbox {
            inner: Arc::new(Inner {
                queue: Mutex::new(VecDeque::new()),
                notify: Notify::new(),
                capacity: capacity.max(1),
                dropped: AtomicU64::new(0),
                closed: AtomicBool::new(false),
                observers: broadcast::channel(OBSERVER_BACKLOG).0,
            }),
        }
    }

    fn queue(&self) -> MutexGuard<'_, VecDeque<SocketEvent>> {
        // A consumer that panicked while holding the lock left the queue intact (we only ever
        // push, remove or drain), so a poisoned lock is still safe to use.
        self.inner
            .queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Appends an event, never waiting. When the mailbox is full the event is dropped and counted.
    pub(crate) fn push(&self, event: SocketEvent) {
        if self.inner.observers.receiver_count() > 0 {
            // Only fails when the last observer left in the meantime: nobody to tell.
            let _ = self.inner.observers.send(event.clone());
        }
        let accepted = {
            let mut queue = self.queue();
            if queue.len() >= self.inner.capacity {
                false
            } else {
                queue.push_back(event.clone());
                true
            }
        };
        if accepted {
            self.inner.notify.notify_waiters();
        } else {
            let total = self.inner.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            tracing::warn!(
                capacity = self.inner.capacity,
                dropped_total = total,
                ?event,
                "mailbox full: event dropped (consume events with flush/next_event/await_*)"
            );
        }
    }

    /// A receiver of a copy of every event pushed from now on (kept or dropped), without
    /// consuming anything from the mailbox.
    pub(crate) fn observe(&self) -> broadcast::Receiver<SocketEvent> {
        self.inner.observers.subscribe()
    }

    /// Marks the producer as gone and wakes every waiter.
    pub(crate) fn close(&self) {
        self.inner.closed.store(true, Ordering::Release);
        self.inner.notify.notify_waiters();
    }

    /// How many events were dropped because the mailbox was full.
    pub(crate) fn dropped(&self) -> u64 {
        self.inner.dropped.load(Ordering::Relaxed)
    }

    /// Removes and returns every queued event.
    pub(crate) fn drain(&self) -> Vec<SocketEvent> {
        self.queue().drain(..).collect()
    }

    /// Number of queued events.
    pub(crate) fn len(&self) -> usize {
        self.queue().len()
    }

    /// Removes the first event for which `select` returns `Some`, and returns its result.
    fn take_first<T>(&self, select: &mut impl FnMut(&SocketEvent) -> Option<T>) -> Option<T> {
        let mut queue = self.queue();
        let (index, value) = queue
            .iter()
            .enumerate()
            .find_map(|(i, ev)| select(ev).map(|v| (i, v)))?;
        queue.remove(index);
        Some(value)
    }

    /// Waits until an event for which `select` returns `Some` is queued, removes only that event and
    /// returns the selected value. Gives up at `deadline` without consuming anything.
    pub(crate) async fn select<T>(
        &self,
        deadline: Instant,
        mut select: impl FnMut(&SocketEvent) -> Option<T>,
    ) -> Result<T, WaitError> {
        loop {
            let notified = self.inner.notify.notified();
            tokio::pin!(notified);
            // Register before scanning so that a push between the scan and the wait is not missed.
            notified.as_mut().enable();
            if let Some(value) = self.take_first(&mut select) {
                return Ok(value);
            }
            if self.inner.closed.load(Ordering::Acquire) {
                return Err(WaitError::Closed);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.take_first(&mut select).ok_or(WaitError::Timeout);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{ChannelMessage, SocketEvent};
    use slipstream_protocol::Payload;
    use std::time::Duration;

    fn message(event: &str) -> SocketEvent {
        SocketEvent::Message(ChannelMessage {
            topic: "t".into(),
            event: event.into(),
            payload: Payload::empty(),
        })
    }

    fn is_event(name: &'static str) -> impl FnMut(&SocketEvent) -> Option<SocketEvent> {
        move |ev| match ev {
            SocketEvent::Message(m) if m.event == name => Some(ev.clone()),
            _ => None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn selective_receive_takes_only_the_first_match_and_keeps_order() {
        let mb = Mailbox::new(10);
        for e in ["a", "b", "c", "b"] {
            mb.push(message(e));
        }
        let deadline = Instant::now() + Duration::from_secs(1);
        assert_eq!(mb.select(deadline, is_event("b")).await, Ok(message("b")));
        assert_eq!(mb.drain(), vec![message("a"), message("c"), message("b")]);
    }

    #[tokio::test(start_paused = true)]
    async fn timeout_consumes_nothing() {
        let mb = Mailbox::new(10);
        mb.push(message("a"));
        let deadline = Instant::now() + Duration::from_secs(1);
        assert_eq!(
            mb.select(deadline, is_event("z")).await,
            Err(WaitError::Timeout)
        );
        assert_eq!(mb.len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_waiters_each_get_their_event() {
        let mb = Mailbox::new(10);
        let deadline = Instant::now() + Duration::from_secs(5);
        let (m1, m2) = (mb.clone(), mb.clone());
        let a = tokio::spawn(async move { m1.select(deadline, is_event("a")).await });
        let b = tokio::spawn(async move { m2.select(deadline, is_event("b")).await });
        tokio::task::yield_now().await;
        mb.push(message("b"));
        mb.push(message("a"));
        assert_eq!(a.await.unwrap(), Ok(message("a")));
        assert_eq!(b.await.unwrap(), Ok(message("b")));
        assert_eq!(mb.len(), 0);
    }

    #[test]
    fn observers_see_copies_and_consume_nothing() {
        let mb = Mailbox::new(10);
        mb.push(message("before"));
        let mut observer = mb.observe();
        mb.push(message("a"));
        mb.push(message("b"));
        assert_eq!(observer.try_recv(), Ok(message("a")));
        assert_eq!(observer.try_recv(), Ok(message("b")));
        assert!(observer.try_recv().is_err());
        assert_eq!(mb.len(), 3);
    }

    #[test]
    fn overflow_drops_and_counts() {
        let mb = Mailbox::new(2);
        for e in ["a", "b", "c", "d"] {
            mb.push(message(e));
        }
        assert_eq!(mb.dropped(), 2);
        assert_eq!(mb.drain(), vec![message("a"), message("b")]);
    }

    #[tokio::test(start_paused = true)]
    async fn closed_mailbox_still_yields_queued_matches() {
        let mb = Mailbox::new(4);
        mb.push(message("a"));
        mb.close();
        let deadline = Instant::now() + Duration::from_secs(1);
        assert_eq!(mb.select(deadline, is_event("a")).await, Ok(message("a")));
        assert_eq!(
            mb.select(deadline, is_event("a")).await,
            Err(WaitError::Closed)
        );
    }
}
