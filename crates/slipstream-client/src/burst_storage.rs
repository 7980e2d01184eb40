//! Storage for bursts of events, shared by the sockets of a process.
//!
//! A mailbox that a consumer empties gives its storage back here, and the next socket to gather
//! a burst takes it. So a process of many sockets in bursts holds storage for the bursts still
//! waiting, not for every socket's largest, and the storage it reuses is the storage it used
//! last, still in the cache. The allocator could take the storage back instead, but its large
//! allocations are slow where they are frequent (glibc merges every small freed chunk on each).

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

use crate::event::SocketEvent;
use crate::idle_storage::IDLE_SLOTS;

/// Storage for queued events.
pub(crate) type Storage = VecDeque<SocketEvent>;

/// Storage of more slots than this (a flood's) is freed, not kept.
const LARGEST_KEPT: usize = 1024;
/// At most this many storages are kept (with [`LARGEST_KEPT`]: at most 2 MiB or so).
const MOST_KEPT: usize = 16;

/// The storage kept for the process's sockets.
static PROCESS_POOL: StoragePool = StoragePool::new();

/// Storage for a burst of `events` events: the storage given back last, if any, else new.
pub(crate) fn take(events: usize) -> Storage {
    PROCESS_POOL.take(events)
}

/// Keeps emptied `storage` for a later burst (see [`StoragePool::give_back`]).
pub(crate) fn give_back(storage: Storage) {
    PROCESS_POOL.give_back(storage);
}

/// Emptied storage kept for later bursts: most recently given back first.
#[derive(Debug)]
struct StoragePool {
    kept: Mutex<Vec<Storage>>,
}

impl StoragePool {
    const fn new() -> Self {
        StoragePool {
            kept: Mutex::new(Vec::new()),
        }
    }

    fn kept(&self) -> MutexGuard<'_, Vec<Storage>> {
        // Nothing panics while the lock is held, and the storages are empty either way.
        self.kept
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn take(&self, events: usize) -> Storage {
        let mut storage = self.kept().pop().unwrap_or_default();
        storage.reserve(events);
        storage
    }

    /// Keeps `storage`, emptied, unless it is a few slots (cheaper to allocate again than to
    /// share), a flood's, or enough is kept already: then it is freed.
    fn give_back(&self, mut storage: Storage) {
        let slots = storage.capacity();
        if slots <= IDLE_SLOTS || slots > LARGEST_KEPT {
            return;
        }
        storage.clear();
        let mut kept = self.kept();
        let surplus = if kept.len() < MOST_KEPT {
            kept.push(storage);
            None
        } else {
            Some(storage)
        };
        drop(kept);
        drop(surplus); // freed outside the lock
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn storage(slots: usize) -> Storage {
        let mut storage = Storage::with_capacity(slots);
        storage.push_back(SocketEvent::Connected);
        storage
    }

    #[test]
    fn storage_given_back_is_taken_again_emptied_and_large_enough() {
        let pool = StoragePool::new();
        pool.give_back(storage(100));
        let taken = pool.take(10);
        assert!(taken.is_empty());
        assert!(taken.capacity() >= 100, "the storage given back");
        assert!(
            pool.take(300).capacity() >= 300,
            "new storage when none is kept"
        );
        pool.give_back(storage(100));
        assert!(
            pool.take(300).capacity() >= 300,
            "kept storage grows to fit"
        );
    }

    #[test]
    fn small_flood_sized_and_surplus_storage_is_freed() {
        let pool = StoragePool::new();
        pool.give_back(storage(IDLE_SLOTS));
        pool.give_back(storage(LARGEST_KEPT + 1));
        assert!(pool.kept().is_empty());
        for _ in 0..MOST_KEPT + 5 {
            pool.give_back(storage(64));
        }
        assert_eq!(pool.kept().len(), MOST_KEPT);
    }
}
