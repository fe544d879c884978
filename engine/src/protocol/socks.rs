//! SOCKS 4, 4a (no RFC; the 4/4a notes) and 5 (RFC 1928, user/password RFC 1929): the
//! handshake is followed, then the tunnelled bytes are recognised afresh.
//!
//! # Policy
//!
//! - **Recognition** ([`probe`]) needs both directions: a complete SOCKS 4/4a request or
//!   SOCKS 5 greeting from one side and the first bytes of a matching reply from the other
//!   (`00 5a..5d` for SOCKS 4; `05 m` with `m` one of the offered methods, or `ff`, for
//!   SOCKS 5). A greeting alone is three bytes or so: too weak to claim a connection.
//! - **Handshake** ([`SocksTunnel`]): client messages are read in order (greeting, RFC 1929
//!   user/password if the server chose it, request; or the SOCKS 4 request), server
//!   messages likewise (method choice, authentication status, reply). A client may send
//!   ahead (optimistic data): its bytes wait until the server's answers say how to read
//!   them. The tunnel opens when the request is complete and the reply grants it; its first
//!   bytes (client's first, then the server's) go to a new [`Recogniser`] one level deeper,
//!   which decides what they are (HTTP/1, TLS, HTTP/2, ...). Exchanges in the tunnel belong
//!   to the same connection (same id and addresses: the proxy's).
//! - **Failure**: a refused request, an unsupported method (GSSAPI, none acceptable), a
//!   malformed message, a gap during the handshake, or a message over [`MAX_MESSAGE`]
//!   bytes ends parsing ([`ProtocolStats::socks_failed`]); nothing is emitted.
//! - **Bounds**: [`MAX_MESSAGE`] bytes buffered per direction during the handshake.

use super::probe::Probe;
use super::{ProtocolConfig, ProtocolStats, Recogniser, StreamParser};
use crate::exchange::HttpEvent;
use crate::flow::{pick, pick_mut, ConnInfo, Dir};
use crate::Timestamp;

/// Longest handshake message buffered (a SOCKS 4a request with a 255-byte user id and a
/// 255-byte host name is 521 bytes).
pub const MAX_MESSAGE: usize = 1024;

/// The SOCKS version of a handshake.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Version {
    /// SOCKS 4 or 4a.
    V4,
    /// SOCKS 5.
    V5,
}

/// The result of reading one message from the front of a buffer.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Msg {
    /// A complete message of this many bytes.
    Done(usize),
    /// A valid prefix: need more bytes.
    Partial,
    /// Not this message.
    Invalid,
}

/// A NUL-terminated string of at most 255 bytes from `at`: the index after its NUL.
fn nul_string(buf: &[u8], at: usize) -> Result<Option<usize>, ()> {
    let rest = buf.get(at..).unwrap_or_default();
    match rest.iter().take(256).position(|&b| b == 0) {
        Some(p) => Ok(Some(at + p + 1)),
        None if rest.len() >= 256 => Err(()),
        None => Ok(None),
    }
}

/// SOCKS 4/4a request: `04 cmd port(2) ip(4) userid NUL [host NUL if ip = 0.0.0.x, x ≠ 0]`.
fn v4_request(b: &[u8]) -> Msg {
    match b {
        [] => return Msg::Partial,
        [4] | [4, 1 | 2] => return Msg::Partial,
        [4, 1 | 2, ..] => {}
        _ => return Msg::Invalid,
    }
    if b.len() < 8 {
        return Msg::Partial;
    }
    let socks4a = matches!(b.get(4..8), Some([0, 0, 0, x]) if *x != 0);
    let Ok(user_end) = nul_string(b, 8) else {
        return Msg::Invalid;
    };
    let Some(user_end) = user_end else {
        return Msg::Partial;
    };
    if !socks4a {
        return Msg::Done(user_end);
    }
    match nul_string(b, user_end) {
        Ok(Some(end)) if end > user_end + 1 => Msg::Done(end),
        Ok(Some(_)) | Err(()) => Msg::Invalid,
        Ok(None) => Msg::Partial,
    }
}

/// SOCKS 4 reply: `00 5a..5d port(2) ip(4)`; `Ok(granted)` when complete.
fn v4_reply(b: &[u8]) -> (Msg, bool) {
    match b {
        [] | [0] => (Msg::Partial, false),
        [0, 0x5a..=0x5d, ..] if b.len() >= 8 => (Msg::Done(8), b.get(1) == Some(&0x5a)),
        [0, 0x5a..=0x5d, ..] => (Msg::Partial, false),
        _ => (Msg::Invalid, false),
    }
}

/// SOCKS 5 greeting: `05 n methods(n)`, n ≥ 1.
fn v5_greeting(b: &[u8]) -> Msg {
    match b {
        [] | [5] => Msg::Partial,
        [5, 0, ..] => Msg::Invalid,
        [5, n, ..] => {
            let len = 2 + usize::from(*n);
            if b.len() >= len {
                Msg::Done(len)
            } else {
                Msg::Partial
            }
        }
        _ => Msg::Invalid,
    }
}

/// RFC 1929 user/password request: `01 ulen user plen pass`.
fn v5_userpass(b: &[u8]) -> Msg {
    match b {
        [] => Msg::Partial,
        [1, ..] => {
            let Some(&ulen) = b.get(1) else {
                return Msg::Partial;
            };
            let p_at = 2 + usize::from(ulen);
            let Some(&plen) = b.get(p_at) else {
                return Msg::Partial;
            };
            let end = p_at + 1 + usize::from(plen);
            if b.len() >= end {
                Msg::Done(end)
            } else {
                Msg::Partial
            }
        }
        _ => Msg::Invalid,
    }
}

/// SOCKS 5 request or reply: `05 code 00 atyp addr port(2)`; the code is returned.
fn v5_addr_msg(b: &[u8]) -> (Msg, u8) {
    let code = b.get(1).copied().unwrap_or(0);
    if b.first().is_some_and(|&v| v != 5) || b.get(2).is_some_and(|&r| r != 0) {
        return (Msg::Invalid, code);
    }
    let Some(&atyp) = b.get(3) else {
        return (Msg::Partial, code);
    };
    let addr_end = match atyp {
        1 => 4 + 4,
        4 => 4 + 16,
        3 => match b.get(4) {
            Some(&0) => return (Msg::Invalid, code),
            Some(&n) => 5 + usize::from(n),
            None => return (Msg::Partial, code),
        },
        _ => return (Msg::Invalid, code),
    };
    let end = addr_end + 2;
    if b.len() >= end {
        (Msg::Done(end), code)
    } else {
        (Msg::Partial, code)
    }
}

/// Does one direction open a SOCKS handshake that the other answers? `a` and `b` are the
/// first bytes of the two directions. On a match, returns which one is the client (`true`:
/// `a`) and the version.
pub fn probe(a: &[u8], b: &[u8]) -> (Probe, Option<(bool, Version)>) {
    let mut unsure = false;
    for (client_is_a, c, s) in [(true, a, b), (false, b, a)] {
        if c.is_empty() {
            continue;
        }
        // SOCKS 4/4a.
        match v4_request(c) {
            Msg::Done(_) => match v4_reply(s).0 {
                Msg::Done(_) => return (Probe::Match, Some((client_is_a, Version::V4))),
                Msg::Partial if s.len() >= 2 => {
                    return (Probe::Match, Some((client_is_a, Version::V4)))
                }
                Msg::Partial => unsure = true,
                Msg::Invalid => {}
            },
            Msg::Partial if s.is_empty() => unsure = true,
            _ => {}
        }
        // SOCKS 5.
        match v5_greeting(c) {
            Msg::Done(n) => {
                let methods = c.get(2..n).unwrap_or_default();
                match s {
                    [] | [5] => unsure = true,
                    [5, m, ..] if *m == 0xff || methods.contains(m) => {
                        return (Probe::Match, Some((client_is_a, Version::V5)))
                    }
                    _ => {}
                }
            }
            Msg::Partial if s.is_empty() => unsure = true,
            _ => {}
        }
    }
    (
        if unsure {
            Probe::Unsure
        } else {
            Probe::NoMatch
        },
        None,
    )
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum ClientStage {
    /// SOCKS 5 greeting, or the SOCKS 4 request.
    First,
    /// Sent the greeting; waiting for the server's method choice to know what follows.
    AwaitMethod,
    /// RFC 1929 user/password.
    Auth,
    /// SOCKS 5 request.
    Request,
    /// Request sent: what follows is tunnel data.
    Done,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum ServerStage {
    /// SOCKS 5 method choice, or the SOCKS 4 reply.
    First,
    /// RFC 1929 status.
    AuthStatus,
    /// SOCKS 5 reply.
    Reply,
    /// Granted: what follows is tunnel data.
    Done,
}

#[derive(Debug)]
struct Pending {
    buf: Vec<u8>,
    ts: Timestamp,
}

/// Where a SOCKS connection is.
enum State {
    Handshake {
        client: ClientStage,
        server: ServerStage,
        /// The server's SOCKS 5 method choice.
        method: Option<u8>,
        bufs: [Pending; 2],
    },
    Tunnel(Box<Recogniser>),
    Dead,
}

/// The parser of a SOCKS connection: its handshake, then a [`Recogniser`] for the tunnel.
pub struct SocksTunnel {
    version: Version,
    client: Dir,
    conn: ConnInfo,
    cfg: ProtocolConfig,
    depth: u8,
    /// The index of the tunnel's first exchange: exchanges go on being numbered from where
    /// the connection was (a SOCKS handshake inside a CONNECT tunnel comes after the
    /// CONNECT exchange).
    first_index: u64,
    state: State,
    failed: bool,
    gate: Option<crate::http::SharedGate>,
}

fn idx(d: Dir) -> usize {
    match d {
        Dir::ToResponder => 0,
        Dir::ToOriginator => 1,
    }
}

impl SocksTunnel {
    /// Hands `gate` to the HTTP parser of the tunnel (see [`crate::http::BodyGate`]).
    pub fn with_gate(mut self, gate: Option<crate::http::SharedGate>) -> Self {
        self.gate = gate;
        self
    }

    /// A SOCKS connection whose client sends on `client`; the tunnel's recogniser is at
    /// `depth + 1` and numbers its exchanges from `first_index`.
    pub fn new(
        version: Version,
        client: Dir,
        conn: ConnInfo,
        cfg: ProtocolConfig,
        depth: u8,
        first_index: u64,
    ) -> Self {
        let pending = || Pending {
            buf: Vec::new(),
            ts: Timestamp::default(),
        };
        SocksTunnel {
            version,
            client,
            conn,
            cfg,
            depth,
            first_index,
            gate: None,
            state: State::Handshake {
                client: ClientStage::First,
                server: ServerStage::First,
                method: None,
                bufs: [pending(), pending()],
            },
            failed: false,
        }
    }

    fn fail(&mut self) {
        self.failed = true;
        self.state = State::Dead;
    }

    /// Reads what the buffered handshake bytes allow; opens the tunnel when granted.
    fn advance(&mut self, out: &mut Vec<HttpEvent>) {
        let version = self.version;
        let ci = idx(self.client);
        let si = 1 - ci;
        let State::Handshake {
            client,
            server,
            method,
            bufs,
        } = &mut self.state
        else {
            return;
        };
        let mut bad = false;
        loop {
            let mut progress = false;
            // Client side.
            let cb = pick(bufs, ci).buf.as_slice();
            let (msg, next) = match (*client, version) {
                (ClientStage::First, Version::V4) => (v4_request(cb), ClientStage::Done),
                (ClientStage::First, Version::V5) => (v5_greeting(cb), ClientStage::AwaitMethod),
                (ClientStage::AwaitMethod, _) => match *method {
                    Some(0) => (Msg::Done(0), ClientStage::Request),
                    Some(2) => (Msg::Done(0), ClientStage::Auth),
                    Some(_) => (Msg::Invalid, ClientStage::Done),
                    None => (Msg::Partial, ClientStage::AwaitMethod),
                },
                (ClientStage::Auth, _) => (v5_userpass(cb), ClientStage::Request),
                (ClientStage::Request, _) => (v5_addr_msg(cb).0, ClientStage::Done),
                (ClientStage::Done, _) => (Msg::Partial, ClientStage::Done),
            };
            match msg {
                Msg::Done(n) => {
                    let b = &mut pick_mut(bufs, ci).buf;
                    b.drain(..n.min(b.len()));
                    *client = next;
                    progress = true;
                }
                Msg::Invalid => bad = true,
                Msg::Partial => {}
            }
            // Server side.
            let sb = pick(bufs, si).buf.as_slice();
            let (msg, next) = match (*server, version) {
                (ServerStage::First, Version::V4) => match v4_reply(sb) {
                    (Msg::Done(n), true) => (Msg::Done(n), ServerStage::Done),
                    (Msg::Done(_), false) => (Msg::Invalid, ServerStage::Done),
                    (m, _) => (m, ServerStage::Done),
                },
                (ServerStage::First, Version::V5) => match sb {
                    [5, m, ..] => {
                        *method = Some(*m);
                        let next = if *m == 2 {
                            ServerStage::AuthStatus
                        } else {
                            ServerStage::Reply
                        };
                        (Msg::Done(2), next)
                    }
                    [] | [5] => (Msg::Partial, ServerStage::First),
                    _ => (Msg::Invalid, ServerStage::First),
                },
                (ServerStage::AuthStatus, _) => match sb {
                    [1 | 5, 0, ..] => (Msg::Done(2), ServerStage::Reply),
                    [] | [1 | 5] => (Msg::Partial, ServerStage::AuthStatus),
                    _ => (Msg::Invalid, ServerStage::AuthStatus),
                },
                (ServerStage::Reply, _) => match v5_addr_msg(sb) {
                    (Msg::Done(n), 0) => (Msg::Done(n), ServerStage::Done),
                    (Msg::Done(_), _) => (Msg::Invalid, ServerStage::Done),
                    (m, _) => (m, ServerStage::Done),
                },
                (ServerStage::Done, _) => (Msg::Partial, ServerStage::Done),
            };
            match msg {
                Msg::Done(n) => {
                    let b = &mut pick_mut(bufs, si).buf;
                    b.drain(..n.min(b.len()));
                    *server = next;
                    progress = true;
                }
                Msg::Invalid => bad = true,
                Msg::Partial => {}
            }
            if bad || !progress {
                break;
            }
        }
        if bad {
            self.fail();
            return;
        }
        if *client != ClientStage::Done || *server != ServerStage::Done {
            if bufs.iter().any(|p| p.buf.len() > MAX_MESSAGE) {
                self.fail();
            }
            return;
        }
        // Granted: the tunnel's first bytes, the client's first.
        let c = std::mem::replace(
            pick_mut(bufs, ci),
            Pending {
                buf: Vec::new(),
                ts: Timestamp::default(),
            },
        );
        let s = std::mem::replace(
            pick_mut(bufs, si),
            Pending {
                buf: Vec::new(),
                ts: Timestamp::default(),
            },
        );
        let mut inner = Box::new(
            Recogniser::nested(
                self.cfg,
                self.conn,
                self.depth + 1,
                self.first_index,
                Some(self.client),
            )
            .with_gate(self.gate.clone()),
        );
        let server_dir = self.client.flip();
        if !c.buf.is_empty() {
            inner.on_data(self.client, c.ts, &c.buf, out);
        }
        if !s.buf.is_empty() {
            inner.on_data(server_dir, s.ts, &s.buf, out);
        }
        self.state = State::Tunnel(inner);
    }
}

impl StreamParser for SocksTunnel {
    fn wants_data(&self) -> bool {
        match &self.state {
            State::Handshake { .. } => true,
            State::Tunnel(r) => r.wants_data(),
            State::Dead => false,
        }
    }

    fn on_data(&mut self, dir: Dir, ts: Timestamp, data: &[u8], out: &mut Vec<HttpEvent>) {
        match &mut self.state {
            State::Handshake { bufs, .. } => {
                let p = pick_mut(bufs, idx(dir));
                if p.buf.is_empty() {
                    p.ts = ts;
                }
                // Take at most one message's worth beyond the cap; more fails below.
                let room = (MAX_MESSAGE + 1).saturating_sub(p.buf.len());
                let take = room.min(data.len());
                p.buf
                    .extend_from_slice(data.get(..take).unwrap_or_default());
                let rest = data.get(take..).unwrap_or_default();
                self.advance(out);
                if !rest.is_empty() {
                    // The handshake may have completed on the first part.
                    match &mut self.state {
                        State::Tunnel(r) => r.on_data(dir, ts, rest, out),
                        _ => self.fail(),
                    }
                }
            }
            State::Tunnel(r) => r.on_data(dir, ts, data, out),
            State::Dead => {}
        }
    }

    fn on_gap(&mut self, dir: Dir, ts: Timestamp, len: u64, out: &mut Vec<HttpEvent>) {
        match &mut self.state {
            State::Handshake { .. } => self.fail(),
            State::Tunnel(r) => r.on_gap(dir, ts, len, out),
            State::Dead => {}
        }
    }

    fn on_fin(&mut self, dir: Dir, ts: Timestamp, out: &mut Vec<HttpEvent>) {
        if let State::Tunnel(r) = &mut self.state {
            r.on_fin(dir, ts, out);
        }
    }

    fn on_close(&mut self, ts: Timestamp, out: &mut Vec<HttpEvent>) {
        match &mut self.state {
            State::Tunnel(r) => r.on_close(ts, out),
            State::Handshake { .. } => self.failed = true,
            State::Dead => {}
        }
    }

    fn add_stats(&self, into: &mut ProtocolStats) {
        if self.failed {
            into.socks_failed += 1;
        }
        if let State::Tunnel(r) = &self.state {
            r.add_stats(into);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socks4_and_4a_requests() {
        let v4 = b"\x04\x01\x00\x50\x0a\x00\x00\x01user\x00";
        assert_eq!(v4_request(v4), Msg::Done(v4.len()));
        assert_eq!(v4_request(&v4[..6]), Msg::Partial);
        let v4a = b"\x04\x01\x00\x50\x00\x00\x00\x01\x00example.com\x00";
        assert_eq!(v4_request(v4a), Msg::Done(v4a.len()));
        assert_eq!(v4_request(&v4a[..12]), Msg::Partial);
        assert_eq!(v4_request(b"\x04\x03"), Msg::Invalid);
        assert_eq!(v4_request(b"GET /"), Msg::Invalid);
        // An empty 4a host name is not a request.
        assert_eq!(
            v4_request(b"\x04\x01\x00\x50\x00\x00\x00\x01\x00\x00"),
            Msg::Invalid
        );
    }

    #[test]
    fn socks5_messages() {
        assert_eq!(v5_greeting(b"\x05\x02\x00\x02"), Msg::Done(4));
        assert_eq!(v5_greeting(b"\x05\x02\x00"), Msg::Partial);
        assert_eq!(v5_greeting(b"\x05\x00"), Msg::Invalid);
        let req = b"\x05\x01\x00\x03\x0bexample.com\x00\x50";
        assert_eq!(v5_addr_msg(req), (Msg::Done(req.len()), 1));
        assert_eq!(v5_addr_msg(&req[..8]).0, Msg::Partial);
        assert_eq!(
            v5_addr_msg(b"\x05\x00\x00\x01\x7f\x00\x00\x01\x00\x50"),
            (Msg::Done(10), 0)
        );
        assert_eq!(v5_addr_msg(b"\x05\x00\x00\x07").0, Msg::Invalid);
        assert_eq!(v5_userpass(b"\x01\x01u\x01p"), Msg::Done(5));
    }

    #[test]
    fn probe_needs_an_answer() {
        let g = b"\x05\x01\x00";
        assert_eq!(probe(g, b"").0, Probe::Unsure);
        assert_eq!(
            probe(g, b"\x05\x00"),
            (Probe::Match, Some((true, Version::V5)))
        );
        assert_eq!(
            probe(b"\x05\x00", g),
            (Probe::Match, Some((false, Version::V5)))
        );
        // A method the client did not offer is no answer.
        assert_eq!(probe(g, b"\x05\x02").0, Probe::NoMatch);
        assert_eq!(probe(g, b"HTTP/1.1 200 OK\r\n").0, Probe::NoMatch);
        let v4 = b"\x04\x01\x00\x50\x0a\x00\x00\x01\x00";
        assert_eq!(
            probe(v4, b"\x00\x5a"),
            (Probe::Match, Some((true, Version::V4)))
        );
        assert_eq!(probe(b"GET / HTTP/1.1\r\n", b"").0, Probe::NoMatch);
    }
}
