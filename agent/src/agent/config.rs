//! Agent configuration: command-line flags, `APITAP_*` environment variables and an optional
//! config file.
//!
//! Precedence: a flag on the command line, then its environment variable, then the config
//! file (`--config FILE`, JSON or YAML, keys as the long flag names with `_` or `-`, e.g.
//! `{"interface": ["eth0"], "listen": "0.0.0.0:9464", "buffer_mib": 64}`), then the
//! built-in default. Unknown keys in the file are an error (typos should not pass silently).

use crate::capture::live::{BatchPolicy, LiveConfig};
use crate::metrics::Caps;
use anyhow::{Context, Result};
use serde::Deserialize;
use std::path::PathBuf;

/// Most fanout members (capture + pipeline threads) per interface.
pub const MAX_FANOUT: usize = 64;

/// `apitap agent` settings (the binary's flags, their environment variables, a config file).
/// Every field is optional so that a config file can fill what the
/// command line and environment leave out; [`AgentSettings::resolve`] applies the defaults.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct AgentSettings {
    /// Interface to capture on (repeatable; default: every interface that is up, loopback
    /// included). `any` is allowed but sees bridged traffic twice.
    #[serde(default, alias = "interfaces")]
    pub interface: Vec<String>,
    /// BPF filter, compiled by libpcap (e.g. `tcp port 8080`).
    #[serde(default)]
    pub filter: Option<String>,
    /// Join this network namespace before capturing (`/proc/PID/ns/net`,
    /// `/var/run/netns/NAME`); needs CAP_SYS_ADMIN. The admin server stays in the agent's own
    /// namespace.
    #[serde(default)]
    pub netns: Option<PathBuf>,
    /// Admin HTTP server address (metrics, health, spec) [default: 0.0.0.0:9464].
    #[serde(default)]
    pub listen: Option<String>,
    /// Service name: everything captured is learned under it, and it is the metrics'
    /// `service_name` label [default: the server socket `ip:port`].
    #[serde(default)]
    pub service: Option<String>,
    /// Write the final model (native JSON) here on shutdown.
    #[serde(default)]
    pub model_out: Option<PathBuf>,
    /// Source id of this agent in merged models [default: service or hostname + boot id].
    #[serde(default)]
    pub source_id: Option<String>,
    /// Bytes captured per packet [default: 262144].
    #[serde(default)]
    pub snaplen: Option<i32>,
    /// Kernel capture buffer per interface, MiB [default: 32].
    #[serde(default)]
    pub buffer_mib: Option<i32>,
    /// libpcap immediate mode: lower delay, but a ring of snaplen-sized slots (see the
    /// capture module doc).
    #[serde(default)]
    pub immediate: bool,
    /// With `--queued`: capacity of the capture → pipeline queue, in batches of up to 256
    /// packets or 256 KiB (so at most 256 KiB each: 8 MiB by default; the kernel ring is
    /// the larger buffer) [default: 32].
    #[serde(default)]
    pub queue_batches: Option<usize>,
    /// Hand the packets from each capture thread to a pipeline thread over a queue of
    /// batches (`queue_batches`), instead of running the pipeline on the capture thread
    /// (the default: no copy, no hand-off; the kernel ring is the buffer).
    #[serde(default)]
    pub queued: bool,
    /// Capture fanout: N capture and pipeline threads per interface, the kernel handing each
    /// TCP connection to one of them by flow hash (PACKET_FANOUT); their models and metrics
    /// merge. For nodes with spare cores; `buffer_mib` is split among them [default: 1].
    #[serde(default)]
    pub fanout: Option<usize>,
    /// Max TCP connections tracked [default: 65536].
    #[serde(default)]
    pub max_flows: Option<usize>,
    /// Idle connection timeout, seconds [default: 120].
    #[serde(default)]
    pub idle_timeout: Option<u64>,
    /// Bytes of each body kept for schema inference [default: 65536].
    #[serde(default)]
    pub body_cap: Option<usize>,
    /// Pin a path template, e.g. `/v1/orgs/{org}/repos` (repeatable).
    #[serde(default, alias = "path_templates")]
    pub path_template: Vec<String>,
    /// A reviewed templates file (`param PATH` / `static PATH` lines) that wins over
    /// inference; see `apitap learn --templates`.
    #[serde(default)]
    pub templates: Option<String>,
    /// Keep one example per schema node, synthesised from type and format (never a value).
    #[serde(default)]
    pub examples: bool,
    /// Decode and infer every body and every array element (audits): turns adaptive body
    /// sampling off (by default an endpoint's bodies are inspected always while they teach
    /// something new, then on a shrinking sample down to 1 in 64, and a long array's
    /// elements beyond the 16th on a sample of 1 in 8).
    #[serde(default)]
    pub learn_all: bool,
    /// Memory budget of the learner: max path nodes in all services; exchanges needing more
    /// are counted in `_other` (metric `apitap_learn_other_total`) [default: 16384].
    #[serde(default)]
    pub max_nodes: Option<u64>,
    /// Seconds between model snapshots served by the admin server [default: 2].
    #[serde(default)]
    pub snapshot_interval: Option<f64>,
    /// Max distinct `service_name` label values [default: 20].
    #[serde(default)]
    pub max_metric_services: Option<usize>,
    /// Max distinct `http_route` label values per service [default: 500].
    #[serde(default)]
    pub max_metric_routes: Option<usize>,
    /// Config file (JSON or YAML) with any of these settings.
    #[serde(skip)]
    pub config: Option<PathBuf>,
}

/// The agent's resolved settings.
#[derive(Clone, Debug)]
pub struct AgentConfig {
    /// Interfaces (empty: every interface that is up, found after joining `netns`).
    pub interfaces: Vec<String>,
    /// Capture settings (the interface name is filled per interface).
    pub capture: LiveConfig,
    /// Network namespace to join.
    pub netns: Option<PathBuf>,
    /// Admin server address.
    pub listen: String,
    /// `service_name` label override.
    pub service: Option<String>,
    /// Final model destination.
    pub model_out: Option<PathBuf>,
    /// Source id for the model.
    pub source_id: String,
    /// Queue capacity, in batches (per pipeline thread).
    pub queue_batches: usize,
    /// Each capture thread runs its own pipeline (no queue; see the agent module doc);
    /// false with `--queued`.
    pub inline: bool,
    /// Pipeline threads, each fed by one member of a PACKET_FANOUT group per interface (1: no
    /// fanout). Each member's kernel ring is `capture.buffer_size` / `fanout`.
    pub fanout: usize,
    /// Batching of the capture threads.
    pub batch: BatchPolicy,
    /// Pipeline settings.
    pub pipeline: apitap_engine::PipelineConfig,
    /// Learner settings.
    pub learn: apitap_model::LearnConfig,
    /// Learn every body (no adaptive sampling).
    pub learn_all: bool,
    /// Model snapshot interval.
    pub snapshot_interval: std::time::Duration,
    /// Metric cardinality caps.
    pub caps: Caps,
}

impl AgentSettings {
    /// Fills unset fields from `other` (a config file).
    fn or(mut self, other: AgentSettings) -> AgentSettings {
        macro_rules! fill {
            ($($f:ident),*) => { $( if self.$f.is_none() { self.$f = other.$f; } )* };
        }
        fill!(
            filter,
            netns,
            listen,
            service,
            model_out,
            source_id,
            snaplen,
            buffer_mib,
            queue_batches,
            fanout,
            max_flows,
            idle_timeout,
            body_cap,
            snapshot_interval,
            max_metric_services,
            max_metric_routes
        );
        if self.interface.is_empty() {
            self.interface = other.interface;
        }
        if self.path_template.is_empty() {
            self.path_template = other.path_template;
        }
        self.examples |= other.examples;
        self.learn_all |= other.learn_all;
        self.immediate |= other.immediate;
        self.queued |= other.queued;
        self
    }

    /// Reads the config file (if any) and applies defaults.
    pub fn resolve(self) -> Result<AgentConfig> {
        let a = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read config file {}", path.display()))?;
                let file: AgentSettings = parse_config(&text)
                    .with_context(|| format!("invalid config file {}", path.display()))?;
                self.clone().or(file)
            }
            None => self,
        };
        let mut pipeline = apitap_engine::PipelineConfig {
            http2: Some(apitap_engine::protocol::http2_parser),
            ..Default::default()
        };
        pipeline.flow.max_flows = a.max_flows.unwrap_or(65_536).max(1);
        pipeline.flow.idle_timeout = std::time::Duration::from_secs(a.idle_timeout.unwrap_or(120));
        pipeline.flow.max_buffered_bytes = 64 << 20;
        pipeline.http.keep_bodies = true;
        pipeline.http.body_cap = a.body_cap.unwrap_or(64 << 10);
        let source_id = a.source_id.clone().unwrap_or_else(|| {
            let base = a.service.clone().unwrap_or_else(hostname);
            format!("{base}-{}", boot_id())
        });
        let interval = a.snapshot_interval.unwrap_or(2.0);
        if !(interval.is_finite() && interval > 0.0) {
            anyhow::bail!("snapshot interval must be a positive number of seconds");
        }
        let fanout = a.fanout.unwrap_or(1);
        if !(1..=MAX_FANOUT).contains(&fanout) {
            anyhow::bail!("fanout must be between 1 and {MAX_FANOUT}");
        }
        let snaplen = a.snaplen.unwrap_or(262_144);
        if snaplen < 64 {
            anyhow::bail!("snaplen must be at least 64 bytes");
        }
        Ok(AgentConfig {
            interfaces: a.interface.clone(),
            capture: LiveConfig {
                interface: String::new(),
                filter: a.filter.clone(),
                snaplen,
                buffer_size: a.buffer_mib.unwrap_or(32).clamp(1, 2047) << 20,
                read_timeout_ms: 20,
                immediate: a.immediate,
                promisc: false,
            },
            netns: a.netns.clone(),
            listen: a.listen.clone().unwrap_or_else(|| "0.0.0.0:9464".into()),
            service: a.service.clone(),
            model_out: a.model_out.clone(),
            source_id,
            queue_batches: a.queue_batches.unwrap_or(32).max(1),
            inline: !a.queued,
            fanout,
            batch: BatchPolicy::default(),
            pipeline,
            learn: {
                let rules = crate::learn::template_rules(a.templates.as_deref())?;
                let mut pinned = a.path_template.clone();
                pinned.extend(rules.params);
                apitap_model::LearnConfig {
                    source: String::new(),
                    examples: a.examples,
                    pinned,
                    statics: rules.statics,
                    service: a.service.clone(),
                    max_nodes: a
                        .max_nodes
                        .unwrap_or(apitap_model::model::DEFAULT_MAX_NODES),
                    all_items: a.learn_all,
                }
            },
            learn_all: a.learn_all,
            snapshot_interval: std::time::Duration::from_secs_f64(interval),
            caps: Caps {
                max_services: a.max_metric_services.unwrap_or(20).max(1),
                max_routes_per_service: a.max_metric_routes.unwrap_or(500).max(1),
                max_series: 10_000,
            },
        }
        .with_source())
    }
}

impl AgentConfig {
    fn with_source(mut self) -> Self {
        self.learn.source = self.source_id.clone();
        self
    }
}

/// Parses a config file: JSON, else YAML; top-level keys may use `-` or `_`.
fn parse_config(text: &str) -> Result<AgentSettings> {
    let value: serde_json::Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(json_err) => serde_norway::from_str(text).map_err(|yaml_err| {
            anyhow::anyhow!("neither JSON ({json_err}) nor YAML ({yaml_err})")
        })?,
    };
    let serde_json::Value::Object(map) = value else {
        anyhow::bail!("the config file must be a mapping of settings");
    };
    let map: serde_json::Map<String, serde_json::Value> = map
        .into_iter()
        .map(|(k, v)| (k.replace('-', "_"), v))
        .collect();
    Ok(serde_json::from_value(serde_json::Value::Object(map))?)
}

/// The host name (from the kernel), or `apitap`.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "apitap".into())
}

/// A random id for this process (8 hex digits, from the kernel's random UUID source, else
/// the pid and start time).
pub fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/uuid")
        .ok()
        .and_then(|s| s.get(..8).map(str::to_string))
        .unwrap_or_else(|| {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            format!("{:08x}", std::process::id() ^ t)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_fills_what_flags_leave_out() {
        let file = parse_config(
            "interface: [eth0, lo]\nlisten: 127.0.0.1:1\nbuffer-mib: 8\nservice: from-file\n",
        )
        .unwrap();
        let flags = AgentSettings {
            service: Some("from-flag".into()),
            ..Default::default()
        };
        let c = flags.or(file).resolve().unwrap();
        assert_eq!(c.interfaces, vec!["eth0", "lo"]);
        assert_eq!(c.listen, "127.0.0.1:1");
        assert_eq!(c.capture.buffer_size, 8 << 20);
        assert_eq!(c.service.as_deref(), Some("from-flag"));
        assert!(c.source_id.starts_with("from-flag-"));
        assert_eq!(c.learn.source, c.source_id);
    }

    #[test]
    fn json_and_unknown_keys() {
        let a = parse_config(r#"{"filter": "tcp port 80", "max_flows": 10}"#).unwrap();
        assert_eq!(a.filter.as_deref(), Some("tcp port 80"));
        assert_eq!(a.max_flows, Some(10));
        assert!(parse_config(r#"{"fliter": "x"}"#).is_err());
    }

    #[test]
    fn defaults() {
        let c = AgentSettings::default().resolve().unwrap();
        assert!(c.interfaces.is_empty());
        assert_eq!(c.listen, "0.0.0.0:9464");
        assert_eq!(c.capture.buffer_size, 32 << 20);
        assert_eq!(c.capture.snaplen, 262_144);
        assert_eq!(c.caps.max_routes_per_service, 500);
        assert!(c.pipeline.http.keep_bodies);
    }
}
