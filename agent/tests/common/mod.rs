//! What the live-capture tests share: a tiny HTTP/1.1 server on a real TCP listener and a
//! client that sends one request per connection (both in the test's own process, traffic on
//! loopback only).

use apitap::capture::live::{LiveCapture, LiveConfig};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

/// Starts [`serve`] on a loopback port of its own, on a thread; returns the port.
pub fn start_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || serve(listener));
    port
}

/// The settings of a capture of `lo` narrowed to `port`, with a small ring.
#[allow(dead_code)] // not every test crate that shares this module opens a capture
pub fn lo_config(port: u16) -> LiveConfig {
    LiveConfig {
        interface: "lo".into(),
        filter: Some(format!("tcp port {port}")),
        buffer_size: 4 << 20,
        ..Default::default()
    }
}

/// Opens a capture with `cfg`; `None`, with a SKIP message, when this process may not
/// capture (needs CAP_NET_RAW) and `CI` is not set. Under `CI` that is a failure.
#[allow(dead_code)]
pub fn open_or_skip(cfg: &LiveConfig) -> Option<LiveCapture> {
    match LiveCapture::open(cfg) {
        Ok(c) => Some(c),
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!(
                "SKIP: cannot capture on {} ({e}); needs CAP_NET_RAW",
                cfg.interface
            );
            None
        }
        Err(e) => panic!("cannot capture on {} under CI: {e}", cfg.interface),
    }
}

/// Serves every connection: one request each, JSON answer; `/users/N` → 200 (404 above 100),
/// `POST /users` → 201.
pub fn serve(listener: TcpListener) {
    for stream in listener.incoming() {
        let Ok(mut s) = stream else { continue };
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        // read the head (and a small body if any)
        while let Ok(n) = s.read(&mut chunk) {
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..p]).to_ascii_lowercase();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                if buf.len() >= p + 4 + len {
                    break;
                }
            }
        }
        let line = String::from_utf8_lossy(&buf);
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("");
        let path = parts.next().unwrap_or("");
        let (status, body) = if method == "POST" {
            ("201 Created", "{\"id\":7,\"name\":\"x\"}".to_string())
        } else if let Some(id) = path.strip_prefix("/users/") {
            let id: u64 = id.parse().unwrap_or(0);
            if id > 100 {
                ("404 Not Found", "{\"error\":\"not_found\"}".to_string())
            } else {
                ("200 OK", format!("{{\"id\":{id},\"name\":\"u{id}\"}}"))
            }
        } else {
            ("404 Not Found", "{}".to_string())
        };
        let _ = write!(
            s,
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    }
}

/// Sends one request on its own connection and reads the whole answer (the server closes).
pub fn request(port: u16, method: &str, path: &str, body: &str) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: api.test\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    assert!(out.starts_with(b"HTTP/1.1 "), "no response");
}
