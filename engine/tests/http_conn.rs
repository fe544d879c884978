//! HttpConn behaviour, conversation by conversation, each replayed whole, split at every
//! byte position and byte by byte (see `http_support`). Expected rows are derived by hand
//! (and, where a corpus case exists, agree with Zeek's http.log for it).

mod http_support;

use apitap_engine::http::ParseError;
use apitap_engine::http::{Flag, HttpConfig};
use http_support::*;

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[test]
fn simple_get() {
    let r = check(
        &[
            c(b"GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n"),
            s(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"),
        ],
        &["GET example.com /index.html 200 0 5 []"],
    );
    let x = &r.exchanges[0];
    assert_eq!(x.client, info().orig);
    let q = x.request.as_ref().unwrap();
    assert_eq!(q.version(), "HTTP/1.1");
    assert_eq!(q.ts_start, ts_of(0));
    let p = x.response.as_ref().unwrap();
    assert_eq!(
        (p.status, p.reason(), p.ts_start, p.ts_end),
        (Some(200), "OK", ts_of(1), ts_of(1))
    );
    assert_eq!(x.latency_ms(), Some(1.0));
    assert_eq!(
        (r.stats.requests, r.stats.responses, r.stats.exchanges),
        (1, 1, 1)
    );
    assert!(r.wants_data_end);
}

#[test]
fn keep_alive_chunked_with_extensions_and_trailers() {
    check(
        &[
            c(b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n"),
            s(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nX-Trailer: t\r\n\r\n"),
            c(b"GET /b HTTP/1.1\r\nHost: h\r\n\r\n"),
            s(b"HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nnop"),
        ],
        &["GET h /a 200 0 9 []", "GET h /b 404 0 3 []"],
    );
}

#[test]
fn pipelined_requests_pair_fifo() {
    check(
        &[
            c(b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\nPOST /3 HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nab"),
            s(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA"),
            s(b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nBB"),
            s(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"),
        ],
        &["GET h /1 200 0 1 []", "GET h /2 201 0 2 []", "POST h /3 202 2 0 []"],
    );
}

#[test]
fn desynched_extra_responses_are_unpaired() {
    // Zeek http-desynched: one request answered by three responses, then normal pairs.
    let resp = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 19\r\n\r\n<html>root\n</html>\n";
    let req = b"GET / HTTP/1.1\r\nHost: localhost:8080\r\n\r\n";
    let mut three = Vec::new();
    for _ in 0..3 {
        three.extend_from_slice(resp);
    }
    let r = check(
        &[c(req), s(&three), c(req), s(resp)],
        &[
            "GET localhost:8080 / 200 0 19 []",
            "- - - 200 - 19 [unpaired_response]",
            "- - - 200 - 19 [unpaired_response]",
            "GET localhost:8080 / 200 0 19 []",
        ],
    );
    assert_eq!(r.stats.unpaired_responses, 2);
}

#[test]
fn head_204_304_have_no_body() {
    check(
        &[
            c(b"HEAD / HTTP/1.1\r\nHost: h\r\n\r\nGET /nc HTTP/1.1\r\nHost: h\r\n\r\nGET /nm HTTP/1.1\r\nHost: h\r\n\r\n"),
            s(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"),
            s(b"HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n"),
            s(b"HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n"),
        ],
        &["HEAD h / 200 0 0 []", "GET h /nc 204 0 0 []", "GET h /nm 304 0 0 []"],
    );
}

#[test]
fn expect_100_continue_and_multiple_interim() {
    let r = check(
        &[
            c(b"POST /up HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 6\r\n\r\n"),
            s(b"HTTP/1.1 100 Continue\r\n\r\n"),
            c(b"abcdef"),
            s(b"HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"),
            s(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
        ],
        &["POST h /up 200 6 2 []"],
    );
    assert_eq!(r.stats.interim_responses, 3);
    assert_eq!(r.stats.responses, 1);
}

#[test]
fn expect_100_with_cl_0_then_next_request() {
    // Zeek 261-cl-0-expect-100: both requests logged, no responses.
    let r = check(
        &[c(b"POST / HTTP/1.1\r\nHost: target\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\nGET /smuggled-expect-100 HTTP/1.1\r\nHost: target\r\n\r\n")],
        &[
            "POST target / - 0 - [unpaired_request]",
            "GET target /smuggled-expect-100 - 0 - [unpaired_request]",
        ],
    );
    assert_eq!(r.stats.unpaired_requests, 2);
}

#[test]
fn te_wins_over_cl() {
    // Zeek 261-te-cl-desync.
    check(
        &[c(b"POST / HTTP/1.1\r\nHost: target\r\nTransfer-Encoding: chunked\r\nContent-Length: 50\r\n\r\n0\r\n\r\nGET /smuggled-te-cl HTTP/1.1\r\nHost: target\r\n\r\n")],
        &["POST target / - 0 - [unpaired_request]", "GET target /smuggled-te-cl - 0 - [unpaired_request]"],
    );
}

#[test]
fn chunk_size_overflow_errors_and_resyncs() {
    // Zeek 261-chunk-2pow64-overflow: both requests logged.
    let r = check(
        &[c(b"POST / HTTP/1.1\r\nHost: target\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n\r\nGET /smuggled-chunk-2pow64 HTTP/1.1\r\nHost: target\r\n\r\n")],
        &[
            "POST target / - 0 - [unpaired_request,decode_error,malformed]",
            "GET target /smuggled-chunk-2pow64 - 0 - [unpaired_request]",
        ],
    );
    assert_eq!((r.stats.parse_errors, r.stats.resyncs), (1, 1));
    // Counted by kind too.
    let kinds = r.stats.parse_error_kinds;
    assert_eq!(kinds.get(ParseError::ChunkSizeOverflow), 1);
    assert_eq!(kinds.total(), r.stats.parse_errors);
    assert_eq!(format!("{kinds:?}"), r#"{"chunk_size_overflow": 1}"#);
    assert_eq!(
        ParseError::ChunkSizeOverflow.to_string(),
        "chunk size over 64 bits"
    );
}

#[test]
fn connect_2xx_upgrades() {
    let r = check(
        &[
            c(b"CONNECT secure.newegg.com:443 HTTP/1.1\r\nHost: secure.newegg.com:443\r\n\r\n"),
            s(b"HTTP/1.0 200 Connection established\r\n\r\n"),
            c(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
            s(b"\x16\x03\x03\x00\x5d\x02"),
        ],
        &["CONNECT secure.newegg.com:443 secure.newegg.com:443 200 0 0 [upgraded]"],
    );
    assert!(!r.wants_data_end);
    assert_eq!(r.stats.upgraded, 1);
}

#[test]
fn connect_tunnel_carrying_http_is_parsed_on() {
    // suricata http-connect-simple: a plain GET through the tunnel is a transaction of its
    // own (stray LFs after each message included, as in that capture). The tunnel goes back
    // to the recogniser, which finds HTTP/1 in it; exchange indexes continue.
    let r = check_recognised(
        &[
            c(b"CONNECT abc:443 HTTP/1.1\r\nUser-Agent: Victor/1.0\r\n\r\n\n"),
            s(b"HTTP/1.1 200 OK\r\nServer: VictorServer/1.0\r\n\r\n\n"),
            c(b"GET /a HTTP/1.1\r\nHost: abc\r\n\r\n\n"),
            s(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"),
            c(b"POST /b HTTP/1.1\r\nHost: abc\r\nContent-Length: 3\r\n\r\nxyz"),
            s(b"HTTP/1.1 404 Not Found\r\nServer: V\r\n\r\nnot here"),
            Step::FinS,
        ],
        &[
            "CONNECT - abc:443 200 0 0 [upgraded]",
            "GET abc /a 200 0 2 []",
            "POST abc /b 404 3 8 []",
        ],
    );
    assert_eq!(r.exchanges[1].index, 1);
    assert_eq!((r.stats.http.upgraded, r.stats.connect_tunnels), (1, 1));
    assert_eq!(r.stats.http1, 2, "the connection, then the tunnel");
    assert_eq!((r.stats.http.requests, r.stats.http.responses), (3, 3));
    assert!(r.wants_data_end);
    // HTTP/1 alone stops at the tunnel and hands it on.
    let alone = run(
        &[
            c(b"CONNECT abc:443 HTTP/1.1\r\n\r\n"),
            s(b"HTTP/1.1 200 OK\r\n\r\n"),
            c(b"GET /a HTTP/1.1\r\nHost: abc\r\n\r\n"),
        ],
        Cut::Whole,
    );
    assert_eq!(rows(&alone), ["CONNECT - abc:443 200 0 0 [upgraded]"]);
    assert!(!alone.wants_data_end);
}

#[test]
fn connect_tunnel_request_split_before_the_method_ends() {
    // suricata http-connect-fragmented: "GE" and "T / ..." arrive separately.
    let r = check_recognised(
        &[
            c(b"CONNECT abc:443 HTTP/1.1\r\nUser-Agent: Victor/1.0\r\n\r\n"),
            s(b"HTTP/1.1 200 OK\r\nServer: VictorServer/1.0\r\n\r\n"),
            c(b"GE"),
            c(b"T / HTTP/1.1\r\nUser-Agent: Victor/1.0\r\n\r\n"),
            s(b"HTTP/1.1 200 OK\r\nServer: VictorServer/1.0\r\n\r\n"),
        ],
        &["CONNECT - abc:443 200 0 0 [upgraded]", "GET - / 200 0 0 []"],
    );
    // The tunnelled request starts at its first byte ("GE", step 2).
    let q = r.exchanges[1].request.as_ref().unwrap();
    assert_eq!((q.ts_start, q.ts_end), (ts_of(2), ts_of(3)));
    assert_eq!(r.stats.connect_tunnels, 1);
}

#[test]
fn connect_tunnel_with_request_sent_before_the_2xx() {
    // The client did not wait for the proxy's answer: a complete request (HTTP/1 parses on
    // by itself), and a partial one (the tunnel's first bytes, recognised).
    let r = check(
        &[
            c(b"CONNECT h:80 HTTP/1.1\r\nHost: h:80\r\n\r\nGET /early HTTP/1.1\r\nHost: h\r\n\r\n"),
            s(b"HTTP/1.1 200 Connection established\r\n\r\n"),
            s(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA"),
        ],
        &["CONNECT h:80 h:80 200 0 0 [upgraded]", "GET h /early 200 0 1 []"],
    );
    assert_eq!(r.stats.http_tunnels, 1);
    let r = check_recognised(
        &[
            c(b"CONNECT h:80 HTTP/1.1\r\nHost: h:80\r\n\r\nGET /ha"),
            s(b"HTTP/1.1 200 Connection established\r\n\r\n"),
            c(b"lf HTTP/1.1\r\nHost: h\r\n\r\n"),
            s(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA"),
        ],
        &[
            "CONNECT h:80 h:80 200 0 0 [upgraded]",
            "GET h /half 200 0 1 []",
        ],
    );
    assert_eq!(r.stats.connect_tunnels, 1);
}

#[test]
fn connect_tunnel_request_after_server_fin_is_unpaired() {
    let r = check_recognised(
        &[
            c(b"CONNECT h:80 HTTP/1.1\r\n\r\n"),
            s(b"HTTP/1.1 200 OK\r\n\r\n"),
            Step::FinS,
            c(b"GET /late HTTP/1.1\r\nHost: h\r\n\r\n"),
        ],
        &[
            "CONNECT - h:80 200 0 0 [upgraded]",
            "GET h /late - 0 - [unpaired_request]",
        ],
    );
    assert_eq!(r.stats.connect_tunnels, 1);
}

#[test]
fn connect_tunnel_not_carrying_http_stops() {
    // TLS from the client (zeek http-connect-with-header): counted, not parsed.
    let tls = [
        c(b"CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n"),
        s(b"HTTP/1.1 200 OK\r\nProxy-Agent: p\r\n\r\n"),
        c(b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03"),
        c(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
        s(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
    ];
    // SMTP: the server speaks first (zeek http-connect-smtp), even though a later client
    // line would look like a request.
    let smtp = [
        c(b"CONNECT mail:25 HTTP/1.0\r\nUser-Agent: x\r\n\r\n"),
        s(b"HTTP/1.0 200 Connection established\r\n\r\n"),
        s(b"220 mail ESMTP ready\r\n"),
        c(b"GET / HTTP/1.0\r\n\r\n"),
        s(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
    ];
    for (steps, want, tls_n, unrecognised) in [
        (&tls[..], "CONNECT h:443 h:443 200 0 0 [upgraded]", 1, 0),
        (&smtp[..], "CONNECT - mail:25 200 0 0 [upgraded]", 0, 1),
    ] {
        let r = check_recognised(steps, &[want]);
        assert!(!r.wants_data_end, "{want}");
        assert_eq!((r.stats.http.upgraded, r.stats.connect_tunnels), (1, 1));
        assert_eq!((r.stats.tls, r.stats.unrecognised), (tls_n, unrecognised));
        assert_eq!(r.stats.http.requests, 1);
    }
}

#[test]
fn connect_tunnel_recognises_http2_and_resumes_after_a_gap() {
    // The HTTP/2 preface through the tunnel goes to the HTTP/2 slot (none plugged in here:
    // counted as unsupported), not to HTTP/1 as a request `PRI *`.
    let h2 = [
        c(b"CONNECT h:80 HTTP/1.1\r\nHost: h:80\r\n\r\n"),
        s(b"HTTP/1.1 200 OK\r\n\r\n"),
        c(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00"),
    ];
    let r = check_recognised(&h2, &["CONNECT h:80 h:80 200 0 0 [upgraded]"]);
    assert_eq!((r.stats.http2_unsupported, r.stats.http1), (1, 1));
    assert!(!r.wants_data_end);
    // A gap before the tunnel's first bytes were told: what follows is recognised afresh,
    // as on a connection picked up mid-stream.
    let r = check_recognised(
        &[
            c(b"CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n"),
            s(b"HTTP/1.1 200 OK\r\n\r\n"),
            c(b"GE"),
            Step::GapC(100),
            c(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
            s(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
        ],
        &[
            "CONNECT h:443 h:443 200 0 0 [upgraded]",
            "GET h / 200 0 0 []",
        ],
    );
    assert_eq!((r.stats.connect_tunnels, r.stats.http1), (1, 2));
}

#[test]
fn switching_protocols_is_a_hard_stop_even_for_http_looking_bytes() {
    let r = check(
        &[
            // (an `h2c` upgrade hands its request to HTTP/2 stream 1 instead: the 101 is not
            // its answer; tested with the HTTP/2 parser in engine/tests/protocol.rs)
            c(b"GET /chat HTTP/1.1\r\nHost: ws\r\nUpgrade: chat\r\nConnection: Upgrade\r\n\r\n"),
            s(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: chat\r\n\r\n"),
            c(b"GET / HTTP/1.1\r\nHost: ws\r\n\r\n"),
            s(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
        ],
        &["GET ws /chat 101 0 0 [upgraded]"],
    );
    assert!(!r.wants_data_end);
    assert_eq!((r.stats.requests, r.stats.http_tunnels), (1, 0));
}

#[test]
fn connect_failure_does_not_upgrade() {
    let r = check(
        &[
            c(b"CONNECT / HTTP/1.1\r\nHost: www.google.com\r\n\r\n"),
            s(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 3\r\n\r\nbad"),
        ],
        &["CONNECT www.google.com / 400 0 3 []"],
    );
    assert!(r.wants_data_end);
}

#[test]
fn switching_protocols_upgrades() {
    let r = check(
        &[
            c(b"GET /echo HTTP/1.1\r\nHost: ws\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"),
            s(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x05hello"),
            c(b"\x81\x85abcdHTTP/1.1 200 OK\r\n\r\n"),
        ],
        &["GET ws /echo 101 0 0 [upgraded]"],
    );
    assert!(!r.wants_data_end);
}

#[test]
fn http09_request_and_reply() {
    // Zeek no-version: the reply to a version-less request is a 0.9 reply (status 0).
    let r = check(
        &[
            c(b"GET /cgi-bin/x.pl?a=b\r\n"),
            s(b"<HTML>404 Not Found</HTML>\n"),
            Step::FinS,
        ],
        &["GET - /cgi-bin/x.pl?a=b 0 0 27 [malformed]"],
    );
    let x = &r.exchanges[0];
    assert_eq!(x.request.as_ref().unwrap().version(), "HTTP/0.9");
    assert_eq!(x.response.as_ref().unwrap().version(), "HTTP/0.9");
}

#[test]
fn http09_reply_even_if_it_starts_with_http() {
    // Zeek http-methods `GET /HTTP/1.1`: version-less, reply read as HTTP/0.9 (status 0).
    check(
        &[
            c(b"GET /HTTP/1.1\nHost: www.google.com\n\n"),
            s(b"HTTP/1.0 403 Forbidden\r\nContent-Length: 2\r\n\r\nno"),
        ],
        &["GET www.google.com /HTTP/1.1 0 0 47 [malformed]"],
    );
}

#[test]
fn not09_headers_after_versionless_line() {
    // suricata http-not09: the header lines after `GET /` belong to the request.
    let r = check(
        &[
            c(b"GET /\nFakeHeader\nHost: localhost\nUser-Agent: myscript\n\n"),
            s(b"<!DOCTYPE HTML>\n<html>listing</html>\n"),
        ],
        &["GET localhost / 0 0 37 [malformed]"],
    );
    let q = r.exchanges[0].request.as_ref().unwrap();
    assert_eq!(
        q.headers().collect::<Vec<_>>(),
        vec![("Host", "localhost"), ("User-Agent", "myscript")]
    );
}

#[test]
fn http09_then_oversized_line_resyncs() {
    // Fuzz finding: a version-less request line followed by a line longer than the head
    // cap, with no line end yet, spun forever. Now the oversized head is dropped (the 0.9
    // request ends, flagged malformed) and the next line is a new start.
    let long = [b'W'; 100];
    let mut next = long.to_vec();
    next.extend_from_slice(b"\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n");
    let r = check_cfg(
        &[c(b"GET /a\r\n"), c(&long), c(&next)],
        HttpConfig {
            head_cap: 64,
            ..HttpConfig::default()
        },
        &[
            "GET - /a - 0 - [unpaired_request,malformed]",
            "GET h /b - 0 - [unpaired_request]",
        ],
    );
    assert_eq!((r.stats.parse_errors, r.stats.resyncs), (1, 1));
}

#[test]
fn http09_followed_by_request_line() {
    check(
        &[
            c(b"GET /old\r\nGET /new HTTP/1.1\r\nHost: h\r\n\r\n"),
            s(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"),
        ],
        // the 0.9 request takes the whole reply (Zeek semantics), the 1.1 one gets nothing
        &[
            "GET - /old 0 0 39 [malformed]",
            "GET h /new - 0 - [unpaired_request]",
        ],
    );
}

#[test]
fn http09_content_length_confusion() {
    // Zeek http-09-content-length-confusion: a response before any request, then a 0.9
    // request: Zeek logs the 200 with body 0 and the 0.9 request with a 19-byte reply.
    check(
        &[
            s(b"HTTP/1.1 200 OK\r\n"),
            s(b"Content-Length: 4\r\n"),
            s(b"\r\n"),
            c(b"GET /\r\n"),
            c(b"\r\n"),
            s(b"this is too much.\r\n"),
        ],
        &[
            "- - - 200 - 0 [truncated,unpaired_response]",
            "GET - / 0 0 19 [malformed]",
        ],
    );
}

#[test]
fn non_http_reply_to_http11_request_is_not_a_response() {
    // Zeek curl-http-09: no status logged.
    let r = check(
        &[
            c(b"GET /zeek.html HTTP/1.1\r\nHost: localhost\r\nUser-Agent: curl/7.74.0\r\nAccept: */*\r\n\r\n"),
            s(b"<html>\n  The Zeek Network Security Monitor\n</html>\n"),
        ],
        &["GET localhost /zeek.html - 0 - [unpaired_request]"],
    );
    assert_eq!(r.stats.parse_errors, 1);
}

#[test]
fn content_length_overflow_truncated_at_close() {
    // Zeek content-length-overflow: 100 of 2200000000 bytes → response_body_len 100.
    let mut resp = b"HTTP/1.1 200 OK\r\nContent-Length: 2200000000\r\nContent-Type: application/octet-stream\r\n\r\n".to_vec();
    resp.extend_from_slice(&[b'A'; 100]);
    check(
        &[
            c(b"GET /bigfile HTTP/1.1\r\nHost: 10.0.0.2\r\n\r\n"),
            s(&resp),
            Step::FinS,
        ],
        &["GET 10.0.0.2 /bigfile 200 0 100 [truncated]"],
    );
}

#[test]
fn content_length_beyond_63_bits_is_invalid() {
    check(
        &[
            c(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
            s(b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\nabcdef"),
            Step::FinS,
        ],
        &["GET h / 200 0 6 [malformed]"],
    );
}

#[test]
fn fake_content_length_header_name() {
    check(
        &[
            c(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"),
            s(b"HTTP/1.1 200 ok\r\nServer: simpleHTTP\r\nContent-Length: 14\r\nContent-Len: 1\r\n\r\nthis is sparta"),
        ],
        &["GET localhost / 200 0 14 []"],
    );
}

#[test]
fn x_gzip_is_decoded() {
    let body: &[u8] = b"\x1f\x8b\x08\x00'\x85\xcdW\x02\xffs\xcdK\xceOIMQH\xaf\xca,P\xc8HMLI-\x02\x00\x9c>\xe6\x02\x13\x00\x00\x00";
    let mut resp = b"HTTP/1.1 200 ok\r\nServer: simpleHTTP\r\nContent-Encoding: x-gzip\r\nContent-Length: 39\r\n\r\n".to_vec();
    resp.extend_from_slice(body);
    let cfg = HttpConfig {
        keep_bodies: true,
        ..HttpConfig::default()
    };
    let r = check_cfg(
        &[c(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"), s(&resp)],
        cfg,
        &["GET localhost / 200 0 19 []"],
    );
    assert_eq!(
        r.exchanges[0].response.as_ref().unwrap().body.as_deref(),
        Some(&b"Encoded gzip header"[..])
    );
}

#[test]
fn chunked_gzip_and_raw_deflate() {
    let z = gzip(b"0123456789abcdef0123456789abcdef");
    let mut resp =
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    let (a, b) = z.split_at(10);
    resp.extend_from_slice(format!("{:x}\r\n", a.len()).as_bytes());
    resp.extend_from_slice(a);
    resp.extend_from_slice(format!("\r\n{:x}\r\n", b.len()).as_bytes());
    resp.extend_from_slice(b);
    resp.extend_from_slice(b"\r\n0\r\n\r\n");
    // raw deflate (no zlib header), as in Zeek missing-zlib-header
    let raw = {
        use std::io::Write;
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(b"raw deflate body").unwrap();
        e.finish().unwrap()
    };
    let mut resp2 = format!(
        "HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nContent-Length: {}\r\n\r\n",
        raw.len()
    )
    .into_bytes();
    resp2.extend_from_slice(&raw);
    check(
        &[
            c(b"GET /z HTTP/1.1\r\nHost: h\r\n\r\nGET /d HTTP/1.1\r\nHost: h\r\n\r\n"),
            s(&resp),
            s(&resp2),
        ],
        &["GET h /z 200 0 32 []", "GET h /d 200 0 16 []"],
    );
}

#[test]
fn brotli_is_decoded() {
    let mut br = Vec::new();
    {
        use std::io::Write;
        let mut w = brotli::CompressorWriter::new(&mut br, 4096, 5, 22);
        w.write_all(b"brotli brotli brotli brotli").unwrap();
    }
    let mut resp = format!(
        "HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: {}\r\n\r\n",
        br.len()
    )
    .into_bytes();
    resp.extend_from_slice(&br);
    check(
        &[c(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"), s(&resp)],
        &["GET h / 200 0 27 []"],
    );
}

#[test]
fn stacked_content_codings_are_decoded() {
    // `Content-Encoding: gzip, br` over chunked transfer coding, and the same body listed
    // over two header fields; an unknown coding in the list counts the body raw.
    let text = b"stacked codings stacked codings stacked codings!";
    let mut wire = Vec::new();
    {
        use std::io::Write;
        let mut w = brotli::CompressorWriter::new(&mut wire, 4096, 5, 22);
        w.write_all(&gzip(text)).unwrap();
    }
    let mut chunked = Vec::new();
    for part in wire.chunks(7) {
        chunked.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        chunked.extend_from_slice(part);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let head = |ce: &str| {
        format!("HTTP/1.1 200 OK\r\n{ce}Transfer-Encoding: chunked\r\n\r\n").into_bytes()
    };
    let mut r1 = head("Content-Encoding: gzip, br\r\n");
    r1.extend_from_slice(&chunked);
    let mut r2 = head("Content-Encoding: gzip\r\nContent-Encoding: br\r\n");
    r2.extend_from_slice(&chunked);
    let mut r3 = head("Content-Encoding: gzip, compress, br\r\n");
    r3.extend_from_slice(&chunked);
    let req = b"GET / HTTP/1.1\r\nHost: h\r\n\r\n";
    let raw = format!("GET h / 200 0 {} []", wire.len());
    let r = check_cfg(
        &[c(req), s(&r1), c(req), s(&r2), c(req), s(&r3)],
        HttpConfig {
            keep_bodies: true,
            ..HttpConfig::default()
        },
        &["GET h / 200 0 48 []", "GET h / 200 0 48 []", &raw],
    );
    let body = |i: usize| r.exchanges[i].response.as_ref().unwrap().body.clone();
    assert_eq!(body(0).as_deref(), Some(&text[..]));
    assert_eq!(body(1).as_deref(), Some(&text[..]));
    assert_eq!(body(2).as_deref(), Some(&wire[..]));
    assert_eq!(r.stats.decode_errors, 0);
}

#[test]
fn bad_gzip_counts_raw_and_flags() {
    let r = check(
        &[
            c(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
            s(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 10\r\n\r\nnot gzip!!"),
        ],
        &["GET h / 200 0 10 [decode_error]"],
    );
    assert_eq!(r.stats.decode_errors, 1);
}

#[test]
fn interleaved_upload_and_early_response_bare_lf() {
    // Zeek missing-http-entity: the server answers while the client is still sending.
    check(
        &[
            c(b"POST / HTTP/1.1\n"),
            c(b"Host: interleave.me\n"),
            c(b"Content-Length: 10\n"),
            c(b"\n"),
            c(b"1234\n"),
            s(b"HTTP/1.1 200 OK\n"),
            s(b"Server: early-responder/0.1\n"),
            s(b"Content-Length: 3\n"),
            c(b"4567\n"),
            s(b"Content-Disposition: attachment; filename=\"test.txt\"\n"),
            s(b"\n"),
            s(b"fin\n"),
        ],
        &["POST interleave.me / 200 10 3 []"],
    );
}

#[test]
fn lower_case_version_and_noint_status() {
    check(
        &[
            c(b"GET /index.html HTTP/1.1\r\nHost: 146.190.62.39\r\n\r\nGET /test HTTP/1.1\r\nHost: 127.0.0.1:8001\r\n\r\n"),
            s(b"http/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
            s(b"HTTP/1.0 2XX OK\nServer: POC\nContent-Length:4\n\ntoto"),
        ],
        &["GET 146.190.62.39 /index.html 200 0 0 [malformed]", "GET 127.0.0.1:8001 /test 2XX 0 4 [malformed]"],
    );
}

#[test]
fn roles_flip_when_originator_sends_responses() {
    // Zeek flip-content-line-resp: the SYN sender is the server.
    let r = check(
        &[
            s(b"GET /zeek.png HTTP/1.1\r\nHost: localhost\r\n\r\n"),
            c(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n\x89PNG"),
        ],
        &["GET localhost /zeek.png 200 0 4 []"],
    );
    assert!(r.flipped);
    assert_eq!(r.exchanges[0].client, info().resp);
    assert_eq!(r.exchanges[0].server, info().orig);
    assert_eq!(r.stats.role_flips, 1);
}

#[test]
fn one_sided_responses_from_originator() {
    // suricata http-async-srv: only the server's side was captured, as originator.
    check(
        &[
            c(b"HTTP/1.0 200 OK\r\nContent-Length: 12\r\n\r\nHello World!\n"),
            c(b"HTTP/1.0 200 OK\r\nContent-Length: 12\r\n\r\nHello People"),
        ],
        &[
            "- - - 200 - 12 [unpaired_response]",
            "- - - 200 - 12 [unpaired_response]",
        ],
    );
}

#[test]
fn non_http_connection_is_given_up() {
    let r = check(
        &[
            c(b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03"),
            s(b"\x16\x03\x03\x00\x5d\x02\x00\x00\x59"),
            c(b"GET / HTTP/1.1\r\n\r\n"),
        ],
        &[],
    );
    assert!(!r.wants_data_end);
    assert_eq!(r.stats.non_http_conns, 1);
}

#[test]
fn ssh_banner_and_smtp_are_not_http() {
    for (a, b) in [
        (
            &b"SSH-2.0-OpenSSH_9.6\r\n"[..],
            &b"SSH-2.0-OpenSSH_8.0\r\n"[..],
        ),
        (b"EHLO mail.example.com\r\n", b"220 mx ESMTP ready\r\n"),
    ] {
        let r = check(&[c(a), s(b)], &[]);
        assert!(!r.wants_data_end);
    }
}

#[test]
fn gap_inside_known_length_body_is_consumed() {
    // suricata http-gap-simple: 3 exchanges with status 200 despite a gap in a body.
    let r = check(
        &[
            c(b"GET /1 HTTP/1.0\r\n\r\n"),
            s(b"HTTP/1.0 200 OK\r\nContent-Length: 14\r\n\r\n0123456789abcd"),
            c(b"GET /2 HTTP/1.0\r\n\r\n"),
            s(b"HTTP/1.0 200 OK\r\nContent-Length: 70\r\n\r\n"),
            s(b"01234567890123"),
            Step::GapS(14),
            s(b"01234567890123"),
            s(b"0123456789012301234567890123"),
            c(b"GET /3 HTTP/1.0\r\n\r\n"),
            s(b"HTTP/1.0 200 OK\r\nContent-Length: 14\r\n\r\n0123456789abcd"),
        ],
        &[
            "GET - /1 200 0 14 []",
            "GET - /2 200 0 70 [gap]",
            "GET - /3 200 0 14 []",
        ],
    );
    assert_eq!(r.stats.gaps_in_messages, 1);
    assert_eq!(r.stats.resyncs, 0);
}

#[test]
fn gap_in_headers_resyncs_at_next_message() {
    let r = check(
        &[
            c(b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"),
            s(b"HTTP/1.1 200 OK\r\nContent-"),
            Step::GapS(20),
            s(b"gth: 3\r\n\r\nabc\r\nHTTP/1.1 500 Oops\r\nContent-Length: 1\r\n\r\nx"),
            c(b"GET /2 HTTP/1.1\r\nHost: h\r\n\r\n"),
            s(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
        ],
        // /1's response head was lost: the 500 found on resync is not taken as its answer
        &[
            "GET h /1 - 0 - [gap,unpaired_request]",
            "- - - 500 - 1 [unpaired_response]",
            "GET h /2 200 0 2 []",
        ],
    );
    assert_eq!((r.stats.gaps_in_messages, r.stats.resyncs), (1, 1));
}

#[test]
fn gap_in_chunk_framing_truncates_and_resyncs() {
    check(
        &[
            c(b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n"),
            s(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"),
            Step::GapS(100),
            s(b"ab\r\n0\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"),
        ],
        &["GET h /1 200 0 5 [gap,truncated]", "GET h /2 201 0 0 []"],
    );
}

#[test]
fn gap_longer_than_body_resyncs() {
    check(
        &[
            c(b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"),
            s(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab"),
            Step::GapS(50),
            s(b"xyz\r\nHTTP/1.1 404 NF\r\nContent-Length: 0\r\n\r\n"),
        ],
        &[
            "GET h /1 200 0 2 [gap,truncated]",
            "- - - 404 - 0 [unpaired_response]",
        ],
    );
}

#[test]
fn gap_in_close_delimited_body_counts() {
    check(
        &[
            c(b"GET / HTTP/1.0\r\n\r\n"),
            s(b"HTTP/1.0 200 OK\r\n\r\nabc"),
            Step::GapS(10),
            s(b"def"),
            Step::FinS,
        ],
        &["GET - / 200 0 16 [gap]"],
    );
}

#[test]
fn close_delimited_body_ends_at_fin_not_truncated() {
    check(
        &[
            c(b"GET / HTTP/1.0\r\n\r\n"),
            s(b"HTTP/1.0 200 OK\r\nServer: x\r\n\r\nbody until close"),
            Step::FinS,
        ],
        &["GET - / 200 0 16 []"],
    );
    // ... and at close too.
    check(
        &[
            c(b"GET / HTTP/1.0\r\n\r\n"),
            s(b"HTTP/1.0 200 OK\r\n\r\nabc"),
        ],
        &["GET - / 200 0 3 []"],
    );
}

#[test]
fn partial_heads_at_close() {
    let r = check(
        &[c(b"GET /a HTTP/1.1\r\nHost: h\r\n"), s(b"HTTP/1.1 200 O")],
        &["GET h /a - 0 - [truncated,unpaired_request]"],
    );
    assert_eq!(r.stats.incomplete_heads, 1);
}

#[test]
fn request_body_truncated_at_fin() {
    check(
        &[
            c(b"PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\nabc"),
            Step::FinC,
            s(b"HTTP/1.1 400 Bad\r\nContent-Length: 0\r\n\r\n"),
        ],
        &["PUT h /x 400 3 0 [truncated]"],
    );
}

#[test]
fn head_cap_exceeded_is_malformed_and_resyncs() {
    let cfg = HttpConfig {
        head_cap: 64,
        ..HttpConfig::default()
    };
    let mut big = b"GET /big HTTP/1.1\r\nX-Long: ".to_vec();
    big.extend_from_slice(&[b'a'; 100]);
    big.extend_from_slice(b"\r\n\r\nGET /ok HTTP/1.1\r\nHost: h\r\n\r\n");
    let r = check_cfg(&[c(&big)], cfg, &["GET h /ok - 0 - [unpaired_request]"]);
    assert_eq!(r.stats.parse_errors, 1);
}

#[test]
fn pipeline_cap_emits_oldest_early() {
    let cfg = HttpConfig {
        max_pipeline: 2,
        ..HttpConfig::default()
    };
    let mut reqs = Vec::new();
    for i in 0..4 {
        reqs.extend_from_slice(format!("GET /{i} HTTP/1.1\r\nHost: h\r\n\r\n").as_bytes());
    }
    let r = check_cfg(
        &[c(&reqs), s(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")],
        cfg,
        &[
            "GET h /0 - 0 - [unpaired_request]",
            "GET h /1 - 0 - [unpaired_request]",
            "GET h /2 200 0 0 []",
            "GET h /3 - 0 - [unpaired_request]",
        ],
    );
    assert_eq!(r.stats.pipeline_overflows, 2);
}

#[test]
fn body_cap_keeps_prefix_and_counts_all() {
    let cfg = HttpConfig {
        keep_bodies: true,
        body_cap: 4,
        ..HttpConfig::default()
    };
    let r = check_cfg(
        &[
            c(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\n\r\nabcdef"),
            s(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
        ],
        cfg,
        &["POST h / 200 6 2 [body_capped]"],
    );
    let x = &r.exchanges[0];
    assert_eq!(
        x.request.as_ref().unwrap().body.as_deref(),
        Some(&b"abcd"[..])
    );
    assert_eq!(
        x.response.as_ref().unwrap().body.as_deref(),
        Some(&b"ok"[..])
    );
    assert!(x.flags.contains(&Flag::BodyCapped));
}

#[test]
fn bodies_not_kept_by_default() {
    let r = check(
        &[
            c(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
            s(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
        ],
        &["GET h / 200 0 2 []"],
    );
    assert_eq!(r.exchanges[0].response.as_ref().unwrap().body, None);
}

#[test]
fn odd_request_lines() {
    // Zeek http-methods: `OPTIONS HTTP/1.1` has no target; spaces inside a target; QUERY.
    check(
        &[
            c(b"OPTIONS HTTP/1.1\nHost: www.google.com\n\n"),
            s(b"HTTP/1.0 400 Bad Request\r\nContent-Length: 1\r\n\r\nx"),
            c(b"GET /a b HTTP/1.1\r\nHost: h\r\n\r\n"),
            s(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
            c(b"QUERY /users HTTP/1.1\r\nHost: example.com\r\nContent-Length: 2\r\n\r\n{}"),
            s(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]"),
        ],
        &[
            "OPTIONS www.google.com - 400 0 1 [malformed]",
            "GET h /a b 200 0 0 [malformed]",
            "QUERY example.com /users 200 2 2 []",
        ],
    );
}

#[test]
fn garbage_request_lines_leave_unpaired_responses() {
    // Zeek http-methods: `OPTIONSHTTP/1.1` / `GET/ HTTP/1.1` are not requests.
    for req in [
        &b"OPTIONSHTTP/1.1\nHost: www.google.com\n\n"[..],
        b"GET/ HTTP/1.1\nHost: www.google.com\n\n",
        b"OPTIONS\nHost: www.google.com\n\n",
    ] {
        check(
            &[
                c(req),
                s(b"HTTP/1.0 400 Bad Request\r\nContent-Length: 3\r\n\r\nbad"),
            ],
            &["- - - 400 - 3 [unpaired_response]"],
        );
    }
}

#[test]
fn obs_fold_and_colonless_header_lines() {
    let r = check(
        &[
            c(b"GET / HTTP/1.1\r\nHost: h\r\nX-Folded: a\r\n  b\r\nNoColonHere\r\n\r\n"),
            s(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
        ],
        &["GET h / 200 0 0 [malformed]"],
    );
    let q = r.exchanges[0].request.as_ref().unwrap();
    assert_eq!(q.headers().nth(1), Some(("X-Folded", "a b")));
    assert_eq!(q.headers().len(), 2);
}

#[test]
fn leading_blank_lines_between_messages() {
    check(
        &[
            c(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nab\r\n\r\nGET /n HTTP/1.1\r\nHost: h\r\n\r\n"),
            s(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
        ],
        &["POST h / 200 2 0 []", "GET h /n 200 0 0 []"],
    );
}

#[test]
fn multipart_body_counts_as_is() {
    let body = b"--XX\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nvalue\r\n--XX--\r\n";
    let mut req = format!("POST / HTTP/1.1\r\nHost: localhost:8000\r\nContent-Type: multipart/form-data; boundary=XX\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
    req.extend_from_slice(body);
    check(
        &[c(&req)],
        &["POST localhost:8000 / - 65 - [unpaired_request]"],
    );
}

#[test]
fn docker_upgrade_tcp() {
    let r = check(
        &[
            c(b"POST /v1.41/containers/x/attach?stream=1 HTTP/1.1\r\nHost: d\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"),
            s(b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n/ # "),
            c(b"ls\r"),
        ],
        &["POST d /v1.41/containers/x/attach?stream=1 101 0 0 [upgraded]"],
    );
    assert!(!r.wants_data_end);
}

#[test]
fn response_before_request_completes_waits_for_upload() {
    // An early 413 while the client uploads: the exchange is emitted with the full body.
    check(
        &[
            c(b"POST /big HTTP/1.1\r\nHost: h\r\nContent-Length: 8\r\n\r\nabcd"),
            s(b"HTTP/1.1 413 Too Large\r\nContent-Length: 0\r\n\r\n"),
            c(b"efgh"),
        ],
        &["POST h /big 413 8 0 []"],
    );
}

#[test]
fn two_gaps_in_one_body() {
    // suricata http-gap-double: two gaps in the middle response's body.
    let r = check(
        &[
            c(b"GET /1 HTTP/1.0\r\n\r\n"),
            s(b"HTTP/1.0 200 OK\r\nContent-Length: 14\r\n\r\n0123456789abcd"),
            c(b"GET /2 HTTP/1.0\r\n\r\n"),
            s(b"HTTP/1.0 200 OK\r\nContent-Length: 70\r\n\r\n"),
            s(b"01234567890123"),
            Step::GapS(14),
            Step::GapS(14),
            s(b"0123456789012301234567890123"),
            c(b"GET /3 HTTP/1.0\r\n\r\n"),
            s(b"HTTP/1.0 200 OK\r\nContent-Length: 14\r\n\r\n0123456789abcd"),
        ],
        &[
            "GET - /1 200 0 14 []",
            "GET - /2 200 0 70 [gap]",
            "GET - /3 200 0 14 []",
        ],
    );
    assert_eq!(r.stats.gaps_in_messages, 2);
}

#[test]
fn gap_in_gzip_body_counts_raw_and_flags() {
    let z = gzip(&[b'x'; 1000]);
    let (a, b) = z.split_at(5);
    let mut head = format!(
        "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
        z.len() + 3
    )
    .into_bytes();
    head.extend_from_slice(a);
    let want = format!("GET h / 200 0 {} [gap,decode_error]", z.len() + 3);
    check(
        &[
            c(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
            s(&head),
            Step::GapS(3),
            s(b),
        ],
        &[want.as_str()],
    );
}

/// Run with `cargo test --release -p apitap-engine --test http_conn -- --ignored --nocapture`.
#[test]
#[ignore]
fn throughput_smoke() {
    use apitap_engine::flow::Dir;
    use apitap_engine::http::{HttpConfig, HttpConn, HttpEvent};
    let req = b"GET /api/v1/items/123?x=1 HTTP/1.1\r\nHost: api.example.com\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n";
    let resp = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 27\r\n\r\n{\"id\":123,\"name\":\"example\"}";
    let conn = info();
    let n = 200_000u64;
    let t0 = std::time::Instant::now();
    let mut h = HttpConn::new(HttpConfig::default(), conn);
    let mut out = Vec::with_capacity(1024);
    let mut done = 0u64;
    for i in 0..n {
        let ts = ts_of(i as usize);
        h.on_data(Dir::ToResponder, ts, req, &mut out);
        h.on_data(Dir::ToOriginator, ts, resp, &mut out);
        done += out
            .iter()
            .filter(|e| matches!(e, HttpEvent::Done(_)))
            .count() as u64;
        out.clear();
    }
    h.on_close(ts_of(0), &mut out);
    let dt = t0.elapsed().as_secs_f64();
    println!(
        "{n} exchanges in {dt:.3}s: {:.0} exchanges/s, {:.0} MB/s",
        n as f64 / dt,
        (n as f64 * (req.len() + resp.len()) as f64) / dt / 1e6
    );
    assert_eq!(done, n);
}

#[test]
fn one_sided_non_http_counts_at_close() {
    let r = check(&[c(b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03")], &[]);
    assert_eq!(r.stats.non_http_conns, 1);
    // ... but a silent connection is not counted as non-HTTP.
    let r = check(&[], &[]);
    assert_eq!(r.stats.non_http_conns, 0);
}

#[test]
fn lost_response_head_keeps_pairing_aligned() {
    // Like Zeek http-pending-state-growth-1000req: the first response's head is missing.
    let req = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
    let mut steps = Vec::new();
    for i in 0..3 {
        steps.push(c(req));
        if i == 0 {
            steps.push(Step::GapS(38));
        } else {
            steps.push(s(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n"));
        }
        steps.push(s(b"<html>\n"));
    }
    check(
        &steps,
        &[
            "GET localhost / - 0 - [gap,unpaired_request]",
            "GET localhost / 200 0 7 []",
            "GET localhost / 200 0 7 []",
        ],
    );
}

#[test]
fn gap_overrunning_a_body_loses_the_next_response() {
    check(
        &[
            c(b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\nGET /3 HTTP/1.1\r\nHost: h\r\n\r\n"),
            s(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab"),
            Step::GapS(30),
            s(b"zz\r\nHTTP/1.1 203 X\r\nContent-Length: 0\r\n\r\n"),
        ],
        &["GET h /1 200 0 2 [gap,truncated]", "GET h /2 - 0 - [gap,unpaired_request]", "GET h /3 203 0 0 []"],
    );
}

#[test]
fn a_status_line_needs_a_status_code() {
    // A broken chunked body makes the server stream resynchronise; a body line starting
    // `HTTP/2 and` is prose, not the response to the second request.
    let r = check(
        &[
            c(b"GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n"),
            s(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nsome text\r\nHTTP/2 and HTTP/3 are newer.\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"),
        ],
        &[
            "GET h /a 200 0 0 [decode_error,malformed]",
            "GET h /b 204 0 0 []",
        ],
    );
    assert_eq!(r.stats.parse_error_kinds.get(ParseError::BadChunkSize), 1);
    // In its normal place a status line still tolerates a non-numeric code that starts
    // with a digit (`2XX`, above) but not a word.
    let r = check(
        &[
            c(b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n"),
            s(b"HTTP/1.1 OK\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
        ],
        &["GET h /a 200 0 0 []"],
    );
    assert_eq!(r.stats.parse_error_kinds.get(ParseError::NotAStartLine), 1);
}
