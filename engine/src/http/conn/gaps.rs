//! Capture gaps and the end of a direction (FIN or close).

use super::*;

impl HttpConn {
    pub(super) fn gap(&mut self, s: Dir, len: u64, out: &mut Vec<HttpEvent>) {
        if self.ended.is_some() {
            return;
        }
        let side = self.side(s);
        match side.st_mut() {
            St::Dead | St::Tunnel => {}
            // Sniffing: what was buffered no longer leads anywhere.
            St::Sniff { buf, .. } => buf.clear(),
            St::Foreign { seen } => {
                let seen = *seen;
                side.set(St::Sniff {
                    buf: Vec::new(),
                    t0: Timestamp::default(),
                    seen,
                });
            }
            St::SkipLine => side.go_head(true),
            St::Head(_) | St::V09(_) => {
                let resync = side.head().is_some_and(|h| h.resync);
                // On the server side the gap took (the start of) a response: the one of the
                // oldest request waiting, which must not take the next response found.
                let lost = side.role == Role::Server && !resync && self.lose_response(out);
                let side = self.side(s);
                let v09 = side.cur();
                let had = side.head().is_some_and(|h| !h.buf.is_empty()) || v09.is_some() || lost;
                side.go_head(true);
                if had {
                    self.stats.gaps_in_messages += 1;
                }
                self.stats.resyncs += 1;
                if let Some(idx) = v09 {
                    if let Some(e) = self.entry_mut(idx) {
                        e.flags |= bit(Flag::Gap);
                        e.req_done = true;
                    }
                    self.emit_ready(out);
                }
            }
            St::Body(body) => {
                let fits = match &mut body.framing {
                    Framing::UntilClose => {
                        body.dec.gap(len);
                        true
                    }
                    Framing::Length(rem) if len > 0 && len <= *rem => {
                        *rem -= len;
                        body.dec.gap(len);
                        true
                    }
                    Framing::Chunked(ch) if len > 0 && len <= ch.data_remaining() => {
                        ch.skip_data(len);
                        body.dec.gap(len);
                        true
                    }
                    _ => false,
                };
                let done = matches!(body.framing, Framing::Length(0));
                // A gap running past a known body end also took the next message's start.
                let overran = matches!(body.framing, Framing::Length(rem) if len > rem);
                let idx = body.cur;
                self.stats.gaps_in_messages += 1;
                if let Some(e) = self.entry_mut(idx) {
                    e.flags |= bit(Flag::Gap);
                }
                if !fits {
                    self.stats.resyncs += 1;
                    self.finish_body(s, bit(Flag::Gap) | bit(Flag::Truncated), out);
                    self.side(s).go_head(true);
                    if overran && self.side_ref(s).role == Role::Server {
                        let _ = self.lose_response(out);
                    }
                } else if done {
                    self.finish_body(s, bit(Flag::Gap), out);
                }
            }
        }
    }

    /// The direction ended (FIN or close): finish what it was doing.
    pub(super) fn end_side(&mut self, s: Dir, ts: Timestamp, out: &mut Vec<HttpEvent>) {
        match self.side_ref(s).st() {
            St::Dead | St::Sniff { .. } | St::Foreign { .. } | St::SkipLine | St::Tunnel => {}
            St::Body(b) => {
                let until_close = matches!(b.framing, Framing::UntilClose);
                let flags = if until_close { 0 } else { bit(Flag::Truncated) };
                self.finish_body(s, flags, out);
            }
            St::V09(v) if !v.headers => {
                let buf = self.finish_v09_request(s, out);
                self.side(s).recycle(buf);
            }
            St::Head(_) | St::V09(_) => {
                let side = self.side(s);
                let role = side.role;
                let next = side.new_head(false);
                let (h, v09) = match side.go(next) {
                    St::Head(h) => (h, None),
                    St::V09(v) => (v.head, Some(v.cur)),
                    _ => return,
                };
                if !h.buf.is_empty() || v09.is_some() {
                    // A partial head: keep it if its start line is complete and plausible.
                    let complete = h.scan.line_start;
                    let ok = h.checked && h.scan.first_line_end.is_some();
                    if ok {
                        let head = h.buf.get(..complete).unwrap_or_default();
                        match role {
                            Role::Client => self.on_request_head(s, head, v09, h.ts, ts, true, out),
                            _ => self.on_response_head(s, head, h.ts, ts, true, out),
                        }
                    } else {
                        self.stats.incomplete_heads += 1;
                    }
                }
            }
        }
        self.side(s).set(St::Dead);
        self.emit_ready(out);
    }
}
