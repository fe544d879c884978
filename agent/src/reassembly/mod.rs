//! Stage 4 — reassembly: one TCP byte stream per direction, in order.
//!
//! Input: segments of one direction of one connection. Output: in-order data, gaps, FIN.

use std::cmp::Ordering;

/// A TCP sequence number: arithmetic and comparison modulo 2^32 (RFC 1982 style).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct SeqNum(pub u32);

impl SeqNum {
    /// `self + n` modulo 2^32.
    pub fn add(self, n: u32) -> SeqNum {
        SeqNum(self.0.wrapping_add(n))
    }

    /// Signed distance `self - other`, valid when they are less than 2^31 apart.
    pub fn diff(self, other: SeqNum) -> i32 {
        self.0.wrapping_sub(other.0) as i32
    }
}

impl PartialOrd for SeqNum {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.diff(*other).cmp(&0))
    }
}
