//! Reliability of model pushes against a real `apitap collector` process: kill -9 in the
//! middle of pushes, 100 concurrent pushing processes, an unreachable collector with a
//! bounded spool, and agent restarts.

#[path = "../../collector/tests/collector_support.rs"]
mod support;

use apitap::upstream::{self, ModelPusher, SnapshotFn, UpstreamConfig};
use apitap_model::{ApiModel, LearnConfig};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::*;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn fetch_model(url: &str, service: &str) -> Option<ApiModel> {
    fetch_model_as(url, service, None)
}

/// The merged model, read with `token` (needed when the collector has any).
fn fetch_model_as(url: &str, service: &str, token: Option<&str>) -> Option<ApiModel> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut req = reqwest::Client::new().get(format!("{url}/v1/services/{service}/model"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.ok()?;
        if !r.status().is_success() {
            return None;
        }
        ApiModel::from_json(&r.text().await.ok()?).ok()
    })
}

/// A learning "agent": a thread observing traffic into a shared model.
struct Agent {
    model: Arc<Mutex<ApiModel>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Agent {
    fn start(source: &str, rate_per_ms: usize) -> Agent {
        let model = Arc::new(Mutex::new(ApiModel::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (m, s, src) = (model.clone(), stop.clone(), source.to_string());
        let thread = std::thread::spawn(move || {
            let cfg = LearnConfig {
                source: src.clone(),
                ..LearnConfig::default()
            };
            let mut i = 0usize;
            while !s.load(Ordering::Relaxed) {
                {
                    let mut g = m.lock().unwrap();
                    for _ in 0..rate_per_ms {
                        i += 1;
                        let o = obs(
                            "api.test",
                            if i.is_multiple_of(3) { "POST" } else { "GET" },
                            &format!("/{src}/r{}/items/{}", i % 13, i % 97 + 1),
                            if i.is_multiple_of(17) { 503 } else { 200 },
                            &format!("{{\"id\":{i},\"tag\":\"t{}\"}}", i % 5),
                            (i % 200) as f64 / 4.0,
                        );
                        g.observe(&o, &cfg);
                    }
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        Agent {
            model,
            stop,
            thread: Some(thread),
        }
    }

    fn snapshot_fn(&self) -> SnapshotFn {
        let m = self.model.clone();
        Arc::new(move || m.lock().unwrap().clone())
    }

    fn stop(&mut self) -> ApiModel {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        self.model.lock().unwrap().clone()
    }
}

fn cfg(url: &str, service: &str, spool: &std::path::Path) -> UpstreamConfig {
    UpstreamConfig {
        upstream: Some(url.to_string()),
        service: Some(service.to_string()),
        push_interval: Duration::from_millis(50),
        push_max_backoff: Duration::from_millis(200),
        push_timeout: Duration::from_secs(5),
        spool_dir: Some(spool.to_path_buf()),
        ..UpstreamConfig::default()
    }
}

#[test]
fn kill9_during_pushes_from_several_agents_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let listen = format!("127.0.0.1:{}", free_port());
    let mut col = Collector::start_on(&data, &listen, &[]);
    let url = col.url.clone();
    let mut agents = Vec::new();
    let mut handles = Vec::new();
    for i in 0..6 {
        let a = Agent::start(&format!("agent{i}"), 3);
        let spool = dir.path().join(format!("spool{i}"));
        let h = upstream::spawn(
            &cfg(&url, "checkout", &spool),
            a.snapshot_fn(),
            Arc::new(apitap::metrics::Exposition::new),
        )
        .unwrap();
        agents.push(a);
        handles.push(h);
    }
    let ok_pushes = |hs: &[upstream::UpstreamHandle]| -> u64 {
        hs.iter()
            .map(|h| h.push_stats.as_ref().unwrap().ok.load(Ordering::Relaxed))
            .sum()
    };
    // Kill -9 three times while pushes are flowing, restarting each time.
    for round in 0..3 {
        let before = ok_pushes(&handles);
        assert!(
            wait_for(Duration::from_secs(20), || (ok_pushes(&handles)
                >= before + 12)
                .then_some(()))
            .is_some(),
            "round {round}: pushes are not flowing"
        );
        col.kill9();
        std::thread::sleep(Duration::from_millis(300));
        col = Collector::start_on(&data, &listen, &[]);
    }
    let finals: Vec<ApiModel> = agents.iter_mut().map(|a| a.stop()).collect();
    for h in handles {
        h.shutdown(Duration::from_secs(15));
    }
    let mut expected = ApiModel::new();
    for f in &finals {
        expected.merge(f);
    }
    let got = fetch_model(&col.url, "checkout").expect("model");
    assert_eq!(got.sources.len(), 6);
    assert_eq!(
        got.stats().observed,
        expected.stats().observed,
        "counts must not be doubled or lost"
    );
    assert!(
        got == expected,
        "collector model differs from the independent merge of all pushed models"
    );
    // and the same after one more crash
    col.kill9();
    let col = Collector::start_on(&data, &listen, &[]);
    assert!(fetch_model(&col.url, "checkout").unwrap() == expected);
}

#[test]
fn hundred_concurrent_pushing_processes() {
    let dir = tempfile::tempdir().unwrap();
    let col = Collector::start(&dir.path().join("data"), &["--token", "tok"]);
    let mut expected = ApiModel::new();
    let mut files = Vec::new();
    for i in 0..100 {
        let m = traffic(&format!("pod-{i}"), 20 + i, 1 + i % 9);
        expected.merge(&m);
        let f = dir.path().join(format!("m{i}.json"));
        std::fs::write(&f, m.to_json()).unwrap();
        files.push(f);
    }
    let t0 = Instant::now();
    let children: Vec<_> = files
        .iter()
        .map(|f| {
            std::process::Command::new(env!("CARGO_BIN_EXE_apitap"))
                .args([
                    "push",
                    "--upstream",
                    &col.url,
                    "--service",
                    "fleet",
                    "--token",
                    "tok",
                    "--timeout",
                    "60s",
                ])
                .arg(f)
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    eprintln!("100 pushes in {:?}", t0.elapsed());
    let got = fetch_model_as(&col.url, "fleet", Some("tok")).unwrap();
    assert_eq!(got.sources.len(), 100);
    assert!(got == expected);
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// (largest file, number of files) in `d`.
fn dir_bytes(d: &std::path::Path) -> (u64, usize) {
    let mut largest = 0;
    let mut n = 0;
    for e in std::fs::read_dir(d).unwrap().flatten() {
        largest = largest.max(e.metadata().map(|m| m.len()).unwrap_or(0));
        n += 1;
    }
    (largest, n)
}

#[test]
fn unreachable_collector_keeps_spool_bounded_and_delivers_after_agent_restart() {
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    let listen = format!("127.0.0.1:{}", free_port());
    let url = format!("http://{listen}");
    // Fast traffic and a 20 ms interval: hundreds of failed pushes stand for an hour at 60 s.
    let mut c = cfg(&url, "orders", &spool);
    c.push_interval = Duration::from_millis(20);
    c.push_max_backoff = Duration::from_millis(20);
    let mut agent = Agent::start("orders-1", 20);
    let h = upstream::spawn(
        &c,
        agent.snapshot_fn(),
        Arc::new(apitap::metrics::Exposition::new),
    )
    .unwrap();
    let stats = h.push_stats.clone().unwrap();
    let mut max_spool = 0u64;
    let mut max_files = 0usize;
    let mut rss_mid = 0;
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(6) {
        if spool.exists() {
            let (b, n) = dir_bytes(&spool);
            max_spool = max_spool.max(b);
            max_files = max_files.max(n);
        }
        if rss_mid == 0 && t0.elapsed() > Duration::from_secs(3) {
            rss_mid = rss_kib();
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let last = agent.stop();
    let rss_end = rss_kib();
    let failed = stats.failed_network.load(Ordering::Relaxed);
    h.shutdown(Duration::from_millis(300));
    let (final_bytes, files) = dir_bytes(&spool);
    let model_gz = gzip(last.to_json().as_bytes()).len() as u64;
    eprintln!(
        "failed attempts {failed}, largest spool file {max_spool} B, ≤{max_files} files, final {final_bytes} B, model gz {model_gz} B, \
         observed {}, rss mid {rss_mid} KiB end {rss_end} KiB",
        last.stats().observed
    );
    assert!(failed >= 50, "only {failed} failed attempts");
    assert_eq!(files, 1, "one spool file per service");
    assert!(max_files <= 2, "spool file plus at most its temp file");
    // Bounded by one model: the spool file is the compressed join, never a log of
    // snapshots. (Early models can be larger than the final one: literal paths collapse
    // into templates as traffic grows.)
    assert!(
        max_spool <= 3 * model_gz + 1024,
        "spool {max_spool} vs model {model_gz}"
    );
    assert!(
        max_spool * 10 < failed * model_gz,
        "spool grows with attempts?"
    );
    assert!(
        rss_end < rss_mid + 64 * 1024,
        "memory grew from {rss_mid} to {rss_end} KiB"
    );

    // The agent restarts (knowing nothing), then the collector comes back.
    let empty: SnapshotFn = Arc::new(ApiModel::new);
    let h2 = upstream::spawn(
        &c,
        empty.clone(),
        Arc::new(apitap::metrics::Exposition::new),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let col = Collector::start_on(&dir.path().join("data"), &listen, &[]);
    let st2 = h2.push_stats.clone().unwrap();
    assert!(
        wait_for(Duration::from_secs(20), || (st2.ok.load(Ordering::Acquire)
            > 0)
        .then_some(()))
        .is_some()
    );
    let out = apitap::metrics::Exposition {
        families: st2.families(),
    }
    .render(apitap::metrics::Format::Prometheus);
    assert!(out.contains("apitap_upstream_spool_bytes 0\n"), "{out}");
    assert!(
        out.contains("apitap_upstream_spool_age_seconds 0\n"),
        "{out}"
    );
    h2.shutdown(Duration::from_secs(5));
    let got = fetch_model(&col.url, "orders").unwrap();
    assert!(
        got == last,
        "the collector must have exactly the last snapshot"
    );
    assert_eq!(dir_bytes(&spool).1, 0, "spool emptied after delivery");
}

#[test]
fn spool_metrics_report_size_and_age_while_down() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{}", free_port());
    let m = traffic("x", 30, 3);
    let snap: SnapshotFn = Arc::new(move || m.clone());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut p = ModelPusher::new(&cfg(&url, "svc", &dir.path().join("s")), &url, snap).unwrap();
    rt.block_on(async {
        assert!(p.push_now().await.is_err());
        std::thread::sleep(Duration::from_millis(1100));
        assert!(p.push_now().await.is_err());
    });
    let out = apitap::metrics::Exposition {
        families: p.stats().families(),
    }
    .render(apitap::metrics::Format::Prometheus);
    let val = |name: &str| -> f64 {
        out.lines()
            .find_map(|l| {
                l.strip_prefix(name)
                    .map(|v| v.trim().parse::<f64>().unwrap())
            })
            .unwrap()
    };
    assert_eq!(
        val("apitap_upstream_pushes_total{result=\"network_error\"}"),
        2.0
    );
    assert_eq!(val("apitap_upstream_pushes_total{result=\"ok\"}"), 0.0);
    assert!(val("apitap_upstream_spool_bytes") > 100.0);
    assert!(val("apitap_upstream_spool_age_seconds") >= 1.0, "{out}");
    assert_eq!(val("apitap_upstream_spool_writes_total"), 2.0);
    assert!(p.has_pending());
}
