//! The model pusher: periodic, compressed, authenticated pushes of the model to
//! `POST {upstream}/v1/services/{service}/models`, with a bounded spool (see the policy in
//! the [module doc](super)).

use super::{deadline_of, now_unix_ms, sleep_or_stop, Backoff, SnapshotFn, UpstreamConfig};
use anyhow::{Context, Result};
use apitap_exposition::Family;
use apitap_model::ApiModel;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{
    AtomicI64, AtomicU64,
    Ordering::{Relaxed, Release},
};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Counters and gauges of the pusher (atomics: read them from any thread).
#[derive(Debug, Default)]
pub struct PushStats {
    /// Successful pushes. Counted (with `Release`) after the spool and the other gauges
    /// are settled, so a reader that loads it with `Acquire` sees them settled too.
    pub ok: AtomicU64,
    /// Failed attempts: no connection, timeout.
    pub failed_network: AtomicU64,
    /// Failed attempts: non-2xx answer.
    pub failed_status: AtomicU64,
    /// Compressed bytes sent in successful pushes.
    pub bytes_sent: AtomicU64,
    /// Size of the spool file (0 = empty).
    pub spool_bytes: AtomicU64,
    /// Unix ms of the oldest unsent data (0 = nothing unsent).
    pub unsent_since_unix_ms: AtomicI64,
    /// Spool writes.
    pub spool_writes: AtomicU64,
    /// Spool writes that kept only the newest snapshot because of `--spool-max-bytes`.
    pub spool_truncated: AtomicU64,
    /// Spool write/read errors (including a corrupt spool file, which is set aside).
    pub spool_errors: AtomicU64,
    /// Unix ms of the last successful push (0 = never).
    pub last_success_unix_ms: AtomicI64,
    /// Checkpoints of unpushed learning written to the spool.
    pub checkpoints: AtomicU64,
}

impl PushStats {
    /// The pusher's metric families.
    pub fn families(&self) -> Vec<Family> {
        let g = |v: &AtomicU64| v.load(Relaxed);
        let mut pushes = Family::counter(
            "apitap_upstream_pushes",
            "Model pushes to the collector by result.",
        );
        for (r, v) in [
            ("ok", &self.ok),
            ("network_error", &self.failed_network),
            ("http_error", &self.failed_status),
        ] {
            pushes.number(&[("result", r)], g(v));
        }
        let since = self.unsent_since_unix_ms.load(Relaxed);
        let age = if since > 0 {
            (now_unix_ms() - since).max(0) as f64 / 1000.0
        } else {
            0.0
        };
        let last = self.last_success_unix_ms.load(Relaxed) as f64 / 1000.0;
        vec![
            pushes,
            Family::counter(
                "apitap_upstream_pushed_bytes",
                "Compressed model bytes pushed.",
            )
            .with(g(&self.bytes_sent)),
            Family::gauge(
                "apitap_upstream_spool_bytes",
                "Size of the on-disk spool of unsent model data.",
            )
            .with(g(&self.spool_bytes)),
            Family::gauge(
                "apitap_upstream_spool_age_seconds",
                "Age of the oldest unsent model data (0 when all is delivered).",
            )
            .with(age),
            Family::counter("apitap_upstream_spool_writes", "Spool file writes.")
                .with(g(&self.spool_writes)),
            Family::counter(
                "apitap_upstream_spool_truncated",
                "Spool writes that kept only the newest snapshot (size cap).",
            )
            .with(g(&self.spool_truncated)),
            Family::counter(
                "apitap_upstream_checkpoints",
                "Checkpoints of unpushed learning written to the spool.",
            )
            .with(g(&self.checkpoints)),
            Family::counter("apitap_upstream_spool_errors", "Spool I/O errors.")
                .with(g(&self.spool_errors)),
            Family::gauge(
                "apitap_upstream_last_success_timestamp_seconds",
                "Time of the last successful push.",
            )
            .with(last),
        ]
    }
}

/// The on-disk spool: one gzip file per service holding the join of all unsent snapshots.
///
/// File format (gzip-compressed): line 1 `{"unsent_since_unix_ms":N}`, then the native model
/// JSON. Written atomically: `NAME.tmp`, fsync, rename over `NAME`, fsync of the directory.
#[derive(Debug)]
pub struct Spool {
    path: PathBuf,
    max_bytes: u64,
}

impl Spool {
    /// The spool of `service` in `dir` (created if missing).
    pub fn new(dir: &Path, service: &str, max_bytes: u64) -> Result<Spool> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create spool dir {}", dir.display()))?;
        let safe: String = service
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        Ok(Spool {
            path: dir.join(format!("{safe}.model.json.gz")),
            max_bytes,
        })
    }

    /// The spool file path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the spool: `(model, unsent_since_unix_ms)`, or `None` when empty. A corrupt file
    /// is renamed to `*.corrupt` and reported as an error.
    pub fn load(&self) -> Result<Option<(ApiModel, i64)>> {
        let f = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).context("cannot open spool"),
        };
        let mut text = String::new();
        let parsed = flate2::read::GzDecoder::new(f)
            .read_to_string(&mut text)
            .map_err(anyhow::Error::from)
            .and_then(|_| {
                let (head, model) = text.split_once('\n').context("no header line")?;
                let h: serde_json::Value = serde_json::from_str(head)?;
                let since = h
                    .get("unsent_since_unix_ms")
                    .and_then(|v| v.as_i64())
                    .unwrap_or_else(now_unix_ms);
                let m = ApiModel::from_json(model).map_err(|e| anyhow::anyhow!("{e}"))?;
                Ok((m, since))
            });
        match parsed {
            Ok(v) => Ok(Some(v)),
            Err(e) => {
                let aside = self.path.with_extension("corrupt");
                let _ = std::fs::rename(&self.path, &aside);
                Err(e.context(format!("corrupt spool file moved to {}", aside.display())))
            }
        }
    }

    fn encode(model: &ApiModel, since: i64) -> Result<Vec<u8>> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        writeln!(gz, "{{\"unsent_since_unix_ms\":{since}}}")?;
        gz.write_all(model.to_json().as_bytes())?;
        Ok(gz.finish()?)
    }

    /// Writes `join` (all unsent data); if that exceeds the cap, writes `newest` instead
    /// (returns `Ok(true)` then). Returns the file size in `size`.
    pub fn store(
        &self,
        join: &ApiModel,
        newest: &ApiModel,
        since: i64,
        size: &mut u64,
    ) -> Result<bool> {
        let mut bytes = Self::encode(join, since)?;
        let mut truncated = false;
        if bytes.len() as u64 > self.max_bytes && join != newest {
            bytes = Self::encode(newest, since)?;
            truncated = true;
        }
        if bytes.len() as u64 > self.max_bytes {
            anyhow::bail!(
                "model of {} bytes exceeds the spool cap of {} bytes",
                bytes.len(),
                self.max_bytes
            );
        }
        let tmp = self.path.with_extension("tmp");
        {
            let mut f = std::fs::File::create(&tmp)
                .with_context(|| format!("cannot create {}", tmp.display()))?;
            f.write_all(&bytes)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &self.path)?;
        if let Some(dir) = self.path.parent() {
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        *size = bytes.len() as u64;
        Ok(truncated)
    }

    /// Removes the spool file.
    pub fn clear(&self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Pushes model snapshots to the collector (see the [module doc](super)).
pub struct ModelPusher {
    client: reqwest::Client,
    url: String,
    token: Option<String>,
    interval: Duration,
    checkpoint_interval: Option<Duration>,
    backoff: Backoff,
    snapshot: SnapshotFn,
    spool: Option<Spool>,
    /// Join of all unsent snapshots.
    pending: Option<ApiModel>,
    stats: Arc<PushStats>,
}

/// How one attempt ended.
#[derive(Debug)]
pub enum PushError {
    /// No connection, timeout, or I/O error.
    Network(String),
    /// The collector answered with an error status.
    Status(u16, String),
}

impl std::fmt::Display for PushError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PushError::Network(e) => write!(f, "{e}"),
            PushError::Status(s, b) => write!(f, "HTTP {s}: {b}"),
        }
    }
}

impl ModelPusher {
    /// A pusher to collector `base_url` configured by `cfg`; loads the spool if any.
    pub fn new(cfg: &UpstreamConfig, base_url: &str, snapshot: SnapshotFn) -> Result<Self> {
        let service = cfg.service_name();
        anyhow::ensure!(
            apitap_collector::valid_service(&service),
            "invalid service name {service:?}: use 1 to 253 characters of [A-Za-z0-9._:-]"
        );
        let url = format!(
            "{}/v1/services/{}/models",
            base_url.trim_end_matches('/'),
            service
        );
        let client = reqwest::Client::builder()
            .timeout(cfg.push_timeout)
            .connect_timeout(cfg.push_timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("apitap/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("cannot build HTTP client")?;
        let stats = Arc::new(PushStats::default());
        let spool = match &cfg.spool_dir {
            Some(d) => Some(Spool::new(d, &service, cfg.spool_max_bytes)?),
            None => None,
        };
        let mut pending = None;
        if let Some(s) = &spool {
            match s.load() {
                Ok(Some((m, since))) => {
                    tracing::info!(path = %s.path().display(), "resending spooled model");
                    stats.unsent_since_unix_ms.store(since, Relaxed);
                    stats.spool_bytes.store(
                        std::fs::metadata(s.path()).map(|m| m.len()).unwrap_or(0),
                        Relaxed,
                    );
                    pending = Some(m);
                }
                Ok(None) => {}
                Err(e) => {
                    stats.spool_errors.fetch_add(1, Relaxed);
                    tracing::error!("{e:#}");
                }
            }
        }
        let base = (cfg.push_interval / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
        Ok(ModelPusher {
            client,
            url,
            token: cfg.bearer()?,
            interval: cfg.push_interval,
            checkpoint_interval: (!cfg.checkpoint_interval.is_zero() && spool.is_some())
                .then_some(cfg.checkpoint_interval.max(Duration::from_millis(100))),
            backoff: Backoff::new(base, cfg.push_max_backoff),
            snapshot,
            spool,
            pending,
            stats,
        })
    }

    /// The pusher's counters.
    pub fn stats(&self) -> Arc<PushStats> {
        self.stats.clone()
    }

    /// The push URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Is there unsent data (from a failed attempt or the spool)?
    pub fn has_pending(&self) -> bool {
        self.pending.is_some()
    }

    async fn send(&self, body: Vec<u8>) -> Result<(), PushError> {
        let mut req = self
            .client
            .post(&self.url)
            .header("Content-Type", "application/json")
            .header("Content-Encoding", "gzip")
            .body(body);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| PushError::Network(format!("{e:#}")))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let text = resp.text().await.unwrap_or_default();
        Err(PushError::Status(
            status.as_u16(),
            text.chars().take(500).collect(),
        ))
    }

    /// One attempt: snapshot, join with the unsent data, push; on failure keep the join and
    /// spool it.
    pub async fn push_now(&mut self) -> Result<(), PushError> {
        let snap = {
            let f = self.snapshot.clone();
            tokio::task::spawn_blocking(move || f())
                .await
                .map_err(|e| PushError::Network(format!("snapshot failed: {e}")))?
        };
        // `pending` always holds all unsent data, also if this future is cancelled.
        let join = match &self.pending {
            Some(p) => p.merged(&snap),
            None => snap.clone(),
        };
        self.pending = Some(join.clone());
        let body = {
            let json = join.to_json();
            let mut gz = flate2::write::GzEncoder::new(
                Vec::with_capacity(json.len() / 4),
                flate2::Compression::default(),
            );
            gz.write_all(json.as_bytes())
                .and_then(|_| gz.finish())
                .map_err(|e| PushError::Network(format!("gzip failed: {e}")))?
        };
        let n = body.len() as u64;
        match self.send(body).await {
            Ok(()) => {
                // Settled first, counted last: see `PushStats::ok`.
                if let Some(s) = &self.spool {
                    if self.stats.spool_bytes.load(Relaxed) > 0 {
                        s.clear();
                    }
                }
                self.stats.spool_bytes.store(0, Relaxed);
                self.stats.unsent_since_unix_ms.store(0, Relaxed);
                self.stats.bytes_sent.fetch_add(n, Relaxed);
                self.stats
                    .last_success_unix_ms
                    .store(now_unix_ms(), Relaxed);
                self.pending = None;
                self.stats.ok.fetch_add(1, Release);
                Ok(())
            }
            Err(e) => {
                match &e {
                    PushError::Network(_) => self.stats.failed_network.fetch_add(1, Relaxed),
                    PushError::Status(..) => self.stats.failed_status.fetch_add(1, Relaxed),
                };
                let _ = self.stats.unsent_since_unix_ms.compare_exchange(
                    0,
                    now_unix_ms(),
                    Relaxed,
                    Relaxed,
                );
                self.spool(&join, &snap);
                Err(e)
            }
        }
    }

    /// Checkpoint: the join of the unsent data and a fresh snapshot goes to the spool (and
    /// becomes the unsent data), so a SIGKILL loses at most one checkpoint interval.
    pub async fn checkpoint(&mut self) {
        let Some(s) = &self.spool else { return };
        let f = self.snapshot.clone();
        let Ok(snap) = tokio::task::spawn_blocking(move || f()).await else {
            return;
        };
        let join = match &self.pending {
            Some(p) => p.merged(&snap),
            None => snap.clone(),
        };
        let since = match self.stats.unsent_since_unix_ms.load(Relaxed) {
            0 => now_unix_ms(),
            t => t,
        };
        let mut size = 0;
        match s.store(&join, &snap, since, &mut size) {
            Ok(truncated) => {
                self.stats.checkpoints.fetch_add(1, Relaxed);
                self.stats.spool_writes.fetch_add(1, Relaxed);
                self.stats.spool_bytes.store(size, Relaxed);
                if truncated {
                    self.stats.spool_truncated.fetch_add(1, Relaxed);
                }
            }
            Err(err) => {
                self.stats.spool_errors.fetch_add(1, Relaxed);
                tracing::error!("cannot checkpoint the model: {err:#}");
            }
        }
        self.pending = Some(join);
    }

    /// Writes the unsent data to the spool (if any is configured).
    fn spool(&self, join: &ApiModel, newest: &ApiModel) {
        let Some(s) = &self.spool else { return };
        let _ =
            self.stats
                .unsent_since_unix_ms
                .compare_exchange(0, now_unix_ms(), Relaxed, Relaxed);
        let mut size = 0;
        let since = self.stats.unsent_since_unix_ms.load(Relaxed);
        match s.store(join, newest, since, &mut size) {
            Ok(truncated) => {
                self.stats.spool_writes.fetch_add(1, Relaxed);
                self.stats.spool_bytes.store(size, Relaxed);
                if truncated {
                    self.stats.spool_truncated.fetch_add(1, Relaxed);
                }
            }
            Err(err) => {
                self.stats.spool_errors.fetch_add(1, Relaxed);
                tracing::error!("cannot spool the model: {err:#}");
            }
        }
    }

    /// Pushes until success or `deadline`, with backoff; on giving up the data is spooled.
    pub async fn flush_now(&mut self, deadline: Instant) -> Result<(), PushError> {
        let mut b = self.backoff.clone();
        b.reset();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let r = match tokio::time::timeout(left.max(Duration::from_millis(1)), self.push_now())
                .await
            {
                Ok(r) => r,
                Err(_) => {
                    // Cancelled mid-attempt: make sure the unsent data is on disk.
                    if let Some(p) = &self.pending {
                        self.spool(p, p);
                    }
                    Err(PushError::Network("shutdown deadline reached".into()))
                }
            };
            match r {
                Ok(()) => return Ok(()),
                Err(e) => {
                    let wait = b.fail();
                    if Instant::now() + wait >= deadline {
                        return Err(e);
                    }
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// Runs until a stop is requested, then flushes within the requested deadline.
    pub async fn run(mut self, mut stop: watch::Receiver<Option<Instant>>) {
        let mut next = if self.pending.is_some() {
            tokio::time::Instant::now()
        } else {
            tokio::time::Instant::now() + self.interval
        };
        let mut next_ckpt = self
            .checkpoint_interval
            .map(|d| tokio::time::Instant::now() + d);
        loop {
            let wake = next_ckpt.map_or(next, |c| c.min(next));
            if sleep_or_stop(wake, &mut stop).await {
                break;
            }
            if let (Some(c), Some(d)) = (next_ckpt, self.checkpoint_interval) {
                if tokio::time::Instant::now() >= c {
                    self.checkpoint().await;
                    next_ckpt = Some(tokio::time::Instant::now() + d);
                }
            }
            if tokio::time::Instant::now() < next {
                continue;
            }
            match self.push_now().await {
                Ok(()) => {
                    self.backoff.reset();
                    next = tokio::time::Instant::now() + self.interval;
                }
                Err(e) => {
                    let wait = self.backoff.fail();
                    if self.backoff.failures == 1 || self.backoff.failures.is_multiple_of(20) {
                        tracing::warn!(url = %self.url, failures = self.backoff.failures,
                            "model push failed (retrying in {wait:?}): {e}");
                    }
                    next = tokio::time::Instant::now() + wait;
                }
            }
        }
        let deadline = deadline_of(&stop);
        if let Err(e) = self.flush_now(deadline).await {
            tracing::warn!(url = %self.url, "final model push failed, data kept in the spool: {e}");
        }
    }
}
