//! IPv4 and IPv6 headers as checked views.
//!
//! `new_checked` validates everything once (version, header length, total/payload length)
//! and records the two lengths that matter: what the header *declares* and what was
//! *captured*. The payload is the declared length clamped to the captured bytes, so
//! Ethernet padding is trimmed and snaplen cuts are visible. Checksums are ignored on
//! purpose: offloaded or rewritten checksums are common in captures, and dropping such
//! packets would lose real traffic.

use super::link::split;
use super::Skip;
use std::net::{Ipv4Addr, Ipv6Addr};

/// IP protocol / IPv6 next-header numbers.
pub(crate) mod proto {
    /// IPv6 hop-by-hop options.
    pub const HOPOPTS: u8 = 0;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// IPv6 routing header.
    pub const ROUTING: u8 = 43;
    /// IPv6 fragment header.
    pub const FRAGMENT: u8 = 44;
    /// Authentication header.
    pub const AH: u8 = 51;
    /// ICMPv6.
    pub const ICMPV6: u8 = 58;
    /// IPv6 destination options.
    pub const DSTOPTS: u8 = 60;
    /// ICMP.
    pub const ICMP: u8 = 1;
    /// IPv4 in IP.
    pub const IPIP: u8 = 4;
    /// IPv6 in IP.
    pub const IPV6_IN_IP: u8 = 41;
    /// GRE.
    pub const GRE: u8 = 47;
}

/// A validated IPv4 header and its payload.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Ipv4<'a> {
    hdr: &'a [u8; 20],
    payload: &'a [u8],
    declared: usize,
}

impl<'a> Ipv4<'a> {
    /// Validates the header. Total length 0 (TSO/LRO captures) means "as captured".
    pub(crate) fn new_checked(buf: &'a [u8]) -> Result<Self, Skip> {
        let (hdr, _) = split::<20>(buf).ok_or(Skip::Truncated)?;
        if hdr[0] >> 4 != 4 {
            return Err(Skip::BadHeader);
        }
        let hl = usize::from(hdr[0] & 0x0f) * 4;
        if hl < 20 {
            return Err(Skip::BadHeader);
        }
        let total = match usize::from(u16::from_be_bytes([hdr[2], hdr[3]])) {
            0 => buf.len(),
            t => t,
        };
        if total < hl {
            return Err(Skip::BadHeader);
        }
        if hl > buf.len() {
            return Err(Skip::Truncated);
        }
        let end = total.min(buf.len());
        Ok(Ipv4 {
            hdr,
            payload: buf.get(hl..end).unwrap_or_default(),
            declared: total - hl,
        })
    }

    /// Source address.
    pub(crate) fn src(&self) -> Ipv4Addr {
        Ipv4Addr::new(self.hdr[12], self.hdr[13], self.hdr[14], self.hdr[15])
    }

    /// Destination address.
    pub(crate) fn dst(&self) -> Ipv4Addr {
        Ipv4Addr::new(self.hdr[16], self.hdr[17], self.hdr[18], self.hdr[19])
    }

    /// Protocol number.
    pub(crate) fn protocol(&self) -> u8 {
        self.hdr[9]
    }

    /// Identification field.
    pub(crate) fn ident(&self) -> u16 {
        u16::from_be_bytes([self.hdr[4], self.hdr[5]])
    }

    /// More-fragments flag.
    pub(crate) fn more_fragments(&self) -> bool {
        self.hdr[6] & 0x20 != 0
    }

    /// Fragment offset in bytes.
    pub(crate) fn frag_offset(&self) -> usize {
        usize::from(u16::from_be_bytes([self.hdr[6] & 0x1f, self.hdr[7]])) * 8
    }

    /// Is this a fragment (not a whole datagram)?
    pub(crate) fn is_fragment(&self) -> bool {
        self.more_fragments() || self.frag_offset() != 0
    }

    /// Payload: the declared length clamped to the captured bytes.
    pub(crate) fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// Payload length the header declares.
    pub(crate) fn declared_payload(&self) -> usize {
        self.declared
    }
}

/// A validated IPv6 fixed header and what follows it.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Ipv6<'a> {
    hdr: &'a [u8; 40],
    payload: &'a [u8],
    declared: usize,
}

impl<'a> Ipv6<'a> {
    /// Validates the fixed header. Payload length 0 (jumbogram or TSO) means "as captured".
    pub(crate) fn new_checked(buf: &'a [u8]) -> Result<Self, Skip> {
        let (hdr, rest) = split::<40>(buf).ok_or(Skip::Truncated)?;
        if hdr[0] >> 4 != 6 {
            return Err(Skip::BadHeader);
        }
        let plen = match usize::from(u16::from_be_bytes([hdr[4], hdr[5]])) {
            0 => rest.len(),
            p => p,
        };
        Ok(Ipv6 {
            hdr,
            payload: rest.get(..plen.min(rest.len())).unwrap_or_default(),
            declared: plen,
        })
    }

    /// Source address.
    pub(crate) fn src(&self) -> Ipv6Addr {
        let mut a = [0u8; 16];
        a.copy_from_slice(self.hdr.get(8..24).unwrap_or(&[0; 16]));
        Ipv6Addr::from(a)
    }

    /// Destination address.
    pub(crate) fn dst(&self) -> Ipv6Addr {
        let mut a = [0u8; 16];
        a.copy_from_slice(self.hdr.get(24..40).unwrap_or(&[0; 16]));
        Ipv6Addr::from(a)
    }

    /// The first next-header value.
    pub(crate) fn next_header(&self) -> u8 {
        self.hdr[6]
    }

    /// Everything after the fixed header, clamped to the captured bytes.
    pub(crate) fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// Payload length the header declares.
    pub(crate) fn declared_payload(&self) -> usize {
        self.declared
    }
}

/// Where an IPv6 extension-header walk ends.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum V6Upper<'a> {
    /// An upper-layer protocol (anything that is not an extension header we walk).
    Upper {
        /// Protocol number.
        proto: u8,
        /// Its bytes (captured).
        data: &'a [u8],
        /// Its declared length.
        declared: usize,
    },
    /// A (non-atomic) fragment: the rest of the packet is fragment data.
    Fragment {
        /// Next header of the fragmentable part.
        next: u8,
        /// Offset in bytes.
        offset: usize,
        /// More fragments follow.
        more: bool,
        /// Identification.
        ident: u32,
        /// Fragment data (captured).
        data: &'a [u8],
        /// Declared fragment data length.
        declared: usize,
    },
}

/// Walks IPv6 extension headers (hop-by-hop, routing, destination options, AH, fragment)
/// starting at next-header `nh` over `data` (`declared` bytes long per the IP header).
/// Atomic fragments (offset 0, no more fragments) are walked through. Only 16 headers are
/// followed; longer chains are a bad header.
pub(crate) fn walk_v6(
    mut nh: u8,
    mut data: &[u8],
    mut declared: usize,
) -> Result<V6Upper<'_>, Skip> {
    for _ in 0..16 {
        let hlen = match nh {
            proto::HOPOPTS | proto::ROUTING | proto::DSTOPTS => {
                let (h, _) = split::<2>(data).ok_or(short(declared, 2))?;
                (usize::from(h[1]) + 1) * 8
            }
            proto::AH => {
                let (h, _) = split::<2>(data).ok_or(short(declared, 2))?;
                (usize::from(h[1]) + 2) * 4
            }
            proto::FRAGMENT => {
                let (h, rest) = split::<8>(data).ok_or(short(declared, 8))?;
                let field = u16::from_be_bytes([h[2], h[3]]);
                let offset = usize::from(field >> 3) * 8;
                let more = field & 1 != 0;
                let declared_rest = declared.saturating_sub(8);
                if declared < 8 {
                    return Err(Skip::BadHeader);
                }
                if offset == 0 && !more {
                    // Atomic fragment (RFC 6946): just a header to skip.
                    nh = h[0];
                    data = rest;
                    declared = declared_rest;
                    continue;
                }
                return Ok(V6Upper::Fragment {
                    next: h[0],
                    offset,
                    more,
                    ident: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
                    data: rest,
                    declared: declared_rest,
                });
            }
            _ => {
                return Ok(V6Upper::Upper {
                    proto: nh,
                    data,
                    declared,
                })
            }
        };
        if hlen > declared {
            return Err(Skip::BadHeader);
        }
        let (h, rest) = (data.first().ok_or(Skip::Truncated)?, data.get(hlen..));
        nh = *h;
        data = rest.ok_or(Skip::Truncated)?;
        declared -= hlen;
    }
    Err(Skip::BadHeader)
}

/// The skip for a header of `need` bytes that is not all there: truncated by the capture
/// if the IP length says it should be, otherwise a bad header.
fn short(declared: usize, need: usize) -> Skip {
    if declared >= need {
        Skip::Truncated
    } else {
        Skip::BadHeader
    }
}
