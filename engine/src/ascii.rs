//! Byte scans and ASCII comparisons for the per-message hot path, eight bytes at a time
//! (the engine's one home for them).
//!
//! Header lines are split on every message ([`flags`], by the HTTP/1 header parser) and
//! header names compared case-insensitively (the framing fields, the `Content-Type` the
//! body gate asks for); `eq_ignore_ascii_case` lowers and compares one byte at a time, ~6
//! instructions a byte. [`eq_nocase`] gives the same answers a word at a time.

const ONES: u64 = u64::MAX / 255;
const HIGH: u64 = ONES << 7;

/// The high bit of every byte of `x` equal to `b`. Only the lowest flag is exact (a borrow
/// runs upwards and may flag a byte above a true match), which is all the callers read.
#[inline]
pub(crate) fn flags(x: u64, b: u8) -> u64 {
    let n = x ^ (ONES * u64::from(b));
    n.wrapping_sub(ONES) & !n & HIGH
}

/// Eight bytes as a little-endian word.
#[inline]
pub(crate) fn word(b: &[u8; 8]) -> u64 {
    u64::from_le_bytes(*b)
}

/// `x` with the ASCII capitals of each byte lowered, other bytes as they are.
#[inline]
fn lower8(x: u64) -> u64 {
    let low7 = x & !HIGH;
    // per byte, without carries between bytes (low7 <= 0x7f; the sums stay <= 0xbe): the
    // high bit is set when the low seven bits are >= 'A', resp. > 'Z'
    let ge_a = low7.wrapping_add(ONES * u64::from(0x80 - b'A'));
    let gt_z = low7.wrapping_add(ONES * u64::from(0x80 - b'Z' - 1));
    // a capital: in 'A'..='Z' and the byte itself below 0x80
    let upper = ge_a & !gt_z & !x & HIGH;
    x | (upper >> 2)
}

/// `a` and `b` are equal ignoring ASCII case (what `a.eq_ignore_ascii_case(b)` answers).
#[inline]
pub(crate) fn eq_nocase(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n < 8 {
        return a.eq_ignore_ascii_case(b);
    }
    let mut i = 0;
    while i + 8 < n {
        if !same8(a, b, i) {
            return false;
        }
        i += 8;
    }
    // the last eight bytes (overlapping the words before when `n` is not a multiple of 8)
    same8(a, b, n - 8)
}

/// The eight bytes of `a` and `b` from `at` are equal ignoring ASCII case (false when
/// either is shorter).
#[inline]
fn same8(a: &[u8], b: &[u8], at: usize) -> bool {
    let eight = |s: &[u8]| s.get(at..).and_then(<[u8]>::first_chunk).map(word);
    match (eight(a), eight(b)) {
        (Some(x), Some(y)) => lower8(x) == lower8(y),
        _ => false,
    }
}

/// `s` holds a space or a tab. Eight bytes at a time: a mask is non-zero exactly when a
/// byte matches (a spurious flag only ever sits above a true one), and the last word
/// overlaps the one before it when the length is not a multiple of eight.
#[inline]
pub(crate) fn has_blank(s: &[u8]) -> bool {
    let n = s.len();
    if n < 8 {
        return s.iter().any(|&b| b == b' ' || b == b'\t');
    }
    let blank8 = |at: usize| {
        s.get(at..)
            .and_then(<[u8]>::first_chunk)
            .map(word)
            .is_some_and(|x| flags(x, b' ') | flags(x, b'\t') != 0)
    };
    let mut i = 0;
    while i + 8 < n {
        if blank8(i) {
            return true;
        }
        i += 8;
    }
    blank8(n - 8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn lowers_exactly_the_capitals() {
        for b in 0..=255u8 {
            let w = lower8(u64::from_le_bytes([b; 8]));
            assert_eq!(
                w,
                u64::from_le_bytes([b.to_ascii_lowercase(); 8]),
                "byte {b:#x}"
            );
        }
    }

    #[test]
    fn header_names() {
        assert!(eq_nocase(b"Content-Type", b"content-type"));
        assert!(eq_nocase(b"CONTENT-LENGTH", b"content-length"));
        assert!(!eq_nocase(b"Content-Typf", b"content-type"));
        // a carriage return is not a dash, though they differ by 0x20
        assert!(!eq_nocase(b"content\rtype", b"content-type"));
        assert!(!eq_nocase(b"content-typ", b"content-type"));
        assert!(eq_nocase(b"", b""));
        assert!(eq_nocase(b"Host", b"host"));
    }

    proptest! {
        /// Any bytes: the same answer as a byte-by-byte search, on strings where blanks
        /// are rare or absent (`pick` 0 puts one in).
        #[test]
        fn has_blank_is_a_search(
            s in proptest::collection::vec((0u8..24, any::<u8>()), 0..40),
        ) {
            let s: Vec<u8> = s
                .iter()
                .map(|&(pick, b)| match pick {
                    0 => b' ',
                    1 => b'\t',
                    _ if b == b' ' || b == b'\t' => b'x',
                    _ => b,
                })
                .collect();
            let want = s.iter().any(|&b| b == b' ' || b == b'\t');
            prop_assert_eq!(has_blank(&s), want);
        }

        /// Any two byte strings: the same answer as `eq_ignore_ascii_case`, on pairs that
        /// mostly differ by case only (each byte of `b` is `a`'s, case-flipped or not, or
        /// another byte).
        #[test]
        fn agrees_with_eq_ignore_ascii_case(
            a in proptest::collection::vec(any::<u8>(), 0..40),
            edits in proptest::collection::vec((0u8..4, any::<u8>()), 0..40),
        ) {
            let b: Vec<u8> = a
                .iter()
                .zip(edits.iter().chain(std::iter::repeat(&(0, 0))))
                .map(|(&c, &(op, other))| match op {
                    0 | 1 => c,
                    2 => c ^ 0x20,
                    _ => other,
                })
                .collect();
            prop_assert_eq!(eq_nocase(&a, &b), a.eq_ignore_ascii_case(&b));
            let upper: Vec<u8> = a.to_ascii_uppercase();
            prop_assert!(eq_nocase(&a, &upper));
        }
    }
}
