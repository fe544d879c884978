//! HAR 1.2 documents (from browsers, Postman, mitmproxy, or `apitap exchanges --format
//! har`) as observations, so a model can be learned from HAR as well as from captures.
//! Pure: the caller reads the bytes.

use crate::observation::{service_name, Headers};
use crate::Observation;
use base64::Engine as _;
use serde_json::Value;

/// Errors reading a HAR document.
#[derive(Debug)]
pub enum HarError {
    /// Not JSON.
    Json(serde_json::Error),
    /// JSON, but no `log.entries` array.
    NotHar,
}

impl std::fmt::Display for HarError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HarError::Json(e) => write!(f, "not valid JSON: {e}"),
            HarError::NotHar => f.write_str("not a HAR file: no log.entries array"),
        }
    }
}

impl std::error::Error for HarError {}

fn headers(v: Option<&Value>) -> Headers {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|h| Some((h.get("name")?.as_str()?, h.get("value")?.as_str()?)))
                .collect()
        })
        .unwrap_or_default()
}

fn body(c: Option<&Value>) -> Option<Vec<u8>> {
    let c = c?;
    let text = c.get("text")?.as_str()?;
    if c.get("encoding").and_then(Value::as_str) == Some("base64") {
        base64::engine::general_purpose::STANDARD.decode(text).ok()
    } else {
        Some(text.as_bytes().to_vec())
    }
}

/// `http://host:port/path?q` → (`host:port`, `/path?q`).
fn split_url(url: &str) -> (&str, String) {
    let after = url.split_once("://").map_or(url, |x| x.1);
    match after.find('/') {
        Some(i) => (
            after.get(..i).unwrap_or(""),
            after.get(i..).unwrap_or("/").to_string(),
        ),
        None => (after, "/".to_string()),
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// RFC 3339 (`2024-01-02T03:04:05.250Z`, or with a `+hh:mm` offset) → unix milliseconds;
/// 0 if unparsable.
fn unix_ms(s: &str) -> i64 {
    let num = |a: usize, b: usize| s.get(a..b).and_then(|x| x.parse::<i64>().ok());
    let (Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(sec)) = (
        num(0, 4),
        num(5, 7),
        num(8, 10),
        num(11, 13),
        num(14, 16),
        num(17, 19),
    ) else {
        return 0;
    };
    let rest = s.get(19..).unwrap_or("");
    let (frac, tz) = match rest.strip_prefix('.') {
        Some(r) => {
            let n = r.bytes().take_while(u8::is_ascii_digit).count();
            (r.get(..n).unwrap_or(""), r.get(n..).unwrap_or(""))
        }
        None => ("", rest),
    };
    let ms: i64 = format!("{frac:0<3}")
        .get(..3)
        .and_then(|x| x.parse().ok())
        .unwrap_or(0);
    let offset_min = match tz.as_bytes().first() {
        Some(sign @ (b'+' | b'-')) => {
            let h: i64 = tz.get(1..3).and_then(|x| x.parse().ok()).unwrap_or(0);
            let m: i64 = tz.get(4..6).and_then(|x| x.parse().ok()).unwrap_or(0);
            if *sign == b'+' {
                h * 60 + m
            } else {
                -(h * 60 + m)
            }
        }
        _ => 0,
    };
    let days = days_from_civil(y, mo, d);
    ((days * 24 + h) * 60 + mi - offset_min) * 60_000 + sec * 1000 + ms
}

/// The observations of a HAR document; entries without a method or URL are skipped.
pub fn observations(bytes: &[u8]) -> Result<Vec<Observation>, HarError> {
    let har: Value = serde_json::from_slice(bytes).map_err(HarError::Json)?;
    let entries = har
        .pointer("/log/entries")
        .and_then(Value::as_array)
        .ok_or(HarError::NotHar)?;
    let mut out = Vec::with_capacity(entries.len());
    for e in entries {
        let Some(req) = e.get("request") else {
            continue;
        };
        let (Some(method), Some(url)) = (
            req.get("method").and_then(Value::as_str),
            req.get("url").and_then(Value::as_str),
        ) else {
            continue;
        };
        let (authority, target) = split_url(url);
        let request_headers = headers(req.get("headers"));
        let host = request_headers.get("host").unwrap_or(authority);
        let server_ip = e.get("serverIPAddress").and_then(Value::as_str);
        let resp = e.get("response");
        let status = resp
            .and_then(|r| r.get("status"))
            .and_then(Value::as_u64)
            .filter(|s| (100..1000).contains(s))
            .and_then(|s| u16::try_from(s).ok());
        out.push(Observation {
            service: service_name(Some(host), server_ip.unwrap_or("")),
            server: server_ip.map(str::to_string),
            method: method.to_string(),
            target,
            request_headers,
            request_body: body(req.get("postData")),
            request_body_truncated: false,
            status,
            response_headers: headers(resp.and_then(|r| r.get("headers"))),
            response_body: body(resp.and_then(|r| r.get("content"))),
            response_body_truncated: false,
            latency_ms: e.get("time").and_then(Value::as_f64),
            ts_unix_ms: e
                .get("startedDateTime")
                .and_then(Value::as_str)
                .map_or(0, unix_ms),
            grpc: None,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_entries() {
        let har = br#"{"log":{"version":"1.2","entries":[
          {"startedDateTime":"2024-01-02T03:04:05.250Z","time":12.5,
           "request":{"method":"POST","url":"http://api.test/users?x=1",
             "headers":[{"name":"Content-Type","value":"application/json"}],
             "postData":{"mimeType":"application/json","text":"{\"a\":1}"}},
           "response":{"status":201,"headers":[],"content":{"size":3,"text":"AAEC","encoding":"base64"}}},
          {"request":{"url":"http://x/"}},
          {"request":{"method":"GET","url":"http://api.test:80"},"response":{"status":0}}
        ]}}"#;
        let obs = observations(har).unwrap();
        assert_eq!(obs.len(), 2);
        assert_eq!(obs[0].service, "api.test");
        assert_eq!(obs[0].target, "/users?x=1");
        assert_eq!(obs[0].status, Some(201));
        assert_eq!(obs[0].request_body.as_deref(), Some(&b"{\"a\":1}"[..]));
        assert_eq!(obs[0].response_body.as_deref(), Some(&[0u8, 1, 2][..]));
        assert_eq!(obs[0].ts_unix_ms, 1_704_164_645_250);
        assert_eq!(obs[0].latency_ms, Some(12.5));
        assert_eq!(obs[1].target, "/");
        assert_eq!(obs[1].service, "api.test");
        assert_eq!(obs[1].status, None);
    }

    #[test]
    fn timestamps() {
        assert_eq!(unix_ms("1970-01-01T00:00:00Z"), 0);
        assert_eq!(unix_ms("2024-01-02T03:04:05.250Z"), 1_704_164_645_250);
        assert_eq!(unix_ms("2024-01-02T04:04:05.25+01:00"), 1_704_164_645_250);
        assert_eq!(unix_ms("garbage"), 0);
        assert_eq!(unix_ms("2024-01-02T03:04:05.123456789Z"), 1_704_164_645_123);
    }

    #[test]
    fn rejects_non_har() {
        assert!(matches!(observations(b"{\"a\":1}"), Err(HarError::NotHar)));
        assert!(matches!(
            observations(b"\x00garbage"),
            Err(HarError::Json(_))
        ));
    }
}
