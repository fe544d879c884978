//! Multi-segment parameters (identifiers containing `/`, `apitap_model::multiseg`): image
//! names, nested group paths of a git-hosting API, file paths with percent-encoded
//! segments; fixed-depth owner/repo pairs stay single-segment; static routes beside the
//! values stay; split-and-merge equals whole.
mod common;
use apitap_model::paths::TSeg;
use apitap_model::{ApiModel, ExportOptions, LearnConfig, Observation};
use common::*;
use proptest::prelude::*;

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

fn learn_all(t: &[Observation]) -> ApiModel {
    learn("whole", &t.iter().collect::<Vec<_>>())
}

fn ops(m: &ApiModel) -> Vec<String> {
    m.endpoints()
        .into_iter()
        .map(|r| format!("{} {}", r.method, r.template))
        .collect()
}

/// Templates that have a multi-segment parameter.
fn multi_templates(m: &ApiModel) -> Vec<String> {
    m.derived()
        .values()
        .flatten()
        .filter(|d| {
            d.segs
                .iter()
                .any(|s| matches!(s, TSeg::Param { multi: true, .. }))
        })
        .map(|d| format!("{} {}", d.method, d.template()))
        .collect()
}

fn has(got: &[String], want: &str) {
    assert!(got.iter().any(|g| g == want), "{want} missing in {got:#?}");
}

/// A container-engine API: images named by one segment (`web-a`), by repository and tag
/// (`lab/api:3`) and by registry, namespace and tag (`reg.local:5000/ml/model:9`), each
/// inspected, tagged, removed; static routes beside them.
fn images() -> Vec<Observation> {
    images_under("/v2")
}

fn images_under(pre: &str) -> Vec<Observation> {
    let mut v = Vec::new();
    let names = [
        "web-a",
        "web-b",
        "cache-x",
        "lab/api:3",
        "lab/worker:1.2",
        "ops/proxy:edge",
        "reg.local:5000/ml/model:9",
        "reg.local:5000/ml/embed:2",
        "reg.local:5000/data/etl:1",
    ];
    for n in names {
        v.push(obs(
            "GET",
            &format!("{pre}/images/{n}/json"),
            200,
            r#"{"Id":"s1"}"#,
        ));
        v.push(obs("GET", &format!("{pre}/images/{n}/history"), 200, "[]"));
        v.push(obs(
            "POST",
            &format!("{pre}/images/{n}/tag?repo=x"),
            201,
            "",
        ));
        v.push(obs("DELETE", &format!("{pre}/images/{n}"), 200, "[]"));
    }
    v.push(obs(
        "POST",
        &format!("{pre}/images/reg.local:5000/ml/model/push"),
        200,
        "",
    ));
    for _ in 0..3 {
        v.push(obs(
            "GET",
            &format!("{pre}/images/json"),
            200,
            r#"[{"Id":"s1"}]"#,
        ));
        v.push(obs(
            "POST",
            &format!("{pre}/images/create?fromImage=x"),
            200,
            "",
        ));
    }
    v.push(obs(
        "POST",
        &format!("{pre}/images/prune"),
        200,
        r#"{"Deleted":[]}"#,
    ));
    v.push(obs(
        "GET",
        &format!("{pre}/images/search?term=x"),
        200,
        "[]",
    ));
    v
}

#[test]
fn image_names_with_slashes_are_one_parameter_before_known_suffixes() {
    let m = learn_all(&images());
    let got = ops(&m);
    for want in [
        "GET /v2/images/{imagePath}/json",
        "GET /v2/images/{imagePath}/history",
        "POST /v2/images/{imagePath}/tag",
        "DELETE /v2/images/{imagePath}",
        "POST /v2/images/{imagePath}/push",
        // static routes beside the values stay
        "GET /v2/images/json",
        "POST /v2/images/create",
        "POST /v2/images/prune",
        "GET /v2/images/search",
    ] {
        has(&got, want);
    }
    assert_eq!(got.len(), 9, "{got:#?}");
    let multi = multi_templates(&m);
    assert!(multi.contains(&"GET /v2/images/{imagePath}/json".to_string()));
    assert!(!multi.iter().any(|t| t.ends_with("/images/json")));
}

/// The same images under a plain prefix, beside containers with ids and the same sub-route
/// names: the multi-segment parameter is `/engine/images/{imagePath}`, never `/engine/{...}`.
#[test]
fn a_resource_list_is_not_part_of_the_value() {
    let mut t = images_under("/engine");
    for i in 0..6u64 {
        let id = format!("{:064x}", i * 7919 + 11);
        t.push(obs(
            "GET",
            &format!("/engine/containers/{id}/json"),
            200,
            "{}",
        ));
        t.push(obs(
            "POST",
            &format!("/engine/containers/{id}/start"),
            204,
            "",
        ));
    }
    t.push(obs("GET", "/engine/containers/json", 200, "[]"));
    let m = learn_all(&t);
    let got = ops(&m);
    has(&got, "GET /engine/images/{imagePath}/json");
    has(&got, "GET /engine/images/json");
    has(&got, "GET /engine/containers/{containerId}/json");
    has(&got, "GET /engine/containers/json");
    assert_eq!(got.len(), 12, "{got:#?}");
}

/// A git-hosting API whose projects live in nested groups: `/projects/{group/sub/proj}/...`.
fn projects() -> Vec<Observation> {
    let mut v = Vec::new();
    for p in [
        "acme/web",
        "acme/infra/net",
        "acme/infra/dns/core",
        "oss/cli",
        "oss/libs/parser",
        "solo",
    ] {
        v.push(obs(
            "GET",
            &format!("/api/v4/projects/{p}"),
            200,
            r#"{"id":1}"#,
        ));
        v.push(obs(
            "GET",
            &format!("/api/v4/projects/{p}/issues"),
            200,
            "[]",
        ));
        v.push(obs(
            "POST",
            &format!("/api/v4/projects/{p}/issues"),
            201,
            r#"{"iid":1}"#,
        ));
        v.push(obs(
            "GET",
            &format!("/api/v4/projects/{p}/merge_requests"),
            200,
            "[]",
        ));
        v.push(obs(
            "GET",
            &format!("/api/v4/projects/{p}/repository/branches"),
            200,
            "[]",
        ));
    }
    v.push(obs("GET", "/api/v4/projects/recent", 200, "[]"));
    v
}

#[test]
fn nested_group_paths_are_one_parameter() {
    let m = learn_all(&projects());
    let got = ops(&m);
    for want in [
        "GET /api/v4/projects/{projectPath}",
        "GET /api/v4/projects/{projectPath}/issues",
        "POST /api/v4/projects/{projectPath}/issues",
        "GET /api/v4/projects/{projectPath}/merge_requests",
        "GET /api/v4/projects/{projectPath}/repository/branches",
        "GET /api/v4/projects/recent",
    ] {
        has(&got, want);
    }
    assert_eq!(got.len(), 6, "{got:#?}");
}

/// Owner and repository are two fixed segments (`/repos/{owner}/{repo}/issues`): the suffixes
/// always come after exactly two values, so nothing is multi-segment.
#[test]
fn fixed_depth_owner_repo_is_not_multi_segment() {
    let mut v = Vec::new();
    for (o, r) in [
        ("octo", "hello"),
        ("octo", "world"),
        ("acme", "web"),
        ("acme", "api"),
        ("kit", "tools"),
    ] {
        v.push(obs("GET", &format!("/repos/{o}/{r}"), 200, r#"{"id":1}"#));
        v.push(obs("GET", &format!("/repos/{o}/{r}/issues"), 200, "[]"));
        v.push(obs("POST", &format!("/repos/{o}/{r}/issues"), 201, "{}"));
        v.push(obs("GET", &format!("/repos/{o}/{r}/pulls"), 200, "[]"));
        v.push(obs("GET", &format!("/repos/{o}/{r}/commits"), 200, "[]"));
    }
    let m = learn_all(&v);
    assert!(multi_templates(&m).is_empty(), "{:#?}", ops(&m));
}

/// A file store with paths of any depth, percent-encoded segments (`raw%20notes`,
/// `%C3%A9t%C3%A9`), versions under files, and static routes beside the paths.
fn files() -> Vec<Observation> {
    let mut v = Vec::new();
    let paths = [
        "readme.md",
        "docs/guide.md",
        "docs/raw%20notes/day%201.txt",
        "docs/raw%20notes/day-2.txt",
        "%C3%A9t%C3%A9/plan.txt",
        "src/lib/main.rs",
        "src/lib/util/io.rs",
    ];
    for p in paths {
        v.push(obs(
            "PUT",
            &format!("/store/files/{p}"),
            201,
            r#"{"size":1}"#,
        ));
        v.push(obs(
            "GET",
            &format!("/store/files/{p}"),
            200,
            r#"{"size":1}"#,
        ));
        v.push(obs("GET", &format!("/store/files/{p}/versions"), 200, "[]"));
        v.push(obs(
            "POST",
            &format!("/store/files/{p}/versions"),
            201,
            r#"{"v":2}"#,
        ));
        v.push(obs("DELETE", &format!("/store/files/{p}"), 204, ""));
    }
    for _ in 0..3 {
        v.push(obs("GET", "/store/files/search?q=x", 200, "[]"));
    }
    // a path under a directory that never answered, only a missing file: still a value
    v.push(obs("GET", "/store/files/old-drafts/gone.txt", 404, "{}"));
    // a static route two segments deep (a route word answering) stays
    v.push(obs("GET", "/store/files/admin/stats", 200, "{}"));
    v
}

#[test]
fn file_paths_with_percent_encoded_segments_are_one_parameter() {
    let m = learn_all(&files());
    let got = ops(&m);
    for want in [
        "PUT /store/files/{filePath}",
        "GET /store/files/{filePath}",
        "DELETE /store/files/{filePath}",
        "GET /store/files/{filePath}/versions",
        "POST /store/files/{filePath}/versions",
        "GET /store/files/search",
        "GET /store/files/admin/stats",
    ] {
        has(&got, want);
    }
    assert_eq!(got.len(), 7, "{got:#?}");
}

/// Object keys with no suffix route (an S3-style store): keys of one to four segments,
/// numeric segments among them, beside a static route.
fn keys() -> Vec<Observation> {
    let mut v = Vec::new();
    for k in [
        "a.txt",
        "Report-Q1.pdf",
        "photos/2024/cat.jpg",
        "photos/2024/06/dog.png",
        "docs/readme.md",
        "backups/db/2023-11-02.sql.gz",
    ] {
        v.push(obs("PUT", &format!("/media-bucket/{k}"), 200, ""));
        v.push(obs("GET", &format!("/media-bucket/{k}"), 200, ""));
        v.push(obs("HEAD", &format!("/media-bucket/{k}"), 200, ""));
    }
    v.push(obs("DELETE", "/media-bucket/photos/2024/cat.jpg", 204, ""));
    for _ in 0..3 {
        v.push(obs("GET", "/media-bucket/search?prefix=x", 200, "[]"));
    }
    v
}

#[test]
fn object_keys_are_one_parameter_without_a_suffix() {
    let m = learn_all(&keys());
    let got = ops(&m);
    for want in [
        "PUT /media-bucket/{mediaBucketPath}",
        "GET /media-bucket/{mediaBucketPath}",
        "HEAD /media-bucket/{mediaBucketPath}",
        "DELETE /media-bucket/{mediaBucketPath}",
        "GET /media-bucket/search",
    ] {
        has(&got, want);
    }
    assert_eq!(got.len(), 5, "{got:#?}");
    let ex = m.explain();
    let e = ex
        .values()
        .flatten()
        .find(|e| e.template == "/media-bucket/{mediaBucketPath}")
        .expect("explained");
    assert!(e.evidence.contains("value-shaped names"), "{}", e.evidence);
}

/// Nested resources with ids and a repeated sub-route are REST structure, not keys.
#[test]
fn nested_ids_and_repeated_sub_routes_are_not_keys() {
    let mut v = Vec::new();
    for i in 0..6u64 {
        v.push(obs("GET", &format!("/orders/{}", 1000 + i), 200, "{}"));
        v.push(obs(
            "GET",
            &format!("/orders/{}/items/{}", 1000 + i, 7 + i),
            200,
            "{}",
        ));
    }
    for z in ["acme.com.", "beta.org.", "corp.net.", "dev.io."] {
        v.push(obs("GET", &format!("/dns/zones/{z}"), 200, "{}"));
        v.push(obs(
            "GET",
            &format!("/dns/zones/{z}/metadata/SOA-EDIT"),
            200,
            "{}",
        ));
        v.push(obs(
            "GET",
            &format!("/dns/zones/{z}/metadata/ALLOW-AXFR"),
            200,
            "{}",
        ));
    }
    let m = learn_all(&v);
    assert!(multi_templates(&m).is_empty(), "{:#?}", ops(&m));
    has(&ops(&m), "GET /orders/{orderId}/items/{itemId}");
}

#[test]
fn explain_and_openapi_state_the_multi_segment_parameter() {
    let m = learn_all(&images());
    let ex = m.explain();
    let e = ex
        .values()
        .flatten()
        .find(|e| e.template == "/v2/images/{imagePath}" && e.kind == "parameter")
        .expect("explained");
    assert!(e.evidence.contains("multi-segment"), "{}", e.evidence);
    assert!(e.evidence.contains("json"), "{}", e.evidence);
    // no value in the evidence
    for v in ["reg.local", "lab", "model:9", "web-a"] {
        assert!(!e.evidence.contains(v), "{v} leaked: {}", e.evidence);
    }
    let doc = m.to_openapi(&ExportOptions::default());
    let p = &doc["paths"]["/v2/images/{imagePath}/json"]["get"]["parameters"][0];
    assert_eq!(p["name"], "imagePath");
    assert_eq!(p["in"], "path");
    assert_eq!(p["x-apitap-multi-segment"], true);
    // an ordinary parameter is not marked
    let s = m.to_openapi_json(&ExportOptions::default());
    assert_eq!(
        s.matches("x-apitap-multi-segment").count(),
        5,
        "one per operation"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]
    /// Split among 2, 8 or 32 sources and merged in any order: the same operations.
    #[test]
    fn split_and_merged_equals_whole(
        k in prop::sample::select(vec![2usize, 8, 32]),
        seed in any::<u64>(),
    ) {
        let mut t = images();
        t.extend(projects());
        t.extend(files());
        t.extend(keys());
        let whole = learn_all(&t);
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
        let mut merged = ApiModel::new();
        while !models.is_empty() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let i = (x % models.len() as u64) as usize;
            merged.merge(&models.swap_remove(i));
        }
        prop_assert_eq!(ops(&merged), ops(&whole));
        prop_assert_eq!(multi_templates(&merged), multi_templates(&whole));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Whatever the paths (route words, file names, ids, at any depth), folding never loses
    /// or double-counts a request: the operations' counts sum to the requests observed.
    #[test]
    fn folding_conserves_request_counts(
        paths in prop::collection::vec(
            (
                prop::sample::select(vec!["GET", "PUT", "POST", "DELETE"]),
                prop::collection::vec(
                    prop::sample::select(vec![
                        "json", "history", "tag", "data", "a.txt", "b%20c.md", "team",
                        "x:1", "42", "v2", "api", "checkpoints", "ml:7", "web-a",
                    ]),
                    1..7,
                ),
            ),
            1..120,
        ),
    ) {
        let t: Vec<Observation> = paths
            .iter()
            .map(|(m, segs)| obs(m, &format!("/r/{}", segs.join("/")), 200, ""))
            .collect();
        let m = learn_all(&t);
        let total: u64 = m.endpoints().iter().map(|e| e.count).sum();
        prop_assert_eq!(total, t.len() as u64, "{:#?}", ops(&m));
    }
}

/// A reviewed templates file corrects what inference cannot see: names that always have
/// two segments (`team/app`) look like two parameters; `param /v2/{name*}/manifests/{ref}`
/// and `param /v2/{name*}/tags/list` make them one multi-segment parameter, values never
/// stored.
#[test]
fn a_multi_segment_pin_wins_over_inference() {
    let mut t = Vec::new();
    for n in ["team/app", "team/db", "ops/proxy", "ml/train"] {
        t.push(obs("GET", &format!("/v2/{n}/manifests/latest"), 200, "{}"));
        t.push(obs("GET", &format!("/v2/{n}/tags/list"), 200, "{}"));
    }
    t.push(obs("GET", "/v2/deep/nested/name/tags/list", 200, "{}"));
    for bad in ["param /a/{x*}/b/{y*}", "static /a/{x*}/b"] {
        assert!(apitap_model::paths::parse_templates(bad).is_err(), "{bad}");
    }
    let unpinned = learn_all(&t);
    assert!(
        multi_templates(&unpinned).is_empty(),
        "{:#?}",
        ops(&unpinned)
    );
    let rules = apitap_model::paths::parse_templates(
        "param /v2/{name*}/manifests/{reference}\nparam /v2/{name*}/tags/list\n",
    )
    .expect("valid rules");
    let cfg = LearnConfig {
        pinned: rules.params,
        ..LearnConfig::default()
    };
    let mut m = ApiModel::new();
    for o in &t {
        m.observe(o, &cfg);
    }
    let got = ops(&m);
    has(&got, "GET /v2/{name}/manifests/{reference}");
    has(&got, "GET /v2/{name}/tags/list");
    assert_eq!(got.len(), 2, "{got:#?}");
    let multi = multi_templates(&m);
    assert_eq!(multi.len(), 2, "{multi:#?}");
    // no value is stored in the model
    let json = m.to_json();
    for v in ["team", "proxy", "train", "nested"] {
        assert!(!json.contains(v), "{v} stored");
    }
}
