//! gRPC learning against real protobuf encodings.
//!
//! `fixtures/grpc/calls.bin` holds calls whose messages were encoded by the Python
//! `protobuf` runtime from `fixtures/grpc/recall.proto` (`gen.py` regenerates them), and
//! `expected.json` the ground truth taken from protoc's descriptors. The tests measure
//! method recall and field recall by number and wire type, check the OpenAPI and `.proto`
//! exports (the latter compiled by `python3 -m grpc_tools.protoc`, PyPI grpcio-tools), the
//! diff rules, that the decoder never panics, and the merge laws with gRPC evidence.
use apitap_model::protobuf::{FieldKind, MessageSchema};
use apitap_model::{diff, ApiModel, ExportOptions, GrpcCall, LearnConfig, Observation};
use proptest::prelude::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::process::Command;

const FIX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/grpc");

fn u16_at(b: &[u8], p: &mut usize) -> usize {
    let v = u16::from_be_bytes([b[*p], b[*p + 1]]) as usize;
    *p += 2;
    v
}

/// Read `calls.bin` (format in gen.py).
fn calls() -> Vec<Observation> {
    let b = std::fs::read(format!("{FIX}/calls.bin")).expect("calls.bin");
    assert_eq!(&b[..8], b"APTGRPC1");
    let mut p = 8;
    let mut out = Vec::new();
    while p < b.len() {
        let n = u16_at(&b, &mut p);
        let path = String::from_utf8(b[p..p + n].to_vec()).expect("path");
        p += n;
        let status = b[p];
        p += 1;
        let mut dirs = Vec::new();
        for _ in 0..2 {
            let count = u16_at(&b, &mut p);
            let mut msgs = Vec::new();
            for _ in 0..count {
                assert_eq!(b[p], 0, "uncompressed");
                let len = u32::from_be_bytes([b[p + 1], b[p + 2], b[p + 3], b[p + 4]]) as usize;
                p += 5;
                msgs.push(b[p..p + len].to_vec());
                p += len;
            }
            dirs.push(msgs);
        }
        let response_messages = dirs.pop().unwrap_or_default();
        let request_messages = dirs.pop().unwrap_or_default();
        out.push(Observation {
            service: "store.test:50051".into(),
            server: Some("10.0.0.2:50051".into()),
            method: "POST".into(),
            target: path,
            request_headers: vec![("content-type".into(), "application/grpc".into())].into(),
            status: Some(200),
            response_headers: vec![("content-type".into(), "application/grpc".into())].into(),
            latency_ms: Some(1.0),
            ts_unix_ms: 1_700_000_000_000 + out.len() as i64,
            grpc: Some(GrpcCall {
                request_messages,
                response_messages,
                status: (status != 255).then_some(status as u32),
            }),
            ..Default::default()
        });
    }
    out
}

fn learn(obs: &[Observation], source: &str) -> ApiModel {
    let mut m = ApiModel::new();
    let cfg = LearnConfig {
        source: source.into(),
        ..LearnConfig::default()
    };
    m.observe_all(obs, &cfg);
    m
}

fn expected() -> Value {
    let s = std::fs::read_to_string(format!("{FIX}/expected.json")).expect("expected.json");
    serde_json::from_str(&s).expect("json")
}

/// Inferred (path of field numbers, wire type) of a message schema.
fn inferred(m: &MessageSchema, prefix: &[u64], out: &mut BTreeSet<(Vec<u64>, String)>) {
    for (num, f) in &m.fields {
        let mut path = prefix.to_vec();
        path.push(*num as u64);
        out.insert((path.clone(), f.wire_type().name().to_string()));
        if f.kind() == FieldKind::Message {
            if let Some(sub) = &f.msg {
                inferred(sub, &path, out);
            }
        }
    }
}

#[test]
fn method_and_field_recall() {
    let m = learn(&calls(), "a");
    let exp = expected();
    let combined = m.combined();
    let svc = combined.services.values().next().expect("one service");
    let derived = svc.derive();
    let mut found = 0;
    let methods = exp["methods"].as_array().expect("methods");
    let (mut hit, mut total, mut extra, mut inferred_total) = (0, 0, 0, 0);
    for em in methods {
        let path = em["path"].as_str().expect("path");
        let Some(d) = derived
            .iter()
            .find(|d| apitap_model::paths::template_string(&d.segs) == path && d.method == "POST")
        else {
            eprintln!("method not learned: {path}");
            continue;
        };
        let Some(g) = &d.ep.grpc else { continue };
        found += 1;
        assert_eq!(g.streaming().name(), em["streaming"], "{path}");
        for dir in ["request", "response"] {
            let schema = if dir == "request" {
                &g.request
            } else {
                &g.response
            };
            let mut inf = BTreeSet::new();
            inferred(schema, &[], &mut inf);
            let want: BTreeSet<(Vec<u64>, String)> = exp["fields"]
                .as_array()
                .expect("fields")
                .iter()
                .filter(|f| f["method"] == path && f["dir"] == dir)
                .map(|f| {
                    let p = f["path"]
                        .as_array()
                        .expect("path")
                        .iter()
                        .filter_map(Value::as_u64)
                        .collect();
                    (p, f["wire"].as_str().unwrap_or("").to_string())
                })
                .collect();
            for w in &want {
                total += 1;
                if inf.contains(w) {
                    hit += 1;
                } else {
                    eprintln!("missed {path} {dir} {w:?}");
                }
            }
            inferred_total += inf.len();
            for i in &inf {
                if !want.contains(i) {
                    extra += 1;
                    eprintln!("extra {path} {dir} {i:?}");
                }
            }
        }
    }
    let method_recall = found as f64 / methods.len() as f64;
    let field_recall = hit as f64 / total as f64;
    let precision = (inferred_total - extra) as f64 / inferred_total as f64;
    println!(
        "gRPC method recall {method_recall:.3} ({found}/{}), field recall by number and wire type {field_recall:.3} ({hit}/{total}), field precision {precision:.3}",
        methods.len()
    );
    assert_eq!(method_recall, 1.0);
    assert!(field_recall >= 0.95, "field recall {field_recall}");
}

#[test]
fn openapi_describes_grpc_operations() {
    let m = learn(&calls(), "a");
    let doc = m.to_openapi(&ExportOptions::default());
    let op = &doc["paths"]["/recall.v1.Store/Chat"]["post"];
    assert!(op.is_object(), "{}", doc["paths"]);
    let x = &op["x-apitap-grpc"];
    assert_eq!(x["service"], "recall.v1.Store");
    assert_eq!(x["method"], "Chat");
    assert_eq!(x["streaming"], "bidi");
    let codes: Vec<u64> = x["status-codes"]
        .as_array()
        .expect("codes")
        .iter()
        .filter_map(|c| c["code"].as_u64())
        .collect();
    assert!(codes.contains(&0), "{x}");
    let req = &op["requestBody"]["content"]["application/grpc"]["schema"];
    assert_eq!(req["properties"]["field_1"]["type"], "string", "{req}");
    assert_eq!(
        req["properties"]["field_2"]["x-protobuf-wire-type"],
        "varint"
    );
    assert_eq!(
        req["properties"]["field_3"]["properties"]["field_9"]["properties"]["field_5"]["format"],
        "double",
        "{req}"
    );
    let resp = &op["responses"]["200"]["content"]["application/grpc"]["schema"];
    assert_eq!(resp["type"], "object");
    // the learned values never appear
    let text = doc.to_string();
    for w in ["alpha", "harbor", "maple"] {
        assert!(!text.contains(w), "{w} leaked");
    }
    assert_eq!(
        doc["paths"]["/recall.v1.Store/ListItems"]["post"]["x-apitap-grpc"]["streaming"],
        "server"
    );
    assert_eq!(
        doc["paths"]["/recall.v1.Store/Upload"]["post"]["x-apitap-grpc"]["streaming"],
        "client"
    );
    // valid OpenAPI 3.1 (openapi-spec-validator, PyPI, installed by scripts/install-deps.sh)
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("grpc.json");
    std::fs::write(&f, doc.to_string()).expect("write");
    let out = Command::new("python3")
        .args(["-m", "openapi_spec_validator"])
        .arg(&f)
        .output()
        .expect("python3 -m openapi_spec_validator");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn learned_proto_compiles_with_protoc() {
    let m = learn(&calls(), "a");
    let proto = m.to_proto();
    assert!(proto.contains("package recall.v1;"), "{proto}");
    assert!(
        proto.contains("rpc Chat(stream ChatRequest) returns (stream ChatResponse);"),
        "{proto}"
    );
    assert!(
        proto.contains("rpc ListItems(ListItemsRequest) returns (stream ListItemsResponse);"),
        "{proto}"
    );
    assert!(proto.contains("int64 field_120 = 120;"), "{proto}");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("learned.proto"), &proto).expect("write");
    let out = Command::new("python3")
        .args(["-m", "grpc_tools.protoc", "-I"])
        .arg(dir.path())
        .arg(format!(
            "--descriptor_set_out={}",
            dir.path().join("learned.pb").display()
        ))
        .arg(format!("--python_out={}", dir.path().display()))
        .arg("learned.proto")
        .output()
        .expect("python3 -m grpc_tools.protoc (pip install grpcio-tools)");
    assert!(
        out.status.success(),
        "protoc rejected the learned .proto:\n{}\n{proto}",
        String::from_utf8_lossy(&out.stderr)
    );
    // and the learned schema decodes the real messages: parse each fixture message with the
    // generated Python class and check nothing lands in unknown fields
    let script = r#"
import sys, struct, importlib
from google.protobuf.unknown_fields import UnknownFieldSet
sys.path.insert(0, sys.argv[1])
pb = importlib.import_module("learned_pb2")
b = open(sys.argv[2], "rb").read()
p, ok, unknown = 8, 0, 0
while p < len(b):
    n = struct.unpack(">H", b[p:p+2])[0]; p += 2
    method = b[p:p+n].decode().rsplit("/", 1)[1]; p += n + 1
    for suffix in ("Request", "Response"):
        c = struct.unpack(">H", b[p:p+2])[0]; p += 2
        for _ in range(c):
            ln = struct.unpack(">I", b[p+1:p+5])[0]; p += 5
            msg = getattr(pb, method + suffix)()
            msg.ParseFromString(b[p:p+ln]); p += ln
            ok += 1
            stack = [msg]
            while stack:
                m = stack.pop()
                if len(UnknownFieldSet(m)) > 0:
                    unknown += 1
                for f, v in m.ListFields():
                    if f.message_type is not None:
                        stack.extend(v if f.is_repeated else [v])
print(ok, unknown)
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(dir.path())
        .arg(format!("{FIX}/calls.bin"))
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let nums: Vec<u64> = text
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    assert_eq!(nums.len(), 2, "{text}");
    assert!(nums[0] > 100, "{text}");
    assert_eq!(
        nums[1], 0,
        "messages with fields the learned .proto lacks: {text}"
    );
    println!("real messages parsed with the learned .proto: {}", nums[0]);
}

fn grpc_obs(path: &str, req: Vec<u8>, resp: Vec<Vec<u8>>) -> Observation {
    Observation {
        service: "svc".into(),
        method: "POST".into(),
        target: path.into(),
        status: Some(200),
        grpc: Some(GrpcCall {
            request_messages: vec![req],
            response_messages: resp,
            status: Some(0),
        }),
        ..Default::default()
    }
}

#[test]
fn diff_flags_removed_fields_and_wire_type_changes() {
    // v1: request {1: varint, 2: string}; response {1: string}
    let v1 = learn(
        &[grpc_obs(
            "/p.S/M",
            vec![0x08, 0x05, 0x12, 0x01, b'a'],
            vec![vec![0x0a, 0x01, b'b']],
        )],
        "a",
    );
    // v2: request field 2 removed, field 1 now 32-bit; response unchanged
    let v2 = learn(
        &[grpc_obs(
            "/p.S/M",
            vec![0x0d, 1, 0, 0, 0],
            vec![vec![0x0a, 0x01, b'b']],
        )],
        "a",
    );
    let opts = ExportOptions::default();
    let d = diff(&v1.to_openapi(&opts), &v2.to_openapi(&opts));
    let kinds: Vec<&str> = d.breaking.iter().map(|c| c.kind.as_str()).collect();
    assert!(kinds.contains(&"grpc-field-removed"), "{d:?}");
    assert!(kinds.contains(&"grpc-wire-type-changed"), "{d:?}");
    // same evidence: no change; an added field is compatible
    assert!(!diff(&v1.to_openapi(&opts), &v1.to_openapi(&opts)).has_breaking());
    let v3 = learn(
        &[grpc_obs(
            "/p.S/M",
            vec![0x08, 0x05, 0x12, 0x01, b'a', 0x18, 0x02],
            vec![vec![0x0a, 0x01, b'b']],
        )],
        "a",
    );
    let d = diff(&v1.to_openapi(&opts), &v3.to_openapi(&opts));
    assert!(!d.has_breaking(), "{d:?}");
    assert!(d.compatible.iter().any(|c| c.kind == "grpc-field-added"));
    // unary -> server streaming is breaking
    let v4 = learn(
        &[grpc_obs(
            "/p.S/M",
            vec![0x08, 0x05, 0x12, 0x01, b'a'],
            vec![vec![0x0a, 0x01, b'b'], vec![0x0a, 0x01, b'b']],
        )],
        "a",
    );
    let d = diff(&v1.to_openapi(&opts), &v4.to_openapi(&opts));
    assert!(
        d.breaking
            .iter()
            .any(|c| c.kind == "grpc-streaming-changed"),
        "{d:?}"
    );
}

/// A random protobuf message built from a small field plan (so that nesting, repetition and
/// every wire type occur), or raw bytes.
fn message() -> impl Strategy<Value = Vec<u8>> {
    let field = (
        1u32..6,
        0u8..6,
        any::<u64>(),
        proptest::collection::vec(any::<u8>(), 0..12),
    );
    prop_oneof![
        proptest::collection::vec(field, 0..8).prop_map(|fs| {
            let mut out = Vec::new();
            for (num, kind, v, bytes) in fs {
                let push_varint = |mut x: u64, out: &mut Vec<u8>| loop {
                    let b = (x & 0x7f) as u8;
                    x >>= 7;
                    if x == 0 {
                        out.push(b);
                        break;
                    }
                    out.push(b | 0x80);
                };
                let wt = [0u64, 1, 2, 5, 2, 2][kind as usize];
                push_varint(((num as u64) << 3) | wt, &mut out);
                match kind {
                    0 => push_varint(v % 4, &mut out),
                    1 => out.extend_from_slice(&v.to_le_bytes()),
                    2 => {
                        push_varint(bytes.len() as u64, &mut out);
                        out.extend_from_slice(&bytes);
                    }
                    3 => out.extend_from_slice(&(v as u32).to_le_bytes()),
                    4 => {
                        // nested message {1: varint}
                        push_varint(2, &mut out);
                        out.extend_from_slice(&[0x08, (v % 100) as u8]);
                    }
                    _ => {
                        push_varint(3, &mut out);
                        out.extend_from_slice(b"abc");
                    }
                }
            }
            out
        }),
        proptest::collection::vec(any::<u8>(), 0..40),
    ]
}

/// (method index, request messages, response messages, grpc-status).
type Call = (u8, Vec<Vec<u8>>, Vec<Vec<u8>>, Option<u32>);

fn call() -> impl Strategy<Value = Call> {
    (
        0u8..3,
        proptest::collection::vec(message(), 0..3),
        proptest::collection::vec(message(), 0..3),
        proptest::option::of(0u32..20),
    )
}

fn learn_calls(source: &str, cs: &[Call]) -> ApiModel {
    let mut m = ApiModel::new();
    let cfg = LearnConfig {
        source: source.into(),
        ..LearnConfig::default()
    };
    for (method, req, resp, status) in cs {
        let o = Observation {
            service: "svc".into(),
            method: "POST".into(),
            target: format!("/pkg.Svc/{}", ["Get", "List", "Chat"][*method as usize]),
            status: Some(200),
            ts_unix_ms: 1 + *method as i64,
            grpc: Some(GrpcCall {
                request_messages: req.clone(),
                response_messages: resp.clone(),
                status: *status,
            }),
            ..Default::default()
        };
        m.observe(&o, &cfg);
    }
    m
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn decoder_never_panics(b in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = apitap_model::protobuf::parse_message(&b);
        let mut s = MessageSchema::default();
        let _ = s.observe(&b);
        let _ = s.observe(&b);
        let _ = s.to_schema(true);
        for f in s.fields.values() {
            let _ = (f.kind(), f.is_repeated(), f.wire_types());
        }
    }

    #[test]
    fn grpc_merge_is_a_join(
        a in proptest::collection::vec(call(), 0..10),
        b in proptest::collection::vec(call(), 0..10),
        c in proptest::collection::vec(call(), 0..10),
        cut in 0usize..10,
    ) {
        let ma = learn_calls("a", &a);
        let ma_early = learn_calls("a", &a[..cut.min(a.len())]);
        let mb = learn_calls("b", &b);
        let mc = learn_calls("c", &c);
        for (x, y, z) in [(&ma, &mb, &mc), (&ma_early, &ma, &mb)] {
            prop_assert_eq!(x.merged(&y.merged(z)), x.merged(y).merged(z));
            prop_assert_eq!(x.merged(y), y.merged(x));
            prop_assert_eq!(x.merged(x), x.clone());
        }
        prop_assert_eq!(ma.merged(&ma_early), ma.clone());
        // learn(A ∪ B) exports what merge(learn(A), learn(B)) exports
        let mut all = a.clone();
        all.extend(b.iter().cloned());
        let whole = learn_calls("x", &all);
        let parts = learn_calls("a", &a).merged(&learn_calls("b", &b));
        let strip = |m: &ApiModel| {
            let mut v = m.to_openapi(&ExportOptions::default());
            if let Some(i) = v.get_mut("info").and_then(|i| i.as_object_mut()) {
                i.remove("x-apitap-sources");
            }
            v
        };
        prop_assert_eq!(strip(&whole), strip(&parts));
        prop_assert_eq!(whole.to_proto(), parts.to_proto());
        let back = ApiModel::from_json(&whole.to_json()).unwrap_or_default();
        prop_assert_eq!(back, whole);
    }
}

#[test]
fn descriptors_name_the_fields() {
    let dir = tempfile::tempdir().expect("tempdir");
    let set = dir.path().join("recall.pb");
    let out = Command::new("python3")
        .args(["-m", "grpc_tools.protoc", &format!("-I{FIX}")])
        .arg(format!("--descriptor_set_out={}", set.display()))
        .arg("recall.proto")
        .output()
        .expect("python3 -m grpc_tools.protoc (pip install grpcio-tools)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let names = apitap_model::descriptors::ProtoNames::from_descriptor_set(
        &std::fs::read(&set).expect("set"),
    )
    .expect("descriptor set decodes");
    assert_eq!(
        names.methods.get("/recall.v1.Store/GetItem"),
        Some(&(".recall.v1.GetItemRequest".into(), ".recall.v1.Item".into()))
    );
    let m = learn(&calls(), "a");
    let doc = m.to_openapi_named(&ExportOptions::default(), &names);
    let item = &doc["paths"]["/recall.v1.Store/GetItem"]["post"]["responses"]["200"]["content"]
        ["application/grpc"]["schema"]["properties"];
    assert_eq!(item["name"]["x-protobuf-field"], 2, "{item}");
    assert_eq!(
        item["address"]["properties"]["city"]["type"], "string",
        "{item}"
    );
    assert!(item.get("field_2").is_none(), "{item}");
    let proto = m.to_proto_named(&names);
    assert!(proto.contains("  string name = 2;"), "{proto}");
    assert!(
        proto.contains("  repeated int64 quantities = 3;"),
        "{proto}"
    );
    assert!(proto.contains("    string city = 2;"), "{proto}");
    std::fs::write(dir.path().join("named.proto"), &proto).expect("write");
    let out = Command::new("python3")
        .args(["-m", "grpc_tools.protoc", "-I"])
        .arg(dir.path())
        .arg(format!("--python_out={}", dir.path().display()))
        .arg("named.proto")
        .output()
        .expect("protoc");
    assert!(
        out.status.success(),
        "{}\n{proto}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn many_methods_stay_distinct_operations() {
    let names = [
        "GetUser",
        "ListUsers",
        "CreateUser",
        "DeleteUser",
        "UpdateUser",
        "GetOrder",
        "ListOrders",
        "CreateOrder",
        "CancelOrder",
        "GetInvoice",
        "ListInvoices",
        "PayInvoice",
        "Watch",
        "Health",
        "Check",
        "Login",
        "Logout",
        "Refresh",
        "Search",
        "Export",
        "Import",
        "Sync",
        "Ping",
        "Echo",
    ];
    let obs: Vec<Observation> = names
        .iter()
        .map(|n| grpc_obs(&format!("/shop.v1.Shop/{n}"), vec![0x08, 0x01], vec![]))
        .collect();
    let m = learn(&obs, "a");
    let doc = m.to_openapi(&ExportOptions::default());
    let paths = doc["paths"].as_object().expect("paths");
    assert_eq!(
        paths.len(),
        names.len(),
        "{:?}",
        paths.keys().collect::<Vec<_>>()
    );
    let proto = m.to_proto();
    assert_eq!(proto.matches("\n  rpc ").count(), names.len(), "{proto}");
}

#[test]
fn identifier_like_method_names_are_not_stored() {
    let secret = "/p.S/5f2b9c8e1a7d3b6f0c4e";
    let m = learn(&[grpc_obs(secret, vec![0x08, 0x01], vec![])], "a");
    assert!(!m.to_json().contains("5f2b9c8e1a7d3b6f0c4e"));
    assert!(!m.to_proto().contains("5f2b9c8e1a7d3b6f0c4e"));
    let ok = learn(
        &[grpc_obs(
            "/recall.v1.Store/GetItem",
            vec![0x08, 0x01],
            vec![],
        )],
        "a",
    );
    assert!(ok.to_proto().contains("rpc GetItem("));
}
