//! RPC metrics of gRPC calls, after the OpenTelemetry RPC semantic conventions in
//! Prometheus form.
//!
//! - `rpc_server_call_duration_seconds` (histogram, the OTel duration buckets 5 ms … 10 s):
//!   OTel's `rpc.server.call.duration` (unit `s`; it replaced `rpc.server.duration` in
//!   milliseconds, which is deprecated). For a streaming call it is the time from the first
//!   request byte to the last response byte seen, like a unary call's.
//!
//! Labels: `rpc_system="grpc"`, `rpc_service` (`pkg.Service`), `rpc_method` (`Method`),
//! `rpc_grpc_status_code` (`0`…`16`; a missing or non-standard status is `_other`) and
//! `service_name` (as on the HTTP metrics). These are the attribute names of the OTel RPC
//! conventions up to v1.37; later drafts fold service and method into one
//! fully-qualified `rpc.method` and rename the status to `rpc.response.status_code`, which
//! dashboards can get back with `label_join`.
//!
//! Bounded like `http_route`: `rpc_service` and `rpc_method` are only ever names the learned
//! model holds ([`super::route::RouteTable::grpc_method`]); a call whose method the model has
//! not learned (or could not learn: over its method cap, or an id-like name) is recorded
//! with both as `_other`. The caps of [`Caps`] apply as on the HTTP metrics (services,
//! methods per service as routes, series), each overflow counted in
//! `apitap_metric_overflow_total{kind="rpc_service"|"rpc_method"|"rpc_series"}`.
//! A gRPC call is recorded here only, not in `http_server_*`; plain HTTP/2 requests are
//! HTTP requests and go to `http_server_*`.

use super::{Caps, Family, Histogram, ServiceIds, DURATION_BUCKETS, OTHER};
use std::collections::HashMap;

/// One finished gRPC call, as the metrics see it.
#[derive(Copy, Clone, Debug)]
pub struct RpcSample<'a> {
    /// `service_name`.
    pub service: &'a str,
    /// The learned method as (`pkg.Service`, `Method`), `None` when not learned.
    pub method: Option<(&'a str, &'a str)>,
    /// `grpc-status`, if seen.
    pub status: Option<u32>,
    /// Request → response time, seconds.
    pub duration_s: f64,
}

/// Highest standard gRPC status code (`UNAUTHENTICATED`).
const MAX_STATUS: u32 = 16;
/// The status label value of a missing or non-standard status.
const STATUS_OTHER: u8 = u8::MAX;

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
struct Key {
    service: u32,
    method: u32,
    status: u8,
}

/// Overflow counters of the RPC metrics.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct RpcOverflow {
    /// Calls whose service went to `_other`.
    pub services: u64,
    /// Calls whose method went to `_other` (the per-service cap).
    pub methods: u64,
    /// Calls that went to the all-`_other` series.
    pub series: u64,
}

/// gRPC call durations per (service, rpc service, method, status), with capped cardinality.
#[derive(Debug, Default)]
pub struct RpcMetrics {
    caps: Caps,
    services: ServiceIds,
    /// Per service id: (rpc service, method) → id.
    methods: Vec<HashMap<(String, String), u32>>,
    method_names: Vec<(String, String)>,
    series: HashMap<Key, Histogram>,
    overflow: RpcOverflow,
}

impl RpcMetrics {
    /// Empty metrics with these caps.
    pub fn new(caps: Caps) -> Self {
        RpcMetrics {
            caps,
            ..Default::default()
        }
    }

    fn service_id(&mut self, name: &str, force_other: bool) -> u32 {
        let name = if force_other { OTHER } else { name };
        let (id, fresh) =
            self.services
                .get_or_insert(name, self.caps.max_services, &mut self.overflow.services);
        if fresh {
            self.methods.push(HashMap::new());
        }
        id
    }

    fn method_id(&mut self, service: u32, method: Option<(&str, &str)>) -> u32 {
        let Some(map) = self.methods.get_mut(service as usize) else {
            return 0;
        };
        let (s, m) = method.unwrap_or((OTHER, OTHER));
        let key = (s.to_string(), m.to_string());
        if let Some(&id) = map.get(&key) {
            return id;
        }
        let other = (OTHER.to_string(), OTHER.to_string());
        let key = if map.len() >= self.caps.max_routes_per_service && key != other {
            self.overflow.methods += 1;
            if let Some(&id) = map.get(&other) {
                return id;
            }
            other
        } else {
            key
        };
        let id = self.method_names.len() as u32;
        map.insert(key.clone(), id);
        self.method_names.push(key);
        id
    }

    /// Records one call.
    pub fn record(&mut self, s: &RpcSample<'_>) {
        let service = self.service_id(s.service, false);
        let method = self.method_id(service, s.method);
        let status = match s.status {
            Some(c) if c <= MAX_STATUS => c as u8,
            _ => STATUS_OTHER,
        };
        let mut key = Key {
            service,
            method,
            status,
        };
        if !self.series.contains_key(&key) && self.series.len() >= self.caps.max_series {
            self.overflow.series += 1;
            let service = self.service_id(OTHER, true);
            key = Key {
                service,
                method: self.method_id(service, None),
                status: STATUS_OTHER,
            };
        }
        self.series
            .entry(key)
            .or_insert_with(|| Histogram::new(&DURATION_BUCKETS))
            .observe(&DURATION_BUCKETS, s.duration_s.max(0.0));
    }

    /// Calls recorded.
    pub fn total(&self) -> u64 {
        self.series.values().map(Histogram::count).sum()
    }

    /// Overflow counters.
    pub fn overflow(&self) -> RpcOverflow {
        self.overflow
    }

    /// The series as `(service, rpc service, method, status, histogram)`, sorted.
    pub fn series(&self) -> Vec<(&str, &str, &str, String, &Histogram)> {
        let mut out: Vec<(&str, &str, &str, String, &Histogram)> = self
            .series
            .iter()
            .map(|(k, h)| {
                let svc = self.services.name(k.service);
                let (rs, rm) = self
                    .method_names
                    .get(k.method as usize)
                    .map_or((OTHER, OTHER), |(a, b)| (a.as_str(), b.as_str()));
                let st = if k.status == STATUS_OTHER {
                    OTHER.to_string()
                } else {
                    k.status.to_string()
                };
                (svc, rs, rm, st, h)
            })
            .collect();
        out.sort_by(|a, b| (a.0, a.1, a.2, &a.3).cmp(&(b.0, b.1, b.2, &b.3)));
        out
    }

    /// The RPC duration family.
    pub fn family(&self) -> Family {
        let mut f = Family::histogram(
            "rpc_server_call_duration_seconds",
            "Duration of gRPC server calls (first request byte to last response byte seen on the wire).",
        );
        for (svc, rs, rm, st, h) in self.series() {
            f.observed(
                &[
                    ("rpc_grpc_status_code", &st),
                    ("rpc_method", rm),
                    ("rpc_service", rs),
                    ("rpc_system", "grpc"),
                    ("service_name", svc),
                ],
                &DURATION_BUCKETS,
                h.counts(),
                h.sum(),
            );
        }
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call<'a>(m: Option<(&'a str, &'a str)>, status: Option<u32>) -> RpcSample<'a> {
        RpcSample {
            service: "svc",
            method: m,
            status,
            duration_s: 0.003,
        }
    }

    #[test]
    fn unlearned_methods_and_odd_statuses_are_other() {
        let mut r = RpcMetrics::new(Caps::default());
        r.record(&call(Some(("shop.Cart", "Add")), Some(0)));
        r.record(&call(Some(("shop.Cart", "Add")), Some(5)));
        r.record(&call(None, Some(0)));
        r.record(&call(Some(("shop.Cart", "Add")), Some(99)));
        r.record(&call(Some(("shop.Cart", "Add")), None));
        let s: Vec<(&str, &str, String, u64)> = r
            .series()
            .into_iter()
            .map(|x| (x.1, x.2, x.3, x.4.count()))
            .collect();
        assert_eq!(
            s,
            vec![
                ("_other", "_other", "0".to_string(), 1),
                ("shop.Cart", "Add", "0".to_string(), 1),
                ("shop.Cart", "Add", "5".to_string(), 1),
                ("shop.Cart", "Add", "_other".to_string(), 2),
            ]
        );
        assert_eq!(r.total(), 5);
    }

    #[test]
    fn method_cap_per_service() {
        let mut r = RpcMetrics::new(Caps {
            max_services: 20,
            max_routes_per_service: 2,
            max_series: 100,
        });
        let names: Vec<String> = (0..5).map(|i| format!("M{i}")).collect();
        for n in &names {
            r.record(&call(Some(("p.S", n)), Some(0)));
        }
        let methods: Vec<&str> = r.series().iter().map(|x| x.2).collect();
        assert_eq!(methods, vec!["_other", "M0", "M1"]);
        assert_eq!(r.overflow().methods, 3);
        assert_eq!(r.total(), 5);
    }
}
