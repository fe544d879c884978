//! Stage 7 — learn: finished exchanges → observations → the API model.
//!
//! The HTTP stage's [`Exchange`] is turned into the model's [`Observation`]: the service is
//! the Host header (HTTP/2: `:authority`) without a default port (`:80`), else the server
//! address; exchanges without a request are skipped (counted), since an endpoint needs a
//! method and path. A gRPC call (request `content-type: application/grpc*`) also gets its
//! messages and `grpc-status` in [`Observation::grpc`], split and capped as
//! [`apitap_engine::http2::grpc`] describes.

use apitap_engine::http::Exchange;
use apitap_engine::http2::grpc;
use apitap_model::{service_name, ApiModel, GrpcCall, LearnConfig, Observation};

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
}

/// Converts an exchange into an observation (`None` without a request).
pub fn observation(ex: &Exchange) -> Option<Observation> {
    let req = ex.request.as_ref()?;
    // HTTP/2 names the host in the :authority pseudo-header
    let host = crate::output::header(&req.headers, "host")
        .or_else(|| crate::output::header(&req.headers, ":authority"));
    let resp = ex.response.as_ref();
    Some(Observation {
        service: service_name(host, &ex.server.to_string()),
        server: Some(ex.server.to_string()),
        method: req.method.clone(),
        target: req.uri.clone(),
        request_headers: req.headers.clone(),
        request_body: req.body.clone(),
        request_body_truncated: req
            .body
            .as_ref()
            .is_some_and(|b| (b.len() as u64) < req.body_len),
        status: resp.and_then(|r| r.status),
        response_headers: resp.map(|r| r.headers.clone()).unwrap_or_default(),
        response_body: resp.and_then(|r| r.body.clone()),
        response_body_truncated: resp.is_some_and(|r| {
            r.body
                .as_ref()
                .is_some_and(|b| (b.len() as u64) < r.body_len)
        }),
        latency_ms: ex.latency_ms(),
        ts_unix_ms: ex.ts().as_nanos() / 1_000_000,
        grpc: grpc::call(ex, &grpc::GrpcLimits::default()).map(|c| GrpcCall {
            request_messages: c.request.messages,
            response_messages: c.response.messages,
            status: c.status,
        }),
    })
}

/// Learns a model from exchanges.
#[derive(Debug, Default)]
pub struct Learner {
    /// The model learned so far.
    pub model: ApiModel,
    /// Settings.
    pub config: LearnConfig,
    /// Counters.
    pub stats: LearnStats,
}

impl Learner {
    /// A learner with these settings.
    pub fn new(config: LearnConfig) -> Self {
        Learner {
            model: ApiModel::new(),
            config,
            stats: LearnStats::default(),
        }
    }

    /// Learns from one exchange.
    pub fn observe_exchange(&mut self, ex: &Exchange) {
        match observation(ex) {
            Some(obs) => self.observe(&obs),
            None => self.stats.skipped_no_request += 1,
        }
    }

    /// Learns from one observation.
    pub fn observe(&mut self, obs: &Observation) {
        self.model.observe(obs, &self.config);
        self.stats.observed += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names() {
        let server = "10.1.2.3:8080";
        assert_eq!(service_name(Some("API.test:80"), server), "api.test");
        assert_eq!(service_name(Some("api.test:8080"), server), "api.test:8080");
        assert_eq!(service_name(Some("  "), server), "10.1.2.3:8080");
        assert_eq!(service_name(None, server), "10.1.2.3:8080");
    }
}
