//! Request-order release of finished exchanges with a bounded buffer.

use apitap_engine::http::{Exchange, HttpEvent};
use apitap_engine::Timestamp;
use std::collections::{BTreeMap, BTreeSet, HashMap};

type Key = (Timestamp, u64, u64);

/// Counters of the reorder buffer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReorderStats {
    /// Exchanges released.
    pub released: u64,
    /// Exchanges released before an earlier-started one finished, to respect the cap.
    pub forced: u64,
    /// Most exchanges held at once.
    pub max_held: u64,
}

/// Holds finished exchanges until all earlier-started ones have finished (see the module
/// doc of [`crate::output`]).
#[derive(Debug)]
pub struct Reorderer {
    started: BTreeSet<Key>,
    /// Start timestamp of each started slot (connection, index), to find its key in O(1)
    /// when the finished exchange's key differs from the announced one.
    started_ts: HashMap<(u64, u64), Timestamp>,
    done: BTreeMap<Key, Box<Exchange>>,
    held_bytes: usize,
    cap_exchanges: usize,
    cap_bytes: usize,
    stats: ReorderStats,
}

impl Reorderer {
    /// A buffer holding at most `cap_exchanges` finished exchanges and about `cap_bytes` of
    /// their headers and bodies.
    pub fn new(cap_exchanges: usize, cap_bytes: usize) -> Self {
        Reorderer {
            started: BTreeSet::new(),
            started_ts: HashMap::new(),
            done: BTreeMap::new(),
            held_bytes: 0,
            cap_exchanges: cap_exchanges.max(1),
            cap_bytes,
            stats: ReorderStats::default(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> &ReorderStats {
        &self.stats
    }

    /// Takes one event; calls `emit` for every exchange that can now be released, in order.
    pub fn push<E>(
        &mut self,
        ev: HttpEvent,
        emit: &mut impl FnMut(Box<Exchange>) -> Result<(), E>,
    ) -> Result<(), E> {
        match ev {
            HttpEvent::Started { ts, conn_id, index } => {
                if let Some(old) = self.started_ts.insert((conn_id, index), ts) {
                    self.started.remove(&(old, conn_id, index));
                }
                self.started.insert((ts, conn_id, index));
                Ok(())
            }
            HttpEvent::Done(ex) => {
                let key = ex.order_key();
                // The announced start may differ from the final key (e.g. roles flipped), so
                // the slot is found by (connection, index).
                if let Some(ts) = self.started_ts.remove(&(ex.conn_id, ex.index)) {
                    self.started.remove(&(ts, ex.conn_id, ex.index));
                }
                self.held_bytes += approx_size(&ex);
                self.done.insert(key, ex);
                self.stats.max_held = self.stats.max_held.max(self.done.len() as u64);
                self.drain(emit)
            }
        }
    }

    fn drain<E>(&mut self, emit: &mut impl FnMut(Box<Exchange>) -> Result<(), E>) -> Result<(), E> {
        loop {
            let Some((&first_done, _)) = self.done.first_key_value() else {
                return Ok(());
            };
            let blocked = self.started.first().is_some_and(|s| *s < first_done);
            let over = self.done.len() > self.cap_exchanges || self.held_bytes > self.cap_bytes;
            if blocked && !over {
                return Ok(());
            }
            if blocked {
                self.stats.forced += 1;
            }
            if let Some((_, ex)) = self.done.pop_first() {
                self.held_bytes = self.held_bytes.saturating_sub(approx_size(&ex));
                self.stats.released += 1;
                emit(ex)?;
            }
        }
    }

    /// Releases everything still held, in order (end of input).
    pub fn finish<E>(
        &mut self,
        emit: &mut impl FnMut(Box<Exchange>) -> Result<(), E>,
    ) -> Result<(), E> {
        self.started.clear();
        self.started_ts.clear();
        self.drain(emit)
    }
}

fn approx_size(ex: &Exchange) -> usize {
    let mut n = 256;
    if let Some(r) = &ex.request {
        n += r.uri().len()
            + r.headers()
                .map(|(a, b)| a.len() + b.len() + 16)
                .sum::<usize>();
        n += r.body.as_ref().map_or(0, Vec::len);
    }
    if let Some(r) = &ex.response {
        n += r
            .headers()
            .map(|(a, b)| a.len() + b.len() + 16)
            .sum::<usize>();
        n += r.body.as_ref().map_or(0, Vec::len);
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use apitap_engine::http::Request;

    fn ex(ts: i64, conn: u64, index: u64) -> Box<Exchange> {
        Box::new(Exchange {
            conn_id: conn,
            index,
            client: "10.0.0.1:1000".parse().unwrap(),
            server: "10.0.0.2:80".parse().unwrap(),
            request: Some(Request {
                ts_start: Timestamp(ts),
                ..Request::default()
            }),
            response: None,
            flags: vec![],
            stream_id: None,
            gate_key: None,
        })
    }

    fn run(events: Vec<HttpEvent>, cap: usize) -> (Vec<(i64, u64, u64)>, ReorderStats) {
        let mut r = Reorderer::new(cap, usize::MAX);
        let mut out = vec![];
        let mut emit = |e: Box<Exchange>| -> Result<(), ()> {
            out.push((e.ts().0, e.conn_id, e.index));
            Ok(())
        };
        for e in events {
            r.push(e, &mut emit).unwrap();
        }
        r.finish(&mut emit).unwrap();
        let stats = r.stats().clone();
        (out, stats)
    }

    fn started(ts: i64, conn_id: u64, index: u64) -> HttpEvent {
        HttpEvent::Started {
            ts: Timestamp(ts),
            conn_id,
            index,
        }
    }

    #[test]
    fn releases_in_request_order() {
        // conn 1 starts first but finishes last.
        let events = vec![
            started(10, 1, 0),
            started(20, 2, 0),
            HttpEvent::Done(ex(20, 2, 0)),
            started(30, 3, 0),
            HttpEvent::Done(ex(30, 3, 0)),
            HttpEvent::Done(ex(10, 1, 0)),
        ];
        let (out, stats) = run(events, 100);
        assert_eq!(out, vec![(10, 1, 0), (20, 2, 0), (30, 3, 0)]);
        assert_eq!(stats.forced, 0);
        assert_eq!(stats.max_held, 3);
    }

    #[test]
    fn cap_forces_early_release_and_counts_it() {
        let events = vec![
            started(10, 1, 0),
            started(20, 2, 0),
            HttpEvent::Done(ex(20, 2, 0)),
            started(30, 3, 0),
            HttpEvent::Done(ex(30, 3, 0)),
            HttpEvent::Done(ex(10, 1, 0)),
        ];
        let (out, stats) = run(events, 1);
        assert_eq!(out, vec![(20, 2, 0), (10, 1, 0), (30, 3, 0)]);
        assert_eq!(stats.forced, 1);
        assert_eq!(stats.released, 3);
    }

    #[test]
    fn started_key_differing_from_done_key_is_released() {
        // Announced at ts 5, finished with request start 8: the slot still unblocks.
        let events = vec![
            started(5, 1, 0),
            started(6, 2, 0),
            HttpEvent::Done(ex(6, 2, 0)),
            HttpEvent::Done(ex(8, 1, 0)),
        ];
        let (out, stats) = run(events, 100);
        assert_eq!(out, vec![(6, 2, 0), (8, 1, 0)]);
        assert_eq!(stats.forced, 0);
    }

    #[test]
    fn done_without_started_and_unfinished_starts_flush_at_end() {
        let events = vec![
            started(5, 9, 0), // never finishes
            HttpEvent::Done(ex(7, 4, 0)),
            HttpEvent::Done(ex(6, 4, 1)),
        ];
        let (out, _) = run(events, 100);
        assert_eq!(out, vec![(6, 4, 1), (7, 4, 0)]);
    }
}
