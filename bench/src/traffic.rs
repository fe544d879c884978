//! The traffic simulation: concurrent keep-alive HTTP/1.1 connections, one packet at a
//! time.
//!
//! Up to `concurrency` connections are open at once; each step picks one at random and
//! lets it emit its next packet, and the clock advances by 0–8 µs, so connections
//! interleave like on a busy server port. A connection does: SYN, SYN-ACK, ACK; then
//! 1..=`max_batches` batches, each one request (or, with `pipeline_share`, 2–3 GET requests
//! sent back to back) segmented at [`MSS`], delayed ACKs every second full segment, then
//! the response(s); then FIN, FIN-ACK, ACK. Sequence and acknowledgement numbers,
//! IP ids, timestamp options and checksums are all consistent.
//!
//! With a byte target the generator stops opening connections and batches once the file
//! reaches the target; connections mid-batch finish it, so the file overshoots by at most
//! about `concurrency` × one batch. With a connection count every connection runs its
//! full plan.

use crate::bodies::{uuid, Encoding, Pool, Response};
use crate::rng::Rng;
use crate::wire::{begin_tcp, finish_tcp, flags, Endpoint, PcapWriter, TcpFields, MSS};
use std::collections::BTreeMap;
use std::io::{self, Write};

/// Capture start: 2024-05-01T12:00:00Z, in microseconds.
pub const START_US: u64 = 1_714_564_800_000_000;

/// Generator settings.
#[derive(Clone, Debug)]
pub struct Config {
    /// PRNG seed.
    pub seed: u64,
    /// Stop once the file reaches this many bytes (if set).
    pub target_bytes: Option<u64>,
    /// Generate exactly this many connections (if set; otherwise the byte target rules).
    pub connections: Option<u64>,
    /// Connections open at once (upper bound).
    pub concurrency: usize,
    /// Share of success responses with `Transfer-Encoding: chunked`.
    pub chunked_share: f64,
    /// Share of success responses with `Content-Encoding: gzip`.
    pub gzip_share: f64,
    /// Share of batches that are pipelined (2–3 GETs sent before any response).
    pub pipeline_share: f64,
    /// Share of requests answered 404 (a fifth of this share again gets 500).
    pub error_share: f64,
    /// Most batches per connection.
    pub max_batches: u32,
    /// Body templates per pool.
    pub templates: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            seed: 1,
            target_bytes: None,
            connections: Some(100),
            concurrency: 2000,
            chunked_share: 0.2,
            gzip_share: 0.25,
            pipeline_share: 0.05,
            error_share: 0.03,
            max_batches: 8,
            templates: 96,
        }
    }
}

/// Ground truth about a generated capture (written as the `.truth.json` sidecar).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Truth {
    /// Request/response exchanges (every request gets exactly one response).
    pub exchanges: u64,
    /// TCP connections (all complete: handshake to FIN).
    pub connections: u64,
    /// Packets in the file.
    pub packets: u64,
    /// File size in bytes.
    pub file_bytes: u64,
    /// Exchanges per request method.
    pub methods: BTreeMap<String, u64>,
    /// Exchanges per response status.
    pub statuses: BTreeMap<u16, u64>,
    /// Responses with a chunked body.
    pub chunked_responses: u64,
    /// Responses with a gzip body.
    pub gzip_responses: u64,
    /// Requests sent pipelined (in a batch of 2–3).
    pub pipelined_requests: u64,
    /// Sum of request body lengths.
    pub request_body_bytes: u64,
    /// Sum of response body lengths after de-chunking and decoding.
    pub response_body_bytes_decoded: u64,
    /// TCP payload bytes in both directions.
    pub tcp_payload_bytes: u64,
    /// Capture duration, microseconds (first to last packet).
    pub duration_us: u64,
}

impl Truth {
    /// The sidecar JSON.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "exchanges": self.exchanges,
            "requests": self.exchanges,
            "responses": self.exchanges,
            "connections": self.connections,
            "packets": self.packets,
            "file_bytes": self.file_bytes,
            "methods": self.methods,
            "statuses": self.statuses.iter().map(|(k, v)| (k.to_string(), *v)).collect::<BTreeMap<_, _>>(),
            "chunked_responses": self.chunked_responses,
            "gzip_responses": self.gzip_responses,
            "pipelined_requests": self.pipelined_requests,
            "request_body_bytes": self.request_body_bytes,
            "response_body_bytes_decoded": self.response_body_bytes_decoded,
            "tcp_payload_bytes": self.tcp_payload_bytes,
            "duration_us": self.duration_us,
        })
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Phase {
    Syn,
    SynAck,
    HsAck,
    /// Client sends the batch's request bytes.
    Request,
    /// Server sends the batch's response bytes.
    Response,
    /// Client sends FIN.
    Fin,
    /// Server answers FIN.
    FinAck,
    /// Client acknowledges the server's FIN.
    LastAck,
    Done,
}

/// One simulated TCP connection.
struct Conn {
    cli: Endpoint,
    srv: Endpoint,
    host: &'static str,
    c_nxt: u32,
    s_nxt: u32,
    c_ipid: u16,
    s_ipid: u16,
    c_ts_off: u32,
    s_ts_off: u32,
    c_last_ts: u32,
    s_last_ts: u32,
    phase: Phase,
    batches_left: u32,
    /// Request bytes of the current batch and how many have been sent.
    req: Vec<u8>,
    req_off: usize,
    /// Response blobs of the current batch, cursor (blob index, offset in blob).
    resp: Vec<u32>,
    resp_i: usize,
    resp_off: usize,
    /// Full-sized data segments not yet acknowledged by the receiver.
    unacked: u32,
}

const HOSTS: &[(&str, [u8; 4], u16)] = &[
    ("api.example.com", [10, 0, 0, 10], 80),
    ("api.example.com", [10, 0, 0, 11], 80),
    ("shop.example.com", [10, 0, 0, 20], 8080),
    ("users.internal.example", [10, 0, 0, 30], 80),
];

const USER_AGENTS: &[&str] = &[
    "okhttp/4.12.0",
    "python-requests/2.31.0",
    "Go-http-client/1.1",
    "axios/1.6.8",
    "curl/8.5.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
];

const QUERIES: &[&str] = &[
    "lamp",
    "usb+cable",
    "red%20mug",
    "chair",
    "k%C3%A4se",
    "desk",
];

fn mac_of(ip: [u8; 4]) -> [u8; 6] {
    [0x02, 0x42, ip[0], ip[1], ip[2], ip[3]]
}

/// The simulation state.
pub struct Generator<W: Write> {
    cfg: Config,
    rng: Rng,
    pool: Pool,
    out: PcapWriter<W>,
    clock: u64,
    active: Vec<Conn>,
    started: u64,
    truth: Truth,
    buf: Vec<u8>,
    opts: [u8; 20],
}

impl<W: Write> Generator<W> {
    /// Builds the body pools and writes the pcap header.
    pub fn new(cfg: Config, out: W) -> io::Result<Self> {
        let mut rng = Rng::new(cfg.seed);
        let pool = Pool::build(&mut rng, cfg.templates);
        Ok(Generator {
            cfg,
            rng,
            pool,
            out: PcapWriter::new(out)?,
            clock: START_US,
            active: Vec::new(),
            started: 0,
            truth: Truth::default(),
            buf: Vec::with_capacity(2048),
            opts: [0; 20],
        })
    }

    fn size_reached(&self) -> bool {
        matches!(self.cfg.target_bytes, Some(t) if self.out.bytes() >= t)
    }

    fn may_start_connection(&self) -> bool {
        match (self.cfg.connections, self.cfg.target_bytes) {
            (Some(n), _) => self.started < n,
            (None, Some(_)) => !self.size_reached(),
            (None, None) => false,
        }
    }

    fn new_conn(&mut self) -> Conn {
        let n = self.started;
        self.started += 1;
        let h = n % 10_000;
        let cip = [10, 1, 1 + (h / 250) as u8, 1 + (h % 250) as u8];
        let port = 32768 + ((n / 10_000) % 28_000) as u16;
        let (host, sip, sport) = *self.rng.pick(HOSTS);
        let rng = &mut self.rng;
        Conn {
            cli: Endpoint {
                mac: mac_of(cip),
                ip: cip,
                port,
            },
            srv: Endpoint {
                mac: mac_of(sip),
                ip: sip,
                port: sport,
            },
            host,
            c_nxt: rng.next_u32(),
            s_nxt: rng.next_u32(),
            c_ipid: rng.next_u32() as u16,
            s_ipid: rng.next_u32() as u16,
            c_ts_off: rng.next_u32(),
            s_ts_off: rng.next_u32(),
            c_last_ts: 0,
            s_last_ts: 0,
            phase: Phase::Syn,
            batches_left: rng.range(1, u64::from(self.cfg.max_batches.max(1))) as u32,
            req: Vec::new(),
            req_off: 0,
            resp: Vec::new(),
            resp_i: 0,
            resp_off: 0,
            unacked: 0,
        }
    }

    /// Runs the whole simulation and returns the ground truth.
    pub fn run(mut self) -> io::Result<Truth> {
        let concurrency = match (self.cfg.connections, self.cfg.target_bytes) {
            (None, Some(t)) => self.cfg.concurrency.min((t / 200_000).max(16) as usize),
            _ => self.cfg.concurrency,
        }
        .max(1);
        loop {
            while self.active.len() < concurrency && self.may_start_connection() {
                let c = self.new_conn();
                self.active.push(c);
            }
            if self.active.is_empty() {
                break;
            }
            let i = self.rng.below(self.active.len() as u64) as usize;
            self.clock += self.rng.below(9);
            let mut conn = self.active.swap_remove(i);
            self.step(&mut conn)?;
            if conn.phase != Phase::Done {
                // Put it back at the same slot to keep the choice uniform.
                self.active.push(conn);
                let last = self.active.len() - 1;
                self.active.swap(i, last);
            } else {
                self.truth.connections += 1;
            }
        }
        self.truth.packets = self.out.packets();
        self.truth.file_bytes = self.out.bytes();
        self.truth.duration_us = self.clock - START_US;
        self.out.finish()?;
        Ok(self.truth)
    }

    /// Renders the next batch of requests into `c.req` / `c.resp`, or returns false if the
    /// connection should close.
    fn next_batch(&mut self, c: &mut Conn) -> bool {
        if c.batches_left == 0 || self.size_reached() {
            return false;
        }
        c.batches_left -= 1;
        c.req.clear();
        c.req_off = 0;
        c.resp.clear();
        c.resp_i = 0;
        c.resp_off = 0;
        let pipelined = self.rng.chance(self.cfg.pipeline_share);
        let k = if pipelined { self.rng.range(2, 3) } else { 1 };
        for _ in 0..k {
            let r = self.render_request(c, pipelined);
            c.resp.push(r.head);
            if let Some(b) = r.body {
                c.resp.push(b);
            }
            if pipelined {
                self.truth.pipelined_requests += 1;
            }
        }
        true
    }

    /// Appends one request to `c.req`, updates the truth, returns the chosen response.
    fn render_request(&mut self, c: &mut Conn, get_only: bool) -> Response {
        use std::io::Write as _;
        let rng = &mut self.rng;
        let roll = rng.below(100);
        let method = if get_only || roll < 60 {
            "GET"
        } else if roll < 80 {
            "POST"
        } else if roll < 92 {
            "PUT"
        } else {
            "DELETE"
        };
        let id = rng.range(1, 250_000);
        let mut uri = String::with_capacity(96);
        {
            use std::fmt::Write as _;
            let _ = match (method, rng.below(4)) {
                ("GET", 0) => write!(uri, "/api/v1/users/{id}"),
                ("GET", 1) => write!(uri, "/api/v1/orders/{}/items", uuid(rng)),
                ("GET", 2) => write!(
                    uri,
                    "/api/v1/products?page={}&q={}",
                    rng.range(1, 40),
                    rng.pick(QUERIES)
                ),
                ("GET", _) => write!(
                    uri,
                    "/api/v1/users?limit={}&offset={}",
                    [10, 25, 50, 100][rng.below(4) as usize],
                    rng.below(1000) * 10
                ),
                ("POST", 0 | 1) => write!(uri, "/api/v1/orders/{}/items", uuid(rng)),
                ("POST", _) => write!(uri, "/api/v1/users"),
                ("PUT", 0 | 1) => write!(uri, "/api/v1/users/{id}"),
                ("PUT", _) => write!(uri, "/api/v1/products/{id}"),
                (_, 0 | 1) => write!(uri, "/api/v1/users/{id}"),
                (_, _) => write!(uri, "/api/v1/orders/{}/items/{id}", uuid(rng)),
            };
        }
        let body = if method == "POST" || method == "PUT" {
            Some(self.pool.request_body(rng))
        } else {
            None
        };
        let ua = rng.pick(USER_AGENTS);
        let token = rng.next_u64();
        let reqid = uuid(rng);
        let req = &mut c.req;
        let _ = write!(
            req,
            "{method} {uri} HTTP/1.1\r\nHost: {}\r\nUser-Agent: {ua}\r\nAccept: application/json\r\nAccept-Encoding: gzip, deflate\r\nAuthorization: Bearer eyJhbGciOiJIUzI1NiJ9.{token:016x}\r\nX-Request-Id: {reqid}\r\n",
            c.host
        );
        if let Some(b) = body {
            let bytes = self.pool.blob(b);
            let _ = write!(
                req,
                "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                bytes.len()
            );
            req.extend_from_slice(bytes);
            self.truth.request_body_bytes += bytes.len() as u64;
        } else {
            req.extend_from_slice(b"\r\n");
        }
        // Response.
        let e = self.cfg.error_share;
        let u = rng.unit();
        let resp = if u < e {
            self.pool.not_found(rng)
        } else if u < e * 1.2 {
            self.pool.server_error(rng)
        } else if method == "DELETE" {
            self.pool.no_content()
        } else {
            let chunked = rng.chance(self.cfg.chunked_share);
            let gz = rng.chance(self.cfg.gzip_share);
            let enc = match (chunked, gz) {
                (false, false) => Encoding::Identity,
                (true, false) => Encoding::Chunked,
                (false, true) => Encoding::Gzip,
                (true, true) => Encoding::GzipChunked,
            };
            self.pool.ok(rng, enc, method == "POST")
        };
        let t = &mut self.truth;
        t.exchanges += 1;
        *t.methods.entry(method.to_string()).or_insert(0) += 1;
        *t.statuses.entry(resp.status).or_insert(0) += 1;
        if resp.body.is_some() {
            t.chunked_responses += u64::from(resp.encoding.chunked());
            t.gzip_responses += u64::from(resp.encoding.gzip());
        }
        t.response_body_bytes_decoded += resp.decoded_len;
        resp
    }

    /// Emits the connection's next packet.
    fn step(&mut self, c: &mut Conn) -> io::Result<()> {
        use flags::*;
        match c.phase {
            Phase::Syn => {
                let isn = c.c_nxt;
                c.c_nxt = c.c_nxt.wrapping_add(1);
                self.send(c, true, isn, 0, SYN, 64240, 0)?;
                c.phase = Phase::SynAck;
            }
            Phase::SynAck => {
                let isn = c.s_nxt;
                c.s_nxt = c.s_nxt.wrapping_add(1);
                self.send(c, false, isn, c.c_nxt, SYN | ACK, 65160, 0)?;
                c.phase = Phase::HsAck;
            }
            Phase::HsAck => {
                self.send(c, true, c.c_nxt, c.s_nxt, ACK, 502, 0)?;
                c.phase = if self.next_batch(c) {
                    Phase::Request
                } else {
                    Phase::Fin
                };
            }
            Phase::Request => {
                if c.unacked >= 2 {
                    self.send(c, false, c.s_nxt, c.c_nxt, ACK, 509, 0)?;
                    c.unacked = 0;
                } else {
                    let n = (c.req.len() - c.req_off).min(MSS);
                    let last = c.req_off + n >= c.req.len();
                    let f = if last { ACK | PSH } else { ACK };
                    self.send(c, true, c.c_nxt, c.s_nxt, f, 502, n)?;
                    c.c_nxt = c.c_nxt.wrapping_add(n as u32);
                    c.req_off += n;
                    if last {
                        // The response piggybacks the acknowledgement.
                        c.unacked = 0;
                        c.phase = Phase::Response;
                    } else {
                        c.unacked += 1;
                    }
                }
            }
            Phase::Response => {
                let remaining = self.resp_remaining(c);
                if c.unacked >= 2 || (remaining == 0 && c.unacked > 0) {
                    self.send(c, true, c.c_nxt, c.s_nxt, ACK, 502, 0)?;
                    c.unacked = 0;
                } else if remaining == 0 {
                    // Batch complete (and acknowledged): next batch or close.
                    c.phase = if self.next_batch(c) {
                        Phase::Request
                    } else {
                        Phase::Fin
                    };
                    return self.step(c);
                } else {
                    let n = remaining.min(MSS);
                    let f = if n == remaining { ACK | PSH } else { ACK };
                    self.send(c, false, c.s_nxt, c.c_nxt, f, 509, n)?;
                    c.s_nxt = c.s_nxt.wrapping_add(n as u32);
                    c.unacked += 1;
                }
            }
            Phase::Fin => {
                self.send(c, true, c.c_nxt, c.s_nxt, FIN | ACK, 502, 0)?;
                c.c_nxt = c.c_nxt.wrapping_add(1);
                c.phase = Phase::FinAck;
            }
            Phase::FinAck => {
                self.send(c, false, c.s_nxt, c.c_nxt, FIN | ACK, 509, 0)?;
                c.s_nxt = c.s_nxt.wrapping_add(1);
                c.phase = Phase::LastAck;
            }
            Phase::LastAck => {
                self.send(c, true, c.c_nxt, c.s_nxt, ACK, 502, 0)?;
                c.phase = Phase::Done;
            }
            Phase::Done => {}
        }
        Ok(())
    }

    fn resp_remaining(&self, c: &Conn) -> usize {
        let mut total = 0;
        for (i, id) in c.resp.iter().enumerate().skip(c.resp_i) {
            let len = self.pool.blob(*id).len();
            total += if i == c.resp_i {
                len.saturating_sub(c.resp_off)
            } else {
                len
            };
        }
        total
    }

    /// Builds and writes one segment. `payload` bytes come from the request buffer (client)
    /// or the response blobs (server).
    #[allow(clippy::too_many_arguments)]
    fn send(
        &mut self,
        c: &mut Conn,
        from_client: bool,
        seq: u32,
        ack: u32,
        fl: u8,
        window: u16,
        payload: usize,
    ) -> io::Result<()> {
        let ms = (self.clock / 1000) as u32;
        let (tsval, tsecr) = if from_client {
            let v = ms.wrapping_add(c.c_ts_off);
            c.c_last_ts = v;
            (v, c.s_last_ts)
        } else {
            let v = ms.wrapping_add(c.s_ts_off);
            c.s_last_ts = v;
            (v, c.c_last_ts)
        };
        let opt_len = if fl & flags::SYN != 0 {
            // MSS 1460, SACK permitted, timestamps, NOP, window scale 7 (Linux order).
            self.opts[0..4].copy_from_slice(&[2, 4, 0x05, 0xb4]);
            self.opts[4..6].copy_from_slice(&[4, 2]);
            self.opts[6..8].copy_from_slice(&[8, 10]);
            self.opts[8..12].copy_from_slice(&tsval.to_be_bytes());
            self.opts[12..16].copy_from_slice(&tsecr.to_be_bytes());
            self.opts[16..20].copy_from_slice(&[1, 3, 3, 7]);
            20
        } else {
            self.opts[0..4].copy_from_slice(&[1, 1, 8, 10]);
            self.opts[4..8].copy_from_slice(&tsval.to_be_bytes());
            self.opts[8..12].copy_from_slice(&tsecr.to_be_bytes());
            12
        };
        let t = TcpFields {
            seq,
            ack,
            flags: fl,
            window,
            options: &self.opts[..opt_len],
        };
        let (src, dst, ipid) = if from_client {
            c.c_ipid = c.c_ipid.wrapping_add(1);
            (&c.cli, &c.srv, c.c_ipid)
        } else {
            c.s_ipid = c.s_ipid.wrapping_add(1);
            (&c.srv, &c.cli, c.s_ipid)
        };
        begin_tcp(&mut self.buf, src, dst, ipid, &t);
        if payload > 0 {
            if from_client {
                let end = (c.req_off + payload).min(c.req.len());
                self.buf
                    .extend_from_slice(c.req.get(c.req_off..end).unwrap_or(&[]));
            } else {
                let mut need = payload;
                while need > 0 && c.resp_i < c.resp.len() {
                    let blob = self.pool.blob(c.resp[c.resp_i]);
                    let avail = blob.len().saturating_sub(c.resp_off);
                    let n = avail.min(need);
                    self.buf
                        .extend_from_slice(blob.get(c.resp_off..c.resp_off + n).unwrap_or(&[]));
                    need -= n;
                    c.resp_off += n;
                    if c.resp_off >= blob.len() {
                        c.resp_i += 1;
                        c.resp_off = 0;
                    }
                }
            }
            self.truth.tcp_payload_bytes += payload as u64;
        }
        finish_tcp(&mut self.buf);
        self.out.write_packet(self.clock, &self.buf)
    }
}

/// Generates a capture into `out` and returns its ground truth.
pub fn generate<W: Write>(cfg: Config, out: W) -> io::Result<Truth> {
    Generator::new(cfg, out)?.run()
}
