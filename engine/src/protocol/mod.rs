//! Stage 5 — protocol recognition: each connection's two ordered byte streams → the parser of
//! the protocol they carry, chosen by content.
//!
//! Input: in-order bytes, gaps and FINs per direction (from [`crate::flow`], or from any
//! other source: a test harness, plaintext from a TLS library probe). Output: [`HttpEvent`]s.
//!
//! # The interface every parser implements: [`StreamParser`]
//!
//! A parser is fed the two byte streams of one connection through four calls —
//! [`StreamParser::on_data`], [`StreamParser::on_gap`], [`StreamParser::on_fin`] and
//! [`StreamParser::on_close`] — and pushes what it finds into a caller-owned `Vec`. It knows
//! nothing about packets or TCP, so anything that has two ordered byte streams can drive it.
//! This layer implements it for the HTTP/1.x parser ([`crate::http::HttpConn`], which knows
//! nothing of this layer) and for HTTP/2 ([`http2_parser`]); HTTP/2 plugs in through
//! [`ProtocolConfig::http2`] (a [`Http2Factory`]), and until one is plugged in connections
//! that turn to HTTP/2 are counted in [`ProtocolStats::http2_unsupported`] and not parsed.
//!
//! # Recognition: [`Recogniser`]
//!
//! Probing is separate from parsing (as in Retina's `ConnParsable::probe`/`parse`): until a
//! protocol is decided, the first bytes of each direction are buffered (at most
//! `head_cap + 1` bytes per direction) and every known protocol is asked, in this order,
//! whether they are its own (`Probe`):
//!
//! 1. **HTTP/2 with prior knowledge**: a direction starts with the 24-byte client connection
//!    preface `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n` (that direction is the client). Checked
//!    first: HTTP/1 would take its first line for a request `PRI *`.
//! 2. **TLS**: a direction starts with a handshake record header (`16 03 0x`, x ≤ 4).
//!    Not decrypted: counted in [`ProtocolStats::tls`] and dropped.
//! 3. **SOCKS 4/4a/5**: one direction holds a complete SOCKS request (or SOCKS 5 greeting)
//!    and the other starts with a matching reply (a SOCKS 5 greeting alone, three bytes or
//!    so, is too weak on its own). See `socks`: the handshake is followed to its end and
//!    the tunnelled bytes are recognised afresh, like a new connection (nesting depth ≤
//!    [`MAX_TUNNEL_DEPTH`]).
//! 4. **HTTP/1.x**: a direction starts like a request line or a status line (the HTTP/1
//!    parser's own sniffing, `crate::http::parser::sniff_request` / `sniff_response`).
//! 5. **HTTP/2 frames without a preface** (`probe::http2_frames`): two plausible frame
//!    headers in a row (or one frame ending where the bytes end) — a server whose SETTINGS
//!    arrived before the client's preface, or a connection picked up mid-stream
//!    ([`Http2Start::Frames`]). When the handshake was captured this waits until both
//!    directions spoke (the server's SETTINGS alone are followed by the client's preface,
//!    which then decides prior knowledge).
//!
//! The first protocol that says `Probe::Match` wins, provided every protocol before it
//! says `Probe::NoMatch`; a `Probe::Unsure` before it makes the recogniser wait for more
//! bytes. When every protocol says no — both directions are something else, or one
//! direction sent [`SNIFF_LIMIT`] bytes that are nothing known — the connection is
//! unrecognised ([`ProtocolStats::unrecognised`]) and no longer wanted
//! ([`StreamParser::wants_data`] turns false, so the flow table stops reassembling it).
//!
//! On a decision the chosen parser is fed what was buffered exactly as the HTTP/1 parser
//! would have buffered it itself (the other direction's bytes first, with the timestamp of
//! their first byte; then the deciding direction's earlier bytes; then the deciding call's
//! bytes with their own timestamp), so recognising first changes nothing in HTTP/1 results.
//! A FIN before the decision is not replayed (the HTTP/1 parser ignored it too); a gap
//! before the decision discards that direction's buffer (what it held no longer leads
//! anywhere).
//!
//! **Switches.** A parser may hand the connection on ([`StreamParser::take_switch`]), exchange
//! indexes continuing:
//! - HTTP/1 after `101 Switching Protocols` to `h2c`: the bytes after the 101 head go to the
//!   HTTP/2 slot;
//! - HTTP/1 after a CONNECT answered 2xx (unless the client had already sent requests into
//!   the tunnel, which HTTP/1 keeps parsing): the tunnel's bytes go to a new [`Recogniser`]
//!   one level deeper (as after a SOCKS handshake; [`ProtocolStats::connect_tunnels`]), so
//!   HTTP/1, HTTP/2 and TLS (counted, skipped) are told apart inside it like on a new
//!   connection. The client is known there, so one more rule applies: the server speaking
//!   first (an SMTP, FTP or SSH greeting; bare line ends do not count, nor bytes that may
//!   start an HTTP/2 frame) is a protocol of its own, unrecognised.
//!
//! **Bounds.** Per connection: the two probe buffers (`head_cap + 1` bytes each), then
//! whatever the chosen parser bounds. Nesting of tunnels is capped.

pub(crate) mod probe;
mod recognise;
pub(crate) mod socks;

pub use recognise::Recogniser;

pub use crate::http::{Switch, SwitchTo};
pub use crate::http2::Http2Start;

use crate::exchange::HttpEvent;
use crate::flow::{ConnInfo, Dir};
use crate::http::{HttpConfig, HttpConn, HttpStats};
use crate::http2::H2Conn;
use crate::Timestamp;

/// Bytes one direction may send, with the other silent, before a connection whose first
/// bytes are nothing known is given up as unrecognised.
pub const SNIFF_LIMIT: u64 = crate::http::conn::SNIFF_LIMIT;

/// How many tunnels (SOCKS inside SOCKS...) are followed inside one connection.
pub const MAX_TUNNEL_DEPTH: u8 = 2;

/// A protocol parser fed with the two ordered byte streams of one connection.
///
/// `dir` is relative to the connection's originator (see [`Dir`]); the parser decides by
/// content which side is the client. Calls for one connection come in stream order per
/// direction; `on_close` comes exactly once, last. Results go into `out`.
pub trait StreamParser {
    /// Does the parser still want bytes? Once false (not its protocol any more, upgraded to
    /// something it does not parse), the caller may stop delivering data, gaps and FINs;
    /// `on_close` is still called.
    fn wants_data(&self) -> bool {
        true
    }

    /// In-order bytes of one direction.
    fn on_data(&mut self, dir: Dir, ts: Timestamp, data: &[u8], out: &mut Vec<HttpEvent>);

    /// `len` bytes of one direction are missing and will never arrive (`len` may be 0 if
    /// unknown).
    fn on_gap(&mut self, dir: Dir, ts: Timestamp, len: u64, out: &mut Vec<HttpEvent>);

    /// One direction ended (FIN); all its data was delivered before.
    fn on_fin(&mut self, dir: Dir, ts: Timestamp, out: &mut Vec<HttpEvent>);

    /// The connection is gone: emit everything still held. Called exactly once.
    fn on_close(&mut self, ts: Timestamp, out: &mut Vec<HttpEvent>);

    /// Adds this parser's counters into `into` (called once, after `on_close`).
    fn add_stats(&self, into: &mut ProtocolStats);

    /// After the last call, has the parser handed the connection on to another protocol?
    /// Checked by the [`Recogniser`] after every call.
    fn take_switch(&mut self) -> Option<Switch> {
        None
    }
}

/// What an HTTP/2 parser is created with.
#[derive(Clone, Debug)]
pub struct Http2Context {
    /// The connection.
    pub conn: ConnInfo,
    /// The direction the client sends on.
    pub client: Dir,
    /// How the connection turned to HTTP/2.
    pub start: Http2Start,
    /// The first exchange index to use (indexes are unique per connection and increase).
    pub first_index: u64,
    /// Limits shared with HTTP/1 (body caps, keep bodies).
    pub http: HttpConfig,
    /// After an `h2c` upgrade: the upgraded HTTP/1.1 exchange, whose request is answered on
    /// stream 1 (see [`crate::http::Switch::upgraded`]).
    pub upgraded: Option<Box<crate::exchange::Exchange>>,
}

/// Creates the HTTP/2 parser of one connection (the HTTP/2 slot of [`ProtocolConfig`]).
pub type Http2Factory = fn(&Http2Context) -> Box<dyn StreamParser>;

/// Settings of the protocol layer.
#[derive(Copy, Clone, Debug, Default)]
pub struct ProtocolConfig {
    /// HTTP/1.x parser settings (also the probe buffer size: `head_cap`).
    pub http: HttpConfig,
    /// The HTTP/2 parser, if one is plugged in; `None` counts HTTP/2 connections in
    /// [`ProtocolStats::http2_unsupported`] and leaves them unparsed.
    pub http2: Option<Http2Factory>,
}

/// Counters of the protocol layer (per connection; add them up with [`ProtocolStats::add`]).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct ProtocolStats {
    /// Connections (or tunnels) handed to the HTTP/1 parser.
    pub http1: u64,
    /// Connections (or tunnels) handed to the HTTP/2 parser.
    pub http2: u64,
    /// Connections that turned to HTTP/2 (preface or h2c upgrade) with no HTTP/2 parser
    /// plugged in: not parsed.
    pub http2_unsupported: u64,
    /// TLS connections (or tunnels): not decrypted, not parsed.
    pub tls: u64,
    /// SOCKS 4/4a handshakes followed into their tunnel.
    pub socks4: u64,
    /// SOCKS 5 handshakes followed into their tunnel.
    pub socks5: u64,
    /// SOCKS handshakes that failed, were refused, or were cut by a gap.
    pub socks_failed: u64,
    /// CONNECT tunnels whose bytes went back to recognition (what they carry is counted
    /// like a connection's: `http1`, `tls`, ...).
    pub connect_tunnels: u64,
    /// Tunnels not followed because of [`MAX_TUNNEL_DEPTH`].
    pub tunnel_depth_exceeded: u64,
    /// Connections (or tunnels) whose bytes are no protocol known here.
    pub unrecognised: u64,
    /// Connections closed before their protocol could be told (bytes too few).
    pub undecided: u64,
    /// The HTTP/1 parser's counters.
    pub http: HttpStats,
    /// The HTTP/2 parser's counters.
    pub h2: crate::http2::H2Stats,
}

impl ProtocolStats {
    /// Adds `o` into `self`.
    pub fn add(&mut self, o: &ProtocolStats) {
        self.http1 += o.http1;
        self.http2 += o.http2;
        self.http2_unsupported += o.http2_unsupported;
        self.tls += o.tls;
        self.socks4 += o.socks4;
        self.socks5 += o.socks5;
        self.socks_failed += o.socks_failed;
        self.connect_tunnels += o.connect_tunnels;
        self.tunnel_depth_exceeded += o.tunnel_depth_exceeded;
        self.unrecognised += o.unrecognised;
        self.undecided += o.undecided;
        self.http.add(&o.http);
        self.h2.add(&o.h2);
    }
}

/// HTTP/1.x: the parser's own calls (it knows nothing of this layer).
impl StreamParser for HttpConn {
    fn wants_data(&self) -> bool {
        HttpConn::wants_data(self)
    }

    fn on_data(&mut self, dir: Dir, ts: Timestamp, data: &[u8], out: &mut Vec<HttpEvent>) {
        HttpConn::on_data(self, dir, ts, data, out);
    }

    fn on_gap(&mut self, dir: Dir, ts: Timestamp, len: u64, out: &mut Vec<HttpEvent>) {
        HttpConn::on_gap(self, dir, ts, len, out);
    }

    fn on_fin(&mut self, dir: Dir, ts: Timestamp, out: &mut Vec<HttpEvent>) {
        HttpConn::on_fin(self, dir, ts, out);
    }

    fn on_close(&mut self, ts: Timestamp, out: &mut Vec<HttpEvent>) {
        HttpConn::on_close(self, ts, out);
    }

    fn add_stats(&self, into: &mut ProtocolStats) {
        into.http.add(self.stats());
    }

    fn take_switch(&mut self) -> Option<Switch> {
        HttpConn::take_switch(self)
    }
}

/// HTTP/2: the parser's own calls (it knows nothing of this layer).
impl StreamParser for H2Conn {
    fn wants_data(&self) -> bool {
        H2Conn::wants_data(self)
    }

    fn on_data(&mut self, dir: Dir, ts: Timestamp, data: &[u8], out: &mut Vec<HttpEvent>) {
        H2Conn::on_data(self, dir, ts, data, out);
    }

    fn on_gap(&mut self, dir: Dir, ts: Timestamp, len: u64, out: &mut Vec<HttpEvent>) {
        H2Conn::on_gap(self, dir, ts, len, out);
    }

    fn on_fin(&mut self, dir: Dir, ts: Timestamp, out: &mut Vec<HttpEvent>) {
        H2Conn::on_fin(self, dir, ts, out);
    }

    fn on_close(&mut self, ts: Timestamp, out: &mut Vec<HttpEvent>) {
        H2Conn::on_close(self, ts, out);
    }

    fn add_stats(&self, into: &mut ProtocolStats) {
        into.h2.add(&self.stats());
    }
}

/// The HTTP/2 parser for the HTTP/2 slot ([`ProtocolConfig::http2`], an [`Http2Factory`]).
pub fn http2_parser(ctx: &Http2Context) -> Box<dyn StreamParser> {
    Box::new(H2Conn::start(
        crate::http2::H2Config::from_http(ctx.http),
        ctx.conn,
        ctx.client,
        ctx.start,
        ctx.first_index,
        ctx.upgraded.clone(),
    ))
}
