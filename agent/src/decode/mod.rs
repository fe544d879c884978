//! Stage 2 — decode: link layer → IP (fragments reassembled) → TCP segment.
//!
//! Input: [`crate::capture::Packet`]. Output: [`TcpSegment`] for [`crate::flow`].
//! Non-TCP packets are counted and skipped; malformed ones are counted, never a panic.

use crate::reassembly::SeqNum;
use std::net::SocketAddr;

/// TCP header flags.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// PSH.
    pub const PSH: u8 = 0x08;
    /// ACK.
    pub const ACK: u8 = 0x10;

    /// Is `flag` (one of the constants) set?
    pub fn has(self, flag: u8) -> bool {
        self.0 & flag != 0
    }
}

/// A decoded TCP segment.
#[derive(Copy, Clone, Debug)]
pub struct TcpSegment<'a> {
    /// Sender address and port.
    pub src: SocketAddr,
    /// Receiver address and port.
    pub dst: SocketAddr,
    /// Sequence number of the first payload byte (or of the SYN).
    pub seq: SeqNum,
    /// Acknowledgement number (valid if ACK is set).
    pub ack: SeqNum,
    /// Header flags.
    pub flags: TcpFlags,
    /// TCP payload, trimmed to the IP total length (no Ethernet padding).
    pub payload: &'a [u8],
}
