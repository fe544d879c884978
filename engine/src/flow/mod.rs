//! Stage 3 — flow tracking: TCP segments → connections, each with two reassembled
//! directions and an application-layer handler.
//!
//! Input: [`crate::decode::TcpSegment`]. Output: calls on a [`ConnHandler`] per connection
//! (in-order data, gaps, FIN, close), which turn bytes into events (e.g. HTTP exchanges).
//!
//! The [`FlowTable`] owns the connections. Policies:
//!
//! - **Key and hashing.** A connection is keyed by its two (address, port) endpoints in
//!   canonical order (lower first), so both directions find the same entry. The key is a
//!   fixed-size struct (two 128-bit addresses, two ports, the families; no allocation). It
//!   is hashed with `ahash` seeded randomly per table: the keys come from the network and are
//!   attacker-controlled, so an unkeyed fast hash (FxHash) would let a crafted flood of
//!   colliding flows degrade lookups to linear probing; SipHash (std) resists that but costs
//!   several times more per packet. ahash is keyed (DoS-resistant) and about as fast as
//!   FxHash for small keys. Nothing iterates the map, so its random order never reaches the
//!   output. (Flow tracking + reassembly alone: about 6 M packets/s with 20,000 active flows
//!   on the development machine, `tests/flow_perf.rs`.)
//! - **Roles.** The sender of a SYN without ACK is the originator; the sender of a SYN+ACK
//!   is the responder. A connection first seen mid-stream (a data segment without SYN) is
//!   originated by the sender of that segment, unless the sender's port is a server port
//!   (`is_server_port`: below 1024, or 80/8080/8000/8443/3000/5000) and the receiver's is
//!   not, in which case the sender is the responder. The HTTP layer may still flip roles by
//!   content.
//! - **What starts a connection.** A SYN, a SYN+ACK, or a segment with payload. A lone RST,
//!   or a segment without payload and without SYN (pure ACK, bare FIN — typically the tail of
//!   a connection already closed), starts nothing and is counted in
//!   [`FlowStats::packets_without_flow`].
//! - **Delivery order.** A segment's ACK is applied to the other direction first (bytes it
//!   acknowledges were sent earlier: may declare a gap there and release buffered data),
//!   then the segment's own bytes are delivered. So handlers see data in capture order
//!   across directions, and a request before its response in the common case. In-order
//!   payload goes from the segment to the handler without copying.
//! - **Closing.** RST closes at once. Both FINs seen closes (holes still open before a FIN
//!   are declared lost first). Every close flushes both streams (remaining holes become
//!   gaps, buffered data and a seen FIN are delivered: `on_data`/`on_gap`/`on_fin`), then calls
//!   `on_close` exactly once and frees the connection. A segment arriving after that (e.g.
//!   the last ACK) matches nothing.
//! - **TIME_WAIT.** A connection closed by FIN in both directions is remembered for
//!   [`FlowConfig::time_wait`] (at most `max_flows` of them): data arriving after the close
//!   at or below its sender's FIN is a retransmission (the final ACK was lost), dropped and
//!   counted in [`FlowStats::retransmissions_after_close`], not a new connection with a
//!   phantom request. A new SYN, or data beyond the FIN, starts a connection as usual.
//! - **Port reuse.** A SYN without ACK on an existing connection whose sender's direction has
//!   already started with a different ISN (or without a SYN) starts a new connection: the old
//!   one is closed first — [`CloseReason::Fin`] if it was closing (a FIN seen), otherwise
//!   [`CloseReason::Evicted`]. A retransmitted SYN (same ISN) is just a retransmission.
//! - **Time.** Capture time only: a monotonic clock (the largest timestamp seen). A
//!   connection with no packet for longer than the idle timeout is closed with
//!   [`CloseReason::Idle`] and the timestamp of its last packet. Connections are kept in an
//!   intrusive least-recently-active list (O(1) per packet), so expiry only looks at the
//!   oldest ones; [`FlowTable::process`] expires before handling each packet, so results do
//!   not depend on how often [`FlowTable::advance`] is called.
//! - **Caps.** At `max_flows` the least recently active connection is evicted
//!   ([`CloseReason::Evicted`]). Per stream, the out-of-order buffer is capped (see
//!   [`crate::reassembly`]). All streams together are capped by `max_buffered_bytes`: when
//!   exceeded, the streams holding the most are flushed (holes declared lost, buffered data
//!   delivered), biggest first, until the total is under 7/8 of the cap (one scan per
//!   episode, amortised over at least cap/8 bytes of new buffering).
//! - **Handlers that stop wanting data.** Checked before each delivery and after each
//!   segment: once [`ConnHandler::wants_data`] is false, both streams are disabled (buffers
//!   freed, later payload counted in [`crate::reassembly::ReassemblyStats::skipped_bytes`]) and the handler gets
//!   no more `on_data`/`on_gap`/`on_fin`; the connection is tracked until it closes and
//!   `on_close` is still called.
//! - **Idle-close and end-of-capture ordering** is deterministic: expiry in
//!   least-recently-active order, end of capture in creation order.

use crate::Timestamp;
use std::net::SocketAddr;

mod table;

#[cfg(test)]
mod tests;

pub use table::{ClosedByReason, FlowConfig, FlowStats, FlowTable, HandlerFactory};

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

/// `pair[i]` for a direction index (0: originator → responder; anything else: the other
/// way), without an index that could panic.
pub(crate) fn pick<T>(pair: &[T; 2], i: usize) -> &T {
    let [a, b] = pair;
    if i == 0 {
        a
    } else {
        b
    }
}

/// `pair[i]`, mutably (see `pick`).
pub(crate) fn pick_mut<T>(pair: &mut [T; 2], i: usize) -> &mut T {
    let [a, b] = pair;
    if i == 0 {
        a
    } else {
        b
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
    fn on_gap(
        &mut self,
        conn: &ConnInfo,
        dir: Dir,
        ts: Timestamp,
        len: u64,
        out: &mut Vec<Self::Event>,
    );

    /// One direction was closed with FIN (all its data before the FIN was delivered).
    fn on_fin(&mut self, conn: &ConnInfo, dir: Dir, ts: Timestamp, out: &mut Vec<Self::Event>);

    /// The connection is gone; flush everything. Called exactly once per connection.
    fn on_close(
        &mut self,
        conn: &ConnInfo,
        ts: Timestamp,
        reason: CloseReason,
        out: &mut Vec<Self::Event>,
    );
}
