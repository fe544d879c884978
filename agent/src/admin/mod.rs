//! The agent's admin HTTP server (axum on a small tokio runtime).
//!
//! Endpoints (all `GET`):
//!
//! | Path | Response |
//! |------|----------|
//! | `/` | a plain-text index of these endpoints |
//! | `/metrics` | Prometheus text format 0.0.4; OpenMetrics 1.0 when the `Accept` header names `application/openmetrics-text` (see [`crate::metrics`] for the metric list) |
//! | `/healthz` | `200 ok` while the pipeline thread reports (at least every 10 s); `503` otherwise |
//! | `/readyz` | `200 ready` while every capture is open and running and the pipeline reports; `503` before, during shutdown, or when a capture stopped (e.g. its interface went away) |
//! | `/v1/model` | the learned model as native JSON (mergeable with `apitap` models from other agents) |
//! | `/v1/openapi.json` | the learned API as OpenAPI 3.1 JSON |
//! | `/v1/openapi.yaml` | the same as YAML |
//! | `/v1/endpoints` | the endpoint table as JSON: `[{service, method, template, count, error_rate, p50_ms, p99_ms}]`; `?format=text` gives an aligned text table |
//!
//! `/v1/openapi.*` and `/v1/endpoints` take `?service=NAME` to export one service only.
//!
//! Everything is served from the latest model snapshot the pipeline published (at most
//! `--snapshot-interval` old), so requests never block packet processing; exports run on
//! tokio's blocking pool. The server listens in the agent's own network namespace (with
//! `--netns` only the capture joins the target namespace).

use crate::agent::Shared;
use crate::metrics::Format;
use apitap_model::{ApiModel, ExportOptions};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::collections::HashMap;
use std::fmt::Write;
use std::future::Future;
use std::sync::Arc;

/// The admin routes over `shared`.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/v1/model", get(model))
        .route("/v1/openapi.json", get(openapi_json))
        .route("/v1/openapi.yaml", get(openapi_yaml))
        .route("/v1/endpoints", get(endpoints))
        .with_state(shared)
}

/// Serves the admin endpoints on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(shared))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn index() -> &'static str {
    "apitap agent\n\n/metrics\n/healthz\n/readyz\n/v1/model\n/v1/openapi.json\n/v1/openapi.yaml\n/v1/endpoints\n"
}

async fn metrics(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let format = Format::from_accept(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()));
    match tokio::task::spawn_blocking(move || s.render_metrics(format)).await {
        Ok(text) => ([(header::CONTENT_TYPE, format.content_type())], text).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn healthz(State(s): State<Arc<Shared>>) -> (StatusCode, &'static str) {
    if s.is_healthy() {
        (StatusCode::OK, "ok\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "unhealthy\n")
    }
}

async fn readyz(State(s): State<Arc<Shared>>) -> (StatusCode, &'static str) {
    if s.is_ready() {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
    }
}

/// Runs an export of the current snapshot on the blocking pool.
async fn export(
    s: Arc<Shared>,
    content_type: &'static str,
    f: impl FnOnce(&ApiModel) -> String + Send + 'static,
) -> Response {
    let snap = s.model();
    match tokio::task::spawn_blocking(move || f(&snap)).await {
        Ok(body) => ([(header::CONTENT_TYPE, content_type)], body).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

fn opts(q: &HashMap<String, String>) -> ExportOptions {
    ExportOptions {
        service: q.get("service").cloned(),
        ..ExportOptions::default()
    }
}

async fn model(State(s): State<Arc<Shared>>) -> Response {
    export(s, "application/json", |m| m.to_json()).await
}

async fn openapi_json(
    State(s): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let o = opts(&q);
    export(s, "application/json", move |m| m.to_openapi_json(&o)).await
}

async fn openapi_yaml(
    State(s): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let o = opts(&q);
    export(s, "application/yaml", move |m| m.to_yaml(&o)).await
}

async fn endpoints(
    State(s): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let service = q.get("service").cloned();
    let text = q.get("format").is_some_and(|f| f == "text");
    let ct = if text {
        "text/plain; charset=utf-8"
    } else {
        "application/json"
    };
    export(s, ct, move |m| {
        let rows: Vec<_> = m
            .endpoints()
            .into_iter()
            .filter(|r| service.as_ref().is_none_or(|s| *s == r.service))
            .collect();
        if text {
            endpoint_table(&rows)
        } else {
            serde_json::to_string(&rows).unwrap_or_default()
        }
    })
    .await
}

/// The endpoint rows as an aligned text table.
pub fn endpoint_table(rows: &[apitap_model::EndpointSummary]) -> String {
    let ms = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1}"));
    let mut cells: Vec<[String; 7]> = vec![[
        "SERVICE".into(),
        "METHOD".into(),
        "TEMPLATE".into(),
        "COUNT".into(),
        "ERRORS".into(),
        "P50_MS".into(),
        "P99_MS".into(),
    ]];
    for r in rows {
        cells.push([
            r.service.clone(),
            r.method.clone(),
            r.template.clone(),
            r.count.to_string(),
            format!("{:.1}%", r.error_rate * 100.0),
            ms(r.p50_ms),
            ms(r.p99_ms),
        ]);
    }
    let mut width = [0usize; 7];
    for row in &cells {
        for (w, c) in width.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for row in &cells {
        let mut line = String::new();
        for (i, (c, w)) in row.iter().zip(width).enumerate() {
            if i + 1 == row.len() {
                line.push_str(c);
            } else {
                let _ = write!(line, "{c:<w$}  ");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A minimal HTTP/1.0 GET for health checks (no dependencies, no TLS): returns the status
/// code. Used by `apitap healthcheck` (the Docker HEALTHCHECK), so the image needs no curl.
pub fn http_get_status(
    addr: &str,
    path: &str,
    timeout: std::time::Duration,
) -> std::io::Result<u16> {
    use std::io::{Read, Write as _};
    use std::net::ToSocketAddrs;
    let sa = addr
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::other(format!("cannot resolve {addr}")))?;
    let mut s = std::net::TcpStream::connect_timeout(&sa, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut buf = [0u8; 64];
    let mut n = 0;
    while n < 12 {
        let k = s.read(buf.get_mut(n..).unwrap_or_default())?;
        if k == 0 {
            break;
        }
        n += k;
    }
    let head = std::str::from_utf8(buf.get(..n).unwrap_or_default()).unwrap_or("");
    head.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other("not an HTTP response"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_aligned() {
        let rows = vec![apitap_model::EndpointSummary {
            service: "api".into(),
            method: "GET".into(),
            template: "/users/{userId}".into(),
            count: 12,
            error_rate: 0.25,
            p50_ms: Some(1.25),
            p99_ms: None,
        }];
        assert_eq!(
            endpoint_table(&rows),
            "SERVICE  METHOD  TEMPLATE         COUNT  ERRORS  P50_MS  P99_MS\n\
             api      GET     /users/{userId}  12     25.0%   1.2     -\n"
        );
    }
}
