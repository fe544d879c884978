//! The learner's memory budget: a flood of new paths and Host values is bounded, counted in
//! the `_other` bucket, and never costs the traffic of endpoints already known.
mod common;
use apitap_model::{ApiModel, ExportOptions, LearnConfig};
use common::*;

const WORDS: [&str; 16] = [
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
    "kilo", "lima", "mike", "november", "oscar", "papa",
];

fn flood_obs(i: usize) -> apitap_model::Observation {
    let mut o = obs(
        "GET",
        &format!(
            "/{}/{}/{}",
            WORDS[i % 16],
            WORDS[(i / 16) % 16],
            WORDS[(i / 256) % 16]
        ),
        200,
        "{}",
    );
    // the first field (Host) with another value, the others as they were
    let host = format!("h{}.flood.test", i % 1000);
    o.request_headers = o
        .request_headers
        .iter()
        .enumerate()
        .map(|(j, (k, v))| (k, if j == 0 { host.as_str() } else { v }))
        .collect();
    o
}

#[test]
fn node_budget_overflows_into_other_and_keeps_known_endpoints() {
    let cfg = LearnConfig {
        max_nodes: 200,
        ..LearnConfig::default()
    };
    let mut m = ApiModel::new();
    // legitimate endpoints first seen early, then interleaved with the flood
    let legit = |i: usize| {
        obs(
            "GET",
            &format!("/api/v1/users/{}", 1000 + i),
            200,
            r#"{"id":1}"#,
        )
    };
    for i in 0..4096 {
        if i % 8 == 0 {
            m.observe(&legit(i), &cfg);
        }
        m.observe(&flood_obs(i), &cfg);
    }
    let st = m.stats();
    let nodes: u64 = m.combined().services.values().map(|s| s.nodes).sum();
    assert!(nodes <= 200, "nodes {nodes}");
    assert!(st.node_overflow > 0);
    let svc = &m.combined().services["api.example.com"];
    assert_eq!(svc.other, st.node_overflow, "every overflow is in _other");
    assert!(svc.hosts.len() <= apitap_model::model::MAX_HOSTS);
    assert!(svc.host_overflow > 0);
    // the legitimate endpoint saw all its traffic
    let rows = m.endpoints();
    let users = rows
        .iter()
        .find(|r| r.template == "/api/v1/users/{userId}")
        .expect("legitimate endpoint learned");
    assert_eq!(users.count, 512);
    let spec: serde_json::Value =
        serde_json::from_str(&m.to_openapi_json(&ExportOptions::default())).unwrap_or_default();
    assert_eq!(spec["info"]["x-apitap-other"], st.node_overflow);
    // Host values are evidence: servers lists at most three of them, not 1,000
    assert!(spec["servers"].as_array().map_or(0, |s| s.len()) <= 3);
}

#[test]
fn operation_cap_keeps_the_most_used() {
    let cfg = LearnConfig::default();
    let mut m = ApiModel::new();
    for i in 0..60 {
        // 60 distinct literal endpoints at the root (which never collapses on words)
        let path = format!("/{}{}", WORDS[i % 16], ["", "s", "es", "ing"][i / 16]);
        m.observe(&obs("GET", &path, 200, "{}"), &cfg);
    }
    for i in 0..50 {
        m.observe(&obs("GET", &format!("/users/{}", 40 + i), 200, "{}"), &cfg);
    }
    let opts = ExportOptions {
        max_operations: 10,
        ..ExportOptions::default()
    };
    let spec: serde_json::Value =
        serde_json::from_str(&m.to_openapi_json(&opts)).unwrap_or_default();
    let ops: usize = spec["paths"].as_object().map_or(0, |p| {
        p.values()
            .map(|i| i.as_object().map_or(0, |o| o.len()))
            .sum()
    });
    assert!(ops <= 10, "{ops} operations");
    assert!(
        spec["paths"].get("/users/{userId}").is_some(),
        "the most used is kept: {}",
        spec["paths"]
    );
    assert!(spec["info"]["x-apitap-other"].as_u64().unwrap_or(0) > 0);
}
