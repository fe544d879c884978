//! The packet-processing stages wired together: decode → flow table → reassembly → HTTP,
//! fed one [`Packet`] at a time, emitting [`HttpEvent`]s.
//!
//! Single-threaded by design: each stage is cheap per packet, and one core per capture keeps
//! ordering deterministic. Flows persist across everything fed to one [`Pipeline`] (rotated
//! captures continue each other); idle timeouts run on capture time, or on the time given to
//! [`Pipeline::advance`]. Where packets come from (libpcap files, live interfaces) is the
//! caller's business.

use crate::decode::{DecodeStats, Decoder};
use crate::flow::{CloseReason, ConnHandler, ConnInfo, Dir, FlowConfig, FlowStats, FlowTable};
use crate::http::{HttpConfig, HttpConn, HttpEvent, HttpStats};
use crate::packet::Packet;
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
    /// HTTP parsing.
    pub http: HttpStats,
}

/// How often (in packets) idle flows are expired.
pub const ADVANCE_EVERY: u64 = 1024;

/// The packet-processing stages (decode → flow table → reassembly → HTTP) as one reusable
/// object, fed one packet at a time. Not `Send` (the HTTP counters are shared with the
/// connection handlers through an `Rc`), so construct it on the thread that runs it.
pub struct Pipeline {
    decoder: Decoder,
    flows: FlowTable<CountedHttp>,
    http_stats: Rc<RefCell<HttpStats>>,
    packets: u64,
    bytes: u64,
    last_ts: Timestamp,
}

impl Pipeline {
    /// A pipeline with these settings.
    pub fn new(cfg: &PipelineConfig) -> Self {
        let http_stats = Rc::new(RefCell::new(HttpStats::default()));
        let http_cfg = cfg.http;
        let hs = Rc::clone(&http_stats);
        let flows: FlowTable<CountedHttp> = FlowTable::new(
            cfg.flow,
            Box::new(move |_conn| CountedHttp {
                inner: HttpConn::new(http_cfg),
                total: Rc::clone(&hs),
            }),
        );
        Pipeline {
            decoder: Decoder::new(),
            flows,
            http_stats,
            packets: 0,
            bytes: 0,
            last_ts: Timestamp::default(),
        }
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

    /// Counters so far. HTTP counters include connections that have closed only.
    pub fn stats(&self) -> PipelineStats {
        PipelineStats {
            packets: self.packets,
            bytes: self.bytes,
            decode: *self.decoder.stats(),
            flow: self.flows.stats(),
            reassembly: *self.flows.reassembly_stats(),
            http: *self.http_stats.borrow(),
        }
    }
}

/// Adds each connection's HTTP counters into the run total when it closes.
struct CountedHttp {
    inner: HttpConn,
    total: Rc<RefCell<HttpStats>>,
}

impl ConnHandler for CountedHttp {
    type Event = HttpEvent;

    fn wants_data(&self) -> bool {
        self.inner.wants_data()
    }

    fn on_data(
        &mut self,
        c: &ConnInfo,
        d: Dir,
        ts: Timestamp,
        data: &[u8],
        out: &mut Vec<HttpEvent>,
    ) {
        self.inner.on_data(c, d, ts, data, out)
    }

    fn on_gap(&mut self, c: &ConnInfo, d: Dir, ts: Timestamp, len: u64, out: &mut Vec<HttpEvent>) {
        self.inner.on_gap(c, d, ts, len, out)
    }

    fn on_fin(&mut self, c: &ConnInfo, d: Dir, ts: Timestamp, out: &mut Vec<HttpEvent>) {
        self.inner.on_fin(c, d, ts, out)
    }

    fn on_close(&mut self, c: &ConnInfo, ts: Timestamp, r: CloseReason, out: &mut Vec<HttpEvent>) {
        self.inner.on_close(c, ts, r, out);
        self.total.borrow_mut().add(self.inner.stats());
    }
}
