//! The shared event mailbox: the actor appends without ever waiting; consumers take events by
//! selective receive (the first event that matches, leaving the rest in order).
//!
//! # Overflow
//!
//! The capacity ([`SocketBuilder::mailbox_capacity`](crate::SocketBuilder::mailbox_capacity))
//! bounds the *server pushes* waiting in the mailbox: [`SocketEvent::Message`] and
//! [`SocketEvent::MalformedFrame`], what [`SocketEvent::is_server_push`] selects. Those are the
//! only events whose number the server decides, so they are the only ones a flood can multiply.
//!
//! * **Replies and lifecycle events are never dropped.** They are queued whatever the number
//!   of pushes waiting, outside the capacity, because each answers something the user asked for
//!   (one reply per push, one join/leave/connect answer per request) or marks a connection or
//!   rejoin attempt, which the backoff schedules pace. Dropping one would leave an `await_*`
//!   waiting for an answer that cannot come.
//! * **A server push that finds the capacity reached is dropped** (the newest, not the oldest)
//!   and counted ([`Mailbox::dropped`], exact). Dropping the newest keeps what is queued a gapless
//!   prefix of what arrived: an `await_message` for a push already queued still finds it, and a
//!   consumer that catches up reads events in order up to the point where the mailbox filled.
//!   Dropping the oldest instead would take pushes away from under a consumer that is about to
//!   read them, and each arrival would cost a removal at the front.
//! * **Overflow is reported once per burst**, never with payloads: one WARN line when dropping
//!   starts, then at most one line per [`REPORT_INTERVAL`] with the number dropped since the last
//!   line (written when the next event arrives, or when the socket's task ends). See
//!   [`OverflowLog`].
//!
//! Observers ([`Mailbox::observe`]) still get a copy of every event, kept or dropped.
//!
//! Storage grows with use: nothing is preallocated at the capacity, and the queue gives memory
//! back when it empties, or once it has stayed mostly empty.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{Notify, broadcast};
use tokio::time::Instant;

use crate::event::SocketEvent;
use crate::idle_storage::{Carried, IDLE_SLOTS};

/// What a selective wait ended with, when it found nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WaitError {
    /// The deadline passed.
    Timeout,
    /// The producer is gone and nothing matching is left.
    Closed,
}

/// At most one overflow line per this interval (the first line of a burst is written at once).
pub(crate) const REPORT_INTERVAL: Duration = Duration::from_secs(1);

/// Below this many slots the storage of a queue in use is never shrunk (a small queue is cheap
/// to keep); an emptied queue keeps at most [`IDLE_SLOTS`] (see [`Queue::release_storage`]).
const RETAINED_SLOTS: usize = 64;

/// One overflow line due: what [`OverflowLog`] asks the mailbox to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OverflowLine {
    /// Dropping starts (the first drop, or the first after a quiet interval).
    Started,
    /// `dropped` more pushes were dropped since the last line, `over` ago.
    Continued {
        /// Drops since the last line.
        dropped: u64,
        /// Time since the last line.
        over: Duration,
    },
}

/// Rate-limits the overflow warnings. Pure: the caller passes the time (so tests need no clock)
/// and writes the lines it returns.
///
/// A line is due when drops are unreported and the last line is at least [`REPORT_INTERVAL`]
/// old (or there was none): so a drop after a quiet interval is reported at once
/// ([`OverflowLine::Started`]), and during a burst the drops are summed into at most one
/// [`OverflowLine::Continued`] per interval. Drops still unreported when the burst ends are
/// reported by the next [`due`](Self::due) after the interval, or by [`flush`](Self::flush).
#[derive(Debug, Default)]
pub(crate) struct OverflowLog {
    /// When the last line was written; `None` before the first.
    last_line: Option<Instant>,
    /// Drops since the last line.
    unreported: u64,
}

impl OverflowLog {
    /// Records one drop at `now`; returns the line to write, if one is due.
    pub(crate) fn dropped(&mut self, now: Instant) -> Option<OverflowLine> {
        let opens_burst = self.unreported == 0;
        self.unreported += 1;
        if !self.quiet(now) {
            return None;
        }
        if opens_burst {
            self.unreported = 0;
            self.last_line = Some(now);
            return Some(OverflowLine::Started);
        }
        Some(self.summary(now))
    }

    /// The line due at `now` for drops not reported yet, if any (called on every arrival that
    /// is not dropped, so a burst's tail is reported once the interval has passed).
    pub(crate) fn due(&mut self, now: Instant) -> Option<OverflowLine> {
        (self.unreported > 0 && self.quiet(now)).then(|| self.summary(now))
    }

    /// Whether drops wait to be reported (only then can [`due`](Self::due) return a line).
    pub(crate) fn has_unreported(&self) -> bool {
        self.unreported > 0
    }

    /// The line for whatever is unreported, interval or not (the mailbox is closing).
    pub(crate) fn flush(&mut self, now: Instant) -> Option<OverflowLine> {
        (self.unreported > 0).then(|| self.summary(now))
    }

    /// Whether the last line is at least [`REPORT_INTERVAL`] old (or there was none).
    fn quiet(&self, now: Instant) -> bool {
        self.last_line
            .is_none_or(|last| now.saturating_duration_since(last) >= REPORT_INTERVAL)
    }

    fn summary(&mut self, now: Instant) -> OverflowLine {
        let line = OverflowLine::Continued {
            dropped: std::mem::take(&mut self.unreported),
            over: self
                .last_line
                .map_or(Duration::ZERO, |last| now.saturating_duration_since(last)),
        };
        self.last_line = Some(now);
        line
    }
}

/// The queue and what is counted with it, under one lock.
#[derive(Debug, Default)]
struct Queue {
    events: VecDeque<SocketEvent>,
    /// How many of `events` are server pushes (what the capacity bounds).
    pushes: usize,
    overflow: OverflowLog,
    /// Removals in a row that left at most a quarter of the storage used.
    underused: usize,
    /// Events taken out over the mailbox's life (see [`Queue::release_storage`]).
    removals: Carried,
}

impl Queue {
    /// Takes every event, and the storage with them.
    fn drain(&mut self) -> Vec<SocketEvent> {
        self.pushes = 0;
        self.underused = 0;
        std::mem::take(&mut self.events).into()
    }

    /// Called after each removal. A queue emptied gives its storage to the process's pool for
    /// the next burst ([`crate::burst_storage`]) unless it is a few slots, which it keeps (an
    /// idle socket's queue keeps none; see [`crate::idle_storage`]): so many sockets in bursts
    /// hold storage for what still waits, not each for its largest burst. A queue that stays in
    /// use but at most a quarter full for as many removals in a row as it has slots shrinks to
    /// twice what it holds, so a consumer that never quite catches up does not keep a flood's
    /// memory either. Amortised O(1), as growth is.
    fn release_storage(&mut self) {
        let (used, slots) = (self.events.len(), self.events.capacity());
        self.removals.add_one();
        if self.removals.release_if_idle(&mut self.events) {
            self.underused = 0;
            return;
        }
        if used == 0 && slots > IDLE_SLOTS {
            crate::burst_storage::give_back(std::mem::take(&mut self.events));
            self.underused = 0;
            return;
        }
        if slots <= RETAINED_SLOTS || used * 4 > slots {
            self.underused = 0;
            return;
        }
        self.underused += 1;
        if self.underused >= slots {
            self.shrink();
        }
    }

    fn shrink(&mut self) {
        self.underused = 0;
        if self.events.capacity() > RETAINED_SLOTS {
            self.events
                .shrink_to((self.events.len() * 2).max(RETAINED_SLOTS));
        }
    }
}

/// What a selector does with an event it is offered: keeps it (`Ok`, with the value the await
/// returns) or gives it back unchanged (`Err`).
pub(crate) type Selected<T> = Result<T, SocketEvent>;

/// A queued event lent to a selector: its slot holds a placeholder until the event is put back
/// ([`fill`](Self::fill)) or the slot removed ([`remove`](Self::remove)). If the selector
/// panics in between, the slot is removed (the event went with the panic), so no placeholder is
/// ever left in the queue.
struct Hole<'a> {
    queue: &'a mut Queue,
    index: usize,
    /// Whether the lent event was a server push (the placeholder is not).
    was_push: bool,
    open: bool,
}

impl<'a> Hole<'a> {
    fn open(queue: &'a mut Queue, index: usize) -> Self {
        Hole {
            queue,
            index,
            was_push: false,
            open: false,
        }
    }

    /// Takes the event out, leaving a placeholder.
    fn take(&mut self) -> SocketEvent {
        let event = std::mem::replace(&mut self.queue.events[self.index], SocketEvent::Connected);
        self.was_push = event.is_server_push();
        self.open = true;
        event
    }

    /// Puts the event back in its place.
    fn fill(mut self, event: SocketEvent) {
        self.queue.events[self.index] = event;
        self.open = false;
    }

    /// Removes the slot (the selector kept its event).
    fn remove(mut self) {
        self.close_slot();
    }

    fn close_slot(&mut self) {
        if !self.open {
            return;
        }
        self.open = false;
        let _placeholder = self.queue.events.remove(self.index);
        if self.was_push {
            self.queue.pushes -= 1;
        }
        self.queue.release_storage();
    }
}

impl Drop for Hole<'_> {
    fn drop(&mut self) {
        self.close_slot();
    }
}

#[derive(Debug)]
struct Inner {
    queue: Mutex<Queue>,
    notify: Notify,
    capacity: usize,
    dropped: AtomicU64,
    closed: AtomicBool,
    /// Copies of appended events for observers (see [`Mailbox::observe`]); made by the first
    /// `observe`, so that a socket nobody observes does not carry its buffer.
    observers: std::sync::OnceLock<broadcast::Sender<SocketEvent>>,
}

/// How many events an observer may fall behind before it starts missing some.
const OBSERVER_BACKLOG: usize = 256;

/// A multi-consumer queue of [`SocketEvent`]s with selective receive, whose server pushes are
/// bounded (see the module docs for what overflow does).
#[derive(Debug, Clone)]
pub(crate) struct Mailbox {
    inner: Arc<Inner>,
}

impl Mailbox {
    /// A mailbox that keeps at most `capacity` server pushes (at least 1).
    pub(crate) fn new(capacity: usize) -> Self {
        Mailbox {
            inner: Arc::new(Inner {
                queue: Mutex::new(Queue::default()),
                notify: Notify::new(),
                capacity: capacity.max(1),
                dropped: AtomicU64::new(0),
                closed: AtomicBool::new(false),
                observers: std::sync::OnceLock::new(),
            }),
        }
    }

    fn queue(&self) -> MutexGuard<'_, Queue> {
        // A consumer that panicked while holding the lock left the queue intact (we only ever
        // push, remove or drain), so a poisoned lock is still safe to use.
        self.inner
            .queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Appends an event, never waiting. A reply or lifecycle event is always queued; a server
    /// push that finds `capacity` pushes queued is dropped and counted.
    pub(crate) fn push(&self, event: SocketEvent) {
        self.push_all(std::iter::once(event));
    }

    /// Moves every event of `batch` to the end of the queue, in order, as
    /// [`push_all`](Self::push_all) does, leaving `batch` empty (with storage it may reuse).
    ///
    /// When nothing is queued, nobody observes and the batch's pushes fit the capacity (the
    /// usual case for a consumer that keeps up), the batch's storage simply becomes the queue's:
    /// no event is copied, and `batch` gets the queue's old, empty storage in exchange.
    pub(crate) fn append(&self, batch: &mut VecDeque<SocketEvent>) {
        if self.listening_observers().is_none() {
            let mut queue = self.queue();
            if queue.events.is_empty() && !queue.overflow.has_unreported() {
                let pushes = batch.iter().filter(|e| e.is_server_push()).count();
                if pushes <= self.inner.capacity {
                    std::mem::swap(&mut queue.events, batch);
                    queue.pushes = pushes;
                    drop(queue);
                    self.inner.notify.notify_waiters();
                    return;
                }
            }
        }
        self.push_all(batch.drain(..));
    }

    fn listening_observers(&self) -> Option<&broadcast::Sender<SocketEvent>> {
        self.inner
            .observers
            .get()
            .filter(|tx| tx.receiver_count() > 0)
    }

    /// Appends events in order, under one lock: a consumer woken by the first finds all of
    /// them queued. Each is kept or dropped as [`Mailbox::push`] says.
    pub(crate) fn push_all(&self, events: impl IntoIterator<Item = SocketEvent>) {
        let observers = self.listening_observers();
        // The clock is read only when the overflow log needs it (never on the usual path).
        let mut clock = None;
        let mut now = || *clock.get_or_insert_with(Instant::now);
        let mut accepted = false;
        let mut lines = Vec::new();
        {
            let mut queue = self.queue();
            for event in events {
                if let Some(tx) = observers {
                    // Only fails when the last observer left in the meantime: nobody to tell.
                    let _ = tx.send(event.clone());
                }
                let is_push = event.is_server_push();
                let line = if is_push && queue.pushes >= self.inner.capacity {
                    self.inner.dropped.fetch_add(1, Ordering::Relaxed);
                    queue.overflow.dropped(now())
                } else {
                    queue.events.push_back(event);
                    queue.pushes += usize::from(is_push);
                    accepted = true;
                    if queue.overflow.has_unreported() {
                        queue.overflow.due(now())
                    } else {
                        None
                    }
                };
                lines.extend(line);
            }
        }
        if accepted {
            self.inner.notify.notify_waiters();
        }
        for line in lines {
            self.report(line);
        }
    }

    /// Writes one overflow line (never a payload).
    fn report(&self, line: OverflowLine) {
        let capacity = self.inner.capacity;
        let dropped_total = self.dropped();
        match line {
            OverflowLine::Started => tracing::warn!(
                capacity,
                dropped_total,
                "mailbox full: server pushes are being dropped until events are consumed \
                 (await_*, flush, next_event) or the mailbox capacity is raised"
            ),
            OverflowLine::Continued { dropped, over } => tracing::warn!(
                capacity,
                dropped,
                over_ms = u64::try_from(over.as_millis()).unwrap_or(u64::MAX),
                dropped_total,
                "mailbox full: more server pushes dropped"
            ),
        }
    }

    /// A receiver of a copy of every event pushed from now on (kept or dropped), without
    /// consuming anything from the mailbox.
    pub(crate) fn observe(&self) -> broadcast::Receiver<SocketEvent> {
        self.inner
            .observers
            .get_or_init(|| broadcast::channel(OBSERVER_BACKLOG).0)
            .subscribe()
    }

    /// Marks the producer as gone, reports any drops not reported yet, and wakes every waiter.
    pub(crate) fn close(&self) {
        self.inner.closed.store(true, Ordering::Release);
        let line = self.queue().overflow.flush(Instant::now());
        if let Some(line) = line {
            self.report(line);
        }
        self.inner.notify.notify_waiters();
    }

    /// How many server pushes were dropped because the mailbox was full.
    pub(crate) fn dropped(&self) -> u64 {
        self.inner.dropped.load(Ordering::Relaxed)
    }

    /// Removes and returns every queued event.
    pub(crate) fn drain(&self) -> Vec<SocketEvent> {
        self.queue().drain()
    }

    /// How many events the queue's storage holds without growing.
    #[cfg(test)]
    pub(crate) fn storage(&self) -> usize {
        self.queue().events.capacity()
    }

    /// Number of queued events.
    pub(crate) fn len(&self) -> usize {
        self.queue().events.len()
    }

    /// Offers the queued events to `select` in order, each by value: the first it keeps
    /// (`Ok`) is removed and its value returned; each it gives back (`Err`) keeps its place.
    /// Events are moved, never cloned.
    fn take_first<T>(&self, select: &mut impl FnMut(SocketEvent) -> Selected<T>) -> Option<T> {
        let mut queue = self.queue();
        // The usual case, a consumer keeping up: the first event is the one wanted. Taken out
        // whole it needs no placeholder, and given back it goes straight back to the front.
        // The push count is settled before `select` runs, so a selector that panics (taking
        // the event with it) leaves the count true.
        let first = queue.events.pop_front()?;
        let first_is_push = first.is_server_push();
        queue.pushes -= usize::from(first_is_push);
        match select(first) {
            Ok(value) => {
                queue.release_storage();
                return Some(value);
            }
            Err(first) => {
                queue.pushes += usize::from(first_is_push);
                queue.events.push_front(first);
            }
        }
        for index in 1..queue.events.len() {
            let mut hole = Hole::open(&mut queue, index);
            let event = hole.take();
            match select(event) {
                Ok(value) => {
                    hole.remove();
                    return Some(value);
                }
                Err(event) => hole.fill(event),
            }
        }
        None
    }

    /// Removes and returns the value of the first queued event that `select` keeps, without
    /// waiting.
    pub(crate) fn try_select<T>(
        &self,
        mut select: impl FnMut(SocketEvent) -> Selected<T>,
    ) -> Option<T> {
        self.take_first(&mut select)
    }

    /// Waits until an event that `select` keeps is queued, removes only that event and returns
    /// the selected value. Gives up at `deadline` without consuming anything.
    pub(crate) async fn select<T>(
        &self,
        deadline: Instant,
        mut select: impl FnMut(SocketEvent) -> Selected<T>,
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

    fn is_event(name: &'static str) -> impl FnMut(SocketEvent) -> Selected<SocketEvent> {
        move |ev| match ev {
            SocketEvent::Message(ref m) if m.event == name => Ok(ev),
            other => Err(other),
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
    fn a_selector_that_panics_leaves_no_placeholder_and_keeps_the_count_right() {
        let mb = Mailbox::new(2);
        mb.push(message("a"));
        mb.push(message("b"));
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            mb.try_select(|ev| -> Selected<()> {
                match ev {
                    SocketEvent::Message(ref m) if m.event == "b" => panic!("selector fails"),
                    other => Err(other),
                }
            })
        }));
        assert!(outcome.is_err());
        // `b` went with the panic; `a` kept its place, and one push slot is free again.
        mb.push(message("c"));
        mb.push(message("over"));
        assert_eq!(mb.dropped(), 1);
        assert_eq!(mb.drain(), vec![message("a"), message("c")]);
    }

    #[test]
    fn a_selector_that_panics_on_the_first_event_keeps_the_count_right() {
        let mb = Mailbox::new(2);
        mb.push(message("a"));
        mb.push(message("b"));
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            mb.try_select(|_| -> Selected<()> { panic!("selector fails") })
        }));
        assert!(outcome.is_err());
        // `a` went with the panic; `b` is first now, and one push slot is free again.
        mb.push(message("c"));
        mb.push(message("over"));
        assert_eq!(mb.dropped(), 1);
        assert_eq!(mb.drain(), vec![message("b"), message("c")]);
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

    fn reply(n: u32) -> SocketEvent {
        SocketEvent::Reply {
            push_ref: slipstream_protocol::Ref::from(n.to_string().as_str()),
            topic: "t".into(),
            result: Err(crate::error::ReplyError::Timeout),
        }
    }

    fn joined() -> SocketEvent {
        SocketEvent::Joined {
            topic: "t".into(),
            response: Payload::empty(),
        }
    }

    #[test]
    fn replies_and_lifecycle_events_are_never_dropped_and_keep_their_place() {
        let mb = Mailbox::new(2);
        mb.push(message("a"));
        mb.push(joined());
        mb.push(message("b"));
        for n in 0..5 {
            mb.push(message("over"));
            mb.push(reply(n));
        }
        mb.push(SocketEvent::Left { topic: "t".into() });
        assert_eq!(mb.dropped(), 5);
        let mut expected = vec![message("a"), joined(), message("b")];
        expected.extend((0..5).map(reply));
        expected.push(SocketEvent::Left { topic: "t".into() });
        assert_eq!(mb.drain(), expected);
    }

    #[test]
    fn an_appended_batch_keeps_order_capacity_and_the_push_count() {
        // Into an empty mailbox: the batch's storage is handed over.
        let mb = Mailbox::new(3);
        let mut batch: VecDeque<SocketEvent> = [message("a"), reply(1), message("b")].into();
        mb.append(&mut batch);
        assert!(batch.is_empty());
        // Behind queued events; the capacity still counts the pushes handed over before.
        let mut batch: VecDeque<SocketEvent> = [message("c"), message("over"), reply(2)].into();
        mb.append(&mut batch);
        assert!(batch.is_empty());
        assert_eq!(mb.dropped(), 1);
        assert_eq!(
            mb.drain(),
            vec![message("a"), reply(1), message("b"), message("c"), reply(2)]
        );
        // A batch with more pushes than the capacity is cut as pushes one by one would be.
        let mut batch: VecDeque<SocketEvent> = ["d", "e", "f", "over"].map(message).into();
        mb.append(&mut batch);
        assert_eq!(mb.dropped(), 2);
        assert_eq!(mb.drain(), ["d", "e", "f"].map(message).to_vec());
    }

    #[test]
    fn the_capacity_counts_queued_server_pushes_only() {
        let mb = Mailbox::new(2);
        for n in 0..10 {
            mb.push(reply(n));
        }
        mb.push(message("a"));
        mb.push(message("b"));
        mb.push(message("dropped"));
        assert_eq!(mb.dropped(), 1);
        // Taking a push out makes room for one more; taking a reply does not.
        assert!(mb.take_first(&mut is_event("a")).is_some());
        mb.push(message("c"));
        let _ = mb.take_first(&mut |ev| match ev {
            SocketEvent::Reply { .. } => Ok(()),
            other => Err(other),
        });
        mb.push(message("dropped too"));
        assert_eq!(mb.dropped(), 2);
        let kept: Vec<SocketEvent> = mb
            .drain()
            .into_iter()
            .filter(SocketEvent::is_server_push)
            .collect();
        assert_eq!(kept, vec![message("b"), message("c")]);
        // After a drain the whole capacity is free again.
        mb.push(message("d"));
        mb.push(message("e"));
        assert_eq!(mb.dropped(), 2);
    }

    #[test]
    fn storage_grows_with_use_and_is_given_back() {
        let mb = Mailbox::new(crate::config::DEFAULT_MAILBOX_CAPACITY);
        let slots = || mb.queue().events.capacity();
        assert_eq!(slots(), 0, "nothing preallocated");
        for _ in 0..5_000 {
            mb.push(message("a"));
        }
        assert!(slots() >= 5_000);
        assert_eq!(mb.drain().len(), 5_000);
        assert_eq!(slots(), 0, "a drain takes the storage with the events");
        for _ in 0..4_000 {
            mb.push(message("a"));
        }
        // Taken one by one, as awaits do: a burst keeps its storage while events wait...
        for _ in 0..3_999 {
            assert!(mb.take_first(&mut is_event("a")).is_some());
        }
        assert!(slots() >= 4_000);
        // ...and gives it back when the last is taken.
        assert!(mb.take_first(&mut is_event("a")).is_some());
        assert!(slots() <= IDLE_SLOTS);
        // A queue that never empties (an event nobody awaits stays in it) gives the storage
        // back once it has stayed mostly empty for a while.
        mb.push(message("unawaited"));
        for _ in 0..4_000 {
            mb.push(message("a"));
        }
        for _ in 0..4_000 {
            assert!(mb.take_first(&mut is_event("a")).is_some());
        }
        assert!(slots() >= 4_000, "kept while the queue is busy");
        for _ in 0..5_000 {
            mb.push(message("a"));
            assert!(mb.take_first(&mut is_event("a")).is_some());
        }
        assert!(slots() <= RETAINED_SLOTS * 2);
        assert!(mb.take_first(&mut is_event("unawaited")).is_some());
    }

    #[test]
    fn an_idle_mailbox_keeps_no_storage() {
        let mb = Mailbox::new(crate::config::DEFAULT_MAILBOX_CAPACITY);
        mb.push(message("connected"));
        mb.push(message("joined"));
        assert!(mb.queue().events.capacity() > 0);
        assert!(mb.take_first(&mut is_event("connected")).is_some());
        assert!(
            mb.queue().events.capacity() > 0,
            "kept while an event waits"
        );
        assert!(mb.take_first(&mut is_event("joined")).is_some());
        assert_eq!(mb.queue().events.capacity(), 0);
        // A mailbox in steady use keeps its few slots instead of reallocating them each time.
        for _ in 0..crate::idle_storage::IDLE_SLOTS * 2 {
            mb.push(message("reply"));
            assert!(mb.take_first(&mut is_event("reply")).is_some());
        }
        assert!(mb.queue().events.capacity() > 0);
    }

    /// The times of a clock the test moves by hand.
    fn at(start: Instant, ms: u64) -> Instant {
        start + Duration::from_millis(ms)
    }

    #[test]
    fn overflow_is_reported_at_once_then_summed_at_most_once_per_interval() {
        let t = Instant::now();
        let mut log = OverflowLog::default();
        assert_eq!(log.dropped(at(t, 0)), Some(OverflowLine::Started));
        // A thousand drops within the interval: no line.
        for _ in 0..1_000 {
            assert_eq!(log.dropped(at(t, 500)), None);
        }
        assert_eq!(log.due(at(t, 999)), None);
        // The first drop once the interval has passed reports them all, itself included.
        assert_eq!(
            log.dropped(at(t, 1_000)),
            Some(OverflowLine::Continued {
                dropped: 1_001,
                over: Duration::from_millis(1_000),
            })
        );
        assert_eq!(log.dropped(at(t, 1_200)), None);
        assert_eq!(log.dropped(at(t, 1_300)), None);
        // The burst ends: its tail is reported by the next arrival after the interval.
        assert_eq!(log.due(at(t, 1_900)), None);
        assert_eq!(
            log.due(at(t, 2_500)),
            Some(OverflowLine::Continued {
                dropped: 2,
                over: Duration::from_millis(1_500),
            })
        );
        assert_eq!(log.due(at(t, 9_000)), None, "nothing left to report");
        // A later burst starts with a line of its own.
        assert_eq!(log.dropped(at(t, 9_000)), Some(OverflowLine::Started));
        assert_eq!(log.dropped(at(t, 9_100)), None);
        // Closing reports what is left, interval or not, and only once.
        assert_eq!(
            log.flush(at(t, 9_200)),
            Some(OverflowLine::Continued {
                dropped: 1,
                over: Duration::from_millis(200),
            })
        );
        assert_eq!(log.flush(at(t, 9_300)), None);
    }

    #[test]
    fn a_flood_into_a_full_mailbox_gives_at_most_one_line_per_interval() {
        // Whatever the pattern of drops and arrivals, lines are at least an interval apart
        // (the first excepted) and together they count every drop.
        let t = Instant::now();
        let mut log = OverflowLog::default();
        let mut lines = Vec::new();
        let mut reported = 0;
        for ms in 0..10_000u64 {
            let line = if ms % 3 == 0 {
                log.due(at(t, ms))
            } else {
                log.dropped(at(t, ms))
            };
            if let Some(line) = line {
                reported += match line {
                    OverflowLine::Started => 1,
                    OverflowLine::Continued { dropped, .. } => dropped,
                };
                lines.push(ms);
            }
        }
        if let Some(OverflowLine::Continued { dropped, .. }) = log.flush(at(t, 10_000)) {
            reported += dropped;
        }
        let drops = (0..10_000u64).filter(|ms| ms % 3 != 0).count() as u64;
        assert_eq!(reported, drops);
        assert!(lines.len() <= 11, "{} lines", lines.len());
        assert!(lines.windows(2).all(|w| w[1] - w[0] >= 1_000), "{lines:?}");
    }
}
