//! Fuzz JSON body learning (`SchemaNode::observe_json_bytes`: the `sound_json` check, the
//! `SoundText` reader over checked text, serde_json's reader on a copy for everything else,
//! JSON streams) through `ApiModel::observe`.
//!
//! The input is split at the first `0xff` byte into a request body and a response body
//! (the whole input as both without one); the exchange is observed three times (so the
//! later walks take the streaming paths of known properties and maps), then the model is
//! exported. Checks, beyond no panic, no stack overflow and no blow-up:
//! - a response body that serde_json reads as one value is learned as a body schema of
//!   `application/json` under the status, and a schema of a single type names that
//!   value's JSON type;
//! - a response body that is not JSON at all (not one value, nor a stream of them) leaves
//!   no schema of a type that JSON has (nothing half-walked).
#![no_main]

use apitap_model::{ApiModel, ExportOptions, LearnConfig, Observation};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let (req, resp) = match data.iter().position(|&x| x == 0xff) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, data),
    };
    let mut obs = Observation {
        service: "fuzz".into(),
        method: "POST".into(),
        target: "/items".into(),
        request_body: Some(req.to_vec()),
        status: Some(200),
        response_body: Some(resp.to_vec()),
        ..Default::default()
    };
    obs.request_headers.push("content-type", "application/json");
    obs.response_headers
        .push("content-type", "application/json");
    let cfg = LearnConfig::default();
    let mut model = ApiModel::default();
    for _ in 0..3 {
        model.observe(&obs, &cfg);
    }
    let spec = model.to_openapi(&ExportOptions::default());
    let schema = spec
        .pointer("/paths/~1items/post/responses/200/content/application~1json/schema")
        .cloned();
    let value = serde_json::from_slice::<Value>(resp).ok();
    let one_value = value.is_some();
    if let Some(v) = &value {
        let schema = schema.as_ref().expect("a JSON response body has a schema");
        // a schema with a single type names the document's type
        if let Some(t) = schema.get("type").and_then(Value::as_str) {
            let want: &[&str] = match v {
                Value::Null => &["null"],
                Value::Bool(_) => &["boolean"],
                Value::Number(_) => &["integer", "number"],
                Value::String(_) => &["string"],
                Value::Array(_) => &["array"],
                Value::Object(_) => &["object"],
            };
            assert!(want.contains(&t), "{v} learned as {t}");
        }
    }
    let stream = serde_json::Deserializer::from_slice(resp)
        .into_iter::<serde::de::IgnoredAny>()
        .count()
        > 0
        && serde_json::Deserializer::from_slice(resp)
            .into_iter::<serde::de::IgnoredAny>()
            .all(|v| v.is_ok());
    if !one_value && !stream {
        let typed = schema.as_ref().and_then(|s| s.get("type"));
        assert!(
            typed.is_none_or(|t| t == "string"),
            "not JSON, yet learned as {typed:?}"
        );
    }
    let _ = model.to_openapi_json(&ExportOptions::default());
});
