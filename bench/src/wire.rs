//! Writing the classic pcap format and Ethernet/IPv4/TCP frames with valid checksums.
//!
//! The pcap file is little-endian, version 2.4, microsecond timestamps, link type 1
//! (Ethernet). Frames are built in a reusable buffer: [`begin_tcp`] writes the headers with
//! zeroed length/checksum fields, the caller appends the payload, then [`finish_tcp`] fills
//! in the IPv4 total length and both checksums.

use std::io::{self, Write};

/// TCP payload bytes per full-sized segment: Ethernet MTU 1500 − 20 (IPv4) − 20 (TCP) −
/// 12 (timestamp option), as on a typical Linux path.
pub const MSS: usize = 1448;

/// Bytes of Ethernet + IPv4 header in front of the TCP header.
pub const ETH_IP_LEN: usize = 14 + 20;

/// TCP flag bits.
pub mod flags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// PSH.
    pub const PSH: u8 = 0x08;
    /// ACK.
    pub const ACK: u8 = 0x10;
}

/// A streaming writer of classic pcap files.
pub struct PcapWriter<W: Write> {
    out: W,
    bytes: u64,
    packets: u64,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the 24-byte global header (Ethernet, snaplen 262144, microseconds).
    pub fn new(mut out: W) -> io::Result<Self> {
        let mut h = [0u8; 24];
        h[0..4].copy_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        h[4..6].copy_from_slice(&2u16.to_le_bytes());
        h[6..8].copy_from_slice(&4u16.to_le_bytes());
        // thiszone 0, sigfigs 0
        h[16..20].copy_from_slice(&262_144u32.to_le_bytes());
        h[20..24].copy_from_slice(&1u32.to_le_bytes());
        out.write_all(&h)?;
        Ok(PcapWriter {
            out,
            bytes: 24,
            packets: 0,
        })
    }

    /// Appends one record with timestamp `ts_us` (microseconds since the Unix epoch).
    pub fn write_packet(&mut self, ts_us: u64, frame: &[u8]) -> io::Result<()> {
        let mut h = [0u8; 16];
        let len = u32::try_from(frame.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "frame too large"))?;
        h[0..4].copy_from_slice(&((ts_us / 1_000_000) as u32).to_le_bytes());
        h[4..8].copy_from_slice(&((ts_us % 1_000_000) as u32).to_le_bytes());
        h[8..12].copy_from_slice(&len.to_le_bytes());
        h[12..16].copy_from_slice(&len.to_le_bytes());
        self.out.write_all(&h)?;
        self.out.write_all(frame)?;
        self.bytes += 16 + u64::from(len);
        self.packets += 1;
        Ok(())
    }

    /// Bytes written so far, including the global header.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Records written so far.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Flushes and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Adds `data` to a running one's-complement sum as big-endian 16-bit words. All but the
/// last chunk passed must have even length (an odd final byte is padded with zero).
pub fn checksum_add(mut sum: u64, data: &[u8]) -> u64 {
    let mut words = data.chunks_exact(4);
    for w in &mut words {
        sum += u64::from(u32::from_be_bytes([w[0], w[1], w[2], w[3]]));
    }
    let rest = words.remainder();
    let mut pairs = rest.chunks_exact(2);
    for p in &mut pairs {
        sum += u64::from(u16::from_be_bytes([p[0], p[1]]));
    }
    if let [b] = pairs.remainder() {
        sum += u64::from(*b) << 8;
    }
    sum
}

/// Folds a running sum to 16 bits and complements it: the value to put on the wire.
pub fn checksum_finish(mut sum: u64) -> u16 {
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// One side of a TCP connection.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// Ethernet address.
    pub mac: [u8; 6],
    /// IPv4 address.
    pub ip: [u8; 4],
    /// TCP port.
    pub port: u16,
}

/// The TCP header fields of one segment.
#[derive(Copy, Clone, Debug)]
pub struct TcpFields<'a> {
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number (sent with the ACK flag).
    pub ack: u32,
    /// Flag bits (see [`flags`]).
    pub flags: u8,
    /// Receive window (as on the wire, i.e. before scaling).
    pub window: u16,
    /// Options, already padded to a multiple of 4 bytes.
    pub options: &'a [u8],
}

/// Clears `buf` and writes Ethernet, IPv4 and TCP headers for a segment from `src` to
/// `dst`. Length and checksum fields are left zero for [`finish_tcp`]; the caller appends
/// the payload in between.
pub fn begin_tcp(buf: &mut Vec<u8>, src: &Endpoint, dst: &Endpoint, ip_id: u16, t: &TcpFields) {
    buf.clear();
    buf.extend_from_slice(&dst.mac);
    buf.extend_from_slice(&src.mac);
    buf.extend_from_slice(&[0x08, 0x00]);
    // IPv4: version 4, IHL 5, DSCP 0, total length (later), id, DF, TTL 64, proto 6.
    buf.extend_from_slice(&[0x45, 0x00, 0, 0]);
    buf.extend_from_slice(&ip_id.to_be_bytes());
    buf.extend_from_slice(&[0x40, 0x00, 64, 6, 0, 0]);
    buf.extend_from_slice(&src.ip);
    buf.extend_from_slice(&dst.ip);
    // TCP
    buf.extend_from_slice(&src.port.to_be_bytes());
    buf.extend_from_slice(&dst.port.to_be_bytes());
    buf.extend_from_slice(&t.seq.to_be_bytes());
    buf.extend_from_slice(&t.ack.to_be_bytes());
    let doff = ((20 + t.options.len()) / 4) as u8;
    buf.push(doff << 4);
    buf.push(t.flags);
    buf.extend_from_slice(&t.window.to_be_bytes());
    buf.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent pointer
    buf.extend_from_slice(t.options);
}

/// Fills in the IPv4 total length and header checksum and the TCP checksum of a frame
/// built by [`begin_tcp`] plus payload.
pub fn finish_tcp(buf: &mut [u8]) {
    let ip_total = (buf.len() - 14) as u16;
    if let Some(f) = buf.get_mut(16..18) {
        f.copy_from_slice(&ip_total.to_be_bytes());
    }
    let ip_sum = checksum_finish(checksum_add(0, buf.get(14..34).unwrap_or(&[])));
    if let Some(f) = buf.get_mut(24..26) {
        f.copy_from_slice(&ip_sum.to_be_bytes());
    }
    let tcp_len = (buf.len() - ETH_IP_LEN) as u64;
    // Pseudo-header: source, destination, zero, protocol, TCP length.
    let mut sum = checksum_add(0, buf.get(26..34).unwrap_or(&[]));
    sum += 6 + tcp_len;
    sum = checksum_add(sum, buf.get(ETH_IP_LEN..).unwrap_or(&[]));
    let tcp_sum = checksum_finish(sum);
    if let Some(f) = buf.get_mut(ETH_IP_LEN + 16..ETH_IP_LEN + 18) {
        f.copy_from_slice(&tcp_sum.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 1071 section 3 example: words 0001 f203 f4f5 f6f7 sum to 0xddf2 (before the
    /// complement).
    #[test]
    fn rfc1071_example() {
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(checksum_finish(checksum_add(0, &data)), !0xddf2);
    }

    /// A well-known IPv4 header (from Wikipedia's "IPv4 header checksum" article) whose
    /// checksum is 0xb861.
    #[test]
    fn ipv4_header_known_value() {
        let hdr = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(checksum_finish(checksum_add(0, &hdr)), 0xb861);
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(checksum_add(0, &[0xab]), 0xab00);
        assert_eq!(checksum_add(0, &[0x12, 0x34, 0xab]), 0x1234 + 0xab00);
    }

    /// A finished frame verifies: summing the IP header, or pseudo-header + TCP segment,
    /// including the stored checksum gives 0xffff.
    #[test]
    fn finished_frame_verifies() {
        let a = Endpoint {
            mac: [2, 0, 10, 1, 0, 1],
            ip: [10, 1, 0, 1],
            port: 40000,
        };
        let b = Endpoint {
            mac: [2, 0, 10, 0, 0, 10],
            ip: [10, 0, 0, 10],
            port: 80,
        };
        let mut buf = Vec::new();
        let opts = [1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2];
        let t = TcpFields {
            seq: 1000,
            ack: 2000,
            flags: flags::ACK | flags::PSH,
            window: 502,
            options: &opts,
        };
        begin_tcp(&mut buf, &a, &b, 7, &t);
        buf.extend_from_slice(b"GET / HTTP/1.1\r\n\r\nx"); // odd length payload
        finish_tcp(&mut buf);
        assert_eq!(buf.len(), 14 + 20 + 32 + 19);
        assert_eq!(u16::from_be_bytes([buf[16], buf[17]]), 20 + 32 + 19);
        assert_eq!(checksum_finish(checksum_add(0, &buf[14..34])), 0);
        let mut s = checksum_add(0, &buf[26..34]);
        s += 6 + (buf.len() - 34) as u64;
        s = checksum_add(s, &buf[34..]);
        assert_eq!(checksum_finish(s), 0);
        assert_eq!(buf[34 + 12] >> 4, 8, "data offset counts the options");
    }

    #[test]
    fn pcap_headers() {
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        w.write_packet(1_714_564_800_123_456, &[1, 2, 3]).unwrap();
        assert_eq!(w.bytes(), 24 + 16 + 3);
        let v = w.finish().unwrap();
        assert_eq!(&v[0..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
        assert_eq!(u32::from_le_bytes([v[20], v[21], v[22], v[23]]), 1);
        assert_eq!(
            u32::from_le_bytes([v[24], v[25], v[26], v[27]]),
            1_714_564_800
        );
        assert_eq!(u32::from_le_bytes([v[28], v[29], v[30], v[31]]), 123_456);
        assert_eq!(u32::from_le_bytes([v[32], v[33], v[34], v[35]]), 3);
        assert_eq!(&v[40..], &[1, 2, 3]);
    }

    fn naive_sum(data: &[u8]) -> u64 {
        let mut s = 0u64;
        for (i, b) in data.iter().enumerate() {
            s += if i % 2 == 0 {
                u64::from(*b) << 8
            } else {
                u64::from(*b)
            };
        }
        s
    }

    proptest::proptest! {
        /// The 32-bit-word fast path agrees with a byte-by-byte 16-bit reference.
        #[test]
        fn fast_sum_matches_naive(data in proptest::collection::vec(proptest::num::u8::ANY, 0..3000)) {
            proptest::prop_assert_eq!(
                checksum_finish(checksum_add(0, &data)),
                checksum_finish(naive_sum(&data))
            );
        }

        /// Any frame we build verifies, whatever the payload and header fields.
        #[test]
        fn any_frame_verifies(
            payload in proptest::collection::vec(proptest::num::u8::ANY, 0..1448),
            seq in proptest::num::u32::ANY,
            ack in proptest::num::u32::ANY,
            id in proptest::num::u16::ANY,
        ) {
            let a = Endpoint { mac: [2; 6], ip: [10, 1, 2, 3], port: 51000 };
            let b = Endpoint { mac: [4; 6], ip: [10, 0, 0, 20], port: 8080 };
            let mut buf = Vec::new();
            let t = TcpFields { seq, ack, flags: flags::ACK, window: 509, options: &[] };
            begin_tcp(&mut buf, &a, &b, id, &t);
            buf.extend_from_slice(&payload);
            finish_tcp(&mut buf);
            proptest::prop_assert_eq!(checksum_finish(naive_sum(&buf[14..34])), 0);
            let mut s = naive_sum(&buf[26..34]) + 6 + (buf.len() - 34) as u64;
            s += naive_sum(&buf[34..]);
            proptest::prop_assert_eq!(checksum_finish(s), 0);
        }
    }
}
