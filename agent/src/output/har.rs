//! HAR 1.2 output, streamed: the log header, then one entry per exchange, then the trailer,
//! so memory does not grow with the number of entries.
//!
//! Mapping: `request.url` is absolute (`http://{Host}{uri}`, or the server address when
//! there is no Host; absolute-form targets are kept as they are); `time` is the exchange
//! latency; bodies appear in `postData.text` / `content.text` only when bodies are kept
//! (`content.encoding: "base64"` for non-UTF-8 bodies); sizes we do not know are -1 as the
//! spec asks. Exchanges without a request are skipped (HAR entries need one) and counted.

use super::{body_text, ExchangeWriter};
use apitap_engine::http::{Exchange, MessageHead};
use serde_json::{json, Value};
use std::io::{self, Write};

/// Writes exchanges as a HAR 1.2 document.
pub struct HarWriter<W: Write> {
    out: W,
    bodies: bool,
    entries: u64,
    /// Exchanges skipped because they had no request.
    pub skipped_without_request: u64,
    started: bool,
}

impl<W: Write> HarWriter<W> {
    /// A writer to `out`; `bodies` adds the decoded bodies.
    pub fn new(out: W, bodies: bool) -> Self {
        HarWriter {
            out,
            bodies,
            entries: 0,
            skipped_without_request: 0,
            started: false,
        }
    }

    fn start(&mut self) -> io::Result<()> {
        if !self.started {
            self.started = true;
            write!(
                self.out,
                "{{\"log\":{{\"version\":\"1.2\",\"creator\":{{\"name\":\"apitap\",\"version\":\"{}\"}},\"pages\":[],\"entries\":[",
                env!("CARGO_PKG_VERSION")
            )?;
        }
        Ok(())
    }
}

fn headers_json(h: &MessageHead) -> Value {
    Value::Array(
        h.headers()
            .map(|(n, v)| json!({"name": n, "value": v}))
            .collect(),
    )
}

fn query_json(uri: &str) -> Value {
    let query = uri.split_once('?').map_or("", |(_, q)| q);
    let query = query.split('#').next().unwrap_or("");
    Value::Array(
        query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (n, v) = p.split_once('=').unwrap_or((p, ""));
                json!({"name": n, "value": v})
            })
            .collect(),
    )
}

fn cookies_json(h: &MessageHead, name: &str) -> Value {
    let mut out = vec![];
    for (n, v) in h.headers() {
        if n.eq_ignore_ascii_case(name) {
            for part in v.split(';') {
                if let Some((k, _)) = part.trim().split_once('=') {
                    // Names only: cookie values are secrets more often than not.
                    out.push(json!({"name": k.trim(), "value": ""}));
                }
                if name.eq_ignore_ascii_case("set-cookie") {
                    break;
                }
            }
        }
    }
    Value::Array(out)
}

/// The absolute URL of a request.
pub fn absolute_url(ex: &Exchange) -> Option<String> {
    let req = ex.request.as_ref()?;
    let uri = req.uri();
    if uri.starts_with("http://") || uri.starts_with("https://") {
        return Some(uri.to_string());
    }
    let host = req
        .header("host")
        .map(str::to_string)
        .unwrap_or_else(|| ex.server.to_string());
    if uri.starts_with('/') {
        Some(format!("http://{host}{uri}"))
    } else {
        // `*` (OPTIONS) or authority-form (CONNECT).
        Some(format!("http://{host}/{uri}"))
    }
}

impl<W: Write> ExchangeWriter for HarWriter<W> {
    fn write(&mut self, ex: &Exchange) -> io::Result<()> {
        self.start()?;
        let (Some(req), Some(url)) = (ex.request.as_ref(), absolute_url(ex)) else {
            self.skipped_without_request += 1;
            return Ok(());
        };
        let mut request = json!({
            "method": req.method(),
            "url": url,
            "httpVersion": req.version(),
            "cookies": cookies_json(&req.head, "cookie"),
            "headers": headers_json(&req.head),
            "queryString": query_json(req.uri()),
            "headersSize": -1,
            "bodySize": req.body_len,
        });
        if req.body_len > 0 || req.body.is_some() {
            let mime = req.header("content-type").unwrap_or("");
            let mut post = json!({"mimeType": mime, "text": ""});
            if let (true, Some(b)) = (self.bodies, req.body.as_ref()) {
                let (text, b64) = body_text(b);
                post["text"] = Value::String(text.into_owned());
                if b64 {
                    post["encoding"] = json!("base64");
                }
            }
            request["postData"] = post;
        }
        let response = match ex.response.as_ref() {
            Some(r) => {
                let mut content = json!({
                    "size": r.body_len,
                    "mimeType": r.header("content-type").unwrap_or(""),
                });
                if let (true, Some(b)) = (self.bodies, r.body.as_ref()) {
                    let (text, b64) = body_text(b);
                    content["text"] = Value::String(text.into_owned());
                    if b64 {
                        content["encoding"] = json!("base64");
                    }
                }
                json!({
                    "status": r.status.map_or(0, i64::from),
                    "statusText": r.reason(),
                    "httpVersion": r.version(),
                    "cookies": cookies_json(&r.head, "set-cookie"),
                    "headers": headers_json(&r.head),
                    "content": content,
                    "redirectURL": r.header("location").unwrap_or(""),
                    "headersSize": -1,
                    "bodySize": r.body_len,
                })
            }
            None => json!({
                "status": 0, "statusText": "", "httpVersion": "", "cookies": [], "headers": [],
                "content": {"size": 0, "mimeType": ""}, "redirectURL": "",
                "headersSize": -1, "bodySize": -1,
            }),
        };
        let time = ex.latency_ms().unwrap_or(0.0);
        let entry = json!({
            "startedDateTime": ex.ts().rfc3339(),
            "time": time,
            "request": request,
            "response": response,
            "cache": {},
            "timings": {"send": 0, "wait": time, "receive": 0},
            "serverIPAddress": ex.server.ip().to_string(),
            "connection": ex.conn_id.to_string(),
            "_apitap_flags": ex.flags.iter().map(|f| f.as_str()).collect::<Vec<_>>(),
        });
        if self.entries > 0 {
            self.out.write_all(b",\n")?;
        } else {
            self.out.write_all(b"\n")?;
        }
        self.entries += 1;
        serde_json::to_writer(&mut self.out, &entry)?;
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.start()?;
        self.out.write_all(b"\n]}}\n")?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use apitap_engine::http::{Request, Response};
    use apitap_engine::Timestamp;

    fn exchange() -> Exchange {
        Exchange {
            conn_id: 3,
            index: 0,
            client: "10.0.0.1:40000".parse().unwrap(),
            server: "10.0.0.2:8080".parse().unwrap(),
            request: Some(Request {
                head: MessageHead::new(["POST", "/users?id=7&x", "HTTP/1.1"])
                    .with_header("Host", "api.test")
                    .with_header("Content-Type", "application/json")
                    .with_header("Cookie", "a=1; b=2"),
                body_len: 7,
                wire_len: 7,
                body: Some(b"{\"a\":1}".to_vec()),
                ts_start: Timestamp::from_micros(100, 0),
                ts_end: Timestamp::from_micros(100, 0),
            }),
            response: Some(Response {
                status: Some(201),
                head: MessageHead::new(["HTTP/1.1", "201", "Created"]),
                body_len: 3,
                wire_len: 3,
                body: Some(vec![0xff, 0, 1]),
                ts_start: Timestamp::from_micros(100, 1500),
                ts_end: Timestamp::from_micros(100, 2500),
            }),
            flags: vec![],
            stream_id: None,
            gate_key: None,
        }
    }

    #[test]
    fn har_is_valid_json_with_expected_fields() {
        let mut buf = vec![];
        let mut w = HarWriter::new(&mut buf, true);
        w.write(&exchange()).unwrap();
        w.write(&exchange()).unwrap();
        w.finish().unwrap();
        let v: Value = serde_json::from_slice(&buf).unwrap();
        let entries = v["log"]["entries"].as_array().unwrap();
        assert_eq!(entries.len(), 2);
        let e = &entries[0];
        assert_eq!(e["request"]["url"], "http://api.test/users?id=7&x");
        assert_eq!(e["request"]["queryString"][0]["name"], "id");
        assert_eq!(e["request"]["queryString"][1]["name"], "x");
        assert_eq!(e["request"]["cookies"][1]["name"], "b");
        assert_eq!(e["request"]["cookies"][1]["value"], "");
        assert_eq!(e["request"]["postData"]["text"], "{\"a\":1}");
        assert_eq!(e["response"]["status"], 201);
        assert_eq!(e["response"]["content"]["encoding"], "base64");
        assert_eq!(e["response"]["content"]["text"], "/wAB");
        assert_eq!(e["time"], 2.5);
    }

    #[test]
    fn empty_har_is_valid() {
        let mut buf = vec![];
        HarWriter::new(&mut buf, false).finish().unwrap();
        let v: Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(v["log"]["entries"].as_array().unwrap().len(), 0);
    }
}
