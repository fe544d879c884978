//! Bodies: framing (Content-Length, chunked, until close) and content decoding, and finishing a message.

use super::*;

impl HttpConn {
    pub(super) fn start_body(
        &mut self,
        s: S,
        framing: Option<Framing>,
        codings: &Codings,
        out: &mut Vec<HttpEvent>,
    ) {
        let limits = self.limits();
        let side = self.side(s);
        side.body = Some(BodyState {
            framing: Framing::UntilClose,
            dec: ContentDecoder::with_codings(codings, limits),
        });
        match framing {
            Some(fr) => {
                if let Some(b) = side.body.as_mut() {
                    b.framing = fr;
                }
                side.set_phase(Phase::Body);
            }
            None => self.finish_body(s, 0, out),
        }
    }

    /// Returns bytes consumed.
    pub(super) fn body_step(
        &mut self,
        s: S,
        _ts: Timestamp,
        data: &[u8],
        out: &mut Vec<HttpEvent>,
    ) -> usize {
        let side = self.side(s);
        let Some(body) = side.body.as_mut() else {
            side.set_phase(Phase::Head { resync: false });
            return 0;
        };
        let BodyState { framing, dec } = body;
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
                    self.side(s).set_phase(Phase::SkipLine);
                    n
                }
            },
        }
    }

    /// End the body (or body-less message) in progress on `s` with extra `flags`.
    pub(super) fn finish_body(&mut self, s: S, mut flags: u16, out: &mut Vec<HttpEvent>) {
        let side = self.side(s);
        let role = side.role;
        let body = side.body.take();
        let cur = side.cur.take();
        let last_ts = side.last_ts;
        side.set_phase(Phase::Head { resync: false });
        let res = body.map(|b| b.dec.finish());
        if let Some(r) = &res {
            if r.decode_error {
                flags |= bit(Flag::DecodeError);
                self.stats.decode_errors += 1;
            }
            if r.capped {
                flags |= bit(Flag::BodyCapped);
            }
        }
        let Some(idx) = cur else { return };
        if let Some(e) = self.entry_mut(idx) {
            e.flags |= flags;
            match role {
                Role::Client => {
                    e.req_done = true;
                    if let Some(q) = e.request.as_mut() {
                        if let Some(r) = res {
                            q.body_len = r.len;
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
