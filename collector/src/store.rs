//! The collector's embedded store: [redb](https://docs.rs/redb) (pure Rust, ACID,
//! copy-on-write B-trees, crash-safe: a commit is durable when it returns, and a process
//! killed at any moment reopens to the last committed state).
//!
//! Tables:
//! - `models`: service → merged native model JSON (the join of every accepted push);
//! - `meta`: service → [`ServiceMeta`] JSON (pushes, last push, latest version);
//! - `versions`: (service, n) → [`StoredVersion`] JSON: the OpenAPI export (without evidence
//!   extensions, so traffic counters alone do not make a new version) when it changed.
//!
//! A push is one write transaction: read the merged model, join the pushed one, write the
//! result, append a spec version if the export changed, prune versions beyond
//! [`StoreConfig::max_versions`]. The HTTP answer is sent only after the commit, so an
//! acknowledged push is never lost, and an unacknowledged one is resent by the agent; because
//! the merge is a join (idempotent), a resent or replayed push changes nothing.

use anyhow::{Context, Result};
use apitap_model::{ApiModel, ExportOptions};
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

const MODELS: TableDefinition<&str, &[u8]> = TableDefinition::new("models");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const VERSIONS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("versions");

/// Store limits.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Spec versions kept per service (oldest pruned first).
    pub max_versions: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig { max_versions: 100 }
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

/// The store (see the module doc).
pub struct Store {
    db: Database,
    path: PathBuf,
    cfg: StoreConfig,
    /// Merged models as committed (a read cache; always updated after the commit).
    cache: Mutex<HashMap<String, Arc<ApiModel>>>,
    /// Serialises read-merge-write of pushes.
    write: Mutex<()>,
}

/// Export options for versioned specs of `service`.
pub fn spec_options(service: &str, evidence: bool) -> ExportOptions {
    ExportOptions {
        service: None,
        evidence,
        title: format!("{service} (learned by apitap)"),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Store {
    /// Opens (or creates) `dir/apitap-collector.redb`.
    pub fn open(dir: &Path, cfg: StoreConfig) -> Result<Store> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let path = dir.join("apitap-collector.redb");
        let db = Database::create(&path)
            .with_context(|| format!("cannot open store {}", path.display()))?;
        let txn = db.begin_write()?;
        {
            txn.open_table(MODELS)?;
            txn.open_table(META)?;
            txn.open_table(VERSIONS)?;
        }
        txn.commit()?;
        Ok(Store {
            db,
            path,
            cfg,
            cache: Mutex::new(HashMap::new()),
            write: Mutex::new(()),
        })
    }

    /// Size of the database file in bytes.
    pub fn size_bytes(&self) -> u64 {
        std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0)
    }

    /// Merges `model` into `service`'s model, durably (see the module doc).
    pub fn push(&self, service: &str, model: &ApiModel, now_unix_ms: i64) -> Result<PushOutcome> {
        let _w = lock(&self.write);
        let current = self.model(service)?;
        let merged = match &current {
            Some(c) => c.merged(model),
            None => model.clone(),
        };
        let changed = current.as_deref() != Some(&merged);
        let txn = self.db.begin_write()?;
        let mut new_version = None;
        let meta;
        {
            let mut meta_t = txn.open_table(META)?;
            let mut m: ServiceMeta = match meta_t.get(service)? {
                Some(g) => serde_json::from_slice(g.value()).unwrap_or_default(),
                None => ServiceMeta::default(),
            };
            m.pushes += 1;
            m.last_push_unix_ms = now_unix_ms;
            if changed {
                let mut models_t = txn.open_table(MODELS)?;
                models_t.insert(service, merged.to_json().as_bytes())?;
                let spec = merged.to_openapi(&spec_options(service, false));
                let endpoints = merged.endpoints().len() as u64;
                m.endpoints = endpoints;
                m.observed = merged.stats().observed;
                m.sources = merged.sources.len() as u64;
                let mut ver_t = txn.open_table(VERSIONS)?;
                let latest_spec: Option<Value> = match ver_t.get((service, m.latest_version))? {
                    Some(g) => serde_json::from_slice::<StoredVersion>(g.value())
                        .ok()
                        .map(|v| v.spec),
                    None => None,
                };
                if latest_spec.as_ref() != Some(&spec) {
                    let n = m.latest_version + 1;
                    let v = StoredVersion {
                        version: n,
                        created_unix_ms: now_unix_ms,
                        endpoints,
                        spec,
                    };
                    ver_t.insert((service, n), serde_json::to_vec(&v)?.as_slice())?;
                    m.latest_version = n;
                    new_version = Some(n);
                    // Prune: keep the newest `max_versions`.
                    let keep_from = n.saturating_sub(self.cfg.max_versions.max(1)) + 1;
                    let old: Vec<u64> = ver_t
                        .range((service, 0)..(service, keep_from))?
                        .filter_map(|r| r.ok().map(|(k, _)| k.value().1))
                        .collect();
                    for o in old {
                        ver_t.remove((service, o))?;
                    }
                }
            }
            meta_t.insert(service, serde_json::to_vec(&m)?.as_slice())?;
            meta = m;
        }
        txn.commit().context("store commit failed")?;
        if changed {
            lock(&self.cache).insert(service.to_string(), Arc::new(merged));
        }
        Ok(PushOutcome {
            changed,
            new_version,
            meta,
        })
    }

    /// The merged model of `service`.
    pub fn model(&self, service: &str) -> Result<Option<Arc<ApiModel>>> {
        if let Some(m) = lock(&self.cache).get(service) {
            return Ok(Some(m.clone()));
        }
        let txn = self.db.begin_read()?;
        let t = txn.open_table(MODELS)?;
        let Some(g) = t.get(service)? else {
            return Ok(None);
        };
        let text = std::str::from_utf8(g.value()).context("stored model is not UTF-8")?;
        let m = Arc::new(ApiModel::from_json(text).map_err(|e| anyhow::anyhow!("{e}"))?);
        lock(&self.cache).insert(service.to_string(), m.clone());
        Ok(Some(m))
    }

    /// All services with their bookkeeping, sorted by name.
    pub fn services(&self) -> Result<Vec<(String, ServiceMeta)>> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(META)?;
        let mut out = Vec::new();
        for r in t.iter()? {
            let (k, v) = r?;
            let m: ServiceMeta = serde_json::from_slice(v.value()).unwrap_or_default();
            out.push((k.value().to_string(), m));
        }
        Ok(out)
    }

    /// Number of services.
    pub fn service_count(&self) -> u64 {
        self.db
            .begin_read()
            .ok()
            .and_then(|t| t.open_table(META).ok())
            .and_then(|t| t.len().ok())
            .unwrap_or(0)
    }

    /// Versions of `service` (without the specs), oldest first.
    pub fn versions(&self, service: &str) -> Result<Vec<StoredVersion>> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(VERSIONS)?;
        let mut out = Vec::new();
        for r in t.range((service, 0)..=(service, u64::MAX))? {
            let (_, v) = r?;
            if let Ok(mut sv) = serde_json::from_slice::<StoredVersion>(v.value()) {
                sv.spec = Value::Null;
                out.push(sv);
            }
        }
        Ok(out)
    }

    /// One version of `service` with its spec.
    pub fn version(&self, service: &str, n: u64) -> Result<Option<StoredVersion>> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(VERSIONS)?;
        Ok(match t.get((service, n))? {
            Some(g) => Some(serde_json::from_slice(g.value())?),
            None => None,
        })
    }
}
