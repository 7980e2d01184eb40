//! Requests on the wire that wait for a `phx_reply`, keyed by ref.
//!
//! The refs this socket issues are decimal numbers (`"1"`, `"2"`, …), so entries are keyed by
//! the number, hashed with a multiply instead of SipHash: a reply's lookup neither allocates nor
//! hashes a string. (The server cannot choose keys: only refs this socket issued are inserted.)
//! A ref that is not a canonical decimal number cannot be one of ours, but is still kept, apart.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::{BuildHasherDefault, Hasher};

use slipstream_protocol::Ref;
use tokio::time::Instant;

/// What a pending ref stands for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Pending {
    Push {
        topic: String,
        sent_at: Instant,
    },
    /// A push whose reply nobody wants ([`Socket::push_no_reply`](crate::Socket::push_no_reply)),
    /// pending only until the websocket has flushed it: if the connection or the topic ends
    /// first, its failure is reported like a push's.
    Cast {
        topic: String,
    },
    Join {
        topic: String,
        sent_at: Instant,
    },
    Leave {
        topic: String,
    },
}

impl Pending {
    /// Whether a failure of this request is reported as a [`SocketEvent::Reply`](crate::SocketEvent::Reply)
    /// (pushes, with or without a wanted reply).
    pub(crate) fn is_a_push(&self) -> bool {
        matches!(self, Pending::Push { .. } | Pending::Cast { .. })
    }

    pub(crate) fn topic(&self) -> &str {
        match self {
            Pending::Push { topic, .. }
            | Pending::Cast { topic }
            | Pending::Join { topic, .. }
            | Pending::Leave { topic } => topic,
        }
    }
}

/// The number a ref this socket issued stands for: its text is a canonical decimal (no sign, no
/// leading zero), as [`Shared::next_ref`](crate::socket::Shared::next_ref) writes them.
pub(crate) fn ref_number(r: &Ref) -> Option<u64> {
    let digits = r.as_str()?.as_bytes();
    if digits.is_empty() || digits.len() > 20 || (digits.len() > 1 && digits[0] == b'0') {
        return None;
    }
    // One pass: check each digit and accumulate (a 20-digit text may overflow a u64).
    digits.iter().try_fold(0u64, |number, &b| {
        let digit = b.wrapping_sub(b'0');
        (digit <= 9).then_some(())?;
        number.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

/// Fibonacci hashing of a `u64` key: one multiply, with the high bits (which hashbrown uses
/// first) well mixed even for consecutive keys.
#[derive(Default, Clone, Copy)]
pub(crate) struct RefHasher(u64);

impl Hasher for RefHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(26) ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type ByNumber = HashMap<u64, Pending, BuildHasherDefault<RefHasher>>;

#[derive(Debug, Default)]
pub(crate) struct PendingTable {
    entries: ByNumber,
    /// Entries whose ref is not a number of ours (not expected; kept so nothing is lost).
    others: HashMap<Ref, Pending>,
}

impl PendingTable {
    pub(crate) fn insert(&mut self, r: Ref, p: Pending) {
        match ref_number(&r) {
            Some(n) => {
                self.entries.insert(n, p);
            }
            None => {
                self.others.insert(r, p);
            }
        }
    }

    /// Takes the entry for `r` if it belongs to `topic` (a robust client matches topic and ref).
    pub(crate) fn take(&mut self, r: &Ref, topic: &str) -> Option<Pending> {
        match ref_number(r) {
            Some(n) => match self.entries.entry(n) {
                Entry::Occupied(entry) if entry.get().topic() == topic => Some(entry.remove()),
                _ => None,
            },
            None => {
                if self.others.get(r)?.topic() == topic {
                    self.others.remove(r)
                } else {
                    None
                }
            }
        }
    }

    pub(crate) fn remove(&mut self, r: &Ref) -> Option<Pending> {
        match ref_number(r) {
            Some(n) => self.entries.remove(&n),
            None => self.others.remove(r),
        }
    }

    /// Removes the entry of ref number `n`.
    pub(crate) fn remove_number(&mut self, n: u64) -> Option<Pending> {
        self.entries.remove(&n)
    }

    /// Whether ref number `n` is a push waiting for its reply.
    pub(crate) fn is_push(&self, n: u64) -> bool {
        matches!(self.entries.get(&n), Some(Pending::Push { .. }))
    }

    /// The push of ref number `n` was flushed: if it was a no-reply push, it is done.
    pub(crate) fn cast_flushed(&mut self, n: u64) {
        if let Some(Pending::Cast { .. }) = self.entries.get(&n) {
            self.entries.remove(&n);
        }
    }

    /// Removes and returns every entry (connection lost), in ref order, so events come out in
    /// the order the requests were made.
    pub(crate) fn drain(&mut self) -> Vec<(Ref, Pending)> {
        let mut numbered: Vec<_> = self.entries.drain().collect();
        numbered.sort_unstable_by_key(|(n, _)| *n);
        let mut all: Vec<_> = numbered
            .into_iter()
            .map(|(n, p)| (Ref::from(n), p))
            .collect();
        all.extend(self.others.drain());
        all
    }

    /// Removes and returns the entries of one topic, in ref order.
    pub(crate) fn drain_topic(&mut self, topic: &str) -> Vec<(Ref, Pending)> {
        let mut numbered: Vec<u64> = self
            .entries
            .iter()
            .filter(|(_, p)| p.topic() == topic)
            .map(|(n, _)| *n)
            .collect();
        numbered.sort_unstable();
        let mut out: Vec<_> = numbered
            .into_iter()
            .filter_map(|n| self.entries.remove(&n).map(|p| (Ref::from(n), p)))
            .collect();
        let others: Vec<Ref> = self
            .others
            .iter()
            .filter(|(_, p)| p.topic() == topic)
            .map(|(r, _)| r.clone())
            .collect();
        out.extend(
            others
                .into_iter()
                .filter_map(|r| self.others.remove(&r).map(|p| (r, p))),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(topic: &str) -> Pending {
        Pending::Push {
            topic: topic.into(),
            sent_at: Instant::now(),
        }
    }

    #[test]
    fn only_canonical_decimals_are_numbers() {
        assert_eq!(ref_number(&Ref::from("17")), Some(17));
        assert_eq!(ref_number(&Ref::from("0")), Some(0));
        assert_eq!(
            ref_number(&Ref::from("18446744073709551615")),
            Some(u64::MAX)
        );
        assert_eq!(
            ref_number(&Ref::from("9999999999999999999")),
            Some(9_999_999_999_999_999_999)
        );
        for not in [
            "",
            "017",
            "00",
            "+1",
            "-1",
            "1.0",
            "1 ",
            "x",
            "١",
            "18446744073709551616",
            "99999999999999999999",
            "99999999999999999999999",
        ] {
            assert_eq!(ref_number(&Ref::from(not)), None, "{not:?}");
        }
        assert_eq!(ref_number(&Ref::from_json_text("17")), None);
    }

    #[test]
    fn a_reply_takes_its_entry_only_for_its_topic_and_refs_that_are_not_numbers_are_kept() {
        let mut table = PendingTable::default();
        table.insert(Ref::from("5"), push("a"));
        table.insert(Ref::from("05"), push("b"));
        assert!(table.is_push(5));
        assert_eq!(table.take(&Ref::from("5"), "b"), None);
        assert_eq!(table.take(&Ref::from("05"), "a"), None);
        assert!(table.take(&Ref::from("05"), "b").is_some());
        assert!(table.take(&Ref::from("5"), "a").is_some());
        assert!(!table.is_push(5));
    }

    #[test]
    fn draining_gives_every_entry_in_ref_order() {
        let mut table = PendingTable::default();
        for n in [12u64, 3, 100, 7] {
            table.insert(Ref::from(n), push(if n % 2 == 0 { "even" } else { "odd" }));
        }
        let odd: Vec<Ref> = table
            .drain_topic("odd")
            .into_iter()
            .map(|(r, _)| r)
            .collect();
        assert_eq!(odd, [Ref::from(3u64), Ref::from(7u64)]);
        let rest: Vec<Ref> = table.drain().into_iter().map(|(r, _)| r).collect();
        assert_eq!(rest, [Ref::from(12u64), Ref::from(100u64)]);
    }
}
