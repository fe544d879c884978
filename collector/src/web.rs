//! The collector's web page: server-rendered HTML, no script. Every text from the store
//! (service names, templates, methods) goes through [`esc`]. Per service: the HTTP endpoints
//! (gRPC methods left out) and, when the model has any, a table of its gRPC methods (calls,
//! error rate by `grpc-status`, the status codes by name, streaming kind, latency); never
//! `grpc-message` or any other captured value.

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
pub async fn page(store: &Backend) -> Result<String> {
    let services = store.services().await?;
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
        for e in model.endpoints() {
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

#[cfg(test)]
mod tests {
    use super::esc;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
