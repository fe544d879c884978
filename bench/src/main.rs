//! `gen-capture`: writes a large, deterministic pcap of keep-alive HTTP/1.1 REST traffic
//! plus a `FILE.truth.json` sidecar with the exact exchange counts.
#![forbid(unsafe_code)]

use anyhow::{bail, Context, Result};
use apitap_bench::traffic::{generate, Config};
use clap::Parser;
use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::time::Instant;

/// Generate a synthetic HTTP/1.1 capture (classic pcap, Ethernet, microseconds).
#[derive(Parser, Debug)]
#[command(name = "gen-capture", version)]
struct Args {
    /// Output pcap file; the truth goes to FILE.truth.json.
    #[arg(long)]
    out: PathBuf,
    /// Target file size in GB (10^9 bytes); the file overshoots slightly. Default 1.0
    /// unless --connections is given.
    #[arg(long, conflicts_with = "connections")]
    size_gb: Option<f64>,
    /// Exact number of TCP connections to generate.
    #[arg(long)]
    connections: Option<u64>,
    /// PRNG seed: same seed and options, same bytes.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Connections open at once.
    #[arg(long, default_value_t = 2000)]
    concurrency: usize,
    /// Share of success responses sent with Transfer-Encoding: chunked.
    #[arg(long, default_value_t = 0.2)]
    chunked_share: f64,
    /// Share of success responses sent with Content-Encoding: gzip.
    #[arg(long, default_value_t = 0.25)]
    gzip_share: f64,
    /// Share of request batches that are pipelined (2-3 GETs back to back).
    #[arg(long, default_value_t = 0.05)]
    pipeline_share: f64,
    /// Share of requests answered 404 (plus a fifth of that answered 500).
    #[arg(long, default_value_t = 0.03)]
    error_share: f64,
    /// Most request batches per connection (uniform 1..=N).
    #[arg(long, default_value_t = 8)]
    max_batches: u32,
}

fn main() -> Result<()> {
    let a = Args::parse();
    for (name, v) in [
        ("--chunked-share", a.chunked_share),
        ("--gzip-share", a.gzip_share),
        ("--pipeline-share", a.pipeline_share),
        ("--error-share", a.error_share),
    ] {
        if !(0.0..=1.0).contains(&v) {
            bail!("{name} must be between 0 and 1, got {v}");
        }
    }
    let target_bytes = match (a.size_gb, a.connections) {
        (Some(g), _) if !(g > 0.0 && g < 1000.0) => bail!("--size-gb must be in (0, 1000)"),
        (Some(g), _) => Some((g * 1e9) as u64),
        (None, Some(_)) => None,
        (None, None) => Some(1_000_000_000),
    };
    let cfg = Config {
        seed: a.seed,
        target_bytes,
        connections: a.connections,
        concurrency: a.concurrency.max(1),
        chunked_share: a.chunked_share,
        gzip_share: a.gzip_share,
        pipeline_share: a.pipeline_share,
        error_share: a.error_share,
        max_batches: a.max_batches.max(1),
        ..Config::default()
    };
    let t0 = Instant::now();
    let f = File::create(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let truth = generate(cfg, BufWriter::with_capacity(1 << 20, f))
        .with_context(|| format!("writing {}", a.out.display()))?;
    let secs = t0.elapsed().as_secs_f64();
    let mut tp = a.out.clone().into_os_string();
    tp.push(".truth.json");
    let tp = PathBuf::from(tp);
    let json = serde_json::to_string_pretty(&truth.to_json())?;
    std::fs::write(&tp, json + "\n").with_context(|| format!("writing {}", tp.display()))?;
    eprintln!(
        "gen-capture: {} bytes, {} packets, {} connections, {} exchanges in {:.2}s ({:.0} MB/s); truth in {}",
        truth.file_bytes,
        truth.packets,
        truth.connections,
        truth.exchanges,
        secs,
        truth.file_bytes as f64 / 1e6 / secs.max(1e-9),
        tp.display()
    );
    Ok(())
}
