//! Whole-engine runs on small captures written by an independent packet builder (scapy,
//! `tests/data/captures/gen.py`; tshark dissects each to the same GET /a → 200): the
//! encapsulations real sensors see, SOCKS tunnels, and a connection whose last ACK was lost.
//! The captures are classic pcap files, read here by a minimal reader (the engine itself
//! never reads files).

use apitap_engine::http::HttpEvent;
use apitap_engine::{LinkType, Packet, Pipeline, PipelineConfig, PipelineStats, Timestamp};
use std::path::PathBuf;

/// The records of a classic little-endian microsecond pcap: (timestamp, link, bytes).
fn read_pcap(name: &str) -> Vec<(Timestamp, LinkType, Vec<u8>)> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/captures")
        .join(name);
    let b = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        &b[..4],
        &[0xd4, 0xc3, 0xb2, 0xa1],
        "little-endian microsecond pcap"
    );
    let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap());
    let link = LinkType(u32_at(20) as i32);
    let mut out = Vec::new();
    let mut i = 24;
    while i + 16 <= b.len() {
        let (secs, usecs, incl) = (u32_at(i), u32_at(i + 4), u32_at(i + 8) as usize);
        let data = b[i + 16..i + 16 + incl].to_vec();
        out.push((
            Timestamp::from_micros(secs.into(), usecs.into()),
            link,
            data,
        ));
        i += 16 + incl;
    }
    out
}

/// Runs the engine over a capture: the exchanges as `METHOD host uri status body_len`
/// rows, and the counters.
fn run(name: &str) -> (Vec<String>, PipelineStats) {
    let mut pipe = Pipeline::new(&PipelineConfig::default());
    let mut events = Vec::new();
    for (ts, link, data) in read_pcap(name) {
        let pkt = Packet {
            ts,
            link,
            data: &data,
            orig_len: data.len() as u32,
        };
        pipe.push(&pkt, &mut events);
    }
    pipe.flush(&mut events);
    let rows = events
        .iter()
        .filter_map(|e| match e {
            HttpEvent::Done(x) => Some(x),
            HttpEvent::Started { .. } => None,
        })
        .map(|x| {
            let q = x.request.as_ref();
            let host = q.and_then(|q| q.header("host")).unwrap_or("-");
            format!(
                "{} {host} {} {} {} {}:{}",
                q.map_or("-", |q| q.method()),
                q.map_or("-", |q| q.uri()),
                x.response.as_ref().and_then(|p| p.status).unwrap_or(0),
                x.response.as_ref().map_or(0, |p| p.body_len),
                x.client.ip(),
                x.server.port()
            )
        })
        .collect();
    (rows, pipe.stats())
}

const ONE: &str = "GET h /a 200 2 10.1.0.1:80";

#[test]
fn encapsulations_are_followed_to_the_inner_exchange() {
    for name in [
        "vxlan.pcap",
        "geneve.pcap",
        "erspan1.pcap",
        "erspan2.pcap",
        "erspan3.pcap",
        "wifi_radiotap.pcap",
    ] {
        let (rows, st) = run(name);
        assert_eq!(rows, [ONE], "{name}");
        assert_eq!(st.decode.tcp, 8, "{name}: every packet decoded to TCP");
    }
}

#[test]
fn data_retransmitted_after_both_fins_makes_no_phantom_request() {
    let (rows, st) = run("fin_retransmit.pcap");
    assert_eq!(rows, [ONE]);
    assert_eq!(st.flow.flows_created, 1);
    // The response and the request (a bare FIN or ACK starts nothing anyway).
    assert_eq!(st.flow.retransmissions_after_close, 2);
}

#[test]
fn http_after_socks_handshakes() {
    for (name, v4, v5) in [("socks5.pcap", 0, 1), ("socks4a.pcap", 1, 0)] {
        let (rows, st) = run(name);
        assert_eq!(rows, ["GET h /a 200 2 10.1.0.1:1080"], "{name}");
        assert_eq!(
            (st.protocol.socks4, st.protocol.socks5, st.protocol.http1),
            (v4, v5, 1),
            "{name}"
        );
    }
}
