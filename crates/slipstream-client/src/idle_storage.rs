//! When a small queue gives its storage back: idle sockets, the many in a process, keep none,
//! while a socket in steady use keeps its few slots instead of reallocating them every time.

use std::collections::VecDeque;

/// Storage of at most this many slots is given back when its queue empties, as long as the
/// queue has carried no more than this many items in its life (a connect and a join, say).
pub(crate) const IDLE_SLOTS: usize = 8;

/// How many items a queue has carried in its life, counted up to just past [`IDLE_SLOTS`].
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Carried(usize);

impl Carried {
    /// Counts one more item.
    pub(crate) fn add_one(&mut self) {
        self.0 = (self.0 + 1).min(IDLE_SLOTS + 1);
    }

    /// Gives back `queue`'s storage if the queue is empty, its storage small and what it has
    /// carried few; returns whether it did.
    pub(crate) fn release_if_idle<T>(&self, queue: &mut VecDeque<T>) -> bool {
        let slots = queue.capacity();
        let idle = queue.is_empty() && slots > 0 && slots <= IDLE_SLOTS && self.0 <= IDLE_SLOTS;
        if idle {
            *queue = VecDeque::new();
        }
        idle
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_empty_queue_that_carried_few_items_gives_its_storage_back() {
        let mut carried = Carried::default();
        let mut queue: VecDeque<u8> = VecDeque::from([1, 2]);
        carried.add_one();
        carried.add_one();
        assert!(!carried.release_if_idle(&mut queue), "not empty");
        queue.clear();
        assert!(carried.release_if_idle(&mut queue));
        assert_eq!(queue.capacity(), 0);
        for _ in 0..IDLE_SLOTS {
            carried.add_one();
        }
        queue.push_back(1);
        queue.clear();
        assert!(!carried.release_if_idle(&mut queue), "carried too many");
        assert!(queue.capacity() > 0);
    }
}
