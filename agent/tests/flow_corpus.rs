//! Runs the flow table over the shared capture corpus (`/work/shared/corpus`, or
//! `APITAP_CORPUS`) with a minimal test-only decoder, and prints per-capture reassembly
//! figures (bytes, gaps, conflicts, …) for comparison with tshark. Ignored by default
//! (needs the corpus); run with `cargo test -p apitap-engine --test flow_corpus -- --ignored
//! --nocapture`. It asserts only what must hold everywhere: no handler call after close,
//! `on_close` once per connection, and nothing left after the final flush.

use apitap_engine::decode::SeqNum;
use apitap_engine::decode::{TcpFlags, TcpSegment};
use apitap_engine::flow::{CloseReason, ConnHandler, ConnInfo, Dir, FlowConfig, FlowTable};
use apitap_engine::Timestamp;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

#[derive(Default)]
struct Counts {
    bytes: [u64; 2],
    gaps: u64,
    gap_bytes: u64,
    closes: u64,
    http_starts: u64,
}

struct Count {
    c: std::rc::Rc<std::cell::RefCell<Counts>>,
    closed: bool,
    started: [bool; 2],
}

impl ConnHandler for Count {
    type Event = ();
    fn on_data(&mut self, _: &ConnInfo, dir: Dir, _: Timestamp, data: &[u8], _: &mut Vec<()>) {
        assert!(!self.closed);
        let i = usize::from(dir == Dir::ToOriginator);
        let mut c = self.c.borrow_mut();
        if !self.started[i] {
            self.started[i] = true;
            let looks_http = [
                &b"GET "[..],
                b"POST",
                b"HTTP",
                b"PUT ",
                b"HEAD",
                b"DELE",
                b"OPTI",
                b"CONN",
            ]
            .iter()
            .any(|p| data.starts_with(p));
            c.http_starts += u64::from(looks_http);
        }
        c.bytes[i] += data.len() as u64;
    }
    fn on_gap(&mut self, _: &ConnInfo, _: Dir, _: Timestamp, len: u64, _: &mut Vec<()>) {
        assert!(!self.closed);
        let mut c = self.c.borrow_mut();
        c.gaps += 1;
        c.gap_bytes += len;
    }
    fn on_fin(&mut self, _: &ConnInfo, _: Dir, _: Timestamp, _: &mut Vec<()>) {
        assert!(!self.closed);
    }
    fn on_close(&mut self, _: &ConnInfo, _: Timestamp, _: CloseReason, _: &mut Vec<()>) {
        assert!(!self.closed);
        self.closed = true;
        self.c.borrow_mut().closes += 1;
    }
}

fn be16(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]))
}
fn be32(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(i..i + 4)?.try_into().ok()?))
}

/// Link layer → (ethertype-like protocol, network-layer bytes).
fn link(linktype: i32, p: &[u8]) -> Option<(u16, &[u8])> {
    match linktype {
        1 => {
            let mut et = be16(p, 12)?;
            let mut off = 14;
            while et == 0x8100 || et == 0x88a8 || et == 0x9100 {
                et = be16(p, off + 2)?;
                off += 4;
            }
            if et == 0x8847 {
                // MPLS: skip labels to the bottom of stack, guess IP version.
                loop {
                    let bos = p.get(off + 2)? & 1;
                    off += 4;
                    if bos == 1 {
                        break;
                    }
                }
                et = if p.get(off)? >> 4 == 6 {
                    0x86dd
                } else {
                    0x0800
                };
            }
            if et == 0x8864 {
                let ppp = be16(p, off + 6)?;
                off += 8;
                et = match ppp {
                    0x0021 => 0x0800,
                    0x0057 => 0x86dd,
                    _ => return None,
                };
            }
            Some((et, p.get(off..)?))
        }
        0 => {
            let fam = u32::from_le_bytes(p.get(0..4)?.try_into().ok()?);
            let et = if fam == 2 { 0x0800 } else { 0x86dd };
            Some((et, p.get(4..)?))
        }
        12 | 14 | 101 | 228 | 229 => {
            let et = if p.first()? >> 4 == 6 { 0x86dd } else { 0x0800 };
            Some((et, p))
        }
        104 => Some((be16(p, 2)?, p.get(4..)?)),
        113 => Some((be16(p, 14)?, p.get(16..)?)),
        276 => Some((be16(p, 0)?, p.get(20..)?)),
        239 => {
            // NFLOG: TLVs after a 4-byte header; payload TLV type 9.
            let mut off = 4;
            while off + 4 <= p.len() {
                let len = usize::from(u16::from_le_bytes([*p.get(off)?, *p.get(off + 1)?]));
                let ty = u16::from_le_bytes([*p.get(off + 2)?, *p.get(off + 3)?]);
                if len < 4 {
                    return None;
                }
                if ty == 9 {
                    let v = p.get(off + 4..off + len)?;
                    let et = if v.first()? >> 4 == 6 { 0x86dd } else { 0x0800 };
                    return Some((et, v));
                }
                off += (len + 3) & !3;
            }
            None
        }
        _ => None,
    }
}

/// Network layer → TCP segment (unfragmented IPv4, or IPv6 without extension headers).
fn tcp(et: u16, p: &[u8]) -> Option<TcpSegment<'_>> {
    let (src, dst, l4) = match et {
        0x0800 => {
            let ihl = usize::from(p.first()? & 0x0f) * 4;
            let total = usize::from(be16(p, 2)?);
            let frag = be16(p, 6)? & 0x3fff;
            if *p.get(9)? != 6 || frag != 0 {
                return None;
            }
            let s = IpAddr::V4(Ipv4Addr::from(be32(p, 12)?));
            let d = IpAddr::V4(Ipv4Addr::from(be32(p, 16)?));
            (s, d, p.get(ihl..total.min(p.len()))?)
        }
        0x86dd => {
            if *p.get(6)? != 6 {
                return None;
            }
            let plen = usize::from(be16(p, 4)?);
            let s: [u8; 16] = p.get(8..24)?.try_into().ok()?;
            let d: [u8; 16] = p.get(24..40)?.try_into().ok()?;
            (
                IpAddr::V6(Ipv6Addr::from(s)),
                IpAddr::V6(Ipv6Addr::from(d)),
                p.get(40..(40 + plen).min(p.len()))?,
            )
        }
        _ => return None,
    };
    let doff = usize::from(l4.get(12)? >> 4) * 4;
    Some(TcpSegment {
        src: SocketAddr::new(src, be16(l4, 0)?),
        dst: SocketAddr::new(dst, be16(l4, 2)?),
        seq: SeqNum(be32(l4, 4)?),
        ack: TcpFlags(*l4.get(13)?)
            .has(TcpFlags::ACK)
            .then_some(SeqNum(be32(l4, 8)?)),
        flags: TcpFlags(*l4.get(13)?),
        payload: l4.get(doff..)?,
    })
}

fn captures(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = rd.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            captures(&p, out);
        } else if let Some(n) = p.file_name().and_then(|n| n.to_str()) {
            if n.ends_with(".pcap")
                || n.ends_with(".pcapng")
                || n.ends_with(".cap")
                || n.ends_with(".trace")
            {
                out.push(p);
            }
        }
    }
}

#[test]
#[ignore = "needs the shared capture corpus"]
fn corpus_reassembly_figures() {
    let root = std::env::var("APITAP_CORPUS").unwrap_or_else(|_| "/work/shared/corpus".into());
    let mut files = Vec::new();
    captures(Path::new(&root), &mut files);
    assert!(!files.is_empty(), "no captures under {root}");
    println!("capture\tpkts\ttcp\tflows\tnoflow\tdelivered\tgaps\tgap_bytes\tretx_bytes\tooo\tconflicts\thttp_starts");
    for f in files {
        let Ok(mut cap) = pcap::Capture::from_file(&f) else {
            println!("{}\tunreadable", f.display());
            continue;
        };
        let lt = cap.get_datalink().0;
        let counts = std::rc::Rc::new(std::cell::RefCell::new(Counts::default()));
        let c2 = counts.clone();
        let mut table = FlowTable::new(
            FlowConfig::default(),
            Box::new(move |_: &ConnInfo| Count {
                c: c2.clone(),
                closed: false,
                started: [false; 2],
            }),
        );
        let mut out = Vec::new();
        let (mut pkts, mut tcps) = (0u64, 0u64);
        let mut last = Timestamp::default();
        while let Ok(p) = cap.next_packet() {
            pkts += 1;
            let ts = Timestamp::from_micros(p.header.ts.tv_sec, p.header.ts.tv_usec);
            last = ts;
            if let Some(seg) = link(lt, p.data).and_then(|(et, n)| tcp(et, n)) {
                tcps += 1;
                table.process(ts, &seg, &mut out);
            }
        }
        table.flush(last, &mut out);
        let st = table.stats();
        let rs = table.reassembly_stats();
        let c = counts.borrow();
        assert_eq!(c.closes, st.flows_created);
        assert_eq!(st.active, 0);
        let name = f.strip_prefix(&root).unwrap_or(&f).display().to_string();
        println!(
            "{name}\t{pkts}\t{tcps}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            st.flows_created,
            st.packets_without_flow,
            c.bytes[0] + c.bytes[1],
            c.gaps,
            c.gap_bytes,
            rs.retransmitted_bytes,
            rs.ooo_segments,
            rs.overlap_conflicts,
            c.http_starts
        );
    }
}
