//! Fuzz the decoder: the first byte picks the link type; the second picks the mode:
//! even = the rest is one packet; odd = the rest is a sequence of packets, each prefixed
//! by a one-byte length, fed to one decoder with advancing capture time (so the fragment
//! table, its caps and its timeouts are exercised across packets).
#![no_main]

use apitap_engine::{LinkType, Packet};
use apitap_engine::decode::{DecodeStats, Decoder, DecoderConfig, FragConfig};
use apitap_engine::Timestamp;
use libfuzzer_sys::fuzz_target;

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

fn check(stats: &DecodeStats) {
    assert_eq!(stats.outcomes(), stats.packets);
}

fuzz_target!(|data: &[u8]| {
    let [sel, mode, rest @ ..] = data else { return };
    let link = LINKS[usize::from(*sel) % LINKS.len()];
    let cfg = DecoderConfig {
        frag: FragConfig {
            timeout_ns: 30_000_000_000,
            max_datagrams: 4,
            max_bytes: 100_000,
        },
    };
    let mut dec = Decoder::with_config(cfg);
    if mode & 1 == 0 {
        let pkt = Packet {
            ts: Timestamp(0),
            link,
            data: rest,
            orig_len: rest.len() as u32,
        };
        if let Ok(seg) = dec.decode(&pkt) {
            assert!(seg.payload.len() <= rest.len().max(65535));
        }
    } else {
        let mut rest = rest;
        let mut secs = 0;
        while let [len, tail @ ..] = rest {
            let n = usize::from(*len).min(tail.len());
            let (pkt_data, next) = tail.split_at(n);
            // Time advances by 0..7 s per packet, taken from the length byte.
            secs += i64::from(*len & 7);
            let pkt = Packet {
                ts: Timestamp::from_nanos(secs, 0),
                link,
                data: pkt_data,
                orig_len: pkt_data.len() as u32,
            };
            let _ = dec.decode(&pkt);
            let (datagrams, bytes) = dec.frag_in_progress();
            assert!(datagrams <= 4 && bytes <= 100_000);
            rest = next;
        }
        dec.finish();
        assert_eq!(dec.frag_in_progress(), (0, 0));
    }
    check(dec.stats());
});
