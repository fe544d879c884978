//! gRPC evidence of one operation (`POST /pkg.Service/Method`): message schemas, status
//! codes and streaming kind.
//!
//! Policy:
//! - A gRPC method is an exact name: an observation with [`crate::Observation::grpc`] set
//!   and a `/pkg.Service/Method` path (neither part identifier-like, see [`method_path`])
//!   is kept in [`crate::model::ServiceModel::grpc`] beside
//!   the path trie and is never templated (at most [`crate::model::MAX_GRPC_METHODS`] per
//!   service; further methods are counted in `node_overflow` and flag `grpc_overflow`).
//! - Request and response messages are inferred with [`crate::protobuf`]; a message that
//!   does not decode is counted (`unparsed`), never stored.
//! - `grpc-status` codes are counted per code (at most [`MAX_GRPC_STATUS`] codes; further
//!   ones set `overflow`); calls without a status are counted in `no_status`.
//! - Streaming kind from message counts: a call with more than one request message makes the
//!   method client-streaming, more than one response message server-streaming, both bidi.
//!   A streaming call that happened to carry one message is indistinguishable from unary;
//!   the kind only ever widens as evidence grows (counts merged by max or sum).

use crate::evidence::{cnt, combine_map, is_false, is_zero, Combine, Mode};
use crate::observation::GrpcCall;
use crate::protobuf::MessageSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Max distinct `grpc-status` codes per operation.
pub const MAX_GRPC_STATUS: usize = 32;

/// Streaming kind of a gRPC method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Streaming {
    /// One request, one response.
    Unary,
    /// One request, a stream of responses.
    Server,
    /// A stream of requests, one response.
    Client,
    /// Streams both ways.
    Bidi,
}

impl Streaming {
    /// `unary`, `server`, `client` or `bidi`.
    pub fn name(self) -> &'static str {
        match self {
            Streaming::Unary => "unary",
            Streaming::Server => "server",
            Streaming::Client => "client",
            Streaming::Bidi => "bidi",
        }
    }
}

/// Evidence for the gRPC side of one operation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GrpcEvidence {
    /// Calls observed.
    pub calls: u64,
    /// Request message schema.
    #[serde(default)]
    pub request: MessageSchema,
    /// Response message schema.
    #[serde(default)]
    pub response: MessageSchema,
    /// Calls with more than one request message.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub multi_request: u64,
    /// Calls with more than one response message.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub multi_response: u64,
    /// `grpc-status` codes with counts.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub status: BTreeMap<u32, u64>,
    /// Calls without a `grpc-status`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub no_status: u64,
    /// A cap was hit.
    #[serde(default, skip_serializing_if = "is_false")]
    pub overflow: bool,
}

impl Combine for GrpcEvidence {
    fn combine(&mut self, o: &Self, m: Mode) {
        cnt(&mut self.calls, o.calls, m);
        self.request.combine(&o.request, m);
        self.response.combine(&o.response, m);
        cnt(&mut self.multi_request, o.multi_request, m);
        cnt(&mut self.multi_response, o.multi_response, m);
        self.overflow |= combine_map(&mut self.status, &o.status, m, MAX_GRPC_STATUS);
        cnt(&mut self.no_status, o.no_status, m);
        self.overflow |= o.overflow;
    }
}

impl GrpcEvidence {
    /// Record one call.
    pub fn observe(&mut self, call: &GrpcCall) {
        self.calls += 1;
        for m in &call.request_messages {
            let _ = self.request.observe(m);
        }
        for m in &call.response_messages {
            let _ = self.response.observe(m);
        }
        if call.request_messages.len() > 1 {
            self.multi_request += 1;
        }
        if call.response_messages.len() > 1 {
            self.multi_response += 1;
        }
        match call.status {
            None => self.no_status += 1,
            Some(s) => {
                if let Some(c) = self.status.get_mut(&s) {
                    *c += 1;
                } else if self.status.len() < MAX_GRPC_STATUS {
                    self.status.insert(s, 1);
                } else {
                    self.overflow = true;
                }
            }
        }
    }

    /// Check a deserialised (untrusted) value against the learner's caps: status codes,
    /// field numbers per message, and message nesting depth.
    pub fn check_caps(&self) -> Result<(), String> {
        if self.status.len() > MAX_GRPC_STATUS {
            return Err(format!(
                "{} grpc status codes on one method (at most {MAX_GRPC_STATUS})",
                self.status.len()
            ));
        }
        self.request.check_caps(0)?;
        self.response.check_caps(0)
    }

    /// Streaming kind from the evidence.
    pub fn streaming(&self) -> Streaming {
        match (self.multi_request > 0, self.multi_response > 0) {
            (false, false) => Streaming::Unary,
            (false, true) => Streaming::Server,
            (true, false) => Streaming::Client,
            (true, true) => Streaming::Bidi,
        }
    }
}

/// Describe a gRPC operation in its OpenAPI operation object: `application/grpc` request
/// and response content with the message schemas (fields `field_N`), and `x-apitap-grpc`
/// with the service, method, streaming kind and the status codes seen (`status-counts` only
/// with `evidence`).
pub(crate) fn openapi_extend(
    op: &mut Map<String, Value>,
    path: &str,
    g: &GrpcEvidence,
    evidence: bool,
) {
    let mut req = json!({"schema": g.request.to_schema(evidence)});
    let mut resp = json!({"schema": g.response.to_schema(evidence)});
    if evidence {
        req["x-apitap-count"] = json!(g.request.n);
        resp["x-apitap-count"] = json!(g.response.n);
        if g.request.unparsed > 0 {
            req["x-apitap-unparsed"] = json!(g.request.unparsed);
        }
        if g.response.unparsed > 0 {
            resp["x-apitap-unparsed"] = json!(g.response.unparsed);
        }
    }
    op.insert(
        "requestBody".into(),
        json!({"required": true, "content": {"application/grpc": req}}),
    );
    if let Some(rs) = op.get_mut("responses").and_then(Value::as_object_mut) {
        let ok: Vec<String> = rs
            .keys()
            .filter(|k| k.starts_with('2') || k.as_str() == "default")
            .cloned()
            .collect();
        for k in ok {
            if let Some(r) = rs.get_mut(&k) {
                r["content"] = json!({"application/grpc": resp.clone()});
            }
        }
    }
    let (service, method) = split_path(path).unwrap_or(("", ""));
    let mut x = json!({
        "service": service,
        "method": method,
        "streaming": g.streaming().name(),
        "status-codes": g.status.keys().map(|c| json!({"code": c, "name": status_name(*c)})).collect::<Vec<_>>(),
    });
    if evidence {
        x["calls"] = json!(g.calls);
        x["status-counts"] = json!(g
            .status
            .iter()
            .map(|(c, n)| (c.to_string(), json!(n)))
            .collect::<Map<String, Value>>());
        if g.no_status > 0 {
            x["no-status"] = json!(g.no_status);
        }
        if g.overflow || g.request.overflow || g.response.overflow {
            x["overflow"] = json!(true);
        }
    }
    op.insert("x-apitap-grpc".into(), x);
}

/// Name of a gRPC status code (`OK`, `NOT_FOUND`, ...), `None` for codes outside 0–16.
pub fn status_name(code: u32) -> Option<&'static str> {
    const NAMES: [&str; 17] = [
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    ];
    NAMES.get(usize::try_from(code).ok()?).copied()
}

/// [`split_path`] for a path kept as an exact method name: neither part may look like an
/// identifier or a sensitive value (classified like path segments, see
/// [`crate::classify::classify_segment`]); such a path is templated like any other instead.
pub fn method_path(path: &str) -> Option<(&str, &str)> {
    let (svc, method) = split_path(path)?;
    let plain = |s: &str| !crate::classify::classify_segment(s).is_id_like();
    (plain(svc) && plain(method)).then_some((svc, method))
}

/// Split a gRPC path `/pkg.Service/Method` into (`pkg.Service`, `Method`); `None` if the
/// path does not have that shape.
pub fn split_path(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix('/')?;
    let (svc, method) = rest.split_once('/')?;
    let ident = |s: &str, dots: bool| {
        !s.is_empty()
            && s.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'_' || (dots && c == b'.'))
            && !s.starts_with('.')
            && !s.ends_with('.')
            && !s.contains("..")
    };
    (ident(svc, true) && ident(method, false)).then_some((svc, method))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streaming_and_status() {
        let mut g = GrpcEvidence::default();
        g.observe(&GrpcCall {
            request_messages: vec![vec![0x08, 0x01]],
            response_messages: vec![vec![0x08, 0x02], vec![0x08, 0x03]],
            status: Some(0),
        });
        assert_eq!(g.streaming(), Streaming::Server);
        g.observe(&GrpcCall {
            request_messages: vec![vec![0x08, 0x01], vec![0x08]],
            response_messages: vec![],
            status: Some(5),
        });
        assert_eq!(g.streaming(), Streaming::Bidi);
        assert_eq!(g.request.unparsed, 1);
        assert_eq!(g.status.get(&5), Some(&1));
        assert_eq!(status_name(5), Some("NOT_FOUND"));
        assert_eq!(status_name(99), None);
        assert_eq!(split_path("/a.b.Svc/Get"), Some(("a.b.Svc", "Get")));
        assert_eq!(split_path("/a..b/Get"), None);
        assert_eq!(split_path("/users/1/x"), None);
    }
}
