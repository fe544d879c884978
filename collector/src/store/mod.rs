//! Where merged models, service bookkeeping and spec versions live.
//!
//! Two backends implement [`Store`]:
//! - [`redb`] (the default): an embedded, crash-safe file in `--data-dir`, no setup, one
//!   collector process;
//! - [`postgres`]: a PostgreSQL (or PostgreSQL-protocol) database given by
//!   `--store postgres://…`, shared by any number of collector replicas.
//!
//! # Policy
//!
//! - **A push is a join.** The stored model is the join of every accepted push
//!   ([`ApiModel::merged`]), so duplicated, replayed, reordered or retried pushes are harmless;
//!   a backend that loses a race simply re-reads and merges again.
//! - **The answer follows the commit**: an acknowledged push is durable.
//! - **Versions**: a new spec version is recorded only when the OpenAPI export without evidence
//!   changed (compared by a stable hash of its JSON text, kept with the service, so the previous
//!   spec is never read back to decide); at most `max_versions` per service are kept.
//! - **Memory**: models are not all kept in RAM. A [`ModelCache`] holds at most
//!   `cache_models` merged models, tagged with the revision they were read at; a stale or
//!   evicted entry is read back from the store. Pushes to different services run concurrently.

pub mod postgres;
pub mod redb;

use anyhow::Result;
use apitap_model::paths::TemplateRules;
use apitap_model::{ApiModel, ExportOptions};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

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
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            max_versions: 100,
            cache_models: 16,
            templates: Arc::default(),
        }
    }
}

/// Per-service bookkeeping.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceMeta {
    /// Accepted pushes (including ones that changed nothing).
    pub pushes: u64,
    /// Time of the last accepted push, unix ms.
    pub last_push_unix_ms: i64,
    /// Newest spec version number (1-based; 0 = none yet).
    pub latest_version: u64,
    /// Endpoints in the merged model.
    pub endpoints: u64,
    /// Exchanges observed, summed over sources.
    pub observed: u64,
    /// Distinct sources (agents) merged.
    pub sources: u64,
    /// Revision of the merged model: incremented on every change.
    #[serde(default)]
    pub rev: u64,
    /// Stable hash of the latest version's spec text (0 = none).
    #[serde(default)]
    pub spec_hash: u64,
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
    /// The merged model changed (false: the push was a duplicate or older snapshot).
    pub changed: bool,
    /// A new spec version was recorded.
    pub new_version: Option<u64>,
    /// Service bookkeeping after the push.
    pub meta: ServiceMeta,
}

/// A model store (see the module doc).
pub trait Store: Send + Sync + 'static {
    /// Merges `model` into `service`'s model, durably.
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

/// The configured backend.
pub enum Backend {
    /// Embedded redb file.
    Redb(redb::RedbStore),
    /// Shared PostgreSQL database.
    Postgres(postgres::PgStore),
}

impl Store for Backend {
    async fn push(&self, service: &str, model: ApiModel, now: i64) -> Result<PushOutcome> {
        match self {
            Backend::Redb(s) => s.push(service, model, now).await,
            Backend::Postgres(s) => s.push(service, model, now).await,
        }
    }
    async fn model(&self, service: &str) -> Result<Option<Arc<ApiModel>>> {
        match self {
            Backend::Redb(s) => s.model(service).await,
            Backend::Postgres(s) => s.model(service).await,
        }
    }
    async fn services(&self) -> Result<Vec<(String, ServiceMeta)>> {
        match self {
            Backend::Redb(s) => s.services().await,
            Backend::Postgres(s) => s.services().await,
        }
    }
    async fn versions(&self, service: &str) -> Result<Vec<StoredVersion>> {
        match self {
            Backend::Redb(s) => s.versions(service).await,
            Backend::Postgres(s) => s.versions(service).await,
        }
    }
    async fn version(&self, service: &str, n: u64) -> Result<Option<StoredVersion>> {
        match self {
            Backend::Redb(s) => s.version(service, n).await,
            Backend::Postgres(s) => s.version(service, n).await,
        }
    }
    async fn check(&self) -> Result<()> {
        match self {
            Backend::Redb(s) => s.check().await,
            Backend::Postgres(s) => s.check().await,
        }
    }
    async fn gauges(&self) -> (u64, u64) {
        match self {
            Backend::Redb(s) => s.gauges().await,
            Backend::Postgres(s) => s.gauges().await,
        }
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

/// The result of merging a push into the current model: computed outside any store lock or
/// transaction (it is the expensive part).
pub struct Merged {
    /// The merged model (`None` when the push changed nothing).
    pub model: Option<ApiModel>,
    /// Bookkeeping to write (pushes, last push and, when changed, the summary fields).
    pub meta: ServiceMeta,
    /// A new version to record, when the spec changed.
    pub version: Option<StoredVersion>,
}

/// `model` as the reviewed templates file shapes its exports (no copy without rules).
pub fn ruled<'a>(model: &'a ApiModel, rules: &TemplateRules) -> std::borrow::Cow<'a, ApiModel> {
    if rules.params.is_empty() && rules.statics.is_empty() {
        std::borrow::Cow::Borrowed(model)
    } else {
        std::borrow::Cow::Owned(model.with_template_rules(rules))
    }
}

/// Merges `push` into `current` (at bookkeeping `meta`) and decides the new version; the
/// version's spec and the endpoint count follow `rules`.
pub fn merge_step(
    service: &str,
    current: Option<&ApiModel>,
    meta: &ServiceMeta,
    push: &ApiModel,
    now_unix_ms: i64,
    rules: &TemplateRules,
) -> Merged {
    let mut m = meta.clone();
    m.pushes += 1;
    m.last_push_unix_ms = now_unix_ms;
    let merged = match current {
        Some(c) => c.merged(push),
        None => push.clone(),
    };
    if current == Some(&merged) {
        return Merged {
            model: None,
            meta: m,
            version: None,
        };
    }
    m.rev += 1;
    let view = ruled(&merged, rules);
    let endpoints = view.endpoints().len() as u64;
    m.endpoints = endpoints;
    m.observed = merged.stats().observed;
    m.sources = merged.sources.len() as u64;
    let spec = view.to_openapi(&spec_options(service, false));
    drop(view);
    let hash = stable_hash(&spec.to_string());
    let mut version = None;
    if hash != m.spec_hash {
        m.latest_version += 1;
        m.spec_hash = hash;
        version = Some(StoredVersion {
            version: m.latest_version,
            created_unix_ms: now_unix_ms,
            endpoints,
            spec,
        });
    }
    Merged {
        model: Some(merged),
        meta: m,
        version,
    }
}

/// A bounded cache of merged models, each tagged with the revision it was read or written at.
pub struct ModelCache {
    cap: usize,
    inner: Mutex<CacheInner>,
}

#[derive(Default)]
struct CacheInner {
    tick: u64,
    map: HashMap<String, (u64, u64, Arc<ApiModel>)>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl ModelCache {
    /// A cache of at most `cap` models (0 disables it).
    pub fn new(cap: usize) -> ModelCache {
        ModelCache {
            cap,
            inner: Mutex::new(CacheInner::default()),
        }
    }

    /// The model of `service` at revision `rev`, if cached.
    pub fn get(&self, service: &str, rev: u64) -> Option<Arc<ApiModel>> {
        let mut g = lock(&self.inner);
        g.tick += 1;
        let t = g.tick;
        match g.map.get_mut(service) {
            Some(e) if e.0 == rev => {
                e.1 = t;
                Some(e.2.clone())
            }
            _ => None,
        }
    }

    /// Caches `model` as `service` at `rev` (a newer revision replaces an older one only).
    pub fn put(&self, service: &str, rev: u64, model: Arc<ApiModel>) {
        if self.cap == 0 {
            return;
        }
        let mut g = lock(&self.inner);
        g.tick += 1;
        let t = g.tick;
        if let Some(e) = g.map.get(service) {
            if e.0 > rev {
                return;
            }
        }
        g.map.insert(service.to_string(), (rev, t, model));
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

    /// Models cached now.
    pub fn len(&self) -> usize {
        lock(&self.inner).map.len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Striped locks: pushes to one service are serialised in this process, pushes to different
/// services (almost always in different stripes) run concurrently. Bounded whatever the
/// number of services. A lock is taken as an owned guard ([`Stripes::lock`]) so that work
/// handed to a blocking thread can keep it until that work is done: a push whose request is
/// cancelled (the client gave up) must not release the lock while its merge still runs, or
/// the next push of the service merges from the same revision and one of them is lost.
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

    /// The lock of `service`.
    pub fn of(&self, service: &str) -> &tokio::sync::Mutex<()> {
        &self.0[self.index(service)]
    }

    /// Takes the lock of `service` as an owned guard (movable into a blocking closure).
    pub async fn lock(&self, service: &str) -> tokio::sync::OwnedMutexGuard<()> {
        Arc::clone(&self.0[self.index(service)]).lock_owned().await
    }

    fn index(&self, service: &str) -> usize {
        (stable_hash(service) % self.0.len() as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
