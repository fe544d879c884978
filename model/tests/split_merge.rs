//! Templates are a function of the merged evidence only: learning traffic in one piece, or
//! split among 2, 8 or 32 sources (replicas, agent restarts) and merged in any order, gives
//! the same operations with the same counts.
//!
//! The traffic mixes what makes the split hard: human-chosen names each touched by several
//! requests (values revisited, so "hit once" differs between a part and the whole), slugs
//! under a few of which a source sees fewer than 8, ids, hot values, static routes beside
//! values, names with identical sub-routes, and value flow (a name handed out in one
//! source's traffic and used in a path in another's).
mod common;
use apitap_model::{ApiModel, LearnConfig, Observation};
use common::*;
use proptest::prelude::*;

fn ops(m: &ApiModel) -> Vec<(String, String, u64)> {
    m.endpoints()
        .into_iter()
        .map(|r| (r.method, r.template, r.count))
        .collect()
}

const NAMES: [&str; 20] = [
    "web",
    "db",
    "cache",
    "queue",
    "proxy",
    "worker",
    "scheduler",
    "api",
    "auth",
    "search",
    "metrics",
    "logs",
    "mail",
    "cron",
    "billing",
    "gateway",
    "admin",
    "files",
    "chat",
    "maps",
];

/// A workload shaped like a CLI driving a real server.
fn traffic() -> Vec<Observation> {
    let mut v = Vec::new();
    // containers by name: each created, inspected, renamed, inspected again, removed
    for (i, n) in NAMES.iter().enumerate() {
        v.push(obs(
            "POST",
            "/containers/create",
            201,
            r#"{"Id":"x1","Warnings":[]}"#,
        ));
        for _ in 0..1 + i % 3 {
            v.push(obs(
                "GET",
                &format!("/containers/{n}/json"),
                200,
                r#"{"Id":"x1","Name":"y1","State":{"Running":false}}"#,
            ));
        }
        v.push(obs("POST", &format!("/containers/{n}/rename"), 204, ""));
        v.push(obs("DELETE", &format!("/containers/{n}"), 204, ""));
        v.push(obs("GET", "/containers/json", 200, r#"[{"Id":"x1"}]"#));
    }
    v.push(obs(
        "POST",
        "/containers/prune",
        200,
        r#"{"SpaceReclaimed":0}"#,
    ));
    // blog posts by slug, the first one hot
    for i in 0..40u64 {
        let slug = format!(
            "{}-notes-{}",
            ["intro", "deep", "quick", "field"][(i % 4) as usize],
            i
        );
        v.push(obs(
            "GET",
            &format!("/blog/posts/{slug}"),
            200,
            r#"{"title":"t1"}"#,
        ));
        if i % 3 == 0 {
            v.push(obs(
                "GET",
                "/blog/posts/intro-notes-0",
                200,
                r#"{"title":"t1"}"#,
            ));
        }
        v.push(obs(
            "GET",
            "/blog/posts/featured",
            200,
            r#"[{"title":"t1"}]"#,
        ));
    }
    // orders by uuid, with a static route
    for i in 0..30u64 {
        v.push(obs(
            "GET",
            &format!("/v1/orders/{}", uuid(i)),
            200,
            r#"{"id":"u1"}"#,
        ));
        v.push(obs("GET", "/v1/orders/summary", 200, r#"{"n":1}"#));
    }
    // tags with identical sub-routes
    for t in ["budget", "climate", "cloud", "data", "how-to"] {
        v.push(obs("GET", &format!("/tags/{t}/articles"), 200, "[]"));
    }
    // value flow: names handed out by one request, used in the path of another (a split
    // puts the two in different sources), plus one never handed out (`does_not_exist`)
    for n in ["backup_url_1", "etl_ttl_2", "train_url_3", "sync_size_5"] {
        v.push(with_req(
            obs("POST", "/variables/", 201, &format!(r#"{{"name":"{n}"}}"#)),
            "application/json",
            &format!(r#"{{"name":"{n}"}}"#),
        ));
        v.push(obs(
            "GET",
            &format!("/variables/name/{n}"),
            200,
            r#"{"value":1}"#,
        ));
    }
    v.push(obs(
        "GET",
        "/variables/name/does_not_exist",
        404,
        r#"{"detail":"x"}"#,
    ));
    v
}

/// JSON pointer of the first difference (for a readable failure).
fn first_diff(a: &serde_json::Value, b: &serde_json::Value, at: String) -> String {
    use serde_json::Value::Object;
    match (a, b) {
        (Object(x), Object(y)) => {
            for k in x.keys().chain(y.keys()) {
                match (x.get(k), y.get(k)) {
                    (Some(p), Some(q)) if p == q => {}
                    (Some(p), Some(q)) => return first_diff(p, q, format!("{at}/{k}")),
                    (p, q) => return format!("{at}/{k}: {p:?} vs {q:?}"),
                }
            }
            String::new()
        }
        _ if a == b => String::new(),
        _ => format!("{at}: {a} vs {b}"),
    }
}

fn learn(source: &str, part: &[&Observation]) -> ApiModel {
    let cfg = LearnConfig {
        source: source.into(),
        ..LearnConfig::default()
    };
    let mut m = ApiModel::new();
    for o in part {
        m.observe(o, &cfg);
    }
    m
}

#[test]
fn whole_traffic_templates_are_the_expected_ones() {
    let t = traffic();
    let whole = learn("whole", &t.iter().collect::<Vec<_>>());
    let got: Vec<String> = ops(&whole)
        .into_iter()
        .map(|(m, t, _)| format!("{m} {t}"))
        .collect();
    for want in [
        "POST /containers/create",
        "POST /containers/prune",
        "GET /containers/json",
        "GET /blog/posts/featured",
        "GET /v1/orders/summary",
        "GET /v1/orders/{orderId}",
        "GET /tags/{tagId}/articles",
        "GET /blog/posts/{postId}",
        "GET /containers/{containerId}/json",
        "POST /containers/{containerId}/rename",
        "DELETE /containers/{containerId}",
        "POST /variables",
        "GET /variables/name/{nameId}",
    ] {
        assert!(got.iter().any(|g| g == want), "{want} missing in {got:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn split_and_merged_in_any_order_equals_whole(
        k in prop::sample::select(vec![2usize, 8, 32]),
        seed in any::<u64>(),
    ) {
        let t = traffic();
        let whole = learn("whole", &t.iter().collect::<Vec<_>>());
        // assign each exchange to a source (keeping each source's order), deterministic in seed
        let mut parts: Vec<Vec<&Observation>> = vec![Vec::new(); k];
        let mut x = seed | 1;
        for o in &t {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            parts[(x % k as u64) as usize].push(o);
        }
        let mut models: Vec<ApiModel> = parts
            .iter()
            .enumerate()
            .map(|(i, p)| learn(&format!("s{i}"), p))
            .collect();
        // merge in a random order, sometimes as a tree of partial merges
        let mut merged = ApiModel::new();
        while !models.is_empty() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let m = models.swap_remove((x % models.len() as u64) as usize);
            if x % 3 == 0 {
                merged = m.merged(&merged);
            } else {
                merged.merge(&m);
            }
        }
        prop_assert_eq!(ops(&merged), ops(&whole));
        // the same spec, but for the list of sources
        let (mut a, mut b) = (merged.to_openapi(&Default::default()), whole.to_openapi(&Default::default()));
        for s in [&mut a, &mut b] {
            if let Some(info) = s.get_mut("info").and_then(|i| i.as_object_mut()) {
                info.remove("x-apitap-sources");
            }
        }
        prop_assert!(a == b, "spec differs at {}", first_diff(&a, &b, String::new()));
    }
}
