//! The `apitap` command line.
#![forbid(unsafe_code)]

use anyhow::Result;
use clap::{Parser, Subcommand, ValueEnum};
use std::process::ExitCode;

mod cli;

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
    /// Run as a long-running agent: capture live, learn continuously, serve spec and metrics.
    Agent(Box<apitap::agent::AgentArgs>),
    /// Check a running agent's health endpoint (exit 0 when healthy); for container health
    /// checks.
    Healthcheck(cli::HealthcheckArgs),
}

fn main() -> ExitCode {
    let args = Args::parse();
    init_logging(args.log_format, &args.log);
    let result: Result<ExitCode> = match args.command {
        Command::Exchanges(a) => cli::exchanges(a),
        Command::Learn(a) => cli::learn(a),
        Command::Diff(a) => cli::diff(a),
        Command::Agent(a) => cli::agent(*a),
        Command::Healthcheck(a) => cli::healthcheck(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("apitap: error: {e:#}");
            ExitCode::from(2)
        }
    }
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
