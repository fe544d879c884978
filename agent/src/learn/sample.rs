//! Adaptive body sampling per endpoint.
//!
//! Policy (deterministic: decisions depend only on the order of the traffic, no RNG):
//! - **What is an endpoint here**: the server (or `--service`), the method and the path
//!   with identifier-like segments (and segments longer than the trie keeps as literals)
//!   replaced by one placeholder, as the learner's path trie routes them; hashed, never
//!   stored. At most [`MAX_KEYS`] endpoints are tracked; the others share one state.
//! - **Always inspected**: the bodies of an endpoint's first exchange, of a request with a
//!   content type not seen before at that endpoint, and of a response with a (status,
//!   content type) pair not seen before there (at most [`MAX_SEEN`] pairs per endpoint; a
//!   flood of invented types beyond that is sampled like the rest).
//! - **Otherwise a shrinking sample**: an endpoint's exchanges are inspected about every
//!   `interval`-th time; the interval starts at 1 and doubles after every [`PER_LEVEL`]
//!   inspected exchanges in a row that taught nothing new, up to [`MAX_INTERVAL`] (so 1,
//!   2, 4 … 64: the first ~2,000 exchanges of an endpoint give 112 samples, then 1 in 64);
//!   it resets to 1 as soon as one does. The gap to the next inspected exchange is drawn
//!   from `[interval/2, 3·interval/2)` by a hash of the endpoint key and its count of
//!   inspections (deterministic, mean ≈ `interval`), so a stride never aliases with a
//!   periodic pattern in the traffic (a client cycling through 4 values would otherwise be
//!   seen at one phase only, forever).
//! - **"New"** is a change of the endpoint's body evidence as [`body_evidence`] fingerprints
//!   it: its body shape ([`apitap_model::endpoint::Endpoint::body_shape`]: a property,
//!   type, format, PII class or media type not seen before) and, at every position where an
//!   enum is still possible, the enum's milestones: a candidate value not seen before, a
//!   value reaching the count at which its text is kept
//!   ([`apitap_model::schema::ENUM_TEXT_MIN`]), the position reaching the 20 strings an
//!   enum needs, the position ruled out (too many values, an ineligible one). An enum's
//!   thresholds are counts, so a position that is still gaining values gets its next
//!   exchanges inspected; a position that gains nothing (a constant value, a rare position
//!   whose values do not recur) holds nothing. The hold is bounded per position, not per
//!   endpoint: a position passes at most 2 × [`apitap_model::schema::MAX_ENUM`] + 2 milestones before its enum is
//!   settled or ruled out, so no position keeps an endpoint at interval 1 by merely
//!   existing (the earlier blanket hold did, for up to 1,024 inspections, while any enum
//!   of the endpoint was short of its thresholds).
//! - The decision for an exchange is taken at its request head; its response body is
//!   inspected when its request's was, when its (status, content type) is new, or when it
//!   is an error (status >= 400): error bodies are rare beside the successes that drive the
//!   interval, and thinning them at the successes' rate lost the error vocabulary (an
//!   `error.type` enum of a 404 body, mock eval `payments` at 5,000 requests).
//! - Skipped bodies are never copied nor decompressed (the engine only counts their wire
//!   bytes); the model counts them ([`apitap_model::Inspect`]) so coverage stays honest.

use apitap_engine::http::{BodyGate, Gated, MessageHead, Request, Response};
use apitap_model::endpoint::Endpoint;
use apitap_model::schema::SchemaNode;
use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::rc::Rc;

/// Max endpoints tracked (beyond, one shared state decides).
pub const MAX_KEYS: usize = 65_536;
/// Max (status, content type) pairs and request content types remembered per endpoint.
pub const MAX_SEEN: usize = 16;
/// Largest sampling interval: on average one exchange in this many is inspected (gaps of
/// `MAX_INTERVAL / 2` to `3 · MAX_INTERVAL / 2 - 1`).
pub const MAX_INTERVAL: u32 = 64;
/// Inspected exchanges that must teach nothing new before the interval doubles: the
/// model's thresholds are counts (an enum needs 20 strings, a format 90 % of them, an
/// optional array its non-empty case), so each sampling level keeps feeding them.
pub const PER_LEVEL: u32 = 16;

/// Counters of the sampler.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct SampleStats {
    /// Message bodies kept (decoded and inferred).
    pub kept: u64,
    /// Message bodies skipped.
    pub skipped: u64,
    /// Times an inspected exchange taught something new (the interval reset).
    pub resets: u64,
}

#[derive(Debug, Clone)]
struct KeyState {
    interval: u32,
    /// Inspected exchanges in a row at this interval that taught nothing new.
    streak: u32,
    /// Exchanges to skip before the next inspected one.
    countdown: u32,
    /// Seed of the gap draws: the endpoint key.
    salt: u64,
    /// Gaps drawn so far (the other input of the draw).
    draws: u64,
    /// Hashes of request content types and (status, response content type) pairs seen.
    seen: Vec<u64>,
    /// The endpoint's [`body_evidence`] after the last inspected exchange.
    shape: u64,
}

impl KeyState {
    fn new(salt: u64) -> Self {
        KeyState {
            interval: 1,
            streak: 0,
            countdown: 0,
            salt,
            draws: 0,
            seen: Vec::new(),
            shape: 0,
        }
    }

    /// The number of exchanges to skip after an inspected one (see the module doc).
    fn draw_countdown(&mut self) -> u32 {
        if self.interval <= 1 {
            return 0;
        }
        self.draws = self.draws.wrapping_add(1);
        let gap = apitap_model::schema::spread_gap(self.salt, self.draws, self.interval.into());
        u32::try_from(gap).unwrap_or(MAX_INTERVAL).saturating_sub(1)
    }

    /// Remembers `h`; true if it is new (and there was room).
    fn first_time(&mut self, h: u64) -> bool {
        if self.seen.contains(&h) || self.seen.len() >= MAX_SEEN {
            return false;
        }
        self.seen.push(h);
        true
    }
}

/// Max (endpoint base, method, path) entries in [`KeyMemo`].
const MAX_MEMO: usize = 4096;
/// Max bytes of [`KeyMemo`] keys: a path may be as long as a request head (64 KiB), so the
/// entry count alone would let long paths hold far more.
const MAX_MEMO_BYTES: usize = 1 << 20;
/// Paths longer than this are keyed each time, not memoised.
const MAX_MEMO_PATH: usize = 1024;

/// Endpoint keys already computed: (server or service hash, method, path) → the key
/// [`Sampler::key`] gave, so a path seen before is not split and classified again (every
/// exchange asks once, at its request head). The memo holds the exact bytes it was asked
/// with and compares them, so it never answers for another path; it is emptied when it
/// holds [`MAX_MEMO`] entries or [`MAX_MEMO_BYTES`] of keys.
#[derive(Debug, Default)]
struct KeyMemo {
    map: HashMap<Box<[u8]>, u64, ahash::RandomState>,
    bytes: usize,
    /// The lookup key of the current ask, refilled (no allocation per exchange).
    scratch: Vec<u8>,
}

impl KeyMemo {
    /// Fills the scratch key with (base, method, path); false if the path or the method
    /// is too long to be memoised.
    fn ask(&mut self, base: u64, method: &str, path: &str) -> bool {
        let Ok(mlen) = u8::try_from(method.len()) else {
            return false;
        };
        if path.len() > MAX_MEMO_PATH {
            return false;
        }
        self.scratch.clear();
        self.scratch.extend_from_slice(&base.to_le_bytes());
        // the method's length first, so no (method, path) split of one byte string is
        // mistaken for another
        self.scratch.push(mlen);
        self.scratch.extend_from_slice(method.as_bytes());
        self.scratch.extend_from_slice(path.as_bytes());
        true
    }

    fn get(&self) -> Option<u64> {
        self.map.get(self.scratch.as_slice()).copied()
    }

    fn insert(&mut self, key: u64) {
        let cost = self.scratch.len();
        if self.map.len() >= MAX_MEMO || self.bytes + cost > MAX_MEMO_BYTES {
            self.map.clear();
            self.bytes = 0;
        }
        if self
            .map
            .insert(self.scratch.as_slice().into(), key)
            .is_none()
        {
            self.bytes += cost;
        }
    }
}

/// The sampling state of every endpoint (see the module doc).
#[derive(Debug)]
pub struct Sampler {
    /// Keyed by the endpoint hash; aHash (randomly keyed, like std's SipHash, so a sender
    /// cannot aim keys at one bucket) because this lookup runs for every exchange.
    keys: HashMap<u64, KeyState, ahash::RandomState>,
    shared: KeyState,
    /// Endpoint keys of paths already keyed.
    memo: KeyMemo,
    /// Hash of `--service`, when every exchange goes to it.
    service: Option<u64>,
    /// Counters.
    pub stats: SampleStats,
}

const FNV: u64 = 0xcbf29ce484222325;

fn fnv_bytes(mut h: u64, b: &[u8]) -> u64 {
    for &c in b {
        h = (h ^ u64::from(c)).wrapping_mul(0x100000001b3);
    }
    h
}

/// Hash of a media type as the model keys it (lowercase, parameters dropped). Asked twice
/// per exchange: the part before the first `;` is found by a byte search (`;` is ASCII, so
/// it ends on a character boundary), not a `split` iterator.
fn media_hash(head: &MessageHead) -> u64 {
    let ct = head.header("content-type").unwrap_or("");
    let base = memchr::memchr(b';', ct.as_bytes())
        .and_then(|p| ct.get(..p))
        .unwrap_or(ct)
        .trim();
    base.bytes().fold(FNV, |h, c| {
        (h ^ u64::from(c.to_ascii_lowercase())).wrapping_mul(0x100000001b3)
    })
}

/// The endpoint key of (`base`, `method`, `path`), computed (see the module doc).
fn endpoint_key(base: u64, method: &str, path: &str) -> u64 {
    let mut h = fnv_bytes(base, method.as_bytes());
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        let param = seg.len() > apitap_model::paths::MAX_LITERAL_LEN
            || apitap_model::classify::classify_segment(seg).is_id_like();
        h = fnv_bytes(h, b"/");
        h = fnv_bytes(h, if param { b"{}" } else { seg.as_bytes() });
    }
    h
}

impl Sampler {
    /// A sampler; `service`: the `--service` name every exchange is learned under.
    pub fn new(service: Option<&str>) -> Self {
        Sampler {
            keys: HashMap::default(),
            shared: KeyState::new(0),
            memo: KeyMemo::default(),
            service: service.map(|s| fnv_bytes(FNV, s.as_bytes())),
            stats: SampleStats::default(),
        }
    }

    /// The endpoint key of an exchange (see the module doc): memoised per (server or
    /// service, method, path).
    pub fn key(&mut self, server: SocketAddr, method: &str, uri: &str) -> u64 {
        let base = self.base(server);
        let path = apitap_model::model::split_target(uri).map_or("", |(p, _)| p);
        if !self.memo.ask(base, method, path) {
            return endpoint_key(base, method, path);
        }
        if let Some(k) = self.memo.get() {
            return k;
        }
        let k = endpoint_key(base, method, path);
        self.memo.insert(k);
        k
    }

    /// The hash an endpoint key starts from: `--service`'s, or the server address's.
    fn base(&self, server: SocketAddr) -> u64 {
        match self.service {
            Some(s) => s,
            None => match server {
                SocketAddr::V4(a) => {
                    fnv_bytes(fnv_bytes(FNV, &a.ip().octets()), &a.port().to_be_bytes())
                }
                SocketAddr::V6(a) => {
                    fnv_bytes(fnv_bytes(FNV, &a.ip().octets()), &a.port().to_be_bytes())
                }
            },
        }
    }

    fn state(&mut self, key: u64) -> &mut KeyState {
        // one lookup while there is room (every exchange comes here twice)
        if self.keys.len() < MAX_KEYS {
            return self.keys.entry(key).or_insert_with(|| KeyState::new(key));
        }
        match self.keys.get_mut(&key) {
            Some(s) => s,
            None => &mut self.shared,
        }
    }

    fn count(&mut self, keep: bool) -> bool {
        if keep {
            self.stats.kept += 1;
        } else {
            self.stats.skipped += 1;
        }
        keep
    }

    /// At a request head: inspect this exchange? Also gives its endpoint key
    /// ([`Sampler::key`]), for [`Sampler::response`] and [`Sampler::learned`].
    pub fn request(&mut self, server: SocketAddr, req: &Request) -> Gated {
        let key = self.key(server, req.method(), req.uri());
        let media = media_hash(&req.head);
        let st = self.state(key);
        let new_media = st.first_time(media);
        let keep = if st.countdown == 0 || new_media {
            st.countdown = st.draw_countdown();
            true
        } else {
            st.countdown -= 1;
            false
        };
        Gated {
            keep: self.count(keep),
            key,
        }
    }

    /// At a response head: inspect its body? `key`: what [`Sampler::request`] gave for
    /// `req` (computed again when `None`).
    pub fn response(
        &mut self,
        server: SocketAddr,
        req: Option<&Request>,
        key: Option<u64>,
        req_kept: bool,
        resp: &Response,
    ) -> bool {
        let Some(req) = req else {
            // an unpaired response is not learned (no method, no path)
            return self.count(false);
        };
        let key = key.unwrap_or_else(|| self.key(server, req.method(), req.uri()));
        let pair = fnv_bytes(
            media_hash(&resp.head),
            &resp.status.unwrap_or(0).to_be_bytes(),
        );
        let new_pair = self.state(key).first_time(pair ^ 0x9e37_79b9_7f4a_7c15);
        let error = resp.status.is_some_and(|s| s >= 400);
        self.count(req_kept || new_pair || error)
    }

    /// After an inspected exchange was learned: `key` is its endpoint key
    /// ([`Sampler::key`]) and `evidence` the endpoint's [`body_evidence`] now.
    pub fn learned(&mut self, key: u64, evidence: u64) {
        let st = self.state(key);
        if st.shape != evidence {
            st.shape = evidence;
            st.interval = 1;
            st.streak = 0;
            st.countdown = 0;
            self.stats.resets += 1;
        } else {
            st.streak += 1;
            if st.streak >= PER_LEVEL {
                st.streak = 0;
                st.interval = (st.interval * 2).min(MAX_INTERVAL);
            }
        }
    }
}

/// What the sampler watches of an endpoint (see the module doc): its body shape and the
/// milestones of every enum still possible in its body schemas. It changes exactly when an
/// inspected exchange taught something new about the bodies.
pub fn body_evidence(ep: &Endpoint) -> u64 {
    let mut h = ep.body_shape();
    for b in ep.bodies() {
        enum_milestones(&b.schema, &mut h);
    }
    h
}

/// Mixes the enum milestones of `node` and below into `h` (positions in the schema's own
/// order, which [`Endpoint::body_shape`] already fingerprints).
fn enum_milestones(node: &SchemaNode, h: &mut u64) {
    if !node.enum_dead && !node.enum_h.is_empty() {
        let m = node.enum_h.len() as u64
            | (node.enum_v.len() as u64) << 8
            | u64::from(node.t.string >= 20) << 16
            | 1 << 17;
        *h ^= m;
        *h = h.wrapping_mul(0x100000001b3).rotate_left(11);
    } else {
        // a position whose enum is ruled out (or has no candidate yet) still takes a step,
        // so the death of an enum changes the fingerprint
        *h = h.wrapping_mul(0x100000001b3).rotate_left(3);
    }
    for p in node.props.values() {
        enum_milestones(p, h);
    }
    if let Some(a) = &node.additional {
        enum_milestones(a, h);
    }
    if let Some(i) = &node.items {
        enum_milestones(i, h);
    }
}

/// A [`Sampler`] as the pipeline's body gate.
#[derive(Debug)]
pub struct SamplerGate(pub Rc<RefCell<Sampler>>);

impl BodyGate for SamplerGate {
    fn request(&self, server: SocketAddr, req: &Request) -> Gated {
        self.0.borrow_mut().request(server, req)
    }

    fn response(
        &self,
        server: SocketAddr,
        req: Option<&Request>,
        key: Option<u64>,
        req_kept: bool,
        resp: &Response,
    ) -> bool {
        self.0
            .borrow_mut()
            .response(server, req, key, req_kept, resp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(uri: &str) -> Request {
        Request {
            head: MessageHead::new(["GET", uri, ""]),
            ..Default::default()
        }
    }

    fn resp(status: u16, ct: &str) -> Response {
        Response {
            status: Some(status),
            head: MessageHead::default().with_header("Content-Type", ct),
            ..Default::default()
        }
    }

    #[test]
    fn memoised_keys_are_the_computed_keys_and_the_memo_stays_bounded() {
        let server: SocketAddr = "10.0.0.1:80".parse().unwrap_or(([0, 0, 0, 0], 0).into());
        let other: SocketAddr = "10.0.0.2:80".parse().unwrap_or(([0, 0, 0, 0], 0).into());
        let mut s = Sampler::new(None);
        let long_path = format!("/{}", "a".repeat(MAX_MEMO_PATH));
        let long_method = "X".repeat(300);
        let asks: Vec<(SocketAddr, String, String)> = (0..3 * MAX_MEMO)
            .map(|i| (server, "GET".to_string(), format!("/items/{}/{i}", i % 7)))
            .chain([
                (server, "GET".into(), "/".into()),
                // a method/path split of the same bytes must not share an entry
                (server, "GET/".into(), "".into()),
                (server, "GET".into(), "/items?q=1".into()),
                (other, "GET".into(), "/".into()),
                (server, "GET".into(), long_path.clone()),
                (server, long_method.clone(), "/".into()),
                (server, "POST".into(), "http://h/items/3/4".into()),
            ])
            .collect();
        // asked twice: the second round answers from the memo where it can
        for round in 0..2 {
            for (srv, m, uri) in &asks {
                let path = apitap_model::model::split_target(uri).map_or("", |(p, _)| p);
                let want = endpoint_key(s.base(*srv), m, path);
                assert_eq!(s.key(*srv, m, uri), want, "round {round}: {m} {uri}");
                assert!(s.memo.map.len() <= MAX_MEMO);
                assert!(s.memo.bytes <= MAX_MEMO_BYTES);
            }
        }
        assert_ne!(
            s.key(server, "GET", "/"),
            s.key(server, "GET/", ""),
            "the method's length keeps the two apart"
        );
        // too long to memoise (and not asked before): computed, never stored
        let before = s.memo.map.len();
        s.key(server, "GET", &format!("/{}", "c".repeat(MAX_MEMO_PATH)));
        s.key(server, &"Y".repeat(256), "/");
        assert_eq!(s.memo.map.len(), before, "nothing stored");
        assert!(s
            .memo
            .map
            .keys()
            .all(|k| k.len() <= 8 + 1 + 255 + MAX_MEMO_PATH));
        // a memo full of large keys is emptied before it passes its byte bound
        let mut m = KeyMemo::default();
        for i in 0..2 * MAX_MEMO {
            let p = format!("/{i}/{}", "b".repeat(MAX_MEMO_PATH - 12));
            assert!(m.ask(1, "GET", &p));
            m.insert(i as u64);
            assert!(m.bytes <= MAX_MEMO_BYTES, "{} bytes", m.bytes);
            assert_eq!(m.get(), Some(i as u64));
        }
    }

    #[test]
    fn interval_backs_off_and_resets_on_novelty() {
        let server: SocketAddr = "10.0.0.1:80".parse().unwrap_or(([0, 0, 0, 0], 0).into());
        let mut s = Sampler::new(None);
        let mut kept = Vec::new();
        let n = 4000u32;
        for i in 0..n {
            let r = req(&format!("/users/{i}"));
            let g = s.request(server, &r);
            let k = g.keep;
            let kr = s.response(
                server,
                Some(&r),
                Some(g.key),
                k,
                &resp(200, "application/json"),
            );
            if k {
                kept.push(i);
                // nothing new after the first exchange, something new from 3000 on
                let shape = if i >= 3000 { 2 } else { 1 };
                s.learned(g.key, shape);
            }
            assert_eq!(kr, k || i == 0, "response follows the request at {i}");
        }
        // every exchange while the first level lasts, then ever further apart
        assert_eq!(&kept[..17], &(0..17).collect::<Vec<_>>()[..], "{kept:?}");
        let gaps: Vec<u32> = kept.windows(2).map(|w| w[1] - w[0]).collect();
        let before_change: Vec<u32> = kept
            .windows(2)
            .filter(|w| w[1] < 3000)
            .map(|w| w[1] - w[0])
            .collect();
        let level_means: Vec<f64> = before_change
            .chunks(PER_LEVEL as usize)
            .map(|c| f64::from(c.iter().sum::<u32>()) / c.len() as f64)
            .collect();
        assert!(
            level_means.windows(2).all(|m| m[1] + 8.0 >= m[0]),
            "{level_means:?}"
        );
        let max = gaps.iter().copied().max().unwrap_or(0);
        assert!(
            (MAX_INTERVAL..3 * MAX_INTERVAL / 2).contains(&max),
            "{gaps:?}"
        );
        // the gaps at the last level vary (no fixed stride to alias with the traffic)
        let last: Vec<u32> = before_change.iter().rev().take(8).copied().collect();
        assert!(last.iter().any(|&g| g != last[0]), "{last:?}");
        let before = kept.iter().filter(|&&i| i < 3000).count();
        assert!((100..=140).contains(&before), "{before} of 3000 inspected");
        // the change is seen at the next sample; then every exchange again
        let after: Vec<u32> = kept.iter().copied().filter(|&i| i >= 3000).collect();
        let first = after.first().copied().unwrap_or(0);
        assert!(first < 3000 + 3 * MAX_INTERVAL / 2, "{after:?}");
        assert_eq!(
            &after[1..4],
            &[first + 1, first + 2, first + 3],
            "{after:?}"
        );
        // same key for every id; a new status is always inspected
        let r = req("/users/99999");
        let g = s.request(server, &r);
        assert_eq!(
            g.key,
            s.key(server, "GET", "/users/1"),
            "one key per endpoint"
        );
        assert!(s.response(
            server,
            Some(&r),
            None,
            g.keep,
            &resp(404, "application/json")
        ));
        // a new endpoint is always inspected
        assert!(s.request(server, &req("/orders")).keep);
        // decisions depend on the traffic only: a second sampler decides the same
        let mut t = Sampler::new(None);
        let again: Vec<bool> = (0..200u32)
            .map(|i| t.request(server, &req(&format!("/users/{i}"))).keep)
            .collect();
        assert!(again.iter().all(|&k| k), "no feedback, no back-off");
    }
}
