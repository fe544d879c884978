//! HTTP/0.9: version-less request lines (with or without header lines after them) and the replies read until close (Zeek semantics; see the module docs).

use super::*;

impl HttpConn {
    /// A version-less request line (its parts in `line`; it ends at `fl` in the head
    /// buffer): open its exchange
    /// right away (the server may answer before anything else comes from the client) and
    /// go to [`St::V09`].
    pub(super) fn open_v09_request(
        &mut self,
        s: Dir,
        line: MessageHead,
        fl: usize,
        ts: Timestamp,
        out: &mut Vec<HttpEvent>,
    ) {
        let Some(h) = self.side(s).head_mut() else {
            return;
        };
        let head = Head {
            buf: std::mem::take(&mut h.buf),
            scan: HeadScan {
                line_start: fl,
                first_line_end: Some(fl),
            },
            checked: true,
            ts: h.ts,
            resync: h.resync,
        };
        let req = Request {
            head: line,
            body_len: 0,
            wire_len: 0,
            body: self.cfg.keep_bodies.then(Vec::new),
            ts_start: head.ts,
            ts_end: ts,
        };
        self.stats.requests += 1;
        let idx = self.new_entry(Some(req), None, head.ts, out);
        if let Some(e) = self.entry_mut(idx) {
            e.req_09 = true;
            e.flags |= bit(Flag::Malformed);
        }
        self.side(s).set(St::V09(V09 {
            head,
            cur: idx,
            headers: false,
        }));
        // Zeek: a 0.9 request makes the server's next bytes its reply, ending an unpaired
        // response still waiting for body bytes (`http-09-content-length-confusion`).
        let srv = s.flip();
        if let Some(cur) = self.side_ref(srv).cur() {
            let unpaired = self.entry_mut(cur).is_some_and(|e| e.request.is_none());
            if unpaired {
                self.finish_body(srv, bit(Flag::Truncated), out);
            }
        }
    }

    /// The version-less request on `s` is complete: back to [`St::Head`]. Returns the
    /// buffer it held (the request line and what followed).
    pub(super) fn finish_v09_request(&mut self, s: Dir, out: &mut Vec<HttpEvent>) -> Vec<u8> {
        let side = self.side(s);
        let resync = side.head().is_some_and(|h| h.resync);
        let next = side.new_head(resync);
        let St::V09(v) = side.go(next) else {
            return Vec::new();
        };
        if let Some(e) = self.entry_mut(v.cur) {
            e.req_done = true;
        }
        self.emit_ready(out);
        v.head.buf
    }

    /// The version-less request ended at `fl` (end of its line) because a new request line
    /// follows. Returns bytes of the current input consumed.
    pub(super) fn finish_v09_with_leftover(
        &mut self,
        s: Dir,
        fl: usize,
        base: usize,
        ts: Timestamp,
        out: &mut Vec<HttpEvent>,
    ) -> usize {
        let buf = self.finish_v09_request(s, out);
        if let Some(h) = self.side(s).head_mut() {
            h.ts = ts;
        }
        if fl >= base {
            // The next line starts in the current input: just rewind.
            self.side(s).recycle(buf);
            fl - base
        } else {
            // Replay the bytes buffered from earlier inputs; the current input follows.
            let old = buf.get(fl..base).map(<[u8]>::to_vec).unwrap_or_default();
            self.side(s).recycle(buf);
            self.feed(s, ts, &old, out);
            0
        }
    }

    /// The server starts answering: a version-less request with nothing after its line is
    /// complete (what the client sent after that line is the start of its next head).
    pub(super) fn finalize_v09_client(&mut self, out: &mut Vec<HttpEvent>) {
        let Some(c) = self.client else { return };
        let (fl, t0) = match self.side_ref(c).st() {
            St::V09(v) if !v.headers => (v.head.scan.first_line_end.unwrap_or(0), v.head.ts),
            _ => return,
        };
        let buf = self.finish_v09_request(c, out);
        let rest = buf.get(fl..).map(<[u8]>::to_vec).unwrap_or_default();
        let side = self.side(c);
        side.recycle(buf);
        if let Some(h) = side.head_mut() {
            h.buf.extend_from_slice(&rest);
            h.ts = t0;
        }
    }

    pub(super) fn is_09(&self, idx: u64) -> bool {
        self.queue.iter().any(|e| e.index == idx && e.req_09)
    }

    /// The reply to the version-less request `idx` starts: no head, a body until close.
    pub(super) fn start_09_reply(&mut self, s: Dir, idx: u64, ts: Timestamp) {
        let resp = Response {
            status: None,
            head: MessageHead::new(["HTTP/0.9", "", ""]),
            body_len: 0,
            wire_len: 0,
            body: None,
            ts_start: ts,
            ts_end: ts,
        };
        self.stats.responses += 1;
        if let Some(e) = self.entry_mut(idx) {
            e.response = Some(resp);
        }
        let dec = ContentDecoder::new(Coding::Identity, self.limits());
        self.side(s).set(St::Body(Body {
            cur: idx,
            framing: Framing::UntilClose,
            dec,
        }));
    }
}
