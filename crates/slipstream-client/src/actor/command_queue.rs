//! The handles' requests to the connection task: one queue under a lock, which the task takes a
//! whole batch at a time.
//!
//! Why not tokio's unbounded mpsc: it allocates a 32-slot block when it is made (4 KiB per socket
//! with our commands, a fifth of an idle joined socket), and takes commands one at a time. Here
//! an idle socket holds no command storage to speak of, a burst of pushes costs the task one lock,
//! and a handle wakes the task only when the task is waiting (not on every command).
//!
//! Closing: when the last [`CommandSender`] is dropped, [`CommandReceiver::recv`] returns the
//! commands still queued, then `None`. When the receiver is gone, [`CommandSender::send`] refuses
//! the command ([`TaskGone`]).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Poll, Waker};
use std::time::Duration;

use tokio::time::Instant;

use super::Command;
use crate::idle_storage::Carried;

/// Queues whose storage grew past this many slots are shrunk once emptied, when no burst has
/// needed that storage for [`BURST_MEMORY`].
const RETAINED_SLOTS: usize = 16;

/// How long the storage a burst of commands grew is kept after the last burst that needed it: a
/// socket pushing in bursts (a window of pushes in flight) keeps it instead of reallocating it,
/// and faulting its pages back in, on every burst, while one that went quiet gives it back on
/// its next turn after this.
const BURST_MEMORY: Duration = Duration::from_secs(1);

#[derive(Debug, Default)]
struct State {
    queued: VecDeque<Command>,
    /// Commands sent over the queue's life (see [`release_storage`]).
    sent: Carried,
    /// When a batch last needed more than [`RETAINED_SLOTS`] (see [`release_storage`]).
    last_burst: Option<Instant>,
    senders: usize,
    receiver_alive: bool,
    /// The task's waker, while it waits for a command.
    waiting: Option<Waker>,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock but a full allocator; the state stays valid.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A handle's end: cloned with the [`Socket`](crate::Socket).
#[derive(Debug)]
pub(crate) struct CommandSender {
    shared: Arc<Shared>,
}

/// The connection task's end.
#[derive(Debug)]
pub(crate) struct CommandReceiver {
    shared: Arc<Shared>,
    /// The batch taken from the queue and not handled yet (its storage is swapped back and
    /// forth with the queue's, so a busy socket does not allocate per batch).
    batch: VecDeque<Command>,
}

/// A new queue: the sender for the first handle, the receiver for the task.
pub(crate) fn command_queue() -> (CommandSender, CommandReceiver) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            senders: 1,
            receiver_alive: true,
            ..State::default()
        }),
    });
    (
        CommandSender {
            shared: shared.clone(),
        },
        CommandReceiver {
            shared,
            batch: VecDeque::new(),
        },
    )
}

impl CommandSender {
    /// Queues `command` for the task; refuses it (dropping it) if the task is gone.
    pub(crate) fn send(&self, command: Command) -> Result<(), TaskGone> {
        let waiting = {
            let mut state = self.shared.lock();
            if !state.receiver_alive {
                return Err(TaskGone);
            }
            state.queued.push_back(command);
            state.sent.add_one();
            state.waiting.take()
        };
        if let Some(waker) = waiting {
            waker.wake();
        }
        Ok(())
    }
}

impl Clone for CommandSender {
    fn clone(&self) -> Self {
        self.shared.lock().senders += 1;
        CommandSender {
            shared: self.shared.clone(),
        }
    }
}

impl Drop for CommandSender {
    fn drop(&mut self) {
        let waiting = {
            let mut state = self.shared.lock();
            state.senders -= 1;
            if state.senders > 0 {
                return;
            }
            state.waiting.take()
        };
        // The last handle is gone: the task must see it.
        if let Some(waker) = waiting {
            waker.wake();
        }
    }
}

/// The connection task has stopped: a command sent now is never handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TaskGone;

/// Why [`CommandReceiver::try_recv`] returned no command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TryRecvError {
    /// Nothing queued now.
    Empty,
    /// Nothing queued, and every handle is gone.
    Disconnected,
}

/// Shrinks an empty queue's storage to [`RETAINED_SLOTS`] once no burst has needed more for
/// [`BURST_MEMORY`] (the clock is read only while there is storage to give back), or gives it
/// all back if the socket is idle (see [`crate::idle_storage`]) by what has been `sent` over it.
fn release_storage(queue: &mut VecDeque<Command>, sent: Carried, last_burst: Option<Instant>) {
    if queue.capacity() > RETAINED_SLOTS {
        let burst_over = last_burst.is_none_or(|at| at.elapsed() >= BURST_MEMORY);
        if burst_over {
            queue.shrink_to(RETAINED_SLOTS);
        }
    } else {
        sent.release_if_idle(queue);
    }
}

impl CommandReceiver {
    /// The next command, waiting for one; `None` once every handle is gone and nothing is left.
    pub(crate) async fn recv(&mut self) -> Option<Command> {
        std::future::poll_fn(|cx| match self.next_or_register(Some(cx.waker())) {
            Ok(command) => Poll::Ready(Some(command)),
            Err(TryRecvError::Disconnected) => Poll::Ready(None),
            Err(TryRecvError::Empty) => Poll::Pending,
        })
        .await
    }

    /// The next command if one is queued, without waiting.
    pub(crate) fn try_recv(&mut self) -> Result<Command, TryRecvError> {
        self.next_or_register(None)
    }

    fn next_or_register(&mut self, waker: Option<&Waker>) -> Result<Command, TryRecvError> {
        if let Some(command) = self.batch.pop_front() {
            return Ok(command);
        }
        let mut state = self.shared.lock();
        if !state.queued.is_empty() {
            if state.queued.len() > RETAINED_SLOTS {
                state.last_burst = Some(Instant::now());
            }
            // Take the whole queue; leave our empty storage in its place.
            std::mem::swap(&mut self.batch, &mut state.queued);
            drop(state);
            return self.batch.pop_front().ok_or(TryRecvError::Empty);
        }
        let (sent, last_burst) = (state.sent, state.last_burst);
        release_storage(&mut state.queued, sent, last_burst);
        release_storage(&mut self.batch, sent, last_burst);
        if state.senders == 0 {
            return Err(TryRecvError::Disconnected);
        }
        // Registered under the lock: a command sent after this check finds the waker.
        if let Some(waker) = waker
            && !state.waiting.as_ref().is_some_and(|w| w.will_wake(waker))
        {
            state.waiting = Some(waker.clone());
        }
        Err(TryRecvError::Empty)
    }
}

impl Drop for CommandReceiver {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.receiver_alive = false;
        // Commands nobody will handle: dropped here (a `Sync` among them answers its waiter).
        state.queued.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connect() -> Command {
        Command::Connect
    }

    #[test]
    fn an_idle_queue_keeps_no_storage() {
        let (tx, mut rx) = command_queue();
        tx.send(connect()).unwrap();
        tx.send(connect()).unwrap();
        assert!(rx.try_recv().is_ok());
        assert!(rx.try_recv().is_ok());
        assert!(matches!(rx.try_recv(), Err(TryRecvError::Empty)));
        assert_eq!(rx.batch.capacity(), 0);
        assert_eq!(rx.shared.lock().queued.capacity(), 0);
        // A queue in steady use keeps its few slots.
        for _ in 0..crate::idle_storage::IDLE_SLOTS * 2 {
            tx.send(connect()).unwrap();
            assert!(rx.try_recv().is_ok());
            assert!(matches!(rx.try_recv(), Err(TryRecvError::Empty)));
        }
        assert!(rx.batch.capacity() + rx.shared.lock().queued.capacity() > 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_keeps_its_storage_until_bursts_stop() {
        let (tx, mut rx) = command_queue();
        let burst = |rx: &mut CommandReceiver| {
            for _ in 0..100 {
                tx.send(connect()).unwrap();
            }
            while rx.try_recv().is_ok() {}
        };
        let storage =
            |rx: &CommandReceiver| rx.batch.capacity() + rx.shared.lock().queued.capacity();
        burst(&mut rx);
        assert!(storage(&rx) >= 100, "emptied right after a burst: kept");
        tokio::time::advance(BURST_MEMORY / 2).await;
        burst(&mut rx);
        tokio::time::advance(BURST_MEMORY / 2).await;
        assert!(matches!(rx.try_recv(), Err(TryRecvError::Empty)));
        assert!(
            storage(&rx) >= 100,
            "the last burst was half a memory ago: kept"
        );
        tokio::time::advance(BURST_MEMORY).await;
        assert!(matches!(rx.try_recv(), Err(TryRecvError::Empty)));
        assert!(
            storage(&rx) <= 2 * RETAINED_SLOTS,
            "no burst for longer than the memory: given back"
        );
    }

    #[tokio::test]
    async fn commands_come_out_in_order_across_batches() {
        let (tx, mut rx) = command_queue();
        for _ in 0..3 {
            tx.send(connect()).unwrap();
        }
        tx.send(Command::Disconnect).unwrap();
        for _ in 0..3 {
            assert!(matches!(rx.recv().await, Some(Command::Connect)));
        }
        tx.send(Command::Reconnect).unwrap();
        assert!(matches!(rx.try_recv(), Ok(Command::Disconnect)));
        assert!(matches!(rx.try_recv(), Ok(Command::Reconnect)));
        assert_eq!(rx.try_recv().err(), Some(TryRecvError::Empty));
    }

    #[tokio::test]
    async fn a_waiting_receiver_is_woken_by_a_send_from_another_task() {
        let (tx, mut rx) = command_queue();
        let waiter = tokio::spawn(async move { rx.recv().await.is_some() });
        tokio::task::yield_now().await;
        tx.send(connect()).unwrap();
        assert!(waiter.await.unwrap());
    }

    #[tokio::test]
    async fn the_last_sender_gone_ends_recv_after_what_is_queued() {
        let (tx, mut rx) = command_queue();
        let other = tx.clone();
        tx.send(connect()).unwrap();
        drop(tx);
        let waiter = tokio::spawn(async move {
            let mut got = 0;
            while rx.recv().await.is_some() {
                got += 1;
            }
            got
        });
        tokio::task::yield_now().await;
        other.send(connect()).unwrap();
        drop(other);
        assert_eq!(waiter.await.unwrap(), 2);
    }

    #[test]
    fn a_send_after_the_receiver_is_gone_is_refused() {
        let (tx, rx) = command_queue();
        drop(rx);
        assert_eq!(tx.send(connect()), Err(TaskGone));
    }
}
