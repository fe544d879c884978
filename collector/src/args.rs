//! The collector's command-line arguments (clap), shared by the `apitap-collector` binary and
//! `apitap collector` (which includes this file by path); the library takes the plain
//! [`CollectorConfig`] they turn into.

use apitap_collector::CollectorConfig;
use clap::Args;
use std::path::PathBuf;

/// `apitap collector` options.
#[derive(Args, Debug, Clone)]
pub struct CollectorArgs {
    /// Address to listen on (`:0` picks a free port; the address is logged and printed).
    #[arg(long, default_value = "0.0.0.0:9470", env = "APITAP_COLLECTOR_LISTEN")]
    pub listen: String,
    /// Directory of the embedded store (created if missing; unused with `--store postgres://…`).
    #[arg(
        long,
        default_value = "apitap-collector-data",
        env = "APITAP_COLLECTOR_DATA_DIR"
    )]
    pub data_dir: PathBuf,
    /// Shared store: a `postgres://user:password@host:port/database` URL. Any number of
    /// collector replicas may use the same one. Without it, the embedded store in `--data-dir`.
    #[arg(long, env = "APITAP_COLLECTOR_STORE", hide_env_values = true)]
    pub store: Option<String>,
    /// Connections to the shared store per replica.
    #[arg(long, default_value_t = 4)]
    pub store_connections: usize,
    /// Bearer token that may push and read (repeatable; comma-separated in the environment).
    #[arg(
        long = "token",
        env = "APITAP_COLLECTOR_TOKENS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub tokens: Vec<String>,
    /// Bearer token that may only push (repeatable).
    #[arg(
        long = "push-token",
        env = "APITAP_COLLECTOR_PUSH_TOKENS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub push_tokens: Vec<String>,
    /// Bearer token that may only read (repeatable).
    #[arg(
        long = "read-token",
        env = "APITAP_COLLECTOR_READ_TOKENS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub read_tokens: Vec<String>,
    /// Bearer token that may only scrape `/metrics` (repeatable; for Prometheus'
    /// `authorization` scrape setting). With any token configured, `/metrics` needs this or a
    /// read token, unless `--metrics-open`.
    #[arg(
        long = "metrics-token",
        env = "APITAP_COLLECTOR_METRICS_TOKENS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub metrics_tokens: Vec<String>,
    /// Serve `/metrics` without a token even when tokens are configured (for scrapers that
    /// cannot send one; the metrics are the collector's own counters, see the module doc).
    #[arg(long, env = "APITAP_COLLECTOR_METRICS_OPEN")]
    pub metrics_open: bool,
    /// Largest accepted push body as sent (compressed), bytes.
    #[arg(long, default_value_t = 16 << 20)]
    pub max_body: usize,
    /// Largest accepted push body after decompression, bytes.
    #[arg(long, default_value_t = 64 << 20)]
    pub max_decompressed: usize,
    /// Most JSON values in one push body (bounds the memory of parsing it).
    #[arg(long, default_value_t = 2_000_000)]
    pub max_push_values: u64,
    /// Most sources (agents) in one push.
    #[arg(long, default_value_t = 64)]
    pub max_push_sources: usize,
    /// Pushes read and parsed at once (more wait their turn).
    #[arg(long, default_value_t = 4)]
    pub max_concurrent_pushes: usize,
    /// Merged models kept in memory (least recently used evicted).
    #[arg(long, default_value_t = 16)]
    pub cache_models: usize,
    /// Spec versions kept per service.
    #[arg(long, default_value_t = 100)]
    pub max_versions: u64,
    /// How long after a service's first unsettled push the background settle records its
    /// spec version (reads of the history settle at once; see `collector/src/store/mod.rs`).
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub settle_delay: std::time::Duration,
    /// A reviewed templates file that wins over inference, one rule a line (`#` comments):
    /// `param /v1/images/{name}/json` makes segments parameters (merge), `static
    /// /v1/containers/json` keeps a literal route (split). Applied to the merged evidence of
    /// every service: specs, versions, the page and endpoint counts follow it; the stored and
    /// served native models stay the evidence as pushed.
    #[arg(long, env = "APITAP_COLLECTOR_TEMPLATES")]
    pub templates: Option<PathBuf>,
}

impl From<CollectorArgs> for CollectorConfig {
    fn from(a: CollectorArgs) -> Self {
        CollectorConfig {
            listen: a.listen,
            data_dir: a.data_dir,
            store: a.store,
            store_connections: a.store_connections,
            tokens: a.tokens,
            push_tokens: a.push_tokens,
            read_tokens: a.read_tokens,
            metrics_tokens: a.metrics_tokens,
            metrics_open: a.metrics_open,
            max_body: a.max_body,
            max_decompressed: a.max_decompressed,
            max_push_values: a.max_push_values,
            max_push_sources: a.max_push_sources,
            max_concurrent_pushes: a.max_concurrent_pushes,
            cache_models: a.cache_models,
            max_versions: a.max_versions,
            settle_delay: a.settle_delay,
            templates: a.templates,
        }
    }
}
