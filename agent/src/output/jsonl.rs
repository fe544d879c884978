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
//!
//! Cost policy: a line is serialised into a buffer the writer keeps (serde_json writes a
//! line in a few hundred small pieces, and the destination is often a `dyn Write`), then
//! handed to the destination in one call; the buffer is dropped after a line longer than
//! [`KEEP_LINE_BUFFER`] bytes, so memory stays bounded by the longest line. `ts`, `client`
//! and `server` are formatted without `core::fmt` (see [`super::rfc3339_into`] and
//! [`super::socket_addr_into`]), byte for byte as `Timestamp::rfc3339` and `Display` do.

use super::{body_text, rfc3339_into, socket_addr_into, ExchangeWriter};
use apitap_engine::http::{Exchange, MessageHead};
use serde::Serialize;
use std::borrow::Cow;
use std::io::{self, Write};

#[derive(Serialize)]
struct Line<'a> {
    ts: &'a str,
    client: &'a str,
    server: &'a str,
    method: Option<&'a str>,
    host: Option<&'a str>,
    uri: Option<&'a str>,
    version: Option<&'a str>,
    status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_text: Option<&'a str>,
    request_headers: HeaderList<'a>,
    response_headers: HeaderList<'a>,
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

/// A head's header fields as a JSON array of `[name, value]` arrays (none: `[]`).
struct HeaderList<'a>(Option<&'a MessageHead>);

impl Serialize for HeaderList<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(self.0.map_or(0, MessageHead::header_count)))?;
        for field in self.0.into_iter().flat_map(MessageHead::headers) {
            seq.serialize_element(&field)?;
        }
        seq.end()
    }
}

fn body(b: Option<&Vec<u8>>, on: bool) -> (Option<Cow<'_, str>>, Option<&'static str>) {
    match b {
        Some(b) if on => {
            let (text, b64) = body_text(b);
            (Some(text), b64.then_some("base64"))
        }
        _ => (None, None),
    }
}

/// A line buffer grown past this many bytes (a line with large bodies) is not kept for the
/// next line.
pub const KEEP_LINE_BUFFER: usize = 1 << 20;

/// Writes exchanges as JSON lines.
pub struct JsonlWriter<W: Write> {
    out: W,
    bodies: bool,
    /// The line being written (see the module docs).
    line: Vec<u8>,
    /// `ts`, `client` and `server` of the line being written.
    ts: String,
    client: String,
    server: String,
}

impl<W: Write> JsonlWriter<W> {
    /// A writer to `out`; `bodies` adds the decoded bodies.
    pub fn new(out: W, bodies: bool) -> Self {
        JsonlWriter {
            out,
            bodies,
            line: Vec::with_capacity(4096),
            ts: String::with_capacity(32),
            client: String::with_capacity(48),
            server: String::with_capacity(48),
        }
    }
}

impl<W: Write> ExchangeWriter for JsonlWriter<W> {
    fn write(&mut self, ex: &Exchange) -> io::Result<()> {
        let JsonlWriter {
            out,
            bodies,
            line: buf,
            ts,
            client,
            server,
        } = self;
        ts.clear();
        rfc3339_into(ex.ts(), ts);
        client.clear();
        socket_addr_into(&ex.client, client);
        server.clear();
        socket_addr_into(&ex.server, server);
        let req = ex.request.as_ref();
        let resp = ex.response.as_ref();
        let (request_body, request_body_encoding) =
            body(req.and_then(|r| r.body.as_ref()), *bodies);
        let (response_body, response_body_encoding) =
            body(resp.and_then(|r| r.body.as_ref()), *bodies);
        let line = Line {
            ts,
            client,
            server,
            method: req.map(|r| r.method()),
            host: req.and_then(|r| r.header("host").or_else(|| r.header(":authority"))),
            uri: req.map(|r| r.uri()),
            version: req.map(|r| r.version()),
            status: resp.and_then(|r| r.status),
            status_text: resp.filter(|r| r.status.is_none()).map(|r| r.status_text()),
            request_headers: HeaderList(req.map(|r| &r.head)),
            response_headers: HeaderList(resp.map(|r| &r.head)),
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
        buf.clear();
        serde_json::to_writer(&mut *buf, &line)?;
        buf.push(b'\n');
        let r = out.write_all(buf);
        if buf.capacity() > KEEP_LINE_BUFFER {
            *buf = Vec::new();
        }
        r
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
