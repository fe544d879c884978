//! Learn an OpenAPI document from a HAR 1.2 file.
//!
//!     cargo run --release -p apitap-model --example learn_har -- IN.har OUT.json [--yaml] [--model MODEL.json]

use apitap_model::{har, ApiModel, ExportOptions, LearnConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: learn_har IN.har OUT.json [--yaml] [--model MODEL.json]");
        std::process::exit(2);
    }
    let obs = har::observations(&std::fs::read(&args[1])?)?;
    let mut model = ApiModel::new();
    let t = std::time::Instant::now();
    model.observe_all(&obs, &LearnConfig::default());
    let dt = t.elapsed();
    eprintln!(
        "learned {} exchanges in {:?} ({:.0}/s)",
        obs.len(),
        dt,
        obs.len() as f64 / dt.as_secs_f64()
    );
    let opts = ExportOptions::default();
    let out = if args.iter().any(|a| a == "--yaml") {
        model.to_yaml(&opts)
    } else {
        model.to_openapi_json(&opts)
    };
    std::fs::write(&args[2], out)?;
    if let Some(i) = args.iter().position(|a| a == "--model") {
        if let Some(p) = args.get(i + 1) {
            std::fs::write(p, model.to_json())?;
        }
    }
    for row in model.endpoints() {
        eprintln!(
            "{:7} {:50} n={:5} err={:.2} p50={:?}",
            row.method, row.template, row.count, row.error_rate, row.p50_ms
        );
    }
    Ok(())
}
