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
/// prefix ends on a character boundary.
pub(crate) fn plain_prefix_len(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .position(|&b| !PLAIN[usize::from(b)])
        .unwrap_or(bytes.len())
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
}
