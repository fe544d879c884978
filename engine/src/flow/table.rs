//! The connection table. See the [module docs](super) for the policies.

use super::{CloseReason, ConnHandler, ConnInfo, Dir};
use crate::decode::{SeqNum, TcpFlags, TcpSegment};
use crate::reassembly::{Delivery, ReassemblyConfig, ReassemblyStats, StreamReassembler};
use crate::Timestamp;
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// Flow-table limits.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct FlowConfig {
    /// Maximum concurrent connections (default 262,144). When full, the least recently
    /// active connection is evicted ([`CloseReason::Evicted`]).
    pub max_flows: usize,
    /// A connection with no packet for longer than this is closed ([`CloseReason::Idle`]);
    /// default 120 s of capture time.
    pub idle_timeout: Duration,
    /// Per-stream out-of-order buffer caps (default 256 KiB, 2048 pieces).
    pub reassembly: ReassemblyConfig,
    /// Cap on out-of-order bytes buffered by all streams together (default 128 MiB). When
    /// exceeded, the streams holding the most are flushed (holes declared lost) until the
    /// total is back under 7/8 of the cap.
    pub max_buffered_bytes: usize,
    /// How long a connection closed by FIN in both directions is remembered (TIME_WAIT;
    /// default 60 s of capture time), so data retransmitted after the close (the final ACK
    /// lost) is recognised as a retransmission instead of starting a connection. At most
    /// `max_flows` closed connections are remembered (the oldest are forgotten first).
    pub time_wait: Duration,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            max_flows: 262_144,
            idle_timeout: Duration::from_secs(120),
            reassembly: ReassemblyConfig::default(),
            max_buffered_bytes: 128 * 1024 * 1024,
            time_wait: Duration::from_secs(60),
        }
    }
}

/// Connections closed, by [`CloseReason`].
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct ClosedByReason {
    /// Both directions sent FIN.
    pub fin: u64,
    /// RST seen.
    pub rst: u64,
    /// Idle timeout.
    pub idle: u64,
    /// Evicted (table full, or replaced by a new connection on the same ports).
    pub evicted: u64,
    /// End of capture.
    pub end_of_capture: u64,
}

impl ClosedByReason {
    fn count(&mut self, reason: CloseReason) {
        match reason {
            CloseReason::Fin => self.fin += 1,
            CloseReason::Rst => self.rst += 1,
            CloseReason::Idle => self.idle += 1,
            CloseReason::Evicted => self.evicted += 1,
            CloseReason::EndOfCapture => self.end_of_capture += 1,
        }
    }

    /// All closed connections.
    pub fn total(&self) -> u64 {
        self.fin + self.rst + self.idle + self.evicted + self.end_of_capture
    }
}

/// Flow-table counters.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct FlowStats {
    /// Segments processed.
    pub packets: u64,
    /// Connections created.
    pub flows_created: u64,
    /// Connections closed, by reason.
    pub closed: ClosedByReason,
    /// Connections currently tracked.
    pub active: u64,
    /// Most connections tracked at once.
    pub peak_active: u64,
    /// Connections evicted because the table was full (also in `closed.evicted`).
    pub evicted_table_full: u64,
    /// Segments that matched no connection and did not start one (lone RST, pure ACK or
    /// bare FIN without payload): counted and skipped.
    pub packets_without_flow: u64,
    /// Connections closed because a new SYN with a different ISN reused their ports.
    pub port_reuses: u64,
    /// Data segments of a connection already closed by FIN in both directions, at or below
    /// the sender's FIN: retransmissions (the final ACK was lost), dropped.
    pub retransmissions_after_close: u64,
    /// Streams flushed (holes declared lost) to respect the global buffer cap.
    pub global_buffer_flushes: u64,
    /// Out-of-order bytes currently buffered by all streams.
    pub buffered_bytes: u64,
    /// Most out-of-order bytes buffered at once.
    pub peak_buffered_bytes: u64,
}

/// A connection closed by FIN in both directions (see [`FlowConfig::time_wait`]).
#[derive(Copy, Clone, Debug)]
struct TimeWait {
    /// FIN sequence number of the lower endpoint's stream and of the higher one's.
    fin: [Option<SeqNum>; 2],
    expires: Timestamp,
}

/// The canonical key of a connection: the two (address, port) endpoints, lower one first,
/// so both directions find the same entry. Fixed-size and cheap to hash.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
struct FlowKey {
    lo_ip: u128,
    hi_ip: u128,
    lo_port: u16,
    hi_port: u16,
    /// Address families (bit 0: lo is IPv6, bit 1: hi is IPv6).
    fam: u8,
}

fn endpoint(a: &SocketAddr) -> (u128, bool, u16) {
    match a.ip() {
        IpAddr::V4(v4) => (u128::from(u32::from(v4)), false, a.port()),
        IpAddr::V6(v6) => (u128::from(v6), true, a.port()),
    }
}

impl FlowKey {
    /// The key and whether `src` is the lower endpoint.
    fn new(src: &SocketAddr, dst: &SocketAddr) -> (FlowKey, bool) {
        let s = endpoint(src);
        let d = endpoint(dst);
        let src_is_lo = s <= d;
        let (lo, hi) = if src_is_lo { (s, d) } else { (d, s) };
        let key = FlowKey {
            lo_ip: lo.0,
            hi_ip: hi.0,
            lo_port: lo.2,
            hi_port: hi.2,
            fam: u8::from(lo.1) | (u8::from(hi.1) << 1),
        };
        (key, src_is_lo)
    }
}

/// Ports that identify a server when a connection is picked up mid-stream.
pub fn is_server_port(port: u16) -> bool {
    port < 1024 || matches!(port, 3000 | 5000 | 8000 | 8080 | 8443)
}

const NIL: u32 = u32::MAX;

struct Conn<H> {
    key: FlowKey,
    info: ConnInfo,
    /// Is the originator the key's lower endpoint?
    orig_is_lo: bool,
    handler: H,
    /// Index 0: originator → responder; 1: responder → originator.
    streams: [StreamReassembler; 2],
    /// Capture time (monotonic clock) of the last packet.
    last_seen: Timestamp,
    /// LRU list links (slot indices).
    prev: u32,
    next: u32,
    /// Buffered bytes of both streams as last added to the global total.
    buffered: usize,
}

fn idx(dir: Dir) -> usize {
    match dir {
        Dir::ToResponder => 0,
        Dir::ToOriginator => 1,
    }
}

/// Builds the sink that hands one direction's deliveries to the handler. Deliveries are
/// dropped (data counted in `skipped`) once the handler stops wanting data.
fn sink<'a, H: ConnHandler>(
    handler: &'a mut H,
    info: &'a ConnInfo,
    dir: Dir,
    ts: Timestamp,
    out: &'a mut Vec<H::Event>,
    skipped: &'a mut u64,
) -> impl FnMut(Delivery<'_>) + 'a {
    move |d: Delivery<'_>| {
        if !handler.wants_data() {
            if let Delivery::Data(b) = d {
                *skipped += b.len() as u64;
            }
            return;
        }
        match d {
            Delivery::Data(b) => handler.on_data(info, dir, ts, b, out),
            Delivery::Gap(n) => handler.on_gap(info, dir, ts, n, out),
            Delivery::Fin => handler.on_fin(info, dir, ts, out),
        }
    }
}

/// Creates a handler for a new connection.
pub type HandlerFactory<H> = Box<dyn FnMut(&ConnInfo) -> H>;

/// Owns all tracked connections, their reassemblers and handlers. See the
/// [module docs](super).
pub struct FlowTable<H: ConnHandler> {
    config: FlowConfig,
    idle_ns: i64,
    factory: HandlerFactory<H>,
    /// Keyed with a random seed: the keys are attacker-controlled (see module docs).
    map: HashMap<FlowKey, u32, ahash::RandomState>,
    /// Connections closed by FIN in both directions, remembered for `time_wait`: the FIN
    /// sequence number sent by the lower and the higher endpoint.
    time_wait: HashMap<FlowKey, TimeWait, ahash::RandomState>,
    /// `time_wait` keys in closing order, with their expiry (stale entries skipped).
    time_wait_order: VecDeque<(FlowKey, Timestamp)>,
    time_wait_ns: i64,
    slots: Vec<Option<Conn<H>>>,
    free: Vec<u32>,
    /// Least recently active connection.
    lru_head: u32,
    /// Most recently active connection.
    lru_tail: u32,
    /// Capture-time clock: the largest timestamp seen (timestamps may step back a little).
    clock: Timestamp,
    next_id: u64,
    stats: FlowStats,
    rstats: ReassemblyStats,
    buffered_total: usize,
}

impl<H: ConnHandler> FlowTable<H> {
    /// An empty table; `factory` creates the handler of each new connection.
    pub fn new(config: FlowConfig, factory: HandlerFactory<H>) -> Self {
        let idle_ns = i64::try_from(config.idle_timeout.as_nanos()).unwrap_or(i64::MAX);
        FlowTable {
            config,
            idle_ns,
            factory,
            map: HashMap::with_hasher(ahash::RandomState::new()),
            time_wait: HashMap::with_hasher(ahash::RandomState::new()),
            time_wait_order: VecDeque::new(),
            time_wait_ns: i64::try_from(config.time_wait.as_nanos()).unwrap_or(i64::MAX),
            slots: Vec::new(),
            free: Vec::new(),
            lru_head: NIL,
            lru_tail: NIL,
            clock: Timestamp(i64::MIN),
            next_id: 0,
            stats: FlowStats::default(),
            rstats: ReassemblyStats::default(),
            buffered_total: 0,
        }
    }

    /// Flow counters.
    pub fn stats(&self) -> FlowStats {
        let mut s = self.stats;
        s.active = self.map.len() as u64;
        s.buffered_bytes = self.buffered_total as u64;
        s
    }

    /// Reassembly counters of all streams, past and present.
    pub fn reassembly_stats(&self) -> &ReassemblyStats {
        &self.rstats
    }

    /// Connections currently tracked.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Is no connection tracked?
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Processes one segment captured at `ts`: finds or creates its connection, expires idle
    /// connections first, and pushes whatever the handlers produce into `out`.
    pub fn process(&mut self, ts: Timestamp, seg: &TcpSegment<'_>, out: &mut Vec<H::Event>) {
        self.stats.packets += 1;
        let now = self.tick(ts);
        self.expire_idle(now, out);
        self.expire_time_wait(now);

        let (key, src_is_lo) = FlowKey::new(&seg.src, &seg.dst);
        let syn = seg.flags.has(TcpFlags::SYN);
        let ack = seg.flags.has(TcpFlags::ACK);
        let rst = seg.flags.has(TcpFlags::RST);

        if let Some(&slot) = self.map.get(&key) {
            let Some(conn) = self.conn(slot) else { return };
            let dir = if src_is_lo == conn.orig_is_lo {
                Dir::ToResponder
            } else {
                Dir::ToOriginator
            };
            // Port reuse: a new SYN whose ISN differs from what this side already used.
            let stream = super::pick(&conn.streams, idx(dir));
            let reuse = syn && !ack && !rst && stream.is_started() && stream.isn() != Some(seg.seq);
            if !reuse {
                self.on_segment(slot, dir, ts, now, seg, out);
                return;
            }
            let closing = conn.streams.iter().any(StreamReassembler::fin_seen);
            let reason = if closing {
                CloseReason::Fin
            } else {
                CloseReason::Evicted
            };
            self.stats.port_reuses += 1;
            self.close_slot(slot, ts, reason, out);
        }

        if rst || (seg.payload.is_empty() && !syn) {
            self.stats.packets_without_flow += 1;
            return;
        }
        if let Some(tw) = self.time_wait.remove(&key) {
            // Data at or below the sender's FIN is a retransmission of the closed
            // connection's bytes; anything else (a new SYN, data beyond the FIN) starts anew.
            let fin = if src_is_lo { tw.fin[0] } else { tw.fin[1] };
            let len = u32::try_from(seg.payload.len()).unwrap_or(u32::MAX);
            let retransmitted = !syn && fin.is_some_and(|f| seg.seq.add(len).diff(f) <= 0);
            if retransmitted {
                self.stats.retransmissions_after_close += 1;
                self.time_wait.insert(key, tw);
                return;
            }
        }
        let sender_is_orig = if syn {
            !ack
        } else {
            // The sender is the responder only if it is a server port talking to a client port.
            let sender_is_server =
                is_server_port(seg.src.port()) && !is_server_port(seg.dst.port());
            !sender_is_server
        };
        let (orig, resp) = if sender_is_orig {
            (seg.src, seg.dst)
        } else {
            (seg.dst, seg.src)
        };
        let orig_is_lo = src_is_lo == sender_is_orig;
        while self.map.len() >= self.config.max_flows.max(1) && self.lru_head != NIL {
            self.stats.evicted_table_full += 1;
            let head = self.lru_head;
            self.close_slot(head, ts, CloseReason::Evicted, out);
        }
        let info = ConnInfo {
            id: self.next_id,
            orig,
            resp,
            saw_syn: syn,
        };
        self.next_id += 1;
        let handler = (self.factory)(&info);
        let conn = Conn {
            key,
            info,
            orig_is_lo,
            handler,
            streams: [
                StreamReassembler::new(self.config.reassembly),
                StreamReassembler::new(self.config.reassembly),
            ],
            last_seen: now,
            prev: NIL,
            next: NIL,
            buffered: 0,
        };
        let slot = match self.free.pop() {
            Some(s) => {
                if let Some(x) = self.slots.get_mut(s as usize) {
                    *x = Some(conn);
                }
                s
            }
            None => {
                self.slots.push(Some(conn));
                (self.slots.len() - 1) as u32
            }
        };
        self.map.insert(key, slot);
        self.push_tail(slot);
        self.stats.flows_created += 1;
        self.stats.peak_active = self.stats.peak_active.max(self.map.len() as u64);
        let dir = if sender_is_orig {
            Dir::ToResponder
        } else {
            Dir::ToOriginator
        };
        self.on_segment(slot, dir, ts, now, seg, out);
    }

    /// Advances capture time to `now` (if later) and closes connections idle for longer
    /// than the idle timeout. Cheap when nothing expires: connections are kept in
    /// least-recently-active order, so only the oldest is looked at. [`FlowTable::process`]
    /// does this itself; call this when time passes without packets.
    pub fn advance(&mut self, now: Timestamp, out: &mut Vec<H::Event>) {
        let now = self.tick(now);
        self.expire_idle(now, out);
    }

    /// End of capture: closes every connection ([`CloseReason::EndOfCapture`]) in creation
    /// order, after flushing what they have buffered.
    pub fn flush(&mut self, ts: Timestamp, out: &mut Vec<H::Event>) {
        let mut live: Vec<(u64, u32)> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.as_ref().map(|c| (c.info.id, i as u32)))
            .collect();
        live.sort_unstable();
        for (_, slot) in live {
            self.close_slot(slot, ts, CloseReason::EndOfCapture, out);
        }
    }

    fn tick(&mut self, ts: Timestamp) -> Timestamp {
        if ts > self.clock {
            self.clock = ts;
        }
        self.clock
    }

    fn conn(&self, slot: u32) -> Option<&Conn<H>> {
        self.slots.get(slot as usize).and_then(Option::as_ref)
    }

    fn conn_mut(&mut self, slot: u32) -> Option<&mut Conn<H>> {
        self.slots.get_mut(slot as usize).and_then(Option::as_mut)
    }

    /// Forgets closed connections whose TIME_WAIT is over (or too many).
    fn expire_time_wait(&mut self, now: Timestamp) {
        let cap = self.config.max_flows.max(1);
        while let Some(&(key, expires)) = self.time_wait_order.front() {
            if expires > now && self.time_wait_order.len() <= cap {
                break;
            }
            self.time_wait_order.pop_front();
            if self
                .time_wait
                .get(&key)
                .is_some_and(|t| t.expires == expires)
            {
                self.time_wait.remove(&key);
            }
        }
    }

    fn expire_idle(&mut self, now: Timestamp, out: &mut Vec<H::Event>) {
        while let Some(c) = self.conn(self.lru_head) {
            if now.as_nanos().saturating_sub(c.last_seen.as_nanos()) <= self.idle_ns {
                break;
            }
            let last = c.last_seen;
            self.close_slot(self.lru_head, last, CloseReason::Idle, out);
        }
    }

    /// Handles a segment of an existing connection.
    fn on_segment(
        &mut self,
        slot: u32,
        dir: Dir,
        ts: Timestamp,
        now: Timestamp,
        seg: &TcpSegment<'_>,
        out: &mut Vec<H::Event>,
    ) {
        self.touch(slot, now);
        if seg.flags.has(TcpFlags::RST) {
            self.close_slot(slot, ts, CloseReason::Rst, out);
            return;
        }
        let Some(conn) = self.slots.get_mut(slot as usize).and_then(Option::as_mut) else {
            return;
        };
        let rstats = &mut self.rstats;
        let Conn {
            handler,
            streams,
            info,
            ..
        } = conn;
        let mut skipped = 0u64;
        if !handler.wants_data() {
            streams.iter_mut().for_each(|s| s.disable(rstats));
        }
        let [to_resp, to_orig] = streams;
        let (this, other) = match dir {
            Dir::ToResponder => (to_resp, to_orig),
            Dir::ToOriginator => (to_orig, to_resp),
        };
        // The ack first: bytes it covers were sent before this segment.
        if let Some(ack) = seg.ack {
            other.peer_ack(
                ack,
                rstats,
                &mut sink(handler, info, dir.flip(), ts, out, &mut skipped),
            );
        }
        this.segment(
            seg.seq,
            seg.flags,
            seg.payload,
            rstats,
            &mut sink(handler, info, dir, ts, out, &mut skipped),
        );
        rstats.skipped_bytes += skipped;
        if !handler.wants_data() {
            this.disable(rstats);
            other.disable(rstats);
        }
        let done =
            (this.is_finished() && other.is_finished()) || (this.fin_seen() && other.fin_seen());
        self.resync(slot);
        if done {
            self.close_slot(slot, ts, CloseReason::Fin, out);
        } else if self.buffered_total > self.config.max_buffered_bytes {
            self.global_flush(ts, out);
        }
    }

    /// Re-adds a connection's buffered bytes to the global total.
    fn resync(&mut self, slot: u32) {
        let Some(conn) = self.slots.get_mut(slot as usize).and_then(Option::as_mut) else {
            return;
        };
        let now: usize = conn
            .streams
            .iter()
            .map(StreamReassembler::buffered_bytes)
            .sum();
        self.buffered_total = self.buffered_total.saturating_sub(conn.buffered) + now;
        conn.buffered = now;
        self.stats.peak_buffered_bytes = self
            .stats
            .peak_buffered_bytes
            .max(self.buffered_total as u64);
    }

    /// Flushes the streams holding the most until the total is under 7/8 of the cap.
    fn global_flush(&mut self, ts: Timestamp, out: &mut Vec<H::Event>) {
        let cap = self.config.max_buffered_bytes;
        let low = cap - cap / 8;
        let mut cands: Vec<(usize, u64, u32, Dir)> = Vec::new();
        for (i, c) in self.slots.iter().enumerate() {
            if let Some(c) = c {
                for dir in [Dir::ToResponder, Dir::ToOriginator] {
                    let b = super::pick(&c.streams, idx(dir)).buffered_bytes();
                    if b > 0 {
                        cands.push((b, c.info.id, i as u32, dir));
                    }
                }
            }
        }
        cands.sort_unstable_by(|a, b| {
            b.0.cmp(&a.0)
                .then(a.1.cmp(&b.1))
                .then(idx(a.3).cmp(&idx(b.3)))
        });
        for (_, _, slot, dir) in cands {
            if self.buffered_total <= low {
                break;
            }
            let Some(conn) = self.slots.get_mut(slot as usize).and_then(Option::as_mut) else {
                continue;
            };
            let Conn {
                handler,
                streams,
                info,
                ..
            } = conn;
            let mut skipped = 0u64;
            let [to_resp, to_orig] = streams;
            let s = if dir == Dir::ToResponder {
                to_resp
            } else {
                to_orig
            };
            s.skip_holes(
                &mut self.rstats,
                &mut sink(handler, info, dir, ts, out, &mut skipped),
            );
            self.rstats.skipped_bytes += skipped;
            self.stats.global_buffer_flushes += 1;
            let done = conn.streams.iter().all(StreamReassembler::is_finished);
            self.resync(slot);
            if done {
                self.close_slot(slot, ts, CloseReason::Fin, out);
            }
        }
    }

    /// Flushes both streams, calls `on_close`, and frees the connection.
    fn close_slot(
        &mut self,
        slot: u32,
        ts: Timestamp,
        reason: CloseReason,
        out: &mut Vec<H::Event>,
    ) {
        if self.conn(slot).is_none() {
            return;
        }
        self.unlink(slot);
        let Some(mut conn) = self.slots.get_mut(slot as usize).and_then(Option::take) else {
            return;
        };
        self.free.push(slot);
        self.map.remove(&conn.key);
        self.buffered_total = self.buffered_total.saturating_sub(conn.buffered);
        let Conn {
            handler,
            streams,
            info,
            ..
        } = &mut conn;
        let mut skipped = 0u64;
        let [to_resp, to_orig] = streams;
        to_resp.flush(
            &mut self.rstats,
            &mut sink(handler, info, Dir::ToResponder, ts, out, &mut skipped),
        );
        to_orig.flush(
            &mut self.rstats,
            &mut sink(handler, info, Dir::ToOriginator, ts, out, &mut skipped),
        );
        self.rstats.skipped_bytes += skipped;
        handler.on_close(info, ts, reason, out);
        self.stats.closed.count(reason);
        if reason == CloseReason::Fin && conn.streams.iter().all(StreamReassembler::fin_seen) {
            let [to_resp, to_orig] = &conn.streams;
            let fin = if conn.orig_is_lo {
                [to_resp.fin_seq(), to_orig.fin_seq()]
            } else {
                [to_orig.fin_seq(), to_resp.fin_seq()]
            };
            let expires = Timestamp(self.clock.as_nanos().saturating_add(self.time_wait_ns));
            self.time_wait.insert(conn.key, TimeWait { fin, expires });
            self.time_wait_order.push_back((conn.key, expires));
        }
    }

    /// Marks a connection active now: moves it to the LRU tail.
    fn touch(&mut self, slot: u32, now: Timestamp) {
        if let Some(c) = self.conn_mut(slot) {
            c.last_seen = now;
        }
        if self.lru_tail != slot {
            self.unlink(slot);
            self.push_tail(slot);
        }
    }

    fn unlink(&mut self, slot: u32) {
        let Some(c) = self.conn_mut(slot) else { return };
        let (prev, next) = (c.prev, c.next);
        c.prev = NIL;
        c.next = NIL;
        match self.conn_mut(prev) {
            Some(p) => p.next = next,
            None => self.lru_head = next,
        }
        match self.conn_mut(next) {
            Some(n) => n.prev = prev,
            None => self.lru_tail = prev,
        }
    }

    fn push_tail(&mut self, slot: u32) {
        let tail = self.lru_tail;
        if let Some(c) = self.conn_mut(slot) {
            c.prev = tail;
            c.next = NIL;
        }
        match self.conn_mut(tail) {
            Some(t) => t.next = slot,
            None => self.lru_head = slot,
        }
        self.lru_tail = slot;
    }
}
