//! Bounded IP fragment reassembly (IPv4 and IPv6).
//!
//! Policy:
//! - Datagrams are keyed by (source, destination, identification, and for IPv4 the
//!   protocol) as RFC 791 / RFC 8200 say.
//! - **Overlaps: first wins.** Bytes already received are never overwritten (the BSD/Linux
//!   answer differs by OS; first-wins is the conservative, deterministic choice). Every
//!   fragment that overlaps earlier data (duplicates included) is counted in
//!   `frag_overlaps`.
//! - **Bounds**: at most `max_datagrams` datagrams in progress and `max_bytes` buffered
//!   bytes in total; a fragment that would exceed either is dropped (`frag_dropped`), so
//!   a flood of never-completed datagrams can only delay new ones until they time out.
//!   A datagram may not exceed 65535 bytes or hold more than [`MAX_PIECES`] separate pieces.
//! - **Timeout** in capture time (default 30 s from the first fragment): expired datagrams
//!   are discarded and counted in `frag_timeouts`. Expiry is checked at most once per
//!   second of capture time, when a fragment arrives or [`FragTable::expire`] is called.
//! - Inconsistent fragments (a second, different "last" fragment; data past the end) are
//!   dropped and counted.
//! - A completed datagram is moved into an owned output buffer that the decoder lends out
//!   until its next call.

use super::DecodeStats;
use crate::Timestamp;
use std::collections::HashMap;
use std::net::IpAddr;

/// Largest reassembled datagram payload.
const MAX_DATAGRAM: usize = 65535;
/// Most separate received pieces per datagram (bounds the per-fragment work).
pub const MAX_PIECES: usize = 256;
/// Expiry sweeps happen at most this often (capture time).
const SWEEP_INTERVAL_NS: i64 = 1_000_000_000;

/// Limits of the fragment table.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct FragConfig {
    /// Drop a datagram this long (capture time, nanoseconds) after its first fragment.
    pub timeout_ns: i64,
    /// Most datagrams in progress at once.
    pub max_datagrams: usize,
    /// Most bytes buffered over all datagrams in progress.
    pub max_bytes: usize,
}

impl Default for FragConfig {
    fn default() -> Self {
        FragConfig {
            timeout_ns: 30_000_000_000,
            max_datagrams: 1024,
            max_bytes: 8 * 1024 * 1024,
        }
    }
}

/// Identifies one datagram being reassembled.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct FragKey {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub ident: u32,
    /// IPv4 protocol; 0 for IPv6 (whose next header comes from the offset-0 fragment).
    pub proto: u8,
}

#[derive(Debug)]
struct Datagram {
    data: Vec<u8>,
    /// Received byte ranges `[start, end)`, sorted, disjoint, non-adjacent.
    have: Vec<(usize, usize)>,
    /// Total length, known once the last fragment arrived.
    total: Option<usize>,
    first_ts: Timestamp,
    /// Next header/protocol from the offset-0 fragment.
    next: Option<u8>,
}

/// Outcome of adding one fragment.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum FragResult {
    /// Buffered; the datagram is not complete yet.
    Held,
    /// Rejected (caps or inconsistent); the caller counts it in `frag_dropped`.
    Dropped,
    /// The datagram is complete: its payload is in [`FragTable::output`]; `next` is the
    /// protocol / next header of that payload.
    Complete {
        /// Protocol of the reassembled payload.
        next: u8,
    },
}

/// Datagrams being reassembled.
#[derive(Debug, Default)]
pub(crate) struct FragTable {
    cfg: FragConfig,
    map: HashMap<FragKey, Datagram>,
    bytes: usize,
    out: Vec<u8>,
    last_sweep: Timestamp,
}

impl FragTable {
    pub(crate) fn new(cfg: FragConfig) -> Self {
        FragTable {
            cfg,
            ..FragTable::default()
        }
    }

    /// The last completed datagram's payload.
    pub(crate) fn output(&self) -> &[u8] {
        &self.out
    }

    /// Datagrams in progress.
    pub(crate) fn in_progress(&self) -> usize {
        self.map.len()
    }

    /// Bytes buffered.
    pub(crate) fn buffered_bytes(&self) -> usize {
        self.bytes
    }

    /// Drops datagrams older than the timeout (at most one scan per second of capture time).
    pub(crate) fn expire(&mut self, now: Timestamp, stats: &mut DecodeStats) {
        if now.0 >= self.last_sweep.0 && now.0 - self.last_sweep.0 < SWEEP_INTERVAL_NS {
            return;
        }
        self.last_sweep = now;
        if self.map.is_empty() {
            return;
        }
        let timeout = self.cfg.timeout_ns;
        let mut freed = 0;
        let before = self.map.len();
        self.map.retain(|_, dg| {
            let keep = now.0.saturating_sub(dg.first_ts.0) < timeout;
            if !keep {
                freed += dg.data.len();
            }
            keep
        });
        stats.frag_timeouts += (before - self.map.len()) as u64;
        self.bytes -= freed;
    }

    /// Discards everything in progress (end of capture), counting it in `frag_unfinished`.
    pub(crate) fn finish(&mut self, stats: &mut DecodeStats) {
        stats.frag_unfinished += self.map.len() as u64;
        self.map.clear();
        self.bytes = 0;
    }

    /// Adds a fragment of `data` at byte `offset`; `more` is the more-fragments flag and
    /// `next` the protocol/next header this fragment announces.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn insert(
        &mut self,
        key: FragKey,
        ts: Timestamp,
        offset: usize,
        more: bool,
        next: u8,
        data: &[u8],
        stats: &mut DecodeStats,
    ) -> FragResult {
        self.expire(ts, stats);
        let end = offset + data.len();
        if end > MAX_DATAGRAM || (data.is_empty() && more) {
            return FragResult::Dropped;
        }
        let dg = match self.map.get_mut(&key) {
            Some(dg) => dg,
            None => {
                if self.map.len() >= self.cfg.max_datagrams || self.bytes + end > self.cfg.max_bytes
                {
                    return FragResult::Dropped;
                }
                self.map.entry(key).or_insert(Datagram {
                    data: Vec::new(),
                    have: Vec::new(),
                    total: None,
                    first_ts: ts,
                    next: None,
                })
            }
        };
        // Consistency with what we know of the datagram's end.
        let max_have = dg.have.last().map_or(0, |r| r.1);
        let consistent = match (more, dg.total) {
            (false, Some(t)) => t == end,
            (false, None) => end >= max_have,
            (true, Some(t)) => end <= t,
            (true, None) => true,
        };
        if !consistent || dg.have.len() >= MAX_PIECES {
            return FragResult::Dropped;
        }
        let grow = end.saturating_sub(dg.data.len());
        if self.bytes + grow > self.cfg.max_bytes {
            return FragResult::Dropped;
        }
        if grow > 0 {
            dg.data.resize(end, 0);
            self.bytes += grow;
        }
        if !more {
            dg.total = Some(end);
        }
        if offset == 0 {
            dg.next.get_or_insert(next);
        }
        if copy_first_wins(dg, offset, data) {
            stats.frag_overlaps += 1;
        }
        let complete = dg.total.is_some_and(|t| dg.have.as_slice() == [(0, t)]);
        if !complete {
            return FragResult::Held;
        }
        let Some(mut dg) = self.map.remove(&key) else {
            return FragResult::Held;
        };
        self.bytes -= dg.data.len();
        std::mem::swap(&mut self.out, &mut dg.data);
        stats.frag_reassembled += 1;
        FragResult::Complete {
            next: dg.next.unwrap_or(key.proto),
        }
    }
}

/// Copies the parts of `data` (at `offset`) not yet received into `dg.data` and records
/// the range as received. Returns whether any byte overlapped earlier data.
fn copy_first_wins(dg: &mut Datagram, offset: usize, data: &[u8]) -> bool {
    let end = offset + data.len();
    let mut overlap = false;
    let mut pos = offset;
    let copy = |from: usize, to: usize, buf: &mut Vec<u8>| {
        if let (Some(dst), Some(src)) =
            (buf.get_mut(from..to), data.get(from - offset..to - offset))
        {
            dst.copy_from_slice(src);
        }
    };
    for &(s, e) in &dg.have {
        if e <= pos {
            continue;
        }
        if s >= end {
            break;
        }
        overlap = true;
        if s > pos {
            copy(pos, s, &mut dg.data);
        }
        pos = pos.max(e);
        if pos >= end {
            break;
        }
    }
    if pos < end {
        copy(pos, end, &mut dg.data);
    }
    // Merge [offset, end) into the sorted, coalesced range list.
    let mut start = offset;
    let mut stop = end;
    let mut merged = Vec::with_capacity(dg.have.len() + 1);
    let mut placed = false;
    for &(s, e) in &dg.have {
        if e < start {
            merged.push((s, e));
        } else if s > stop {
            if !placed {
                merged.push((start, stop));
                placed = true;
            }
            merged.push((s, e));
        } else {
            start = start.min(s);
            stop = stop.max(e);
        }
    }
    if !placed {
        merged.push((start, stop));
    }
    // A zero-length (last) fragment adds no range.
    merged.retain(|r| r.0 != r.1);
    dg.have = merged;
    overlap
}
