//! Split-and-merge equals whole on the real-world captures (`eval/real/cases/*`, real
//! servers driven by their real clients; issue 8: "templates are a function of the merged
//! evidence only").
//!
//! Each capture is read once through the same pipeline as `apitap learn` and learned in one
//! piece by the CLI's [`Learner`]. Then its exchanges are dealt among 2, 8 and 32 sources,
//! three ways, with several seeds each:
//! - exchange by exchange at random (replicas behind a load balancer),
//! - connection by connection at random (an L4 balancer: keep-alive connections stick to
//!   one replica),
//! - in time order, in contiguous runs of random lengths (one agent restarted k-1 times:
//!   every restart starts a new source).
//!
//! Every source learns its share under its own source id, its model goes through the native
//! JSON a push carries, and the models are merged in a random order, as the collector does.
//! The merged model must derive exactly the operations (service, method, template) with
//! the same exchange counts as the whole, and export the same OpenAPI paths, methods and
//! parameter names. Runs in a few seconds (debug build).
use apitap::learn::{observation, Learner};
use apitap::pipeline;
use apitap_engine::http::HttpEvent;
use apitap_engine::pipeline::PipelineConfig;
use apitap_model::{ApiModel, ExportOptions, LearnConfig, Observation};
use std::collections::{BTreeMap, BTreeSet};

/// The exchanges of a capture as observations, with their connection ids, read as
/// `apitap learn` reads them.
fn observations(capture: &str) -> Vec<(u64, Observation)> {
    let mut cfg = PipelineConfig {
        http2: Some(apitap_engine::protocol::http2_parser),
        ..Default::default()
    };
    cfg.http.keep_bodies = true;
    let mut out = Vec::new();
    pipeline::run_files(&[capture.to_string()], None, &cfg, None, false, &mut |ev| {
        if let HttpEvent::Done(ex) = ev {
            if let Some(o) = observation(&ex) {
                out.push((ex.conn_id, o));
            }
        }
        Ok(())
    })
    .expect("capture reads");
    out
}

fn learn(source: &str, obs: &[&Observation]) -> ApiModel {
    let mut l = Learner::new(LearnConfig {
        source: source.into(),
        ..LearnConfig::default()
    });
    for o in obs {
        l.observe(o);
    }
    l.model
}

type Ops = Vec<(String, String, String, u64)>;

fn ops(m: &ApiModel) -> Ops {
    m.endpoints()
        .into_iter()
        .map(|r| (r.service, r.method, r.template, r.count))
        .collect()
}

/// The exported operations: path -> method -> parameter names (`in:name`).
fn exported(m: &ApiModel) -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
    let spec = m.to_openapi(&ExportOptions::default());
    let mut out = BTreeMap::new();
    for (path, item) in spec["paths"].as_object().into_iter().flatten() {
        let mut methods = BTreeMap::new();
        for (method, op) in item.as_object().into_iter().flatten() {
            let params = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| format!("{}:{}", p["in"], p["name"]))
                .collect();
            methods.insert(method.clone(), params);
        }
        out.insert(path.clone(), methods);
    }
    out
}

fn next(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

/// How exchanges are dealt among sources.
#[derive(Debug, Clone, Copy)]
enum Deal {
    Exchange,
    Connection,
    Restarts,
}

/// Source index of every exchange.
fn deal(all: &[(u64, Observation)], k: usize, how: Deal, x: &mut u64) -> Vec<usize> {
    match how {
        Deal::Exchange => all.iter().map(|_| (next(x) % k as u64) as usize).collect(),
        Deal::Connection => {
            let mut of_conn = BTreeMap::new();
            all.iter()
                .map(|(c, _)| {
                    *of_conn
                        .entry(*c)
                        .or_insert_with(|| (next(x) % k as u64) as usize)
                })
                .collect()
        }
        Deal::Restarts => {
            // k-1 distinct random cut points in time order
            let n = all.len();
            let mut cuts = BTreeSet::new();
            while cuts.len() < (k - 1).min(n.saturating_sub(1)) {
                cuts.insert(1 + (next(x) % (n as u64 - 1)) as usize);
            }
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_by_key(|&i| (all[i].1.ts_unix_ms, i));
            let mut out = vec![0; n];
            for (pos, &i) in order.iter().enumerate() {
                out[i] = cuts.range(..=pos).count();
            }
            out
        }
    }
}

/// Learns each share under its own source, pushes it as native JSON, merges in random order.
fn split_and_merge(all: &[(u64, Observation)], k: usize, how: Deal, seed: u64) -> ApiModel {
    let mut x = seed ^ (k as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let owner = deal(all, k, how, &mut x);
    let mut parts: Vec<Vec<&Observation>> = vec![Vec::new(); k];
    for (i, (_, o)) in all.iter().enumerate() {
        parts[owner[i]].push(o);
    }
    let mut models: Vec<ApiModel> = parts
        .iter()
        .enumerate()
        .filter(|(_, p)| !p.is_empty())
        .map(|(i, p)| {
            let json = learn(&format!("s{i}"), p).to_json();
            ApiModel::from_json(&json).expect("a pushed model reads back")
        })
        .collect();
    let mut merged = ApiModel::new();
    while !models.is_empty() {
        let i = (next(&mut x) % models.len() as u64) as usize;
        merged.merge(&models.swap_remove(i));
    }
    merged
}

/// The differences between two operation lists, for the failure message.
fn ops_diff(whole: &Ops, merged: &Ops) -> String {
    let a: BTreeSet<_> = whole.iter().collect();
    let b: BTreeSet<_> = merged.iter().collect();
    let mut s = String::new();
    for o in a.difference(&b) {
        s.push_str(&format!(
            "\n  whole only:  {} {} {} ({})",
            o.0, o.1, o.2, o.3
        ));
    }
    for o in b.difference(&a) {
        s.push_str(&format!(
            "\n  merged only: {} {} {} ({})",
            o.0, o.1, o.2, o.3
        ));
    }
    s
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
    let mut failures = Vec::new();
    let mut runs = 0;
    for capture in cases {
        let name = capture
            .parent()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let all = observations(capture.to_str().expect("utf-8 path"));
        assert!(all.len() > 50, "{name}: {} exchanges", all.len());
        let whole_model = learn("whole", &all.iter().map(|(_, o)| o).collect::<Vec<_>>());
        let whole = ops(&whole_model);
        let whole_exported = exported(&whole_model);
        for k in [2usize, 8, 32] {
            for how in [Deal::Exchange, Deal::Connection, Deal::Restarts] {
                for seed in [1u64, 0xdead_beef_1234] {
                    runs += 1;
                    let merged = split_and_merge(&all, k, how, seed);
                    let got = ops(&merged);
                    if got != whole {
                        failures.push(format!(
                            "{name}: split among {k} sources by {how:?} (seed {seed:#x}):{}",
                            ops_diff(&whole, &got)
                        ));
                    } else if seed == 1 && exported(&merged) != whole_exported {
                        failures.push(format!(
                            "{name}: split among {k} sources by {how:?} (seed {seed:#x}): \
                             same operations, different exported paths/parameters"
                        ));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {runs} split-and-merge runs differ from learning the whole:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// `apitap learn --explain` on the real captures names nothing the spec does not contain:
/// every literal of an explained template is a segment of an exported path (values folded
/// into a parameter are never named), and every parameter of the spec is explained.
#[test]
fn explain_on_real_captures_names_only_what_the_spec_contains() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../eval/real/cases");
    let mut cases: Vec<_> = std::fs::read_dir(dir)
        .expect("eval/real/cases exists")
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("capture.pcap.gz"))
        .filter(|p| p.exists())
        .collect();
    cases.sort();
    for capture in cases {
        let all = observations(capture.to_str().expect("utf-8 path"));
        let m = learn("local", &all.iter().map(|(_, o)| o).collect::<Vec<_>>());
        let spec = m.to_openapi(&ExportOptions::default());
        let paths: Vec<&String> = spec["paths"].as_object().expect("paths").keys().collect();
        let segments: BTreeSet<&str> = paths
            .iter()
            .flat_map(|p| p.split('/'))
            .filter(|s| !s.is_empty())
            .collect();
        let mut params = 0;
        for (service, rows) in m.explain() {
            for e in rows {
                params += usize::from(e.kind == "parameter");
                for s in e.template.split('/').filter(|s| !s.is_empty()) {
                    assert!(
                        segments.contains(s),
                        "{capture:?}: explain names `{s}` ({service} {} {}: {}), not in the spec",
                        e.kind,
                        e.template,
                        e.evidence
                    );
                }
            }
        }
        let spec_params = paths.iter().filter(|p| p.contains('{')).count();
        assert!(
            spec_params == 0 || params > 0,
            "{capture:?}: {spec_params} templated paths, no parameter explained"
        );
    }
}
