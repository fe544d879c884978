//! Fuzz the protocol layer and HTTP/1 (`Recogniser` → `HttpConn`, SOCKS tunnels): the input
//! is a two-direction conversation.
//!
//! Encoding: a sequence of records `op len bytes…`; `op % 8` selects: 0-2 data from the
//! originator, 3-5 data from the responder (`len` bytes follow), 6 a gap (`len` bytes,
//! direction by the low bit of `len`), 7 a FIN (direction by the low bit of `len`).
//! Checks that nothing panics and that events keep their invariants.
#![no_main]

use apitap_engine::flow::{ConnInfo, Dir};
use apitap_engine::http::{HttpConfig, HttpEvent};
use apitap_engine::protocol::{ProtocolConfig, ProtocolStats, Recogniser, StreamParser};
use apitap_engine::Timestamp;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let conn = ConnInfo {
        id: 1,
        orig: std::net::SocketAddr::from(([10, 0, 0, 1], 40000)),
        resp: std::net::SocketAddr::from(([10, 0, 0, 2], 80)),
        saw_syn: true,
    };
    // Small caps so the limits are exercised too.
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
    while i + 1 < data.len() {
        let op = data[i] % 8;
        let len = data[i + 1] as usize;
        i += 2;
        t += 1;
        let ts = Timestamp(t);
        match op {
            0..=5 => {
                let dir = if op < 3 {
                    Dir::ToResponder
                } else {
                    Dir::ToOriginator
                };
                let end = (i + len).min(data.len());
                h.on_data(dir, ts, &data[i..end], &mut out);
                i = end;
            }
            6 => {
                let dir = if len & 1 == 0 {
                    Dir::ToResponder
                } else {
                    Dir::ToOriginator
                };
                h.on_gap(dir, ts, len as u64, &mut out);
            }
            _ => {
                let dir = if len & 1 == 0 {
                    Dir::ToResponder
                } else {
                    Dir::ToOriginator
                };
                h.on_fin(dir, ts, &mut out);
            }
        }
    }
    h.on_close(Timestamp(t + 1), &mut out);
    let mut stats = ProtocolStats::default();
    h.add_stats(&mut stats);

    let (mut started, mut done) = (0u64, 0u64);
    for ev in &out {
        match ev {
            HttpEvent::Started { index, conn_id, .. } => {
                assert_eq!(*conn_id, 1);
                assert_eq!(*index, started);
                started += 1;
            }
            HttpEvent::Done(x) => {
                assert_eq!(x.index, done);
                assert!(x.index < started);
                done += 1;
            }
        }
    }
    assert_eq!(started, done);
    assert_eq!(stats.http.exchanges, done);
});
