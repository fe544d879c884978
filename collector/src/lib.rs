//! `apitap collector`: one place where every agent pushes its learned model, merged per
//! service and persisted crash-safely, with spec history, diffs, metrics and a web page.
//!
//! # HTTP API
//!
//! | method | path | answer |
//! |---|---|---|
//! | POST | `/v1/services/{service}/models` | push a native model (JSON, optionally `Content-Encoding: gzip`); `200 {"service","changed","version","endpoints"}` |
//! | GET | `/v1/services` | `[{"service","endpoints","observed","sources","pushes","last_push_unix_ms","latest_version"}]` |
//! | GET | `/v1/services/{service}/model` | the merged native model |
//! | GET | `/v1/services/{service}/openapi.json` | OpenAPI 3.1 JSON (`?evidence=false` drops `x-apitap-*`) |
//! | GET | `/v1/services/{service}/openapi.yaml` | the same as YAML |
//! | GET | `/v1/services/{service}/versions` | `[{"version","created_unix_ms","endpoints"}]`, oldest first |
//! | GET | `/v1/services/{service}/versions/{n}` | that version's OpenAPI document |
//! | GET | `/v1/services/{service}/diff?from=A&to=B` | [`apitap_model::diff`] of two versions as JSON (`&format=text` for text); `to` defaults to the latest |
//! | GET | `/metrics` | the collector's own Prometheus metrics |
//! | GET | `/healthz` | `ok` |
//! | GET | `/` | HTML page: services and endpoints with traffic, error rate, p50/p99 |
//!
//! # Policy
//!
//! - **Auth**: pushes need `Authorization: Bearer T` where T is one of the `--token`s. With no
//!   token configured, pushes are accepted without auth and a warning is logged at start.
//!   Reads are not authenticated (protect them with the NetworkPolicy of the Helm chart).
//! - **Validation**: service names match `[A-Za-z0-9._:-]{1,253}`; the body must be an apitap
//!   native model of a version this build reads; `Content-Type` must be JSON when given;
//!   `Content-Encoding` must be absent, `identity` or `gzip`. Errors are
//!   `{"error": "..."}` with 400 (bad name/body/gzip), 401 (auth), 413 (over
//!   [`CollectorArgs::max_body`] compressed or [`CollectorArgs::max_decompressed`] decompressed),
//!   415 (content type/encoding). A rejected push changes nothing.
//! - **Merging** is the model's join (see `apitap_model::model`), so duplicated, replayed or
//!   reordered pushes are harmless. The store is [`store`] (redb, crash-safe): the answer is
//!   sent after the commit.
//! - **Versions**: a new version is recorded only when the OpenAPI export without evidence
//!   changed; at most `--max-versions` per service are kept.

// Handlers use `Result<T, Response>`: the error *is* the HTTP answer, built once on a cold
// path, so its size does not matter.
#![allow(clippy::result_large_err)]

pub mod store;
mod web;

use anyhow::{Context, Result};
use apitap_model::ApiModel;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use clap::Args;
use serde_json::json;
use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use store::{spec_options, Store, StoreConfig};

/// `apitap collector` options.
#[derive(Args, Debug, Clone)]
pub struct CollectorArgs {
    /// Address to listen on (`:0` picks a free port; the address is logged and printed).
    #[arg(long, default_value = "0.0.0.0:9470", env = "APITAP_COLLECTOR_LISTEN")]
    pub listen: String,
    /// Directory of the embedded store (created if missing).
    #[arg(
        long,
        default_value = "apitap-collector-data",
        env = "APITAP_COLLECTOR_DATA_DIR"
    )]
    pub data_dir: PathBuf,
    /// Bearer token accepted for pushes (repeatable; comma-separated in the environment).
    /// Without any, pushes are not authenticated.
    #[arg(long = "token", env = "APITAP_COLLECTOR_TOKENS", value_delimiter = ',')]
    pub tokens: Vec<String>,
    /// Largest accepted push body as sent (compressed), bytes.
    #[arg(long, default_value_t = 16 << 20)]
    pub max_body: usize,
    /// Largest accepted push body after decompression, bytes.
    #[arg(long, default_value_t = 64 << 20)]
    pub max_decompressed: usize,
    /// Spec versions kept per service.
    #[arg(long, default_value_t = 100)]
    pub max_versions: u64,
}

impl Default for CollectorArgs {
    fn default() -> Self {
        CollectorArgs {
            listen: "127.0.0.1:0".into(),
            data_dir: PathBuf::from("apitap-collector-data"),
            tokens: Vec::new(),
            max_body: 16 << 20,
            max_decompressed: 64 << 20,
            max_versions: 100,
        }
    }
}

/// The collector's own counters.
#[derive(Debug, Default)]
pub struct CollectorStats {
    /// Pushes accepted.
    pub accepted: AtomicU64,
    /// Accepted pushes that changed the merged model.
    pub changed: AtomicU64,
    /// Spec versions recorded.
    pub versions: AtomicU64,
    /// Rejected: missing or wrong token.
    pub rejected_auth: AtomicU64,
    /// Rejected: bad service name, body, gzip or model.
    pub rejected_bad_request: AtomicU64,
    /// Rejected: body too large.
    pub rejected_too_large: AtomicU64,
    /// Rejected: unsupported content type or encoding.
    pub rejected_media_type: AtomicU64,
    /// Failed: store error.
    pub store_errors: AtomicU64,
    /// Push body bytes received (as sent).
    pub bytes_received: AtomicU64,
}

/// Shared state of the server.
pub struct AppState {
    store: Store,
    tokens: Vec<String>,
    max_body: usize,
    max_decompressed: usize,
    /// Counters.
    pub stats: CollectorStats,
}

type Shared = Arc<AppState>;

impl AppState {
    /// Opens the store and builds the state.
    pub fn new(args: &CollectorArgs) -> Result<AppState> {
        let store = Store::open(
            &args.data_dir,
            StoreConfig {
                max_versions: args.max_versions,
            },
        )?;
        Ok(AppState {
            store,
            tokens: args.tokens.clone(),
            max_body: args.max_body,
            max_decompressed: args.max_decompressed,
            stats: CollectorStats::default(),
        })
    }
}

/// True for service names the collector accepts: `[A-Za-z0-9._:-]{1,253}`.
pub fn valid_service(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b':' | b'-'))
}

fn now_unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn err(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, Json(json!({ "error": msg.into() }))).into_response()
}

/// Constant-time comparison (tokens must not leak through timing).
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn authorized(st: &AppState, headers: &HeaderMap) -> bool {
    if st.tokens.is_empty() {
        return true;
    }
    let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some(tok) = v
        .strip_prefix("Bearer ")
        .or_else(|| v.strip_prefix("bearer "))
    else {
        return false;
    };
    let tok = tok.trim();
    // Check every token (no early exit).
    st.tokens
        .iter()
        .fold(false, |ok, t| ct_eq(t.as_bytes(), tok.as_bytes()) | ok)
}

/// Decompresses `body` per `encoding` up to `limit` bytes.
fn decode_body(encoding: &str, body: &[u8], limit: usize) -> Result<Vec<u8>, Response> {
    match encoding {
        "" | "identity" => {
            if body.len() > limit {
                return Err(err(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("body exceeds {limit} bytes"),
                ));
            }
            Ok(body.to_vec())
        }
        "gzip" | "x-gzip" => {
            let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(limit));
            let mut d = flate2::read::MultiGzDecoder::new(body).take(limit as u64 + 1);
            d.read_to_end(&mut out).map_err(|e| {
                err(
                    StatusCode::BAD_REQUEST,
                    format!("body is not valid gzip: {e}"),
                )
            })?;
            if out.len() > limit {
                return Err(err(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("decompressed body exceeds {limit} bytes"),
                ));
            }
            Ok(out)
        }
        other => Err(err(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("unsupported Content-Encoding {other:?} (use gzip or none)"),
        )),
    }
}

async fn push(
    State(st): State<Shared>,
    Path(service): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let s = &st.stats;
    if !valid_service(&service) {
        s.rejected_bad_request.fetch_add(1, Relaxed);
        return err(
            StatusCode::BAD_REQUEST,
            "invalid service name: use 1 to 253 characters of [A-Za-z0-9._:-]",
        );
    }
    if !authorized(&st, &headers) {
        s.rejected_auth.fetch_add(1, Relaxed);
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            Json(json!({"error": "missing or invalid bearer token"})),
        )
            .into_response();
    }
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or("").to_ascii_lowercase();
        let media = ct.split(';').next().unwrap_or("").trim();
        if media != "application/json" && !media.ends_with("+json") {
            s.rejected_media_type.fetch_add(1, Relaxed);
            return err(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("unsupported Content-Type {media:?} (use application/json)"),
            );
        }
    }
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let bytes: Bytes = match axum::body::to_bytes(body, st.max_body).await {
        Ok(b) => b,
        Err(e) => {
            // to_bytes fails on the length limit or on a broken connection.
            let too_large = std::error::Error::source(&e)
                .is_some_and(|s| s.to_string().contains("length limit"))
                || e.to_string().contains("length limit");
            if too_large {
                s.rejected_too_large.fetch_add(1, Relaxed);
                return err(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("body exceeds {} bytes", st.max_body),
                );
            }
            s.rejected_bad_request.fetch_add(1, Relaxed);
            return err(
                StatusCode::BAD_REQUEST,
                format!("cannot read request body: {e}"),
            );
        }
    };
    s.bytes_received.fetch_add(bytes.len() as u64, Relaxed);
    let st2 = st.clone();
    let svc = service.clone();
    let res = tokio::task::spawn_blocking(move || -> Result<_, Response> {
        let st = st2;
        let raw = decode_body(&encoding, &bytes, st.max_decompressed).inspect_err(|r| {
            if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                st.stats.rejected_too_large.fetch_add(1, Relaxed);
            } else if r.status() == StatusCode::UNSUPPORTED_MEDIA_TYPE {
                st.stats.rejected_media_type.fetch_add(1, Relaxed);
            } else {
                st.stats.rejected_bad_request.fetch_add(1, Relaxed);
            }
        })?;
        let text = std::str::from_utf8(&raw).map_err(|_| {
            st.stats.rejected_bad_request.fetch_add(1, Relaxed);
            err(StatusCode::BAD_REQUEST, "body is not UTF-8 JSON")
        })?;
        let model = ApiModel::from_json(text).map_err(|e| {
            st.stats.rejected_bad_request.fetch_add(1, Relaxed);
            err(StatusCode::BAD_REQUEST, e.to_string())
        })?;
        st.store.push(&svc, &model, now_unix_ms()).map_err(|e| {
            st.stats.store_errors.fetch_add(1, Relaxed);
            tracing::error!("store error for {svc}: {e:#}");
            err(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("store error: {e:#}"),
            )
        })
    })
    .await;
    match res {
        Ok(Ok(out)) => {
            s.accepted.fetch_add(1, Relaxed);
            if out.changed {
                s.changed.fetch_add(1, Relaxed);
            }
            if out.new_version.is_some() {
                s.versions.fetch_add(1, Relaxed);
            }
            Json(json!({
                "service": service,
                "changed": out.changed,
                "version": out.meta.latest_version,
                "new_version": out.new_version,
                "endpoints": out.meta.endpoints,
            }))
            .into_response()
        }
        Ok(Err(r)) => r,
        Err(e) => err(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("task failed: {e}"),
        ),
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Response> + Send + 'static,
) -> Result<T, Response> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(err(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())))
}

fn internal(e: anyhow::Error) -> Response {
    err(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}"))
}

fn load_model(st: &AppState, service: &str) -> Result<Arc<ApiModel>, Response> {
    if !valid_service(service) {
        return Err(err(StatusCode::BAD_REQUEST, "invalid service name"));
    }
    st.store
        .model(service)
        .map_err(internal)?
        .ok_or_else(|| err(StatusCode::NOT_FOUND, format!("no service {service:?}")))
}

async fn list_services(State(st): State<Shared>) -> Response {
    match blocking(move || st.store.services().map_err(internal)).await {
        Ok(list) => Json(
            list.into_iter()
                .map(|(name, m)| {
                    json!({
                        "service": name,
                        "endpoints": m.endpoints,
                        "observed": m.observed,
                        "sources": m.sources,
                        "pushes": m.pushes,
                        "last_push_unix_ms": m.last_push_unix_ms,
                        "latest_version": m.latest_version,
                    })
                })
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(r) => r,
    }
}

fn typed(ct: &'static str, body: String) -> Response {
    ([(header::CONTENT_TYPE, ct)], body).into_response()
}

async fn get_model(State(st): State<Shared>, Path(service): Path<String>) -> Response {
    blocking(move || Ok(load_model(&st, &service)?.to_json()))
        .await
        .map(|s| typed("application/json", s))
        .unwrap_or_else(|r| r)
}

fn evidence_param(q: &HashMap<String, String>) -> bool {
    !matches!(
        q.get("evidence").map(String::as_str),
        Some("false" | "0" | "no")
    )
}

/// A service's spec as OpenAPI JSON or YAML (`?evidence=false` drops the x-apitap-* data).
async fn spec(st: Shared, service: String, q: HashMap<String, String>, yaml: bool) -> Response {
    let ev = evidence_param(&q);
    blocking(move || {
        let m = load_model(&st, &service)?;
        let opts = spec_options(&service, ev);
        Ok(if yaml {
            m.to_yaml(&opts)
        } else {
            m.to_openapi_json(&opts)
        })
    })
    .await
    .map(|s| {
        typed(
            if yaml {
                "application/yaml"
            } else {
                "application/json"
            },
            s,
        )
    })
    .unwrap_or_else(|r| r)
}

async fn openapi_json(
    State(st): State<Shared>,
    Path(service): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    spec(st, service, q, false).await
}

async fn openapi_yaml(
    State(st): State<Shared>,
    Path(service): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    spec(st, service, q, true).await
}

async fn list_versions(State(st): State<Shared>, Path(service): Path<String>) -> Response {
    blocking(move || {
        if !valid_service(&service) {
            return Err(err(StatusCode::BAD_REQUEST, "invalid service name"));
        }
        let v = st.store.versions(&service).map_err(internal)?;
        if v.is_empty() {
            return Err(err(
                StatusCode::NOT_FOUND,
                format!("no service {service:?}"),
            ));
        }
        Ok(json!(v
            .iter()
            .map(|v| json!({"version": v.version, "created_unix_ms": v.created_unix_ms, "endpoints": v.endpoints}))
            .collect::<Vec<_>>()))
    })
    .await
    .map(|v| Json(v).into_response())
    .unwrap_or_else(|r| r)
}

fn get_version(st: &AppState, service: &str, n: u64) -> Result<store::StoredVersion, Response> {
    if !valid_service(service) {
        return Err(err(StatusCode::BAD_REQUEST, "invalid service name"));
    }
    st.store
        .version(service, n)
        .map_err(internal)?
        .ok_or_else(|| {
            err(
                StatusCode::NOT_FOUND,
                format!("service {service:?} has no version {n}"),
            )
        })
}

async fn version(State(st): State<Shared>, Path((service, n)): Path<(String, u64)>) -> Response {
    blocking(move || Ok(get_version(&st, &service, n)?.spec))
        .await
        .map(|v| Json(v).into_response())
        .unwrap_or_else(|r| r)
}

async fn diff(
    State(st): State<Shared>,
    Path(service): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    blocking(move || {
        let num = |k: &str| -> Result<Option<u64>, Response> {
            match q.get(k) {
                None => Ok(None),
                Some(v) => v.parse().map(Some).map_err(|_| {
                    err(
                        StatusCode::BAD_REQUEST,
                        format!("{k} must be a version number"),
                    )
                }),
            }
        };
        let from =
            num("from")?.ok_or_else(|| err(StatusCode::BAD_REQUEST, "missing ?from=VERSION"))?;
        let to = match num("to")? {
            Some(t) => t,
            None => st
                .store
                .versions(&service)
                .map_err(internal)?
                .last()
                .map(|v| v.version)
                .ok_or_else(|| err(StatusCode::NOT_FOUND, "no versions"))?,
        };
        let a = get_version(&st, &service, from)?;
        let b = get_version(&st, &service, to)?;
        let d = apitap_model::diff(&a.spec, &b.spec);
        Ok(if q.get("format").map(String::as_str) == Some("text") {
            typed("text/plain; charset=utf-8", d.to_text())
        } else {
            let mut v = d.to_json();
            v["from"] = json!(from);
            v["to"] = json!(to);
            Json(v).into_response()
        })
    })
    .await
    .unwrap_or_else(|r| r)
}

/// Renders the collector's metrics in the Prometheus text format.
pub fn render_metrics(st: &AppState) -> String {
    use std::fmt::Write;
    let s = &st.stats;
    let mut o = String::with_capacity(2048);
    let _ = writeln!(
        o,
        "# HELP apitap_collector_pushes_total Model pushes by result.\n# TYPE apitap_collector_pushes_total counter"
    );
    for (res, v) in [
        ("accepted", &s.accepted),
        ("unauthorized", &s.rejected_auth),
        ("bad_request", &s.rejected_bad_request),
        ("too_large", &s.rejected_too_large),
        ("unsupported_media_type", &s.rejected_media_type),
        ("store_error", &s.store_errors),
    ] {
        let _ = writeln!(
            o,
            "apitap_collector_pushes_total{{result=\"{res}\"}} {}",
            v.load(Relaxed)
        );
    }
    let _ = writeln!(o, "# HELP apitap_collector_pushes_changed_total Accepted pushes that changed a merged model.\n# TYPE apitap_collector_pushes_changed_total counter\napitap_collector_pushes_changed_total {}", s.changed.load(Relaxed));
    let _ = writeln!(o, "# HELP apitap_collector_spec_versions_total Spec versions recorded.\n# TYPE apitap_collector_spec_versions_total counter\napitap_collector_spec_versions_total {}", s.versions.load(Relaxed));
    let _ = writeln!(o, "# HELP apitap_collector_received_bytes_total Push body bytes received.\n# TYPE apitap_collector_received_bytes_total counter\napitap_collector_received_bytes_total {}", s.bytes_received.load(Relaxed));
    let _ = writeln!(o, "# HELP apitap_collector_services Services known.\n# TYPE apitap_collector_services gauge\napitap_collector_services {}", st.store.service_count());
    let _ = writeln!(o, "# HELP apitap_collector_store_bytes Size of the store file.\n# TYPE apitap_collector_store_bytes gauge\napitap_collector_store_bytes {}", st.store.size_bytes());
    o
}

async fn metrics(State(st): State<Shared>) -> Response {
    let text = blocking(move || Ok(render_metrics(&st)))
        .await
        .unwrap_or_default();
    typed("text/plain; version=0.0.4; charset=utf-8", text)
}

async fn index(State(st): State<Shared>) -> Response {
    blocking(move || web::page(&st.store).map_err(internal))
        .await
        .map(|s| typed("text/html; charset=utf-8", s))
        .unwrap_or_else(|r| r)
}

/// The collector's router.
pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics))
        .route("/v1/services", get(list_services))
        .route("/v1/services/{service}/models", post(push))
        .route("/v1/services/{service}/model", get(get_model))
        .route("/v1/services/{service}/openapi.json", get(openapi_json))
        .route("/v1/services/{service}/openapi.yaml", get(openapi_yaml))
        .route("/v1/services/{service}/versions", get(list_versions))
        .route("/v1/services/{service}/versions/{n}", get(version))
        .route("/v1/services/{service}/diff", get(diff))
        // Our own limit is applied in `push` with a clear message.
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(state)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

/// Runs the collector until SIGINT/SIGTERM. Prints `listening on http://ADDR` to stderr.
pub fn run(args: CollectorArgs) -> Result<()> {
    if args.tokens.is_empty() {
        tracing::warn!("no --token given: pushes are accepted without authentication");
    }
    let state = Arc::new(AppState::new(&args)?);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let addr = listener.local_addr()?;
        eprintln!("apitap collector: listening on http://{addr}");
        tracing::info!(%addr, data_dir = %args.data_dir.display(), "collector started");
        axum::serve(listener, router(state))
            .with_graceful_shutdown(shutdown_signal())
            .await
            .context("server error")
    })
}
