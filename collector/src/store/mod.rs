//! Where source models, service bookkeeping and spec versions live.
//!
//! Two backends hold the rows ([`Rows`]); the logic on top of them ([`Engine`]) is shared:
//! - [`redb`] (the default): an embedded, crash-safe file in `--data-dir`, no setup, one
//!   collector process;
//! - [`postgres`]: a PostgreSQL (or PostgreSQL-protocol) database given by
//!   `--store postgres://…`, shared by any number of collector replicas.
//!
//! # Layout
//!
//! - **One row per (service, source)**: the source's model (the join of every push of that
//!   source), its revision (incremented on every change), exchanges observed, pushes counted
//!   and last push time.
//! - **One row per service**: the spec bookkeeping (latest version, hash of its spec, endpoint
//!   count, the generation it was checked at, when) and pushes that carried no source.
//! - **Versions**: (service, n) → the OpenAPI export without evidence.
//!
//! # Policy
//!
//! - **A push touches only its own sources' rows.** For each source in the push it reads that
//!   row's revision (and the model, unless the source cache holds that revision), merges
//!   outside any transaction, then writes in one short transaction, each changed row
//!   conditioned on the revision it read (an insert for a new source). If another writer got
//!   there first the transaction is abandoned and the push merged again from the newer row:
//!   a retry is safe because merge is a join. The push's cost is that of its own sources,
//!   whatever the number of other sources of the service. A push is counted on the row of its
//!   first source (by name), so pushes of different sources never write the same row.
//! - **The generation** of a service is the sum of its sources' revisions: it grows with every
//!   change, no row is written to bump it, and one read of the (source, revision) pairs gives
//!   it together with the exact revision set.
//! - **Reads merge.** The merged model of a service (all sources kept apart) is built from the
//!   source models at the revision set just read, and cached keyed by that set: a read at an
//!   unchanged set costs one small query; after a change only the changed sources are read.
//! - **Spec versions are recorded by a settle step**, not by pushes. Settling a service
//!   merges its sources at the current generation, exports the spec without evidence and,
//!   when its hash differs from the last version's, records a new version — in one
//!   transaction that also stores the generation checked, conditioned on the generation the
//!   settler read, so concurrent settlers (threads or replicas) never record the same change
//!   twice and the checked generation only grows. A settle runs:
//!   - when a read needs the history: `versions`, `version`, `diff` and the page's services
//!     settle first, so a read after an acknowledged push sees its version (on any replica);
//!   - in the background, [`StoreConfig::settle_delay`] after the first unsettled push to a
//!     service on this replica, skipped while another settle of the service (any replica) is
//!     more recent than that delay: per service at most about one background settle per delay
//!     across the replicas, whatever the number of pushes or sources;
//!   - for services left unsettled by a replica that died, found by a scan every
//!     [`SCAN_EVERY`] delays.
//!
//!   The background queue holds at most [`MAX_PENDING_SETTLES`] services per replica; a
//!   service that finds it full is not queued (counted in
//!   [`Engine::deferred_settles`], logged once) and is settled by the next scan or read
//!   instead, since it stays unsettled in the store.
//!
//!   Guarantee: every spec a settle saw is the spec of a state that existed (a set of
//!   committed pushes), versions follow one another in generation order, and the latest
//!   version reflects every push acknowledged before the last settle. Pushes close together
//!   may share one version (the history records spec changes, not pushes). The `endpoints`
//!   and `latest_version` of the service list are as of the last settle; its `pushes`,
//!   `observed` and `sources` are exact.
//! - **The answer follows the commit**: an acknowledged push is durable.
//! - **Memory**: models are not all kept in RAM. The source cache holds at most
//!   [`SOURCES_PER_MODEL`] × `cache_models` source models and the merged cache `cache_models`
//!   merged models, least recently used evicted; a miss is read back from the store.

pub mod postgres;
pub mod redb;

use anyhow::Result;
use apitap_model::paths::TemplateRules;
use apitap_model::{ApiModel, ExportOptions};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

/// Source models cached per merged model of `cache_models`.
pub const SOURCES_PER_MODEL: usize = 32;

/// The scan for services left unsettled (a replica died before settling) runs every this many
/// settle delays.
pub const SCAN_EVERY: u32 = 4;

/// Services queued for a background settle on one replica, at most (see the module doc).
pub const MAX_PENDING_SETTLES: usize = 100_000;

/// Attempts per push or settle before giving up (each lost race means another writer
/// progressed).
const MAX_ATTEMPTS: usize = 50;

/// Store limits.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Spec versions kept per service (oldest pruned first).
    pub max_versions: u64,
    /// Merged models kept in memory (least recently used evicted first).
    pub cache_models: usize,
    /// A reviewed templates file (`--templates`): the versioned specs and endpoint counts
    /// follow it; the stored evidence does not change.
    pub templates: Arc<TemplateRules>,
    /// Background settle delay after a service's first unsettled push (see the module doc).
    pub settle_delay: Duration,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            max_versions: 100,
            cache_models: 16,
            templates: Arc::default(),
            settle_delay: Duration::from_secs(30),
        }
    }
}

/// Per-service bookkeeping, as listed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceMeta {
    /// Accepted pushes (including ones that changed nothing).
    pub pushes: u64,
    /// Time of the last accepted push, unix ms.
    pub last_push_unix_ms: i64,
    /// Newest spec version number (1-based; 0 = none yet), as of the last settle.
    pub latest_version: u64,
    /// Endpoints in the merged model, as of the last settle.
    pub endpoints: u64,
    /// Exchanges observed, summed over sources.
    pub observed: u64,
    /// Distinct sources (agents) merged.
    pub sources: u64,
    /// Generation: the sum of the sources' revisions.
    #[serde(default)]
    pub rev: u64,
    /// Stable hash of the latest version's spec text (0 = none).
    #[serde(default)]
    pub spec_hash: u64,
}

/// The service row.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceRow {
    /// Pushes that carried no source (and, after a migration, pushes counted before it).
    pub pushes: u64,
    /// Time of the last such push, unix ms.
    pub last_push_unix_ms: i64,
    /// Newest spec version number (0 = none yet).
    pub latest_version: u64,
    /// Stable hash of the latest version's spec text (0 = none).
    pub spec_hash: u64,
    /// Endpoints at the last settle.
    pub endpoints: u64,
    /// Generation the last settle checked.
    pub checked_gen: u64,
    /// When the last settle ran, unix ms.
    pub settled_unix_ms: i64,
}

/// A (service, source) row without its model.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SourceRow {
    /// Source (agent) name.
    #[serde(skip)]
    pub source: String,
    /// Revision of the source's model (1 when created).
    pub rev: u64,
    /// Exchanges observed by this source.
    pub observed: u64,
    /// Pushes counted on this row.
    pub pushes: u64,
    /// Last push that touched this row, unix ms.
    pub last_push_unix_ms: i64,
}

/// One source's part of a push, to write.
#[derive(Debug, Clone)]
pub struct SourceWrite {
    /// Source name.
    pub source: String,
    /// The revision read (0: the row did not exist).
    pub old_rev: u64,
    /// The merged source model's JSON when it changed (`None`: count only).
    pub model: Option<String>,
    /// Exchanges observed by the merged source.
    pub observed: u64,
    /// This row counts the push.
    pub count: bool,
}

/// A push, to write in one transaction.
#[derive(Debug, Clone)]
pub struct PushWrite {
    /// Rows to write (unchanged, uncounted sources are left out).
    pub sources: Vec<SourceWrite>,
    /// The push carried no source: it is counted on the service row (created if missing).
    pub empty: bool,
    /// Push time, unix ms.
    pub now_unix_ms: i64,
}

/// One spec version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredVersion {
    /// Version number (1-based, increasing).
    pub version: u64,
    /// When it was recorded, unix ms.
    pub created_unix_ms: i64,
    /// Endpoints in this version.
    pub endpoints: u64,
    /// The OpenAPI document (no evidence extensions).
    pub spec: Value,
}

/// What a push did.
#[derive(Debug, Clone, PartialEq)]
pub struct PushOutcome {
    /// Some source model changed (false: the push was a duplicate or older snapshot).
    pub changed: bool,
    /// Latest recorded spec version (as of the last settle; see the module doc).
    pub version: u64,
    /// Endpoints as of the last settle.
    pub endpoints: u64,
}

/// The rows a backend stores (see the module doc). Every method is one short read or one
/// transaction.
pub trait Rows: Send + Sync + 'static {
    /// The service row.
    fn service(&self, service: &str) -> impl Future<Output = Result<Option<ServiceRow>>> + Send;
    /// Every source row of `service` (no models), sorted by source.
    fn sources(&self, service: &str) -> impl Future<Output = Result<Vec<SourceRow>>> + Send;
    /// The revision of one source (`None`: no such row).
    fn source_rev(
        &self,
        service: &str,
        source: &str,
    ) -> impl Future<Output = Result<Option<u64>>> + Send;
    /// One source's (revision, model JSON).
    fn load(
        &self,
        service: &str,
        source: &str,
    ) -> impl Future<Output = Result<Option<(u64, String)>>> + Send;
    /// Every source's (source, revision, model JSON) of `service`, one consistent read.
    fn load_all(
        &self,
        service: &str,
    ) -> impl Future<Output = Result<Vec<(String, u64, String)>>> + Send;
    /// Writes a push; `false` when a row's revision moved (nothing written).
    fn write_push(&self, service: &str, w: &PushWrite)
        -> impl Future<Output = Result<bool>> + Send;
    /// Replaces the service row `old` by `new` and records `version` (pruning beyond
    /// `max_versions`); `false` when the row is no longer `old` (nothing written).
    fn record(
        &self,
        service: &str,
        old: &ServiceRow,
        new: &ServiceRow,
        version: Option<&StoredVersion>,
        max_versions: u64,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// Every service: its row and its sources' totals (pushes, last push, observed, count,
    /// generation), sorted by name.
    fn list(&self) -> impl Future<Output = Result<Vec<(String, ServiceMeta)>>> + Send;
    /// Services whose generation differs from the one last checked.
    fn unsettled(&self) -> impl Future<Output = Result<Vec<String>>> + Send;
    /// Versions of `service` (specs left `null`), oldest first.
    fn versions(&self, service: &str) -> impl Future<Output = Result<Vec<StoredVersion>>> + Send;
    /// One version of `service` with its spec.
    fn version(
        &self,
        service: &str,
        n: u64,
    ) -> impl Future<Output = Result<Option<StoredVersion>>> + Send;
    /// Ok when the store answers (readiness).
    fn check(&self) -> impl Future<Output = Result<()>> + Send;
    /// Gauges for `/metrics`: (services, bytes used or 0 when unknown).
    fn gauges(&self) -> impl Future<Output = (u64, u64)> + Send;
}

/// A model store (see the module doc).
pub trait Store: Send + Sync + 'static {
    /// Merges `model` into its sources' rows of `service`, durably.
    fn push(
        &self,
        service: &str,
        model: ApiModel,
        now_unix_ms: i64,
    ) -> impl Future<Output = Result<PushOutcome>> + Send;
    /// The merged model of `service`.
    fn model(&self, service: &str) -> impl Future<Output = Result<Option<Arc<ApiModel>>>> + Send;
    /// All services with their bookkeeping, sorted by name.
    fn services(&self) -> impl Future<Output = Result<Vec<(String, ServiceMeta)>>> + Send;
    /// Records a new spec version of `service` if its spec changed since the last settle;
    /// returns its bookkeeping after (`None`: no such service).
    fn settle(&self, service: &str) -> impl Future<Output = Result<Option<ServiceRow>>> + Send;
    /// Versions of `service` (specs left `null`), oldest first, after settling it.
    fn versions(&self, service: &str) -> impl Future<Output = Result<Vec<StoredVersion>>> + Send;
    /// One version of `service` with its spec, after settling it.
    fn version(
        &self,
        service: &str,
        n: u64,
    ) -> impl Future<Output = Result<Option<StoredVersion>>> + Send;
    /// Ok when the store answers (readiness).
    fn check(&self) -> impl Future<Output = Result<()>> + Send;
    /// Gauges for `/metrics`: (services, bytes used or 0 when unknown).
    fn gauges(&self) -> impl Future<Output = (u64, u64)> + Send;
    /// Spec versions this process recorded.
    fn versions_recorded(&self) -> u64;
}

/// The configured backend.
pub enum Backend {
    /// Embedded redb file.
    Redb(redb::RedbStore),
    /// Shared PostgreSQL database.
    Postgres(postgres::PgStore),
}

macro_rules! each {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            Backend::Redb($s) => $e,
            Backend::Postgres($s) => $e,
        }
    };
}

impl Store for Backend {
    async fn push(&self, service: &str, model: ApiModel, now: i64) -> Result<PushOutcome> {
        each!(self, s => s.push(service, model, now).await)
    }
    async fn model(&self, service: &str) -> Result<Option<Arc<ApiModel>>> {
        each!(self, s => s.model(service).await)
    }
    async fn services(&self) -> Result<Vec<(String, ServiceMeta)>> {
        each!(self, s => s.services().await)
    }
    async fn settle(&self, service: &str) -> Result<Option<ServiceRow>> {
        each!(self, s => s.settle(service).await)
    }
    async fn versions(&self, service: &str) -> Result<Vec<StoredVersion>> {
        each!(self, s => s.versions(service).await)
    }
    async fn version(&self, service: &str, n: u64) -> Result<Option<StoredVersion>> {
        each!(self, s => s.version(service, n).await)
    }
    async fn check(&self) -> Result<()> {
        each!(self, s => s.check().await)
    }
    async fn gauges(&self) -> (u64, u64) {
        each!(self, s => s.gauges().await)
    }
    fn versions_recorded(&self) -> u64 {
        each!(self, s => s.versions_recorded())
    }
}

/// Export options for versioned specs of `service`.
pub fn spec_options(service: &str, evidence: bool) -> ExportOptions {
    ExportOptions {
        service: None,
        evidence,
        title: format!("{service} (learned by apitap)"),
        ..ExportOptions::default()
    }
}

/// FNV-1a 64 of `s`: stable across processes and builds (a spec fingerprint, not a defence).
pub fn stable_hash(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    // 0 means "no spec yet".
    h.max(1)
}

/// `model` as the reviewed templates file shapes its exports (no copy without rules).
pub fn ruled<'a>(model: &'a ApiModel, rules: &TemplateRules) -> std::borrow::Cow<'a, ApiModel> {
    if rules.params.is_empty() && rules.statics.is_empty() {
        std::borrow::Cow::Borrowed(model)
    } else {
        std::borrow::Cow::Owned(model.with_template_rules(rules))
    }
}

/// The spec of a merged model: (endpoints, spec without evidence, its stable hash).
pub fn spec_of(service: &str, merged: &ApiModel, rules: &TemplateRules) -> (u64, Value, u64) {
    let view = ruled(merged, rules);
    let endpoints = view.endpoints().len() as u64;
    let spec = view.to_openapi(&spec_options(service, false));
    let hash = stable_hash(&spec.to_string());
    (endpoints, spec, hash)
}

/// Splits a stored merged model (the layout before one row per source) into its sources:
/// (source, model JSON of that source alone, exchanges observed).
pub fn split_sources(merged: ApiModel) -> Vec<(String, String, u64)> {
    merged
        .sources
        .into_iter()
        .map(|(name, s)| {
            let observed = s.stats.observed;
            let one = ApiModel {
                sources: BTreeMap::from([(name.clone(), s)]),
            };
            (name, one.to_json(), observed)
        })
        .collect()
}

/// A bounded cache of values, each tagged with the revision it was read or written at.
pub struct Lru<V: Clone> {
    cap: usize,
    inner: Mutex<CacheInner<V>>,
}

/// A bounded cache of models tagged by revision.
pub type ModelCache = Lru<Arc<ApiModel>>;

struct CacheInner<V> {
    tick: u64,
    map: HashMap<String, (u64, u64, V)>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl<V: Clone> Lru<V> {
    /// A cache of at most `cap` values (0 disables it).
    pub fn new(cap: usize) -> Lru<V> {
        Lru {
            cap,
            inner: Mutex::new(CacheInner {
                tick: 0,
                map: HashMap::new(),
            }),
        }
    }

    /// The value of `key` at revision `rev`, if cached.
    pub fn get(&self, key: &str, rev: u64) -> Option<V> {
        let mut g = lock(&self.inner);
        g.tick += 1;
        let t = g.tick;
        match g.map.get_mut(key) {
            Some(e) if e.0 == rev => {
                e.1 = t;
                Some(e.2.clone())
            }
            _ => None,
        }
    }

    /// Caches `value` as `key` at `rev` (a newer revision replaces an older one only).
    pub fn put(&self, key: &str, rev: u64, value: V) {
        if self.cap == 0 {
            return;
        }
        let mut g = lock(&self.inner);
        g.tick += 1;
        let t = g.tick;
        if let Some(e) = g.map.get(key) {
            if e.0 > rev {
                return;
            }
        }
        g.map.insert(key.to_string(), (rev, t, value));
        while g.map.len() > self.cap {
            let Some(oldest) = g
                .map
                .iter()
                .min_by_key(|(_, e)| e.1)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            g.map.remove(&oldest);
        }
    }

    /// Values cached now.
    pub fn len(&self) -> usize {
        lock(&self.inner).map.len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Striped locks: pushes of one (service, source) are serialised in this process, others (almost
/// always in different stripes) run concurrently. Bounded whatever the number of keys. A lock
/// is taken as an owned guard so that work handed to a blocking thread can keep it. The store's
/// revision checks keep updates safe without it; the stripes only spare lost races.
pub struct Stripes(Vec<Arc<tokio::sync::Mutex<()>>>);

impl Stripes {
    /// `n` stripes.
    pub fn new(n: usize) -> Stripes {
        Stripes(
            (0..n.max(1))
                .map(|_| Arc::new(tokio::sync::Mutex::new(())))
                .collect(),
        )
    }

    /// Takes the lock of `key` as an owned guard (movable into a blocking closure).
    pub async fn lock(&self, key: &str) -> tokio::sync::OwnedMutexGuard<()> {
        Arc::clone(&self.0[self.index(key)]).lock_owned().await
    }

    /// Takes the locks of every key (each stripe once, in stripe order: no deadlock).
    pub async fn lock_many<'a>(
        &self,
        keys: impl Iterator<Item = &'a str>,
    ) -> Vec<tokio::sync::OwnedMutexGuard<()>> {
        let mut idx: Vec<usize> = keys.map(|k| self.index(k)).collect();
        idx.sort_unstable();
        idx.dedup();
        let mut out = Vec::with_capacity(idx.len());
        for i in idx {
            out.push(Arc::clone(&self.0[i]).lock_owned().await);
        }
        out
    }

    fn index(&self, key: &str) -> usize {
        (stable_hash(key) % self.0.len() as u64) as usize
    }
}

fn source_key(service: &str, source: &str) -> String {
    format!("{service}\u{0}{source}")
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

type RevSet = Arc<Vec<(String, u64)>>;

/// The store logic over a backend's rows (see the module doc). A cheap handle: clones share
/// the caches; the background settler stops when the last handle is dropped.
pub struct Engine<R: Rows> {
    core: Arc<Core<R>>,
}

/// The shared state of an [`Engine`].
pub struct Core<R: Rows> {
    /// The backend's rows.
    pub rows: R,
    cfg: StoreConfig,
    sources: ModelCache,
    merged: Lru<(RevSet, Arc<ApiModel>)>,
    push_stripes: Stripes,
    settle_stripes: Stripes,
    /// Service → due time (unix ms) of its background settle.
    dirty: Mutex<HashMap<String, i64>>,
    /// Services not queued because the queue was full.
    deferred: AtomicU64,
    recorded: AtomicU64,
}

/// Queues `service` for a background settle at `due` (a service already queued keeps its
/// due time), unless
/// the queue holds [`MAX_PENDING_SETTLES`] services: then it is left to the next scan or read
/// and counted in `deferred` (logged once).
fn queue_settle(d: &mut HashMap<String, i64>, deferred: &AtomicU64, service: &str, due: i64) {
    if d.contains_key(service) {
        return;
    }
    if d.len() >= MAX_PENDING_SETTLES {
        if deferred.fetch_add(1, Relaxed) == 0 {
            tracing::warn!(
                "settle queue full ({MAX_PENDING_SETTLES} services): further services are settled by the next scan or read (counted)"
            );
        }
        return;
    }
    d.insert(service.to_string(), due);
}

enum Attempt<T> {
    Done(T),
    Retry,
}

impl<R: Rows> Engine<R> {
    /// An engine over `rows`; starts the background settler when a Tokio runtime is running.
    pub fn new(rows: R, cfg: StoreConfig) -> Engine<R> {
        let core = Arc::new(Core {
            rows,
            sources: ModelCache::new(cfg.cache_models.saturating_mul(SOURCES_PER_MODEL)),
            merged: Lru::new(cfg.cache_models),
            cfg,
            push_stripes: Stripes::new(64),
            settle_stripes: Stripes::new(64),
            dirty: Mutex::new(HashMap::new()),
            deferred: AtomicU64::new(0),
            recorded: AtomicU64::new(0),
        });
        if let Ok(h) = tokio::runtime::Handle::try_current() {
            h.spawn(background(Arc::downgrade(&core)));
        }
        Engine { core }
    }

    /// The backend's rows (for tests and tools).
    pub fn rows(&self) -> &R {
        &self.core.rows
    }

    /// Services waiting for a background settle on this process.
    pub fn pending_settles(&self) -> usize {
        lock(&self.core.dirty).len()
    }

    /// Services not queued for a background settle because the queue was full
    /// ([`MAX_PENDING_SETTLES`]); the next scan or read settles them.
    pub fn deferred_settles(&self) -> u64 {
        self.core.deferred.load(Relaxed)
    }

    /// Takes the push locks of its sources (for tests: a push holds them until committed).
    pub async fn lock_sources(
        &self,
        service: &str,
        sources: &[&str],
    ) -> Vec<tokio::sync::OwnedMutexGuard<()>> {
        let keys: Vec<String> = sources.iter().map(|s| source_key(service, s)).collect();
        self.core
            .push_stripes
            .lock_many(keys.iter().map(String::as_str))
            .await
    }
}

async fn background<R: Rows>(core: Weak<Core<R>>) {
    let delay = match core.upgrade() {
        Some(c) => c.cfg.settle_delay,
        None => return,
    };
    let tick = (delay / 4).clamp(Duration::from_millis(20), Duration::from_secs(1));
    let scan_ms = (delay.as_millis() as i64).saturating_mul(i64::from(SCAN_EVERY));
    // The first scan runs at start: services a previous process left unsettled.
    let mut next_scan = 0i64;
    loop {
        let Some(c) = core.upgrade() else { return };
        let now = now_ms();
        if now >= next_scan {
            next_scan = now + scan_ms.max(1000);
            match c.rows.unsettled().await {
                Ok(list) => {
                    let mut d = lock(&c.dirty);
                    for s in list {
                        queue_settle(&mut d, &c.deferred, &s, now);
                    }
                }
                Err(e) => tracing::warn!("store scan for unsettled services failed: {e:#}"),
            }
        }
        let due: Vec<String> = {
            let mut d = lock(&c.dirty);
            let due: Vec<String> = d
                .iter()
                .filter(|(_, t)| **t <= now)
                .map(|(k, _)| k.clone())
                .collect();
            for k in &due {
                d.remove(k);
            }
            due
        };
        for s in due {
            match c.settle(&s, true).await {
                Ok(Some(later)) => {
                    queue_settle(&mut lock(&c.dirty), &c.deferred, &s, later);
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!("settling a service failed: {e:#}");
                    let due = now + delay.as_millis() as i64;
                    queue_settle(&mut lock(&c.dirty), &c.deferred, &s, due);
                }
            }
        }
        drop(c);
        tokio::time::sleep(tick).await;
    }
}

fn parse_model(text: &str) -> Result<ApiModel> {
    ApiModel::from_json(text).map_err(|e| anyhow::anyhow!("stored model: {e}"))
}

impl<R: Rows> Core<R> {
    /// The model of one source at `rev` (0: none), from the cache or the store; the revision
    /// actually read may be newer.
    async fn source_at(
        &self,
        service: &str,
        source: &str,
        rev: u64,
    ) -> Result<Option<(u64, Arc<ApiModel>)>> {
        if rev == 0 {
            return Ok(None);
        }
        let key = source_key(service, source);
        if let Some(m) = self.sources.get(&key, rev) {
            return Ok(Some((rev, m)));
        }
        let Some((rev, text)) = self.rows.load(service, source).await? else {
            return Ok(None);
        };
        let m = Arc::new(tokio::task::spawn_blocking(move || parse_model(&text)).await??);
        self.sources.put(&key, rev, m.clone());
        Ok(Some((rev, m)))
    }

    async fn push_attempt(
        &self,
        service: &str,
        push: &Arc<ApiModel>,
        now: i64,
    ) -> Result<Attempt<bool>> {
        let mut current = Vec::with_capacity(push.sources.len());
        for name in push.sources.keys() {
            let rev = self.rows.source_rev(service, name).await?.unwrap_or(0);
            let cur = self.source_at(service, name, rev).await?;
            current.push(cur);
        }
        let p = push.clone();
        let step = tokio::task::spawn_blocking(move || {
            let mut out = Vec::with_capacity(p.sources.len());
            for (i, ((name, s), cur)) in p.sources.iter().zip(current).enumerate() {
                let one = ApiModel {
                    sources: BTreeMap::from([(name.clone(), s.clone())]),
                };
                let (old_rev, merged) = match &cur {
                    Some((rev, c)) => (*rev, c.merged(&one)),
                    None => (0, one),
                };
                let changed = cur.as_ref().is_none_or(|(_, c)| **c != merged);
                let observed = merged.sources.get(name).map_or(0, |s| s.stats.observed);
                out.push((
                    SourceWrite {
                        source: name.clone(),
                        old_rev,
                        model: changed.then(|| merged.to_json()),
                        observed,
                        count: i == 0,
                    },
                    changed.then_some(merged),
                ));
            }
            out
        })
        .await?;
        let w = PushWrite {
            sources: step
                .iter()
                .filter(|(w, _)| w.model.is_some() || w.count)
                .map(|(w, _)| w.clone())
                .collect(),
            empty: push.sources.is_empty(),
            now_unix_ms: now,
        };
        if !self.rows.write_push(service, &w).await? {
            return Ok(Attempt::Retry);
        }
        let mut changed = false;
        for (w, m) in step {
            if let Some(m) = m {
                changed = true;
                self.sources
                    .put(&source_key(service, &w.source), w.old_rev + 1, Arc::new(m));
            }
        }
        Ok(Attempt::Done(changed))
    }

    async fn push(&self, service: &str, model: ApiModel, now: i64) -> Result<PushOutcome> {
        let keys: Vec<String> = model
            .sources
            .keys()
            .map(|s| source_key(service, s))
            .collect();
        let _guards = self
            .push_stripes
            .lock_many(keys.iter().map(String::as_str))
            .await;
        let push = Arc::new(model);
        let mut done = None;
        for _ in 0..MAX_ATTEMPTS {
            match self.push_attempt(service, &push, now).await {
                Ok(Attempt::Done(c)) => {
                    done = Some(c);
                    break;
                }
                Ok(Attempt::Retry) => continue,
                Err(e) if is_retryable(&e) => continue,
                Err(e) => return Err(e),
            }
        }
        let Some(changed) = done else {
            anyhow::bail!("push to {service:?} lost {MAX_ATTEMPTS} races in a row");
        };
        let row = self.rows.service(service).await?.unwrap_or_default();
        if changed || row.latest_version == 0 {
            let due = now_ms() + self.cfg.settle_delay.as_millis() as i64;
            queue_settle(&mut lock(&self.dirty), &self.deferred, service, due);
        }
        Ok(PushOutcome {
            changed,
            version: row.latest_version,
            endpoints: row.endpoints,
        })
    }

    /// The merged model at the revision set `srcs` (`None`: the rows moved on meanwhile).
    async fn merged_at(&self, service: &str, srcs: &[SourceRow]) -> Result<Option<Arc<ApiModel>>> {
        let gen: u64 = srcs.iter().map(|s| s.rev).sum();
        let set: Vec<(String, u64)> = srcs.iter().map(|s| (s.source.clone(), s.rev)).collect();
        if let Some((s, m)) = self.merged.get(service, gen) {
            if *s == set {
                return Ok(Some(m));
            }
        }
        let mut parts: Vec<(String, u64, Option<Arc<ApiModel>>)> = srcs
            .iter()
            .map(|s| {
                let m = self.sources.get(&source_key(service, &s.source), s.rev);
                (s.source.clone(), s.rev, m)
            })
            .collect();
        let misses = parts.iter().filter(|p| p.2.is_none()).count();
        if misses > 1 {
            // One consistent read of every source (the set may have moved: it is re-derived).
            let all = self.rows.load_all(service).await?;
            let parsed = tokio::task::spawn_blocking(move || {
                all.into_iter()
                    .map(|(name, rev, text)| Ok((name, rev, Arc::new(parse_model(&text)?))))
                    .collect::<Result<Vec<_>>>()
            })
            .await??;
            parts = parsed
                .into_iter()
                .map(|(name, rev, m)| {
                    self.sources
                        .put(&source_key(service, &name), rev, m.clone());
                    (name, rev, Some(m))
                })
                .collect();
        } else if misses == 1 {
            for p in parts.iter_mut().filter(|p| p.2.is_none()) {
                match self.source_at(service, &p.0, p.1).await? {
                    Some((rev, m)) if rev == p.1 => p.2 = Some(m),
                    _ => return Ok(None),
                }
            }
        }
        let set: Vec<(String, u64)> = parts.iter().map(|p| (p.0.clone(), p.1)).collect();
        let gen: u64 = set.iter().map(|s| s.1).sum();
        let models: Vec<Arc<ApiModel>> = parts.into_iter().filter_map(|p| p.2).collect();
        let merged = tokio::task::spawn_blocking(move || {
            let mut m = ApiModel::new();
            for one in &models {
                for (k, v) in &one.sources {
                    m.sources.insert(k.clone(), v.clone());
                }
            }
            m
        })
        .await?;
        let merged = Arc::new(merged);
        self.merged
            .put(service, gen, (Arc::new(set), merged.clone()));
        Ok(Some(merged))
    }

    async fn model(&self, service: &str) -> Result<Option<Arc<ApiModel>>> {
        for _ in 0..MAX_ATTEMPTS {
            let srcs = self.rows.sources(service).await?;
            if srcs.is_empty() {
                return Ok(self
                    .rows
                    .service(service)
                    .await?
                    .map(|_| Arc::new(ApiModel::new())));
            }
            if let Some(m) = self.merged_at(service, &srcs).await? {
                return Ok(Some(m));
            }
        }
        anyhow::bail!("model of {service:?} changed on every read")
    }

    /// Settles `service` (see the module doc). In the background, a settle by anyone more
    /// recent than the delay postpones it: `Some(due)` asks to be run again then.
    async fn settle(&self, service: &str, background: bool) -> Result<Option<i64>> {
        let _g = self.settle_stripes.lock(service).await;
        for _ in 0..MAX_ATTEMPTS {
            let Some(row) = self.rows.service(service).await? else {
                return Ok(None);
            };
            let srcs = self.rows.sources(service).await?;
            let gen: u64 = srcs.iter().map(|s| s.rev).sum();
            if gen <= row.checked_gen && row.latest_version > 0 {
                return Ok(None);
            }
            let now = now_ms();
            let delay = self.cfg.settle_delay.as_millis() as i64;
            if background && row.settled_unix_ms + delay > now {
                return Ok(Some(row.settled_unix_ms + delay));
            }
            let merged = if srcs.is_empty() {
                Arc::new(ApiModel::new())
            } else {
                match self.merged_at(service, &srcs).await? {
                    Some(m) => m,
                    None => continue,
                }
            };
            let (svc, rules) = (service.to_string(), self.cfg.templates.clone());
            let (endpoints, spec, hash) =
                tokio::task::spawn_blocking(move || spec_of(&svc, &merged, &rules)).await?;
            let mut new = row.clone();
            new.checked_gen = gen;
            new.endpoints = endpoints;
            new.settled_unix_ms = now;
            let mut version = None;
            if hash != row.spec_hash {
                new.latest_version += 1;
                new.spec_hash = hash;
                version = Some(StoredVersion {
                    version: new.latest_version,
                    created_unix_ms: now,
                    endpoints,
                    spec,
                });
            }
            match self
                .rows
                .record(service, &row, &new, version.as_ref(), self.cfg.max_versions)
                .await
            {
                Ok(true) => {
                    if version.is_some() {
                        self.recorded.fetch_add(1, Relaxed);
                    }
                    return Ok(None);
                }
                Ok(false) => continue,
                Err(e) if is_retryable(&e) => continue,
                Err(e) => return Err(e),
            }
        }
        anyhow::bail!("settling {service:?} lost {MAX_ATTEMPTS} races in a row")
    }
}

/// True for errors a retry may cure (a lost race reported by the database).
fn is_retryable(e: &anyhow::Error) -> bool {
    e.downcast_ref::<tokio_postgres::Error>()
        .is_some_and(postgres::retryable)
}

impl<R: Rows> Store for Engine<R> {
    async fn push(&self, service: &str, model: ApiModel, now_unix_ms: i64) -> Result<PushOutcome> {
        // Run to completion even if the request is dropped: the stripes stay held until the
        // write is committed (a lost race would be safe anyway; see `Stripes`).
        let core = self.core.clone();
        let svc = service.to_string();
        tokio::spawn(async move { core.push(&svc, model, now_unix_ms).await })
            .await
            .unwrap_or_else(|e| Err(anyhow::anyhow!("push task failed: {e}")))
    }

    async fn model(&self, service: &str) -> Result<Option<Arc<ApiModel>>> {
        self.core.model(service).await
    }

    async fn services(&self) -> Result<Vec<(String, ServiceMeta)>> {
        self.core.rows.list().await
    }

    async fn settle(&self, service: &str) -> Result<Option<ServiceRow>> {
        self.core.settle(service, false).await?;
        self.core.rows.service(service).await
    }

    async fn versions(&self, service: &str) -> Result<Vec<StoredVersion>> {
        self.core.settle(service, false).await?;
        self.core.rows.versions(service).await
    }

    async fn version(&self, service: &str, n: u64) -> Result<Option<StoredVersion>> {
        self.core.settle(service, false).await?;
        self.core.rows.version(service, n).await
    }

    async fn check(&self) -> Result<()> {
        self.core.rows.check().await
    }

    async fn gauges(&self) -> (u64, u64) {
        self.core.rows.gauges().await
    }

    fn versions_recorded(&self) -> u64 {
        self.core.recorded.load(Relaxed)
    }
}

/// Sums the source rows of one service into its listed bookkeeping.
pub fn meta_of(row: &ServiceRow, srcs: &[SourceRow]) -> ServiceMeta {
    ServiceMeta {
        pushes: row.pushes + srcs.iter().map(|s| s.pushes).sum::<u64>(),
        last_push_unix_ms: srcs
            .iter()
            .map(|s| s.last_push_unix_ms)
            .fold(row.last_push_unix_ms, i64::max),
        latest_version: row.latest_version,
        endpoints: row.endpoints,
        observed: srcs.iter().map(|s| s.observed).sum(),
        sources: srcs.len() as u64,
        rev: srcs.iter().map(|s| s.rev).sum(),
        spec_hash: row.spec_hash,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_settle_queue_is_bounded_and_counts_what_it_defers() {
        let mut d = HashMap::new();
        let deferred = AtomicU64::new(0);
        for i in 0..MAX_PENDING_SETTLES + 10 {
            queue_settle(&mut d, &deferred, &format!("svc-{i}"), 5);
        }
        assert_eq!(d.len(), MAX_PENDING_SETTLES);
        assert_eq!(deferred.load(Relaxed), 10);
        // A queued service keeps its due time and is not counted again.
        queue_settle(&mut d, &deferred, "svc-0", 1);
        assert_eq!(d.get("svc-0"), Some(&5));
        assert_eq!(deferred.load(Relaxed), 10);
    }

    #[test]
    fn cache_is_bounded_and_revision_checked() {
        let c = ModelCache::new(2);
        let m = Arc::new(ApiModel::new());
        c.put("a", 1, m.clone());
        c.put("b", 1, m.clone());
        assert!(c.get("a", 1).is_some());
        c.put("c", 1, m.clone());
        assert_eq!(c.len(), 2);
        assert!(c.get("b", 1).is_none(), "least recently used is evicted");
        assert!(c.get("a", 2).is_none(), "a stale revision is a miss");
        c.put("a", 0, m);
        assert!(
            c.get("a", 1).is_some(),
            "an older revision does not replace"
        );
    }

    #[test]
    fn stable_hash_is_fnv1a() {
        assert_eq!(stable_hash("a"), 0xaf63_dc4c_8601_ec8c);
    }
}
