//! The long-running agent: live capture → pipeline → learner and metrics, served by
//! [`crate::admin`].
//!
//! Threads:
//! - one **capture thread per interface** ([`crate::capture::live::read_loop`]): joins the
//!   target network namespace (if any), opens libpcap and runs the **pipeline** on each
//!   packet as libpcap hands it over: decode → flow table → reassembly → HTTP
//!   ([`Pipeline`]) → learner ([`Learner`]) and RED metrics. No copy into a batch, no
//!   hand-off between cores, no second thread to wake. When the ring is empty (before it
//!   waits) and every 256 packets it runs the timers: idle flows expire on wall-clock time
//!   once a second, so connections close even without traffic, and every
//!   `--snapshot-interval` (2 s) when the model changed it publishes a clone as an
//!   `Arc<ApiModel>` for the admin server and rebuilds its [`RouteTable`] from it. HTTP
//!   requests therefore never block the hot path on the model. The kernel ring
//!   (`--buffer-mib`, 32 MiB) is the buffer: while the pipeline works (a snapshot of a large
//!   model) packets wait there, and what does not fit is counted as a kernel drop. Several
//!   capture threads (interfaces) learn disjoint connections into their own models, which
//!   are summed as fanout members' are (below);
//! - with `--queued`, the layout before 2026-12-06: each capture thread
//!   ([`crate::capture::live::capture_loop`]) copies packets into batches and hands them
//!   over a bounded queue (`--queue-batches`) to **one pipeline thread**; when the queue is
//!   full the batch is dropped and counted (`apitap_queue_drops_total`). Measured against
//!   the default (`bench/RESULTS.md`, "The pipeline on the capture thread"): twice the
//!   context switches, more CPU per request at a paced load, and the queue's memory;
//! - the **admin server** and signal handling run on a small tokio runtime (see `apitap
//!   agent` in the CLI).
//!
//! With `--fanout N` (off by default), each interface has N capture threads in one
//! PACKET_FANOUT group, each running its own pipeline (with `--queued`: N pipeline threads,
//! member k of every interface feeding pipeline k): a connection is reassembled, parsed and
//! learned by one pipeline, the N models are summed when published and at stop, the metrics
//! and health figures aggregated (see
//! `agent/src/agent/fanout.rs` and the capture module's fanout policy).
//!
//! Routes for metrics: an exchange's route is looked up in the route table of the latest
//! snapshot. An exchange whose path the snapshot cannot route yet (a new endpoint) waits in
//! a bounded pending list (10,000 exchanges; beyond that it is recorded as `_other`) and the
//! next snapshot is taken early (after 250 ms), then it is recorded with its template.
//!
//! Memory is bounded: the flow table (`--max-flows`, buffered bytes 64 MiB) per pipeline,
//! with `--queued` the queue (`--queue-batches` batches of at most 256 KiB: 8 MiB by
//! default; measured under the flood of `bench/flood.sh`, 128 batches held 32 MiB more at
//! peak for no fewer drops, since the 32 MiB kernel ring absorbs the pipeline's stalls), a
//! snapshot (one copy of
//! the model, the previous one released first, plus the route table's transient view),
//! the body cap (64 KiB by default), the model's own caps (services, trie nodes, schema
//! sizes) and the metric cardinality caps.
//!
//! Privileges: capturing needs only `CAP_NET_RAW` (packet sockets; the container image gives
//! the binary that one file capability and runs as uid 10001). `--netns` also needs
//! `CAP_SYS_ADMIN` (`setns(2)`) and access to the namespace file. Promiscuous mode is never
//! enabled, so `CAP_NET_ADMIN` is not needed.
//!
//! Shutdown ([`Agent::stop`]): the capture threads see the stop flag within their read
//! capture loop (every 50 ms at most) and exit; the pipeline drains the queue, flushes every
//! flow, takes a last snapshot and returns the final model, which is written to
//! `--model-out` if given.

pub mod config;
mod fanout;

pub use config::{AgentConfig, AgentSettings};

use crate::capture::live::{self, Batch, IfaceCounters, LiveCapture};
use crate::learn::{Learner, ObservationBuf};
use crate::metrics::route::RouteTable;
use crate::metrics::rpc::RpcSample;
use crate::metrics::Format;
use crate::metrics::{
    self, Exposition, Family, Health, HttpMetrics, IfaceHealth, RedSample, OTHER,
};
use anyhow::{Context, Result};
use apitap_engine::http::{Flag, HttpEvent};
use apitap_engine::Pipeline;
use apitap_engine::Timestamp;
use apitap_model::ApiModel;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Max exchanges waiting for a route.
const MAX_PENDING: usize = 10_000;

/// State shared between the pipeline, the capture threads and the admin server.
#[derive(Debug)]
pub struct Shared {
    model: RwLock<Arc<ApiModel>>,
    http: Mutex<HttpMetrics>,
    health: Mutex<Health>,
    ifaces: RwLock<Vec<Arc<IfaceCounters>>>,
    ready: AtomicBool,
    stop: AtomicBool,
    heartbeat_ms: AtomicU64,
    started: Instant,
    start_unix: f64,
    service: Option<String>,
    extra_metrics: Mutex<Option<ExtraMetrics>>,
}

/// More metric families appended to the exposition (e.g. the upstream pusher's).
pub struct ExtraMetrics(Box<dyn Fn() -> Vec<Family> + Send + Sync>);

impl std::fmt::Debug for ExtraMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ExtraMetrics")
    }
}

fn now_ts() -> Timestamp {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::from_nanos(d.as_secs() as i64, i64::from(d.subsec_nanos()))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn new(cfg: &AgentConfig) -> Self {
        Shared {
            model: RwLock::new(Arc::new(ApiModel::new())),
            http: Mutex::new(HttpMetrics::new(cfg.caps)),
            health: Mutex::new(Health::default()),
            ifaces: RwLock::new(Vec::new()),
            ready: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            heartbeat_ms: AtomicU64::new(0),
            started: Instant::now(),
            start_unix: now_ts().as_secs_f64(),
            service: cfg.service.clone(),
            extra_metrics: Mutex::new(None),
        }
    }

    /// Appends the families `extra` returns to every exposition (`/metrics` in both formats,
    /// and remote write).
    pub fn set_extra_metrics(&self, extra: Box<dyn Fn() -> Vec<Family> + Send + Sync>) {
        *lock(&self.extra_metrics) = Some(ExtraMetrics(extra));
    }

    /// Removes the extra metrics (their source is shutting down).
    pub fn clear_extra_metrics(&self) {
        *lock(&self.extra_metrics) = None;
    }

    /// The latest published model snapshot.
    pub fn model(&self) -> Arc<ApiModel> {
        Arc::clone(&self.model.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The `/metrics` exposition in `format` (Prometheus text 0.0.4 or OpenMetrics).
    pub fn render_metrics(&self, format: Format) -> String {
        self.metrics().render(format)
    }

    /// Every metric of the agent as typed families (HTTP, RPC, health and extra).
    pub fn metrics(&self) -> Exposition {
        let mut health = lock(&self.health).clone();
        health.interfaces = self
            .ifaces
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|c| IfaceHealth {
                name: c.name.clone(),
                packets: c.packets.load(Ordering::Relaxed),
                bytes: c.bytes.load(Ordering::Relaxed),
                kernel_drops: c.kernel_drops.load(Ordering::Relaxed),
                interface_drops: c.interface_drops.load(Ordering::Relaxed),
                queue_drops: c.queue_drops.load(Ordering::Relaxed),
                up: c.running.load(Ordering::Relaxed),
            })
            .collect();
        let (rss, cpu) = metrics::process_usage();
        health.resident_bytes = rss;
        health.cpu_seconds = cpu;
        health.start_time_seconds = self.start_unix;
        let mut e = {
            let http = lock(&self.http);
            metrics::exposition(&http, &health)
        };
        if let Some(extra) = lock(&self.extra_metrics).as_ref() {
            e.families.extend((extra.0)());
        }
        e
    }

    /// Ready: every capture is open and running, and the pipeline runs.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
            && self.is_healthy()
            && self
                .ifaces
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .iter()
                .all(|c| c.running.load(Ordering::Relaxed))
    }

    /// Healthy: a pipeline (the last of several to beat) has reported within the last 10 s
    /// and no stop was requested.
    pub fn is_healthy(&self) -> bool {
        let now = self.started.elapsed().as_millis() as u64;
        !self.stop.load(Ordering::Relaxed)
            && now.saturating_sub(self.heartbeat_ms.load(Ordering::Relaxed)) < 10_000
    }

    /// Interface names being captured.
    pub fn interfaces(&self) -> Vec<String> {
        self.ifaces
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|c| c.name.clone())
            .collect()
    }

    fn beat(&self) {
        self.heartbeat_ms
            .store(self.started.elapsed().as_millis() as u64, Ordering::Relaxed);
    }
}

/// A running agent.
#[derive(Debug)]
pub struct Agent {
    shared: Arc<Shared>,
    /// Capture threads; each running its own pipeline (without `--queued`) returns that
    /// pipeline's final model.
    captures: Vec<JoinHandle<Option<ApiModel>>>,
    pipelines: Vec<JoinHandle<ApiModel>>,
    model_out: Option<std::path::PathBuf>,
}

/// Runs `f` on a thread that first joins `netns` (if given).
fn in_netns<T: Send + 'static>(
    netns: Option<std::path::PathBuf>,
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    std::thread::Builder::new()
        .name("apitap-netns".into())
        .spawn(move || {
            if let Some(ns) = &netns {
                live::join_netns(ns)?;
            }
            f()
        })
        .context("cannot spawn thread")?
        .join()
        .map_err(|_| anyhow::anyhow!("interface listing thread panicked"))?
}

impl Agent {
    /// Opens the captures and starts the threads. Fails if an interface named explicitly
    /// cannot be opened, or if no interface can.
    pub fn start(cfg: AgentConfig) -> Result<Agent> {
        let explicit = !cfg.interfaces.is_empty();
        let names = if explicit {
            cfg.interfaces.clone()
        } else {
            in_netns(cfg.netns.clone(), || Ok(live::up_interfaces()?))?
        };
        if names.is_empty() {
            anyhow::bail!("no network interface is up to capture on");
        }
        let shared = Arc::new(Shared::new(&cfg));
        // With `--queued`, one queue, pool and pipeline thread per fanout member (one without
        // fanout); none otherwise, each capture thread running its own pipeline.
        let n = cfg.fanout.max(1);
        let mut txs = Vec::new();
        let mut rxs = Vec::new();
        let queues = if cfg.inline { 0 } else { n };
        for _ in 0..queues {
            let (tx, rx) = mpsc::sync_channel::<Batch>(cfg.queue_batches);
            let (pool_tx, pool_rx) = mpsc::sync_channel::<Batch>(cfg.queue_batches + 16);
            txs.push((tx, Arc::new(Mutex::new(pool_rx))));
            rxs.push((rx, pool_tx));
        }
        let mut captures: Vec<JoinHandle<Option<ApiModel>>> = Vec::new();
        // Inline: one pipeline per capture thread, member `interface × n + k` of all.
        let inline_members = (cfg.inline && names.len() * n > 1)
            .then(|| Arc::new(fanout::Members::new(names.len() * n)));
        // Each capture thread waits for the go (with the time its fanout group was complete)
        // once every capture is open.
        let mut gos: Vec<mpsc::Sender<Option<Timestamp>>> = Vec::new();
        let mut counters = Vec::new();
        let mut errors = Vec::new();
        'ifaces: for name in names {
            let mut lc = cfg.capture.clone();
            lc.interface = name.clone();
            if n > 1 {
                // the interface's ring is split among its members
                lc.buffer_size = (lc.buffer_size / n as i32).max(4 << 20).min(lc.buffer_size);
            }
            let c = Arc::new(IfaceCounters::new(&name));
            let idx = counters.len();
            let mut group: Option<u16> = None;
            let mut members = Vec::new();
            for k in 0..n {
                let feed = match txs.get(k) {
                    Some((tx, pool)) => Feed::Queued(tx.clone(), Arc::clone(pool)),
                    None => Feed::Inline(
                        Box::new(cfg.clone()),
                        inline_members
                            .as_ref()
                            .map(|m| (idx * n + k, Arc::clone(m))),
                    ),
                };
                let (open_tx, open_rx) = mpsc::channel::<Result<Option<u16>, live::LiveError>>();
                let (go_tx, go_rx) = mpsc::channel::<Option<Timestamp>>();
                let lc = lc.clone();
                let thread_c = Arc::clone(&c);
                let thread_shared = Arc::clone(&shared);
                let netns = cfg.netns.clone();
                let policy = cfg.batch;
                let h = std::thread::Builder::new()
                    .name(format!("apitap-cap-{name}"))
                    .spawn(move || {
                        let opened = netns
                            .as_deref()
                            .map_or(Ok(()), live::join_netns)
                            .and_then(|()| LiveCapture::open(&lc))
                            .and_then(|mut c| {
                                let g = if n > 1 {
                                    Some(c.join_fanout(group)?)
                                } else {
                                    None
                                };
                                Ok((c, g))
                            });
                        let mut cap = match opened {
                            Ok((c, g)) => {
                                thread_c.running.store(true, Ordering::Relaxed);
                                let _ = open_tx.send(Ok(g));
                                c
                            }
                            Err(e) => {
                                let _ = open_tx.send(Err(e));
                                return None;
                            }
                        };
                        let Ok(since) = go_rx.recv() else { return None };
                        if let Some(t) = since {
                            cap.skip_before(t);
                        }
                        tracing::info!(interface = %lc.interface, link = cap.link().name(), member = k, "capturing");
                        let stop = &thread_shared.stop;
                        let (r, model) = match feed {
                            Feed::Queued(tx, pool) => {
                                // Emptied batches come back from the pipeline through a
                                // shared pool.
                                let take =
                                    || pool.try_lock().ok().and_then(|rx| rx.try_recv().ok());
                                let r = live::capture_loop(
                                    &mut cap, idx, &tx, &take, &thread_c, stop, policy,
                                );
                                (r, None)
                            }
                            Feed::Inline(cfg, member) => {
                                let mut sink = Inline::new(&cfg, Arc::clone(&thread_shared), member);
                                let r = live::read_loop(&mut cap, &thread_c, stop, &mut sink);
                                (r, Some(sink.w.finish()))
                            }
                        };
                        if let Err(e) = r {
                            tracing::error!(interface = %lc.interface, "capture stopped: {e}");
                        }
                        model
                    })
                    .context("cannot spawn capture thread")?;
                let e = match open_rx.recv() {
                    Ok(Ok(g)) => {
                        group = g;
                        members.push((h, go_tx));
                        continue;
                    }
                    Ok(Err(e)) => {
                        let _ = h.join();
                        e
                    }
                    Err(_) => {
                        let _ = h.join();
                        errors.push(format!("capture thread for {name} died"));
                        for (h, go) in members {
                            drop(go);
                            let _ = h.join();
                        }
                        continue 'ifaces;
                    }
                };
                // This interface failed: its opened members exit without capturing.
                for (h, go) in members {
                    drop(go);
                    let _ = h.join();
                }
                if explicit {
                    shared.stop.store(true, Ordering::Relaxed);
                    drop(gos);
                    for h in captures {
                        let _ = h.join();
                    }
                    return Err(e.into());
                }
                tracing::warn!("skipping interface: {e}");
                errors.push(e.to_string());
                continue 'ifaces;
            }
            counters.push(c);
            for (h, go) in members {
                captures.push(h);
                gos.push(go);
            }
        }
        drop(txs);
        if captures.is_empty() {
            anyhow::bail!("cannot capture on any interface: {}", errors.join("; "));
        }
        // Every fanout group is complete: what its members heard before is skipped.
        let since = (n > 1).then(now_ts);
        for go in gos {
            let _ = go.send(since);
        }
        *shared
            .ifaces
            .write()
            .unwrap_or_else(PoisonError::into_inner) = counters;
        let members = (n > 1).then(|| Arc::new(fanout::Members::new(n)));
        let mut pipelines = Vec::new();
        for (k, (rx, pool_tx)) in rxs.into_iter().enumerate() {
            let pshared = Arc::clone(&shared);
            let pcfg = cfg.clone();
            let member = members.as_ref().map(|m| (k, Arc::clone(m)));
            pipelines.push(
                std::thread::Builder::new()
                    .name(if n > 1 {
                        format!("apitap-pipe-{k}")
                    } else {
                        "apitap-pipeline".into()
                    })
                    .spawn(move || pipeline_thread(pcfg, rx, pool_tx, pshared, member))
                    .context("cannot spawn pipeline thread")?,
            );
        }
        shared.beat();
        shared.ready.store(true, Ordering::Relaxed);
        Ok(Agent {
            shared,
            captures,
            pipelines,
            model_out: cfg.model_out,
        })
    }

    /// State shared with the admin server.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Stops capturing, flushes every flow, writes `--model-out` (if set) and returns the
    /// final model.
    pub fn stop(mut self) -> Result<ApiModel> {
        self.shared.stop.store(true, Ordering::Relaxed);
        let mut models = Vec::new();
        for h in self.captures.drain(..) {
            match h.join() {
                Ok(Some(model)) => models.push(model),
                Ok(None) => {}
                Err(_) => anyhow::bail!("capture thread panicked"),
            }
        }
        for h in self.pipelines.drain(..) {
            models.push(
                h.join()
                    .map_err(|_| anyhow::anyhow!("pipeline thread panicked"))?,
            );
        }
        // fanout members (and the inline pipelines of several interfaces) learned disjoint
        // connections: their models add up
        let model = match models.len() {
            0 | 1 => models.pop().unwrap_or_default(),
            _ => fanout::sum(&models),
        };
        if let Some(path) = &self.model_out {
            write_atomic(path, model.to_json().as_bytes())
                .with_context(|| format!("cannot write model to {}", path.display()))?;
            tracing::info!(path = %path.display(), "final model written");
        }
        Ok(model)
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename.
pub fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// What the pipeline thread keeps for an exchange whose route is not known yet.
struct Pending {
    service: String,
    target: String,
    method: String,
    status: u16,
    duration_s: f64,
    request_bytes: u64,
    response_bytes: u64,
    pii: apitap_model::pii::ClassSet,
    /// A gRPC call, with its `grpc-status`: recorded as an RPC metric.
    grpc: Option<Option<u32>>,
}

/// Server sockets formatted as `ip:port` (the observation's service and server), so an
/// exchange does not format its server again: at most [`ServerNames::MAX`] names, all
/// forgotten when full. Hashed with aHash (randomly keyed, like the flow table's keys: the
/// addresses come from the network), not std's SipHash, which cost ~400 instructions per
/// exchange here (a `SocketAddr` hashes as several small writes).
#[derive(Default)]
struct ServerNames(HashMap<std::net::SocketAddr, String, ahash::RandomState>);

impl ServerNames {
    const MAX: usize = 1024;

    fn name(&mut self, addr: std::net::SocketAddr) -> &str {
        if self.0.len() >= Self::MAX && !self.0.contains_key(&addr) {
            self.0.clear();
        }
        self.0.entry(addr).or_insert_with(|| addr.to_string())
    }
}

/// Max (service, request-target) pairs in [`LabelMemo`].
const MAX_MEMO: usize = 4096;
/// Max bytes of keys (service names and targets) in [`LabelMemo`]: a target may be as long
/// as the head cap (64 KiB), so the pair count alone would let 4,096 long targets hold
/// 256 MiB.
const MAX_MEMO_BYTES: usize = 1 << 20;
/// Targets longer than this are not memoised (looked up each time, as without the memo).
const MAX_MEMO_TARGET: usize = 1024;

/// The metric labels of request-targets already routed: (service, target) → the route's
/// label ids ([`metrics::Labels`]), so an exchange on a known target is neither routed nor
/// its labels looked up again. Valid for one route table: emptied whenever a snapshot
/// rebuilds it, and when it holds [`MAX_MEMO`] targets or [`MAX_MEMO_BYTES`] of keys. Only
/// routed targets of at most [`MAX_MEMO_TARGET`] bytes are kept (a target waiting for a
/// route, or a longer one, is looked up again).
#[derive(Default)]
struct LabelMemo {
    services:
        HashMap<String, HashMap<String, metrics::Labels, ahash::RandomState>, ahash::RandomState>,
    len: usize,
    bytes: usize,
}

impl LabelMemo {
    fn get(&self, service: &str, target: &str) -> Option<metrics::Labels> {
        self.services.get(service)?.get(target).copied()
    }

    fn insert(&mut self, service: &str, target: &str, labels: metrics::Labels) {
        if target.len() > MAX_MEMO_TARGET {
            return;
        }
        let cost = service.len() + target.len();
        if self.len >= MAX_MEMO || self.bytes + cost > MAX_MEMO_BYTES {
            self.clear();
        }
        let targets = match self.services.get_mut(service) {
            Some(t) => t,
            None => {
                self.bytes += service.len();
                self.services.entry(service.to_owned()).or_default()
            }
        };
        if targets.insert(target.to_owned(), labels).is_none() {
            self.len += 1;
            self.bytes += target.len();
        }
    }

    fn clear(&mut self) {
        self.services.clear();
        self.len = 0;
        self.bytes = 0;
    }
}

struct Run {
    learner: Learner,
    /// The observation each exchange is turned into, refilled (its strings reused).
    obs: ObservationBuf,
    server_names: ServerNames,
    memo: LabelMemo,
    routes: RouteTable,
    pending: Vec<Pending>,
    dirty: bool,
    exchanges: u64,
    unpaired_requests: u64,
    unpaired_responses: u64,
    skipped: u64,
    shared: Arc<Shared>,
    /// This pipeline's index among the fanout members, and what they share (`--fanout`).
    member: Option<(usize, Arc<fanout::Members>)>,
}

impl Run {
    fn label<'a>(&'a self, learned: &'a str) -> &'a str {
        self.shared.service.as_deref().unwrap_or(learned)
    }

    fn on_events(&mut self, events: &mut Vec<HttpEvent>) {
        if events.is_empty() {
            return;
        }
        let mut http = lock(&self.shared.http);
        for ev in events.drain(..) {
            let HttpEvent::Done(ex) = ev else { continue };
            if ex.flags.contains(&Flag::UnpairedRequest) {
                self.unpaired_requests += 1;
            }
            if ex.flags.contains(&Flag::UnpairedResponse) {
                self.unpaired_responses += 1;
            }
            let server = ex.server;
            let name = self.server_names.name(server);
            let Some(taken) = self.obs.fill(*ex, name) else {
                self.skipped += 1;
                continue;
            };
            let obs = self.obs.observation();
            // the PII classes come from the learner's own pass over the values (bodies
            // the sampler skipped, and known scalars of thinned array elements, are not
            // among them)
            let pii = self
                .learner
                .learn_observation(server, taken.inspect, taken.gate_key, obs);
            self.exchanges += 1;
            self.dirty = true;
            // The model keys the service by `--service` when it is set (LearnConfig::service),
            // so routes are looked up, and metrics labelled, under that same name.
            let service: &str = self.shared.service.as_deref().unwrap_or(&obs.service);
            if let (Some(call), Some(lat)) = (&obs.grpc, obs.latency_ms) {
                let path = obs.target.split('?').next().unwrap_or_default();
                match self.routes.grpc_method(service, path) {
                    Some(m) => http.rpc.record(&RpcSample {
                        service,
                        method: Some(m),
                        status: call.status,
                        duration_s: lat / 1000.0,
                    }),
                    None if self.pending.len() < MAX_PENDING => self.pending.push(Pending {
                        service: service.to_owned(),
                        target: obs.target.clone(),
                        method: String::new(),
                        status: 0,
                        duration_s: lat / 1000.0,
                        request_bytes: 0,
                        response_bytes: 0,
                        pii: 0,
                        grpc: Some(call.status),
                    }),
                    None => http.rpc.record(&RpcSample {
                        service,
                        method: None,
                        status: call.status,
                        duration_s: lat / 1000.0,
                    }),
                }
                continue;
            }
            let (Some(status), Some(lat)) = (obs.status, obs.latency_ms) else {
                continue;
            };
            // wire bytes (not content-decoded): what the OTel body-size attributes mean,
            // and known without decompressing a body the sampler skipped
            let req_bytes = taken.request_wire_len;
            let resp_bytes = taken.response_wire_len;
            let sample = |route| RedSample {
                service,
                route,
                method: &obs.method,
                status,
                duration_s: lat / 1000.0,
                request_bytes: req_bytes,
                response_bytes: resp_bytes,
                pii,
            };
            if let Some(labels) = self.memo.get(service, &obs.target) {
                http.record_labels(labels, &sample(""));
                continue;
            }
            match self.routes.route(service, &obs.target) {
                Some(route) => {
                    let labels = http.labels(service, route);
                    self.memo.insert(service, &obs.target, labels);
                    http.record_labels(labels, &sample(route));
                }
                None if self.pending.len() < MAX_PENDING => self.pending.push(Pending {
                    service: service.to_owned(),
                    target: obs.target.clone(),
                    method: obs.method.clone(),
                    status,
                    duration_s: lat / 1000.0,
                    request_bytes: req_bytes,
                    response_bytes: resp_bytes,
                    pii,
                    grpc: None,
                }),
                None => http.record(&sample(OTHER)),
            }
        }
    }

    /// Publishes a model snapshot, rebuilds the routes and records pending exchanges.
    fn publish(&mut self) {
        // the old snapshot and route table go first (unless a reader still holds it), so a
        // snapshot costs one copy of the model plus the routes' transient combined view
        self.routes = RouteTable::default();
        self.memo.clear();
        let snap = Arc::new(match &self.member {
            None => self.learner.model.clone(),
            Some((k, m)) => m.merged(*k, self.learner.model.clone()),
        });
        let old = std::mem::replace(
            &mut *self
                .shared
                .model
                .write()
                .unwrap_or_else(PoisonError::into_inner),
            Arc::clone(&snap),
        );
        drop(old);
        self.routes = RouteTable::from_model(&snap);
        let endpoints = self.routes.endpoints() as u64;
        let services = snap
            .sources
            .values()
            .map(|s| s.services.len())
            .max()
            .unwrap_or(0);
        drop(snap);
        let mut http = lock(&self.shared.http);
        for p in std::mem::take(&mut self.pending) {
            if let Some(status) = p.grpc {
                let path = p.target.split('?').next().unwrap_or_default();
                http.rpc.record(&RpcSample {
                    service: self.label(&p.service),
                    method: self.routes.grpc_method(&p.service, path),
                    status,
                    duration_s: p.duration_s,
                });
                continue;
            }
            let route = self
                .routes
                .route(&p.service, &p.target)
                .map_or(OTHER, |r| &**r);
            http.record(&RedSample {
                service: self.label(&p.service),
                route,
                method: &p.method,
                status: p.status,
                duration_s: p.duration_s,
                request_bytes: p.request_bytes,
                response_bytes: p.response_bytes,
                pii: p.pii,
            });
        }
        drop(http);
        let mut h = lock(&self.shared.health);
        h.learned_endpoints = endpoints;
        h.learned_services = services as u64;
        self.dirty = false;
    }

    fn update_health(&self, pipe: &Pipeline) {
        match &self.member {
            None => self.pipe_health(pipe, &mut lock(&self.shared.health)),
            Some((k, m)) => {
                let mut own = Health::default();
                self.pipe_health(pipe, &mut own);
                m.health(*k, &own, &mut lock(&self.shared.health));
            }
        }
    }

    /// This pipeline's figures of `h` (the fanout members' are summed).
    fn pipe_health(&self, pipe: &Pipeline, h: &mut Health) {
        let s = pipe.stats();
        h.active_flows = s.flow.active;
        h.flows_created = s.flow.flows_created;
        h.flows_evicted = s.flow.evicted_table_full;
        h.reassembly_gaps = s.reassembly.gaps;
        h.reassembly_gap_bytes = s.reassembly.gap_bytes;
        h.decode_errors = s.decode.truncated + s.decode.bad_header + s.decode.unsupported_link;
        h.parse_errors = s.protocol.http.parse_errors;
        h.unpaired_requests = self.unpaired_requests;
        h.unpaired_responses = self.unpaired_responses;
        h.exchanges = self.exchanges;
        // One source in the agent's own model: read its counters without combining.
        h.learn_skipped = self.skipped
            + self
                .learner
                .model
                .sources
                .values()
                .map(|s| {
                    let st = &s.stats;
                    st.bad_target
                        + st.too_deep
                        + st.service_overflow
                        + st.node_overflow
                        + st.bad_method
                })
                .sum::<u64>();
        (h.learn_other, h.learn_compactions) = self
            .learner
            .model
            .sources
            .values()
            .fold((0, 0), |(o, c), s| {
                (o + s.stats.node_overflow, c + s.stats.compactions)
            });
        h.pending_routes = self.pending.len() as u64;
    }
}

/// A pipeline's work, whatever feeds it: a capture thread ([`Inline`]), live batches
/// ([`pipeline_thread`], `--queued`) or a capture file ([`replay`]). Time is given by the
/// caller: `mono` (time since the start, for the once-a-second tick and the snapshot
/// schedule) and `wall` (the clock flows expire on).
struct Worker {
    pipe: Pipeline,
    run: Run,
    events: Vec<HttpEvent>,
    snapshot_interval: Duration,
    last_tick: Duration,
    last_publish: Duration,
}

impl Worker {
    fn new(
        cfg: &AgentConfig,
        shared: Arc<Shared>,
        member: Option<(usize, Arc<fanout::Members>)>,
    ) -> Worker {
        let mut learner = Learner::new(cfg.learn.clone()).learn_all(cfg.learn_all);
        let pipe = Pipeline::with_gate(&cfg.pipeline, learner.gate());
        let heads = pipe.head_pool();
        Worker {
            pipe,
            run: Run {
                learner,
                obs: ObservationBuf::with_pool(heads),
                server_names: ServerNames::default(),
                memo: LabelMemo::default(),
                routes: RouteTable::default(),
                pending: Vec::new(),
                dirty: false,
                exchanges: 0,
                unpaired_requests: 0,
                unpaired_responses: 0,
                skipped: 0,
                shared,
                member,
            },
            events: Vec::with_capacity(256),
            snapshot_interval: cfg.snapshot_interval,
            last_tick: Duration::ZERO,
            last_publish: Duration::ZERO,
        }
    }

    /// Runs the packets of `batch` through the pipeline, learner and metrics.
    fn batch(&mut self, batch: &Batch) {
        for p in batch.packets() {
            self.push(&p);
        }
        self.run.on_events(&mut self.events);
    }

    /// Runs one packet through the pipeline; its exchanges are learned and recorded
    /// 64 at a time (the rest at the caller's next [`Run::on_events`]).
    fn push(&mut self, p: &crate::capture::Packet<'_>) {
        self.pipe.push(p, &mut self.events);
        if self.events.len() >= 64 {
            self.run.on_events(&mut self.events);
        }
    }

    /// Once a second: expires idle flows (at `wall`), refreshes health, beats; then takes
    /// a snapshot when due.
    fn tick(&mut self, mono: Duration, wall: impl FnOnce() -> Timestamp) {
        if mono.saturating_sub(self.last_tick) >= Duration::from_secs(1) {
            self.last_tick = mono;
            self.pipe.advance(wall(), &mut self.events);
            self.run.on_events(&mut self.events);
            self.run.update_health(&self.pipe);
            self.run.shared.beat();
        }
        let since = mono.saturating_sub(self.last_publish);
        if self.run.dirty
            && (since >= self.snapshot_interval
                || (!self.run.pending.is_empty() && since >= Duration::from_millis(250)))
        {
            self.last_publish = mono;
            self.run.publish();
        }
    }

    /// Flushes every flow, takes the last snapshot and returns the model.
    fn finish(mut self) -> ApiModel {
        self.pipe.flush(&mut self.events);
        self.run.on_events(&mut self.events);
        self.run.publish();
        self.run.update_health(&self.pipe);
        self.run.learner.model
    }
}

/// What a capture thread feeds: a pipeline thread's queue and batch pool (`--queued`), or
/// its own pipeline (the agent's settings, boxed to keep the variants close in size, and
/// its fanout member).
enum Feed {
    Queued(SyncSender<Batch>, Arc<Mutex<Receiver<Batch>>>),
    Inline(Box<AgentConfig>, Option<(usize, Arc<fanout::Members>)>),
}

/// A pipeline run on its capture thread (the default layout): each packet goes through the
/// pipeline as it is read from the ring, with no copy and no queue; the timers run when the
/// ring is empty and every [`INLINE_TICK`] packets.
struct Inline {
    w: Worker,
    start: Instant,
    /// Packets since the timers last ran.
    packets: u32,
}

/// Packets between two runs of an inline pipeline's timers under sustained load: the
/// largest batch of the queued layout (`BatchPolicy::max_packets`), whose pipeline thread
/// runs them after every batch, so a snapshot that is due comes no later than there (while
/// it is due, exchanges of new paths wait in the pending list, and beyond its bound go to
/// `_other`).
const INLINE_TICK: u32 = 256;

impl Inline {
    fn new(
        cfg: &AgentConfig,
        shared: Arc<Shared>,
        member: Option<(usize, Arc<fanout::Members>)>,
    ) -> Inline {
        Inline {
            w: Worker::new(cfg, shared, member),
            start: Instant::now(),
            packets: 0,
        }
    }
}

impl live::PacketSink for Inline {
    fn packet(&mut self, p: &crate::capture::Packet<'_>, counters: &IfaceCounters) {
        counters.count(p);
        self.w.push(p);
        self.packets += 1;
        if self.packets >= INLINE_TICK {
            self.idle();
        }
    }

    fn idle(&mut self) {
        self.packets = 0;
        let w = &mut self.w;
        w.run.on_events(&mut w.events);
        w.tick(self.start.elapsed(), now_ts);
    }
}

fn pipeline_thread(
    cfg: AgentConfig,
    rx: Receiver<Batch>,
    pool: SyncSender<Batch>,
    shared: Arc<Shared>,
    member: Option<(usize, Arc<fanout::Members>)>,
) -> ApiModel {
    let mut w = Worker::new(&cfg, shared, member);
    let start = Instant::now();
    loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(batch) => {
                w.batch(&batch);
                let _ = pool.try_send(batch);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        w.tick(start.elapsed(), now_ts);
    }
    w.finish()
}

/// Runs the live agent's pipeline over a capture file, for profiling (`apitap agent
/// --replay`-style benchmarks, `bench/replay.sh`): the packets pass the same kernel filter
/// expression (applied by libpcap) and go straight into the pipeline as a capture thread
/// gives them (`cfg.inline`, the default; the timers run where a queued batch would end),
/// or with `--queued` are first copied into [`Batch`]es under `cfg.batch` as a queued
/// capture thread does; then through the same pipeline, learner, route table and metrics
/// as in `apitap agent`, on the calling thread. The capture's own timestamps are
/// the clock (flow expiry, the once-a-second tick and the snapshot schedule), so a replay
/// is deterministic. Returns the final model and the shared state (metrics, health).
pub fn replay(cfg: &AgentConfig, path: &str) -> Result<(ApiModel, Arc<Shared>)> {
    use crate::capture::file::FileSource;
    let link = FileSource::open(path, None)?.link_type();
    let filter = live::kernel_filter(
        cfg.capture.filter.as_deref(),
        link == crate::capture::LinkType::ETHERNET,
    );
    let mut src = FileSource::open(path, Some(&filter))?;
    let shared = Arc::new(Shared::new(cfg));
    let counters = Arc::new(IfaceCounters::new("replay"));
    counters.running.store(true, Ordering::Relaxed);
    *shared
        .ifaces
        .write()
        .unwrap_or_else(PoisonError::into_inner) = vec![Arc::clone(&counters)];
    let mut w = Worker::new(cfg, Arc::clone(&shared), None);
    let policy = cfg.batch;
    let mut batch = Batch::with_capacity(policy.max_packets, policy.max_bytes.min(64 << 10));
    batch.link = link;
    let mut first: Option<Timestamp> = None;
    let mut last = Timestamp::from_nanos(0, 0);
    let flush = |w: &mut Worker, batch: &mut Batch, last: Timestamp, first: Timestamp| {
        if !batch.is_empty() {
            w.batch(batch);
            batch.clear();
        }
        w.run.on_events(&mut w.events);
        let mono = last.as_nanos().saturating_sub(first.as_nanos()).max(0) as u64;
        w.tick(Duration::from_nanos(mono), || last);
    };
    // inline: the packets and bytes since the timers last ran, and the first one's time
    let (mut run_packets, mut run_bytes, mut run_first) = (0, 0, None::<Timestamp>);
    while let Some(p) = src.next_packet()? {
        let t0 = *first.get_or_insert(p.ts);
        last = p.ts;
        if cfg.inline {
            // as `Inline` does: no copy. The timers run where the queued layout's batch
            // would end (a live inline thread runs them when the ring is empty, which a
            // file does not tell), so both layouts replay to the same routes and metrics.
            counters.count(&p);
            w.push(&p);
            let since = *run_first.get_or_insert(p.ts);
            run_packets += 1;
            run_bytes += p.data.len();
            if policy.due(
                run_packets,
                run_bytes,
                last.as_nanos().saturating_sub(since.as_nanos()),
            ) {
                (run_packets, run_bytes, run_first) = (0, 0, None);
                flush(&mut w, &mut batch, last, t0);
            }
        } else if batch.take(&p, &counters, &policy) {
            flush(&mut w, &mut batch, last, t0);
        }
    }
    flush(&mut w, &mut batch, last, first.unwrap_or(last));
    let model = w.finish();
    counters.running.store(false, Ordering::Relaxed);
    Ok((model, shared))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(m: &mut metrics::HttpMetrics) -> metrics::Labels {
        m.labels("svc", "/r")
    }

    #[test]
    fn label_memo_stays_within_its_byte_bound() {
        let mut http = metrics::HttpMetrics::default();
        let l = labels(&mut http);
        let mut memo = LabelMemo::default();
        let long = "x".repeat(MAX_MEMO_TARGET);
        for i in 0..MAX_MEMO * 2 {
            let t = format!("/{i}{long}");
            memo.insert("svc", &t[..MAX_MEMO_TARGET], l);
            assert!(memo.bytes <= MAX_MEMO_BYTES, "{} bytes", memo.bytes);
            assert!(memo.len <= MAX_MEMO);
        }
        // A target over the per-target limit is never kept.
        memo.clear();
        memo.insert("svc", &format!("/{long}"), l);
        assert_eq!(memo.len, 0);
        assert!(memo.get("svc", &format!("/{long}")).is_none());
        memo.insert("svc", "/short", l);
        assert_eq!(memo.get("svc", "/short"), Some(l));
    }
}
