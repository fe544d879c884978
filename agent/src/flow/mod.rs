//! Stage 3 — flow tracking: TCP segments → connections, each with two reassembled
//! directions and an application-layer handler.
//!
//! Input: [`crate::decode::TcpSegment`]. Output: calls on a [`ConnHandler`] per connection
//! (in-order data, gaps, FIN, close), which turn bytes into events (e.g. HTTP exchanges).

use crate::Timestamp;
use std::net::SocketAddr;

/// Which side of a connection sent some bytes, relative to the *originator*: the host that
/// sent the SYN, or, for connections picked up mid-stream, the sender of the first packet
/// seen. The application layer may decide by content that the roles are the other way round.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Dir {
    /// From the originator to the responder.
    ToResponder,
    /// From the responder to the originator.
    ToOriginator,
}

impl Dir {
    /// The opposite direction.
    pub fn flip(self) -> Dir {
        match self {
            Dir::ToResponder => Dir::ToOriginator,
            Dir::ToOriginator => Dir::ToResponder,
        }
    }
}

/// Facts about a connection handed to its handler.
#[derive(Copy, Clone, Debug)]
pub struct ConnInfo {
    /// Unique id of this connection within one run (monotonic in first-packet order).
    pub id: u64,
    /// Originator address (see [`Dir`]).
    pub orig: SocketAddr,
    /// Responder address.
    pub resp: SocketAddr,
    /// Was the three-way handshake (a SYN) seen?
    pub saw_syn: bool,
}

/// Why a connection ended.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// Both directions sent FIN.
    Fin,
    /// A RST was seen.
    Rst,
    /// No packet for the idle timeout.
    Idle,
    /// Evicted to respect the flow-table or memory cap.
    Evicted,
    /// The capture ended.
    EndOfCapture,
}

/// The application-layer side of a connection: receives each direction's reassembled byte
/// stream and pushes its results into `out`.
pub trait ConnHandler {
    /// What the handler produces (e.g. HTTP events).
    type Event;

    /// Does the handler still want this connection's bytes? Once it says no (not HTTP, or
    /// upgraded to another protocol), the flow table stops reassembling and buffering the
    /// connection's payload and only tracks it until it closes.
    fn wants_data(&self) -> bool {
        true
    }

    /// In-order bytes of one direction.
    fn on_data(
        &mut self,
        conn: &ConnInfo,
        dir: Dir,
        ts: Timestamp,
        data: &[u8],
        out: &mut Vec<Self::Event>,
    );

    /// `len` bytes of one direction are missing and will never arrive (a capture gap, or
    /// buffered data given up to respect a cap). `len` may be 0 if unknown.
    fn on_gap(&mut self, conn: &ConnInfo, dir: Dir, ts: Timestamp, len: u64, out: &mut Vec<Self::Event>);

    /// One direction was closed with FIN (all its data before the FIN was delivered).
    fn on_fin(&mut self, conn: &ConnInfo, dir: Dir, ts: Timestamp, out: &mut Vec<Self::Event>);

    /// The connection is gone; flush everything. Called exactly once per connection.
    fn on_close(&mut self, conn: &ConnInfo, ts: Timestamp, reason: CloseReason, out: &mut Vec<Self::Event>);
}
