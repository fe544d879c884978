//! Upgrades and tunnels: 101 Switching Protocols (with the hand-over to HTTP/2 after `h2c`), CONNECT tunnels and the sniffing of their first bytes.

use super::*;

impl HttpConn {
    pub(super) fn upgrade(&mut self, idx: u64, out: &mut Vec<HttpEvent>) {
        self.stats.upgraded += 1;
        self.upgraded = true;
        let h2c = self.entry_mut(idx).is_some_and(|e| {
            let asked = e
                .request
                .as_ref()
                .is_some_and(|q| upgrade_to_h2c(&q.headers));
            let agreed = e
                .response
                .as_ref()
                .is_some_and(|p| upgrade_to_h2c(&p.headers));
            asked && agreed
        });
        if let (true, Some(c)) = (h2c, self.client) {
            let ts = self.side_ref(c.other()).last_ts;
            self.switch = Some(Switch {
                to: SwitchTo::H2cUpgrade,
                dir: dir_of(c.other()),
                rest: Vec::new(),
                ts,
                next_index: self.next_index,
                client: dir_of(c),
            });
        }
        if let Some(e) = self.entry_mut(idx) {
            e.flags |= bit(Flag::Upgraded);
            e.req_done = true;
            e.resp_done = true;
        }
        for s in [S::Up, S::Down] {
            let side = self.side(s);
            side.set_phase(Phase::Dead);
            side.body = None;
            side.buf = Vec::new();
        }
        self.flush_all(out);
    }

    /// CONNECT `idx` was answered 2xx: finish it and watch the tunnel (see the module docs).
    pub(super) fn open_tunnel(&mut self, idx: u64, out: &mut Vec<HttpEvent>) {
        let Some(c) = self.client else {
            self.upgrade(idx, out);
            return;
        };
        let later = self
            .queue
            .iter()
            .any(|e| e.index > idx && e.request.is_some());
        let cs = self.side_ref(c);
        let clean = matches!(cs.phase, Phase::Head { resync: false }) && !cs.v09;
        if !later && !clean {
            self.upgrade(idx, out);
            return;
        }
        self.stats.upgraded += 1;
        if let Some(e) = self.entry_mut(idx) {
            e.flags |= bit(Flag::Upgraded);
            e.req_done = true;
            e.resp_done = true;
        }
        let srv = c.other();
        let server = self.side(srv);
        server.body = None;
        server.cur = None;
        server.reset_head();
        if later {
            // The client already sent requests through the tunnel: they are HTTP.
            server.set_phase(Phase::Head { resync: false });
            self.stats.http_tunnels += 1;
            self.emit_ready(out);
            return;
        }
        server.set_phase(Phase::Sniff);
        self.tunnel = true;
        self.emit_ready(out);
        // What the client sent early (a partial head) is the tunnel's first bytes.
        let client = self.side(c);
        let early = std::mem::take(&mut client.buf);
        let t0 = client.head_ts;
        client.reset_head();
        client.set_phase(Phase::Sniff);
        if !early.is_empty() {
            self.tunnel_sniff(c, t0, &early, out);
        }
    }

    /// Bytes from `s` while a fresh CONNECT tunnel is undecided.
    pub(super) fn tunnel_sniff(
        &mut self,
        s: S,
        ts: Timestamp,
        data: &[u8],
        out: &mut Vec<HttpEvent>,
    ) {
        if Some(s) != self.client {
            // A server speaking first is not answering an HTTP request (stray line ends
            // after the CONNECT response are no evidence: libhtp and Zeek skip them too).
            if data.iter().any(|&b| b != b'\r' && b != b'\n') {
                self.close_tunnel();
            }
            return;
        }
        let cap = self.cfg.head_cap;
        let side = self.side(s);
        let appended = side.sniff_append(ts, data, cap);
        match parser::sniff_request(side.sniff_view(), false) {
            Verdict::Request => {
                let t0 = side.head_ts;
                let bytes = std::mem::take(&mut side.buf);
                side.set_phase(Phase::Head { resync: false });
                self.tunnel = false;
                self.stats.http_tunnels += 1;
                let server = self.side(s.other());
                if server.phase == Phase::Sniff {
                    server.set_phase(Phase::Head { resync: false });
                }
                self.feed(s, t0, &bytes, out);
                let rest = data.get(appended..).unwrap_or_default();
                if !rest.is_empty() {
                    self.feed(s, ts, rest, out);
                }
            }
            Verdict::NeedMore if side.buf.len() <= cap => {}
            _ => self.close_tunnel(),
        }
    }

    /// The tunnel does not carry HTTP: stop parsing, as after 101.
    pub(super) fn close_tunnel(&mut self) {
        self.tunnel = false;
        self.upgraded = true;
        for s in [S::Up, S::Down] {
            let side = self.side(s);
            side.set_phase(Phase::Dead);
            side.body = None;
            side.buf = Vec::new();
        }
    }
}
