//! Merge laws and learn/merge equivalence on generated traffic.
mod common;
use apitap_model::{ApiModel, ExportOptions, LearnConfig, Observation};
use common::*;
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Ex {
    kind: u8,
    id: u32,
    status: u8,
    flag: bool,
    lat: u16,
}

fn ex() -> impl Strategy<Value = Ex> {
    (0u8..8, 0u32..5000, 0u8..4, any::<bool>(), 0u16..5000).prop_map(
        |(kind, id, status, flag, lat)| Ex {
            kind,
            id,
            status,
            flag,
            lat,
        },
    )
}

fn to_obs(e: &Ex, ts: i64) -> Observation {
    let status = [200u16, 200, 404, 500][e.status as usize];
    let words = ["alpha", "beta", "gamma", "delta"];
    let mut o = match e.kind {
        0 => obs(
            "GET",
            &format!("/api/v1/users/{}", e.id),
            status,
            &format!(
                r#"{{"id":{},"name":"n {}","nick":{}}}"#,
                e.id,
                e.id,
                if e.flag { "null" } else { r#""x y""# }
            ),
        ),
        1 => obs(
            "GET",
            &format!(
                "/api/v1/users?limit={}{}",
                e.id % 100,
                if e.flag { "&q=a" } else { "" }
            ),
            status,
            r#"[{"id":1,"tags":["a b"]},{"id":2.5}]"#,
        ),
        2 => with_req(
            obs("POST", "/api/v1/users", status, r#"{"id":5}"#),
            "application/json",
            &format!(r#"{{"name":"n {}","age":{}}}"#, e.id, e.id % 90),
        ),
        3 => obs(
            "GET",
            &format!("/api/v1/orders/{}/items", uuid(e.id as u64)),
            status,
            r#"{"items":[{"sku":"a b","qty":1}],"total":3.5}"#,
        ),
        4 => obs(
            "DELETE",
            &format!("/api/v1/orders/{}", uuid(e.id as u64)),
            204,
            "",
        ),
        5 => obs(
            "GET",
            &format!("/api/v1/{}/stats", words[(e.id % 4) as usize]),
            status,
            r#"{"7":{"n":1},"9":{"n":2}}"#,
        ),
        6 => with_req(
            obs("POST", "/api/v1/login", status, r#"{"ok":true}"#),
            "application/x-www-form-urlencoded",
            "user=a+b&remember=1",
        ),
        _ => obs("GET", "/healthz", 200, ""),
    };
    o.ts_unix_ms = ts;
    o.latency_ms = Some(e.lat as f64 / 10.0);
    if e.flag {
        o.request_headers
            .push("X-Request-Id", &format!("r-{} z", e.id));
        o.request_headers.push("Authorization", "Bearer x y");
    }
    o
}

fn learn(source: &str, exs: &[(Ex, i64)]) -> ApiModel {
    let cfg = LearnConfig {
        source: source.into(),
        ..LearnConfig::default()
    };
    let mut m = ApiModel::new();
    for (e, ts) in exs {
        m.observe(&to_obs(e, *ts), &cfg);
    }
    m
}

fn traffic() -> impl Strategy<Value = Vec<(Ex, i64)>> {
    proptest::collection::vec((ex(), 1i64..1_000_000), 0..40)
}

fn spec_without_sources(m: &ApiModel) -> serde_json::Value {
    let mut v = m.to_openapi(&ExportOptions::default());
    if let Some(info) = v.get_mut("info").and_then(|i| i.as_object_mut()) {
        info.remove("x-apitap-sources");
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn merge_is_a_join(a in traffic(), b in traffic(), c in traffic(), cut in 0usize..40) {
        // distinct sources, and a snapshot of source "a" (a prefix of its traffic)
        let ma = learn("a", &a);
        let ma_early = learn("a", &a[..cut.min(a.len())]);
        let mb = learn("b", &b);
        let mc = learn("c", &c);
        for (x, y, z) in [(&ma, &mb, &mc), (&ma_early, &ma, &mb), (&mb, &ma_early, &ma)] {
            prop_assert_eq!(x.merged(&y.merged(z)), x.merged(y).merged(z));
            prop_assert_eq!(x.merged(y), y.merged(x));
            prop_assert_eq!(x.merged(x), x.clone());
        }
        // a later snapshot absorbs an earlier one of the same source
        prop_assert_eq!(ma.merged(&ma_early), ma.clone());
    }

    #[test]
    fn learn_union_equals_merge_of_learns(a in traffic(), b in traffic()) {
        let mut all = a.clone();
        all.extend(b.iter().cloned());
        let whole = learn("x", &all);
        let parts = learn("a", &a).merged(&learn("b", &b));
        prop_assert_eq!(spec_without_sources(&whole), spec_without_sources(&parts));
        prop_assert_eq!(whole.endpoints(), parts.endpoints());
    }

    #[test]
    fn native_json_round_trips(a in traffic(), b in traffic()) {
        let m = learn("a", &a).merged(&learn("b", &b));
        let back = ApiModel::from_json(&m.to_json());
        prop_assert!(back.is_ok());
        let back = back.unwrap_or_default();
        prop_assert_eq!(&back, &m);
        prop_assert_eq!(back.to_json(), m.to_json());
    }
}

#[test]
fn version_is_checked() {
    let m = ApiModel::new();
    let j = m.to_json();
    assert!(j.starts_with(r#"{"apitap_model_version":1"#), "{j}");
    assert!(ApiModel::from_json(&j.replace(":1,", ":2,")).is_err());
    assert!(ApiModel::from_json("not json").is_err());
}

#[test]
fn counts_sum_over_sources_and_latency_merges_exactly() {
    let e = Ex {
        kind: 0,
        id: 1,
        status: 0,
        flag: false,
        lat: 20,
    };
    let a = learn("a", &[(e.clone(), 5), (e.clone(), 6)]);
    let b = learn("b", &[(e.clone(), 7)]);
    let m = a.merged(&b).merged(&a);
    let rows = m.endpoints();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].count, 3);
    let d = m.derived();
    let ep = &d
        .values()
        .next()
        .map(|v| v[0].ep.clone())
        .unwrap_or_default();
    assert_eq!(ep.latency.count(), 3);
    assert_eq!((ep.first, ep.last), (5, 7));
}
