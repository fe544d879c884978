//! The shared store: a PostgreSQL database (`--store postgres://user:pass@host:port/db`) that
//! any number of collector replicas use at once.
//!
//! # Policy
//!
//! - **Schema** (the layout of the [module doc](super)): `apitap_sources` (service, source →
//!   the source's model JSON, revision, observed, pushes, last push), `apitap_services` (one
//!   row per service: spec bookkeeping, checked generation, pushes without a source) and
//!   `apitap_versions` (service, version → spec JSON), created by versioned migrations
//!   recorded in `apitap_schema_migrations` and applied at startup. Replicas starting together
//!   are safe: a migration is applied in the transaction that inserts its row, so a second
//!   replica waits on that row and then skips it.
//! - **Migrations 2–4** move the layout of one merged model per service (migration 1) to one
//!   row per source: 2 creates the table and columns, 3 splits every stored model into its
//!   sources (revision 1 each; the service's generation checked = its number of sources, so
//!   no version is recorded for the move), 4 drops the old columns. Old replicas must be
//!   stopped before new ones start: with the columns gone, an old replica's push fails (the
//!   agent keeps it and retries) instead of writing where the new layout does not look.
//! - **Concurrency: optimistic, per (service, source).** A push writes its rows in one short
//!   transaction: `UPDATE … WHERE service = $1 AND source = $2 AND rev = $old` (or `INSERT …
//!   ON CONFLICT DO NOTHING` for a new source). Zero rows means another writer got there
//!   first: the transaction is rolled back and the push merged again (safe: merge is a join).
//!   Pushes of different sources of one service never write the same row. A settle updates
//!   the service row conditioned on the generation it read. Serialisation failures (`40001`),
//!   deadlocks and unique violations (`23505`) are retried too.
//! - **Portable SQL**: only `CREATE TABLE IF NOT EXISTS`, `ALTER TABLE … ADD COLUMN … DEFAULT`
//!   and `DROP COLUMN`, `BIGINT`/`TEXT` columns, composite primary keys, `INSERT … ON
//!   CONFLICT (…) DO NOTHING`, `GREATEST`, `COALESCE`, `SUM`/`MAX`/`COUNT` with `GROUP BY`,
//!   `HAVING` and `LEFT JOIN`, transactions at the default isolation level — all supported by
//!   PostgreSQL ≥ 9.5, CockroachDB and YugabyteDB. A migration's schema change and its data
//!   move run in separate transactions. No advisory locks, no `LISTEN`, no JSONB operators,
//!   no sequences.
//! - **Connections**: a fixed pool of `connections` (default 4), reconnected on error; TLS is
//!   not built in (use a local proxy or a private network).

use super::{
    split_sources, Engine, PushWrite, Rows, ServiceMeta, ServiceRow, SourceRow, StoreConfig,
    StoredVersion,
};
use anyhow::{Context, Result};
use apitap_model::ApiModel;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use tokio::sync::Mutex;
use tokio_postgres::{Client, NoTls, Row, Transaction};

/// The PostgreSQL store.
pub type PgStore = Engine<PgRows>;

/// Versioned migrations, applied in order; never edit one that shipped, append a new one.
const MIGRATIONS: &[(i64, Migration)] = &[
    (
        1,
        Migration::Sql(&[
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
        ]),
    ),
    (
        2,
        Migration::Sql(&[
            "CREATE TABLE IF NOT EXISTS apitap_sources (
            service TEXT NOT NULL,
            source TEXT NOT NULL,
            rev BIGINT NOT NULL,
            model TEXT NOT NULL,
            observed BIGINT NOT NULL,
            pushes BIGINT NOT NULL,
            last_push_unix_ms BIGINT NOT NULL,
            PRIMARY KEY (service, source)
        )",
            "ALTER TABLE apitap_services ADD COLUMN checked_gen BIGINT NOT NULL DEFAULT 0",
            "ALTER TABLE apitap_services ADD COLUMN settled_unix_ms BIGINT NOT NULL DEFAULT 0",
        ]),
    ),
    (3, Migration::SplitSources),
    (
        4,
        Migration::Sql(&[
            "ALTER TABLE apitap_services DROP COLUMN model",
            "ALTER TABLE apitap_services DROP COLUMN rev",
            "ALTER TABLE apitap_services DROP COLUMN observed",
            "ALTER TABLE apitap_services DROP COLUMN sources",
        ]),
    ),
];

/// One migration.
enum Migration {
    /// Statements.
    Sql(&'static [&'static str]),
    /// Splits every merged model of the first layout into one row per source.
    SplitSources,
}

/// The rows in PostgreSQL (see the module doc).
pub struct PgRows {
    url: String,
    slots: Vec<Mutex<Option<Client>>>,
    next: AtomicUsize,
}

const SVC_COLS: &str =
    "pushes, last_push_unix_ms, latest_version, spec_hash, endpoints, checked_gen, settled_unix_ms";

fn u(v: i64) -> u64 {
    v.max(0) as u64
}

fn i(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn service_of(r: &Row, at: usize) -> Result<ServiceRow> {
    Ok(ServiceRow {
        pushes: u(r.try_get(at)?),
        last_push_unix_ms: r.try_get(at + 1)?,
        latest_version: u(r.try_get(at + 2)?),
        spec_hash: r.try_get::<_, i64>(at + 3)? as u64,
        endpoints: u(r.try_get(at + 4)?),
        checked_gen: u(r.try_get(at + 5)?),
        settled_unix_ms: r.try_get(at + 6)?,
    })
}

/// True for errors a retry may cure (a lost race).
pub fn retryable(e: &tokio_postgres::Error) -> bool {
    use tokio_postgres::error::SqlState;
    matches!(
        e.code(),
        Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::UNIQUE_VIOLATION
            || *c == SqlState::T_R_DEADLOCK_DETECTED
    )
}

impl Engine<PgRows> {
    /// Connects, applies pending migrations and returns the store.
    pub async fn connect(url: &str, connections: usize, cfg: StoreConfig) -> Result<PgStore> {
        let rows = PgRows {
            url: url.to_string(),
            slots: (0..connections.max(1)).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
        };
        let mut c = rows.open().await?;
        migrate(&mut c).await?;
        *rows.slots[0].lock().await = Some(c);
        Ok(Engine::new(rows, cfg))
    }
}

impl PgRows {
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
}

async fn ensure_service(tx: &Transaction<'_>, service: &str) -> Result<()> {
    tx.execute(
        "INSERT INTO apitap_services (name, pushes, last_push_unix_ms, latest_version, spec_hash, \
         endpoints, checked_gen, settled_unix_ms) VALUES ($1, 0, 0, 0, 0, 0, 0, 0) \
         ON CONFLICT (name) DO NOTHING",
        &[&service],
    )
    .await?;
    Ok(())
}

impl Rows for PgRows {
    async fn service(&self, service: &str) -> Result<Option<ServiceRow>> {
        let g = self.client().await?;
        let c = g.as_ref().context("no connection")?;
        let q = format!("SELECT {SVC_COLS} FROM apitap_services WHERE name = $1");
        match c.query_opt(&q, &[&service]).await? {
            Some(r) => Ok(Some(service_of(&r, 0)?)),
            None => Ok(None),
        }
    }

    async fn sources(&self, service: &str) -> Result<Vec<SourceRow>> {
        let g = self.client().await?;
        let c = g.as_ref().context("no connection")?;
        c.query(
            "SELECT source, rev, observed, pushes, last_push_unix_ms FROM apitap_sources \
             WHERE service = $1 ORDER BY source",
            &[&service],
        )
        .await?
        .iter()
        .map(|r| {
            Ok(SourceRow {
                source: r.try_get(0)?,
                rev: u(r.try_get(1)?),
                observed: u(r.try_get(2)?),
                pushes: u(r.try_get(3)?),
                last_push_unix_ms: r.try_get(4)?,
            })
        })
        .collect()
    }

    async fn source_rev(&self, service: &str, source: &str) -> Result<Option<u64>> {
        let g = self.client().await?;
        let c = g.as_ref().context("no connection")?;
        Ok(c.query_opt(
            "SELECT rev FROM apitap_sources WHERE service = $1 AND source = $2",
            &[&service, &source],
        )
        .await?
        .map(|r| r.try_get::<_, i64>(0))
        .transpose()?
        .map(u))
    }

    async fn load(&self, service: &str, source: &str) -> Result<Option<(u64, String)>> {
        let g = self.client().await?;
        let c = g.as_ref().context("no connection")?;
        match c
            .query_opt(
                "SELECT rev, model FROM apitap_sources WHERE service = $1 AND source = $2",
                &[&service, &source],
            )
            .await?
        {
            Some(r) => Ok(Some((u(r.try_get(0)?), r.try_get(1)?))),
            None => Ok(None),
        }
    }

    async fn load_all(&self, service: &str) -> Result<Vec<(String, u64, String)>> {
        let g = self.client().await?;
        let c = g.as_ref().context("no connection")?;
        c.query(
            "SELECT source, rev, model FROM apitap_sources WHERE service = $1 ORDER BY source",
            &[&service],
        )
        .await?
        .iter()
        .map(|r| Ok((r.try_get(0)?, u(r.try_get(1)?), r.try_get(2)?)))
        .collect()
    }

    async fn write_push(&self, service: &str, w: &PushWrite) -> Result<bool> {
        let mut g = self.client().await?;
        let c = g.as_mut().context("no connection")?;
        let tx = c.transaction().await?;
        let now = w.now_unix_ms;
        for s in &w.sources {
            let pushes = i64::from(s.count);
            let n = match (&s.model, s.old_rev) {
                (Some(model), 0) => {
                    ensure_service(&tx, service).await?;
                    tx.execute(
                        "INSERT INTO apitap_sources (service, source, rev, model, observed, \
                         pushes, last_push_unix_ms) VALUES ($1, $2, 1, $3, $4, $5, $6) \
                         ON CONFLICT (service, source) DO NOTHING",
                        &[&service, &s.source, model, &i(s.observed), &pushes, &now],
                    )
                    .await?
                }
                (Some(model), old) => {
                    tx.execute(
                        "UPDATE apitap_sources SET rev = rev + 1, model = $3, observed = $4, \
                         pushes = pushes + $5, last_push_unix_ms = GREATEST(last_push_unix_ms, $6) \
                         WHERE service = $1 AND source = $2 AND rev = $7",
                        &[
                            &service,
                            &s.source,
                            model,
                            &i(s.observed),
                            &pushes,
                            &now,
                            &i(old),
                        ],
                    )
                    .await?
                }
                // Unchanged: only the counters move; no revision check (a newer row contains
                // this push too, merge being monotonic).
                (None, _) => {
                    tx.execute(
                        "UPDATE apitap_sources SET pushes = pushes + $3, \
                         last_push_unix_ms = GREATEST(last_push_unix_ms, $4) \
                         WHERE service = $1 AND source = $2",
                        &[&service, &s.source, &pushes, &now],
                    )
                    .await?
                }
            };
            if n == 0 {
                tx.rollback().await?;
                return Ok(false);
            }
        }
        if w.empty {
            ensure_service(&tx, service).await?;
            tx.execute(
                "UPDATE apitap_services SET pushes = pushes + 1, \
                 last_push_unix_ms = GREATEST(last_push_unix_ms, $2) WHERE name = $1",
                &[&service, &now],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn record(
        &self,
        service: &str,
        old: &ServiceRow,
        new: &ServiceRow,
        version: Option<&StoredVersion>,
        max_versions: u64,
    ) -> Result<bool> {
        let spec = version.map(|v| v.spec.to_string());
        let mut g = self.client().await?;
        let c = g.as_mut().context("no connection")?;
        let tx = c.transaction().await?;
        let n = tx
            .execute(
                "UPDATE apitap_services SET latest_version = $4, spec_hash = $5, endpoints = $6, \
                 checked_gen = $7, settled_unix_ms = $8 \
                 WHERE name = $1 AND checked_gen = $2 AND latest_version = $3",
                &[
                    &service,
                    &i(old.checked_gen),
                    &i(old.latest_version),
                    &i(new.latest_version),
                    &(new.spec_hash as i64),
                    &i(new.endpoints),
                    &i(new.checked_gen),
                    &new.settled_unix_ms,
                ],
            )
            .await?;
        if n == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        if let (Some(v), Some(spec)) = (version, &spec) {
            tx.execute(
                "INSERT INTO apitap_versions (service, version, created_unix_ms, endpoints, spec) \
                 VALUES ($1, $2, $3, $4, $5)",
                &[
                    &service,
                    &i(v.version),
                    &v.created_unix_ms,
                    &i(v.endpoints),
                    spec,
                ],
            )
            .await?;
            let keep_from = v.version.saturating_sub(max_versions.max(1)) + 1;
            tx.execute(
                "DELETE FROM apitap_versions WHERE service = $1 AND version < $2",
                &[&service, &i(keep_from)],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn list(&self) -> Result<Vec<(String, ServiceMeta)>> {
        let g = self.client().await?;
        let c = g.as_ref().context("no connection")?;
        let q = format!(
            "SELECT s.name, {}, COALESCE(SUM(r.pushes), 0)::BIGINT, \
             COALESCE(MAX(r.last_push_unix_ms), 0)::BIGINT, COALESCE(SUM(r.observed), 0)::BIGINT, \
             COUNT(r.source)::BIGINT, COALESCE(SUM(r.rev), 0)::BIGINT \
             FROM apitap_services s LEFT JOIN apitap_sources r ON r.service = s.name \
             GROUP BY s.name, {} ORDER BY s.name",
            prefixed("s."),
            prefixed("s.")
        );
        c.query(&q, &[])
            .await?
            .iter()
            .map(|r| {
                let row = service_of(r, 1)?;
                Ok((
                    r.try_get(0)?,
                    ServiceMeta {
                        pushes: row.pushes + u(r.try_get(8)?),
                        last_push_unix_ms: row.last_push_unix_ms.max(r.try_get(9)?),
                        latest_version: row.latest_version,
                        endpoints: row.endpoints,
                        observed: u(r.try_get(10)?),
                        sources: u(r.try_get(11)?),
                        rev: u(r.try_get(12)?),
                        spec_hash: row.spec_hash,
                    },
                ))
            })
            .collect()
    }

    async fn unsettled(&self) -> Result<Vec<String>> {
        let g = self.client().await?;
        let c = g.as_ref().context("no connection")?;
        c.query(
            "SELECT s.name FROM apitap_services s LEFT JOIN apitap_sources r ON r.service = s.name \
             GROUP BY s.name, s.checked_gen, s.latest_version \
             HAVING COALESCE(SUM(r.rev), 0) <> s.checked_gen OR s.latest_version = 0",
            &[],
        )
        .await?
        .iter()
        .map(|r| Ok(r.try_get(0)?))
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

fn prefixed(p: &str) -> String {
    SVC_COLS
        .split(", ")
        .map(|c| format!("{p}{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Migration 3: every merged model of the first layout becomes one row per source.
async fn split_sources_migration(tx: &Transaction<'_>) -> Result<()> {
    let names: Vec<String> = tx
        .query("SELECT name FROM apitap_services ORDER BY name", &[])
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    for name in names {
        let r = tx
            .query_one(
                "SELECT model, last_push_unix_ms FROM apitap_services WHERE name = $1",
                &[&name],
            )
            .await?;
        let text: String = r.try_get(0)?;
        let last: i64 = r.try_get(1)?;
        let merged = ApiModel::from_json(&text)
            .map_err(|e| anyhow::anyhow!("stored model of {name:?}: {e}"))?;
        let parts = split_sources(merged);
        let gen = parts.len() as i64;
        for (source, model, observed) in parts {
            tx.execute(
                "INSERT INTO apitap_sources (service, source, rev, model, observed, pushes, \
                 last_push_unix_ms) VALUES ($1, $2, 1, $3, $4, 0, $5) \
                 ON CONFLICT (service, source) DO NOTHING",
                &[&name, &source, &model, &i(observed), &last],
            )
            .await?;
        }
        // Pushes counted so far stay on the service row; the move records no version.
        tx.execute(
            "UPDATE apitap_services SET checked_gen = $2, model = '' WHERE name = $1",
            &[&name, &gen],
        )
        .await?;
    }
    Ok(())
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
    for (v, m) in MIGRATIONS {
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
        match m {
            Migration::Sql(stmts) => {
                for s in *stmts {
                    tx.execute(*s, &[])
                        .await
                        .with_context(|| format!("migration {v} failed"))?;
                }
            }
            Migration::SplitSources => split_sources_migration(&tx)
                .await
                .with_context(|| format!("migration {v} failed"))?,
        }
        tx.commit().await?;
        tracing::info!(version = v, "applied store migration");
    }
    Ok(())
}
