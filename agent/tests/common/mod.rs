//! What the live-capture tests share: a tiny HTTP/1.1 server on a real TCP listener and a
//! client that sends one request per connection (both in the test's own process, traffic on
//! loopback only).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

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
