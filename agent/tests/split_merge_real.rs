//! Split-and-merge equals whole on the real-world captures (`eval/real/cases/*`, real
//! servers driven by their real clients): each capture's exchanges are dealt among 2, 8 and
//! 32 sources (several random deals each), every source learns its share, and the models
//! are merged in a random order. The merged model must derive exactly the operations, with
//! the same counts, that learning the capture in one piece derives.
use apitap::learn::observation;
use apitap::pipeline;
use apitap_engine::http::HttpEvent;
use apitap_engine::pipeline::PipelineConfig;
use apitap_model::{ApiModel, LearnConfig, Observation};

fn observations(capture: &str) -> Vec<Observation> {
    let mut cfg = PipelineConfig::default();
    cfg.http.keep_bodies = true;
    let mut out = Vec::new();
    pipeline::run_files(&[capture.to_string()], None, &cfg, false, &mut |ev| {
        if let HttpEvent::Done(ex) = ev {
            out.extend(observation(&ex));
        }
        Ok(())
    })
    .expect("capture reads");
    out
}

fn learn(source: &str, obs: &[&Observation]) -> ApiModel {
    let cfg = LearnConfig {
        source: source.into(),
        ..LearnConfig::default()
    };
    let mut m = ApiModel::new();
    for o in obs {
        m.observe(o, &cfg);
    }
    m
}

fn ops(m: &ApiModel) -> Vec<(String, String, String, u64)> {
    m.endpoints()
        .into_iter()
        .map(|r| (r.service, r.method, r.template, r.count))
        .collect()
}

fn next(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

#[test]
fn real_captures_split_among_sources_merge_to_the_whole() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../eval/real/cases");
    let mut cases: Vec<_> = std::fs::read_dir(dir)
        .expect("eval/real/cases exists")
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("capture.pcap.gz"))
        .filter(|p| p.exists())
        .collect();
    cases.sort();
    assert!(cases.len() >= 6, "real captures missing: {cases:?}");
    for capture in cases {
        let all = observations(capture.to_str().expect("utf-8 path"));
        assert!(all.len() > 50, "{capture:?}: {} exchanges", all.len());
        let whole = ops(&learn("whole", &all.iter().collect::<Vec<_>>()));
        for k in [2usize, 8, 32] {
            for seed in [1u64, 0x9e37_79b9, 0xdead_beef_1234] {
                let mut x = seed ^ k as u64;
                let mut parts: Vec<Vec<&Observation>> = vec![Vec::new(); k];
                for o in &all {
                    parts[(next(&mut x) % k as u64) as usize].push(o);
                }
                let mut models: Vec<ApiModel> = parts
                    .iter()
                    .enumerate()
                    .map(|(i, p)| learn(&format!("s{i}"), p))
                    .collect();
                let mut merged = ApiModel::new();
                while !models.is_empty() {
                    let i = (next(&mut x) % models.len() as u64) as usize;
                    merged.merge(&models.swap_remove(i));
                }
                assert_eq!(
                    ops(&merged),
                    whole,
                    "{capture:?} split among {k} sources (seed {seed})"
                );
            }
        }
    }
}
