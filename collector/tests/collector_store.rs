//! The store's row layout, through the library: a push touches only its own source's row,
//! concurrent pushes of different sources of one service lose nothing (redb, and three
//! engines on one real PostgreSQL), versions are settled in the background and on reads,
//! and stores of the first layout (one merged model per service) are moved and still load.
//!
//! The PostgreSQL tests start their own server (`initdb` + `pg_ctl` from
//! `/usr/lib/postgresql/*/bin`, as the `postgres` user when run as root) and skip when it is
//! not installed, unless `CI` is set.

#[path = "collector_support.rs"]
mod support;

use apitap_collector::store::postgres::PgStore;
use apitap_collector::store::redb::{RedbStore, OLD_META, OLD_MODELS};
use apitap_collector::store::{spec_of, Rows, Store, StoreConfig};
use apitap_model::ApiModel;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;
use support::traffic;

fn cfg(settle_ms: u64) -> StoreConfig {
    StoreConfig {
        settle_delay: Duration::from_millis(settle_ms),
        ..StoreConfig::default()
    }
}

async fn revs<R: Rows>(rows: &R, service: &str) -> Vec<(String, u64)> {
    rows.sources(service)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.source, r.rev))
        .collect()
}

/// A push merges into and writes its own source's row only: the other sources' revisions do
/// not move, and the service's generation is the sum of the revisions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_touches_only_its_own_source_row() {
    let dir = tempfile::tempdir().unwrap();
    let store = RedbStore::open(dir.path(), cfg(60_000)).unwrap();
    for src in ["a", "b", "c"] {
        store.push("svc", traffic(src, 20, 5), 1).await.unwrap();
    }
    let out = store.push("svc", traffic("b", 40, 5), 2).await.unwrap();
    assert!(out.changed);
    let out = store.push("svc", traffic("b", 40, 5), 3).await.unwrap();
    assert!(!out.changed, "a duplicate changes nothing");
    assert_eq!(
        revs(store.rows(), "svc").await,
        [("a".into(), 1), ("b".into(), 2), ("c".into(), 1)]
    );
    let list = store.services().await.unwrap();
    assert_eq!(list[0].1.rev, 4, "generation = sum of revisions");
    assert_eq!(list[0].1.pushes, 5);
    assert_eq!(list[0].1.sources, 3);
    let m = store.model("svc").await.unwrap().unwrap();
    let want = traffic("a", 20, 5)
        .merged(&traffic("b", 40, 5))
        .merged(&traffic("c", 20, 5));
    assert_eq!(*m, want);
    assert_eq!(list[0].1.observed, want.stats().observed);
}

/// Versions are recorded by the settle step: before a read of the history, and in the
/// background after the delay without any read; a duplicate push records none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_settle_on_read_and_in_the_background() {
    let dir = tempfile::tempdir().unwrap();
    let store = RedbStore::open(dir.path(), cfg(100)).unwrap();
    store.push("svc", traffic("a", 10, 3), 1).await.unwrap();
    let v = store.versions("svc").await.unwrap();
    assert_eq!(v.len(), 1, "a read of the history settles first");
    // a new endpoint: no read, the background settles it
    store.push("svc", traffic("b", 10, 4), 2).await.unwrap();
    let mut n = 0;
    for _ in 0..100 {
        n = store.rows().versions("svc").await.unwrap().len();
        if n == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(n, 2, "settled in the background");
    store.push("svc", traffic("b", 10, 4), 3).await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(store.versions("svc").await.unwrap().len(), 2);
    assert_eq!(store.versions_recorded(), 2);
    let row = store.rows().service("svc").await.unwrap().unwrap();
    assert_eq!(row.checked_gen, 2);
}

async fn concurrent_sources<S: Store + Send + Sync>(stores: Vec<Arc<S>>, service: &str) {
    let sources = 24;
    let mut tasks = Vec::new();
    // Every snapshot of every source at once, a source's snapshots on different stores: the
    // same row is raced too (a snapshot merged from a stale row must not overwrite a newer).
    for k in 0..sources {
        for step in 1..=3 {
            let st = stores[(k + step) % stores.len()].clone();
            let svc = service.to_string();
            tasks.push(tokio::spawn(async move {
                let m = traffic(&format!("agent{k}"), 10 * step + k, 6);
                st.push(&svc, m, step as i64).await.unwrap();
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut want = ApiModel::new();
    for k in 0..sources {
        want.merge(&traffic(&format!("agent{k}"), 30 + k, 6));
    }
    for st in &stores {
        let got = st.model(service).await.unwrap().unwrap();
        assert_eq!(
            got.stats().observed,
            want.stats().observed,
            "no update lost"
        );
        assert!(*got == want, "no update lost");
        let list = st.services().await.unwrap();
        let meta = &list.iter().find(|(n, _)| n == service).unwrap().1;
        assert_eq!(meta.pushes, 3 * sources as u64);
        assert_eq!(meta.sources, sources as u64);
        assert_eq!(meta.observed, want.stats().observed);
        assert!(meta.rev >= sources as u64 && meta.rev <= 3 * sources as u64);
    }
    // versions: settled once more, every store agrees
    let v0 = stores[0].versions(service).await.unwrap();
    for st in &stores[1..] {
        assert_eq!(st.versions(service).await.unwrap(), v0);
    }
    let last = stores[0]
        .version(service, v0.last().unwrap().version)
        .await
        .unwrap()
        .unwrap();
    let (_, spec, _) = spec_of(service, &want, &Default::default());
    assert_eq!(
        last.spec, spec,
        "the latest version is the spec of every push"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_sources_of_one_service_lose_nothing_redb() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(RedbStore::open(dir.path(), cfg(50)).unwrap());
    concurrent_sources(vec![store], "svc").await;
}

/// The first layout's tables, written as the previous build did.
fn write_old_redb(dir: &Path, merged: &ApiModel, pushes: u64, spec_hash: u64) {
    let db = redb::Database::create(dir.join("apitap-collector.redb")).unwrap();
    let txn = db.begin_write().unwrap();
    {
        let mut models = txn.open_table(OLD_MODELS).unwrap();
        models.insert("svc", merged.to_json().as_bytes()).unwrap();
        let mut meta = txn.open_table(OLD_META).unwrap();
        let m = serde_json::json!({"pushes": pushes, "last_push_unix_ms": 7, "latest_version": 1,
            "endpoints": 6, "observed": merged.stats().observed, "sources": merged.sources.len(),
            "rev": 3, "spec_hash": spec_hash});
        meta.insert("svc", m.to_string().as_bytes()).unwrap();
        let versions: redb::TableDefinition<(&str, u64), &[u8]> =
            redb::TableDefinition::new("versions");
        let mut v = txn.open_table(versions).unwrap();
        let sv = serde_json::json!({"version": 1, "created_unix_ms": 7, "endpoints": 6, "spec": {"openapi": "3.1.0"}});
        v.insert(("svc", 1), sv.to_string().as_bytes()).unwrap();
    }
    txn.commit().unwrap();
}

fn old_model() -> ApiModel {
    traffic("a", 30, 6)
        .merged(&traffic("b", 20, 6))
        .merged(&traffic("c", 10, 3))
}

/// A redb file of the first layout opens, moved to one row per source: the same model, the
/// pushes counted, the versions kept and no version recorded for the move.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redb_first_layout_is_moved_and_loads() {
    let dir = tempfile::tempdir().unwrap();
    let merged = old_model();
    let (_, _, hash) = spec_of("svc", &merged, &Default::default());
    write_old_redb(dir.path(), &merged, 9, hash);
    let store = RedbStore::open(dir.path(), cfg(50)).unwrap();
    assert_eq!(*store.model("svc").await.unwrap().unwrap(), merged);
    assert_eq!(
        revs(store.rows(), "svc").await,
        [("a".into(), 1), ("b".into(), 1), ("c".into(), 1)]
    );
    let list = store.services().await.unwrap();
    assert_eq!(list[0].1.pushes, 9);
    assert_eq!(list[0].1.observed, merged.stats().observed);
    let v = store.versions("svc").await.unwrap();
    assert_eq!(v.len(), 1, "no version for the move: {v:?}");
    // and it keeps working
    store.push("svc", traffic("d", 5, 2), 8).await.unwrap();
    assert_eq!(store.services().await.unwrap()[0].1.pushes, 10);
    drop(store);
    // reopening does not move anything again
    let store = RedbStore::open(dir.path(), cfg(50)).unwrap();
    assert_eq!(
        *store.model("svc").await.unwrap().unwrap(),
        merged.merged(&traffic("d", 5, 2))
    );
}

// ---- PostgreSQL ----

struct Pg {
    bin: PathBuf,
    _dir: tempfile::TempDir,
    data: PathBuf,
    port: u16,
}

impl Pg {
    fn as_pg(&self, prog: &str) -> Command {
        pg_command(&self.bin.join(prog))
    }

    /// A fresh database on this server.
    fn database(&self, name: &str) -> String {
        let ok = Command::new(self.bin.join("psql"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
            ])
            .args(["-qc", &format!("CREATE DATABASE {name}")])
            .status()
            .unwrap()
            .success();
        assert!(ok, "create database");
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        let _ = self
            .as_pg("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn pg_command(prog: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(prog);
        c
    } else {
        Command::new(prog)
    }
}

/// Starts a PostgreSQL server of our own, or `None` (skip) when not installed outside CI.
fn start_pg(port: u16) -> Option<Pg> {
    let bin = std::fs::read_dir("/usr/lib/postgresql")
        .ok()
        .and_then(|d| {
            let mut v: Vec<PathBuf> = d.filter_map(|e| e.ok().map(|e| e.path())).collect();
            v.sort();
            v.pop()
        })
        .map(|p| p.join("bin"))
        .filter(|b| b.join("initdb").exists());
    let Some(bin) = bin else {
        assert!(std::env::var_os("CI").is_none(), "PostgreSQL not installed");
        eprintln!("skipped: PostgreSQL not installed");
        return None;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let sock = dir.path().join("sock");
    std::fs::create_dir(&sock).unwrap();
    if is_root() {
        for p in [dir.path(), &sock] {
            Command::new("chown")
                .arg("postgres")
                .arg(p)
                .status()
                .unwrap();
        }
    }
    let pg = Pg {
        bin,
        data,
        port,
        _dir: dir,
    };
    let out = pg
        .as_pg("initdb")
        .arg("-D")
        .arg(&pg.data)
        .args(["-U", "postgres", "--auth=trust", "-E", "UTF8"])
        .output()
        .unwrap();
    assert!(out.status.success(), "initdb: {out:?}");
    let out = pg
        .as_pg("pg_ctl")
        .arg("-D")
        .arg(&pg.data)
        .arg("-l")
        .arg(pg.data.join("server.log"))
        .args(["-w", "-t", "60", "-o"])
        .arg(format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1",
            sock.display()
        ))
        .arg("start")
        .output()
        .unwrap();
    assert!(out.status.success(), "pg_ctl start: {out:?}");
    Some(pg)
}

fn pg_port(k: u16) -> u16 {
    18_870 + (std::process::id() % 50) as u16 * 2 + k
}

/// Three engines (three replicas) on one PostgreSQL: 24 sources of one service pushing at
/// once lose nothing; every engine serves the same model, counts and versions.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_sources_of_one_service_lose_nothing_postgres() {
    let Some(pg) = start_pg(pg_port(0)) else {
        return;
    };
    let url = pg.database("rows");
    let mut stores = Vec::new();
    for _ in 0..3 {
        stores.push(Arc::new(PgStore::connect(&url, 4, cfg(50)).await.unwrap()));
    }
    concurrent_sources(stores, "svc").await;
}

/// A PostgreSQL database of the first layout (migration 1: one merged model per service) is
/// moved at startup: the same model, pushes and versions; no version for the move; the old
/// columns are gone so an old replica cannot write where nobody reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_first_layout_is_migrated_and_loads() {
    let Some(pg) = start_pg(pg_port(1)) else {
        return;
    };
    let url = pg.database("old");
    let merged = old_model();
    let (endpoints, _, hash) = spec_of("svc", &merged, &Default::default());
    {
        let (c, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        c.batch_execute(
            "CREATE TABLE apitap_schema_migrations (version BIGINT PRIMARY KEY, applied_unix_ms BIGINT NOT NULL);
             INSERT INTO apitap_schema_migrations VALUES (1, 0);
             CREATE TABLE apitap_services (name TEXT PRIMARY KEY, rev BIGINT NOT NULL, model TEXT NOT NULL,
                pushes BIGINT NOT NULL, last_push_unix_ms BIGINT NOT NULL, latest_version BIGINT NOT NULL,
                spec_hash BIGINT NOT NULL, endpoints BIGINT NOT NULL, observed BIGINT NOT NULL, sources BIGINT NOT NULL);
             CREATE TABLE apitap_versions (service TEXT NOT NULL, version BIGINT NOT NULL,
                created_unix_ms BIGINT NOT NULL, endpoints BIGINT NOT NULL, spec TEXT NOT NULL,
                PRIMARY KEY (service, version));
             INSERT INTO apitap_versions VALUES ('svc', 1, 7, 6, '{\"openapi\":\"3.1.0\"}');",
        )
        .await
        .unwrap();
        c.execute(
            "INSERT INTO apitap_services VALUES ('svc', 3, $1, 9, 7, 1, $2, $3, 0, 3)",
            &[&merged.to_json(), &(hash as i64), &(endpoints as i64)],
        )
        .await
        .unwrap();
    }
    // Two replicas start together: the move runs once.
    let (a, b) = tokio::join!(
        PgStore::connect(&url, 2, cfg(50)),
        PgStore::connect(&url, 2, cfg(50))
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    for st in [&a, &b] {
        assert_eq!(*st.model("svc").await.unwrap().unwrap(), merged);
        let list = st.services().await.unwrap();
        assert_eq!(list[0].1.pushes, 9);
        assert_eq!(list[0].1.sources, 3);
        assert_eq!(list[0].1.observed, merged.stats().observed);
        assert_eq!(
            st.versions("svc").await.unwrap().len(),
            1,
            "no version for the move"
        );
    }
    assert_eq!(
        revs(a.rows(), "svc").await,
        [("a".into(), 1), ("b".into(), 1), ("c".into(), 1)]
    );
    a.push("svc", traffic("d", 5, 2), 8).await.unwrap();
    assert_eq!(
        *b.model("svc").await.unwrap().unwrap(),
        merged.merged(&traffic("d", 5, 2))
    );
    assert_eq!(b.services().await.unwrap()[0].1.pushes, 10);
    // an old replica's write of a merged model fails (the agent keeps its push)
    let (c, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    assert!(c
        .execute(
            "UPDATE apitap_services SET model = '' WHERE name = 'svc'",
            &[]
        )
        .await
        .is_err());
}
