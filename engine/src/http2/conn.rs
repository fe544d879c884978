//! [`H2Conn`]: one HTTP/2 connection's two byte streams → one exchange per stream.
//!
//! Policies:
//! - **Roles.** The side that sends the client preface is the client. On a connection picked
//!   up mid-stream the first decoded header block decides: `:method`/`:path` come from the
//!   client, `:status` from the server; until then the originator is assumed to be the client.
//! - **Streams.** A stream becomes one [`Exchange`] (`index` counts streams in the order they
//!   were opened; the request's version is `HTTP/2`, its `uri` the `:path` — the
//!   `:authority` for CONNECT). The exchange is emitted when both sides ended the stream
//!   (END_STREAM), on RST_STREAM, when GOAWAY says the stream will not be processed, or at
//!   close (then flagged `truncated`). 1xx responses are skipped. Trailers are appended to
//!   the request's or response's header list (so `grpc-status` is where HTTP/1 trailers
//!   would be). Header fields keep their wire names, pseudo-headers included.
//! - **Never invented.** A request whose `:method` or `:path` could not be decoded (HPACK
//!   state unknown after a pickup or a lost header block) is not emitted as a request: the
//!   exchange carries the response only, flagged `gap`. Likewise for `:status`.
//! - **Caps, all counted in [`H2Stats`]:** open streams per connection
//!   ([`H2Config::max_streams`]; the header blocks of a refused stream are still decoded so
//!   the HPACK table stays in step); frame payloads buffered
//!   ([`H2Config::max_frame`]: a larger frame's payload is skipped — a DATA frame's bytes are
//!   counted as lost to the body, a header block fragment loses the HPACK state); a header
//!   block ([`H2Config::max_header_block`]); the decoded header list and the HPACK table
//!   ([`Limits`]); bodies are content-decoded with the same caps as HTTP/1.
//! - **Gaps and pickup.** A direction whose start was not seen, or that lost bytes in a gap,
//!   has lost its frame boundaries and its HPACK state. Boundaries are found again by a checked
//!   parse of frame headers ([`FrameHeader::plausible`] on two consecutive frames, or one
//!   that ends exactly where the buffered bytes end); the HPACK decoder continues in the
//!   "unknown table" mode described in [`super::hpack`]: header blocks that reference lost
//!   entries are counted in `header_blocks_undecodable`.

use super::config::{chain_ok, H2Config, H2Stats};
use super::frame::{self, Frame, FrameError, FrameHeader, HEADER_LEN, PREFACE};
use super::hpack::{Decoder, HeaderBlock, Limits};
use super::stream::{Event, Half, State, Stream};
use crate::exchange::{Exchange, Flag, HttpEvent, Request, Response};
use crate::flow::{ConnInfo, Dir};
use crate::http::body::{BodyResult, ContentDecoder, DecodeLimits};
use crate::http::parser::framing;
use crate::Timestamp;
use std::collections::BTreeMap;
use tracing::trace;

/// A header block being collected across CONTINUATION frames.
#[derive(Debug)]
struct Pending {
    stream_id: u32,
    end_stream: bool,
    /// PUSH_PROMISE: the promised stream.
    promised: Option<u32>,
    block: Vec<u8>,
    capped: bool,
}

/// One direction.
#[derive(Debug)]
struct Side {
    buf: Vec<u8>,
    /// Payload bytes of an oversized frame still to skip.
    skip: u64,
    /// Expecting the client preface at the start of this side.
    preface: bool,
    /// Frame boundaries unknown: searching.
    lost: bool,
    hpack: Decoder,
    pending: Option<Pending>,
    /// Data ended (FIN).
    fin: bool,
    /// No byte seen yet on a connection recognised by content: a client preface here
    /// starts the direction cleanly.
    fresh: bool,
}

impl Side {
    fn new(hpack: Limits) -> Side {
        Side {
            buf: Vec::new(),
            skip: 0,
            preface: false,
            lost: false,
            hpack: Decoder::new(hpack),
            pending: None,
            fin: false,
            fresh: false,
        }
    }
}

/// Side `d` of `sides` (any `d` other than 0 is side 1), borrowing only the sides.
fn side_of(sides: &mut [Side; 2], d: usize) -> &mut Side {
    let [a, b] = sides;
    if d == 0 {
        a
    } else {
        b
    }
}

fn idx(dir: Dir) -> usize {
    match dir {
        Dir::ToResponder => 0,
        Dir::ToOriginator => 1,
    }
}

/// The per-connection HTTP/2 handler. Create it when a connection is known (or believed) to
/// carry HTTP/2: [`H2Conn::new`] after the client preface was recognised on `client_dir`,
/// [`H2Conn::picked_up`] for a connection whose start was not captured.
#[derive(Debug)]
pub struct H2Conn {
    cfg: H2Config,
    sides: [Side; 2],
    /// Direction of the client's bytes.
    client_dir: Dir,
    /// Client role settled (by preface or by decoded headers).
    roles_known: bool,
    streams: BTreeMap<u32, Stream>,
    next_index: u64,
    /// Streams above this id were not processed (GOAWAY).
    goaway: Option<u32>,
    info: Option<ConnInfo>,
    stats: H2Stats,
    closed: bool,
    warned: bool,
}

impl H2Conn {
    /// A connection whose client preface is expected at the start of `client_dir`.
    pub fn new(cfg: H2Config, client_dir: Dir) -> H2Conn {
        let mut c = H2Conn::blank(cfg, client_dir);
        c.sides_mut(idx(client_dir)).preface = true;
        c.roles_known = true;
        c
    }

    /// A connection recognised by its frames rather than by the client preface. With
    /// `from_start` (the handshake was captured, e.g. the server's SETTINGS arrived before
    /// the client's preface) both directions are parsed from their first byte; otherwise it
    /// was picked up mid-stream: frame boundaries are searched for and the HPACK state is
    /// unknown on both sides. Either way a direction that begins with the client preface is
    /// the client's, seen from its start.
    pub fn by_content(cfg: H2Config, from_start: bool) -> H2Conn {
        let mut c = H2Conn::blank(cfg, Dir::ToResponder);
        for s in &mut c.sides {
            s.fresh = true;
            if !from_start {
                s.lost = true;
                s.hpack = Decoder::picked_up(cfg.hpack);
            }
        }
        c.stats.pickups = u64::from(!from_start);
        c
    }

    /// A connection picked up mid-stream (see [`H2Conn::by_content`]).
    pub fn picked_up(cfg: H2Config) -> H2Conn {
        H2Conn::by_content(cfg, false)
    }

    /// Record the connection (normally learned from the first callback).
    pub fn set_conn(&mut self, conn: &ConnInfo) {
        self.info = Some(*conn);
    }

    fn blank(cfg: H2Config, client_dir: Dir) -> H2Conn {
        H2Conn {
            cfg,
            sides: [Side::new(cfg.hpack), Side::new(cfg.hpack)],
            client_dir,
            roles_known: false,
            streams: BTreeMap::new(),
            next_index: 0,
            goaway: None,
            info: None,
            stats: H2Stats {
                connections: 1,
                ..H2Stats::default()
            },
            closed: false,
            warned: false,
        }
    }

    /// Side `d` (0: to the responder, 1: to the originator; anything else is side 1).
    fn sides_mut(&mut self, d: usize) -> &mut Side {
        side_of(&mut self.sides, d)
    }

    /// This connection's counters so far.
    pub fn stats(&self) -> H2Stats {
        self.stats
    }

    fn lost_frames(&mut self, d: usize, why: &str) {
        let s = side_of(&mut self.sides, d);
        if !s.lost {
            self.stats.resyncs += 1;
            trace!(why, "h2 direction lost its frame boundaries");
        }
        s.lost = true;
        s.skip = 0;
        s.pending = None;
        s.hpack.desync();
        if !self.warned {
            self.warned = true;
            tracing::debug!(
                why,
                "h2: lost frame boundaries; searching (logged once per connection)"
            );
        }
    }

    /// Search `rest` for frame boundaries: the offset of the first plausible frame chain,
    /// or `None` (then all but a possible partial header is thrown away by the caller).
    fn find_frames(rest: &[u8]) -> Option<usize> {
        (0..=rest.len().saturating_sub(HEADER_LEN)).find(|&off| chain_ok(rest, off))
    }

    fn process(&mut self, d: usize, ts: Timestamp, out: &mut Vec<HttpEvent>) {
        // the buffer is taken out so frames can borrow it while `self` is updated
        let mut buf = std::mem::take(&mut self.sides_mut(d).buf);
        let mut pos = 0usize;
        let max = self.cfg.max_frame;
        if self.sides_mut(d).fresh {
            let n = buf.len().min(PREFACE.len());
            if n < PREFACE.len() && PREFACE.starts_with(&buf) {
                // wait for the whole preface to decide
                self.sides_mut(d).buf = buf;
                return;
            }
            self.sides_mut(d).fresh = false;
            if buf.starts_with(PREFACE) {
                let s = side_of(&mut self.sides, d);
                s.preface = true;
                s.lost = false;
                s.hpack = Decoder::new(self.cfg.hpack);
                self.client_dir = if d == 0 {
                    Dir::ToResponder
                } else {
                    Dir::ToOriginator
                };
                self.roles_known = true;
            } else if !self.sides_mut(d).lost && !chain_ok(&buf, 0) {
                // not frames from the first byte (e.g. an HTTP/1 request to an h2c server)
                self.stats.resyncs += 1;
                self.sides_mut(d).lost = true;
                self.sides_mut(d).hpack.desync();
            }
        }
        loop {
            let rest = buf.get(pos..).unwrap_or(&[]);
            if self.sides_mut(d).skip > 0 {
                let n = self.sides_mut(d).skip.min(rest.len() as u64);
                pos += n as usize;
                self.sides_mut(d).skip -= n;
                if self.sides_mut(d).skip > 0 {
                    break;
                }
                continue;
            }
            if self.sides_mut(d).preface {
                let n = rest.len().min(PREFACE.len());
                if rest.get(..n) != PREFACE.get(..n) {
                    self.sides_mut(d).preface = false;
                    self.lost_frames(d, "bad preface");
                    continue;
                }
                if n < PREFACE.len() {
                    break;
                }
                pos += PREFACE.len();
                self.sides_mut(d).preface = false;
                continue;
            }
            if self.sides_mut(d).lost {
                if rest.len() < HEADER_LEN {
                    break;
                }
                match Self::find_frames(rest) {
                    Some(off) => {
                        self.stats.resync_bytes += off as u64;
                        pos += off;
                        self.sides_mut(d).lost = false;
                    }
                    None if rest.len() < 2 * HEADER_LEN => break,
                    None => {
                        // keep what may be the start of a frame not yet complete
                        let keep =
                            (frame::DEFAULT_MAX_FRAME_SIZE as usize + HEADER_LEN).min(rest.len());
                        let drop = rest.len() - keep;
                        // a frame header within `keep` must not be re-judged forever
                        let drop = if drop == 0 && rest.len() >= 2 * HEADER_LEN {
                            1
                        } else {
                            drop
                        };
                        self.stats.resync_bytes += drop as u64;
                        pos += drop;
                        break;
                    }
                }
                continue;
            }
            match Frame::parse(rest, max) {
                Ok(None) => break,
                Ok(Some((f, n))) => {
                    self.stats.frames += 1;
                    self.on_frame(d, ts, f, out);
                    pos += n;
                }
                Err(FrameError::TooLong { header }) => {
                    self.stats.frames_skipped += 1;
                    self.skip_frame(d, &header);
                    pos += HEADER_LEN;
                }
                Err(e) => {
                    self.stats.frame_errors += 1;
                    self.lost_frames(d, &e.to_string());
                    // step past this header so the search does not stop on it again
                    pos += 1;
                }
            }
        }
        buf.drain(..pos.min(buf.len()));
        self.sides_mut(d).buf = buf;
    }

    fn skip_frame(&mut self, d: usize, h: &FrameHeader) {
        self.sides_mut(d).skip = u64::from(h.len);
        match h.kind {
            frame::kind::DATA => {
                let client = self.is_client(d);
                if let Some(st) = self.streams.get_mut(&h.stream_id) {
                    let half = if client { &mut st.req } else { &mut st.resp };
                    half.gap = true;
                    if let Some(b) = half.body.as_mut() {
                        b.gap(u64::from(h.len));
                    }
                }
            }
            frame::kind::HEADERS | frame::kind::CONTINUATION | frame::kind::PUSH_PROMISE => {
                self.sides_mut(d).pending = None;
                self.sides_mut(d).hpack.desync();
                self.stats.header_blocks_capped += 1;
            }
            _ => {}
        }
    }

    fn is_client(&self, d: usize) -> bool {
        d == idx(self.client_dir)
    }

    fn on_frame(&mut self, d: usize, ts: Timestamp, f: Frame<'_>, out: &mut Vec<HttpEvent>) {
        // a header block in progress accepts only CONTINUATION of its stream
        if let Some(p) = &self.sides_mut(d).pending {
            let ok =
                matches!(&f, Frame::Continuation { stream_id, .. } if *stream_id == p.stream_id);
            if !ok {
                self.stats.frame_errors += 1;
                self.sides_mut(d).pending = None;
                self.sides_mut(d).hpack.desync();
            }
        }
        match f {
            Frame::Data {
                stream_id,
                end_stream,
                data,
                ..
            } => {
                let client = self.is_client(d);
                if let Some(st) = self.streams.get_mut(&stream_id) {
                    let half = if client { &mut st.req } else { &mut st.resp };
                    half.ts_end = ts;
                    match half.body.as_mut() {
                        Some(b) => b.write(data),
                        None => half.orphan_data += data.len() as u64,
                    }
                    if end_stream {
                        st.transition(stream_id, Event::EndStream { client });
                    }
                }
                if end_stream {
                    self.maybe_emit(stream_id, out);
                }
            }
            Frame::Headers {
                stream_id,
                end_stream,
                end_headers,
                fragment,
                ..
            } => {
                self.start_block(
                    d,
                    ts,
                    stream_id,
                    end_stream,
                    None,
                    end_headers,
                    fragment,
                    out,
                );
            }
            Frame::PushPromise {
                stream_id,
                promised_id,
                end_headers,
                fragment,
            } => {
                self.start_block(
                    d,
                    ts,
                    stream_id,
                    false,
                    Some(promised_id),
                    end_headers,
                    fragment,
                    out,
                );
            }
            Frame::Continuation {
                stream_id,
                end_headers,
                fragment,
            } => {
                let cap = self.cfg.max_header_block;
                let s = &mut self.sides_mut(d);
                let Some(p) = s.pending.as_mut().filter(|p| p.stream_id == stream_id) else {
                    // CONTINUATION without its HEADERS (pickup, or after a lost block)
                    self.stats.header_blocks_undecodable += u64::from(end_headers);
                    return;
                };
                if p.block.len() + fragment.len() > cap {
                    p.capped = true;
                } else {
                    p.block.extend_from_slice(fragment);
                }
                if end_headers {
                    if let Some(p) = s.pending.take() {
                        self.finish_block(d, ts, p, out);
                    }
                }
            }
            Frame::RstStream {
                stream_id,
                error_code,
            } => {
                self.stats.rst_streams += 1;
                if let Some(st) = self.streams.get_mut(&stream_id) {
                    st.transition(stream_id, Event::Reset(error_code));
                }
                self.maybe_emit(stream_id, out);
            }
            // The peer's SETTINGS_HEADER_TABLE_SIZE bounds the other side's encoder, which
            // announces what it uses with a table-size update: the decoder follows that.
            Frame::Settings { .. } => {}
            Frame::GoAway { last_stream_id, .. } => {
                self.stats.goaways += 1;
                self.goaway = Some(
                    self.goaway
                        .map_or(last_stream_id, |g| g.min(last_stream_id)),
                );
                // streams the sender never processed are over
                let client_sent = self.is_client(d);
                let dead: Vec<u32> = self
                    .streams
                    .keys()
                    .copied()
                    .filter(|&id| id > last_stream_id && (id % 2 == 1) != client_sent)
                    .collect();
                for id in dead {
                    if let Some(st) = self.streams.get_mut(&id) {
                        st.transition(id, Event::Reset(0));
                    }
                    self.maybe_emit(id, out);
                }
            }
            Frame::Priority { .. }
            | Frame::Ping { .. }
            | Frame::WindowUpdate { .. }
            | Frame::Unknown { .. } => {}
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn start_block(
        &mut self,
        d: usize,
        ts: Timestamp,
        stream_id: u32,
        end_stream: bool,
        promised: Option<u32>,
        end_headers: bool,
        frag: &[u8],
        out: &mut Vec<HttpEvent>,
    ) {
        let cap = self.cfg.max_header_block;
        let capped = frag.len() > cap;
        let p = Pending {
            stream_id,
            end_stream,
            promised,
            block: if capped { Vec::new() } else { frag.to_vec() },
            capped,
        };
        if end_headers {
            self.finish_block(d, ts, p, out);
        } else {
            self.sides_mut(d).pending = Some(p);
        }
    }

    fn finish_block(&mut self, d: usize, ts: Timestamp, p: Pending, out: &mut Vec<HttpEvent>) {
        if p.capped {
            self.stats.header_blocks_capped += 1;
            self.sides_mut(d).hpack.desync();
            return;
        }
        self.stats.header_blocks += 1;
        let block = match self.sides_mut(d).hpack.decode(&p.block) {
            Ok(b) => b,
            Err(e) => {
                trace!(error = %e, "h2 header block undecodable");
                self.stats.header_blocks_undecodable += 1;
                self.sides_mut(d).hpack.desync();
                HeaderBlock {
                    missing: 1,
                    ..HeaderBlock::default()
                }
            }
        };
        if block.missing > 0 {
            self.stats.header_blocks_undecodable += 1;
        }
        if block.over_cap {
            self.stats.header_lists_capped += 1;
        }
        self.settle_roles(d, &block);
        let client = self.is_client(d);
        match p.promised {
            // a pushed request: the promised stream's request comes from the server side
            Some(pid) => self.headers(pid, ts, true, false, block, out),
            None => self.headers(p.stream_id, ts, client, p.end_stream, block, out),
        }
    }

    /// On a picked-up connection, decoded pseudo-headers tell who the client is.
    fn settle_roles(&mut self, d: usize, b: &HeaderBlock) {
        if self.roles_known {
            return;
        }
        let dir = if d == 0 {
            Dir::ToResponder
        } else {
            Dir::ToOriginator
        };
        let has = |n: &str| b.fields.headers().any(|(k, _)| k == n);
        if has(":method") || has(":path") {
            self.client_dir = dir;
            self.roles_known = true;
        } else if has(":status") {
            self.client_dir = dir.flip();
            self.roles_known = true;
        }
    }

    fn headers(
        &mut self,
        stream_id: u32,
        ts: Timestamp,
        client: bool,
        end_stream: bool,
        block: HeaderBlock,
        out: &mut Vec<HttpEvent>,
    ) {
        if !self.streams.contains_key(&stream_id) {
            if self.streams.len() >= self.cfg.max_streams {
                self.stats.streams_dropped += 1;
                return;
            }
            if self.goaway.is_some_and(|g| stream_id > g) {
                return;
            }
            self.stats.streams += 1;
            let index = self.next_index;
            self.next_index += 1;
            self.streams.insert(
                stream_id,
                Stream {
                    index,
                    state: State::Open,
                    req: Half::default(),
                    resp: Half::default(),
                    flags: Vec::new(),
                    upgraded: None,
                },
            );
            if let Some(info) = self.info {
                out.push(HttpEvent::Started {
                    ts,
                    conn_id: info.id,
                    index,
                });
            }
        }
        let limits = DecodeLimits {
            keep: self.cfg.http.keep_bodies,
            body_cap: self.cfg.http.body_cap,
            decoded_cap: self.cfg.http.decoded_cap,
        };
        let Some(st) = self.streams.get_mut(&stream_id) else {
            return;
        };
        let half = if client { &mut st.req } else { &mut st.resp };
        let interim = !client
            && block
                .fields
                .headers()
                .any(|(k, v)| k == ":status" && v.len() == 3 && v.starts_with('1'));
        if interim && !end_stream {
            return;
        }
        if half.headers_seen {
            // trailers
            half.fields.append_headers(&block.fields);
            half.ts_end = ts;
        } else {
            half.headers_seen = true;
            half.ts_start = Some(ts);
            half.ts_end = ts;
            let named = if client {
                let has = |n: &str| block.fields.headers().any(|(k, _)| k == n);
                has(":method") && (has(":path") || has(":authority"))
            } else {
                block.fields.headers().any(|(k, _)| k == ":status")
            };
            half.unknown = !named;
            let codings = framing(block.fields.headers()).codings;
            half.body = Some(ContentDecoder::with_codings(&codings, limits));
            half.fields = block.fields;
        }
        if end_stream {
            st.transition(stream_id, Event::EndStream { client });
            self.maybe_emit(stream_id, out);
        }
    }

    fn maybe_emit(&mut self, stream_id: u32, out: &mut Vec<HttpEvent>) {
        if self.streams.get(&stream_id).is_some_and(Stream::closed) {
            if let Some(st) = self.streams.remove(&stream_id) {
                self.emit(stream_id, st, out);
            }
        }
    }

    fn emit(&mut self, stream_id: u32, mut st: Stream, out: &mut Vec<HttpEvent>) {
        let Some(info) = self.info else {
            return;
        };
        let (client, server) = if self.client_dir == Dir::ToResponder {
            (info.orig, info.resp)
        } else {
            (info.resp, info.orig)
        };
        let mut flags = std::mem::take(&mut st.flags);
        let truncated = !st.closed();
        if truncated {
            flags.push(Flag::Truncated);
        }
        let req = self.finish_half(&mut st.req, &mut flags);
        let resp = self.finish_half(&mut st.resp, &mut flags);
        let upgraded = st.upgraded.take();
        let request = if upgraded.is_some() {
            upgraded
        } else {
            req.map(|(h, body)| {
                // method, target and version are parts of the fields' text (no copy)
                let mut head = h.fields;
                head.part_from_header(0, ":method");
                let target = if head.part(0) == "CONNECT" {
                    ":authority"
                } else {
                    ":path"
                };
                head.part_from_header(1, target);
                head.set_part(2, "HTTP/2");
                Request {
                    head,
                    body_len: body.len,
                    wire_len: body.raw_len,
                    body: body.body,
                    ts_start: h.ts_start.unwrap_or_default(),
                    ts_end: h.ts_end,
                }
            })
        };
        let response = resp.map(|(h, body)| {
            let mut head = h.fields;
            head.set_part(0, "HTTP/2");
            head.part_from_header(1, ":status");
            Response {
                status: head.part(1).parse().ok(),
                head,
                body_len: body.len,
                wire_len: body.raw_len,
                body: body.body,
                ts_start: h.ts_start.unwrap_or_default(),
                ts_end: h.ts_end,
            }
        });
        match (&request, &response) {
            (Some(_), None) => flags.push(Flag::UnpairedRequest),
            (None, Some(_)) => flags.push(Flag::UnpairedResponse),
            _ => {}
        }
        if request.is_none() && response.is_none() {
            // nothing decodable (its Started event is resolved by this empty exchange's key)
            flags.push(Flag::Gap);
        }
        flags.sort();
        flags.dedup();
        self.stats.exchanges += 1;
        out.push(HttpEvent::Done(Box::new(Exchange {
            conn_id: info.id,
            index: st.index,
            stream_id: Some(stream_id),
            client,
            server,
            request,
            response,
            flags,
            gate_key: None,
        })));
    }

    /// Finish one side: `None` if it was never seen or could not be named.
    fn finish_half(&mut self, h: &mut Half, flags: &mut Vec<Flag>) -> Option<(Half, BodyResult)> {
        if h.gap || h.orphan_data > 0 {
            flags.push(Flag::Gap);
        }
        if !h.headers_seen {
            return None;
        }
        if h.unknown {
            flags.push(Flag::Gap);
            return None;
        }
        let body = h
            .body
            .take()
            .map(ContentDecoder::finish)
            .unwrap_or_default();
        if body.decode_error {
            self.stats.decode_errors += 1;
            flags.push(Flag::DecodeError);
        }
        if body.capped {
            flags.push(Flag::BodyCapped);
        }
        Some((std::mem::take(h), body))
    }

    fn flush_all(&mut self, out: &mut Vec<HttpEvent>) {
        let streams = std::mem::take(&mut self.streams);
        for (id, st) in streams {
            self.emit(id, st, out);
        }
    }
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
    /// request, handed over by HTTP/1 (not emitted there): stream 1 emits that exchange
    /// with the HTTP/1.1 request and the HTTP/2 response, flagged `upgraded`.
    H2cUpgrade,
}

impl H2Conn {
    /// The parser of connection `conn`, started as `start` says; exchange indexes start at
    /// `first_index`; `client` is the client's direction (a guess for [`Http2Start::Frames`]:
    /// settled by content). `upgraded`: after an h2c upgrade, the HTTP/1.1 exchange whose
    /// request stream 1 answers.
    pub fn start(
        cfg: H2Config,
        conn: ConnInfo,
        client: Dir,
        start: Http2Start,
        first_index: u64,
        upgraded: Option<Box<Exchange>>,
    ) -> Self {
        let mut c = match start {
            Http2Start::Frames => H2Conn::by_content(cfg, conn.saw_syn),
            Http2Start::PriorKnowledge | Http2Start::H2cUpgrade => H2Conn::new(cfg, client),
        };
        c.info = Some(conn);
        c.next_index = first_index;
        if let (Http2Start::H2cUpgrade, Some(ex)) = (start, upgraded) {
            let ex = *ex;
            let mut flags = ex.flags;
            flags.push(Flag::Upgraded);
            // RFC 7540 §3.2: the upgraded request is stream 1, half-closed by the client;
            // the response on stream 1 completes its exchange (index given by HTTP/1).
            c.stats.streams += 1;
            c.streams.insert(
                1,
                Stream {
                    index: ex.index,
                    state: State::ClientDone,
                    req: Half::default(),
                    resp: Half::default(),
                    flags,
                    upgraded: ex.request,
                },
            );
        }
        c
    }
}

/// The calls that drive the parser: the two byte streams of one connection, in order per
/// direction; `on_close` exactly once, last.
impl H2Conn {
    /// Does the parser still want bytes (false once closed)?
    pub fn wants_data(&self) -> bool {
        !self.closed
    }

    /// In-order bytes of one direction.
    pub fn on_data(&mut self, dir: Dir, ts: Timestamp, data: &[u8], out: &mut Vec<HttpEvent>) {
        let d = idx(dir);
        self.sides_mut(d).buf.extend_from_slice(data);
        self.process(d, ts, out);
    }

    /// Bytes of one direction are missing for good: the streams they hit are flagged.
    pub fn on_gap(&mut self, dir: Dir, _ts: Timestamp, _len: u64, _out: &mut Vec<HttpEvent>) {
        let d = idx(dir);
        let client = self.is_client(d);
        for st in self.streams.values_mut() {
            let half = if client { &mut st.req } else { &mut st.resp };
            if !matches!(st.state, State::Closed { .. }) {
                half.gap = true;
            }
        }
        self.sides_mut(d).buf.clear();
        self.lost_frames(d, "capture gap");
    }

    /// One direction ended (FIN).
    pub fn on_fin(&mut self, dir: Dir, _ts: Timestamp, _out: &mut Vec<HttpEvent>) {
        self.sides_mut(idx(dir)).fin = true;
    }

    /// The connection is gone: emit everything still held.
    pub fn on_close(&mut self, _ts: Timestamp, out: &mut Vec<HttpEvent>) {
        if self.closed {
            return;
        }
        self.flush_all(out);
        self.closed = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http2::frame::{flag, kind};
    use crate::http2::looks_like_h2;

    fn frame(k: u8, flags: u8, sid: u32, payload: &[u8]) -> Vec<u8> {
        let mut v = (payload.len() as u32).to_be_bytes()[1..].to_vec();
        v.extend_from_slice(&[k, flags]);
        v.extend_from_slice(&sid.to_be_bytes());
        v.extend_from_slice(payload);
        v
    }

    /// HPACK: literal field with a new name; `index` adds it to the dynamic table.
    fn lit(name: &str, value: &str, index: bool) -> Vec<u8> {
        let mut v = vec![if index { 0x40 } else { 0x00 }, name.len() as u8];
        v.extend_from_slice(name.as_bytes());
        v.push(value.len() as u8);
        v.extend_from_slice(value.as_bytes());
        v
    }

    fn req_block(method: &str, path: &str) -> Vec<u8> {
        [
            lit(":method", method, false),
            lit(":path", path, false),
            lit(":scheme", "http", false),
        ]
        .concat()
    }

    fn conn(saw_syn: bool) -> ConnInfo {
        ConnInfo {
            id: 7,
            orig: "10.0.0.1:5000".parse().unwrap(),
            resp: "10.0.0.2:80".parse().unwrap(),
            saw_syn,
        }
    }

    struct Run {
        h: H2Conn,
        out: Vec<HttpEvent>,
        t: i64,
    }

    impl Run {
        fn new(mut h: H2Conn, saw_syn: bool) -> Run {
            h.set_conn(&conn(saw_syn));
            Run {
                h,
                out: Vec::new(),
                t: 0,
            }
        }
        fn send(&mut self, dir: Dir, bytes: &[u8]) {
            self.t += 1;
            let ts = Timestamp(self.t * 1_000_000);
            self.h.on_data(dir, ts, bytes, &mut self.out);
        }
        fn close(&mut self) -> Vec<Exchange> {
            self.h.on_close(Timestamp(0), &mut self.out);
            self.done()
        }
        fn done(&mut self) -> Vec<Exchange> {
            self.out
                .drain(..)
                .filter_map(|e| match e {
                    HttpEvent::Done(x) => Some(*x),
                    HttpEvent::Started { .. } => None,
                })
                .collect()
        }
    }

    const C: Dir = Dir::ToResponder;
    const S: Dir = Dir::ToOriginator;

    #[test]
    fn interleaved_streams_pair_by_id_with_bodies_and_trailers() {
        let mut r = Run::new(H2Conn::new(H2Config::default(), C), true);
        let mut c = PREFACE.to_vec();
        c.extend(frame(kind::SETTINGS, 0, 0, b""));
        c.extend(frame(
            kind::HEADERS,
            flag::END_HEADERS,
            1,
            &req_block("POST", "/a"),
        ));
        c.extend(frame(
            kind::HEADERS,
            flag::END_HEADERS | flag::END_STREAM,
            3,
            &req_block("GET", "/b"),
        ));
        r.send(C, &c);
        // stream 1's body in two DATA frames, the second padded
        r.send(C, &frame(kind::DATA, 0, 1, b"hel"));
        r.send(
            C,
            &frame(
                kind::DATA,
                flag::END_STREAM | flag::PADDED,
                1,
                b"\x02lo\0\0",
            ),
        );
        // responses: 3 first, then 1 with a header block split by CONTINUATION and trailers
        let mut s = frame(kind::SETTINGS, 0, 0, b"");
        s.extend(frame(
            kind::HEADERS,
            flag::END_HEADERS | flag::END_STREAM,
            3,
            &lit(":status", "404", false),
        ));
        let blk = [
            lit(":status", "200", false),
            lit("content-type", "text/plain", false),
        ]
        .concat();
        s.extend(frame(kind::HEADERS, 0, 1, &blk[..5]));
        s.extend(frame(kind::CONTINUATION, flag::END_HEADERS, 1, &blk[5..]));
        s.extend(frame(kind::DATA, 0, 1, b"world"));
        s.extend(frame(
            kind::HEADERS,
            flag::END_HEADERS | flag::END_STREAM,
            1,
            &lit("x-trailer", "t", false),
        ));
        r.send(S, &s);
        let ex = r.done();
        assert_eq!(ex.len(), 2);
        let (a, b) = (&ex[1], &ex[0]);
        assert_eq!(b.stream_id, Some(3));
        assert_eq!(b.index, 1);
        let q = b.request.as_ref().unwrap();
        assert_eq!((q.method(), q.uri(), q.version()), ("GET", "/b", "HTTP/2"));
        assert_eq!(b.response.as_ref().unwrap().status, Some(404));
        assert_eq!(a.stream_id, Some(1));
        assert_eq!(a.index, 0);
        let q = a.request.as_ref().unwrap();
        assert_eq!((q.method(), q.uri(), q.body_len), ("POST", "/a", 5));
        let p = a.response.as_ref().unwrap();
        assert_eq!(p.status, Some(200));
        assert_eq!(p.body_len, 5);
        assert_eq!(p.headers().next_back().unwrap(), ("x-trailer", "t"));
        assert!(a.flags.is_empty(), "{:?}", a.flags);
        assert_eq!(r.h.stats().exchanges, 2);
    }

    #[test]
    fn byte_at_a_time_gives_the_same_result() {
        let mut c = PREFACE.to_vec();
        c.extend(frame(
            kind::HEADERS,
            flag::END_HEADERS | flag::END_STREAM,
            1,
            &req_block("GET", "/x"),
        ));
        let s = frame(
            kind::HEADERS,
            flag::END_HEADERS | flag::END_STREAM,
            1,
            &lit(":status", "204", false),
        );
        let mut r = Run::new(H2Conn::new(H2Config::default(), C), true);
        for b in &c {
            r.send(C, std::slice::from_ref(b));
        }
        for b in &s {
            r.send(S, std::slice::from_ref(b));
        }
        let ex = r.done();
        assert_eq!(ex.len(), 1);
        assert_eq!(ex[0].request.as_ref().unwrap().uri(), "/x");
        assert_eq!(ex[0].response.as_ref().unwrap().status, Some(204));
    }

    #[test]
    fn rst_goaway_and_close() {
        let mut r = Run::new(H2Conn::new(H2Config::default(), C), true);
        let mut c = PREFACE.to_vec();
        for id in [1u32, 3, 5] {
            c.extend(frame(
                kind::HEADERS,
                flag::END_HEADERS | flag::END_STREAM,
                id,
                &req_block("GET", "/r"),
            ));
        }
        c.extend(frame(kind::RST_STREAM, 0, 1, &8u32.to_be_bytes()));
        r.send(C, &c);
        assert_eq!(r.done().len(), 1, "RST_STREAM ends stream 1");
        // GOAWAY from the server: stream 5 was never processed
        let mut g = 3u32.to_be_bytes().to_vec();
        g.extend(0u32.to_be_bytes());
        r.send(S, &frame(kind::GOAWAY, 0, 0, &g));
        let ex = r.done();
        assert_eq!(ex.len(), 1);
        assert_eq!(ex[0].stream_id, Some(5));
        // stream 3 is flushed at close, truncated and unpaired
        let ex = r.close();
        assert_eq!(ex.len(), 1);
        assert!(ex[0].flags.contains(&Flag::Truncated));
        assert!(ex[0].flags.contains(&Flag::UnpairedRequest));
        assert_eq!((r.h.stats().rst_streams, r.h.stats().goaways), (1, 1));
    }

    #[test]
    fn stream_cap_counts_and_keeps_hpack_in_step() {
        let cfg = H2Config {
            max_streams: 1,
            ..H2Config::default()
        };
        let mut r = Run::new(H2Conn::new(cfg, C), true);
        let mut c = PREFACE.to_vec();
        c.extend(frame(
            kind::HEADERS,
            flag::END_HEADERS,
            1,
            &req_block("GET", "/1"),
        ));
        // stream 3 is refused, but its block indexes "x-k: v" into the table
        let b3 = [req_block("GET", "/3"), lit("x-k", "v", true)].concat();
        c.extend(frame(
            kind::HEADERS,
            flag::END_HEADERS | flag::END_STREAM,
            3,
            &b3,
        ));
        c.extend(frame(kind::DATA, flag::END_STREAM, 1, b""));
        r.send(C, &c);
        r.send(
            S,
            &frame(
                kind::HEADERS,
                flag::END_HEADERS | flag::END_STREAM,
                1,
                &[0x88],
            ),
        );
        // stream 5 refers to it by index 62
        let mut c = Vec::new();
        let b5 = [req_block("GET", "/5"), vec![0xbe]].concat();
        c.extend(frame(
            kind::HEADERS,
            flag::END_HEADERS | flag::END_STREAM,
            5,
            &b5,
        ));
        r.send(C, &c);
        let ex = r.close();
        assert_eq!(r.h.stats().streams_dropped, 1);
        let five = ex.iter().find(|e| e.stream_id == Some(5)).unwrap();
        let q = five.request.as_ref().unwrap();
        assert!(q.headers().any(|h| h == ("x-k", "v")));
    }

    #[test]
    fn pickup_never_invents_a_path() {
        // no preface, no handshake: the client's block refers to a dynamic entry (index 62)
        // from before the capture, and to static ones
        let mut r = Run::new(H2Conn::picked_up(H2Config::default()), false);
        let mut c = frame(
            kind::HEADERS,
            flag::END_HEADERS | flag::END_STREAM,
            21,
            &[0x82, 0xbe],
        );
        c.extend(frame(kind::WINDOW_UPDATE, 0, 0, &1u32.to_be_bytes()));
        r.send(C, &c);
        r.send(
            S,
            &frame(
                kind::HEADERS,
                flag::END_HEADERS | flag::END_STREAM,
                21,
                &[0x88],
            ),
        );
        // a later request made of literals decodes fully
        r.send(
            C,
            &frame(
                kind::HEADERS,
                flag::END_HEADERS | flag::END_STREAM,
                23,
                &req_block("GET", "/ok"),
            ),
        );
        r.send(
            S,
            &frame(
                kind::HEADERS,
                flag::END_HEADERS | flag::END_STREAM,
                23,
                &[0x88],
            ),
        );
        let ex = r.done();
        assert_eq!(ex.len(), 2);
        assert!(ex[0].request.is_none(), "no :path: no request");
        assert!(ex[0].flags.contains(&Flag::Gap));
        assert_eq!(ex[0].response.as_ref().unwrap().status, Some(200));
        assert_eq!(ex[1].request.as_ref().unwrap().uri(), "/ok");
        let st = r.h.stats();
        assert_eq!((st.pickups, st.header_blocks_undecodable), (1, 1));
    }

    #[test]
    fn pickup_finds_frames_after_garbage_and_after_a_gap() {
        let mut r = Run::new(H2Conn::picked_up(H2Config::default()), false);
        // the tail of a DATA frame whose header was not captured, then frames
        let mut c = b"tail of some earlier body".to_vec();
        c.extend(frame(
            kind::HEADERS,
            flag::END_HEADERS | flag::END_STREAM,
            1,
            &req_block("GET", "/p"),
        ));
        c.extend(frame(kind::PING, 0, 0, &[0; 8]));
        r.send(C, &c);
        r.send(
            S,
            &frame(
                kind::HEADERS,
                flag::END_HEADERS | flag::END_STREAM,
                1,
                &[0x88],
            ),
        );
        assert_eq!(r.done()[0].request.as_ref().unwrap().uri(), "/p");
        // a gap on the client side: HPACK state lost, frames found again
        r.h.on_gap(C, Timestamp(0), 100, &mut r.out);
        let mut c = vec![0u8; 3];
        c.extend(frame(
            kind::HEADERS,
            flag::END_HEADERS | flag::END_STREAM,
            5,
            &req_block("GET", "/q"),
        ));
        c.extend(frame(kind::PING, 0, 0, &[0; 8]));
        r.send(C, &c);
        r.send(
            S,
            &frame(
                kind::HEADERS,
                flag::END_HEADERS | flag::END_STREAM,
                5,
                &[0x88],
            ),
        );
        assert_eq!(r.done()[0].request.as_ref().unwrap().uri(), "/q");
        assert!(r.h.stats().resyncs >= 1);
    }

    #[test]
    fn server_settings_before_client_preface() {
        // handshake seen, the server speaks first: both sides from their start
        let mut r = Run::new(H2Conn::by_content(H2Config::default(), true), true);
        r.send(S, &frame(kind::SETTINGS, 0, 0, b""));
        let mut c = PREFACE.to_vec();
        c.extend(frame(
            kind::HEADERS,
            flag::END_HEADERS | flag::END_STREAM,
            1,
            &[[0x82, 0x84].to_vec(), lit("x", "y", true)].concat(),
        ));
        c.extend(frame(
            kind::HEADERS,
            flag::END_HEADERS | flag::END_STREAM,
            3,
            &[0x82, 0x84, 0xbe],
        ));
        r.send(C, &c);
        r.send(
            S,
            &frame(
                kind::HEADERS,
                flag::END_HEADERS | flag::END_STREAM,
                1,
                &[0x88],
            ),
        );
        r.send(
            S,
            &frame(
                kind::HEADERS,
                flag::END_HEADERS | flag::END_STREAM,
                3,
                &[0x88],
            ),
        );
        let ex = r.done();
        assert_eq!(ex.len(), 2);
        assert!(ex
            .iter()
            .all(|e| e.request.as_ref().is_some_and(|q| q.uri() == "/")));
        assert_eq!(r.h.stats().header_blocks_undecodable, 0);
        assert_eq!(r.h.stats().pickups, 0);
    }

    #[test]
    fn oversized_frames_are_skipped_not_buffered() {
        let cfg = H2Config {
            max_frame: 16,
            ..H2Config::default()
        };
        let mut r = Run::new(H2Conn::new(cfg, C), true);
        let mut c = PREFACE.to_vec();
        c.extend(frame(kind::HEADERS, flag::END_HEADERS, 1, &[0x82, 0x84]));
        c.extend(frame(kind::DATA, 0, 1, &[b'x'; 100]));
        c.extend(frame(kind::DATA, flag::END_STREAM, 1, b"yz"));
        for chunk in c.chunks(7) {
            r.send(C, chunk);
        }
        assert!(r.h.sides[0].buf.len() <= 16 + HEADER_LEN);
        r.send(
            S,
            &frame(
                kind::HEADERS,
                flag::END_HEADERS | flag::END_STREAM,
                1,
                &[0x88],
            ),
        );
        let ex = r.done();
        assert_eq!(ex.len(), 1);
        assert!(ex[0].flags.contains(&Flag::Gap));
        assert_eq!(r.h.stats().frames_skipped, 1);
    }

    #[test]
    fn looks_like_h2_examples() {
        assert!(looks_like_h2(b"PRI * HT"));
        assert!(looks_like_h2(&frame(
            kind::SETTINGS,
            0,
            0,
            &[0, 3, 0, 0, 0, 100]
        )));
        assert!(!looks_like_h2(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
        assert!(!looks_like_h2(b"HTTP/1.1 200 OK\r\n\r\n"));
        assert!(!looks_like_h2(&[
            0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03
        ]));
    }
}
