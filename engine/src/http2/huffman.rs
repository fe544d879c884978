//! HPACK Huffman decoding (RFC 7541 §5.2, Appendix B).
//!
//! The code is turned once into a 4-bit state machine: a state is an internal node of the
//! code tree, and each input nibble moves to another node, emitting at most one symbol (no
//! code is shorter than 5 bits). A string is accepted only if it does not contain EOS and
//! ends on the all-ones path from the root no more than 7 bits deep (the padding rule).

use std::sync::OnceLock;

/// (code, bit length) of each symbol 0..=256 (256 is EOS), RFC 7541 Appendix B.
pub(super) const CODES: [(u32, u8); 257] = [
    (0x1ff8, 13),
    (0x7fffd8, 23),
    (0xfffffe2, 28),
    (0xfffffe3, 28),
    (0xfffffe4, 28),
    (0xfffffe5, 28),
    (0xfffffe6, 28),
    (0xfffffe7, 28),
    (0xfffffe8, 28),
    (0xffffea, 24),
    (0x3ffffffc, 30),
    (0xfffffe9, 28),
    (0xfffffea, 28),
    (0x3ffffffd, 30),
    (0xfffffeb, 28),
    (0xfffffec, 28),
    (0xfffffed, 28),
    (0xfffffee, 28),
    (0xfffffef, 28),
    (0xffffff0, 28),
    (0xffffff1, 28),
    (0xffffff2, 28),
    (0x3ffffffe, 30),
    (0xffffff3, 28),
    (0xffffff4, 28),
    (0xffffff5, 28),
    (0xffffff6, 28),
    (0xffffff7, 28),
    (0xffffff8, 28),
    (0xffffff9, 28),
    (0xffffffa, 28),
    (0xffffffb, 28),
    (0x14, 6),
    (0x3f8, 10),
    (0x3f9, 10),
    (0xffa, 12),
    (0x1ff9, 13),
    (0x15, 6),
    (0xf8, 8),
    (0x7fa, 11),
    (0x3fa, 10),
    (0x3fb, 10),
    (0xf9, 8),
    (0x7fb, 11),
    (0xfa, 8),
    (0x16, 6),
    (0x17, 6),
    (0x18, 6),
    (0x0, 5),
    (0x1, 5),
    (0x2, 5),
    (0x19, 6),
    (0x1a, 6),
    (0x1b, 6),
    (0x1c, 6),
    (0x1d, 6),
    (0x1e, 6),
    (0x1f, 6),
    (0x5c, 7),
    (0xfb, 8),
    (0x7ffc, 15),
    (0x20, 6),
    (0xffb, 12),
    (0x3fc, 10),
    (0x1ffa, 13),
    (0x21, 6),
    (0x5d, 7),
    (0x5e, 7),
    (0x5f, 7),
    (0x60, 7),
    (0x61, 7),
    (0x62, 7),
    (0x63, 7),
    (0x64, 7),
    (0x65, 7),
    (0x66, 7),
    (0x67, 7),
    (0x68, 7),
    (0x69, 7),
    (0x6a, 7),
    (0x6b, 7),
    (0x6c, 7),
    (0x6d, 7),
    (0x6e, 7),
    (0x6f, 7),
    (0x70, 7),
    (0x71, 7),
    (0x72, 7),
    (0xfc, 8),
    (0x73, 7),
    (0xfd, 8),
    (0x1ffb, 13),
    (0x7fff0, 19),
    (0x1ffc, 13),
    (0x3ffc, 14),
    (0x22, 6),
    (0x7ffd, 15),
    (0x3, 5),
    (0x23, 6),
    (0x4, 5),
    (0x24, 6),
    (0x5, 5),
    (0x25, 6),
    (0x26, 6),
    (0x27, 6),
    (0x6, 5),
    (0x74, 7),
    (0x75, 7),
    (0x28, 6),
    (0x29, 6),
    (0x2a, 6),
    (0x7, 5),
    (0x2b, 6),
    (0x76, 7),
    (0x2c, 6),
    (0x8, 5),
    (0x9, 5),
    (0x2d, 6),
    (0x77, 7),
    (0x78, 7),
    (0x79, 7),
    (0x7a, 7),
    (0x7b, 7),
    (0x7ffe, 15),
    (0x7fc, 11),
    (0x3ffd, 14),
    (0x1ffd, 13),
    (0xffffffc, 28),
    (0xfffe6, 20),
    (0x3fffd2, 22),
    (0xfffe7, 20),
    (0xfffe8, 20),
    (0x3fffd3, 22),
    (0x3fffd4, 22),
    (0x3fffd5, 22),
    (0x7fffd9, 23),
    (0x3fffd6, 22),
    (0x7fffda, 23),
    (0x7fffdb, 23),
    (0x7fffdc, 23),
    (0x7fffdd, 23),
    (0x7fffde, 23),
    (0xffffeb, 24),
    (0x7fffdf, 23),
    (0xffffec, 24),
    (0xffffed, 24),
    (0x3fffd7, 22),
    (0x7fffe0, 23),
    (0xffffee, 24),
    (0x7fffe1, 23),
    (0x7fffe2, 23),
    (0x7fffe3, 23),
    (0x7fffe4, 23),
    (0x1fffdc, 21),
    (0x3fffd8, 22),
    (0x7fffe5, 23),
    (0x3fffd9, 22),
    (0x7fffe6, 23),
    (0x7fffe7, 23),
    (0xffffef, 24),
    (0x3fffda, 22),
    (0x1fffdd, 21),
    (0xfffe9, 20),
    (0x3fffdb, 22),
    (0x3fffdc, 22),
    (0x7fffe8, 23),
    (0x7fffe9, 23),
    (0x1fffde, 21),
    (0x7fffea, 23),
    (0x3fffdd, 22),
    (0x3fffde, 22),
    (0xfffff0, 24),
    (0x1fffdf, 21),
    (0x3fffdf, 22),
    (0x7fffeb, 23),
    (0x7fffec, 23),
    (0x1fffe0, 21),
    (0x1fffe1, 21),
    (0x3fffe0, 22),
    (0x1fffe2, 21),
    (0x7fffed, 23),
    (0x3fffe1, 22),
    (0x7fffee, 23),
    (0x7fffef, 23),
    (0xfffea, 20),
    (0x3fffe2, 22),
    (0x3fffe3, 22),
    (0x3fffe4, 22),
    (0x7ffff0, 23),
    (0x3fffe5, 22),
    (0x3fffe6, 22),
    (0x7ffff1, 23),
    (0x3ffffe0, 26),
    (0x3ffffe1, 26),
    (0xfffeb, 20),
    (0x7fff1, 19),
    (0x3fffe7, 22),
    (0x7ffff2, 23),
    (0x3fffe8, 22),
    (0x1ffffec, 25),
    (0x3ffffe2, 26),
    (0x3ffffe3, 26),
    (0x3ffffe4, 26),
    (0x7ffffde, 27),
    (0x7ffffdf, 27),
    (0x3ffffe5, 26),
    (0xfffff1, 24),
    (0x1ffffed, 25),
    (0x7fff2, 19),
    (0x1fffe3, 21),
    (0x3ffffe6, 26),
    (0x7ffffe0, 27),
    (0x7ffffe1, 27),
    (0x3ffffe7, 26),
    (0x7ffffe2, 27),
    (0xfffff2, 24),
    (0x1fffe4, 21),
    (0x1fffe5, 21),
    (0x3ffffe8, 26),
    (0x3ffffe9, 26),
    (0xffffffd, 28),
    (0x7ffffe3, 27),
    (0x7ffffe4, 27),
    (0x7ffffe5, 27),
    (0xfffec, 20),
    (0xfffff3, 24),
    (0xfffed, 20),
    (0x1fffe6, 21),
    (0x3fffe9, 22),
    (0x1fffe7, 21),
    (0x1fffe8, 21),
    (0x7ffff3, 23),
    (0x3fffea, 22),
    (0x3fffeb, 22),
    (0x1ffffee, 25),
    (0x1ffffef, 25),
    (0xfffff4, 24),
    (0xfffff5, 24),
    (0x3ffffea, 26),
    (0x7ffff4, 23),
    (0x3ffffeb, 26),
    (0x7ffffe6, 27),
    (0x3ffffec, 26),
    (0x3ffffed, 26),
    (0x7ffffe7, 27),
    (0x7ffffe8, 27),
    (0x7ffffe9, 27),
    (0x7ffffea, 27),
    (0x7ffffeb, 27),
    (0xffffffe, 28),
    (0x7ffffec, 27),
    (0x7ffffed, 27),
    (0x7ffffee, 27),
    (0x7ffffef, 27),
    (0x7fffff0, 27),
    (0x3ffffee, 26),
    (0x3fffffff, 30),
];

/// One transition: next state, the symbol emitted (if `EMIT`), flags.
#[derive(Copy, Clone, Default)]
struct Step {
    next: u8,
    sym: u8,
    flags: u8,
}

const EMIT: u8 = 1;
const FAIL: u8 = 2;

struct Machine {
    /// `steps[state * 16 + nibble]`.
    steps: Vec<Step>,
    /// Whether ending in this state is valid padding.
    accept: Vec<bool>,
}

/// Internal tree nodes: children are `Node(i)` or `Leaf(symbol)`.
#[derive(Copy, Clone)]
enum Child {
    None,
    Node(usize),
    Leaf(u16),
}

// Indexing here walks the constant code table only (no captured byte reaches it): the tree
// has exactly 256 internal nodes and every index comes from building it.
#[allow(clippy::indexing_slicing)]
fn build() -> Machine {
    // the code tree; node 0 is the root
    let mut nodes: Vec<[Child; 2]> = vec![[Child::None, Child::None]];
    for (sym, &(code, len)) in CODES.iter().enumerate() {
        let mut n = 0usize;
        for i in (0..len).rev() {
            let bit = ((code >> i) & 1) as usize;
            if i == 0 {
                nodes[n][bit] = Child::Leaf(sym as u16);
            } else {
                n = match nodes[n][bit] {
                    Child::Node(m) => m,
                    _ => {
                        nodes.push([Child::None, Child::None]);
                        let m = nodes.len() - 1;
                        nodes[n][bit] = Child::Node(m);
                        m
                    }
                };
            }
        }
    }
    // accepting states: the all-ones path from the root, depth 0..=7
    let mut accept = vec![false; nodes.len()];
    let mut n = 0usize;
    accept[0] = true;
    for _ in 0..7 {
        match nodes[n][1] {
            Child::Node(m) => {
                accept[m] = true;
                n = m;
            }
            _ => break,
        }
    }
    let mut steps = vec![Step::default(); nodes.len() * 16];
    for state in 0..nodes.len() {
        for nib in 0..16u8 {
            let mut n = state;
            let mut step = Step::default();
            for i in (0..4).rev() {
                let bit = ((nib >> i) & 1) as usize;
                match nodes[n][bit] {
                    Child::Node(m) => n = m,
                    Child::Leaf(256) | Child::None => {
                        step.flags |= FAIL;
                        break;
                    }
                    Child::Leaf(s) => {
                        step.flags |= EMIT;
                        step.sym = s as u8;
                        n = 0;
                    }
                }
            }
            step.next = n as u8;
            steps[state * 16 + nib as usize] = step;
        }
    }
    Machine { steps, accept }
}

fn machine() -> &'static Machine {
    static M: OnceLock<Machine> = OnceLock::new();
    M.get_or_init(build)
}

/// Decode a Huffman-coded string, appending to `out`. `None` if it is invalid (EOS inside,
/// bad padding).
pub fn decode(input: &[u8], out: &mut Vec<u8>) -> Option<()> {
    let m = machine();
    let mut state = 0usize;
    out.reserve(input.len() * 8 / 5);
    for &b in input {
        for nib in [b >> 4, b & 0x0f] {
            let s = *m.steps.get(state * 16 + nib as usize)?;
            if s.flags & FAIL != 0 {
                return None;
            }
            if s.flags & EMIT != 0 {
                out.push(s.sym);
            }
            state = s.next as usize;
        }
    }
    if *m.accept.get(state)? {
        Some(())
    } else {
        None
    }
}

/// Huffman-encode (tests and the fuzz target's round trip only).
// `b as usize` is at most 255 and the table has 257 entries.
#[allow(clippy::indexing_slicing)]
pub fn encode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut acc: u64 = 0;
    let mut bits = 0u32;
    for &b in input {
        let (code, len) = CODES[b as usize];
        acc = (acc << len) | u64::from(code);
        bits += u32::from(len);
        while bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    if bits > 0 {
        let pad = 8 - bits;
        out.push(((acc << pad) as u8) | ((1u8 << pad) - 1));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_is_complete_and_prefix_free() {
        // Kraft sum is exactly 1 and the tree build put every symbol at a leaf
        let sum: f64 = CODES.iter().map(|&(_, l)| 2f64.powi(-i32::from(l))).sum();
        assert!((sum - 1.0).abs() < 1e-12);
        let m = machine();
        assert_eq!(
            m.accept.len(),
            256,
            "a complete binary tree of 257 leaves has 256 nodes"
        );
    }

    #[test]
    fn rfc7541_c4_strings() {
        // RFC 7541 C.4.1-C.4.3 Huffman-coded literals
        let cases: [(&str, &str); 4] = [
            ("f1e3c2e5f23a6ba0ab90f4ff", "www.example.com"),
            ("a8eb10649cbf", "no-cache"),
            ("25a849e95ba97d7f", "custom-key"),
            ("25a849e95bb8e8b4bf", "custom-value"),
        ];
        for (hex, s) in cases {
            let bytes = super::super::hpack::tests::unhex(hex);
            let mut out = Vec::new();
            decode(&bytes, &mut out).unwrap();
            assert_eq!(out, s.as_bytes());
            assert_eq!(encode(s.as_bytes()), bytes);
        }
    }

    #[test]
    fn bad_padding_and_eos_rejected() {
        let mut out = Vec::new();
        // 'a' is 00011 (5 bits): padding with zeros is invalid
        assert!(decode(&[0b0001_1000], &mut out).is_none());
        assert!(decode(&[0b0001_1111], &mut out).is_some());
        // 8+ bits of ones padding is invalid (a whole byte of padding)
        assert!(decode(&[0b0001_1111, 0xff], &mut out).is_none());
        // EOS (30 ones) inside
        assert!(decode(&[0xff, 0xff, 0xff, 0xfc], &mut out).is_none());
        assert!(decode(&[], &mut out).is_some());
    }

    #[test]
    fn round_trip_all_bytes() {
        let all: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
        let mut out = Vec::new();
        decode(&encode(&all), &mut out).unwrap();
        assert_eq!(out, all);
    }
}
