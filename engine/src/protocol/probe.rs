//! Probes: does the start of a byte stream belong to a protocol? Each looks at the first
//! bytes of one direction (SOCKS at both, see [`super::socks::probe`]) and answers
//! [`Probe::Match`], [`Probe::Unsure`] (a prefix of something it would accept) or
//! [`Probe::NoMatch`]. Probes never consume or copy; an empty stream is never a match.

use crate::http::parser::{sniff_request, sniff_response, Verdict};

/// A probe's answer.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Probe {
    /// These bytes are this protocol's.
    Match,
    /// They could become this protocol's: wait for more.
    Unsure,
    /// Not this protocol.
    NoMatch,
}

/// The HTTP/2 client connection preface (RFC 9113 §3.4).
pub const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Bytes start with `prefix` (Match), are a non-empty proper prefix of it (Unsure), or
/// neither (NoMatch; also for no bytes).
fn starts_with(buf: &[u8], prefix: &[u8]) -> Probe {
    if buf.is_empty() {
        Probe::NoMatch
    } else if buf.starts_with(prefix) {
        Probe::Match
    } else if prefix.starts_with(buf) {
        Probe::Unsure
    } else {
        Probe::NoMatch
    }
}

/// The HTTP/2 connection preface (prior knowledge, or the client's first bytes after h2c).
pub fn http2_preface(buf: &[u8]) -> Probe {
    starts_with(buf, H2_PREFACE)
}

/// HTTP/2 frames without a preface: the bytes start with a plausible frame header followed
/// by another one, or by exactly the end of `buf` (see [`crate::http2::looks_like_h2`]).
/// For connections picked up mid-stream, and for a server whose SETTINGS arrive before the
/// client's preface.
pub fn http2_frames(buf: &[u8]) -> Probe {
    if crate::http2::looks_like_h2(buf) {
        Probe::Match
    } else {
        Probe::NoMatch
    }
}

/// A TLS record header of a handshake message: content type 22, major version 3, minor
/// version 0 (SSL 3.0) to 4, as every ClientHello and ServerHello starts.
pub fn tls(buf: &[u8]) -> Probe {
    match buf {
        [] => Probe::NoMatch,
        [0x16] | [0x16, 0x03] => Probe::Unsure,
        [0x16, 0x03, minor, ..] if *minor <= 4 => Probe::Match,
        _ => Probe::NoMatch,
    }
}

/// HTTP/1.x: a request line or a status line, after leading blank lines (the HTTP/1
/// parser's own sniffing). More than `cap` bytes without a verdict is no match; no bytes
/// (or only blank lines) is unsure.
pub fn http1(buf: &[u8], cap: usize) -> Probe {
    let start = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len());
    let view = buf.get(start..).unwrap_or_default();
    let req = sniff_request(view, false);
    let resp = sniff_response(view);
    if req == Verdict::Request || resp == Verdict::Response {
        Probe::Match
    } else if (req == Verdict::Neither && resp == Verdict::Neither) || buf.len() > cap {
        Probe::NoMatch
    } else {
        Probe::Unsure
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preface_prefixes_wait_and_other_methods_do_not() {
        assert_eq!(http2_preface(H2_PREFACE), Probe::Match);
        assert_eq!(http2_preface(b"PRI * HTTP/2.0\r\n"), Probe::Unsure);
        assert_eq!(http2_preface(b"POST / HTTP/1.1\r\n"), Probe::NoMatch);
        assert_eq!(http2_preface(b"PRI * HTTP/1.1\r\n"), Probe::NoMatch);
        assert_eq!(http2_preface(b""), Probe::NoMatch);
    }

    #[test]
    fn tls_record_headers() {
        assert_eq!(tls(b"\x16\x03\x01\x02\x00\x01"), Probe::Match);
        assert_eq!(tls(b"\x16\x03"), Probe::Unsure);
        assert_eq!(tls(b"\x16\x03\x09"), Probe::NoMatch);
        assert_eq!(tls(b"\x17\x03\x03"), Probe::NoMatch);
        assert_eq!(tls(b"GET / HTTP/1.1\r\n"), Probe::NoMatch);
    }

    #[test]
    fn http1_requests_responses_and_garbage() {
        assert_eq!(http1(b"GET / HTTP/1.1\r\n", 100), Probe::Match);
        assert_eq!(http1(b"\r\nHTTP/1.1 200 OK\r\n", 100), Probe::Match);
        assert_eq!(http1(b"GE", 100), Probe::Unsure);
        assert_eq!(http1(b"\r\n", 100), Probe::Unsure);
        assert_eq!(http1(b"\x16\x03\x01", 100), Probe::NoMatch);
        assert_eq!(http1(b"GETGETGETGET", 4), Probe::NoMatch);
    }
}
