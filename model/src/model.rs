//! The model: per-source evidence, learning, merging and (de)serialisation.
//!
//! Merge semantics: an [`ApiModel`] maps a *source id* (one per agent/learner, set in
//! [`LearnConfig::source`]) to that source's evidence. `merge` joins per source: same source →
//! counters take the max (the later snapshot of a source dominates the earlier), different
//! sources → kept side by side. This is a join-semilattice, so merge is associative,
//! commutative and idempotent exactly, including counts. Exports and summaries sum the
//! sources ([`ApiModel::combined`]), so counts are exact when every learner uses its own
//! source id. Two learners that share a source id are treated as snapshots of one learner.
//!
//! Memory budget (every exchange may come from an attacker): a service is keyed by what the
//! agent sets in [`Observation::service`] (the server socket, or the `--service` name,
//! [`LearnConfig::service`]), never by a header the client chooses; the `Host` values seen
//! are kept as bounded evidence ([`MAX_HOSTS`] per service, the rest counted in
//! `host_overflow`), used for `servers` in the export and to select a service by name. At
//! most [`MAX_SERVICES`] services, [`MAX_NODES`] path nodes per service, [`MAX_LITERALS`]
//! literals per node, and [`LearnConfig::max_nodes`] path nodes per source in total: an
//! exchange whose path needs a node beyond that budget is counted in its service's `other`
//! bucket (exported as `x-apitap-other`) and in [`Stats::node_overflow`], not learned.
//! Nodes created before the budget ran out keep learning, so traffic to known endpoints is
//! never lost to a flood of new paths, and templated paths (`/users/{id}`) need no new
//! nodes. Before a path is dropped, the service's trie is compacted ([`crate::compact`]:
//! the values the export would fold anyway are folded into their parameter, freeing nodes
//! for new routes; counted in [`Stats::compactions`]). The export keeps at most [`crate::ExportOptions::max_operations`] operations, the
//! most used; the rest are summed into `x-apitap-other` too. Value-flow evidence is at most
//! [`crate::valueflow::MAX_FLOW`] 64-bit hashes per service (a bottom-k sample).
//!
//! [`MAX_LITERALS`]: crate::paths::MAX_LITERALS

use crate::endpoint::{Endpoint, Inspect};
use crate::evidence::{cnt, combine_map, is_zero, Combine, Mode};
use crate::paths::{derive_flow, route, Budget, Derived, PathNode, Pin, MAX_METHODS, MAX_SEGMENTS};
use crate::pii::ClassSet;
use crate::schema::Ctx;
use crate::valueflow::{Taken, ValueFlow};
use crate::Observation;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::cell::Cell;
use std::collections::BTreeMap;

/// Current native model format version.
pub const MODEL_VERSION: u32 = 1;
/// Max services per source.
pub const MAX_SERVICES: usize = 256;
/// Max trie nodes per service (bounds endpoints per service).
pub const MAX_NODES: u64 = 4096;
/// Max distinct server addresses per service.
pub const MAX_SERVERS: usize = 16;
/// Max gRPC methods per service.
pub const MAX_GRPC_METHODS: usize = 1024;
/// Max distinct `Host` values recorded per service.
pub const MAX_HOSTS: usize = 16;
/// Default max path nodes per source (all services), the learner's memory budget.
pub const DEFAULT_MAX_NODES: u64 = 16_384;

/// Learning configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct LearnConfig {
    /// Source id of this learner (agent id); distinct learners should use distinct ids.
    pub source: String,
    /// Keep one example per schema node, synthesised from type and format.
    pub examples: bool,
    /// Pinned templates, e.g. `/v1/orgs/{org}/repos`: matching segments are parameters.
    pub pinned: Vec<String>,
    /// Literal routes that stay static whatever the inference, e.g. `/containers/json`
    /// (`{x}` segments match anything; the last segment is kept).
    pub statics: Vec<String>,
    /// Every exchange goes to this service (instead of [`Observation::service`]).
    pub service: Option<String>,
    /// Max path nodes per source (all services); exchanges needing more are counted in their
    /// service's `other` bucket.
    pub max_nodes: u64,
    /// Observe every element of a long JSON array in full instead of thinning them
    /// ([`crate::schema`]'s policy; `--learn-all`, for audits).
    pub all_items: bool,
}

impl Default for LearnConfig {
    fn default() -> Self {
        LearnConfig {
            source: "local".into(),
            examples: false,
            pinned: Vec::new(),
            statics: Vec::new(),
            service: None,
            max_nodes: DEFAULT_MAX_NODES,
            all_items: false,
        }
    }
}

/// Counters of what was learned and what was skipped.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Observations accepted.
    pub observed: u64,
    /// Request targets that were not a path (e.g. `*`, garbage).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub bad_target: u64,
    /// Paths with more than [`MAX_SEGMENTS`] segments.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub too_deep: u64,
    /// Dropped because the service cap was reached.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub service_overflow: u64,
    /// Dropped because a service's node budget was exhausted.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub node_overflow: u64,
    /// Dropped because an endpoint's method cap was reached or the method was invalid.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub bad_method: u64,
    /// Trie compactions run under budget pressure ([`crate::compact`]).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub compactions: u64,
    /// Trie nodes freed by compaction.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub compacted_nodes: u64,
}

impl Combine for Stats {
    fn combine(&mut self, o: &Self, m: Mode) {
        cnt(&mut self.observed, o.observed, m);
        cnt(&mut self.bad_target, o.bad_target, m);
        cnt(&mut self.too_deep, o.too_deep, m);
        cnt(&mut self.service_overflow, o.service_overflow, m);
        cnt(&mut self.node_overflow, o.node_overflow, m);
        cnt(&mut self.bad_method, o.bad_method, m);
        cnt(&mut self.compactions, o.compactions, m);
        cnt(&mut self.compacted_nodes, o.compacted_nodes, m);
    }
}

/// One service (host).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceModel {
    /// Server addresses with counts.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub servers: BTreeMap<String, u64>,
    /// Path trie.
    pub root: PathNode,
    /// Trie nodes created (budget accounting).
    pub nodes: u64,
    /// gRPC methods by path (`/pkg.Service/Method`): exact names, never templated, at
    /// most [`MAX_GRPC_METHODS`].
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub grpc: BTreeMap<String, Endpoint>,
    /// The gRPC method cap was hit.
    #[serde(default, skip_serializing_if = "crate::evidence::is_false")]
    pub grpc_overflow: bool,
    /// `Host` values seen (evidence, not a key), with counts; at most [`MAX_HOSTS`].
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub hosts: BTreeMap<String, u64>,
    /// Exchanges whose `Host` was not recorded because `hosts` was full.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub host_overflow: u64,
    /// The `_other` bucket: exchanges whose path needed a node beyond the node budget.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub other: u64,
    /// Values the service handed out, as keyed hashes ([`crate::valueflow`]).
    #[serde(default, skip_serializing_if = "ValueFlow::is_empty")]
    pub flow: ValueFlow,
    /// Learner state, not evidence: no whole-trie compaction before `other` reaches this.
    #[serde(skip)]
    pub compact_hold: CompactHold,
}

/// When a service's next whole-trie compaction may run (see [`crate::compact`]): learner
/// state, not evidence, so it is not serialised, merged, nor compared.
#[derive(Debug, Clone, Copy, Default)]
pub struct CompactHold(pub u64);

impl PartialEq for CompactHold {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Combine for ServiceModel {
    fn combine(&mut self, o: &Self, m: Mode) {
        combine_map(&mut self.servers, &o.servers, m, MAX_SERVERS);
        self.root.combine(&o.root, m);
        cnt(&mut self.nodes, o.nodes, m);
        combine_map(&mut self.hosts, &o.hosts, m, MAX_HOSTS);
        cnt(&mut self.host_overflow, o.host_overflow, m);
        cnt(&mut self.other, o.other, m);
        self.flow.combine(&o.flow, m);
        self.grpc_overflow |= combine_map(&mut self.grpc, &o.grpc, m, MAX_GRPC_METHODS);
        self.grpc_overflow |= o.grpc_overflow;
    }
}

impl ServiceModel {
    /// Derived endpoints: the path trie's templates, then the gRPC methods (literal paths).
    pub fn derive(&self) -> Vec<Derived> {
        let mut out = derive_flow(&self.root, &self.flow);
        for (path, ep) in &self.grpc {
            out.push(Derived {
                segs: path
                    .split('/')
                    .filter(|s| !s.is_empty())
                    .map(|s| crate::paths::TSeg::Lit(s.to_string()))
                    .collect(),
                method: "POST".into(),
                ep: ep.clone(),
            });
        }
        out
    }
}

/// A `Host` header value as evidence: lowercase, default port `:80` dropped; `None` unless
/// it is hostname-shaped (letters, digits, `.-:[]`, at most 255 bytes).
pub fn host_evidence(host: &str) -> Option<String> {
    host_key(host).map(Cow::into_owned)
}

/// [`host_evidence`] without a copy when the value is already lowercase (the usual case):
/// the learner looks the key up on every exchange and copies it only to insert it.
fn host_key(host: &str) -> Option<Cow<'_, str>> {
    let h = host.trim();
    let h = h.strip_suffix(":80").unwrap_or(h);
    if h.is_empty() || h.len() > 255 {
        return None;
    }
    // one table load per Host byte, or-ed together without a branch (a range test and a
    // set per byte cost ~23 instructions a byte, ~300 per exchange)
    let seen = h
        .bytes()
        .fold(0u8, |acc, c| acc | HOST_BYTE[usize::from(c)]);
    if seen & HOST_BAD != 0 {
        None
    } else if seen & HOST_UPPER != 0 {
        Some(Cow::Owned(h.to_ascii_lowercase()))
    } else {
        Some(Cow::Borrowed(h))
    }
}

/// [`HOST_BYTE`]: a byte no hostname holds.
const HOST_BAD: u8 = 1;
/// [`HOST_BYTE`]: an uppercase letter (the key is lowercased).
const HOST_UPPER: u8 = 2;
/// Per byte, what it makes of a `Host` value: 0 for the bytes a hostname holds as they are
/// (`0-9 a-z . - : [ ]`), [`HOST_UPPER`] for `A-Z`, [`HOST_BAD`] for any other.
static HOST_BYTE: [u8; 256] = {
    let mut t = [HOST_BAD; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        if b.is_ascii_digit()
            || b.is_ascii_lowercase()
            || matches!(b, b'.' | b'-' | b':' | b'[' | b']')
        {
            t[c] = 0;
        } else if b.is_ascii_uppercase() {
            t[c] = HOST_UPPER;
        }
        c += 1;
    }
    t
};

/// Evidence of one source.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SourceModel {
    /// Services by name.
    pub services: BTreeMap<String, ServiceModel>,
    /// Counters.
    pub stats: Stats,
}

impl Combine for SourceModel {
    fn combine(&mut self, o: &Self, m: Mode) {
        if combine_map(&mut self.services, &o.services, m, MAX_SERVICES) {
            self.stats.service_overflow = self.stats.service_overflow.max(1);
        }
        self.stats.combine(&o.stats, m);
    }
}

/// Parameter pins and static pins of a configuration.
fn pins_of(cfg: &LearnConfig) -> Vec<Pin> {
    let params = cfg.pinned.iter().map(|p| Pin::parse(p));
    params
        .chain(cfg.statics.iter().map(|p| Pin::parse_static(p)))
        .collect()
}

/// Split a request-target into (path, query).
pub fn split_target(target: &str) -> Option<(&str, Option<&str>)> {
    let mut t = target;
    if !t.starts_with('/') {
        for scheme in ["http://", "https://"] {
            if t.len() >= scheme.len()
                && t.as_bytes()[..scheme.len()].eq_ignore_ascii_case(scheme.as_bytes())
            {
                let rest = &t[scheme.len()..];
                t = rest.find('/').map(|i| &rest[i..]).unwrap_or("/");
                break;
            }
        }
        if !t.starts_with('/') {
            return None;
        }
    }
    // one pass to the first `?` or `#` (a byte loop: targets are short, and this runs for
    // every exchange); the query runs to the first `#` after the `?`
    let b = t.as_bytes();
    let Some(i) = b.iter().position(|&c| c == b'?' || c == b'#') else {
        return Some((t, None));
    };
    let path = t.get(..i)?;
    if b.get(i) == Some(&b'#') {
        return Some((path, None));
    }
    let rest = t.get(i + 1..)?;
    let query = match rest.as_bytes().iter().position(|&c| c == b'#') {
        Some(j) => rest.get(..j)?,
        None => rest,
    };
    Some((path, Some(query)))
}

/// The non-empty `/`-separated segments of `path` (a byte loop: cheaper than
/// `split('/')` for the short paths every exchange carries).
pub fn path_segments(path: &str) -> impl Iterator<Item = &str> + '_ {
    let mut rest = path;
    std::iter::from_fn(move || {
        let b = rest.as_bytes();
        let start = b.iter().position(|&c| c != b'/')?;
        let len = b
            .get(start..)?
            .iter()
            .position(|&c| c == b'/')
            .unwrap_or(b.len() - start);
        let seg = rest.get(start..start + len)?;
        rest = rest.get(start + len..).unwrap_or("");
        Some(seg)
    })
}

fn valid_method(m: &str) -> bool {
    !m.is_empty() && m.len() <= 16 && m.bytes().all(|c| c.is_ascii_alphabetic())
}

impl SourceModel {
    /// Learn one exchange; returns the PII classes the learner found in it.
    /// `inspect`: the bodies adaptive sampling let through; also returns the endpoint the
    /// exchange was recorded in (`None`: counted as skipped or overflow).
    fn observe(
        &mut self,
        obs: &Observation,
        cfg: &LearnConfig,
        pins: &[Pin],
        inspect: Inspect,
    ) -> (ClassSet, Option<&Endpoint>) {
        let pii = Cell::new(0);
        let ep = self.observe_into(obs, cfg, pins, &pii, inspect);
        (pii.get(), ep)
    }

    fn observe_into(
        &mut self,
        obs: &Observation,
        cfg: &LearnConfig,
        pins: &[Pin],
        pii: &Cell<ClassSet>,
        inspect: Inspect,
    ) -> Option<&Endpoint> {
        let Some((path, query)) = split_target(&obs.target) else {
            self.stats.bad_target += 1;
            return None;
        };
        if !valid_method(&obs.method) {
            self.stats.bad_method += 1;
            return None;
        }
        let mut segs: [&str; MAX_SEGMENTS] = [""; MAX_SEGMENTS];
        let mut n = 0;
        for s in path_segments(path) {
            if n == MAX_SEGMENTS {
                self.stats.too_deep += 1;
                return None;
            }
            segs[n] = s;
            n += 1;
        }
        let svc_key = cfg.service.as_deref().unwrap_or(obs.service.as_str());
        // all services' nodes (a sum over at most MAX_SERVICES, usually one or two; a
        // service created below has none yet)
        let total: u64 = self.services.values().map(|s| s.nodes).sum();
        if !self.services.contains_key(svc_key) {
            if self.services.len() >= MAX_SERVICES {
                self.stats.service_overflow += 1;
                return None;
            }
            self.services
                .insert(svc_key.to_string(), ServiceModel::default());
        }
        let svc = self.services.get_mut(svc_key)?;
        if let Some(server) = &obs.server {
            if let Some(c) = svc.servers.get_mut(server.as_str()) {
                *c += 1;
            } else if svc.servers.len() < MAX_SERVERS {
                svc.servers.insert(server.clone(), 1);
            }
        }
        if let Some(h) = obs
            .request_header("host")
            .or_else(|| obs.request_header(":authority"))
            .and_then(host_key)
        {
            if let Some(c) = svc.hosts.get_mut(&*h) {
                *c += 1;
            } else if svc.hosts.len() < MAX_HOSTS {
                svc.hosts.insert(h.into_owned(), 1);
            } else {
                svc.host_overflow += 1;
            }
        }
        let ctx = Ctx {
            ts: obs.ts_unix_ms,
            examples: cfg.examples,
            thin: !cfg.all_items,
            pii,
        };
        if obs.grpc.is_some() && crate::grpc::method_path(path).is_some() {
            // a gRPC method is an exact name: kept beside the trie, never templated
            if !svc.grpc.contains_key(path) {
                if svc.grpc.len() >= MAX_GRPC_METHODS {
                    svc.grpc_overflow = true;
                    self.stats.node_overflow += 1;
                    return None;
                }
                svc.grpc.insert(path.to_string(), Endpoint::default());
            }
            let ep = svc.grpc.get_mut(path)?;
            ep.observe(obs, query, ctx, inspect, (None, None));
            self.stats.observed += 1;
            return Some(ep);
        }
        // value flow takes its values from the schema's walk of the bodies it reads (one
        // parse per body), or walks them itself after routing when the schema did not
        let (want_req, want_resp) = crate::valueflow::wanted(obs);
        let mut req_flow = want_req.then(Taken::default);
        let mut resp_flow = want_resp.then(Taken::default);
        // nodes of the other services
        let others = total.saturating_sub(svc.nodes);
        let left = |svc: &ServiceModel| {
            MAX_NODES
                .saturating_sub(svc.nodes)
                .min(cfg.max_nodes.saturating_sub(others + svc.nodes))
        };
        if left(svc) < n as u64 && svc.other >= svc.compact_hold.0 {
            // the path may need more nodes than are left: fold what the export folds anyway
            let freed = crate::compact::compact_tree(&mut svc.root);
            svc.nodes = svc.nodes.saturating_sub(freed);
            if freed > 0 {
                self.stats.compactions += 1;
                self.stats.compacted_nodes += freed;
            }
            // a compaction that freed little waits for `other` to double
            svc.compact_hold.0 = if freed * 8 >= MAX_NODES {
                0
            } else {
                svc.other.saturating_mul(2).max(1)
            };
        }
        let mut budget = Budget {
            left: left(svc),
            ..Budget::default()
        };
        let node = route(&mut svc.root, &segs[..n], pins, &mut budget, ctx);
        svc.nodes = (svc.nodes + budget.created).saturating_sub(budget.freed);
        self.stats.compactions += budget.compactions;
        self.stats.compacted_nodes += budget.freed;
        let Some(node) = node else {
            self.stats.node_overflow += 1;
            svc.other += 1;
            svc.flow.observe_taken(obs, None, None);
            return None;
        };
        let method = obs.method.as_str();
        if !node.eps.contains_key(method) {
            if node.eps.len() >= MAX_METHODS {
                node.method_overflow += 1;
                self.stats.bad_method += 1;
                svc.flow.observe_taken(obs, None, None);
                return None;
            }
            node.eps.insert(method.to_string(), Endpoint::default());
        }
        let Some(ep) = node.eps.get_mut(method) else {
            svc.flow.observe_taken(obs, None, None);
            return None;
        };
        ep.observe(
            obs,
            query,
            ctx,
            inspect,
            (req_flow.as_mut(), resp_flow.as_mut()),
        );
        svc.flow
            .observe_taken(obs, req_flow.as_ref(), resp_flow.as_ref());
        self.stats.observed += 1;
        Some(ep)
    }
}

/// The learned API model (see the module doc for merge semantics).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApiModel {
    /// Evidence per source id.
    pub sources: BTreeMap<String, SourceModel>,
}

#[derive(Serialize, Deserialize)]
struct ModelFile {
    apitap_model_version: u32,
    sources: BTreeMap<String, SourceModel>,
}

/// Errors reading a native model.
#[derive(Debug)]
pub enum ModelError {
    /// Not valid JSON / not a model.
    Json(serde_json::Error),
    /// A version this build cannot read.
    Version(u32),
}

impl std::fmt::Display for ModelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModelError::Json(e) => write!(f, "invalid apitap model: {e}"),
            ModelError::Version(v) => write!(
                f,
                "unsupported apitap_model_version {v} (this build reads {MODEL_VERSION})"
            ),
        }
    }
}

impl std::error::Error for ModelError {}

/// One row of the endpoint summary table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EndpointSummary {
    /// Service (host).
    pub service: String,
    /// Method.
    pub method: String,
    /// Path template.
    pub template: String,
    /// Exchanges observed.
    pub count: u64,
    /// Fraction of responses with status >= 400.
    pub error_rate: f64,
    /// Median latency, ms.
    pub p50_ms: Option<f64>,
    /// 99th percentile latency, ms.
    pub p99_ms: Option<f64>,
}

impl ApiModel {
    /// An empty model.
    pub fn new() -> Self {
        Self::default()
    }

    /// Learn from one exchange. Returns the PII classes the learner found in it (the values
    /// it classified: path parameters, query values, non-standard request headers, JSON, form
    /// and multipart body values; plus `secret` for credentials in `Authorization`, and
    /// query parameters, cookies and headers under secret-like names). An exchange the
    /// learner did not look into (dropped, over the node budget, a gRPC call) yields none.
    pub fn observe(&mut self, obs: &Observation, cfg: &LearnConfig) -> ClassSet {
        let pins = pins_of(cfg);
        self.observe_pinned(obs, cfg, &pins, Inspect::ALL).0
    }

    /// Learn from one exchange of which adaptive sampling inspected the bodies `inspect`
    /// says (see [`Inspect`]); returns the PII classes found (as [`ApiModel::observe`]) and
    /// the endpoint it was recorded in, if any.
    pub fn observe_inspected(
        &mut self,
        obs: &Observation,
        cfg: &LearnConfig,
        inspect: Inspect,
    ) -> (ClassSet, Option<&Endpoint>) {
        let pins = pins_of(cfg);
        self.observe_pinned(obs, cfg, &pins, inspect)
    }

    /// The templates `cfg` pins, parsed: for [`ApiModel::observe_pinned`], so a learner that
    /// observes many exchanges parses them once.
    pub fn parse_pins(cfg: &LearnConfig) -> Vec<Pin> {
        pins_of(cfg)
    }

    /// As [`ApiModel::observe_inspected`], with `pins` = [`ApiModel::parse_pins`]`(cfg)`
    /// parsed once by the caller instead of on every exchange.
    pub fn observe_pinned(
        &mut self,
        obs: &Observation,
        cfg: &LearnConfig,
        pins: &[Pin],
        inspect: Inspect,
    ) -> (ClassSet, Option<&Endpoint>) {
        if !self.sources.contains_key(&cfg.source) {
            self.sources
                .insert(cfg.source.clone(), SourceModel::default());
        }
        match self.sources.get_mut(&cfg.source) {
            Some(s) => s.observe(obs, cfg, pins, inspect),
            None => (0, None),
        }
    }

    /// Learn from many exchanges (parses pinned templates once).
    pub fn observe_all<'a>(
        &mut self,
        obs: impl IntoIterator<Item = &'a Observation>,
        cfg: &LearnConfig,
    ) {
        let pins = pins_of(cfg);
        for o in obs {
            self.observe_pinned(o, cfg, &pins, Inspect::ALL);
        }
    }

    /// Merge `other` into `self` (a join: associative, commutative, idempotent).
    pub fn merge(&mut self, other: &ApiModel) {
        for (k, v) in &other.sources {
            match self.sources.get_mut(k) {
                Some(s) => s.combine(v, Mode::Join),
                None => {
                    self.sources.insert(k.clone(), v.clone());
                }
            }
        }
    }

    /// `self ⊔ other` as a new model.
    pub fn merged(&self, other: &ApiModel) -> ApiModel {
        let mut m = self.clone();
        m.merge(other);
        m
    }

    /// All sources summed into one view (what exports and summaries use).
    pub fn combined(&self) -> SourceModel {
        let mut out = SourceModel::default();
        for s in self.sources.values() {
            out.combine(s, Mode::Sum);
        }
        out
    }

    /// Counters summed over sources.
    pub fn stats(&self) -> Stats {
        self.combined().stats
    }

    /// Derived endpoints per service (templates from the merged evidence).
    pub fn derived(&self) -> BTreeMap<String, Vec<Derived>> {
        self.combined()
            .services
            .iter()
            .map(|(k, s)| (k.clone(), s.derive()))
            .collect()
    }

    /// Why each template parameter exists and each literal beside values stayed static, per
    /// service, decided from the merged evidence exactly as [`ApiModel::derived`].
    pub fn explain(&self) -> BTreeMap<String, Vec<crate::paths::Explanation>> {
        self.combined()
            .services
            .iter()
            .map(|(k, s)| (k.clone(), crate::paths::explain_flow(&s.root, &s.flow)))
            .collect()
    }

    /// Endpoint summary rows, sorted by service, template, method.
    pub fn endpoints(&self) -> Vec<EndpointSummary> {
        let mut rows = Vec::new();
        for (svc, ds) in self.derived() {
            for d in ds {
                rows.push(EndpointSummary {
                    service: svc.clone(),
                    method: d.method.clone(),
                    template: d.template(),
                    count: d.ep.n,
                    error_rate: d.ep.error_rate(),
                    p50_ms: d.ep.latency.quantile(0.5),
                    p99_ms: d.ep.latency.quantile(0.99),
                });
            }
        }
        rows.sort_by(|a, b| {
            (&a.service, &a.template, &a.method).cmp(&(&b.service, &b.template, &b.method))
        });
        rows
    }

    /// Native JSON (`{"apitap_model_version": 1, "sources": ...}`).
    pub fn to_json(&self) -> String {
        let f = ModelFile {
            apitap_model_version: MODEL_VERSION,
            sources: self.sources.clone(),
        };
        serde_json::to_string(&f).unwrap_or_default()
    }

    /// Read native JSON.
    pub fn from_json(s: &str) -> Result<ApiModel, ModelError> {
        let v: serde_json::Value = serde_json::from_str(s).map_err(ModelError::Json)?;
        let ver = v
            .get("apitap_model_version")
            .and_then(|x| x.as_u64())
            .unwrap_or(0) as u32;
        if ver != MODEL_VERSION {
            return Err(ModelError::Version(ver));
        }
        let f: ModelFile = serde_json::from_value(v).map_err(ModelError::Json)?;
        Ok(ApiModel { sources: f.sources })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The split as it was written before the byte loops (`split('#')`, `split_once('?')`,
    /// `split('/')`): the reference the faster one must match.
    fn split_reference(target: &str) -> Option<(&str, Option<&str>, Vec<&str>)> {
        let mut t = target;
        for scheme in ["http://", "https://"] {
            if t.len() >= scheme.len()
                && t.as_bytes()[..scheme.len()].eq_ignore_ascii_case(scheme.as_bytes())
            {
                let rest = &t[scheme.len()..];
                t = rest.find('/').map(|i| &rest[i..]).unwrap_or("/");
                break;
            }
        }
        if !t.starts_with('/') {
            return None;
        }
        let t = t.split('#').next().unwrap_or(t);
        let (p, q) = match t.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (t, None),
        };
        Some((p, q, p.split('/').filter(|s| !s.is_empty()).collect()))
    }

    #[test]
    fn split_target_matches_the_reference() {
        let parts = [
            "", "/", "//", "a", "é", "?", "#", "&", "=", "x=1", "users", "42", "HTTP://",
            "https://", "h:80", "%2F", "ü/",
        ];
        let mut n = 0;
        for a in parts {
            for b in parts {
                for c in parts {
                    for t in [
                        format!("{a}{b}{c}"),
                        format!("/{a}/{b}{c}"),
                        format!("http://{a}/{b}?{c}"),
                    ] {
                        let got = split_target(&t)
                            .map(|(p, q)| (p, q, path_segments(p).collect::<Vec<_>>()));
                        assert_eq!(got, split_reference(&t), "{t:?}");
                        n += 1;
                    }
                }
            }
        }
        assert!(n > 10_000);
    }

    /// The byte table answers what the rule says for every byte: a hostname byte as it is,
    /// an uppercase letter lowercased, anything else refused.
    #[test]
    fn host_key_byte_by_byte() {
        for b in 0..=255u8 {
            // a byte past ASCII stands in a two-byte character (`char::from` is Latin-1)
            let text = format!("a{}z", char::from(b));
            let allowed = b.is_ascii_alphanumeric() || b".-:[]".contains(&b);
            let got = host_key(&text);
            let want = allowed.then(|| text.to_ascii_lowercase());
            assert_eq!(got.as_deref(), want.as_deref(), "byte {b:#04x}");
            if allowed && !b.is_ascii_uppercase() {
                assert!(
                    matches!(got, Some(Cow::Borrowed(_))),
                    "byte {b:#04x} copied"
                );
            }
        }
        assert_eq!(host_key(&"a".repeat(256)), None);
        assert!(host_key(&"a".repeat(255)).is_some());
    }

    #[test]
    fn host_keys() {
        assert_eq!(host_evidence("API.test:80").as_deref(), Some("api.test"));
        assert_eq!(
            host_evidence(" api.test:8080 ").as_deref(),
            Some("api.test:8080")
        );
        assert!(matches!(
            host_key("api.test"),
            Some(Cow::Borrowed("api.test"))
        ));
        assert_eq!(host_evidence("a b"), None);
        assert_eq!(host_evidence(""), None);
    }
}
