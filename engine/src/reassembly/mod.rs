//! Stage 4 — reassembly: one TCP byte stream per direction, in order.
//!
//! Input: segments of one direction of one connection. Output: in-order data, gaps, FIN,
//! handed to a sink closure as `Delivery` items.
//!
//! # Policies
//!
//! - **Start of stream.** A SYN fixes the initial sequence number (ISN); the SYN consumes one
//!   sequence number, so data carried in the SYN (TCP Fast Open) starts at `ISN + 1`. A stream
//!   picked up mid-connection (no SYN seen) starts at the first data segment's sequence
//!   number (or at a bare FIN's). Earlier bytes that show up afterwards count as old.
//! - **In order, no copy.** A segment whose bytes are the next expected ones is delivered
//!   straight from the caller's slice; only out-of-order bytes are copied into the buffer.
//! - **Retransmissions.** Bytes that were already delivered are dropped and counted
//!   ([`ReassemblyStats::retransmitted_bytes`]); a partially old segment is trimmed.
//! - **Overlaps: first seen wins.** Delivered bytes can never change. For bytes that are
//!   buffered (out of order) and arrive again, the buffered copy is kept and the new copy is
//!   dropped ([`ReassemblyStats::overlap_bytes`]); when the two copies differ, the overlap is
//!   also counted in [`ReassemblyStats::overlap_conflicts`]. Differences against bytes
//!   already delivered are not detected (delivered bytes are not kept).
//! - **Out-of-order buffer.** Bounded per stream in bytes and in segments
//!   ([`ReassemblyConfig`]). Buffered pieces are kept sorted by sequence number and never
//!   overlap each other.
//! - **Gaps.** A hole before buffered data is declared lost — delivered as
//!   `Delivery::Gap``(len)`, then the data after it — when
//!   (a) the other direction acknowledges bytes beyond the hole (`StreamReassembler::peer_ack`:
//!   the receiver got bytes the capture missed, Zeek's "content gap"),
//!   (b) the buffer exceeds its cap (the first hole is skipped, repeatedly, until the buffer
//!   fits; counted in [`ReassemblyStats::buffer_overflow_drops`]),
//!   (c) the owner gives up waiting: connection close, RST, idle timeout, eviction, end of
//!   capture (`StreamReassembler::flush`), or a global memory cap
//!   (`StreamReassembler::skip_holes`).
//!   A FIN alone does not declare holes before it lost (a reordered segment may still
//!   come): the peer's ACK of the FIN, or the owner's flush, does.
//!   Everything depends only on the order of calls, so results are deterministic.
//! - **Sequence space.** All arithmetic is modulo 2^32 ([`SeqNum`]). Segments starting more
//!   than `MAX_WINDOW` (2^30, the largest TCP window) beyond the next expected byte are
//!   dropped as out of window, which keeps every buffered sequence number within 2^31 of the
//!   next expected one, so comparisons stay valid across wraparound.
//! - **FIN.** Delivered once all bytes before it were delivered (or declared lost). Payload
//!   beyond a known FIN is dropped as out of window.
//! - **Disabled streams.** When the consumer no longer wants bytes (`StreamReassembler::disable`),
//!   buffers are freed and later payload is only counted ([`ReassemblyStats::skipped_bytes`]);
//!   FIN is still tracked so the owner knows when the stream ended.

use crate::decode::{SeqNum, TcpFlags};
use std::collections::VecDeque;

/// Segments starting further than this beyond the next expected byte are dropped as out of
/// window (2^30 is the largest window TCP window scaling allows).
pub(crate) const MAX_WINDOW: u32 = 1 << 30;

/// Largest payload accepted in one segment; larger ones (impossible on the wire, since IP
/// limits a packet to 64 KiB without jumbograms) are dropped as bogus.
pub(crate) const MAX_SEGMENT_LEN: usize = 1 << 24;

/// Per-stream limits.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ReassemblyConfig {
    /// Maximum out-of-order payload bytes buffered per stream (default 256 KiB).
    pub max_buffer_bytes: usize,
    /// Maximum out-of-order pieces buffered per stream (default 2048); bounds the per-piece
    /// bookkeeping overhead when an attacker sends many tiny segments.
    pub max_buffer_segments: usize,
}

impl Default for ReassemblyConfig {
    fn default() -> Self {
        ReassemblyConfig {
            max_buffer_bytes: 256 * 1024,
            max_buffer_segments: 2048,
        }
    }
}

/// Reassembly counters. Owned by whoever drives the streams (the flow table keeps one
/// aggregate for all streams); add them up with [`ReassemblyStats::merge`] or `+=`.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct ReassemblyStats {
    /// Segments handed to a stream.
    pub segments: u64,
    /// Payload bytes delivered in order.
    pub bytes_delivered: u64,
    /// Segments made only of already delivered bytes (dropped).
    pub retransmitted_segments: u64,
    /// Already delivered bytes seen again (dropped), including the old part of partially
    /// old segments.
    pub retransmitted_bytes: u64,
    /// Segments that arrived ahead of the next expected byte and were (at least partly)
    /// buffered.
    pub ooo_segments: u64,
    /// Bytes that arrived again while a copy was buffered (the buffered copy wins).
    pub overlap_bytes: u64,
    /// Overlaps with buffered data whose bytes differed from the buffered copy.
    pub overlap_conflicts: u64,
    /// Holes declared lost (delivered as gaps), for any reason.
    pub gaps: u64,
    /// Total length of those holes.
    pub gap_bytes: u64,
    /// Holes declared lost because the other direction acknowledged bytes beyond them.
    pub ack_gaps: u64,
    /// Holes declared lost because the per-stream buffer cap was exceeded.
    pub buffer_overflow_drops: u64,
    /// Holes declared lost when the stream was flushed (close, idle, eviction, end of
    /// capture, global memory cap).
    pub flush_gaps: u64,
    /// Segments dropped as out of window: too far ahead, beyond a known FIN, a FIN behind
    /// delivered data, or impossibly large.
    pub out_of_window_segments: u64,
    /// Payload bytes not reassembled because the consumer stopped wanting data.
    pub skipped_bytes: u64,
}

impl ReassemblyStats {
    /// Adds `other`'s counters to `self`.
    pub fn merge(&mut self, other: &ReassemblyStats) {
        self.segments += other.segments;
        self.bytes_delivered += other.bytes_delivered;
        self.retransmitted_segments += other.retransmitted_segments;
        self.retransmitted_bytes += other.retransmitted_bytes;
        self.ooo_segments += other.ooo_segments;
        self.overlap_bytes += other.overlap_bytes;
        self.overlap_conflicts += other.overlap_conflicts;
        self.gaps += other.gaps;
        self.gap_bytes += other.gap_bytes;
        self.ack_gaps += other.ack_gaps;
        self.buffer_overflow_drops += other.buffer_overflow_drops;
        self.flush_gaps += other.flush_gaps;
        self.out_of_window_segments += other.out_of_window_segments;
        self.skipped_bytes += other.skipped_bytes;
    }
}

impl std::ops::AddAssign<&ReassemblyStats> for ReassemblyStats {
    fn add_assign(&mut self, rhs: &ReassemblyStats) {
        self.merge(rhs);
    }
}

/// What a stream hands to its sink, in stream order.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Delivery<'a> {
    /// The next in-order bytes.
    Data(&'a [u8]),
    /// This many bytes are missing and will never be delivered.
    Gap(u64),
    /// The sender closed the stream; nothing follows.
    Fin,
}

/// Why a hole was declared lost (selects the stats counter).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum GapCause {
    Ack,
    Overflow,
    Flush,
}

/// One buffered out-of-order piece.
#[derive(Clone, Debug)]
struct Piece {
    seq: SeqNum,
    data: Vec<u8>,
}

impl Piece {
    fn end(&self) -> SeqNum {
        self.seq.add(self.data.len() as u32)
    }
}

/// Reassembles one direction of a TCP connection. See the module docs for the policies.
#[derive(Clone, Debug)]
pub(crate) struct StreamReassembler {
    max_bytes: usize,
    max_segments: usize,
    /// ISN from a SYN, if one was seen.
    isn: Option<SeqNum>,
    /// Next expected sequence number; `None` until the stream starts.
    next: Option<SeqNum>,
    /// Sequence number of the FIN, once seen.
    fin_seq: Option<SeqNum>,
    fin_delivered: bool,
    disabled: bool,
    /// Out-of-order pieces: sorted, non-overlapping, all starting after `next`.
    buf: VecDeque<Piece>,
    buffered: usize,
}

impl Default for StreamReassembler {
    fn default() -> Self {
        StreamReassembler::new(ReassemblyConfig::default())
    }
}

impl StreamReassembler {
    /// A stream that has seen nothing yet.
    pub fn new(config: ReassemblyConfig) -> Self {
        StreamReassembler {
            max_bytes: config.max_buffer_bytes,
            max_segments: config.max_buffer_segments,
            isn: None,
            next: None,
            fin_seq: None,
            fin_delivered: false,
            disabled: false,
            buf: VecDeque::new(),
            buffered: 0,
        }
    }

    /// The ISN, if a SYN was seen.
    pub fn isn(&self) -> Option<SeqNum> {
        self.isn
    }

    /// Has the stream started (a SYN, data or FIN seen)?
    pub fn is_started(&self) -> bool {
        self.next.is_some()
    }

    /// The sequence number of the FIN (one past the last data byte), once seen.
    pub fn fin_seq(&self) -> Option<SeqNum> {
        self.fin_seq
    }

    /// Was a FIN seen (delivered or not)?
    pub fn fin_seen(&self) -> bool {
        self.fin_seq.is_some()
    }

    /// Was the FIN delivered (all bytes before it delivered or declared lost)?
    #[cfg(test)]
    pub fn fin_delivered(&self) -> bool {
        self.fin_delivered
    }

    /// Is the stream over: FIN delivered, or FIN seen on a disabled stream?
    pub fn is_finished(&self) -> bool {
        self.fin_delivered || (self.disabled && self.fin_seq.is_some())
    }

    /// Out-of-order payload bytes currently buffered.
    pub fn buffered_bytes(&self) -> usize {
        self.buffered
    }

    /// Out-of-order pieces currently buffered.
    #[cfg(test)]
    pub fn buffered_segments(&self) -> usize {
        self.buf.len()
    }

    /// Processes one segment of this direction. SYN and FIN are taken from `flags`; RST and
    /// ACK are the owner's business (see [`StreamReassembler::peer_ack`]).
    pub fn segment<F: FnMut(Delivery<'_>)>(
        &mut self,
        seq: SeqNum,
        flags: TcpFlags,
        payload: &[u8],
        stats: &mut ReassemblyStats,
        sink: &mut F,
    ) {
        stats.segments += 1;
        let mut data_seq = seq;
        if flags.has(TcpFlags::SYN) {
            if self.next.is_none() {
                self.isn = Some(seq);
                self.next = Some(seq.add(1));
            }
            // A repeated SYN (retransmission) still consumes one sequence number.
            data_seq = seq.add(1);
        }
        if payload.len() > MAX_SEGMENT_LEN {
            stats.out_of_window_segments += 1;
            return;
        }
        let len = payload.len() as u32;
        let fin = flags.has(TcpFlags::FIN);

        if self.disabled {
            stats.skipped_bytes += u64::from(len);
            if fin && self.fin_seq.is_none() {
                self.fin_seq = Some(data_seq.add(len));
            }
            return;
        }
        if self.fin_delivered {
            if len > 0 {
                match self.next {
                    Some(n) if data_seq.add(len).diff(n) <= 0 => {
                        stats.retransmitted_segments += 1;
                        stats.retransmitted_bytes += u64::from(len);
                    }
                    _ => stats.out_of_window_segments += 1,
                }
            }
            return;
        }

        if len > 0 {
            let next = *self.next.get_or_insert(data_seq);
            self.data(next, data_seq, payload, stats, sink);
        }
        if fin {
            let f = data_seq.add(len);
            let next = *self.next.get_or_insert(f);
            if self.fin_seq.is_none() {
                if f.diff(next) >= 0 {
                    self.fin_seq = Some(f);
                    self.drop_beyond_fin(f, stats);
                } else {
                    stats.out_of_window_segments += 1;
                }
            }
        }
        self.try_fin(sink);
    }

    /// The other direction acknowledged everything before `ack`: bytes of this direction
    /// before `ack` that the capture has not shown are declared lost (gap), and buffered
    /// data up to and after them is delivered. Acks not ahead of the next expected byte, or
    /// absurdly far ahead (more than [`MAX_WINDOW`]), are ignored.
    pub fn peer_ack<F: FnMut(Delivery<'_>)>(
        &mut self,
        ack: SeqNum,
        stats: &mut ReassemblyStats,
        sink: &mut F,
    ) {
        if self.disabled || self.fin_delivered {
            return;
        }
        let Some(next) = self.next else { return };
        let rel = ack.diff(next);
        if rel <= 0 || rel > MAX_WINDOW as i32 {
            return;
        }
        // An ack of the FIN covers one sequence number more than the data.
        let target = match self.fin_seq {
            Some(f) if ack.diff(f) > 0 => f,
            _ => ack,
        };
        self.skip_to(target, GapCause::Ack, stats, sink);
        self.try_fin(sink);
    }

    /// Gives up waiting: every hole is declared lost, all buffered data is delivered, and a
    /// seen FIN is delivered (after a gap up to it, if bytes before it are missing). Used
    /// when the connection closes, idles out, is evicted or the capture ends.
    pub fn flush<F: FnMut(Delivery<'_>)>(&mut self, stats: &mut ReassemblyStats, sink: &mut F) {
        if self.disabled || self.fin_delivered {
            return;
        }
        self.skip_holes(stats, sink);
        if let Some(f) = self.fin_seq {
            self.skip_to(f, GapCause::Flush, stats, sink);
        }
        self.try_fin(sink);
    }

    /// Frees the buffer by declaring its holes lost and delivering everything buffered (and
    /// the FIN, if it becomes deliverable); the stream continues afterwards. Used to respect
    /// a global memory cap.
    pub fn skip_holes<F: FnMut(Delivery<'_>)>(
        &mut self,
        stats: &mut ReassemblyStats,
        sink: &mut F,
    ) {
        if let Some(end) = self.buf.back().map(Piece::end) {
            self.skip_to(end, GapCause::Flush, stats, sink);
        }
        self.try_fin(sink);
    }

    /// Stops reassembling: frees the buffer (its bytes are counted as skipped) and from now
    /// on only counts payload and tracks FIN.
    pub fn disable(&mut self, stats: &mut ReassemblyStats) {
        if self.disabled {
            return;
        }
        self.disabled = true;
        stats.skipped_bytes += self.buffered as u64;
        self.buf = VecDeque::new();
        self.buffered = 0;
    }

    /// Handles payload `[start, start + len)` given the next expected byte `next`.
    fn data<F: FnMut(Delivery<'_>)>(
        &mut self,
        next: SeqNum,
        start: SeqNum,
        payload: &[u8],
        stats: &mut ReassemblyStats,
        sink: &mut F,
    ) {
        let len = payload.len() as u32;
        let end = start.add(len);
        if end.diff(next) <= 0 {
            stats.retransmitted_segments += 1;
            stats.retransmitted_bytes += u64::from(len);
            return;
        }
        let rel_start = start.diff(next);
        if rel_start > MAX_WINDOW as i32 {
            stats.out_of_window_segments += 1;
            return;
        }
        // Trim the already delivered prefix.
        let (start, mut payload) = if rel_start < 0 {
            let skip = rel_start.unsigned_abs() as usize;
            stats.retransmitted_bytes += skip as u64;
            (next, payload.get(skip..).unwrap_or_default())
        } else {
            (start, payload)
        };
        // Trim anything beyond a known FIN.
        if let Some(f) = self.fin_seq {
            let room = f.diff(start);
            if room <= 0 {
                stats.out_of_window_segments += 1;
                return;
            }
            if (room as usize) < payload.len() {
                stats.out_of_window_segments += 1;
                payload = payload.get(..room as usize).unwrap_or_default();
            }
        }
        if payload.is_empty() {
            return;
        }
        let end = start.add(payload.len() as u32);

        // Fast path: exactly the next bytes, not overlapping anything buffered.
        if start == next && self.buf.front().is_none_or(|p| p.seq.diff(end) >= 0) {
            sink(Delivery::Data(payload));
            stats.bytes_delivered += payload.len() as u64;
            self.next = Some(end);
            if !self.buf.is_empty() {
                self.drain(stats, sink);
            }
            return;
        }

        self.insert(start, payload, stats, sink);
        self.drain(stats, sink);
        self.enforce_caps(stats, sink);
    }

    /// Merges `[cur, cur + rest.len())` (starting at or after `next`) with the buffer, first
    /// copy wins. A piece starting exactly at `next` is delivered directly.
    fn insert<F: FnMut(Delivery<'_>)>(
        &mut self,
        mut cur: SeqNum,
        mut rest: &[u8],
        stats: &mut ReassemblyStats,
        sink: &mut F,
    ) {
        let mut counted_ooo = false;
        let mut i = self.buf.partition_point(|p| p.end().diff(cur) <= 0);
        while !rest.is_empty() {
            let covering = match self.buf.get(i) {
                Some(p) if p.seq.diff(cur) <= 0 => Some(p),
                _ => None,
            };
            if let Some(p) = covering {
                // Overlap with a buffered piece: the buffered copy wins.
                let off = cur.diff(p.seq) as usize;
                let theirs = p.data.get(off..).unwrap_or_default();
                let n = theirs.len().min(rest.len());
                let (ours, tail) = rest.split_at(n);
                if theirs.get(..n) != Some(ours) {
                    stats.overlap_conflicts += 1;
                }
                stats.overlap_bytes += n as u64;
                cur = cur.add(n as u32);
                rest = tail;
                i += 1;
                if n == 0 {
                    // Cannot happen (buffered pieces are non-empty); never loop forever.
                    break;
                }
                continue;
            }
            // A hole up to the next buffered piece (or the end): the new bytes fill it.
            let n = match self.buf.get(i) {
                Some(p) => (p.seq.diff(cur).max(0) as usize).min(rest.len()),
                None => rest.len(),
            };
            if n == 0 {
                break;
            }
            let (piece, tail) = rest.split_at(n);
            if Some(cur) == self.next {
                sink(Delivery::Data(piece));
                stats.bytes_delivered += n as u64;
                self.next = Some(cur.add(n as u32));
            } else {
                if !counted_ooo {
                    stats.ooo_segments += 1;
                    counted_ooo = true;
                }
                self.buf.insert(
                    i,
                    Piece {
                        seq: cur,
                        data: piece.to_vec(),
                    },
                );
                self.buffered += n;
                i += 1;
            }
            cur = cur.add(n as u32);
            rest = tail;
        }
    }

    /// Delivers buffered pieces that start at (or before) the next expected byte.
    fn drain<F: FnMut(Delivery<'_>)>(&mut self, stats: &mut ReassemblyStats, sink: &mut F) {
        let Some(mut next) = self.next else { return };
        while self.buf.front().is_some_and(|p| p.seq.diff(next) <= 0) {
            let Some(p) = self.buf.pop_front() else { break };
            self.buffered = self.buffered.saturating_sub(p.data.len());
            let skip = next.diff(p.seq).max(0) as usize;
            let d = p.data.get(skip..).unwrap_or_default();
            stats.retransmitted_bytes += skip.min(p.data.len()) as u64;
            if !d.is_empty() {
                sink(Delivery::Data(d));
                stats.bytes_delivered += d.len() as u64;
                next = next.add(d.len() as u32);
            }
        }
        self.next = Some(next);
    }

    /// Declares holes before `target` lost, delivering buffered data on the way (and
    /// anything contiguous after it).
    fn skip_to<F: FnMut(Delivery<'_>)>(
        &mut self,
        target: SeqNum,
        cause: GapCause,
        stats: &mut ReassemblyStats,
        sink: &mut F,
    ) {
        while let Some(next) = self.next {
            if next.diff(target) >= 0 {
                break;
            }
            let hole_end = match self.buf.front() {
                Some(p) if p.seq.diff(next) <= 0 => {
                    self.drain(stats, sink);
                    continue;
                }
                Some(p) if p.seq.diff(target) < 0 => p.seq,
                _ => target,
            };
            let len = hole_end.diff(next).max(0) as u64;
            self.gap(len, cause, stats, sink);
            self.next = Some(hole_end);
            self.drain(stats, sink);
        }
    }

    fn gap<F: FnMut(Delivery<'_>)>(
        &mut self,
        len: u64,
        cause: GapCause,
        stats: &mut ReassemblyStats,
        sink: &mut F,
    ) {
        sink(Delivery::Gap(len));
        stats.gaps += 1;
        stats.gap_bytes += len;
        match cause {
            GapCause::Ack => stats.ack_gaps += 1,
            GapCause::Overflow => stats.buffer_overflow_drops += 1,
            GapCause::Flush => stats.flush_gaps += 1,
        }
    }

    /// While over a cap, skips the first hole.
    fn enforce_caps<F: FnMut(Delivery<'_>)>(&mut self, stats: &mut ReassemblyStats, sink: &mut F) {
        while self.buffered > self.max_bytes || self.buf.len() > self.max_segments {
            let (Some(next), Some(first)) = (self.next, self.buf.front().map(|p| p.seq)) else {
                break;
            };
            let len = first.diff(next).max(0) as u64;
            self.gap(len, GapCause::Overflow, stats, sink);
            self.next = Some(first);
            self.drain(stats, sink);
        }
    }

    /// A FIN was just recorded at `f`: buffered bytes at or beyond it are bogus.
    fn drop_beyond_fin(&mut self, f: SeqNum, stats: &mut ReassemblyStats) {
        while let Some(last) = self.buf.back_mut() {
            if last.seq.diff(f) >= 0 {
                self.buffered = self.buffered.saturating_sub(last.data.len());
                self.buf.pop_back();
                stats.out_of_window_segments += 1;
            } else {
                if last.end().diff(f) > 0 {
                    let keep = f.diff(last.seq).max(0) as usize;
                    self.buffered = self
                        .buffered
                        .saturating_sub(last.data.len() - keep.min(last.data.len()));
                    last.data.truncate(keep);
                    stats.out_of_window_segments += 1;
                }
                break;
            }
        }
    }

    fn try_fin<F: FnMut(Delivery<'_>)>(&mut self, sink: &mut F) {
        if self.fin_delivered {
            return;
        }
        if let (Some(f), Some(n)) = (self.fin_seq, self.next) {
            if n.diff(f) >= 0 {
                self.fin_delivered = true;
                self.buf.clear();
                self.buffered = 0;
                sink(Delivery::Fin);
            }
        }
    }
}

#[cfg(test)]
mod tests;
