//! The engine's input: one captured packet (timestamp, link type, bytes), from any source
//! (libpcap in the agent, a file reader, a test).

/// A libpcap link-layer header type (DLT / LINKTYPE value as stored in the file).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct LinkType(pub i32);

impl LinkType {
    /// BSD loopback (DLT_NULL).
    pub const NULL: LinkType = LinkType(0);
    /// Ethernet (DLT_EN10MB).
    pub const ETHERNET: LinkType = LinkType(1);
    /// Raw IP (DLT_RAW as written by some platforms).
    pub const RAW_12: LinkType = LinkType(12);
    /// Raw IP (DLT_RAW on OpenBSD).
    pub const RAW_14: LinkType = LinkType(14);
    /// OpenBSD loopback (DLT_LOOP).
    pub const LOOP: LinkType = LinkType(108);
    /// Raw IP (LINKTYPE_RAW).
    pub const RAW: LinkType = LinkType(101);
    /// Cisco HDLC (DLT_C_HDLC).
    pub const C_HDLC: LinkType = LinkType(104);
    /// Linux cooked capture v1 (DLT_LINUX_SLL).
    pub const LINUX_SLL: LinkType = LinkType(113);
    /// IEEE 802.11 without a radio header (DLT_IEEE802_11).
    pub const IEEE802_11: LinkType = LinkType(105);
    /// IEEE 802.11 with a radiotap header (DLT_IEEE802_11_RADIO).
    pub const IEEE802_11_RADIOTAP: LinkType = LinkType(127);
    /// Raw IPv4 (LINKTYPE_IPV4).
    pub const IPV4: LinkType = LinkType(228);
    /// Raw IPv6 (LINKTYPE_IPV6).
    pub const IPV6: LinkType = LinkType(229);
    /// Linux netfilter log (DLT_NFLOG).
    pub const NFLOG: LinkType = LinkType(239);
    /// Linux cooked capture v2 (DLT_LINUX_SLL2).
    pub const LINUX_SLL2: LinkType = LinkType(276);

    /// A short human-readable name for logs ("ethernet", "null", "dlt-147", ...).
    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "null",
            1 => "ethernet",
            12 | 14 | 101 => "raw",
            108 => "loop",
            104 => "c-hdlc",
            105 => "802.11",
            127 => "802.11-radiotap",
            113 => "linux-sll",
            228 => "ipv4",
            229 => "ipv6",
            239 => "nflog",
            276 => "linux-sll2",
            _ => "other",
        }
    }
}

/// One captured packet, borrowed from the capture's buffer.
#[derive(Copy, Clone, Debug)]
pub struct Packet<'a> {
    /// Capture timestamp.
    pub ts: crate::Timestamp,
    /// Link-layer header type of `data`.
    pub link: LinkType,
    /// The captured bytes (possibly shorter than `orig_len` if the snaplen cut it).
    pub data: &'a [u8],
    /// Length of the packet on the wire.
    pub orig_len: u32,
}
