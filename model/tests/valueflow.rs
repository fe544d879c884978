//! Templates from the evidence real traffic carries: value flow (a name the API handed out,
//! later a path segment), sibling evidence (a literal answering a subset of what the values
//! beside it answer, names with identical parameter sub-routes, two-level values), static
//! action routes beside values, and no captured value leaving the model.
mod common;
use apitap_model::{ApiModel, LearnConfig, Observation};
use common::*;

fn learn(t: &[Observation]) -> ApiModel {
    let mut m = ApiModel::new();
    m.observe_all(t, &LearnConfig::default());
    m
}

fn ops(m: &ApiModel) -> Vec<String> {
    m.endpoints()
        .into_iter()
        .map(|r| format!("{} {}", r.method, r.template))
        .collect()
}

fn has(got: &[String], want: &str) -> bool {
    got.iter().any(|g| g == want)
}

/// Variables created by name, then read by name (a CLI's workload: few names, GET only).
fn variables(create: bool) -> Vec<Observation> {
    let names = [
        "backup_url_1",
        "etl_token_ttl_2",
        "train_url_3",
        "sync_batch_size_5",
    ];
    let mut v = Vec::new();
    for n in names {
        if create {
            v.push(with_req(
                obs(
                    "POST",
                    "/api/variables/",
                    201,
                    &format!(r#"{{"id":"x","name":"{n}"}}"#),
                ),
                "application/json",
                &format!(r#"{{"name":"{n}","value":"v"}}"#),
            ));
        }
        v.push(obs(
            "GET",
            &format!("/api/variables/name/{n}"),
            200,
            r#"{"value":"v"}"#,
        ));
    }
    v.push(obs(
        "GET",
        "/api/variables/name/does_not_exist",
        404,
        r#"{"detail":"x"}"#,
    ));
    v.push(obs("POST", "/api/variables/filter", 200, "[]"));
    v
}

#[test]
fn names_handed_out_then_used_in_paths_are_values() {
    let got = ops(&learn(&variables(true)));
    assert!(
        has(&got, "GET /api/variables/name/{nameId}")
            || got
                .iter()
                .any(|g| { g.starts_with("GET /api/variables/name/{") && !g.contains("url") }),
        "{got:?}"
    );
    assert!(
        !got.iter()
            .any(|g| g.contains("backup_url_1") || g.contains("does_not_exist")),
        "a value stayed literal: {got:?}"
    );
    assert!(has(&got, "POST /api/variables/filter"), "{got:?}");
}

#[test]
fn without_value_flow_evidence_few_names_stay_literal() {
    // the same paths, never handed out: no evidence, the names stay (control for the test above)
    let got = ops(&learn(&variables(false)));
    assert!(has(&got, "GET /api/variables/name/backup_url_1"), "{got:?}");
}

#[test]
fn value_flow_crosses_sources_and_merges_as_a_join() {
    // created on one replica, read on another: the merged model folds like the whole
    let t = variables(true);
    let (created, used): (Vec<_>, Vec<_>) = t.iter().cloned().partition(|o| o.method == "POST");
    let cfg = |s: &str| LearnConfig {
        source: s.into(),
        ..LearnConfig::default()
    };
    let mut a = ApiModel::new();
    a.observe_all(&created, &cfg("a"));
    let mut b = ApiModel::new();
    b.observe_all(&used, &cfg("b"));
    let ab = a.merged(&b);
    let ba = b.merged(&a);
    assert_eq!(ops(&ab), ops(&learn(&t)));
    assert_eq!(ops(&ab), ops(&ba));
    assert_eq!(ab.merged(&ab), ab);
    let back = ApiModel::from_json(&ab.to_json()).expect("model round trip");
    assert_eq!(ops(&back), ops(&ab));
}

#[test]
fn values_that_flow_are_never_stored_or_explained() {
    let mut t = variables(true);
    // a name handed out and never used in a path
    t.push(obs(
        "GET",
        "/api/projects/",
        200,
        r#"[{"id":"x","name":"zz-secret-project-name"}]"#,
    ));
    let m = learn(&t);
    let json = m.to_json();
    assert!(
        !json.contains("zz-secret-project-name"),
        "value in the model"
    );
    let spec = m.to_openapi_json(&apitap_model::ExportOptions::default());
    for v in ["zz-secret-project-name", "backup_url_1", "does_not_exist"] {
        assert!(!spec.contains(v), "{v} in the spec");
    }
    let why = m.explain();
    let text = format!("{why:?}");
    for v in ["zz-secret-project-name", "backup_url_1", "train_url_3"] {
        assert!(!text.contains(v), "{v} in --explain");
    }
    assert!(text.contains("value-flow hits 4"), "{text}");
}

#[test]
fn a_literal_answering_a_subset_of_the_values_folds_and_plain_words_stay() {
    let mut t = Vec::new();
    // networks by chosen name: each inspected, connected, removed
    for n in ["net-api2", "net-auth1", "net-ml4", "net-queue0"] {
        t.push(obs(
            "GET",
            &format!("/v1.41/networks/{n}"),
            200,
            r#"{"Id":"a"}"#,
        ));
        t.push(obs(
            "POST",
            &format!("/v1.41/networks/{n}/connect"),
            200,
            "",
        ));
        t.push(obs("DELETE", &format!("/v1.41/networks/{n}"), 204, ""));
    }
    // one only inspected: answers a subset of what the others answer
    t.push(obs("GET", "/v1.41/networks/net-db5", 200, r#"{"Id":"a"}"#));
    // static routes beside them
    t.push(obs("GET", "/v1.41/networks/json", 200, r#"[{"Id":"a"}]"#));
    t.push(obs("POST", "/v1.41/networks/create", 201, r#"{"Id":"a"}"#));
    t.push(obs(
        "POST",
        "/v1.41/networks/prune",
        200,
        r#"{"NetworksDeleted":[]}"#,
    ));
    // number-like values beside integer ones
    for d in ["1", "2", "3", "0.1"] {
        t.push(obs("GET", &format!("/delay/{d}"), 200, r#"{"url":"u"}"#));
    }
    let got = ops(&learn(&t));
    assert!(!got.iter().any(|g| g.contains("net-db5")), "{got:?}");
    for s in [
        "GET /v1.41/networks/json",
        "POST /v1.41/networks/create",
        "POST /v1.41/networks/prune",
    ] {
        assert!(has(&got, s), "{s} swallowed: {got:?}");
    }
    assert!(!got.iter().any(|g| g.contains("0.1")), "{got:?}");
}

#[test]
fn names_with_identical_parameter_sub_routes_fold_beside_a_static_route() {
    let mut t = vec![obs("GET", "/cookies/set", 200, r#"{"cookies":{}}"#)];
    for (i, n) in ["alice", "carol", "dave", "erin", "frank"]
        .iter()
        .enumerate()
    {
        t.push(obs(
            "GET",
            &format!("/cookies/set/{n}/{}", 1000 + i),
            302,
            "",
        ));
    }
    let got = ops(&learn(&t));
    assert!(has(&got, "GET /cookies/set"), "{got:?}");
    assert!(!got.iter().any(|g| g.contains("alice")), "{got:?}");
    assert_eq!(got.len(), 2, "{got:?}");
}

#[test]
fn two_level_values_fold_when_the_parent_level_folds() {
    let mut t = Vec::new();
    let users = ["alice", "carol", "dave", "erin"];
    for i in 0..16usize {
        let u = users[i % 4];
        t.push(obs(
            "GET",
            &format!("/basic-auth/{u}/pw{}", i * 7 % 97),
            200,
            &format!(r#"{{"authenticated":true,"user":"{u}"}}"#),
        ));
    }
    let got = ops(&learn(&t));
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].starts_with("GET /basic-auth/{"), "{got:?}");
    assert!(!got[0].contains("pw"), "{got:?}");
}

#[test]
fn event_types_handed_out_fold_with_their_sub_routes() {
    let mut t = Vec::new();
    for (i, ty) in ["m.room.message", "m.reaction", "org.example.ping"]
        .iter()
        .enumerate()
    {
        t.push(with_req(
            obs(
                "PUT",
                &format!(
                    "/_matrix/client/v3/rooms/{}/send/{ty}/{}",
                    uuid(1),
                    uuid(i as u64 + 7)
                ),
                200,
                r#"{"event_id":"$abc"}"#,
            ),
            "application/json",
            r#"{"body":"hi"}"#,
        ));
    }
    t.push(obs(
        "GET",
        &format!("/_matrix/client/v3/rooms/{}/messages", uuid(1)),
        200,
        r#"{"chunk":[{"type":"m.room.message"},{"type":"m.reaction"},{"type":"org.example.ping"}]}"#,
    ));
    let got = ops(&learn(&t));
    assert!(!got.iter().any(|g| g.contains("m.reaction")), "{got:?}");
    assert_eq!(got.len(), 2, "{got:?}");
}

#[test]
fn collection_names_under_type_keys_stay_routes() {
    // JSON:API names each resource's collection in `type`: a plain word there is a category
    let mut t = Vec::new();
    for i in 1..4u64 {
        t.push(obs(
            "GET",
            &format!("/shop/articles/{i}"),
            200,
            &format!(r#"{{"data":{{"type":"articles","id":"{i}"}}}}"#),
        ));
        t.push(obs(
            "GET",
            &format!("/shop/people/{}", i + 10),
            200,
            &format!(r#"{{"data":{{"type":"people","id":"{}"}}}}"#, i + 10),
        ));
    }
    let got = ops(&learn(&t));
    assert!(has(&got, "GET /shop/articles/{articleId}"), "{got:?}");
    assert!(
        has(&got, "GET /shop/people/{personId}")
            || got.iter().any(|g| g.starts_with("GET /shop/people/{")),
        "{got:?}"
    );
}

#[test]
fn one_value_flow_hit_among_static_routes_stays() {
    // a server list names `localhost`, and one config setting is named `config`: one hit
    // among siblings is no group, and a route with its own sub-routes is not a value
    let mut t = vec![obs(
        "GET",
        "/api/v1/servers",
        200,
        r#"[{"id":"localhost","type":"Server"}]"#,
    )];
    t.push(obs(
        "GET",
        "/api/v1/servers/localhost",
        200,
        r#"{"id":"localhost"}"#,
    ));
    t.push(obs(
        "GET",
        "/api/v1/servers/otherhost",
        404,
        r#"{"error":"x"}"#,
    ));
    t.push(obs(
        "GET",
        "/api/v1/servers/localhost/config",
        200,
        r#"[{"name":"config","value":"x"},{"name":"api","value":"yes"}]"#,
    ));
    for r in ["statistics", "zones", "search-data"] {
        t.push(obs(
            "GET",
            &format!("/api/v1/servers/localhost/{r}"),
            200,
            "[]",
        ));
    }
    let got = ops(&learn(&t));
    for s in [
        "GET /api/v1/servers/localhost",
        "GET /api/v1/servers/localhost/config",
        "GET /api/v1/servers/localhost/search-data",
    ] {
        assert!(has(&got, s), "{s} swallowed: {got:?}");
    }
}

fn with_location(mut o: Observation, loc: &str) -> Observation {
    o.response_headers.push("Location", loc);
    o
}

/// Files (paths with `/`) with checkpoints: the only checkpoint name ever used is the one
/// the server hands out when a POST creates it.
fn checkpoints(location: bool) -> Vec<Observation> {
    let mut t = Vec::new();
    for f in ["a/one.txt", "b/two.txt", "b/c/three.txt", "d/four.txt"] {
        let base = format!("/files/{f}/checkpoints");
        let post = obs("POST", &base, 201, r#"{"last_modified":"x"}"#);
        t.push(if location {
            with_location(post, &format!("{base}/checkpoint"))
        } else {
            post
        });
        t.push(obs("GET", &base, 200, r#"[{"last_modified":"x"}]"#));
        t.push(obs("POST", &format!("{base}/checkpoint"), 204, ""));
        t.push(obs("DELETE", &format!("{base}/checkpoint"), 204, ""));
    }
    t
}

#[test]
fn a_member_named_by_the_location_of_its_create_is_a_value_even_alone() {
    let got = ops(&learn(&checkpoints(true)));
    assert!(
        got.iter()
            .any(|g| g.starts_with("DELETE /files/{") && g.ends_with("/checkpoints/{checkpointId}")),
        "{got:?}"
    );
    assert!(!got.iter().any(|g| g.ends_with("/checkpoint")), "{got:?}");
    // the same traffic without the Location: one literal, no evidence, stays
    let got = ops(&learn(&checkpoints(false)));
    assert!(
        got.iter().any(|g| g.ends_with("/checkpoints/checkpoint")),
        "{got:?}"
    );
}

#[test]
fn a_location_elsewhere_or_not_from_a_create_does_not_name_a_member() {
    // `POST /jobs` answering `Location: /jobs/{id}/status` (a status monitor, not a member
    // of /jobs), and `PUT`/`GET` answering a Location: `status` and `me` stay routes
    let mut t = Vec::new();
    for i in 0..4 {
        let id = uuid(i);
        t.push(with_location(
            obs("POST", "/jobs", 202, ""),
            &format!("/jobs/{id}/status"),
        ));
        t.push(obs(
            "GET",
            &format!("/jobs/{id}/status"),
            200,
            r#"{"state":"x"}"#,
        ));
        t.push(obs("GET", &format!("/jobs/{id}/result"), 200, r#"{"r":1}"#));
    }
    t.push(with_location(obs("GET", "/users", 200, "[]"), "/users/me"));
    t.push(with_location(obs("PUT", "/users", 200, "{}"), "/users/me"));
    t.push(obs("GET", "/users/me", 200, r#"{"id":1}"#));
    t.push(obs("GET", "/users/me/settings", 200, r#"{"a":1}"#));
    let got = ops(&learn(&t));
    for s in [
        "GET /jobs/{jobId}/status",
        "GET /jobs/{jobId}/result",
        "GET /users/me",
        "GET /users/me/settings",
    ] {
        assert!(has(&got, s), "{s}: {got:?}");
    }
}

/// Media uploaded, answered with a non-HTTP URI, then downloaded by its parts.
fn media(uri_key: &str, scheme: &str) -> Vec<Observation> {
    let mut t = Vec::new();
    for i in 0..3 {
        let id = format!("XfzGGumEluzcPoMiJsd{i}Vx");
        t.push(with_req(
            obs(
                "POST",
                "/media/v3/upload?filename=x.txt",
                200,
                &format!(r#"{{"{uri_key}":"{scheme}://media.example.org/{id}"}}"#),
            ),
            "text/plain",
            "hello",
        ));
        t.push(obs(
            "GET",
            &format!("/media/v3/download/media.example.org/{id}"),
            200,
            r#"{"x":1}"#,
        ));
    }
    t.push(obs(
        "GET",
        "/media/v3/config",
        200,
        r#"{"m.upload.size":1}"#,
    ));
    t
}

#[test]
fn the_parts_of_a_non_http_uri_handed_out_are_values() {
    let got = ops(&learn(&media("content_uri", "mxc")));
    assert!(
        got.iter()
            .any(|g| g.starts_with("GET /media/v3/download/{") && !g.contains("example")),
        "{got:?}"
    );
    assert!(has(&got, "GET /media/v3/config"), "{got:?}");
    // an HTTP link names a route of an API (its host is no value of a path)
    let got = ops(&learn(&media("content_uri", "https")));
    assert!(
        has(&got, "GET /media/v3/download/media.example.org/{id}")
            || got
                .iter()
                .any(|g| g.contains("/download/media.example.org/")),
        "{got:?}"
    );
}

/// Users whose profile object has scalar fields, each field also its own sub-resource.
fn profiles(echo: bool) -> Vec<Observation> {
    let mut t = Vec::new();
    for u in ["@ann:ex.org", "@bo:ex.org", "@cy:ex.org"] {
        let base = format!("/profile/{}", u.replace('@', "%40").replace(':', "%3A"));
        t.push(obs(
            "GET",
            &base,
            200,
            r#"{"displayname":"Ann","avatar_url":"x","followers":3}"#,
        ));
        for f in ["displayname", "avatar_url"] {
            let one = format!(r#"{{"{f}":"v"}}"#);
            t.push(with_req(
                obs("PUT", &format!("{base}/{f}"), 200, "{}"),
                "application/json",
                &one,
            ));
            let resp = if echo {
                one.clone()
            } else {
                r#"{"value":"v"}"#.into()
            };
            t.push(obs("GET", &format!("{base}/{f}"), 200, &resp));
        }
        // a sub-collection named like a count of the object: answers a list
        t.push(obs(
            "GET",
            &format!("{base}/followers"),
            200,
            r#"[{"id":"a"}]"#,
        ));
    }
    t
}

#[test]
fn sub_resources_addressing_fields_of_the_parent_object_are_values() {
    let got = ops(&learn(&profiles(true)));
    assert!(
        got.iter()
            .any(|g| g.starts_with("PUT /profile/{") && g.matches('{').count() == 2),
        "{got:?}"
    );
    assert!(!got.iter().any(|g| g.contains("displayname")), "{got:?}");
    assert!(
        got.iter()
            .any(|g| g.starts_with("GET /profile/{") && g.ends_with("/followers")),
        "followers must stay a route: {got:?}"
    );
    // sub-routes that do not answer an object keyed by their own name stay
    let got = ops(&learn(&profiles(false)));
    assert!(got.iter().any(|g| g.ends_with("/displayname")), "{got:?}");
}

#[test]
fn sub_routes_that_are_not_fields_stay() {
    // Docker: `/containers/{id}/json` answers the container object (not `{"json":…}`);
    // Kinto: `/buckets/{id}/collections` answers `{"data":[…]}`
    let mut t = Vec::new();
    for i in 0..4 {
        let id = format!("{:064x}", i + 1);
        t.push(obs(
            "GET",
            &format!("/containers/{id}/json"),
            200,
            r#"{"Id":"x","json":"y","top":"z"}"#,
        ));
        t.push(obs(
            "GET",
            &format!("/containers/{id}/top"),
            200,
            r#"{"top":"z"}"#,
        ));
        t.push(obs(
            "GET",
            &format!("/buckets/b{i}x9/collections"),
            200,
            r#"{"data":[{"id":"c"}]}"#,
        ));
        t.push(obs(
            "GET",
            &format!("/buckets/b{i}x9"),
            200,
            r#"{"data":{"id":"b"},"collections":2}"#,
        ));
    }
    t.push(obs("POST", "/containers/create", 201, r#"{"Id":"x"}"#));
    let got = ops(&learn(&t));
    for s in ["/json", "/top", "/collections"] {
        assert!(got.iter().any(|g| g.ends_with(s)), "{s}: {got:?}");
    }
    assert!(has(&got, "POST /containers/create"), "{got:?}");
}

/// Receipts of a dotted-namespace type, each with an event id.
fn receipts(types: &[&str]) -> Vec<Observation> {
    let mut t = Vec::new();
    for (i, ty) in types.iter().enumerate() {
        for j in 0..2u64 {
            t.push(obs(
                "POST",
                &format!(
                    "/rooms/{}/receipt/{ty}/{}",
                    uuid(j),
                    uuid(100 + i as u64 + 10 * j)
                ),
                200,
                "{}",
            ));
        }
    }
    t
}

#[test]
fn namespaced_names_with_one_parameter_shape_are_values() {
    let got = ops(&learn(&receipts(&["m.read", "m.read.private"])));
    assert!(
        got.iter()
            .any(|g| g.starts_with("POST /rooms/{") && g.matches('{').count() == 3),
        "{got:?}"
    );
    // plain or hyphenated words (`by-name`, `by-id`) and file names are routes
    for names in [
        &["by-name", "by-id"][..],
        &["openapi.json", "openapi.yaml"][..],
    ] {
        let got = ops(&learn(&receipts(names)));
        for n in names {
            assert!(got.iter().any(|g| g.contains(n)), "{n}: {got:?}");
        }
    }
}
