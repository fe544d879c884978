//! Throughput of flow tracking + reassembly alone (no decode, trivial handler). Ignored by
//! default; run in release: `cargo test --release -p apitap-engine --test flow_perf -- --ignored
//! --nocapture`.

use apitap_engine::decode::SeqNum;
use apitap_engine::decode::{TcpFlags, TcpSegment};
use apitap_engine::flow::{CloseReason, ConnHandler, ConnInfo, Dir, FlowConfig, FlowTable};
use apitap_engine::Timestamp;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Instant;

struct Sum(u64);

impl ConnHandler for Sum {
    type Event = u64;
    fn on_data(&mut self, _: &ConnInfo, _: Dir, _: Timestamp, data: &[u8], _: &mut Vec<u64>) {
        self.0 += data.len() as u64;
    }
    fn on_gap(&mut self, _: &ConnInfo, _: Dir, _: Timestamp, _: u64, _: &mut Vec<u64>) {}
    fn on_fin(&mut self, _: &ConnInfo, _: Dir, _: Timestamp, _: &mut Vec<u64>) {}
    fn on_close(&mut self, _: &ConnInfo, _: Timestamp, _: CloseReason, out: &mut Vec<u64>) {
        out.push(self.0);
    }
}

#[test]
#[ignore = "benchmark; run in release"]
fn flow_table_throughput() {
    const CONNS: u32 = 20_000;
    const ROUNDS: u32 = 20;
    const MSS: u32 = 1400;
    let payload = vec![b'x'; MSS as usize];
    let mut segs: Vec<TcpSegment<'_>> = Vec::new();
    let host =
        |i: u32, port: u16| SocketAddr::new(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | i)), port);
    let seg = |src, dst, seq: u32, ack: u32, flags: u8, p| TcpSegment {
        src,
        dst,
        seq: SeqNum(seq),
        ack: TcpFlags(flags).has(TcpFlags::ACK).then_some(SeqNum(ack)),
        flags: TcpFlags(flags),
        payload: p,
    };
    let (a, s, f) = (TcpFlags::ACK, TcpFlags::SYN, TcpFlags::FIN | TcpFlags::ACK);
    // Round-robin over connections so the table holds CONNS flows at once.
    let empty: &[u8] = &[];
    for phase in 0..(3 + 2 * ROUNDS + 2) {
        for i in 0..CONNS {
            let c = host(i, 40_000 + (i % 20_000) as u16);
            let v = host(1_000_000 + i % 16, 80);
            let (ci, si) = (i.wrapping_mul(2_654_435_761), i.wrapping_mul(40_503));
            let cseq = |k: u32| ci.wrapping_add(1).wrapping_add(k * MSS);
            let sseq = |k: u32| si.wrapping_add(1).wrapping_add(k * MSS);
            let sg = match phase {
                0 => seg(c, v, ci, 0, s, empty),
                1 => seg(v, c, si, ci.wrapping_add(1), s | a, empty),
                2 => seg(c, v, ci.wrapping_add(1), si.wrapping_add(1), a, empty),
                p if p < 3 + 2 * ROUNDS => {
                    let k = (p - 3) / 2;
                    if (p - 3) % 2 == 0 {
                        seg(c, v, cseq(k), sseq(k), a, &payload[..])
                    } else {
                        seg(v, c, sseq(k), cseq(k + 1), a, &payload[..])
                    }
                }
                p if p == 3 + 2 * ROUNDS => seg(c, v, cseq(ROUNDS), sseq(ROUNDS), f, empty),
                _ => seg(v, c, sseq(ROUNDS), cseq(ROUNDS).wrapping_add(1), f, empty),
            };
            segs.push(sg);
        }
    }
    let mut table = FlowTable::new(FlowConfig::default(), Box::new(|_: &ConnInfo| Sum(0)));
    let mut out = Vec::with_capacity(CONNS as usize);
    let start = Instant::now();
    for (n, sg) in segs.iter().enumerate() {
        table.process(Timestamp::from_nanos(1_000, n as i64), sg, &mut out);
    }
    let el = start.elapsed();
    let pps = segs.len() as f64 / el.as_secs_f64();
    println!(
        "{} packets, {} flows, {:?}: {:.2} M packets/s",
        segs.len(),
        CONNS,
        el,
        pps / 1e6
    );
    let st = table.stats();
    assert_eq!(st.closed.fin, u64::from(CONNS));
    assert_eq!(out.len(), CONNS as usize);
    assert!(out.iter().all(|&b| b == u64::from(2 * ROUNDS * MSS)));
}
