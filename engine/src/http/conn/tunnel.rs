//! Upgrades and tunnels: 101 Switching Protocols (with the hand-over to HTTP/2 after `h2c`), and CONNECT tunnels, handed back to the recogniser.

use super::*;

/// A parser hands the connection to another protocol (see [`HttpConn::take_switch`]).
#[derive(Debug)]
pub struct Switch {
    /// The protocol the connection continues in.
    pub to: SwitchTo,
    /// The direction whose call caused the switch.
    pub dir: Dir,
    /// Bytes of that call after the switch point (they belong to the new protocol).
    pub rest: Vec<u8>,
    /// Timestamp of those bytes.
    pub ts: Timestamp,
    /// Bytes the other direction had already sent past the switch point (a client's first
    /// bytes into a CONNECT tunnel sent before the 2xx arrived): fed first.
    pub early: Vec<u8>,
    /// Timestamp of the first of those bytes.
    pub early_ts: Timestamp,
    /// The next exchange index to use on this connection (indexes continue).
    pub next_index: u64,
    /// The direction of the client, as the parser found it.
    pub client: Dir,
    /// After an `h2c` upgrade: the upgraded HTTP/1.1 exchange (request, 101), not emitted by
    /// HTTP/1. Its request is answered on HTTP/2 stream 1, which emits it with that
    /// response (RFC 7540 §3.2); with no HTTP/2 parser it is emitted as it is.
    pub upgraded: Option<Box<Exchange>>,
}

/// What a connection switches to.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SwitchTo {
    /// HTTP/2 after an HTTP/1.1 `Upgrade: h2c` answered `101 Switching Protocols`: the
    /// server's HTTP/2 frames follow the 101 head; the client sends the connection preface
    /// next. The upgraded request is answered on stream 1 ([`Switch::upgraded`]).
    H2cUpgrade,
    /// A CONNECT answered 2xx: the tunnel's bytes are recognised afresh (by the protocol
    /// layer), like a new connection's (HTTP/1, the HTTP/2 preface, TLS, ...), with the
    /// client known.
    Tunnel,
}

impl HttpConn {
    /// Exchange `idx` was answered 101: parsing stops for good (the bytes after the 101 head
    /// go to HTTP/2 after an `h2c` upgrade).
    pub(super) fn upgrade(&mut self, idx: u64, out: &mut Vec<HttpEvent>) {
        self.stats.upgraded += 1;
        self.ended = Some(Ended::Upgraded);
        let h2c = self.entry_mut(idx).is_some_and(|e| {
            let asked = e.request.as_ref().is_some_and(|q| upgrade_to_h2c(&q.head));
            let agreed = e.response.as_ref().is_some_and(|p| upgrade_to_h2c(&p.head));
            asked && agreed
        });
        let mut collect = None;
        if let (true, Some(c)) = (h2c, self.client) {
            let srv = c.flip();
            self.switch = Some(Switch {
                to: SwitchTo::H2cUpgrade,
                dir: srv,
                rest: Vec::new(),
                ts: self.side_ref(srv).last_ts,
                early: Vec::new(),
                early_ts: Timestamp::default(),
                next_index: self.next_index,
                client: c,
                upgraded: None,
            });
            collect = Some(srv);
        }
        if let Some(e) = self.entry_mut(idx) {
            e.flags |= bit(Flag::Upgraded);
            e.req_done = true;
            e.resp_done = true;
        }
        for s in [Dir::ToResponder, Dir::ToOriginator] {
            let to = if collect == Some(s) {
                St::Tunnel
            } else {
                St::Dead
            };
            self.side(s).set(to);
        }
        let from = out.len();
        self.flush_all(out);
        if collect.is_some() {
            // The upgraded request is answered on HTTP/2 stream 1, which emits its exchange
            // with that response (the 101 is not the answer): hand it over, not emitted here.
            let pos = out
                .iter()
                .enumerate()
                .skip(from)
                .find(|(_, ev)| matches!(ev, HttpEvent::Done(x) if x.index == idx))
                .map(|(i, _)| i);
            if let (Some(p), Some(sw)) = (pos, self.switch.as_mut()) {
                if let HttpEvent::Done(x) = out.remove(p) {
                    sw.upgraded = Some(x);
                }
            }
        }
    }

    /// CONNECT `idx` was answered 2xx: finish it. If the client already sent requests
    /// through the tunnel they are HTTP and parsing goes on; otherwise the tunnel's bytes go
    /// back to the recogniser (a [`SwitchTo::Tunnel`]), which tells what they carry.
    pub(super) fn open_tunnel(&mut self, idx: u64, out: &mut Vec<HttpEvent>) {
        let Some(c) = self.client else {
            self.upgrade(idx, out);
            return;
        };
        let later = self
            .queue
            .iter()
            .any(|e| e.index > idx && e.request.is_some());
        let clean = matches!(self.side_ref(c).st(), St::Head(h) if !h.resync);
        if !later && !clean {
            // The client is inside something else (a body, garbage): cannot tell where the
            // tunnel starts.
            self.upgrade(idx, out);
            return;
        }
        self.stats.upgraded += 1;
        if let Some(e) = self.entry_mut(idx) {
            e.flags |= bit(Flag::Upgraded);
            e.req_done = true;
            e.resp_done = true;
        }
        let srv = c.flip();
        if later {
            // The client already sent requests through the tunnel: they are HTTP.
            self.side(srv).go_head(false);
            self.stats.http_tunnels += 1;
            self.emit_ready(out);
            return;
        }
        // What the client sent early (a partial head) is the tunnel's first bytes.
        let (early, early_ts) = match self.side(c).go(St::Tunnel) {
            St::Head(h) => (h.buf, h.ts),
            _ => (Vec::new(), Timestamp::default()),
        };
        self.side(srv).set(St::Tunnel);
        self.ended = Some(Ended::Upgraded);
        self.switch = Some(Switch {
            to: SwitchTo::Tunnel,
            dir: srv,
            rest: Vec::new(),
            ts: self.side_ref(srv).last_ts,
            early,
            early_ts,
            next_index: self.next_index,
            client: c,
            upgraded: None,
        });
        self.emit_ready(out);
    }
}
