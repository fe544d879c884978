//! Pushing upstream: the learned model to an `apitap collector` ([`push`]) and the agent's
//! metrics by Prometheus remote write ([`remote_write`]).
//!
//! Both run on one dedicated thread with a small single-threaded tokio runtime started by
//! [`spawn`], so they depend on nothing of the caller but two functions: one returning a
//! snapshot of the model, one returning the metrics as typed families.
//! [`UpstreamHandle::shutdown`] makes a last push of both within a deadline.
//!
//! # Reliability policy
//!
//! - Every failure (connection refused, timeout, any non-2xx answer) is retried with
//!   exponential backoff and full jitter ([`Backoff`]): sleep a uniform random time in
//!   `[0, min(max, base·2^failures)]`.
//! - Models: a model snapshot of one agent is monotone (a later snapshot contains the earlier
//!   one) and models merge by a join, so resending is harmless and *the join of everything
//!   unsent is all that needs to be kept*. The pusher keeps that join in memory and, when a
//!   spool directory is set, in one gzip file per service written atomically (temp file,
//!   fsync, rename) after every failed attempt. The spool is thus bounded by the size of one
//!   model (itself bounded by the model's caps), whatever the outage length; it is read back
//!   at start, so a restart of the agent loses nothing that was spooled. If the file would
//!   exceed `--spool-max-bytes`, only the newest snapshot is spooled (it supersedes older
//!   snapshots of the same source) and `spool_truncated` counts it.
//! - **Checkpoints**: with a spool directory, every `--checkpoint-interval` (default 10 s)
//!   the pusher also writes the join of the unsent data and a fresh snapshot to the spool, in
//!   the same crash-safe way, whether or not the collector is reachable. A SIGKILL therefore
//!   loses at most one checkpoint interval of learning (plus the time of one write); the next
//!   run (with its own source id) resends the spool at start. Checkpoints are counted
//!   (`apitap_upstream_checkpoints_total`) and do not mark data as unsent.
//! - Metrics: remote-write batches queue in memory (at most `--remote-write-buffer`
//!   batches; the oldest is dropped and counted when full). A 4xx answer other than 429 is
//!   permanent (the receiver will never accept that batch, e.g. out-of-order samples): the
//!   batch is dropped and counted; everything else is retried.

pub mod push;
pub mod remote_write;

use anyhow::{Context, Result};
use apitap_model::ApiModel;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use push::{ModelPusher, PushStats};
pub use remote_write::{RemoteWriteStats, RemoteWriter};

/// Returns a snapshot of the agent's model (cheap enough to call once per push interval).
pub type SnapshotFn = Arc<dyn Fn() -> ApiModel + Send + Sync>;
/// Returns the agent's metrics as typed families (what remote write sends).
pub type MetricsFn = Arc<dyn Fn() -> apitap_exposition::Exposition + Send + Sync>;

/// Upstream settings (the binary's `apitap agent` and `apitap push` flags fill them).
#[derive(Debug, Clone)]
pub struct UpstreamConfig {
    /// Collector base URL to push the model to, e.g. `http://apitap-collector:9470`.
    pub upstream: Option<String>,
    /// Service name under which the model is pushed (and the `service` metric label); set
    /// from the agent's own `--service`.
    pub service: Option<String>,
    /// Bearer token for the collector.
    pub token: Option<String>,
    /// File holding the bearer token (e.g. a mounted Kubernetes secret); read at start.
    pub token_file: Option<PathBuf>,
    /// Push interval for the model and remote write, e.g. `60s`, `500ms`.
    pub push_interval: Duration,
    /// Longest wait between retries (the backoff cap).
    pub push_max_backoff: Duration,
    /// Timeout of one push request.
    pub push_timeout: Duration,
    /// Directory for the on-disk spool of unsent models (memory only when unset).
    pub spool_dir: Option<PathBuf>,
    /// With `--spool-dir`: how often unpushed learning is checkpointed to the spool (so a
    /// SIGKILL loses at most this much); `0s` turns checkpoints off.
    pub checkpoint_interval: Duration,
    /// Largest spool file, bytes (see the module doc).
    pub spool_max_bytes: u64,
    /// Prometheus remote-write URL, e.g. `http://prometheus:9090/api/v1/write`.
    pub remote_write: Option<String>,
    /// Extra HTTP header for remote write, `Name: value` (repeatable), e.g. `X-Scope-OrgID: t1`.
    pub remote_write_headers: Vec<String>,
    /// Remote-write batches buffered while the receiver is unreachable (oldest dropped).
    pub remote_write_buffer: usize,
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        UpstreamConfig {
            upstream: None,
            service: None,
            token: None,
            token_file: None,
            push_interval: Duration::from_secs(60),
            push_max_backoff: Duration::from_secs(30),
            push_timeout: Duration::from_secs(10),
            spool_dir: None,
            checkpoint_interval: Duration::from_secs(10),
            spool_max_bytes: 64 << 20,
            remote_write: None,
            remote_write_headers: Vec::new(),
            remote_write_buffer: 120,
        }
    }
}

impl UpstreamConfig {
    /// Anything to do?
    pub fn enabled(&self) -> bool {
        self.upstream.is_some() || self.remote_write.is_some()
    }

    /// The bearer token, from `--token` or `--token-file`.
    pub fn bearer(&self) -> Result<Option<String>> {
        if let Some(t) = &self.token {
            return Ok(Some(t.clone()));
        }
        match &self.token_file {
            Some(p) => Ok(Some(
                std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read token file {}", p.display()))?
                    .trim()
                    .to_string(),
            )),
            None => Ok(None),
        }
    }

    /// The service name: `--service`, else `APITAP_SERVICE` (read with the flags), else
    /// the host name.
    pub fn service_name(&self) -> String {
        self.service
            .clone()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_else(|| "unknown".into())
    }
}

/// Exponential backoff with full jitter.
#[derive(Debug, Clone)]
pub struct Backoff {
    /// First step.
    pub base: Duration,
    /// Cap.
    pub max: Duration,
    /// Consecutive failures so far.
    pub failures: u32,
}

impl Backoff {
    /// A backoff from `base` up to `max`.
    pub fn new(base: Duration, max: Duration) -> Self {
        Backoff {
            base,
            max: max.max(base),
            failures: 0,
        }
    }

    /// Records a failure and returns how long to wait before the next attempt.
    pub fn fail(&mut self) -> Duration {
        self.failures = self.failures.saturating_add(1);
        let exp = self.failures.saturating_sub(1).min(30);
        let ceil = self
            .base
            .saturating_mul(1u32 << exp.min(31))
            .min(self.max)
            .as_millis() as u64;
        Duration::from_millis(rand::random_range(0..=ceil))
    }

    /// Records a success.
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

fn now_unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// What [`spawn`] started.
pub struct UpstreamHandle {
    stop: tokio::sync::watch::Sender<Option<Instant>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Model push counters (when `--upstream` is set).
    pub push_stats: Option<Arc<PushStats>>,
    /// Remote-write counters (when `--remote-write` is set).
    pub remote_write_stats: Option<Arc<RemoteWriteStats>>,
}

impl UpstreamHandle {
    /// The upstream metric families (pusher and remote writer, whichever run).
    pub fn families(&self) -> Vec<apitap_exposition::Family> {
        let mut out = Vec::new();
        if let Some(s) = &self.push_stats {
            out.extend(s.families());
        }
        if let Some(s) = &self.remote_write_stats {
            out.extend(s.families());
        }
        out
    }

    /// Makes a last push of the model and the metrics, giving up (and spooling) at
    /// `deadline` from now, then stops. Blocks: from async code, call it in `spawn_blocking`.
    pub fn shutdown(mut self, deadline: Duration) {
        let _ = self.stop.send(Some(Instant::now() + deadline));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for UpstreamHandle {
    fn drop(&mut self) {
        if self.thread.is_some() {
            let _ = self.stop.send(Some(Instant::now()));
        }
    }
}

/// Starts the model pusher and the remote writer (whichever is configured) on their own
/// thread. `snapshot` and `metrics` are called from that thread.
pub fn spawn(
    cfg: &UpstreamConfig,
    snapshot: SnapshotFn,
    metrics: MetricsFn,
) -> Result<UpstreamHandle> {
    let (stop, stop_rx) = tokio::sync::watch::channel(None);
    let pusher = match &cfg.upstream {
        Some(url) => Some(ModelPusher::new(cfg, url, snapshot)?),
        None => None,
    };
    let writer = match &cfg.remote_write {
        Some(url) => Some(RemoteWriter::new(cfg, url, metrics)?),
        None => None,
    };
    let push_stats = pusher.as_ref().map(|p| p.stats());
    let remote_write_stats = writer.as_ref().map(|w| w.stats());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the upstream runtime")?;
    let thread = std::thread::Builder::new()
        .name("apitap-upstream".into())
        .spawn(move || {
            rt.block_on(async move {
                let a = async {
                    if let Some(p) = pusher {
                        p.run(stop_rx.clone()).await;
                    }
                };
                let b = async {
                    if let Some(w) = writer {
                        w.run(stop_rx.clone()).await;
                    }
                };
                tokio::join!(a, b);
            });
        })
        .context("cannot start the upstream thread")?;
    Ok(UpstreamHandle {
        stop,
        thread: Some(thread),
        push_stats,
        remote_write_stats,
    })
}

/// Waits until `at` or until a stop is requested; true if stopped.
async fn sleep_or_stop(
    at: tokio::time::Instant,
    stop: &mut tokio::sync::watch::Receiver<Option<Instant>>,
) -> bool {
    if stop.borrow().is_some() {
        return true;
    }
    tokio::select! {
        _ = tokio::time::sleep_until(at) => stop.borrow().is_some(),
        r = stop.changed() => r.is_err() || stop.borrow().is_some(),
    }
}

/// The shutdown deadline requested (now if the handle was dropped).
fn deadline_of(stop: &tokio::sync::watch::Receiver<Option<Instant>>) -> Instant {
    stop.borrow().unwrap_or_else(Instant::now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(1000));
        let mut max_seen = Duration::ZERO;
        for i in 1..=20u32 {
            let d = b.fail();
            let ceil = Duration::from_millis((100u64 << (i - 1).min(20)).min(1000));
            assert!(d <= ceil, "attempt {i}: {d:?} > {ceil:?}");
            max_seen = max_seen.max(d);
        }
        assert!(max_seen <= Duration::from_millis(1000));
        assert_eq!(b.failures, 20);
        b.reset();
        assert_eq!(b.failures, 0);
        assert!(b.fail() <= Duration::from_millis(100));
    }

    #[test]
    fn backoff_is_jittered() {
        let mut b = Backoff::new(Duration::from_millis(1000), Duration::from_secs(60));
        let waits: std::collections::BTreeSet<u128> = (0..20)
            .map(|_| {
                b.reset();
                b.fail().as_millis()
            })
            .collect();
        assert!(waits.len() > 5, "no jitter: {waits:?}");
    }
}
