//! `agent_replay FILE [--metrics] [--learn-all] [--queued] [--filter EXPR]`: runs the live
//! agent's pipeline (`apitap::agent::replay`: pipeline → learner → route table → metrics,
//! the same code as `apitap agent`; with `--queued`, packets copied into batches first)
//! over a capture file on one thread, so that `valgrind --tool=callgrind` can count the
//! instructions the agent spends per exchange (`bench/replay.sh`). Prints `packets N exchanges N` on stderr, and with `--metrics` the
//! Prometheus exposition on stdout.
#![forbid(unsafe_code)]

/// The same allocator as the `apitap` binary.
#[cfg(not(feature = "system-alloc"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let mut file = None;
    let mut metrics = false;
    let mut settings = apitap::agent::AgentSettings {
        source_id: Some("replay".into()),
        ..Default::default()
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--metrics" => metrics = true,
            "--learn-all" => settings.learn_all = true,
            "--queued" => settings.queued = true,
            "--filter" => settings.filter = args.next(),
            _ if file.is_none() => file = Some(a),
            _ => {
                anyhow::bail!(
                    "usage: agent_replay FILE [--metrics] [--learn-all] [--queued] [--filter EXPR]"
                )
            }
        }
    }
    let Some(file) = file else {
        anyhow::bail!(
            "usage: agent_replay FILE [--metrics] [--learn-all] [--queued] [--filter EXPR]"
        );
    };
    let cfg = settings.resolve()?;
    let (_model, shared) = apitap::agent::replay(&cfg, &file)?;
    // the process_* and start time lines vary from run to run: left out
    let text = shared.render_metrics(apitap::metrics::Format::Prometheus);
    let count = |name: &str| -> f64 {
        text.lines()
            .filter(|l| l.starts_with(name))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    eprintln!(
        "packets {} exchanges {}",
        count("apitap_packets_captured_total"),
        count("apitap_exchanges_total")
    );
    if metrics {
        for l in text.lines().filter(|l| !l.contains("process_")) {
            println!("{l}");
        }
    }
    Ok(())
}
