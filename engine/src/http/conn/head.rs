//! Message heads: finding the end of a head (with the start-line plausibility check and the head cap), then turning a request or response head into an exchange entry and starting its body.

use super::*;

impl HttpConn {
    /// One step in [`St::Head`] or [`St::V09`]. Returns how many bytes of `data` were
    /// consumed.
    pub(super) fn head_step(
        &mut self,
        s: Dir,
        ts: Timestamp,
        data: &[u8],
        out: &mut Vec<HttpEvent>,
    ) -> usize {
        let role = self.side_ref(s).role;
        let mut skipped = 0;
        if matches!(self.side_ref(s).st(), St::Head(h) if h.buf.is_empty()) {
            // A new message starts here.
            if role == Role::Server {
                self.finalize_v09_client(out);
                if let Some(idx) = self.first_unanswered().filter(|&i| self.is_09(i)) {
                    self.start_09_reply(s, idx, ts);
                    return 0;
                }
            }
            // Skip blank lines between messages.
            skipped = data
                .iter()
                .position(|&b| b != b'\r' && b != b'\n')
                .unwrap_or(data.len());
            if skipped == data.len() {
                return skipped;
            }
            if let Some(h) = self.side(s).head_mut() {
                h.ts = ts;
            }
        }
        let data = data.get(skipped..).unwrap_or_default();
        let cap = self.cfg.head_cap;
        let Some(h) = self.side(s).head_mut() else {
            return skipped;
        };
        let base = h.buf.len();
        let room = (cap + 1).saturating_sub(base);
        let take = room.min(data.len());
        h.buf
            .extend_from_slice(data.get(..take).unwrap_or_default());

        if !h.checked {
            let resync = h.resync;
            let v = match role {
                Role::Client => parser::sniff_request(&h.buf, resync),
                _ => parser::sniff_status_line(&h.buf, resync),
            };
            let v = if v == Verdict::NeedMore && h.buf.len() > cap {
                Verdict::Neither
            } else {
                v
            };
            match v {
                Verdict::NeedMore => return skipped + take,
                Verdict::Neither => {
                    // Garbage: drop through the end of this line and look again.
                    let nl = memchr(b'\n', &h.buf);
                    if !resync {
                        self.parse_error(ParseError::NotAStartLine);
                        self.stats.resyncs += 1;
                    }
                    let side = self.side(s);
                    let consumed = match nl {
                        Some(p) => {
                            side.go_head(true);
                            (p + 1).saturating_sub(base)
                        }
                        None => {
                            side.set(St::SkipLine);
                            take
                        }
                    };
                    return skipped + consumed;
                }
                Verdict::Request | Verdict::Response => h.checked = true,
            }
        }

        // Find the end of the head.
        loop {
            let side = self.side(s);
            let in_v09 = matches!(side.st(), St::V09(_));
            let Some(h) = side.head_mut() else {
                return skipped + take;
            };
            let had_first = h.scan.first_line_end.is_some();
            let end = h.scan.scan(&h.buf);
            // Client: the request line is complete; version-less lines are special.
            if role == Role::Client && !had_first && !in_v09 {
                if let Some(fl) = h.scan.first_line_end {
                    let line = parser::trim_eol(h.buf.get(..fl).unwrap_or_default());
                    // most lines end in a version: only the others need the full parse
                    let parsed = if parser::ends_in_version(line) {
                        None
                    } else {
                        parser::parse_request_line(line).ok()
                    };
                    if let Some(rl) = parsed {
                        if rl.version.is_none() {
                            let mut b = HeadBuilder::new(line, 0);
                            b.set_part(0, rl.method);
                            b.set_part(1, rl.uri);
                            b.set_part_str(2, "HTTP/0.9");
                            let head = b.finish();
                            self.open_v09_request(s, head, fl, ts, out);
                            // Re-scan the following lines one at a time.
                            continue;
                        }
                    }
                }
            }
            if let St::V09(v) = self.side(s).st_mut() {
                if !v.headers {
                    // The line after a version-less request line decides.
                    let buf = &v.head.buf;
                    let fl = v.head.scan.first_line_end.unwrap_or(0);
                    let next_end =
                        memchr(b'\n', buf.get(fl..).unwrap_or_default()).map(|p| fl + p + 1);
                    match next_end {
                        None if buf.len() <= cap => {
                            v.head.scan.line_start = fl;
                            return skipped + take;
                        }
                        // Over the head cap with no line end: oversized, handled below.
                        None => v.head.scan.line_start = fl,
                        Some(ne) => {
                            let line = parser::trim_eol(buf.get(fl..ne).unwrap_or_default());
                            if line.is_empty() {
                                let consumed = ne.saturating_sub(base);
                                let buf = self.finish_v09_request(s, out);
                                self.side(s).recycle(buf);
                                return skipped + consumed;
                            }
                            if parser::sniff_request(buf.get(fl..).unwrap_or_default(), false)
                                == Verdict::Request
                            {
                                // Next request: this one had no headers.
                                return skipped
                                    + self.finish_v09_with_leftover(s, fl, base, ts, out);
                            }
                            v.headers = true;
                            v.head.scan = HeadScan {
                                line_start: fl,
                                first_line_end: Some(fl),
                            };
                            continue;
                        }
                    }
                }
            }
            match end {
                Some(end) => {
                    let side = self.side(s);
                    // The next head keeps this one's strictness.
                    let resync = side.head().is_some_and(|h| h.resync);
                    let next = side.new_head(resync);
                    let (head, head_ts, v09) = match side.go(next) {
                        St::Head(h) => (h.buf, h.ts, None),
                        St::V09(v) => (v.head.buf, v.head.ts, Some(v.cur)),
                        _ => return skipped + take,
                    };
                    let consumed = end.saturating_sub(base);
                    let leftover = if end < base {
                        head.get(end..base).map(<[u8]>::to_vec)
                    } else {
                        None
                    };
                    let head_slice = head.get(..end).unwrap_or_default();
                    match role {
                        Role::Client => {
                            self.on_request_head(s, head_slice, v09, head_ts, ts, false, out)
                        }
                        _ => self.on_response_head(s, head_slice, head_ts, ts, false, out),
                    }
                    // Give the buffer's allocation back for the next head.
                    self.side(s).recycle(head);
                    if let Some(l) = leftover {
                        self.feed(s, ts, &l, out);
                    }
                    return skipped + consumed;
                }
                None => {
                    if self.side_ref(s).head().is_some_and(|h| h.buf.len() > cap) {
                        self.parse_error(ParseError::HeadTooLarge);
                        self.stats.resyncs += 1;
                        let side = self.side(s);
                        let v09 = side.cur();
                        side.set(St::SkipLine);
                        if let Some(idx) = v09 {
                            if let Some(e) = self.entry_mut(idx) {
                                e.flags |= bit(Flag::Malformed);
                                e.req_done = true;
                            }
                            self.emit_ready(out);
                        }
                    }
                    return skipped + take;
                }
            }
        }
    }

    /// A complete (or, with `truncated`, cut) request head: a new exchange, or the headers
    /// of the version-less request `v09`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_request_head(
        &mut self,
        s: Dir,
        head: &[u8],
        v09: Option<u64>,
        head_ts: Timestamp,
        ts: Timestamp,
        truncated: bool,
        out: &mut Vec<HttpEvent>,
    ) {
        let fl = memchr(b'\n', head).map_or(head.len(), |p| p + 1);
        let lines = head.get(fl..).unwrap_or_default();
        let mut flags = 0u16;
        if truncated {
            flags |= bit(Flag::Truncated);
        }
        let (idx, f) = if let Some(idx) = v09 {
            // Headers after a version-less request line, into that request's head.
            let taken = self
                .entry_mut(idx)
                .and_then(|e| e.request.as_mut())
                .map(|r| std::mem::take(&mut r.head));
            let mut b = HeadBuilder::extend(taken.unwrap_or_default(), lines);
            let (bad_headers, f) = parser::parse_headers(lines, &mut b);
            if bad_headers || f.bad_content_length {
                flags |= bit(Flag::Malformed);
            }
            if let Some(e) = self.entry_mut(idx) {
                if let Some(r) = e.request.as_mut() {
                    r.head = b.finish();
                    r.ts_end = ts;
                }
                e.flags |= flags;
            }
            (idx, f)
        } else {
            let line = parser::trim_eol(head.get(..fl).unwrap_or_default());
            let rl = match parser::parse_request_line(line) {
                Ok(rl) => rl,
                Err(e) => {
                    self.parse_error(e);
                    return;
                }
            };
            let mut b = HeadBuilder::pooled(&self.pool, head, parser::field_room(lines));
            b.set_part(0, rl.method);
            b.set_part(1, rl.uri);
            match rl.version {
                Some(v) => b.set_part(2, v),
                None => b.set_part_str(2, "HTTP/0.9"),
            }
            let (bad_headers, f) = parser::parse_headers(lines, &mut b);
            if bad_headers || f.bad_content_length || rl.malformed {
                flags |= bit(Flag::Malformed);
            }
            let req = Request {
                head: b.finish(),
                body_len: 0,
                wire_len: 0,
                body: self.cfg.keep_bodies.then(Vec::new),
                ts_start: head_ts,
                ts_end: ts,
            };
            self.stats.requests += 1;
            let idx = self.new_entry(Some(req), None, head_ts, out);
            if let Some(e) = self.entry_mut(idx) {
                e.flags |= flags;
            }
            (idx, f)
        };
        let keep = self.keep_request_body(idx);
        let framing = if truncated {
            None
        } else if f.chunked {
            Some(Framing::Chunked(Chunked::new()))
        } else {
            match f.content_length {
                Some(n) if n > 0 => Some(Framing::Length(n)),
                _ => None,
            }
        };
        self.start_body(s, idx, framing, &f.codings, keep, out);
    }

    /// Asks the body gate about the request of exchange `idx` (kept without a gate);
    /// a skipped body's `body` becomes `None`.
    fn keep_request_body(&mut self, idx: u64) -> bool {
        let Some(gate) = self.gate.clone().filter(|_| self.cfg.keep_bodies) else {
            return true;
        };
        let server = self.server();
        let Some(e) = self.entry_mut(idx) else {
            return true;
        };
        let Some(q) = e.request.as_mut() else {
            return true;
        };
        let g = gate.0.request(server, q);
        if !g.keep {
            q.body = None;
        }
        e.req_kept = g.keep;
        e.gate_key = Some(g.key);
        g.keep
    }

    /// Asks the body gate about the response of exchange `idx`.
    fn keep_response_body(&mut self, idx: u64) -> bool {
        let Some(gate) = self.gate.clone().filter(|_| self.cfg.keep_bodies) else {
            return true;
        };
        let server = self.server();
        let Some(e) = self.entry_mut(idx) else {
            return true;
        };
        let Some(p) = e.response.as_ref() else {
            return true;
        };
        let keep = gate
            .0
            .response(server, e.request.as_ref(), e.gate_key, e.req_kept, p);
        if !keep {
            if let Some(p) = e.response.as_mut() {
                p.body = None;
            }
        }
        keep
    }

    /// A complete (or, with `truncated`, cut) response head: paired with the oldest request
    /// waiting, or an unpaired response.
    pub(super) fn on_response_head(
        &mut self,
        s: Dir,
        head: &[u8],
        head_ts: Timestamp,
        ts: Timestamp,
        truncated: bool,
        out: &mut Vec<HttpEvent>,
    ) {
        let fl = memchr(b'\n', head).map_or(head.len(), |p| p + 1);
        let line = parser::trim_eol(head.get(..fl).unwrap_or_default());
        let sl = match parser::parse_status_line(line) {
            Ok(sl) => sl,
            Err(e) => {
                self.parse_error(e);
                return;
            }
        };
        if let Some(code) = sl.status {
            if (100..200).contains(&code) && code != 101 {
                self.stats.interim_responses += 1;
                return;
            }
        }
        let lines = head.get(fl..).unwrap_or_default();
        let mut b = HeadBuilder::pooled(&self.pool, head, parser::field_room(lines));
        b.set_part(0, sl.version);
        b.set_part(1, sl.status_text);
        b.set_part(2, sl.reason);
        let (bad_headers, f) = parser::parse_headers(lines, &mut b);
        let mut flags = 0u16;
        if bad_headers || sl.malformed || f.bad_content_length {
            flags |= bit(Flag::Malformed);
        }
        if truncated {
            flags |= bit(Flag::Truncated);
        }
        let resp = Response {
            status: sl.status,
            head: b.finish(),
            body_len: 0,
            wire_len: 0,
            body: self.cfg.keep_bodies.then(Vec::new),
            ts_start: head_ts,
            ts_end: ts,
        };
        self.stats.responses += 1;
        let (idx, is_head, is_connect) = match self.first_unanswered() {
            Some(idx) => {
                let (mut is_head, mut is_connect) = (false, false);
                if let Some(e) = self.entry_mut(idx) {
                    if let Some(q) = e.request.as_ref() {
                        is_head = q.method().eq_ignore_ascii_case("HEAD");
                        is_connect = q.method().eq_ignore_ascii_case("CONNECT");
                    }
                    e.response = Some(resp);
                }
                (idx, is_head, is_connect)
            }
            None => (self.new_entry(None, Some(resp), head_ts, out), false, false),
        };
        if let Some(e) = self.entry_mut(idx) {
            e.flags |= flags;
        }
        let code = sl.status.unwrap_or(0);
        if code == 101 {
            self.upgrade(idx, out);
            return;
        }
        if is_connect && (200..300).contains(&code) {
            self.open_tunnel(idx, out);
            return;
        }
        let no_body = truncated || is_head || code == 204 || code == 304;
        let framing = if no_body {
            None
        } else if f.chunked {
            Some(Framing::Chunked(Chunked::new()))
        } else {
            match f.content_length {
                Some(0) => None,
                Some(n) => Some(Framing::Length(n)),
                None => Some(Framing::UntilClose),
            }
        };
        let keep = self.keep_response_body(idx);
        self.start_body(s, idx, framing, &f.codings, keep, out);
    }
}
