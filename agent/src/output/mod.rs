//! Stage 6 — output: exchanges printed as JSON lines or HAR 1.2, in capture order of the
//! request.
//!
//! Exchanges complete out of order (a slow response on one connection, fast ones on others),
//! so [`Reorderer`] holds finished exchanges until every exchange that *started* earlier has
//! finished too. It is bounded: past its cap it releases the oldest finished exchange early
//! and counts it in [`ReorderStats::forced`]; order is then best-effort, never unbounded.
//!
//! Writers: [`jsonl::JsonlWriter`] (one JSON object per line; the field names are the public
//! interface, see the README) and [`har::HarWriter`] (HAR 1.2, streamed, for Postman,
//! browsers and mitmproxy2swagger).

pub mod har;
pub mod jsonl;
mod order;

pub use order::{ReorderStats, Reorderer};

use apitap_engine::http::Exchange;
use std::io;

/// A destination for finished exchanges.
pub trait ExchangeWriter {
    /// Writes one exchange.
    fn write(&mut self, ex: &Exchange) -> io::Result<()>;
    /// Writes any trailer and flushes.
    fn finish(&mut self) -> io::Result<()>;
}

/// The first value of header `name` (ASCII case-insensitive).
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// A body as text if it is valid UTF-8, else as base64: `(text, is_base64)`.
pub fn body_text(body: &[u8]) -> (std::borrow::Cow<'_, str>, bool) {
    use base64::Engine as _;
    match std::str::from_utf8(body) {
        Ok(s) => (std::borrow::Cow::Borrowed(s), false),
        Err(_) => (
            std::borrow::Cow::Owned(base64::engine::general_purpose::STANDARD.encode(body)),
            true,
        ),
    }
}
