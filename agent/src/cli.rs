//! Subcommand implementations.

use anyhow::{Context, Result};
use apitap::output::{har::HarWriter, jsonl::JsonlWriter, ExchangeWriter, Reorderer};
use apitap::pipeline::{self, PipelineConfig};
use clap::{Args, ValueEnum};
use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

/// Output format of `exchanges`.
#[derive(Copy, Clone, Debug, ValueEnum)]
pub enum ExchangeFormat {
    /// One JSON object per line.
    Jsonl,
    /// HAR 1.2.
    Har,
}

/// `apitap exchanges`.
#[derive(Args, Debug)]
pub struct ExchangesArgs {
    /// Capture files (.pcap, .pcapng, gzip-compressed); `-` reads standard input.
    #[arg(required = true)]
    pub files: Vec<String>,
    /// BPF filter, compiled by libpcap (e.g. `port 80 and host 172.16.0.1`).
    #[arg(long, short = 'f')]
    pub filter: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "jsonl")]
    pub format: ExchangeFormat,
    /// Include decoded bodies (UTF-8 text, else base64).
    #[arg(long)]
    pub bodies: bool,
    /// Keep at most this many bytes of each body (with --bodies).
    #[arg(long, default_value_t = 1 << 20)]
    pub body_cap: usize,
    /// Write to this file instead of standard output.
    #[arg(long, short = 'o')]
    pub output: Option<String>,
    /// Print pipeline counters to stderr at the end.
    #[arg(long)]
    pub stats: bool,
    /// Never show a progress bar.
    #[arg(long)]
    pub no_progress: bool,
}

fn open_output(path: &Option<String>) -> Result<Box<dyn Write>> {
    Ok(match path {
        Some(p) if p != "-" => Box::new(io::BufWriter::with_capacity(
            1 << 16,
            std::fs::File::create(p).with_context(|| format!("cannot create {p}"))?,
        )),
        _ => Box::new(io::BufWriter::with_capacity(1 << 16, io::stdout().lock())),
    })
}

/// Runs `apitap exchanges`.
pub fn exchanges(a: ExchangesArgs) -> Result<ExitCode> {
    let out = open_output(&a.output)?;
    let mut writer: Box<dyn ExchangeWriter> = match a.format {
        ExchangeFormat::Jsonl => Box::new(JsonlWriter::new(out, a.bodies)),
        ExchangeFormat::Har => Box::new(HarWriter::new(out, a.bodies)),
    };
    let mut cfg = PipelineConfig {
        filter: a.filter.clone(),
        ..PipelineConfig::default()
    };
    cfg.http.keep_bodies = a.bodies;
    cfg.http.body_cap = a.body_cap;
    let progress = !a.no_progress && io::stderr().is_terminal();
    let mut reorder = Reorderer::new(100_000, 256 << 20);
    let mut emit = |ex: Box<apitap::http::Exchange>| -> io::Result<()> { writer.write(&ex) };
    let stats = pipeline::run_files(&a.files, &cfg, progress, &mut |ev| {
        reorder.push(ev, &mut emit).context("cannot write output")
    });
    let stats = match stats {
        Ok(s) => s,
        Err(e) => {
            // Print what was complete before the error, then fail.
            let _ = reorder.finish(&mut emit);
            let _ = writer.finish();
            return Err(e);
        }
    };
    reorder.finish(&mut emit).context("cannot write output")?;
    writer.finish().context("cannot write output")?;
    if a.stats {
        eprintln!("{}", stats.summary());
        let r = reorder.stats();
        eprintln!(
            "output: released {} exchanges, {} out of order to respect the buffer cap",
            r.released, r.forced
        );
    }
    Ok(ExitCode::SUCCESS)
}
