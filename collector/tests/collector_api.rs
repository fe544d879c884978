//! The collector's HTTP API against a real `apitap collector` process.

#[path = "collector_support.rs"]
mod support;

use apitap_model::{ApiModel, Observation};
use serde_json::Value;
use support::*;

async fn post(
    c: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (u16, Value) {
    let mut r = c.post(url).body(body);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    let resp = r.send().await.expect("request");
    let st = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        st,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn get_json(c: &reqwest::Client, url: &str) -> (u16, Value) {
    get_json_as(c, url, None).await
}

async fn get_json_as(c: &reqwest::Client, url: &str, token: Option<&str>) -> (u16, Value) {
    let mut r = c.get(url);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let resp = r.send().await.expect("request");
    let st = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        st,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn metric(text: &str, line_prefix: &str) -> f64 {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(line_prefix)
                .map(|v| v.trim().parse().unwrap())
        })
        .unwrap_or_else(|| panic!("no metric {line_prefix} in\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejects_bad_pushes_with_clear_errors_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let col = Collector::start(
        dir.path(),
        &[
            "--token",
            "s3cret",
            "--token",
            "other",
            "--max-body",
            "20000",
            "--max-decompressed",
            "100000",
        ],
    );
    let c = reqwest::Client::new();
    let push = format!("{}/v1/services/shop/models", col.url);
    let good = model_of("a", &[obs("shop", "GET", "/x", 200, "{}", 1.0)]).to_json();
    let json = [("Content-Type", "application/json")];

    // auth
    let (st, e) = post(&c, &push, None, &json, good.clone().into_bytes()).await;
    assert_eq!(st, 401, "{e}");
    assert!(e["error"].as_str().unwrap().contains("token"), "{e}");
    let (st, _) = post(&c, &push, Some("wrong"), &json, good.clone().into_bytes()).await;
    assert_eq!(st, 401);
    // bad service name
    let (st, e) = post(
        &c,
        &format!("{}/v1/services/a%20b/models", col.url),
        Some("s3cret"),
        &json,
        good.clone().into_bytes(),
    )
    .await;
    assert_eq!(st, 400, "{e}");
    assert!(e["error"].as_str().unwrap().contains("service name"));
    // not JSON, JSON but not a model (400); a model of another version (422)
    for (body, status, needle) in [
        ("not json".to_string(), 400, "invalid apitap model"),
        ("{\"hello\":1}".to_string(), 422, "apitap_model_version"),
        (
            "{\"apitap_model_version\":99,\"sources\":{}}".to_string(),
            422,
            "unsupported",
        ),
        (
            "{\"apitap_model_version\":1,\"sources\":{\"a\":{\"services\":7}}}".to_string(),
            400,
            "invalid",
        ),
    ] {
        let (st, e) = post(&c, &push, Some("s3cret"), &json, body.into_bytes()).await;
        assert_eq!(st, status, "{e}");
        assert!(
            e["error"].as_str().unwrap().contains(needle),
            "{e} lacks {needle}"
        );
    }
    // bad gzip
    let (st, e) = post(
        &c,
        &push,
        Some("other"),
        &[("Content-Encoding", "gzip")],
        b"\x1f\x8b garbage".to_vec(),
    )
    .await;
    assert_eq!(st, 400, "{e}");
    assert!(e["error"].as_str().unwrap().contains("gzip"));
    // wrong content type / encoding
    let (st, _) = post(
        &c,
        &push,
        Some("s3cret"),
        &[("Content-Type", "text/plain")],
        good.clone().into_bytes(),
    )
    .await;
    assert_eq!(st, 415);
    let (st, e) = post(
        &c,
        &push,
        Some("s3cret"),
        &[("Content-Encoding", "br")],
        good.clone().into_bytes(),
    )
    .await;
    assert_eq!(st, 415, "{e}");
    // oversized as sent, and a gzip bomb over the decompressed limit
    let (st, e) = post(&c, &push, Some("s3cret"), &json, vec![b' '; 30000]).await;
    assert_eq!(st, 413, "{e}");
    assert!(e["error"].as_str().unwrap().contains("20000"));
    let bomb = gzip(&vec![b' '; 200_000]);
    assert!(bomb.len() < 20000);
    let (st, e) = post(
        &c,
        &push,
        Some("s3cret"),
        &[("Content-Encoding", "gzip")],
        bomb,
    )
    .await;
    assert_eq!(st, 413, "{e}");
    assert!(e["error"].as_str().unwrap().contains("decompressed"));

    // nothing changed
    let (st, v) = get_json_as(&c, &format!("{}/v1/services", col.url), Some("s3cret")).await;
    assert_eq!(st, 200);
    assert_eq!(v, serde_json::json!([]));
    let (st, _) = get_json_as(
        &c,
        &format!("{}/v1/services/shop/model", col.url),
        Some("s3cret"),
    )
    .await;
    assert_eq!(st, 404);

    // a good push (gzip) is accepted
    let (st, v) = post(
        &c,
        &push,
        Some("other"),
        &[
            ("Content-Encoding", "gzip"),
            ("Content-Type", "application/json"),
        ],
        gzip(good.as_bytes()),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["changed"], true);

    let m = c
        .get(format!("{}/metrics", col.url))
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        metric(&m, "apitap_collector_pushes_total{result=\"unauthorized\"}"),
        2.0
    );
    assert_eq!(
        metric(&m, "apitap_collector_pushes_total{result=\"bad_request\"}"),
        4.0
    );
    assert_eq!(
        metric(&m, "apitap_collector_pushes_total{result=\"invalid\"}"),
        2.0
    );
    assert_eq!(
        metric(
            &m,
            "apitap_collector_pushes_total{result=\"unsupported_media_type\"}"
        ),
        2.0
    );
    assert_eq!(
        metric(&m, "apitap_collector_pushes_total{result=\"too_large\"}"),
        2.0
    );
    assert_eq!(
        metric(&m, "apitap_collector_pushes_total{result=\"accepted\"}"),
        1.0
    );
    assert_eq!(metric(&m, "apitap_collector_services"), 1.0);
    assert!(metric(&m, "apitap_collector_store_bytes") > 0.0);
    let h = c.get(format!("{}/healthz", col.url)).send().await.unwrap();
    assert_eq!(h.status().as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_pushes_are_idempotent_and_versions_show_breaking_changes() {
    let dir = tempfile::tempdir().unwrap();
    let col = Collector::start(dir.path(), &[]);
    let c = reqwest::Client::new();
    let push = format!("{}/v1/services/users-api/models", col.url);
    let json = [("Content-Type", "application/json")];
    let a = model_of(
        "agent-a",
        &[
            obs(
                "users.local",
                "GET",
                "/users/1",
                200,
                r#"{"id":1,"name":"ann"}"#,
                3.0,
            ),
            obs(
                "users.local",
                "GET",
                "/users/2",
                200,
                r#"{"id":2,"name":"bob"}"#,
                5.0,
            ),
            obs(
                "users.local",
                "GET",
                "/users/3",
                200,
                r#"{"id":3,"name":"cy"}"#,
                4.0,
            ),
        ],
    );
    let (st, v) = post(&c, &push, None, &json, a.to_json().into_bytes()).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["changed"], Value::Bool(true));
    let versions = format!("{}/v1/services/users-api/versions", col.url);
    let (_, vs) = get_json(&c, &versions).await;
    assert_eq!(vs.as_array().map(Vec::len), Some(1), "{vs}");
    // the same push again: accepted, no change, no new version
    let (st, v) = post(&c, &push, None, &json, a.to_json().into_bytes()).await;
    assert_eq!(st, 200);
    assert_eq!(
        (v["changed"].clone(), v["version"].clone()),
        (Value::Bool(false), 1.into()),
        "the answer gives the version as of the last settle"
    );
    let (_, stored) = get_json(&c, &format!("{}/v1/services/users-api/model", col.url)).await;
    let stored = ApiModel::from_json(&stored.to_string()).unwrap();
    assert_eq!(stored, a, "double push must equal a single push");

    // another agent sees users without `name` (and a new endpoint): `name` becomes optional,
    // which breaks clients that rely on it.
    let b = model_of(
        "agent-b",
        &[
            obs("users.local", "GET", "/users/4", 200, r#"{"id":4}"#, 9.0),
            obs("users.local", "GET", "/health", 200, r#"{"ok":true}"#, 1.0),
        ],
    );
    let (st, v) = post(&c, &push, None, &json, b.to_json().into_bytes()).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["changed"], true);
    let (_, stored) = get_json(&c, &format!("{}/v1/services/users-api/model", col.url)).await;
    assert_eq!(
        ApiModel::from_json(&stored.to_string()).unwrap(),
        a.merged(&b)
    );

    let (st, vs) = get_json(&c, &format!("{}/v1/services/users-api/versions", col.url)).await;
    assert_eq!(st, 200);
    let nums: Vec<u64> = vs
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect();
    assert_eq!(nums, vec![1, 2]);
    let (st, v1) = get_json(&c, &format!("{}/v1/services/users-api/versions/1", col.url)).await;
    assert_eq!(st, 200);
    assert_eq!(v1["openapi"], "3.1.0");
    assert!(v1["paths"].get("/health").is_none());
    let (_, v2) = get_json(&c, &format!("{}/v1/services/users-api/versions/2", col.url)).await;
    assert!(v2["paths"].get("/health").is_some());

    let (st, d) = get_json(
        &c,
        &format!("{}/v1/services/users-api/diff?from=1&to=2", col.url),
    )
    .await;
    assert_eq!(st, 200, "{d}");
    assert_eq!(d["has_breaking"], true, "{d}");
    assert_eq!(
        d["added_endpoints"],
        serde_json::json!(["GET /health"]),
        "{d}"
    );
    let kinds: Vec<&str> = d["breaking"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.iter().any(|k| k.contains("optional")), "{kinds:?}");
    let text = c
        .get(format!(
            "{}/v1/services/users-api/diff?from=1&format=text",
            col.url
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("GET /health"), "{text}");
    // reversed: the endpoint disappears, breaking
    let (_, d) = get_json(
        &c,
        &format!("{}/v1/services/users-api/diff?from=2&to=1", col.url),
    )
    .await;
    assert_eq!(d["removed_endpoints"], serde_json::json!(["GET /health"]));
    let (st, _) = get_json(
        &c,
        &format!("{}/v1/services/users-api/diff?from=1&to=9", col.url),
    )
    .await;
    assert_eq!(st, 404);
    let (st, _) = get_json(
        &c,
        &format!("{}/v1/services/users-api/diff?from=x", col.url),
    )
    .await;
    assert_eq!(st, 400);

    // exports
    let (st, spec) = get_json(
        &c,
        &format!("{}/v1/services/users-api/openapi.json", col.url),
    )
    .await;
    assert_eq!(st, 200);
    assert!(
        spec["paths"].get("/users/{userId}").is_some()
            || spec["paths"]
                .as_object()
                .unwrap()
                .keys()
                .any(|k| k.starts_with("/users/{")),
        "{spec}"
    );
    let yaml = c
        .get(format!("{}/v1/services/users-api/openapi.yaml", col.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(yaml.contains("openapi: 3.1.0"), "{yaml}");
    let (_, list) = get_json(&c, &format!("{}/v1/services", col.url)).await;
    assert_eq!(list[0]["service"], "users-api");
    assert_eq!(list[0]["endpoints"], 2);
    assert_eq!(list[0]["observed"], 5);
    assert_eq!(list[0]["sources"], 2);
    assert_eq!(list[0]["pushes"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_page_lists_services_and_escapes_names() {
    let dir = tempfile::tempdir().unwrap();
    let col = Collector::start(dir.path(), &[]);
    let c = reqwest::Client::new();
    let m = model_of(
        "a",
        &[
            obs("<script>x</script>", "GET", "/items/1", 200, "{}", 10.0),
            obs("<script>x</script>", "GET", "/items/2", 500, "{}", 30.0),
        ],
    );
    let (st, _) = post(
        &c,
        &format!("{}/v1/services/web.test/models", col.url),
        None,
        &[],
        m.to_json().into_bytes(),
    )
    .await;
    assert_eq!(st, 200);
    let html = c.get(&col.url).send().await.unwrap().text().await.unwrap();
    assert!(
        html.contains("<td><a href=\"#svc-web.test\">web.test</a></td>"),
        "{html}"
    );
    assert!(!html.contains("<script>"), "unescaped markup");
    assert!(html.contains("&lt;script&gt;x&lt;/script&gt;"));
    assert!(
        html.contains("<code>/items/{itemId}</code>") || html.contains("/items/{"),
        "{html}"
    );
    assert!(html.contains("50.0%"), "error rate: {html}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_page_shows_grpc_methods_beside_http_endpoints() {
    let dir = tempfile::tempdir().unwrap();
    let col = Collector::start(dir.path(), &[]);
    let c = reqwest::Client::new();
    let call = |status: u32| Observation {
        grpc: Some(apitap_model::GrpcCall {
            status: Some(status),
            ..Default::default()
        }),
        ..obs("shop", "POST", "/shop.v1.Shop/GetItem", 200, "", 4.0)
    };
    let m = model_of(
        "a",
        &[
            call(0),
            call(5),
            obs("shop", "GET", "/health", 200, "{}", 1.0),
        ],
    );
    let (st, _) = post(
        &c,
        &format!("{}/v1/services/shop/models", col.url),
        None,
        &[],
        m.to_json().into_bytes(),
    )
    .await;
    assert_eq!(st, 200);
    let html = c.get(&col.url).send().await.unwrap().text().await.unwrap();
    let grpc = html
        .split("<table class=\"grpc\"")
        .nth(1)
        .expect("a gRPC table");
    let http = html
        .split("<table class=\"endpoints\"")
        .nth(1)
        .and_then(|t| t.split("</table>").next())
        .expect("an endpoints table");
    assert!(
        grpc.contains("<code>/shop.v1.Shop/GetItem</code>"),
        "{html}"
    );
    assert!(
        grpc.contains("NOT_FOUND&nbsp;1") && grpc.contains("OK&nbsp;1"),
        "{html}"
    );
    assert!(grpc.contains("50.0%"), "gRPC error rate: {html}");
    assert!(
        http.contains("/health") && !http.contains("GetItem"),
        "{html}"
    );
}

#[test]
fn store_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let m = traffic("src", 50, 5);
    let rt = tokio::runtime::Runtime::new().unwrap();
    {
        let col = Collector::start(dir.path(), &[]);
        rt.block_on(async {
            let c = reqwest::Client::new();
            let (st, _) = post(
                &c,
                &format!("{}/v1/services/s1/models", col.url),
                None,
                &[],
                m.to_json().into_bytes(),
            )
            .await;
            assert_eq!(st, 200);
        });
    }
    let col = Collector::start(dir.path(), &[]);
    rt.block_on(async {
        let c = reqwest::Client::new();
        let (st, v) = get_json(&c, &format!("{}/v1/services/s1/model", col.url)).await;
        assert_eq!(st, 200);
        assert_eq!(ApiModel::from_json(&v.to_string()).unwrap(), m);
    });
}

/// Sends a raw HTTP/1.1 request (paths like `/v1/services/../models` that URL libraries
/// normalise away) and returns the status code.
fn raw_status(addr: &str, request: &str) -> u16 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out);
    text.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status in {text:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_by_scope_guard_pushes_and_reads() {
    let dir = tempfile::tempdir().unwrap();
    let col = Collector::start(
        dir.path(),
        &[
            "--push-token",
            "pusher",
            "--read-token",
            "reader",
            "--token",
            "admin",
            "--metrics-token",
            "scraper",
        ],
    );
    let c = reqwest::Client::new();
    let push = format!("{}/v1/services/shop/models", col.url);
    let good = model_of("a", &[obs("shop", "GET", "/x", 200, "{}", 1.0)]).to_json();
    let (st, _) = post(&c, &push, Some("reader"), &[], good.clone().into_bytes()).await;
    assert_eq!(st, 401, "a read token may not push");
    // The scheme name is case-insensitive.
    let r = c
        .post(&push)
        .header("Authorization", "bEaReR pusher")
        .body(good.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let (st, _) = post(&c, &push, Some("admin"), &[], good.into_bytes()).await;
    assert_eq!(st, 200);
    for path in [
        "/v1/services",
        "/v1/services/shop/model",
        "/v1/services/shop/openapi.json",
        "/v1/services/shop/versions",
        "/",
    ] {
        let url = format!("{}{path}", col.url);
        let (st, _) = get_json_as(&c, &url, None).await;
        assert_eq!(st, 401, "{path} without a token");
        let (st, _) = get_json_as(&c, &url, Some("pusher")).await;
        assert_eq!(st, 401, "{path} with a push-only token");
        let (st, _) = get_json_as(&c, &url, Some("reader")).await;
        assert_eq!(st, 200, "{path} with a read token");
        let (st, _) = get_json_as(&c, &url, Some("admin")).await;
        assert_eq!(st, 200, "{path} with a token of both scopes");
        let (st, _) = get_json_as(&c, &url, Some("scraper")).await;
        assert_eq!(st, 401, "{path} with a metrics-only token");
    }
    let (st, _) = post(&c, &push, Some("scraper"), &[], b"{}".to_vec()).await;
    assert_eq!(st, 401, "a metrics token may not push");
    for open in ["/healthz", "/readyz"] {
        let (st, _) = get_json_as(&c, &format!("{}{open}", col.url), None).await;
        assert_eq!(st, 200, "{open} is always open");
    }
    // /metrics: a metrics or read token, once any token is configured
    let metrics = format!("{}/metrics", col.url);
    for (tok, want) in [
        (None, 401),
        (Some("pusher"), 401),
        (Some("wrong"), 401),
        (Some("scraper"), 200),
        (Some("reader"), 200),
        (Some("admin"), 200),
    ] {
        let (st, _) = get_json_as(&c, &metrics, tok).await;
        assert_eq!(st, want, "/metrics with {tok:?}");
    }
    // Dot-only service names are refused.
    let addr = col.addr();
    for name in [".", "..", "..."] {
        let req = format!(
            "POST /v1/services/{name}/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer admin\r\n\
             Content-Length: 2\r\nConnection: close\r\n\r\n{{}}"
        );
        let st = raw_status(&addr, &req);
        assert!(st == 400 || st == 404, "service {name:?} answered {st}");
        assert_ne!(st, 200);
    }
}

/// `--metrics-open` keeps `/metrics` open beside other tokens; metrics-only tokens leave
/// pushes and reads open (they are no push or read token) but guard `/metrics`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_token_and_metrics_open() {
    let c = reqwest::Client::new();
    let d1 = tempfile::tempdir().unwrap();
    let col = Collector::start(d1.path(), &["--token", "admin", "--metrics-open"]);
    let (st, _) = get_json_as(&c, &format!("{}/metrics", col.url), None).await;
    assert_eq!(st, 200, "--metrics-open");
    let (st, _) = get_json_as(&c, &format!("{}/v1/services", col.url), None).await;
    assert_eq!(st, 401, "reads still need a token");
    let d2 = tempfile::tempdir().unwrap();
    let col = Collector::start(d2.path(), &["--metrics-token", "scraper"]);
    let (st, _) = get_json_as(&c, &format!("{}/metrics", col.url), None).await;
    assert_eq!(st, 401, "/metrics needs the metrics token");
    let (st, _) = get_json_as(&c, &format!("{}/metrics", col.url), Some("scraper")).await;
    assert_eq!(st, 200);
    let good = model_of("a", &[obs("shop", "GET", "/x", 200, "{}", 1.0)]).to_json();
    let push = format!("{}/v1/services/shop/models", col.url);
    let (st, _) = post(&c, &push, None, &[], good.into_bytes()).await;
    assert_eq!(st, 200, "no push token configured: pushes open");
}

/// Small versions of the hostile pushes measured by `collector/bench/attack.sh`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_pushes_are_capped_before_they_cost_memory() {
    let dir = tempfile::tempdir().unwrap();
    let col = Collector::start(
        dir.path(),
        &[
            "--max-decompressed",
            "4000000",
            "--max-push-values",
            "200000",
        ],
    );
    let c = reqwest::Client::new();
    let push = format!("{}/v1/services/shop/models", col.url);
    let gz = [("Content-Encoding", "gzip")];
    // 1. Endpoints beyond the node cap, in a body that claims `"nodes": 1`: refused (422).
    let mut lits = Vec::new();
    for a in 0..64 {
        let inner: Vec<String> = (0..64)
            .map(|b| format!("\"b{b}\":{{\"hits\":1,\"eps\":{{\"GET\":{{\"n\":1,\"first\":0,\"last\":0}}}}}}"))
            .collect();
        lits.push(format!(
            "\"a{a}\":{{\"hits\":1,\"lits\":{{{}}}}}",
            inner.join(",")
        ));
    }
    let body = format!(
        "{{\"apitap_model_version\":1,\"sources\":{{\"x\":{{\"services\":{{\"s\":{{\"root\":{{\"hits\":1,\"lits\":{{{}}}}},\"nodes\":1}}}},\"stats\":{{\"observed\":1}}}}}}}}",
        lits.join(",")
    );
    let (st, e) = post(&c, &push, None, &gz, gzip(body.as_bytes())).await;
    assert_eq!(st, 422, "{e}");
    assert!(e["error"].as_str().unwrap().contains("path nodes"), "{e}");
    // 2. Many small values: over the value budget (413) before the model is built.
    let many: Vec<String> = (0..250_000).map(|i| format!("\"k{i}\":{{}}")).collect();
    let body = format!(
        "{{\"apitap_model_version\":1,\"sources\":{{\"x\":{{\"services\":{{\"s\":{{\"root\":{{\"hits\":1,\"lits\":{{{}}}}},\"nodes\":1}}}},\"stats\":{{\"observed\":1}}}}}}}}",
        many.join(",")
    );
    let (st, e) = post(&c, &push, None, &gz, gzip(body.as_bytes())).await;
    assert_eq!(st, 413, "{e}");
    assert!(e["error"].as_str().unwrap().contains("JSON values"), "{e}");
    // 3. Unknown fields: skipped while streaming (accepted under the decompressed cap,
    //    413 over it), never buffered as a JSON tree.
    let good = model_of("a", &[obs("shop", "GET", "/x", 200, "{}", 1.0)]).to_json();
    let junk = format!("{{\"junk\":\"{}\",{}", "x".repeat(3_000_000), &good[1..]);
    let (st, e) = post(&c, &push, None, &gz, gzip(junk.as_bytes())).await;
    assert_eq!(st, 200, "{e}");
    let junk = format!("{{\"junk\":\"{}\",{}", "x".repeat(5_000_000), &good[1..]);
    let (st, e) = post(&c, &push, None, &gz, gzip(junk.as_bytes())).await;
    assert_eq!(st, 413, "{e}");
    // The collector's peak memory stayed far below the decompressed sizes times the ~30x
    // a JSON tree costs.
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", col.child.id())).unwrap_or_default();
    if let Some(kb) = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    {
        assert!(kb < 96 * 1024, "peak RSS {kb} kB");
    }
    // Nothing but the good push landed.
    let (st, v) = get_json(&c, &format!("{}/v1/services", col.url)).await;
    assert_eq!(st, 200);
    assert_eq!(v.as_array().unwrap().len(), 1, "{v}");
}

/// `--templates FILE`: a reviewed file wins over inference on models pushed by agents that
/// never saw it: specs, versions, the page and endpoint counts follow it, while the stored
/// model stays the evidence as pushed. A bad file stops the collector at start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn templates_file_wins_over_inference_in_exports() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("templates.txt");
    std::fs::write(
        &rules,
        "# reviewed\nparam /teams/{team}/members   # a few human-chosen names\nstatic /teams/create\n",
    )
    .unwrap();
    let col = Collector::start(
        &dir.path().join("data"),
        &["--templates", rules.to_str().unwrap()],
    );
    let c = reqwest::Client::new();
    let json = [("Content-Type", "application/json")];
    // two agents, each with a part of the traffic: too few names for inference to fold
    let a = model_of(
        "agent-a",
        &[
            obs("t.local", "GET", "/teams/red/members", 200, "[]", 1.0),
            obs("t.local", "POST", "/teams/create", 201, "{}", 1.0),
        ],
    );
    let b = model_of(
        "agent-b",
        &[obs("t.local", "GET", "/teams/blue/members", 200, "[]", 1.0)],
    );
    for m in [&a, &b] {
        let (st, v) = post(
            &c,
            &format!("{}/v1/services/teams/models", col.url),
            None,
            &json,
            m.to_json().into_bytes(),
        )
        .await;
        assert_eq!(st, 200, "{v}");
    }
    let (st, spec) = get_json(&c, &format!("{}/v1/services/teams/openapi.json", col.url)).await;
    assert_eq!(st, 200);
    let paths: Vec<&String> = spec["paths"].as_object().unwrap().keys().collect();
    assert_eq!(paths, ["/teams/create", "/teams/{team}/members"], "{spec}");
    assert_eq!(
        spec["paths"]["/teams/{team}/members"]["get"]["x-apitap-count"],
        2
    );
    // the recorded version and the service list follow the rules too
    let (_, versions) = get_json(&c, &format!("{}/v1/services/teams/versions", col.url)).await;
    let last = versions.as_array().unwrap().last().unwrap()["version"].clone();
    let (_, v) = get_json(
        &c,
        &format!("{}/v1/services/teams/versions/{last}", col.url),
    )
    .await;
    assert!(v["paths"].get("/teams/{team}/members").is_some(), "{v}");
    let (_, list) = get_json(&c, &format!("{}/v1/services", col.url)).await;
    assert_eq!(list[0]["endpoints"], 2, "{list}");
    let page = c.get(&col.url).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("/teams/{team}/members"), "{page}");
    assert!(!page.contains("/teams/red"), "{page}");
    // the stored evidence is the merge of the pushes, unchanged
    let (_, stored) = get_json(&c, &format!("{}/v1/services/teams/model", col.url)).await;
    assert_eq!(
        ApiModel::from_json(&stored.to_string()).unwrap(),
        a.merged(&b)
    );
    // without the file, the same pushes keep the literal names
    let plain = a.merged(&b);
    assert!(plain
        .endpoints()
        .iter()
        .any(|e| e.template == "/teams/red/members"));

    // a bad file: the collector refuses to start, naming the line
    let bad = dir.path().join("bad.txt");
    std::fs::write(&bad, "param /teams/{team}\nstatic /teams/{team}\n").unwrap();
    let out = collector_command()
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data2"))
        .args(["--templates", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 2"), "{err}");
}
