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
            o.request_headers.push("X-Custom", &vals[5]);
            o.request_headers.push("Cookie", &format!("sid={}; theme=dark", vals[6]));
            o.request_headers.push("Authorization", &format!("Bearer {}", vals[7]));
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
fn examples_are_synthesised_when_enabled() {
    let cfg = LearnConfig {
        examples: true,
        ..LearnConfig::default()
    };
    let mut m = ApiModel::new();
    let resp = r#"{"password":"hunter2hunter2","email":"ann@example.com","card":"4111 1111 1111 1111","jwt":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl","aws":"AKIAIOSFODNN7EXAMPLE","title":"Hello","n":4242}"#;
    m.observe(&obs("GET", "/x", 200, resp), &cfg);
    let spec = m.to_openapi_json(&ExportOptions::default());
    for secret in [
        "hunter2hunter2",
        "ann@example.com",
        "4111 1111 1111 1111",
        "eyJhbGciOiJIUzI1NiJ9",
        "AKIAIOSFODNN7EXAMPLE",
        "Hello",
        "4242",
    ] {
        assert!(!spec.contains(secret), "{secret} leaked");
        assert!(!m.to_json().contains(secret), "{secret} leaked into model");
    }
    let v: serde_json::Value = serde_json::from_str(&spec).unwrap_or_default();
    let props = &v["paths"]["/x"]["get"]["responses"]["200"]["content"]["application/json"]
        ["schema"]["properties"];
    assert_eq!(props["title"]["examples"][0], "string");
    assert_eq!(props["email"]["examples"][0], "user@example.com");
    assert_eq!(props["n"]["examples"][0], 0);
}

/// The issue's leaks: letters-only secrets under keys that are not on a blocklist, repeated
/// by a few users until they looked like an enum; PII in path segments with few values.
#[test]
fn repeated_secrets_and_pii_segments_never_leak() {
    let users = [
        ("correcthorse", "smithson", "bluebottle", "rosebud"),
        ("batterystaple", "okafor", "greenfinch", "sledge"),
        ("tangerinedream", "walsh", "redkite", "kestrel"),
    ];
    let paths = [
        "/lookup/ssn/123-45-6789",
        "/users/+14155550142/profile",
        "/users/ann%40example.com/profile",
        "/accounts/GB82WEST12345698765432",
        "/cards/4111111111111111",
    ];
    for examples in [false, true] {
        let cfg = LearnConfig {
            examples,
            ..LearnConfig::default()
        };
        let mut m = ApiModel::new();
        for i in 0..60 {
            let (pp, maiden, word, answer) = users[i % 3];
            let body = format!(
                r#"{{"passphrase":"{pp}","mothers_maiden":"{maiden}","memorable_word":"{word}","status":"{}"}}"#,
                ["active", "closed"][i % 2]
            );
            let o = with_req(obs("POST", "/login", 200, "{}"), "application/json", &body);
            m.observe(&o, &cfg);
            let form = format!("security_answer={answer}&nickname={word}");
            let f = with_req(
                obs("POST", "/recover", 204, ""),
                "application/x-www-form-urlencoded",
                &form,
            );
            m.observe(&f, &cfg);
            m.observe(&obs("GET", paths[i % paths.len()], 200, "{}"), &cfg);
        }
        let outs = [
            m.to_json(),
            m.to_openapi_json(&ExportOptions::default()),
            m.to_yaml(&ExportOptions::default()),
            serde_json::to_string(&m.endpoints()).unwrap_or_default(),
        ];
        let planted = users.iter().flat_map(|u| [u.0, u.1, u.2, u.3]).chain([
            "123-45-6789",
            "4155550142",
            "ann%40example.com",
            "ann@example.com",
            "GB82WEST",
            "4111111111111111",
        ]);
        for p in planted {
            for out in &outs {
                assert!(!out.contains(p), "{p} leaked (examples: {examples})");
            }
        }
        // the vocabulary under a category key still is an enum
        let spec = m.to_openapi_json(&ExportOptions::default());
        let v: serde_json::Value = serde_json::from_str(&spec).unwrap_or_default();
        let login = &v["paths"]["/login"]["post"]["requestBody"]["content"]["application/json"]
            ["schema"]["properties"];
        assert_eq!(
            login["status"]["enum"],
            serde_json::json!(["active", "closed"])
        );
        assert_eq!(login["passphrase"]["x-apitap-pii"]["secret"], 60);
        assert!(login["mothers_maiden"].get("enum").is_none());
        assert!(login["memorable_word"].get("enum").is_none());
        // PII classes inventoried
        for class in ["ssn", "phone", "email", "iban", "card", "secret"] {
            assert!(
                spec.contains(&format!("\"{class}\": ")),
                "{class} not inventoried"
            );
        }
    }
}
