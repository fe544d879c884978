//! Evidence primitives and the two ways of combining them.
//!
//! Every counter in the model is a plain `u64`. Two models are combined in one of two modes:
//!
//! - [`Mode::Join`]: the *same* source seen at two points in time (or twice). Counters take the
//!   maximum, sets take the union, first-seen the minimum, last-seen the maximum. This is a
//!   semilattice join: associative, commutative and idempotent.
//! - [`Mode::Sum`]: *disjoint* evidence (different sources, or sibling paths folded into one
//!   template). Counters add; everything else as in `Join`.
//!
//! [`crate::ApiModel`] keeps one sub-model per source id and only ever joins sub-models of the
//! same source, so `merge` is a join (the three laws hold exactly), while the exported view
//! sums over sources, so counts are exact as long as distinct agents use distinct source ids.
//!
//! Capped maps combine by keeping the `cap` smallest keys of the union (and raising the
//! owner's overflow flag): "smallest N of a union" is itself associative, commutative and
//! idempotent, so caps do not break the laws.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How two pieces of evidence are combined (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Same source: max counters.
    Join,
    /// Disjoint evidence: add counters.
    Sum,
}

/// Combine `other` into `self`.
pub trait Combine {
    /// Combine `other` into `self` in `mode`.
    fn combine(&mut self, other: &Self, mode: Mode);
}

/// Combine two counters.
#[inline]
pub fn cnt(a: &mut u64, b: u64, mode: Mode) {
    match mode {
        Mode::Join => *a = (*a).max(b),
        Mode::Sum => *a = a.saturating_add(b),
    }
}

/// Combine first-seen timestamps (0 = unset).
#[inline]
pub fn first(a: &mut i64, b: i64) {
    if *a == 0 || (b != 0 && b < *a) {
        *a = b;
    }
}

/// Combine last-seen timestamps.
#[inline]
pub fn last(a: &mut i64, b: i64) {
    if b > *a {
        *a = b;
    }
}

/// Record a timestamp into (first, last).
#[inline]
pub fn seen(f: &mut i64, l: &mut i64, ts: i64) {
    first(f, ts);
    last(l, ts);
}

impl Combine for u64 {
    fn combine(&mut self, other: &Self, mode: Mode) {
        cnt(self, *other, mode)
    }
}

/// Combine capped maps; returns true when the cap cut keys (owner should set its overflow flag).
pub fn combine_map<K: Ord + Clone, V: Combine + Clone>(
    a: &mut BTreeMap<K, V>,
    b: &BTreeMap<K, V>,
    mode: Mode,
    cap: usize,
) -> bool {
    for (k, v) in b {
        match a.get_mut(k) {
            Some(x) => x.combine(v, mode),
            None => {
                a.insert(k.clone(), v.clone());
            }
        }
    }
    let mut cut = false;
    while a.len() > cap {
        a.pop_last();
        cut = true;
    }
    cut
}

/// Combine optional boxed children.
pub fn combine_opt<V: Combine + Clone>(a: &mut Option<Box<V>>, b: &Option<Box<V>>, mode: Mode) {
    if let Some(bv) = b {
        match a {
            Some(av) => av.combine(bv, mode),
            None => *a = Some(bv.clone()),
        }
    }
}

pub(crate) fn is_zero(x: &u64) -> bool {
    *x == 0
}
pub(crate) fn is_zero_i(x: &i64) -> bool {
    *x == 0
}
pub(crate) fn is_false(x: &bool) -> bool {
    !*x
}

/// Number of latency buckets: bucket `i` holds latencies in `[2^(i/4), 2^((i+1)/4))` µs.
pub const LAT_BUCKETS: usize = 128;

/// A mergeable latency sketch: fixed log-scale buckets (4 per power of two, ~19% wide) over
/// microseconds, from 1 µs to ~1 hour. Merging is exact (bucket-wise add or max); quantiles
/// are bucket midpoints.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    /// Sparse bucket counts.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub b: BTreeMap<u8, u64>,
}

impl Histogram {
    /// Bucket index of a latency in ms.
    pub fn bucket(ms: f64) -> u8 {
        if !ms.is_finite() || ms <= 0.001 {
            return 0;
        }
        let us = ms * 1000.0;
        let i = (us.log2() * 4.0).floor();
        i.clamp(0.0, (LAT_BUCKETS - 1) as f64) as u8
    }

    /// Record one latency.
    pub fn record(&mut self, ms: f64) {
        *self.b.entry(Self::bucket(ms)).or_insert(0) += 1;
    }

    /// Number of samples.
    pub fn count(&self) -> u64 {
        self.b.values().sum()
    }

    /// Quantile `q` in ms (bucket geometric midpoint), `None` if empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * n as f64).ceil() as u64).max(1);
        let mut acc = 0;
        for (&i, &c) in &self.b {
            acc += c;
            if acc >= rank {
                let mid = 2f64.powf((i as f64 + 0.5) / 4.0) / 1000.0;
                return Some((mid * 1000.0).round() / 1000.0);
            }
        }
        None
    }
}

impl Combine for Histogram {
    fn combine(&mut self, other: &Self, mode: Mode) {
        combine_map(&mut self.b, &other.b, mode, LAT_BUCKETS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_quantiles() {
        let mut h = Histogram::default();
        for ms in [1.0, 2.0, 3.0, 4.0, 100.0] {
            h.record(ms);
        }
        let p50 = h.quantile(0.5).unwrap_or(0.0);
        assert!((2.5..=3.6).contains(&p50), "{p50}");
        let p99 = h.quantile(0.99).unwrap_or(0.0);
        assert!((84.0..=119.0).contains(&p99), "{p99}");
        let mut a = h.clone();
        a.combine(&h, Mode::Sum);
        assert_eq!(a.count(), 10);
        a.combine(&h, Mode::Join);
        assert_eq!(a.count(), 10);
    }
}
