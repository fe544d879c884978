//! One HTTP/2 stream as [`H2Conn`](super::H2Conn) tracks it: its lifecycle ([`State`],
//! changed only by [`Stream::transition`], traced) and its request and response halves.

use crate::exchange::{Flag, MessageHead, Request};
use crate::http::body::ContentDecoder;
use crate::Timestamp;
use tracing::trace;

/// The lifecycle of a stream as seen from the wire. Each variant carries what that state
/// needs; [`Stream::transition`] is the only place it changes.
#[derive(Debug)]
pub(super) enum State {
    /// Frames seen on both sides may still come.
    Open,
    /// The client ended its side (END_STREAM); the server's side is open.
    ClientDone,
    /// The server ended its side first (e.g. an early response).
    ServerDone,
    /// Both ended, or the stream was reset: ready to emit.
    Closed {
        /// RST_STREAM error code, if reset.
        reset: Option<u32>,
    },
}

/// What happens to a stream.
#[derive(Copy, Clone, Debug)]
pub(super) enum Event {
    EndStream { client: bool },
    Reset(u32),
}

/// One side (request or response) of a stream.
#[derive(Debug, Default)]
pub(super) struct Half {
    /// Header fields (and trailers appended).
    pub(super) fields: MessageHead,
    /// A header block has been seen (a later one is trailers).
    pub(super) headers_seen: bool,
    /// The pseudo-headers that name the message could not be decoded.
    pub(super) unknown: bool,
    pub(super) body: Option<ContentDecoder>,
    /// Body bytes that arrived before any header block (pickup).
    pub(super) orphan_data: u64,
    pub(super) ts_start: Option<Timestamp>,
    pub(super) ts_end: Timestamp,
    pub(super) gap: bool,
}

#[derive(Debug)]
pub(super) struct Stream {
    pub(super) index: u64,
    pub(super) state: State,
    pub(super) req: Half,
    pub(super) resp: Half,
    pub(super) flags: Vec<Flag>,
    /// Stream 1 after an h2c upgrade: the HTTP/1.1 request it answers.
    pub(super) upgraded: Option<Request>,
}

impl Stream {
    pub(super) fn transition(&mut self, id: u32, ev: Event) {
        let next = match (&self.state, ev) {
            (_, Event::Reset(code)) => State::Closed { reset: Some(code) },
            (State::Open, Event::EndStream { client: true }) => State::ClientDone,
            (State::Open, Event::EndStream { client: false }) => State::ServerDone,
            (State::ClientDone, Event::EndStream { client: false })
            | (State::ServerDone, Event::EndStream { client: true }) => {
                State::Closed { reset: None }
            }
            // a repeated END_STREAM on an ended side changes nothing
            (State::ClientDone, _) => State::ClientDone,
            (State::ServerDone, _) => State::ServerDone,
            (State::Closed { reset }, _) => State::Closed { reset: *reset },
        };
        trace!(stream = id, from = ?self.state, event = ?ev, to = ?next, "h2 stream");
        self.state = next;
    }

    pub(super) fn closed(&self) -> bool {
        matches!(self.state, State::Closed { .. })
    }
}
