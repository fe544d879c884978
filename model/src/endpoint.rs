//! Per-endpoint evidence: statuses, latency, query/header/cookie parameters, request and
//! response bodies per status code and content type.
//!
//! A gRPC call ([`crate::Observation::grpc`] set) records its messages, status and streaming
//! evidence in [`Endpoint::grpc`] (see [`crate::grpc`]) instead of body schemas; the HTTP
//! evidence (count, latency, HTTP status, headers) is kept as for any exchange.

use crate::evidence::{self, cnt, combine_map, is_false, is_zero, Combine, Histogram, Mode};
use crate::pii::PiiClass;
use crate::redact::is_secret_key_memo;
use crate::schema::{Ctx, SchemaNode};
use crate::valueflow::Taken;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::BTreeMap;

/// Max query parameter names per endpoint.
pub const MAX_QUERY: usize = 64;
/// Max header names per endpoint.
pub const MAX_HEADERS: usize = 32;
/// Max cookie names per endpoint.
pub const MAX_COOKIES: usize = 32;
/// Max status codes per endpoint.
pub const MAX_STATUS: usize = 64;
/// Max content types per request/response.
pub const MAX_MEDIA: usize = 8;

/// Request headers that are transport/standard and not part of an API's contract: the
/// reference list, which [`is_standard_header`] reads by length (`standard_of_len`, tested
/// to hold exactly these).
#[cfg(test)]
const STANDARD_HEADERS: [&str; 36] = [
    "accept",
    "accept-encoding",
    "accept-language",
    "accept-charset",
    "user-agent",
    "content-length",
    "content-type",
    "content-encoding",
    "host",
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "upgrade",
    "cache-control",
    "pragma",
    "origin",
    "referer",
    "expect",
    "if-none-match",
    "if-modified-since",
    "if-match",
    "if-unmodified-since",
    "range",
    "dnt",
    "via",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-real-ip",
    "proxy-connection",
    "upgrade-insecure-requests",
    "priority",
    "date",
    "trailer",
];

/// Is this a standard request header (skipped from parameters)?
pub fn is_standard_header(name: &str) -> bool {
    let b = name.as_bytes();
    if b.len() > 4 && b[..4].eq_ignore_ascii_case(b"sec-")
        || b.len() > 6 && b[..6].eq_ignore_ascii_case(b"proxy-")
    {
        return true;
    }
    standard_of_len(b.len())
        .iter()
        .any(|h| h.as_bytes().eq_ignore_ascii_case(b))
}

/// The standard request headers of `len` bytes: a header name is compared with these
/// few, not with all 36 (test `standard_headers_by_length`: exactly `STANDARD_HEADERS`).
fn standard_of_len(len: usize) -> &'static [&'static str] {
    match len {
        2 => &["te"],
        3 => &["dnt", "via"],
        4 => &["host", "date"],
        5 => &["range"],
        6 => &["accept", "origin", "pragma", "expect"],
        7 => &["upgrade", "referer", "trailer"],
        8 => &["if-match", "priority"],
        9 => &["forwarded", "x-real-ip"],
        10 => &["user-agent", "connection", "keep-alive"],
        12 => &["content-type"],
        13 => &["cache-control", "if-none-match"],
        14 => &["accept-charset", "content-length"],
        15 => &["accept-encoding", "accept-language", "x-forwarded-for"],
        16 => &["content-encoding", "proxy-connection", "x-forwarded-host"],
        17 => &[
            "if-modified-since",
            "transfer-encoding",
            "x-forwarded-proto",
        ],
        19 => &["if-unmodified-since"],
        25 => &["upgrade-insecure-requests"],
        _ => &[],
    }
}

/// Percent-decode (and `+` as space when `plus`); invalid escapes stay as they are.
pub fn pct_decode(s: &str, plus: bool) -> Cow<'_, str> {
    if !s.bytes().any(|c| c == b'%' || (plus && c == b'+')) {
        return Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'%' && i + 2 < b.len() {
            let hx = |x: u8| (x as char).to_digit(16);
            if let (Some(h), Some(l)) = (hx(b[i + 1]), hx(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(if plus && c == b'+' { b' ' } else { c });
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// Media type key: lowercase, parameters stripped, at most 100 bytes.
pub fn media_key(ct: &str) -> String {
    media_key_cow(ct).into_owned()
}

/// [`media_key`] without allocating in the common case (already lowercase, short).
fn media_key_cow(ct: &str) -> Cow<'_, str> {
    let base = ct.split(';').next().unwrap_or("").trim();
    if base.len() <= 100 && !base.bytes().any(|c| c.is_ascii_uppercase()) {
        return Cow::Borrowed(base);
    }
    let mut k = base.to_ascii_lowercase();
    // cut at a char boundary at most 100 bytes in (the text may be any UTF-8)
    let mut cut = k.len().min(100);
    while !k.is_char_boundary(cut) {
        cut -= 1;
    }
    k.truncate(cut);
    Cow::Owned(k)
}

/// ASCII-lowercase `s`, in `buf` when it fits (no allocation for ordinary header names).
fn lower<'a>(s: &'a str, buf: &'a mut [u8; 64]) -> Cow<'a, str> {
    if !s.bytes().any(|c| c.is_ascii_uppercase()) {
        return Cow::Borrowed(s);
    }
    match buf.get_mut(..s.len()) {
        Some(dst) => {
            dst.copy_from_slice(s.as_bytes());
            dst.make_ascii_lowercase();
            // ASCII lowercasing keeps UTF-8 valid; the fallback is never taken
            match std::str::from_utf8(dst) {
                Ok(t) => Cow::Borrowed(t),
                Err(_) => Cow::Owned(s.to_ascii_lowercase()),
            }
        }
        None => Cow::Owned(s.to_ascii_lowercase()),
    }
}

/// Evidence for the bodies of one content type.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Body {
    /// Bodies observed.
    pub n: u64,
    /// Inferred schema.
    pub schema: SchemaNode,
    /// Bodies not inspected because they were truncated at capture.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub truncated: u64,
    /// Bodies that did not parse as their content type claims.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unparsed: u64,
}

impl Combine for Body {
    fn combine(&mut self, o: &Self, m: Mode) {
        cnt(&mut self.n, o.n, m);
        self.schema.combine(&o.schema, m);
        cnt(&mut self.truncated, o.truncated, m);
        cnt(&mut self.unparsed, o.unparsed, m);
    }
}

/// How a body is interpreted, from its media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// JSON (`application/json`, `*+json`).
    Json,
    /// `application/x-www-form-urlencoded`.
    Form,
    /// `multipart/form-data`.
    Multipart,
    /// `text/*`, XML.
    Text,
    /// Anything else.
    Binary,
}

/// Body kind of a media key.
pub fn body_kind(media: &str) -> BodyKind {
    if media.contains("json") {
        BodyKind::Json
    } else if media == "application/x-www-form-urlencoded" {
        BodyKind::Form
    } else if media.starts_with("multipart/form-data") {
        BodyKind::Multipart
    } else if media.starts_with("text/") || media.contains("xml") {
        BodyKind::Text
    } else {
        BodyKind::Binary
    }
}

fn boundary(ct: &str) -> Option<&str> {
    ct.split(';').skip(1).find_map(|p| {
        let p = p.trim();
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"'))
    })
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || from > hay.len() {
        return None;
    }
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

impl Body {
    /// Observe one body of media type `ct` (the full header value, parameters included);
    /// a JSON body also gives its values to `flow` ([`SchemaNode::observe_json_bytes`]).
    pub(crate) fn observe(
        &mut self,
        bytes: &[u8],
        ct: &str,
        media: &str,
        truncated: bool,
        ctx: Ctx,
        flow: Option<&mut Taken>,
    ) {
        self.n += 1;
        if truncated {
            self.truncated += 1;
            return;
        }
        match body_kind(media) {
            BodyKind::Json => {
                if !self.schema.observe_json_bytes(bytes, ctx, flow) {
                    self.unparsed += 1;
                }
            }
            BodyKind::Form => match std::str::from_utf8(bytes) {
                Ok(s) => {
                    self.schema.observe_object_start(ctx.ts);
                    for pair in s.split('&').filter(|p| !p.is_empty()) {
                        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                        let k = pct_decode(k, true);
                        let v = pct_decode(v, true);
                        self.schema.observe_field(&k, Some(&v), ctx);
                    }
                }
                Err(_) => self.unparsed += 1,
            },
            BodyKind::Multipart => {
                if !self.observe_multipart(bytes, ct, ctx) {
                    self.unparsed += 1;
                }
            }
            BodyKind::Text => self.schema.observe_text_body(ctx.ts),
            BodyKind::Binary => self.schema.observe_binary(ctx.ts),
        }
    }

    fn observe_multipart(&mut self, bytes: &[u8], ct: &str, ctx: Ctx) -> bool {
        let Some(b) = boundary(ct) else { return false };
        let delim = format!("--{b}");
        let d = delim.as_bytes();
        let Some(mut pos) = find(bytes, d, 0) else {
            return false;
        };
        self.schema.observe_object_start(ctx.ts);
        let mut parts = 0;
        while parts < 64 {
            let start = pos + d.len();
            if bytes.get(start..start + 2) == Some(b"--") {
                break;
            }
            let Some(hdr_end) = find(bytes, b"\r\n\r\n", start) else {
                break;
            };
            let headers = String::from_utf8_lossy(bytes.get(start..hdr_end).unwrap_or(b""));
            let body_start = hdr_end + 4;
            let next = find(bytes, d, body_start).unwrap_or(bytes.len());
            let body_end = next.saturating_sub(2).max(body_start);
            let mut name = None;
            let mut file = false;
            for line in headers.split("\r\n") {
                let Some((k, v)) = line.split_once(':') else {
                    continue;
                };
                if !k.trim().eq_ignore_ascii_case("content-disposition") {
                    continue;
                }
                for p in v.split(';').skip(1) {
                    if let Some((pk, pv)) = p.trim().split_once('=') {
                        let pv = pv.trim().trim_matches('"');
                        match pk.trim().to_ascii_lowercase().as_str() {
                            "name" => name = Some(pv.to_string()),
                            "filename" | "filename*" => file = true,
                            _ => {}
                        }
                    }
                }
            }
            if let Some(name) = name {
                let content = bytes.get(body_start..body_end).unwrap_or(b"");
                match (file, std::str::from_utf8(content)) {
                    (false, Ok(text)) => self.schema.observe_field(&name, Some(text), ctx),
                    _ => self.schema.observe_field(&name, None, ctx),
                }
            }
            parts += 1;
            if next >= bytes.len() {
                break;
            }
            pos = next;
        }
        true
    }
}

/// Evidence for one status code of an endpoint.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// Responses with this status.
    pub n: u64,
    /// Responses without a body.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub empty: u64,
    /// Bodies per media type.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub content: BTreeMap<String, Body>,
    /// Non-standard response header names (lowercase) with presence counts.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, u64>,
    /// A cap was hit.
    #[serde(default, skip_serializing_if = "is_false")]
    pub overflow: bool,
    /// Responses whose body adaptive sampling skipped (not decoded, not inferred; `empty`
    /// and `content` count only the others).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub skipped: u64,
}

impl Combine for Response {
    fn combine(&mut self, o: &Self, m: Mode) {
        cnt(&mut self.n, o.n, m);
        cnt(&mut self.empty, o.empty, m);
        cnt(&mut self.skipped, o.skipped, m);
        self.overflow |= combine_map(&mut self.content, &o.content, m, MAX_MEDIA);
        self.overflow |= combine_map(&mut self.headers, &o.headers, m, MAX_HEADERS);
        self.overflow |= o.overflow;
    }
}

/// Response headers worth documenting (not transport or caching boilerplate).
fn interesting_response_header(name: &str) -> bool {
    const SKIP: [&str; 14] = [
        "content-length",
        "content-type",
        "date",
        "server",
        "connection",
        "keep-alive",
        "transfer-encoding",
        "content-encoding",
        "vary",
        "cache-control",
        "expires",
        "pragma",
        "age",
        "etag",
    ];
    !SKIP.iter().any(|h| h.eq_ignore_ascii_case(name)) && !name.eq_ignore_ascii_case("set-cookie")
}

/// Evidence for one (method, path template) endpoint.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    /// Exchanges observed.
    pub n: u64,
    /// First seen, unix ms.
    pub first: i64,
    /// Last seen, unix ms.
    pub last: i64,
    /// Exchanges without a response.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub no_response: u64,
    /// Latency sketch.
    #[serde(default)]
    pub latency: Histogram,
    /// Query parameters by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub query: BTreeMap<String, SchemaNode>,
    /// Non-standard request headers by lowercase name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, SchemaNode>,
    /// Cookie names with presence counts.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub cookies: BTreeMap<String, u64>,
    /// `Authorization` schemes (lowercase: `bearer`, `basic`, ...) with counts.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub auth: BTreeMap<String, u64>,
    /// Request bodies per media type (requests not answered with a 4xx/5xx).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub req: BTreeMap<String, Body>,
    /// Request bodies that were answered with a 4xx/5xx: often deliberately invalid, so
    /// they only shape the exported request schema when no other request was seen.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub req_err: BTreeMap<String, Body>,
    /// Responses per status code.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub resp: BTreeMap<u16, Response>,
    /// A cap was hit.
    #[serde(default, skip_serializing_if = "is_false")]
    pub overflow: bool,
    /// gRPC evidence, for a gRPC method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc: Option<Box<crate::grpc::GrpcEvidence>>,
    /// Exchanges whose bodies adaptive sampling did not all inspect (the request's, the
    /// response's or both were skipped): `n - bodies_skipped` exchanges had every body
    /// decoded and inferred. Exported as `x-apitap-bodies-sampled`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub bodies_skipped: u64,
    /// Request bodies skipped by sampling, of requests not answered with a 4xx/5xx.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub req_skipped: u64,
    /// Request bodies skipped by sampling, of requests answered with a 4xx/5xx.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub req_err_skipped: u64,
}

/// Which bodies of an exchange were inspected (decoded and inferred). Adaptive sampling
/// skips some; a skipped body leaves no body evidence (no schema, no `empty` count) but is
/// counted (`bodies_skipped`, `req_skipped`, [`Response::skipped`]) so that coverage and
/// `required` stay honest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inspect {
    /// The request body was inspected.
    pub request: bool,
    /// The response body was inspected.
    pub response: bool,
}

impl Inspect {
    /// Every body inspected (no sampling).
    pub const ALL: Inspect = Inspect {
        request: true,
        response: true,
    };
}

impl Default for Inspect {
    fn default() -> Self {
        Inspect::ALL
    }
}

impl Combine for Endpoint {
    fn combine(&mut self, o: &Self, m: Mode) {
        cnt(&mut self.n, o.n, m);
        evidence::first(&mut self.first, o.first);
        evidence::last(&mut self.last, o.last);
        cnt(&mut self.no_response, o.no_response, m);
        self.latency.combine(&o.latency, m);
        let mut of = combine_map(&mut self.query, &o.query, m, MAX_QUERY);
        of |= combine_map(&mut self.headers, &o.headers, m, MAX_HEADERS);
        of |= combine_map(&mut self.cookies, &o.cookies, m, MAX_COOKIES);
        of |= combine_map(&mut self.auth, &o.auth, m, 8);
        of |= combine_map(&mut self.req, &o.req, m, MAX_MEDIA);
        of |= combine_map(&mut self.req_err, &o.req_err, m, MAX_MEDIA);
        of |= combine_map(&mut self.resp, &o.resp, m, MAX_STATUS);
        self.overflow |= of || o.overflow;
        evidence::combine_opt(&mut self.grpc, &o.grpc, m);
        cnt(&mut self.bodies_skipped, o.bodies_skipped, m);
        cnt(&mut self.req_skipped, o.req_skipped, m);
        cnt(&mut self.req_err_skipped, o.req_err_skipped, m);
    }
}

fn slot<'a, V: Default>(
    map: &'a mut BTreeMap<String, V>,
    key: &str,
    cap: usize,
    overflow: &mut bool,
) -> Option<&'a mut V> {
    if !map.contains_key(key) {
        if map.len() >= cap {
            *overflow = true;
            return None;
        }
        map.insert(key.to_string(), V::default());
    }
    map.get_mut(key)
}

impl Endpoint {
    /// Record one exchange (path already routed; `query` is the raw query string) whose
    /// bodies `inspect` says were inspected. `flow`: value flow's collectors for the request
    /// and response bodies (see [`crate::valueflow`]), filled when the schema walks them.
    pub(crate) fn observe(
        &mut self,
        obs: &crate::Observation,
        query: Option<&str>,
        ctx: Ctx,
        inspect: Inspect,
        flow: (Option<&mut Taken>, Option<&mut Taken>),
    ) {
        let (req_flow, resp_flow) = flow;
        self.n += 1;
        let err = obs.status.is_some_and(|s| s >= 400);
        if !inspect.request || (!inspect.response && obs.status.is_some()) {
            self.bodies_skipped += 1;
        }
        if !inspect.request {
            if err {
                self.req_err_skipped += 1;
            } else {
                self.req_skipped += 1;
            }
        }
        evidence::seen(&mut self.first, &mut self.last, ctx.ts);
        if let Some(ms) = obs.latency_ms {
            self.latency.record(ms);
        }
        if let Some(q) = query {
            let mut seen: [u64; 16] = [0; 16];
            let mut ns = 0;
            for pair in q.split('&').filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                let k = pct_decode(k, true);
                if k.is_empty() {
                    continue;
                }
                let h = k.bytes().fold(0xcbf29ce484222325u64, |h, b| {
                    (h ^ b as u64).wrapping_mul(0x100000001b3)
                });
                if seen[..ns].contains(&h) {
                    continue; // repeated name (`a=1&a=2`): presence counts once
                }
                if ns < seen.len() {
                    seen[ns] = h;
                    ns += 1;
                }
                if !v.is_empty() && is_secret_key_memo(&k) {
                    ctx.mark(PiiClass::Secret);
                }
                if let Some(node) = slot(&mut self.query, &k, MAX_QUERY, &mut self.overflow) {
                    node.observe_query(&pct_decode(v, true), &k, ctx);
                }
            }
        }
        for (k, v) in obs.request_headers.iter() {
            if k.eq_ignore_ascii_case("authorization") {
                ctx.mark(PiiClass::Secret);
                let first = v.split_whitespace().next().unwrap_or("");
                let scheme = ["bearer", "basic", "digest"]
                    .into_iter()
                    .find(|s| s.eq_ignore_ascii_case(first))
                    .unwrap_or("other");
                match self.auth.get_mut(scheme) {
                    Some(c) => *c += 1,
                    None => {
                        self.auth.insert(scheme.to_string(), 1);
                    }
                }
            } else if k.eq_ignore_ascii_case("cookie") {
                for c in v.split(';') {
                    let name = c.split('=').next().unwrap_or("").trim();
                    if !name.is_empty() {
                        if is_secret_key_memo(name) {
                            ctx.mark(PiiClass::Secret);
                        }
                        if let Some(x) =
                            slot(&mut self.cookies, name, MAX_COOKIES, &mut self.overflow)
                        {
                            *x += 1;
                        }
                    }
                }
            } else if k.eq_ignore_ascii_case("proxy-authorization") {
                ctx.mark(PiiClass::Secret);
            } else if !is_standard_header(k) {
                let mut buf = [0u8; 64];
                let lk = lower(k, &mut buf);
                if is_secret_key_memo(&lk) {
                    ctx.mark(PiiClass::Secret);
                }
                if let Some(node) = slot(&mut self.headers, &lk, MAX_HEADERS, &mut self.overflow) {
                    node.observe_text(v, &lk, ctx);
                }
            }
        }
        if let Some(call) = &obs.grpc {
            self.grpc.get_or_insert_with(Default::default).observe(call);
        }
        let bodies = obs.grpc.is_none();
        if let Some(b) = obs
            .request_body
            .as_deref()
            .filter(|b| bodies && inspect.request && !b.is_empty())
        {
            let ct = obs.request_header("content-type").unwrap_or("");
            let media = if ct.is_empty() {
                Cow::Borrowed(sniff(b))
            } else {
                media_key_cow(ct)
            };
            let map = if err {
                &mut self.req_err
            } else {
                &mut self.req
            };
            if let Some(body) = slot(map, &media, MAX_MEDIA, &mut self.overflow) {
                body.observe(b, ct, &media, obs.request_body_truncated, ctx, req_flow);
            }
        }
        let Some(status) = obs.status else {
            self.no_response += 1;
            return;
        };
        if !self.resp.contains_key(&status) && self.resp.len() >= MAX_STATUS {
            self.overflow = true;
            return;
        }
        let r = self.resp.entry(status).or_default();
        r.n += 1;
        for (k, _) in obs.response_headers.iter() {
            // the cheap test first: most response headers are none of these
            if (k.len() > 2 && k.as_bytes()[..2].eq_ignore_ascii_case(b"x-")
                || k.eq_ignore_ascii_case("location")
                || k.eq_ignore_ascii_case("retry-after")
                || k.eq_ignore_ascii_case("link"))
                && interesting_response_header(k)
            {
                let mut buf = [0u8; 64];
                let lk = lower(k, &mut buf);
                if let Some(x) = slot(&mut r.headers, &lk, MAX_HEADERS, &mut r.overflow) {
                    *x += 1;
                }
            }
        }
        match obs.response_body.as_deref().filter(|b| !b.is_empty()) {
            _ if !bodies => {}
            _ if !inspect.response => r.skipped += 1,
            None => r.empty += 1,
            Some(b) => {
                let ct = obs.response_header("content-type").unwrap_or("");
                let media = if ct.is_empty() {
                    Cow::Borrowed(sniff(b))
                } else {
                    media_key_cow(ct)
                };
                if let Some(body) = slot(&mut r.content, &media, MAX_MEDIA, &mut r.overflow) {
                    body.observe(b, ct, &media, obs.response_body_truncated, ctx, resp_flow);
                }
            }
        }
    }

    /// A fingerprint of the body evidence learned (media types per status and direction,
    /// and each body schema's [`SchemaNode::shape`]): it changes when an exchange taught
    /// something new about the bodies.
    pub fn body_shape(&self) -> u64 {
        let mut h: u64 = 0xcbf29ce484222325;
        let mut mix = |x: u64| {
            h ^= x;
            h = h.wrapping_mul(0x100000001b3).rotate_left(7);
        };
        for (tag, map) in [(1u64, &self.req), (2, &self.req_err)] {
            for (media, b) in map {
                mix(tag);
                mix(fnv(media));
                mix(b.schema.shape());
            }
        }
        for (code, r) in &self.resp {
            mix(u64::from(*code) << 8);
            mix(u64::from(r.empty > 0));
            for (media, b) in &r.content {
                mix(fnv(media));
                mix(b.schema.shape());
            }
        }
        h
    }

    /// Every body of the endpoint: request bodies (accepted, then rejected), then response
    /// bodies by status and media type.
    pub fn bodies(&self) -> impl Iterator<Item = &Body> + '_ {
        self.req
            .values()
            .chain(self.req_err.values())
            .chain(self.resp.values().flat_map(|r| r.content.values()))
    }

    /// Fraction of responses with status >= 400.
    pub fn error_rate(&self) -> f64 {
        let total: u64 = self.resp.values().map(|r| r.n).sum();
        if total == 0 {
            return 0.0;
        }
        let err: u64 = self
            .resp
            .iter()
            .filter(|(s, _)| **s >= 400)
            .map(|(_, r)| r.n)
            .sum();
        err as f64 / total as f64
    }
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    })
}

/// Guess a media type for a body without `Content-Type`.
fn sniff(b: &[u8]) -> &'static str {
    match b.iter().find(|c| !c.is_ascii_whitespace()) {
        Some(b'{') | Some(b'[') => "application/json",
        _ if std::str::from_utf8(b).is_ok() => "text/plain",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding() {
        assert_eq!(pct_decode("a%20b+c", true), "a b c");
        assert_eq!(pct_decode("a%2", false), "a%2");
        assert_eq!(pct_decode("%", false), "%");
        assert_eq!(
            media_key("Application/JSON; charset=utf-8"),
            "application/json"
        );
        assert!(is_standard_header("User-Agent"));
        assert!(is_standard_header("sec-ch-ua"));
        assert!(!is_standard_header("X-Request-Id"));
    }

    /// The by-length table holds exactly the standard headers, each under its length.
    #[test]
    fn standard_headers_by_length() {
        let mut table: Vec<&str> = (0..=64).flat_map(standard_of_len).copied().collect();
        for len in 0..=64 {
            assert!(standard_of_len(len).iter().all(|h| h.len() == len));
        }
        let mut all = STANDARD_HEADERS.to_vec();
        table.sort_unstable();
        all.sort_unstable();
        assert_eq!(table, all);
        for h in STANDARD_HEADERS {
            assert!(is_standard_header(&h.to_ascii_uppercase()), "{h}");
        }
        assert!(!is_standard_header("x-api-key"));
    }

    #[test]
    fn multipart_fields() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nhello\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n--XyZ--\r\n";
        let mut b = Body::default();
        b.observe(
            body,
            "multipart/form-data; boundary=XyZ",
            "multipart/form-data",
            false,
            Ctx {
                ts: 1,
                examples: false,
                thin: true,
                pii: &std::cell::Cell::new(0),
            },
            None,
        );
        let s = b.schema.to_schema(false);
        assert_eq!(s["properties"]["title"]["type"], "string");
        assert_eq!(s["properties"]["file"]["format"], "binary");
        assert_eq!(b.unparsed, 0);
    }
}
