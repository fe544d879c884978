//! [`HttpConn`]: one connection's two byte streams → paired exchanges.
//!
//! # Policy
//!
//! - **Roles by content.** Until roles are known each direction's first bytes are buffered
//!   (bounded) and sniffed: the first direction that starts like a request is the client,
//!   the first that starts with `HTTP/` is the server (if the originator sends responses,
//!   roles are flipped, like Zeek). If both directions start with something else the
//!   connection is not HTTP; so is one that sends [`SNIFF_LIMIT`] bytes one-way without
//!   looking like HTTP. Either way [`HttpConn::wants_data`] then turns false.
//! - **Pairing** is FIFO, like Zeek: a final response pairs with the oldest request that has
//!   no response yet (pipelining); a response with no request pending is an unpaired
//!   response with its own exchange (`http-desynched`: 1 request answered by 3 responses →
//!   1 pair + 2 unpaired). 1xx interim responses (except 101) are skipped. Exchanges are
//!   indexed in creation order (request head parsed, or unpaired response head parsed) and
//!   emitted strictly in index order once both messages are complete, so a request still
//!   uploading while the server has answered (`missing-http-entity`) is counted in full.
//!   [`HttpEvent::Started`] is emitted when an exchange is created (with the timestamp of its
//!   first byte), [`HttpEvent::Done`] exactly once per exchange.
//! - **HTTP/0.9** (Zeek semantics): a request line without a version is an HTTP/0.9 request;
//!   if header lines follow it they are parsed as its headers (libhtp's "missing protocol"
//!   case, `http-not09`). The reply to a version-less request is read as an HTTP/0.9 reply
//!   (status absent, version `HTTP/0.9`, body until close) even when it starts with
//!   `HTTP/` (Zeek logs status 0 there). A non-`HTTP/` reply to an HTTP/1.x request is not a
//!   response (`curl-http-09`: Zeek logs no status): it is skipped as garbage.
//! - **Bodies**: HEAD responses, 1xx, 204 and 304 have none; CONNECT 2xx and 101 upgrade
//!   the connection (the exchange is flagged `upgraded`); chunked wins over
//!   Content-Length; an invalid Content-Length means no body for a request and a
//!   close-delimited body for a response; responses without framing end at close.
//! - **Upgrades**: after 101 Switching Protocols parsing stops for good (after an agreed
//!   `h2c` upgrade the bytes that follow go to HTTP/2 through a [`Switch`]). A CONNECT
//!   answered 2xx opens a tunnel: if the client had already sent requests into it before the
//!   2xx arrived, those are HTTP and parsing goes on with the same roles (counted in
//!   `http_tunnels`; Suricata/libhtp parse plain HTTP sent through a proxy tunnel);
//!   otherwise the tunnel's bytes (a partial head the client sent early first) are handed
//!   back to the recogniser ([`SwitchTo::Tunnel`]), which tells HTTP/1, HTTP/2 and TLS apart
//!   inside it like on a new connection (as Zeek hands the tunnel to protocol detection). A
//!   client inside a body or garbage when the 2xx arrives makes the CONNECT a hard stop
//!   like 101.
//! - **Gaps**: inside a body of known remaining length the gap is consumed (and counted in
//!   the body length: the bytes existed); anywhere else the message in progress is
//!   finished (flagged `gap`, and `truncated` if it had more to come) and the direction
//!   resynchronises at the next plausible start line. Garbage is skipped line by line until
//!   a plausible start line (strict: requests must carry an `HTTP/` version). A gap in the
//!   server stream at or inside a response head (or running past a known body end) took a
//!   response: the oldest request waiting is marked as answered by a lost response (flag
//!   `gap`, no response) so that the responses after the gap pair with the right requests
//!   (`http-pending-state-growth-1000req`: the first response head is missing). A lost
//!   request is not compensated (it would need an exchange with neither message).
//! - **End**: at FIN a close-delimited body ends normally, any other unfinished message is
//!   flagged `truncated`; at close everything pending is emitted (requests without a
//!   response flagged `unpaired_request`).
//! - **State**: each direction is in one state (`state::St`: sniffing, not HTTP, head,
//!   HTTP/0.9 request, skipping a line, body with its framing and decoder, tunnel, dead),
//!   whose variants hold their own data; every change goes through `Side::go`, which traces
//!   it at trace level (`RUST_LOG=apitap_engine=trace`). How the connection ended (not HTTP,
//!   upgraded, closed) is one more enum.
//! - **Bounds**: header section ≤ `head_cap` (else malformed → resync), kept bodies ≤
//!   `body_cap`, decoded length ≤ `decoded_cap`, exchanges waiting ≤ `max_pipeline` (the
//!   oldest is emitted early, counted in `pipeline_overflows`).

use super::body::{ChunkStatus, Chunked, ContentDecoder, DecodeLimits};
use super::parser::{self, Coding, Codings, HeadScan, ParseError, ParseErrorCounts, Verdict};
use super::{Exchange, Flag, HttpEvent, Request, Response, SharedGate};
use crate::exchange::{HeadBuilder, HeadPool, MessageHead};
use crate::flow::{ConnInfo, Dir};
use crate::Timestamp;
use memchr::memchr;
use state::{Body, Framing, Head, Role, Side, St, V09};
use std::collections::VecDeque;
pub use tunnel::{Switch, SwitchTo};

mod framing;
mod gaps;
mod head;
mod pairing;
mod state;
mod tunnel;
mod v09;

/// Bytes one direction may send, with the other silent, before a connection whose first
/// bytes are not HTTP is given up as non-HTTP.
pub const SNIFF_LIMIT: u64 = 64 * 1024;

/// Limits and options of the HTTP stage.
#[derive(Copy, Clone, Debug)]
pub struct HttpConfig {
    /// Keep (decoded) bodies in the exchanges.
    pub keep_bodies: bool,
    /// Maximum bytes of a kept body.
    pub body_cap: usize,
    /// Maximum size of a message head (start line + header fields).
    pub head_cap: usize,
    /// Maximum decoded body length before content decoding stops.
    pub decoded_cap: u64,
    /// Maximum exchanges waiting for completion per connection.
    pub max_pipeline: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            keep_bodies: false,
            body_cap: 1 << 20,
            head_cap: 64 << 10,
            decoded_cap: 64 << 20,
            max_pipeline: 1024,
        }
    }
}

/// Counters of the HTTP stage (per connection; add them up with [`HttpStats::add`]).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpStats {
    /// Request heads parsed.
    pub requests: u64,
    /// Final response heads parsed (HTTP/0.9 replies included).
    pub responses: u64,
    /// 1xx interim responses skipped.
    pub interim_responses: u64,
    /// Exchanges emitted.
    pub exchanges: u64,
    /// Exchanges emitted with a request but no response.
    pub unpaired_requests: u64,
    /// Exchanges emitted with a response but no request.
    pub unpaired_responses: u64,
    /// Malformed start lines, oversized heads, broken chunk framing: the total of
    /// `parse_error_kinds`.
    pub parse_errors: u64,
    /// [`HttpStats::parse_errors`] by kind.
    pub parse_error_kinds: ParseErrorCounts,
    /// Times a direction dropped its state and searched for the next message start.
    pub resyncs: u64,
    /// Bodies whose content decoding failed (or hit the decoded cap).
    pub decode_errors: u64,
    /// Gaps that hit a message (head or body).
    pub gaps_in_messages: u64,
    /// Connections given up as not HTTP (0 or 1 per connection).
    pub non_http_conns: u64,
    /// Connections upgraded to another protocol (CONNECT 2xx, 101).
    pub upgraded: u64,
    /// CONNECT tunnels found to carry HTTP (parsed on; also counted in `upgraded`).
    pub http_tunnels: u64,
    /// Connections whose roles were flipped by content.
    pub role_flips: u64,
    /// Exchanges emitted early because too many were waiting.
    pub pipeline_overflows: u64,
    /// Incomplete message heads dropped at FIN/close.
    pub incomplete_heads: u64,
}

impl HttpStats {
    /// Add `o` into `self`.
    pub fn add(&mut self, o: &HttpStats) {
        self.requests += o.requests;
        self.responses += o.responses;
        self.interim_responses += o.interim_responses;
        self.exchanges += o.exchanges;
        self.unpaired_requests += o.unpaired_requests;
        self.unpaired_responses += o.unpaired_responses;
        self.parse_errors += o.parse_errors;
        self.parse_error_kinds.add(&o.parse_error_kinds);
        self.resyncs += o.resyncs;
        self.decode_errors += o.decode_errors;
        self.gaps_in_messages += o.gaps_in_messages;
        self.non_http_conns += o.non_http_conns;
        self.upgraded += o.upgraded;
        self.http_tunnels += o.http_tunnels;
        self.role_flips += o.role_flips;
        self.pipeline_overflows += o.pipeline_overflows;
        self.incomplete_heads += o.incomplete_heads;
    }
}

#[derive(Debug)]
struct Entry {
    index: u64,
    request: Option<Request>,
    req_done: bool,
    req_09: bool,
    response: Option<Response>,
    resp_done: bool,
    /// Its response was lost in a capture gap (so later responses pair with later requests).
    resp_lost: bool,
    /// The request's body was kept (not skipped by the body gate).
    req_kept: bool,
    /// The body gate's key for this exchange, once asked at the request head.
    gate_key: Option<u64>,
    flags: u16,
}

fn bit(f: Flag) -> u16 {
    1 << (f as u16)
}

const ALL_FLAGS: [Flag; 8] = [
    Flag::Gap,
    Flag::Truncated,
    Flag::UnpairedRequest,
    Flag::UnpairedResponse,
    Flag::DecodeError,
    Flag::Upgraded,
    Flag::BodyCapped,
    Flag::Malformed,
];

impl Entry {
    fn ready(&self) -> bool {
        match (&self.request, &self.response) {
            (Some(_), Some(_)) => self.req_done && self.resp_done,
            (None, Some(_)) => self.resp_done,
            (Some(_), None) => self.req_done && self.resp_lost,
            _ => false,
        }
    }
}

/// How an HTTP/1 connection stopped being parsed (the states of both directions follow).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Ended {
    /// Given up as not HTTP.
    NotHttp,
    /// Upgraded (101, CONNECT 2xx): its bytes belong to another protocol.
    Upgraded,
    /// `on_close` was called.
    Closed,
}

/// The HTTP/1.x handler of one connection. See the module docs for the policy.
#[derive(Debug)]
pub struct HttpConn {
    cfg: HttpConfig,
    stats: HttpStats,
    info: ConnInfo,
    up: Side,
    down: Side,
    /// The client sends on this stream (once roles are known).
    client: Option<Dir>,
    queue: VecDeque<Entry>,
    next_index: u64,
    /// Why parsing stopped, once it has.
    ended: Option<Ended>,
    /// The connection switched to a protocol the recogniser handles (101 `h2c`, a CONNECT
    /// tunnel): what follows the switch point, for it to take.
    switch: Option<Switch>,
    /// Decides which bodies are kept (all, without one).
    gate: Option<SharedGate>,
    /// Where message heads are built (allocations the consumer handed back).
    pool: HeadPool,
}

impl HttpConn {
    /// The parser of a new connection.
    pub fn new(cfg: HttpConfig, info: ConnInfo) -> Self {
        Self::with_first_index(cfg, info, 0)
    }

    /// The parser of a connection (or tunnel) whose exchanges are numbered from `first`.
    pub(crate) fn with_first_index(cfg: HttpConfig, info: ConnInfo, first: u64) -> Self {
        HttpConn {
            cfg,
            stats: HttpStats::default(),
            info,
            up: Side::new(Dir::ToResponder),
            down: Side::new(Dir::ToOriginator),
            client: None,
            queue: VecDeque::new(),
            next_index: first,
            ended: None,
            switch: None,
            gate: None,
            pool: HeadPool::default(),
        }
    }

    /// Asks `gate` at each message head whether to keep its body (see
    /// [`super::BodyGate`]).
    pub fn with_gate(mut self, gate: Option<SharedGate>) -> Self {
        self.gate = gate;
        self
    }

    /// Builds message heads in allocations from `pool` (see [`HeadPool`]).
    pub fn with_pool(mut self, pool: HeadPool) -> Self {
        self.pool = pool;
        self
    }

    /// The server socket (by the roles found so far).
    fn server(&self) -> std::net::SocketAddr {
        if self.client == Some(Dir::ToOriginator) {
            self.info.orig
        } else {
            self.info.resp
        }
    }

    /// This connection's counters.
    pub fn stats(&self) -> &HttpStats {
        &self.stats
    }

    /// Did the content show the originator to be the server?
    pub fn flipped(&self) -> bool {
        self.client == Some(Dir::ToOriginator)
    }

    /// Is a switch to another protocol waiting for [`HttpConn::take_switch`]?
    #[inline]
    pub(crate) fn switch_pending(&self) -> bool {
        self.switch.is_some()
    }

    /// Was the connection given up as not HTTP?
    pub fn is_non_http(&self) -> bool {
        self.stats.non_http_conns > 0
    }

    fn side(&mut self, s: Dir) -> &mut Side {
        match s {
            Dir::ToResponder => &mut self.up,
            Dir::ToOriginator => &mut self.down,
        }
    }

    fn side_ref(&self, s: Dir) -> &Side {
        match s {
            Dir::ToResponder => &self.up,
            Dir::ToOriginator => &self.down,
        }
    }

    /// Counts a parse error (in total and by kind).
    fn parse_error(&mut self, e: ParseError) {
        self.stats.parse_errors += 1;
        self.stats.parse_error_kinds.count(e);
    }

    fn entry_mut(&mut self, index: u64) -> Option<&mut Entry> {
        let front = self.queue.front()?.index;
        let pos = usize::try_from(index.checked_sub(front)?).ok()?;
        self.queue.get_mut(pos)
    }

    fn limits(&self) -> DecodeLimits {
        DecodeLimits {
            keep: self.cfg.keep_bodies,
            body_cap: self.cfg.body_cap,
            decoded_cap: self.cfg.decoded_cap,
        }
    }

    fn data(&mut self, s: Dir, ts: Timestamp, data: &[u8], out: &mut Vec<HttpEvent>) {
        if self.ended.is_some() || data.is_empty() {
            return;
        }
        self.side(s).last_ts = ts;
        if self.client.is_none() {
            self.sniff(s, ts, data, out);
        } else {
            self.feed(s, ts, data, out);
        }
    }

    /// Before roles are known: buffer and sniff.
    fn sniff(&mut self, s: Dir, ts: Timestamp, data: &[u8], out: &mut Vec<HttpEvent>) {
        let cap = self.cfg.head_cap;
        let side = self.side(s);
        let (appended, seen, role) = match side.st_mut() {
            St::Foreign { seen } => {
                *seen = seen.saturating_add(data.len() as u64);
                if *seen > SNIFF_LIMIT {
                    self.give_up();
                }
                return;
            }
            St::Sniff { buf, t0, seen } => {
                *seen = seen.saturating_add(data.len() as u64);
                if buf.is_empty() {
                    *t0 = ts;
                }
                let appended = state::sniff_append(buf, data, cap);
                let view = state::sniff_view(buf);
                let req = parser::sniff_request(view, false);
                let resp = parser::sniff_response(view);
                let overflow = buf.len() > cap;
                let role = if req == Verdict::Request {
                    Some(Role::Client)
                } else if resp == Verdict::Response {
                    Some(Role::Server)
                } else if (req == Verdict::Neither && resp == Verdict::Neither) || overflow {
                    None
                } else {
                    return; // need more
                };
                (appended, *seen, role)
            }
            _ => return,
        };
        match role {
            Some(r) => {
                self.decide_roles(s, r, ts, appended, out);
                let rest = data.get(appended..).unwrap_or_default();
                if !rest.is_empty() {
                    self.feed(s, ts, rest, out);
                }
            }
            None => {
                self.side(s).set(St::Foreign { seen });
                let other_foreign = matches!(self.side_ref(s.flip()).st(), St::Foreign { .. });
                if other_foreign || seen > SNIFF_LIMIT {
                    self.give_up();
                }
            }
        }
    }

    fn give_up(&mut self) {
        if self.ended.is_none() {
            self.ended = Some(Ended::NotHttp);
            self.stats.non_http_conns += 1;
            self.up.set(St::Dead);
            self.down.set(St::Dead);
        }
    }

    /// Roles are known (`s` is `role`): both directions go to [`St::Head`] and what they
    /// buffered is replayed, the other direction's first. Each byte keeps its own timestamp:
    /// the buffered bytes that of their first byte (exact in the common case of a start line
    /// that arrived in one piece), the last `fresh` bytes of `s`'s buffer (this call's) `ts`.
    fn decide_roles(
        &mut self,
        s: Dir,
        role: Role,
        ts: Timestamp,
        fresh: usize,
        out: &mut Vec<HttpEvent>,
    ) {
        let client = if role == Role::Client { s } else { s.flip() };
        self.client = Some(client);
        if client == Dir::ToOriginator {
            self.stats.role_flips += 1;
        }
        let mut replay = Vec::new();
        for x in [s, s.flip()] {
            let side = self.side(x);
            side.role = if x == client {
                Role::Client
            } else {
                Role::Server
            };
            // A direction that is not HTTP looks for a start line strictly.
            let foreign = matches!(side.st(), St::Foreign { .. });
            let head = side.new_head(foreign);
            if let St::Sniff { buf, t0, .. } = side.go(head) {
                replay.push((x, buf, t0));
            }
        }
        // The other direction's buffered bytes came first.
        replay.reverse();
        for (x, bytes, t0) in replay {
            let split = if x == s {
                bytes.len().saturating_sub(fresh)
            } else {
                bytes.len()
            };
            let (earlier, now) = bytes.split_at(split.min(bytes.len()));
            if !earlier.is_empty() {
                self.side(x).last_ts = t0;
                self.feed(x, t0, earlier, out);
            }
            self.side(x).last_ts = if x == s { ts } else { t0 };
            if !now.is_empty() {
                self.feed(x, ts, now, out);
            }
        }
    }

    fn feed(&mut self, s: Dir, ts: Timestamp, mut data: &[u8], out: &mut Vec<HttpEvent>) {
        while !data.is_empty() {
            let before = self.progress(s);
            let n = match self.side_ref(s).st() {
                St::Tunnel => {
                    if let Some(sw) = self.switch.as_mut().filter(|sw| sw.dir == s) {
                        sw.rest.extend_from_slice(data);
                    }
                    return;
                }
                St::Dead | St::Sniff { .. } | St::Foreign { .. } => return,
                St::SkipLine => match memchr(b'\n', data) {
                    Some(p) => {
                        self.side(s).go_head(true);
                        p + 1
                    }
                    None => return,
                },
                St::Body(_) => self.body_step(s, data, out),
                St::Head(_) | St::V09(_) => self.head_step(s, ts, data, out),
            };
            data = data.get(n..).unwrap_or_default();
            if n == 0 && self.progress(s) == before {
                self.stalled(s);
            }
        }
    }

    /// What a step that consumes no input must change (else the feed loop would spin).
    fn progress(&self, s: Dir) -> ((&'static str, usize, bool, Option<u64>), u64, usize) {
        (
            self.side_ref(s).st().fingerprint(),
            self.next_index,
            self.queue.len(),
        )
    }

    /// A step made no progress: a bug, but input must never hang the stage. Debug builds
    /// (tests, fuzzing) stop here; release builds count a parse error and resynchronise.
    fn stalled(&mut self, s: Dir) {
        debug_assert!(false, "http: no progress on {s:?}");
        self.parse_error(ParseError::Stalled);
        self.stats.resyncs += 1;
        self.side(s).set(St::SkipLine);
    }
}

/// Does an `Upgrade` header offer or accept `h2c`?
fn upgrade_to_h2c(head: &MessageHead) -> bool {
    head.headers().any(|(n, v)| {
        n.eq_ignore_ascii_case("upgrade")
            && v.split(',').any(|t| t.trim().eq_ignore_ascii_case("h2c"))
    })
}

/// The calls that drive the parser: the two byte streams of one connection, in order per
/// direction; `on_close` exactly once, last.
impl HttpConn {
    /// Does the parser still want bytes (false once given up or upgraded)?
    pub fn wants_data(&self) -> bool {
        self.ended.is_none()
    }

    /// In-order bytes of one direction.
    pub fn on_data(&mut self, dir: Dir, ts: Timestamp, data: &[u8], out: &mut Vec<HttpEvent>) {
        self.data(dir, ts, data, out);
    }

    /// `len` bytes of one direction are missing for good (0 if unknown).
    pub fn on_gap(&mut self, dir: Dir, ts: Timestamp, len: u64, out: &mut Vec<HttpEvent>) {
        self.side(dir).last_ts = ts;
        self.gap(dir, len, out);
    }

    /// One direction ended (FIN).
    pub fn on_fin(&mut self, dir: Dir, ts: Timestamp, out: &mut Vec<HttpEvent>) {
        if self.ended.is_some() || self.client.is_none() {
            return;
        }
        self.end_side(dir, ts, out);
    }

    /// The connection is gone: emit everything still held.
    pub fn on_close(&mut self, ts: Timestamp, out: &mut Vec<HttpEvent>) {
        if self.ended == Some(Ended::Closed) {
            return;
        }
        let foreign = |s: &Side| matches!(s.st(), St::Foreign { .. });
        if self.client.is_none() && (foreign(&self.up) || foreign(&self.down)) {
            // Only non-HTTP bytes were ever seen (e.g. one direction of a TLS connection).
            self.give_up();
        }
        if let (None, Some(c)) = (self.ended, self.client) {
            // Client first: a request finished by close can still pair.
            self.end_side(c, ts, out);
            self.end_side(c.flip(), ts, out);
        }
        self.flush_all(out);
        self.ended = Some(Ended::Closed);
    }

    /// Has the connection been handed on to another protocol (after the last call)?
    pub fn take_switch(&mut self) -> Option<Switch> {
        self.switch.take()
    }
}
