mod common;
use apitap_model::{ApiModel, LearnConfig};
use common::*;

fn templates(m: &ApiModel) -> Vec<String> {
    m.endpoints()
        .into_iter()
        .map(|r| format!("{} {}", r.method, r.template))
        .collect()
}

#[test]
fn ids_become_parameters_with_static_siblings() {
    let mut m = ApiModel::new();
    let cfg = LearnConfig::default();
    for i in 0..50u64 {
        m.observe(
            &obs(
                "GET",
                &format!("/api/v2/users/{}", 1000 + i),
                200,
                r#"{"id":1}"#,
            ),
            &cfg,
        );
        m.observe(
            &obs(
                "GET",
                &format!("/api/v2/devices/{}/telemetry/latest", uuid(i)),
                200,
                r#"{"t":1}"#,
            ),
            &cfg,
        );
        m.observe(
            &obs(
                "GET",
                &format!("/accounts/acct_{:x}k2l9x", 0x8f3 + i),
                200,
                "{}",
            ),
            &cfg,
        );
        m.observe(
            &obs(
                "GET",
                &format!("/reports/2024-01-{:02}", 1 + i % 28),
                200,
                "{}",
            ),
            &cfg,
        );
        m.observe(&obs("GET", "/api/v2/users/me", 200, r#"{"id":1}"#), &cfg);
        m.observe(
            &obs("GET", &format!("/commits/{:040x}", i * 7919 + 1), 200, "{}"),
            &cfg,
        );
    }
    let t = templates(&m);
    assert_eq!(
        t,
        vec![
            "GET /accounts/{accountId}",
            "GET /api/v2/devices/{deviceId}/telemetry/latest",
            "GET /api/v2/users/me",
            "GET /api/v2/users/{userId}",
            "GET /commits/{commitId}",
            "GET /reports/{reportDate}",
        ]
    );
}

#[test]
fn slugs_collapse_only_with_many_distinct_values_and_static_routes_stay() {
    let cfg = LearnConfig::default();
    let mut m = ApiModel::new();
    let words = [
        "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
        "juliet", "kilo", "lima",
    ];
    // few distinct slugs: stay literal
    for w in &words[..4] {
        m.observe(&obs("GET", &format!("/articles/{w}-post"), 200, "{}"), &cfg);
    }
    assert_eq!(templates(&m).len(), 4);
    // many distinct slugs, each seen once, plus a frequently hit static route
    for (i, a) in words.iter().enumerate() {
        for b in &words[..6] {
            m.observe(
                &obs("GET", &format!("/articles/{a}-{b}-{i}"), 200, "{}"),
                &cfg,
            );
            m.observe(&obs("GET", "/articles/featured", 200, "[]"), &cfg);
        }
    }
    assert_eq!(
        templates(&m),
        vec!["GET /articles/featured", "GET /articles/{articleId}"]
    );
}

#[test]
fn resource_lists_under_versions_do_not_collapse() {
    let cfg = LearnConfig::default();
    let mut m = ApiModel::new();
    let res = [
        "users", "orders", "items", "carts", "invoices", "payments", "refunds", "products",
        "prices", "coupons",
    ];
    for r in res {
        m.observe(&obs("GET", &format!("/v1/{r}"), 200, "[]"), &cfg);
    }
    assert_eq!(templates(&m).len(), res.len());
}

#[test]
fn collapse_is_stable_as_traffic_grows() {
    let cfg = LearnConfig::default();
    let mut m = ApiModel::new();
    let mut collapsed_once = false;
    for i in 0..400u64 {
        let slug = format!(
            "post-{}-{}",
            ["a", "b", "c", "d", "e"][(i % 5) as usize],
            i % 97
        );
        m.observe(&obs("GET", &format!("/blog/posts/{slug}"), 200, "{}"), &cfg);
        // a hot value gets hit again and again later
        if i % 10 == 0 {
            m.observe(&obs("GET", "/blog/posts/post-a-0", 200, "{}"), &cfg);
        }
        let t = templates(&m);
        let has_param = t.iter().any(|x| x.contains('{'));
        if collapsed_once {
            assert!(has_param, "collapse reverted at {i}: {t:?}");
            // the hot value may be judged a static route (10% of traffic), nothing else
            assert!(t.len() <= 2, "{t:?}");
        }
        collapsed_once |= has_param;
    }
    assert!(collapsed_once);
}

#[test]
fn pinned_templates_win() {
    let cfg = LearnConfig {
        pinned: vec!["/v1/orgs/{org}/repos".into()],
        ..LearnConfig::default()
    };
    let mut m = ApiModel::new();
    for org in ["acme", "globex"] {
        m.observe(
            &obs("GET", &format!("/v1/orgs/{org}/repos"), 200, "[]"),
            &cfg,
        );
    }
    assert_eq!(templates(&m), vec!["GET /v1/orgs/{org}/repos"]);
}

#[test]
fn absolute_form_query_and_trailing_slash() {
    let cfg = LearnConfig::default();
    let mut m = ApiModel::new();
    m.observe(
        &obs("GET", "http://api.example.com/items/?page=2", 200, "[]"),
        &cfg,
    );
    m.observe(&obs("GET", "/items?page=3&q=x", 200, "[]"), &cfg);
    m.observe(&obs("GET", "*", 200, ""), &cfg);
    assert_eq!(templates(&m), vec!["GET /items"]);
    assert_eq!(m.stats().bad_target, 1);
    let doc = m.to_openapi(&Default::default());
    let params = doc["paths"]["/items"]["get"]["parameters"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let page = params
        .iter()
        .find(|p| p["name"] == "page")
        .cloned()
        .unwrap_or_default();
    assert_eq!(page["required"], true);
    assert_eq!(page["schema"]["type"], "integer");
    let q = params
        .iter()
        .find(|p| p["name"] == "q")
        .cloned()
        .unwrap_or_default();
    assert_eq!(q["required"], false);
}

#[test]
fn node_budget_bounds_model_size() {
    let cfg = LearnConfig::default();
    let mut m = ApiModel::new();
    // hostile: every request a new random-looking word path, 3 levels deep
    for i in 0..20_000u64 {
        let a = format!("w{}x", i % 5000);
        m.observe(&obs("GET", &format!("/{a}/{a}y/{a}z"), 200, "{}"), &cfg);
    }
    let s = m.combined();
    let svc = s.services.values().next().cloned().unwrap_or_default();
    assert!(svc.nodes <= apitap_model::model::MAX_NODES);
    assert!(m.to_json().len() < 8_000_000);
    assert!(s.stats.node_overflow > 0 || svc.root.lits.len() <= apitap_model::paths::MAX_LITERALS);
}

#[test]
fn truncated_and_broken_bodies_are_counted_not_guessed() {
    let cfg = LearnConfig::default();
    let mut m = ApiModel::new();
    let mut t = obs("GET", "/t", 200, r#"{"a":1,"b":"#);
    t.response_body_truncated = true;
    m.observe(&t, &cfg);
    m.observe(&obs("GET", "/t", 200, "{not json"), &cfg);
    m.observe(&obs("GET", "/t", 200, r#"{"a":1}"#), &cfg);
    let doc = m.to_openapi(&Default::default());
    let mt = &doc["paths"]["/t"]["get"]["responses"]["200"]["content"]["application/json"];
    assert_eq!(mt["x-apitap-truncated"], 1);
    assert_eq!(mt["x-apitap-unparsed"], 1);
    assert_eq!(mt["x-apitap-count"], 3);
    assert_eq!(mt["schema"]["properties"]["a"]["x-apitap-count"], 1);
    assert!(mt["schema"]["properties"].get("b").is_none());
}

const FIRST: [&str; 6] = ["ava", "liam", "omar", "sofia", "kenji", "nadia"];
const LAST: [&str; 5] = ["costa", "okafor", "brown", "kim", "moreau"];
const AUTHOR: &str = r#"{"slug":"x","display_name":"X","joined":"2024-01-01"}"#;
const ME: &str = r#"{"slug":"x","email":"x@example.com"}"#;

/// Author traffic: 30 two-part slugs hit once each, a hot author `grace-walsh` hit
/// `hot` times and the static route `/authors/me` hit `hot` times.
fn author_traffic(hot: usize) -> Vec<apitap_model::Observation> {
    let mut v = Vec::new();
    for f in FIRST {
        for l in LAST {
            v.push(obs("GET", &format!("/authors/{f}-{l}"), 200, AUTHOR));
        }
    }
    for _ in 0..hot {
        v.push(obs("GET", "/authors/grace-walsh", 200, AUTHOR));
        v.push(obs("GET", "/authors/me", 200, ME));
    }
    v
}

#[test]
fn frequently_hit_slug_folds_and_frequently_hit_static_word_stays() {
    let cfg = LearnConfig::default();
    // 30 singletons + 40 hits of grace-walsh: it carries 36% of /authors traffic and is
    // 40x the median literal, which made it a "static route" before the shape rule
    let mut m = ApiModel::new();
    for o in author_traffic(40) {
        m.observe(&o, &cfg);
    }
    assert_eq!(
        templates(&m),
        vec!["GET /authors/me", "GET /authors/{authorId}"]
    );
    // the hot value's hits are counted under the parameter: 30 + 40
    let eps = m.endpoints();
    let p = eps
        .iter()
        .find(|e| e.template == "/authors/{authorId}")
        .map(|e| e.count);
    assert_eq!(p, Some(70));
}

#[test]
fn hot_slug_never_reappears_as_traffic_grows() {
    let cfg = LearnConfig::default();
    let mut m = ApiModel::new();
    let traffic = author_traffic(0);
    let mut collapsed = false;
    for (i, o) in traffic.iter().enumerate() {
        m.observe(o, &cfg);
        // the hot author is hit 3 times per value author, from the start
        for _ in 0..3 {
            m.observe(&obs("GET", "/authors/grace-walsh", 200, AUTHOR), &cfg);
        }
        let t = templates(&m);
        if collapsed {
            assert!(
                !t.iter().any(|x| x.contains("grace-walsh")),
                "after {} authors: {t:?}",
                i + 1
            );
        }
        collapsed |= t.iter().any(|x| x.contains('{'));
    }
    assert!(collapsed);
    assert_eq!(templates(&m), vec!["GET /authors/{authorId}"]);
}

#[test]
fn hyphenated_static_route_with_another_response_shape_stays() {
    let cfg = LearnConfig::default();
    let mut m = ApiModel::new();
    for o in author_traffic(0) {
        m.observe(&o, &cfg);
    }
    // `top-rated` has the slug shape of the values, but answers a list, not an author
    for _ in 0..20 {
        m.observe(
            &obs("GET", "/authors/top-rated", 200, r#"[{"slug":"a"}]"#),
            &cfg,
        );
    }
    assert_eq!(
        templates(&m),
        vec!["GET /authors/top-rated", "GET /authors/{authorId}"]
    );
}

#[test]
fn slug_folding_is_a_function_of_merged_evidence() {
    let traffic = author_traffic(40);
    let (a, b) = traffic.split_at(traffic.len() / 2);
    let learn = |src: &str, part: &[apitap_model::Observation]| {
        let cfg = LearnConfig {
            source: src.into(),
            ..LearnConfig::default()
        };
        let mut m = ApiModel::new();
        for o in part {
            m.observe(o, &cfg);
        }
        m
    };
    let (ma, mb) = (learn("a", a), learn("b", b));
    let want = vec!["GET /authors/me", "GET /authors/{authorId}"];
    assert_eq!(templates(&ma.merged(&mb)), want);
    assert_eq!(templates(&mb.merged(&ma)), want);
}

#[test]
fn word_values_with_identical_sub_routes_fold_before_collapse() {
    let cfg = LearnConfig::default();
    let mut m = ApiModel::new();
    // 5 tags, plain words, each hit 3 times: no collapse (fewer than 8 literals)
    for t in ["budget", "climate", "cloud", "how-to", "data"] {
        for _ in 0..3 {
            m.observe(&obs("GET", &format!("/tags/{t}/articles"), 200, "[]"), &cfg);
        }
    }
    assert_eq!(templates(&m), vec!["GET /tags/{tagId}/articles"]);
    // a sibling that answers requests itself breaks the uniformity: all literal again
    let mut s = ApiModel::new();
    for r in ["users", "groups", "roles", "teams"] {
        s.observe(&obs("GET", &format!("/admin/{r}/export"), 200, "[]"), &cfg);
    }
    s.observe(&obs("GET", "/admin/users", 200, "[]"), &cfg);
    assert_eq!(templates(&s).len(), 5);
    // below the minimum of 4 siblings nothing folds
    let mut few = ApiModel::new();
    for t in ["budget", "climate", "cloud"] {
        few.observe(&obs("GET", &format!("/tags/{t}/articles"), 200, "[]"), &cfg);
    }
    assert_eq!(templates(&few).len(), 3);
}

#[test]
fn few_human_chosen_names_with_one_rich_structure_fold_and_action_routes_stay() {
    let cfg = LearnConfig::default();
    let learn = |names: &[&str]| {
        let mut m = ApiModel::new();
        m.observe(
            &obs("POST", "/containers/create", 201, r#"{"Id":"a1"}"#),
            &cfg,
        );
        m.observe(&obs("POST", "/containers/prune", 200, "{}"), &cfg);
        m.observe(&obs("GET", "/containers/json", 200, "[]"), &cfg);
        for n in names {
            m.observe(
                &obs("GET", &format!("/containers/{n}/json"), 200, "{}"),
                &cfg,
            );
            m.observe(
                &obs("POST", &format!("/containers/{n}/rename"), 204, ""),
                &cfg,
            );
        }
        for v in names {
            m.observe(&obs("GET", &format!("/volumes/{v}"), 200, "{}"), &cfg);
            m.observe(&obs("DELETE", &format!("/volumes/{v}"), 204, ""), &cfg);
        }
        m.observe(&obs("POST", "/volumes/create", 201, "{}"), &cfg);
        templates(&m)
    };
    // three names sharing sub-routes (or GET+DELETE) are values; verbs and `json` stay
    assert_eq!(
        learn(&["web", "db", "cache"]),
        vec![
            "POST /containers/create",
            "GET /containers/json",
            "POST /containers/prune",
            "GET /containers/{containerId}/json",
            "POST /containers/{containerId}/rename",
            "POST /volumes/create",
            "DELETE /volumes/{volumeId}",
            "GET /volumes/{volumeId}",
        ]
    );
    // two are not enough evidence: they stay literal
    assert_eq!(learn(&["web", "db"]).len(), 4 + 2 * 2 + 2 * 2);
    // one sub-route and no method is not rich: resource lists stay (see the uniform rule)
    let mut m = ApiModel::new();
    for r in ["users", "groups", "roles"] {
        m.observe(&obs("GET", &format!("/admin/{r}/export"), 200, "[]"), &cfg);
    }
    assert_eq!(templates(&m).len(), 3);
}

#[test]
fn percent_encoded_identifiers_are_parameters_after_decoding() {
    let cfg = LearnConfig::default();
    let mut m = ApiModel::new();
    // names with an encoded `/`, `:` or `@`: even one of them is an identifier
    for n in ["hc%2Ftiny%3Aedge", "%40scope%2Fpkg"] {
        m.observe(&obs("GET", &format!("/projects/{n}/tags"), 200, "[]"), &cfg);
    }
    m.observe(&obs("GET", "/projects/search", 200, "[]"), &cfg);
    assert_eq!(
        templates(&m),
        vec!["GET /projects/search", "GET /projects/{projectId}/tags"]
    );
}

#[test]
fn values_each_exercising_part_of_one_structure_fold() {
    let cfg = LearnConfig::default();
    let mut m = ApiModel::new();
    m.observe(&obs("GET", "/servers/main/zones", 200, "[]"), &cfg);
    m.observe(&obs("GET", "/servers/main/config", 200, "[]"), &cfg);
    m.observe(&obs("PUT", "/servers/main/cache/flush", 200, "{}"), &cfg);
    // zones touched a few times each, each with part of the sub-routes and methods
    let zones = [
        "acme.example.",
        "delta.net.",
        "globex.org.",
        "kilo-labs.com.",
        "lumen10.org.",
    ];
    for (i, z) in zones.iter().enumerate() {
        for (j, (meth, sub)) in [
            ("GET", ""),
            ("PATCH", ""),
            ("DELETE", ""),
            ("GET", "/metadata"),
            ("PUT", "/notify"),
            ("PUT", "/rectify"),
            ("GET", "/export"),
        ]
        .iter()
        .enumerate()
        {
            if (i + j) % 5 != 4 {
                m.observe(
                    &obs(meth, &format!("/servers/main/zones/{z}{sub}"), 200, "{}"),
                    &cfg,
                );
            }
        }
    }
    let t = templates(&m);
    assert!(t.iter().all(|x| !x.contains(".org")), "{t:?}");
    assert!(
        t.contains(&"PUT /servers/main/zones/{zoneId}/notify".to_string()),
        "{t:?}"
    );
    // the static siblings of `zones` (one method, no shared structure) stay
    assert!(t.contains(&"GET /servers/main/config".to_string()), "{t:?}");
    assert!(
        t.contains(&"PUT /servers/main/cache/flush".to_string()),
        "{t:?}"
    );
    // three heterogeneous rich static routes have no majority structure: they stay
    let mut s = ApiModel::new();
    for (meth, p) in [
        ("GET", "/admin/users"),
        ("POST", "/admin/users"),
        ("GET", "/admin/users/export"),
        ("PUT", "/admin/settings"),
        ("DELETE", "/admin/settings"),
        ("GET", "/admin/audit/latest"),
        ("GET", "/admin/audit/summary"),
        ("POST", "/admin/cache/flush"),
        ("DELETE", "/admin/cache"),
    ] {
        s.observe(&obs(meth, p, 200, "{}"), &cfg);
    }
    assert!(
        templates(&s).iter().all(|x| !x.contains('{')),
        "{:?}",
        templates(&s)
    );
}

#[test]
fn explain_gives_the_evidence_and_never_names_folded_values() {
    let cfg = LearnConfig::default();
    let mut m = ApiModel::new();
    m.observe(&obs("POST", "/containers/create", 201, "{}"), &cfg);
    for n in ["webfront", "dbmain", "cachetier"] {
        m.observe(
            &obs("GET", &format!("/containers/{n}/json"), 200, "{}"),
            &cfg,
        );
        m.observe(
            &obs("POST", &format!("/containers/{n}/rename"), 204, ""),
            &cfg,
        );
    }
    for i in 0..5 {
        m.observe(
            &obs("GET", &format!("/containers/{}/json", uuid(i)), 200, "{}"),
            &cfg,
        );
    }
    let ex = m.explain();
    let rows = &ex["api.example.com"];
    let p = rows
        .iter()
        .find(|e| e.kind == "parameter" && e.template == "/containers/{containerId}")
        .expect("parameter explained");
    assert!(
        p.evidence
            .contains("5 hits of identifier-like values (classes Uuid=5)"),
        "{p:?}"
    );
    assert!(p.evidence.contains("3 literal values folded"), "{p:?}");
    let s = rows
        .iter()
        .find(|e| e.template == "/containers/create")
        .expect("static explained");
    assert_eq!(s.kind, "static");
    assert!(s.evidence.contains("beside a parameter"), "{s:?}");
    let all = format!("{rows:?}");
    for v in ["webfront", "dbmain", "cachetier"] {
        assert!(!all.contains(v), "value {v} named: {all}");
    }
}

#[test]
fn a_templates_file_wins_over_inference() {
    use apitap_model::paths::parse_templates;
    let file = "# reviewed\n\
                param  /things/{thing}/json   # two names: too few to infer\n\
                static /containers/json\n\
                static /orders/2024          # digits, yet a route\n";
    let rules = parse_templates(file).expect("valid file");
    assert_eq!(rules.params, vec!["/things/{thing}/json"]);
    assert_eq!(rules.statics, vec!["/containers/json", "/orders/2024"]);
    let learn = |cfg: &LearnConfig| {
        let mut m = ApiModel::new();
        for n in ["alpha", "beta"] {
            m.observe(&obs("GET", &format!("/things/{n}/json"), 200, "{}"), cfg);
        }
        // values with the static sibling's structure: inference folds `json` with them
        m.observe(&obs("GET", "/containers/json", 200, "[]"), cfg);
        for n in ["web", "db", "cache", "queue"] {
            m.observe(&obs("GET", &format!("/containers/{n}"), 200, "{}"), cfg);
            m.observe(&obs("DELETE", &format!("/containers/{n}"), 204, ""), cfg);
        }
        m.observe(&obs("DELETE", "/containers/json", 204, ""), cfg);
        m.observe(&obs("GET", "/orders/2024", 200, "[]"), cfg);
        m.observe(&obs("GET", "/orders/17", 200, "{}"), cfg);
        templates(&m)
    };
    let inferred = learn(&LearnConfig::default());
    assert!(
        !inferred.contains(&"GET /containers/json".to_string()),
        "{inferred:?}"
    );
    assert!(
        inferred.contains(&"GET /things/alpha/json".to_string()),
        "{inferred:?}"
    );
    let reviewed = learn(&LearnConfig {
        pinned: rules.params.clone(),
        statics: rules.statics.clone(),
        ..LearnConfig::default()
    });
    for want in [
        "GET /things/{thing}/json",
        "GET /containers/json",
        "DELETE /containers/{containerId}",
        "GET /orders/2024",
        "GET /orders/{orderId}",
    ] {
        assert!(
            reviewed.contains(&want.to_string()),
            "{want} in {reviewed:?}"
        );
    }
    // errors name the line
    assert!(parse_templates("param /a/b\n")
        .unwrap_err()
        .starts_with("line 1:"));
    assert!(parse_templates("\nstatic /a/{b}\n")
        .unwrap_err()
        .starts_with("line 2:"));
    assert!(parse_templates("merge /a\n")
        .unwrap_err()
        .contains("unknown rule"));
}

/// A parameter's name comes from the preceding literal only when that literal is
/// vocabulary-like; a value that stayed literal never leaks into a name.
#[test]
fn parameter_names_never_carry_a_literal_value() {
    let mut m = ApiModel::new();
    let cfg = LearnConfig::default();
    for i in 0..20u64 {
        // a value with a digit that stayed literal: `/contents/scratch-0/{…}`
        m.observe(
            &obs(
                "GET",
                &format!("/contents/scratch-0/{}", 500 + i),
                200,
                "{}",
            ),
            &cfg,
        );
        // user names with identical sub-route shapes (`/basic-auth/alice/{…}`)
        for user in ["alice", "carol", "dave", "erin", "frank"] {
            m.observe(
                &obs("GET", &format!("/basic-auth/{user}/{}", 100 + i), 200, "{}"),
                &cfg,
            );
        }
        // a literal at a value position, beside a parameter: `/images/realeval/{…}`
        m.observe(
            &obs("GET", &format!("/images/{}/json", 9000 + i), 200, "{}"),
            &cfg,
        );
        m.observe(
            &obs("GET", &format!("/images/realeval/{}", 700 + i), 200, "{}"),
            &cfg,
        );
        // vocabulary stays the name's source
        m.observe(
            &obs("GET", &format!("/flow_runs/{}", 1 + i), 200, "{}"),
            &cfg,
        );
    }
    let t = templates(&m);
    for bad in ["scratch", "alice", "carol", "realeval"] {
        assert!(
            !t.iter()
                .any(|x| x.to_ascii_lowercase().contains(&format!("{{{bad}"))),
            "{bad} leaked into a parameter name: {t:?}"
        );
    }
    assert!(
        t.contains(&"GET /flow_runs/{flowRunId}".to_string()),
        "{t:?}"
    );
    assert!(
        t.contains(&"GET /images/{imageId}/json".to_string()),
        "{t:?}"
    );
    assert!(
        t.contains(&"GET /contents/scratch-0/{id}".to_string()),
        "{t:?}"
    );
}
