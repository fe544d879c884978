//! Wires the stages together (for one offline run, or fed live by the agent):
//! capture → decode → flow/reassembly → http → a sink of [`HttpEvent`]s.
//!
//! Single-threaded by design for files: each stage is cheap per packet, and one core per
//! capture keeps ordering deterministic. Flows persist across the files of one run (rotated
//! captures continue each other); idle timeouts run on capture time.

use crate::capture::{FileSource, Packet};
use crate::decode::{DecodeStats, Decoder};
use crate::flow::{CloseReason, ConnHandler, ConnInfo, Dir, FlowConfig, FlowStats, FlowTable};
use crate::http::{HttpConfig, HttpConn, HttpEvent, HttpStats};
use crate::reassembly::ReassemblyStats;
use crate::Timestamp;
use anyhow::{Context, Result};
use std::cell::RefCell;
use std::rc::Rc;

/// Settings of a run.
#[derive(Clone, Debug, Default)]
pub struct PipelineConfig {
    /// BPF filter expression.
    pub filter: Option<String>,
    /// Flow table settings.
    pub flow: FlowConfig,
    /// HTTP parser settings.
    pub http: HttpConfig,
}

/// Counters of a whole run, per stage.
#[derive(Clone, Debug, Default)]
pub struct RunStats {
    /// Files read.
    pub files: u64,
    /// Packets read from the captures (after the BPF filter).
    pub packets: u64,
    /// Captured bytes.
    pub bytes: u64,
    /// Files whose last record was cut short.
    pub capture_truncated: u64,
    /// Decode stage.
    pub decode: DecodeStats,
    /// Flow table.
    pub flow: FlowStats,
    /// Reassembly.
    pub reassembly: ReassemblyStats,
    /// HTTP parsing.
    pub http: HttpStats,
}

impl RunStats {
    /// A human-readable multi-line summary.
    pub fn summary(&self) -> String {
        format!(
            "capture: {} files, {} packets, {} bytes\ndecode: {:?}\nflow: {:?}\nreassembly: {:?}\nhttp: {:?}",
            self.files, self.packets, self.bytes, self.decode, self.flow, self.reassembly, self.http
        )
    }
}

/// How often (in packets) idle flows are expired.
const ADVANCE_EVERY: u64 = 1024;

/// The packet-processing stages (decode → flow table → reassembly → HTTP) as one reusable
/// object, fed one packet at a time. Used by [`run_files`] and by the live agent; not
/// `Send` (the HTTP counters are shared with the connection handlers through an `Rc`), so
/// construct it on the thread that runs it.
pub struct Pipeline {
    decoder: Decoder,
    flows: FlowTable<CountedHttp>,
    http_stats: Rc<RefCell<HttpStats>>,
    packets: u64,
    bytes: u64,
    last_ts: Timestamp,
}

impl Pipeline {
    /// A pipeline with these settings (the BPF filter is the capture's business).
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
    /// 1024 packets on capture time.
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
    pub fn stats(&self) -> RunStats {
        RunStats {
            files: 0,
            packets: self.packets,
            bytes: self.bytes,
            capture_truncated: 0,
            decode: *self.decoder.stats(),
            flow: self.flows.stats(),
            reassembly: *self.flows.reassembly_stats(),
            http: *self.http_stats.borrow(),
        }
    }
}

/// Runs the pipeline over `paths` in order, calling `sink` for every HTTP event.
pub fn run_files(
    paths: &[String],
    cfg: &PipelineConfig,
    progress: bool,
    sink: &mut dyn FnMut(HttpEvent) -> Result<()>,
) -> Result<RunStats> {
    let mut pipe = Pipeline::new(cfg);
    let mut files = 0;
    let mut truncated = 0;
    let mut events: Vec<HttpEvent> = Vec::with_capacity(64);
    let mut n: u64 = 0;
    for path in paths {
        let mut src = FileSource::open(path, cfg.filter.as_deref())
            .with_context(|| format!("cannot read capture {path}"))?;
        files += 1;
        let bar = progress.then(|| crate::progress::bar(path, src.progress().1));
        loop {
            let pkt = match src.next_packet() {
                Ok(Some(p)) => p,
                Ok(None) => break,
                Err(e) => {
                    pipe.flush(&mut events);
                    for ev in events.drain(..) {
                        sink(ev)?;
                    }
                    return Err(e).with_context(|| format!("while reading {path}"));
                }
            };
            pipe.push(&pkt, &mut events);
            n += 1;
            if n.is_multiple_of(ADVANCE_EVERY) {
                if let Some(b) = &bar {
                    b.set_position(src.progress().0);
                }
            }
            for ev in events.drain(..) {
                sink(ev)?;
            }
        }
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        let c = src.stats();
        truncated += u64::from(c.truncated_records > 0);
    }
    pipe.flush(&mut events);
    for ev in events.drain(..) {
        sink(ev)?;
    }
    let mut stats = pipe.stats();
    stats.files = files;
    stats.capture_truncated = truncated;
    Ok(stats)
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
