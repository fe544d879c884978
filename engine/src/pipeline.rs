//! The packet-processing stages wired together: decode → flow table → reassembly →
//! protocol recognition → HTTP,
//! fed one [`Packet`] at a time, emitting [`HttpEvent`]s.
//!
//! Single-threaded by design: each stage is cheap per packet, and one core per capture keeps
//! ordering deterministic. Flows persist across everything fed to one [`Pipeline`] (rotated
//! captures continue each other); idle timeouts run on capture time, or on the time given to
//! [`Pipeline::advance`]. Where packets come from (libpcap files, live interfaces) is the
//! caller's business.

use crate::decode::{DecodeStats, Decoder};
use crate::exchange::HeadPool;
use crate::flow::{CloseReason, ConnHandler, ConnInfo, Dir, FlowConfig, FlowStats, FlowTable};
use crate::http::{HttpConfig, HttpEvent, SharedGate};
use crate::packet::Packet;
use crate::protocol::{Http2Factory, ProtocolConfig, ProtocolStats, Recogniser, StreamParser};
use crate::reassembly::ReassemblyStats;
use crate::Timestamp;
use std::cell::RefCell;
use std::rc::Rc;

/// Settings of the stages.
#[derive(Clone, Debug, Default)]
pub struct PipelineConfig {
    /// Flow table settings.
    pub flow: FlowConfig,
    /// HTTP parser settings.
    pub http: HttpConfig,
    /// The HTTP/2 parser (see [`ProtocolConfig::http2`]).
    pub http2: Option<Http2Factory>,
}

/// Counters of the stages so far.
#[derive(Clone, Debug, Default)]
pub struct PipelineStats {
    /// Packets fed.
    pub packets: u64,
    /// Captured bytes fed.
    pub bytes: u64,
    /// Decode stage.
    pub decode: DecodeStats,
    /// Flow table.
    pub flow: FlowStats,
    /// Reassembly.
    pub reassembly: ReassemblyStats,
    /// Protocol recognition and parsing (HTTP/1 counters in `protocol.http`).
    pub protocol: ProtocolStats,
}

/// How often (in packets) idle flows are expired.
pub const ADVANCE_EVERY: u64 = 1024;

/// The packet-processing stages (decode → flow table → reassembly → HTTP) as one reusable
/// object, fed one packet at a time. Not `Send` (the HTTP counters are shared with the
/// connection handlers through an `Rc`), so construct it on the thread that runs it.
pub struct Pipeline {
    decoder: Decoder,
    flows: FlowTable<Counted>,
    proto_stats: Rc<RefCell<ProtocolStats>>,
    /// The HTTP/1 parsers' message-head allocations ([`Pipeline::head_pool`]).
    pool: HeadPool,
    packets: u64,
    bytes: u64,
    last_ts: Timestamp,
}

impl Pipeline {
    /// A pipeline with these settings.
    pub fn new(cfg: &PipelineConfig) -> Self {
        Self::with_gate(cfg, None)
    }

    /// A pipeline whose HTTP/1 parsers ask `gate` which bodies to keep (see
    /// [`crate::http::BodyGate`]).
    pub fn with_gate(cfg: &PipelineConfig, gate: Option<SharedGate>) -> Self {
        let proto_stats = Rc::new(RefCell::new(ProtocolStats::default()));
        let proto_cfg = ProtocolConfig {
            http: cfg.http,
            http2: cfg.http2,
        };
        let ps = Rc::clone(&proto_stats);
        let pool = HeadPool::default();
        let heads = pool.clone();
        let flows: FlowTable<Counted> = FlowTable::new(
            cfg.flow,
            Box::new(move |conn| Counted {
                inner: Recogniser::new(proto_cfg, *conn)
                    .with_gate(gate.clone())
                    .with_pool(heads.clone()),
                total: Rc::clone(&ps),
            }),
        );
        Pipeline {
            decoder: Decoder::new(),
            flows,
            proto_stats,
            pool,
            packets: 0,
            bytes: 0,
            last_ts: Timestamp::default(),
        }
    }

    /// The pool the HTTP/1 parsers build message heads in: a consumer that is done with an
    /// exchange's heads hands them back here ([`HeadPool::give`]) so the next heads reuse
    /// their allocations.
    pub fn head_pool(&self) -> HeadPool {
        self.pool.clone()
    }

    /// Processes one packet; HTTP events are appended to `out`. Idle flows are expired every
    /// [`ADVANCE_EVERY`] packets on capture time.
    pub fn push(&mut self, pkt: &Packet<'_>, out: &mut Vec<HttpEvent>) {
        self.packets += 1;
        self.bytes += pkt.data.len() as u64;
        self.last_ts = self.last_ts.max(pkt.ts);
        if let Ok(seg) = self.decoder.decode(pkt) {
            self.flows.process(pkt.ts, &seg, out);
        }
        if self.packets.is_multiple_of(ADVANCE_EVERY) {
            self.flows.advance(self.last_ts, out);
        }
    }

    /// Expires flows idle at `now` (for live capture: wall-clock time, so idle flows close
    /// even when no packet arrives).
    pub fn advance(&mut self, now: Timestamp, out: &mut Vec<HttpEvent>) {
        self.last_ts = self.last_ts.max(now);
        self.flows.advance(self.last_ts, out);
    }

    /// Closes every flow (end of capture), emitting what they still hold.
    pub fn flush(&mut self, out: &mut Vec<HttpEvent>) {
        self.decoder.finish();
        self.flows.flush(self.last_ts, out);
    }

    /// The latest packet timestamp seen (or given to [`Pipeline::advance`]).
    pub fn last_ts(&self) -> Timestamp {
        self.last_ts
    }

    /// Counters so far. Protocol and HTTP counters include connections that have closed only.
    pub fn stats(&self) -> PipelineStats {
        PipelineStats {
            packets: self.packets,
            bytes: self.bytes,
            decode: *self.decoder.stats(),
            flow: self.flows.stats(),
            reassembly: *self.flows.reassembly_stats(),
            protocol: *self.proto_stats.borrow(),
        }
    }
}

/// Adds each connection's protocol counters into the run total when it closes.
struct Counted {
    inner: Recogniser,
    total: Rc<RefCell<ProtocolStats>>,
}

impl ConnHandler for Counted {
    type Event = HttpEvent;

    fn wants_data(&self) -> bool {
        StreamParser::wants_data(&self.inner)
    }

    fn on_data(
        &mut self,
        _: &ConnInfo,
        d: Dir,
        ts: Timestamp,
        data: &[u8],
        out: &mut Vec<HttpEvent>,
    ) {
        self.inner.on_data(d, ts, data, out)
    }

    fn on_gap(&mut self, _: &ConnInfo, d: Dir, ts: Timestamp, len: u64, out: &mut Vec<HttpEvent>) {
        self.inner.on_gap(d, ts, len, out)
    }

    fn on_fin(&mut self, _: &ConnInfo, d: Dir, ts: Timestamp, out: &mut Vec<HttpEvent>) {
        self.inner.on_fin(d, ts, out)
    }

    fn on_close(&mut self, _: &ConnInfo, ts: Timestamp, _: CloseReason, out: &mut Vec<HttpEvent>) {
        self.inner.on_close(ts, out);
        self.inner.add_stats(&mut self.total.borrow_mut());
    }
}
