//! The embedded store: [redb](https://docs.rs/redb) (pure Rust, ACID, copy-on-write B-trees,
//! crash-safe: a commit is durable when it returns, and a process killed at any moment reopens
//! to the last committed state). One collector process owns the file.
//!
//! Tables:
//! - `models`: service → merged native model JSON (the join of every accepted push);
//! - `meta`: service → [`ServiceMeta`] JSON (pushes, last push, revision, latest version);
//! - `versions`: (service, n) → [`StoredVersion`] JSON: the OpenAPI export (without evidence
//!   extensions, so traffic counters alone do not make a new version) when it changed.
//!
//! A push takes its service's stripe lock (see [`Stripes`]), merges outside any transaction
//! (see [`merge_step`]), then writes in one short write transaction: the model if it changed,
//! the bookkeeping, the new version and the pruning beyond [`StoreConfig::max_versions`].
//! The HTTP answer is sent only after the commit, so an acknowledged push is never lost, and
//! an unacknowledged one is resent by the agent; because the merge is a join (idempotent), a
//! resent or replayed push changes nothing.

use super::{
    merge_step, ModelCache, PushOutcome, ServiceMeta, Store, StoreConfig, StoredVersion, Stripes,
};
use anyhow::{Context, Result};
use apitap_model::ApiModel;
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// redb's page cache.
const REDB_CACHE_BYTES: usize = 32 << 20;

const MODELS: TableDefinition<&str, &[u8]> = TableDefinition::new("models");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const VERSIONS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("versions");

/// The redb store (see the module doc).
pub struct RedbStore {
    inner: Arc<Inner>,
    stripes: Stripes,
}

struct Inner {
    db: Database,
    path: PathBuf,
    cfg: StoreConfig,
    cache: ModelCache,
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(anyhow::anyhow!("store task failed: {e}")))
}

impl RedbStore {
    /// Opens (or creates) `dir/apitap-collector.redb`.
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
            txn.open_table(MODELS)?;
            txn.open_table(META)?;
            txn.open_table(VERSIONS)?;
        }
        txn.commit()?;
        Ok(RedbStore {
            inner: Arc::new(Inner {
                db,
                path,
                cache: ModelCache::new(cfg.cache_models),
                cfg,
            }),
            stripes: Stripes::new(64),
        })
    }
}

impl Inner {
    fn meta(&self, service: &str) -> Result<Option<ServiceMeta>> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(META)?;
        Ok(t.get(service)?
            .map(|g| serde_json::from_slice(g.value()).unwrap_or_default()))
    }

    fn model_at(&self, service: &str, rev: u64) -> Result<Option<Arc<ApiModel>>> {
        if let Some(m) = self.cache.get(service, rev) {
            return Ok(Some(m));
        }
        let txn = self.db.begin_read()?;
        let t = txn.open_table(MODELS)?;
        let Some(g) = t.get(service)? else {
            return Ok(None);
        };
        let text = std::str::from_utf8(g.value()).context("stored model is not UTF-8")?;
        let m = Arc::new(ApiModel::from_json(text).map_err(|e| anyhow::anyhow!("{e}"))?);
        self.cache.put(service, rev, m.clone());
        Ok(Some(m))
    }

    fn push(&self, service: &str, model: &ApiModel, now_unix_ms: i64) -> Result<PushOutcome> {
        let stored = self.meta(service)?;
        let current = match &stored {
            Some(m) => self.model_at(service, m.rev)?,
            None => None,
        };
        let meta = stored.unwrap_or_default();
        let step = merge_step(
            service,
            current.as_deref(),
            &meta,
            model,
            now_unix_ms,
            &self.cfg.templates,
        );
        let txn = self.db.begin_write()?;
        {
            let mut meta_t = txn.open_table(META)?;
            if let Some(m) = &step.model {
                txn.open_table(MODELS)?
                    .insert(service, m.to_json().as_bytes())?;
            }
            if let Some(v) = &step.version {
                let mut ver_t = txn.open_table(VERSIONS)?;
                ver_t.insert((service, v.version), serde_json::to_vec(v)?.as_slice())?;
                // Prune: keep the newest `max_versions`.
                let keep_from = v.version.saturating_sub(self.cfg.max_versions.max(1)) + 1;
                let old: Vec<u64> = ver_t
                    .range((service, 0)..(service, keep_from))?
                    .filter_map(|r| r.ok().map(|(k, _)| k.value().1))
                    .collect();
                for o in old {
                    ver_t.remove((service, o))?;
                }
            }
            meta_t.insert(service, serde_json::to_vec(&step.meta)?.as_slice())?;
        }
        txn.commit().context("store commit failed")?;
        let changed = step.model.is_some();
        if let Some(m) = step.model {
            self.cache.put(service, step.meta.rev, Arc::new(m));
        }
        Ok(PushOutcome {
            changed,
            new_version: step.version.map(|v| v.version),
            meta: step.meta,
        })
    }
}

impl Store for RedbStore {
    async fn push(&self, service: &str, model: ApiModel, now_unix_ms: i64) -> Result<PushOutcome> {
        // The guard moves into the blocking closure: it is held until the merge is committed
        // even if this future is dropped (see `Stripes`).
        let guard = self.stripes.lock(service).await;
        let inner = self.inner.clone();
        let svc = service.to_string();
        blocking(move || {
            let _guard = guard;
            inner.push(&svc, &model, now_unix_ms)
        })
        .await
    }

    async fn model(&self, service: &str) -> Result<Option<Arc<ApiModel>>> {
        let inner = self.inner.clone();
        let svc = service.to_string();
        blocking(move || match inner.meta(&svc)? {
            Some(m) => inner.model_at(&svc, m.rev),
            None => Ok(None),
        })
        .await
    }

    async fn services(&self) -> Result<Vec<(String, ServiceMeta)>> {
        let inner = self.inner.clone();
        blocking(move || {
            let txn = inner.db.begin_read()?;
            let t = txn.open_table(META)?;
            let mut out = Vec::new();
            for r in t.iter()? {
                let (k, v) = r?;
                let m: ServiceMeta = serde_json::from_slice(v.value()).unwrap_or_default();
                out.push((k.value().to_string(), m));
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
            txn.open_table(META)?;
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
                .and_then(|t| t.open_table(META).ok())
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

    /// A push whose request is cancelled while its merge runs on the blocking pool keeps the
    /// service's lock until the merge is committed: the next push merges on top of it
    /// instead of beside it (it was lost when the lock went with the cancelled future).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cancelled_push_keeps_the_lock_until_committed() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(dir.path(), StoreConfig::default()).unwrap();
        let big = model("big", 3000);
        let small = model("small", 1);
        let cancelled = tokio::time::timeout(
            std::time::Duration::from_millis(5),
            store.push("svc", big, 1),
        )
        .await;
        assert!(cancelled.is_err(), "the big push should still be merging");
        store.push("svc", small, 2).await.unwrap();
        // let the orphaned merge finish whatever the outcome
        let _ = store.stripes.lock("svc").await;
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let _ = store.stripes.lock("svc").await;
        let got = store.model("svc").await.unwrap().unwrap();
        let sources: Vec<&String> = got.sources.keys().collect();
        assert_eq!(sources, ["big", "small"]);
    }
}
