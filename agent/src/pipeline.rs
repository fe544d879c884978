//! Runs the engine's [`Pipeline`] over capture files read by libpcap (one offline run):
//! capture → [`apitap_engine::Pipeline`] → a sink of [`HttpEvent`]s.
//!
//! Flows persist across the files of one run (rotated captures continue each other); idle
//! timeouts run on capture time.

use crate::capture::FileSource;
use anyhow::{Context, Result};
use apitap_engine::http::HttpEvent;
use apitap_engine::pipeline::{Pipeline, PipelineConfig, PipelineStats, ADVANCE_EVERY};

/// Counters of a whole run: the capture files, then each engine stage.
#[derive(Clone, Debug, Default)]
pub struct RunStats {
    /// Files read.
    pub files: u64,
    /// Files whose last record was cut short.
    pub capture_truncated: u64,
    /// The engine's stages (packets and bytes read from the captures after the BPF filter).
    pub engine: PipelineStats,
}

impl RunStats {
    /// A human-readable multi-line summary.
    pub fn summary(&self) -> String {
        let e = &self.engine;
        let mut p = e.protocol;
        p.http = Default::default();
        format!(
            "capture: {} files, {} packets, {} bytes\ndecode: {:?}\nflow: {:?}\nreassembly: {:?}\nprotocol: {:?}\nhttp: {:?}",
            self.files, e.packets, e.bytes, e.decode, e.flow, e.reassembly, p, e.protocol.http
        )
    }
}

/// Runs the pipeline over `paths` in order (each narrowed by the BPF `filter`), calling `sink`
/// for every HTTP event.
pub fn run_files(
    paths: &[String],
    filter: Option<&str>,
    cfg: &PipelineConfig,
    progress: bool,
    sink: &mut dyn FnMut(HttpEvent) -> Result<()>,
) -> Result<RunStats> {
    let mut pipe = Pipeline::new(cfg);
    let mut files = 0;
    let mut truncated = 0;
    let mut events: Vec<HttpEvent> = Vec::with_capacity(64);
    let mut n: u64 = 0;
    for path in paths {
        let mut src = FileSource::open(path, filter)
            .with_context(|| format!("cannot read capture {path}"))?;
        files += 1;
        let bar = progress.then(|| crate::progress::bar(path, src.progress().1));
        loop {
            let pkt = match src.next_packet() {
                Ok(Some(p)) => p,
                Ok(None) => break,
                Err(e) => {
                    pipe.flush(&mut events);
                    for ev in events.drain(..) {
                        sink(ev)?;
                    }
                    return Err(e).with_context(|| format!("while reading {path}"));
                }
            };
            pipe.push(&pkt, &mut events);
            n += 1;
            if n.is_multiple_of(ADVANCE_EVERY) {
                if let Some(b) = &bar {
                    b.set_position(src.progress().0);
                }
            }
            for ev in events.drain(..) {
                sink(ev)?;
            }
        }
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        let c = src.stats();
        truncated += u64::from(c.truncated_records > 0);
    }
    pipe.flush(&mut events);
    for ev in events.drain(..) {
        sink(ev)?;
    }
    Ok(RunStats {
        files,
        capture_truncated: truncated,
        engine: pipe.stats(),
    })
}
