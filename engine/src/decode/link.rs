//! Link layers: from a captured frame to the IP packet inside it.
//!
//! Every branch reads fixed-size headers through `first_chunk::<N>()` (an `Option` of a
//! fixed-size array) and continues with `get(N..)`, so no length check can be forgotten and
//! no access can panic.

use super::Skip;
use crate::LinkType;

/// The network-layer packet found inside a frame.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Net<'a> {
    /// An IPv4 packet (starting at the IPv4 header).
    V4(&'a [u8]),
    /// An IPv6 packet (starting at the IPv6 header).
    V6(&'a [u8]),
}

/// Maximum number of VLAN tags / MPLS labels / nested encapsulations we walk through.
const MAX_TAGS: usize = 16;

/// Ethertypes.
pub(crate) mod ethertype {
    /// IPv4.
    pub const IPV4: u16 = 0x0800;
    /// IPv6.
    pub const IPV6: u16 = 0x86dd;
    /// 802.1Q VLAN tag.
    pub const VLAN: u16 = 0x8100;
    /// 802.1ad service tag (QinQ).
    pub const QINQ: u16 = 0x88a8;
    /// Legacy QinQ tag.
    pub const QINQ_OLD: u16 = 0x9100;
    /// Legacy QinQ tag (another vendor value).
    pub const QINQ_OLD2: u16 = 0x9200;
    /// MPLS unicast.
    pub const MPLS_UC: u16 = 0x8847;
    /// MPLS multicast.
    pub const MPLS_MC: u16 = 0x8848;
    /// PPPoE session stage.
    pub const PPPOE_SESSION: u16 = 0x8864;
}

#[inline]
fn be16(b: [u8; 2]) -> u16 {
    u16::from_be_bytes(b)
}

/// Splits a fixed-size header off the front of `buf`.
#[inline]
pub(crate) fn split<const N: usize>(buf: &[u8]) -> Option<(&[u8; N], &[u8])> {
    let h = buf.first_chunk::<N>()?;
    Some((h, buf.get(N..).unwrap_or_default()))
}

/// IP version by the first nibble.
#[inline]
fn by_nibble(buf: &[u8]) -> Result<Net<'_>, Skip> {
    match buf.first().map(|b| b >> 4) {
        Some(4) => Ok(Net::V4(buf)),
        Some(6) => Ok(Net::V6(buf)),
        Some(_) => Err(Skip::NonIp),
        None => Err(Skip::Truncated),
    }
}

/// The IP packet inside a frame of link type `link`.
pub(crate) fn decode_link(link: LinkType, data: &[u8]) -> Result<Net<'_>, Skip> {
    match link {
        LinkType::ETHERNET => {
            let (h, rest) = split::<14>(data).ok_or(Skip::Truncated)?;
            by_ethertype(be16([h[12], h[13]]), rest)
        }
        LinkType::RAW_12 | LinkType::RAW_14 | LinkType::RAW => by_nibble(data),
        LinkType::IPV4 => match data.first().map(|b| b >> 4) {
            Some(4) => Ok(Net::V4(data)),
            Some(_) => Err(Skip::BadHeader),
            None => Err(Skip::Truncated),
        },
        LinkType::IPV6 => match data.first().map(|b| b >> 4) {
            Some(6) => Ok(Net::V6(data)),
            Some(_) => Err(Skip::BadHeader),
            None => Err(Skip::Truncated),
        },
        LinkType::NULL => {
            // Host byte order of the capturing machine: families are small numbers, so a
            // value with high bytes set is in the other order.
            let (h, rest) = split::<4>(data).ok_or(Skip::Truncated)?;
            let mut fam = u32::from_le_bytes(*h);
            if fam > 0xffff {
                fam = fam.swap_bytes();
            }
            by_bsd_family(fam, rest)
        }
        LinkType::LOOP => {
            let (h, rest) = split::<4>(data).ok_or(Skip::Truncated)?;
            by_bsd_family(u32::from_be_bytes(*h), rest)
        }
        LinkType::LINUX_SLL => {
            // packet type, ARPHRD type, address length, 8 address bytes, protocol.
            let (h, rest) = split::<16>(data).ok_or(Skip::Truncated)?;
            by_ethertype(be16([h[14], h[15]]), rest)
        }
        LinkType::LINUX_SLL2 => {
            // protocol, reserved, ifindex, ARPHRD type, packet type, address length, address.
            let (h, rest) = split::<20>(data).ok_or(Skip::Truncated)?;
            by_ethertype(be16([h[0], h[1]]), rest)
        }
        LinkType::C_HDLC => {
            // address, control, protocol (an ethertype).
            let (h, rest) = split::<4>(data).ok_or(Skip::Truncated)?;
            by_ethertype(be16([h[2], h[3]]), rest)
        }
        LinkType::NFLOG => nflog(data),
        LinkType::IEEE802_11 => ieee802_11(data),
        LinkType::IEEE802_11_RADIOTAP => {
            // Radiotap: version 0, pad, little-endian header length (fields not needed).
            let (h, _) = split::<4>(data).ok_or(Skip::Truncated)?;
            if h[0] != 0 {
                return Err(Skip::BadHeader);
            }
            let len = usize::from(u16::from_le_bytes([h[2], h[3]]));
            if len < 8 {
                return Err(Skip::BadHeader);
            }
            ieee802_11(data.get(len..).ok_or(Skip::Truncated)?)
        }
        _ => Err(Skip::UnsupportedLink),
    }
}

/// An 802.11 frame: data frames only (management and control frames carry no IP), not
/// protected (encrypted payloads cannot be read), then an LLC/SNAP header with the
/// ethertype. Header: frame control, duration, three addresses, sequence control; a fourth
/// address when both To-DS and From-DS are set; QoS control for QoS subtypes; HT control
/// when a QoS frame has the Order bit.
fn ieee802_11(data: &[u8]) -> Result<Net<'_>, Skip> {
    let (fc, _) = split::<2>(data).ok_or(Skip::Truncated)?;
    let (kind, subtype, flags) = ((fc[0] >> 2) & 0x3, fc[0] >> 4, fc[1]);
    if kind != 2 || subtype & 0x4 != 0 {
        // Not a data frame, or a data frame without a body (null function).
        return Err(Skip::NonIp);
    }
    if flags & 0x40 != 0 {
        // Protected: encrypted.
        return Err(Skip::NonIp);
    }
    let qos = subtype & 0x8 != 0;
    let len = 24
        + if flags & 0x03 == 0x03 { 6 } else { 0 }
        + if qos { 2 } else { 0 }
        + if qos && flags & 0x80 != 0 { 4 } else { 0 };
    let body = data.get(len..).ok_or(Skip::Truncated)?;
    let (llc, rest) = split::<8>(body).ok_or(Skip::Truncated)?;
    if llc[..6] != [0xaa, 0xaa, 0x03, 0, 0, 0] {
        // Not LLC/SNAP with an ethertype (or a vendor OUI).
        return Err(Skip::NonIp);
    }
    by_ethertype(be16([llc[6], llc[7]]), rest)
}

/// BSD `AF_*` values: `AF_INET` is 2 everywhere; `AF_INET6` is 24 (NetBSD/OpenBSD),
/// 28 (FreeBSD) or 30 (macOS).
fn by_bsd_family(fam: u32, rest: &[u8]) -> Result<Net<'_>, Skip> {
    match fam {
        2 => Ok(Net::V4(rest)),
        24 | 28 | 30 => Ok(Net::V6(rest)),
        _ => Err(Skip::NonIp),
    }
}

/// Follows an ethertype through VLAN/QinQ tags, MPLS label stacks and PPPoE sessions.
pub(crate) fn by_ethertype(mut et: u16, mut rest: &[u8]) -> Result<Net<'_>, Skip> {
    for _ in 0..MAX_TAGS {
        match et {
            ethertype::IPV4 => return Ok(Net::V4(rest)),
            ethertype::IPV6 => return Ok(Net::V6(rest)),
            ethertype::VLAN | ethertype::QINQ | ethertype::QINQ_OLD | ethertype::QINQ_OLD2 => {
                // TCI (2 bytes), then the inner ethertype.
                let (h, r) = split::<4>(rest).ok_or(Skip::Truncated)?;
                et = be16([h[2], h[3]]);
                rest = r;
            }
            ethertype::MPLS_UC | ethertype::MPLS_MC => return mpls(rest),
            ethertype::PPPOE_SESSION => return pppoe_session(rest),
            _ => return Err(Skip::NonIp),
        }
    }
    Err(Skip::BadHeader)
}

/// An MPLS label stack; after the bottom-of-stack label, IPv4/IPv6 by first nibble.
/// (Pseudowires carrying Ethernet are not decoded: counted as non-IP.)
fn mpls(mut rest: &[u8]) -> Result<Net<'_>, Skip> {
    for _ in 0..MAX_TAGS {
        let (label, r) = split::<4>(rest).ok_or(Skip::Truncated)?;
        rest = r;
        if label[2] & 0x01 != 0 {
            return by_nibble(rest);
        }
    }
    Err(Skip::BadHeader)
}

/// PPPoE session header (version/type, code, session id, length) then the PPP protocol
/// (2 bytes, or 1 byte if protocol-field compression was negotiated).
fn pppoe_session(rest: &[u8]) -> Result<Net<'_>, Skip> {
    let (h, rest) = split::<6>(rest).ok_or(Skip::Truncated)?;
    if h[0] != 0x11 || h[1] != 0 {
        return Err(Skip::BadHeader);
    }
    let first = *rest.first().ok_or(Skip::Truncated)?;
    let (proto, rest) = if first & 0x01 != 0 {
        (u16::from(first), rest.get(1..).unwrap_or_default())
    } else {
        let (p, r) = split::<2>(rest).ok_or(Skip::Truncated)?;
        (be16(*p), r)
    };
    match proto {
        0x0021 => Ok(Net::V4(rest)),
        0x0057 => Ok(Net::V6(rest)),
        _ => Err(Skip::NonIp),
    }
}

/// NFLOG TLV type of the packet payload.
const NFULA_PAYLOAD: u16 = 9;

/// NFLOG: a 4-byte header (address family, version, resource id) then TLVs
/// (length incl. the 4-byte TLV header, type), each padded to 4 bytes. Lengths and types
/// are in the capturing host's byte order: little-endian in practice; if the first TLV's
/// type only reads as a plausible (small) value in big-endian, big-endian is used for the
/// whole packet.
fn nflog(data: &[u8]) -> Result<Net<'_>, Skip> {
    let (h, mut rest) = split::<4>(data).ok_or(Skip::Truncated)?;
    if h[1] != 0 {
        return Err(Skip::BadHeader);
    }
    let family = h[0];
    let mut big_endian = None;
    for _ in 0..64 {
        if rest.is_empty() {
            // A log entry without a packet.
            return Err(Skip::NonIp);
        }
        let (tlv, _) = split::<4>(rest).ok_or(Skip::Truncated)?;
        let le = u16::from_le_bytes([tlv[0], tlv[1]]);
        let be = u16::from_be_bytes([tlv[0], tlv[1]]);
        // TLV types are small numbers (NFULA_*), so the byte order whose type reads as a
        // small number wins; this also works when the packet is cut by the snaplen.
        let small = |t: u16| t & 0x3fff <= 0xff;
        let is_be = *big_endian.get_or_insert_with(|| {
            !small(u16::from_le_bytes([tlv[2], tlv[3]]))
                && small(u16::from_be_bytes([tlv[2], tlv[3]]))
        });
        let (len, ty) = if is_be {
            (be, u16::from_be_bytes([tlv[2], tlv[3]]))
        } else {
            (le, u16::from_le_bytes([tlv[2], tlv[3]]))
        };
        let len = usize::from(len);
        if len < 4 {
            return Err(Skip::BadHeader);
        }
        // Mask the netlink NLA_F_NESTED / NLA_F_NET_BYTEORDER flag bits.
        if ty & 0x3fff == NFULA_PAYLOAD {
            // A payload cut by the snaplen is still usable (IP will count it truncated).
            let value = rest.get(4..len.min(rest.len())).unwrap_or_default();
            return match family {
                2 => Ok(Net::V4(value)),
                10 => Ok(Net::V6(value)),
                _ => by_nibble(value),
            };
        }
        let padded = (len + 3) & !3;
        rest = rest.get(padded..).ok_or(Skip::Truncated)?;
    }
    Err(Skip::BadHeader)
}

/// GRE (RFC 2784/2890, version 0): flags and protocol, then optional checksum, key and
/// sequence number words. Transparent Ethernet bridging carries a whole Ethernet frame;
/// other protocols are ethertypes. Version 1 (PPTP) and source routing are not followed.
pub(crate) fn gre(data: &[u8]) -> Result<Net<'_>, Skip> {
    let (h, rest) = split::<4>(data).ok_or(Skip::Truncated)?;
    let flags = be16([h[0], h[1]]);
    if flags & 0x0007 != 0 || flags & 0x4000 != 0 {
        return Err(Skip::NonTcp);
    }
    let words = usize::from(flags & 0x8000 != 0)
        + usize::from(flags & 0x2000 != 0)
        + usize::from(flags & 0x1000 != 0);
    let rest = rest.get(words * 4..).ok_or(Skip::Truncated)?;
    let seq = flags & 0x1000 != 0;
    match be16([h[2], h[3]]) {
        0x6558 => decode_link(LinkType::ETHERNET, rest),
        ERSPAN_1_2 => erspan_1_2(seq, rest),
        ERSPAN_3 => erspan_3(rest),
        et => by_ethertype(et, rest),
    }
}

/// GRE protocol of ERSPAN types I and II.
const ERSPAN_1_2: u16 = 0x88be;
/// GRE protocol of ERSPAN type III.
const ERSPAN_3: u16 = 0x22eb;

/// ERSPAN type I (GRE without a sequence number: the mirrored Ethernet frame follows the GRE
/// header) or type II (GRE with a sequence number: an 8-byte ERSPAN header, version 1, then
/// the frame).
fn erspan_1_2(gre_has_seq: bool, rest: &[u8]) -> Result<Net<'_>, Skip> {
    if !gre_has_seq {
        return decode_link(LinkType::ETHERNET, rest);
    }
    let (h, frame) = split::<8>(rest).ok_or(Skip::Truncated)?;
    if h[0] >> 4 != 1 {
        return Err(Skip::BadHeader);
    }
    decode_link(LinkType::ETHERNET, frame)
}

/// ERSPAN type III: a 12-byte header (version 2), plus an 8-byte platform-specific
/// subheader when its O flag is set, then the mirrored Ethernet frame.
fn erspan_3(rest: &[u8]) -> Result<Net<'_>, Skip> {
    let (h, frame) = split::<12>(rest).ok_or(Skip::Truncated)?;
    if h[0] >> 4 != 2 {
        return Err(Skip::BadHeader);
    }
    let frame = if h[11] & 0x01 != 0 {
        frame.get(8..).ok_or(Skip::Truncated)?
    } else {
        frame
    };
    decode_link(LinkType::ETHERNET, frame)
}

/// GENEVE (RFC 8926): version 0, options length in 4-byte words, then the payload's
/// protocol as an ethertype (0x6558: an Ethernet frame).
pub(crate) fn geneve(data: &[u8]) -> Result<Net<'_>, Skip> {
    let (h, rest) = split::<8>(data).ok_or(Skip::Truncated)?;
    if h[0] >> 6 != 0 {
        return Err(Skip::BadHeader);
    }
    let opts = usize::from(h[0] & 0x3f) * 4;
    let rest = rest.get(opts..).ok_or(Skip::Truncated)?;
    match be16([h[2], h[3]]) {
        0x6558 => decode_link(LinkType::ETHERNET, rest),
        et => by_ethertype(et, rest),
    }
}

/// VXLAN (RFC 7348): an 8-byte header with the I flag, then an Ethernet frame.
pub(crate) fn vxlan(data: &[u8]) -> Result<Net<'_>, Skip> {
    let (h, rest) = split::<8>(data).ok_or(Skip::Truncated)?;
    if h[0] & 0x08 == 0 {
        return Err(Skip::NonTcp);
    }
    decode_link(LinkType::ETHERNET, rest)
}
