//! The collector's web page: server-rendered HTML, no script. Every text from the store
//! (service names, templates, methods) goes through [`esc`]. Per service: the HTTP endpoints
//! (gRPC methods left out) and, when the model has any, a table of its gRPC methods (calls,
//! error rate by `grpc-status`, the status codes by name, streaming kind, latency); never
//! `grpc-message` or any other captured value.
//!
//! Per service it also shows the sensitive-data inventory ([`pii_section`]): every parameter,
//! header and body field whose values showed a PII class, with the count per class, read from
//! the `x-apitap-pii` annotations of the service's OpenAPI export (so the page and the spec
//! never disagree). Only class names and counts are shown: the model holds no value to show.
//! At most [`PII_ROWS`] rows per service, the rest counted.

use super::store::{Backend, Store};
use anyhow::Result;
use std::fmt::Write;

/// HTML-escapes text for element content and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

fn ms(v: Option<f64>) -> String {
    match v {
        Some(x) if x >= 100.0 => format!("{x:.0} ms"),
        Some(x) => format!("{x:.1} ms"),
        None => "–".into(),
    }
}

fn ago(unix_ms: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let s = (now - unix_ms).max(0) / 1000;
    match s {
        0..=59 => format!("{s} s ago"),
        60..=3599 => format!("{} min ago", s / 60),
        3600..=86399 => format!("{} h ago", s / 3600),
        _ => format!("{} d ago", s / 86400),
    }
}

/// Services whose endpoint tables the page shows (the most recently pushed first); the
/// others are listed in the summary table only, so the page never loads every model.
pub const PAGE_SERVICES: usize = 20;

/// Renders `/`.
pub async fn page(store: &Backend, rules: &apitap_model::paths::TemplateRules) -> Result<String> {
    let mut services = store.services().await?;
    // The services whose endpoints are shown are settled first: their version and endpoint
    // count are then current (the others' are as of their last settle).
    let mut recent: Vec<usize> = (0..services.len()).collect();
    recent.sort_by_key(|&i| std::cmp::Reverse(services[i].1.last_push_unix_ms));
    recent.truncate(PAGE_SERVICES);
    for i in recent {
        if let Some(row) = store.settle(&services[i].0).await? {
            services[i].1.latest_version = row.latest_version;
            services[i].1.endpoints = row.endpoints;
        }
    }
    let mut o = String::with_capacity(16 << 10);
    o.push_str(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>apitap collector</title><style>\
body{font-family:system-ui,sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse;margin:.5em 0 2em}\
th,td{border-bottom:1px solid #ddd;padding:.3em .8em;text-align:left}\
td.n{text-align:right;font-variant-numeric:tabular-nums}\
th{background:#f4f4f4}.err{color:#b00}code{font-size:.95em}\
</style></head><body>\n<h1>apitap collector</h1>\n",
    );
    if services.is_empty() {
        o.push_str("<p id=\"empty\">No service has pushed a model yet.</p>\n");
    }
    o.push_str("<table id=\"services\"><thead><tr><th>service</th><th>endpoints</th><th>exchanges</th><th>agents</th><th>version</th><th>last push</th><th>spec</th></tr></thead><tbody>\n");
    for (name, m) in &services {
        let n = esc(name);
        let _ = writeln!(
            o,
            "<tr class=\"service\"><td><a href=\"#svc-{n}\">{n}</a></td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\"><a href=\"/v1/services/{n}/versions\">{}</a></td><td>{}</td>\
<td><a href=\"/v1/services/{n}/openapi.json\">json</a> <a href=\"/v1/services/{n}/openapi.yaml\">yaml</a></td></tr>",
            m.endpoints,
            m.observed,
            m.sources,
            m.latest_version,
            ago(m.last_push_unix_ms)
        );
    }
    o.push_str("</tbody></table>\n");
    let mut recent: Vec<&(String, _)> = services.iter().collect();
    recent.sort_by_key(|(_, m)| std::cmp::Reverse(m.last_push_unix_ms));
    recent.truncate(PAGE_SERVICES);
    recent.sort_by(|a, b| a.0.cmp(&b.0));
    if services.len() > PAGE_SERVICES {
        let _ = writeln!(
            o,
            "<p id=\"more\">Endpoints of the {PAGE_SERVICES} most recently pushed services of {}; the others through their spec links.</p>",
            services.len()
        );
    }
    for (name, _) in recent {
        let Some(model) = store.model(name).await? else {
            continue;
        };
        let n = esc(name);
        let combined = model.combined();
        let is_grpc = |svc: &str, method: &str, template: &str| {
            method == "POST"
                && combined
                    .services
                    .get(svc)
                    .is_some_and(|s| s.grpc.contains_key(template))
        };
        let _ = writeln!(
            o,
            "<h2 id=\"svc-{n}\">{n}</h2>\n<table class=\"endpoints\" data-service=\"{n}\"><thead><tr><th>host</th><th>method</th><th>path</th><th>count</th><th>error rate</th><th>p50</th><th>p99</th></tr></thead><tbody>"
        );
        for e in crate::store::ruled(&model, rules).endpoints() {
            if is_grpc(&e.service, &e.method, &e.template) {
                continue;
            }
            let cls = if e.error_rate >= 0.05 {
                " class=\"n err\""
            } else {
                " class=\"n\""
            };
            let _ = writeln!(
                o,
                "<tr class=\"endpoint\"><td>{}</td><td>{}</td><td><code>{}</code></td><td class=\"n\">{}</td><td{cls}>{:.1}%</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                esc(&e.service),
                esc(&e.method),
                esc(&e.template),
                e.count,
                e.error_rate * 100.0,
                ms(e.p50_ms),
                ms(e.p99_ms)
            );
        }
        o.push_str("</tbody></table>\n");
        grpc_table(&mut o, &n, &combined);
        pii_section(&mut o, &n, &model);
    }
    o.push_str("</body></html>\n");
    Ok(o)
}

/// The gRPC methods of one service's model: calls, error rate (calls whose `grpc-status` is
/// not 0, of the calls with a status), the status codes by name, streaming kind and latency.
fn grpc_table(o: &mut String, service: &str, m: &apitap_model::model::SourceModel) {
    let rows: Vec<(&String, &String, &apitap_model::endpoint::Endpoint)> = m
        .services
        .iter()
        .flat_map(|(svc, s)| s.grpc.iter().map(move |(path, ep)| (svc, path, ep)))
        .collect();
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(
        o,
        "<table class=\"grpc\" data-service=\"{service}\"><thead><tr><th>host</th><th>gRPC method</th><th>kind</th><th>calls</th><th>error rate</th><th>grpc-status</th><th>p50</th><th>p99</th></tr></thead><tbody>"
    );
    for (svc, path, ep) in rows {
        let (kind, calls, errors, with_status, codes) = match &ep.grpc {
            Some(g) => {
                let with_status: u64 = g.status.values().sum();
                let errors: u64 = g
                    .status
                    .iter()
                    .filter(|(c, _)| **c != 0)
                    .map(|(_, n)| n)
                    .sum();
                let codes: Vec<String> = g
                    .status
                    .iter()
                    .map(|(c, n)| {
                        let name = apitap_model::grpc::status_name(*c)
                            .map_or_else(|| c.to_string(), str::to_string);
                        format!("{name}&nbsp;{n}")
                    })
                    .collect();
                (
                    g.streaming().name(),
                    g.calls,
                    errors,
                    with_status,
                    codes.join(", "),
                )
            }
            None => ("unary", ep.n, 0, 0, String::new()),
        };
        let rate = if with_status == 0 {
            0.0
        } else {
            errors as f64 / with_status as f64
        };
        let cls = if rate >= 0.05 {
            " class=\"n err\""
        } else {
            " class=\"n\""
        };
        let _ = writeln!(
            o,
            "<tr class=\"rpc\"><td>{}</td><td><code>{}</code></td><td>{kind}</td><td class=\"n\">{calls}</td><td{cls}>{:.1}%</td><td>{codes}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(svc),
            esc(path),
            rate * 100.0,
            ms(ep.latency.quantile(0.5)),
            ms(ep.latency.quantile(0.99))
        );
    }
    o.push_str("</tbody></table>\n");
}

/// Rows of the sensitive-data inventory shown per service.
pub const PII_ROWS: usize = 200;

/// One inventory row: method, path, where (`query limit`, `request body: user.email`,
/// `response 200: items[].phone`), classes with counts.
type PiiRow = (String, String, String, String);

fn pii_classes(v: &serde_json::Value) -> Option<String> {
    let m = v.get("x-apitap-pii")?.as_object()?;
    let parts: Vec<String> = m
        .iter()
        .map(|(c, n)| format!("{c} {}", n.as_u64().unwrap_or(0)))
        .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// Walks one schema: `at` is where it is (`request body`), `field` the dotted field path.
fn pii_schema(
    s: &serde_json::Value,
    op: (&str, &str),
    at: &str,
    field: &str,
    depth: usize,
    rows: &mut Vec<PiiRow>,
    more: &mut usize,
) {
    if depth > 64 {
        return;
    }
    if let Some(c) = pii_classes(s) {
        if rows.len() < PII_ROWS {
            let w = if field.is_empty() {
                at.to_string()
            } else {
                format!("{at}: {field}")
            };
            rows.push((op.0.to_string(), op.1.to_string(), w, c));
        } else {
            *more += 1;
        }
    }
    let join = |k: &str| {
        if field.is_empty() {
            k.to_string()
        } else {
            format!("{field}.{k}")
        }
    };
    if let Some(props) = s.get("properties").and_then(|p| p.as_object()) {
        for (k, v) in props {
            pii_schema(v, op, at, &join(k), depth + 1, rows, more);
        }
    }
    if let Some(v) = s.get("items") {
        pii_schema(v, op, at, &format!("{field}[]"), depth + 1, rows, more);
    }
    if let Some(v) = s.get("additionalProperties").filter(|v| v.is_object()) {
        pii_schema(v, op, at, &join("*"), depth + 1, rows, more);
    }
    for k in ["oneOf", "anyOf", "allOf", "prefixItems"] {
        for v in s.get(k).and_then(|a| a.as_array()).into_iter().flatten() {
            pii_schema(v, op, at, field, depth + 1, rows, more);
        }
    }
}

/// The schemas of a request body or response object, one per media type.
fn content_schemas(v: &serde_json::Value) -> impl Iterator<Item = &serde_json::Value> {
    v.get("content")
        .and_then(|c| c.as_object())
        .into_iter()
        .flat_map(|c| c.values().filter_map(|m| m.get("schema")))
}

/// The inventory rows of an OpenAPI document (see the module doc), and how many did not fit.
fn pii_rows(doc: &serde_json::Value) -> (Vec<PiiRow>, usize) {
    let (mut rows, mut more) = (Vec::new(), 0);
    let Some(paths) = doc.get("paths").and_then(|p| p.as_object()) else {
        return (rows, more);
    };
    for (path, item) in paths {
        let Some(item) = item.as_object() else {
            continue;
        };
        for (method, op) in item {
            if !op.is_object() || method == "parameters" {
                continue;
            }
            let m = method.to_ascii_uppercase();
            let key = (m.as_str(), path.as_str());
            for p in op
                .get("parameters")
                .and_then(|p| p.as_array())
                .into_iter()
                .flatten()
            {
                if let Some(c) = pii_classes(p) {
                    let at = format!(
                        "{} {}",
                        p.get("in").and_then(|v| v.as_str()).unwrap_or(""),
                        p.get("name").and_then(|v| v.as_str()).unwrap_or("")
                    );
                    if rows.len() < PII_ROWS {
                        rows.push((m.clone(), path.clone(), at, c));
                    } else {
                        more += 1;
                    }
                }
            }
            if let Some(rb) = op.get("requestBody") {
                for s in content_schemas(rb) {
                    pii_schema(s, key, "request body", "", 0, &mut rows, &mut more);
                }
            }
            for (code, r) in op
                .get("responses")
                .and_then(|r| r.as_object())
                .into_iter()
                .flatten()
            {
                for s in content_schemas(r) {
                    pii_schema(
                        s,
                        key,
                        &format!("response {code}"),
                        "",
                        0,
                        &mut rows,
                        &mut more,
                    );
                }
            }
        }
    }
    (rows, more)
}

/// Appends the sensitive-data inventory of one service (`n`: its escaped name), if any.
fn pii_section(o: &mut String, n: &str, model: &apitap_model::ApiModel) {
    let doc = model.to_openapi(&apitap_model::ExportOptions::default());
    let (rows, more) = pii_rows(&doc);
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(
        o,
        "<h3 id=\"pii-{n}\">{n}: sensitive data</h3>\n<table class=\"pii\" data-service=\"{n}\"><thead><tr><th>method</th><th>path</th><th>where</th><th>PII classes (values)</th></tr></thead><tbody>"
    );
    for (m, p, w, c) in &rows {
        let _ = writeln!(
            o,
            "<tr class=\"pii-row\"><td>{}</td><td><code>{}</code></td><td><code>{}</code></td><td>{}</td></tr>",
            esc(m),
            esc(p),
            esc(w),
            esc(c)
        );
    }
    o.push_str("</tbody></table>\n");
    if more > 0 {
        let _ = writeln!(o, "<p class=\"pii-more\">{more} more positions with sensitive data: see the spec's <code>x-apitap-pii</code>.</p>");
    }
}

#[cfg(test)]
mod tests {
    use super::esc;

    #[test]
    fn pii_inventory_rows() {
        let doc = serde_json::json!({"paths": {"/users/{userId}": {
            "parameters": [],
            "get": {
                "parameters": [
                    {"name": "userId", "in": "path", "x-apitap-pii": {"phone": 3}},
                    {"name": "limit", "in": "query"}
                ],
                "responses": {"200": {"content": {"application/json": {"schema": {
                    "type": "object",
                    "properties": {
                        "contact": {"type": "object", "properties": {
                            "email": {"type": "string", "x-apitap-pii": {"email": 5}}}},
                        "cards": {"type": "array", "items": {"type": "string", "x-apitap-pii": {"card": 2, "secret": 1}}}
                    }}}}}}
            },
            "post": {"requestBody": {"content": {"application/x-www-form-urlencoded": {"schema": {
                "properties": {"<b>": {"x-apitap-pii": {"ssn": 1}}}}}}}}
        }}});
        let (rows, more) = super::pii_rows(&doc);
        let got: Vec<String> = rows
            .iter()
            .map(|r| format!("{} {} | {} | {}", r.0, r.1, r.2, r.3))
            .collect();
        assert_eq!(
            got,
            [
                "GET /users/{userId} | path userId | phone 3",
                "GET /users/{userId} | response 200: cards[] | card 2, secret 1",
                "GET /users/{userId} | response 200: contact.email | email 5",
                "POST /users/{userId} | request body: <b> | ssn 1",
            ]
        );
        assert_eq!(more, 0);
        let mut page = String::new();
        let mut m = apitap_model::ApiModel::new();
        let obs = apitap_model::Observation {
            method: "POST".into(),
            target: "/signup".into(),
            request_headers: vec![("Content-Type".into(), "application/json".into())].into(),
            request_body: Some(br#"{"email":"ann.lee@example.com"}"#.to_vec()),
            status: Some(201),
            ..Default::default()
        };
        m.observe(&obs, &apitap_model::LearnConfig::default());
        super::pii_section(&mut page, "svc", &m);
        assert!(
            page.contains("<td><code>request body: email</code></td><td>email 1</td>"),
            "{page}"
        );
        assert!(!page.contains("ann.lee"), "{page}");
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
