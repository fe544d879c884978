//! Capture gaps and the end of a direction (FIN or close).

use super::*;

impl HttpConn {
    pub(super) fn gap(&mut self, s: S, len: u64, out: &mut Vec<HttpEvent>) {
        if self.non_http || self.upgraded || self.closed {
            return;
        }
        if self.client.is_none() {
            // Sniffing: what was buffered no longer leads anywhere.
            let side = self.side(s);
            side.buf.clear();
            side.neither = false;
            return;
        }
        if self.tunnel {
            // Cannot tell what the tunnel carries any more.
            self.close_tunnel();
            return;
        }
        let phase = self.side_ref(s).phase;
        match phase {
            Phase::Dead | Phase::Sniff => {}
            Phase::SkipLine => self.side(s).set_phase(Phase::Head { resync: true }),
            Phase::Head { resync } => {
                let side = self.side(s);
                // On the server side the gap took (the start of) a response: the one of the
                // oldest request waiting, which must not take the next response found.
                let lost = side.role == Role::Server && !resync && self.lose_response(out);
                let side = self.side(s);
                let had = !side.buf.is_empty() || side.v09 || lost;
                let v09 = side.v09.then_some(side.cur).flatten();
                side.reset_head();
                side.set_phase(Phase::Head { resync: true });
                if had {
                    self.stats.gaps_in_messages += 1;
                }
                self.stats.resyncs += 1;
                if let Some(idx) = v09 {
                    self.side(s).cur = None;
                    if let Some(e) = self.entry_mut(idx) {
                        e.flags |= bit(Flag::Gap);
                        e.req_done = true;
                    }
                    self.emit_ready(out);
                }
            }
            Phase::Body => {
                self.stats.gaps_in_messages += 1;
                let side = self.side(s);
                let Some(body) = side.body.as_mut() else {
                    return;
                };
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
                if let Some(idx) = side.cur {
                    if let Some(e) = self.entry_mut(idx) {
                        e.flags |= bit(Flag::Gap);
                    }
                }
                if !fits {
                    self.stats.resyncs += 1;
                    self.finish_body(s, bit(Flag::Gap) | bit(Flag::Truncated), out);
                    self.side(s).set_phase(Phase::Head { resync: true });
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
    pub(super) fn end_side(&mut self, s: S, ts: Timestamp, out: &mut Vec<HttpEvent>) {
        let phase = self.side_ref(s).phase;
        match phase {
            Phase::Dead | Phase::Sniff | Phase::SkipLine => {}
            Phase::Body => {
                let until_close = matches!(
                    self.side_ref(s).body.as_ref().map(|b| &b.framing),
                    Some(Framing::UntilClose)
                );
                let flags = if until_close { 0 } else { bit(Flag::Truncated) };
                self.finish_body(s, flags, out);
            }
            Phase::Head { .. } => {
                let side = self.side(s);
                if side.v09 && !side.v09_headers {
                    self.finish_v09_request(s, out);
                } else if !side.buf.is_empty() || side.v09 {
                    // A partial head: keep it if its start line is complete and plausible.
                    let complete = side.scan.line_start;
                    let role = side.role;
                    let v09 = side.v09;
                    let ok = side.checked && side.scan.first_line_end.is_some();
                    let head = std::mem::take(&mut side.buf);
                    side.reset_head();
                    if ok {
                        let h = head.get(..complete).unwrap_or_default();
                        match role {
                            Role::Client => self.on_request_head(s, h, v09, ts, true, out),
                            _ => self.on_response_head(s, h, ts, true, out),
                        }
                        if v09 {
                            let cur = self.side(s).cur.take();
                            if let Some(e) = cur.and_then(|i| self.entry_mut(i)) {
                                e.req_done = true;
                            }
                        }
                    } else {
                        self.stats.incomplete_heads += 1;
                    }
                }
            }
        }
        self.side(s).set_phase(Phase::Dead);
        self.emit_ready(out);
    }
}
