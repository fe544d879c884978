//! Fuzz the HTTP/2 parser through the protocol layer (`Recogniser` → `H2Conn`): the input is
//! a two-direction conversation in the encoding of the `http` target; the client's first
//! record is given the connection preface when the first byte is even (so both the prior-
//! knowledge and the frames-without-preface starts are exercised). Small caps.
//! Checks: no panic; every Done follows its Started and comes once; stats agree.
#![no_main]

use apitap_engine::flow::{ConnInfo, Dir};
use apitap_engine::http::{HttpConfig, HttpEvent};
use apitap_engine::http2::frame::PREFACE;
use apitap_engine::protocol::{ProtocolConfig, ProtocolStats, Recogniser, StreamParser};
use apitap_engine::Timestamp;
use libfuzzer_sys::fuzz_target;
use std::collections::HashSet;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, data)) = data.split_first() else {
        return;
    };
    let conn = ConnInfo {
        id: 1,
        orig: std::net::SocketAddr::from(([10, 0, 0, 1], 40000)),
        resp: std::net::SocketAddr::from(([10, 0, 0, 2], 80)),
        saw_syn: mode & 2 == 0,
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
            http2: Some(apitap_engine::protocol::http2_parser),
        },
        conn,
    );
    let mut out = Vec::new();
    if mode & 1 == 0 {
        h.on_data(Dir::ToResponder, Timestamp(0), PREFACE, &mut out);
    }
    let mut i = 0usize;
    let mut t = 0i64;
    while i + 1 < data.len() {
        let op = data[i] % 8;
        let len = data[i + 1] as usize;
        i += 2;
        t += 1;
        let ts = Timestamp(t);
        let dir = |b: bool| if b { Dir::ToResponder } else { Dir::ToOriginator };
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
    let mut started = HashSet::new();
    let mut done = HashSet::new();
    for ev in &out {
        match ev {
            HttpEvent::Started { index, .. } => assert!(started.insert(*index)),
            HttpEvent::Done(ex) => {
                assert!(done.insert(ex.index), "index {} done twice", ex.index);
                if ex.stream_id.is_some() {
                    assert!(started.contains(&ex.index), "Done before Started");
                }
            }
        }
    }
    assert_eq!(stats.h2.exchanges + stats.http.exchanges, done.len() as u64);
});
