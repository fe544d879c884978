//! Command-line argument structs of the `apitap` binary (clap), kept out of the library: each
//! turns into the plain settings struct the library takes ([`AgentSettings`],
//! [`UpstreamConfig`], [`InjectConfig`]).

use apitap::agent::AgentSettings;
use apitap::inject::InjectConfig;
use apitap::upstream::UpstreamConfig;
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

/// `apitap agent` flags and their environment variables, turned into the library's
/// [`AgentSettings`] (a config file fills what they leave out). Every field is optional so
/// that the config file can fill it.
#[derive(clap::Args, Debug, Default, Clone)]
pub struct AgentArgs {
    /// Interface to capture on (repeatable; default: every interface that is up, loopback
    /// included). `any` is allowed but sees bridged traffic twice.
    #[arg(
        short = 'i',
        long = "interface",
        env = "APITAP_INTERFACE",
        value_delimiter = ','
    )]
    pub interface: Vec<String>,
    /// BPF filter, compiled by libpcap (e.g. `tcp port 8080`).
    #[arg(long, short = 'f', env = "APITAP_FILTER")]
    pub filter: Option<String>,
    /// Join this network namespace before capturing (`/proc/PID/ns/net`,
    /// `/var/run/netns/NAME`); needs CAP_SYS_ADMIN. The admin server stays in the agent's own
    /// namespace.
    #[arg(long, env = "APITAP_NETNS")]
    pub netns: Option<PathBuf>,
    /// Admin HTTP server address (metrics, health, spec) [default: 0.0.0.0:9464].
    #[arg(long, env = "APITAP_LISTEN")]
    pub listen: Option<String>,
    /// Service name: everything captured is learned under it, and it is the metrics'
    /// `service_name` label [default: the server socket `ip:port`].
    #[arg(long, env = "APITAP_SERVICE")]
    pub service: Option<String>,
    /// Write the final model (native JSON) here on shutdown.
    #[arg(long, env = "APITAP_MODEL_OUT")]
    pub model_out: Option<PathBuf>,
    /// Source id of this agent in merged models [default: service or hostname + boot id].
    #[arg(long, env = "APITAP_SOURCE_ID")]
    pub source_id: Option<String>,
    /// Bytes captured per packet [default: 262144].
    #[arg(long, env = "APITAP_SNAPLEN")]
    pub snaplen: Option<i32>,
    /// Kernel capture buffer per interface, MiB [default: 32].
    #[arg(long, env = "APITAP_BUFFER_MIB")]
    pub buffer_mib: Option<i32>,
    /// libpcap immediate mode: lower delay, but a ring of snaplen-sized slots (see the
    /// capture module doc).
    #[arg(long, env = "APITAP_IMMEDIATE")]
    pub immediate: bool,
    /// With `--queued`: capacity of the capture → pipeline queue, in batches of up to 256
    /// packets or 256 KiB (so at most 256 KiB each: 8 MiB by default; the kernel ring is
    /// the larger buffer) [default: 32].
    #[arg(long, env = "APITAP_QUEUE_BATCHES")]
    pub queue_batches: Option<usize>,
    /// Hand the packets from each capture thread to a pipeline thread over a queue of
    /// batches (`--queue-batches`), instead of running the pipeline on the capture thread
    /// (the default: no copy, no hand-off; the kernel ring is the buffer).
    #[arg(long, env = "APITAP_QUEUED")]
    pub queued: bool,
    /// Capture fanout: N capture and pipeline threads per interface, the kernel handing each
    /// TCP connection to one of them by flow hash (PACKET_FANOUT); their models and metrics
    /// merge. For nodes with spare cores; `--buffer-mib` is split among them [default: 1].
    #[arg(long, env = "APITAP_FANOUT")]
    pub fanout: Option<usize>,
    /// Max TCP connections tracked [default: 65536].
    #[arg(long, env = "APITAP_MAX_FLOWS")]
    pub max_flows: Option<usize>,
    /// Idle connection timeout, seconds [default: 120].
    #[arg(long, env = "APITAP_IDLE_TIMEOUT")]
    pub idle_timeout: Option<u64>,
    /// Bytes of each body kept for schema inference [default: 65536].
    #[arg(long, env = "APITAP_BODY_CAP")]
    pub body_cap: Option<usize>,
    /// Pin a path template, e.g. `/v1/orgs/{org}/repos` (repeatable).
    #[arg(
        long = "path-template",
        env = "APITAP_PATH_TEMPLATES",
        value_delimiter = ','
    )]
    pub path_template: Vec<String>,
    /// A reviewed templates file (`param PATH` / `static PATH` lines) that wins over
    /// inference; see `apitap learn --templates`.
    #[arg(long, env = "APITAP_TEMPLATES")]
    pub templates: Option<String>,
    /// Keep one example per schema node, synthesised from type and format (never a value).
    #[arg(long, env = "APITAP_EXAMPLES")]
    pub examples: bool,
    /// Decode and infer every body and every array element (audits): turns adaptive body
    /// sampling off (by default an endpoint's bodies are inspected always while they teach
    /// something new, then on a shrinking sample down to 1 in 64, and a long array's
    /// elements beyond the 16th on a sample of 1 in 8).
    #[arg(long, env = "APITAP_LEARN_ALL")]
    pub learn_all: bool,
    /// Memory budget of the learner: max path nodes in all services; exchanges needing more
    /// are counted in `_other` (metric `apitap_learn_other_total`) [default: 16384].
    #[arg(long, env = "APITAP_MAX_NODES")]
    pub max_nodes: Option<u64>,
    /// Seconds between model snapshots served by the admin server [default: 2].
    #[arg(long, env = "APITAP_SNAPSHOT_INTERVAL")]
    pub snapshot_interval: Option<f64>,
    /// Max distinct `service_name` label values [default: 20].
    #[arg(long, env = "APITAP_MAX_METRIC_SERVICES")]
    pub max_metric_services: Option<usize>,
    /// Max distinct `http_route` label values per service [default: 500].
    #[arg(long, env = "APITAP_MAX_METRIC_ROUTES")]
    pub max_metric_routes: Option<usize>,
    /// Config file (JSON or YAML) with any of these settings.
    #[arg(long, env = "APITAP_CONFIG")]
    pub config: Option<PathBuf>,
}

impl From<AgentArgs> for AgentSettings {
    fn from(a: AgentArgs) -> Self {
        AgentSettings {
            interface: a.interface,
            filter: a.filter,
            netns: a.netns,
            listen: a.listen,
            service: a.service,
            model_out: a.model_out,
            source_id: a.source_id,
            snaplen: a.snaplen,
            buffer_mib: a.buffer_mib,
            immediate: a.immediate,
            queue_batches: a.queue_batches,
            queued: a.queued,
            fanout: a.fanout,
            max_flows: a.max_flows,
            idle_timeout: a.idle_timeout,
            body_cap: a.body_cap,
            path_template: a.path_template,
            templates: a.templates,
            examples: a.examples,
            learn_all: a.learn_all,
            max_nodes: a.max_nodes,
            snapshot_interval: a.snapshot_interval,
            max_metric_services: a.max_metric_services,
            max_metric_routes: a.max_metric_routes,
            config: a.config,
        }
    }
}

/// Upstream flags of `apitap agent` (`#[command(flatten)]`ed), turned into the library's
/// [`UpstreamConfig`].
#[derive(Args, Debug, Clone)]
pub struct UpstreamArgs {
    /// Collector base URL to push the model to, e.g. `http://apitap-collector:9470`.
    #[arg(long, env = "APITAP_UPSTREAM")]
    pub upstream: Option<String>,
    /// Bearer token for the collector.
    #[arg(long, env = "APITAP_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// File holding the bearer token (e.g. a mounted Kubernetes secret); read at start.
    #[arg(long, env = "APITAP_TOKEN_FILE", conflicts_with = "token")]
    pub token_file: Option<PathBuf>,
    /// Push interval for the model and remote write, e.g. `60s`, `500ms`.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration, env = "APITAP_PUSH_INTERVAL")]
    pub push_interval: Duration,
    /// Longest wait between retries (the backoff cap).
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration, env = "APITAP_PUSH_MAX_BACKOFF")]
    pub push_max_backoff: Duration,
    /// Timeout of one push request.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub push_timeout: Duration,
    /// Directory for the on-disk spool of unsent models (memory only when unset).
    #[arg(long, env = "APITAP_SPOOL_DIR")]
    pub spool_dir: Option<PathBuf>,
    /// With `--spool-dir`: how often unpushed learning is checkpointed to the spool (so a
    /// SIGKILL loses at most this much); `0s` turns checkpoints off.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration, env = "APITAP_CHECKPOINT_INTERVAL")]
    pub checkpoint_interval: Duration,
    /// Largest spool file, bytes (see the module doc).
    #[arg(long, default_value_t = 64 << 20)]
    pub spool_max_bytes: u64,
    /// Prometheus remote-write URL, e.g. `http://prometheus:9090/api/v1/write`.
    #[arg(long, env = "APITAP_REMOTE_WRITE")]
    pub remote_write: Option<String>,
    /// Extra HTTP header for remote write, `Name: value` (repeatable), e.g. `X-Scope-OrgID: t1`.
    #[arg(long = "remote-write-header")]
    pub remote_write_headers: Vec<String>,
    /// Remote-write batches buffered while the receiver is unreachable (oldest dropped).
    #[arg(long, default_value_t = 120)]
    pub remote_write_buffer: usize,
}

impl From<UpstreamArgs> for UpstreamConfig {
    fn from(a: UpstreamArgs) -> Self {
        UpstreamConfig {
            upstream: a.upstream,
            token: a.token,
            token_file: a.token_file,
            push_interval: a.push_interval,
            push_max_backoff: a.push_max_backoff,
            push_timeout: a.push_timeout,
            spool_dir: a.spool_dir,
            checkpoint_interval: a.checkpoint_interval,
            spool_max_bytes: a.spool_max_bytes,
            remote_write: a.remote_write,
            remote_write_headers: a.remote_write_headers,
            remote_write_buffer: a.remote_write_buffer,
            service: None,
        }
    }
}

/// `apitap inject` options.
#[derive(Args, Debug, Clone)]
pub struct InjectArgs {
    /// Manifest file (`-` for standard input).
    #[arg(short = 'f', long = "filename", default_value = "-")]
    pub file: String,
    /// Agent image.
    #[arg(long, default_value = concat!("ghcr.io/apitap/apitap:", env!("CARGO_PKG_VERSION")), env = "APITAP_IMAGE")]
    pub image: String,
    /// Collector URL the agent pushes its model to.
    #[arg(long)]
    pub upstream: Option<String>,
    /// Prometheus remote-write URL for the agent's metrics.
    #[arg(long)]
    pub remote_write: Option<String>,
    /// Service name (default: the `app.kubernetes.io/name` or `app` label, else the name).
    #[arg(long)]
    pub service: Option<String>,
    /// Name of a Secret whose key `token` holds the collector token.
    #[arg(long)]
    pub token_secret: Option<String>,
    /// Metrics/admin port of the agent.
    #[arg(long, default_value_t = 9464)]
    pub port: u16,
    /// Extra argument for `apitap agent` (repeatable).
    #[arg(long = "agent-arg", allow_hyphen_values = true)]
    pub agent_args: Vec<String>,
    /// CPU request.
    #[arg(long, default_value = "50m")]
    pub cpu_request: String,
    /// CPU limit.
    #[arg(long, default_value = "500m")]
    pub cpu_limit: String,
    /// Memory request.
    #[arg(long, default_value = "64Mi")]
    pub memory_request: String,
    /// Memory limit.
    #[arg(long, default_value = "256Mi")]
    pub memory_limit: String,
}

impl From<InjectArgs> for InjectConfig {
    fn from(a: InjectArgs) -> Self {
        InjectConfig {
            file: a.file,
            image: a.image,
            upstream: a.upstream,
            remote_write: a.remote_write,
            service: a.service,
            token_secret: a.token_secret,
            port: a.port,
            agent_args: a.agent_args,
            cpu_request: a.cpu_request,
            cpu_limit: a.cpu_limit,
            memory_request: a.memory_request,
            memory_limit: a.memory_limit,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cmd {
        #[command(flatten)]
        agent: AgentArgs,
        #[command(flatten)]
        upstream: UpstreamArgs,
    }

    #[test]
    fn flags_become_library_settings() {
        let c = Cmd::try_parse_from([
            "apitap",
            "-i",
            "eth0,lo",
            "--service",
            "shop",
            "--upstream",
            "http://collector:9470",
            "--push-interval",
            "500ms",
        ])
        .unwrap();
        let a = AgentSettings::from(c.agent);
        assert_eq!(a.interface, vec!["eth0", "lo"]);
        assert_eq!(a.service.as_deref(), Some("shop"));
        let u = UpstreamConfig::from(c.upstream);
        assert_eq!(u.upstream.as_deref(), Some("http://collector:9470"));
        assert_eq!(u.push_interval, Duration::from_millis(500));
        assert_eq!(u.checkpoint_interval, Duration::from_secs(10));
        assert_eq!(u.service, None);
        let cfg = a.resolve().unwrap();
        assert_eq!(cfg.interfaces, vec!["eth0", "lo"]);
    }
}
