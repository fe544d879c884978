//! The collector's web page: server-rendered HTML, no script. Every text from the store
//! (service names, templates, methods) goes through [`esc`].

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
        let _ = writeln!(
            o,
            "<h2 id=\"svc-{n}\">{n}</h2>\n<table class=\"endpoints\" data-service=\"{n}\"><thead><tr><th>host</th><th>method</th><th>path</th><th>count</th><th>error rate</th><th>p50</th><th>p99</th></tr></thead><tbody>"
        );
        for e in model.endpoints() {
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
    }
    o.push_str("</body></html>\n");
    Ok(o)
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
