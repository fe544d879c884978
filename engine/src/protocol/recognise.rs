//! [`Recogniser`]: picks a connection's parser by content (policy in the [module docs](super)).

use super::probe::{self, Probe};
use super::socks::{self, SocksTunnel};
use super::{
    Http2Context, Http2Start, ProtocolConfig, ProtocolStats, StreamParser, Switch, SwitchTo,
    MAX_TUNNEL_DEPTH, SNIFF_LIMIT,
};
use crate::exchange::HttpEvent;
use crate::flow::{pick, pick_mut, ConnInfo, Dir};
use crate::http::HttpConn;
use crate::Timestamp;

/// The first bytes of one direction, kept until the protocol is decided.
#[derive(Debug, Default)]
struct Pending {
    /// At most `head_cap + 1` bytes.
    buf: Vec<u8>,
    /// Timestamp of the first buffered byte.
    t0: Timestamp,
    /// Bytes seen in this direction while undecided (buffered or not).
    seen: u64,
}

/// What the protocol probes say about the bytes so far.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Decision {
    Wait,
    Http2 {
        client: usize,
    },
    /// HTTP/2 frames without the preface first (mid-stream, or the server spoke first).
    Http2Frames,
    Tls,
    Socks {
        client: usize,
        version: socks::Version,
    },
    Http1,
    Unrecognised,
}

/// The parser a connection was handed to. HTTP/1, by far the most common, is called
/// directly (no dynamic dispatch per data chunk); the others through [`StreamParser`].
enum Parser {
    Http1(Box<HttpConn>),
    Other(Box<dyn StreamParser>),
}

/// One call into a parser.
#[derive(Copy, Clone)]
enum Call<'a> {
    Data(Dir, Timestamp, &'a [u8]),
    Gap(Dir, Timestamp, u64),
    Fin(Dir, Timestamp),
}

impl Call<'_> {
    /// Makes the call on `p` (monomorphised: a direct call for a concrete parser).
    #[inline]
    fn on<P: StreamParser + ?Sized>(self, p: &mut P, out: &mut Vec<HttpEvent>) {
        match self {
            Call::Data(dir, ts, data) => p.on_data(dir, ts, data, out),
            Call::Gap(dir, ts, len) => p.on_gap(dir, ts, len, out),
            Call::Fin(dir, ts) => p.on_fin(dir, ts, out),
        }
    }
}

impl Parser {
    fn as_dyn(&mut self) -> &mut dyn StreamParser {
        match self {
            Parser::Http1(h) => h.as_mut(),
            Parser::Other(p) => p.as_mut(),
        }
    }

    fn wants_data(&self) -> bool {
        match self {
            Parser::Http1(h) => h.wants_data(),
            Parser::Other(p) => p.wants_data(),
        }
    }
}

enum State {
    /// Undecided: buffering both directions' first bytes.
    Sniffing([Pending; 2]),
    /// Decided: everything goes to this parser.
    Parsing(Parser),
    /// Nothing more to parse (recognised but not parsed, unrecognised, or after close).
    Done,
}

/// The protocol layer of one connection: recognises the protocol of its byte streams, then
/// hands them to that protocol's parser. A [`StreamParser`] itself (the pipeline adapts it
/// to the flow table's [`crate::flow::ConnHandler`]).
pub struct Recogniser {
    cfg: ProtocolConfig,
    conn: ConnInfo,
    depth: u8,
    /// The first exchange index (tunnels continue their connection's numbering).
    first_index: u64,
    /// The client's direction, when known before any byte (a CONNECT tunnel).
    client: Option<Dir>,
    state: State,
    stats: ProtocolStats,
    closed: bool,
    gate: Option<crate::http::SharedGate>,
    /// Handed to the HTTP/1 parser (see [`crate::exchange::HeadPool`]).
    pool: crate::exchange::HeadPool,
}

fn idx(d: Dir) -> usize {
    match d {
        Dir::ToResponder => 0,
        Dir::ToOriginator => 1,
    }
}

fn dir_of(i: usize) -> Dir {
    if i == 0 {
        Dir::ToResponder
    } else {
        Dir::ToOriginator
    }
}

impl Recogniser {
    /// The protocol layer of a new connection.
    pub fn new(cfg: ProtocolConfig, conn: ConnInfo) -> Self {
        Self::nested(cfg, conn, 0, 0, None)
    }

    /// The protocol layer of a tunnel `depth` levels inside a connection, numbering its
    /// exchanges from `first_index`; `client` if the tunnel's client is known.
    pub(crate) fn nested(
        cfg: ProtocolConfig,
        conn: ConnInfo,
        depth: u8,
        first_index: u64,
        client: Option<Dir>,
    ) -> Self {
        Recogniser {
            cfg,
            conn,
            depth,
            first_index,
            client,
            state: State::Sniffing(Default::default()),
            stats: ProtocolStats::default(),
            closed: false,
            gate: None,
            pool: Default::default(),
        }
    }

    /// Hands `gate` to the connection's HTTP/1 parser (see [`crate::http::BodyGate`]).
    pub fn with_gate(mut self, gate: Option<crate::http::SharedGate>) -> Self {
        self.gate = gate;
        self
    }

    /// Hands `pool` to the connection's HTTP/1 parser (see [`crate::exchange::HeadPool`]).
    pub fn with_pool(mut self, pool: crate::exchange::HeadPool) -> Self {
        self.pool = pool;
        self
    }

    /// This connection's counters so far (a parser's own counters are added when the
    /// connection closes or switches away from it).
    pub fn stats(&self) -> &ProtocolStats {
        &self.stats
    }

    /// What the probes say, `i` being the direction that just received bytes and `view`
    /// its buffered bytes (including the new ones).
    fn decide(&self, i: usize, view: &[u8], other: &Pending) -> Decision {
        let views = if i == 0 {
            [view, other.buf.as_slice()]
        } else {
            [other.buf.as_slice(), view]
        };
        let cap = self.cfg.http.head_cap;
        // 1. HTTP/2 preface.
        let h2 = views.map(probe::http2_preface);
        if let Some(c) = h2.iter().position(|&p| p == Probe::Match) {
            return Decision::Http2 { client: c };
        }
        if h2.contains(&Probe::Unsure) {
            return Decision::Wait;
        }
        // 2. TLS.
        let tls = views.map(probe::tls);
        if tls.contains(&Probe::Match) {
            return Decision::Tls;
        }
        if tls.contains(&Probe::Unsure) {
            return Decision::Wait;
        }
        // 3. SOCKS.
        match socks::probe(views[0], views[1]) {
            (Probe::Match, Some((client_is_0, version))) => {
                return Decision::Socks {
                    client: usize::from(!client_is_0),
                    version,
                }
            }
            (Probe::Unsure, _) => return Decision::Wait,
            _ => {}
        }
        // 4. HTTP/1.
        let h1 = views.map(|v| probe::http1(v, cap));
        if h1.contains(&Probe::Match) {
            return Decision::Http1;
        }
        // 5. HTTP/2 frames without a preface. When the handshake was seen and only one side
        //    spoke yet, wait: it is the server's SETTINGS, the client's preface follows.
        let both_spoke = views.iter().all(|v| !v.is_empty());
        if (both_spoke || !self.conn.saw_syn)
            && views.map(probe::http2_frames).contains(&Probe::Match)
        {
            return Decision::Http2Frames;
        }
        if h1 == [Probe::NoMatch; 2] {
            return Decision::Unrecognised;
        }
        Decision::Wait
    }

    /// In a tunnel whose client is known: does the server speak first (see the module docs)?
    fn server_first(&self, dir: Dir, data: &[u8]) -> bool {
        let (Some(c), State::Sniffing(pending)) = (self.client, &self.state) else {
            return false;
        };
        if dir == c || pick(pending, idx(c)).seen > 0 {
            return false;
        }
        let first = |b: &[u8]| b.iter().copied().find(|&b| b != b'\r' && b != b'\n');
        let mine = &pick(pending, idx(dir)).buf;
        first(mine).or_else(|| first(data)).is_some_and(|b| b != 0)
    }

    fn sniff(&mut self, dir: Dir, ts: Timestamp, data: &[u8], out: &mut Vec<HttpEvent>) {
        if self.server_first(dir, data) {
            self.stats.unrecognised += 1;
            self.state = State::Done;
            return;
        }
        let i = idx(dir);
        let cap = self.cfg.http.head_cap;
        let (prev, seen) = {
            let State::Sniffing(pending) = &mut self.state else {
                return;
            };
            let mine = pick_mut(pending, i);
            mine.seen = mine.seen.saturating_add(data.len() as u64);
            let prev = mine.buf.len();
            if prev > 0 {
                let room = (cap + 1).saturating_sub(prev);
                let take = room.min(data.len());
                mine.buf
                    .extend_from_slice(data.get(..take).unwrap_or_default());
            }
            (prev, mine.seen)
        };
        // The common case, nothing buffered: probe the caller's bytes without copying.
        let decision = if prev == 0 {
            self.decide_with(i, data.get(..data.len().min(cap + 1)).unwrap_or_default())
        } else {
            self.decide_buffered(i)
        };
        match decision {
            Decision::Wait => {
                let State::Sniffing(pending) = &mut self.state else {
                    return;
                };
                let mine = pick_mut(pending, i);
                if prev == 0 {
                    mine.t0 = ts;
                    let take = data.len().min(cap + 1);
                    mine.buf
                        .extend_from_slice(data.get(..take).unwrap_or_default());
                }
                // A direction that is nothing known and has sent SNIFF_LIMIT bytes ends it.
                let nothing = probe::http1(&mine.buf, cap) == Probe::NoMatch
                    && probe::tls(&mine.buf) == Probe::NoMatch
                    && probe::http2_preface(&mine.buf) == Probe::NoMatch;
                if nothing && seen > SNIFF_LIMIT {
                    self.stats.unrecognised += 1;
                    self.state = State::Done;
                }
            }
            Decision::Unrecognised => {
                self.stats.unrecognised += 1;
                self.state = State::Done;
            }
            Decision::Tls => {
                self.stats.tls += 1;
                self.state = State::Done;
            }
            Decision::Http2 { .. } | Decision::Http2Frames => {
                let (client, start) = match decision {
                    Decision::Http2 { client } => (client, Http2Start::PriorKnowledge),
                    _ => (0, Http2Start::Frames),
                };
                let ctx = Http2Context {
                    conn: self.conn,
                    client: dir_of(client),
                    start,
                    first_index: self.first_index,
                    http: self.cfg.http,
                    upgraded: None,
                };
                match self.cfg.http2 {
                    Some(make) => {
                        self.stats.http2 += 1;
                        self.start(Parser::Other(make(&ctx)), i, prev, ts, data, out);
                    }
                    None => {
                        self.stats.http2_unsupported += 1;
                        self.state = State::Done;
                    }
                }
            }
            Decision::Socks { client, version } => {
                if self.depth >= MAX_TUNNEL_DEPTH {
                    self.stats.tunnel_depth_exceeded += 1;
                    self.state = State::Done;
                    return;
                }
                match version {
                    socks::Version::V4 => self.stats.socks4 += 1,
                    socks::Version::V5 => self.stats.socks5 += 1,
                }
                let p = SocksTunnel::new(
                    version,
                    dir_of(client),
                    self.conn,
                    self.cfg,
                    self.depth,
                    self.first_index,
                )
                .with_gate(self.gate.clone());
                self.start(Parser::Other(Box::new(p)), i, prev, ts, data, out);
            }
            Decision::Http1 => {
                self.stats.http1 += 1;
                let p = HttpConn::with_first_index(self.cfg.http, self.conn, self.first_index)
                    .with_gate(self.gate.clone())
                    .with_pool(self.pool.clone());
                self.start(Parser::Http1(Box::new(p)), i, prev, ts, data, out);
            }
        }
    }

    fn decide_with(&self, i: usize, view: &[u8]) -> Decision {
        let State::Sniffing(pending) = &self.state else {
            return Decision::Wait;
        };
        self.decide(i, view, pick(pending, 1 - i))
    }

    fn decide_buffered(&self, i: usize) -> Decision {
        let State::Sniffing(pending) = &self.state else {
            return Decision::Wait;
        };
        self.decide(i, &pick(pending, i).buf, pick(pending, 1 - i))
    }

    /// Hands the connection to `parser`: replays what was buffered (the other direction
    /// first, then this direction's earlier bytes), then this call's bytes.
    fn start(
        &mut self,
        parser: Parser,
        i: usize,
        prev: usize,
        ts: Timestamp,
        data: &[u8],
        out: &mut Vec<HttpEvent>,
    ) {
        let State::Sniffing(pending) = std::mem::replace(&mut self.state, State::Parsing(parser))
        else {
            return;
        };
        let [p0, p1] = pending;
        let (mine, other) = if i == 0 { (p0, p1) } else { (p1, p0) };
        if !other.buf.is_empty() {
            self.call_parser(Call::Data(dir_of(1 - i), other.t0, &other.buf), out);
        }
        if prev > 0 {
            let earlier = mine.buf.get(..prev).unwrap_or_default();
            self.call_parser(Call::Data(dir_of(i), mine.t0, earlier), out);
        }
        self.call_parser(Call::Data(dir_of(i), ts, data), out);
    }

    /// One call into the parser, then a switch to another protocol if it asks for one.
    #[inline]
    fn call_parser(&mut self, call: Call<'_>, out: &mut Vec<HttpEvent>) {
        let State::Parsing(p) = &mut self.state else {
            return;
        };
        let sw = match p {
            Parser::Http1(h) => {
                call.on(h.as_mut(), out);
                if !h.switch_pending() {
                    return;
                }
                h.take_switch()
            }
            Parser::Other(p) => {
                call.on(p.as_mut(), out);
                p.take_switch()
            }
        };
        if let Some(sw) = sw {
            self.switch(sw, out);
        }
    }

    fn switch(&mut self, sw: Switch, out: &mut Vec<HttpEvent>) {
        let State::Parsing(mut old) = std::mem::replace(&mut self.state, State::Done) else {
            return;
        };
        old.as_dyn().on_close(sw.ts, out);
        old.as_dyn().add_stats(&mut self.stats);
        match sw.to {
            SwitchTo::H2cUpgrade => match self.cfg.http2 {
                Some(make) => {
                    self.stats.http2 += 1;
                    let ctx = Http2Context {
                        conn: self.conn,
                        client: sw.client,
                        start: Http2Start::H2cUpgrade,
                        first_index: sw.next_index,
                        http: self.cfg.http,
                        upgraded: sw.upgraded.clone(),
                    };
                    self.state = State::Parsing(Parser::Other(make(&ctx)));
                    if !sw.rest.is_empty() {
                        self.call_parser(Call::Data(sw.dir, sw.ts, &sw.rest), out);
                    }
                }
                None => {
                    self.stats.http2_unsupported += 1;
                    if let Some(x) = sw.upgraded {
                        out.push(HttpEvent::Done(x));
                    }
                }
            },
            SwitchTo::Tunnel => {
                if self.depth >= MAX_TUNNEL_DEPTH {
                    self.stats.tunnel_depth_exceeded += 1;
                    return;
                }
                self.stats.connect_tunnels += 1;
                let inner = Recogniser::nested(
                    self.cfg,
                    self.conn,
                    self.depth + 1,
                    sw.next_index,
                    Some(sw.client),
                )
                .with_gate(self.gate.clone())
                .with_pool(self.pool.clone());
                self.state = State::Parsing(Parser::Other(Box::new(inner)));
                if !sw.early.is_empty() {
                    let c = sw.dir.flip();
                    self.call_parser(Call::Data(c, sw.early_ts, &sw.early), out);
                }
                if !sw.rest.is_empty() {
                    self.call_parser(Call::Data(sw.dir, sw.ts, &sw.rest), out);
                }
            }
        }
    }
}

impl StreamParser for Recogniser {
    fn wants_data(&self) -> bool {
        match &self.state {
            State::Sniffing(_) => !self.closed,
            State::Parsing(p) => !self.closed && p.wants_data(),
            State::Done => false,
        }
    }

    fn on_data(&mut self, dir: Dir, ts: Timestamp, data: &[u8], out: &mut Vec<HttpEvent>) {
        if self.closed || data.is_empty() {
            return;
        }
        match &self.state {
            State::Sniffing(_) => self.sniff(dir, ts, data, out),
            State::Parsing(_) => self.call_parser(Call::Data(dir, ts, data), out),
            State::Done => {}
        }
    }

    fn on_gap(&mut self, dir: Dir, ts: Timestamp, len: u64, out: &mut Vec<HttpEvent>) {
        if self.closed {
            return;
        }
        match &mut self.state {
            State::Sniffing(pending) => {
                // What was buffered no longer leads anywhere.
                let p = pick_mut(pending, idx(dir));
                p.buf.clear();
            }
            State::Parsing(_) => self.call_parser(Call::Gap(dir, ts, len), out),
            State::Done => {}
        }
    }

    fn on_fin(&mut self, dir: Dir, ts: Timestamp, out: &mut Vec<HttpEvent>) {
        if self.closed {
            return;
        }
        // Before a decision a FIN is not replayed (the HTTP/1 parser ignored it too).
        if let State::Parsing(_) = &self.state {
            self.call_parser(Call::Fin(dir, ts), out);
        }
    }

    fn on_close(&mut self, ts: Timestamp, out: &mut Vec<HttpEvent>) {
        if self.closed {
            return;
        }
        self.closed = true;
        match std::mem::replace(&mut self.state, State::Done) {
            State::Sniffing(pending) => {
                if pending.iter().any(|p| p.seen > 0) {
                    let cap = self.cfg.http.head_cap;
                    let nothing = pending.iter().any(|p| {
                        !p.buf.is_empty()
                            && probe::http1(&p.buf, cap) == Probe::NoMatch
                            && probe::tls(&p.buf) == Probe::NoMatch
                            && probe::http2_preface(&p.buf) == Probe::NoMatch
                    });
                    if nothing {
                        self.stats.unrecognised += 1;
                    } else {
                        self.stats.undecided += 1;
                    }
                }
            }
            State::Parsing(mut p) => {
                p.as_dyn().on_close(ts, out);
                p.as_dyn().add_stats(&mut self.stats);
            }
            State::Done => {}
        }
    }

    fn add_stats(&self, into: &mut ProtocolStats) {
        into.add(&self.stats);
    }
}
