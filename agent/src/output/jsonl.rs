//! One JSON object per exchange per line.
//!
//! Fields (the public interface; docs and tests use these names): `ts` (request start,
//! RFC 3339), `client`, `server` (`ip:port`), `method`, `host`, `uri` (the request-target
//! exactly as on the wire), `version`, `status` (integer, null if no response or not
//! numeric), `request_headers`, `response_headers` (arrays of `[name, value]`),
//! `request_body_len`, `response_body_len` (after de-chunking and content decoding),
//! `latency_ms` (request start to response end), `flags`; `stream_id` only for HTTP/2
//! exchanges (the stream they were carried on); with bodies on, `request_body` and
//! `response_body` (UTF-8 text, or base64 with `request_body_encoding: "base64"`).

use super::{body_text, header, ExchangeWriter};
use apitap_engine::http::Exchange;
use serde::Serialize;
use std::borrow::Cow;
use std::io::{self, Write};

#[derive(Serialize)]
struct Line<'a> {
    ts: String,
    client: String,
    server: String,
    method: Option<&'a str>,
    host: Option<&'a str>,
    uri: Option<&'a str>,
    version: Option<&'a str>,
    status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_text: Option<&'a str>,
    request_headers: &'a [(String, String)],
    response_headers: &'a [(String, String)],
    request_body_len: u64,
    response_body_len: u64,
    latency_ms: Option<f64>,
    flags: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_id: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_body: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_body_encoding: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_body: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_body_encoding: Option<&'static str>,
}

const NO_HEADERS: &[(String, String)] = &[];

fn body(b: Option<&Vec<u8>>, on: bool) -> (Option<Cow<'_, str>>, Option<&'static str>) {
    match b {
        Some(b) if on => {
            let (text, b64) = body_text(b);
            (Some(text), b64.then_some("base64"))
        }
        _ => (None, None),
    }
}

/// Writes exchanges as JSON lines.
pub struct JsonlWriter<W: Write> {
    out: W,
    bodies: bool,
}

impl<W: Write> JsonlWriter<W> {
    /// A writer to `out`; `bodies` adds the decoded bodies.
    pub fn new(out: W, bodies: bool) -> Self {
        JsonlWriter { out, bodies }
    }
}

impl<W: Write> ExchangeWriter for JsonlWriter<W> {
    fn write(&mut self, ex: &Exchange) -> io::Result<()> {
        let req = ex.request.as_ref();
        let resp = ex.response.as_ref();
        let (request_body, request_body_encoding) =
            body(req.and_then(|r| r.body.as_ref()), self.bodies);
        let (response_body, response_body_encoding) =
            body(resp.and_then(|r| r.body.as_ref()), self.bodies);
        let line = Line {
            ts: ex.ts().rfc3339(),
            client: ex.client.to_string(),
            server: ex.server.to_string(),
            method: req.map(|r| r.method.as_str()),
            host: req.and_then(|r| {
                header(&r.headers, "host").or_else(|| header(&r.headers, ":authority"))
            }),
            uri: req.map(|r| r.uri.as_str()),
            version: req.map(|r| r.version.as_str()),
            status: resp.and_then(|r| r.status),
            status_text: resp
                .filter(|r| r.status.is_none())
                .map(|r| r.status_text.as_str()),
            request_headers: req.map_or(NO_HEADERS, |r| &r.headers),
            response_headers: resp.map_or(NO_HEADERS, |r| &r.headers),
            request_body_len: req.map_or(0, |r| r.body_len),
            response_body_len: resp.map_or(0, |r| r.body_len),
            latency_ms: ex.latency_ms().map(|l| (l * 1000.0).round() / 1000.0),
            flags: ex.flags.iter().map(|f| f.as_str()).collect(),
            stream_id: ex.stream_id,
            request_body,
            request_body_encoding,
            response_body,
            response_body_encoding,
        };
        serde_json::to_writer(&mut self.out, &line)?;
        self.out.write_all(b"\n")
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
