//! Adaptive body sampling on a long stream of one endpoint whose bodies always keep an enum
//! short of its thresholds somewhere (`agent/src/learn/sample.rs`).
//!
//! Realistic bodies have such positions: a category-keyed field with one constant value
//! (`"currency": "EUR"` never gets its second value), or a rare optional field whose few
//! values recur too seldom to reach the enum's counts. The sampler must still thin the
//! bodies out there (the earlier blanket "enum forming" hold kept every body of such an
//! endpoint inspected for 1,024 exchanges), and what the frequent positions export must
//! stay what learning every body exports, including a value that appears only late.
use apitap::learn::Learner;
use apitap_engine::exchange::{Exchange, MessageHead, Request, Response};
use apitap_model::{ExportOptions, LearnConfig};
use serde_json::Value;
use std::net::SocketAddr;

const STATUSES: [&str; 3] = ["open", "paid", "shipped"];
const KINDS: [&str; 6] = [
    "gift",
    "bulk",
    "retail",
    "sample",
    "internal",
    "replacement",
];

/// The response body of exchange `i`: a frequent enum (`status`, which gains `refunded`
/// from exchange 900 on), a constant one (`currency`), a rare optional one (`kind`, one
/// exchange in 97, six values).
fn body(i: usize) -> Vec<u8> {
    let status = if i >= 900 && i.is_multiple_of(4) {
        "refunded"
    } else {
        STATUSES[i % 3]
    };
    let kind = if i.is_multiple_of(97) {
        format!(r#","kind":"{}""#, KINDS[(i / 97) % KINDS.len()])
    } else {
        String::new()
    };
    format!(r#"{{"id":{i},"status":"{status}","currency":"EUR","total":{i}.5{kind}}}"#).into_bytes()
}

/// Learns `n` exchanges of `GET /api/orders/{id}` through the learner's body gate (what the
/// pipeline does: a body the gate skips is never kept), or every body with `all`.
fn learn(n: usize, all: bool) -> Learner {
    let mut l = Learner::new(LearnConfig::default()).learn_all(all);
    let gate = l.gate();
    let server: SocketAddr = ([10, 0, 0, 1], 8080).into();
    for i in 0..n {
        let mut req = Request {
            head: MessageHead::new(["GET", &format!("/api/orders/{}", 100_000 + i), "HTTP/1.1"]),
            ..Default::default()
        };
        let b = body(i);
        let mut resp = Response {
            status: Some(200),
            head: MessageHead::default().with_header("Content-Type", "application/json"),
            body_len: b.len() as u64,
            ..Default::default()
        };
        let (kr, ks, gate_key) = match &gate {
            Some(g) => {
                let q = g.0.request(server, &req);
                let ks = g.0.response(server, Some(&req), Some(q.key), q.keep, &resp);
                (q.keep, ks, Some(q.key))
            }
            None => (true, true, None),
        };
        req.body = kr.then(Vec::new);
        resp.body = ks.then_some(b);
        l.observe_exchange(&Exchange {
            conn_id: i as u64,
            index: 0,
            client: ([10, 0, 0, 2], 40_000).into(),
            server,
            request: Some(req),
            response: Some(resp),
            flags: Vec::new(),
            stream_id: None,
            gate_key,
        });
    }
    l
}

/// The 200 response schema's properties, without the `x-apitap-*` counts and dates.
fn props(l: &Learner) -> Value {
    let spec = l.model.to_openapi(&ExportOptions::default());
    let mut s = spec["paths"]
        .as_object()
        .and_then(|p| p.values().next())
        .map(|p| p["get"]["responses"]["200"]["content"]["application/json"]["schema"].clone())
        .unwrap_or(Value::Null);
    fn strip(v: &mut Value) {
        match v {
            Value::Object(o) => {
                o.retain(|k, _| !k.starts_with("x-apitap"));
                o.values_mut().for_each(strip);
            }
            Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut s);
    s
}

#[test]
fn sampling_engages_where_an_enum_never_forms() {
    let n = 1500;
    let sampled = learn(n, false);
    let st = sampled.sample_stats();
    let skipped = sampled.stats.bodies_skipped;
    // the blanket hold inspected the first 1,024 exchanges (<= 32 % skipped)
    assert!(
        skipped * 100 >= n as u64 * 70,
        "only {skipped} of {n} exchanges had a body skipped ({st:?})"
    );
    let all = learn(n, true);
    assert_eq!(all.stats.bodies_skipped, 0);
    let (p, q) = (props(&sampled), props(&all));
    assert_eq!(
        p["properties"]["status"]["enum"],
        serde_json::json!(["open", "paid", "refunded", "shipped"]),
        "{p:#}"
    );
    for k in ["id", "status", "currency", "total"] {
        assert_eq!(
            p["properties"][k], q["properties"][k],
            "{k}: {p:#} vs {q:#}"
        );
    }
    assert_eq!(p["required"], q["required"]);
}

/// `--learn-all` also observes every element of a long array in full (thinning is a
/// sample too): the e-mail inventory of a 100-element list counts all 100 there, and only
/// the elements inspected in full by default; the schema is the same either way.
#[test]
fn learn_all_turns_array_thinning_off() {
    let items: Vec<String> = (0..100)
        .map(|i| format!(r#"{{"id":{i},"contact":"user{i}@example.com"}}"#))
        .collect();
    let b = format!(r#"{{"data":[{}]}}"#, items.join(",")).into_bytes();
    let learn = |all: bool| {
        let mut l = Learner::new(LearnConfig::default()).learn_all(all);
        l.observe_exchange(&Exchange {
            conn_id: 1,
            index: 0,
            client: ([10, 0, 0, 2], 40_000).into(),
            server: ([10, 0, 0, 1], 8080).into(),
            request: Some(Request {
                head: MessageHead::new(["GET", "/api/users", "HTTP/1.1"]),
                body: Some(Vec::new()),
                ..Default::default()
            }),
            response: Some(Response {
                status: Some(200),
                head: MessageHead::default().with_header("Content-Type", "application/json"),
                body_len: b.len() as u64,
                body: Some(b.clone()),
                ..Default::default()
            }),
            flags: Vec::new(),
            stream_id: None,
            gate_key: None,
        });
        l
    };
    let emails = |l: &Learner| {
        let spec = l.model.to_openapi(&ExportOptions::default());
        spec["paths"]["/api/users"]["get"]["responses"]["200"]["content"]["application/json"]
            ["schema"]["properties"]["data"]["items"]["properties"]["contact"]["x-apitap-pii"]
            ["email"]
            .as_u64()
    };
    let (all, thin) = (learn(true), learn(false));
    assert_eq!(emails(&all), Some(100));
    let n = emails(&thin).unwrap_or(0);
    assert!((16..40).contains(&n), "{n} e-mails inspected of 100");
    assert_eq!(props(&all), props(&thin));
}
