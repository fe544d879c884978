//! Fuzz the collector's push intake (`apitap_collector::validate::parse_push`) and what the
//! collector then does with an accepted model: merge it and export it.
//!
//! The first byte picks the encoding: odd → the rest is gzip-compressed here and sent as
//! `gzip` (so the decompressing reader sees valid streams of fuzzed JSON), even → `identity`.
//! Small limits (1 MiB decompressed, 20,000 values, depth 64, 8 sources) keep runs fast;
//! rejections are fine. On an accepted push it checks:
//! - the merge laws the store relies on: `m ⊔ m = m`, and `m ⊔ b = b ⊔ m` with a model
//!   learned from real observations (`b`);
//! - the native JSON of an accepted model is accepted again and reads back equal (what the
//!   store writes, it can read);
//! - OpenAPI export, endpoint summaries and the explanation of the merged model do not panic.
#![no_main]

use apitap_collector::validate::{parse_push, Limits};
use apitap_model::{ApiModel, ExportOptions, LearnConfig, Observation};
use libfuzzer_sys::fuzz_target;
use std::io::Write;
use std::sync::OnceLock;

fn base() -> &'static ApiModel {
    static B: OnceLock<ApiModel> = OnceLock::new();
    B.get_or_init(|| {
        let mut m = ApiModel::new();
        let cfg = LearnConfig {
            source: "base".into(),
            ..LearnConfig::default()
        };
        for (method, path, status, body) in [
            (
                "GET",
                "/users/17",
                200,
                &br#"{"id":17,"name":"x","tags":["a"]}"#[..],
            ),
            (
                "GET",
                "/users/18",
                200,
                br#"{"id":18,"name":"y","tags":[]}"#,
            ),
            ("POST", "/users", 201, br#"{"id":19}"#),
            ("GET", "/users/me", 200, br#"{"id":1}"#),
        ] {
            let o = Observation {
                service: "api".into(),
                method: method.into(),
                target: path.into(),
                status: Some(status),
                response_headers: vec![("content-type".into(), "application/json".into())].into(),
                response_body: Some(body.to_vec()),
                latency_ms: Some(1.5),
                ..Observation::default()
            };
            m.observe(&o, &cfg);
        }
        m
    })
}

fn limits() -> Limits {
    Limits {
        max_decompressed: 1 << 20,
        max_values: 20_000,
        max_depth: 64,
        max_sources: 8,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let (encoding, body) = if first & 1 == 1 {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        if e.write_all(rest).is_err() {
            return;
        }
        let Ok(z) = e.finish() else { return };
        ("gzip", z)
    } else {
        ("identity", rest.to_vec())
    };
    let Ok(m) = parse_push(encoding, &body, &limits()) else {
        return;
    };
    assert!(
        m.merged(&m) == m,
        "merge is not idempotent on an accepted push"
    );
    let b = base();
    let mb = m.merged(b);
    assert!(mb == b.merged(&m), "merge is not commutative");
    let again = parse_push("identity", m.to_json().as_bytes(), &Limits::default())
        .expect("the native JSON of an accepted push is accepted");
    assert!(again == m, "an accepted push does not read back equal");
    let _ = mb.to_openapi(&ExportOptions::default());
    let _ = mb.endpoints();
    let _ = mb.explain();
});
