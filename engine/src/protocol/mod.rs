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
//! The HTTP/1.x parser ([`crate::http::HttpConn`]) is one; HTTP/2 plugs in through
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

use crate::flow::{ConnInfo, Dir};
use crate::http::{HttpConfig, HttpEvent, HttpStats};
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

/// A parser hands the connection to another protocol (see [`StreamParser::take_switch`]).
#[derive(Debug)]
pub struct Switch {
    /// The protocol the connection continues in.
    pub to: SwitchTo,
    /// The direction whose call caused the switch.
    pub dir: Dir,
    /// Bytes of that call after the switch point (they belong to the new protocol).
    pub rest: Vec<u8>,
    /// Timestamp of those bytes.
    pub ts: Timestamp,
    /// Bytes the other direction had already sent past the switch point (a client's first
    /// bytes into a CONNECT tunnel sent before the 2xx arrived): fed first.
    pub early: Vec<u8>,
    /// Timestamp of the first of those bytes.
    pub early_ts: Timestamp,
    /// The next exchange index to use on this connection (indexes continue).
    pub next_index: u64,
    /// The direction of the client, as the parser found it.
    pub client: Dir,
}

/// What a connection switches to.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SwitchTo {
    /// HTTP/2 after an HTTP/1.1 `Upgrade: h2c` answered `101 Switching Protocols`: the
    /// server's HTTP/2 frames follow the 101 head; the client sends the connection preface
    /// next. The upgraded request is answered on stream 1.
    H2cUpgrade,
    /// A CONNECT answered 2xx: the tunnel's bytes are recognised afresh, like a new
    /// connection's (HTTP/1, the HTTP/2 preface, TLS, ...), with the client known.
    Tunnel,
}

/// How an HTTP/2 parser is started.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Http2Start {
    /// The client sent the connection preface first (prior knowledge, RFC 9113 §3.3); the
    /// parser is fed from the preface on.
    PriorKnowledge,
    /// Recognised by its frames, with no preface first: the server's SETTINGS came before
    /// the client's preface, or the connection was picked up mid-stream (its start not
    /// captured: frame boundaries and HPACK state unknown). `client` is a guess (the
    /// originator); the parser settles it by content.
    Frames,
    /// After an `h2c` upgrade (RFC 7540 §3.2): the server's first bytes are its SETTINGS,
    /// the client's its connection preface; stream 1 carries the response to the upgraded
    /// request (already emitted by HTTP/1 as an `upgraded` exchange).
    H2cUpgrade,
}

/// What an HTTP/2 parser is created with.
#[derive(Copy, Clone, Debug)]
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
