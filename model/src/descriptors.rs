//! Field and message names from a `protoc --descriptor_set_out` file (a
//! `google.protobuf.FileDescriptorSet`), for users who have the `.proto` files.
//!
//! The set is decoded with this crate's own checked protobuf decoder ([`crate::protobuf`]),
//! reading only what naming needs: packages, message types (nested ones included) with their
//! fields' names, numbers and message type names, and services with their methods' input
//! and output types. Caps: [`MAX_DESC_MESSAGES`] message types, [`MAX_DESC_METHODS`] methods,
//! nesting depth 32; beyond them the rest is ignored and [`ProtoNames::truncated`] is set.
//!
//! Naming is applied at export only ([`ApiModel::to_openapi_named`],
//! [`ApiModel::to_proto_named`]): a learned field whose number the descriptor declares for
//! that message takes the declared name; the others keep `field_<N>`. The learned evidence is
//! unchanged, so models stay mergeable with or without descriptors.

use crate::model::ApiModel;
use crate::protobuf::{parse_message, DecodeError, WireValue};
use crate::ExportOptions;
use serde_json::Value;
use std::collections::BTreeMap;

/// Max message types read from a descriptor set.
pub const MAX_DESC_MESSAGES: usize = 100_000;
/// Max methods read from a descriptor set.
pub const MAX_DESC_METHODS: usize = 100_000;

/// One declared field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldName {
    /// Declared name.
    pub name: String,
    /// Fully qualified message type (`.pkg.Msg`) for a message-typed field.
    pub type_name: Option<String>,
}

/// Names from a descriptor set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProtoNames {
    /// Message types by fully qualified name (`.pkg.Outer.Inner`): fields by number.
    pub messages: BTreeMap<String, BTreeMap<u32, FieldName>>,
    /// Methods by gRPC path (`/pkg.Service/Method`): (input type, output type).
    pub methods: BTreeMap<String, (String, String)>,
    /// A cap was hit; some names are missing.
    pub truncated: bool,
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

impl ProtoNames {
    /// Decode a `FileDescriptorSet`.
    pub fn from_descriptor_set(bytes: &[u8]) -> Result<ProtoNames, DecodeError> {
        let mut out = ProtoNames::default();
        for (num, v) in parse_message(bytes)? {
            if let (1, WireValue::Len(file)) = (num, v) {
                out.file(file)?;
            }
        }
        Ok(out)
    }

    fn file(&mut self, b: &[u8]) -> Result<(), DecodeError> {
        let fields = parse_message(b)?;
        let mut pkg = String::new();
        for (num, v) in &fields {
            if let (2, WireValue::Len(p)) = (num, v) {
                pkg = text(p);
            }
        }
        let scope = if pkg.is_empty() {
            String::new()
        } else {
            format!(".{pkg}")
        };
        for (num, v) in &fields {
            match (num, v) {
                (4, WireValue::Len(m)) => self.message(m, &scope, 0)?,
                (6, WireValue::Len(s)) => self.service(s, &pkg)?,
                _ => {}
            }
        }
        Ok(())
    }

    fn message(&mut self, b: &[u8], scope: &str, depth: usize) -> Result<(), DecodeError> {
        if depth > 32 || self.messages.len() >= MAX_DESC_MESSAGES {
            self.truncated = true;
            return Ok(());
        }
        let fields = parse_message(b)?;
        let mut name = String::new();
        for (num, v) in &fields {
            if let (1, WireValue::Len(n)) = (num, v) {
                name = text(n);
            }
        }
        let full = format!("{scope}.{name}");
        let mut decl = BTreeMap::new();
        for (num, v) in &fields {
            match (num, v) {
                (2, WireValue::Len(f)) => {
                    let mut fname = String::new();
                    let mut number = None;
                    let mut type_name = None;
                    for (k, x) in parse_message(f)? {
                        match (k, x) {
                            (1, WireValue::Len(n)) => fname = text(n),
                            (3, WireValue::Varint(n)) => number = u32::try_from(n).ok(),
                            (6, WireValue::Len(t)) => type_name = Some(text(t)),
                            _ => {}
                        }
                    }
                    if let Some(n) = number {
                        decl.insert(
                            n,
                            FieldName {
                                name: fname,
                                type_name,
                            },
                        );
                    }
                }
                (3, WireValue::Len(nested)) => self.message(nested, &full, depth + 1)?,
                _ => {}
            }
        }
        self.messages.insert(full, decl);
        Ok(())
    }

    fn service(&mut self, b: &[u8], pkg: &str) -> Result<(), DecodeError> {
        let fields = parse_message(b)?;
        let mut name = String::new();
        for (num, v) in &fields {
            if let (1, WireValue::Len(n)) = (num, v) {
                name = text(n);
            }
        }
        let svc = if pkg.is_empty() {
            name
        } else {
            format!("{pkg}.{name}")
        };
        for (num, v) in &fields {
            if let (2, WireValue::Len(m)) = (num, v) {
                if self.methods.len() >= MAX_DESC_METHODS {
                    self.truncated = true;
                    return Ok(());
                }
                let (mut mname, mut input, mut output) =
                    (String::new(), String::new(), String::new());
                for (k, x) in parse_message(m)? {
                    match (k, x) {
                        (1, WireValue::Len(n)) => mname = text(n),
                        (2, WireValue::Len(t)) => input = text(t),
                        (3, WireValue::Len(t)) => output = text(t),
                        _ => {}
                    }
                }
                self.methods
                    .insert(format!("/{svc}/{mname}"), (input, output));
            }
        }
        Ok(())
    }

    /// Declared name of field `num` in message type `ty`.
    pub fn field(&self, ty: &str, num: u32) -> Option<&FieldName> {
        self.messages.get(ty)?.get(&num)
    }
}

/// A declared name usable as a proto/JSON identifier (else the learned name is kept).
fn usable(name: &str) -> bool {
    name.bytes()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
        && name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// Rename the `field_N` properties of a message schema (recursively) per message type `ty`.
fn rename_schema(s: &mut Value, ty: &str, names: &ProtoNames, depth: usize) {
    if depth > 32 {
        return;
    }
    if s.get("type").and_then(Value::as_str) == Some("array") {
        if let Some(items) = s.get_mut("items") {
            rename_schema(items, ty, names, depth + 1);
        }
        return;
    }
    let Some(props) = s.get_mut("properties").and_then(Value::as_object_mut) else {
        return;
    };
    let old = std::mem::take(props);
    let mut renamed = BTreeMap::new();
    for (k, mut v) in old {
        let num = v
            .get("x-protobuf-field")
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok());
        let decl = num.and_then(|n| names.field(ty, n));
        if let Some(sub) = decl.and_then(|d| d.type_name.as_deref()) {
            rename_schema(&mut v, sub, names, depth + 1);
        }
        let key = match decl {
            Some(d) if usable(&d.name) => d.name.clone(),
            _ => k.clone(),
        };
        renamed.insert(k, key.clone());
        props.insert(key, v);
    }
    if let Some(req) = s.get_mut("required").and_then(Value::as_array_mut) {
        for r in req.iter_mut() {
            if let Some(n) = r.as_str().and_then(|k| renamed.get(k)) {
                *r = Value::String(n.clone());
            }
        }
    }
}

impl ApiModel {
    /// [`ApiModel::to_openapi`] with the gRPC message fields named from descriptors.
    pub fn to_openapi_named(&self, opts: &ExportOptions, names: &ProtoNames) -> Value {
        let mut doc = self.to_openapi(opts);
        let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
            return doc;
        };
        for (path, item) in paths.iter_mut() {
            let Some((input, output)) = names.methods.get(path) else {
                continue;
            };
            let Some(op) = item.get_mut("post") else {
                continue;
            };
            if let Some(s) = op.pointer_mut("/requestBody/content/application~1grpc/schema") {
                rename_schema(s, input, names, 0);
            }
            if let Some(rs) = op.get_mut("responses").and_then(Value::as_object_mut) {
                for r in rs.values_mut() {
                    if let Some(s) = r.pointer_mut("/content/application~1grpc/schema") {
                        rename_schema(s, output, names, 0);
                    }
                }
            }
        }
        doc
    }

    /// [`ApiModel::to_proto`] with fields named from descriptors.
    pub fn to_proto_named(&self, names: &ProtoNames) -> String {
        crate::proto::to_proto_with(self, Some(names))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_sets_are_errors_not_panics() {
        assert!(ProtoNames::from_descriptor_set(&[0x0a, 0x05, 0x01]).is_err());
        assert_eq!(
            ProtoNames::from_descriptor_set(&[]),
            Ok(ProtoNames::default())
        );
    }
}
