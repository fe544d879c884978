//! Hand-built frames for every link type and encapsulation, truncations, fragments.

use super::*;
use crate::LinkType;
use proptest::prelude::*;
use std::net::{Ipv4Addr, Ipv6Addr};

const SRC4: [u8; 4] = [10, 0, 0, 1];
const DST4: [u8; 4] = [10, 0, 0, 2];
const SRC6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const DST6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
const SEQ: u32 = 0x1122_3344;
const ACK: u32 = 0x5566_7788;
const PAYLOAD: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";

/// A TCP header (with `opt_words` 4-byte words of NOP options) plus payload.
fn tcp_bytes(payload: &[u8], opt_words: usize, flags: u8) -> Vec<u8> {
    let mut t = vec![
        0x30, 0x39, // 12345
        0x00, 0x50, // 80
    ];
    t.extend_from_slice(&SEQ.to_be_bytes());
    t.extend_from_slice(&ACK.to_be_bytes());
    t.push(((5 + opt_words as u8) << 4) & 0xf0);
    t.push(flags);
    t.extend_from_slice(&[0xff, 0xff, 0xde, 0xad, 0, 0]); // window, bogus checksum, urg
    t.extend(std::iter::repeat_n(1u8, opt_words * 4));
    t.extend_from_slice(payload);
    t
}

fn tcp() -> Vec<u8> {
    tcp_bytes(PAYLOAD, 0, TcpFlags::ACK | TcpFlags::PSH)
}

/// An IPv4 header (bogus checksum) around `l4`; `frag` is the flags+offset field.
fn ipv4_with(proto: u8, ident: u16, frag: u16, l4: &[u8]) -> Vec<u8> {
    let total = (20 + l4.len()) as u16;
    let mut h = vec![0x45, 0];
    h.extend_from_slice(&total.to_be_bytes());
    h.extend_from_slice(&ident.to_be_bytes());
    h.extend_from_slice(&frag.to_be_bytes());
    h.extend_from_slice(&[64, proto, 0xbe, 0xef]);
    h.extend_from_slice(&SRC4);
    h.extend_from_slice(&DST4);
    h.extend_from_slice(l4);
    h
}

fn ipv4(l4: &[u8]) -> Vec<u8> {
    ipv4_with(6, 7, 0x4000, l4)
}

fn ipv6_with(nh: u8, rest: &[u8]) -> Vec<u8> {
    let mut h = vec![0x60, 0, 0, 0];
    h.extend_from_slice(&(rest.len() as u16).to_be_bytes());
    h.extend_from_slice(&[nh, 64]);
    h.extend_from_slice(&SRC6);
    h.extend_from_slice(&DST6);
    h.extend_from_slice(rest);
    h
}

fn ipv6(l4: &[u8]) -> Vec<u8> {
    ipv6_with(6, l4)
}

fn eth(ethertype: u16, rest: &[u8]) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(rest);
    f
}

fn cat(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut v = a.to_vec();
    v.extend_from_slice(b);
    v
}

fn pkt(link: LinkType, data: &[u8]) -> Packet<'_> {
    Packet {
        ts: Timestamp(0),
        link,
        data,
        orig_len: data.len() as u32,
    }
}

fn pkt_at(link: LinkType, data: &[u8], secs: i64) -> Packet<'_> {
    Packet {
        ts: Timestamp::from_nanos(secs, 0),
        link,
        data,
        orig_len: data.len() as u32,
    }
}

/// Decodes and returns (src, dst, seq, ack, flags, payload) or the skip.
type Fields = (SocketAddr, SocketAddr, u32, u32, u8, Vec<u8>);
fn dec(d: &mut Decoder, link: LinkType, data: &[u8]) -> Result<Fields, Skip> {
    let p = pkt(link, data);
    d.decode(&p).map(|s| {
        (
            s.src,
            s.dst,
            s.seq.0,
            s.ack.map_or(0, |a| a.0),
            s.flags.0,
            s.payload.to_vec(),
        )
    })
}

fn expect_v4(r: Result<Fields, Skip>, payload: &[u8]) {
    let (src, dst, seq, ack, flags, pl) = r.expect("a TCP segment");
    assert_eq!(src, "10.0.0.1:12345".parse::<SocketAddr>().unwrap());
    assert_eq!(dst, "10.0.0.2:80".parse::<SocketAddr>().unwrap());
    assert_eq!((seq, ack, flags), (SEQ, ACK, TcpFlags::ACK | TcpFlags::PSH));
    assert_eq!(pl, payload);
}

fn expect_v6(r: Result<Fields, Skip>, payload: &[u8]) {
    let (src, dst, seq, ack, _, pl) = r.expect("a TCP segment");
    assert_eq!(src, "[2001:db8::1]:12345".parse::<SocketAddr>().unwrap());
    assert_eq!(dst, "[2001:db8::2]:80".parse::<SocketAddr>().unwrap());
    assert_eq!((seq, ack), (SEQ, ACK));
    assert_eq!(pl, payload);
}

/// Every link type / encapsulation with an IPv4 TCP packet inside: (name, link, frame,
/// length of all headers before the TCP payload).
fn v4_frames() -> Vec<(&'static str, LinkType, Vec<u8>)> {
    let ip = ipv4(&tcp());
    let mut v = vec![
        ("ethernet", LinkType::ETHERNET, eth(0x0800, &ip)),
        (
            "vlan",
            LinkType::ETHERNET,
            eth(0x8100, &cat(&[0x00, 0x64, 0x08, 0x00], &ip)),
        ),
        (
            "qinq",
            LinkType::ETHERNET,
            eth(
                0x88a8,
                &cat(&[0x00, 0x0a, 0x81, 0x00, 0x00, 0x64, 0x08, 0x00], &ip),
            ),
        ),
        (
            "qinq-9100",
            LinkType::ETHERNET,
            eth(0x9100, &cat(&[0x00, 0x0a, 0x08, 0x00], &ip)),
        ),
        (
            "mpls-2-labels",
            LinkType::ETHERNET,
            eth(
                0x8847,
                &cat(&[0x00, 0x01, 0x00, 0x40, 0x00, 0x02, 0x01, 0x40], &ip),
            ),
        ),
        (
            "mpls-multicast",
            LinkType::ETHERNET,
            eth(0x8848, &cat(&[0x00, 0x01, 0x01, 0x40], &ip)),
        ),
        (
            "vlan-mpls",
            LinkType::ETHERNET,
            eth(
                0x8100,
                &cat(&[0x00, 0x64, 0x88, 0x47, 0x00, 0x01, 0x01, 0x40], &ip),
            ),
        ),
        (
            "pppoe",
            LinkType::ETHERNET,
            eth(
                0x8864,
                &cat(
                    &[
                        0x11,
                        0x00,
                        0x12,
                        0x34,
                        0x00,
                        (ip.len() + 2) as u8,
                        0x00,
                        0x21,
                    ],
                    &ip,
                ),
            ),
        ),
        (
            "pppoe-pfc",
            LinkType::ETHERNET,
            eth(
                0x8864,
                &cat(
                    &[0x11, 0x00, 0x12, 0x34, 0x00, (ip.len() + 1) as u8, 0x21],
                    &ip,
                ),
            ),
        ),
        ("raw12", LinkType::RAW_12, ip.clone()),
        ("raw14", LinkType::RAW_14, ip.clone()),
        ("raw101", LinkType::RAW, ip.clone()),
        ("ipv4", LinkType::IPV4, ip.clone()),
        ("null-le", LinkType::NULL, cat(&[2, 0, 0, 0], &ip)),
        ("null-be", LinkType::NULL, cat(&[0, 0, 0, 2], &ip)),
        ("loop", LinkType::LOOP, cat(&[0, 0, 0, 2], &ip)),
        (
            "sll",
            LinkType::LINUX_SLL,
            cat(&[0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x00], &ip),
        ),
        (
            "sll-vlan",
            LinkType::LINUX_SLL,
            cat(
                &[
                    0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x81, 0x00, 0, 5, 0x08, 0x00,
                ],
                &ip,
            ),
        ),
        (
            "sll2",
            LinkType::LINUX_SLL2,
            cat(
                &[
                    0x08, 0x00, 0, 0, 0, 0, 0, 3, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0,
                ],
                &ip,
            ),
        ),
        (
            "c-hdlc",
            LinkType::C_HDLC,
            cat(&[0x0f, 0x00, 0x08, 0x00], &ip),
        ),
    ];
    // NFLOG: header (AF_INET, v0, res id), a prefix TLV (len 7 -> padded to 8), payload.
    let mut nf = vec![2, 0, 0, 0];
    nf.extend_from_slice(&7u16.to_le_bytes());
    nf.extend_from_slice(&10u16.to_le_bytes());
    nf.extend_from_slice(b"abc\0");
    nf.extend_from_slice(&((ip.len() + 4) as u16).to_le_bytes());
    nf.extend_from_slice(&9u16.to_le_bytes());
    nf.extend_from_slice(&ip);
    v.push(("nflog", LinkType::NFLOG, nf));
    // Big-endian TLVs (host order of a big-endian capturer).
    let mut nfb = vec![2, 0, 0, 0];
    nfb.extend_from_slice(&((ip.len() + 4) as u16).to_be_bytes());
    nfb.extend_from_slice(&9u16.to_be_bytes());
    nfb.extend_from_slice(&ip);
    v.push(("nflog-be", LinkType::NFLOG, nfb));
    v
}

fn v6_frames() -> Vec<(&'static str, LinkType, Vec<u8>)> {
    let ip = ipv6(&tcp());
    vec![
        ("ethernet", LinkType::ETHERNET, eth(0x86dd, &ip)),
        (
            "vlan",
            LinkType::ETHERNET,
            eth(0x8100, &cat(&[0x00, 0x64, 0x86, 0xdd], &ip)),
        ),
        (
            "mpls",
            LinkType::ETHERNET,
            eth(0x8847, &cat(&[0x00, 0x01, 0x01, 0x40], &ip)),
        ),
        (
            "pppoe",
            LinkType::ETHERNET,
            eth(
                0x8864,
                &cat(&[0x11, 0x00, 0x12, 0x34, 0x00, 0x50, 0x00, 0x57], &ip),
            ),
        ),
        ("raw12", LinkType::RAW_12, ip.clone()),
        ("raw101", LinkType::RAW, ip.clone()),
        ("ipv6", LinkType::IPV6, ip.clone()),
        ("null-24", LinkType::NULL, cat(&[24, 0, 0, 0], &ip)),
        ("null-28", LinkType::NULL, cat(&[28, 0, 0, 0], &ip)),
        ("null-30-be", LinkType::NULL, cat(&[0, 0, 0, 30], &ip)),
        ("loop", LinkType::LOOP, cat(&[0, 0, 0, 24], &ip)),
        (
            "sll",
            LinkType::LINUX_SLL,
            cat(&[0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x86, 0xdd], &ip),
        ),
        (
            "sll2",
            LinkType::LINUX_SLL2,
            cat(
                &[
                    0x86, 0xdd, 0, 0, 0, 0, 0, 3, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0,
                ],
                &ip,
            ),
        ),
        (
            "c-hdlc",
            LinkType::C_HDLC,
            cat(&[0x8f, 0x00, 0x86, 0xdd], &ip),
        ),
        (
            "nflog",
            LinkType::NFLOG,
            cat(&cat(&[10, 0, 0, 0], &[(ip.len() + 4) as u8, 0, 9, 0]), &ip),
        ),
    ]
}

#[test]
fn every_link_type_ipv4() {
    for (name, link, frame) in v4_frames() {
        let mut d = Decoder::new();
        let r = dec(&mut d, link, &frame);
        assert!(r.is_ok(), "{name}: {r:?}");
        expect_v4(r, PAYLOAD);
        assert_eq!(d.stats().tcp, 1, "{name}");
    }
}

#[test]
fn every_link_type_ipv6() {
    for (name, link, frame) in v6_frames() {
        let mut d = Decoder::new();
        let r = dec(&mut d, link, &frame);
        assert!(r.is_ok(), "{name}: {r:?}");
        expect_v6(r, PAYLOAD);
    }
}

/// Every prefix of every frame: a prefix that cuts a header is `Truncated`; one that cuts
/// only the payload yields the segment with the payload clamped (and counted).
#[test]
fn truncation_at_every_offset() {
    let full_tcp_payload = PAYLOAD.len();
    for (name, link, frame) in v4_frames().into_iter().chain(v6_frames()) {
        let headers = frame.len() - full_tcp_payload;
        for cut in 0..frame.len() {
            let mut d = Decoder::new();
            let r = dec(&mut d, link, &frame[..cut]);
            if cut >= headers {
                let (.., pl) = r.unwrap_or_else(|e| panic!("{name} cut at {cut}: {e:?}"));
                assert_eq!(pl, &PAYLOAD[..cut - headers], "{name} cut at {cut}");
                assert_eq!(d.stats().payload_truncated, 1, "{name} cut at {cut}");
            } else {
                let e = r.expect_err("header cut");
                // An NFLOG frame cut exactly between TLVs looks like a log entry without
                // a packet.
                let nflog_boundary = link == LinkType::NFLOG
                    && (cut == 4 || (cut == 12 && frame.get(4..6) == Some(&[7, 0][..])));
                if nflog_boundary {
                    assert_eq!(e, Skip::NonIp, "{name} cut at {cut}");
                } else {
                    assert_eq!(e, Skip::Truncated, "{name} cut at {cut}");
                }
            }
            assert_eq!(d.stats().outcomes(), 1);
        }
    }
}

#[test]
fn ethernet_padding_is_trimmed_by_ip_total_length() {
    // A bare ACK (no payload) padded to the 60-byte Ethernet minimum.
    let mut frame = eth(0x0800, &ipv4(&tcp_bytes(b"", 0, TcpFlags::ACK)));
    assert_eq!(frame.len(), 54);
    frame.extend_from_slice(&[0xaa; 6]);
    let mut d = Decoder::new();
    let (.., pl) = dec(&mut d, LinkType::ETHERNET, &frame).unwrap();
    assert!(pl.is_empty());
    assert_eq!(d.stats().payload_truncated, 0);
    // Same for IPv6 (payload length).
    let mut frame = eth(0x86dd, &ipv6(&tcp_bytes(b"hi", 0, TcpFlags::ACK)));
    frame.extend_from_slice(&[0xaa; 10]);
    let (.., pl) = dec(&mut d, LinkType::ETHERNET, &frame).unwrap();
    assert_eq!(pl, b"hi");
}

#[test]
fn tcp_options_and_flags() {
    let seg = tcp_bytes(b"xyz", 3, TcpFlags::SYN | TcpFlags::FIN | 0xc0);
    let mut d = Decoder::new();
    let (.., flags, pl) = dec(&mut d, LinkType::RAW, &ipv4(&seg)).unwrap();
    assert_eq!(pl, b"xyz");
    let f = TcpFlags(flags);
    assert!(f.has(TcpFlags::SYN) && f.has(TcpFlags::FIN) && !f.has(TcpFlags::ACK));
}

#[test]
fn ipv4_options_and_tso_zero_length() {
    // IHL 6 (one word of options).
    let t = tcp();
    let mut ip = ipv4(&t);
    ip[0] = 0x46;
    ip.splice(20..20, [1, 1, 1, 0]);
    let total = ip.len() as u16;
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    let mut d = Decoder::new();
    expect_v4(dec(&mut d, LinkType::RAW, &ip), PAYLOAD);
    // Total length 0 (TSO): the captured length is used.
    let mut ip = ipv4(&t);
    ip[2] = 0;
    ip[3] = 0;
    expect_v4(dec(&mut d, LinkType::RAW, &ip), PAYLOAD);
}

#[test]
fn ipv6_extension_headers() {
    // hop-by-hop (8) -> routing (8) -> destination options (16) -> TCP.
    let t = tcp();
    let mut ext = vec![43, 0, 1, 4, 0, 0, 0, 0];
    ext.extend_from_slice(&[60, 0, 0, 0, 0, 0, 0, 0]);
    ext.extend_from_slice(&[6, 1]);
    ext.extend_from_slice(&[1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    let ip = ipv6_with(0, &cat(&ext, &t));
    let mut d = Decoder::new();
    expect_v6(dec(&mut d, LinkType::RAW, &ip), PAYLOAD);
    // An atomic fragment header (offset 0, M=0) is walked through.
    let frag = [6, 0, 0, 0, 0, 0, 0, 9];
    let ip = ipv6_with(44, &cat(&frag, &t));
    expect_v6(dec(&mut d, LinkType::RAW, &ip), PAYLOAD);
    assert_eq!(d.stats().fragments, 0);
    // AH (len field 1 -> (1+2)*4 = 12 bytes).
    let ah = [6, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1];
    let ip = ipv6_with(51, &cat(&ah, &t));
    expect_v6(dec(&mut d, LinkType::RAW, &ip), PAYLOAD);
    // An extension header longer than the payload length: bad header.
    let ip = ipv6_with(60, &[6, 200, 0, 0, 0, 0, 0, 0]);
    assert_eq!(dec(&mut d, LinkType::RAW, &ip), Err(Skip::BadHeader));
    // No next header.
    let ip = ipv6_with(59, &[]);
    assert_eq!(dec(&mut d, LinkType::RAW, &ip), Err(Skip::NonTcp));
}

#[test]
fn skips_are_classified_and_counted() {
    let mut d = Decoder::new();
    let udp = ipv4_with(17, 1, 0, &[0; 8]);
    assert_eq!(dec(&mut d, LinkType::RAW, &udp), Err(Skip::NonTcp));
    assert_eq!(
        dec(&mut d, LinkType::ETHERNET, &eth(0x0806, &[0; 28])),
        Err(Skip::NonIp)
    );
    assert_eq!(
        dec(&mut d, LinkType::ETHERNET, &eth(0x0050, &[0; 46])),
        Err(Skip::NonIp)
    );
    assert_eq!(
        dec(&mut d, LinkType(147), &[0; 60]),
        Err(Skip::UnsupportedLink)
    );
    assert_eq!(
        dec(&mut d, LinkType::NULL, &[7, 0, 0, 0, 0x45]),
        Err(Skip::NonIp)
    );
    assert_eq!(
        dec(&mut d, LinkType::C_HDLC, &[0x8f, 0, 0x80, 0x35, 0]),
        Err(Skip::NonIp)
    );
    let ppp_lcp = eth(0x8864, &[0x11, 0, 0, 1, 0, 4, 0xc0, 0x21, 0, 0]);
    assert_eq!(dec(&mut d, LinkType::ETHERNET, &ppp_lcp), Err(Skip::NonIp));
    // Bad IPv4: IHL 4; version 5 on the IPV4 link type; total length < header.
    let mut ip = ipv4(&tcp());
    ip[0] = 0x44;
    assert_eq!(dec(&mut d, LinkType::RAW, &ip), Err(Skip::BadHeader));
    let mut ip = ipv4(&tcp());
    ip[0] = 0x55;
    assert_eq!(dec(&mut d, LinkType::IPV4, &ip), Err(Skip::BadHeader));
    let mut ip = ipv4(&tcp());
    ip[3] = 10;
    ip[2] = 0;
    assert_eq!(dec(&mut d, LinkType::RAW, &ip), Err(Skip::BadHeader));
    // Bad TCP: data offset 4; data offset past the IP length.
    let mut t = tcp();
    t[12] = 0x40;
    assert_eq!(dec(&mut d, LinkType::RAW, &ipv4(&t)), Err(Skip::BadHeader));
    let mut t = tcp_bytes(b"", 0, 0);
    t[12] = 0xf0;
    assert_eq!(dec(&mut d, LinkType::RAW, &ipv4(&t)), Err(Skip::BadHeader));
    // 17 VLAN tags: too many.
    let mut tags = Vec::new();
    for _ in 0..17 {
        tags.extend_from_slice(&[0, 1, 0x81, 0x00]);
    }
    assert_eq!(
        dec(&mut d, LinkType::ETHERNET, &eth(0x8100, &tags)),
        Err(Skip::BadHeader)
    );
    // MPLS with a non-IP payload after the bottom label.
    let mp = eth(0x8847, &[0, 1, 1, 64, 0, 0, 0, 0]);
    assert_eq!(dec(&mut d, LinkType::ETHERNET, &mp), Err(Skip::NonIp));
    let s = d.stats();
    assert_eq!(
        (s.non_tcp, s.non_ip, s.unsupported_link, s.bad_header, s.tcp),
        (1, 6, 1, 6, 0)
    );
    assert_eq!(s.packets, 14);
    assert_eq!(s.outcomes(), s.packets);
}

/// An outer IPv4 header (198.51.100.1 -> .2) of protocol `proto` around `inner`.
fn outer_v4(proto: u8, inner: &[u8]) -> Vec<u8> {
    let mut ip = ipv4_with(proto, 99, 0, inner);
    ip[12..16].copy_from_slice(&[198, 51, 100, 1]);
    ip[16..20].copy_from_slice(&[198, 51, 100, 2]);
    ip
}

#[test]
fn tunnels_are_followed_to_the_inner_segment() {
    let inner4 = ipv4(&tcp());
    let inner6 = ipv6(&tcp());
    let udp_vxlan = |frame: &[u8]| {
        let mut u = vec![0xc0, 0x00, 0x12, 0xb5];
        u.extend_from_slice(&((16 + frame.len()) as u16).to_be_bytes());
        u.extend_from_slice(&[0, 0, 0x08, 0, 0, 0, 0, 0x01, 0x00, 0]);
        cat(&u, frame)
    };
    let mut d = Decoder::new();
    // IPv4 in IPv4, IPv6 in IPv4, IPv4 in IPv6.
    expect_v4(dec(&mut d, LinkType::RAW, &outer_v4(4, &inner4)), PAYLOAD);
    expect_v6(dec(&mut d, LinkType::RAW, &outer_v4(41, &inner6)), PAYLOAD);
    expect_v4(dec(&mut d, LinkType::RAW, &ipv6_with(4, &inner4)), PAYLOAD);
    // GRE: plain, with checksum+key+sequence, transparent Ethernet bridging, MPLS.
    let gre_plain = cat(&[0, 0, 0x08, 0x00], &inner4);
    expect_v4(
        dec(&mut d, LinkType::RAW, &outer_v4(47, &gre_plain)),
        PAYLOAD,
    );
    let gre_cks = cat(
        &[0xb0, 0, 0x86, 0xdd, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 1],
        &inner6,
    );
    expect_v6(dec(&mut d, LinkType::RAW, &outer_v4(47, &gre_cks)), PAYLOAD);
    let gre_teb = cat(&[0, 0, 0x65, 0x58], &eth(0x0800, &inner4));
    expect_v4(dec(&mut d, LinkType::RAW, &outer_v4(47, &gre_teb)), PAYLOAD);
    let gre_mpls = cat(&[0, 0, 0x88, 0x47, 0, 1, 1, 64], &inner4);
    expect_v4(
        dec(&mut d, LinkType::RAW, &outer_v4(47, &gre_mpls)),
        PAYLOAD,
    );
    // VXLAN.
    let vx = outer_v4(17, &udp_vxlan(&eth(0x0800, &inner4)));
    expect_v4(dec(&mut d, LinkType::RAW, &vx), PAYLOAD);
    // Not followed / not TCP: GRE version 1, GRE with ARP inside, UDP to another port,
    // VXLAN without the I flag.
    let gre_v1 = cat(&[0x30, 0x01, 0x88, 0x0b, 0, 0, 0, 0], &inner4);
    assert_eq!(
        dec(&mut d, LinkType::RAW, &outer_v4(47, &gre_v1)),
        Err(Skip::NonTcp)
    );
    let gre_arp = cat(&[0, 0, 0x08, 0x06], &[0; 28]);
    assert_eq!(
        dec(&mut d, LinkType::RAW, &outer_v4(47, &gre_arp)),
        Err(Skip::NonTcp)
    );
    let mut other_udp = udp_vxlan(&eth(0x0800, &inner4));
    other_udp[3] = 53;
    assert_eq!(
        dec(&mut d, LinkType::RAW, &outer_v4(17, &other_udp)),
        Err(Skip::NonTcp)
    );
    let mut no_i = udp_vxlan(&eth(0x0800, &inner4));
    no_i[8] = 0;
    assert_eq!(
        dec(&mut d, LinkType::RAW, &outer_v4(17, &no_i)),
        Err(Skip::NonTcp)
    );
    // Nesting: 3 levels are followed, 4 are too deep.
    let three = outer_v4(4, &outer_v4(4, &outer_v4(4, &inner4)));
    expect_v4(dec(&mut d, LinkType::RAW, &three), PAYLOAD);
    let four = outer_v4(4, &three);
    assert_eq!(dec(&mut d, LinkType::RAW, &four), Err(Skip::BadHeader));
    // A truncated tunnel header.
    assert_eq!(
        dec(&mut d, LinkType::RAW, &outer_v4(47, &[0, 0])),
        Err(Skip::Truncated)
    );
    let s = d.stats();
    assert_eq!((s.tcp, s.non_tcp, s.bad_header, s.truncated), (9, 4, 1, 1));
}

#[test]
fn stats_add() {
    let mut a = DecodeStats {
        packets: 3,
        tcp: 2,
        non_ip: 1,
        frag_overlaps: 4,
        ..DecodeStats::default()
    };
    let b = DecodeStats {
        packets: 10,
        tcp: 5,
        bad_header: 5,
        frag_overlaps: 1,
        ..DecodeStats::default()
    };
    a += &b;
    assert_eq!(
        (a.packets, a.tcp, a.non_ip, a.bad_header, a.frag_overlaps),
        (13, 7, 1, 5, 5)
    );
    assert_eq!(a.outcomes(), 13);
}

// ---------- fragments ----------

/// The IPv4 TCP datagram used for fragment tests: 20-byte TCP header + 100 payload bytes.
fn frag_payload() -> Vec<u8> {
    (0..100u8).collect()
}

/// IPv4 fragments of `l4` split at the given byte offsets (multiples of 8).
fn v4_frag(l4: &[u8], ident: u16, start: usize, end: usize, last: bool) -> Vec<u8> {
    let field = ((start / 8) as u16) | if last { 0 } else { 0x2000 };
    ipv4_with(6, ident, field, &l4[start..end])
}

fn v6_frag(l4: &[u8], ident: u32, start: usize, end: usize, last: bool) -> Vec<u8> {
    let field = ((start / 8) as u16) << 3 | u16::from(!last);
    let mut fh = vec![6, 0];
    fh.extend_from_slice(&field.to_be_bytes());
    fh.extend_from_slice(&ident.to_be_bytes());
    ipv6_with(44, &cat(&fh, &l4[start..end]))
}

#[test]
fn ipv4_fragments_in_order_and_out_of_order() {
    let l4 = tcp_bytes(&frag_payload(), 0, TcpFlags::ACK | TcpFlags::PSH);
    let f1 = v4_frag(&l4, 1, 0, 48, false);
    let f2 = v4_frag(&l4, 1, 48, 96, false);
    let f3 = v4_frag(&l4, 1, 96, 120, true);
    for order in [[&f1, &f2, &f3], [&f3, &f1, &f2], [&f2, &f3, &f1]] {
        let mut d = Decoder::new();
        assert_eq!(
            dec(&mut d, LinkType::RAW, order[0]),
            Err(Skip::FragmentHeld)
        );
        assert_eq!(
            dec(&mut d, LinkType::RAW, order[1]),
            Err(Skip::FragmentHeld)
        );
        expect_v4(dec(&mut d, LinkType::RAW, order[2]), &frag_payload());
        let s = d.stats();
        assert_eq!(
            (s.fragments, s.frag_reassembled, s.frag_held, s.tcp),
            (3, 1, 2, 1)
        );
        assert_eq!(d.frag_in_progress(), (0, 0));
    }
}

#[test]
fn ipv4_fragments_overlap_first_wins_and_duplicates() {
    let l4 = tcp_bytes(&frag_payload(), 0, TcpFlags::ACK | TcpFlags::PSH);
    let mut d = Decoder::new();
    // First: bytes 0..64 genuine.
    assert!(dec(&mut d, LinkType::RAW, &v4_frag(&l4, 9, 0, 64, false)).is_err());
    // Duplicate of the first fragment.
    assert!(dec(&mut d, LinkType::RAW, &v4_frag(&l4, 9, 0, 64, false)).is_err());
    // Overlapping forgery: bytes 56..104 all 0xEE; only 64..104 may be taken from it.
    let mut forged = l4.clone();
    forged[56..104].fill(0xee);
    assert!(dec(&mut d, LinkType::RAW, &v4_frag(&forged, 9, 56, 104, false)).is_err());
    // Last fragment, overlapping 96..104 with genuine bytes (ignored: first wins).
    let r = dec(&mut d, LinkType::RAW, &v4_frag(&l4, 9, 96, 120, true));
    let (.., pl) = r.unwrap();
    let mut want = frag_payload();
    // TCP payload byte i is datagram byte 20 + i.
    want[64 - 20..104 - 20].fill(0xee);
    assert_eq!(pl, want);
    assert_eq!(d.stats().frag_overlaps, 3);
}

#[test]
fn ipv4_fragment_timeout_and_unfinished() {
    let l4 = tcp_bytes(&frag_payload(), 0, TcpFlags::ACK);
    let mut d = Decoder::new();
    let a = v4_frag(&l4, 1, 0, 48, false);
    let b = v4_frag(&l4, 2, 0, 48, false);
    assert_eq!(
        d.decode(&pkt_at(LinkType::RAW, &a, 100)).err(),
        Some(Skip::FragmentHeld)
    );
    assert_eq!(
        d.decode(&pkt_at(LinkType::RAW, &b, 120)).err(),
        Some(Skip::FragmentHeld)
    );
    // 31 s after the first: datagram 1 expires; datagram 2 is 11 s old and survives.
    d.expire(Timestamp::from_nanos(131, 0));
    assert_eq!(d.stats().frag_timeouts, 1);
    assert_eq!(d.frag_in_progress(), (1, 48));
    // The rest of datagram 1 can no longer complete it.
    let rest = v4_frag(&l4, 1, 48, 120, true);
    assert_eq!(
        d.decode(&pkt_at(LinkType::RAW, &rest, 132)).err(),
        Some(Skip::FragmentHeld)
    );
    d.finish();
    assert_eq!(d.stats().frag_unfinished, 2);
    assert_eq!(d.frag_in_progress(), (0, 0));
}

#[test]
fn ipv4_fragment_caps() {
    let l4 = tcp_bytes(&frag_payload(), 0, TcpFlags::ACK);
    let cfg = DecoderConfig {
        frag: FragConfig {
            timeout_ns: 30_000_000_000,
            max_datagrams: 2,
            max_bytes: 200,
        },
    };
    let mut d = Decoder::with_config(cfg);
    for id in 1..=2 {
        assert_eq!(
            dec(&mut d, LinkType::RAW, &v4_frag(&l4, id, 0, 48, false)),
            Err(Skip::FragmentHeld)
        );
    }
    // Third datagram: over the datagram cap.
    assert_eq!(
        dec(&mut d, LinkType::RAW, &v4_frag(&l4, 3, 0, 48, false)),
        Err(Skip::FragmentDropped)
    );
    // Growing datagram 1 to 120 bytes would make 168 <= 200: fine; datagram 2 then can't.
    assert_eq!(
        dec(&mut d, LinkType::RAW, &v4_frag(&l4, 1, 96, 120, true)),
        Err(Skip::FragmentHeld)
    );
    assert_eq!(
        dec(&mut d, LinkType::RAW, &v4_frag(&l4, 2, 96, 120, true)),
        Err(Skip::FragmentDropped)
    );
    // Datagram 1 completes and frees its bytes; datagram 2 can grow now.
    assert!(dec(&mut d, LinkType::RAW, &v4_frag(&l4, 1, 48, 96, false)).is_ok());
    assert_eq!(
        dec(&mut d, LinkType::RAW, &v4_frag(&l4, 2, 96, 120, true)),
        Err(Skip::FragmentHeld)
    );
    assert!(dec(&mut d, LinkType::RAW, &v4_frag(&l4, 2, 48, 96, false)).is_ok());
    let s = d.stats();
    assert_eq!((s.frag_dropped, s.frag_reassembled, s.tcp), (2, 2, 2));
    assert_eq!(s.outcomes(), s.packets);
}

#[test]
fn ipv4_inconsistent_fragments_dropped() {
    let l4 = tcp_bytes(&frag_payload(), 0, TcpFlags::ACK);
    let mut d = Decoder::new();
    assert!(dec(&mut d, LinkType::RAW, &v4_frag(&l4, 1, 96, 120, true)).is_err());
    // A second "last" fragment with a different end.
    assert_eq!(
        dec(&mut d, LinkType::RAW, &v4_frag(&l4, 1, 48, 96, true)),
        Err(Skip::FragmentDropped)
    );
    // Data beyond the known end.
    let big = tcp_bytes(&[0; 200], 0, 0);
    assert_eq!(
        dec(&mut d, LinkType::RAW, &v4_frag(&big, 1, 112, 200, false)),
        Err(Skip::FragmentDropped)
    );
    // Beyond 65535 bytes: offset 8184*8 + 100.
    let ip = ipv4_with(6, 5, 0x2000 | 8184, &[0; 104]);
    assert_eq!(dec(&mut d, LinkType::RAW, &ip), Err(Skip::FragmentDropped));
    // UDP fragments are not buffered.
    let udp = ipv4_with(17, 5, 0x2000, &[0; 48]);
    assert_eq!(dec(&mut d, LinkType::RAW, &udp), Err(Skip::NonTcp));
    // A fragment cut by the snaplen is not buffered.
    let f = v4_frag(&l4, 7, 0, 48, false);
    assert_eq!(dec(&mut d, LinkType::RAW, &f[..40]), Err(Skip::Truncated));
    assert_eq!(d.frag_in_progress().0, 1);
}

#[test]
fn ipv6_fragments() {
    let l4 = tcp_bytes(&frag_payload(), 0, TcpFlags::ACK | TcpFlags::PSH);
    let f1 = v6_frag(&l4, 0xabcd, 0, 56, false);
    let f2 = v6_frag(&l4, 0xabcd, 56, 120, true);
    for order in [[&f1, &f2], [&f2, &f1]] {
        let mut d = Decoder::new();
        assert_eq!(
            dec(&mut d, LinkType::IPV6, order[0]),
            Err(Skip::FragmentHeld)
        );
        expect_v6(dec(&mut d, LinkType::IPV6, order[1]), &frag_payload());
        assert_eq!(d.stats().frag_reassembled, 1);
    }
    // Destination options inside the fragmentable part: walked after reassembly.
    let inner = cat(&[6, 0, 1, 4, 0, 0, 0, 0], &l4);
    let mk = |start: usize, end: usize, last: bool| {
        let field = ((start / 8) as u16) << 3 | u16::from(!last);
        let mut fh = vec![60, 0];
        fh.extend_from_slice(&field.to_be_bytes());
        fh.extend_from_slice(&1u32.to_be_bytes());
        ipv6_with(44, &cat(&fh, &inner[start..end]))
    };
    let mut d = Decoder::new();
    assert!(dec(&mut d, LinkType::IPV6, &mk(64, 128, true)).is_err());
    expect_v6(
        dec(&mut d, LinkType::IPV6, &mk(0, 64, false)),
        &frag_payload(),
    );
    // Duplicate after completion starts a new datagram, which later times out.
    assert_eq!(
        dec(&mut d, LinkType::IPV6, &mk(0, 64, false)),
        Err(Skip::FragmentHeld)
    );
    // UDP fragments are skipped without buffering.
    let mut fh = vec![17, 0, 0, 1];
    fh.extend_from_slice(&2u32.to_be_bytes());
    assert_eq!(
        dec(&mut d, LinkType::IPV6, &ipv6_with(44, &cat(&fh, &[0; 16]))),
        Err(Skip::NonTcp)
    );
}

/// Fragments of a 1200-byte segment, split at random 8-byte boundaries, sent in random
/// order with random duplicates: the reassembled payload is the original.
#[test]
fn fragments_any_order_reassemble() {
    let payload: Vec<u8> = (0..1200u32).map(|i| (i * 7 % 251) as u8).collect();
    let l4 = tcp_bytes(&payload, 0, TcpFlags::ACK | TcpFlags::PSH);
    proptest!(ProptestConfig::with_cases(200), |(
        cuts in proptest::collection::btree_set(1usize..(l4.len() / 8), 1..20),
        order_seed in any::<u64>(),
        dups in proptest::collection::vec(any::<prop::sample::Index>(), 0..5),
        v6 in any::<bool>(),
    )| {
        let mut bounds: Vec<usize> = vec![0];
        bounds.extend(cuts.iter().map(|c| c * 8));
        bounds.push(l4.len());
        let mut frags: Vec<Vec<u8>> = bounds
            .windows(2)
            .map(|w| {
                let last = w[1] == l4.len();
                if v6 { v6_frag(&l4, 77, w[0], w[1], last) } else { v4_frag(&l4, 77, w[0], w[1], last) }
            })
            .collect();
        for ix in &dups {
            let f = frags[ix.index(frags.len())].clone();
            frags.push(f);
        }
        // Deterministic shuffle from the seed.
        let mut s = order_seed | 1;
        for i in (1..frags.len()).rev() {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            frags.swap(i, (s % (i as u64 + 1)) as usize);
        }
        let mut d = Decoder::new();
        let mut completions = 0;
        for f in &frags {
            if let Ok(seg) = d.decode(&pkt(LinkType::RAW, f)) {
                // Duplicates arriving after completion may complete a second copy.
                prop_assert_eq!(seg.payload, &payload[..]);
                completions += 1;
            }
        }
        prop_assert!(completions >= 1);
        prop_assert_eq!(d.stats().outcomes(), d.stats().packets);
    });
}

const LINKS: [LinkType; 13] = [
    LinkType::NULL,
    LinkType::ETHERNET,
    LinkType::RAW_12,
    LinkType::RAW_14,
    LinkType::LOOP,
    LinkType::RAW,
    LinkType::C_HDLC,
    LinkType::LINUX_SLL,
    LinkType::IPV4,
    LinkType::IPV6,
    LinkType::NFLOG,
    LinkType::LINUX_SLL2,
    LinkType(147),
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Arbitrary bytes on every link type: never a panic; exactly one outcome per packet.
    #[test]
    fn arbitrary_bytes_never_panic(link_ix in 0usize..LINKS.len(), data in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut d = Decoder::new();
        let p = pkt(LINKS[link_ix], &data);
        if let Ok(seg) = d.decode(&p) {
            prop_assert!(seg.payload.len() <= data.len());
        }
        prop_assert_eq!(d.stats().outcomes(), 1);
    }

    /// Valid frames with random mutations in the headers: never a panic.
    #[test]
    fn mutated_frames_never_panic(
        ix in 0usize..37,
        muts in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let frames: Vec<_> = v4_frames().into_iter().chain(v6_frames()).collect();
        let (_, link, mut frame) = frames[ix % frames.len()].clone();
        for (at, b) in muts {
            let i = at.index(frame.len());
            frame[i] = b;
        }
        let n = cut.index(frame.len() + 1);
        let mut d = Decoder::new();
        let _ = d.decode(&pkt(link, &frame[..n]));
        prop_assert_eq!(d.stats().outcomes(), 1);
    }

    /// Random fragments (offsets, lengths, flags, ids) into a small table: caps hold.
    #[test]
    fn random_fragments_respect_caps(frags in proptest::collection::vec((0u16..4, 0u16..8192, any::<bool>(), 0usize..300), 1..80)) {
        let cfg = DecoderConfig { frag: FragConfig { timeout_ns: 30_000_000_000, max_datagrams: 3, max_bytes: 70_000 } };
        let mut d = Decoder::with_config(cfg);
        for (id, off, more, len) in frags {
            let field = off | if more { 0x2000 } else { 0 };
            let ip = ipv4_with(6, id, field, &vec![0x50; len]);
            let _ = d.decode(&pkt(LinkType::RAW, &ip));
            let (n, bytes) = d.frag_in_progress();
            prop_assert!(n <= 3 && bytes <= 70_000);
        }
        prop_assert_eq!(d.stats().outcomes(), d.stats().packets);
    }
}

#[test]
fn ipv4_addrs_and_types() {
    // Sanity of the fixtures themselves (guards against a broken builder).
    assert_eq!(Ipv4Addr::from(SRC4), Ipv4Addr::new(10, 0, 0, 1));
    assert_eq!(
        Ipv6Addr::from(DST6),
        "2001:db8::2".parse::<Ipv6Addr>().unwrap()
    );
    assert_eq!(v4_frames().len() + v6_frames().len(), 37);
}
