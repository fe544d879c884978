//! Prometheus remote write against a real Prometheus (`--web.enable-remote-write-receiver`),
//! queried back through its HTTP API; and the same Prometheus scraping the agent's metric
//! families rendered as its `/metrics` handler does (content negotiation by `Accept`:
//! Prometheus asks for OpenMetrics first), so Prometheus's own OpenMetrics parser checks
//! the OpenMetrics rendering. Skips when `prometheus` is not installed, unless `CI` is set
//! (then the install step should have provided it, and the test fails).

use apitap::metrics::{self, Caps, Exposition, Family, Format, Health, HttpMetrics, RedSample};
use apitap::upstream::{self, UpstreamConfig};
use serde_json::Value;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Kill(std::process::Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn query(base: &str, q: &str) -> Vec<Value> {
    let r: Value = reqwest::Client::new()
        .get(format!("{base}/api/v1/query"))
        .query(&[("query", q)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["status"], "success", "{r}");
    r["data"]["result"].as_array().cloned().unwrap_or_default()
}

#[test]
fn remote_write_reaches_a_real_prometheus() {
    let Some(prom) = ["prometheus", "/usr/bin/prometheus"].into_iter().find(|p| {
        Command::new(p)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    }) else {
        if std::env::var_os("CI").is_some() {
            panic!("prometheus is not installed (CI is set, so this is a failure)");
        }
        eprintln!("SKIP: prometheus is not installed (apt-get install prometheus)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg_file = dir.path().join("prometheus.yml");
    std::fs::write(&cfg_file, "global:\n  scrape_interval: 1h\n").unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let _prom = Kill(
        Command::new(prom)
            .arg("--web.enable-remote-write-receiver")
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg(format!("--config.file={}", cfg_file.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let t0 = Instant::now();
        loop {
            if let Ok(r) = reqwest::get(format!("{base}/-/ready")).await {
                if r.status().is_success() {
                    break;
                }
            }
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "prometheus did not become ready"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    // Downward API environment of a pod (this test binary runs only this test).
    std::env::set_var("POD_NAME", "shop-7d9f-abcde");
    std::env::set_var("POD_NAMESPACE", "prod");
    let metrics = Arc::new(|| {
        const B: [f64; 1] = [0.1];
        let mut req = Family::counter("apitap_http_requests", "Requests.");
        req.number(
            &[
                ("service", "api.shop"),
                ("method", "GET"),
                ("path", "/items/{itemId}"),
                ("status", "200"),
            ],
            42u64,
        );
        req.number(
            &[
                ("service", "api.shop"),
                ("method", "POST"),
                ("path", "/orders"),
                ("status", "500"),
            ],
            3u64,
        );
        let mut lat = Family::histogram("apitap_http_latency_seconds", "Latency.");
        lat.observed(&[("path", "/orders")], &B, &[2, 1], 0.75);
        Exposition {
            families: vec![req, lat],
        }
    });
    let cfg = UpstreamConfig {
        remote_write: Some(format!("{base}/api/v1/write")),
        service: Some("shop".into()),
        push_interval: Duration::from_millis(500),
        push_max_backoff: Duration::from_millis(500),
        ..UpstreamConfig::default()
    };
    let h = upstream::spawn(&cfg, Arc::new(apitap_model::ApiModel::new), metrics).unwrap();
    let stats = h.remote_write_stats.clone().unwrap();
    rt.block_on(async {
        let t0 = Instant::now();
        let res = loop {
            let r = query(&base, "apitap_http_requests_total{job=\"apitap\"}").await;
            if r.len() == 2 {
                break r;
            }
            assert!(t0.elapsed() < Duration::from_secs(30), "series did not arrive: {r:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let get = |m: &str| res.iter().find(|s| s["metric"]["method"] == m).unwrap().clone();
        let g = get("GET");
        assert_eq!(g["value"][1], "42");
        let l = &g["metric"];
        assert_eq!(l["service"], "shop", "{l}");
        assert_eq!(l["exported_service"], "api.shop", "{l}");
        assert_eq!(l["pod"], "shop-7d9f-abcde");
        assert_eq!(l["instance"], "shop-7d9f-abcde");
        assert_eq!(l["namespace"], "prod");
        assert_eq!(l["path"], "/items/{itemId}");
        assert_eq!(get("POST")["value"][1], "3");
        // Histograms arrive as their series and work with PromQL functions.
        let q = query(&base, "histogram_quantile(0.5, sum by (le) (apitap_http_latency_seconds_bucket{pod=\"shop-7d9f-abcde\"}))").await;
        assert_eq!(q.len(), 1, "{q:?}");
        let p50: f64 = q[0]["value"][1].as_str().unwrap().parse().unwrap();
        assert!((p50 - 0.075).abs() < 1e-9, "p50 {p50}");
        let s = query(&base, "apitap_http_latency_seconds_sum").await;
        assert_eq!(s[0]["value"][1], "0.75");
    });
    h.shutdown(Duration::from_secs(5));
    assert!(
        stats
            .sent_batches
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    );
    assert_eq!(
        stats
            .rejected_batches
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
}

/// The agent's own families: RED histograms (with an escaped label value), health, upstream
/// counters.
fn agent_families() -> Exposition {
    let mut http = HttpMetrics::new(Caps::default());
    for (i, route) in ["/users/{userId}", "/a\"b\\c"].iter().enumerate() {
        http.record(&RedSample {
            service: "api",
            route,
            method: "GET",
            status: 200 + i as u16,
            duration_s: 0.02,
            request_bytes: 10,
            response_bytes: 1000,
            pii: 0,
        });
    }
    let mut e = metrics::exposition(&http, &Health::default());
    e.families.extend(upstream::PushStats::default().families());
    e.families
        .extend(upstream::RemoteWriteStats::default().families());
    e
}

/// Serves `agent_families()` on `/metrics` the way the admin server does (format by
/// `Accept`); records the formats served.
async fn serve_metrics(
    listener: tokio::net::TcpListener,
    served: Arc<std::sync::Mutex<Vec<Format>>>,
) {
    use axum::http::{header, HeaderMap};
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move |headers: HeaderMap| {
            let served = served.clone();
            async move {
                let format =
                    Format::from_accept(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()));
                served.lock().unwrap().push(format);
                (
                    [(header::CONTENT_TYPE, format.content_type())],
                    agent_families().render(format),
                )
            }
        }),
    );
    let _ = axum::serve(listener, app).await;
}

#[test]
fn prometheus_scrapes_the_openmetrics_rendering() {
    let Some(prom) = ["prometheus", "/usr/bin/prometheus"].into_iter().find(|p| {
        Command::new(p)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    }) else {
        if std::env::var_os("CI").is_some() {
            panic!("prometheus is not installed (CI is set, so this is a failure)");
        }
        eprintln!("SKIP: prometheus is not installed (apt-get install prometheus)");
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let scrape_port = listener.local_addr().unwrap().port();
    let served = Arc::new(std::sync::Mutex::new(Vec::new()));
    rt.spawn(serve_metrics(listener, served.clone()));
    let dir = tempfile::tempdir().unwrap();
    let cfg_file = dir.path().join("prometheus.yml");
    std::fs::write(
        &cfg_file,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: agent\n    static_configs:\n      - targets: ['127.0.0.1:{scrape_port}']\n"
        ),
    )
    .unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let _prom = Kill(
        Command::new(prom)
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg(format!("--config.file={}", cfg_file.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut expected = 0usize;
    agent_families().for_each_series(&mut |_, _, _| expected += 1);
    rt.block_on(async {
        let t0 = Instant::now();
        let up = loop {
            if let Ok(r) = reqwest::get(format!("{base}/-/ready")).await {
                if r.status().is_success() {
                    let up = query(&base, "up{job=\"agent\"}").await;
                    if !up.is_empty() {
                        break up;
                    }
                }
            }
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "prometheus did not scrape"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert_eq!(up[0]["value"][1], "1", "scrape failed: {up:?}");
        // Every series of the families arrived: nothing dropped by the parser.
        let n = query(&base, "scrape_samples_scraped{job=\"agent\"}").await;
        assert_eq!(n[0]["value"][1], expected.to_string().as_str(), "{n:?}");
        // Counters keep their `_total` name and type through OpenMetrics.
        let c = query(&base, "apitap_upstream_pushes_total{result=\"ok\"}").await;
        assert_eq!(c.len(), 1, "{c:?}");
        let c = query(&base, "apitap_remote_write_batches_total").await;
        assert_eq!(c.len(), 3, "{c:?}");
        // Escaped label values come back as they were.
        let h = query(
            &base,
            "http_server_request_duration_seconds_count{http_route=\"/a\\\"b\\\\c\"}",
        )
        .await;
        assert_eq!(h.len(), 1, "{h:?}");
        assert_eq!(h[0]["value"][1], "1");
        let q = query(
            &base,
            "histogram_quantile(0.5, sum by (le) (http_server_request_duration_seconds_bucket))",
        )
        .await;
        let p50: f64 = q[0]["value"][1].as_str().unwrap().parse().unwrap();
        assert!(p50 > 0.01 && p50 <= 0.025, "p50 {p50}");
    });
    assert!(
        served.lock().unwrap().contains(&Format::OpenMetrics),
        "Prometheus did not ask for OpenMetrics"
    );
}
