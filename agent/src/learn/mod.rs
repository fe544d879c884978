//! Stage 7 — learn: finished exchanges → observations → the API model.
//!
//! The HTTP stage's [`Exchange`] is turned into the model's [`Observation`]: the service is
//! the server socket `ip:port` (or [`LearnConfig::service`]), never the `Host` header, which
//! any client chooses (1,000 Host values must not make 1,000 services); the model keeps the
//! Host values as bounded evidence. Exchanges without a request are skipped (counted),
//! since an endpoint needs a method and path. The first exchange beyond the learner's node
//! budget ([`LearnConfig::max_nodes`]) is logged once; all are counted
//! (`Stats::node_overflow`, the service's `other`, metric `apitap_learn_other_total`).
//! Before that, the model compacts a flooded service's trie (`apitap_model::compact`): the
//! first compaction is logged once, all are counted (metric
//! `apitap_learn_compactions_total`).
//! A gRPC call (request `content-type: application/grpc*`) also gets its messages and
//! `grpc-status` in [`Observation::grpc`], split and capped as
//! [`apitap_engine::http2::grpc`] describes.
//!
//! Adaptive body sampling ([`sample`]): every exchange updates the operation's counts,
//! statuses, latency, query and header evidence, but bodies are decoded and inferred only
//! for a deterministic, shrinking sample per endpoint, chosen at each message head by the
//! [`Sampler`] (the pipeline's [`apitap_engine::http::BodyGate`]) so that a skipped body is
//! never copied nor decompressed. [`Learner::learn_all`] turns it off.

pub mod sample;

use apitap_engine::exchange::HeadPool;
use apitap_engine::http::{Exchange, MessageHead, SharedGate};
use apitap_engine::http2::grpc;
use apitap_model::{ApiModel, GrpcCall, Headers, Inspect, LearnConfig, Observation};
use sample::Sampler;
use std::cell::RefCell;
use std::rc::Rc;

/// Reads and parses a reviewed templates file (`apitap_model::paths::parse_templates`);
/// no file → no rules.
pub fn template_rules(path: Option<&str>) -> anyhow::Result<apitap_model::paths::TemplateRules> {
    let Some(path) = path else {
        return Ok(Default::default());
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read templates file {path}: {e}"))?;
    apitap_model::paths::parse_templates(&text)
        .map_err(|e| anyhow::anyhow!("templates file {path}: {e}"))
}

/// Counters of the learn stage.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct LearnStats {
    /// Exchanges given to the model.
    pub observed: u64,
    /// Exchanges skipped because no request was seen.
    pub skipped_no_request: u64,
    /// Exchanges learned with a body skipped by adaptive sampling.
    pub bodies_skipped: u64,
}

/// Converts an exchange into an observation (`None` without a request).
pub fn observation(ex: &Exchange) -> Option<Observation> {
    let req = ex.request.as_ref()?;
    let resp = ex.response.as_ref();
    let server = ex.server.to_string();
    Some(Observation {
        service: server.clone(),
        server: Some(server),
        method: req.method().to_owned(),
        target: req.uri().to_owned(),
        request_headers: owned_headers(&req.head),
        request_body: req.body.clone(),
        request_body_truncated: req
            .body
            .as_ref()
            .is_some_and(|b| (b.len() as u64) < req.body_len),
        status: resp.and_then(|r| r.status),
        response_headers: resp.map(|r| owned_headers(&r.head)).unwrap_or_default(),
        response_body: resp.and_then(|r| r.body.clone()),
        response_body_truncated: resp.is_some_and(|r| {
            r.body
                .as_ref()
                .is_some_and(|b| (b.len() as u64) < r.body_len)
        }),
        latency_ms: ex.latency_ms(),
        ts_unix_ms: ex.ts().as_nanos() / 1_000_000,
        grpc: grpc_call(ex),
    })
}

/// A head's header fields as the model's observation holds them (a copy: the head is
/// borrowed; one copy of its text and ranges, not one per name and value).
fn owned_headers(h: &MessageHead) -> Headers {
    let mut spans = Vec::with_capacity(h.header_count());
    let text = h.clone().into_parts(&mut spans);
    Headers::from_parts(text, spans)
}

/// `head`'s header fields moved into `dst` (no copy of names or values: the head's text
/// moves, and `dst`'s range vector keeps its room). `dst`'s previous text and `head`'s
/// field vector go back to `pool` as one spare head, for the pipeline's next head.
fn move_headers(dst: &mut Headers, mut head: MessageHead, pool: Option<&HeadPool>) {
    let (old, mut spans) = std::mem::take(dst).into_parts();
    let text = head.take_parts(&mut spans, old);
    if spans.capacity() > KEEP_FIELDS.max(spans.len()) * 2 {
        spans.shrink_to(KEEP_FIELDS.max(spans.len()));
    }
    *dst = Headers::from_parts(text, spans);
    if let Some(p) = pool {
        p.give(head);
    }
}

fn grpc_call(ex: &Exchange) -> Option<GrpcCall> {
    grpc::call(ex, &grpc::GrpcLimits::default()).map(|c| GrpcCall {
        request_messages: c.request.messages,
        response_messages: c.response.messages,
        status: c.status,
    })
}

/// What [`into_observation`] keeps of an exchange beside the observation.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Taken {
    /// Which bodies the pipeline kept (a body the sampling gate skipped is `None`):
    /// for [`Learner::learn_observation`].
    pub inspect: Inspect,
    /// Request body length on the wire.
    pub request_wire_len: u64,
    /// Response body length on the wire (0 without a response).
    pub response_wire_len: u64,
    /// The body gate's key for the exchange ([`Exchange::gate_key`]): for
    /// [`Learner::learn_observation`].
    pub gate_key: Option<u64>,
}

/// [`observation`] by moving the bodies out of `ex`, with `server` the server's `ip:port`
/// as [`observation`] writes it (the caller may keep it formatted). `None` without a
/// request. [`ObservationBuf::fill`] is the same without allocating each time.
pub fn into_observation(ex: Exchange, server: &str) -> Option<(Observation, Taken)> {
    let mut buf = ObservationBuf::default();
    let taken = buf.fill(ex, server)?;
    Some((buf.obs, taken))
}

/// One [`Observation`] refilled for every exchange of the live path ([`ObservationBuf::fill`]).
///
/// Cost policy: the exchange's method and target are copied into the strings the buffer
/// already holds, and the server name into its `service` and `server`; the header fields
/// move in with their head's text ([`Headers::from_parts`]) and the bodies are moved. So
/// once its strings have room an exchange allocates nothing here, and no header name or
/// value is copied (the copy was ~1,000 instructions per nginx exchange). With a pool
/// ([`ObservationBuf::with_pool`]) the text the observation held before, and the head's
/// field vector, go back to the pipeline for its next heads, so the HTTP/1 parser does not
/// allocate them either ([`apitap_engine::exchange::HeadPool`]). Memory stays
/// bounded: a string grown past [`KEEP_STRING`] bytes is not kept for a shorter value, and
/// a field-range vector keeps room for at most [`KEEP_FIELDS`] fields beyond need.
#[derive(Debug, Default)]
pub struct ObservationBuf {
    obs: Observation,
    /// Where the heads' spare allocations go back to (the pipeline's, when it has one).
    pool: Option<HeadPool>,
}

/// A kept string longer than this is replaced rather than reused for a shorter value.
pub const KEEP_STRING: usize = 4096;
/// Room for this many header fields is kept in a field-range vector.
pub const KEEP_FIELDS: usize = 64;

fn set(dst: &mut String, v: &str) {
    if dst.capacity() > KEEP_STRING && v.len() <= KEEP_STRING {
        *dst = v.to_owned();
    } else {
        dst.clear();
        dst.push_str(v);
    }
}

impl ObservationBuf {
    /// A buffer that hands each exchange's spare head allocations back to `pool` (the
    /// pipeline's [`apitap_engine::Pipeline::head_pool`]), so neither side allocates head
    /// text per exchange once both have room.
    pub fn with_pool(pool: HeadPool) -> Self {
        ObservationBuf {
            obs: Observation::default(),
            pool: Some(pool),
        }
    }

    /// The observation last filled.
    pub fn observation(&self) -> &Observation {
        &self.obs
    }

    /// The observation of `ex` ([`into_observation`]'s), in place of the previous one;
    /// `None` (and the observation left as it was) without a request.
    pub fn fill(&mut self, ex: Exchange, server: &str) -> Option<Taken> {
        let grpc = grpc_call(&ex);
        let latency_ms = ex.latency_ms();
        let ts_unix_ms = ex.ts().as_nanos() / 1_000_000;
        let req = ex.request?;
        let resp = ex.response;
        let taken = Taken {
            inspect: Inspect {
                request: req.body.is_some(),
                response: resp.as_ref().is_none_or(|r| r.body.is_some()),
            },
            request_wire_len: req.wire_len,
            response_wire_len: resp.as_ref().map_or(0, |r| r.wire_len),
            gate_key: ex.gate_key,
        };
        let truncated = |body: &Option<Vec<u8>>, len: u64| {
            body.as_ref().is_some_and(|b| (b.len() as u64) < len)
        };
        let ObservationBuf { obs, pool } = self;
        let pool = pool.as_ref();
        // every field, by name: a field added to `Observation` must be filled here too
        let Observation {
            service,
            server: server_field,
            method,
            target,
            request_headers,
            request_body,
            request_body_truncated,
            status,
            response_headers,
            response_body,
            response_body_truncated,
            latency_ms: latency_field,
            ts_unix_ms: ts_field,
            grpc: grpc_field,
        } = obs;
        set(service, server);
        match server_field {
            Some(s) => set(s, server),
            None => *server_field = Some(server.to_owned()),
        }
        set(method, req.method());
        set(target, req.uri());
        *request_body_truncated = truncated(&req.body, req.body_len);
        *request_body = req.body;
        move_headers(request_headers, req.head, pool);
        match resp {
            Some(r) => {
                *status = r.status;
                *response_body_truncated = truncated(&r.body, r.body_len);
                *response_body = r.body;
                move_headers(response_headers, r.head, pool);
            }
            None => {
                move_headers(response_headers, MessageHead::default(), pool);
                *status = None;
                *response_body_truncated = false;
                *response_body = None;
            }
        }
        *latency_field = latency_ms;
        *ts_field = ts_unix_ms;
        *grpc_field = grpc;
        Some(taken)
    }
}

/// Learns a model from exchanges. Not `Send`: its body sampler is shared with the pipeline
/// of the same thread.
#[derive(Debug, Default)]
pub struct Learner {
    /// The model learned so far.
    pub model: ApiModel,
    /// Settings (its pinned templates are parsed once, into `pins`, by [`Learner::new`]).
    pub config: LearnConfig,
    /// `config`'s pinned templates, parsed.
    pins: Vec<apitap_model::paths::Pin>,
    /// Counters.
    pub stats: LearnStats,
    /// The endpoint-budget overflow was logged.
    overflow_logged: bool,
    /// The first trie compaction was logged.
    compaction_logged: bool,
    /// Adaptive body sampling, once a pipeline asks it ([`Learner::gate`]).
    sampler: Option<Rc<RefCell<Sampler>>>,
    /// Sampling is off.
    all: bool,
}

impl Learner {
    /// A learner with these settings.
    pub fn new(config: LearnConfig) -> Self {
        Learner {
            model: ApiModel::new(),
            pins: ApiModel::parse_pins(&config),
            config,
            stats: LearnStats::default(),
            overflow_logged: false,
            compaction_logged: false,
            sampler: None,
            all: false,
        }
    }

    /// `true`: learn every body (`--learn-all`): [`Learner::gate`] returns `None`, and every
    /// element of a long JSON array is observed in full ([`apitap_model::LearnConfig::all_items`]).
    pub fn learn_all(mut self, all: bool) -> Self {
        self.all = all;
        self.config.all_items = all;
        self
    }

    /// The body gate for the pipeline that feeds this learner (adaptive sampling), `None`
    /// with [`Learner::learn_all`]. Exchanges from that pipeline must be given to
    /// [`Learner::observe_exchange`] or [`Learner::learn_exchange`]: a body the gate skipped
    /// is `None` there and is counted as skipped.
    pub fn gate(&mut self) -> Option<SharedGate> {
        if self.all {
            return None;
        }
        let service = self.config.service.as_deref();
        let s = self
            .sampler
            .get_or_insert_with(|| Rc::new(RefCell::new(Sampler::new(service))));
        Some(SharedGate(Rc::new(sample::SamplerGate(Rc::clone(s)))))
    }

    /// Sampling counters (zero without a gate).
    pub fn sample_stats(&self) -> sample::SampleStats {
        self.sampler
            .as_ref()
            .map(|s| s.borrow().stats)
            .unwrap_or_default()
    }

    /// Learns from one exchange, moving its bodies and header fields into the observation
    /// ([`into_observation`]) instead of copying them ([`Learner::observe_exchange`]).
    pub fn observe_owned(&mut self, ex: Exchange) {
        let server = ex.server;
        match into_observation(ex, &server.to_string()) {
            Some((obs, taken)) => {
                self.learn_observation(server, taken.inspect, taken.gate_key, &obs);
            }
            None => self.stats.skipped_no_request += 1,
        }
    }

    /// Learns from one exchange.
    pub fn observe_exchange(&mut self, ex: &Exchange) {
        match observation(ex) {
            Some(obs) => {
                self.learn_exchange(ex, &obs);
            }
            None => self.stats.skipped_no_request += 1,
        }
    }

    /// Learns from one exchange already converted ([`observation`]); returns the PII
    /// classes the learner found in it. Bodies the gate skipped count as skipped, and what
    /// the inspected ones taught goes back to the sampler.
    pub fn learn_exchange(
        &mut self,
        ex: &Exchange,
        obs: &Observation,
    ) -> apitap_model::pii::ClassSet {
        let inspect = Inspect {
            request: ex.request.as_ref().is_none_or(|r| r.body.is_some()),
            response: ex.response.as_ref().is_none_or(|r| r.body.is_some()),
        };
        self.learn_observation(ex.server, inspect, ex.gate_key, obs)
    }

    /// [`Learner::learn_exchange`] for an exchange already moved into `obs`
    /// ([`into_observation`]): `server` is its server socket, `inspect` which of its
    /// bodies the pipeline kept ([`Taken::inspect`]) and `gate_key` the sampler's key the
    /// pipeline carried with it ([`Taken::gate_key`]; computed again when `None`).
    pub fn learn_observation(
        &mut self,
        server: std::net::SocketAddr,
        inspect: Inspect,
        gate_key: Option<u64>,
        obs: &Observation,
    ) -> apitap_model::pii::ClassSet {
        let Some(sampler) = self.sampler.clone() else {
            return self.observe(obs);
        };
        if !inspect.request || !inspect.response {
            self.stats.bodies_skipped += 1;
        }
        let (pii, ep) = self
            .model
            .observe_pinned(obs, &self.config, &self.pins, inspect);
        let evidence = ep
            .filter(|_| inspect.request || inspect.response)
            .map(sample::body_evidence);
        self.after_observe();
        if let Some(evidence) = evidence {
            let mut s = sampler.borrow_mut();
            let key = gate_key.unwrap_or_else(|| s.key(server, &obs.method, &obs.target));
            s.learned(key, evidence);
        }
        pii
    }

    /// Learns from one observation (every body in it inspected); returns the PII classes
    /// the learner found in it ([`apitap_model::ApiModel::observe`]).
    pub fn observe(&mut self, obs: &Observation) -> apitap_model::pii::ClassSet {
        let (pii, _) = self
            .model
            .observe_pinned(obs, &self.config, &self.pins, Inspect::ALL);
        self.after_observe();
        pii
    }

    fn after_observe(&mut self) {
        self.stats.observed += 1;
        if self.overflow_logged && self.compaction_logged {
            return;
        }
        let Some(st) = self
            .model
            .sources
            .get(&self.config.source)
            .map(|s| &s.stats)
        else {
            return;
        };
        if !self.overflow_logged && st.node_overflow > 0 {
            self.overflow_logged = true;
            tracing::warn!(
                max_nodes = self.config.max_nodes,
                "learner node budget reached: exchanges needing new path nodes are counted in _other, not learned (logged once)"
            );
        }
        if !self.compaction_logged && st.compactions > 0 {
            self.compaction_logged = true;
            tracing::warn!(
                nodes_freed = st.compacted_nodes,
                "learner node budget under pressure: path values folded into parameters to free trie nodes (compaction; logged once, counted in apitap_learn_compactions_total)"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    /// Moving an exchange into an observation gives what copying it gives, with what the
    /// agent needs beside it (bodies kept, wire lengths).
    #[test]
    fn into_observation_is_observation() {
        use apitap_engine::exchange::{Exchange, MessageHead, Request, Response};
        use apitap_engine::Timestamp;
        let ex = |resp: Option<Response>, body: Option<Vec<u8>>| Exchange {
            conn_id: 1,
            index: 0,
            client: "10.0.0.1:40000".parse().expect("addr"),
            server: "10.0.0.2:8080".parse().expect("addr"),
            request: Some(Request {
                head: MessageHead::new(["POST", "/users?x=1", "HTTP/1.1"])
                    .with_header("Host", "api"),
                body_len: 10,
                wire_len: 7,
                body,
                ts_start: Timestamp::from_nanos(5, 0),
                ts_end: Timestamp::from_nanos(5, 10),
            }),
            response: resp,
            flags: Vec::new(),
            stream_id: None,
            gate_key: None,
        };
        let resp = Response {
            status: Some(201),
            head: MessageHead::default().with_header("Content-Type", "application/json"),
            body_len: 3,
            wire_len: 30,
            body: None,
            ts_start: Timestamp::from_nanos(5, 2_000_000),
            ts_end: Timestamp::from_nanos(5, 3_000_000),
        };
        for (r, body) in [
            (Some(resp.clone()), Some(b"{\"a\"".to_vec())),
            (None, None),
            (
                Some(Response {
                    body: Some(b"{}".to_vec()),
                    ..resp
                }),
                Some(Vec::new()),
            ),
        ] {
            let e = ex(r, body);
            let copied = super::observation(&e).expect("request");
            let (moved, taken) =
                super::into_observation(e.clone(), "10.0.0.2:8080").expect("request");
            assert_eq!(moved, copied);
            assert_eq!(
                taken.inspect,
                apitap_model::Inspect {
                    request: e.request.as_ref().is_some_and(|q| q.body.is_some()),
                    response: e.response.as_ref().is_none_or(|r| r.body.is_some()),
                }
            );
            assert_eq!(taken.request_wire_len, 7);
            assert_eq!(
                taken.response_wire_len,
                e.response.as_ref().map_or(0, |r| r.wire_len)
            );
        }
        assert!(super::into_observation(
            Exchange {
                request: None,
                ..ex(None, None)
            },
            "x"
        )
        .is_none());
    }

    /// A kept observation refilled exchange after exchange (more headers, fewer, none, no
    /// response, a long value) is each time what a fresh one is.
    #[test]
    fn refilled_observation_is_fresh_observation() {
        use apitap_engine::exchange::{Exchange, MessageHead, Request, Response};
        use apitap_engine::Timestamp;
        let long = "v".repeat(super::KEEP_STRING + 10);
        let ex = |n: usize, value: &str, resp: bool| {
            let mut q = MessageHead::new(["GET", &format!("/u/{n}"), "HTTP/1.1"]);
            let mut p = MessageHead::new(["HTTP/1.1", "200", "OK"]);
            for i in 0..n {
                q.push_header(&format!("X-{i}"), value);
                p.push_header(&format!("Y-{i}"), &value[..1]);
            }
            Exchange {
                conn_id: 1,
                index: n as u64,
                client: "10.0.0.1:40000".parse().expect("addr"),
                server: "10.0.0.2:8080".parse().expect("addr"),
                request: Some(Request {
                    head: q,
                    body: Some(vec![b'x'; n]),
                    body_len: n as u64 + 1,
                    ts_start: Timestamp::from_nanos(5, n as i64),
                    ..Default::default()
                }),
                response: resp.then(|| Response {
                    status: Some(200),
                    head: p,
                    ts_end: Timestamp::from_nanos(6, 0),
                    ..Default::default()
                }),
                flags: Vec::new(),
                stream_id: None,
                gate_key: None,
            }
        };
        for pooled in [false, true] {
            // once without a pool, once handing the heads' spare allocations to one
            let pool = apitap_engine::exchange::HeadPool::default();
            let mut buf = if pooled {
                super::ObservationBuf::with_pool(pool.clone())
            } else {
                super::ObservationBuf::default()
            };
            for (i, (n, value, resp)) in [
                (3, "a", true),
                (100, "bb", true),
                (1, long.as_str(), true),
                (0, "c", true),
                (2, "d", false),
                (70, "e", true),
                (5, "f", true),
            ]
            .into_iter()
            .enumerate()
            {
                let server = if i % 2 == 0 { "10.0.0.2:8080" } else { "s" };
                let taken = buf.fill(ex(n, value, resp), server).expect("request");
                let (fresh, t) =
                    super::into_observation(ex(n, value, resp), server).expect("request");
                assert_eq!(buf.observation(), &fresh, "exchange {i}");
                assert_eq!(taken, t);
                // the moved header fields read back as the borrowed head's copy does
                let copied = super::observation(&ex(n, value, resp)).expect("request");
                assert_eq!(buf.observation().request_headers, copied.request_headers);
                assert_eq!(buf.observation().response_headers, copied.response_headers);
                assert_eq!(buf.observation().request_headers.len(), n);
            }
            // a later exchange without a request leaves the observation as it was
            let before = buf.observation().clone();
            let mut none = ex(1, "a", true);
            none.request = None;
            assert!(buf.fill(none, "x").is_none());
            assert_eq!(buf.observation(), &before);
            assert_eq!(pool.is_empty(), !pooled, "spare heads handed back");
        }
    }

    #[test]
    fn service_names() {
        use apitap_model::service_name;
        let server = "10.1.2.3:8080";
        assert_eq!(service_name(Some("API.test:80"), server), "api.test");
        assert_eq!(service_name(Some("api.test:8080"), server), "api.test:8080");
        assert_eq!(service_name(Some("  "), server), "10.1.2.3:8080");
        assert_eq!(service_name(None, server), "10.1.2.3:8080");
    }

    /// The templates a learner is given (parsed once, at construction) decide what it learns:
    /// two plain words under `/things` would stay literal without the pin.
    #[test]
    fn pinned_templates_apply_to_what_the_learner_observes() {
        use super::Learner;
        use apitap_model::{LearnConfig, Observation};
        let obs = |path: &str| Observation {
            service: "svc".into(),
            method: "GET".into(),
            target: path.into(),
            status: Some(200),
            ..Default::default()
        };
        let paths = |pinned: Vec<String>| {
            let mut l = Learner::new(LearnConfig {
                pinned,
                ..Default::default()
            });
            for p in ["/things/alpha", "/things/beta"] {
                l.observe(&obs(p));
            }
            let mut t: Vec<String> = l
                .model
                .endpoints()
                .into_iter()
                .map(|e| e.template)
                .collect();
            t.sort();
            t
        };
        assert_eq!(paths(vec!["/things/{name}".into()]), vec!["/things/{name}"]);
        assert_eq!(paths(vec![]), vec!["/things/alpha", "/things/beta"]);
    }
}
