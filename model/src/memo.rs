//! A bounded memo for a pure function of short keys, asked over and over by the few keys of
//! a schema (`status`, `currency`, `id`) while bodies are learned.
//!
//! Policy: 64 slots, direct-mapped on the key's hash (the word hash of [`crate::props`]);
//! a slot holds the key's bytes (at most [`MEMO_KEY_LEN`]) and the answer, and a lookup
//! compares the exact key, so an answer is always the function's own (a collision only
//! evicts). Longer keys are not remembered. Memory: fixed, a few KiB per memo and thread.
//! Used from a `thread_local!`, so no lock; a re-entrant use (the function asking its own
//! memo) finds the slot busy and just computes.

use std::cell::RefCell;

/// Keys of at most this many bytes have their answer remembered.
pub(crate) const MEMO_KEY_LEN: usize = 32;
/// Slots of a memo.
const SLOTS: usize = 64;

/// One remembered answer: the key's bytes, its length (`u8::MAX`: empty slot), the answer.
type Slot<T> = ([u8; MEMO_KEY_LEN], u8, T);

/// The memo (see the module doc).
pub(crate) struct KeyMemo<T: Copy> {
    slots: RefCell<[Slot<T>; SLOTS]>,
}

impl<T: Copy> KeyMemo<T> {
    /// An empty memo; `filler` only fills the empty slots (never returned).
    pub(crate) const fn new(filler: T) -> Self {
        KeyMemo {
            slots: RefCell::new([([0; MEMO_KEY_LEN], u8::MAX, filler); SLOTS]),
        }
    }

    /// `f(key)`, remembered when `key` is short.
    pub(crate) fn get(&self, key: &str, f: impl FnOnce(&str) -> T) -> T {
        let b = key.as_bytes();
        if b.len() > MEMO_KEY_LEN {
            return f(key);
        }
        let slot = crate::props::name_hash(b) % SLOTS;
        let hit = self.slots.try_borrow().ok().and_then(|s| {
            s.get(slot).and_then(|(k, len, v)| {
                (usize::from(*len) == b.len()
                    && k.get(..b.len())
                        .is_some_and(|k| crate::props::same_name(k, b)))
                .then_some(*v)
            })
        });
        if let Some(v) = hit {
            return v;
        }
        let v = f(key);
        if let Some(e) = self
            .slots
            .try_borrow_mut()
            .ok()
            .as_deref_mut()
            .and_then(|s| s.get_mut(slot))
        {
            let mut k = [0; MEMO_KEY_LEN];
            if let Some(d) = k.get_mut(..b.len()) {
                d.copy_from_slice(b);
            }
            *e = (k, b.len() as u8, v);
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// Answers are the function's: misses compute, hits do not, colliding and long keys
    /// still get their own answer.
    #[test]
    fn answers_are_the_functions() {
        let memo = KeyMemo::new(0usize);
        let calls = Cell::new(0);
        let f = |k: &str| {
            calls.set(calls.get() + 1);
            k.len() * 3 + k.bytes().map(usize::from).sum::<usize>()
        };
        let want = |k: &str| k.len() * 3 + k.bytes().map(usize::from).sum::<usize>();
        assert_eq!(memo.get("status", f), want("status"));
        assert_eq!(memo.get("status", f), want("status"));
        assert_eq!(calls.get(), 1, "the second ask is a hit");
        // 500 keys through 64 slots: evictions, never a wrong answer
        for i in 0..500 {
            let k = format!("k{i}");
            assert_eq!(memo.get(&k, f), want(&k));
        }
        for i in (0..500).rev() {
            let k = format!("k{i}");
            assert_eq!(memo.get(&k, f), want(&k));
        }
        let long = "x".repeat(MEMO_KEY_LEN + 1);
        let before = calls.get();
        assert_eq!(memo.get(&long, f), want(&long));
        assert_eq!(memo.get(&long, f), want(&long));
        assert_eq!(calls.get(), before + 2, "long keys are not remembered");
        assert_eq!(memo.get("", f), want(""));
    }
}
