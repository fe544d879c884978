//! Push bodies: decompressed with a hard cap, parsed straight into the typed model with a
//! budget, then checked against the learner's own caps. Nothing in a body is trusted.
//!
//! # Policy
//!
//! - **No generic JSON tree.** The body is never held as a `serde_json::Value`, and the
//!   decompressed text is never held at all: both passes stream from the (compressed) request
//!   bytes through the decoder.
//! - **Pass 1, budget** ([`Limits::max_values`], [`Limits::max_depth`]): a visitor counts every
//!   JSON value and the nesting depth while skipping the content, and reads the top-level
//!   `apitap_model_version`. Over budget → 413; not JSON → 400; wrong version → 422. Memory:
//!   one JSON string at a time (serde_json materialises a string to visit it), so at most
//!   [`Limits::max_decompressed`]; a 57 MB unknown string peaks at ~130 MB RSS.
//! - **Pass 2, typed**: straight into the model types. Unknown fields are skipped as they
//!   stream by (serde's `IgnoredAny`), never buffered. Memory: proportional to the values
//!   counted in pass 1, so bounded by the budget.
//! - **Decompression**: `identity` or `gzip`; more than [`Limits::max_decompressed`] bytes out
//!   → 413, whatever the pass.
//! - **Caps** (422 when exceeded, the push changes nothing): sources per push, services per
//!   source ([`apitap_model::model::MAX_SERVICES`]), trie nodes per service (recounted; the
//!   body's `nodes` field is replaced by the recount), literal children per node, methods per
//!   node, path depth, schema depth and properties per schema node, and the per-endpoint maps
//!   (query, headers, cookies, media types, statuses); gRPC methods per service, their path
//!   shape, status codes, protobuf fields per message and message depth; `Host` values kept
//!   as evidence per service ([`apitap_model::model::MAX_HOSTS`]).

use apitap_model::endpoint::{Body, Endpoint};
use apitap_model::model::{SourceModel, MAX_HOSTS, MAX_NODES, MAX_SERVICES, MODEL_VERSION};
use apitap_model::paths::{PathNode, MAX_LITERALS, MAX_METHODS, MAX_SEGMENTS};
use apitap_model::schema::{SchemaNode, MAX_DEPTH, MAX_PROPS};
use apitap_model::ApiModel;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::io::Read;

/// Limits on one push body.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest body after decompression, bytes.
    pub max_decompressed: usize,
    /// Most JSON values (scalars, array elements, object members) in one body.
    pub max_values: u64,
    /// Deepest JSON nesting.
    pub max_depth: u32,
    /// Most sources in one push.
    pub max_sources: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_decompressed: 64 << 20,
            max_values: 2_000_000,
            max_depth: 120,
            max_sources: 64,
        }
    }
}

/// Why a body was refused: the status tells the class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// 400: not gzip, not JSON, not a model.
    Malformed(String),
    /// 413: over a size, value or depth budget.
    TooLarge(String),
    /// 415: unsupported content encoding.
    Encoding(String),
    /// 422: a valid model over the learner's caps or of another version.
    Invalid(String),
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rejection::Malformed(s)
            | Rejection::TooLarge(s)
            | Rejection::Encoding(s)
            | Rejection::Invalid(s) => f.write_str(s),
        }
    }
}

const OVER_DECOMPRESSED: &str = "apitap: decompressed body over the limit";

/// A reader that fails after `left` bytes.
struct Capped<R> {
    inner: R,
    left: usize,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            // Is there more? One byte tells.
            let mut one = [0u8; 1];
            return match self.inner.read(&mut one)? {
                0 => Ok(0),
                _ => Err(std::io::Error::other(OVER_DECOMPRESSED)),
            };
        }
        let n = buf.len().min(self.left);
        let got = self.inner.read(&mut buf[..n])?;
        self.left -= got;
        Ok(got)
    }
}

fn reader<'a>(
    encoding: &str,
    body: &'a [u8],
    limit: usize,
) -> Result<Box<dyn Read + 'a>, Rejection> {
    let inner: Box<dyn Read + 'a> = match encoding {
        "" | "identity" => Box::new(body),
        "gzip" | "x-gzip" => Box::new(flate2::read::MultiGzDecoder::new(body)),
        other => {
            return Err(Rejection::Encoding(format!(
                "unsupported Content-Encoding {other:?} (use gzip or none)"
            )))
        }
    };
    Ok(Box::new(std::io::BufReader::with_capacity(
        64 << 10,
        Capped { inner, left: limit },
    )))
}

fn json_error(e: serde_json::Error, limits: &Limits, what: &str) -> Rejection {
    let msg = e.to_string();
    if msg.contains(OVER_DECOMPRESSED) {
        return Rejection::TooLarge(format!(
            "decompressed body exceeds {} bytes",
            limits.max_decompressed
        ));
    }
    if msg.contains(BUDGET) {
        return Rejection::TooLarge(format!(
            "model too large: more than {} JSON values or deeper than {} levels",
            limits.max_values, limits.max_depth
        ));
    }
    if e.is_io() {
        return Rejection::Malformed(format!("body is not valid gzip: {msg}"));
    }
    Rejection::Malformed(format!("invalid apitap model ({what}): {msg}"))
}

const BUDGET: &str = "apitap: value budget exceeded";

/// Pass 1 state.
struct Budget {
    values: Cell<u64>,
    max_values: u64,
    max_depth: u32,
}

impl Budget {
    fn count<E: de::Error>(&self) -> Result<(), E> {
        let v = self.values.get() + 1;
        self.values.set(v);
        if v > self.max_values {
            return Err(E::custom(BUDGET));
        }
        Ok(())
    }
}

/// Counts one value and everything under it, skipping the content.
struct Count<'b> {
    b: &'b Budget,
    depth: u32,
}

impl<'de> DeserializeSeed<'de> for Count<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.b.count()?;
        if self.depth > self.b.max_depth {
            return Err(de::Error::custom(BUDGET));
        }
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Count<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<(), A::Error> {
        while a
            .next_element_seed(Count {
                b: self.b,
                depth: self.depth + 1,
            })?
            .is_some()
        {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<(), A::Error> {
        while a.next_key::<IgnoredAny>()?.is_some() {
            a.next_value_seed(Count {
                b: self.b,
                depth: self.depth + 1,
            })?;
        }
        Ok(())
    }
}

/// The top level of pass 1: counts and reads `apitap_model_version`.
struct Top<'b>(&'b Budget);

impl<'de> DeserializeSeed<'de> for Top<'_> {
    type Value = Option<u64>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<u64>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Top<'_> {
    type Value = Option<u64>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an apitap model object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Option<u64>, A::Error> {
        let mut version = None;
        while let Some(k) = a.next_key::<KeyIs>()? {
            if k.0 {
                self.0.count()?;
                version = a.next_value::<Option<u64>>()?;
            } else {
                a.next_value_seed(Count {
                    b: self.0,
                    depth: 1,
                })?;
            }
        }
        Ok(version)
    }
}

/// A key, remembered only as "is it `apitap_model_version`".
struct KeyIs(bool);

impl<'de> Deserialize<'de> for KeyIs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<KeyIs, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = KeyIs;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E>(self, s: &str) -> Result<KeyIs, E> {
                Ok(KeyIs(s == "apitap_model_version"))
            }
        }
        d.deserialize_str(V)
    }
}

/// The native model file, typed (unknown fields are skipped while streaming).
#[derive(Deserialize)]
struct PushFile {
    sources: BTreeMap<String, SourceModel>,
}

/// Decodes, budgets, parses and checks one push body (see the module doc).
pub fn parse_push(encoding: &str, body: &[u8], limits: &Limits) -> Result<ApiModel, Rejection> {
    // Pass 1.
    let budget = Budget {
        values: Cell::new(0),
        max_values: limits.max_values,
        max_depth: limits.max_depth,
    };
    let mut de =
        serde_json::Deserializer::from_reader(reader(encoding, body, limits.max_decompressed)?);
    let version = Top(&budget)
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v))
        .map_err(|e| json_error(e, limits, "not a JSON object"))?;
    let version = version.unwrap_or(0);
    if version != u64::from(MODEL_VERSION) {
        return Err(Rejection::Invalid(format!(
            "unsupported apitap_model_version {version} (this build reads {MODEL_VERSION})"
        )));
    }
    // Pass 2.
    let mut de =
        serde_json::Deserializer::from_reader(reader(encoding, body, limits.max_decompressed)?);
    let f = PushFile::deserialize(&mut de)
        .and_then(|f| de.end().map(|()| f))
        .map_err(|e| json_error(e, limits, "shape"))?;
    let mut m = ApiModel { sources: f.sources };
    check_caps(&mut m, limits).map_err(Rejection::Invalid)?;
    Ok(m)
}

/// Checks the learner's caps on a parsed model and recounts what the body claims.
pub fn check_caps(m: &mut ApiModel, limits: &Limits) -> Result<(), String> {
    if m.sources.len() > limits.max_sources {
        return Err(format!(
            "{} sources in one push (at most {})",
            m.sources.len(),
            limits.max_sources
        ));
    }
    for (src, s) in &mut m.sources {
        if s.services.len() > MAX_SERVICES {
            return Err(format!(
                "source {src:?}: {} services (at most {MAX_SERVICES})",
                s.services.len()
            ));
        }
        for (name, svc) in &mut s.services {
            let mut nodes = 0u64;
            check_node(&svc.root, 0, &mut nodes)
                .map_err(|e| format!("source {src:?}, service {name:?}: {e}"))?;
            svc.nodes = nodes;
            check_grpc_methods(svc)
                .map_err(|e| format!("source {src:?}, service {name:?}: {e}"))?;
            if svc.hosts.len() > MAX_HOSTS {
                return Err(format!(
                    "source {src:?}, service {name:?}: {} Host values (at most {MAX_HOSTS})",
                    svc.hosts.len()
                ));
            }
        }
    }
    Ok(())
}

fn check_node(n: &PathNode, depth: usize, nodes: &mut u64) -> Result<(), String> {
    if depth > MAX_SEGMENTS {
        return Err(format!("path deeper than {MAX_SEGMENTS} segments"));
    }
    if n.lits.len() > MAX_LITERALS {
        return Err(format!(
            "{} literal children on one node (at most {MAX_LITERALS})",
            n.lits.len()
        ));
    }
    if n.eps.len() > MAX_METHODS {
        return Err(format!(
            "{} methods on one path (at most {MAX_METHODS})",
            n.eps.len()
        ));
    }
    for e in n.eps.values() {
        check_endpoint(e)?;
    }
    if let Some(v) = &n.values {
        check_schema(v, 0)?;
    }
    for c in n.lits.values().chain(n.param.as_deref()) {
        *nodes += 1;
        if *nodes > MAX_NODES {
            return Err(format!("more than {MAX_NODES} path nodes"));
        }
        check_node(c, depth + 1, nodes)?;
    }
    Ok(())
}

/// gRPC methods (kept beside the trie): count, path shape, and each method's evidence.
fn check_grpc_methods(svc: &apitap_model::model::ServiceModel) -> Result<(), String> {
    use apitap_model::model::MAX_GRPC_METHODS;
    if svc.grpc.len() > MAX_GRPC_METHODS {
        return Err(format!(
            "{} gRPC methods (at most {MAX_GRPC_METHODS})",
            svc.grpc.len()
        ));
    }
    for (path, e) in &svc.grpc {
        if apitap_model::grpc::method_path(path).is_none() {
            return Err("a gRPC method path that is not /pkg.Service/Method".into());
        }
        check_endpoint(e)?;
    }
    Ok(())
}

fn check_endpoint(e: &Endpoint) -> Result<(), String> {
    use apitap_model::endpoint::{MAX_COOKIES, MAX_HEADERS, MAX_MEDIA, MAX_QUERY, MAX_STATUS};
    let over = |what: &str, n: usize, max: usize| -> Result<(), String> {
        if n > max {
            return Err(format!("{n} {what} on one endpoint (at most {max})"));
        }
        Ok(())
    };
    over("query parameters", e.query.len(), MAX_QUERY)?;
    over("headers", e.headers.len(), MAX_HEADERS)?;
    over("cookies", e.cookies.len(), MAX_COOKIES)?;
    over("auth schemes", e.auth.len(), 8)?;
    over("request media types", e.req.len(), MAX_MEDIA)?;
    over("request media types", e.req_err.len(), MAX_MEDIA)?;
    over("statuses", e.resp.len(), MAX_STATUS)?;
    for s in e.query.values().chain(e.headers.values()) {
        check_schema(s, 0)?;
    }
    let bodies = |b: &BTreeMap<String, Body>| -> Result<(), String> {
        b.values().try_for_each(|b| check_schema(&b.schema, 0))
    };
    bodies(&e.req)?;
    bodies(&e.req_err)?;
    for r in e.resp.values() {
        over("response media types", r.content.len(), MAX_MEDIA)?;
        over("response headers", r.headers.len(), MAX_HEADERS)?;
        bodies(&r.content)?;
    }
    if let Some(g) = &e.grpc {
        g.check_caps()?;
    }
    Ok(())
}

fn check_schema(s: &SchemaNode, depth: usize) -> Result<(), String> {
    // The learner stops descending at MAX_DEPTH; one more level holds the leaf evidence.
    if depth > MAX_DEPTH + 1 {
        return Err(format!("schema deeper than {MAX_DEPTH} levels"));
    }
    if s.props.len() > MAX_PROPS {
        return Err(format!(
            "{} properties on one schema (at most {MAX_PROPS})",
            s.props.len()
        ));
    }
    for c in s
        .props
        .values()
        .chain(s.additional.as_deref())
        .chain(s.items.as_deref())
    {
        check_schema(c, depth + 1)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model_json(nodes: usize) -> String {
        let lits: Vec<String> = (0..nodes)
            .map(|i| format!("\"l{i}\":{{\"hits\":1}}"))
            .collect();
        format!(
            "{{\"apitap_model_version\":{MODEL_VERSION},\"sources\":{{\"a\":{{\"services\":{{\"s\":{{\"root\":{{\"hits\":1,\"lits\":{{{}}}}},\"nodes\":1}}}},\"stats\":{{\"observed\":1}}}}}}}}",
            lits.join(",")
        )
    }

    #[test]
    fn host_evidence_over_the_learner_cap_is_refused() {
        let hosts = |n: usize| -> String {
            let h: serde_json::Map<String, serde_json::Value> =
                (0..n).map(|i| (format!("h{i}.test"), 1.into())).collect();
            serde_json::json!({
                "apitap_model_version": MODEL_VERSION,
                "sources": {"a": {
                    "services": {"s": {"root": {"hits": 1}, "nodes": 1, "hosts": h}},
                    "stats": {"observed": 1}
                }}
            })
            .to_string()
        };
        let ok = parse_push("", hosts(MAX_HOSTS).as_bytes(), &Limits::default());
        assert!(ok.is_ok(), "{:?}", ok.err());
        let err = parse_push("", hosts(MAX_HOSTS + 1).as_bytes(), &Limits::default())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("Host values"), "got {err:?}");
    }

    #[test]
    fn accepts_a_model_and_recounts_nodes() {
        let m = parse_push("", model_json(3).as_bytes(), &Limits::default()).unwrap();
        assert_eq!(m.sources["a"].services["s"].nodes, 3, "the body said 1");
    }

    #[test]
    fn grpc_caps_are_enforced() {
        let learned = |pb: &[u8]| {
            let mut m = ApiModel::new();
            m.observe(
                &apitap_model::Observation {
                    service: "s".into(),
                    method: "POST".into(),
                    target: "/p.S/M".into(),
                    status: Some(200),
                    grpc: Some(apitap_model::GrpcCall {
                        request_messages: vec![pb.to_vec()],
                        response_messages: vec![],
                        status: Some(0),
                    }),
                    ..Default::default()
                },
                &apitap_model::LearnConfig::default(),
            );
            m.to_json()
        };
        let ok = learned(&[0x08, 0x01]);
        assert!(parse_push("", ok.as_bytes(), &Limits::default()).is_ok());
        // a pushed field number the decoder can never produce
        let bad = ok.replace("\"fields\":{\"1\"", "\"fields\":{\"0\"");
        assert_ne!(bad, ok);
        let r = parse_push("", bad.as_bytes(), &Limits::default());
        assert!(
            matches!(r, Err(Rejection::Invalid(ref s)) if s.contains("field number")),
            "{r:?}"
        );
        // a gRPC method path of the wrong shape
        let bad = ok.replace("\"/p.S/M\"", "\"/p.S/M/x\"");
        assert_ne!(bad, ok);
        let r = parse_push("", bad.as_bytes(), &Limits::default());
        assert!(matches!(r, Err(Rejection::Invalid(_))), "{r:?}");
    }

    #[test]
    fn literal_cap_is_enforced() {
        let r = parse_push(
            "",
            model_json(MAX_LITERALS + 1).as_bytes(),
            &Limits::default(),
        );
        assert!(
            matches!(r, Err(Rejection::Invalid(ref s)) if s.contains("literal")),
            "{r:?}"
        );
    }

    #[test]
    fn value_budget_and_depth_are_enforced() {
        let limits = Limits {
            max_values: 50,
            ..Limits::default()
        };
        let r = parse_push("", model_json(40).as_bytes(), &limits);
        assert!(matches!(r, Err(Rejection::TooLarge(_))), "{r:?}");
        let deep = format!(
            "{{\"apitap_model_version\":1,\"x\":{}{}}}",
            "[".repeat(200),
            "]".repeat(200)
        );
        let r = parse_push("", deep.as_bytes(), &Limits::default());
        assert!(matches!(r, Err(Rejection::TooLarge(_))), "{r:?}");
    }

    #[test]
    fn unknown_fields_are_skipped_and_version_checked() {
        let body = format!("{{\"junk\":[1,2,{{\"a\":\"b\"}}],{}", &model_json(1)[1..]);
        assert!(parse_push("", body.as_bytes(), &Limits::default()).is_ok());
        let r = parse_push(
            "",
            b"{\"apitap_model_version\":99,\"sources\":{}}",
            &Limits::default(),
        );
        assert!(matches!(r, Err(Rejection::Invalid(_))), "{r:?}");
        let r = parse_push("", b"[1,2]", &Limits::default());
        assert!(matches!(r, Err(Rejection::Malformed(_))), "{r:?}");
        let r = parse_push("br", b"{}", &Limits::default());
        assert!(matches!(r, Err(Rejection::Encoding(_))), "{r:?}");
    }

    #[test]
    fn decompressed_cap_is_enforced_while_streaming() {
        use std::io::Write;
        let body = format!(
            "{{\"apitap_model_version\":1,\"junk\":\"{}\",\"sources\":{{}}}}",
            "a".repeat(1 << 20)
        );
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(body.as_bytes()).unwrap();
        let gz = e.finish().unwrap();
        let limits = Limits {
            max_decompressed: 1 << 19,
            ..Limits::default()
        };
        let r = parse_push("gzip", &gz, &limits);
        assert!(
            matches!(r, Err(Rejection::TooLarge(ref s)) if s.contains("decompressed")),
            "{r:?}"
        );
        assert!(parse_push("gzip", &gz, &Limits::default()).is_ok());
        let r = parse_push("gzip", b"not gzip", &Limits::default());
        assert!(matches!(r, Err(Rejection::Malformed(_))), "{r:?}");
    }
}
