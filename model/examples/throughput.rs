//! Learning throughput and model size vs traffic volume on synthetic JSON API traffic.
//!
//!     cargo run --release -p apitap-model --example throughput
mod traffic;
use apitap_model::{ApiModel, ExportOptions, LearnConfig};

/// CPU time of this thread in seconds (Linux `/proc/thread-self/schedstat`), if available:
/// wall time is misleading on a shared machine.
fn cpu_secs() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace()
        .next()?
        .parse::<f64>()
        .ok()
        .map(|ns| ns / 1e9)
}

fn main() {
    let cfg = LearnConfig::default();
    let obs = traffic::generate(200_000, 7);
    let bytes: usize = obs
        .iter()
        .map(|o| {
            o.response_body.as_ref().map_or(0, |b| b.len())
                + o.request_body.as_ref().map_or(0, |b| b.len())
        })
        .sum();
    println!(
        "traffic: {} exchanges, {:.0} body bytes/exchange",
        obs.len(),
        bytes as f64 / obs.len() as f64
    );
    // throughput: best of 3
    let mut best = f64::MAX;
    let mut best_cpu = f64::MAX;
    for _ in 0..3 {
        let mut m = ApiModel::new();
        let c0 = cpu_secs();
        let t = std::time::Instant::now();
        m.observe_all(&obs, &cfg);
        best = best.min(t.elapsed().as_secs_f64());
        if let (Some(a), Some(b)) = (c0, cpu_secs()) {
            best_cpu = best_cpu.min(b - a);
        }
        std::hint::black_box(&m);
    }
    println!(
        "throughput: {:.0} exchanges/s wall, {:.0} exchanges/s per CPU-second (one core)",
        obs.len() as f64 / best,
        obs.len() as f64 / best_cpu
    );
    // model size vs volume
    let mut m = ApiModel::new();
    let mut done = 0;
    for n in [1_000usize, 10_000, 50_000, 100_000, 200_000] {
        m.observe_all(&obs[done..n], &cfg);
        done = n;
        let spec = m.to_openapi_json(&ExportOptions::default());
        if n == 200_000 {
            for r in m.endpoints() {
                println!("  {} {} {}", r.method, r.template, r.count);
            }
        }
        println!(
            "after {n:>7} exchanges: model {:>7} bytes, openapi {:>7} bytes, {} endpoints",
            m.to_json().len(),
            spec.len(),
            m.endpoints().len()
        );
    }
}
