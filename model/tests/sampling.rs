//! Adaptive body sampling as the model sees it: bodies skipped by the sampler leave no body
//! evidence, are counted, and do not make a request body look optional or a response look
//! empty; the counters join like every other counter.
mod common;
use apitap_model::{ApiModel, ExportOptions, Inspect, LearnConfig};
use common::{obs, with_req};

const SKIP: Inspect = Inspect {
    request: false,
    response: false,
};

#[test]
fn skipped_bodies_are_counted_not_learned() {
    let cfg = LearnConfig::default();
    let mut m = ApiModel::new();
    for i in 0..10 {
        let mut o = with_req(
            obs("POST", "/users", 201, r#"{"id":1}"#),
            "application/json",
            r#"{"name":"a"}"#,
        );
        let inspect = if i < 3 { Inspect::ALL } else { SKIP };
        if inspect == SKIP {
            // what the engine hands over for a skipped body
            o.request_body = None;
            o.response_body = None;
        }
        m.observe_inspected(&o, &cfg, inspect);
    }
    let doc = m.to_openapi(&ExportOptions::default());
    let op = &doc["paths"]["/users"]["post"];
    assert_eq!(op["x-apitap-count"], 10);
    assert_eq!(op["x-apitap-bodies-sampled"], 3);
    // every inspected request had a body: still required
    assert_eq!(op["requestBody"]["required"], true, "{op}");
    let resp = &op["responses"]["201"];
    assert_eq!(resp["x-apitap-count"], 10);
    assert_eq!(
        resp["content"]["application/json"]["schema"]["properties"]["id"]["type"],
        "integer"
    );
    // a snapshot joined with itself is itself; the skipped counters too
    let j = m.merged(&m);
    assert_eq!(j, m);
    let ep = m.combined().services["api.example.com"].derive()[0]
        .ep
        .clone();
    assert_eq!((ep.bodies_skipped, ep.req_skipped), (7, 7));
    assert_eq!(ep.resp[&201].skipped, 7);
}

#[test]
fn every_body_inspected_exports_no_sampling_extension() {
    let cfg = LearnConfig::default();
    let mut m = ApiModel::new();
    m.observe(&obs("GET", "/users", 200, r#"{"id":1}"#), &cfg);
    let doc = m.to_openapi(&ExportOptions::default());
    assert!(doc["paths"]["/users"]["get"]
        .get("x-apitap-bodies-sampled")
        .is_none());
}
