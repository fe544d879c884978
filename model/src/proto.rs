//! `.proto` export of the learned gRPC methods (proto3).
//!
//! Policy:
//! - One file per protobuf package (`pkg` of `/pkg.Service/Method`); [`ApiModel::to_proto`]
//!   writes the package with the most methods and lists the others in a comment,
//!   [`ApiModel::to_proto_files`] gives all of them.
//! - Each method gets `<Method>Request` and `<Method>Response` messages (prefixed with the
//!   service name when two services of a package share a method name). Fields are named
//!   `field_<number>`; a nested message is a nested type `Field<number>`. Types follow
//!   [`crate::protobuf::FieldKind`]; `repeated` when a field was seen more than once in a
//!   message or packed. Field numbers 19000–19999 (reserved by protobuf) are written as
//!   comments, since `protoc` rejects them.
//! - The `rpc` line carries `stream` on the request and/or response from the streaming kind.
//! - Only names derived from the path and field numbers appear (or, with descriptors, the
//!   declared field names, see [`crate::descriptors`]); no observed value does.

use crate::descriptors::ProtoNames;
use crate::grpc::{split_path, GrpcEvidence, Streaming};
use crate::model::ApiModel;
use crate::paths::template_string;
use crate::protobuf::{FieldKind, MessageSchema, MAX_PB_DEPTH};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

fn proto_ident(s: &str) -> bool {
    s.bytes()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
        && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// Declared names: the descriptor set and the message type at this position.
type Names<'a> = Option<(&'a ProtoNames, &'a str)>;

fn write_message(
    out: &mut String,
    name: &str,
    m: &MessageSchema,
    names: Names<'_>,
    indent: usize,
    depth: usize,
) {
    let pad = "  ".repeat(indent);
    let _ = writeln!(out, "{pad}message {name} {{");
    for (num, f) in &m.fields {
        let kind = f.kind();
        let decl = names.and_then(|(n, ty)| n.field(ty, *num).map(|d| (n, d)));
        let sub_names: Names<'_> = decl.and_then(|(n, d)| d.type_name.as_deref().map(|t| (n, t)));
        let fname = match decl {
            Some((_, d)) if proto_ident(&d.name) => d.name.clone(),
            _ => format!("field_{num}"),
        };
        let nested = (kind == FieldKind::Message && depth + 1 < MAX_PB_DEPTH)
            .then_some(f.msg.as_deref())
            .flatten();
        let ty = match nested {
            Some(sub) => {
                let tn = format!("Field{num}");
                write_message(out, &tn, sub, sub_names, indent + 1, depth + 1);
                tn
            }
            None => kind.proto_type().to_string(),
        };
        let rep = if f.is_repeated() { "repeated " } else { "" };
        let comment = if (19000..=19999).contains(num) {
            "// reserved number: "
        } else {
            ""
        };
        let _ = writeln!(out, "{pad}  {comment}{rep}{ty} {fname} = {num};");
    }
    let _ = writeln!(out, "{pad}}}");
}

struct Method<'a> {
    service: String,
    method: String,
    g: &'a GrpcEvidence,
    /// Request and response message type names.
    names: (String, String),
}

impl ApiModel {
    /// `.proto` files (proto3) of the learned gRPC methods, by package (see [`crate::proto`]).
    pub fn to_proto_files(&self) -> BTreeMap<String, String> {
        proto_files(self, None)
    }

    /// The `.proto` file of the package with the most gRPC methods (empty-service file with
    /// a comment when none was learned).
    pub fn to_proto(&self) -> String {
        to_proto_with(self, None)
    }
}

/// [`ApiModel::to_proto_files`], naming fields from descriptors when given.
pub fn proto_files(model: &ApiModel, names: Option<&ProtoNames>) -> BTreeMap<String, String> {
    let combined = model.combined();
    let mut methods: BTreeMap<(String, String, String), GrpcEvidence> = BTreeMap::new();
    for svc in combined.services.values() {
        for d in svc.derive() {
            let Some(g) = &d.ep.grpc else { continue };
            let path = template_string(&d.segs);
            let Some((full, method)) = split_path(&path) else {
                continue;
            };
            let (pkg, service) = full.rsplit_once('.').unwrap_or(("", full));
            if !proto_ident(service)
                || !proto_ident(method)
                || !(pkg.is_empty() || pkg.split('.').all(proto_ident))
            {
                continue;
            }
            let key = (pkg.to_string(), service.to_string(), method.to_string());
            match methods.get_mut(&key) {
                Some(prev) => {
                    use crate::evidence::Combine;
                    prev.combine(g, crate::evidence::Mode::Sum)
                }
                None => {
                    methods.insert(key, (**g).clone());
                }
            }
        }
    }
    let mut by_pkg: BTreeMap<String, Vec<Method<'_>>> = BTreeMap::new();
    for ((pkg, service, method), g) in &methods {
        by_pkg.entry(pkg.clone()).or_default().push(Method {
            service: service.clone(),
            method: method.clone(),
            g,
            names: Default::default(),
        });
    }
    by_pkg
        .into_iter()
        .map(|(pkg, mut ms)| {
            let text = proto_file(&pkg, &mut ms, names);
            (pkg, text)
        })
        .collect()
}

/// [`ApiModel::to_proto`], naming fields from descriptors when given.
pub fn to_proto_with(model: &ApiModel, names: Option<&ProtoNames>) -> String {
    let files = proto_files(model, names);
    let best = files
        .iter()
        .max_by_key(|(k, v)| (v.matches("\n  rpc ").count(), std::cmp::Reverse(*k)));
    match best {
        Some((pkg, text)) => {
            let mut out = text.clone();
            for other in files.keys().filter(|k| *k != pkg) {
                let _ = writeln!(
                    out,
                    "// package {} also learned: export it with to_proto_files",
                    if other.is_empty() { "(none)" } else { other }
                );
            }
            out
        }
        None => {
            "// Learned by apitap: no gRPC method observed.\nsyntax = \"proto3\";\n".to_string()
        }
    }
}

fn proto_file(pkg: &str, ms: &mut [Method<'_>], names: Option<&ProtoNames>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "// Learned by apitap from observed gRPC traffic: field names are field_<number>."
    );
    let _ = writeln!(out, "syntax = \"proto3\";\n");
    if !pkg.is_empty() {
        let _ = writeln!(out, "package {pkg};\n");
    }
    let mut count: BTreeMap<String, usize> = BTreeMap::new();
    for m in ms.iter() {
        *count.entry(m.method.clone()).or_default() += 1;
    }
    let mut used = BTreeSet::new();
    for m in ms.iter_mut() {
        let mut base = if count.get(m.method.as_str()).copied().unwrap_or(0) > 1 {
            format!("{}{}", m.service, m.method)
        } else {
            m.method.clone()
        };
        while used.contains(&base) {
            base.push('_');
        }
        used.insert(base.clone());
        let (req, resp) = (format!("{base}Request"), format!("{base}Response"));
        let path = if pkg.is_empty() {
            format!("/{}/{}", m.service, m.method)
        } else {
            format!("/{pkg}.{}/{}", m.service, m.method)
        };
        let io = names.and_then(|n| n.methods.get(&path).map(|io| (n, io)));
        let rn: Names<'_> = io.map(|(n, (i, _))| (n, i.as_str()));
        let sn: Names<'_> = io.map(|(n, (_, o))| (n, o.as_str()));
        write_message(&mut out, &req, &m.g.request, rn, 0, 0);
        out.push('\n');
        write_message(&mut out, &resp, &m.g.response, sn, 0, 0);
        out.push('\n');
        m.names = (req, resp);
    }
    let mut services: BTreeMap<&str, Vec<&Method<'_>>> = BTreeMap::new();
    for m in ms.iter() {
        services.entry(m.service.as_str()).or_default().push(m);
    }
    for (svc, rpcs) in services {
        let _ = writeln!(out, "service {svc} {{");
        for m in rpcs {
            let (req, resp) = &m.names;
            let s = m.g.streaming();
            let rs = if matches!(s, Streaming::Client | Streaming::Bidi) {
                "stream "
            } else {
                ""
            };
            let ps = if matches!(s, Streaming::Server | Streaming::Bidi) {
                "stream "
            } else {
                ""
            };
            let _ = writeln!(out, "  rpc {}({rs}{req}) returns ({ps}{resp});", m.method);
        }
        let _ = writeln!(out, "}}\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::{ApiModel, GrpcCall, LearnConfig, Observation};

    #[test]
    fn writes_services_and_messages() {
        let mut m = ApiModel::new();
        let cfg = LearnConfig::default();
        // field 1: string, field 2: nested {1: varint > 1}, field 3 repeated bool
        let msg = vec![
            0x0a, 0x03, b'z', b'q', b'x', 0x12, 0x02, 0x08, 0x07, 0x18, 0x01, 0x18, 0x00,
        ];
        for (path, req, resp) in [
            ("/demo.v1.Shop/GetItem", 1, 1),
            ("/demo.v1.Shop/Watch", 1, 3),
            ("/demo.v1.Shop/Chat", 2, 2),
        ] {
            m.observe(
                &Observation {
                    service: "shop:50051".into(),
                    method: "POST".into(),
                    target: path.into(),
                    status: Some(200),
                    grpc: Some(GrpcCall {
                        request_messages: vec![msg.clone(); req],
                        response_messages: vec![msg.clone(); resp],
                        status: Some(0),
                    }),
                    ..Default::default()
                },
                &cfg,
            );
        }
        let p = m.to_proto();
        assert!(p.contains("package demo.v1;"), "{p}");
        assert!(p.contains("service Shop {"), "{p}");
        assert!(
            p.contains("rpc GetItem(GetItemRequest) returns (GetItemResponse);"),
            "{p}"
        );
        assert!(
            p.contains("rpc Watch(WatchRequest) returns (stream WatchResponse);"),
            "{p}"
        );
        assert!(
            p.contains("rpc Chat(stream ChatRequest) returns (stream ChatResponse);"),
            "{p}"
        );
        assert!(p.contains("  string field_1 = 1;"), "{p}");
        assert!(p.contains("    int64 field_1 = 1;"), "{p}");
        assert!(p.contains("  Field2 field_2 = 2;"), "{p}");
        assert!(p.contains("  repeated bool field_3 = 3;"), "{p}");
        assert!(!p.contains("zqx"), "{p}");
    }
}
