//! gRPC over HTTP/2: length-prefixed messages and status, from an exchange.
//!
//! A gRPC call is an HTTP/2 exchange with `content-type: application/grpc[+proto|;...]`.
//! Each body is a sequence of messages, each prefixed by a compressed flag byte and a 4-byte
//! big-endian length. The operation is the `:path`, `/pkg.Service/Method`.
//!
//! Policies:
//! - Messages are split from the exchange's decoded body as kept by the HTTP/2 parser (so
//!   they exist only when bodies are kept, and stop at the body cap: a message cut by the cap
//!   is dropped and counted in [`Messages::truncated`]).
//! - A message with the compressed flag is decompressed with the call's `grpc-encoding`
//!   (`gzip`, `deflate`); an unknown encoding or a failed decompression drops that message
//!   (counted in [`Messages::undecodable`]) — compressed bytes are never handed on as if they
//!   were protobuf.
//! - Caps: at most [`GrpcLimits::max_messages`] messages kept per direction (the rest are
//!   counted in [`Messages::count`] only) and [`GrpcLimits::max_message_len`] bytes per
//!   decompressed message (longer ones dropped and counted in [`Messages::over_cap`]).
//! - Status: `grpc-status` from the response's trailers, or from its headers for a
//!   trailers-only response (both end up in the response header list). `grpc-message` is a
//!   captured value and is not exposed.

use crate::exchange::{Exchange, MessageHead};
use std::io::Read;

/// Caps on the messages kept per call.
#[derive(Copy, Clone, Debug)]
pub struct GrpcLimits {
    /// Messages kept per direction.
    pub max_messages: usize,
    /// Largest (decompressed) message kept.
    pub max_message_len: usize,
}

impl Default for GrpcLimits {
    fn default() -> Self {
        GrpcLimits {
            max_messages: 32,
            max_message_len: 256 << 10,
        }
    }
}

/// The messages of one direction of a call.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Messages {
    /// Kept messages (decompressed, without the prefix), in order.
    pub messages: Vec<Vec<u8>>,
    /// All messages framed in the body (kept or not).
    pub count: u64,
    /// Messages dropped because their compression could not be undone.
    pub undecodable: u64,
    /// Messages dropped at the size or count cap.
    pub over_cap: u64,
    /// The body ended inside a message (cut at the body cap, or the stream was cut).
    pub truncated: bool,
}

/// The gRPC view of an exchange.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Call {
    /// Request messages.
    pub request: Messages,
    /// Response messages.
    pub response: Messages,
    /// `grpc-status`, if seen and numeric.
    pub status: Option<u32>,
}

/// The streaming kind implied by message counts.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// One request message, at most one response message.
    Unary,
    /// One request, several responses.
    ServerStreaming,
    /// Several requests, at most one response.
    ClientStreaming,
    /// Several of both.
    Bidi,
}

impl Call {
    /// The streaming kind this call's message counts show (one call can only show a lower
    /// bound: a server-streaming method that sent one message looks unary).
    pub fn kind(&self) -> Kind {
        match (self.request.count > 1, self.response.count > 1) {
            (false, false) => Kind::Unary,
            (false, true) => Kind::ServerStreaming,
            (true, false) => Kind::ClientStreaming,
            (true, true) => Kind::Bidi,
        }
    }
}

/// Is this a gRPC content type (`application/grpc`, `application/grpc+proto`, ...)?
pub fn is_grpc_content_type(ct: &str) -> bool {
    let ct = ct.trim();
    let Some(rest) = ct
        .get(..16)
        .filter(|p| p.eq_ignore_ascii_case("application/grpc"))
        .and_then(|_| ct.get(16..))
    else {
        return false;
    };
    rest.is_empty() || rest.starts_with('+') || rest.starts_with(';')
}

/// Is `ex` a gRPC call? (Its request's content type says so.)
pub fn is_grpc(ex: &Exchange) -> bool {
    ex.request
        .as_ref()
        .and_then(|r| r.header("content-type"))
        .is_some_and(is_grpc_content_type)
}

/// `grpc-status` of the response (trailers or trailers-only headers).
pub fn status(ex: &Exchange) -> Option<u32> {
    let r = ex.response.as_ref()?;
    r.header("grpc-status")?.trim().parse().ok()
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Encoding {
    Identity,
    Gzip,
    Deflate,
    Unknown,
}

fn encoding(h: &MessageHead) -> Encoding {
    match h.header("grpc-encoding").map(str::trim) {
        None => Encoding::Identity,
        Some(e) if e.eq_ignore_ascii_case("identity") => Encoding::Identity,
        Some(e) if e.eq_ignore_ascii_case("gzip") => Encoding::Gzip,
        Some(e) if e.eq_ignore_ascii_case("deflate") => Encoding::Deflate,
        Some(_) => Encoding::Unknown,
    }
}

/// Decompress at most `max + 1` bytes (so an over-long result is detected, not kept).
fn inflate(enc: Encoding, data: &[u8], max: usize) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let limit = max as u64 + 1;
    let r = match enc {
        Encoding::Gzip => flate2::read::GzDecoder::new(data)
            .take(limit)
            .read_to_end(&mut out),
        Encoding::Deflate => flate2::read::ZlibDecoder::new(data)
            .take(limit)
            .read_to_end(&mut out),
        Encoding::Identity | Encoding::Unknown => return None,
    };
    r.ok().map(|_| out)
}

/// Split a body into its length-prefixed messages.
pub fn split(body: &[u8], headers: &MessageHead, limits: &GrpcLimits) -> Messages {
    let enc = encoding(headers);
    let mut m = Messages::default();
    let mut rest = body;
    while !rest.is_empty() {
        let Some((&flag, after)) = rest.split_first() else {
            break;
        };
        let Some(len) = after
            .get(..4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(|b| u32::from_be_bytes(b) as usize)
        else {
            m.truncated = true;
            break;
        };
        let Some(payload) = after.get(4..).and_then(|p| p.get(..len)) else {
            m.truncated = true;
            break;
        };
        rest = after.get(4 + len..).unwrap_or(&[]);
        m.count += 1;
        if m.messages.len() >= limits.max_messages {
            m.over_cap += 1;
            continue;
        }
        let msg = if flag & 1 != 0 {
            match inflate(enc, payload, limits.max_message_len) {
                Some(v) => v,
                None => {
                    m.undecodable += 1;
                    continue;
                }
            }
        } else {
            payload.to_vec()
        };
        if msg.len() > limits.max_message_len {
            m.over_cap += 1;
            continue;
        }
        m.messages.push(msg);
    }
    m
}

/// The gRPC view of `ex`, if it is a gRPC call.
pub fn call(ex: &Exchange, limits: &GrpcLimits) -> Option<Call> {
    if !is_grpc(ex) {
        return None;
    }
    let req = ex.request.as_ref()?;
    let request = split(req.body.as_deref().unwrap_or(&[]), &req.head, limits);
    let response = ex
        .response
        .as_ref()
        .map(|r| split(r.body.as_deref().unwrap_or(&[]), &r.head, limits))
        .unwrap_or_default();
    Some(Call {
        request,
        response,
        status: status(ex),
    })
}

/// The `/pkg.Service/Method` path split into service and method, if it has that shape.
pub fn service_method(path: &str) -> Option<(&str, &str)> {
    let p = path.strip_prefix('/')?;
    let (svc, method) = p.split_once('/')?;
    if svc.is_empty() || method.is_empty() || method.contains('/') || method.contains('?') {
        return None;
    }
    Some((svc, method))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn frame(flag: u8, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![flag];
        v.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        v.extend_from_slice(payload);
        v
    }

    fn gzip(b: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(b).unwrap();
        e.finish().unwrap()
    }

    fn hdrs(v: &[(&str, &str)]) -> MessageHead {
        v.iter()
            .fold(MessageHead::default(), |h, (a, b)| h.with_header(a, b))
    }

    #[test]
    fn content_types() {
        assert!(is_grpc_content_type("application/grpc"));
        assert!(is_grpc_content_type("application/grpc+proto"));
        assert!(is_grpc_content_type("Application/GRPC; charset=x"));
        assert!(!is_grpc_content_type("application/grpc-web"));
        assert!(!is_grpc_content_type("application/json"));
        assert!(!is_grpc_content_type("applica"));
    }

    #[test]
    fn splits_plain_and_gzip_messages() {
        let mut body = frame(0, b"\x08\x01");
        body.extend(frame(1, &gzip(b"\x12\x03abc")));
        body.extend(frame(0, b""));
        let m = split(
            &body,
            &hdrs(&[("grpc-encoding", "gzip")]),
            &GrpcLimits::default(),
        );
        assert_eq!(
            m.messages,
            vec![b"\x08\x01".to_vec(), b"\x12\x03abc".to_vec(), vec![]]
        );
        assert_eq!(m.count, 3);
        assert!(!m.truncated);
    }

    #[test]
    fn compressed_without_known_encoding_is_dropped() {
        let body = frame(1, &gzip(b"x"));
        let m = split(
            &body,
            &hdrs(&[("grpc-encoding", "snappy")]),
            &GrpcLimits::default(),
        );
        assert_eq!((m.count, m.undecodable, m.messages.len()), (1, 1, 0));
        let m = split(
            &frame(1, b"not gzip"),
            &hdrs(&[("grpc-encoding", "gzip")]),
            &GrpcLimits::default(),
        );
        assert_eq!((m.count, m.undecodable), (1, 1));
    }

    #[test]
    fn caps_and_truncation() {
        let lim = GrpcLimits {
            max_messages: 2,
            max_message_len: 4,
        };
        let mut body = Vec::new();
        for p in [&b"ab"[..], b"abcdef", b"cd", b"ef"] {
            body.extend(frame(0, p));
        }
        let m = split(&body, &MessageHead::default(), &lim);
        assert_eq!(m.messages, vec![b"ab".to_vec(), b"cd".to_vec()]);
        assert_eq!((m.count, m.over_cap), (4, 2));
        // a gzip bomb stops at the cap
        let bomb = frame(1, &gzip(&[0u8; 100_000]));
        let m = split(&bomb, &hdrs(&[("grpc-encoding", "gzip")]), &lim);
        assert_eq!((m.count, m.over_cap, m.messages.len()), (1, 1, 0));
        // cut inside a prefix and inside a payload
        let m = split(&frame(0, b"abc")[..3], &MessageHead::default(), &lim);
        assert!(m.truncated && m.count == 0);
        let m = split(&frame(0, b"abc")[..7], &MessageHead::default(), &lim);
        assert!(m.truncated && m.count == 0);
    }

    #[test]
    fn service_and_method() {
        assert_eq!(service_method("/pkg.Svc/Get"), Some(("pkg.Svc", "Get")));
        assert_eq!(service_method("/a/b/c"), None);
        assert_eq!(service_method("/x"), None);
        assert_eq!(service_method("/x/"), None);
    }
}
