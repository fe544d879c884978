//! `apitap collector`: one place where every agent pushes its learned model, merged per
//! service and persisted crash-safely, with spec history, diffs, metrics and a web page.
//!
//! # HTTP API
//!
//! | method | path | answer |
//! |---|---|---|
//! | POST | `/v1/services/{service}/models` | push a native model (JSON, optionally `Content-Encoding: gzip`); `200 {"service","changed","version","endpoints"}` (`version` and `endpoints` as of the service's last settle, see below) |
//! | GET | `/v1/services` | `[{"service","endpoints","observed","sources","pushes","last_push_unix_ms","latest_version"}]` |
//! | GET | `/v1/services/{service}/model` | the merged native model |
//! | GET | `/v1/services/{service}/openapi.json` | OpenAPI 3.1 JSON (`?evidence=false` drops `x-apitap-*`) |
//! | GET | `/v1/services/{service}/openapi.yaml` | the same as YAML |
//! | GET | `/v1/services/{service}/versions` | `[{"version","created_unix_ms","endpoints"}]`, oldest first |
//! | GET | `/v1/services/{service}/versions/{n}` | that version's OpenAPI document |
//! | GET | `/v1/services/{service}/diff?from=A&to=B` | [`apitap_model::diff`] of two versions as JSON (`&format=text` for text); `to` defaults to the latest |
//! | GET | `/metrics` | the collector's own metrics: Prometheus text 0.0.4, or OpenMetrics 1.0 when `Accept` names it |
//! | GET | `/healthz` | `ok` (the process is up) |
//! | GET | `/readyz` | `ok` when the store answers, else 503 |
//! | GET | `/` | HTML page: services and endpoints with traffic, error rate, p50/p99 |
//!
//! # Policy
//!
//! - **Auth by scope**: `Authorization: Bearer T` (scheme name case-insensitive). `--token`
//!   may push and read, `--push-token` may only push, `--read-token` may only read. With no
//!   push or read token configured, pushes and reads are open and a warning is logged at
//!   start; with any, every push needs a push token and every read (the API and the page) a
//!   read token.
//!   `/healthz` and `/readyz` are open (probes send no credentials).
//! - **`/metrics` auth**: with any token configured, `/metrics` needs a bearer token too: a
//!   `--metrics-token` (may only scrape) or a read token. Prometheus sends one with the scrape
//!   config's `authorization: {credentials_file: …}` (prometheus-operator: the
//!   ServiceMonitor's `authorization` from a Secret), the way authenticated servers such as
//!   Vault and Grafana protect theirs; a scrape-only token keeps Prometheus from reading
//!   models. The metrics are the collector's own counters (no model content), so
//!   `--metrics-open` may serve them without a token where a scraper cannot send one.
//!   With no token at all, everything is open.
//! - **Validation** (see [`validate`]): service names match `[A-Za-z0-9._:-]{1,253}` and are
//!   not only dots (`.`, `..`, `...`); `Content-Type` must be JSON when given;
//!   `Content-Encoding` must be absent, `identity` or `gzip`. The body is validated as it is
//!   parsed, with the learner's caps enforced and no count in it trusted. Errors are
//!   `{"error": "..."}` with 400 (bad name/body/gzip), 401 (auth), 413 (over
//!   [`CollectorConfig::max_body`] compressed, [`CollectorConfig::max_decompressed`] decompressed
//!   or [`CollectorConfig::max_push_values`] JSON values), 415 (content type/encoding), 422 (a
//!   model over the caps or of another version). A rejected push changes nothing.
//! - **Memory**: at most `--max-concurrent-pushes` bodies are read and parsed at once, each
//!   bounded as above; merged models live in the store with a bounded cache
//!   (`--cache-models`); the page shows endpoints of at most [`web::PAGE_SERVICES`] services.
//! - **Merging** is the model's join (see `apitap_model::model`), so duplicated, replayed or
//!   reordered pushes are harmless. The store is [`store`] (embedded redb, or PostgreSQL shared
//!   by replicas): the answer is sent after the commit. Pushes to different services run
//!   concurrently.
//! - **Versions**: a new version is recorded only when the OpenAPI export without evidence
//!   changed; at most `--max-versions` per service are kept. A push writes only its own
//!   sources' rows; versions are recorded by a settle step (see [`store`]): in the background
//!   about 30 s after a service's first unsettled push, and before every read of the history
//!   (`versions`, `diff`, the page), so a read after an acknowledged push sees its version.
//!   The push answer's `version` and `endpoints`, and the list's `endpoints` and
//!   `latest_version`, are as of the last settle; the list's counts are exact.
//! - **Reviewed templates** (`--templates FILE`, the format of `apitap learn --templates`):
//!   the rules win over inference in every export (specs, versions, the page, endpoint
//!   counts), applied to the merged evidence ([`apitap_model::ApiModel::with_template_rules`]),
//!   so they hold for agents that never saw the file. The stored model and `GET .../model`
//!   stay the evidence as pushed. A bad file stops the collector at start, naming the line.

// Handlers use `Result<T, Response>`: the error *is* the HTTP answer, built once on a cold
// path, so its size does not matter.
#![allow(clippy::result_large_err)]

pub mod store;
pub mod validate;
mod web;

use anyhow::{Context, Result};
use apitap_exposition::{Exposition, Family, Format};
use apitap_model::ApiModel;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use store::{spec_options, Backend, Store, StoreConfig};
use validate::{Limits, Rejection};

/// Collector settings (the flags of `apitap collector` and `apitap-collector` fill them).
#[derive(Debug, Clone)]
pub struct CollectorConfig {
    /// Address to listen on (`:0` picks a free port; the address is logged and printed).
    pub listen: String,
    /// Directory of the embedded store (created if missing; unused with `--store postgres://…`).
    pub data_dir: PathBuf,
    /// Shared store: a `postgres://user:password@host:port/database` URL. Any number of
    /// collector replicas may use the same one. Without it, the embedded store in `--data-dir`.
    pub store: Option<String>,
    /// Connections to the shared store per replica.
    pub store_connections: usize,
    /// Bearer token that may push and read (repeatable; comma-separated in the environment).
    pub tokens: Vec<String>,
    /// Bearer token that may only push (repeatable).
    pub push_tokens: Vec<String>,
    /// Bearer token that may only read (repeatable).
    pub read_tokens: Vec<String>,
    /// Bearer token that may only scrape `/metrics`. With any token configured, `/metrics`
    /// needs this or a read token, unless `metrics_open`.
    pub metrics_tokens: Vec<String>,
    /// Serve `/metrics` without a token even when tokens are configured.
    pub metrics_open: bool,
    /// Largest accepted push body as sent (compressed), bytes.
    pub max_body: usize,
    /// Largest accepted push body after decompression, bytes.
    pub max_decompressed: usize,
    /// Most JSON values in one push body (bounds the memory of parsing it).
    pub max_push_values: u64,
    /// Most sources (agents) in one push.
    pub max_push_sources: usize,
    /// Pushes read and parsed at once (more wait their turn).
    pub max_concurrent_pushes: usize,
    /// Merged models kept in memory (least recently used evicted).
    pub cache_models: usize,
    /// Spec versions kept per service.
    pub max_versions: u64,
    /// Background settle delay after a service's first unsettled push.
    pub settle_delay: std::time::Duration,
    /// A reviewed templates file that wins over inference, one rule a line (`#` comments):
    /// `param /v1/images/{name}/json` makes segments parameters (merge), `static
    /// /v1/containers/json` keeps a literal route (split). Applied to the merged evidence of
    /// every service: specs, versions, the page and endpoint counts follow it; the stored
    /// and served native models are the evidence as pushed.
    pub templates: Option<PathBuf>,
}

impl Default for CollectorConfig {
    fn default() -> Self {
        CollectorConfig {
            listen: "127.0.0.1:0".into(),
            data_dir: PathBuf::from("apitap-collector-data"),
            store: None,
            store_connections: 4,
            tokens: Vec::new(),
            push_tokens: Vec::new(),
            read_tokens: Vec::new(),
            metrics_tokens: Vec::new(),
            metrics_open: false,
            max_body: 16 << 20,
            max_decompressed: 64 << 20,
            max_push_values: 2_000_000,
            max_push_sources: 64,
            max_concurrent_pushes: 4,
            cache_models: 16,
            max_versions: 100,
            settle_delay: StoreConfig::default().settle_delay,
            templates: None,
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
    /// Rejected: missing or wrong token.
    pub rejected_auth: AtomicU64,
    /// Rejected: bad service name, body or gzip.
    pub rejected_bad_request: AtomicU64,
    /// Rejected: body, decompressed body or value count too large.
    pub rejected_too_large: AtomicU64,
    /// Rejected: unsupported content type or encoding.
    pub rejected_media_type: AtomicU64,
    /// Rejected: a valid model over the caps or of another version.
    pub rejected_invalid: AtomicU64,
    /// Failed: store error.
    pub store_errors: AtomicU64,
    /// Push body bytes received (as sent).
    pub bytes_received: AtomicU64,
    /// Reads refused for a missing or wrong token.
    pub reads_unauthorized: AtomicU64,
}

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Push models.
    Push,
    /// Read models, specs, versions and the page (and scrape `/metrics`).
    Read,
    /// Scrape `/metrics` only.
    Metrics,
}

/// One configured token and its scopes.
struct Token {
    token: String,
    push: bool,
    read: bool,
    metrics: bool,
}

/// Shared state of the server.
pub struct AppState {
    store: Backend,
    tokens: Vec<Token>,
    /// `/metrics` needs no token (`--metrics-open`).
    metrics_open: bool,
    max_body: usize,
    limits: Limits,
    pushes: tokio::sync::Semaphore,
    /// The reviewed templates file (`--templates`; empty without one).
    templates: Arc<apitap_model::paths::TemplateRules>,
    /// Counters.
    pub stats: CollectorStats,
}

type Shared = Arc<AppState>;

impl AppState {
    /// Opens the store (and applies its migrations) and builds the state.
    pub async fn new(args: &CollectorConfig) -> Result<AppState> {
        let templates = match &args.templates {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read templates file {}", path.display()))?;
                apitap_model::paths::parse_templates(&text)
                    .map_err(|e| anyhow::anyhow!("templates file {}: {e}", path.display()))?
            }
            None => Default::default(),
        };
        let templates = Arc::new(templates);
        let cfg = StoreConfig {
            max_versions: args.max_versions,
            cache_models: args.cache_models,
            templates: templates.clone(),
            settle_delay: args.settle_delay,
        };
        let store = match &args.store {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Backend::Postgres(
                    store::postgres::PgStore::connect(url, args.store_connections, cfg).await?,
                )
            }
            Some(other) => anyhow::bail!(
                "unsupported --store {:?}: use postgres://… (or omit it for the embedded store)",
                other.split("://").next().unwrap_or("")
            ),
            None => Backend::Redb(store::redb::RedbStore::open(&args.data_dir, cfg)?),
        };
        let mut tokens = Vec::new();
        let kinds = [
            (&args.tokens, true, true, true),
            (&args.push_tokens, true, false, false),
            (&args.read_tokens, false, true, true),
            (&args.metrics_tokens, false, false, true),
        ];
        for (list, push, read, metrics) in kinds {
            for t in list.iter().filter(|t| !t.is_empty()) {
                tokens.push(Token {
                    token: t.clone(),
                    push,
                    read,
                    metrics,
                });
            }
        }
        Ok(AppState {
            store,
            tokens,
            metrics_open: args.metrics_open,
            max_body: args.max_body,
            limits: Limits {
                max_decompressed: args.max_decompressed,
                max_values: args.max_push_values,
                max_sources: args.max_push_sources,
                ..Limits::default()
            },
            pushes: tokio::sync::Semaphore::new(args.max_concurrent_pushes.max(1)),
            templates,
            stats: CollectorStats::default(),
        })
    }
}

/// True for service names the collector accepts: `[A-Za-z0-9._:-]{1,253}`, not only dots.
pub fn valid_service(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b':' | b'-'))
        && !s.bytes().all(|c| c == b'.')
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

/// The bearer token of `Authorization` (scheme name case-insensitive).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, tok) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| tok.trim())
        .filter(|t| !t.is_empty())
}

/// True when the request may act in `scope`. Pushes and reads are open when no push or read
/// token is configured (metrics-only tokens do not lock them); `/metrics` is open when no
/// token at all is configured, or with `--metrics-open`. Otherwise the request needs a token
/// of that scope.
pub fn authorized(st: &AppState, headers: &HeaderMap, scope: Scope) -> bool {
    let open = match scope {
        Scope::Push | Scope::Read => !st.tokens.iter().any(|t| t.push || t.read),
        Scope::Metrics => st.metrics_open || st.tokens.is_empty(),
    };
    if open {
        return true;
    }
    let Some(tok) = bearer(headers) else {
        return false;
    };
    // Check every token (no early exit).
    st.tokens.iter().fold(false, |ok, t| {
        let allowed = match scope {
            Scope::Push => t.push,
            Scope::Read => t.read,
            Scope::Metrics => t.metrics,
        };
        (ct_eq(t.token.as_bytes(), tok.as_bytes()) & allowed) | ok
    })
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        Json(json!({"error": "missing or invalid bearer token"})),
    )
        .into_response()
}

/// Read endpoints need a read token when any token is configured.
async fn read_auth(State(st): State<Shared>, req: Request, next: Next) -> Response {
    if !authorized(&st, req.headers(), Scope::Read) {
        st.stats.reads_unauthorized.fetch_add(1, Relaxed);
        return unauthorized();
    }
    next.run(req).await
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
            "invalid service name: use 1 to 253 characters of [A-Za-z0-9._:-], not only dots",
        );
    }
    if !authorized(&st, &headers, Scope::Push) {
        s.rejected_auth.fetch_add(1, Relaxed);
        return unauthorized();
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
    // Bounded work in flight: at most `max_concurrent_pushes` bodies read and parsed at once.
    let Ok(_permit) = st.pushes.acquire().await else {
        return err(StatusCode::SERVICE_UNAVAILABLE, "shutting down");
    };
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
    let parsed =
        tokio::task::spawn_blocking(move || validate::parse_push(&encoding, &bytes, &st2.limits))
            .await;
    let model = match parsed {
        Ok(Ok(m)) => m,
        Ok(Err(r)) => {
            let (status, counter) = match &r {
                Rejection::Malformed(_) => (StatusCode::BAD_REQUEST, &s.rejected_bad_request),
                Rejection::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, &s.rejected_too_large),
                Rejection::Encoding(_) => {
                    (StatusCode::UNSUPPORTED_MEDIA_TYPE, &s.rejected_media_type)
                }
                Rejection::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, &s.rejected_invalid),
            };
            counter.fetch_add(1, Relaxed);
            return err(status, r.to_string());
        }
        Err(e) => {
            return err(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("task failed: {e}"),
            )
        }
    };
    match st.store.push(&service, model, now_unix_ms()).await {
        Ok(out) => {
            s.accepted.fetch_add(1, Relaxed);
            if out.changed {
                s.changed.fetch_add(1, Relaxed);
            }
            Json(json!({
                "service": service,
                "changed": out.changed,
                "version": out.version,
                "endpoints": out.endpoints,
            }))
            .into_response()
        }
        Err(e) => {
            s.store_errors.fetch_add(1, Relaxed);
            tracing::error!("store error for {service}: {e:#}");
            err(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("store error: {e:#}"),
            )
        }
    }
}

fn internal(e: anyhow::Error) -> Response {
    err(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}"))
}

async fn load_model(st: &AppState, service: &str) -> Result<Arc<ApiModel>, Response> {
    if !valid_service(service) {
        return Err(err(StatusCode::BAD_REQUEST, "invalid service name"));
    }
    st.store
        .model(service)
        .await
        .map_err(internal)?
        .ok_or_else(|| err(StatusCode::NOT_FOUND, format!("no service {service:?}")))
}

/// Runs CPU-heavy work (exports of big models) off the async threads.
async fn cpu<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, Response> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| err(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

async fn list_services(State(st): State<Shared>) -> Response {
    match st.store.services().await {
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
        Err(e) => internal(e),
    }
}

fn typed(ct: &'static str, body: String) -> Response {
    ([(header::CONTENT_TYPE, ct)], body).into_response()
}

async fn get_model(State(st): State<Shared>, Path(service): Path<String>) -> Response {
    match load_model(&st, &service).await {
        Ok(m) => match cpu(move || m.to_json()).await {
            Ok(s) => typed("application/json", s),
            Err(r) => r,
        },
        Err(r) => r,
    }
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
    let m = match load_model(&st, &service).await {
        Ok(m) => m,
        Err(r) => return r,
    };
    let rules = st.templates.clone();
    let out = cpu(move || {
        let opts = spec_options(&service, ev);
        let m = store::ruled(&m, &rules);
        if yaml {
            m.to_yaml(&opts)
        } else {
            m.to_openapi_json(&opts)
        }
    })
    .await;
    match out {
        Ok(s) => typed(
            if yaml {
                "application/yaml"
            } else {
                "application/json"
            },
            s,
        ),
        Err(r) => r,
    }
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
    if !valid_service(&service) {
        return err(StatusCode::BAD_REQUEST, "invalid service name");
    }
    let v = match st.store.versions(&service).await {
        Ok(v) => v,
        Err(e) => return internal(e),
    };
    if v.is_empty() {
        return err(StatusCode::NOT_FOUND, format!("no service {service:?}"));
    }
    Json(json!(v
        .iter()
        .map(|v| json!({"version": v.version, "created_unix_ms": v.created_unix_ms, "endpoints": v.endpoints}))
        .collect::<Vec<_>>()))
    .into_response()
}

async fn get_version(
    st: &AppState,
    service: &str,
    n: u64,
) -> Result<store::StoredVersion, Response> {
    if !valid_service(service) {
        return Err(err(StatusCode::BAD_REQUEST, "invalid service name"));
    }
    st.store
        .version(service, n)
        .await
        .map_err(internal)?
        .ok_or_else(|| {
            err(
                StatusCode::NOT_FOUND,
                format!("service {service:?} has no version {n}"),
            )
        })
}

async fn version(State(st): State<Shared>, Path((service, n)): Path<(String, u64)>) -> Response {
    get_version(&st, &service, n)
        .await
        .map(|v| Json(v.spec).into_response())
        .unwrap_or_else(|r| r)
}

async fn diff(
    State(st): State<Shared>,
    Path(service): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    async fn inner(
        st: &AppState,
        service: &str,
        q: &HashMap<String, String>,
    ) -> Result<Response, Response> {
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
                .versions(service)
                .await
                .map_err(internal)?
                .last()
                .map(|v| v.version)
                .ok_or_else(|| err(StatusCode::NOT_FOUND, "no versions"))?,
        };
        let a = get_version(st, service, from).await?;
        let b = get_version(st, service, to).await?;
        let text = q.get("format").map(String::as_str) == Some("text");
        cpu(move || {
            let d = apitap_model::diff(&a.spec, &b.spec);
            if text {
                typed("text/plain; charset=utf-8", d.to_text())
            } else {
                let mut v = d.to_json();
                v["from"] = json!(from);
                v["to"] = json!(to);
                Json(v).into_response()
            }
        })
        .await
    }
    inner(&st, &service, &q).await.unwrap_or_else(|r| r)
}

/// The collector's metrics as typed families.
pub async fn metrics_exposition(st: &AppState) -> Exposition {
    let (services, store_bytes) = st.store.gauges().await;
    let s = &st.stats;
    let g = |v: &AtomicU64| v.load(Relaxed);
    let mut pushes = Family::counter("apitap_collector_pushes", "Model pushes by result.");
    for (res, v) in [
        ("accepted", &s.accepted),
        ("unauthorized", &s.rejected_auth),
        ("bad_request", &s.rejected_bad_request),
        ("too_large", &s.rejected_too_large),
        ("invalid", &s.rejected_invalid),
        ("unsupported_media_type", &s.rejected_media_type),
        ("store_error", &s.store_errors),
    ] {
        pushes.number(&[("result", res)], g(v));
    }
    Exposition {
        families: vec![
            pushes,
            Family::counter(
                "apitap_collector_pushes_changed",
                "Accepted pushes that changed a merged model.",
            )
            .with(g(&s.changed)),
            Family::counter(
                "apitap_collector_spec_versions",
                "Spec versions recorded by this process.",
            )
            .with(st.store.versions_recorded()),
            Family::counter(
                "apitap_collector_received_bytes",
                "Push body bytes received.",
            )
            .with(g(&s.bytes_received)),
            Family::gauge("apitap_collector_services", "Services known.").with(services),
            Family::gauge("apitap_collector_store_bytes", "Size of the store file.")
                .with(store_bytes),
            Family::counter(
                "apitap_collector_reads_unauthorized",
                "Reads refused for a missing or wrong token.",
            )
            .with(g(&s.reads_unauthorized)),
        ],
    }
}

/// Renders the collector's metrics in `format`.
pub async fn render_metrics(st: &AppState, format: Format) -> String {
    metrics_exposition(st).await.render(format)
}

async fn metrics(State(st): State<Shared>, headers: HeaderMap) -> Response {
    if !authorized(&st, &headers, Scope::Metrics) {
        st.stats.reads_unauthorized.fetch_add(1, Relaxed);
        return unauthorized();
    }
    let format = Format::from_accept(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()));
    let text = render_metrics(&st, format).await;
    typed(format.content_type(), text)
}

async fn index(State(st): State<Shared>) -> Response {
    match web::page(&st.store, &st.templates).await {
        Ok(s) => typed("text/html; charset=utf-8", s),
        Err(e) => internal(e),
    }
}

async fn readyz(State(st): State<Shared>) -> Response {
    match st.store.check().await {
        Ok(()) => "ok\n".into_response(),
        Err(e) => err(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("store not ready: {e:#}"),
        ),
    }
}

/// The collector's router.
pub fn router(state: Shared) -> Router {
    let reads = Router::new()
        .route("/", get(index))
        .route("/v1/services", get(list_services))
        .route("/v1/services/{service}/model", get(get_model))
        .route("/v1/services/{service}/openapi.json", get(openapi_json))
        .route("/v1/services/{service}/openapi.yaml", get(openapi_yaml))
        .route("/v1/services/{service}/versions", get(list_versions))
        .route("/v1/services/{service}/versions/{n}", get(version))
        .route("/v1/services/{service}/diff", get(diff))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            read_auth,
        ));
    Router::new()
        .merge(reads)
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/v1/services/{service}/models", post(push))
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
pub fn run(args: CollectorConfig) -> Result<()> {
    if args.tokens.is_empty() && args.push_tokens.is_empty() && args.read_tokens.is_empty() {
        tracing::warn!("no token given: pushes and reads are accepted without authentication");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async move {
        let state = Arc::new(AppState::new(&args).await?);
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let addr = listener.local_addr()?;
        eprintln!("apitap collector: listening on http://{addr}");
        let backend = if args.store.is_some() {
            "postgres"
        } else {
            "redb"
        };
        tracing::info!(%addr, backend, "collector started");
        axum::serve(listener, router(state))
            .with_graceful_shutdown(shutdown_signal())
            .await
            .context("server error")
    })
}
