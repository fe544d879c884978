use super::*;
use proptest::prelude::*;

/// What the sink saw, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Ev {
    Data(Vec<u8>),
    Gap(u64),
    Fin,
}

#[derive(Default)]
struct Rec {
    evs: Vec<Ev>,
}

impl Rec {
    fn sink(&mut self) -> impl FnMut(Delivery<'_>) + '_ {
        |d| {
            let e = match d {
                Delivery::Data(b) => Ev::Data(b.to_vec()),
                Delivery::Gap(n) => Ev::Gap(n),
                Delivery::Fin => Ev::Fin,
            };
            // Merge adjacent data so assertions do not depend on segmentation.
            if let (Ev::Data(new), Some(Ev::Data(prev))) = (&e, self.evs.last_mut()) {
                prev.extend_from_slice(new);
                return;
            }
            self.evs.push(e);
        }
    }
}

const SYN: TcpFlags = TcpFlags(TcpFlags::SYN);
const NONE: TcpFlags = TcpFlags(TcpFlags::ACK);
const FIN: TcpFlags = TcpFlags(TcpFlags::FIN | TcpFlags::ACK);

struct H {
    s: StreamReassembler,
    st: ReassemblyStats,
    rec: Rec,
}

impl H {
    fn new(cfg: ReassemblyConfig) -> H {
        H {
            s: StreamReassembler::new(cfg),
            st: ReassemblyStats::default(),
            rec: Rec::default(),
        }
    }
    fn seg(&mut self, seq: u32, flags: TcpFlags, data: &[u8]) {
        self.s
            .segment(SeqNum(seq), flags, data, &mut self.st, &mut self.rec.sink());
    }
    fn ack(&mut self, ack: u32) {
        self.s
            .peer_ack(SeqNum(ack), &mut self.st, &mut self.rec.sink());
    }
    fn flush(&mut self) {
        self.s.flush(&mut self.st, &mut self.rec.sink());
    }
    fn take(&mut self) -> Vec<Ev> {
        std::mem::take(&mut self.rec.evs)
    }
}

fn d(s: &str) -> Ev {
    Ev::Data(s.as_bytes().to_vec())
}

#[test]
fn seqnum_wraps() {
    assert_eq!(SeqNum(u32::MAX).add(2), SeqNum(1));
    assert_eq!(SeqNum(1).diff(SeqNum(u32::MAX)), 2);
    assert!(SeqNum(1) > SeqNum(u32::MAX));
}

#[test]
fn syn_then_in_order_then_fin() {
    let mut h = H::new(ReassemblyConfig::default());
    h.seg(100, SYN, b"");
    assert_eq!(h.s.isn(), Some(SeqNum(100)));
    h.seg(101, NONE, b"hello ");
    h.seg(107, NONE, b"world");
    h.seg(112, FIN, b"");
    assert_eq!(h.take(), vec![d("hello world"), Ev::Fin]);
    assert!(h.s.fin_delivered());
    assert_eq!(h.st.bytes_delivered, 11);
    assert_eq!(h.st.segments, 4);
    // A retransmitted FIN changes nothing.
    h.seg(112, FIN, b"");
    assert_eq!(h.take(), vec![]);
}

#[test]
fn tfo_data_in_syn_starts_after_syn() {
    let mut h = H::new(ReassemblyConfig::default());
    h.seg(1000, SYN, b"GET");
    h.seg(1004, NONE, b" /");
    assert_eq!(h.take(), vec![d("GET /")]);
    // The data retransmitted after the handshake is old.
    h.seg(1001, NONE, b"GET");
    assert_eq!(h.take(), vec![]);
    assert_eq!(h.st.retransmitted_bytes, 3);
    assert_eq!(h.st.retransmitted_segments, 1);
}

#[test]
fn midstream_starts_at_first_data() {
    let mut h = H::new(ReassemblyConfig::default());
    h.seg(5000, NONE, b"abc");
    h.seg(5003, NONE, b"def");
    assert_eq!(h.take(), vec![d("abcdef")]);
    assert_eq!(h.s.isn(), None);
    // Earlier bytes showing up later are old.
    h.seg(4990, NONE, b"0123456789");
    assert_eq!(h.take(), vec![]);
    assert_eq!(h.st.retransmitted_bytes, 10);
}

#[test]
fn out_of_order_is_buffered_then_delivered() {
    let mut h = H::new(ReassemblyConfig::default());
    h.seg(0, SYN, b"");
    h.seg(7, NONE, b"ghi");
    h.seg(4, NONE, b"def");
    assert_eq!(h.take(), vec![]);
    assert_eq!(h.s.buffered_bytes(), 6);
    assert_eq!(h.s.buffered_segments(), 2);
    h.seg(1, NONE, b"abc");
    assert_eq!(h.take(), vec![d("abcdefghi")]);
    assert_eq!(h.s.buffered_bytes(), 0);
    assert_eq!(h.st.ooo_segments, 2);
    assert_eq!(h.st.bytes_delivered, 9);
}

#[test]
fn partial_retransmission_is_trimmed() {
    let mut h = H::new(ReassemblyConfig::default());
    h.seg(0, SYN, b"");
    h.seg(1, NONE, b"abcd");
    h.seg(3, NONE, b"cdef");
    assert_eq!(h.take(), vec![d("abcdef")]);
    assert_eq!(h.st.retransmitted_bytes, 2);
    assert_eq!(h.st.retransmitted_segments, 0);
}

#[test]
fn overlap_first_seen_wins_and_conflicts_are_counted() {
    let mut h = H::new(ReassemblyConfig::default());
    h.seg(0, SYN, b"");
    h.seg(5, NONE, b"EFG"); // buffered [5,8)
                            // Same bytes again: overlap, no conflict.
    h.seg(5, NONE, b"EFG");
    assert_eq!(h.st.overlap_bytes, 3);
    assert_eq!(h.st.overlap_conflicts, 0);
    // Conflicting copy covering [3,10): the buffered "EFG" wins; [3,5) and [8,10) are new.
    h.seg(3, NONE, b"cdxyzhi");
    assert_eq!(h.st.overlap_bytes, 6);
    assert_eq!(h.st.overlap_conflicts, 1);
    assert_eq!(h.take(), vec![]);
    h.seg(1, NONE, b"ab");
    assert_eq!(h.take(), vec![d("abcdEFGhi")]);
}

#[test]
fn in_order_segment_spanning_buffered_piece_keeps_buffered_copy() {
    let mut h = H::new(ReassemblyConfig::default());
    h.seg(0, SYN, b"");
    h.seg(3, NONE, b"XY"); // buffered [3,5)
    h.seg(1, NONE, b"abcdef"); // [1,7): "cd" overlaps the buffered "XY"
    assert_eq!(h.take(), vec![d("abXYef")]);
    assert_eq!(h.st.overlap_conflicts, 1);
    assert_eq!(h.st.bytes_delivered, 6);
}

#[test]
fn peer_ack_beyond_hole_declares_gap() {
    let mut h = H::new(ReassemblyConfig::default());
    h.seg(0, SYN, b"");
    h.seg(1, NONE, b"abc");
    h.seg(10, NONE, b"jk"); // hole [4,10)
    assert_eq!(h.take(), vec![d("abc")]);
    h.ack(4); // not beyond the hole
    h.ack(0); // old
    assert_eq!(h.take(), vec![]);
    h.ack(12);
    assert_eq!(h.take(), vec![Ev::Gap(6), d("jk")]);
    assert_eq!(h.st.ack_gaps, 1);
    assert_eq!(h.st.gap_bytes, 6);
    // Ack beyond everything with an empty buffer: the missing tail is a gap too.
    h.ack(20);
    assert_eq!(h.take(), vec![Ev::Gap(8)]);
    // The lost bytes showing up afterwards are old.
    h.seg(12, NONE, b"lmn");
    assert_eq!(h.take(), vec![]);
    assert_eq!(h.st.retransmitted_bytes, 3);
}

#[test]
fn peer_ack_of_fin_stops_at_fin() {
    let mut h = H::new(ReassemblyConfig::default());
    h.seg(0, SYN, b"");
    h.seg(1, NONE, b"a");
    h.seg(5, FIN, b"e"); // hole [2,5), FIN at 6
    assert_eq!(h.take(), vec![d("a")]);
    h.ack(7); // acks the FIN
    assert_eq!(h.take(), vec![Ev::Gap(3), d("e"), Ev::Fin]);
}

#[test]
fn absurd_ack_is_ignored() {
    let mut h = H::new(ReassemblyConfig::default());
    h.seg(0, SYN, b"");
    h.seg(1, NONE, b"a");
    h.ack(2 + MAX_WINDOW + 5);
    assert_eq!(h.take(), vec![d("a")]);
    assert_eq!(h.st.gaps, 0);
}

#[test]
fn buffer_byte_cap_skips_first_hole() {
    let mut h = H::new(ReassemblyConfig {
        max_buffer_bytes: 4,
        max_buffer_segments: 100,
    });
    h.seg(0, SYN, b"");
    h.seg(1, NONE, b"a");
    h.seg(4, NONE, b"de"); // hole [2,4); 2 buffered
    h.seg(8, NONE, b"hi"); // hole [6,8); 4 buffered: at the cap, fine
    assert_eq!(h.take(), vec![d("a")]);
    h.seg(11, NONE, b"k"); // 5 > 4: skip the first hole only
    assert_eq!(h.take(), vec![Ev::Gap(2), d("de")]);
    assert_eq!(h.s.buffered_bytes(), 3);
    assert_eq!(h.st.buffer_overflow_drops, 1);
    h.seg(6, NONE, b"fg");
    h.seg(10, NONE, b"j");
    assert_eq!(h.take(), vec![d("fghijk")]);
}

#[test]
fn buffer_segment_cap_skips_first_hole() {
    let mut h = H::new(ReassemblyConfig {
        max_buffer_bytes: 1000,
        max_buffer_segments: 2,
    });
    h.seg(0, SYN, b"");
    h.seg(3, NONE, b"c");
    h.seg(5, NONE, b"e");
    assert_eq!(h.take(), vec![]);
    h.seg(7, NONE, b"g");
    assert_eq!(h.take(), vec![Ev::Gap(2), d("c")]);
    assert_eq!(h.s.buffered_segments(), 2);
}

#[test]
fn oversized_segment_is_delivered_via_overflow_not_lost() {
    let mut h = H::new(ReassemblyConfig {
        max_buffer_bytes: 4,
        max_buffer_segments: 100,
    });
    h.seg(0, SYN, b"");
    h.seg(3, NONE, b"cdefghij");
    assert_eq!(h.take(), vec![Ev::Gap(2), d("cdefghij")]);
}

#[test]
fn flush_declares_holes_and_delivers_fin() {
    let mut h = H::new(ReassemblyConfig::default());
    h.seg(0, SYN, b"");
    h.seg(4, NONE, b"d");
    h.seg(7, NONE, b"g");
    h.seg(10, FIN, b""); // FIN at 10; holes [1,4), [5,7), [8,10)
    assert_eq!(h.take(), vec![]);
    assert!(h.s.fin_seen());
    assert!(!h.s.fin_delivered());
    h.flush();
    assert_eq!(
        h.take(),
        vec![Ev::Gap(3), d("d"), Ev::Gap(2), d("g"), Ev::Gap(2), Ev::Fin]
    );
    assert_eq!(h.st.flush_gaps, 3);
    assert_eq!(h.st.gap_bytes, 7);
}

#[test]
fn data_beyond_fin_is_dropped() {
    let mut h = H::new(ReassemblyConfig::default());
    h.seg(0, SYN, b"");
    h.seg(6, NONE, b"fgh"); // buffered [6,9)
    h.seg(4, FIN, b"d"); // FIN at 5: [6,9) is bogus, "d" stays buffered
    assert_eq!(h.s.buffered_bytes(), 1);
    h.seg(1, NONE, b"abc");
    assert_eq!(h.take(), vec![d("abcd"), Ev::Fin]);
    assert_eq!(h.st.out_of_window_segments, 1);
    h.seg(5, NONE, b"zz");
    assert_eq!(h.st.out_of_window_segments, 2);
    assert_eq!(h.take(), vec![]);
}

#[test]
fn far_ahead_segment_is_out_of_window() {
    let mut h = H::new(ReassemblyConfig::default());
    h.seg(0, SYN, b"");
    h.seg(1 + MAX_WINDOW + 1, NONE, b"x");
    assert_eq!(h.st.out_of_window_segments, 1);
    assert_eq!(h.s.buffered_bytes(), 0);
}

#[test]
fn disable_drops_buffer_and_tracks_fin() {
    let mut h = H::new(ReassemblyConfig::default());
    h.seg(0, SYN, b"");
    h.seg(5, NONE, b"efg");
    h.s.disable(&mut h.st);
    assert_eq!(h.st.skipped_bytes, 3);
    assert_eq!(h.s.buffered_bytes(), 0);
    h.seg(1, NONE, b"abcd");
    h.seg(8, FIN, b"h");
    assert_eq!(h.take(), vec![]);
    assert_eq!(h.st.skipped_bytes, 8);
    assert!(h.s.is_finished());
    assert!(!h.s.fin_delivered());
}

#[test]
fn wraparound_in_order_and_out_of_order() {
    let mut h = H::new(ReassemblyConfig::default());
    let isn = u32::MAX - 2;
    h.seg(isn, SYN, b""); // data starts at MAX-1
    h.seg(1, NONE, b"de"); // after wrap: MAX-1, MAX, 0 = "abc", then 1 = "d"
    h.seg(u32::MAX - 1, NONE, b"abc");
    h.seg(3, FIN, b"");
    assert_eq!(h.take(), vec![d("abcde"), Ev::Fin]);
}

#[test]
fn stats_merge_adds_every_field() {
    let a = ReassemblyStats {
        segments: 1,
        bytes_delivered: 2,
        retransmitted_segments: 3,
        retransmitted_bytes: 4,
        ooo_segments: 5,
        overlap_bytes: 6,
        overlap_conflicts: 7,
        gaps: 8,
        gap_bytes: 9,
        ack_gaps: 10,
        buffer_overflow_drops: 11,
        flush_gaps: 12,
        out_of_window_segments: 13,
        skipped_bytes: 14,
    };
    let mut b = a;
    b += &a;
    assert_eq!(
        b,
        ReassemblyStats {
            segments: 2,
            bytes_delivered: 4,
            retransmitted_segments: 6,
            retransmitted_bytes: 8,
            ooo_segments: 10,
            overlap_bytes: 12,
            overlap_conflicts: 14,
            gaps: 16,
            gap_bytes: 18,
            ack_gaps: 20,
            buffer_overflow_drops: 22,
            flush_gaps: 24,
            out_of_window_segments: 26,
            skipped_bytes: 28,
        }
    );
}

// ---------------------------------------------------------------------------------------
// Property tests.

/// Replays deliveries into "what is known at each stream offset": `Some(byte)` for data,
/// `None` for bytes declared lost.
fn replay(evs: &[Ev]) -> (Vec<Option<u8>>, u64, bool) {
    let mut out = Vec::new();
    let mut gap_sum = 0;
    let mut fin = false;
    for e in evs {
        assert!(!fin, "nothing may follow FIN: {evs:?}");
        match e {
            Ev::Data(b) => out.extend(b.iter().map(|&x| Some(x))),
            Ev::Gap(n) => {
                gap_sum += n;
                out.extend(std::iter::repeat_n(None, *n as usize));
            }
            Ev::Fin => fin = true,
        }
    }
    (out, gap_sum, fin)
}

/// A stream, a segmentation of it (cut points) and randomness for the rest.
/// (ISN, stream bytes, segment lengths, extra (start, len) ranges, shuffle seed).
type Case = (u32, Vec<u8>, Vec<usize>, Vec<(usize, usize)>, u64);

fn stream_case() -> impl Strategy<Value = Case> {
    (
        0u32..20_000,
        proptest::collection::vec(any::<u8>(), 1..3000),
        proptest::collection::vec(1usize..400, 1..40),
        proptest::collection::vec((any::<usize>(), 1usize..300), 0..20),
        any::<u64>(),
    )
        .prop_map(|(below_wrap, data, cuts, extras, seed)| {
            // ISN at or just below 2^32 so the stream wraps.
            (u32::MAX - below_wrap, data, cuts, extras, seed)
        })
}

/// Splits `0..len` at the cumulative sums of `cuts`.
fn segments(len: usize, cuts: &[usize]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut pos = 0;
    let mut i = 0;
    while pos < len {
        let n = cuts
            .get(i % cuts.len())
            .copied()
            .unwrap_or(1)
            .min(len - pos);
        out.push((pos, pos + n));
        pos += n;
        i += 1;
    }
    out
}

/// Deterministic Fisher-Yates shuffle from a seed (xorshift).
fn shuffle<T>(v: &mut [T], mut seed: u64) {
    seed |= 1;
    for i in (1..v.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let j = (seed % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
}

/// Feeds SYN, then `ranges` (stream offsets) in the given order, then FIN, then flushes.
fn run(
    isn: u32,
    data: &[u8],
    ranges: &[(usize, usize)],
    cfg: ReassemblyConfig,
) -> (Vec<Ev>, ReassemblyStats) {
    let mut h = H::new(cfg);
    h.seg(isn, SYN, b"");
    let base = isn.wrapping_add(1);
    for &(a, b) in ranges {
        h.seg(base.wrapping_add(a as u32), NONE, &data[a..b]);
    }
    h.seg(base.wrapping_add(data.len() as u32), FIN, b"");
    h.flush();
    (h.take(), h.st)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any permutation, with duplicates and overlapping re-segmentations, near the 2^32 wrap:
    /// exactly the original bytes, in order, then FIN.
    #[test]
    fn permutation_delivers_exact_stream((isn, data, cuts, extras, seed) in stream_case()) {
        let len = data.len();
        let mut ranges = segments(len, &cuts);
        // Duplicates of some segments.
        let dups: Vec<_> = ranges.iter().step_by(3).copied().collect();
        ranges.extend(dups);
        // Overlapping re-segmentations: random sub-ranges.
        for &(start, n) in &extras {
            let a = start % len;
            let b = (a + n).min(len);
            ranges.push((a, b));
        }
        shuffle(&mut ranges, seed);
        let cfg = ReassemblyConfig { max_buffer_bytes: 1 << 20, max_buffer_segments: 1 << 16 };
        let (evs, st) = run(isn, &data, &ranges, cfg);
        prop_assert_eq!(evs, vec![Ev::Data(data.clone()), Ev::Fin]);
        prop_assert_eq!(st.bytes_delivered, len as u64);
        prop_assert_eq!(st.gaps, 0);
        prop_assert_eq!(st.overlap_conflicts, 0);
    }

    /// With some segments removed: the original bytes plus gaps exactly where bytes are
    /// missing, gap lengths summing to the removed bytes.
    #[test]
    fn removed_segments_become_exact_gaps(
        (isn, data, cuts, extras, seed) in stream_case(),
        remove_mask in any::<u64>(),
    ) {
        let len = data.len();
        let base = segments(len, &cuts);
        let mut missing = vec![false; len];
        let mut ranges = Vec::new();
        for (i, &(a, b)) in base.iter().enumerate() {
            // Remove roughly a quarter of the segments (deterministic from the mask).
            if (remove_mask >> (i % 64)) & 1 == 1 && (remove_mask >> ((i + 7) % 64)) & 1 == 1 {
                missing[a..b].iter_mut().for_each(|m| *m = true);
            } else {
                ranges.push((a, b));
                if i % 4 == 0 {
                    ranges.push((a, b));
                }
            }
        }
        // Overlapping re-segmentations that do not resurrect removed bytes.
        for &(start, n) in &extras {
            let a = start % len;
            let b = (a + n).min(len);
            if !missing[a..b].iter().any(|&m| m) {
                ranges.push((a, b));
            }
        }
        shuffle(&mut ranges, seed);
        let cfg = ReassemblyConfig { max_buffer_bytes: 1 << 20, max_buffer_segments: 1 << 16 };
        let (evs, st) = run(isn, &data, &ranges, cfg);
        let (known, gap_sum, fin) = replay(&evs);
        let expected: Vec<Option<u8>> =
            data.iter().zip(&missing).map(|(&b, &m)| if m { None } else { Some(b) }).collect();
        let removed = missing.iter().filter(|&&m| m).count() as u64;
        prop_assert!(fin);
        prop_assert_eq!(known, expected);
        prop_assert_eq!(gap_sum, removed);
        prop_assert_eq!(st.gap_bytes, removed);
        prop_assert_eq!(st.bytes_delivered, len as u64 - removed);
    }

    /// Tiny caps and random peer acks: whatever is delivered sits at the right offset, the
    /// whole stream is accounted for (data + gaps = length), FIN comes last.
    #[test]
    fn small_caps_and_acks_never_misplace_bytes(
        (isn, data, cuts, extras, seed) in stream_case(),
        max_bytes in 0usize..600,
        max_segs in 0usize..6,
        acks in proptest::collection::vec((any::<usize>(), any::<usize>()), 0..10),
    ) {
        let len = data.len();
        let mut ranges = segments(len, &cuts);
        for &(start, n) in &extras {
            let a = start % len;
            ranges.push((a, (a + n).min(len)));
        }
        shuffle(&mut ranges, seed);
        let mut h = H::new(ReassemblyConfig { max_buffer_bytes: max_bytes, max_buffer_segments: max_segs });
        h.seg(isn, SYN, b"");
        let base = isn.wrapping_add(1);
        for (i, &(a, b)) in ranges.iter().enumerate() {
            h.seg(base.wrapping_add(a as u32), NONE, &data[a..b]);
            prop_assert!(h.s.buffered_segments() <= max_segs);
            for &(when, at) in &acks {
                if when % ranges.len() == i {
                    h.ack(base.wrapping_add((at % (len + 1)) as u32));
                }
            }
        }
        h.seg(base.wrapping_add(len as u32), FIN, b"");
        h.flush();
        let evs = h.take();
        let (known, gap_sum, fin) = replay(&evs);
        prop_assert!(fin);
        prop_assert_eq!(known.len(), len);
        for (i, k) in known.iter().enumerate() {
            if let Some(b) = k {
                prop_assert_eq!(*b, data[i]);
            }
        }
        prop_assert_eq!(h.st.gap_bytes, gap_sum);
        prop_assert_eq!(h.st.bytes_delivered + gap_sum, len as u64);
    }
}
