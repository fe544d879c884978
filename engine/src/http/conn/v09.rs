//! HTTP/0.9: version-less request lines (with or without header lines after them) and the replies read until close (Zeek semantics; see the module docs).

use super::*;

impl HttpConn {
    /// A version-less request line: open its exchange right away (the server may answer
    /// before anything else comes from the client).
    pub(super) fn open_v09_request(
        &mut self,
        s: S,
        rl: parser::RequestLine,
        ts: Timestamp,
        out: &mut Vec<HttpEvent>,
    ) {
        let head_ts = self.side_ref(s).head_ts;
        let req = Request {
            method: rl.method,
            uri: rl.uri,
            version: "HTTP/0.9".to_string(),
            headers: Vec::new(),
            body_len: 0,
            body: self.cfg.keep_bodies.then(Vec::new),
            ts_start: head_ts,
            ts_end: ts,
        };
        self.stats.requests += 1;
        let idx = self.new_entry(Some(req), None, head_ts, out);
        if let Some(e) = self.entry_mut(idx) {
            e.req_09 = true;
            e.flags |= bit(Flag::Malformed);
        }
        let side = self.side(s);
        side.v09 = true;
        side.cur = Some(idx);
        // Zeek: a 0.9 request makes the server's next bytes its reply, ending an unpaired
        // response still waiting for body bytes (`http-09-content-length-confusion`).
        let srv = s.other();
        if self.side_ref(srv).phase == Phase::Body {
            if let Some(cur) = self.side_ref(srv).cur {
                let unpaired = self.entry_mut(cur).is_some_and(|e| e.request.is_none());
                if unpaired {
                    self.finish_body(srv, bit(Flag::Truncated), out);
                }
            }
        }
    }

    pub(super) fn finish_v09_request(&mut self, s: S, out: &mut Vec<HttpEvent>) {
        let side = self.side(s);
        let cur = side.cur.take();
        side.reset_head();
        if let Some(idx) = cur {
            if let Some(e) = self.entry_mut(idx) {
                e.req_done = true;
            }
        }
        self.emit_ready(out);
    }

    /// The version-less request ended at `fl` (end of its line) because a new request line
    /// follows. Returns bytes of the current input consumed.
    pub(super) fn finish_v09_with_leftover(
        &mut self,
        s: S,
        fl: usize,
        base: usize,
        ts: Timestamp,
        out: &mut Vec<HttpEvent>,
    ) -> usize {
        let side = self.side(s);
        let buf = std::mem::take(&mut side.buf);
        self.finish_v09_request(s, out);
        self.side(s).head_ts = ts;
        if fl >= base {
            // The next line starts in the current input: just rewind.
            fl - base
        } else {
            // Replay the bytes buffered from earlier inputs; the current input follows.
            let old = buf.get(fl..base).map(<[u8]>::to_vec).unwrap_or_default();
            self.feed(s, ts, &old, out);
            0
        }
    }

    /// The server starts answering: a version-less request with nothing after its line is
    /// complete.
    pub(super) fn finalize_v09_client(&mut self, out: &mut Vec<HttpEvent>) {
        let Some(c) = self.client else { return };
        let side = self.side(c);
        if !side.v09 || side.v09_headers {
            return;
        }
        let fl = side.scan.first_line_end.unwrap_or(0);
        let rest = side.buf.get(fl..).map(<[u8]>::to_vec).unwrap_or_default();
        self.finish_v09_request(c, out);
        let side = self.side(c);
        side.buf = rest;
        side.scan = HeadScan::default();
        side.checked = false;
    }

    pub(super) fn is_09(&self, idx: u64) -> bool {
        self.queue.iter().any(|e| e.index == idx && e.req_09)
    }

    pub(super) fn start_09_reply(
        &mut self,
        s: S,
        idx: u64,
        ts: Timestamp,
        out: &mut Vec<HttpEvent>,
    ) {
        let resp = Response {
            status: None,
            status_text: String::new(),
            reason: String::new(),
            version: "HTTP/0.9".to_string(),
            headers: Vec::new(),
            body_len: 0,
            body: None,
            ts_start: ts,
            ts_end: ts,
        };
        self.stats.responses += 1;
        if let Some(e) = self.entry_mut(idx) {
            e.response = Some(resp);
        }
        let limits = self.limits();
        let side = self.side(s);
        side.cur = Some(idx);
        side.body = Some(BodyState {
            framing: Framing::UntilClose,
            dec: ContentDecoder::new(Coding::Identity, limits),
        });
        side.set_phase(Phase::Body);
        let _ = out;
    }
}
