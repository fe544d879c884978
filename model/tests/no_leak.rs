//! With examples off, no value from observed traffic appears in the model or the spec.
mod common;
use apitap_model::{ApiModel, ExportOptions, LearnConfig};
use common::*;
use proptest::prelude::*;

fn secret() -> impl Strategy<Value = String> {
    "[a-z]{3}[0-9]{3}[A-Za-z]{4}[0-9]{2}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn values_never_leak(vals in proptest::collection::vec(secret(), 8), n in 1usize..6) {
        let cfg = LearnConfig::default();
        let mut m = ApiModel::new();
        for _ in 0..n {
            let resp = format!(r#"{{"token":"{}","user":{{"name":"{}","tags":["{}"]}},"n":1}}"#, vals[0], vals[1], vals[2]);
            let mut o = obs("POST", &format!("/api/items?q={}&page=2", vals[3]), 200, &resp);
            o = with_req(o, "application/json", &format!(r#"{{"comment":"{}"}}"#, vals[4]));
            o.request_headers.push(("X-Custom".into(), vals[5].clone()));
            o.request_headers.push(("Cookie".into(), format!("sid={}; theme=dark", vals[6])));
            o.request_headers.push(("Authorization".into(), format!("Bearer {}", vals[7])));
            m.observe(&o, &cfg);
            let f = with_req(obs("POST", "/api/form", 201, ""), "application/x-www-form-urlencoded", &format!("a={}&b={}", vals[1], vals[2]));
            m.observe(&f, &cfg);
        }
        let outputs = [m.to_json(), m.to_openapi_json(&ExportOptions::default()), m.to_yaml(&ExportOptions::default())];
        for out in &outputs {
            for v in &vals {
                prop_assert!(!out.contains(v.as_str()), "value {} leaked", v);
            }
        }
    }
}

#[test]
fn examples_are_redacted_when_enabled() {
    let cfg = LearnConfig {
        examples: true,
        ..LearnConfig::default()
    };
    let mut m = ApiModel::new();
    let resp = r#"{"password":"hunter2hunter2","email":"ann@example.com","card":"4111 1111 1111 1111","jwt":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl","aws":"AKIAIOSFODNN7EXAMPLE","title":"Hello"}"#;
    m.observe(&obs("GET", "/x", 200, resp), &cfg);
    let spec = m.to_openapi_json(&ExportOptions::default());
    for secret in [
        "hunter2hunter2",
        "ann@example.com",
        "4111 1111 1111 1111",
        "eyJhbGciOiJIUzI1NiJ9",
        "AKIAIOSFODNN7EXAMPLE",
    ] {
        assert!(!spec.contains(secret), "{secret} leaked");
        assert!(!m.to_json().contains(secret), "{secret} leaked into model");
    }
    assert!(spec.contains("Hello"), "non-secret example kept");
    assert!(spec.contains("<redacted>"));
}
