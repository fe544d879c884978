//! The embedded store: [redb](https://docs.rs/redb) (pure Rust, ACID, copy-on-write B-trees,
//! crash-safe: a commit is durable when it returns, and a process killed at any moment reopens
//! to the last committed state). One collector process owns the file.
//!
//! Tables (the layout of the [module doc](super)):
//! - `source_models`: (service, source) → that source's native model JSON;
//! - `source_rows`: (service, source) → [`SourceRow`] JSON (revision, observed, pushes, last
//!   push), kept apart from the model so listing never reads a model;
//! - `service_rows`: service → [`ServiceRow`] JSON;
//! - `versions`: (service, n) → [`StoredVersion`] JSON;
//! - `schema`: `"version"` → the layout's version (2). A file without it is of the first
//!   layout (`models`: service → merged model, `meta`: service → bookkeeping): opening it
//!   splits every merged model into its sources in one write transaction (revision 1 each;
//!   the generation checked = the number of sources, so the move records no version), then
//!   drops the old tables.
//!
//! A push writes its rows in one write transaction, each changed row conditioned on the
//! revision its merge started from (see [`Engine`]); the HTTP answer is sent only after the
//! commit, so an acknowledged push is never lost, and an unacknowledged one is resent by the
//! agent; because the merge is a join (idempotent), a resent or replayed push changes nothing.

use super::{
    split_sources, Engine, PushWrite, Rows, ServiceMeta, ServiceRow, SourceRow, StoreConfig,
    StoredVersion,
};
use anyhow::{Context, Result};
use apitap_model::ApiModel;
use redb::{
    Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition,
    WriteTransaction,
};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// redb's page cache.
const REDB_CACHE_BYTES: usize = 32 << 20;

/// The layout this build writes.
pub const SCHEMA_VERSION: u64 = 2;

const SCHEMA: TableDefinition<&str, u64> = TableDefinition::new("schema");
const SOURCE_MODELS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("source_models");
const SOURCE_ROWS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("source_rows");
const SERVICE_ROWS: TableDefinition<&str, &[u8]> = TableDefinition::new("service_rows");
const VERSIONS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("versions");
/// First layout: service → merged model JSON.
pub const OLD_MODELS: TableDefinition<&str, &[u8]> = TableDefinition::new("models");
/// First layout: service → bookkeeping JSON.
pub const OLD_META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

/// The redb store.
pub type RedbStore = Engine<RedbRows>;

/// The rows in a redb file (see the module doc).
pub struct RedbRows {
    inner: Arc<Inner>,
}

struct Inner {
    db: Database,
    path: PathBuf,
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(anyhow::anyhow!("store task failed: {e}")))
}

/// The first layout's bookkeeping (only the fields the move keeps).
#[derive(serde::Deserialize, Default)]
struct OldMeta {
    #[serde(default)]
    pushes: u64,
    #[serde(default)]
    last_push_unix_ms: i64,
    #[serde(default)]
    latest_version: u64,
    #[serde(default)]
    endpoints: u64,
    #[serde(default)]
    spec_hash: u64,
}

fn migrate(txn: &WriteTransaction) -> Result<()> {
    let version = txn.open_table(SCHEMA)?.get("version")?.map(|g| g.value());
    if version.is_some_and(|v| v >= SCHEMA_VERSION) {
        return Ok(());
    }
    {
        let old_meta = txn.open_table(OLD_META)?;
        let old_models = txn.open_table(OLD_MODELS)?;
        let mut svc_t = txn.open_table(SERVICE_ROWS)?;
        let mut rows_t = txn.open_table(SOURCE_ROWS)?;
        let mut models_t = txn.open_table(SOURCE_MODELS)?;
        for r in old_meta.iter()? {
            let (k, v) = r?;
            let name = k.value().to_string();
            let m: OldMeta = serde_json::from_slice(v.value()).unwrap_or_default();
            let parts = match old_models.get(name.as_str())? {
                Some(g) => {
                    let text = std::str::from_utf8(g.value()).context("stored model")?;
                    let merged = ApiModel::from_json(text)
                        .map_err(|e| anyhow::anyhow!("stored model of {name:?}: {e}"))?;
                    split_sources(merged)
                }
                None => Vec::new(),
            };
            let row = ServiceRow {
                pushes: m.pushes,
                last_push_unix_ms: m.last_push_unix_ms,
                latest_version: m.latest_version,
                spec_hash: m.spec_hash,
                endpoints: m.endpoints,
                checked_gen: parts.len() as u64,
                settled_unix_ms: 0,
            };
            for (source, model, observed) in parts {
                let sr = SourceRow {
                    source: String::new(),
                    rev: 1,
                    observed,
                    pushes: 0,
                    last_push_unix_ms: m.last_push_unix_ms,
                };
                rows_t.insert(
                    (name.as_str(), source.as_str()),
                    serde_json::to_vec(&sr)?.as_slice(),
                )?;
                models_t.insert((name.as_str(), source.as_str()), model.as_bytes())?;
            }
            svc_t.insert(name.as_str(), serde_json::to_vec(&row)?.as_slice())?;
        }
    }
    txn.delete_table(OLD_META)?;
    txn.delete_table(OLD_MODELS)?;
    txn.open_table(SCHEMA)?.insert("version", SCHEMA_VERSION)?;
    Ok(())
}

impl Engine<RedbRows> {
    /// Opens (or creates) `dir/apitap-collector.redb`, moving a file of the first layout to
    /// this one.
    pub fn open(dir: &Path, cfg: StoreConfig) -> Result<RedbStore> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let path = dir.join("apitap-collector.redb");
        // redb's page cache defaults to 1 GiB: bounded here (the models cache is ours).
        let db = Database::builder()
            .set_cache_size(REDB_CACHE_BYTES)
            .create(&path)
            .with_context(|| format!("cannot open store {}", path.display()))?;
        let txn = db.begin_write()?;
        {
            txn.open_table(SOURCE_MODELS)?;
            txn.open_table(SOURCE_ROWS)?;
            txn.open_table(SERVICE_ROWS)?;
            txn.open_table(VERSIONS)?;
        }
        migrate(&txn).context("cannot move the store to its current layout")?;
        txn.commit()?;
        Ok(Engine::new(
            RedbRows {
                inner: Arc::new(Inner { db, path }),
            },
            cfg,
        ))
    }
}

fn service_row(v: &[u8]) -> ServiceRow {
    serde_json::from_slice(v).unwrap_or_default()
}

fn source_row(source: &str, v: &[u8]) -> SourceRow {
    let mut r: SourceRow = serde_json::from_slice(v).unwrap_or_default();
    r.source = source.to_string();
    r
}

impl Inner {
    fn sources(&self, service: &str) -> Result<Vec<SourceRow>> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(SOURCE_ROWS)?;
        let mut out = Vec::new();
        for r in t.range((service, "")..)? {
            let (k, v) = r?;
            let (svc, src) = k.value();
            if svc != service {
                break;
            }
            out.push(source_row(src, v.value()));
        }
        Ok(out)
    }
}

impl Rows for RedbRows {
    async fn service(&self, service: &str) -> Result<Option<ServiceRow>> {
        let inner = self.inner.clone();
        let svc = service.to_string();
        blocking(move || {
            let txn = inner.db.begin_read()?;
            let t = txn.open_table(SERVICE_ROWS)?;
            Ok(t.get(svc.as_str())?.map(|g| service_row(g.value())))
        })
        .await
    }

    async fn sources(&self, service: &str) -> Result<Vec<SourceRow>> {
        let inner = self.inner.clone();
        let svc = service.to_string();
        blocking(move || inner.sources(&svc)).await
    }

    async fn source_rev(&self, service: &str, source: &str) -> Result<Option<u64>> {
        let inner = self.inner.clone();
        let (svc, src) = (service.to_string(), source.to_string());
        blocking(move || {
            let txn = inner.db.begin_read()?;
            let t = txn.open_table(SOURCE_ROWS)?;
            Ok(t.get((svc.as_str(), src.as_str()))?
                .map(|g| source_row(&src, g.value()).rev))
        })
        .await
    }

    async fn load(&self, service: &str, source: &str) -> Result<Option<(u64, String)>> {
        let inner = self.inner.clone();
        let (svc, src) = (service.to_string(), source.to_string());
        blocking(move || {
            let txn = inner.db.begin_read()?;
            let rows = txn.open_table(SOURCE_ROWS)?;
            let models = txn.open_table(SOURCE_MODELS)?;
            let key = (svc.as_str(), src.as_str());
            let (Some(r), Some(m)) = (rows.get(key)?, models.get(key)?) else {
                return Ok(None);
            };
            let text = String::from_utf8(m.value().to_vec()).context("stored model")?;
            Ok(Some((source_row(&src, r.value()).rev, text)))
        })
        .await
    }

    async fn load_all(&self, service: &str) -> Result<Vec<(String, u64, String)>> {
        let inner = self.inner.clone();
        let svc = service.to_string();
        blocking(move || {
            let txn = inner.db.begin_read()?;
            let rows = txn.open_table(SOURCE_ROWS)?;
            let models = txn.open_table(SOURCE_MODELS)?;
            let mut out = Vec::new();
            for r in rows.range((svc.as_str(), "")..)? {
                let (k, v) = r?;
                let (s, src) = k.value();
                if s != svc {
                    break;
                }
                if let Some(m) = models.get((s, src))? {
                    let text = String::from_utf8(m.value().to_vec()).context("stored model")?;
                    out.push((src.to_string(), source_row(src, v.value()).rev, text));
                }
            }
            Ok(out)
        })
        .await
    }

    async fn write_push(&self, service: &str, w: &PushWrite) -> Result<bool> {
        let inner = self.inner.clone();
        let svc = service.to_string();
        let w = w.clone();
        blocking(move || {
            let txn = inner.db.begin_write()?;
            {
                let mut rows = txn.open_table(SOURCE_ROWS)?;
                let mut models = txn.open_table(SOURCE_MODELS)?;
                let mut services = txn.open_table(SERVICE_ROWS)?;
                let now = w.now_unix_ms;
                for s in &w.sources {
                    let key = (svc.as_str(), s.source.as_str());
                    let cur = rows.get(key)?.map(|g| source_row(&s.source, g.value()));
                    let mut r = match (&cur, &s.model) {
                        (None, Some(_)) if s.old_rev == 0 => SourceRow::default(),
                        (Some(c), Some(_)) if c.rev == s.old_rev => c.clone(),
                        (Some(c), None) => c.clone(),
                        // The row moved on: abandon (the transaction is dropped, not committed).
                        _ => return Ok(false),
                    };
                    if let Some(m) = &s.model {
                        r.rev += 1;
                        r.observed = s.observed;
                        models.insert(key, m.as_bytes())?;
                    }
                    r.pushes += u64::from(s.count);
                    r.last_push_unix_ms = r.last_push_unix_ms.max(now);
                    rows.insert(key, serde_json::to_vec(&r)?.as_slice())?;
                    if cur.is_none() && services.get(svc.as_str())?.is_none() {
                        services.insert(
                            svc.as_str(),
                            serde_json::to_vec(&ServiceRow::default())?.as_slice(),
                        )?;
                    }
                }
                if w.empty {
                    let mut row = services
                        .get(svc.as_str())?
                        .map(|g| service_row(g.value()))
                        .unwrap_or_default();
                    row.pushes += 1;
                    row.last_push_unix_ms = row.last_push_unix_ms.max(now);
                    services.insert(svc.as_str(), serde_json::to_vec(&row)?.as_slice())?;
                }
            }
            txn.commit().context("store commit failed")?;
            Ok(true)
        })
        .await
    }

    async fn record(
        &self,
        service: &str,
        old: &ServiceRow,
        new: &ServiceRow,
        version: Option<&StoredVersion>,
        max_versions: u64,
    ) -> Result<bool> {
        let inner = self.inner.clone();
        let svc = service.to_string();
        let (old, new, version) = (old.clone(), new.clone(), version.cloned());
        blocking(move || {
            let txn = inner.db.begin_write()?;
            {
                let mut services = txn.open_table(SERVICE_ROWS)?;
                let cur = services.get(svc.as_str())?.map(|g| service_row(g.value()));
                match cur {
                    Some(c)
                        if c.checked_gen == old.checked_gen
                            && c.latest_version == old.latest_version =>
                    {
                        // Pushes without a source may have been counted meanwhile.
                        let mut n = new.clone();
                        n.pushes = c.pushes;
                        n.last_push_unix_ms = c.last_push_unix_ms;
                        services.insert(svc.as_str(), serde_json::to_vec(&n)?.as_slice())?;
                    }
                    _ => return Ok(false),
                }
                if let Some(v) = &version {
                    let mut ver_t = txn.open_table(VERSIONS)?;
                    ver_t.insert((svc.as_str(), v.version), serde_json::to_vec(v)?.as_slice())?;
                    // Prune: keep the newest `max_versions`.
                    let keep_from = v.version.saturating_sub(max_versions.max(1)) + 1;
                    let old: Vec<u64> = ver_t
                        .range((svc.as_str(), 0)..(svc.as_str(), keep_from))?
                        .filter_map(|r| r.ok().map(|(k, _)| k.value().1))
                        .collect();
                    for o in old {
                        ver_t.remove((svc.as_str(), o))?;
                    }
                }
            }
            txn.commit().context("store commit failed")?;
            Ok(true)
        })
        .await
    }

    async fn list(&self) -> Result<Vec<(String, ServiceMeta)>> {
        let inner = self.inner.clone();
        blocking(move || {
            let txn = inner.db.begin_read()?;
            let services = txn.open_table(SERVICE_ROWS)?;
            let rows = txn.open_table(SOURCE_ROWS)?;
            let mut out = Vec::new();
            for r in services.iter()? {
                let (k, v) = r?;
                let name = k.value().to_string();
                let mut srcs = Vec::new();
                for s in rows.range((name.as_str(), "")..)? {
                    let (sk, sv) = s?;
                    let (svc, src) = sk.value();
                    if svc != name {
                        break;
                    }
                    srcs.push(source_row(src, sv.value()));
                }
                out.push((name, super::meta_of(&service_row(v.value()), &srcs)));
            }
            Ok(out)
        })
        .await
    }

    async fn unsettled(&self) -> Result<Vec<String>> {
        let list = self.list().await?;
        let inner = self.inner.clone();
        blocking(move || {
            let txn = inner.db.begin_read()?;
            let services = txn.open_table(SERVICE_ROWS)?;
            let mut out = Vec::new();
            for (name, meta) in list {
                let row = services
                    .get(name.as_str())?
                    .map(|g| service_row(g.value()))
                    .unwrap_or_default();
                if meta.rev != row.checked_gen || row.latest_version == 0 {
                    out.push(name);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn versions(&self, service: &str) -> Result<Vec<StoredVersion>> {
        let inner = self.inner.clone();
        let svc = service.to_string();
        blocking(move || {
            let txn = inner.db.begin_read()?;
            let t = txn.open_table(VERSIONS)?;
            let mut out = Vec::new();
            for r in t.range((svc.as_str(), 0)..=(svc.as_str(), u64::MAX))? {
                let (_, v) = r?;
                if let Ok(mut sv) = serde_json::from_slice::<StoredVersion>(v.value()) {
                    sv.spec = Value::Null;
                    out.push(sv);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn version(&self, service: &str, n: u64) -> Result<Option<StoredVersion>> {
        let inner = self.inner.clone();
        let svc = service.to_string();
        blocking(move || {
            let txn = inner.db.begin_read()?;
            let t = txn.open_table(VERSIONS)?;
            Ok(match t.get((svc.as_str(), n))? {
                Some(g) => Some(serde_json::from_slice(g.value())?),
                None => None,
            })
        })
        .await
    }

    async fn check(&self) -> Result<()> {
        let inner = self.inner.clone();
        blocking(move || {
            let txn = inner.db.begin_read()?;
            txn.open_table(SERVICE_ROWS)?;
            Ok(())
        })
        .await
    }

    async fn gauges(&self) -> (u64, u64) {
        let inner = self.inner.clone();
        blocking(move || {
            let n = inner
                .db
                .begin_read()
                .ok()
                .and_then(|t| t.open_table(SERVICE_ROWS).ok())
                .and_then(|t| t.len().ok())
                .unwrap_or(0);
            let bytes = std::fs::metadata(&inner.path).map(|m| m.len()).unwrap_or(0);
            Ok((n, bytes))
        })
        .await
        .unwrap_or((0, 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use apitap_model::{LearnConfig, Observation};

    fn model(source: &str, paths: usize) -> ApiModel {
        let mut m = ApiModel::new();
        let cfg = LearnConfig {
            source: source.into(),
            ..LearnConfig::default()
        };
        for i in 0..paths {
            m.observe(
                &Observation {
                    service: "svc".into(),
                    method: "POST".into(),
                    target: format!("/p{}/q{}", i % 97, i),
                    status: Some(200),
                    request_body: Some(format!("{{\"a{i}\":{{\"b\":[1,2,{i}]}}}}").into_bytes()),
                    ..Default::default()
                },
                &cfg,
            );
        }
        m
    }

    /// A push whose request is cancelled (here while it waits for its source's lock) still
    /// runs to its commit, and a push of the same source after it merges on top of it
    /// instead of beside it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cancelled_push_keeps_the_lock_until_committed() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(dir.path(), StoreConfig::default()).unwrap();
        let big = model("big", 3000);
        let mut small = model("big", 1);
        small.merge(&model("small", 1));
        let held = store.lock_sources("svc", &["big"]).await;
        let cancelled = tokio::time::timeout(
            std::time::Duration::from_millis(50),
            store.push("svc", big.clone(), 1),
        )
        .await;
        assert!(cancelled.is_err(), "the big push should still be waiting");
        drop(held);
        store.push("svc", small.clone(), 2).await.unwrap();
        // the cancelled push finishes whatever the outcome
        let _ = store.lock_sources("svc", &["big", "small"]).await;
        let got = store.model("svc").await.unwrap().unwrap();
        let sources: Vec<&String> = got.sources.keys().collect();
        assert_eq!(sources, ["big", "small"]);
        assert_eq!(*got, big.merged(&small), "no push lost");
    }
}
