#![allow(dead_code)]
use apitap_model::Observation;

pub fn obs(method: &str, target: &str, status: u16, resp: &str) -> Observation {
    Observation {
        service: "api.example.com".into(),
        server: Some("10.0.0.1:80".into()),
        method: method.into(),
        target: target.into(),
        request_headers: vec![
            ("Host".into(), "api.example.com".into()),
            ("Accept".into(), "*/*".into()),
        ]
        .into(),
        request_body: None,
        request_body_truncated: false,
        status: Some(status),
        response_headers: vec![("Content-Type".into(), "application/json".into())].into(),
        response_body: if resp.is_empty() {
            None
        } else {
            Some(resp.as_bytes().to_vec())
        },
        response_body_truncated: false,
        latency_ms: Some(3.0),
        ts_unix_ms: 1_700_000_000_000,
        grpc: None,
    }
}

pub fn with_req(mut o: Observation, ct: &str, body: &str) -> Observation {
    o.request_headers.push("Content-Type", ct);
    o.request_body = Some(body.as_bytes().to_vec());
    o
}

pub fn uuid(i: u64) -> String {
    let h = i.wrapping_mul(0x9E3779B97F4A7C15) ^ 0xdeadbeef;
    format!(
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        h >> 32,
        (h >> 16) & 0xffff,
        h & 0xfff,
        (h >> 20) & 0xfff,
        h & 0xffffffffffff
    )
}
