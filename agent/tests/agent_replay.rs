//! `apitap::agent::replay`: the live agent's pipeline (batches → pipeline → learner → route
//! table → metrics) over a hand-written capture, with the capture's timestamps as the clock.
//! Checks the RED metrics it records: every exchange counted once, under the route the
//! snapshot of its time gives (exchanges before the first snapshot wait for it), and the
//! route of a path that the model later folds into a template follows the new snapshot.

use apitap::agent::{replay, AgentSettings};
use apitap::metrics::Format;
use std::path::Path;

/// A classic little-endian nanosecond pcap of raw IPv4 packets (link type 228).
fn pcap(records: &[(i64, Vec<u8>)]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&0xa1b2_3c4du32.to_le_bytes());
    f.extend_from_slice(&2u16.to_le_bytes());
    f.extend_from_slice(&4u16.to_le_bytes());
    f.extend_from_slice(&0i32.to_le_bytes());
    f.extend_from_slice(&0u32.to_le_bytes());
    f.extend_from_slice(&262_144u32.to_le_bytes());
    f.extend_from_slice(&228u32.to_le_bytes());
    for (ns, data) in records {
        f.extend_from_slice(&((ns / 1_000_000_000) as u32).to_le_bytes());
        f.extend_from_slice(&((ns % 1_000_000_000) as u32).to_le_bytes());
        f.extend_from_slice(&(data.len() as u32).to_le_bytes());
        f.extend_from_slice(&(data.len() as u32).to_le_bytes());
        f.extend_from_slice(data);
    }
    f
}

/// An IPv4/TCP packet.
fn tcp(
    src: ([u8; 4], u16),
    dst: ([u8; 4], u16),
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    let total = (40 + payload.len()) as u16;
    let mut p = vec![0x45, 0];
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&[0, 1, 0x40, 0, 64, 6, 0, 0]);
    p.extend_from_slice(&src.0);
    p.extend_from_slice(&dst.0);
    p.extend_from_slice(&src.1.to_be_bytes());
    p.extend_from_slice(&dst.1.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ack.to_be_bytes());
    p.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    p.extend_from_slice(payload);
    p
}

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const PSH_ACK: u8 = 0x18;
const FIN_ACK: u8 = 0x11;
const SERVER: ([u8; 4], u16) = ([10, 0, 0, 2], 8080);

/// Keep-alive connections, each carrying `paths[i]` at the times given (ns): one request
/// packet, one response packet 1 ms later.
struct Conns {
    records: Vec<(i64, Vec<u8>)>,
}

impl Conns {
    fn connection(&mut self, port: u16, start: i64, exchanges: &[(i64, String)]) {
        let client = ([10, 0, 0, 1], port);
        let (mut cseq, mut sseq) = (1_000u32, 5_000u32);
        self.records
            .push((start, tcp(client, SERVER, cseq, 0, SYN, b"")));
        self.records.push((
            start + 1,
            tcp(SERVER, client, sseq, cseq + 1, SYN | ACK, b""),
        ));
        cseq += 1;
        sseq += 1;
        self.records
            .push((start + 2, tcp(client, SERVER, cseq, sseq, ACK, b"")));
        let mut last = start + 2;
        for (t, path) in exchanges {
            let req = format!("GET {path} HTTP/1.1\r\nHost: api.test\r\nUser-Agent: t\r\n\r\n");
            let body = "{\"id\":1,\"name\":\"x\"}";
            let resp = format!(
                "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            self.records
                .push((*t, tcp(client, SERVER, cseq, sseq, PSH_ACK, req.as_bytes())));
            cseq += req.len() as u32;
            self.records.push((
                t + 1_000_000,
                tcp(SERVER, client, sseq, cseq, PSH_ACK, resp.as_bytes()),
            ));
            sseq += resp.len() as u32;
            last = t + 1_000_000;
        }
        self.records
            .push((last + 1, tcp(client, SERVER, cseq, sseq, FIN_ACK, b"")));
        self.records
            .push((last + 2, tcp(SERVER, client, sseq, cseq + 1, FIN_ACK, b"")));
        self.records
            .push((last + 3, tcp(client, SERVER, cseq + 1, sseq + 1, ACK, b"")));
    }
}

/// The `http_server_request_duration_seconds_count` samples, as (route, count), sorted.
fn counts(text: &str) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = text
        .lines()
        .filter(|l| l.starts_with("http_server_request_duration_seconds_count{"))
        .filter_map(|l| {
            let route = l.split("http_route=\"").nth(1)?.split('"').next()?;
            let n = l.rsplit(' ').next()?.parse().ok()?;
            Some((route.to_string(), n))
        })
        .collect();
    v.sort();
    v
}

/// Replays `conns` as the default agent does (the pipeline on the capture thread) and as
/// `--queued` does (packets copied into batches): both expositions must be the same (the
/// replay runs the inline timers where a batch would end), and that one is returned.
fn run(dir: &Path, conns: Conns) -> String {
    let mut records = conns.records;
    records.sort_by_key(|r| r.0);
    let path = dir.join("replay.pcap");
    std::fs::write(&path, pcap(&records)).expect("write capture");
    let mut texts = [false, true].map(|queued| {
        let cfg = AgentSettings {
            source_id: Some("test".into()),
            queued,
            ..Default::default()
        }
        .resolve()
        .expect("settings");
        let (model, shared) = replay(&cfg, path.to_str().expect("utf-8 path")).expect("replay");
        assert!(model.stats().observed > 0);
        shared.render_metrics(Format::Prometheus)
    });
    assert_eq!(counts(&texts[0]), counts(&texts[1]), "inline / queued");
    // the process_* lines (memory, CPU, start time) differ from run to run
    let own = |t: &str| {
        t.lines()
            .filter(|l| !l.starts_with("process_"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(own(&texts[0]), own(&texts[1]), "inline / queued");
    std::mem::take(&mut texts[0])
}

const S: i64 = 1_000_000_000;
const T0: i64 = 1_700_000_000 * S;

#[test]
fn every_exchange_is_recorded_once_under_its_route() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut c = Conns {
        records: Vec::new(),
    };
    // 4 connections over 6 s: /users/N (N = 1..=40, each path repeated on its connection)
    // and /health; the snapshot every 2 s routes them.
    for conn in 0..4u16 {
        let ex: Vec<(i64, String)> = (0..60)
            .map(|i| {
                let t = T0 + S / 10 + i64::from(i) * S / 10 + i64::from(conn) * 7_000_000;
                let path = if i % 6 == 5 {
                    "/health".to_string()
                } else {
                    format!("/users/{}", (i % 10) + 10 * conn as i32 + 1)
                };
                (t, path)
            })
            .collect();
        c.connection(40_000 + conn, T0 + i64::from(conn) * 1_000, &ex);
    }
    let text = run(dir.path(), c);
    assert!(text.contains("apitap_exchanges_total 240"), "{text}");
    assert!(text.contains("apitap_pending_route_exchanges 0"), "{text}");
    assert_eq!(
        counts(&text),
        vec![("/health".into(), 40), ("/users/{userId}".into(), 200)],
        "{text}"
    );
}

#[test]
fn a_path_folded_into_a_template_later_takes_the_new_route() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut c = Conns {
        records: Vec::new(),
    };
    // 0-5 s: one connection asks /items/alpha twice, the only path of /items: it is routed
    // as the literal. From 5 s another connection asks 30 other words under /items, and
    // then the first connection asks /items/alpha 20 times more: a fresh snapshot has
    // folded the words into one parameter, and the late /items/alpha exchanges follow it.
    let early: Vec<(i64, String)> = (0..2)
        .map(|i| (T0 + S / 10 + i * S / 4, "/items/alpha".to_string()))
        .chain((0..20).map(|i| (T0 + 12 * S + i * S / 10, "/items/alpha".to_string())))
        .collect();
    c.connection(41_000, T0, &early);
    let words = [
        "apple", "banana", "cherry", "delta", "echo", "falcon", "grape", "hotel", "india",
        "juliet", "kilo", "lima", "mango", "nectar", "oscar", "papa", "quebec", "romeo", "sierra",
        "tango", "umbrella", "victor", "whiskey", "xray", "yankee", "zulu", "amber", "bronze",
        "copper", "dune",
    ];
    let late: Vec<(i64, String)> = words
        .iter()
        .enumerate()
        .map(|(i, w)| (T0 + 5 * S + i as i64 * S / 10, format!("/items/{w}")))
        .collect();
    c.connection(41_001, T0 + 5 * S - 1_000, &late);
    let text = run(dir.path(), c);
    assert!(text.contains("apitap_exchanges_total 52"), "{text}");
    let got = counts(&text);
    let total: u64 = got.iter().map(|(_, n)| n).sum();
    assert_eq!(total, 52, "{got:?}");
    // the 2 early exchanges were routed as the literal, the 20 late ones (and the words
    // after the fold) under the template
    assert!(got.contains(&("/items/alpha".to_string(), 2)), "{got:?}");
    assert!(
        got.contains(&("/items/{itemId}".to_string(), 38)),
        "{got:?}"
    );
}
