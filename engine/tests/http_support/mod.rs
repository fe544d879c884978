//! Shared helpers for the HTTP tests: replay a two-direction conversation through
//! `HttpConn`, whole, split at every byte position, and byte by byte, and check invariants;
//! and through the protocol `Recogniser`, which must give the same exchanges whenever it
//! hands the connection to HTTP/1.
#![allow(dead_code)]

use apitap_engine::flow::{ConnInfo, Dir};
use apitap_engine::http::{Exchange, HttpConfig, HttpConn, HttpEvent, HttpStats};
use apitap_engine::protocol::{ProtocolConfig, ProtocolStats, Recogniser, StreamParser};
use apitap_engine::Timestamp;
use std::collections::HashMap;

/// One step of a conversation. `C` is originator → responder, `S` the other way.
#[derive(Clone, Debug)]
pub enum Step {
    C(Vec<u8>),
    S(Vec<u8>),
    GapC(u64),
    GapS(u64),
    FinC,
    FinS,
}

pub fn c(b: &[u8]) -> Step {
    Step::C(b.to_vec())
}
pub fn s(b: &[u8]) -> Step {
    Step::S(b.to_vec())
}

pub fn info() -> ConnInfo {
    ConnInfo {
        id: 7,
        orig: "10.0.0.1:40000".parse().unwrap(),
        resp: "10.0.0.2:80".parse().unwrap(),
        saw_syn: true,
    }
}

pub fn ts_of(step: usize) -> Timestamp {
    Timestamp::from_micros(1_000, step as i64 * 1000)
}

/// How to cut the data steps into `on_data` calls.
#[derive(Copy, Clone, Debug)]
pub enum Cut {
    Whole,
    /// Split the data of the whole conversation at this global byte offset.
    At(usize),
    Bytewise,
}

pub struct Run {
    pub exchanges: Vec<Exchange>,
    pub stats: HttpStats,
    pub wants_data_end: bool,
    pub flipped: bool,
}

/// What the same conversation gives through the protocol recogniser.
pub struct RecognisedRun {
    pub exchanges: Vec<Exchange>,
    pub stats: ProtocolStats,
    pub wants_data_end: bool,
}

pub fn run_cfg(steps: &[Step], cut: Cut, cfg: HttpConfig) -> Run {
    let conn = info();
    let mut h = HttpConn::new(cfg, conn);
    let out = drive(&mut h, steps, cut);
    let wants_data_end = h.wants_data();
    let flipped = h.flipped();
    let mut out = out;
    h.on_close(ts_of(steps.len()), &mut out);
    let exchanges = check_events(&out, conn.id);
    Run {
        exchanges,
        stats: *h.stats(),
        wants_data_end,
        flipped,
    }
}

/// The conversation through [`Recogniser`] (no HTTP/2 parser plugged in).
pub fn run_recognised(steps: &[Step], cut: Cut, cfg: HttpConfig) -> RecognisedRun {
    let conn = info();
    let mut h = Recogniser::new(
        ProtocolConfig {
            http: cfg,
            http2: None,
        },
        conn,
    );
    let mut out = drive(&mut h, steps, cut);
    let wants_data_end = h.wants_data();
    h.on_close(ts_of(steps.len()), &mut out);
    let mut stats = ProtocolStats::default();
    h.add_stats(&mut stats);
    RecognisedRun {
        exchanges: check_events(&out, conn.id),
        stats,
        wants_data_end,
    }
}

/// Feeds step `i` of a conversation, whole, to `h`.
pub fn drive_step(h: &mut dyn StreamParser, i: usize, st: &Step, out: &mut Vec<HttpEvent>) {
    let ts = ts_of(i);
    match st {
        Step::C(d) => h.on_data(Dir::ToResponder, ts, d, out),
        Step::S(d) => h.on_data(Dir::ToOriginator, ts, d, out),
        Step::GapC(n) => h.on_gap(Dir::ToResponder, ts, *n, out),
        Step::GapS(n) => h.on_gap(Dir::ToOriginator, ts, *n, out),
        Step::FinC => h.on_fin(Dir::ToResponder, ts, out),
        Step::FinS => h.on_fin(Dir::ToOriginator, ts, out),
    }
}

/// Feeds the steps (not the close) to `h`; returns the events.
pub fn drive(h: &mut dyn StreamParser, steps: &[Step], cut: Cut) -> Vec<HttpEvent> {
    let mut out = Vec::new();
    let mut offset = 0usize;
    for (i, st) in steps.iter().enumerate() {
        let ts = ts_of(i);
        match st {
            Step::C(d) | Step::S(d) => {
                let dir = if matches!(st, Step::C(_)) {
                    Dir::ToResponder
                } else {
                    Dir::ToOriginator
                };
                match cut {
                    Cut::Whole => h.on_data(dir, ts, d, &mut out),
                    Cut::Bytewise => {
                        for b in d.chunks(1) {
                            h.on_data(dir, ts, b, &mut out);
                        }
                    }
                    Cut::At(k) => {
                        if k > offset && k < offset + d.len() {
                            let (a, b) = d.split_at(k - offset);
                            h.on_data(dir, ts, a, &mut out);
                            h.on_data(dir, ts, b, &mut out);
                        } else {
                            h.on_data(dir, ts, d, &mut out);
                        }
                    }
                }
                offset += d.len();
            }
            Step::GapC(n) => h.on_gap(Dir::ToResponder, ts, *n, &mut out),
            Step::GapS(n) => h.on_gap(Dir::ToOriginator, ts, *n, &mut out),
            Step::FinC => h.on_fin(Dir::ToResponder, ts, &mut out),
            Step::FinS => h.on_fin(Dir::ToOriginator, ts, &mut out),
        }
    }
    out
}

pub fn run(steps: &[Step], cut: Cut) -> Run {
    run_cfg(steps, cut, HttpConfig::default())
}

/// Invariants of the event stream: indices from 0 in sequence, every Started followed by
/// exactly one Done with the same key; returns the exchanges.
pub fn check_events(out: &[HttpEvent], conn_id: u64) -> Vec<Exchange> {
    let mut started: HashMap<u64, Timestamp> = HashMap::new();
    let mut next_start = 0u64;
    let mut next_done = 0u64;
    let mut done = Vec::new();
    for ev in out {
        match ev {
            HttpEvent::Started {
                ts,
                conn_id: c,
                index,
            } => {
                assert_eq!(*c, conn_id);
                assert_eq!(*index, next_start, "Started out of sequence");
                next_start += 1;
                started.insert(*index, *ts);
            }
            HttpEvent::Done(x) => {
                assert_eq!(x.conn_id, conn_id);
                assert_eq!(x.index, next_done, "Done out of sequence");
                next_done += 1;
                let ts = started.remove(&x.index).expect("Done without Started");
                assert_eq!(ts, x.ts(), "Started ts differs from the exchange ts");
                assert!(x.request.is_some() || x.response.is_some());
                let mut f = x.flags.clone();
                f.sort();
                f.dedup();
                assert_eq!(f, x.flags, "flags sorted and deduplicated");
                done.push((**x).clone());
            }
        }
    }
    assert!(started.is_empty(), "Started without Done: {started:?}");
    done
}

/// Zeek-like row: `method host uri status req_len resp_len [flags]`, `-` for absent;
/// an HTTP/0.9 reply has status `0` (as Zeek logs it); a non-numeric status is shown as sent.
pub fn row(x: &Exchange) -> String {
    let (method, host, uri, qlen) = match &x.request {
        Some(q) => (
            q.method().to_string(),
            q.header("host").unwrap_or("-").to_string(),
            if q.uri().is_empty() {
                "-".to_string()
            } else {
                q.uri().to_string()
            },
            q.body_len.to_string(),
        ),
        None => ("-".into(), "-".into(), "-".into(), "-".into()),
    };
    let (status, plen) = match &x.response {
        Some(p) => (
            match p.status {
                Some(n) => n.to_string(),
                None if p.version() == "HTTP/0.9" => "0".into(),
                None => p.status_text().to_string(),
            },
            p.body_len.to_string(),
        ),
        None => ("-".into(), "-".into()),
    };
    let flags: Vec<&str> = x.flags.iter().map(|f| f.as_str()).collect();
    format!(
        "{method} {host} {uri} {status} {qlen} {plen} [{}]",
        flags.join(",")
    )
}

pub fn rows(r: &Run) -> Vec<String> {
    r.exchanges.iter().map(row).collect()
}

/// Full comparable rendering (rows plus versions, headers, bodies, timestamps).
pub fn detail(x: &Exchange) -> String {
    format!(
        "{} | {:?} | {:?} | c={} s={}",
        row(x),
        x.request
            .as_ref()
            .map(|q| (&q.head, &q.body, q.ts_start, q.ts_end)),
        x.response.as_ref().map(|p| (&p.head, &p.body, p.ts_start)),
        x.client,
        x.server
    )
}

fn details(r: &Run) -> Vec<String> {
    r.exchanges.iter().map(detail).collect()
}

/// Run whole, at every split point and byte by byte; all must agree; returns the whole run.
pub fn check_cfg(steps: &[Step], cfg: HttpConfig, expected: &[&str]) -> Run {
    let whole = run_cfg(steps, Cut::Whole, cfg);
    assert_eq!(rows(&whole), expected, "whole");
    let want = details(&whole);
    let total: usize = steps
        .iter()
        .map(|s| match s {
            Step::C(d) | Step::S(d) => d.len(),
            _ => 0,
        })
        .sum();
    for k in 1..total {
        let r = run_cfg(steps, Cut::At(k), cfg);
        assert_eq!(details(&r), want, "split at {k}");
        assert_eq!(r.stats, whole.stats, "stats, split at {k}");
    }
    let r = run_cfg(steps, Cut::Bytewise, cfg);
    assert_eq!(details(&r), want, "bytewise");
    assert_eq!(r.stats, whole.stats, "stats, bytewise");
    // The protocol layer in front changes nothing for HTTP/1 (and finds nothing where the
    // HTTP/1 parser found nothing).
    for cut in [Cut::Whole, Cut::Bytewise] {
        let r = run_recognised(steps, cut, cfg);
        let got: Vec<String> = r.exchanges.iter().map(detail).collect();
        assert_eq!(got, want, "through the recogniser, {cut:?}");
        if r.stats.http1 == 1 {
            let mut http = r.stats.http;
            http.non_http_conns = whole.stats.non_http_conns;
            assert_eq!(
                http, whole.stats,
                "HTTP/1 stats through the recogniser, {cut:?}"
            );
        }
    }
    whole
}

pub fn check(steps: &[Step], expected: &[&str]) -> Run {
    check_cfg(steps, HttpConfig::default(), expected)
}

/// For conversations that leave HTTP/1 (a CONNECT tunnel goes back to recognition): through
/// the [`Recogniser`] only, whole, at every split point and byte by byte; all must agree.
pub fn check_recognised(steps: &[Step], expected: &[&str]) -> RecognisedRun {
    let cfg = HttpConfig::default();
    let whole = run_recognised(steps, Cut::Whole, cfg);
    let got: Vec<String> = whole.exchanges.iter().map(row).collect();
    assert_eq!(got, expected, "whole");
    let want: Vec<String> = whole.exchanges.iter().map(detail).collect();
    let total: usize = steps
        .iter()
        .map(|s| match s {
            Step::C(d) | Step::S(d) => d.len(),
            _ => 0,
        })
        .sum();
    let cuts = (1..total).map(Cut::At).chain([Cut::Bytewise]);
    for cut in cuts {
        let r = run_recognised(steps, cut, cfg);
        let got: Vec<String> = r.exchanges.iter().map(detail).collect();
        assert_eq!(got, want, "{cut:?}");
        assert_eq!(r.stats, whole.stats, "stats, {cut:?}");
    }
    whole
}
