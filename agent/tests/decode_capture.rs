//! `FileSource` on hand-written captures: errors, truncation, filters, gzip, stdin.

use apitap::capture::{CaptureError, FileSource, LinkType};
use apitap_engine::decode::Decoder;
use flate2::write::GzEncoder;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A classic little-endian microsecond pcap with the given link type and records.
fn pcap_bytes(link: u32, records: &[(u32, u32, Vec<u8>)]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    f.extend_from_slice(&2u16.to_le_bytes());
    f.extend_from_slice(&4u16.to_le_bytes());
    f.extend_from_slice(&0i32.to_le_bytes());
    f.extend_from_slice(&0u32.to_le_bytes());
    f.extend_from_slice(&65535u32.to_le_bytes());
    f.extend_from_slice(&link.to_le_bytes());
    for (sec, usec, data) in records {
        f.extend_from_slice(&sec.to_le_bytes());
        f.extend_from_slice(&usec.to_le_bytes());
        f.extend_from_slice(&(data.len() as u32).to_le_bytes());
        f.extend_from_slice(&(data.len() as u32).to_le_bytes());
        f.extend_from_slice(data);
    }
    f
}

/// A raw-IPv4 TCP packet from 10.0.0.1:1000 to 10.0.0.2:`dport` with `payload`.
fn tcp_packet(dport: u16, payload: &[u8]) -> Vec<u8> {
    let total = (40 + payload.len()) as u16;
    let mut p = vec![0x45, 0];
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&[0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
    p.extend_from_slice(&1000u16.to_be_bytes());
    p.extend_from_slice(&dport.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
    p.extend_from_slice(payload);
    p
}

/// Three packets: to ports 80, 443, 80, one second apart.
fn sample() -> Vec<u8> {
    pcap_bytes(
        228,
        &[
            (1_000, 5, tcp_packet(80, b"one")),
            (1_001, 6, tcp_packet(443, b"two")),
            (1_002, 7, tcp_packet(80, b"three")),
        ],
    )
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write test capture");
    p
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// Reads all packets; returns their payloads (decoded) and the source.
fn read_all(path: &str, filter: Option<&str>) -> (Vec<Vec<u8>>, FileSource) {
    let mut src = FileSource::open(path, filter).expect("open");
    let mut dec = Decoder::new();
    let mut out = Vec::new();
    while let Some(p) = src.next_packet().expect("read") {
        let seg = dec.decode(&p).expect("tcp");
        out.push(seg.payload.to_vec());
    }
    (out, src)
}

fn payloads(v: &[&str]) -> Vec<Vec<u8>> {
    v.iter().map(|s| s.as_bytes().to_vec()).collect()
}

#[test]
fn reads_pcap_with_timestamps_and_link_type() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "a.pcap", &sample());
    let mut src = FileSource::open(p.to_str().unwrap(), None).unwrap();
    assert_eq!(src.link_type(), LinkType::IPV4);
    let first = src.next_packet().unwrap().unwrap();
    assert_eq!(first.ts.as_nanos(), 1_000_000_005_000);
    assert_eq!(first.data.len(), 43);
    assert_eq!(first.orig_len, 43);
    let mut n = 1;
    while src.next_packet().unwrap().is_some() {
        n += 1;
    }
    assert_eq!(n, 3);
    // Still None after the end.
    assert!(src.next_packet().unwrap().is_none());
    let st = src.stats();
    assert_eq!(
        (st.packets, st.bytes, st.truncated_records),
        (3, 43 + 43 + 45, 0)
    );
    let total = sample().len() as u64;
    assert_eq!(src.progress(), (total, Some(total)));
}

#[test]
fn gzip_is_detected_by_magic_not_name() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "no-gz-suffix.pcap", &gzip(&sample()));
    let (got, src) = read_all(p.to_str().unwrap(), None);
    assert_eq!(got, payloads(&["one", "two", "three"]));
    let total = std::fs::metadata(&p).unwrap().len();
    assert_eq!(src.progress(), (total, Some(total)));
    assert_eq!(src.stats().decompress_errors, 0);
    // A plain capture named .gz is read as plain.
    let p = write(dir.path(), "plain.pcap.gz", &sample());
    let (got, _) = read_all(p.to_str().unwrap(), None);
    assert_eq!(got.len(), 3);
}

#[test]
fn gzip_with_filter_and_truncated_stream() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "f.gz", &gzip(&sample()));
    let (got, _) = read_all(p.to_str().unwrap(), Some("tcp port 80"));
    assert_eq!(got, payloads(&["one", "three"]));
    // A gzip stream cut in the middle: the packets before the cut, a counted warning.
    let big: Vec<_> = (0..200u32)
        .map(|i| (i, 0, tcp_packet(80, &i.to_be_bytes())))
        .collect();
    let gz = gzip(&pcap_bytes(228, &big));
    let p = write(dir.path(), "cut.gz", &gz[..gz.len() / 2]);
    let mut src = FileSource::open(p.to_str().unwrap(), None).unwrap();
    let mut n = 0;
    while src.next_packet().unwrap().is_some() {
        n += 1;
    }
    assert!(n > 0 && n < 200, "{n}");
    assert_eq!(src.stats().decompress_errors, 1);
}

#[test]
fn bpf_filter_applies_and_bad_filter_is_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "a.pcap", &sample());
    let (got, _) = read_all(p.to_str().unwrap(), Some("tcp dst port 443"));
    assert_eq!(got, payloads(&["two"]));
    let err = FileSource::open(p.to_str().unwrap(), Some("tcp port banana")).unwrap_err();
    assert!(matches!(err, CaptureError::Filter { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("tcp port banana"), "{msg}");
    assert!(
        msg.len() > "invalid BPF filter \"tcp port banana\": ".len(),
        "{msg}"
    );
}

#[test]
fn truncated_last_record_ends_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let full = sample();
    // Cut inside the last record's data, and inside its record header.
    for cut in [full.len() - 3, full.len() - 45 - 8] {
        let p = write(dir.path(), "cut.pcap", &full[..cut]);
        let (got, src) = read_all(p.to_str().unwrap(), None);
        assert_eq!(got, payloads(&["one", "two"]), "cut {cut}");
        assert_eq!(src.stats().truncated_records, 1, "cut {cut}");
    }
}

#[test]
fn not_a_capture_empty_and_truncated_header_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "text.txt",
            b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n".to_vec(),
        ),
        ("empty.pcap", Vec::new()),
        ("short.pcap", sample()[..10].to_vec()),
        ("gz-text.gz", gzip(b"hello, this is not a capture at all")),
    ];
    for (name, bytes) in cases {
        let p = write(dir.path(), name, &bytes);
        let err = FileSource::open(p.to_str().unwrap(), None).unwrap_err();
        assert!(matches!(err, CaptureError::Open { .. }), "{name}: {err:?}");
        assert!(err.to_string().contains(name), "{name}: {err}");
    }
    let err = FileSource::open("/nonexistent/x.pcap", None).unwrap_err();
    assert!(matches!(err, CaptureError::Io { .. }), "{err:?}");
}

#[test]
fn unknown_link_type_opens_and_decode_counts_it() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "odd.pcap",
        &pcap_bytes(147, &[(1, 0, vec![1, 2, 3])]),
    );
    let mut src = FileSource::open(p.to_str().unwrap(), None).unwrap();
    assert_eq!(src.link_type(), LinkType(147));
    let mut dec = Decoder::new();
    let pkt = src.next_packet().unwrap().unwrap();
    assert!(dec.decode(&pkt).is_err());
    assert_eq!(dec.stats().unsupported_link, 1);
}

#[test]
fn pcapng_is_read() {
    // Minimal pcapng: SHB, IDB (link 228), one EPB.
    let pkt = tcp_packet(80, b"ng");
    let mut f = Vec::new();
    let block = |f: &mut Vec<u8>, ty: u32, body: &[u8]| {
        let len = (12 + body.len()) as u32;
        f.extend_from_slice(&ty.to_le_bytes());
        f.extend_from_slice(&len.to_le_bytes());
        f.extend_from_slice(body);
        f.extend_from_slice(&len.to_le_bytes());
    };
    let mut shb = Vec::new();
    shb.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
    shb.extend_from_slice(&1u16.to_le_bytes());
    shb.extend_from_slice(&0u16.to_le_bytes());
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    block(&mut f, 0x0a0d_0d0a, &shb);
    let mut idb = Vec::new();
    idb.extend_from_slice(&228u16.to_le_bytes());
    idb.extend_from_slice(&0u16.to_le_bytes());
    idb.extend_from_slice(&0u32.to_le_bytes());
    block(&mut f, 1, &idb);
    let mut epb = Vec::new();
    epb.extend_from_slice(&0u32.to_le_bytes());
    let ts_us: u64 = 1_500_000_000_123_456;
    epb.extend_from_slice(&((ts_us >> 32) as u32).to_le_bytes());
    epb.extend_from_slice(&(ts_us as u32).to_le_bytes());
    epb.extend_from_slice(&(pkt.len() as u32).to_le_bytes());
    epb.extend_from_slice(&(pkt.len() as u32).to_le_bytes());
    epb.extend_from_slice(&pkt);
    while epb.len() % 4 != 0 {
        epb.push(0);
    }
    block(&mut f, 6, &epb);
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "a.pcapng", &f);
    let mut src = FileSource::open(p.to_str().unwrap(), None).unwrap();
    let first = src.next_packet().unwrap().unwrap();
    assert_eq!(first.ts.as_nanos(), 1_500_000_000_123_456_000);
    assert_eq!(first.data, &pkt[..]);
    assert!(src.next_packet().unwrap().is_none());
}

#[test]
fn fifo_is_read_once_plain_and_gzip() {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in [("plain", sample()), ("gzip", gzip(&sample()))] {
        let fifo = dir.path().join(format!("{name}.fifo"));
        let ok = Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success();
        assert!(ok, "mkfifo");
        let writer_path = fifo.clone();
        let writer = std::thread::spawn(move || std::fs::write(writer_path, bytes));
        let (got, src) = read_all(fifo.to_str().unwrap(), None);
        writer.join().unwrap().unwrap();
        assert_eq!(got, payloads(&["one", "two", "three"]), "{name}");
        assert_eq!(src.progress().1, None);
    }
}

/// Child half of the stdin tests: runs only when re-executed by `stdin_plain_and_gzip`.
#[test]
#[ignore = "helper: run by stdin_plain_and_gzip with a capture on stdin"]
fn stdin_child() {
    let Ok(want) = std::env::var("APITAP_STDIN_CHILD_EXPECT") else {
        return;
    };
    let (got, src) = read_all("-", None);
    let got: Vec<String> = got
        .iter()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    assert_eq!(got.join(","), want);
    assert_eq!(src.progress().1, None);
}

#[test]
fn stdin_plain_and_gzip() {
    let exe = std::env::current_exe().unwrap();
    for (name, bytes) in [("plain", sample()), ("gzip", gzip(&sample()))] {
        let mut child = Command::new(&exe)
            .args(["--ignored", "--exact", "stdin_child", "--test-threads=1"])
            .env("APITAP_STDIN_CHILD_EXPECT", "one,two,three")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let writer = std::thread::spawn(move || stdin.write_all(&bytes));
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{name}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains("1 passed"),
            "{name}: child did not run: {stdout}"
        );
    }
}
