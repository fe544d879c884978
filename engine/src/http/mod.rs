//! Stage 5 — HTTP/1.x: each connection's two byte streams → request/response exchanges.
//!
//! Input: the two byte streams of one connection through [`HttpConn`]'s `on_data`, `on_gap`,
//! `on_fin` and `on_close` (the protocol layer drives it once it recognised HTTP/1; so can any
//! driver). Output: [`HttpEvent`]s (from [`crate::exchange`], shared with HTTP/2), and a
//! [`Switch`] when the connection turns to another protocol. Nothing here depends on the
//! protocol layer: it sits above the parsers.
//!
//! - `parser`: lenient start-line and header parsing, recognising HTTP by content.
//! - `body`: chunked transfer coding and content decoding (gzip, deflate, br, stacked),
//!   streaming.
//! - `conn`: [`HttpConn`], the per-connection parser: roles, pairing, gaps, resync. Its
//!   module docs state the policies (what Zeek/libhtp behaviour is followed where); its
//!   files split it by concern: `head` (message heads), `framing` (bodies), `pairing`
//!   (exchange entries and their order), `v09` (HTTP/0.9), `tunnel` (101 and CONNECT),
//!   `gaps` (capture gaps, FIN and close).

pub(crate) mod body;
pub(crate) mod conn;
mod inflate;
pub(crate) mod parser;

pub use conn::{HttpConfig, HttpConn, HttpStats, Switch, SwitchTo};
pub use parser::{ParseError, ParseErrorCounts};

pub use crate::exchange::{Exchange, Flag, Headers, HttpEvent, MessageHead, Request, Response};

use std::net::SocketAddr;
use std::rc::Rc;

/// Decides, at each message head, whether that message's body is kept and content-decoded
/// (a consumer that learns from a sample of the bodies: see `apitap learn`). A body the gate
/// skips is never copied nor decompressed: only its wire length is counted (`body_len` and
/// `wire_len` are then both the de-chunked wire length) and `body` is `None`. Asked only
/// when [`HttpConfig::keep_bodies`] is set, by the HTTP/1 parser; HTTP/2 keeps every body.
/// Called in traffic order on the pipeline's thread, so a deterministic gate gives
/// deterministic decisions.
pub trait BodyGate {
    /// At a request head: keep this request's body? `server` is the server socket. The
    /// answer carries the gate's key for the exchange (what it decides by, computed once):
    /// the connection keeps it with the request, hands it back at the response and puts it
    /// in the [`Exchange`] ([`Exchange::gate_key`]).
    fn request(&self, server: SocketAddr, req: &Request) -> Gated;
    /// At a final response head: keep this response's body? `req` is the request it
    /// answers (`None` for an unpaired response), `key` the key [`BodyGate::request`] gave
    /// for it (`None` when the gate was not asked at its head), `req_kept` whether that
    /// request's body was kept.
    fn response(
        &self,
        server: SocketAddr,
        req: Option<&Request>,
        key: Option<u64>,
        req_kept: bool,
        resp: &Response,
    ) -> bool;
}

/// A [`BodyGate`]'s answer at a request head.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Gated {
    /// Keep the request's body.
    pub keep: bool,
    /// The gate's key for the exchange (opaque to the engine).
    pub key: u64,
}

/// A shared [`BodyGate`] (the pipeline hands one to every connection).
#[derive(Clone)]
pub struct SharedGate(pub Rc<dyn BodyGate>);

impl std::fmt::Debug for SharedGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedGate")
    }
}
