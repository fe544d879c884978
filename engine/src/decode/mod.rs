//! Stage 2 — decode: link layer → IP (fragments reassembled) → TCP segment.
//!
//! Input: [`crate::Packet`]. Output: [`TcpSegment`] for [`crate::flow`].
//! Non-TCP packets are counted and skipped; malformed ones are counted, never a panic.
//!
//! # Design
//! Hand-written checked views in the smoltcp `wire` style rather than `etherparse`: each
//! header is split off with `first_chunk::<N>()` (a fixed-size array, so field accessors
//! use constant indices that cannot go out of bounds) after its lengths are validated
//! once in `new_checked`. This keeps the hot path allocation-free and branch-light, and
//! covers encapsulations etherparse does not (NFLOG, C-HDLC, SLL2, BSD loopback in both
//! byte orders, MPLS to IP by nibble, PPPoE with PFC), with exactly the skip accounting
//! we want.
//!
//! # Policies
//! - Every packet lands in exactly one *outcome* counter of [`DecodeStats`]: `tcp`,
//!   `non_ip`, `non_tcp`, `truncated`, `unsupported_link`, `bad_header`, `frag_held` or
//!   `frag_dropped` (see [`DecodeStats::outcomes`]).
//! - Lengths come from IP headers, never from the frame: Ethernet padding is trimmed. A
//!   payload cut short by the snaplen is still delivered (clamped to what was captured)
//!   and counted in `payload_truncated`; a *header* cut short is a `truncated` skip.
//! - Checksums are ignored (offloaded/rewritten checksums are common in captures).
//! - IP fragments are reassembled with bounds, first-wins overlaps and a capture-time
//!   timeout (see the `frag` module and [`FragConfig`]); a TCP segment from a reassembled
//!   datagram borrows the decoder's buffer until the next call. Fragments of non-TCP
//!   datagrams are not buffered (`non_tcp`), nor are fragments cut by the snaplen
//!   (`truncated`).
//! - Tunnels are followed up to [`MAX_TUNNEL_DEPTH`] levels: IPv4/IPv6-in-IPv4/IPv6
//!   (protocols 4 and 41), GRE version 0 (IP, MPLS, transparent Ethernet bridging, or
//!   ERSPAN types I, II and III inside), VXLAN (UDP port 4789, Ethernet inside) and GENEVE
//!   (UDP port 6081, Ethernet or an ethertype inside). The segment's addresses are the innermost
//!   ones. Tunnel packets inside *reassembled* datagrams, and fragments of tunnel
//!   datagrams, are not followed (`non_tcp`); deeper nesting is `bad_header`.

mod frag;
mod ip;
mod link;
mod tcp;
#[cfg(test)]
mod tests;

pub use frag::FragConfig;
pub use tcp::SeqNum;

use crate::Packet;
use crate::Timestamp;
use frag::{FragKey, FragResult, FragTable};
use ip::{proto, walk_v6, Ipv4, Ipv6, V6Upper};
use link::Net;
use std::net::{IpAddr, SocketAddr};

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
    /// Acknowledgement number: `Some` exactly when the ACK flag is set.
    pub ack: Option<SeqNum>,
    /// Header flags.
    pub flags: TcpFlags,
    /// TCP payload, trimmed to the IP total length (no Ethernet padding).
    pub payload: &'a [u8],
}

/// Why a packet produced no [`TcpSegment`]. Each reason has a counter in [`DecodeStats`].
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Skip {
    /// The capture's link type is not one we decode.
    UnsupportedLink,
    /// Not an IP packet (ARP, LLC, unknown ethertype, non-IP PPP, ...).
    NonIp,
    /// IP, but not TCP (UDP, ICMP, tunnels, ...).
    NonTcp,
    /// A header was cut short by the capture (snaplen or a damaged record).
    Truncated,
    /// A header is invalid (wrong version, impossible length, too many tags, ...).
    BadHeader,
    /// A fragment was buffered; its datagram is not complete yet.
    FragmentHeld,
    /// A fragment was rejected (reassembly caps or inconsistent fragment).
    FragmentDropped,
}

/// Decoder counters. All fields are plain counts since the decoder was created.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct DecodeStats {
    /// Packets given to the decoder.
    pub packets: u64,
    /// Outcome: TCP segments produced.
    pub tcp: u64,
    /// Outcome: not IP.
    pub non_ip: u64,
    /// Outcome: IP but not TCP.
    pub non_tcp: u64,
    /// Outcome: a header cut short by the capture.
    pub truncated: u64,
    /// Outcome: unsupported link type.
    pub unsupported_link: u64,
    /// Outcome: invalid header.
    pub bad_header: u64,
    /// Outcome: fragment buffered (datagram not complete yet).
    pub frag_held: u64,
    /// Outcome: fragment rejected (caps or inconsistent).
    pub frag_dropped: u64,
    /// Info: TCP segments whose payload was cut by the snaplen (delivered clamped).
    pub payload_truncated: u64,
    /// Info: IP fragments seen (IPv4 and IPv6).
    pub fragments: u64,
    /// Info: datagrams reassembled from fragments.
    pub frag_reassembled: u64,
    /// Info: fragments that overlapped earlier data (first wins; duplicates included).
    pub frag_overlaps: u64,
    /// Info: incomplete datagrams discarded after the timeout.
    pub frag_timeouts: u64,
    /// Info: incomplete datagrams discarded at the end of the capture.
    pub frag_unfinished: u64,
}

impl DecodeStats {
    /// Adds `other`'s counters to `self` (e.g. to merge per-thread decoders).
    pub fn add(&mut self, other: &DecodeStats) {
        self.packets += other.packets;
        self.tcp += other.tcp;
        self.non_ip += other.non_ip;
        self.non_tcp += other.non_tcp;
        self.truncated += other.truncated;
        self.unsupported_link += other.unsupported_link;
        self.bad_header += other.bad_header;
        self.frag_held += other.frag_held;
        self.frag_dropped += other.frag_dropped;
        self.payload_truncated += other.payload_truncated;
        self.fragments += other.fragments;
        self.frag_reassembled += other.frag_reassembled;
        self.frag_overlaps += other.frag_overlaps;
        self.frag_timeouts += other.frag_timeouts;
        self.frag_unfinished += other.frag_unfinished;
    }

    /// Sum of the outcome counters; always equals `packets`.
    pub fn outcomes(&self) -> u64 {
        self.tcp
            + self.non_ip
            + self.non_tcp
            + self.truncated
            + self.unsupported_link
            + self.bad_header
            + self.frag_held
            + self.frag_dropped
    }

    fn count(&mut self, skip: Skip) {
        let c = match skip {
            Skip::UnsupportedLink => &mut self.unsupported_link,
            Skip::NonIp => &mut self.non_ip,
            Skip::NonTcp => &mut self.non_tcp,
            Skip::Truncated => &mut self.truncated,
            Skip::BadHeader => &mut self.bad_header,
            Skip::FragmentHeld => &mut self.frag_held,
            Skip::FragmentDropped => &mut self.frag_dropped,
        };
        *c += 1;
    }
}

impl std::ops::AddAssign<&DecodeStats> for DecodeStats {
    fn add_assign(&mut self, other: &DecodeStats) {
        self.add(other);
    }
}

/// Decoder settings.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct DecoderConfig {
    /// IP fragment reassembly limits.
    pub frag: FragConfig,
}

/// Decodes captured packets into [`TcpSegment`]s, reassembling IP fragments.
#[derive(Debug, Default)]
pub struct Decoder {
    stats: DecodeStats,
    frags: FragTable,
}

impl Decoder {
    /// A decoder with default limits.
    pub fn new() -> Self {
        Self::with_config(DecoderConfig::default())
    }

    /// A decoder with the given limits.
    pub fn with_config(cfg: DecoderConfig) -> Self {
        Decoder {
            stats: DecodeStats::default(),
            frags: FragTable::new(cfg.frag),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> &DecodeStats {
        &self.stats
    }

    /// IP datagrams currently being reassembled, and the bytes they hold.
    pub fn frag_in_progress(&self) -> (usize, usize) {
        (self.frags.in_progress(), self.frags.buffered_bytes())
    }

    /// Decodes one packet. The segment borrows the packet's bytes, or for a reassembled
    /// datagram the decoder's buffer (hence `&'a mut self`). Skips are counted.
    pub fn decode<'a>(&'a mut self, pkt: &Packet<'a>) -> Result<TcpSegment<'a>, Skip> {
        let Decoder { stats, frags } = self;
        stats.packets += 1;
        let r = decode_packet(stats, frags, pkt);
        match &r {
            Ok(_) => stats.tcp += 1,
            Err(skip) => stats.count(*skip),
        }
        r
    }

    /// Expires fragment datagrams older than the timeout at capture time `now` (also done
    /// automatically whenever a fragment arrives).
    pub fn expire(&mut self, now: Timestamp) {
        self.frags.expire(now, &mut self.stats);
    }

    /// End of capture: discards incomplete datagrams, counting them in `frag_unfinished`.
    pub fn finish(&mut self) {
        self.frags.finish(&mut self.stats);
    }
}

/// How many tunnel levels are followed.
pub const MAX_TUNNEL_DEPTH: u8 = 3;

/// VXLAN's IANA UDP port.
const VXLAN_PORT: u16 = 4789;
/// GENEVE's IANA UDP port.
const GENEVE_PORT: u16 = 6081;

fn decode_packet<'a>(
    stats: &mut DecodeStats,
    frags: &'a mut FragTable,
    pkt: &Packet<'a>,
) -> Result<TcpSegment<'a>, Skip> {
    let net = link::decode_link(pkt.link, pkt.data)?;
    decode_net(stats, frags, pkt.ts, net, 0)
}

/// The packet inside a tunnel of protocol `protocol` whose payload is `data`, if it is a
/// tunnel we follow.
fn tunnel_inner(protocol: u8, data: &[u8]) -> Option<Result<Net<'_>, Skip>> {
    match protocol {
        proto::IPIP => Some(Ok(Net::V4(data))),
        proto::IPV6_IN_IP => Some(Ok(Net::V6(data))),
        proto::GRE => Some(link::gre(data)),
        proto::UDP => {
            let (udp, rest) = link::split::<8>(data)?;
            match u16::from_be_bytes([udp[2], udp[3]]) {
                VXLAN_PORT => Some(link::vxlan(rest)),
                GENEVE_PORT => Some(link::geneve(rest)),
                _ => None,
            }
        }
        _ => None,
    }
}

fn decode_net<'a>(
    stats: &mut DecodeStats,
    frags: &'a mut FragTable,
    ts: Timestamp,
    net: Net<'a>,
    depth: u8,
) -> Result<TcpSegment<'a>, Skip> {
    // Unfragmented upper layer: TCP, or a tunnel to follow.
    let upper = |stats: &mut DecodeStats,
                 frags: &'a mut FragTable,
                 src: IpAddr,
                 dst: IpAddr,
                 protocol: u8,
                 data: &'a [u8],
                 declared: usize| {
        if protocol != proto::TCP {
            if let Some(inner) = tunnel_inner(protocol, data) {
                if depth >= MAX_TUNNEL_DEPTH {
                    return Err(Skip::BadHeader);
                }
                // Inside IP, "not IP" means "not TCP" for the outer packet.
                let inner = inner.map_err(|e| if e == Skip::NonIp { Skip::NonTcp } else { e })?;
                return decode_net(stats, frags, ts, inner, depth + 1);
            }
        }
        tcp_segment(stats, src, dst, protocol, data, declared)
    };
    match net {
        Net::V4(buf) => {
            let ip = Ipv4::new_checked(buf)?;
            let src = IpAddr::V4(ip.src());
            let dst = IpAddr::V4(ip.dst());
            if !ip.is_fragment() {
                return upper(
                    stats,
                    frags,
                    src,
                    dst,
                    ip.protocol(),
                    ip.payload(),
                    ip.declared_payload(),
                );
            }
            stats.fragments += 1;
            if ip.protocol() != proto::TCP {
                return Err(Skip::NonTcp);
            }
            if ip.payload().len() < ip.declared_payload() {
                return Err(Skip::Truncated);
            }
            let key = FragKey {
                src,
                dst,
                ident: u32::from(ip.ident()),
                proto: ip.protocol(),
            };
            match frags.insert(
                key,
                ts,
                ip.frag_offset(),
                ip.more_fragments(),
                ip.protocol(),
                ip.payload(),
                stats,
            ) {
                FragResult::Held => Err(Skip::FragmentHeld),
                FragResult::Dropped => Err(Skip::FragmentDropped),
                FragResult::Complete { next } => {
                    let data = frags.output();
                    tcp_segment(stats, src, dst, next, data, data.len())
                }
            }
        }
        Net::V6(buf) => {
            let ip = Ipv6::new_checked(buf)?;
            let src = IpAddr::V6(ip.src());
            let dst = IpAddr::V6(ip.dst());
            match walk_v6(ip.next_header(), ip.payload(), ip.declared_payload())? {
                V6Upper::Upper {
                    proto,
                    data,
                    declared,
                } => upper(stats, frags, src, dst, proto, data, declared),
                V6Upper::Fragment {
                    next,
                    offset,
                    more,
                    ident,
                    data,
                    declared,
                } => {
                    stats.fragments += 1;
                    if matches!(next, proto::UDP | proto::ICMPV6 | proto::ICMP) {
                        return Err(Skip::NonTcp);
                    }
                    if data.len() < declared {
                        return Err(Skip::Truncated);
                    }
                    let key = FragKey {
                        src,
                        dst,
                        ident,
                        proto: 0,
                    };
                    match frags.insert(key, ts, offset, more, next, data, stats) {
                        FragResult::Held => Err(Skip::FragmentHeld),
                        FragResult::Dropped => Err(Skip::FragmentDropped),
                        FragResult::Complete { next } => {
                            let out = frags.output();
                            match walk_v6(next, out, out.len())? {
                                V6Upper::Upper {
                                    proto,
                                    data,
                                    declared,
                                } => tcp_segment(stats, src, dst, proto, data, declared),
                                // A fragment inside a reassembled fragment.
                                V6Upper::Fragment { .. } => Err(Skip::BadHeader),
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The TCP segment in `data` (captured bytes of a `declared`-byte upper-layer payload).
fn tcp_segment<'a>(
    stats: &mut DecodeStats,
    src: IpAddr,
    dst: IpAddr,
    protocol: u8,
    data: &'a [u8],
    declared: usize,
) -> Result<TcpSegment<'a>, Skip> {
    if protocol != proto::TCP {
        return Err(Skip::NonTcp);
    }
    let tcp = tcp::Tcp::new_checked(data, declared)?;
    if tcp.payload_truncated() {
        stats.payload_truncated += 1;
    }
    Ok(TcpSegment {
        src: SocketAddr::new(src, tcp.src_port()),
        dst: SocketAddr::new(dst, tcp.dst_port()),
        seq: tcp.seq(),
        ack: tcp.ack(),
        flags: tcp.flags(),
        payload: tcp.payload(),
    })
}
