//! `apitap-collector`: the collector on its own, with the options of `apitap collector`.
#![forbid(unsafe_code)]

mod args;

use clap::Parser;
use std::process::ExitCode;

/// apitap collector: receives pushed models, merges them per service and serves the specs.
#[derive(Parser, Debug)]
#[command(name = "apitap-collector", version, about, long_about = None)]
struct Args {
    /// Log filter (tracing EnvFilter syntax), e.g. `info`.
    #[arg(long, default_value = "warn", env = "APITAP_LOG")]
    log: String,
    #[command(flatten)]
    collector: args::CollectorArgs,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&args.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    match apitap_collector::run(args.collector.into()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("apitap-collector: {e:#}");
            ExitCode::FAILURE
        }
    }
}
