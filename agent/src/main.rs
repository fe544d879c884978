//! The `apitap` command line.
#![forbid(unsafe_code)]

use anyhow::Result;
use clap::{Parser, Subcommand, ValueEnum};
use std::process::ExitCode;

mod cli;
/// `apitap collector`: the same flags as the `apitap-collector` binary (one file for both).
#[path = "../../collector/src/args.rs"]
mod collector_args;

/// mimalloc: the pipeline allocates per message (header strings, bodies) and frees in a
/// different order; glibc malloc's consolidation showed up at ~15% of a profile. The
/// `system-alloc` feature keeps the system allocator, for heap profilers that hook malloc
/// (heaptrack). Built with `no_thp` (no `MADV_HUGEPAGE` on its arenas), and `apitap agent`
/// turns transparent huge pages off for its process ([`no_huge_pages`]).
#[cfg(not(feature = "system-alloc"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// apitap learns what an HTTP API really does by watching its traffic.
#[derive(Parser, Debug)]
#[command(name = "apitap", version, about, long_about = None)]
struct Args {
    /// Log format on stderr.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "text",
        env = "APITAP_LOG_FORMAT"
    )]
    log_format: LogFormat,
    /// Log filter (tracing EnvFilter syntax), e.g. `info` or `apitap=debug`.
    #[arg(long, global = true, default_value = "warn", env = "APITAP_LOG")]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Copy, Clone, Debug, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print the HTTP request/response exchanges found in capture files.
    Exchanges(cli::ExchangesArgs),
    /// Learn an API spec (OpenAPI 3.1 or the native model) from captures or HAR files.
    Learn(cli::LearnArgs),
    /// Compare two specs or models; exit status 1 when anything breaks.
    Diff(cli::DiffArgs),
    /// Receive models pushed by agents; merge, store and serve them (specs, diffs, web page).
    Collector(collector_args::CollectorArgs),
    /// Push a model file to a collector once (with retries), e.g. from CI.
    Push(cli::PushArgs),
    /// Add the apitap sidecar to Kubernetes manifests (Deployment, Pod, ...).
    Inject(cli::args::InjectArgs),
    /// Run as a long-running agent: capture live, learn continuously, serve spec and metrics.
    Agent(Box<cli::AgentCommand>),
    /// Check a running agent's health endpoint (exit 0 when healthy); for container health
    /// checks.
    Healthcheck(cli::HealthcheckArgs),
}

/// Turns transparent huge pages off for this process (`prctl(PR_SET_THP_DISABLE)`, before
/// the agent's threads start). The agent's heap is a few MiB spread over several threads'
/// mimalloc pages; backed by 2 MiB huge pages (THP `always`, or mimalloc's own
/// `MADV_HUGEPAGE`) its resident size was 20 MiB for ~5 MiB touched (measured under
/// `bench/overhead.sh` unpaced, ~100k req/s: peak RSS 64.7 → 49.9 MiB), and a sidecar's
/// memory limit matters more than its TLB misses. Best effort: a kernel without the
/// prctl changes nothing.
fn no_huge_pages() {
    if let Err(e) = nix::sys::prctl::set_thp_disable(true) {
        tracing::debug!("cannot disable transparent huge pages: {e}");
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    init_logging(args.log_format, &args.log);
    let result: Result<ExitCode> = match args.command {
        Command::Exchanges(a) => cli::exchanges(a),
        Command::Learn(a) => cli::learn(a),
        Command::Diff(a) => cli::diff(a),
        Command::Collector(a) => apitap_collector::run(a.into()).map(|()| ExitCode::SUCCESS),
        Command::Push(a) => cli::push(a),
        Command::Inject(a) => apitap::inject::run(a.into()),
        Command::Agent(a) => {
            no_huge_pages();
            cli::agent(*a)
        }
        Command::Healthcheck(a) => cli::healthcheck(a),
    };
    match result {
        Ok(code) => code,
        // A closed pipe (`apitap exchanges big.pcap | head`) is the reader's choice, not
        // an error.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("apitap: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn init_logging(format: LogFormat, filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
