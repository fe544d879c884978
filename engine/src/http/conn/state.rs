//! One direction's parse state as a type: [`St`], whose variants hold exactly the data of
//! that state, and [`Side::go`], the one place a direction changes state (traced at trace
//! level: `RUST_LOG=apitap_engine=trace`), in the way h2's `proto/streams/state.rs` and
//! smoltcp's `set_state` keep their state machines.
//!
//! ```text
//!  Sniff ──not HTTP──▶ Foreign              (roles unknown)
//!    │ roles decided      │ roles decided (the other side is HTTP)
//!    ▼                    ▼
//!  Head ◀──────────── Head{resync} ◀── SkipLine ◀── garbage, oversized head, broken chunks
//!    │ version-less request line ──▶ V09 ──▶ Head (empty line, next request, server answers)
//!    │ head complete, with a body ──▶ Body ──▶ Head (body complete)
//!    │ 101 h2c / CONNECT 2xx ──▶ Tunnel (bytes collected for the next protocol)
//!    ▼
//!  Dead  (FIN, upgraded, not HTTP)
//! ```

use super::super::body::{Chunked, ContentDecoder};
use super::super::parser::HeadScan;
use crate::flow::Dir;
use crate::Timestamp;

/// Which side of the conversation a direction is, once known.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum Role {
    Unknown,
    Client,
    Server,
}

/// How a body's end is found.
#[derive(Debug)]
pub(super) enum Framing {
    /// This many bytes remain.
    Length(u64),
    /// Chunked transfer coding.
    Chunked(Chunked),
    /// The body ends when the direction does.
    UntilClose,
}

/// A message head being accumulated.
#[derive(Debug)]
pub(super) struct Head {
    /// The head's bytes so far (at most `head_cap + 1`).
    pub(super) buf: Vec<u8>,
    /// How far the search for the head's end got.
    pub(super) scan: HeadScan,
    /// The start line was found plausible.
    pub(super) checked: bool,
    /// Timestamp of the head's first byte.
    pub(super) ts: Timestamp,
    /// Looking for a start line after garbage or a gap (strict and silent).
    pub(super) resync: bool,
}

/// A version-less (HTTP/0.9) request line was parsed; its exchange is open.
#[derive(Debug)]
pub(super) struct V09 {
    /// The request line and what followed it.
    pub(super) head: Head,
    /// Its exchange.
    pub(super) cur: u64,
    /// Header lines follow the request line (so the request ends at an empty line).
    pub(super) headers: bool,
}

/// Inside a message body.
#[derive(Debug)]
pub(super) struct Body {
    /// The exchange the body belongs to.
    pub(super) cur: u64,
    pub(super) framing: Framing,
    pub(super) dec: ContentDecoder,
}

/// What one direction of an HTTP/1 connection is doing.
#[derive(Debug)]
pub(super) enum St {
    /// Roles unknown: this direction's first bytes (at most `head_cap + 1`), the timestamp
    /// of the first, and how many bytes it sent while sniffing.
    Sniff {
        buf: Vec<u8>,
        t0: Timestamp,
        seen: u64,
    },
    /// Roles unknown, and this direction's first bytes are not HTTP.
    Foreign { seen: u64 },
    /// Accumulating a message head.
    Head(Head),
    /// After a version-less request line.
    V09(V09),
    /// Discarding up to the next line feed, then looking for a start line (strict).
    SkipLine,
    /// Inside a body.
    Body(Body),
    /// The connection switched to another protocol (101 `h2c`, a CONNECT tunnel): this
    /// direction's bytes from here on belong to it and are collected for the recogniser.
    Tunnel,
    /// Ignoring everything (FIN seen, upgraded, not HTTP).
    Dead,
}

impl St {
    /// The state's name, for traces.
    pub(super) fn name(&self) -> &'static str {
        match self {
            St::Sniff { .. } => "sniff",
            St::Foreign { .. } => "foreign",
            St::Head(h) if h.resync => "head(resync)",
            St::Head(_) => "head",
            St::V09(_) => "http/0.9",
            St::SkipLine => "skip-line",
            St::Body(_) => "body",
            St::Tunnel => "tunnel",
            St::Dead => "dead",
        }
    }

    /// What a step that consumes no input must change (else the feed loop would spin).
    #[inline]
    pub(super) fn fingerprint(&self) -> (&'static str, usize, bool, Option<u64>) {
        match self {
            St::Sniff { buf, .. } => ("sniff", buf.len(), false, None),
            St::Head(h) => (self.name(), h.buf.len(), h.checked, None),
            St::V09(v) => ("http/0.9", v.head.buf.len(), v.headers, Some(v.cur)),
            St::Body(b) => ("body", 0, false, Some(b.cur)),
            _ => (self.name(), 0, false, None),
        }
    }
}

/// One direction of an HTTP/1 connection.
#[derive(Debug)]
pub(super) struct Side {
    /// Which stream this is.
    pub(super) dir: Dir,
    pub(super) role: Role,
    /// The state; changed only by [`Side::go`].
    st: St,
    /// Timestamp of the latest bytes (or gap) seen.
    pub(super) last_ts: Timestamp,
    /// A head buffer's allocation kept for the next head (at most [`SPARE_CAP`] bytes).
    spare: Vec<u8>,
}

/// Largest head buffer kept for reuse: idle connections should not pin memory.
const SPARE_CAP: usize = 8192;

impl Side {
    pub(super) fn new(dir: Dir) -> Side {
        Side {
            dir,
            role: Role::Unknown,
            st: St::Sniff {
                buf: Vec::new(),
                t0: Timestamp::default(),
                seen: 0,
            },
            last_ts: Timestamp::default(),
            spare: Vec::new(),
        }
    }

    /// The current state.
    pub(super) fn st(&self) -> &St {
        &self.st
    }

    /// The current state, to update the data it holds (not to change state: see
    /// [`Side::go`]).
    pub(super) fn st_mut(&mut self) -> &mut St {
        &mut self.st
    }

    /// Every state change goes through here (traced at trace level). Returns the state left.
    pub(super) fn go(&mut self, to: St) -> St {
        tracing::trace!(stream = ?self.dir, from = self.st.name(), to = to.name(), "http state");
        std::mem::replace(&mut self.st, to)
    }

    /// Changes state, keeping the allocation of a head buffer left behind.
    pub(super) fn set(&mut self, to: St) {
        let old = self.go(to);
        match old {
            St::Head(h) | St::V09(V09 { head: h, .. }) => self.recycle(h.buf),
            St::Sniff { buf, .. } => self.recycle(buf),
            _ => {}
        }
    }

    /// A fresh, empty head (reusing a kept allocation).
    pub(super) fn new_head(&mut self, resync: bool) -> St {
        St::Head(Head {
            buf: std::mem::take(&mut self.spare),
            scan: HeadScan::default(),
            checked: false,
            ts: Timestamp::default(),
            resync,
        })
    }

    /// Go to a fresh head.
    pub(super) fn go_head(&mut self, resync: bool) {
        let h = self.new_head(resync);
        self.set(h);
    }

    /// Keep `buf`'s allocation for the next head, if small.
    pub(super) fn recycle(&mut self, mut buf: Vec<u8>) {
        if buf.capacity() == 0 || buf.capacity() > SPARE_CAP {
            return;
        }
        buf.clear();
        match &mut self.st {
            St::Head(h) if h.buf.capacity() == 0 => h.buf = buf,
            _ if self.spare.capacity() == 0 => self.spare = buf,
            _ => {}
        }
    }

    /// The head being accumulated (in [`St::Head`] or [`St::V09`]).
    pub(super) fn head_mut(&mut self) -> Option<&mut Head> {
        match &mut self.st {
            St::Head(h) | St::V09(V09 { head: h, .. }) => Some(h),
            _ => None,
        }
    }

    /// The head being accumulated (in [`St::Head`] or [`St::V09`]).
    pub(super) fn head(&self) -> Option<&Head> {
        match &self.st {
            St::Head(h) | St::V09(V09 { head: h, .. }) => Some(h),
            _ => None,
        }
    }

    /// The exchange of the message in progress (a body, or a version-less request).
    pub(super) fn cur(&self) -> Option<u64> {
        match &self.st {
            St::Body(b) => Some(b.cur),
            St::V09(v) => Some(v.cur),
            _ => None,
        }
    }
}

/// Buffers up to `cap + 1` bytes of a stream whose protocol is not decided yet (one more
/// than the cap, so overflow is visible); returns how many bytes of `data` it took.
pub(super) fn sniff_append(buf: &mut Vec<u8>, data: &[u8], cap: usize) -> usize {
    let room = (cap + 1).saturating_sub(buf.len());
    let appended = room.min(data.len());
    buf.extend_from_slice(data.get(..appended).unwrap_or_default());
    appended
}

/// Buffered bytes without leading blank lines (no evidence either way).
pub(super) fn sniff_view(buf: &[u8]) -> &[u8] {
    let start = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len());
    buf.get(start..).unwrap_or_default()
}
