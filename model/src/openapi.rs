//! OpenAPI 3.1 export.
//!
//! One document per call: all services, or the one selected in [`ExportOptions::service`].
//! Paths come from the derived templates (see [`crate::paths`]); when two services share a
//! template their evidence is summed. Evidence is exported as `x-apitap-*` extensions:
//! `x-apitap-count`, `x-apitap-first-seen`/`-last-seen` (unix ms), `x-apitap-status-counts`,
//! `x-apitap-latency-ms` (`p50`, `p90`, `p99` from the log-bucket sketch), `x-apitap-error-rate`,
//! and `x-apitap-presence` (fraction of parent objects that carried a property). When
//! adaptive body sampling skipped bodies, `x-apitap-bodies-sampled` is the number of the
//! operation's exchanges (out of `x-apitap-count`) whose bodies were all decoded and
//! inferred; without it every body was.
//!
//! The sensitive-data inventory is exported as `x-apitap-pii` (`{"email": 12, "secret": 3}`,
//! counts of values per [`crate::pii::PiiClass`]) on schema properties and on parameters
//! (path, query, header; a cookie under a secret-like name counts as `secret`). Examples,
//! when learned, are synthesised (see [`crate::redact`]).
//!
//! A multi-segment path parameter (a value that contains `/`, see [`crate::multiseg`]) is
//! written as an ordinary `{name}` path parameter, since OpenAPI 3.1 has none, with
//! `x-apitap-multi-segment: true`, schema `{"type": "string"}` and a description saying so.
//!
//! gRPC methods are `POST /pkg.Service/Method` with `application/grpc` message schemas and
//! an `x-apitap-grpc` extension (see [`crate::grpc`]).

use crate::endpoint::{body_kind, BodyKind, Endpoint};
use crate::evidence::{Combine, Mode};
use crate::model::ApiModel;
use crate::paths::{template_string, Derived, TSeg};
use crate::schema::SchemaNode;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Export options.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportOptions {
    /// Only this service (host); `None` = all services.
    pub service: Option<String>,
    /// Add `x-apitap-*` evidence extensions.
    pub evidence: bool,
    /// `info.title`.
    pub title: String,
    /// Max operations exported: the most used are kept, the exchanges of the others are
    /// summed into `info.x-apitap-other`.
    pub max_operations: usize,
}

/// Default [`ExportOptions::max_operations`].
pub const DEFAULT_MAX_OPERATIONS: usize = 1000;

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions {
            service: None,
            evidence: true,
            title: "API learned by apitap".into(),
            max_operations: DEFAULT_MAX_OPERATIONS,
        }
    }
}

fn op_id(method: &str, segs: &[TSeg]) -> String {
    let mut s = method.to_ascii_lowercase();
    for seg in segs {
        match seg {
            TSeg::Lit(l) => s.push_str(&crate::classify::camel(l, true)),
            TSeg::Param { name, .. } => {
                s.push_str("By");
                s.push_str(&crate::classify::camel(name, true));
            }
        }
    }
    if segs.is_empty() {
        s.push_str("Root");
    }
    s
}

fn scalar_schema(n: &SchemaNode) -> Value {
    n.to_text_schema()
}

fn presence(n: u64, of: u64) -> f64 {
    if of == 0 {
        0.0
    } else {
        ((n as f64 / of as f64).min(1.0) * 1000.0).round() / 1000.0
    }
}

fn body_schema(media: &str, b: &crate::endpoint::Body, evidence: bool) -> Value {
    match body_kind(media) {
        BodyKind::Text => json!({"type": "string"}),
        BodyKind::Binary => json!({"type": "string", "format": "binary"}),
        _ if b.schema.n == 0 => json!({}),
        _ => b.schema.to_schema(evidence),
    }
}

fn media_evidence(mt: &mut Value, b: &crate::endpoint::Body) {
    mt["x-apitap-count"] = json!(b.n);
    if b.truncated > 0 {
        mt["x-apitap-truncated"] = json!(b.truncated);
    }
    if b.unparsed > 0 {
        mt["x-apitap-unparsed"] = json!(b.unparsed);
    }
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Observed response",
    }
}

fn operation(
    d: &Derived,
    op_id: String,
    opts: &ExportOptions,
    schemes: &mut BTreeSet<&'static str>,
) -> Value {
    let ep: &Endpoint = &d.ep;
    let ev = opts.evidence;
    let mut op = Map::new();
    op.insert("operationId".into(), json!(op_id));
    let mut params = Vec::new();
    for seg in &d.segs {
        if let TSeg::Param {
            name,
            values,
            multi,
            ..
        } = seg
        {
            let mut p = json!({"name": name, "in": "path", "required": true, "schema": scalar_schema(values)});
            if *multi {
                // OpenAPI 3.1 has no multi-segment parameter: stated as an extension
                p["schema"] = json!({"type": "string"});
                p["x-apitap-multi-segment"] = json!(true);
                p["description"] = json!(
                    "Multi-segment: the value may contain `/` and spans one or more path \
                     segments (e.g. an image name with a registry and namespace, a file path)."
                );
            }
            if let Some(pii) = values.pii_inventory("") {
                p["x-apitap-pii"] = pii;
            }
            params.push(p);
        }
    }
    let mut add = |loc: &str, name: &str, node: &SchemaNode| {
        let mut p = json!({"name": name, "in": loc, "required": node.n >= ep.n, "schema": scalar_schema(node)});
        if let Some(pii) = node.pii_inventory(name) {
            p["x-apitap-pii"] = pii;
        }
        if ev {
            p["x-apitap-presence"] = json!(presence(node.n, ep.n));
        }
        params.push(p);
    };
    for (k, n) in &ep.query {
        add("query", k, n);
    }
    for (k, n) in &ep.headers {
        add("header", k, n);
    }
    for (k, c) in &ep.cookies {
        let mut p = json!({"name": k, "in": "cookie", "required": *c >= ep.n, "schema": {"type": "string"}});
        if crate::redact::is_secret_key(k) {
            p["x-apitap-pii"] = json!({"secret": c});
        }
        if ev {
            p["x-apitap-presence"] = json!(presence(*c, ep.n));
        }
        params.push(p);
    }
    if !params.is_empty() {
        op.insert("parameters".into(), Value::Array(params));
    }
    if !ep.auth.is_empty() {
        let mut sec = Vec::new();
        for scheme in ep.auth.keys() {
            let name = match scheme.as_str() {
                "bearer" => "bearerAuth",
                "basic" => "basicAuth",
                "digest" => "digestAuth",
                _ => "authorizationHeader",
            };
            schemes.insert(name);
            sec.push(json!({ name: [] }));
        }
        let with_auth: u64 = ep.auth.values().sum();
        if with_auth < ep.n {
            sec.push(json!({}));
        }
        op.insert("security".into(), Value::Array(sec));
    }
    let req = if ep.req.is_empty() {
        &ep.req_err
    } else {
        &ep.req
    };
    if !req.is_empty() {
        let mut content = Map::new();
        let mut total = 0;
        for (media, b) in req {
            total += b.n;
            let key = if media.is_empty() {
                "application/octet-stream"
            } else {
                media.as_str()
            };
            let mut mt = json!({"schema": body_schema(media, b, ev)});
            if ev {
                media_evidence(&mut mt, b);
            }
            content.insert(key.to_string(), mt);
        }
        let ok = ep.n.saturating_sub(
            ep.resp
                .iter()
                .filter(|(c, _)| **c >= 400)
                .map(|(_, r)| r.n)
                .sum::<u64>(),
        );
        // against the requests whose body was inspected (adaptive sampling skips some)
        let required = if std::ptr::eq(req, &ep.req) {
            total >= ok.saturating_sub(ep.req_skipped)
        } else {
            total >= ep.n.saturating_sub(ep.req_skipped + ep.req_err_skipped)
        };
        op.insert(
            "requestBody".into(),
            json!({"required": required, "content": content}),
        );
    }
    let mut responses = Map::new();
    for (code, r) in &ep.resp {
        let mut resp = Map::new();
        resp.insert("description".into(), json!(reason(*code)));
        if !r.content.is_empty() {
            let mut content = Map::new();
            for (media, b) in &r.content {
                let mut mt = json!({"schema": body_schema(media, b, ev)});
                if ev {
                    media_evidence(&mut mt, b);
                }
                content.insert(media.clone(), mt);
            }
            resp.insert("content".into(), Value::Object(content));
        }
        if !r.headers.is_empty() {
            let mut hs = Map::new();
            for (h, c) in &r.headers {
                hs.insert(
                    h.clone(),
                    json!({"schema": {"type": "string"}, "required": *c >= r.n}),
                );
            }
            resp.insert("headers".into(), Value::Object(hs));
        }
        if ev {
            resp.insert("x-apitap-count".into(), json!(r.n));
        }
        responses.insert(code.to_string(), Value::Object(resp));
    }
    if responses.is_empty() {
        responses.insert(
            "default".into(),
            json!({"description": "No response observed"}),
        );
    }
    op.insert("responses".into(), Value::Object(responses));
    if ev {
        op.insert("x-apitap-count".into(), json!(ep.n));
        op.insert("x-apitap-first-seen".into(), json!(ep.first));
        op.insert("x-apitap-last-seen".into(), json!(ep.last));
        let sc: Map<String, Value> = ep
            .resp
            .iter()
            .map(|(c, r)| (c.to_string(), json!(r.n)))
            .collect();
        op.insert("x-apitap-status-counts".into(), Value::Object(sc));
        if ep.no_response > 0 {
            op.insert("x-apitap-no-response".into(), json!(ep.no_response));
        }
        if ep.bodies_skipped > 0 {
            op.insert(
                "x-apitap-bodies-sampled".into(),
                json!(ep.n.saturating_sub(ep.bodies_skipped)),
            );
        }
        op.insert(
            "x-apitap-error-rate".into(),
            json!((ep.error_rate() * 10000.0).round() / 10000.0),
        );
        if ep.latency.count() > 0 {
            op.insert(
                "x-apitap-latency-ms".into(),
                json!({
                    "count": ep.latency.count(),
                    "p50": ep.latency.quantile(0.5),
                    "p90": ep.latency.quantile(0.9),
                    "p99": ep.latency.quantile(0.99),
                }),
            );
        }
        if ep.overflow {
            op.insert("x-apitap-overflow".into(), json!(true));
        }
    }
    if let Some(g) = &ep.grpc {
        crate::grpc::openapi_extend(&mut op, &template_string(&d.segs), g, ev);
    }
    Value::Object(op)
}

impl ApiModel {
    /// Export an OpenAPI 3.1 document.
    pub fn to_openapi(&self, opts: &ExportOptions) -> Value {
        let combined = self.combined();
        let mut by_key: BTreeMap<(String, String), Derived> = BTreeMap::new();
        let mut servers = BTreeSet::new();
        let mut other = 0u64;
        for (name, svc) in &combined.services {
            // a service is selected by its key or by a Host seen for it
            if opts
                .service
                .as_ref()
                .is_some_and(|s| s != name && !svc.hosts.contains_key(s.as_str()))
            {
                continue;
            }
            other += svc.other;
            // the most used Host names (evidence) name the server; else the service key
            let mut hosts: Vec<(&String, &u64)> = svc.hosts.iter().collect();
            hosts.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            if hosts.is_empty() {
                servers.insert(format!("http://{name}"));
            }
            for (h, _) in hosts.into_iter().take(3) {
                servers.insert(format!("http://{h}"));
            }
            for d in svc.derive() {
                let key = (template_string(&d.segs), d.method.clone());
                match by_key.get_mut(&key) {
                    Some(prev) => prev.ep.combine(&d.ep, Mode::Sum),
                    None => {
                        by_key.insert(key, d);
                    }
                }
            }
        }
        if by_key.len() > opts.max_operations {
            // keep the most used operations (ties: template, method), sum the rest
            let mut order: Vec<(u64, (String, String))> =
                by_key.iter().map(|(k, d)| (d.ep.n, k.clone())).collect();
            order.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
            for (n, k) in order.into_iter().skip(opts.max_operations) {
                by_key.remove(&k);
                other += n;
            }
        }
        let mut paths: Map<String, Value> = Map::new();
        let mut used_ids = BTreeSet::new();
        let mut schemes = BTreeSet::new();
        for ((tpl, method), d) in &by_key {
            let mut id = op_id(method, &d.segs);
            if used_ids.contains(&id) {
                let base = id.clone();
                let mut i = 2;
                while used_ids.contains(&id) {
                    id = format!("{base}{i}");
                    i += 1;
                }
            }
            used_ids.insert(id.clone());
            let op = operation(d, id, opts, &mut schemes);
            let item = paths.entry(tpl.clone()).or_insert_with(|| json!({}));
            if let Some(o) = item.as_object_mut() {
                let m = method.to_ascii_lowercase();
                let standard = [
                    "get", "put", "post", "delete", "options", "head", "patch", "trace",
                ];
                if standard.contains(&m.as_str()) {
                    o.insert(m, op);
                } else {
                    // OpenAPI 3.1 has no slot for other methods: keep them as an extension.
                    o.insert(format!("x-apitap-method-{m}"), op);
                }
            }
        }
        let mut doc = json!({
            "openapi": "3.1.0",
            "info": {"title": opts.title, "version": "learned"},
            "paths": paths,
        });
        if !servers.is_empty() {
            doc["servers"] = Value::Array(servers.into_iter().map(|u| json!({"url": u})).collect());
        }
        if !schemes.is_empty() {
            let mut ss = Map::new();
            for s in schemes {
                let v = match s {
                    "bearerAuth" => json!({"type": "http", "scheme": "bearer"}),
                    "basicAuth" => json!({"type": "http", "scheme": "basic"}),
                    "digestAuth" => json!({"type": "http", "scheme": "digest"}),
                    _ => json!({"type": "apiKey", "in": "header", "name": "Authorization"}),
                };
                ss.insert(s.to_string(), v);
            }
            doc["components"] = json!({"securitySchemes": ss});
        }
        if other > 0 {
            // the `_other` bucket: exchanges beyond the node budget or the operation cap
            doc["info"]["x-apitap-other"] = json!(other);
        }
        if opts.evidence {
            let st = combined.stats;
            doc["info"]["x-apitap-stats"] = serde_json::to_value(st).unwrap_or(Value::Null);
            doc["info"]["x-apitap-sources"] = json!(self.sources.keys().collect::<Vec<_>>());
        }
        doc
    }

    /// OpenAPI 3.1 as pretty JSON.
    pub fn to_openapi_json(&self, opts: &ExportOptions) -> String {
        serde_json::to_string_pretty(&self.to_openapi(opts)).unwrap_or_default()
    }

    /// OpenAPI 3.1 as YAML.
    pub fn to_yaml(&self, opts: &ExportOptions) -> String {
        serde_norway::to_string(&self.to_openapi(opts)).unwrap_or_default()
    }
}
