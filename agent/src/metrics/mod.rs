//! Prometheus metrics of the agent: RED metrics per learned endpoint and the agent's health.
//!
//! HTTP metrics follow the OpenTelemetry HTTP semantic conventions in Prometheus form:
//! - `http_server_request_duration_seconds` (histogram, OTel default buckets 5 ms … 10 s),
//! - `http_server_request_body_size_bytes` and `http_server_response_body_size_bytes`
//!   (histograms, powers of 4 from 0 to 16 MiB; the decoded body length, as the HTTP stage
//!   counts it),
//!
//! labelled `http_request_method` (the nine standard methods, anything else `_OTHER` as OTel
//! says), `http_route` (the learned template, never a raw path), `http_response_status_code`
//! and `service_name`. Exchanges without a response have no duration and are not recorded
//! here; they show up in `apitap_unpaired_messages_total`. HTTP/2 requests are HTTP requests
//! here like HTTP/1 ones; gRPC calls (HTTP/2 with `content-type: application/grpc*`) are
//! recorded as RPC metrics instead, `rpc_server_call_duration_seconds` ([`rpc`]).
//!
//! Cardinality is capped ([`Caps`]): at most 20 services (further ones are recorded as
//! `service_name="_other"`), 500 routes per service (`http_route="_other"`), and 10,000
//! series overall (further label sets all go to one series whose labels are all `_other`).
//! Every overflow is counted in `apitap_metric_overflow_total{kind=...}`.
//!
//! Agent health metrics (all prefixed `apitap_`, plus the standard `process_*`) are listed in
//! [`Health`]. Everything is built as typed families ([`exposition`], the
//! `apitap-exposition` crate): `/metrics` renders them as the Prometheus text format 0.0.4
//! or OpenMetrics 1.0 ([`Format`]), and remote write encodes the same families directly.

pub mod route;
pub mod rpc;

pub use apitap_exposition::{Exposition, Family, Format};
use std::collections::HashMap;

/// The maps looked up on every exchange hash with aHash (their keys are label values the
/// agent chose or learned, or small ids; SipHash's cost bought nothing here).
type FastMap<K, V> = HashMap<K, V, ahash::RandomState>;

/// OpenTelemetry's default duration buckets (seconds).
pub const DURATION_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// Body size buckets (bytes): 0, then powers of 4 from 64 B to 16 MiB.
pub const SIZE_BUCKETS: [f64; 11] = [
    0.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0, 16777216.0,
];

/// Methods kept as label values; others are `_OTHER`.
pub const METHODS: [&str; 9] = [
    "CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE",
];
const METHOD_OTHER: u8 = METHODS.len() as u8;

/// The overflow label value.
pub const OTHER: &str = "_other";

/// Cardinality caps.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Caps {
    /// Max distinct `service_name` values (default 20).
    pub max_services: usize,
    /// Max distinct `http_route` values per service (default 500).
    pub max_routes_per_service: usize,
    /// Max series (label sets) overall (default 10,000).
    pub max_series: usize,
}

impl Default for Caps {
    fn default() -> Self {
        Caps {
            max_services: 20,
            max_routes_per_service: 500,
            max_series: 10_000,
        }
    }
}

/// A fixed-bucket histogram.
#[derive(Clone, Debug, PartialEq)]
pub struct Histogram {
    counts: Vec<u64>,
    sum: f64,
}

impl Histogram {
    /// An empty histogram for `bounds` (one extra bucket for `+Inf`).
    pub fn new(bounds: &[f64]) -> Self {
        Histogram {
            counts: vec![0; bounds.len() + 1],
            sum: 0.0,
        }
    }

    /// Records `v` (bucket `le` is inclusive).
    pub fn observe(&mut self, bounds: &[f64], v: f64) {
        let i = bounds.partition_point(|b| *b < v);
        if let Some(c) = self.counts.get_mut(i) {
            *c += 1;
        }
        self.sum += v;
    }

    /// Observations recorded.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Sum of the observed values.
    pub fn sum(&self) -> f64 {
        self.sum
    }

    /// Per-bucket counts (not cumulative), the last one for `+Inf`.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }
}

/// The histograms of one label set.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Request durations, seconds.
    pub duration: Histogram,
    /// Request body sizes, bytes.
    pub request_size: Histogram,
    /// Response body sizes, bytes.
    pub response_size: Histogram,
    /// Exchanges carrying each PII class, indexed by `PiiClass as usize`.
    pub pii: [u64; apitap_model::pii::N_CLASSES],
}

impl Default for Series {
    fn default() -> Self {
        Series {
            duration: Histogram::new(&DURATION_BUCKETS),
            request_size: Histogram::new(&SIZE_BUCKETS),
            response_size: Histogram::new(&SIZE_BUCKETS),
            pii: [0; apitap_model::pii::N_CLASSES],
        }
    }
}

/// One finished exchange, as the metrics see it.
#[derive(Copy, Clone, Debug)]
pub struct RedSample<'a> {
    /// `service_name`.
    pub service: &'a str,
    /// `http_route`: the learned template.
    pub route: &'a str,
    /// Request method as on the wire.
    pub method: &'a str,
    /// Response status code.
    pub status: u16,
    /// Request → response time, seconds.
    pub duration_s: f64,
    /// Request body length, bytes.
    pub request_bytes: u64,
    /// Response body length, bytes.
    pub response_bytes: u64,
    /// PII classes the learner found in the exchange ([`apitap_model::ApiModel::observe`]).
    pub pii: apitap_model::pii::ClassSet,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Key {
    service: u32,
    route: u32,
    method: u8,
    status: u16,
}

/// The `service_name` and `http_route` label values of an exchange resolved to the ids of
/// [`HttpMetrics`] ([`HttpMetrics::labels`]), with whether each went to `_other`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Labels {
    service: u32,
    route: u32,
    service_over: bool,
    route_over: bool,
}

/// Overflow counters.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Overflow {
    /// Samples whose service went to `_other`.
    pub services: u64,
    /// Samples whose route went to `_other`.
    pub routes: u64,
    /// Samples that went to the all-`_other` series.
    pub series: u64,
}

/// Service label values interned to small ids, shared by the HTTP and RPC metrics: at most
/// `cap` names, a further one maps to `_other` (which is interned whatever the cap).
#[derive(Debug, Default)]
struct ServiceIds {
    ids: FastMap<String, u32>,
    names: Vec<String>,
}

impl ServiceIds {
    /// The id of `name`, interned if new and under `cap`; over it, `_other`'s id and one more
    /// in `overflow`. `fresh`: a new id was made (the caller adds its per-service state).
    fn get_or_insert(&mut self, name: &str, cap: usize, overflow: &mut u64) -> (u32, bool) {
        if let Some(&id) = self.ids.get(name) {
            return (id, false);
        }
        let name = if self.ids.len() >= cap && name != OTHER {
            *overflow += 1;
            if let Some(&id) = self.ids.get(OTHER) {
                return (id, false);
            }
            OTHER
        } else {
            name
        };
        let id = self.names.len() as u32;
        self.ids.insert(name.to_string(), id);
        self.names.push(name.to_string());
        (id, true)
    }

    /// The name of `id` (`_other` for an unknown id).
    fn name(&self, id: u32) -> &str {
        self.names.get(id as usize).map_or(OTHER, String::as_str)
    }
}

/// RED metrics per (service, route, method, status), with capped cardinality; and the RPC
/// metrics of gRPC calls ([`rpc`]), which share the lock and the caps.
#[derive(Debug, Default)]
pub struct HttpMetrics {
    caps: Caps,
    /// gRPC call metrics.
    pub rpc: rpc::RpcMetrics,
    services: ServiceIds,
    /// Per service id: route → id.
    routes: Vec<FastMap<String, u32>>,
    route_names: Vec<String>,
    series: FastMap<Key, Series>,
    overflow: Overflow,
}

impl HttpMetrics {
    /// Empty metrics with these caps.
    pub fn new(caps: Caps) -> Self {
        HttpMetrics {
            caps,
            rpc: rpc::RpcMetrics::new(caps),
            ..Default::default()
        }
    }

    /// The service id of `name` (interned if new); `over`: it went to `_other` (the caller
    /// counts it).
    fn service_id(&mut self, name: &str, over: &mut u64) -> u32 {
        let (id, fresh) = self
            .services
            .get_or_insert(name, self.caps.max_services, over);
        if fresh {
            self.routes.push(FastMap::default());
        }
        id
    }

    /// The route id of `route` under `service` (interned if new); `over`: it went to
    /// `_other` (the caller counts it).
    fn route_id(&mut self, service: u32, route: &str, over: &mut bool) -> u32 {
        let Some(map) = self.routes.get_mut(service as usize) else {
            return 0;
        };
        if let Some(&id) = map.get(route) {
            return id;
        }
        let route = if map.len() >= self.caps.max_routes_per_service && route != OTHER {
            *over = true;
            if let Some(&id) = map.get(OTHER) {
                return id;
            }
            OTHER
        } else {
            route
        };
        let id = self.route_names.len() as u32;
        map.insert(route.to_string(), id);
        self.route_names.push(route.to_string());
        id
    }

    /// Resolves the `service_name` and `http_route` label values to their ids, interning
    /// them if new (under the caps). Nothing is counted here: [`HttpMetrics::record_labels`]
    /// counts the overflow of every exchange recorded with the result. The result stays
    /// valid for these two values as long as these metrics live (ids are never removed, and
    /// a value over a cap stays over it), so a caller may keep it.
    pub fn labels(&mut self, service: &str, route: &str) -> Labels {
        let mut over = 0;
        let service = self.service_id(service, &mut over);
        let mut route_over = false;
        let route = self.route_id(service, route, &mut route_over);
        Labels {
            service,
            route,
            service_over: over > 0,
            route_over,
        }
    }

    /// Records one exchange.
    pub fn record(&mut self, s: &RedSample<'_>) {
        let l = self.labels(s.service, s.route);
        self.record_labels(l, s);
    }

    /// Records one exchange whose `service` and `route` were resolved to `l` (by
    /// [`HttpMetrics::labels`], now or earlier): as [`HttpMetrics::record`] does, counting
    /// the overflow `l` carries.
    pub fn record_labels(&mut self, l: Labels, s: &RedSample<'_>) {
        if l.service_over {
            self.overflow.services += 1;
        }
        if l.route_over {
            self.overflow.routes += 1;
        }
        let method = METHODS
            .iter()
            .position(|m| *m == s.method)
            .map_or(METHOD_OTHER, |i| i as u8);
        let status = if (100..=599).contains(&s.status) {
            s.status
        } else {
            0
        };
        let mut key = Key {
            service: l.service,
            route: l.route,
            method,
            status,
        };
        // one lookup for a series already there (every exchange but a series' first)
        if let Some(e) = self.series.get_mut(&key) {
            observe_series(e, s);
            return;
        }
        if self.series.len() >= self.caps.max_series {
            self.overflow.series += 1;
            let svc = self.service_id_forced_other();
            let route = self.route_id_forced_other(svc);
            key = Key {
                service: svc,
                route,
                method: METHOD_OTHER,
                status: 0,
            };
        }
        observe_series(self.series.entry(key).or_default(), s);
    }

    fn service_id_forced_other(&mut self) -> u32 {
        // `_other` is never over the cap, so nothing is counted here
        let mut none = 0;
        let (id, fresh) = self.services.get_or_insert(OTHER, 0, &mut none);
        if fresh {
            self.routes.push(FastMap::default());
        }
        id
    }

    fn route_id_forced_other(&mut self, service: u32) -> u32 {
        if let Some(&id) = self.routes.get(service as usize).and_then(|m| m.get(OTHER)) {
            return id;
        }
        let id = self.route_names.len() as u32;
        if let Some(m) = self.routes.get_mut(service as usize) {
            m.insert(OTHER.to_string(), id);
        }
        self.route_names.push(OTHER.to_string());
        id
    }

    /// Number of series.
    pub fn series_count(&self) -> usize {
        self.series.len()
    }

    /// Overflow counters.
    pub fn overflow(&self) -> Overflow {
        self.overflow
    }

    /// Total exchanges recorded.
    pub fn total(&self) -> u64 {
        self.series.values().map(|s| s.duration.count()).sum()
    }

    /// The series as `(service, route, method, status, series)`, sorted by labels.
    pub fn series(&self) -> Vec<(&str, &str, &str, String, &Series)> {
        let mut keys: Vec<(&Key, &Series)> = self.series.iter().collect();
        let label = |k: &Key| {
            (
                self.services.name(k.service),
                self.route_names
                    .get(k.route as usize)
                    .map_or(OTHER, |s| s.as_str()),
                METHODS.get(k.method as usize).copied().unwrap_or("_OTHER"),
                if k.status == 0 {
                    OTHER.to_string()
                } else {
                    k.status.to_string()
                },
            )
        };
        keys.sort_by_cached_key(|(k, _)| label(k));
        keys.into_iter()
            .map(|(k, s)| {
                let (a, b, c, d) = label(k);
                (a, b, c, d, s)
            })
            .collect()
    }

    /// The HTTP metric families (RED histograms, PII inventory, overflow counters).
    pub fn families(&self) -> Vec<Family> {
        let series = self.series();
        type Fam<'a> = (
            &'static str,
            &'static str,
            &'static [f64],
            fn(&Series) -> &Histogram,
        );
        let fams: [Fam<'_>; 3] = [
            (
                "http_server_request_duration_seconds",
                "Duration of HTTP server requests (first request byte to last response byte seen on the wire).",
                &DURATION_BUCKETS,
                |s| &s.duration,
            ),
            (
                "http_server_request_body_size_bytes",
                "Size of HTTP server request bodies (decoded).",
                &SIZE_BUCKETS,
                |s| &s.request_size,
            ),
            (
                "http_server_response_body_size_bytes",
                "Size of HTTP server response bodies (decoded).",
                &SIZE_BUCKETS,
                |s| &s.response_size,
            ),
        ];
        let mut out = Vec::with_capacity(5);
        for (name, help, bounds, get) in fams {
            let mut f = Family::histogram(name, help);
            for (svc, route, method, status, s) in &series {
                let h = get(s);
                f.observed(
                    &[
                        ("http_request_method", method),
                        ("http_response_status_code", status),
                        ("http_route", route),
                        ("service_name", svc),
                    ],
                    bounds,
                    h.counts(),
                    h.sum(),
                );
            }
            out.push(f);
        }
        out.push(self.rpc.family());
        // sensitive-data inventory: exchanges carrying each PII class, per route (labels
        // bounded: the route caps above and the fixed class names)
        let mut pii: std::collections::BTreeMap<(&str, &str, &str), u64> = Default::default();
        for (svc, route, _, _, s) in &series {
            for c in apitap_model::pii::PiiClass::ALL {
                let n = s.pii.get(c as usize).copied().unwrap_or(0);
                if n > 0 {
                    *pii.entry((*svc, *route, c.name())).or_insert(0) += n;
                }
            }
        }
        let mut f = Family::counter(
            "apitap_http_pii_exchanges",
            "HTTP exchanges whose path, query, headers or bodies carried a value of this PII class (shape only; no value is kept).",
        );
        for ((svc, route, class), n) in pii {
            f.number(
                &[
                    ("http_route", route),
                    ("pii_class", class),
                    ("service_name", svc),
                ],
                n,
            );
        }
        out.push(f);
        let mut f = Family::counter(
            "apitap_metric_overflow",
            "Samples recorded under an _other label because a cardinality cap was reached.",
        );
        let rpc = self.rpc.overflow();
        for (kind, v) in [
            ("service", self.overflow.services),
            ("route", self.overflow.routes),
            ("series", self.overflow.series),
            ("rpc_service", rpc.services),
            ("rpc_method", rpc.methods),
            ("rpc_series", rpc.series),
        ] {
            f.number(&[("kind", kind)], v);
        }
        out.push(f);
        out
    }
}

/// Counters of one capture interface.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IfaceHealth {
    /// Interface name.
    pub name: String,
    /// Packets captured.
    pub packets: u64,
    /// Bytes captured.
    pub bytes: u64,
    /// Kernel drops (libpcap `ps_drop`).
    pub kernel_drops: u64,
    /// Interface drops (libpcap `ps_ifdrop`).
    pub interface_drops: u64,
    /// Queue drops (pipeline queue full).
    pub queue_drops: u64,
    /// 1 while the capture runs.
    pub up: bool,
}

/// The agent's health, as rendered on `/metrics`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Health {
    /// Per interface.
    pub interfaces: Vec<IfaceHealth>,
    /// Connections currently tracked.
    pub active_flows: u64,
    /// Connections created.
    pub flows_created: u64,
    /// Connections evicted because the table was full.
    pub flows_evicted: u64,
    /// Reassembly gaps (bytes never captured).
    pub reassembly_gaps: u64,
    /// Bytes lost in gaps.
    pub reassembly_gap_bytes: u64,
    /// Packets not decoded as TCP over IP (not counting non-TCP traffic): truncated, bad
    /// headers, unsupported link types.
    pub decode_errors: u64,
    /// HTTP parse errors (connections that have closed).
    pub parse_errors: u64,
    /// Requests seen without a response.
    pub unpaired_requests: u64,
    /// Responses seen without a request.
    pub unpaired_responses: u64,
    /// Exchanges learned from.
    pub exchanges: u64,
    /// Exchanges the learner skipped (no request, bad target, caps).
    pub learn_skipped: u64,
    /// Exchanges whose path needed a node beyond the learner's node budget (`_other`).
    pub learn_other: u64,
    /// Trie compactions the learner ran under node-budget pressure.
    pub learn_compactions: u64,
    /// Endpoints in the latest model snapshot.
    pub learned_endpoints: u64,
    /// Services in the latest model snapshot.
    pub learned_services: u64,
    /// Exchanges waiting for a model snapshot to know their route.
    pub pending_routes: u64,
    /// Resident memory, bytes.
    pub resident_bytes: u64,
    /// CPU time, seconds.
    pub cpu_seconds: f64,
    /// Process start time, unix seconds.
    pub start_time_seconds: f64,
}

/// Resident set size and CPU seconds of this process, from `/proc/self`.
pub fn process_usage() -> (u64, f64) {
    let rss = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024);
    // utime and stime are fields 14 and 15; the command name (field 2) may hold spaces, so
    // count from the closing parenthesis. Clock ticks are 100 per second on Linux.
    let cpu = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            let u: f64 = f.get(11)?.parse().ok()?;
            let st: f64 = f.get(12)?.parse().ok()?;
            Some((u + st) / 100.0)
        })
        .unwrap_or(0.0);
    (rss, cpu)
}

fn health_families(h: &Health) -> Vec<Family> {
    let mut out = Vec::with_capacity(24);
    type Get = fn(&IfaceHealth) -> u64;
    let per_iface: [(&'static str, &'static str, Get); 5] = [
        (
            "apitap_packets_captured",
            "Packets captured (after the BPF filter).",
            |i| i.packets,
        ),
        (
            "apitap_bytes_captured",
            "Bytes captured (after the BPF filter).",
            |i| i.bytes,
        ),
        (
            "apitap_kernel_drops",
            "Packets dropped by the kernel because the capture ring buffer was full.",
            |i| i.kernel_drops,
        ),
        (
            "apitap_interface_drops",
            "Packets dropped by the network interface or its driver.",
            |i| i.interface_drops,
        ),
        (
            "apitap_queue_drops",
            "Packets dropped because the pipeline queue was full.",
            |i| i.queue_drops,
        ),
    ];
    for (name, help, get) in per_iface {
        let mut f = Family::counter(name, help);
        for i in &h.interfaces {
            f.number(&[("interface", &i.name)], get(i));
        }
        out.push(f);
    }
    let mut f = Family::gauge(
        "apitap_capture_up",
        "1 while the capture on an interface runs.",
    );
    for i in &h.interfaces {
        f.number(&[("interface", &i.name)], u64::from(i.up));
    }
    out.push(f);
    let gauges: [(&'static str, &'static str, u64); 5] = [
        (
            "apitap_active_flows",
            "TCP connections currently tracked.",
            h.active_flows,
        ),
        (
            "apitap_learned_endpoints",
            "Endpoints (method and route) in the learned model.",
            h.learned_endpoints,
        ),
        (
            "apitap_learned_services",
            "Services in the learned model.",
            h.learned_services,
        ),
        (
            "apitap_pending_route_exchanges",
            "Exchanges waiting for the next model snapshot to know their route.",
            h.pending_routes,
        ),
        (
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            h.resident_bytes,
        ),
    ];
    for (name, help, v) in gauges {
        out.push(Family::gauge(name, help).with(v));
    }
    let counters: [(&'static str, &'static str, u64); 10] = [
        ("apitap_flows", "TCP connections tracked.", h.flows_created),
        (
            "apitap_flows_evicted",
            "TCP connections evicted because the flow table was full.",
            h.flows_evicted,
        ),
        (
            "apitap_reassembly_gaps",
            "Gaps in TCP streams (bytes never captured).",
            h.reassembly_gaps,
        ),
        (
            "apitap_reassembly_gap_bytes",
            "Bytes lost in TCP stream gaps.",
            h.reassembly_gap_bytes,
        ),
        (
            "apitap_decode_errors",
            "Packets that could not be decoded (truncated, bad headers, unsupported link types).",
            h.decode_errors,
        ),
        (
            "apitap_parse_errors",
            "HTTP parse errors (counted when the connection closes).",
            h.parse_errors,
        ),
        (
            "apitap_exchanges",
            "HTTP exchanges learned from.",
            h.exchanges,
        ),
        (
            "apitap_learn_skipped",
            "HTTP exchanges the learner skipped (no request, bad target, model caps).",
            h.learn_skipped,
        ),
        (
            "apitap_learn_other",
            "HTTP exchanges beyond the learner's node budget (counted in _other, not learned).",
            h.learn_other,
        ),
        (
            "apitap_learn_compactions",
            "Path-trie compactions under node-budget pressure (values folded into parameters).",
            h.learn_compactions,
        ),
    ];
    for (name, help, v) in counters {
        out.push(Family::counter(name, help).with(v));
    }
    let mut f = Family::counter(
        "apitap_unpaired_messages",
        "HTTP messages seen without their counterpart.",
    );
    f.number(&[("kind", "request")], h.unpaired_requests);
    f.number(&[("kind", "response")], h.unpaired_responses);
    out.push(f);
    out.push(
        Family::counter(
            "process_cpu_seconds",
            "Total user and system CPU time spent in seconds.",
        )
        .with(h.cpu_seconds),
    );
    out.push(
        Family::gauge(
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
        )
        .with(h.start_time_seconds),
    );
    out
}

/// The HTTP metrics and the agent health as typed families.
pub fn exposition(http: &HttpMetrics, health: &Health) -> Exposition {
    let mut e = Exposition::new();
    e.families.extend(http.families());
    e.families.extend(health_families(health));
    e
}

/// Renders the HTTP metrics and the agent health in `format`.
pub fn render(format: Format, http: &HttpMetrics, health: &Health) -> String {
    exposition(http, health).render(format)
}

/// Adds one exchange to the histograms and PII counts of its series.
fn observe_series(e: &mut Series, s: &RedSample<'_>) {
    e.duration.observe(&DURATION_BUCKETS, s.duration_s.max(0.0));
    e.request_size
        .observe(&SIZE_BUCKETS, s.request_bytes as f64);
    e.response_size
        .observe(&SIZE_BUCKETS, s.response_bytes as f64);
    for c in apitap_model::pii::classes(s.pii) {
        if let Some(x) = e.pii.get_mut(c as usize) {
            *x += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample<'a>(svc: &'a str, route: &'a str, status: u16, d: f64) -> RedSample<'a> {
        RedSample {
            service: svc,
            route,
            method: "GET",
            status,
            duration_s: d,
            request_bytes: 0,
            response_bytes: 100,
            pii: 0,
        }
    }

    #[test]
    fn histogram_buckets_are_inclusive() {
        let mut h = Histogram::new(&DURATION_BUCKETS);
        h.observe(&DURATION_BUCKETS, 0.005);
        h.observe(&DURATION_BUCKETS, 0.0051);
        h.observe(&DURATION_BUCKETS, 11.0);
        assert_eq!(h.counts()[0], 1);
        assert_eq!(h.counts()[1], 1);
        assert_eq!(h.counts()[14], 1);
        assert_eq!(h.count(), 3);
        assert!((h.sum() - 11.0101).abs() < 1e-9);
    }

    #[test]
    fn caps_route_overflow_to_other() {
        let mut m = HttpMetrics::new(Caps {
            max_services: 2,
            max_routes_per_service: 3,
            max_series: 1000,
        });
        for i in 0..10 {
            m.record(&sample("a", &format!("/r{i}"), 200, 0.01));
        }
        m.record(&sample("b", "/x", 200, 0.01));
        m.record(&sample("c", "/y", 200, 0.01));
        m.record(&sample("d", "/y", 200, 0.01));
        let s = m.series();
        let labels: Vec<(&str, &str)> = s.iter().map(|x| (x.0, x.1)).collect();
        assert_eq!(
            labels,
            vec![
                ("_other", "/y"),
                ("a", "/r0"),
                ("a", "/r1"),
                ("a", "/r2"),
                ("a", "_other"),
                ("b", "/x")
            ]
        );
        let other = s
            .iter()
            .find(|x| x.1 == "_other")
            .map(|x| x.4.duration.count());
        assert_eq!(other, Some(7));
        assert_eq!(m.overflow().routes, 7);
        assert_eq!(m.overflow().services, 2);
        assert_eq!(m.total(), 13);
    }

    /// Labels resolved once and kept (what the agent's label memo does) record what
    /// resolving them on every exchange records, overflow counts included, whichever caps
    /// the label values hit.
    #[test]
    fn kept_labels_record_like_fresh_ones() {
        let caps = Caps {
            max_services: 2,
            max_routes_per_service: 2,
            max_series: 5,
        };
        let (mut fresh, mut kept) = (HttpMetrics::new(caps), HttpMetrics::new(caps));
        let mut memo: HashMap<(String, String), Labels> = HashMap::new();
        for i in 0..60u16 {
            let svc = ["a", "b", "c"][usize::from(i % 3)];
            let route = ["/x", "/y", "/z", "/w"][usize::from(i % 4)];
            let mut s = sample(svc, route, [200, 404, 500][usize::from(i % 5 % 3)], 0.01);
            s.method = ["GET", "POST", "BREW"][usize::from(i % 7 % 3)];
            fresh.record(&s);
            let l = *memo
                .entry((svc.into(), route.into()))
                .or_insert_with(|| kept.labels(svc, route));
            kept.record_labels(l, &s);
        }
        assert!(fresh.overflow().services > 0 && fresh.overflow().routes > 0);
        assert!(fresh.overflow().series > 0);
        assert_eq!(fresh.overflow(), kept.overflow());
        assert_eq!(fresh.series(), kept.series());
        let h = Health::default();
        assert_eq!(
            render(Format::Prometheus, &fresh, &h),
            render(Format::Prometheus, &kept, &h)
        );
    }

    #[test]
    fn caps_series_overflow_to_one_series() {
        let mut m = HttpMetrics::new(Caps {
            max_services: 20,
            max_routes_per_service: 500,
            max_series: 4,
        });
        for st in 200..210 {
            m.record(&sample("a", "/", st, 0.01));
        }
        assert_eq!(m.series_count(), 5);
        assert_eq!(m.overflow().series, 6);
        let s = m.series();
        let last = s
            .iter()
            .find(|x| x.0 == OTHER)
            .map(|x| (x.1, x.2, x.3.clone()));
        assert_eq!(last, Some((OTHER, "_OTHER", OTHER.to_string())));
        assert_eq!(m.total(), 10);
    }

    #[test]
    fn unknown_methods_and_statuses() {
        let mut m = HttpMetrics::new(Caps::default());
        m.record(&RedSample {
            method: "PROPFIND",
            ..sample("a", "/", 999, 0.2)
        });
        let s = m.series();
        assert_eq!((s[0].2, s[0].3.as_str()), ("_OTHER", OTHER));
    }

    #[test]
    fn render_has_red_series() {
        let mut m = HttpMetrics::new(Caps::default());
        m.record(&sample("api", "/users/{userId}", 200, 0.02));
        m.record(&sample("api", "/users/{userId}", 200, 0.2));
        let text = render(Format::Prometheus, &m, &Health::default());
        assert!(text.contains(
            "http_server_request_duration_seconds_bucket{http_request_method=\"GET\",http_response_status_code=\"200\",http_route=\"/users/{userId}\",service_name=\"api\",le=\"0.025\"} 1\n"
        ));
        assert!(text.contains(
            "http_server_request_duration_seconds_count{http_request_method=\"GET\",http_response_status_code=\"200\",http_route=\"/users/{userId}\",service_name=\"api\"} 2\n"
        ));
        assert!(text.contains("# TYPE apitap_queue_drops_total counter\n"));
        let om = render(Format::OpenMetrics, &m, &Health::default());
        assert!(om.ends_with("# EOF\n"));
        assert!(om.contains("# TYPE apitap_queue_drops counter\n"));
    }
}
