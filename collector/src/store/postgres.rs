//! The shared store: a PostgreSQL database (`--store postgres://user:pass@host:port/db`) that
//! any number of collector replicas use at once.
//!
//! # Policy
//!
//! - **Schema**: tables `apitap_services` (one row per service: the merged model JSON, its
//!   revision and the bookkeeping) and `apitap_versions` (service, version → spec JSON),
//!   created by versioned migrations recorded in `apitap_schema_migrations` and applied at
//!   startup. Replicas starting together are safe: a migration is applied in the transaction
//!   that inserts its row, so a second replica waits on that row and then skips it.
//! - **Concurrency: optimistic, with retry.** A push reads the row's revision (and the model,
//!   unless the [`ModelCache`] holds that revision), merges outside any transaction, then
//!   writes in one short transaction `UPDATE … WHERE name = $1 AND rev = $old` (or an
//!   `INSERT … ON CONFLICT DO NOTHING` for a new service). If another replica got there
//!   first, zero rows change, the transaction is rolled back and the push is merged again
//!   from the newer model: a retry is safe because merge is a join. Counters that do not
//!   depend on the model (`pushes`) are SQL increments, so unchanged pushes never conflict.
//!   Serialisation failures (`40001`) and unique violations (`23505`) are retried too.
//! - **Portable SQL**: only `CREATE TABLE IF NOT EXISTS`, `BIGINT`/`TEXT` columns, composite
//!   primary keys, `INSERT … ON CONFLICT (…) DO NOTHING`, `UPDATE … RETURNING`, `GREATEST`,
//!   transactions at the default isolation level, and transactional DDL in migrations — all
//!   supported by PostgreSQL ≥ 9.5, CockroachDB and YugabyteDB. No advisory locks, no
//!   `LISTEN`, no JSONB operators, no sequences.
//! - **Connections**: a fixed pool of `connections` (default 4), reconnected on error; TLS is
//!   not built in (use a local proxy or a private network).

use super::{
    merge_step, ModelCache, PushOutcome, ServiceMeta, Store, StoreConfig, StoredVersion, Stripes,
};
use anyhow::{Context, Result};
use apitap_model::ApiModel;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use tokio::sync::Mutex;
use tokio_postgres::{Client, NoTls, Row};

/// Versioned migrations, applied in order; never edit one that shipped, append a new one.
const MIGRATIONS: &[(i64, &[&str])] = &[(
    1,
    &[
        "CREATE TABLE IF NOT EXISTS apitap_services (
            name TEXT PRIMARY KEY,
            rev BIGINT NOT NULL,
            model TEXT NOT NULL,
            pushes BIGINT NOT NULL,
            last_push_unix_ms BIGINT NOT NULL,
            latest_version BIGINT NOT NULL,
            spec_hash BIGINT NOT NULL,
            endpoints BIGINT NOT NULL,
            observed BIGINT NOT NULL,
            sources BIGINT NOT NULL
        )",
        "CREATE TABLE IF NOT EXISTS apitap_versions (
            service TEXT NOT NULL,
            version BIGINT NOT NULL,
            created_unix_ms BIGINT NOT NULL,
            endpoints BIGINT NOT NULL,
            spec TEXT NOT NULL,
            PRIMARY KEY (service, version)
        )",
    ],
)];

/// Attempts per push before giving up (each lost race means another replica progressed).
const MAX_ATTEMPTS: usize = 50;

/// The PostgreSQL store (see the module doc).
pub struct PgStore {
    url: String,
    slots: Vec<Mutex<Option<Client>>>,
    next: AtomicUsize,
    cfg: StoreConfig,
    cache: ModelCache,
    stripes: Stripes,
}

const META_COLS: &str =
    "rev, pushes, last_push_unix_ms, latest_version, spec_hash, endpoints, observed, sources";

fn u(v: i64) -> u64 {
    v.max(0) as u64
}

fn i(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn meta_of(r: &Row, at: usize) -> Result<ServiceMeta> {
    Ok(ServiceMeta {
        rev: u(r.try_get(at)?),
        pushes: u(r.try_get(at + 1)?),
        last_push_unix_ms: r.try_get(at + 2)?,
        latest_version: u(r.try_get(at + 3)?),
        spec_hash: r.try_get::<_, i64>(at + 4)? as u64,
        endpoints: u(r.try_get(at + 5)?),
        observed: u(r.try_get(at + 6)?),
        sources: u(r.try_get(at + 7)?),
    })
}

/// True for errors a retry may cure (a lost race).
fn retryable(e: &tokio_postgres::Error) -> bool {
    use tokio_postgres::error::SqlState;
    matches!(
        e.code(),
        Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::UNIQUE_VIOLATION
            || *c == SqlState::T_R_DEADLOCK_DETECTED
    )
}

enum Attempt {
    Done(PushOutcome),
    Retry,
}

impl PgStore {
    /// Connects, applies pending migrations and returns the store.
    pub async fn connect(url: &str, connections: usize, cfg: StoreConfig) -> Result<PgStore> {
        let s = PgStore {
            url: url.to_string(),
            slots: (0..connections.max(1)).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
            cache: ModelCache::new(cfg.cache_models),
            cfg,
            stripes: Stripes::new(64),
        };
        let mut c = s.open().await?;
        migrate(&mut c).await?;
        *s.slots[0].lock().await = Some(c);
        Ok(s)
    }

    async fn open(&self) -> Result<Client> {
        let (client, conn) = tokio_postgres::connect(&self.url, NoTls)
            .await
            .context("cannot connect to the PostgreSQL store")?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::warn!("PostgreSQL connection closed: {e}");
            }
        });
        Ok(client)
    }

    /// A connection from the pool (opened or reopened as needed), held until the guard drops.
    async fn client(&self) -> Result<tokio::sync::MutexGuard<'_, Option<Client>>> {
        let n = self.slots.len();
        let start = self.next.fetch_add(1, Relaxed) % n;
        // Take a free slot if there is one, else wait for ours.
        let mut g = None;
        for k in 0..n {
            if let Ok(x) = self.slots[(start + k) % n].try_lock() {
                g = Some(x);
                break;
            }
        }
        let mut g = match g {
            Some(g) => g,
            None => self.slots[start].lock().await,
        };
        if g.as_ref().is_none_or(|c| c.is_closed()) {
            *g = Some(self.open().await?);
        }
        Ok(g)
    }

    async fn read_meta(c: &Client, service: &str) -> Result<Option<ServiceMeta>> {
        let q = format!("SELECT {META_COLS} FROM apitap_services WHERE name = $1");
        match c.query_opt(&q, &[&service]).await? {
            Some(r) => Ok(Some(meta_of(&r, 0)?)),
            None => Ok(None),
        }
    }

    /// The model at `rev`, from the cache or the store (`None` if the row moved on).
    async fn model_at(&self, c: &Client, service: &str, rev: u64) -> Result<Option<Arc<ApiModel>>> {
        if let Some(m) = self.cache.get(service, rev) {
            return Ok(Some(m));
        }
        let Some(r) = c
            .query_opt(
                "SELECT model FROM apitap_services WHERE name = $1 AND rev = $2",
                &[&service, &i(rev)],
            )
            .await?
        else {
            return Ok(None);
        };
        let text: String = r.try_get(0)?;
        let m = tokio::task::spawn_blocking(move || {
            ApiModel::from_json(&text).map_err(|e| anyhow::anyhow!("stored model: {e}"))
        })
        .await??;
        let m = Arc::new(m);
        self.cache.put(service, rev, m.clone());
        Ok(Some(m))
    }

    async fn attempt(
        &self,
        c: &mut Client,
        service: &str,
        push: &Arc<ApiModel>,
        now: i64,
    ) -> Result<Attempt> {
        let stored = Self::read_meta(c, service).await?;
        let current = match &stored {
            Some(m) => match self.model_at(c, service, m.rev).await? {
                Some(x) => Some(x),
                None => return Ok(Attempt::Retry),
            },
            None => None,
        };
        let meta = stored.clone().unwrap_or_default();
        let (svc, p, cur) = (service.to_string(), push.clone(), current.clone());
        let rules = self.cfg.templates.clone();
        let step = tokio::task::spawn_blocking(move || {
            let json = |m: &ApiModel| m.to_json();
            let s = merge_step(&svc, cur.as_deref(), &meta, &p, now, &rules);
            let text = s.model.as_ref().map(json);
            let spec = s.version.as_ref().map(|v| v.spec.to_string());
            (s, text, spec)
        })
        .await?;
        let (step, text, spec) = step;
        let tx = c.transaction().await?;
        let row = match (&stored, &text) {
            (None, Some(text)) => {
                let m = &step.meta;
                let n = tx
                    .execute(
                        "INSERT INTO apitap_services (name, rev, model, pushes, last_push_unix_ms, \
                         latest_version, spec_hash, endpoints, observed, sources) \
                         VALUES ($1, $2, $3, 1, $4, $5, $6, $7, $8, $9) ON CONFLICT (name) DO NOTHING",
                        &[
                            &service,
                            &i(m.rev),
                            text,
                            &now,
                            &i(m.latest_version),
                            &(m.spec_hash as i64),
                            &i(m.endpoints),
                            &i(m.observed),
                            &i(m.sources),
                        ],
                    )
                    .await?;
                if n == 0 {
                    return Ok(Attempt::Retry);
                }
                None
            }
            (Some(old), Some(text)) => {
                let m = &step.meta;
                let q = format!(
                    "UPDATE apitap_services SET rev = $3, model = $4, pushes = pushes + 1, \
                     last_push_unix_ms = GREATEST(last_push_unix_ms, $5), latest_version = $6, \
                     spec_hash = $7, endpoints = $8, observed = $9, sources = $10 \
                     WHERE name = $1 AND rev = $2 RETURNING {META_COLS}"
                );
                match tx
                    .query_opt(
                        &q,
                        &[
                            &service,
                            &i(old.rev),
                            &i(m.rev),
                            text,
                            &now,
                            &i(m.latest_version),
                            &(m.spec_hash as i64),
                            &i(m.endpoints),
                            &i(m.observed),
                            &i(m.sources),
                        ],
                    )
                    .await?
                {
                    Some(r) => Some(r),
                    None => return Ok(Attempt::Retry),
                }
            }
            (_, None) => {
                // Unchanged: only the counters move; no conflict with anyone.
                let q = format!(
                    "UPDATE apitap_services SET pushes = pushes + 1, \
                     last_push_unix_ms = GREATEST(last_push_unix_ms, $2) \
                     WHERE name = $1 RETURNING {META_COLS}"
                );
                match tx.query_opt(&q, &[&service, &now]).await? {
                    Some(r) => Some(r),
                    None => return Ok(Attempt::Retry),
                }
            }
        };
        if let (Some(v), Some(spec)) = (&step.version, &spec) {
            tx.execute(
                "INSERT INTO apitap_versions (service, version, created_unix_ms, endpoints, spec) \
                 VALUES ($1, $2, $3, $4, $5)",
                &[&service, &i(v.version), &now, &i(v.endpoints), spec],
            )
            .await?;
            let keep_from = v.version.saturating_sub(self.cfg.max_versions.max(1)) + 1;
            tx.execute(
                "DELETE FROM apitap_versions WHERE service = $1 AND version < $2",
                &[&service, &i(keep_from)],
            )
            .await?;
        }
        tx.commit().await?;
        let meta = match &row {
            Some(r) => meta_of(r, 0)?,
            None => step.meta.clone(),
        };
        let changed = step.model.is_some();
        if let Some(m) = step.model {
            self.cache.put(service, meta.rev, Arc::new(m));
        }
        Ok(Attempt::Done(PushOutcome {
            changed,
            new_version: step.version.map(|v| v.version),
            meta,
        }))
    }
}

async fn migrate(c: &mut Client) -> Result<()> {
    // Replicas starting together race here: PostgreSQL's `CREATE TABLE IF NOT EXISTS` is not
    // atomic against a concurrent creator (one of them fails on the catalog's unique index),
    // so a failure is retried; the second try sees the table. Retrying is safe: the version
    // rows below decide which migrations still run. No advisory lock, to stay portable to the
    // distributed databases (see the module doc).
    let mut tries = 0u64;
    loop {
        let r = c
            .execute(
                "CREATE TABLE IF NOT EXISTS apitap_schema_migrations (
                    version BIGINT PRIMARY KEY,
                    applied_unix_ms BIGINT NOT NULL
                )",
                &[],
            )
            .await;
        match r {
            Ok(_) => break,
            Err(e) if tries < 5 => {
                tries += 1;
                tracing::debug!(error = %e, tries, "creating the migrations table raced; retrying");
                tokio::time::sleep(std::time::Duration::from_millis(50 * tries)).await;
            }
            Err(e) => return Err(e).context("cannot create the migrations table"),
        }
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    for (v, stmts) in MIGRATIONS {
        let tx = c.transaction().await?;
        let n = tx
            .execute(
                "INSERT INTO apitap_schema_migrations (version, applied_unix_ms) VALUES ($1, $2) \
                 ON CONFLICT (version) DO NOTHING",
                &[v, &now],
            )
            .await?;
        if n == 0 {
            tx.rollback().await?;
            continue;
        }
        for s in *stmts {
            tx.execute(*s, &[])
                .await
                .with_context(|| format!("migration {v} failed"))?;
        }
        tx.commit().await?;
        tracing::info!(version = v, "applied store migration");
    }
    Ok(())
}

impl Store for PgStore {
    async fn push(&self, service: &str, model: ApiModel, now_unix_ms: i64) -> Result<PushOutcome> {
        // Pushes to one service on this replica queue here instead of racing each other.
        let _g = self.stripes.of(service).lock().await;
        let push = Arc::new(model);
        for _ in 0..MAX_ATTEMPTS {
            let mut g = self.client().await?;
            let Some(c) = g.as_mut() else {
                continue;
            };
            match self.attempt(c, service, &push, now_unix_ms).await {
                Ok(Attempt::Done(o)) => return Ok(o),
                Ok(Attempt::Retry) => continue,
                Err(e) => {
                    if e.downcast_ref::<tokio_postgres::Error>()
                        .is_some_and(retryable)
                    {
                        continue;
                    }
                    return Err(e);
                }
            }
        }
        anyhow::bail!("push to {service:?} lost {MAX_ATTEMPTS} races in a row")
    }

    async fn model(&self, service: &str) -> Result<Option<Arc<ApiModel>>> {
        for _ in 0..MAX_ATTEMPTS {
            let g = self.client().await?;
            let Some(c) = g.as_ref() else { continue };
            let Some(m) = Self::read_meta(c, service).await? else {
                return Ok(None);
            };
            if let Some(x) = self.model_at(c, service, m.rev).await? {
                return Ok(Some(x));
            }
        }
        anyhow::bail!("model of {service:?} changed on every read")
    }

    async fn services(&self) -> Result<Vec<(String, ServiceMeta)>> {
        let g = self.client().await?;
        let c = g.as_ref().context("no connection")?;
        let q = format!("SELECT name, {META_COLS} FROM apitap_services ORDER BY name");
        c.query(&q, &[])
            .await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, meta_of(r, 1)?)))
            .collect()
    }

    async fn versions(&self, service: &str) -> Result<Vec<StoredVersion>> {
        let g = self.client().await?;
        let c = g.as_ref().context("no connection")?;
        c.query(
            "SELECT version, created_unix_ms, endpoints FROM apitap_versions \
             WHERE service = $1 ORDER BY version",
            &[&service],
        )
        .await?
        .iter()
        .map(|r| {
            Ok(StoredVersion {
                version: u(r.try_get(0)?),
                created_unix_ms: r.try_get(1)?,
                endpoints: u(r.try_get(2)?),
                spec: serde_json::Value::Null,
            })
        })
        .collect()
    }

    async fn version(&self, service: &str, n: u64) -> Result<Option<StoredVersion>> {
        let g = self.client().await?;
        let c = g.as_ref().context("no connection")?;
        let Some(r) = c
            .query_opt(
                "SELECT version, created_unix_ms, endpoints, spec FROM apitap_versions \
                 WHERE service = $1 AND version = $2",
                &[&service, &i(n)],
            )
            .await?
        else {
            return Ok(None);
        };
        let spec: String = r.try_get(3)?;
        Ok(Some(StoredVersion {
            version: u(r.try_get(0)?),
            created_unix_ms: r.try_get(1)?,
            endpoints: u(r.try_get(2)?),
            spec: serde_json::from_str(&spec).context("stored spec")?,
        }))
    }

    async fn check(&self) -> Result<()> {
        let g = self.client().await?;
        let c = g.as_ref().context("no connection")?;
        c.query_one("SELECT count(*) FROM apitap_schema_migrations", &[])
            .await?;
        Ok(())
    }

    async fn gauges(&self) -> (u64, u64) {
        let Ok(g) = self.client().await else {
            return (0, 0);
        };
        let Some(c) = g.as_ref() else { return (0, 0) };
        match c
            .query_one("SELECT count(*) FROM apitap_services", &[])
            .await
        {
            Ok(r) => (u(r.try_get(0).unwrap_or(0)), 0),
            Err(_) => (0, 0),
        }
    }
}
