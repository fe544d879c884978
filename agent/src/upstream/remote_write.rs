//! Prometheus remote write (protocol 1.0: `prometheus.WriteRequest` protobuf, snappy block
//! compression), accepted by Prometheus (`--web.enable-remote-write-receiver`), Mimir,
//! Thanos Receive, VictoriaMetrics, Grafana Cloud.
//!
//! The input is the agent's own Prometheus text exposition (format 0.0.4), parsed by
//! [`parse_text`]: every sample line becomes one series (histogram `_bucket`, `_sum`,
//! `_count` lines are ordinary series in remote write). Target labels are added to every
//! series ([`target_labels`]: `job="apitap"`, `service`, `pod`, `namespace`, `instance`, from
//! the configuration and the Kubernetes downward API environment `POD_NAME`,
//! `POD_NAMESPACE`, `APITAP_SERVICE`). As Prometheus does when scraping, a target label
//! wins over a metric label of the same name, which is kept as `exported_<name>`.
//! Samples without their own timestamp get the collection time.

use super::{deadline_of, now_unix_ms, sleep_or_stop, Backoff, MetricsTextFn, UpstreamConfig};
use anyhow::{Context, Result};
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

/// One parsed sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct TextSample {
    /// Metric name (series name, e.g. `x_bucket`).
    pub name: String,
    /// Labels in line order.
    pub labels: Vec<(String, String)>,
    /// Value.
    pub value: f64,
    /// Timestamp, unix ms, when the line has one.
    pub timestamp_ms: Option<i64>,
}

fn valid_name(s: &str, label: bool) -> bool {
    let mut it = s.bytes();
    let Some(c0) = it.next() else { return false };
    let first_ok = c0.is_ascii_alphabetic() || c0 == b'_' || (!label && c0 == b':');
    first_ok && it.all(|c| c.is_ascii_alphanumeric() || c == b'_' || (!label && c == b':'))
}

fn parse_value(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        _ => s.parse().ok(),
    }
}

/// Parses one sample line (`name{a="b",...} value [timestamp]`).
pub fn parse_line(line: &str) -> Option<TextSample> {
    let line = line.trim();
    let name_end = line
        .find(|c: char| c == '{' || c.is_ascii_whitespace())
        .unwrap_or(line.len());
    let name = line.get(..name_end)?;
    if !valid_name(name, false) {
        return None;
    }
    let mut rest = line.get(name_end..)?.trim_start();
    let mut labels = Vec::new();
    if let Some(body) = rest.strip_prefix('{') {
        let mut i = 0usize;
        loop {
            let tail = body.get(i..)?;
            let skipped = tail.len() - tail.trim_start_matches([' ', ',']).len();
            i += skipped;
            let tail = body.get(i..)?;
            if let Some(after) = tail.strip_prefix('}') {
                rest = after.trim_start();
                break;
            }
            let eq = tail.find('=')?;
            let lname = tail.get(..eq)?.trim();
            if !valid_name(lname, true) {
                return None;
            }
            let after_eq = tail.get(eq + 1..)?.trim_start();
            i = body.len() - after_eq.len();
            let quoted = after_eq.strip_prefix('"')?;
            i += 1;
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let end = loop {
                let (j, c) = chars.next()?;
                match c {
                    '"' => break j,
                    '\\' => match chars.next()?.1 {
                        'n' => value.push('\n'),
                        '\\' => value.push('\\'),
                        '"' => value.push('"'),
                        other => {
                            value.push('\\');
                            value.push(other);
                        }
                    },
                    c => value.push(c),
                }
            };
            i += end + 1;
            labels.push((lname.to_string(), value));
        }
    }
    let mut parts = rest.split_ascii_whitespace();
    let value = parse_value(parts.next()?)?;
    let timestamp_ms = match parts.next() {
        Some(t) => Some(t.parse::<i64>().ok()?),
        None => None,
    };
    if parts.next().is_some() {
        return None;
    }
    Some(TextSample {
        name: name.to_string(),
        labels,
        value,
        timestamp_ms,
    })
}

/// Parses a text exposition: samples, and the number of lines that could not be parsed.
/// Comment lines (`# HELP`, `# TYPE`, others) and blank lines are skipped.
pub fn parse_text(text: &str) -> (Vec<TextSample>, u64) {
    let mut out = Vec::new();
    let mut bad = 0;
    for line in text.lines() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        match parse_line(l) {
            Some(s) => out.push(s),
            None => bad += 1,
        }
    }
    (out, bad)
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

/// Builds a write request from parsed samples: target labels added (see the module doc),
/// labels sorted, `ts_ms` for samples without a timestamp. Series with duplicate label sets
/// are kept once (the first).
pub fn build_request(
    samples: &[TextSample],
    target: &[(String, String)],
    ts_ms: i64,
) -> WriteRequest {
    let mut seen = std::collections::HashSet::new();
    let mut timeseries = Vec::with_capacity(samples.len());
    for s in samples {
        let mut labels: Vec<Label> = Vec::with_capacity(s.labels.len() + target.len() + 1);
        labels.push(Label {
            name: "__name__".into(),
            value: s.name.clone(),
        });
        for (k, v) in &s.labels {
            if k == "__name__" {
                continue;
            }
            let name = if target.iter().any(|(t, _)| t == k) {
                format!("exported_{k}")
            } else {
                k.clone()
            };
            labels.push(Label {
                name,
                value: v.clone(),
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
            continue;
        }
        timeseries.push(TimeSeries {
            labels,
            samples: vec![Sample {
                value: s.value,
                timestamp: s.timestamp_ms.unwrap_or(ts_ms),
            }],
        });
    }
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
    /// Exposition lines that could not be parsed.
    pub parse_errors: AtomicU64,
    /// Batches waiting.
    pub queued_batches: AtomicU64,
}

impl RemoteWriteStats {
    /// Appends the metrics in the Prometheus text format to `out`.
    pub fn render_prometheus(&self, out: &mut String) {
        use std::fmt::Write;
        let g = |v: &AtomicU64| v.load(Relaxed);
        let _ = writeln!(out, "# HELP apitap_remote_write_batches_total Remote-write batches by result.\n# TYPE apitap_remote_write_batches_total counter");
        for (r, v) in [
            ("ok", &self.sent_batches),
            ("rejected", &self.rejected_batches),
            ("dropped", &self.dropped_batches),
        ] {
            let _ = writeln!(
                out,
                "apitap_remote_write_batches_total{{result=\"{r}\"}} {}",
                g(v)
            );
        }
        let _ = writeln!(out, "# HELP apitap_remote_write_samples_total Samples accepted by the receiver.\n# TYPE apitap_remote_write_samples_total counter\napitap_remote_write_samples_total {}", g(&self.sent_samples));
        let _ = writeln!(out, "# HELP apitap_remote_write_failures_total Failed remote-write attempts (retried).\n# TYPE apitap_remote_write_failures_total counter\napitap_remote_write_failures_total {}", g(&self.failed));
        let _ = writeln!(out, "# HELP apitap_remote_write_parse_errors_total Metric lines that could not be parsed.\n# TYPE apitap_remote_write_parse_errors_total counter\napitap_remote_write_parse_errors_total {}", g(&self.parse_errors));
        let _ = writeln!(out, "# HELP apitap_remote_write_queued_batches Batches waiting to be sent.\n# TYPE apitap_remote_write_queued_batches gauge\napitap_remote_write_queued_batches {}", g(&self.queued_batches));
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
    metrics_text: MetricsTextFn,
    target: Vec<(String, String)>,
    queue: VecDeque<Batch>,
    max_batches: usize,
    stats: Arc<RemoteWriteStats>,
}

impl RemoteWriter {
    /// A writer to `url` configured by `cfg`.
    pub fn new(cfg: &UpstreamConfig, url: &str, metrics_text: MetricsTextFn) -> Result<Self> {
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
            metrics_text,
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
        let text = (self.metrics_text)();
        let (samples, bad) = parse_text(&text);
        self.stats.parse_errors.fetch_add(bad, Relaxed);
        if samples.is_empty() {
            return;
        }
        let req = build_request(&samples, &self.target, now_unix_ms());
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
    fn parses_text_format() {
        let text = "# HELP x_total Things.\n# TYPE x_total counter\nx_total{method=\"GET\",path=\"/a\\\"b\\\\c\\nd\"} 42\n\
            x_total 7 1700000000000\n# TYPE h histogram\nh_bucket{le=\"0.5\"} 3\nh_bucket{le=\"+Inf\"} 5\nh_sum 1.25e0\nh_count 5\n\
            bad line here\n{no=\"name\"} 1\nz{a=\"1\",} NaN\ninf_metric -Inf\n";
        let (s, bad) = parse_text(text);
        assert_eq!(bad, 2);
        assert_eq!(s.len(), 8);
        assert_eq!(s[0].name, "x_total");
        assert_eq!(
            s[0].labels,
            vec![
                ("method".into(), "GET".into()),
                ("path".into(), "/a\"b\\c\nd".into())
            ]
        );
        assert_eq!(s[0].value, 42.0);
        assert_eq!(s[1].timestamp_ms, Some(1_700_000_000_000));
        assert_eq!(s[3].labels, vec![("le".into(), "+Inf".into())]);
        assert_eq!(s[4].value, 1.25);
        assert!(s[6].value.is_nan());
        assert_eq!(s[7].value, f64::NEG_INFINITY);
    }

    #[test]
    fn rejects_malformed_lines_without_panicking() {
        for l in [
            "x{a=\"1\"",
            "x{a=1} 2",
            "x{=\"1\"} 2",
            "x 1 2 3",
            "x abc",
            "x{a=\"\\",
            "1x 2",
            "x{a=\"é\"} ",
        ] {
            assert_eq!(parse_line(l), None, "{l}");
        }
        assert!(parse_line("x{a=\"é\"} 1").is_some());
    }

    #[test]
    fn builds_sorted_labels_with_exported_conflicts() {
        let (s, _) = parse_text("req_total{service=\"api.example\",method=\"GET\"} 3\n");
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
