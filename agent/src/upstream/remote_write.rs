//! Prometheus remote write (protocol 1.0: `prometheus.WriteRequest` protobuf, snappy block
//! compression), accepted by Prometheus (`--web.enable-remote-write-receiver`), Mimir,
//! Thanos Receive, VictoriaMetrics, Grafana Cloud.
//!
//! The input is the agent's typed metric families ([`apitap_exposition::Exposition`]),
//! flattened into the series a Prometheus server would store after scraping `/metrics`
//! (histogram `_bucket`, `_sum`, `_count` are ordinary series in remote write; counters are
//! `_total`); no text is rendered or parsed. Target labels are added to every
//! series ([`target_labels`]: `job="apitap"`, `service`, `pod`, `namespace`, `instance`, from
//! the configuration and the Kubernetes downward API environment `POD_NAME`,
//! `POD_NAMESPACE`, `APITAP_SERVICE`). As Prometheus does when scraping, a target label
//! wins over a metric label of the same name, which is kept as `exported_<name>`.
//! Every series gets the collection time as its timestamp.

use super::{deadline_of, now_unix_ms, sleep_or_stop, Backoff, MetricsFn, UpstreamConfig};
use anyhow::{Context, Result};
use apitap_exposition::{Exposition, Family};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// `prometheus.WriteRequest` (prompb/remote.proto).
#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    /// The series.
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

/// `prometheus.TimeSeries` (prompb/types.proto).
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    /// Labels, sorted by name, including `__name__`.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// Samples, oldest first.
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
}

/// `prometheus.Label`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Label {
    /// Name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Value.
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `prometheus.Sample`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Sample {
    /// Value.
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Unix milliseconds.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// The target labels: `job="apitap"`, plus `service` (from the configuration or
/// `APITAP_SERVICE`), `pod` and `instance` (`POD_NAME`, else `HOSTNAME`), `namespace`
/// (`POD_NAMESPACE`) when known.
pub fn target_labels(service: Option<&str>) -> Vec<(String, String)> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let mut l = vec![("job".to_string(), "apitap".to_string())];
    if let Some(s) = service
        .map(str::to_string)
        .or_else(|| env("APITAP_SERVICE"))
    {
        l.push(("service".into(), s));
    }
    if let Some(p) = env("POD_NAME") {
        l.push(("pod".into(), p.clone()));
        l.push(("instance".into(), p));
    } else if let Some(h) = env("HOSTNAME") {
        l.push(("instance".into(), h));
    }
    if let Some(n) = env("POD_NAMESPACE") {
        l.push(("namespace".into(), n));
    }
    l
}

/// Builds a write request from typed families: target labels added (see the module doc),
/// labels sorted, every sample at `ts_ms`. Series with duplicate label sets are kept once
/// (the first).
pub fn build_request(
    metrics: &Exposition,
    target: &[(String, String)],
    ts_ms: i64,
) -> WriteRequest {
    let mut seen = std::collections::HashSet::new();
    let mut timeseries = Vec::new();
    metrics.for_each_series(&mut |name, series_labels, value| {
        let mut labels: Vec<Label> = Vec::with_capacity(series_labels.len() + target.len() + 1);
        labels.push(Label {
            name: "__name__".into(),
            value: name.to_string(),
        });
        for (k, v) in series_labels {
            if *k == "__name__" {
                continue;
            }
            let name = if target.iter().any(|(t, _)| t == k) {
                format!("exported_{k}")
            } else {
                (*k).to_string()
            };
            labels.push(Label {
                name,
                value: (*v).to_string(),
            });
        }
        for (k, v) in target {
            labels.push(Label {
                name: k.clone(),
                value: v.clone(),
            });
        }
        labels.sort_by(|a, b| a.name.cmp(&b.name));
        labels.dedup_by(|a, b| a.name == b.name);
        labels.retain(|l| !l.value.is_empty());
        let key: Vec<(String, String)> = labels
            .iter()
            .map(|l| (l.name.clone(), l.value.clone()))
            .collect();
        if !seen.insert(key) {
            return;
        }
        timeseries.push(TimeSeries {
            labels,
            samples: vec![Sample {
                value,
                timestamp: ts_ms,
            }],
        });
    });
    WriteRequest { timeseries }
}

/// Protobuf-encodes and snappy-compresses (block format) a write request.
pub fn encode(req: &WriteRequest) -> Result<Vec<u8>> {
    let pb = prost::Message::encode_to_vec(req);
    snap::raw::Encoder::new()
        .compress_vec(&pb)
        .context("snappy compression failed")
}

/// Counters of the remote writer.
#[derive(Debug, Default)]
pub struct RemoteWriteStats {
    /// Batches accepted by the receiver.
    pub sent_batches: AtomicU64,
    /// Samples accepted by the receiver.
    pub sent_samples: AtomicU64,
    /// Failed attempts (retried).
    pub failed: AtomicU64,
    /// Batches rejected permanently (4xx other than 429) and dropped.
    pub rejected_batches: AtomicU64,
    /// Batches dropped because the buffer was full (oldest first).
    pub dropped_batches: AtomicU64,
    /// Batches waiting.
    pub queued_batches: AtomicU64,
}

impl RemoteWriteStats {
    /// The writer's metric families.
    pub fn families(&self) -> Vec<Family> {
        let g = |v: &AtomicU64| v.load(Relaxed);
        let mut batches = Family::counter(
            "apitap_remote_write_batches",
            "Remote-write batches by result.",
        );
        for (r, v) in [
            ("ok", &self.sent_batches),
            ("rejected", &self.rejected_batches),
            ("dropped", &self.dropped_batches),
        ] {
            batches.number(&[("result", r)], g(v));
        }
        vec![
            batches,
            Family::counter(
                "apitap_remote_write_samples",
                "Samples accepted by the receiver.",
            )
            .with(g(&self.sent_samples)),
            Family::counter(
                "apitap_remote_write_failures",
                "Failed remote-write attempts (retried).",
            )
            .with(g(&self.failed)),
            Family::gauge(
                "apitap_remote_write_queued_batches",
                "Batches waiting to be sent.",
            )
            .with(g(&self.queued_batches)),
        ]
    }
}

struct Batch {
    body: Vec<u8>,
    samples: u64,
}

/// Collects the metrics every interval and remote-writes them (see the module doc).
pub struct RemoteWriter {
    client: reqwest::Client,
    url: String,
    headers: Vec<(String, String)>,
    interval: Duration,
    backoff: Backoff,
    metrics: MetricsFn,
    target: Vec<(String, String)>,
    queue: VecDeque<Batch>,
    max_batches: usize,
    stats: Arc<RemoteWriteStats>,
}

impl RemoteWriter {
    /// A writer to `url` configured by `cfg`.
    pub fn new(cfg: &UpstreamConfig, url: &str, metrics: MetricsFn) -> Result<Self> {
        let mut headers = Vec::new();
        for h in &cfg.remote_write_headers {
            let (k, v) = h
                .split_once(':')
                .with_context(|| format!("--remote-write-header {h:?}: expected `Name: value`"))?;
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
        let client = reqwest::Client::builder()
            .timeout(cfg.push_timeout)
            .user_agent(concat!("apitap/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("cannot build HTTP client")?;
        let base = (cfg.push_interval / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
        Ok(RemoteWriter {
            client,
            url: url.to_string(),
            headers,
            interval: cfg.push_interval,
            backoff: Backoff::new(base, cfg.push_max_backoff),
            metrics,
            target: target_labels(cfg.service.as_deref()),
            queue: VecDeque::new(),
            max_batches: cfg.remote_write_buffer.max(1),
            stats: Arc::new(RemoteWriteStats::default()),
        })
    }

    /// The writer's counters.
    pub fn stats(&self) -> Arc<RemoteWriteStats> {
        self.stats.clone()
    }

    /// Collects the metrics now into a queued batch.
    pub fn collect(&mut self) {
        let metrics = (self.metrics)();
        let req = build_request(&metrics, &self.target, now_unix_ms());
        if req.timeseries.is_empty() {
            return;
        }
        match encode(&req) {
            Ok(body) => {
                if self.queue.len() >= self.max_batches {
                    self.queue.pop_front();
                    self.stats.dropped_batches.fetch_add(1, Relaxed);
                }
                self.queue.push_back(Batch {
                    body,
                    samples: req.timeseries.len() as u64,
                });
            }
            Err(e) => tracing::error!("{e:#}"),
        }
        self.stats
            .queued_batches
            .store(self.queue.len() as u64, Relaxed);
    }

    /// Sends queued batches oldest first; stops at the first retryable failure.
    pub async fn send_queued(&mut self) -> Result<(), String> {
        while let Some(b) = self.queue.front() {
            let mut req = self
                .client
                .post(&self.url)
                .header("Content-Encoding", "snappy")
                .header("Content-Type", "application/x-protobuf")
                .header("X-Prometheus-Remote-Write-Version", "0.1.0")
                .body(b.body.clone());
            for (k, v) in &self.headers {
                req = req.header(k.as_str(), v.as_str());
            }
            let res = req.send().await;
            let samples = b.samples;
            match res {
                Ok(r) if r.status().is_success() => {
                    self.queue.pop_front();
                    self.stats.sent_batches.fetch_add(1, Relaxed);
                    self.stats.sent_samples.fetch_add(samples, Relaxed);
                }
                Ok(r) if r.status().is_client_error() && r.status().as_u16() != 429 => {
                    let st = r.status();
                    let body = r.text().await.unwrap_or_default();
                    tracing::warn!(url = %self.url, "remote write rejected a batch ({st}): {}", body.trim());
                    self.queue.pop_front();
                    self.stats.rejected_batches.fetch_add(1, Relaxed);
                }
                Ok(r) => {
                    self.stats.failed.fetch_add(1, Relaxed);
                    self.stats
                        .queued_batches
                        .store(self.queue.len() as u64, Relaxed);
                    return Err(format!("HTTP {}", r.status()));
                }
                Err(e) => {
                    self.stats.failed.fetch_add(1, Relaxed);
                    self.stats
                        .queued_batches
                        .store(self.queue.len() as u64, Relaxed);
                    return Err(format!("{e:#}"));
                }
            }
        }
        self.stats.queued_batches.store(0, Relaxed);
        Ok(())
    }

    /// Runs until a stop is requested, then collects once more and sends until the deadline.
    pub async fn run(mut self, mut stop: watch::Receiver<Option<Instant>>) {
        let mut next_collect = tokio::time::Instant::now();
        let mut next_send = next_collect;
        loop {
            let at = next_collect.min(next_send);
            if sleep_or_stop(at, &mut stop).await {
                break;
            }
            let now = tokio::time::Instant::now();
            if now >= next_collect {
                self.collect();
                next_collect = now + self.interval;
            }
            if now >= next_send || self.backoff.failures == 0 {
                match self.send_queued().await {
                    Ok(()) => {
                        self.backoff.reset();
                        next_send = next_collect;
                    }
                    Err(e) => {
                        let wait = self.backoff.fail();
                        if self.backoff.failures == 1 || self.backoff.failures.is_multiple_of(20) {
                            tracing::warn!(url = %self.url, "remote write failed (retrying in {wait:?}): {e}");
                        }
                        next_send = tokio::time::Instant::now() + wait;
                    }
                }
            }
        }
        let deadline = deadline_of(&stop);
        self.collect();
        let left = deadline.saturating_duration_since(Instant::now());
        let _ = tokio::time::timeout(left, self.send_queued()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_sorted_labels_with_exported_conflicts() {
        let mut f = Family::counter("req", "Requests.");
        f.number(&[("service", "api.example"), ("method", "GET")], 3u64);
        let s = Exposition { families: vec![f] };
        let target = vec![
            ("job".to_string(), "apitap".to_string()),
            ("service".to_string(), "shop".to_string()),
            ("pod".to_string(), "shop-1".to_string()),
        ];
        let req = build_request(&s, &target, 1000);
        assert_eq!(req.timeseries.len(), 1);
        let names: Vec<(&str, &str)> = req.timeseries[0]
            .labels
            .iter()
            .map(|l| (l.name.as_str(), l.value.as_str()))
            .collect();
        assert_eq!(
            names,
            vec![
                ("__name__", "req_total"),
                ("exported_service", "api.example"),
                ("job", "apitap"),
                ("method", "GET"),
                ("pod", "shop-1"),
                ("service", "shop"),
            ]
        );
        assert_eq!(
            req.timeseries[0].samples,
            vec![Sample {
                value: 3.0,
                timestamp: 1000
            }]
        );
    }

    #[test]
    fn encodes_protobuf_and_snappy_block() {
        let req = WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![Label {
                    name: "__name__".into(),
                    value: "up".into(),
                }],
                samples: vec![Sample {
                    value: 1.0,
                    timestamp: 5,
                }],
            }],
        };
        let body = encode(&req).unwrap();
        let pb = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
        // Hand-derived protobuf bytes:
        // WriteRequest.timeseries (field 1, LEN) {
        //   labels (1, LEN) { name (1) "__name__", value (2) "up" }
        //   samples (2, LEN) { value (1, I64) 1.0, timestamp (2, VARINT) 5 }
        // }
        let label = [&[0x0a, 8][..], b"__name__", &[0x12, 2], b"up"].concat();
        let sample = [&[0x09][..], &1.0f64.to_le_bytes(), &[0x10, 5]].concat();
        let ts = [
            &[0x0a, label.len() as u8][..],
            &label,
            &[0x12, sample.len() as u8],
            &sample,
        ]
        .concat();
        let want = [&[0x0a, ts.len() as u8][..], &ts].concat();
        assert_eq!(pb, want);
        let back: WriteRequest = prost::Message::decode(pb.as_slice()).unwrap();
        assert_eq!(back, req);
    }
}
