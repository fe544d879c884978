//! Regression tests for inputs found by the `http` fuzz target (`engine/fuzz`): each file in
//! `tests/http_fuzz_cases/` is replayed through the same driver as the target (record
//! encoding, small caps, invariants), with a time limit, so a fixed hang or panic stays fixed.

use apitap_engine::flow::{ConnInfo, Dir};
use apitap_engine::http::{HttpConfig, HttpEvent};
use apitap_engine::protocol::{ProtocolConfig, ProtocolStats, Recogniser, StreamParser};
use apitap_engine::Timestamp;
use std::path::Path;
use std::time::{Duration, Instant};

/// The `http` fuzz target's driver: records `op len bytes…`; `op % 8`: 0-2 originator data,
/// 3-5 responder data, 6 a gap, 7 a FIN (direction from the low bit of `len`). Returns the
/// number of exchanges.
fn drive(data: &[u8]) -> u64 {
    let conn = ConnInfo {
        id: 1,
        orig: std::net::SocketAddr::from(([10, 0, 0, 1], 40000)),
        resp: std::net::SocketAddr::from(([10, 0, 0, 2], 80)),
        saw_syn: true,
    };
    let cfg = HttpConfig {
        keep_bodies: true,
        body_cap: 64,
        head_cap: 256,
        decoded_cap: 4096,
        max_pipeline: 4,
    };
    let mut h = Recogniser::new(
        ProtocolConfig {
            http: cfg,
            http2: None,
        },
        conn,
    );
    let mut out = Vec::new();
    let mut i = 0usize;
    let mut t = 0i64;
    while let (Some(&op), Some(&len)) = (data.get(i), data.get(i + 1)) {
        let (op, len) = (op % 8, usize::from(len));
        i += 2;
        t += 1;
        let ts = Timestamp(t);
        let dir = |up: bool| {
            if up {
                Dir::ToResponder
            } else {
                Dir::ToOriginator
            }
        };
        match op {
            0..=5 => {
                let end = (i + len).min(data.len());
                h.on_data(dir(op < 3), ts, &data[i..end], &mut out);
                i = end;
            }
            6 => h.on_gap(dir(len & 1 == 0), ts, len as u64, &mut out),
            _ => h.on_fin(dir(len & 1 == 0), ts, &mut out),
        }
    }
    h.on_close(Timestamp(t + 1), &mut out);
    let mut stats = ProtocolStats::default();
    h.add_stats(&mut stats);
    let (mut started, mut done) = (0u64, 0u64);
    for ev in &out {
        match ev {
            HttpEvent::Started { index, .. } => {
                assert_eq!(*index, started);
                started += 1;
            }
            HttpEvent::Done(x) => {
                assert_eq!(x.index, done);
                done += 1;
            }
        }
    }
    assert_eq!(started, done);
    assert_eq!(stats.http.exchanges, done);
    done
}

fn case(name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/http_fuzz_cases")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Runs `drive` on a case in a thread and fails if it takes longer than `limit` or breaks
/// an invariant.
fn within(name: &str, limit: Duration) -> u64 {
    let data = case(name);
    let (tx, rx) = std::sync::mpsc::channel();
    let t0 = Instant::now();
    std::thread::spawn(move || {
        let _ = tx.send(drive(&data));
    });
    match rx.recv_timeout(limit) {
        Ok(n) => n,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("{name}: still running after {:?}", t0.elapsed())
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            panic!("{name}: an invariant failed (the driver's panic is above)")
        }
    }
}

#[test]
fn long_request_line_after_server_fin_terminates() {
    within(
        "timeout-long-request-line-after-server-fin",
        Duration::from_secs(10),
    );
}

#[test]
fn committed_seeds_replay_cleanly() {
    // The seed conversations of `engine/fuzz/seeds/http` (written by `seeds/gen.py`) are
    // all HTTP: each yields exchanges, through the fuzz driver's invariants.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/http");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("seed directory") {
        let path = entry.expect("seed entry").path();
        let data = std::fs::read(&path).expect("seed file");
        let exchanges = drive(&data);
        assert!(exchanges >= 1, "{}: no exchange", path.display());
        n += 1;
    }
    assert_eq!(n, 7, "seed count");
}

#[test]
fn socks_inside_a_connect_tunnel_numbers_on() {
    // CONNECT answered 200 (truncated at the server's FIN), then a SOCKS handshake in the
    // tunnel, then a request through it: the SOCKS tunnel's parser numbered its exchanges
    // from 0 again, a second exchange 0 on the connection (fuzz target `http`, 2026-12-06).
    assert_eq!(
        within("duplicate-index-socks-in-connect", Duration::from_secs(10)),
        2
    );
}
