//! The `/metrics` exposition passes `promtool check metrics` (Debian package `prometheus`)
//! and carries the values recorded.

use apitap::metrics::Format;
use apitap::metrics::{render, Caps, Health, HttpMetrics, IfaceHealth, RedSample};
use std::io::Write;
use std::process::{Command, Stdio};

fn sample_metrics() -> (HttpMetrics, Health) {
    let mut m = HttpMetrics::new(Caps {
        max_services: 2,
        max_routes_per_service: 2,
        max_series: 100,
    });
    let routes = ["/users/{userId}", "/users", "/orders/{orderId}"];
    for (i, route) in routes.iter().cycle().take(30).enumerate() {
        m.record(&RedSample {
            service: if i % 7 == 0 { "b\"quoted\\svc" } else { "api" },
            route,
            method: if i % 5 == 0 { "POST" } else { "GET" },
            status: if i % 4 == 0 { 404 } else { 200 },
            duration_s: i as f64 / 100.0,
            request_bytes: (i * 10) as u64,
            response_bytes: (i * 1000) as u64,
            pii: if i % 3 == 0 { 1 } else { 0 },
        });
    }
    m.record(&RedSample {
        service: "third",
        route: "/x",
        method: "BREW",
        status: 418,
        duration_s: 0.001,
        request_bytes: 0,
        response_bytes: 0,
        pii: 0,
    });
    for (method, status) in [
        (Some(("shop.v1.Cart", "AddItem")), Some(0)),
        (Some(("shop.v1.Cart", "AddItem")), Some(5)),
        (None, None),
    ] {
        m.rpc.record(&apitap::metrics::rpc::RpcSample {
            service: "api",
            method,
            status,
            duration_s: 0.004,
        });
    }
    let health = Health {
        interfaces: vec![
            IfaceHealth {
                name: "eth0".into(),
                packets: 1000,
                bytes: 100_000,
                kernel_drops: 1,
                interface_drops: 2,
                queue_drops: 3,
                up: true,
            },
            IfaceHealth {
                name: "lo".into(),
                ..Default::default()
            },
        ],
        active_flows: 5,
        learned_endpoints: 3,
        resident_bytes: 1 << 20,
        cpu_seconds: 1.5,
        start_time_seconds: 1.7e9,
        ..Default::default()
    };
    (m, health)
}

#[test]
fn promtool_accepts_the_exposition() {
    let (m, h) = sample_metrics();
    let text = render(Format::Prometheus, &m, &h);
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!("SKIP: promtool not runnable ({e}); apt-get install prometheus");
            return;
        }
        Err(e) => panic!("promtool is required under CI: {e}"),
    };
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("promtool");
    let msg = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "promtool rejected:\n{msg}\n---\n{text}"
    );
    // promtool prints lint problems but may still exit 0 for some; there must be none.
    assert!(msg.trim().is_empty(), "promtool lint findings:\n{msg}");
}

#[test]
fn values_and_caps_in_the_exposition() {
    let (m, h) = sample_metrics();
    let text = render(Format::Prometheus, &m, &h);
    // 31 exchanges in total across the duration histograms' _count samples.
    let total: u64 = text
        .lines()
        .filter(|l| l.starts_with("http_server_request_duration_seconds_count{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    assert_eq!(total, 31);
    // The third service went to `_other`, with its unknown method as `_OTHER`.
    assert!(text.contains(
        "http_server_request_duration_seconds_count{http_request_method=\"_OTHER\",http_response_status_code=\"418\",http_route=\"/x\",service_name=\"_other\"} 1\n"
    ));
    // The third route of `api` overflowed into `_other`.
    assert!(text.contains("http_route=\"_other\",service_name=\"api\""));
    assert!(text.contains("service_name=\"b\\\"quoted\\\\svc\""));
    assert!(text.contains("apitap_kernel_drops_total{interface=\"eth0\"} 1\n"));
    assert!(text.contains("apitap_interface_drops_total{interface=\"eth0\"} 2\n"));
    assert!(text.contains("apitap_queue_drops_total{interface=\"eth0\"} 3\n"));
    assert!(text.contains("apitap_active_flows 5\n"));
    assert!(text.contains("process_resident_memory_bytes 1048576\n"));
    assert!(text.contains(
        "rpc_server_call_duration_seconds_count{rpc_grpc_status_code=\"5\",rpc_method=\"AddItem\",rpc_service=\"shop.v1.Cart\",rpc_system=\"grpc\",service_name=\"api\"} 1\n"
    ));
    assert!(text.contains(
        "rpc_server_call_duration_seconds_count{rpc_grpc_status_code=\"_other\",rpc_method=\"_other\",rpc_service=\"_other\",rpc_system=\"grpc\",service_name=\"api\"} 1\n"
    ));
    let om = render(Format::OpenMetrics, &m, &h);
    assert!(om.ends_with("# EOF\n"));
    assert!(om.contains("# TYPE apitap_kernel_drops counter\n"));
    assert!(om.contains("le=\"10.0\""));
}
