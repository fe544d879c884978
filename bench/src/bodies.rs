//! Pre-rendered pools of message parts.
//!
//! Every response is a pre-rendered head blob followed by a pre-rendered body blob, both
//! stored once in a [`Pool`]; a simulated connection only keeps blob ids. Each JSON body
//! template exists in four wire encodings (identity, chunked, gzip, gzip + chunked) so
//! the per-exchange encoding choice is exact while nothing is compressed at run time.
//! Request bodies (small JSON documents) are pooled the same way.

use crate::rng::Rng;
use flate2::{write::GzEncoder, Compression};
use std::io::Write;

/// Date header used on every response: the capture's start day.
pub const DATE: &str = "Wed, 01 May 2024 12:00:00 GMT";

/// Index of a blob in a [`Pool`].
pub type BlobId = u32;

/// How a response body is framed and encoded on the wire.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// `Content-Length`, no content coding.
    Identity,
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// `Content-Encoding: gzip` with `Content-Length`.
    Gzip,
    /// `Content-Encoding: gzip` and `Transfer-Encoding: chunked`.
    GzipChunked,
}

impl Encoding {
    /// All four, in a fixed order.
    pub const ALL: [Encoding; 4] = [
        Encoding::Identity,
        Encoding::Chunked,
        Encoding::Gzip,
        Encoding::GzipChunked,
    ];

    /// Whether the body is chunked.
    pub fn chunked(self) -> bool {
        matches!(self, Encoding::Chunked | Encoding::GzipChunked)
    }

    /// Whether the body is gzip-coded.
    pub fn gzip(self) -> bool {
        matches!(self, Encoding::Gzip | Encoding::GzipChunked)
    }
}

/// A ready-made response: head blob + optional body blob.
#[derive(Copy, Clone, Debug)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Status line and headers, ending in the blank line.
    pub head: BlobId,
    /// The body as on the wire (possibly chunked and/or gzip-coded).
    pub body: Option<BlobId>,
    /// Body length after de-chunking and decoding.
    pub decoded_len: u64,
    /// Wire encoding of the body.
    pub encoding: Encoding,
}

/// All pre-rendered blobs plus indexes into them.
pub struct Pool {
    blobs: Vec<Vec<u8>>,
    /// `ok[template][encoding]`: (200 variant, 201 variant).
    ok: Vec<[(Response, Response); 4]>,
    /// 404 responses (small JSON error bodies, identity).
    not_found: Vec<Response>,
    /// 500 responses.
    server_error: Vec<Response>,
    /// The 204 No Content response.
    no_content: Response,
    /// JSON request bodies.
    req_bodies: Vec<BlobId>,
}

const FIRST: &[&str] = &[
    "Ada", "Grace", "Linus", "Ken", "Barbara", "Edsger", "Margaret", "Dennis", "Radia", "Alan",
    "Frances", "Donald", "Shafi", "Leslie", "Niklaus", "Sophie",
];
const LAST: &[&str] = &[
    "Lovelace",
    "Hopper",
    "Torvalds",
    "Thompson",
    "Liskov",
    "Dijkstra",
    "Hamilton",
    "Ritchie",
    "Perlman",
    "Turing",
    "Allen",
    "Knuth",
    "Goldwasser",
    "Lamport",
    "Wirth",
    "Wilson",
];
const CITIES: &[&str] = &[
    "Berlin", "Lisbon", "Osaka", "Toronto", "Nairobi", "Lima", "Oslo", "Austin", "Porto", "Seoul",
];
const WORDS: &[&str] = &[
    "widget", "gadget", "sprocket", "lamp", "kettle", "chair", "cable", "adapter", "mug",
    "notebook", "backpack", "charger", "speaker", "monitor", "keyboard", "mouse",
];
const STATUSES: &[&str] = &["pending", "paid", "shipped", "delivered", "cancelled"];

/// Formats 16 random bytes as a lowercase UUID (version 4 layout).
pub fn uuid(rng: &mut Rng) -> String {
    let a = rng.next_u64();
    let b = rng.next_u64();
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        (a >> 32) as u32,
        (a >> 16) as u16,
        (a & 0xfff) as u16,
        ((b >> 48) as u16 & 0x3fff) | 0x8000,
        b & 0xffff_ffff_ffff
    )
}

/// One JSON record of a random kind (user, order or product).
fn record(rng: &mut Rng, out: &mut String) {
    use std::fmt::Write as _;
    let id = rng.range(1, 9_999_999);
    let first = rng.pick(FIRST);
    let last = rng.pick(LAST);
    match rng.below(3) {
        0 => {
            let _ = write!(
                out,
                r#"{{"id":{id},"name":"{first} {last}","email":"{}.{}{}@example.com","active":{},"city":"{}","created_at":"2024-0{}-{:02}T{:02}:{:02}:{:02}Z","roles":["user"{}],"score":{}.{:02}}}"#,
                first.to_lowercase(),
                last.to_lowercase(),
                rng.below(100),
                rng.chance(0.8),
                rng.pick(CITIES),
                rng.range(1, 4),
                rng.range(1, 28),
                rng.below(24),
                rng.below(60),
                rng.below(60),
                if rng.chance(0.1) { r#","admin""# } else { "" },
                rng.below(1000),
                rng.below(100)
            );
        }
        1 => {
            let _ = write!(
                out,
                r#"{{"id":"{}","customer_id":{id},"status":"{}","currency":"EUR","total":{}.{:02},"items":{},"shipping":{{"city":"{}","zip":"{:05}"}}}}"#,
                uuid(rng),
                rng.pick(STATUSES),
                rng.below(2000),
                rng.below(100),
                rng.range(1, 12),
                rng.pick(CITIES),
                rng.below(100_000)
            );
        }
        _ => {
            let _ = write!(
                out,
                r#"{{"id":{id},"sku":"SKU-{:06}","title":"{} {}","price":{}.{:02},"stock":{},"tags":["{}","{}"],"rating":{}.{}}}"#,
                rng.below(1_000_000),
                rng.pick(WORDS),
                rng.pick(WORDS),
                rng.below(500),
                rng.below(100),
                rng.below(1000),
                rng.pick(WORDS),
                rng.pick(WORDS),
                rng.range(1, 4),
                rng.below(10)
            );
        }
    }
}

/// A JSON document of about `size` bytes (never much below: a single record may make it
/// longer for tiny sizes).
pub fn json_body(rng: &mut Rng, size: usize) -> Vec<u8> {
    let mut s = String::with_capacity(size + 256);
    s.push_str(r#"{"data":["#);
    let mut first = true;
    while s.len() + 40 < size || first {
        if !first {
            s.push(',');
        }
        first = false;
        record(rng, &mut s);
    }
    let _ = std::fmt::Write::write_fmt(
        &mut s,
        format_args!(
            r#"],"page":{},"total":{}}}"#,
            rng.range(1, 50),
            rng.below(100_000)
        ),
    );
    s.into_bytes()
}

/// Gzip with a fixed header (mtime 0), so output is deterministic.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::with_capacity(data.len() / 3 + 64), Compression::fast());
    // Writing to a Vec cannot fail.
    let _ = e.write_all(data);
    e.finish().unwrap_or_default()
}

/// Chunked transfer coding with random chunk sizes (256 B .. 16 KiB).
pub fn chunk(rng: &mut Rng, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 64);
    let mut rest = data;
    while !rest.is_empty() {
        let n = (rng.log_uniform(256, 16384) as usize).min(rest.len());
        let (c, r) = rest.split_at(n);
        out.extend_from_slice(format!("{n:x}\r\n").as_bytes());
        out.extend_from_slice(c);
        out.extend_from_slice(b"\r\n");
        rest = r;
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        404 => "Not Found",
        500 => "Internal Server Error",
        _ => "Unknown",
    }
}

/// A response head for `status` framing a `wire_len`-byte body with `enc`.
fn head(rng: &mut Rng, status: u16, enc: Encoding, wire_len: Option<usize>) -> Vec<u8> {
    use std::fmt::Write as _;
    let mut h = String::with_capacity(320);
    let _ = write!(
        h,
        "HTTP/1.1 {status} {}\r\nDate: {DATE}\r\nServer: nginx/1.25.3\r\n",
        reason(status)
    );
    if let Some(len) = wire_len {
        h.push_str("Content-Type: application/json; charset=utf-8\r\n");
        if enc.chunked() {
            h.push_str("Transfer-Encoding: chunked\r\n");
        } else {
            let _ = write!(h, "Content-Length: {len}\r\n");
        }
        if enc.gzip() {
            h.push_str("Content-Encoding: gzip\r\n");
        }
        h.push_str("Vary: Accept-Encoding\r\n");
    }
    let _ = write!(
        h,
        "Connection: keep-alive\r\nX-Request-Id: {:016x}\r\nCache-Control: no-store\r\n\r\n",
        rng.next_u64()
    );
    h.into_bytes()
}

impl Pool {
    /// Builds the pools: `templates` success bodies of 200 B .. 64 KiB (log-uniform), each
    /// in all four encodings and with 200 and 201 heads; error and 204 responses; and
    /// `templates` request bodies of 40 B .. 8 KiB.
    pub fn build(rng: &mut Rng, templates: usize) -> Pool {
        let mut p = Pool {
            blobs: Vec::new(),
            ok: Vec::new(),
            not_found: Vec::new(),
            server_error: Vec::new(),
            no_content: Response {
                status: 204,
                head: 0,
                body: None,
                decoded_len: 0,
                encoding: Encoding::Identity,
            },
            req_bodies: Vec::new(),
        };
        for _ in 0..templates.max(1) {
            let size = rng.log_uniform(200, 65536) as usize;
            let plain = json_body(rng, size);
            let decoded_len = plain.len() as u64;
            let gz = gzip(&plain);
            let mut variants = Vec::with_capacity(4);
            for enc in Encoding::ALL {
                let wire = match enc {
                    Encoding::Identity => plain.clone(),
                    Encoding::Chunked => chunk(rng, &plain),
                    Encoding::Gzip => gz.clone(),
                    Encoding::GzipChunked => chunk(rng, &gz),
                };
                let len = wire.len();
                let body = p.add(wire);
                let mk = |p: &mut Pool, rng: &mut Rng, status| Response {
                    status,
                    head: p.add(head(rng, status, enc, Some(len))),
                    body: Some(body),
                    decoded_len,
                    encoding: enc,
                };
                let r200 = mk(&mut p, rng, 200);
                let r201 = mk(&mut p, rng, 201);
                variants.push((r200, r201));
            }
            if let Ok(arr) = <[(Response, Response); 4]>::try_from(variants) {
                p.ok.push(arr);
            }
        }
        for status in [404u16, 500] {
            for i in 0..8 {
                let msg = if status == 404 {
                    format!(
                        r#"{{"error":"not_found","message":"resource {} does not exist","request_id":"{}"}}"#,
                        rng.below(1_000_000),
                        uuid(rng)
                    )
                } else {
                    format!(
                        r#"{{"error":"internal","message":"upstream timeout after {}ms","trace":"{:016x}"}}"#,
                        1000 * (i + 1),
                        rng.next_u64()
                    )
                };
                let len = msg.len();
                let body = p.add(msg.into_bytes());
                let r = Response {
                    status,
                    head: p.add(head(rng, status, Encoding::Identity, Some(len))),
                    body: Some(body),
                    decoded_len: len as u64,
                    encoding: Encoding::Identity,
                };
                if status == 404 {
                    p.not_found.push(r);
                } else {
                    p.server_error.push(r);
                }
            }
        }
        p.no_content.head = p.add(head(rng, 204, Encoding::Identity, None));
        for _ in 0..templates.max(1) {
            let size = rng.log_uniform(40, 8192) as usize;
            let mut s = String::new();
            if size < 300 {
                record(rng, &mut s);
            } else {
                s = String::from_utf8(json_body(rng, size)).unwrap_or_default();
            }
            let id = p.add(s.into_bytes());
            p.req_bodies.push(id);
        }
        p
    }

    fn add(&mut self, blob: Vec<u8>) -> BlobId {
        self.blobs.push(blob);
        (self.blobs.len() - 1) as BlobId
    }

    /// The bytes of a blob (empty for an unknown id).
    pub fn blob(&self, id: BlobId) -> &[u8] {
        self.blobs
            .get(id as usize)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// A random success response (`created` selects the 201 head) with encoding `enc`.
    pub fn ok(&self, rng: &mut Rng, enc: Encoding, created: bool) -> Response {
        let t = rng.pick(&self.ok);
        let i = Encoding::ALL.iter().position(|e| *e == enc).unwrap_or(0);
        let (a, b) = t[i];
        if created {
            b
        } else {
            a
        }
    }

    /// A random 404 response.
    pub fn not_found(&self, rng: &mut Rng) -> Response {
        *rng.pick(&self.not_found)
    }

    /// A random 500 response.
    pub fn server_error(&self, rng: &mut Rng) -> Response {
        *rng.pick(&self.server_error)
    }

    /// The 204 response.
    pub fn no_content(&self) -> Response {
        self.no_content
    }

    /// A random request body blob.
    pub fn request_body(&self, rng: &mut Rng) -> BlobId {
        *rng.pick(&self.req_bodies)
    }

    /// Total bytes held by the pool.
    pub fn total_bytes(&self) -> usize {
        self.blobs.iter().map(Vec::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::GzDecoder;
    use std::io::Read;

    fn dechunk(mut data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let nl = data.windows(2).position(|w| w == b"\r\n").unwrap();
            let n = usize::from_str_radix(std::str::from_utf8(&data[..nl]).unwrap(), 16).unwrap();
            data = &data[nl + 2..];
            if n == 0 {
                assert_eq!(data, b"\r\n");
                return out;
            }
            out.extend_from_slice(&data[..n]);
            assert_eq!(&data[n..n + 2], b"\r\n");
            data = &data[n + 2..];
        }
    }

    #[test]
    fn json_bodies_are_valid_json_of_roughly_the_size() {
        let mut rng = Rng::new(3);
        for size in [200usize, 1000, 20_000, 65536] {
            let b = json_body(&mut rng, size);
            let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
            assert!(v["data"].is_array());
            assert!(b.len() >= size.saturating_sub(40), "{} < {size}", b.len());
            assert!(b.len() < size + 400, "{} too big for {size}", b.len());
        }
    }

    #[test]
    fn every_encoding_decodes_back_to_the_declared_length() {
        let mut rng = Rng::new(5);
        let pool = Pool::build(&mut rng, 6);
        for enc in Encoding::ALL {
            for _ in 0..10 {
                let r = pool.ok(&mut rng, enc, false);
                assert_eq!(r.encoding, enc);
                let head = std::str::from_utf8(pool.blob(r.head)).unwrap();
                assert!(head.starts_with("HTTP/1.1 200 OK\r\n"));
                assert!(head.ends_with("\r\n\r\n"));
                let wire = pool.blob(r.body.unwrap());
                assert_eq!(head.contains("Transfer-Encoding: chunked"), enc.chunked());
                assert_eq!(head.contains("Content-Encoding: gzip"), enc.gzip());
                if !enc.chunked() {
                    assert!(head.contains(&format!("Content-Length: {}\r\n", wire.len())));
                }
                let unchunked = if enc.chunked() {
                    dechunk(wire)
                } else {
                    wire.to_vec()
                };
                let plain = if enc.gzip() {
                    let mut s = Vec::new();
                    GzDecoder::new(&unchunked[..]).read_to_end(&mut s).unwrap();
                    s
                } else {
                    unchunked
                };
                assert_eq!(plain.len() as u64, r.decoded_len);
                serde_json::from_slice::<serde_json::Value>(&plain).unwrap();
            }
        }
        let created = pool.ok(&mut rng, Encoding::Identity, true);
        assert!(pool
            .blob(created.head)
            .starts_with(b"HTTP/1.1 201 Created\r\n"));
        let nc = pool.no_content();
        assert!(nc.body.is_none());
        let h = std::str::from_utf8(pool.blob(nc.head)).unwrap();
        assert!(!h.contains("Content-Length") && !h.contains("Transfer-Encoding"));
    }

    #[test]
    fn uuid_shape() {
        let u = uuid(&mut Rng::new(1));
        assert_eq!(u.len(), 36);
        assert_eq!(u.as_bytes()[14], b'4');
        assert_eq!(u.matches('-').count(), 4);
    }
}
