//! Learn an OpenAPI document from a HAR 1.2 file.
//!
//!     cargo run --release -p apitap-model --example learn_har -- IN.har OUT.json [--yaml] [--model MODEL.json]

use apitap_model::{ApiModel, ExportOptions, LearnConfig, Observation};
use base64::Engine;
use serde_json::Value;

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

fn parse_ts(s: &str) -> i64 {
    let n = |a: usize, b: usize| s.get(a..b).and_then(|x| x.parse::<i64>().ok()).unwrap_or(0);
    let days = days_from_civil(n(0, 4), n(5, 7), n(8, 10));
    let ms = s
        .get(20..23)
        .and_then(|x| x.parse::<i64>().ok())
        .unwrap_or(0);
    ((days * 24 + n(11, 13)) * 60 + n(14, 16)) * 60_000 + n(17, 19) * 1000 + ms
}

fn headers(v: &Value) -> Vec<(String, String)> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|h| {
                    Some((
                        h.get("name")?.as_str()?.to_string(),
                        h.get("value")?.as_str()?.to_string(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn body(c: Option<&Value>) -> Option<Vec<u8>> {
    let c = c?;
    let text = c.get("text")?.as_str()?;
    if c.get("encoding").and_then(|e| e.as_str()) == Some("base64") {
        base64::engine::general_purpose::STANDARD.decode(text).ok()
    } else {
        Some(text.as_bytes().to_vec())
    }
}

/// Convert HAR entries into observations.
pub fn har_observations(har: &Value) -> Vec<Observation> {
    let mut out = Vec::new();
    let Some(entries) = har.pointer("/log/entries").and_then(|e| e.as_array()) else {
        return out;
    };
    for e in entries {
        let (Some(req), Some(resp)) = (e.get("request"), e.get("response")) else {
            continue;
        };
        let url = req.get("url").and_then(|u| u.as_str()).unwrap_or("/");
        let after = url.split_once("://").map(|x| x.1).unwrap_or(url);
        let (authority, target) = match after.find('/') {
            Some(i) => (&after[..i], after[i..].to_string()),
            None => (after, "/".to_string()),
        };
        let rh = headers(req.get("headers").unwrap_or(&Value::Null));
        let host = rh
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("host"))
            .map(|(_, v)| v.clone())
            .unwrap_or(authority.to_string());
        let status = resp
            .get("status")
            .and_then(|s| s.as_u64())
            .filter(|s| *s > 0)
            .map(|s| s as u16);
        out.push(Observation {
            service: host,
            server: e
                .get("serverIPAddress")
                .and_then(|s| s.as_str())
                .map(|ip| ip.to_string()),
            method: req
                .get("method")
                .and_then(|m| m.as_str())
                .unwrap_or("GET")
                .to_string(),
            target,
            request_headers: rh,
            request_body: body(req.get("postData")),
            request_body_truncated: false,
            status,
            response_headers: headers(resp.get("headers").unwrap_or(&Value::Null)),
            response_body: body(resp.get("content")),
            response_body_truncated: false,
            latency_ms: e.get("time").and_then(|t| t.as_f64()),
            ts_unix_ms: e
                .get("startedDateTime")
                .and_then(|s| s.as_str())
                .map(parse_ts)
                .unwrap_or(1),
        });
    }
    out
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: learn_har IN.har OUT.json [--yaml] [--model MODEL.json]");
        std::process::exit(2);
    }
    let har: Value = serde_json::from_slice(&std::fs::read(&args[1])?)?;
    let obs = har_observations(&har);
    let mut model = ApiModel::new();
    let t = std::time::Instant::now();
    model.observe_all(&obs, &LearnConfig::default());
    let dt = t.elapsed();
    eprintln!(
        "learned {} exchanges in {:?} ({:.0}/s)",
        obs.len(),
        dt,
        obs.len() as f64 / dt.as_secs_f64()
    );
    let opts = ExportOptions::default();
    let out = if args.iter().any(|a| a == "--yaml") {
        model.to_yaml(&opts)
    } else {
        model.to_openapi_json(&opts)
    };
    std::fs::write(&args[2], out)?;
    if let Some(i) = args.iter().position(|a| a == "--model") {
        if let Some(p) = args.get(i + 1) {
            std::fs::write(p, model.to_json())?;
        }
    }
    for row in model.endpoints() {
        eprintln!(
            "{:7} {:50} n={:5} err={:.2} p50={:?}",
            row.method, row.template, row.count, row.error_rate, row.p50_ms
        );
    }
    Ok(())
}
