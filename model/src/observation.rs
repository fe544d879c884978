//! The learner's input: one decoded HTTP request/response exchange.
//!
//! A gRPC call is an observation too: method `POST`, target `/pkg.Service/Method`, and
//! [`Observation::grpc`] set to the call's length-prefixed messages (decompressed, already
//! capped by the engine) and its `grpc-status`. The learner infers protobuf message schemas
//! from those messages instead of reading the bodies.

use serde::{Deserialize, Serialize};

/// One request/response exchange, decoded (bodies de-chunked and content-decoded).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// Host header (without default port), else the server `ip:port`.
    pub service: String,
    /// `ip:port` of the server, used for `servers` in the export.
    pub server: Option<String>,
    /// Request method as on the wire (`GET`, `POST`, ...).
    pub method: String,
    /// Request-target as on the wire: `path?query` (may be absolute-form).
    pub target: String,
    /// Request headers in wire order.
    pub request_headers: Vec<(String, String)>,
    /// Decoded request body, maybe capped.
    pub request_body: Option<Vec<u8>>,
    /// True if `request_body` was cut at a cap.
    pub request_body_truncated: bool,
    /// Response status, `None` if no response was seen.
    pub status: Option<u16>,
    /// Response headers in wire order.
    pub response_headers: Vec<(String, String)>,
    /// Decoded response body, maybe capped.
    pub response_body: Option<Vec<u8>>,
    /// True if `response_body` was cut at a cap.
    pub response_body_truncated: bool,
    /// Time from request to response, in milliseconds.
    pub latency_ms: Option<f64>,
    /// Request time, unix milliseconds.
    pub ts_unix_ms: i64,
    /// Set for a gRPC call (`content-type: application/grpc*`): its messages and status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc: Option<GrpcCall>,
}

/// The gRPC part of an observation: the messages of one call, in order, and its status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrpcCall {
    /// Request messages (client → server), each decompressed and without the 5-byte
    /// length prefix; the engine caps their number and size.
    #[serde(default)]
    pub request_messages: Vec<Vec<u8>>,
    /// Response messages (server → client), likewise.
    #[serde(default)]
    pub response_messages: Vec<Vec<u8>>,
    /// `grpc-status` from the trailers (or a trailers-only response); `None` if not seen.
    #[serde(default)]
    pub status: Option<u32>,
}

impl Observation {
    /// The first request header with this name (case-insensitive).
    pub fn request_header(&self, name: &str) -> Option<&str> {
        header(&self.request_headers, name)
    }

    /// The first response header with this name (case-insensitive).
    pub fn response_header(&self, name: &str) -> Option<&str> {
        header(&self.response_headers, name)
    }
}

/// The service an exchange belongs to: its Host header without the default port (`:80`),
/// lower-cased; else the server address.
pub fn service_name(host: Option<&str>, server: &str) -> String {
    match host.map(str::trim).filter(|h| !h.is_empty()) {
        Some(h) => h.strip_suffix(":80").unwrap_or(h).to_ascii_lowercase(),
        None => server.to_string(),
    }
}

pub(crate) fn header<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}
