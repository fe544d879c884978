//! The live agent on the loopback interface: a tiny HTTP server in this process, real
//! requests over TCP, the agent capturing `lo` with a BPF filter on the server's port. Checks
//! the learned endpoints, the RED metrics, the admin server and the final model on stop.
//!
//! Needs CAP_NET_RAW (root in CI); skipped with a message otherwise, unless `CI` is set.

mod common;

use apitap::agent::{Agent, AgentSettings};
use apitap::metrics::Format;
use std::time::{Duration, Instant};

fn count(text: &str, needle: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with(needle))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0)
}

#[test]
fn learns_and_measures_loopback_traffic() {
    learns_and_measures(false);
}

/// The same with `--queued`: a pipeline thread fed over the batch queue.
#[test]
fn learns_and_measures_loopback_traffic_queued() {
    learns_and_measures(true);
}

fn learns_and_measures(queued: bool) {
    let port = common::start_server();
    let dir = tempfile::tempdir().expect("tempdir");
    let model_out = dir.path().join("model.json");
    let args = AgentSettings {
        interface: vec!["lo".into()],
        filter: Some(format!("tcp port {port}")),
        listen: Some("127.0.0.1:0".into()),
        model_out: Some(model_out.clone()),
        snapshot_interval: Some(0.2),
        queued,
        ..Default::default()
    };
    let agent = match Agent::start(args.resolve().expect("config")) {
        Ok(a) => a,
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!("SKIP: cannot capture on lo ({e:#}); needs CAP_NET_RAW");
            return;
        }
        Err(e) => panic!("cannot capture on lo under CI: {e:#}"),
    };
    let shared = std::sync::Arc::clone(agent.shared());
    assert!(shared.is_ready());
    // Let the capture settle before traffic.
    std::thread::sleep(Duration::from_millis(200));
    for i in 1..=20 {
        common::request(port, "GET", &format!("/users/{i}"), "");
    }
    common::request(port, "GET", "/users/500", "");
    common::request(port, "GET", "/users/501", "");
    common::request(port, "POST", "/users", "{\"name\":\"x\"}");

    // the service is the server socket, not the Host header (which any client chooses)
    let get200 = &format!("http_server_request_duration_seconds_count{{http_request_method=\"GET\",http_response_status_code=\"200\",http_route=\"/users/{{userId}}\",service_name=\"127.0.0.1:{port}\"}}");
    let get404 = &format!("http_server_request_duration_seconds_count{{http_request_method=\"GET\",http_response_status_code=\"404\",http_route=\"/users/{{userId}}\",service_name=\"127.0.0.1:{port}\"}}");
    let post201 = &format!("http_server_request_duration_seconds_count{{http_request_method=\"POST\",http_response_status_code=\"201\",http_route=\"/users\",service_name=\"127.0.0.1:{port}\"}}");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut text = String::new();
    while Instant::now() < deadline {
        text = shared.render_metrics(Format::Prometheus);
        if count(&text, get200) == 20
            && count(&text, get404) == 2
            && count(&text, post201) == 1
            && count(&text, "apitap_exchanges_total") == 23
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(count(&text, get200), 20, "{text}");
    assert_eq!(count(&text, get404), 2, "{text}");
    assert_eq!(count(&text, post201), 1, "{text}");
    assert_eq!(
        count(&text, "apitap_kernel_drops_total{interface=\"lo\"}"),
        0
    );
    assert_eq!(
        count(&text, "apitap_queue_drops_total{interface=\"lo\"}"),
        0
    );
    assert_eq!(count(&text, "apitap_exchanges_total"), 23);
    assert!(count(&text, "apitap_packets_captured_total{interface=\"lo\"}") >= 23 * 6);
    // no raw path ever becomes a route label
    assert!(!text.contains("http_route=\"/users/1\""), "{text}");

    // Endpoint table from the published snapshot.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut rows = Vec::new();
    while Instant::now() < deadline {
        rows = shared.model().endpoints();
        if rows.iter().map(|r| r.count).sum::<u64>() == 23 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let got: Vec<(String, String, u64)> = rows
        .iter()
        .map(|r| (r.method.clone(), r.template.clone(), r.count))
        .collect();
    assert_eq!(
        got,
        vec![
            ("POST".to_string(), "/users".to_string(), 1),
            ("GET".to_string(), "/users/{userId}".to_string(), 22),
        ]
    );
    let get = rows.iter().find(|r| r.method == "GET").expect("GET row");
    assert!((get.error_rate - 2.0 / 22.0).abs() < 1e-9);

    let t0 = Instant::now();
    let model = agent.stop().expect("stop");
    assert!(
        t0.elapsed() < Duration::from_secs(3),
        "stop took {:?}",
        t0.elapsed()
    );
    assert_eq!(model.stats().observed, 23);
    let written = std::fs::read_to_string(&model_out).expect("model written");
    let back = apitap_model::ApiModel::from_json(&written).expect("valid model");
    assert_eq!(back, model);
}

#[test]
fn admin_server_serves_all_endpoints() {
    use apitap::admin::http_get_status;
    let port = common::start_server();
    let args = AgentSettings {
        interface: vec!["lo".into()],
        filter: Some(format!("tcp port {port}")),
        snapshot_interval: Some(0.2),
        ..Default::default()
    };
    let agent = match Agent::start(args.resolve().expect("config")) {
        Ok(a) => a,
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!("SKIP: cannot capture on lo ({e:#}); needs CAP_NET_RAW");
            return;
        }
        Err(e) => panic!("cannot capture on lo under CI: {e:#}"),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let admin = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = admin.local_addr().expect("addr").to_string();
    let shared = std::sync::Arc::clone(agent.shared());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = std::thread::spawn(move || {
        rt.block_on(apitap::admin::serve(admin, shared, async move {
            let _ = rx.await;
        }))
    });
    std::thread::sleep(Duration::from_millis(200));
    common::request(port, "GET", "/users/3", "");
    let t = Duration::from_secs(3);
    for path in [
        "/",
        "/metrics",
        "/healthz",
        "/readyz",
        "/v1/model",
        "/v1/openapi.json",
        "/v1/openapi.yaml",
        "/v1/endpoints",
        "/v1/endpoints?format=text",
    ] {
        assert_eq!(http_get_status(&addr, path, t).expect(path), 200, "{path}");
    }
    assert_eq!(http_get_status(&addr, "/nope", t).expect("404"), 404);
    let _ = tx.send(());
    let _ = server.join();
    agent.stop().expect("stop");
}
