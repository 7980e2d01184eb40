//! Which bytes a JSON string literal may hold as they are: everything but `"`, `\` and the
//! control characters below 0x20. One table lookup per byte, for the encoder (which copies a
//! plain run in one go) and the decoder's fast path (which finds a string's closing quote).

/// `PLAIN[b]`: byte `b` stands for itself inside a JSON string literal.
static PLAIN: [bool; 256] = {
    let mut table = [true; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = false;
        b += 1;
    }
    table[b'"' as usize] = false;
    table[b'\\' as usize] = false;
    table
};

/// The length of the longest prefix of `bytes` that a JSON string literal holds as it is.
///
/// Multi-byte UTF-8 sequences are all plain (their bytes are 0x80 and above), so in a `str` the
/// prefix ends on a character boundary. Eight bytes are checked at a time (see [`stops_in`]),
/// the tail shorter than that through the table.
pub(crate) fn plain_prefix_len(bytes: &[u8]) -> usize {
    let mut words = bytes.chunks_exact(WORD);
    let mut checked = 0;
    for word in words.by_ref() {
        let word = u64::from_le_bytes(word.try_into().expect("chunks of WORD bytes"));
        let stops = stops_in(word);
        if stops != 0 {
            return checked + (stops.trailing_zeros() / 8) as usize;
        }
        checked += WORD;
    }
    let tail = words.remainder();
    checked
        + tail
            .iter()
            .position(|&b| !PLAIN[usize::from(b)])
            .unwrap_or(tail.len())
}

/// Bytes in a word.
const WORD: usize = 8;
/// One in every byte of a word.
const EACH_BYTE: u64 = u64::from_le_bytes([1; WORD]);
/// The high bit of every byte of a word.
const HIGH_BITS: u64 = EACH_BYTE << 7;

/// A mask of `word`'s bytes (read little-endian: its first byte lowest) with the high bit set
/// in the lowest byte that is not plain, if any; bits above that byte's may be set too, so only
/// the lowest is to be read. Each test is the classic "has a byte below n" trick, whose lowest
/// hit is exact: a byte borrows from the one above it only when it is itself a hit.
fn stops_in(word: u64) -> u64 {
    let below = |n: u8, word: u64| word.wrapping_sub(EACH_BYTE * u64::from(n)) & !word;
    let control = below(0x20, word);
    let quote = below(1, word ^ (EACH_BYTE * u64::from(b'"')));
    let backslash = below(1, word ^ (EACH_BYTE * u64::from(b'\\')));
    (control | quote | backslash) & HIGH_BITS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_at_quotes_backslashes_and_control_characters_only() {
        assert_eq!(plain_prefix_len(b""), 0);
        assert_eq!(plain_prefix_len("rooms:lobby é☃".as_bytes()), 17);
        assert_eq!(plain_prefix_len(b"ab\"c"), 2);
        assert_eq!(plain_prefix_len(b"ab\\c"), 2);
        assert_eq!(plain_prefix_len(b"ab\tc"), 2);
        assert_eq!(plain_prefix_len(b"\x1f"), 0);
        assert_eq!(plain_prefix_len(b" \x7f"), 2);
        for b in 0..=255u8 {
            let expected = b >= 0x20 && b != b'"' && b != b'\\';
            assert_eq!(plain_prefix_len(&[b]) == 1, expected, "byte {b:#x}");
        }
    }

    /// The table, byte by byte: what the word-at-a-time scan must agree with.
    fn by_table(bytes: &[u8]) -> usize {
        bytes
            .iter()
            .position(|&b| !PLAIN[usize::from(b)])
            .unwrap_or(bytes.len())
    }

    #[test]
    fn the_word_scan_agrees_with_the_table_at_every_position() {
        // Every byte value at every position of strings up to three words long, behind plain
        // bytes of every kind (ASCII, UTF-8's high bytes, DEL) so borrows and high bits mix.
        let fillers = [b'a', 0x80, 0xff, 0x7f, b'!', b'#', b'[', b']'];
        for len in 1..=3 * WORD {
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut bytes: Vec<u8> = (0..len).map(|i| fillers[i % fillers.len()]).collect();
                    bytes[at] = b;
                    // A second stop further on must not change the answer.
                    if at + 2 < len {
                        bytes[at + 2] = 0;
                    }
                    assert_eq!(plain_prefix_len(&bytes), by_table(&bytes), "{bytes:?}");
                }
            }
        }
    }
}
