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
//! - **Upgrades**: after 101 Switching Protocols parsing stops for good. A CONNECT answered
//!   2xx opens a tunnel, which is watched like a new connection (Suricata/libhtp parse
//!   plain HTTP sent through a proxy tunnel; Zeek hands the tunnel to protocol detection):
//!   if the client's first bytes in the tunnel look like a request (the same sniffing as
//!   for a new connection, at most `head_cap` bytes) HTTP parsing goes on with the same
//!   roles, exchange indexes continuing; if they do not (TLS), if the server speaks first
//!   (SMTP, FTP greetings; bare line ends do not count), or if a gap hits the tunnel before that is decided, parsing
//!   stops as after 101. A request the client had already sent in full before the 2xx
//!   arrived keeps being parsed.
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
//! - **State**: each direction is in one `Phase` (sniffing, head, skipping a line, body,
//!   dead); every change goes through `Side::set_phase`, which traces it at trace level
//!   (`RUST_LOG=apitap_engine=trace`).
//! - **Bounds**: header section ≤ `head_cap` (else malformed → resync), kept bodies ≤
//!   `body_cap`, decoded length ≤ `decoded_cap`, exchanges waiting ≤ `max_pipeline` (the
//!   oldest is emitted early, counted in `pipeline_overflows`).

use super::body::{ChunkStatus, Chunked, ContentDecoder, DecodeLimits};
use super::parser::{self, Coding, Codings, HeadScan, ParseError, ParseErrorCounts, Verdict};
use super::{Exchange, Flag, HttpEvent, Request, Response};
use crate::flow::{ConnInfo, Dir};
use crate::protocol::{ProtocolStats, StreamParser, Switch, SwitchTo};
use crate::Timestamp;
use memchr::memchr;
use std::collections::VecDeque;

mod framing;
mod gaps;
mod head;
mod pairing;
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

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Role {
    Unknown,
    Client,
    Server,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Phase {
    /// Roles unknown: buffering the first bytes.
    Sniff,
    /// Accumulating a message head. `resync`: after garbage or a gap (strict, silent).
    Head { resync: bool },
    /// Discarding up to the next line feed.
    SkipLine,
    /// Inside a body.
    Body,
    /// Ignoring everything (FIN seen, upgraded, not HTTP).
    Dead,
}

#[derive(Debug)]
enum Framing {
    Length(u64),
    Chunked(Chunked),
    UntilClose,
}

#[derive(Debug)]
struct BodyState {
    framing: Framing,
    dec: ContentDecoder,
}

#[derive(Debug)]
struct Side {
    /// Which stream this is (for traces).
    stream: S,
    role: Role,
    phase: Phase,
    buf: Vec<u8>,
    scan: HeadScan,
    /// The current head's start line was found plausible.
    checked: bool,
    head_ts: Timestamp,
    last_ts: Timestamp,
    /// Exchange of the message in progress (body; or version-less request awaiting lines).
    cur: Option<u64>,
    /// A version-less request line was parsed; `cur` is its exchange.
    v09: bool,
    /// That request has header lines (so it ends at an empty line).
    v09_headers: bool,
    body: Option<BodyState>,
    /// Sniffing: first bytes do not look like HTTP.
    neither: bool,
    /// Bytes seen while sniffing.
    sniffed: u64,
}

impl Side {
    fn new(stream: S) -> Side {
        Side {
            stream,
            role: Role::Unknown,
            phase: Phase::Sniff,
            buf: Vec::new(),
            scan: HeadScan::default(),
            checked: false,
            head_ts: Timestamp::default(),
            last_ts: Timestamp::default(),
            cur: None,
            v09: false,
            v09_headers: false,
            body: None,
            neither: false,
            sniffed: 0,
        }
    }

    /// Buffers up to `cap + 1` bytes of a stream whose protocol is not decided yet (one
    /// more than the cap, so overflow is visible); returns how many bytes of `data` it took.
    fn sniff_append(&mut self, ts: Timestamp, data: &[u8], cap: usize) -> usize {
        if self.buf.is_empty() {
            self.head_ts = ts;
        }
        let room = (cap + 1).saturating_sub(self.buf.len());
        let appended = room.min(data.len());
        self.buf
            .extend_from_slice(data.get(..appended).unwrap_or_default());
        appended
    }

    /// The buffered bytes without leading blank lines (no evidence either way).
    fn sniff_view(&self) -> &[u8] {
        let start = self
            .buf
            .iter()
            .position(|&b| b != b'\r' && b != b'\n')
            .unwrap_or(self.buf.len());
        self.buf.get(start..).unwrap_or_default()
    }

    /// Every phase change goes through here (traced at trace level).
    fn set_phase(&mut self, to: Phase) {
        if self.phase != to {
            tracing::trace!(stream = ?self.stream, from = ?self.phase, to = ?to, "http phase");
        }
        self.phase = to;
    }

    fn reset_head(&mut self) {
        self.buf.clear();
        self.scan = HeadScan::default();
        self.checked = false;
        self.v09 = false;
        self.v09_headers = false;
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum S {
    /// The originator → responder stream.
    Up,
    /// The responder → originator stream.
    Down,
}

impl S {
    fn of(d: Dir) -> S {
        match d {
            Dir::ToResponder => S::Up,
            Dir::ToOriginator => S::Down,
        }
    }
    fn other(self) -> S {
        match self {
            S::Up => S::Down,
            S::Down => S::Up,
        }
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

/// The HTTP/1.x handler of one connection. See the module docs for the policy.
#[derive(Debug)]
pub struct HttpConn {
    cfg: HttpConfig,
    stats: HttpStats,
    info: ConnInfo,
    up: Side,
    down: Side,
    /// The client sends on this stream (once roles are known).
    client: Option<S>,
    queue: VecDeque<Entry>,
    next_index: u64,
    non_http: bool,
    upgraded: bool,
    /// A CONNECT tunnel opened and its first client bytes are being sniffed.
    tunnel: bool,
    closed: bool,
    /// A 101 switched the connection to a protocol another parser handles (h2c): what
    /// follows the switch point, for the recogniser to take.
    switch: Option<Switch>,
}

impl HttpConn {
    /// The parser of a new connection.
    pub fn new(cfg: HttpConfig, info: ConnInfo) -> Self {
        HttpConn {
            cfg,
            stats: HttpStats::default(),
            info,
            up: Side::new(S::Up),
            down: Side::new(S::Down),
            client: None,
            queue: VecDeque::new(),
            next_index: 0,
            non_http: false,
            upgraded: false,
            tunnel: false,
            closed: false,
            switch: None,
        }
    }

    /// This connection's counters.
    pub fn stats(&self) -> &HttpStats {
        &self.stats
    }

    /// Did the content show the originator to be the server?
    pub fn flipped(&self) -> bool {
        self.client == Some(S::Down)
    }

    /// Was the connection given up as not HTTP?
    pub fn is_non_http(&self) -> bool {
        self.non_http
    }

    fn side(&mut self, s: S) -> &mut Side {
        match s {
            S::Up => &mut self.up,
            S::Down => &mut self.down,
        }
    }

    fn side_ref(&self, s: S) -> &Side {
        match s {
            S::Up => &self.up,
            S::Down => &self.down,
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

    fn data(&mut self, s: S, ts: Timestamp, data: &[u8], out: &mut Vec<HttpEvent>) {
        if self.non_http || self.upgraded || self.closed || data.is_empty() {
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
    fn sniff(&mut self, s: S, ts: Timestamp, data: &[u8], out: &mut Vec<HttpEvent>) {
        let cap = self.cfg.head_cap;
        let side = self.side(s);
        side.sniffed = side.sniffed.saturating_add(data.len() as u64);
        if side.neither {
            if side.sniffed > SNIFF_LIMIT {
                self.give_up();
            }
            return;
        }
        let appended = side.sniff_append(ts, data, cap);
        let view = side.sniff_view();
        let req = parser::sniff_request(view, false);
        let resp = parser::sniff_response(view);
        let overflow = side.buf.len() > cap;
        let role = if req == Verdict::Request {
            Some(Role::Client)
        } else if resp == Verdict::Response {
            Some(Role::Server)
        } else if (req == Verdict::Neither && resp == Verdict::Neither) || overflow {
            None
        } else {
            return; // need more
        };
        match role {
            Some(r) => {
                self.decide_roles(s, r, ts, out);
                let rest = data.get(appended..).unwrap_or_default();
                if !rest.is_empty() {
                    self.feed(s, ts, rest, out);
                }
            }
            None => {
                let side = self.side(s);
                side.neither = true;
                side.buf = Vec::new();
                let other = self.side_ref(s.other());
                if other.neither || side_sniffed(self, s) > SNIFF_LIMIT {
                    self.give_up();
                }
            }
        }
    }

    fn give_up(&mut self) {
        if !self.non_http {
            self.non_http = true;
            self.stats.non_http_conns += 1;
            self.up = Side::new(S::Up);
            self.down = Side::new(S::Down);
            self.up.set_phase(Phase::Dead);
            self.down.set_phase(Phase::Dead);
        }
    }

    fn decide_roles(&mut self, s: S, role: Role, ts: Timestamp, out: &mut Vec<HttpEvent>) {
        let client = if role == Role::Client { s } else { s.other() };
        self.client = Some(client);
        if client == S::Down {
            self.stats.role_flips += 1;
        }
        let other = s.other();
        let mut replay = Vec::new();
        for (x, r) in [
            (s, role),
            (
                other,
                if role == Role::Client {
                    Role::Server
                } else {
                    Role::Client
                },
            ),
        ] {
            let side = self.side(x);
            side.role = r;
            if side.neither {
                side.buf.clear();
                side.set_phase(Phase::Head { resync: true });
            } else {
                side.set_phase(Phase::Head { resync: false });
                replay.push((x, std::mem::take(&mut side.buf), side.head_ts));
            }
        }
        // The other direction's buffered bytes came first.
        replay.reverse();
        // Replayed bytes carry the timestamp of their first byte (exact in the common case of
        // a start line that arrived in one piece).
        for (x, bytes, t0) in replay {
            if !bytes.is_empty() {
                self.side(x).last_ts = t0;
                self.feed(x, t0, &bytes, out);
                self.side(x).last_ts = if x == s { ts } else { t0 };
            }
        }
    }

    fn feed(&mut self, s: S, ts: Timestamp, mut data: &[u8], out: &mut Vec<HttpEvent>) {
        while !data.is_empty() {
            if self.upgraded || self.non_http {
                if let Some(sw) = self.switch.as_mut() {
                    if sw.dir == dir_of(s) {
                        sw.rest.extend_from_slice(data);
                    }
                }
                return;
            }
            let phase = self.side_ref(s).phase;
            match phase {
                Phase::Sniff if self.tunnel => {
                    self.tunnel_sniff(s, ts, data, out);
                    return;
                }
                Phase::Dead | Phase::Sniff => return,
                Phase::SkipLine => match memchr(b'\n', data) {
                    Some(p) => {
                        data = data.get(p + 1..).unwrap_or_default();
                        self.side(s).set_phase(Phase::Head { resync: true });
                    }
                    None => return,
                },
                Phase::Body => {
                    let before = self.progress(s);
                    let n = self.body_step(s, ts, data, out);
                    data = data.get(n..).unwrap_or_default();
                    if n == 0 && self.progress(s) == before {
                        self.stalled(s);
                    }
                }
                Phase::Head { resync } => {
                    let before = self.progress(s);
                    let n = self.head_step(s, ts, data, resync, out);
                    data = data.get(n..).unwrap_or_default();
                    if n == 0 && self.progress(s) == before {
                        self.stalled(s);
                    }
                }
            }
        }
    }

    /// What a step that consumes no input must change (else the feed loop would spin).
    fn progress(&self, s: S) -> (Phase, usize, bool, bool, Option<u64>, u64, usize) {
        let side = self.side_ref(s);
        (
            side.phase,
            side.buf.len(),
            side.v09,
            side.v09_headers,
            side.cur,
            self.next_index,
            self.queue.len(),
        )
    }

    /// A step made no progress: a bug, but input must never hang the stage. Debug builds
    /// (tests, fuzzing) stop here; release builds count a parse error and resynchronise.
    fn stalled(&mut self, s: S) {
        debug_assert!(false, "http: no progress on {s:?}");
        self.parse_error(ParseError::Stalled);
        self.stats.resyncs += 1;
        let side = self.side(s);
        side.reset_head();
        side.body = None;
        side.set_phase(Phase::SkipLine);
    }
}

fn side_sniffed(c: &HttpConn, s: S) -> u64 {
    c.side_ref(s).sniffed
}

/// Does an `Upgrade` header offer or accept `h2c`?
fn upgrade_to_h2c(headers: &[(String, String)]) -> bool {
    headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case("upgrade")
            && v.split(',').any(|t| t.trim().eq_ignore_ascii_case("h2c"))
    })
}

fn dir_of(s: S) -> Dir {
    match s {
        S::Up => Dir::ToResponder,
        S::Down => Dir::ToOriginator,
    }
}

impl StreamParser for HttpConn {
    fn wants_data(&self) -> bool {
        !(self.non_http || self.upgraded || self.closed)
    }

    fn on_data(&mut self, dir: Dir, ts: Timestamp, data: &[u8], out: &mut Vec<HttpEvent>) {
        self.data(S::of(dir), ts, data, out);
    }

    fn on_gap(&mut self, dir: Dir, ts: Timestamp, len: u64, out: &mut Vec<HttpEvent>) {
        self.side(S::of(dir)).last_ts = ts;
        self.gap(S::of(dir), len, out);
    }

    fn on_fin(&mut self, dir: Dir, ts: Timestamp, out: &mut Vec<HttpEvent>) {
        if self.non_http || self.upgraded || self.closed || self.client.is_none() {
            return;
        }
        self.end_side(S::of(dir), ts, out);
    }

    fn on_close(&mut self, ts: Timestamp, out: &mut Vec<HttpEvent>) {
        if self.closed {
            return;
        }
        if self.client.is_none() && (self.up.neither || self.down.neither) {
            // Only non-HTTP bytes were ever seen (e.g. one direction of a TLS connection).
            self.give_up();
        }
        if !self.non_http && !self.upgraded && self.client.is_some() {
            // Client first: a request finished by close can still pair.
            let c = self.client.unwrap_or(S::Up);
            self.end_side(c, ts, out);
            self.end_side(c.other(), ts, out);
        }
        self.flush_all(out);
        self.closed = true;
    }

    fn add_stats(&self, into: &mut ProtocolStats) {
        into.http.add(&self.stats);
    }

    fn take_switch(&mut self) -> Option<Switch> {
        self.switch.take()
    }
}
