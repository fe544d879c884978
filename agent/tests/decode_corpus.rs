//! Every capture of the shared corpus through `FileSource` + `Decoder`: the number of TCP
//! segments and the sum of their payload lengths must match tshark's.

use apitap::capture::FileSource;
use apitap_engine::decode::Decoder;
use std::path::PathBuf;

/// (capture path relative to the corpus, TCP segments, sum of TCP payload bytes).
///
/// Derived once with tshark 4.x on this corpus, per file:
///   segments: `tshark -r FILE -Y tcp -T fields -e frame.number | wc -l`
///   bytes:    `tshark -r FILE -Y tcp -T fields -e tcp.len | awk '{s+=$1} END {print s}'`
/// and checked by eye against `capinfos` packet counts (every packet of this corpus is
/// TCP, so segments == packets per INDEX.tsv) and the link types listed there.
const EXPECTED: &[(&str, u64, u64)] = &[
    ("zeek/100-continue/100-continue.pcap", 66, 63324),
    (
        "zeek/101-switching-protocols-websocket/websocket.pcap",
        27,
        1966,
    ),
    (
        "zeek/261-chunk-2pow64-overflow/variant-01-chunk_2pow64_overflow.pcap",
        8,
        135,
    ),
    ("zeek/261-te-cl-desync/variant-04-te_cl_desync.pcap", 8, 132),
    (
        "zeek/261-cl-0-expect-100/variant-07-expect_100_cl0.pcap",
        8,
        125,
    ),
    (
        "zeek/concurrent-range-requests/concurrent-range-requests.pcap",
        57,
        31209,
    ),
    (
        "zeek/content-length-overflow/content-length-overflow.pcap",
        10,
        228,
    ),
    ("zeek/curl-http-09/curl_http_09.pcap", 8, 133),
    (
        "zeek/http-09-content-length-confusion/http-09-content-length-confusion.pcap",
        18,
        66,
    ),
    ("zeek/fake-content-length/fake-content-length.pcap", 7, 398),
    (
        "zeek/http-connect-with-header/connect-with-header.pcap",
        58,
        59143,
    ),
    ("zeek/http-connect-smtp/connect-with-smtp.pcap", 30, 1977),
    (
        "zeek/http-desynched/http-desync-request-response-5.pcap",
        53,
        1306,
    ),
    (
        "zeek/http-lower-case-nonstandard-port/http-lower-case-nonstandard-port.pcap",
        10,
        1227,
    ),
    (
        "zeek/http-lower-case-nonstandard-port/http-lower-case.pcap",
        10,
        1227,
    ),
    ("zeek/http-methods/methods.pcap", 655, 184311),
    ("zeek/http-pipelining/pipelined-requests.pcap", 49, 42362),
    (
        "zeek/http-pending-state-growth-1000req/1000-requests-one-dropped-response.pcap.gz",
        4102,
        996757,
    ),
    (
        "zeek/invalid-content-ranges/invalid-content-ranges.pcap",
        30,
        434,
    ),
    (
        "zeek/missing-http-entity/interleaved-http-entity.pcap",
        30,
        186,
    ),
    (
        "zeek/missing-zlib-header/missing-zlib-header.pcap",
        28,
        12760,
    ),
    (
        "zeek/multipart-body-length/multipart-form-data.pcap",
        7,
        1429,
    ),
    ("zeek/no-version/no-version.pcap", 11, 446),
    (
        "zeek/query-method-non-standard-port/query-method-non-standard-port.pcap",
        10,
        308,
    ),
    (
        "zeek/smuggle-http-request/smuggle-http-request.pcap",
        23,
        664,
    ),
    (
        "zeek/upgrade-to-tcp-docker/docker-http-upgrade.pcap",
        200,
        4749,
    ),
    ("zeek/version-mismatch/version-mismatch.pcap", 24, 15277),
    ("zeek/x-gzip/x-gzip.pcap", 7, 420),
    (
        "zeek/flip-content-line-resp-pcapng/zeek-image-1080-80-x.pcapng",
        17,
        6137,
    ),
    (
        "zeek/m57-long-byterange-gaps/m57-long-49583-80.pcap",
        227,
        201210,
    ),
    ("zeek/http-port-22/http-single-conn-22.pcap", 28, 12667),
    ("zeek/vlan-mpls/mixed-vlan-mpls.pcap", 47, 12979),
    ("zeek/nflog-linktype/nflog-http.pcap", 13, 1682),
    (
        "zeek/tcp-ethernet-padding/tcp-http-with-padding.pcap",
        25,
        207,
    ),
    ("zeek/get-known-ports/get.pcap", 14, 5143),
    ("suricata-verify/http-all-headers/input.pcap", 34, 18843),
    ("suricata-verify/http-async/input.pcap", 16, 340),
    ("suricata-verify/http-async-srv/input.pcap", 8, 260),
    ("suricata-verify/http-brotli-ce/input.pcap", 16, 5392),
    (
        "suricata-verify/http-connect__http-connect-simple/input.pcap",
        16,
        187,
    ),
    (
        "suricata-verify/http-connect__http-connect-fragmented/input.pcap",
        18,
        184,
    ),
    ("suricata-verify/http-gap-simple/input.pcap", 31, 538),
    ("suricata-verify/http-gap-double/input.pcap", 30, 524),
    ("suricata-verify/http-ipv6/input.pcap", 14, 791),
    ("suricata-verify/http-multiple100/input.pcap", 48, 34967),
    ("suricata-verify/http-not09/input.pcap", 11, 12934),
    ("suricata-verify/http-options-method/input.pcap", 11, 253),
    ("suricata-verify/http-protocol-nodup/input.pcap", 36, 28877),
    ("suricata-verify/http1-noint-status/input.pcap", 12, 132),
    ("suricata-verify/tcp-fastopen-01/tfo.pcap", 16, 1658),
    (
        "suricata-verify/bug-4810/pppoe-session-http.pcap",
        30,
        15508,
    ),
    (
        "suricata-verify/decode-chdlc-01/hdlc-http_1tx.pcap",
        17,
        9550,
    ),
    ("suricata-verify/decode-sll2-02/input.pcap", 159, 2598957),
    ("suricata-verify/bug-2430/backwards.pcap", 28, 5948),
];

fn corpus_dir() -> PathBuf {
    let candidates = [
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus"),
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"),
        PathBuf::from("/work/shared/corpus"),
    ];
    for c in &candidates {
        if c.join("INDEX.tsv").is_file() {
            return c.clone();
        }
    }
    panic!(
        "test corpus not found; looked for INDEX.tsv in {:?} (clone the corpus as shared/ beside the repository)",
        candidates
    );
}

#[test]
fn corpus_tcp_segments_match_tshark() {
    let dir = corpus_dir();
    let mut failures = Vec::new();
    for &(rel, want_segments, want_bytes) in EXPECTED {
        let path = dir.join(rel);
        let path_str = path.to_str().expect("utf-8 path");
        let mut src =
            FileSource::open(path_str, None).unwrap_or_else(|e| panic!("opening {rel}: {e}"));
        let mut dec = Decoder::new();
        let (mut segments, mut bytes) = (0u64, 0u64);
        while let Some(pkt) = src
            .next_packet()
            .unwrap_or_else(|e| panic!("reading {rel}: {e}"))
        {
            if let Ok(seg) = dec.decode(&pkt) {
                segments += 1;
                bytes += seg.payload.len() as u64;
            }
        }
        dec.finish();
        let st = dec.stats();
        assert_eq!(
            st.packets,
            st.outcomes(),
            "{rel}: every packet has one outcome"
        );
        assert_eq!(src.stats().truncated_records, 0, "{rel}");
        if (segments, bytes) != (want_segments, want_bytes) {
            failures.push(format!(
                "{rel}: got {segments} segments / {bytes} bytes, tshark {want_segments} / {want_bytes}; stats {st:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "mismatches:\n{}", failures.join("\n"));
    assert_eq!(
        EXPECTED.len(),
        54,
        "one row per capture listed in INDEX.tsv"
    );
}
