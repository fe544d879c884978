//! Conformance with Zeek and Suricata on the shared capture corpus (`../shared/corpus`).
//!
//! For every Zeek case, the multiset of (method, host, uri, status_code, request_body_len,
//! response_body_len) rows – only the columns that baseline really has – must equal what
//! `apitap exchanges` prints. For every Suricata case, every `http` filter of its
//! `test.yaml` must hold (events built from apitap's JSON lines the way Suricata's eve.json
//! names them). Cases listed in `conformance/deviations.tsv` (at most 3, each with a reason)
//! are reported but not failed; a listed case that now agrees fails, to keep the table true.
//!
//! The test runs the real binary on the real captures; nothing here is produced by the code
//! under test.

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn corpus_dir() -> PathBuf {
    let candidates = [
        std::env::var("APITAP_CORPUS").map(PathBuf::from).ok(),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus")),
        Some(PathBuf::from("/work/shared/corpus")),
    ];
    for c in candidates.into_iter().flatten() {
        if c.join("INDEX.tsv").exists() {
            return c;
        }
    }
    panic!("capture corpus not found: set APITAP_CORPUS or put shared/ beside the repository");
}

/// Runs `apitap exchanges` and parses its JSON lines.
fn exchanges(capture: &Path) -> Result<Vec<Value>, String> {
    let out = Command::new(env!("CARGO_BIN_EXE_apitap"))
        .arg("exchanges")
        .arg(capture)
        .args(["--format", "jsonl"])
        .env("RUST_LOG", "warn")
        .output()
        .map_err(|e| format!("cannot run apitap: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "apitap exited {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let text = String::from_utf8(out.stdout).map_err(|e| format!("output not UTF-8: {e}"))?;
    text.lines()
        .map(|l| serde_json::from_str(l).map_err(|e| format!("bad JSON line {l:?}: {e}")))
        .collect()
}

fn header<'a>(headers: &'a Value, name: &str) -> Option<&'a str> {
    headers.as_array()?.iter().find_map(|h| {
        let n = h.get(0)?.as_str()?;
        if n.eq_ignore_ascii_case(name) {
            h.get(1)?.as_str()
        } else {
            None
        }
    })
}

fn dash(s: Option<&str>) -> String {
    match s {
        Some(s) if !s.is_empty() => s.to_string(),
        _ => "-".to_string(),
    }
}

/// An apitap exchange as a Zeek http.log row.
fn zeek_row(ex: &Value) -> BTreeMap<&'static str, String> {
    let has_request = !ex["method"].is_null();
    let has_response = !ex["response_headers"]
        .as_array()
        .is_none_or(|a| a.is_empty())
        || !ex["status"].is_null()
        || ex.get("status_text").is_some_and(|s| !s.is_null())
        || ex["flags"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f == "unpaired_response"))
        || ex["response_body_len"].as_u64().unwrap_or(0) > 0;
    let status = match ex["status"].as_u64() {
        Some(s) => s.to_string(),
        // Zeek logs 0 for a reply without a status line (HTTP/0.9).
        None if has_response => "0".to_string(),
        None => "-".to_string(),
    };
    let mut row = BTreeMap::new();
    row.insert("method", dash(ex["method"].as_str()));
    row.insert(
        "host",
        if has_request {
            dash(header(&ex["request_headers"], "host"))
        } else {
            "-".into()
        },
    );
    row.insert("uri", dash(ex["uri"].as_str()));
    row.insert("status_code", status);
    row.insert("request_body_len", ex["request_body_len"].to_string());
    row.insert("response_body_len", ex["response_body_len"].to_string());
    row
}

type Row = Vec<String>;

fn read_expected_tsv(path: &Path) -> (Vec<String>, Vec<Row>) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut lines = text.lines();
    let first = lines.next().unwrap_or("");
    let has: Vec<String> = first
        .split("columns the baseline has:")
        .nth(1)
        .unwrap_or("")
        .trim()
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    let header: Vec<&str> = lines.next().unwrap_or("").split('\t').collect();
    let idx: Vec<usize> = has
        .iter()
        .filter_map(|c| header.iter().position(|h| h == c))
        .collect();
    let rows = lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            idx.iter()
                .map(|&i| f.get(i).copied().unwrap_or("-").to_string())
                .collect()
        })
        .collect();
    (has, rows)
}

fn multiset(rows: &[Row]) -> BTreeMap<Row, usize> {
    let mut m = BTreeMap::new();
    for r in rows {
        *m.entry(r.clone()).or_insert(0) += 1;
    }
    m
}

fn diff_multisets(expected: &[Row], actual: &[Row]) -> Option<String> {
    let (e, a) = (multiset(expected), multiset(actual));
    if e == a {
        return None;
    }
    let mut msg = String::new();
    for (row, n) in &e {
        let m = a.get(row).copied().unwrap_or(0);
        if m < *n {
            msg += &format!("    missing x{}: {}\n", n - m, row.join(" | "));
        }
    }
    for (row, n) in &a {
        let m = e.get(row).copied().unwrap_or(0);
        if m < *n {
            msg += &format!("    extra   x{}: {}\n", n - m, row.join(" | "));
        }
    }
    Some(msg)
}

struct Case {
    source: String,
    dir: String,
    captures: Vec<String>,
}

fn cases(corpus: &Path) -> Vec<Case> {
    let index = std::fs::read_to_string(corpus.join("INDEX.tsv")).expect("INDEX.tsv");
    index
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Some(Case {
                source: f.first()?.to_string(),
                dir: f.get(1)?.to_string(),
                captures: f.get(2)?.split(',').map(str::to_string).collect(),
            })
        })
        .collect()
}

fn check_zeek(corpus: &Path, case: &Case) -> Result<String, String> {
    let dir = corpus.join(&case.dir);
    // One capture per case, except the lower-case-version case whose expected.tsv is the
    // non-standard-port trace's baseline.
    let capture = case
        .captures
        .iter()
        .find(|c| c.contains("nonstandard"))
        .or_else(|| case.captures.first())
        .ok_or("no capture")?;
    let ex = exchanges(&dir.join(capture))?;
    let tsv = dir.join("expected.tsv");
    if !tsv.exists() {
        // The 1000-request case: its baseline counts http.log lines.
        let out = std::fs::read_to_string(dir.join("expected/out")).map_err(|e| e.to_string())?;
        let want: usize = out
            .lines()
            .skip_while(|l| !l.contains("total http.log lines"))
            .nth(1)
            .and_then(|l| l.trim().parse().ok())
            .ok_or("cannot read expected/out")?;
        return if ex.len() == want {
            Ok(format!("{want} exchanges"))
        } else {
            Err(format!("expected {want} exchanges, got {}", ex.len()))
        };
    }
    let (cols, expected) = read_expected_tsv(&tsv);
    let actual: Vec<Row> = ex
        .iter()
        .map(|e| {
            let r = zeek_row(e);
            cols.iter()
                .map(|c| r.get(c.as_str()).cloned().unwrap_or_else(|| "-".into()))
                .collect()
        })
        .collect();
    match diff_multisets(&expected, &actual) {
        None => Ok(format!("{} rows", expected.len())),
        Some(d) => Err(format!("columns {}\n{d}", cols.join(","))),
    }
}

fn host_without_port(h: &str) -> String {
    let h = h.trim();
    let host = if h.starts_with('[') {
        h.find(']').map_or(h, |i| &h[..=i])
    } else {
        h.split(':').next().unwrap_or(h)
    };
    host.to_ascii_lowercase()
}

/// An apitap exchange as a Suricata eve.json http event (the fields the corpus checks).
fn eve_event(ex: &Value, tx_id: u64) -> Value {
    let (src_ip, src_port) = split_addr(ex["client"].as_str().unwrap_or(""));
    let (dest_ip, dest_port) = split_addr(ex["server"].as_str().unwrap_or(""));
    let hdrs = |v: &Value| -> Value {
        Value::Array(
            v.as_array()
                .map(|a| {
                    a.iter()
                        .map(|h| json!({"name": h[0], "value": h[1]}))
                        .collect()
                })
                .unwrap_or_default(),
        )
    };
    let mut http = json!({
        "url": ex["uri"],
        "http_method": ex["method"],
        "protocol": ex["version"],
        "length": ex["response_body_len"],
        "request_headers": hdrs(&ex["request_headers"]),
        "response_headers": hdrs(&ex["response_headers"]),
    });
    let obj = http.as_object_mut().expect("object");
    if let Some(h) = header(&ex["request_headers"], "host") {
        obj.insert("hostname".into(), json!(host_without_port(h)));
    }
    if let Some(s) = ex["status"].as_u64() {
        obj.insert("status".into(), json!(s));
    } else if let Some(s) = ex.get("status_text").and_then(Value::as_str) {
        obj.insert("status_string".into(), json!(s));
    }
    if let Some(ua) = header(&ex["request_headers"], "user-agent") {
        obj.insert("http_user_agent".into(), json!(ua));
    }
    if let Some(ct) = header(&ex["response_headers"], "content-type") {
        let ct = ct.split(';').next().unwrap_or(ct).trim();
        obj.insert("http_content_type".into(), json!(ct));
    }
    if let Some(loc) = header(&ex["response_headers"], "location") {
        obj.insert("redirect".into(), json!(loc));
    }
    json!({
        "event_type": "http",
        "src_ip": src_ip, "src_port": src_port,
        "dest_ip": dest_ip, "dest_port": dest_port,
        "tx_id": tx_id,
        "http": http,
    })
}

fn split_addr(a: &str) -> (String, u64) {
    match a.rsplit_once(':') {
        Some((ip, port)) => (
            ip.trim_start_matches('[').trim_end_matches(']').to_string(),
            port.parse().unwrap_or(0),
        ),
        None => (a.to_string(), 0),
    }
}

/// Looks up `http.request_headers[0].name` / `http.response_headers.__len` style keys.
fn lookup(ev: &Value, key: &str) -> Option<Value> {
    let mut cur = ev.clone();
    for part in key.split('.') {
        if part == "__len" {
            return Some(json!(cur.as_array()?.len()));
        }
        let (name, index) = match part.split_once('[') {
            Some((n, rest)) => (n, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        cur = cur.get(name)?.clone();
        if let Some(i) = index {
            cur = cur.get(i)?.clone();
        }
    }
    Some(cur)
}

fn yaml_matches(actual: &Value, want: &serde_norway::Value) -> bool {
    match want {
        serde_norway::Value::String(s) => match actual {
            Value::String(a) => a == s,
            Value::Number(n) => n.to_string() == *s,
            _ => false,
        },
        serde_norway::Value::Number(n) => match actual {
            Value::Number(a) => a.as_f64() == n.as_f64(),
            Value::String(a) => a == &n.to_string(),
            _ => false,
        },
        serde_norway::Value::Bool(b) => actual.as_bool() == Some(*b),
        _ => false,
    }
}

fn check_suricata(corpus: &Path, case: &Case) -> Result<String, String> {
    let dir = corpus.join(&case.dir);
    let capture = case.captures.first().ok_or("no capture")?;
    let ex = exchanges(&dir.join(capture))?;
    // tx_id: position within the connection; after a CONNECT tunnel opens, Suricata parses
    // the tunnelled HTTP as a new session whose transactions count from 0 again.
    let mut events = vec![];
    let mut per_conn: BTreeMap<(String, String), (u64, bool)> = BTreeMap::new();
    for e in &ex {
        let key = (
            e["client"].as_str().unwrap_or("").to_string(),
            e["server"].as_str().unwrap_or("").to_string(),
        );
        let slot = per_conn.entry(key).or_insert((0, false));
        let tx = slot.0;
        slot.0 += 1;
        let upgraded = e["flags"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f == "upgraded"));
        if upgraded {
            slot.0 = 0;
        }
        events.push(eve_event(e, tx));
    }
    let yaml: serde_norway::Value = serde_norway::from_str(
        &std::fs::read_to_string(dir.join("test.yaml")).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    let checks = yaml
        .get("checks")
        .and_then(|c| c.as_sequence())
        .ok_or("no checks")?;
    let mut failures = vec![];
    let mut checked = 0;
    for check in checks {
        let Some(filter) = check.get("filter") else {
            continue;
        };
        let Some(m) = filter.get("match").and_then(|m| m.as_mapping()) else {
            continue;
        };
        let is_http = m
            .get("event_type")
            .and_then(|v| v.as_str())
            .is_some_and(|t| t == "http");
        if !is_http {
            continue;
        }
        let want = filter.get("count").and_then(|c| c.as_u64()).unwrap_or(1);
        let got = events
            .iter()
            .filter(|ev| {
                m.iter().all(|(k, v)| {
                    let Some(k) = k.as_str() else { return false };
                    if k == "event_type" {
                        return true;
                    }
                    lookup(ev, k).is_some_and(|a| yaml_matches(&a, v))
                })
            })
            .count() as u64;
        checked += 1;
        if got != want {
            failures.push(format!(
                "    count {got}, want {want} for {}",
                serde_json::to_string(&m).unwrap_or_default()
            ));
        }
    }
    if failures.is_empty() {
        Ok(format!("{checked} http checks"))
    } else {
        let evs: Vec<String> = events.iter().map(|e| e["http"].to_string()).collect();
        Err(format!(
            "{}\n    events:\n      {}",
            failures.join("\n"),
            evs.join("\n      ")
        ))
    }
}

fn deviations() -> BTreeMap<String, String> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/deviations.tsv");
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (c, r) = l.split_once('\t')?;
            Some((c.trim().to_string(), r.trim().to_string()))
        })
        .collect()
}

#[test]
fn corpus_conformance() {
    let corpus = corpus_dir();
    let allowed = deviations();
    assert!(allowed.len() <= 3, "at most 3 deliberate deviations");
    let all = cases(&corpus);
    assert!(all.len() >= 50, "corpus has {} cases", all.len());
    let (mut passed, mut failed, mut deviating) = (0, vec![], 0);
    for case in &all {
        let result = match case.source.as_str() {
            "zeek" => check_zeek(&corpus, case),
            _ => check_suricata(&corpus, case),
        };
        match (result, allowed.get(&case.dir)) {
            (Ok(what), None) => {
                passed += 1;
                println!("ok      {} ({what})", case.dir);
            }
            (Ok(_), Some(_)) => failed.push(format!(
                "{}: listed in deviations.tsv but now agrees; remove it",
                case.dir
            )),
            (Err(e), Some(reason)) => {
                deviating += 1;
                println!("DEVIATE {} ({reason})\n{e}", case.dir);
            }
            (Err(e), None) => {
                println!("FAIL    {}\n{e}", case.dir);
                failed.push(case.dir.clone());
            }
        }
    }
    println!(
        "conformance: {passed} agree, {} disagree, {deviating} deliberate deviations, of {}",
        failed.len(),
        all.len()
    );
    assert!(failed.is_empty(), "cases failing: {failed:?}");
}
