//! Property tests of the flow table with both directions: any interleaving of two
//! independently permuted (duplicated, re-segmented) byte streams, near the 2^32 sequence
//! wrap, reaches the handler as exactly the two original streams, then both FINs, then one
//! close.

use apitap_engine::decode::SeqNum;
use apitap_engine::decode::{TcpFlags, TcpSegment};
use apitap_engine::flow::{CloseReason, ConnHandler, ConnInfo, Dir, FlowConfig, FlowTable};
use apitap_engine::Timestamp;
use proptest::prelude::*;
use std::net::SocketAddr;

#[derive(Debug, PartialEq, Eq)]
enum Ev {
    Data(Dir, Vec<u8>),
    Gap(Dir, u64),
    Fin(Dir),
    Close(CloseReason),
}

struct Rec;

impl ConnHandler for Rec {
    type Event = Ev;
    fn on_data(&mut self, _: &ConnInfo, dir: Dir, _: Timestamp, data: &[u8], out: &mut Vec<Ev>) {
        out.push(Ev::Data(dir, data.to_vec()));
    }
    fn on_gap(&mut self, _: &ConnInfo, dir: Dir, _: Timestamp, len: u64, out: &mut Vec<Ev>) {
        out.push(Ev::Gap(dir, len));
    }
    fn on_fin(&mut self, _: &ConnInfo, dir: Dir, _: Timestamp, out: &mut Vec<Ev>) {
        out.push(Ev::Fin(dir));
    }
    fn on_close(&mut self, _: &ConnInfo, _: Timestamp, reason: CloseReason, out: &mut Vec<Ev>) {
        out.push(Ev::Close(reason));
    }
}

/// Segments (offset ranges) of one direction: a segmentation, some duplicates and random
/// overlapping re-segmentations, shuffled.
fn ranges(len: usize, cuts: &[usize], extras: &[(usize, usize)], seed: u64) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut pos = 0;
    let mut i = 0;
    while pos < len {
        let n = cuts[i % cuts.len()].min(len - pos);
        out.push((pos, pos + n));
        if i % 3 == 0 {
            out.push((pos, pos + n));
        }
        pos += n;
        i += 1;
    }
    for &(s, n) in extras {
        let a = s % len;
        out.push((a, (a + n).min(len)));
    }
    let mut x = seed | 1;
    for i in (1..out.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.swap(i, (x % (i as u64 + 1)) as usize);
    }
    out
}

/// (ISN distance below 2^32, bytes, segment lengths, extra (start, len) ranges, shuffle seed).
type DirCase = (u32, Vec<u8>, Vec<usize>, Vec<(usize, usize)>, u64);

fn dir_strategy() -> impl Strategy<Value = DirCase> {
    (
        0u32..5000,
        proptest::collection::vec(any::<u8>(), 1..1500),
        proptest::collection::vec(1usize..300, 1..20),
        proptest::collection::vec((any::<usize>(), 1usize..200), 0..8),
        any::<u64>(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn interleaved_permuted_directions_reassemble_exactly(
        c in dir_strategy(),
        s in dir_strategy(),
        interleave in proptest::collection::vec(any::<bool>(), 0..400),
    ) {
        let cli: SocketAddr = "192.0.2.1:50000".parse().unwrap();
        let srv: SocketAddr = "192.0.2.2:8080".parse().unwrap();
        let (c_isn, s_isn) = (u32::MAX - c.0, u32::MAX - s.0);
        let mut table = FlowTable::new(FlowConfig::default(), Box::new(|_: &ConnInfo| Rec));
        let mut out = Vec::new();
        let ts = Timestamp::from_nanos(1, 0);
        let seg = |src, dst, seq: u32, ack: u32, flags: u8, payload: &'static [u8]| -> TcpSegment<'static> {
            TcpSegment { src, dst, seq: SeqNum(seq), ack: TcpFlags(flags).has(TcpFlags::ACK).then_some(SeqNum(ack)), flags: TcpFlags(flags), payload }
        };
        let (a, syn, synack) = (TcpFlags::ACK, TcpFlags::SYN, TcpFlags::SYN | TcpFlags::ACK);
        table.process(ts, &seg(cli, srv, c_isn, 0, syn, b""), &mut out);
        table.process(ts, &seg(srv, cli, s_isn, c_isn.wrapping_add(1), synack, b""), &mut out);

        let c_ranges = ranges(c.1.len(), &c.2, &c.3, c.4);
        let s_ranges = ranges(s.1.len(), &s.2, &s.3, s.4);
        let (mut ci, mut si) = (0, 0);
        let mut k = 0;
        // Acks never go beyond the peer's ISN + 1, so no gap is ever declared.
        while ci < c_ranges.len() || si < s_ranges.len() {
            let pick_c = si >= s_ranges.len()
                || (ci < c_ranges.len() && interleave.get(k).copied().unwrap_or(k % 2 == 0));
            k += 1;
            let (src, dst, isn, peer_isn, data, (x, y)) = if pick_c {
                ci += 1;
                (cli, srv, c_isn, s_isn, &c.1, c_ranges[ci - 1])
            } else {
                si += 1;
                (srv, cli, s_isn, c_isn, &s.1, s_ranges[si - 1])
            };
            let sg = TcpSegment {
                src,
                dst,
                seq: SeqNum(isn.wrapping_add(1).wrapping_add(x as u32)),
                ack: TcpFlags(a).has(TcpFlags::ACK).then_some(SeqNum(peer_isn.wrapping_add(1))),
                flags: TcpFlags(a),
                payload: &data[x..y],
            };
            table.process(ts, &sg, &mut out);
        }
        let c_end = c_isn.wrapping_add(1).wrapping_add(c.1.len() as u32);
        let s_end = s_isn.wrapping_add(1).wrapping_add(s.1.len() as u32);
        table.process(ts, &seg(cli, srv, c_end, s_end, TcpFlags::FIN | a, b""), &mut out);
        table.process(ts, &seg(srv, cli, s_end, c_end.wrapping_add(1), TcpFlags::FIN | a, b""), &mut out);

        // Split the calls per direction; check the tail.
        let mut got = [Vec::new(), Vec::new()];
        let mut tail = Vec::new();
        for e in out {
            match e {
                Ev::Data(Dir::ToResponder, d) => got[0].extend(d),
                Ev::Data(Dir::ToOriginator, d) => got[1].extend(d),
                other => tail.push(other),
            }
        }
        prop_assert_eq!(&got[0], &c.1);
        prop_assert_eq!(&got[1], &s.1);
        prop_assert_eq!(
            tail,
            vec![Ev::Fin(Dir::ToResponder), Ev::Fin(Dir::ToOriginator), Ev::Close(CloseReason::Fin)]
        );
        let st = table.stats();
        prop_assert_eq!((st.flows_created, st.closed.fin, st.active, st.buffered_bytes), (1, 1, 0, 0));
        prop_assert_eq!(table.reassembly_stats().gaps, 0);
    }
}
