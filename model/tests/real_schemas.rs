//! Schemas as real servers send them (issue 8, item 5), checked end to end: observed
//! exchanges in, OpenAPI out. RFC 3339 timestamps with nanoseconds and offsets (Go, Python,
//! PostgreSQL), flags as `0/1/true/false` in query strings, integers beyond 2^53 and 2^64,
//! numbers sent as strings (ids kept as text to survive JavaScript's doubles), maps keyed by
//! ids, and list items whose rare properties only appear late in a long array.
mod common;

use apitap_model::{ApiModel, ExportOptions, LearnConfig};
use common::obs;
use serde_json::{json, Value};

fn spec_of(reqs: &[(&str, &str)]) -> Value {
    let mut m = ApiModel::new();
    for (target, body) in reqs {
        m.observe(&obs("GET", target, 200, body), &LearnConfig::default());
    }
    m.to_openapi(&ExportOptions {
        evidence: false,
        ..ExportOptions::default()
    })
}

fn response(spec: &Value, path: &str) -> Value {
    spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"].clone()
}

fn query(spec: &Value, path: &str, name: &str) -> Value {
    spec["paths"][path]["get"]["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["in"] == "query" && p["name"] == name)
        .map(|p| p["schema"].clone())
        .unwrap_or(Value::Null)
}

#[test]
fn timestamps_with_nanoseconds_and_offsets_are_date_time() {
    let bodies = [
        // Go (RFC3339Nano, trailing zeros trimmed), Python isoformat with offset, PostgreSQL
        r#"{"created":"2026-12-02T02:18:14.668582123Z","updated":"2026-12-02T02:18:14.668582+00:00","seen":"2026-12-02 02:18:14.5-07:00"}"#,
        r#"{"created":"2026-12-02T02:18:14.1Z","updated":"2026-12-02T04:48:14+05:30","seen":"2026-12-02 02:18:14+00"}"#,
        r#"{"created":"2026-12-02T02:18:14Z","updated":"2026-12-01T21:18:14.000000001-05:00","seen":"2026-12-02 02:18:14.123456+01:00"}"#,
    ];
    let reqs: Vec<(&str, &str)> = bodies.iter().map(|b| ("/events/latest", *b)).collect();
    let s = response(&spec_of(&reqs), "/events/latest");
    for k in ["created", "updated"] {
        assert_eq!(s["properties"][k]["format"], "date-time", "{k}: {s}");
    }
    assert_eq!(s["properties"]["seen"]["type"], "string", "{s}");
}

#[test]
fn query_flags_are_boolean_and_counts_integer() {
    let s = spec_of(&[
        ("/containers/json?all=1&limit=10&size=true", "[]"),
        ("/containers/json?all=0&limit=5&size=false", "[]"),
        ("/containers/json?all=true&limit=1", "[]"),
    ]);
    assert_eq!(
        query(&s, "/containers/json", "all")["type"],
        "boolean",
        "{s}"
    );
    assert_eq!(query(&s, "/containers/json", "size")["type"], "boolean");
    assert_eq!(query(&s, "/containers/json", "limit")["type"], "integer");
}

#[test]
fn integers_beyond_2_53_and_2_64_stay_integers() {
    let s = response(
        &spec_of(&[
            (
                "/stats/now",
                r#"{"a":9007199254740993,"b":18446744073709551615,"c":18446744073709551616,"d":-9223372036854775809,"f":0.5}"#,
            ),
            (
                "/stats/now",
                r#"{"a":1,"b":2,"c":340282366920938463463374607431768211456,"d":-1,"f":2}"#,
            ),
        ]),
        "/stats/now",
    );
    for k in ["a", "b", "c", "d"] {
        assert_eq!(s["properties"][k]["type"], "integer", "{k}: {s}");
    }
    assert_eq!(s["properties"]["f"]["type"], "number", "{s}");
}

#[test]
fn numbers_sent_as_strings_stay_strings() {
    // ids beyond 2^53 as text (`id_str`), decimals as text (money), zero-padded codes
    let s = response(
        &spec_of(&[
            (
                "/orders/latest",
                r#"{"id_str":"1865432109876543210","amount":"19.90","zip":"00501","n":"7"}"#,
            ),
            (
                "/orders/latest",
                r#"{"id_str":"1865432109876543211","amount":"5.00","zip":"10115","n":"12"}"#,
            ),
        ]),
        "/orders/latest",
    );
    for k in ["id_str", "amount", "zip", "n"] {
        assert_eq!(s["properties"][k]["type"], "string", "{k}: {s}");
    }
}

#[test]
fn maps_keyed_by_ids_never_store_the_keys() {
    let s = response(
        &spec_of(&[
            (
                "/nodes/summary",
                r#"{"by_id":{"1001":{"up":true},"1002":{"up":false}},"by_uuid":{"3f2b8c1e-9d4a-4b6f-8e2d-1a2b3c4d5e6f":[1]},"Labels":{"team-red":"x","zone":"y"}}"#,
            ),
            (
                "/nodes/summary",
                r#"{"by_id":{"77":{"up":true}},"by_uuid":{"9a2b8c1e-9d4a-4b6f-8e2d-1a2b3c4d5e6f":[2]},"Labels":{}}"#,
            ),
        ]),
        "/nodes/summary",
    );
    let text = s.to_string();
    for k in ["1001", "1002", "77", "3f2b8c1e", "team-red", "zone"] {
        assert!(!text.contains(k), "key {k} stored: {s}");
    }
    assert_eq!(
        s["properties"]["by_id"]["additionalProperties"]["properties"]["up"]["type"], "boolean",
        "{s}"
    );
    assert_eq!(
        s["properties"]["by_uuid"]["additionalProperties"]["type"], "array",
        "{s}"
    );
}

#[test]
fn rare_properties_late_in_a_long_list_are_learned() {
    // a history list, newest first: 200 record entries, then the bucket and group entries
    // that created them (Kinto's /buckets/{id}/history)
    let mut items: Vec<Value> = (0..200)
        .map(|i| json!({"id": i, "resource_name": "record", "record_id": "r"}))
        .collect();
    items.push(json!({"id": 200, "resource_name": "group", "group_id": "g"}));
    items.push(json!({"id": 201, "resource_name": "bucket", "bucket_id": "b"}));
    let body = json!({ "data": items }).to_string();
    let s = response(&spec_of(&[("/history/all", &body)]), "/history/all");
    let item = &s["properties"]["data"]["items"];
    for k in ["record_id", "group_id", "bucket_id"] {
        assert!(item["properties"].get(k).is_some(), "{k}: {s}");
    }
    // present in every item: required; present in some: not
    assert_eq!(item["required"], json!(["id", "resource_name"]), "{s}");
}
