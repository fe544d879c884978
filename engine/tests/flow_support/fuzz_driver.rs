//! Drives a `FlowTable` with segments decoded from arbitrary bytes and checks invariants.
//! Shared by the `reassembly` fuzz target and the `flow_fuzz` proptest (included with
//! `#[path]`), so the fuzz logic is exercised by `cargo test` too.

use apitap_engine::decode::SeqNum;
use apitap_engine::decode::{TcpFlags, TcpSegment};
use apitap_engine::flow::{CloseReason, ConnHandler, ConnInfo, Dir, FlowConfig, FlowTable};
use apitap_engine::reassembly::ReassemblyConfig;
use apitap_engine::Timestamp;
use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

/// Per-run bookkeeping shared with the handlers.
#[derive(Default)]
struct Shared {
    /// Payload bytes delivered, by (sender, receiver).
    delivered: HashMap<(SocketAddr, SocketAddr), u64>,
    created: u64,
    closed: u64,
}

struct Trivial {
    shared: Rc<RefCell<Shared>>,
    closed: bool,
    fin: [bool; 2],
    /// Stops wanting data after this many bytes (to exercise `wants_data`).
    budget: Option<u64>,
    seen: u64,
}

fn sender(c: &ConnInfo, dir: Dir) -> (SocketAddr, SocketAddr) {
    match dir {
        Dir::ToResponder => (c.orig, c.resp),
        Dir::ToOriginator => (c.resp, c.orig),
    }
}

fn di(dir: Dir) -> usize {
    match dir {
        Dir::ToResponder => 0,
        Dir::ToOriginator => 1,
    }
}

impl ConnHandler for Trivial {
    type Event = ();
    fn wants_data(&self) -> bool {
        self.budget.is_none_or(|b| self.seen < b)
    }
    fn on_data(&mut self, c: &ConnInfo, dir: Dir, _: Timestamp, data: &[u8], _: &mut Vec<()>) {
        assert!(!self.closed, "data after close");
        assert!(!self.fin[di(dir)], "data after FIN");
        assert!(!data.is_empty(), "empty data delivery");
        self.seen += data.len() as u64;
        *self
            .shared
            .borrow_mut()
            .delivered
            .entry(sender(c, dir))
            .or_default() += data.len() as u64;
    }
    fn on_gap(&mut self, _: &ConnInfo, dir: Dir, _: Timestamp, _: u64, _: &mut Vec<()>) {
        assert!(!self.closed, "gap after close");
        assert!(!self.fin[di(dir)], "gap after FIN");
    }
    fn on_fin(&mut self, _: &ConnInfo, dir: Dir, _: Timestamp, _: &mut Vec<()>) {
        assert!(!self.closed, "FIN after close");
        assert!(!self.fin[di(dir)], "FIN twice");
        self.fin[di(dir)] = true;
    }
    fn on_close(&mut self, _: &ConnInfo, _: Timestamp, _: CloseReason, _: &mut Vec<()>) {
        assert!(!self.closed, "on_close twice");
        self.closed = true;
        self.shared.borrow_mut().closed += 1;
    }
}

/// Interprets `data` as segments, 6 bytes each:
/// - byte 0: bits 0-1 endpoint pair, bit 2 direction, bits 3-7 FIN, SYN, RST, ACK, "jump
///   time 50 s" (to trigger idle expiry);
/// - bytes 1-2: sequence offset (little endian) from a per-direction base near 2^32;
/// - byte 3: payload length;
/// - byte 4: ack offset (from the other direction's base);
/// - byte 5: bit 0 corrupts the payload (conflicting overlaps), bits 1-7 time step in ms.
///
/// Panics if an invariant breaks: handler calls after close/FIN, `on_close` not exactly
/// once per connection, more bytes delivered than fed per direction, leftover state after
/// the final flush.
pub fn run(data: &[u8]) {
    let shared = Rc::new(RefCell::new(Shared::default()));
    let budget_mode = data.first().is_some_and(|b| b & 0x80 != 0);
    let s2 = shared.clone();
    let config = FlowConfig {
        max_flows: 3,
        idle_timeout: Duration::from_secs(30),
        reassembly: ReassemblyConfig {
            max_buffer_bytes: 512,
            max_buffer_segments: 6,
        },
        max_buffered_bytes: 1024,
        time_wait: Duration::from_secs(20),
    };
    let mut table = FlowTable::new(
        config,
        Box::new(move |info: &ConnInfo| {
            s2.borrow_mut().created += 1;
            Trivial {
                shared: s2.clone(),
                closed: false,
                fin: [false; 2],
                budget: budget_mode.then_some(u64::from(info.id as u8) * 8),
                seen: 0,
            }
        }),
    );
    let hosts: [SocketAddr; 5] = [
        "10.0.0.1:40000".parse().unwrap(),
        "10.0.0.2:80".parse().unwrap(),
        "10.0.0.3:51000".parse().unwrap(),
        "[2001:db8::1]:8080".parse().unwrap(),
        "[2001:db8::2]:60000".parse().unwrap(),
    ];
    let pairs = [(0, 1), (2, 1), (0, 2), (4, 3)];
    let mut fed: HashMap<(SocketAddr, SocketAddr), u64> = HashMap::new();
    let mut out = Vec::new();
    let mut now = Timestamp::from_nanos(1_000_000, 0);
    let mut payload = Vec::with_capacity(256);
    for chunk in data.get(1..).unwrap_or_default().chunks_exact(6) {
        let b0 = chunk[0];
        let (a, b) = pairs[usize::from(b0 & 3)];
        let (src, dst) = if b0 & 4 == 0 {
            (hosts[a], hosts[b])
        } else {
            (hosts[b], hosts[a])
        };
        let mut flags = 0u8;
        if b0 & 0x08 != 0 {
            flags |= TcpFlags::FIN;
        }
        if b0 & 0x10 != 0 {
            flags |= TcpFlags::SYN;
        }
        if b0 & 0x20 != 0 {
            flags |= TcpFlags::RST;
        }
        if b0 & 0x40 != 0 {
            flags |= TcpFlags::ACK;
        }
        if b0 & 0x80 != 0 {
            now = now.add_nanos(50_000_000_000);
        }
        let base = |d: bool| if d { u32::MAX - 3000 } else { u32::MAX - 100 };
        let dir_bit = b0 & 4 != 0;
        let off = u32::from(u16::from_le_bytes([chunk[1], chunk[2]]));
        let len = usize::from(chunk[3]);
        let seq = base(dir_bit).wrapping_add(off);
        let ack = base(!dir_bit).wrapping_add(u32::from(chunk[4]) * 16);
        let corrupt = chunk[5] & 1 != 0;
        now = now.add_nanos(i64::from(chunk[5] >> 1) * 1_000_000);
        payload.clear();
        payload.extend((0..len).map(|k| (off as usize + k) as u8 ^ if corrupt { 0x5a } else { 0 }));
        let seg = TcpSegment {
            src,
            dst,
            seq: SeqNum(seq),
            ack: TcpFlags(flags).has(TcpFlags::ACK).then_some(SeqNum(ack)),
            flags: TcpFlags(flags),
            payload: &payload,
        };
        *fed.entry((src, dst)).or_default() += len as u64;
        table.process(now, &seg, &mut out);
        let st = table.stats();
        assert!(st.active <= 3, "more flows than the cap");
        assert_eq!(st.flows_created, st.active + st.closed.total());
    }
    table.flush(now, &mut out);

    let st = table.stats();
    let sh = shared.borrow();
    assert_eq!(st.active, 0);
    assert_eq!(st.buffered_bytes, 0);
    assert_eq!(sh.created, st.flows_created);
    assert_eq!(
        sh.closed, sh.created,
        "on_close must be called once per connection"
    );
    assert_eq!(st.closed.total(), st.flows_created);
    let mut delivered_total = 0;
    for (k, &n) in &sh.delivered {
        let f = fed.get(k).copied().unwrap_or(0);
        assert!(n <= f, "{k:?}: delivered {n} > fed {f}");
        delivered_total += n;
    }
    let rs = table.reassembly_stats();
    assert!(rs.bytes_delivered >= delivered_total);
}
