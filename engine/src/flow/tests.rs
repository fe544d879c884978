use super::*;
use crate::decode::SeqNum;
use crate::decode::{TcpFlags, TcpSegment};
use crate::reassembly::ReassemblyConfig;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

/// Every handler call, recorded as the handler's event.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Call {
    Data(u64, Dir, String),
    Gap(u64, Dir, u64),
    Fin(u64, Dir),
    Close(u64, CloseReason, Timestamp),
}
use Call::*;
use Dir::{ToOriginator as TO, ToResponder as TR};

/// Records calls; stops wanting data after receiving bytes containing "UPGRADE".
struct Rec {
    wants: bool,
    closed: bool,
}

impl ConnHandler for Rec {
    type Event = Call;
    fn wants_data(&self) -> bool {
        self.wants
    }
    fn on_data(
        &mut self,
        c: &ConnInfo,
        dir: Dir,
        _ts: Timestamp,
        data: &[u8],
        out: &mut Vec<Call>,
    ) {
        assert!(!self.closed && self.wants);
        let s = String::from_utf8_lossy(data).into_owned();
        if s.contains("UPGRADE") {
            self.wants = false;
        }
        out.push(Data(c.id, dir, s));
    }
    fn on_gap(&mut self, c: &ConnInfo, dir: Dir, _ts: Timestamp, len: u64, out: &mut Vec<Call>) {
        assert!(!self.closed && self.wants);
        out.push(Gap(c.id, dir, len));
    }
    fn on_fin(&mut self, c: &ConnInfo, dir: Dir, _ts: Timestamp, out: &mut Vec<Call>) {
        assert!(!self.closed && self.wants);
        out.push(Fin(c.id, dir));
    }
    fn on_close(&mut self, c: &ConnInfo, ts: Timestamp, reason: CloseReason, out: &mut Vec<Call>) {
        assert!(!self.closed, "on_close twice");
        self.closed = true;
        out.push(Close(c.id, reason, ts));
    }
}

const SYN: u8 = TcpFlags::SYN;
const ACK: u8 = TcpFlags::ACK;
const FIN: u8 = TcpFlags::FIN | TcpFlags::ACK;
const RST: u8 = TcpFlags::RST;
const SYNACK: u8 = TcpFlags::SYN | TcpFlags::ACK;

fn cli() -> SocketAddr {
    "10.0.0.1:40000".parse().unwrap()
}
fn srv() -> SocketAddr {
    "10.0.0.2:80".parse().unwrap()
}

fn secs(s: i64) -> Timestamp {
    Timestamp::from_nanos(s, 0)
}

struct T {
    table: FlowTable<Rec>,
    out: Vec<Call>,
    infos: Rc<RefCell<Vec<ConnInfo>>>,
    now: Timestamp,
}

impl T {
    fn new(config: FlowConfig) -> T {
        let infos = Rc::new(RefCell::new(Vec::new()));
        let i2 = infos.clone();
        let table = FlowTable::new(
            config,
            Box::new(move |info: &ConnInfo| {
                i2.borrow_mut().push(*info);
                Rec {
                    wants: true,
                    closed: false,
                }
            }),
        );
        T {
            table,
            out: Vec::new(),
            infos,
            now: secs(1000),
        }
    }

    fn pkt(&mut self, src: SocketAddr, dst: SocketAddr, seq: u32, ack: u32, flags: u8, data: &str) {
        let seg = TcpSegment {
            src,
            dst,
            seq: SeqNum(seq),
            ack: TcpFlags(flags).has(TcpFlags::ACK).then_some(SeqNum(ack)),
            flags: TcpFlags(flags),
            payload: data.as_bytes(),
        };
        self.table.process(self.now, &seg, &mut self.out);
    }
    /// Client → server.
    fn c(&mut self, seq: u32, ack: u32, flags: u8, data: &str) {
        self.pkt(cli(), srv(), seq, ack, flags, data)
    }
    /// Server → client.
    fn s(&mut self, seq: u32, ack: u32, flags: u8, data: &str) {
        self.pkt(srv(), cli(), seq, ack, flags, data)
    }
    fn take(&mut self) -> Vec<Call> {
        std::mem::take(&mut self.out)
    }
    fn handshake(&mut self, cisn: u32, sisn: u32) {
        self.c(cisn, 0, SYN, "");
        self.s(sisn, cisn.wrapping_add(1), SYNACK, "");
        self.c(cisn.wrapping_add(1), sisn.wrapping_add(1), ACK, "");
    }
}

fn d(id: u64, dir: Dir, s: &str) -> Call {
    Data(id, dir, s.to_string())
}

#[test]
fn handshake_data_both_ways_and_fin() {
    let mut t = T::new(FlowConfig::default());
    t.handshake(100, 500);
    t.c(101, 501, ACK, "GET / HTTP/1.1\r\n\r\n");
    t.s(501, 119, ACK, "HTTP/1.1 200 OK\r\n\r\n");
    t.c(119, 520, FIN, "");
    t.s(520, 120, FIN, "");
    let ts = t.now;
    assert_eq!(
        t.take(),
        vec![
            d(0, TR, "GET / HTTP/1.1\r\n\r\n"),
            d(0, TO, "HTTP/1.1 200 OK\r\n\r\n"),
            Fin(0, TR),
            Fin(0, TO),
            Close(0, CloseReason::Fin, ts),
        ]
    );
    // The last ACK matches nothing and starts nothing.
    t.c(120, 521, ACK, "");
    assert_eq!(t.take(), vec![]);
    let info = t.infos.borrow()[0];
    assert_eq!(
        (info.id, info.orig, info.resp, info.saw_syn),
        (0, cli(), srv(), true)
    );
    let st = t.table.stats();
    assert_eq!(st.flows_created, 1);
    assert_eq!(st.closed.fin, 1);
    assert_eq!(st.closed.total(), 1);
    assert_eq!(st.active, 0);
    assert_eq!(st.packets, 8);
    assert_eq!(st.packets_without_flow, 1);
    assert_eq!(t.table.reassembly_stats().bytes_delivered, 37);
    assert!(t.table.is_empty());
}

#[test]
fn data_retransmitted_after_both_fins_is_not_a_new_connection() {
    let mut t = T::new(FlowConfig::default());
    t.handshake(100, 500);
    t.c(101, 501, ACK, "GET / HTTP/1.1\r\n\r\n");
    t.s(501, 119, ACK, "HTTP/1.1 200 OK\r\n\r\n");
    t.c(119, 520, FIN | ACK, "");
    t.s(520, 120, FIN | ACK, "");
    t.take();
    // The client's final ACK was lost: both sides retransmit (the request, the response
    // and a FIN carrying its last bytes). Nothing starts.
    t.c(101, 501, ACK, "GET / HTTP/1.1\r\n\r\n");
    t.s(501, 119, ACK, "HTTP/1.1 200 OK\r\n\r\n");
    t.s(510, 120, FIN | ACK, "200 OK\r\n\r\n");
    assert_eq!(t.take(), vec![]);
    let st = t.table.stats();
    assert_eq!((st.flows_created, st.retransmissions_after_close), (1, 3));
    // Data beyond the FIN is no retransmission: a connection picked up mid-stream.
    t.c(120, 521, ACK, "GET /again");
    assert_eq!(t.take(), vec![d(1, TR, "GET /again")]);
    t.table.flush(t.now, &mut t.out);
    t.take();
    // A new SYN on the same ports starts a new connection at once.
    let mut t = T::new(FlowConfig::default());
    t.handshake(100, 500);
    t.c(101, 501, FIN | ACK, "x");
    t.s(501, 103, FIN | ACK, "y");
    t.take();
    t.handshake(9000, 7000);
    t.c(9001, 7001, ACK, "z");
    assert_eq!(t.take(), vec![d(1, TR, "z")]);
    assert_eq!(t.table.stats().retransmissions_after_close, 0);
}

#[test]
fn time_wait_ends_after_its_time() {
    let mut t = T::new(FlowConfig {
        time_wait: Duration::from_secs(10),
        ..FlowConfig::default()
    });
    t.handshake(100, 500);
    t.c(101, 501, FIN | ACK, "x");
    t.s(501, 103, FIN | ACK, "y");
    t.take();
    t.now = t.now.add_nanos(11_000_000_000);
    // Long after the close the same bytes are a connection picked up mid-stream.
    t.c(101, 501, ACK, "x");
    assert_eq!(t.take(), vec![d(1, TR, "x")]);
    assert_eq!(t.table.stats().retransmissions_after_close, 0);
}

#[test]
fn midstream_pickup_server_port_is_responder() {
    let mut t = T::new(FlowConfig::default());
    // First packet seen is the server's response: the server (port 80) is the responder.
    t.s(7000, 3000, ACK, "HTTP/1.1 200 OK\r\n");
    t.c(3000, 7017, ACK, "GET /next");
    assert_eq!(
        t.take(),
        vec![d(0, TO, "HTTP/1.1 200 OK\r\n"), d(0, TR, "GET /next")]
    );
    let info = t.infos.borrow()[0];
    assert_eq!((info.orig, info.resp, info.saw_syn), (cli(), srv(), false));
}

#[test]
fn midstream_pickup_roles_by_port() {
    let mut t = T::new(FlowConfig::default());
    let a: SocketAddr = "10.0.0.5:8080".parse().unwrap();
    let b: SocketAddr = "10.0.0.6:51000".parse().unwrap();
    let c: SocketAddr = "10.0.0.7:52000".parse().unwrap();
    let e: SocketAddr = "10.0.0.8:443".parse().unwrap();
    t.pkt(a, b, 1, 1, ACK, "x"); // well-known → ephemeral: sender is the responder
    t.pkt(c, b, 1, 1, ACK, "y"); // ephemeral ↔ ephemeral: sender is the originator
    t.pkt(srv(), e, 1, 1, ACK, "z"); // both low: sender is the originator
    t.pkt(b, a, 1, 1, ACK, "w"); // ephemeral → well-known: sender is the originator
    let infos = t.infos.borrow().clone();
    assert_eq!(infos.len(), 3);
    assert_eq!((infos[0].orig, infos[0].resp), (b, a));
    assert_eq!((infos[1].orig, infos[1].resp), (c, b));
    assert_eq!((infos[2].orig, infos[2].resp), (srv(), e));
    assert_eq!(
        t.take(),
        vec![d(0, TO, "x"), d(1, TR, "y"), d(2, TR, "z"), d(0, TR, "w")]
    );
}

#[test]
fn synack_first_sender_is_responder() {
    let mut t = T::new(FlowConfig::default());
    // The server uses an ephemeral-looking port; the SYN+ACK still decides.
    let server: SocketAddr = "10.0.0.9:45000".parse().unwrap();
    let client: SocketAddr = "10.0.0.1:80".parse().unwrap();
    t.pkt(server, client, 900, 101, SYNACK, "");
    t.pkt(client, server, 101, 901, ACK, "hello");
    t.pkt(server, client, 901, 106, ACK, "world");
    let info = t.infos.borrow()[0];
    assert_eq!((info.orig, info.resp, info.saw_syn), (client, server, true));
    assert_eq!(t.take(), vec![d(0, TR, "hello"), d(0, TO, "world")]);
}

#[test]
fn tfo_data_in_syn_is_delivered() {
    let mut t = T::new(FlowConfig::default());
    t.c(100, 0, SYN, "GET /");
    assert_eq!(t.take(), vec![d(0, TR, "GET /")]);
    t.s(500, 106, SYNACK, "");
    t.c(106, 501, ACK, " HTTP/1.1");
    assert_eq!(t.take(), vec![d(0, TR, " HTTP/1.1")]);
}

#[test]
fn retransmissions_are_delivered_once() {
    let mut t = T::new(FlowConfig::default());
    t.handshake(100, 500);
    t.c(101, 501, ACK, "abc");
    t.c(101, 501, ACK, "abc");
    t.c(101, 501, ACK, "abcdef"); // partly new
    t.c(100, 0, SYN, ""); // retransmitted SYN: same ISN, not a new connection
    assert_eq!(t.take(), vec![d(0, TR, "abc"), d(0, TR, "def")]);
    let rs = t.table.reassembly_stats();
    assert_eq!(rs.retransmitted_segments, 1);
    assert_eq!(rs.retransmitted_bytes, 6);
    assert_eq!(t.table.stats().flows_created, 1);
}

#[test]
fn out_of_order_is_delivered_in_order() {
    let mut t = T::new(FlowConfig::default());
    t.handshake(100, 500);
    t.c(107, 501, ACK, "ghi");
    t.c(104, 501, ACK, "def");
    assert_eq!(t.take(), vec![]);
    assert_eq!(t.table.stats().buffered_bytes, 6);
    t.c(101, 501, ACK, "abc");
    assert_eq!(
        t.take(),
        vec![d(0, TR, "abc"), d(0, TR, "def"), d(0, TR, "ghi")]
    );
    assert_eq!(t.table.stats().buffered_bytes, 0);
    assert_eq!(t.table.stats().peak_buffered_bytes, 6);
    assert_eq!(t.table.reassembly_stats().ooo_segments, 2);
}

#[test]
fn overlap_first_seen_wins_and_conflict_is_counted() {
    let mut t = T::new(FlowConfig::default());
    t.handshake(100, 500);
    t.c(104, 501, ACK, "DEF"); // buffered [104,107)
    t.c(101, 501, ACK, "abcdefg"); // in order; its "def" conflicts with buffered "DEF"
    assert_eq!(
        t.take(),
        vec![d(0, TR, "abc"), d(0, TR, "DEF"), d(0, TR, "g")]
    );
    assert_eq!(t.table.reassembly_stats().overlap_conflicts, 1);
    assert_eq!(t.table.reassembly_stats().overlap_bytes, 3);
}

#[test]
fn peer_ack_beyond_hole_declares_gap_before_peer_data() {
    let mut t = T::new(FlowConfig::default());
    t.handshake(100, 500);
    t.c(101, 501, ACK, "abc");
    t.c(110, 501, ACK, "jk"); // [104,110) never captured
    assert_eq!(t.take(), vec![d(0, TR, "abc")]);
    // The server acknowledges 112: it received the missing bytes.
    t.s(501, 112, ACK, "OK");
    assert_eq!(
        t.take(),
        vec![Gap(0, TR, 6), d(0, TR, "jk"), d(0, TO, "OK")]
    );
    assert_eq!(t.table.reassembly_stats().ack_gaps, 1);
    assert_eq!(t.table.reassembly_stats().gap_bytes, 6);
}

#[test]
fn buffer_cap_declares_gap() {
    let config = FlowConfig {
        reassembly: ReassemblyConfig {
            max_buffer_bytes: 4,
            max_buffer_segments: 100,
        },
        ..FlowConfig::default()
    };
    let mut t = T::new(config);
    t.handshake(100, 500);
    t.c(103, 501, ACK, "cd");
    t.c(106, 501, ACK, "fg");
    assert_eq!(t.take(), vec![]);
    t.c(109, 501, ACK, "i");
    assert_eq!(t.take(), vec![Gap(0, TR, 2), d(0, TR, "cd")]);
    assert_eq!(t.table.reassembly_stats().buffer_overflow_drops, 1);
    assert_eq!(t.table.stats().buffered_bytes, 3);
}

#[test]
fn global_buffer_cap_flushes_biggest_stream() {
    let config = FlowConfig {
        max_buffered_bytes: 8,
        ..FlowConfig::default()
    };
    let mut t = T::new(config);
    let other: SocketAddr = "10.0.0.3:41000".parse().unwrap();
    t.handshake(100, 500);
    t.c(103, 501, ACK, "cd"); // conn 0 buffers 2
    t.pkt(other, srv(), 1000, 0, SYN, "");
    t.pkt(other, srv(), 1005, 0, ACK, "EFGHIJ"); // conn 1 buffers 6 (total 8: at the cap)
    assert_eq!(t.table.stats().buffered_bytes, 8);
    assert_eq!(t.take(), vec![]);
    t.c(106, 501, ACK, "f"); // total 9 > 8: flush conn 1 (6) → 3 ≤ 7
    assert_eq!(t.take(), vec![Gap(1, TR, 4), d(1, TR, "EFGHIJ")]);
    let st = t.table.stats();
    assert_eq!(st.global_buffer_flushes, 1);
    assert_eq!(st.buffered_bytes, 3);
    assert_eq!(t.table.reassembly_stats().flush_gaps, 1);
}

#[test]
fn rst_flushes_and_closes() {
    let mut t = T::new(FlowConfig::default());
    t.handshake(100, 500);
    t.c(101, 501, ACK, "ab");
    t.c(105, 501, ACK, "ef"); // hole [103,105)
    t.s(501, 103, RST | ACK, "");
    let ts = t.now;
    assert_eq!(
        t.take(),
        vec![
            d(0, TR, "ab"),
            Gap(0, TR, 2),
            d(0, TR, "ef"),
            Close(0, CloseReason::Rst, ts)
        ]
    );
    assert_eq!(t.table.stats().closed.rst, 1);
    assert!(t.table.is_empty());
    // A lone RST afterwards creates nothing.
    t.s(501, 0, RST, "");
    assert_eq!(t.table.stats().packets_without_flow, 1);
    assert_eq!(t.table.stats().flows_created, 1);
}

#[test]
fn both_fins_with_hole_close_after_gap() {
    let mut t = T::new(FlowConfig::default());
    t.handshake(100, 500);
    t.c(101, 501, ACK, "a");
    t.c(105, 501, FIN, "e"); // hole [102,105), FIN at 106
    t.s(501, 102, FIN, ""); // does not ack the hole
    let ts = t.now;
    assert_eq!(
        t.take(),
        vec![
            d(0, TR, "a"),
            Fin(0, TO),
            Gap(0, TR, 3),
            d(0, TR, "e"),
            Fin(0, TR),
            Close(0, CloseReason::Fin, ts),
        ]
    );
}

#[test]
fn idle_timeout_via_advance_and_lazily_in_process() {
    let mut t = T::new(FlowConfig {
        idle_timeout: Duration::from_secs(120),
        ..FlowConfig::default()
    });
    t.now = secs(1000);
    t.handshake(100, 500);
    t.c(101, 501, ACK, "a");
    let other: SocketAddr = "10.0.0.3:41000".parse().unwrap();
    t.now = secs(1010);
    t.pkt(other, srv(), 1, 1, ACK, "b"); // conn 1, mid-stream
    t.take();
    t.table.advance(secs(1120), &mut t.out); // exactly 120 s: not yet
    assert_eq!(t.take(), vec![]);
    t.table.advance(secs(1121), &mut t.out);
    assert_eq!(t.take(), vec![Close(0, CloseReason::Idle, secs(1000))]);
    assert_eq!(t.table.len(), 1);
    // Conn 1 expires lazily when its next packet comes too late; the packet starts conn 2.
    t.now = secs(1200);
    t.pkt(other, srv(), 2, 1, ACK, "c");
    assert_eq!(
        t.take(),
        vec![Close(1, CloseReason::Idle, secs(1010)), d(2, TR, "c")]
    );
    let st = t.table.stats();
    assert_eq!(st.closed.idle, 2);
    assert_eq!(st.active, 1);
}

#[test]
fn eviction_at_max_flows_takes_least_recently_active() {
    let mut t = T::new(FlowConfig {
        max_flows: 2,
        ..FlowConfig::default()
    });
    let p = |port: u16| -> SocketAddr { format!("10.0.0.1:{port}").parse().unwrap() };
    t.pkt(p(40001), srv(), 1, 1, ACK, "0");
    t.pkt(p(40002), srv(), 1, 1, ACK, "1");
    t.pkt(p(40001), srv(), 2, 1, ACK, "0b"); // conn 0 is now the most recent
    t.take();
    t.pkt(p(40003), srv(), 1, 1, ACK, "2");
    let ts = t.now;
    assert_eq!(
        t.take(),
        vec![Close(1, CloseReason::Evicted, ts), d(2, TR, "2")]
    );
    let st = t.table.stats();
    assert_eq!(st.evicted_table_full, 1);
    assert_eq!(st.closed.evicted, 1);
    assert_eq!(st.active, 2);
    assert_eq!(st.peak_active, 2);
}

#[test]
fn port_reuse_new_syn_closes_closing_connection() {
    let mut t = T::new(FlowConfig::default());
    t.handshake(100, 500);
    t.c(101, 501, ACK, "a");
    t.c(102, 501, FIN, ""); // closing: only the client's FIN
    let ts = t.now;
    t.c(9000, 0, SYN, ""); // new ISN: a new connection on the same ports
    t.s(7000, 9001, SYNACK, "");
    t.c(9001, 7001, ACK, "b");
    assert_eq!(
        t.take(),
        vec![
            d(0, TR, "a"),
            Fin(0, TR),
            Close(0, CloseReason::Fin, ts),
            d(1, TR, "b")
        ]
    );
    assert_eq!(t.table.stats().port_reuses, 1);
    assert_eq!(t.infos.borrow().len(), 2);
}

#[test]
fn port_reuse_on_open_connection_evicts_it() {
    let mut t = T::new(FlowConfig::default());
    t.c(5000, 1, ACK, "mid"); // mid-stream, no ISN known
    let ts = t.now;
    t.c(9000, 0, SYN, "");
    assert_eq!(
        t.take(),
        vec![d(0, TR, "mid"), Close(0, CloseReason::Evicted, ts)]
    );
    assert_eq!(t.table.stats().flows_created, 2);
}

#[test]
fn sequence_wraparound_both_directions() {
    let mut t = T::new(FlowConfig::default());
    let ci = u32::MAX - 1;
    let si = u32::MAX;
    t.handshake(ci, si); // client data starts at MAX, server data at 0
    t.c(1, 0, ACK, "cd"); // out of order, after the wrap
    t.c(u32::MAX, 0, ACK, "ab");
    t.s(0, 3, ACK, "xyz");
    t.c(3, 3, FIN, "");
    t.s(3, 4, FIN, "");
    let ts = t.now;
    assert_eq!(
        t.take(),
        vec![
            d(0, TR, "ab"),
            d(0, TR, "cd"),
            d(0, TO, "xyz"),
            Fin(0, TR),
            Fin(0, TO),
            Close(0, CloseReason::Fin, ts)
        ]
    );
}

#[test]
fn wants_data_false_stops_delivery_but_tracks_until_close() {
    let mut t = T::new(FlowConfig::default());
    t.handshake(100, 500);
    t.c(101, 501, ACK, "UPGRADE");
    t.c(112, 501, ACK, "buffered?"); // never reassembled
    t.s(501, 108, ACK, "frames");
    t.c(108, 507, FIN, "more"); // [108,112) + FIN at 112... not delivered
    t.s(507, 113, FIN, "");
    let ts = t.now;
    assert_eq!(
        t.take(),
        vec![d(0, TR, "UPGRADE"), Close(0, CloseReason::Fin, ts)]
    );
    let rs = t.table.reassembly_stats();
    assert_eq!(rs.skipped_bytes, 9 + 6 + 4);
    assert_eq!(rs.bytes_delivered, 7);
    assert_eq!(t.table.stats().buffered_bytes, 0);
}

#[test]
fn wants_data_false_mid_delivery_skips_rest() {
    let mut t = T::new(FlowConfig::default());
    t.handshake(100, 500);
    t.c(104, 501, ACK, "def"); // buffered
    t.c(101, 501, ACK, "UPG"); // "UPG" alone does not switch
    assert_eq!(t.take(), vec![d(0, TR, "UPG"), d(0, TR, "def")]);
    t.c(107, 501, ACK, "UPGRADE");
    t.c(114, 501, ACK, "x");
    assert_eq!(t.take(), vec![d(0, TR, "UPGRADE")]);
}

#[test]
fn flush_at_end_closes_all_in_creation_order() {
    let mut t = T::new(FlowConfig::default());
    let other: SocketAddr = "10.0.0.3:41000".parse().unwrap();
    t.pkt(other, srv(), 1, 1, ACK, "first");
    t.handshake(100, 500);
    t.c(101, 501, ACK, "a");
    t.c(105, 501, ACK, "e"); // hole
    t.c(106, 501, FIN, ""); // FIN seen, server has not closed
    t.take();
    let end = secs(2000);
    t.table.flush(end, &mut t.out);
    assert_eq!(
        t.take(),
        vec![
            Close(0, CloseReason::EndOfCapture, end),
            Gap(1, TR, 3),
            d(1, TR, "e"),
            Fin(1, TR),
            Close(1, CloseReason::EndOfCapture, end),
        ]
    );
    let st = t.table.stats();
    assert_eq!(st.closed.end_of_capture, 2);
    assert_eq!(st.active, 0);
    assert_eq!(st.buffered_bytes, 0);
}

#[test]
fn ipv6_and_ipv4_flows_are_distinct() {
    let mut t = T::new(FlowConfig::default());
    let a6: SocketAddr = "[::a00:1]:40000".parse().unwrap();
    let b6: SocketAddr = "[::a00:2]:80".parse().unwrap();
    t.pkt(a6, b6, 1, 1, ACK, "v6");
    t.c(1, 1, ACK, "v4");
    t.pkt(b6, a6, 1, 3, ACK, "r6");
    assert_eq!(
        t.take(),
        vec![d(0, TR, "v6"), d(1, TR, "v4"), d(0, TO, "r6")]
    );
}
