//! The TCP wire types: the header as a checked view, sequence numbers.

use super::link::split;
use super::Skip;
use super::TcpFlags;
use std::cmp::Ordering;

/// A TCP sequence number: arithmetic and comparison modulo 2^32 (RFC 1982 style).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct SeqNum(pub u32);

impl SeqNum {
    /// `self + n` modulo 2^32.
    #[allow(clippy::should_implement_trait)]
    pub fn add(self, n: u32) -> SeqNum {
        SeqNum(self.0.wrapping_add(n))
    }

    /// Signed distance `self - other`, valid when they are less than 2^31 apart.
    pub fn diff(self, other: SeqNum) -> i32 {
        self.0.wrapping_sub(other.0) as i32
    }
}

impl PartialOrd for SeqNum {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.diff(*other).cmp(&0))
    }
}

/// A validated TCP header and its payload.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Tcp<'a> {
    hdr: &'a [u8; 20],
    payload: &'a [u8],
    payload_truncated: bool,
}

impl<'a> Tcp<'a> {
    /// Validates the header in `buf` (captured bytes), which the IP layer says is
    /// `declared` bytes long: the data offset must be at least 5 words and fit in the
    /// declared length; a header cut by the capture is `Truncated`.
    pub(crate) fn new_checked(buf: &'a [u8], declared: usize) -> Result<Self, Skip> {
        let Some((hdr, _)) = split::<20>(buf) else {
            return Err(if declared >= 20 {
                Skip::Truncated
            } else {
                Skip::BadHeader
            });
        };
        let hl = usize::from(hdr[12] >> 4) * 4;
        if hl < 20 || hl > declared {
            return Err(Skip::BadHeader);
        }
        let payload = buf.get(hl..).ok_or(Skip::Truncated)?;
        Ok(Tcp {
            hdr,
            payload,
            payload_truncated: buf.len() < declared,
        })
    }

    /// Source port.
    pub(crate) fn src_port(&self) -> u16 {
        u16::from_be_bytes([self.hdr[0], self.hdr[1]])
    }

    /// Destination port.
    pub(crate) fn dst_port(&self) -> u16 {
        u16::from_be_bytes([self.hdr[2], self.hdr[3]])
    }

    /// Sequence number.
    pub(crate) fn seq(&self) -> SeqNum {
        SeqNum(u32::from_be_bytes([
            self.hdr[4],
            self.hdr[5],
            self.hdr[6],
            self.hdr[7],
        ]))
    }

    /// Acknowledgement number, if the ACK flag is set (else the field means nothing).
    pub(crate) fn ack(&self) -> Option<SeqNum> {
        self.flags().has(TcpFlags::ACK).then(|| {
            SeqNum(u32::from_be_bytes([
                self.hdr[8],
                self.hdr[9],
                self.hdr[10],
                self.hdr[11],
            ]))
        })
    }

    /// Flags byte (FIN, SYN, RST, PSH, ACK, URG, ECE, CWR).
    pub(crate) fn flags(&self) -> TcpFlags {
        TcpFlags(self.hdr[13])
    }

    /// Payload (captured bytes; may be shorter than declared, see `payload_truncated`).
    pub(crate) fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// Was the payload cut by the capture (snaplen)?
    pub(crate) fn payload_truncated(&self) -> bool {
        self.payload_truncated
    }
}
