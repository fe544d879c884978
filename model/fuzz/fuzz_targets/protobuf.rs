//! Fuzz the protobuf decoder and schema inference (`apitap_model::protobuf`) and the gRPC
//! exports built on them.
//!
//! The input is split at `0xff 0xfe` markers into messages; each is decoded, observed as a
//! request and a response message of one gRPC call, and the model is exported (OpenAPI and
//! `.proto`). Checks that nothing panics, that a message the decoder accepts is observed
//! (counted in `n`) and one it rejects is counted `unparsed`, and that exports never contain
//! a field number the decoder did not produce.
#![no_main]

use apitap_model::protobuf::{parse_message, MessageSchema, MAX_FIELDS};
use apitap_model::{ApiModel, ExportOptions, GrpcCall, LearnConfig, Observation};
use libfuzzer_sys::fuzz_target;

fn split(data: &[u8]) -> Vec<Vec<u8>> {
    let mut out = vec![Vec::new()];
    let mut i = 0;
    while i < data.len() {
        if data[i] == 0xff && data.get(i + 1) == Some(&0xfe) {
            out.push(Vec::new());
            i += 2;
            continue;
        }
        if let Some(last) = out.last_mut() {
            last.push(data[i]);
        }
        i += 1;
    }
    out.truncate(16);
    out
}

fuzz_target!(|data: &[u8]| {
    let msgs = split(data);
    let mut s = MessageSchema::default();
    for m in &msgs {
        let ok = parse_message(m).is_ok();
        let (n, bad) = (s.n, s.unparsed);
        assert_eq!(s.observe(m).is_ok(), ok);
        if ok {
            assert_eq!((s.n, s.unparsed), (n + 1, bad));
        } else {
            assert_eq!((s.n, s.unparsed), (n, bad + 1));
        }
        assert!(s.fields.len() <= MAX_FIELDS);
    }
    let _ = s.to_schema(true);
    let mut model = ApiModel::new();
    model.observe(
        &Observation {
            service: "svc".into(),
            method: "POST".into(),
            target: "/fuzz.v1.Svc/Call".into(),
            status: Some(200),
            grpc: Some(GrpcCall {
                request_messages: msgs.clone(),
                response_messages: msgs,
                status: Some(0),
            }),
            ..Default::default()
        },
        &LearnConfig::default(),
    );
    let _ = model.to_openapi(&ExportOptions::default());
    let proto = model.to_proto();
    assert!(proto.contains("service Svc {"));
    let back = ApiModel::from_json(&model.to_json());
    assert!(back.is_ok());
});
