//! The export of a rich model is valid OpenAPI 3.1 per `openapi-spec-validator`.
//! Skips (with a message) when python3 or the package is missing, unless
//! `APITAP_REQUIRE_VALIDATOR=1`, then fails.
mod common;
use apitap_model::{ApiModel, ExportOptions, LearnConfig};
use common::*;
use std::process::Command;

pub fn rich_model() -> ApiModel {
    let cfg = LearnConfig {
        examples: true,
        ..LearnConfig::default()
    };
    let mut m = ApiModel::new();
    for i in 0..30u64 {
        let status = ["active", "closed", "pending"][(i % 3) as usize];
        let mut o = obs(
            "GET",
            &format!("/api/v2/users/{}?include=orders&limit={}", 100 + i, i),
            if i % 7 == 0 { 404 } else { 200 },
            &format!(
                r#"{{"id":{i},"uuid":"{}","email":"u{i}@example.com","site":"https://x.org/{i}","ip":"10.0.0.{i}","born":"1990-01-02","at":"2024-01-01T00:00:00Z","status":"{status}","score":{},"nick":{},"meta":{{"{i}":{{"v":1}}}},"tags":["a","b"],"nested":{{"deep":{{"x":true}}}}}}"#,
                uuid(i),
                if i % 2 == 0 { "1.5" } else { "2" },
                if i % 3 == 0 { "null" } else { r#""n""# }
            ),
        );
        o.request_headers.push("X-Request-Id", &format!("r{i}"));
        o.request_headers.push("Authorization", "Bearer abc");
        o.request_headers.push("Cookie", "sid=1; theme=dark");
        o.response_headers.push("X-RateLimit-Remaining", "10");
        m.observe(&o, &cfg);
        m.observe(
            &with_req(
                obs("POST", "/api/v2/users", 201, r#"{"id":1}"#),
                "application/json",
                r#"{"name":"a","age":3}"#,
            ),
            &cfg,
        );
        m.observe(
            &with_req(
                obs("POST", "/api/v2/login", 200, ""),
                "application/x-www-form-urlencoded",
                "user=a&pass=b",
            ),
            &cfg,
        );
        let mp = "--B\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nhi\r\n--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n\r\n\x01\x02\r\n--B--\r\n";
        m.observe(
            &with_req(
                obs("POST", "/api/v2/uploads", 201, ""),
                "multipart/form-data; boundary=B",
                mp,
            ),
            &cfg,
        );
        let mut t = obs("GET", "/healthz", 200, "ok");
        t.response_headers = vec![("Content-Type".into(), "text/plain".into())].into();
        m.observe(&t, &cfg);
        let mut b = obs("GET", &format!("/files/{}", uuid(i)), 200, "\u{1}\u{2}");
        b.response_headers =
            vec![("Content-Type".into(), "application/octet-stream".into())].into();
        m.observe(&b, &cfg);
        let mut nr = obs("PUT", "/api/v2/slow", 200, "");
        nr.status = None;
        m.observe(&nr, &cfg);
        m.observe(&obs("PROPFIND", "/dav", 207, ""), &cfg);
    }
    m
}

fn validator_available() -> bool {
    Command::new("python3")
        .args(["-c", "import openapi_spec_validator"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

#[test]
fn export_is_valid_openapi_31() {
    let m = rich_model();
    let doc = m.to_openapi(&ExportOptions::default());
    assert_eq!(doc["openapi"], "3.1.0");
    let get = &doc["paths"]["/api/v2/users/{userId}"]["get"];
    assert_eq!(get["operationId"], "getApiV2UsersByUserId");
    let st = &get["responses"]["200"]["content"]["application/json"]["schema"];
    assert_eq!(st["properties"]["uuid"]["format"], "uuid");
    assert_eq!(st["properties"]["email"]["format"], "email");
    assert_eq!(st["properties"]["site"]["format"], "uri");
    assert_eq!(st["properties"]["ip"]["format"], "ipv4");
    assert_eq!(st["properties"]["born"]["format"], "date");
    assert_eq!(st["properties"]["at"]["format"], "date-time");
    assert_eq!(st["properties"]["score"]["type"], "number");
    assert_eq!(
        st["properties"]["nick"]["type"],
        serde_json::json!(["string", "null"])
    );
    assert_eq!(
        st["properties"]["status"]["enum"],
        serde_json::json!(["active", "closed", "pending"])
    );
    assert!(st["properties"]["meta"]["additionalProperties"].is_object());
    assert_eq!(get["security"], serde_json::json!([{"bearerAuth": []}]));
    assert!(get["x-apitap-latency-ms"]["p50"].is_number());
    let up = &doc["paths"]["/api/v2/uploads"]["post"]["requestBody"]["content"]
        ["multipart/form-data"]["schema"];
    assert_eq!(up["properties"]["file"]["format"], "binary");
    if !validator_available() {
        if std::env::var("APITAP_REQUIRE_VALIDATOR").as_deref() == Ok("1") {
            panic!(
                "APITAP_REQUIRE_VALIDATOR=1 but python3 -m openapi_spec_validator is not available"
            );
        }
        eprintln!("SKIPPED validation: python3 openapi-spec-validator not installed");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in [
        ("spec.json", m.to_openapi_json(&ExportOptions::default())),
        ("spec.yaml", m.to_yaml(&ExportOptions::default())),
    ] {
        let p = dir.path().join(name);
        std::fs::write(&p, text).expect("write spec");
        let out = Command::new("python3")
            .args(["-m", "openapi_spec_validator"])
            .arg(&p)
            .output()
            .expect("run validator");
        assert!(
            out.status.success(),
            "{name} invalid:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
