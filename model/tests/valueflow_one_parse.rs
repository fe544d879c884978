//! Value flow takes the values of a body the schema also reads from the schema's own walk of
//! it (one parse per body). What it takes must be exactly what its own walk of the body
//! takes ([`ValueFlow::observe`]): the same hashes, the same `skipped` count, whatever the
//! schema's caps (depth, items, properties, maps), the budget order across the bodies of an
//! exchange, and the bodies the schema does not walk (not inspected, truncated, broken,
//! streams, other media types).
mod common;
use apitap_model::valueflow::{ValueFlow, MAX_FLOW_VALUES};
use apitap_model::{ApiModel, Inspect, LearnConfig, Observation};
use common::*;
use proptest::prelude::*;
use serde_json::{json, Value};

/// The model's value flow for `t` (one parse per body) and value flow's own walk of it.
fn both(t: &[(Observation, Inspect)]) -> (ValueFlow, ValueFlow) {
    let mut m = ApiModel::new();
    let cfg = LearnConfig::default();
    let mut own = ValueFlow::default();
    for (o, i) in t {
        m.observe_inspected(o, &cfg, *i);
        own.observe(o);
    }
    let shared = m
        .sources
        .values()
        .flat_map(|s| s.services.values())
        .map(|s| s.flow.clone())
        .next()
        .unwrap_or_default();
    (shared, own)
}

fn post(resp: &str, req: &str) -> Observation {
    with_req(obs("POST", "/things", 201, resp), "application/json", req)
}

fn all(o: Observation) -> (Observation, Inspect) {
    (o, Inspect::ALL)
}

fn names(n: usize, tag: &str) -> Vec<Value> {
    (0..n)
        .map(|i| json!({ "name": format!("{tag}_n{i}") }))
        .collect()
}

fn assert_same(t: &[(Observation, Inspect)]) -> ValueFlow {
    let (shared, own) = both(t);
    assert_eq!(shared, own);
    own
}

#[test]
fn budget_order_is_response_then_request() {
    // more values than one exchange's budget, in both bodies: the response's are taken first
    let resp = json!({ "items": names(200, "r") }).to_string();
    let req = json!({ "items": names(200, "q") }).to_string();
    let f = assert_same(&[all(post(&resp, &req))]);
    assert_eq!(f.skipped, 400 - MAX_FLOW_VALUES as u64);
}

#[test]
fn schema_caps_do_not_change_what_flows() {
    // beyond MAX_ITEMS array elements
    let long = json!(names(1100, "long")).to_string();
    // beyond the schema's depth (16) and value flow's (32)
    let mut deep = json!({ "name": "deep_leaf" });
    for i in 0..40 {
        deep = json!({ "name": format!("deep_{i}"), "child": deep, "list": [format!("x{i}")] });
    }
    let deep = deep.to_string();
    // beyond MAX_PROPS properties: first buffered (a new shape), then streamed (known keys)
    let wide: serde_json::Map<String, Value> = (0..200)
        .map(|i| (format!("k{i}_name"), json!(format!("wide_{i}"))))
        .collect();
    let wide = Value::Object(wide).to_string();
    // an id-keyed map with more than MAX_PROPS entries, twice (buffered, then a known map)
    let map: serde_json::Map<String, Value> = (0..200)
        .map(|i| (format!("{}", 1000 + i), json!({ "name": format!("m_{i}") })))
        .collect();
    let map = json!({ "by_id": map }).to_string();
    // a labels dictionary and nested arrays of strings under an id key
    let labels = json!({"labels": {"Team": "core-x", "name": "lbl"}, "tags": [["t_a", "t_b"], "t_c"], "type": ["m.room.message", "articles"], "content_uri": "mxc://example.org/AbCd"}).to_string();
    // URIs under any key, also beyond the schema's caps
    let uris: Vec<Value> = (0..1100)
        .map(|i| json!({ "avatar": format!("mxc://srv{}/media_{i}", i % 7) }))
        .collect();
    let uris = json!(uris).to_string();
    let mut t = Vec::new();
    for body in [&long, &deep, &wide, &map, &labels, &uris] {
        for _ in 0..2 {
            t.push(all(obs("GET", "/things", 200, body)));
            t.push(all(post(body, body)));
        }
    }
    let f = assert_same(&t);
    assert!(f.h.len() > 100);
    assert!(!f.c.is_empty());
}

#[test]
fn bodies_the_schema_does_not_walk_still_flow() {
    let good = r#"{"name": "plain_one", "id": "x"}"#;
    let mut trunc = obs("GET", "/a", 200, good);
    trunc.response_body_truncated = true;
    let mut text = obs("GET", "/b", 200, good);
    text.response_headers = vec![("Content-Type".into(), "text/plain; q=json".into())].into();
    let t = vec![
        all(trunc),
        all(text),
        // broken JSON: value flow keeps what it read before the error
        all(obs("GET", "/c", 200, r#"{"name": "before_err", "x": [1,"#)),
        // a stream of documents: value flow reads the first
        all(obs(
            "GET",
            "/d",
            200,
            "{\"name\":\"s_one\"}\n{\"name\":\"s_two\"}",
        )),
        // not 2xx, GET request body, a JSON string body
        all(obs("GET", "/e", 404, r#"{"name": "not_ok"}"#)),
        all(with_req(
            obs("GET", "/f", 200, ""),
            "application/json",
            r#"{"name":"get_body"}"#,
        )),
        all(obs("GET", "/g", 200, r#""plain_string""#)),
        // bodies sampling did not inspect
        (
            post(r#"{"name": "skipped_r"}"#, r#"{"name": "skipped_q"}"#),
            Inspect {
                request: false,
                response: false,
            },
        ),
        (
            post(r#"{"name": "half_r"}"#, r#"{"name": "half_q"}"#),
            Inspect {
                request: true,
                response: false,
            },
        ),
    ];
    let f = assert_same(&t);
    assert!(f.h.len() >= 8, "{}", f.h.len());
}

#[test]
fn location_and_etag_keep_their_place_in_the_budget() {
    let resp = json!({ "items": names(255, "r") }).to_string();
    let req = json!({ "items": names(3, "q") }).to_string();
    let mut o = post(&resp, &req);
    o.response_headers.push("Location", "/things/loc_name");
    o.response_headers.push("ETag", "W/\"etag_v\"");
    let f = assert_same(&[all(o)]);
    assert_eq!(f.skipped, 4);
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        prop::sample::select(vec![
            "active",
            "articles",
            "m.room.message",
            "backup_url_1",
            "a@b.io",
            "x y",
            "a/b",
            "12345",
            "e\u{301}t\u{e9}",
            "quote\"d",
            "",
            "mxc://example.org/AbCd",
            "s3://bucket/some_key/x%20y",
            "https://a.example/things/x",
        ])
        .prop_map(|s| Value::String(s.to_string())),
        (0u32..5000).prop_map(|i| Value::String(format!("val_{i}"))),
    ];
    leaf.prop_recursive(8, 400, 40, |inner| {
        let keys = prop::sample::select(vec![
            "id",
            "name",
            "userId",
            "ContainerID",
            "type",
            "kind",
            "note",
            "17",
            "42",
            "tags",
            "labels",
            "a\"name",
        ]);
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..40).prop_map(Value::Array),
            prop::collection::vec((keys, inner), 0..8).prop_map(|kv| Value::Object(
                kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
            )),
        ]
    })
}

proptest! {
    #[test]
    fn one_parse_takes_what_the_own_walk_takes(
        bodies in prop::collection::vec((arb_json(), arb_json(), any::<bool>(), any::<bool>()), 1..6),
    ) {
        let t: Vec<(Observation, Inspect)> = bodies
            .iter()
            .map(|(r, q, ir, iq)| {
                (
                    post(&r.to_string(), &q.to_string()),
                    Inspect { request: *iq, response: *ir },
                )
            })
            .collect();
        let (shared, own) = both(&t);
        prop_assert_eq!(shared, own);
    }
}
