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
    fn new() -> Side {
        Side {
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
            up: Side::new(),
            down: Side::new(),
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

    // ----------------------------------------------------------------------------------
    // Entry points.

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
            self.up = Side::new();
            self.down = Side::new();
            self.up.phase = Phase::Dead;
            self.down.phase = Phase::Dead;
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
                side.phase = Phase::Head { resync: true };
            } else {
                side.phase = Phase::Head { resync: false };
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

    // ----------------------------------------------------------------------------------
    // The per-direction state machine.

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
                        self.side(s).phase = Phase::Head { resync: true };
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
        side.phase = Phase::SkipLine;
    }

    /// Returns how many bytes of `data` were consumed.
    fn head_step(
        &mut self,
        s: S,
        ts: Timestamp,
        data: &[u8],
        resync: bool,
        out: &mut Vec<HttpEvent>,
    ) -> usize {
        let role = self.side_ref(s).role;
        let mut skipped = 0;
        if self.side_ref(s).buf.is_empty() && !self.side_ref(s).v09 {
            // A new message starts here.
            if role == Role::Server {
                self.finalize_v09_client(out);
                if let Some(idx) = self.first_unanswered().filter(|&i| self.is_09(i)) {
                    self.start_09_reply(s, idx, ts, out);
                    return 0;
                }
            }
            // Skip blank lines between messages.
            skipped = data
                .iter()
                .position(|&b| b != b'\r' && b != b'\n')
                .unwrap_or(data.len());
            if skipped == data.len() {
                return skipped;
            }
            self.side(s).head_ts = ts;
        }
        let data = data.get(skipped..).unwrap_or_default();
        let cap = self.cfg.head_cap;
        let side = self.side(s);
        let base = side.buf.len();
        let room = (cap + 1).saturating_sub(base);
        let take = room.min(data.len());
        side.buf
            .extend_from_slice(data.get(..take).unwrap_or_default());

        if !side.checked {
            let v = match role {
                Role::Client => parser::sniff_request(&side.buf, resync),
                _ => parser::sniff_status_line(&side.buf, resync),
            };
            let v = if v == Verdict::NeedMore && side.buf.len() > cap {
                Verdict::Neither
            } else {
                v
            };
            match v {
                Verdict::NeedMore => return skipped + take,
                Verdict::Neither => {
                    // Garbage: drop through the end of this line and look again.
                    if !resync {
                        self.parse_error(ParseError::NotAStartLine);
                        self.stats.resyncs += 1;
                    }
                    let side = self.side(s);
                    let consumed = match memchr(b'\n', &side.buf) {
                        Some(p) => {
                            side.reset_head();
                            side.phase = Phase::Head { resync: true };
                            (p + 1).saturating_sub(base)
                        }
                        None => {
                            side.reset_head();
                            side.phase = Phase::SkipLine;
                            take
                        }
                    };
                    return skipped + consumed;
                }
                Verdict::Request | Verdict::Response => side.checked = true,
            }
        }

        // Find the end of the head.
        loop {
            let side = self.side(s);
            let had_first = side.scan.first_line_end.is_some();
            let line_start = side.scan.line_start;
            let end = side.scan.scan(&side.buf);
            // Client: the request line is complete; version-less lines are special.
            if role == Role::Client && !had_first && !side.v09 {
                if let Some(fl) = side.scan.first_line_end {
                    let line = parser::trim_eol(side.buf.get(..fl).unwrap_or_default());
                    if let Ok(rl) = parser::parse_request_line(line) {
                        if rl.version.is_none() {
                            let buf_len = side.buf.len();
                            self.open_v09_request(s, rl, ts, out);
                            // Re-scan the following lines one at a time.
                            let side = self.side(s);
                            side.scan = HeadScan {
                                line_start: fl,
                                first_line_end: Some(fl),
                            };
                            let _ = buf_len;
                            continue;
                        }
                    }
                }
            }
            if role == Role::Client && self.side_ref(s).v09 && !self.side_ref(s).v09_headers {
                // The line after a version-less request line decides.
                let side = self.side(s);
                let fl = side.scan.first_line_end.unwrap_or(0);
                let next_end =
                    memchr(b'\n', side.buf.get(fl..).unwrap_or_default()).map(|p| fl + p + 1);
                match next_end {
                    None if side.buf.len() <= cap => {
                        side.scan.line_start = fl;
                        return skipped + take;
                    }
                    // Over the head cap with no line end: oversized, handled below.
                    None => side.scan.line_start = fl,
                    Some(ne) => {
                        let line = parser::trim_eol(side.buf.get(fl..ne).unwrap_or_default());
                        if line.is_empty() {
                            let consumed = ne.saturating_sub(base);
                            self.finish_v09_request(s, out);
                            return skipped + consumed;
                        }
                        if parser::sniff_request(side.buf.get(fl..).unwrap_or_default(), false)
                            == Verdict::Request
                        {
                            // Next request: this one had no headers.
                            return skipped + self.finish_v09_with_leftover(s, fl, base, ts, out);
                        }
                        side.v09_headers = true;
                        side.scan = HeadScan {
                            line_start: fl,
                            first_line_end: Some(fl),
                        };
                        continue;
                    }
                }
            }
            let _ = line_start;
            match end {
                Some(end) => {
                    let side = self.side(s);
                    let head = std::mem::take(&mut side.buf);
                    let v09 = side.v09;
                    side.reset_head();
                    let consumed = end.saturating_sub(base);
                    let leftover = if end < base {
                        head.get(end..base).map(<[u8]>::to_vec)
                    } else {
                        None
                    };
                    let head_slice = head.get(..end).unwrap_or_default();
                    match role {
                        Role::Client => self.on_request_head(s, head_slice, v09, ts, false, out),
                        _ => self.on_response_head(s, head_slice, ts, false, out),
                    }
                    // Give the buffer's allocation back for the next head (unless a huge
                    // head made it large: idle connections should not pin memory).
                    let side = self.side(s);
                    if side.buf.capacity() == 0 && head.capacity() <= 8192 {
                        let mut h = head;
                        h.clear();
                        side.buf = h;
                    }
                    if let Some(l) = leftover {
                        self.feed(s, ts, &l, out);
                    }
                    return skipped + consumed;
                }
                None => {
                    let side = self.side(s);
                    if side.buf.len() > cap {
                        self.parse_error(ParseError::HeadTooLarge);
                        self.stats.resyncs += 1;
                        let side = self.side(s);
                        let v09 = side.v09.then_some(side.cur).flatten();
                        side.reset_head();
                        side.phase = Phase::SkipLine;
                        if let Some(idx) = v09 {
                            self.side(s).cur = None;
                            if let Some(e) = self.entry_mut(idx) {
                                e.flags |= bit(Flag::Malformed);
                                e.req_done = true;
                            }
                            self.emit_ready(out);
                        }
                    }
                    return skipped + take;
                }
            }
        }
    }

    /// A version-less request line: open its exchange right away (the server may answer
    /// before anything else comes from the client).
    fn open_v09_request(
        &mut self,
        s: S,
        rl: parser::RequestLine,
        ts: Timestamp,
        out: &mut Vec<HttpEvent>,
    ) {
        let head_ts = self.side_ref(s).head_ts;
        let req = Request {
            method: rl.method,
            uri: rl.uri,
            version: "HTTP/0.9".to_string(),
            headers: Vec::new(),
            body_len: 0,
            body: self.cfg.keep_bodies.then(Vec::new),
            ts_start: head_ts,
            ts_end: ts,
        };
        self.stats.requests += 1;
        let idx = self.new_entry(Some(req), None, head_ts, out);
        if let Some(e) = self.entry_mut(idx) {
            e.req_09 = true;
            e.flags |= bit(Flag::Malformed);
        }
        let side = self.side(s);
        side.v09 = true;
        side.cur = Some(idx);
        // Zeek: a 0.9 request makes the server's next bytes its reply, ending an unpaired
        // response still waiting for body bytes (`http-09-content-length-confusion`).
        let srv = s.other();
        if self.side_ref(srv).phase == Phase::Body {
            if let Some(cur) = self.side_ref(srv).cur {
                let unpaired = self.entry_mut(cur).is_some_and(|e| e.request.is_none());
                if unpaired {
                    self.finish_body(srv, bit(Flag::Truncated), out);
                }
            }
        }
    }

    fn finish_v09_request(&mut self, s: S, out: &mut Vec<HttpEvent>) {
        let side = self.side(s);
        let cur = side.cur.take();
        side.reset_head();
        if let Some(idx) = cur {
            if let Some(e) = self.entry_mut(idx) {
                e.req_done = true;
            }
        }
        self.emit_ready(out);
    }

    /// The version-less request ended at `fl` (end of its line) because a new request line
    /// follows. Returns bytes of the current input consumed.
    fn finish_v09_with_leftover(
        &mut self,
        s: S,
        fl: usize,
        base: usize,
        ts: Timestamp,
        out: &mut Vec<HttpEvent>,
    ) -> usize {
        let side = self.side(s);
        let buf = std::mem::take(&mut side.buf);
        self.finish_v09_request(s, out);
        self.side(s).head_ts = ts;
        if fl >= base {
            // The next line starts in the current input: just rewind.
            fl - base
        } else {
            // Replay the bytes buffered from earlier inputs; the current input follows.
            let old = buf.get(fl..base).map(<[u8]>::to_vec).unwrap_or_default();
            self.feed(s, ts, &old, out);
            0
        }
    }

    /// The server starts answering: a version-less request with nothing after its line is
    /// complete.
    fn finalize_v09_client(&mut self, out: &mut Vec<HttpEvent>) {
        let Some(c) = self.client else { return };
        let side = self.side(c);
        if !side.v09 || side.v09_headers {
            return;
        }
        let fl = side.scan.first_line_end.unwrap_or(0);
        let rest = side.buf.get(fl..).map(<[u8]>::to_vec).unwrap_or_default();
        self.finish_v09_request(c, out);
        let side = self.side(c);
        side.buf = rest;
        side.scan = HeadScan::default();
        side.checked = false;
    }

    fn first_unanswered(&self) -> Option<u64> {
        self.queue
            .iter()
            .find(|e| e.request.is_some() && e.response.is_none() && !e.resp_lost)
            .map(|e| e.index)
    }

    fn is_09(&self, idx: u64) -> bool {
        self.queue.iter().any(|e| e.index == idx && e.req_09)
    }

    fn start_09_reply(&mut self, s: S, idx: u64, ts: Timestamp, out: &mut Vec<HttpEvent>) {
        let resp = Response {
            status: None,
            status_text: String::new(),
            reason: String::new(),
            version: "HTTP/0.9".to_string(),
            headers: Vec::new(),
            body_len: 0,
            body: None,
            ts_start: ts,
            ts_end: ts,
        };
        self.stats.responses += 1;
        if let Some(e) = self.entry_mut(idx) {
            e.response = Some(resp);
        }
        let limits = self.limits();
        let side = self.side(s);
        side.cur = Some(idx);
        side.body = Some(BodyState {
            framing: Framing::UntilClose,
            dec: ContentDecoder::new(Coding::Identity, limits),
        });
        side.phase = Phase::Body;
        let _ = out;
    }

    fn new_entry(
        &mut self,
        request: Option<Request>,
        response: Option<Response>,
        ts: Timestamp,
        out: &mut Vec<HttpEvent>,
    ) -> u64 {
        while self.queue.len() >= self.cfg.max_pipeline.max(1) {
            self.stats.pipeline_overflows += 1;
            if let Some(e) = self.queue.pop_front() {
                self.emit(e, out);
            }
        }
        let index = self.next_index;
        self.next_index += 1;
        self.queue.push_back(Entry {
            index,
            request,
            req_done: false,
            req_09: false,
            response,
            resp_done: false,
            resp_lost: false,
            flags: 0,
        });
        let conn_id = self.info.id;
        out.push(HttpEvent::Started { ts, conn_id, index });
        index
    }

    fn on_request_head(
        &mut self,
        s: S,
        head: &[u8],
        v09: bool,
        ts: Timestamp,
        truncated: bool,
        out: &mut Vec<HttpEvent>,
    ) {
        let fl = memchr(b'\n', head).map_or(head.len(), |p| p + 1);
        let mut headers = Vec::new();
        let bad_headers = parser::parse_headers(head.get(fl..).unwrap_or_default(), &mut headers);
        let f = parser::framing(&headers);
        let mut flags = 0u16;
        if bad_headers || f.bad_content_length {
            flags |= bit(Flag::Malformed);
        }
        if truncated {
            flags |= bit(Flag::Truncated);
        }
        let idx = if v09 {
            // Headers after a version-less request line.
            let Some(idx) = self.side_ref(s).cur else {
                return;
            };
            if let Some(e) = self.entry_mut(idx) {
                if let Some(r) = e.request.as_mut() {
                    r.headers = headers;
                    r.ts_end = ts;
                }
                e.flags |= flags;
            }
            idx
        } else {
            let line = parser::trim_eol(head.get(..fl).unwrap_or_default());
            let rl = match parser::parse_request_line(line) {
                Ok(rl) => rl,
                Err(e) => {
                    self.parse_error(e);
                    return;
                }
            };
            if rl.malformed {
                flags |= bit(Flag::Malformed);
            }
            let head_ts = self.side_ref(s).head_ts;
            let req = Request {
                method: rl.method,
                uri: rl.uri,
                version: rl.version.unwrap_or_else(|| "HTTP/0.9".to_string()),
                headers,
                body_len: 0,
                body: self.cfg.keep_bodies.then(Vec::new),
                ts_start: head_ts,
                ts_end: ts,
            };
            self.stats.requests += 1;
            let idx = self.new_entry(Some(req), None, head_ts, out);
            if let Some(e) = self.entry_mut(idx) {
                e.flags |= flags;
            }
            idx
        };
        self.side(s).cur = Some(idx);
        let framing = if truncated {
            None
        } else if f.chunked {
            Some(Framing::Chunked(Chunked::new()))
        } else {
            match f.content_length {
                Some(n) if n > 0 => Some(Framing::Length(n)),
                _ => None,
            }
        };
        self.start_body(s, framing, &f.codings, out);
    }

    fn on_response_head(
        &mut self,
        s: S,
        head: &[u8],
        ts: Timestamp,
        truncated: bool,
        out: &mut Vec<HttpEvent>,
    ) {
        let fl = memchr(b'\n', head).map_or(head.len(), |p| p + 1);
        let line = parser::trim_eol(head.get(..fl).unwrap_or_default());
        let sl = match parser::parse_status_line(line) {
            Ok(sl) => sl,
            Err(e) => {
                self.parse_error(e);
                return;
            }
        };
        if let Some(code) = sl.status {
            if (100..200).contains(&code) && code != 101 {
                self.stats.interim_responses += 1;
                return;
            }
        }
        let mut headers = Vec::new();
        let bad_headers = parser::parse_headers(head.get(fl..).unwrap_or_default(), &mut headers);
        let f = parser::framing(&headers);
        let mut flags = 0u16;
        if bad_headers || sl.malformed || f.bad_content_length {
            flags |= bit(Flag::Malformed);
        }
        if truncated {
            flags |= bit(Flag::Truncated);
        }
        let head_ts = self.side_ref(s).head_ts;
        let resp = Response {
            status: sl.status,
            status_text: sl.status_text,
            reason: sl.reason,
            version: sl.version,
            headers,
            body_len: 0,
            body: self.cfg.keep_bodies.then(Vec::new),
            ts_start: head_ts,
            ts_end: ts,
        };
        self.stats.responses += 1;
        let (idx, is_head, is_connect) = match self.first_unanswered() {
            Some(idx) => {
                let (mut is_head, mut is_connect) = (false, false);
                if let Some(e) = self.entry_mut(idx) {
                    if let Some(q) = e.request.as_ref() {
                        is_head = q.method.eq_ignore_ascii_case("HEAD");
                        is_connect = q.method.eq_ignore_ascii_case("CONNECT");
                    }
                    e.response = Some(resp);
                }
                (idx, is_head, is_connect)
            }
            None => (self.new_entry(None, Some(resp), head_ts, out), false, false),
        };
        if let Some(e) = self.entry_mut(idx) {
            e.flags |= flags;
        }
        self.side(s).cur = Some(idx);
        let code = sl.status.unwrap_or(0);
        if code == 101 {
            self.upgrade(idx, out);
            return;
        }
        if is_connect && (200..300).contains(&code) {
            self.open_tunnel(idx, out);
            return;
        }
        let no_body = truncated || is_head || code == 204 || code == 304;
        let framing = if no_body {
            None
        } else if f.chunked {
            Some(Framing::Chunked(Chunked::new()))
        } else {
            match f.content_length {
                Some(0) => None,
                Some(n) => Some(Framing::Length(n)),
                None => Some(Framing::UntilClose),
            }
        };
        self.start_body(s, framing, &f.codings, out);
    }

    fn upgrade(&mut self, idx: u64, out: &mut Vec<HttpEvent>) {
        self.stats.upgraded += 1;
        self.upgraded = true;
        let h2c = self.entry_mut(idx).is_some_and(|e| {
            let asked = e
                .request
                .as_ref()
                .is_some_and(|q| upgrade_to_h2c(&q.headers));
            let agreed = e
                .response
                .as_ref()
                .is_some_and(|p| upgrade_to_h2c(&p.headers));
            asked && agreed
        });
        if let (true, Some(c)) = (h2c, self.client) {
            let ts = self.side_ref(c.other()).last_ts;
            self.switch = Some(Switch {
                to: SwitchTo::H2cUpgrade,
                dir: dir_of(c.other()),
                rest: Vec::new(),
                ts,
                next_index: self.next_index,
                client: dir_of(c),
            });
        }
        if let Some(e) = self.entry_mut(idx) {
            e.flags |= bit(Flag::Upgraded);
            e.req_done = true;
            e.resp_done = true;
        }
        for s in [S::Up, S::Down] {
            let side = self.side(s);
            side.phase = Phase::Dead;
            side.body = None;
            side.buf = Vec::new();
        }
        self.flush_all(out);
    }

    /// CONNECT `idx` was answered 2xx: finish it and watch the tunnel (see the module docs).
    fn open_tunnel(&mut self, idx: u64, out: &mut Vec<HttpEvent>) {
        let Some(c) = self.client else {
            self.upgrade(idx, out);
            return;
        };
        let later = self
            .queue
            .iter()
            .any(|e| e.index > idx && e.request.is_some());
        let cs = self.side_ref(c);
        let clean = matches!(cs.phase, Phase::Head { resync: false }) && !cs.v09;
        if !later && !clean {
            self.upgrade(idx, out);
            return;
        }
        self.stats.upgraded += 1;
        if let Some(e) = self.entry_mut(idx) {
            e.flags |= bit(Flag::Upgraded);
            e.req_done = true;
            e.resp_done = true;
        }
        let srv = c.other();
        let server = self.side(srv);
        server.body = None;
        server.cur = None;
        server.reset_head();
        if later {
            // The client already sent requests through the tunnel: they are HTTP.
            server.phase = Phase::Head { resync: false };
            self.stats.http_tunnels += 1;
            self.emit_ready(out);
            return;
        }
        server.phase = Phase::Sniff;
        self.tunnel = true;
        self.emit_ready(out);
        // What the client sent early (a partial head) is the tunnel's first bytes.
        let client = self.side(c);
        let early = std::mem::take(&mut client.buf);
        let t0 = client.head_ts;
        client.reset_head();
        client.phase = Phase::Sniff;
        if !early.is_empty() {
            self.tunnel_sniff(c, t0, &early, out);
        }
    }

    /// Bytes from `s` while a fresh CONNECT tunnel is undecided.
    fn tunnel_sniff(&mut self, s: S, ts: Timestamp, data: &[u8], out: &mut Vec<HttpEvent>) {
        if Some(s) != self.client {
            // A server speaking first is not answering an HTTP request (stray line ends
            // after the CONNECT response are no evidence: libhtp and Zeek skip them too).
            if data.iter().any(|&b| b != b'\r' && b != b'\n') {
                self.close_tunnel();
            }
            return;
        }
        let cap = self.cfg.head_cap;
        let side = self.side(s);
        let appended = side.sniff_append(ts, data, cap);
        match parser::sniff_request(side.sniff_view(), false) {
            Verdict::Request => {
                let t0 = side.head_ts;
                let bytes = std::mem::take(&mut side.buf);
                side.phase = Phase::Head { resync: false };
                self.tunnel = false;
                self.stats.http_tunnels += 1;
                let server = self.side(s.other());
                if server.phase == Phase::Sniff {
                    server.phase = Phase::Head { resync: false };
                }
                self.feed(s, t0, &bytes, out);
                let rest = data.get(appended..).unwrap_or_default();
                if !rest.is_empty() {
                    self.feed(s, ts, rest, out);
                }
            }
            Verdict::NeedMore if side.buf.len() <= cap => {}
            _ => self.close_tunnel(),
        }
    }

    /// The tunnel does not carry HTTP: stop parsing, as after 101.
    fn close_tunnel(&mut self) {
        self.tunnel = false;
        self.upgraded = true;
        for s in [S::Up, S::Down] {
            let side = self.side(s);
            side.phase = Phase::Dead;
            side.body = None;
            side.buf = Vec::new();
        }
    }

    fn start_body(
        &mut self,
        s: S,
        framing: Option<Framing>,
        codings: &Codings,
        out: &mut Vec<HttpEvent>,
    ) {
        let limits = self.limits();
        let side = self.side(s);
        side.body = Some(BodyState {
            framing: Framing::UntilClose,
            dec: ContentDecoder::with_codings(codings, limits),
        });
        match framing {
            Some(fr) => {
                if let Some(b) = side.body.as_mut() {
                    b.framing = fr;
                }
                side.phase = Phase::Body;
            }
            None => self.finish_body(s, 0, out),
        }
    }

    /// Returns bytes consumed.
    fn body_step(&mut self, s: S, _ts: Timestamp, data: &[u8], out: &mut Vec<HttpEvent>) -> usize {
        let side = self.side(s);
        let Some(body) = side.body.as_mut() else {
            side.phase = Phase::Head { resync: false };
            return 0;
        };
        let BodyState { framing, dec } = body;
        match framing {
            Framing::UntilClose => {
                dec.write(data);
                data.len()
            }
            Framing::Length(rem) => {
                let take = usize::try_from(*rem).map_or(data.len(), |r| r.min(data.len()));
                dec.write(data.get(..take).unwrap_or_default());
                *rem -= take as u64;
                if *rem == 0 {
                    self.finish_body(s, 0, out);
                }
                take
            }
            Framing::Chunked(ch) => match ch.feed(data, &mut |d| dec.write(d)) {
                ChunkStatus::Partial => data.len(),
                ChunkStatus::Done(n) => {
                    self.finish_body(s, 0, out);
                    n
                }
                ChunkStatus::Error(n, e) => {
                    self.parse_error(e);
                    self.stats.resyncs += 1;
                    self.finish_body(s, bit(Flag::DecodeError) | bit(Flag::Malformed), out);
                    self.side(s).phase = Phase::SkipLine;
                    n
                }
            },
        }
    }

    /// End the body (or body-less message) in progress on `s` with extra `flags`.
    fn finish_body(&mut self, s: S, mut flags: u16, out: &mut Vec<HttpEvent>) {
        let side = self.side(s);
        let role = side.role;
        let body = side.body.take();
        let cur = side.cur.take();
        let last_ts = side.last_ts;
        side.phase = Phase::Head { resync: false };
        let res = body.map(|b| b.dec.finish());
        if let Some(r) = &res {
            if r.decode_error {
                flags |= bit(Flag::DecodeError);
                self.stats.decode_errors += 1;
            }
            if r.capped {
                flags |= bit(Flag::BodyCapped);
            }
        }
        let Some(idx) = cur else { return };
        if let Some(e) = self.entry_mut(idx) {
            e.flags |= flags;
            match role {
                Role::Client => {
                    e.req_done = true;
                    if let Some(q) = e.request.as_mut() {
                        if let Some(r) = res {
                            q.body_len = r.len;
                            q.body = r.body;
                        }
                        q.ts_end = q.ts_end.max(last_ts);
                    }
                }
                _ => {
                    e.resp_done = true;
                    if let Some(p) = e.response.as_mut() {
                        if let Some(r) = res {
                            p.body_len = r.len;
                            p.body = r.body;
                        }
                        p.ts_end = p.ts_end.max(last_ts);
                    }
                }
            }
        }
        self.emit_ready(out);
    }

    // ----------------------------------------------------------------------------------
    // Gaps, FIN, close.

    fn gap(&mut self, s: S, len: u64, out: &mut Vec<HttpEvent>) {
        if self.non_http || self.upgraded || self.closed {
            return;
        }
        if self.client.is_none() {
            // Sniffing: what was buffered no longer leads anywhere.
            let side = self.side(s);
            side.buf.clear();
            side.neither = false;
            return;
        }
        if self.tunnel {
            // Cannot tell what the tunnel carries any more.
            self.close_tunnel();
            return;
        }
        let phase = self.side_ref(s).phase;
        match phase {
            Phase::Dead | Phase::Sniff => {}
            Phase::SkipLine => self.side(s).phase = Phase::Head { resync: true },
            Phase::Head { resync } => {
                let side = self.side(s);
                // On the server side the gap took (the start of) a response: the one of the
                // oldest request waiting, which must not take the next response found.
                let lost = side.role == Role::Server && !resync && self.lose_response(out);
                let side = self.side(s);
                let had = !side.buf.is_empty() || side.v09 || lost;
                let v09 = side.v09.then_some(side.cur).flatten();
                side.reset_head();
                side.phase = Phase::Head { resync: true };
                if had {
                    self.stats.gaps_in_messages += 1;
                }
                self.stats.resyncs += 1;
                if let Some(idx) = v09 {
                    self.side(s).cur = None;
                    if let Some(e) = self.entry_mut(idx) {
                        e.flags |= bit(Flag::Gap);
                        e.req_done = true;
                    }
                    self.emit_ready(out);
                }
            }
            Phase::Body => {
                self.stats.gaps_in_messages += 1;
                let side = self.side(s);
                let Some(body) = side.body.as_mut() else {
                    return;
                };
                let fits = match &mut body.framing {
                    Framing::UntilClose => {
                        body.dec.gap(len);
                        true
                    }
                    Framing::Length(rem) if len > 0 && len <= *rem => {
                        *rem -= len;
                        body.dec.gap(len);
                        true
                    }
                    Framing::Chunked(ch) if len > 0 && len <= ch.data_remaining() => {
                        ch.skip_data(len);
                        body.dec.gap(len);
                        true
                    }
                    _ => false,
                };
                let done = matches!(body.framing, Framing::Length(0));
                // A gap running past a known body end also took the next message's start.
                let overran = matches!(body.framing, Framing::Length(rem) if len > rem);
                if let Some(idx) = side.cur {
                    if let Some(e) = self.entry_mut(idx) {
                        e.flags |= bit(Flag::Gap);
                    }
                }
                if !fits {
                    self.stats.resyncs += 1;
                    self.finish_body(s, bit(Flag::Gap) | bit(Flag::Truncated), out);
                    self.side(s).phase = Phase::Head { resync: true };
                    if overran && self.side_ref(s).role == Role::Server {
                        let _ = self.lose_response(out);
                    }
                } else if done {
                    self.finish_body(s, bit(Flag::Gap), out);
                }
            }
        }
    }

    /// Mark the oldest request waiting for a response as answered by a lost response.
    /// Returns whether there was one.
    fn lose_response(&mut self, out: &mut Vec<HttpEvent>) -> bool {
        let Some(idx) = self.first_unanswered() else {
            return false;
        };
        if let Some(e) = self.entry_mut(idx) {
            e.resp_lost = true;
            e.flags |= bit(Flag::Gap);
        }
        self.emit_ready(out);
        true
    }

    /// The direction ended (FIN or close): finish what it was doing.
    fn end_side(&mut self, s: S, ts: Timestamp, out: &mut Vec<HttpEvent>) {
        let phase = self.side_ref(s).phase;
        match phase {
            Phase::Dead | Phase::Sniff | Phase::SkipLine => {}
            Phase::Body => {
                let until_close = matches!(
                    self.side_ref(s).body.as_ref().map(|b| &b.framing),
                    Some(Framing::UntilClose)
                );
                let flags = if until_close { 0 } else { bit(Flag::Truncated) };
                self.finish_body(s, flags, out);
            }
            Phase::Head { .. } => {
                let side = self.side(s);
                if side.v09 && !side.v09_headers {
                    self.finish_v09_request(s, out);
                } else if !side.buf.is_empty() || side.v09 {
                    // A partial head: keep it if its start line is complete and plausible.
                    let complete = side.scan.line_start;
                    let role = side.role;
                    let v09 = side.v09;
                    let ok = side.checked && side.scan.first_line_end.is_some();
                    let head = std::mem::take(&mut side.buf);
                    side.reset_head();
                    if ok {
                        let h = head.get(..complete).unwrap_or_default();
                        match role {
                            Role::Client => self.on_request_head(s, h, v09, ts, true, out),
                            _ => self.on_response_head(s, h, ts, true, out),
                        }
                        if v09 {
                            let cur = self.side(s).cur.take();
                            if let Some(e) = cur.and_then(|i| self.entry_mut(i)) {
                                e.req_done = true;
                            }
                        }
                    } else {
                        self.stats.incomplete_heads += 1;
                    }
                }
            }
        }
        self.side(s).phase = Phase::Dead;
        self.emit_ready(out);
    }

    fn flush_all(&mut self, out: &mut Vec<HttpEvent>) {
        while let Some(e) = self.queue.pop_front() {
            self.emit(e, out);
        }
    }

    fn emit_ready(&mut self, out: &mut Vec<HttpEvent>) {
        while self.queue.front().is_some_and(Entry::ready) {
            if let Some(e) = self.queue.pop_front() {
                self.emit(e, out);
            }
        }
    }

    fn emit(&mut self, e: Entry, out: &mut Vec<HttpEvent>) {
        let mut flags = e.flags;
        match (&e.request, &e.response) {
            (Some(_), None) => {
                flags |= bit(Flag::UnpairedRequest);
                self.stats.unpaired_requests += 1;
            }
            (None, _) => {
                flags |= bit(Flag::UnpairedResponse);
                self.stats.unpaired_responses += 1;
            }
            _ => {}
        }
        if (e.request.is_some() && !e.req_done) || (e.response.is_some() && !e.resp_done) {
            flags |= bit(Flag::Truncated);
        }
        self.stats.exchanges += 1;
        let i = self.info;
        let (client, server, conn_id) = if self.client == Some(S::Down) {
            (i.resp, i.orig, i.id)
        } else {
            (i.orig, i.resp, i.id)
        };
        let flags = ALL_FLAGS
            .iter()
            .copied()
            .filter(|&f| flags & bit(f) != 0)
            .collect();
        out.push(HttpEvent::Done(Box::new(Exchange {
            conn_id,
            index: e.index,
            client,
            server,
            request: e.request,
            response: e.response,
            flags,
            stream_id: None,
        })));
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
