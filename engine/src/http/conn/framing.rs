//! Bodies: framing (Content-Length, chunked, until close) and content decoding, and finishing a message.

use super::*;

impl HttpConn {
    /// The head of exchange `idx`'s message on `s` was parsed: read its body (if `framing`
    /// says it has one) or finish the message.
    /// `keep`: the body gate's answer (a skipped body is only counted: no copy, no
    /// content decoding).
    pub(super) fn start_body(
        &mut self,
        s: Dir,
        idx: u64,
        framing: Option<Framing>,
        codings: &Codings,
        keep: bool,
        out: &mut Vec<HttpEvent>,
    ) {
        let mut limits = self.limits();
        let dec = if keep {
            ContentDecoder::with_codings(codings, limits)
        } else {
            limits.keep = false;
            ContentDecoder::new(Coding::Identity, limits)
        };
        match framing {
            Some(framing) => self.side(s).set(St::Body(Body {
                cur: idx,
                framing,
                dec,
            })),
            None => self.finish_message(s, idx, Some(dec), 0, out),
        }
    }

    /// One step in [`St::Body`]. Returns bytes consumed.
    pub(super) fn body_step(&mut self, s: Dir, data: &[u8], out: &mut Vec<HttpEvent>) -> usize {
        let side = self.side(s);
        let St::Body(body) = side.st_mut() else {
            side.go_head(false);
            return 0;
        };
        let Body { framing, dec, .. } = body;
        match framing {
            Framing::UntilClose => {
                dec.write(data);
                data.len()
            }
            Framing::Length(rem) => {
                let take = usize::try_from(*rem).map_or(data.len(), |r| r.min(data.len()));
                dec.write(data.get(..take).unwrap_or_default());
                *rem -= take as u64;
                if *rem == 0 {
                    self.finish_body(s, 0, out);
                }
                take
            }
            Framing::Chunked(ch) => match ch.feed(data, &mut |d| dec.write(d)) {
                ChunkStatus::Partial => data.len(),
                ChunkStatus::Done(n) => {
                    self.finish_body(s, 0, out);
                    n
                }
                ChunkStatus::Error(n, e) => {
                    self.parse_error(e);
                    self.stats.resyncs += 1;
                    self.finish_body(s, bit(Flag::DecodeError) | bit(Flag::Malformed), out);
                    self.side(s).set(St::SkipLine);
                    n
                }
            },
        }
    }

    /// End the body in progress on `s` (if any) with extra `flags`.
    pub(super) fn finish_body(&mut self, s: Dir, flags: u16, out: &mut Vec<HttpEvent>) {
        let side = self.side(s);
        if !matches!(side.st(), St::Body(_)) {
            return;
        }
        let next = side.new_head(false);
        if let St::Body(b) = side.go(next) {
            self.finish_message(s, b.cur, Some(b.dec), flags, out);
        }
    }

    /// Exchange `idx`'s message on `s` is complete (its body decoded by `dec`): record it,
    /// go to the next head, and emit what is ready.
    pub(super) fn finish_message(
        &mut self,
        s: Dir,
        idx: u64,
        dec: Option<ContentDecoder>,
        mut flags: u16,
        out: &mut Vec<HttpEvent>,
    ) {
        let side = self.side(s);
        let role = side.role;
        let last_ts = side.last_ts;
        if !matches!(side.st(), St::Head(h) if !h.resync) {
            side.go_head(false);
        }
        let res = dec.map(ContentDecoder::finish);
        if let Some(r) = &res {
            if r.decode_error {
                flags |= bit(Flag::DecodeError);
                self.stats.decode_errors += 1;
            }
            if r.capped {
                flags |= bit(Flag::BodyCapped);
            }
        }
        if let Some(e) = self.entry_mut(idx) {
            e.flags |= flags;
            match role {
                Role::Client => {
                    e.req_done = true;
                    if let Some(q) = e.request.as_mut() {
                        if let Some(r) = res {
                            q.body_len = r.len;
                            q.wire_len = r.raw_len;
                            q.body = r.body;
                        }
                        q.ts_end = q.ts_end.max(last_ts);
                    }
                }
                _ => {
                    e.resp_done = true;
                    if let Some(p) = e.response.as_mut() {
                        if let Some(r) = res {
                            p.body_len = r.len;
                            p.wire_len = r.raw_len;
                            p.body = r.body;
                        }
                        p.ts_end = p.ts_end.max(last_ts);
                    }
                }
            }
        }
        self.emit_ready(out);
    }
}
