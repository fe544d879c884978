//! Pairing: exchange entries in creation order, FIFO request/response pairing, lost responses, and emitting exchanges strictly in index order.

use super::*;

impl HttpConn {
    pub(super) fn first_unanswered(&self) -> Option<u64> {
        self.queue
            .iter()
            .find(|e| e.request.is_some() && e.response.is_none() && !e.resp_lost)
            .map(|e| e.index)
    }

    pub(super) fn new_entry(
        &mut self,
        request: Option<Request>,
        response: Option<Response>,
        ts: Timestamp,
        out: &mut Vec<HttpEvent>,
    ) -> u64 {
        while self.queue.len() >= self.cfg.max_pipeline.max(1) {
            self.stats.pipeline_overflows += 1;
            if let Some(e) = self.queue.pop_front() {
                self.emit(e, out);
            }
        }
        let index = self.next_index;
        self.next_index += 1;
        self.queue.push_back(Entry {
            index,
            request,
            req_done: false,
            req_09: false,
            response,
            resp_done: false,
            resp_lost: false,
            req_kept: true,
            gate_key: None,
            flags: 0,
        });
        let conn_id = self.info.id;
        out.push(HttpEvent::Started { ts, conn_id, index });
        index
    }

    /// Mark the oldest request waiting for a response as answered by a lost response.
    /// Returns whether there was one.
    pub(super) fn lose_response(&mut self, out: &mut Vec<HttpEvent>) -> bool {
        let Some(idx) = self.first_unanswered() else {
            return false;
        };
        if let Some(e) = self.entry_mut(idx) {
            e.resp_lost = true;
            e.flags |= bit(Flag::Gap);
        }
        self.emit_ready(out);
        true
    }

    pub(super) fn flush_all(&mut self, out: &mut Vec<HttpEvent>) {
        while let Some(e) = self.queue.pop_front() {
            self.emit(e, out);
        }
    }

    pub(super) fn emit_ready(&mut self, out: &mut Vec<HttpEvent>) {
        while self.queue.front().is_some_and(Entry::ready) {
            if let Some(e) = self.queue.pop_front() {
                self.emit(e, out);
            }
        }
    }

    pub(super) fn emit(&mut self, e: Entry, out: &mut Vec<HttpEvent>) {
        let mut flags = e.flags;
        match (&e.request, &e.response) {
            (Some(_), None) => {
                flags |= bit(Flag::UnpairedRequest);
                self.stats.unpaired_requests += 1;
            }
            (None, _) => {
                flags |= bit(Flag::UnpairedResponse);
                self.stats.unpaired_responses += 1;
            }
            _ => {}
        }
        if (e.request.is_some() && !e.req_done) || (e.response.is_some() && !e.resp_done) {
            flags |= bit(Flag::Truncated);
        }
        self.stats.exchanges += 1;
        let i = self.info;
        let (client, server, conn_id) = if self.client == Some(Dir::ToOriginator) {
            (i.resp, i.orig, i.id)
        } else {
            (i.orig, i.resp, i.id)
        };
        let flags = ALL_FLAGS
            .iter()
            .copied()
            .filter(|&f| flags & bit(f) != 0)
            .collect();
        out.push(HttpEvent::Done(Box::new(Exchange {
            conn_id,
            index: e.index,
            client,
            server,
            request: e.request,
            response: e.response,
            flags,
            stream_id: None,
            gate_key: e.gate_key,
        })));
    }
}
