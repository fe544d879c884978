//! The protocol layer: recognition by content (HTTP/2 preface and h2c, TLS, SOCKS 4/4a/5
//! tunnels, HTTP/1, unknown), driven through the `StreamParser` interface without TCP.

mod http_support;

use apitap_engine::flow::Dir;
use apitap_engine::http::{HttpConfig, HttpEvent};
use apitap_engine::protocol::{
    Http2Context, ProtocolConfig, ProtocolStats, Recogniser, StreamParser,
};
use apitap_engine::Timestamp;
use http_support::{c, check_events, info, row, run_cfg, s, ts_of, Cut, Step};
use std::cell::RefCell;

struct Out {
    rows: Vec<String>,
    stats: ProtocolStats,
    wants_data_end: bool,
}

fn recognise_with(steps: &[Step], cut: Cut, cfg: ProtocolConfig) -> Out {
    let conn = info();
    let mut r = Recogniser::new(cfg, conn);
    let mut out = http_support::drive(&mut r, steps, cut);
    let wants_data_end = r.wants_data();
    r.on_close(ts_of(steps.len()), &mut out);
    let mut stats = ProtocolStats::default();
    r.add_stats(&mut stats);
    Out {
        rows: check_events(&out, conn.id).iter().map(row).collect(),
        stats,
        wants_data_end,
    }
}

/// Whole and byte by byte must agree; returns the whole run.
fn recognise(steps: &[Step]) -> Out {
    let cfg = ProtocolConfig::default();
    let whole = recognise_with(steps, Cut::Whole, cfg);
    let bytewise = recognise_with(steps, Cut::Bytewise, cfg);
    assert_eq!(whole.rows, bytewise.rows, "bytewise");
    assert_eq!(whole.stats, bytewise.stats, "stats bytewise");
    whole
}

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// An empty SETTINGS frame and its ACK.
const SETTINGS: &[u8] = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00";
const GET: &[u8] = b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n";
const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";

#[test]
fn http2_preface_is_not_an_http1_request() {
    let steps = [c(PREFACE), c(SETTINGS), s(SETTINGS)];
    // The HTTP/1 parser alone takes the preface for a request `PRI *`...
    let alone = run_cfg(&steps, Cut::Whole, HttpConfig::default());
    assert_eq!(alone.stats.requests, 1);
    // ...the recogniser sees HTTP/2 and, with no HTTP/2 parser plugged in, parses nothing.
    let r = recognise(&steps);
    assert!(r.rows.is_empty(), "{:?}", r.rows);
    assert_eq!((r.stats.http2_unsupported, r.stats.http1), (1, 0));
    assert!(!r.wants_data_end);
    // A prefix of the preface waits; something else after `PRI` is HTTP/1.
    let r = recognise(&[c(b"PRI * HTTP/2.0\r\n"), Step::FinC]);
    assert_eq!((r.stats.undecided, r.stats.http1), (1, 0));
    let r = recognise(&[c(b"PRI /x HTTP/1.1\r\nHost: h\r\n\r\n"), s(OK)]);
    assert_eq!(r.rows, ["PRI h /x 200 0 2 []"]);
}

thread_local! {
    /// What the stand-in HTTP/2 parser was given.
    static SEEN: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// A stand-in for the HTTP/2 parser (which lands separately): records the context it was
/// created with and the bytes it is fed, emits nothing but the upgraded exchange it was
/// handed (on close, as it is).
struct Recorder(Option<Box<apitap_engine::http::Exchange>>);

impl StreamParser for Recorder {
    fn on_data(&mut self, dir: Dir, _: Timestamp, data: &[u8], _: &mut Vec<HttpEvent>) {
        SEEN.with(|s| s.borrow_mut().push(format!("{dir:?} {data:?}")));
    }
    fn on_gap(&mut self, _: Dir, _: Timestamp, _: u64, _: &mut Vec<HttpEvent>) {}
    fn on_fin(&mut self, _: Dir, _: Timestamp, _: &mut Vec<HttpEvent>) {}
    fn on_close(&mut self, _: Timestamp, out: &mut Vec<HttpEvent>) {
        SEEN.with(|s| s.borrow_mut().push("close".into()));
        if let Some(x) = self.0.take() {
            out.push(HttpEvent::Done(x));
        }
    }
    fn add_stats(&self, _: &mut ProtocolStats) {}
}

fn recorder(ctx: &Http2Context) -> Box<dyn StreamParser> {
    SEEN.with(|s| {
        s.borrow_mut().push(format!(
            "new {:?} client {:?} first {}",
            ctx.start, ctx.client, ctx.first_index
        ))
    });
    Box::new(Recorder(ctx.upgraded.clone()))
}

fn with_recorder(steps: &[Step]) -> (Out, Vec<String>) {
    SEEN.with(|s| s.borrow_mut().clear());
    let cfg = ProtocolConfig {
        http: HttpConfig::default(),
        http2: Some(recorder),
    };
    let out = recognise_with(steps, Cut::Whole, cfg);
    (out, SEEN.with(|s| s.borrow().clone()))
}

#[test]
fn http2_prior_knowledge_goes_to_the_http2_slot_from_the_preface_on() {
    // The server's SETTINGS may arrive first; the client is who sent the preface.
    let (r, seen) = with_recorder(&[s(SETTINGS), c(PREFACE), c(SETTINGS)]);
    assert!(r.rows.is_empty());
    assert_eq!((r.stats.http2, r.stats.http2_unsupported), (1, 0));
    assert_eq!(
        seen,
        [
            "new PriorKnowledge client ToResponder first 0".to_string(),
            format!("ToOriginator {SETTINGS:?}"),
            format!("ToResponder {PREFACE:?}"),
            format!("ToResponder {SETTINGS:?}"),
            "close".into(),
        ]
    );
}

#[test]
fn h2c_upgrade_hands_the_bytes_after_the_101_head_to_the_http2_slot() {
    let req = b"GET /u HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n";
    let mut resp =
        b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n".to_vec();
    resp.extend_from_slice(SETTINGS);
    let steps = [c(GET), s(OK), c(req), s(&resp), c(PREFACE)];
    let (r, seen) = with_recorder(&steps);
    // The upgraded exchange is handed to the HTTP/2 parser (which answers it on stream 1),
    // not emitted by HTTP/1: here it comes from the stand-in's close, after the switch.
    assert_eq!(
        r.rows,
        ["GET h /a 200 0 2 []", "GET h /u 101 0 0 [upgraded]"]
    );
    assert_eq!((r.stats.http1, r.stats.http2), (1, 1));
    assert_eq!(r.stats.http.upgraded, 1);
    assert_eq!(
        seen,
        [
            "new H2cUpgrade client ToResponder first 2".to_string(),
            format!("ToOriginator {SETTINGS:?}"),
            format!("ToResponder {PREFACE:?}"),
            "close".into(),
        ]
    );
    // Without an HTTP/2 parser: counted, the upgraded exchange emitted with its 101,
    // nothing parsed after the 101.
    let r = recognise(&steps);
    assert_eq!(
        r.rows,
        ["GET h /a 200 0 2 []", "GET h /u 101 0 0 [upgraded]"]
    );
    assert_eq!(r.stats.http2_unsupported, 1);
    assert!(!r.wants_data_end);
    // Another upgrade (websocket) is no switch to HTTP/2.
    let ws = b"GET /w HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
    let (r, seen) = with_recorder(&[
        c(ws),
        s(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x02hi"),
    ]);
    assert_eq!(r.rows, ["GET h /w 101 0 0 [upgraded]"]);
    assert!(seen.is_empty(), "{seen:?}");
}

#[test]
fn tls_is_recognised_and_not_parsed() {
    let hello = b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03";
    let r = recognise(&[c(hello), s(b"\x16\x03\x03\x00\x5d\x02\x00\x00\x59")]);
    assert!(r.rows.is_empty());
    assert_eq!((r.stats.tls, r.stats.unrecognised), (1, 0));
    assert!(!r.wants_data_end);
}

#[test]
fn unknown_bytes_are_unrecognised() {
    let r = recognise(&[c(b"\x00\x01binary"), s(b"\x02\x03more binary")]);
    assert!(r.rows.is_empty());
    assert_eq!(r.stats.unrecognised, 1);
    assert!(!r.wants_data_end);
    // One direction of nothing known, past the sniff limit, with the other silent.
    let big = vec![0u8; 70_000];
    let r = recognise_with(&[c(&big)], Cut::Whole, ProtocolConfig::default());
    assert_eq!(r.stats.unrecognised, 1);
    assert!(!r.wants_data_end);
}

const V5_GREETING: &[u8] = b"\x05\x01\x00";
const V5_CHOICE: &[u8] = b"\x05\x00";
const V5_REQUEST: &[u8] = b"\x05\x01\x00\x03\x01h\x00\x50";
const V5_REPLY: &[u8] = b"\x05\x00\x00\x01\x0a\x00\x00\x02\x00\x50";

#[test]
fn http_after_a_socks5_handshake_is_parsed() {
    let r = recognise(&[
        c(V5_GREETING),
        s(V5_CHOICE),
        c(V5_REQUEST),
        s(V5_REPLY),
        c(GET),
        s(OK),
    ]);
    assert_eq!(r.rows, ["GET h /a 200 0 2 []"]);
    assert_eq!(
        (r.stats.socks5, r.stats.http1, r.stats.socks_failed),
        (1, 1, 0)
    );
    // The client sending ahead: greeting, request and GET in one go.
    let mut ahead = V5_GREETING.to_vec();
    ahead.extend_from_slice(V5_REQUEST);
    ahead.extend_from_slice(GET);
    let mut answers = V5_CHOICE.to_vec();
    answers.extend_from_slice(V5_REPLY);
    answers.extend_from_slice(OK);
    let r = recognise(&[c(&ahead), s(&answers)]);
    assert_eq!(r.rows, ["GET h /a 200 0 2 []"]);
    // With RFC 1929 user/password.
    let r = recognise(&[
        c(b"\x05\x02\x00\x02"),
        s(b"\x05\x02"),
        c(b"\x01\x04user\x04pass"),
        s(b"\x01\x00"),
        c(V5_REQUEST),
        s(V5_REPLY),
        c(GET),
        s(OK),
    ]);
    assert_eq!(r.rows, ["GET h /a 200 0 2 []"]);
    // TLS through the tunnel: recognised, not parsed.
    let r = recognise(&[
        c(V5_GREETING),
        s(V5_CHOICE),
        c(V5_REQUEST),
        s(V5_REPLY),
        c(b"\x16\x03\x01\x00\xa5\x01"),
    ]);
    assert!(r.rows.is_empty());
    assert_eq!((r.stats.socks5, r.stats.tls), (1, 1));
}

#[test]
fn refused_or_broken_socks5_parses_nothing() {
    for steps in [
        // Refused (reply code 5).
        vec![
            c(V5_GREETING),
            s(V5_CHOICE),
            c(V5_REQUEST),
            s(b"\x05\x05\x00\x01\x00\x00\x00\x00\x00\x00"),
            c(GET),
            s(OK),
        ],
        // No acceptable method.
        vec![c(V5_GREETING), s(b"\x05\xff"), c(GET), s(OK)],
        // A gap in the handshake.
        vec![c(V5_GREETING), s(V5_CHOICE), Step::GapC(10), c(GET), s(OK)],
    ] {
        let r = recognise(&steps);
        assert!(r.rows.is_empty(), "{:?}", r.rows);
        assert_eq!((r.stats.socks5, r.stats.socks_failed), (1, 1));
        assert!(!r.wants_data_end);
    }
}

#[test]
fn http_after_socks4_and_socks4a_handshakes_is_parsed() {
    let v4 = b"\x04\x01\x00\x50\x0a\x00\x00\x02\x00";
    let v4a = b"\x04\x01\x00\x50\x00\x00\x00\x01user\x00h\x00";
    let granted = b"\x00\x5a\x00\x00\x00\x00\x00\x00";
    for req in [&v4[..], &v4a[..]] {
        let r = recognise(&[c(req), s(granted), c(GET), s(OK)]);
        assert_eq!(r.rows, ["GET h /a 200 0 2 []"]);
        assert_eq!((r.stats.socks4, r.stats.http1), (1, 1));
    }
    let r = recognise(&[c(v4), s(b"\x00\x5b\x00\x00\x00\x00\x00\x00"), c(GET), s(OK)]);
    assert!(r.rows.is_empty());
    assert_eq!(r.stats.socks_failed, 1);
}

#[test]
fn tunnels_nest_to_a_bounded_depth() {
    let hop = [c(V5_GREETING), s(V5_CHOICE), c(V5_REQUEST), s(V5_REPLY)];
    let mut two: Vec<Step> = hop.iter().chain(hop.iter()).cloned().collect();
    two.extend([c(GET), s(OK)]);
    let r = recognise(&two);
    assert_eq!(r.rows, ["GET h /a 200 0 2 []"]);
    assert_eq!(r.stats.socks5, 2);
    let mut three: Vec<Step> = hop
        .iter()
        .chain(hop.iter())
        .chain(hop.iter())
        .cloned()
        .collect();
    three.extend([c(GET), s(OK)]);
    let r = recognise(&three);
    assert!(r.rows.is_empty());
    assert_eq!((r.stats.socks5, r.stats.tunnel_depth_exceeded), (2, 1));
}
