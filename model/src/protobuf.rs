//! Protobuf wire format: a checked decoder and schema inference without `.proto` files.
//!
//! Decoder ([`Fields`], [`parse_message`]): varint, 64-bit, length-delimited and 32-bit
//! fields. Every read is bounds-checked; any input gives `Ok` or a [`DecodeError`], never a
//! panic. Rejected: truncated fields, varints over 10 bytes, field number 0 or over 2^29-1,
//! wire types 6 and 7, and the deprecated groups (wire types 3 and 4: [`DecodeError::Group`]).
//!
//! Inference ([`MessageSchema`]): per field number, counts of what was seen, never a value:
//! - parent messages that carried the field, and those that carried it more than once
//!   (repeated);
//! - per wire type, the occurrences; varints with a value over 1 (else a `bool` candidate)
//!   and with the top bit set (negative `int64`/`int32`); 32/64-bit values whose bits look
//!   like a float (else `fixed32`/`fixed64`);
//! - length-delimited occurrences: empty; text (valid UTF-8 without control characters
//!   other than tab/CR/LF); a complete message by a checked trial parse (a text that also
//!   parses counts as a message only when its first byte is a control character, i.e. a tag
//!   of field 1–3); a sequence of varints (a packed repeated field).
//!
//! A length-delimited field is exported as a nested message when every non-empty occurrence
//! was a message, else `string` when every one was text, else a packed `repeated int64` when
//! every one was a varint sequence, else `bytes`. The nested schema accumulates only the
//! occurrences that parsed as messages. Packed fixed-width lists (`repeated double`) are not
//! told from bytes; a map is a repeated nested message with fields 1 (key) and 2 (value).
//! Proto3 does not send default values (0, "", false), so a field never set is never seen.
//!
//! Caps: nesting depth [`MAX_PB_DEPTH`] (deeper fields are not trial-parsed and are counted
//! as `deep`), [`MAX_FIELDS`] field numbers per message (further ones set `overflow`),
//! [`MAX_PARSE_FIELDS`] fields read per message (the rest of the message is counted
//! unparsed). Merge is counter-wise (max for [`Mode::Join`], sum for [`Mode::Sum`]) and
//! capped maps keep their smallest keys, so it is a join like every other evidence.

use crate::evidence::{cnt, combine_map, combine_opt, is_false, is_zero, Combine, Mode};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Max nesting depth of messages inferred.
pub const MAX_PB_DEPTH: usize = 8;
/// Max field numbers kept per message schema.
pub const MAX_FIELDS: usize = 64;
/// Max fields read from one message.
pub const MAX_PARSE_FIELDS: usize = 4096;
/// Largest valid field number.
pub const MAX_FIELD_NUMBER: u64 = (1 << 29) - 1;

/// Why bytes are not a protobuf message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// The input ended inside a field.
    Truncated,
    /// A varint longer than 10 bytes or over 64 bits.
    VarintOverflow,
    /// Field number 0 or over 2^29-1.
    BadFieldNumber,
    /// Wire type 6 or 7.
    BadWireType(u8),
    /// A deprecated group (wire type 3 or 4).
    Group,
    /// More than [`MAX_PARSE_FIELDS`] fields.
    TooManyFields,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::Truncated => write!(f, "truncated protobuf field"),
            DecodeError::VarintOverflow => write!(f, "protobuf varint over 64 bits"),
            DecodeError::BadFieldNumber => write!(f, "invalid protobuf field number"),
            DecodeError::BadWireType(w) => write!(f, "invalid protobuf wire type {w}"),
            DecodeError::Group => write!(f, "protobuf groups are not supported"),
            DecodeError::TooManyFields => write!(f, "too many protobuf fields"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// A protobuf wire type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WireType {
    /// 0: varint.
    Varint,
    /// 1: 64-bit.
    I64,
    /// 2: length-delimited.
    Len,
    /// 5: 32-bit.
    I32,
}

impl WireType {
    /// Name used in exports (`varint`, `i64`, `len`, `i32`).
    pub fn name(self) -> &'static str {
        match self {
            WireType::Varint => "varint",
            WireType::I64 => "i64",
            WireType::Len => "len",
            WireType::I32 => "i32",
        }
    }
}

/// One decoded field value (borrowing the input).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireValue<'a> {
    /// Varint.
    Varint(u64),
    /// 64-bit.
    I64(u64),
    /// Length-delimited payload.
    Len(&'a [u8]),
    /// 32-bit.
    I32(u32),
}

impl WireValue<'_> {
    /// The wire type.
    pub fn wire_type(&self) -> WireType {
        match self {
            WireValue::Varint(_) => WireType::Varint,
            WireValue::I64(_) => WireType::I64,
            WireValue::Len(_) => WireType::Len,
            WireValue::I32(_) => WireType::I32,
        }
    }
}

/// Read a varint at `*pos`, advancing it.
pub fn read_varint(buf: &[u8], pos: &mut usize) -> Result<u64, DecodeError> {
    let mut v: u64 = 0;
    for i in 0..10 {
        let b = *buf.get(*pos).ok_or(DecodeError::Truncated)?;
        *pos += 1;
        if i == 9 && b > 1 {
            return Err(DecodeError::VarintOverflow);
        }
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(DecodeError::VarintOverflow)
}

fn take<'a>(buf: &'a [u8], pos: &mut usize, n: usize) -> Result<&'a [u8], DecodeError> {
    let end = pos.checked_add(n).ok_or(DecodeError::Truncated)?;
    let s = buf.get(*pos..end).ok_or(DecodeError::Truncated)?;
    *pos = end;
    Ok(s)
}

/// Iterator over the fields of one message; stops after the first error.
#[derive(Debug, Clone)]
pub struct Fields<'a> {
    buf: &'a [u8],
    pos: usize,
    read: usize,
    failed: bool,
}

impl<'a> Fields<'a> {
    /// Fields of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Fields {
            buf,
            pos: 0,
            read: 0,
            failed: false,
        }
    }

    fn next_field(&mut self) -> Result<(u32, WireValue<'a>), DecodeError> {
        if self.read >= MAX_PARSE_FIELDS {
            return Err(DecodeError::TooManyFields);
        }
        self.read += 1;
        let tag = read_varint(self.buf, &mut self.pos)?;
        let number = tag >> 3;
        if number == 0 || number > MAX_FIELD_NUMBER {
            return Err(DecodeError::BadFieldNumber);
        }
        let number = number as u32;
        let v = match (tag & 7) as u8 {
            0 => WireValue::Varint(read_varint(self.buf, &mut self.pos)?),
            1 => {
                let b = take(self.buf, &mut self.pos, 8)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                WireValue::I64(u64::from_le_bytes(a))
            }
            2 => {
                let len = read_varint(self.buf, &mut self.pos)?;
                let len = usize::try_from(len).map_err(|_| DecodeError::Truncated)?;
                WireValue::Len(take(self.buf, &mut self.pos, len)?)
            }
            3 | 4 => return Err(DecodeError::Group),
            5 => {
                let b = take(self.buf, &mut self.pos, 4)?;
                let mut a = [0u8; 4];
                a.copy_from_slice(b);
                WireValue::I32(u32::from_le_bytes(a))
            }
            w => return Err(DecodeError::BadWireType(w)),
        };
        Ok((number, v))
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u32, WireValue<'a>), DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.buf.len() {
            return None;
        }
        let r = self.next_field();
        self.failed = r.is_err();
        Some(r)
    }
}

/// Decode a whole message into its fields (in wire order).
pub fn parse_message(buf: &[u8]) -> Result<Vec<(u32, WireValue<'_>)>, DecodeError> {
    Fields::new(buf).collect()
}

/// Does `buf` parse completely as a message with at least one field?
pub fn is_message(buf: &[u8]) -> bool {
    !buf.is_empty() && Fields::new(buf).all(|r| r.is_ok())
}

/// Is `buf` a non-empty sequence of complete varints (a packed repeated varint field)?
pub fn is_packed_varints(buf: &[u8]) -> bool {
    let mut pos = 0;
    while pos < buf.len() {
        if read_varint(buf, &mut pos).is_err() {
            return false;
        }
    }
    !buf.is_empty()
}

/// Valid UTF-8 with no control characters other than tab, CR and LF.
pub fn is_text(buf: &[u8]) -> bool {
    match std::str::from_utf8(buf) {
        Ok(s) => !s
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')),
        Err(_) => false,
    }
}

fn f64_like(bits: u64) -> bool {
    let f = f64::from_bits(bits);
    f == 0.0 || (f.is_finite() && (1e-12..1e15).contains(&f.abs()))
}

fn f32_like(bits: u32) -> bool {
    let f = f32::from_bits(bits);
    f == 0.0 || (f.is_finite() && (1e-9..1e12).contains(&f.abs()))
}

/// Evidence for one field number of a message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FieldSchema {
    /// Parent messages that carried this field.
    pub n: u64,
    /// Parent messages that carried it more than once.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub repeated: u64,
    /// Varint occurrences.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub varint: u64,
    /// Varints with a value over 1 (not a bool).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub varint_big: u64,
    /// Varints with the top bit set (a negative `int64`/`int32`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub varint_neg: u64,
    /// 64-bit occurrences.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub i64: u64,
    /// 64-bit values whose bits look like a `double`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub i64_float: u64,
    /// 32-bit occurrences.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub i32: u64,
    /// 32-bit values whose bits look like a `float`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub i32_float: u64,
    /// Length-delimited occurrences.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub len: u64,
    /// Empty length-delimited occurrences.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub len_empty: u64,
    /// Length-delimited occurrences that are text.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub len_text: u64,
    /// Length-delimited occurrences that parsed as a message.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub len_msg: u64,
    /// Length-delimited occurrences that are a sequence of varints.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub len_packed: u64,
    /// Length-delimited occurrences below the depth cap (not trial-parsed).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub deep: u64,
    /// Nested message evidence (from the occurrences that parsed as messages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msg: Option<Box<MessageSchema>>,
}

impl Combine for FieldSchema {
    fn combine(&mut self, o: &Self, m: Mode) {
        cnt(&mut self.n, o.n, m);
        cnt(&mut self.repeated, o.repeated, m);
        cnt(&mut self.varint, o.varint, m);
        cnt(&mut self.varint_big, o.varint_big, m);
        cnt(&mut self.varint_neg, o.varint_neg, m);
        cnt(&mut self.i64, o.i64, m);
        cnt(&mut self.i64_float, o.i64_float, m);
        cnt(&mut self.i32, o.i32, m);
        cnt(&mut self.i32_float, o.i32_float, m);
        cnt(&mut self.len, o.len, m);
        cnt(&mut self.len_empty, o.len_empty, m);
        cnt(&mut self.len_text, o.len_text, m);
        cnt(&mut self.len_msg, o.len_msg, m);
        cnt(&mut self.len_packed, o.len_packed, m);
        cnt(&mut self.deep, o.deep, m);
        combine_opt(&mut self.msg, &o.msg, m);
    }
}

/// The type a field is exported as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// Varint with values over 1 seen (`int64`).
    Int,
    /// Varint, only 0/1 seen.
    Bool,
    /// 64-bit float-looking (`double`).
    Double,
    /// 64-bit otherwise (`fixed64`).
    Fixed64,
    /// 32-bit float-looking (`float`).
    Float,
    /// 32-bit otherwise (`fixed32`).
    Fixed32,
    /// UTF-8 text.
    String,
    /// Opaque bytes.
    Bytes,
    /// Nested message.
    Message,
    /// Packed varints (`repeated int64`).
    PackedInt,
}

impl FieldKind {
    /// The proto3 scalar type name (`Message` has none: the caller names the type).
    pub fn proto_type(self) -> &'static str {
        match self {
            FieldKind::Int | FieldKind::PackedInt => "int64",
            FieldKind::Bool => "bool",
            FieldKind::Double => "double",
            FieldKind::Fixed64 => "fixed64",
            FieldKind::Float => "float",
            FieldKind::Fixed32 => "fixed32",
            FieldKind::String => "string",
            FieldKind::Bytes | FieldKind::Message => "bytes",
        }
    }
}

impl FieldSchema {
    /// The dominant wire type (most occurrences; ties in wire-type order).
    pub fn wire_type(&self) -> WireType {
        let c = [
            (self.varint, WireType::Varint),
            (self.i64, WireType::I64),
            (self.len, WireType::Len),
            (self.i32, WireType::I32),
        ];
        let mut best = (0, WireType::Varint);
        for (n, w) in c {
            if n > best.0 {
                best = (n, w);
            }
        }
        best.1
    }

    /// The wire types seen (more than one is a conflict, or packed/unpacked mixing).
    pub fn wire_types(&self) -> Vec<WireType> {
        let mut v = Vec::new();
        for (n, w) in [
            (self.varint, WireType::Varint),
            (self.i64, WireType::I64),
            (self.len, WireType::Len),
            (self.i32, WireType::I32),
        ] {
            if n > 0 {
                v.push(w);
            }
        }
        v
    }

    /// The exported type, decided from the evidence (see the module doc).
    pub fn kind(&self) -> FieldKind {
        match self.wire_type() {
            WireType::Varint if self.len > 0 && self.len_packed + self.len_empty >= self.len => {
                FieldKind::PackedInt
            }
            WireType::Varint if self.varint_big == 0 => FieldKind::Bool,
            WireType::Varint => FieldKind::Int,
            WireType::I64 if self.i64_float >= self.i64 => FieldKind::Double,
            WireType::I64 => FieldKind::Fixed64,
            WireType::I32 if self.i32_float >= self.i32 => FieldKind::Float,
            WireType::I32 => FieldKind::Fixed32,
            WireType::Len => {
                let full = self
                    .len
                    .saturating_sub(self.len_empty)
                    .saturating_sub(self.deep);
                if full == 0 {
                    if self.deep > 0 {
                        FieldKind::Bytes
                    } else {
                        FieldKind::String
                    }
                } else if self.len_msg >= full && self.msg.is_some() {
                    FieldKind::Message
                } else if self.len_text + self.deep >= self.len - self.len_empty {
                    FieldKind::String
                } else if self.len_packed >= full {
                    FieldKind::PackedInt
                } else {
                    FieldKind::Bytes
                }
            }
        }
    }

    /// Repeated: seen more than once in one message, or packed.
    pub fn is_repeated(&self) -> bool {
        self.repeated > 0 || self.kind() == FieldKind::PackedInt
    }
}

/// Evidence for one message position (a request or response type, or a nested message).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MessageSchema {
    /// Messages observed here.
    pub n: u64,
    /// Fields by number.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<u32, FieldSchema>,
    /// Top-level messages that did not decode (counted, not inspected).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unparsed: u64,
    /// A cap was hit (field numbers or fields per message).
    #[serde(default, skip_serializing_if = "is_false")]
    pub overflow: bool,
}

impl Combine for MessageSchema {
    fn combine(&mut self, o: &Self, m: Mode) {
        cnt(&mut self.n, o.n, m);
        cnt(&mut self.unparsed, o.unparsed, m);
        self.overflow |= combine_map(&mut self.fields, &o.fields, m, MAX_FIELDS);
        self.overflow |= o.overflow;
    }
}

impl MessageSchema {
    /// Observe one top-level message; a message that does not decode is counted in
    /// `unparsed` and not inspected.
    pub fn observe(&mut self, buf: &[u8]) -> Result<(), DecodeError> {
        // check the whole message first so a bad message leaves no partial evidence
        if let Some(Err(e)) = Fields::new(buf).find(|r| r.is_err()) {
            self.unparsed += 1;
            return Err(e);
        }
        self.observe_valid(buf, 0);
        Ok(())
    }

    /// `buf` is known to decode.
    fn observe_valid(&mut self, buf: &[u8], depth: usize) {
        self.n += 1;
        // field numbers seen in this message, to count presence once and repetition
        let mut seen: BTreeMap<u32, u32> = BTreeMap::new();
        for (num, v) in Fields::new(buf).map_while(Result::ok) {
            if !self.fields.contains_key(&num) {
                if self.fields.len() >= MAX_FIELDS {
                    self.overflow = true;
                    continue;
                }
                self.fields.insert(num, FieldSchema::default());
            }
            let Some(f) = self.fields.get_mut(&num) else {
                continue;
            };
            let c = seen.entry(num).or_insert(0);
            *c += 1;
            match *c {
                1 => f.n += 1,
                2 => f.repeated += 1,
                _ => {}
            }
            match v {
                WireValue::Varint(x) => {
                    f.varint += 1;
                    if x > 1 {
                        f.varint_big += 1;
                    }
                    if x >> 63 == 1 {
                        f.varint_neg += 1;
                    }
                }
                WireValue::I64(x) => {
                    f.i64 += 1;
                    if f64_like(x) {
                        f.i64_float += 1;
                    }
                }
                WireValue::I32(x) => {
                    f.i32 += 1;
                    if f32_like(x) {
                        f.i32_float += 1;
                    }
                }
                WireValue::Len(b) => {
                    f.len += 1;
                    if b.is_empty() {
                        f.len_empty += 1;
                        continue;
                    }
                    if depth + 1 >= MAX_PB_DEPTH {
                        f.deep += 1;
                        self.overflow = true;
                        continue;
                    }
                    let text = is_text(b);
                    if text {
                        f.len_text += 1;
                    }
                    if is_packed_varints(b) {
                        f.len_packed += 1;
                    }
                    let first_ctl = b.first().is_some_and(|c| *c < 0x20);
                    if is_message(b) && (!text || first_ctl) {
                        f.len_msg += 1;
                        f.msg
                            .get_or_insert_with(Default::default)
                            .observe_valid(b, depth + 1);
                    }
                }
            }
        }
    }

    /// Check a deserialised (untrusted) schema against the caps ([`MAX_FIELDS`] field
    /// numbers per message, nesting below [`MAX_PB_DEPTH`], valid field numbers); `depth` is
    /// this message's nesting depth.
    pub fn check_caps(&self, depth: usize) -> Result<(), String> {
        if depth >= MAX_PB_DEPTH {
            return Err(format!(
                "protobuf messages nested deeper than {MAX_PB_DEPTH}"
            ));
        }
        if self.fields.len() > MAX_FIELDS {
            return Err(format!(
                "{} protobuf fields in one message (at most {MAX_FIELDS})",
                self.fields.len()
            ));
        }
        for (num, f) in &self.fields {
            if *num == 0 || u64::from(*num) > MAX_FIELD_NUMBER {
                return Err(format!("invalid protobuf field number {num}"));
            }
            if let Some(m) = &f.msg {
                m.check_caps(depth + 1)?;
            }
        }
        Ok(())
    }

    /// JSON Schema of this message: an object with `field_N` properties; each carries
    /// `x-protobuf-field` (number) and `x-protobuf-wire-type`. Field names are `field_N`.
    pub fn to_schema(&self, evidence: bool) -> Value {
        self.schema_at(evidence, 0)
    }

    fn schema_at(&self, evidence: bool, depth: usize) -> Value {
        let mut props = Map::new();
        let mut required = Vec::new();
        for (num, f) in &self.fields {
            let name = format!("field_{num}");
            let kind = f.kind();
            let mut s = match kind {
                FieldKind::Int | FieldKind::PackedInt => {
                    json!({"type": "integer", "format": "int64"})
                }
                FieldKind::Bool => json!({"type": "boolean"}),
                FieldKind::Double => json!({"type": "number", "format": "double"}),
                FieldKind::Float => json!({"type": "number", "format": "float"}),
                FieldKind::Fixed64 => json!({"type": "integer", "format": "uint64"}),
                FieldKind::Fixed32 => json!({"type": "integer", "format": "uint32"}),
                FieldKind::String => json!({"type": "string"}),
                FieldKind::Bytes => json!({"type": "string", "format": "byte"}),
                FieldKind::Message => match (&f.msg, depth < MAX_PB_DEPTH) {
                    (Some(m), true) => m.schema_at(evidence, depth + 1),
                    _ => json!({"type": "object"}),
                },
            };
            if f.is_repeated() {
                s = json!({"type": "array", "items": s});
            }
            s["x-protobuf-field"] = json!(num);
            s["x-protobuf-wire-type"] = json!(f.wire_type().name());
            if kind == FieldKind::PackedInt {
                s["x-protobuf-packed"] = json!(true);
            }
            if evidence {
                s["x-apitap-count"] = json!(f.n);
            }
            if self.n > 0 && f.n >= self.n {
                required.push(json!(name));
            }
            props.insert(name, s);
        }
        let mut out = json!({"type": "object", "properties": props});
        if !required.is_empty() {
            out["required"] = Value::Array(required);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(mut v: u64, out: &mut Vec<u8>) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }

    fn field(num: u32, wt: u8, out: &mut Vec<u8>) {
        varint(((num as u64) << 3) | wt as u64, out);
    }

    fn len_field(num: u32, payload: &[u8], out: &mut Vec<u8>) {
        field(num, 2, out);
        varint(payload.len() as u64, out);
        out.extend_from_slice(payload);
    }

    #[test]
    fn decodes_all_wire_types() {
        let mut m = Vec::new();
        field(1, 0, &mut m);
        varint(150, &mut m);
        field(2, 1, &mut m);
        m.extend_from_slice(&1.5f64.to_le_bytes());
        len_field(3, b"hi", &mut m);
        field(4, 5, &mut m);
        m.extend_from_slice(&7u32.to_le_bytes());
        let f = parse_message(&m).unwrap_or_default();
        assert_eq!(
            f,
            vec![
                (1, WireValue::Varint(150)),
                (2, WireValue::I64(1.5f64.to_bits())),
                (3, WireValue::Len(b"hi")),
                (4, WireValue::I32(7)),
            ]
        );
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(parse_message(&[0x08]), Err(DecodeError::Truncated));
        assert_eq!(
            parse_message(&[0x00, 0x01]),
            Err(DecodeError::BadFieldNumber)
        );
        assert_eq!(parse_message(&[0x0b]), Err(DecodeError::Group));
        assert_eq!(parse_message(&[0x0c]), Err(DecodeError::Group));
        assert_eq!(parse_message(&[0x0e]), Err(DecodeError::BadWireType(6)));
        assert_eq!(
            parse_message(&[0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]),
            Err(DecodeError::VarintOverflow)
        );
        assert_eq!(
            parse_message(&[0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]),
            Err(DecodeError::Truncated)
        );
        // max varint (10 bytes, last byte 1) is fine
        let mut ok = vec![0x08];
        varint(u64::MAX, &mut ok);
        assert_eq!(
            parse_message(&ok),
            Ok(vec![(1, WireValue::Varint(u64::MAX))])
        );
        let mut s = MessageSchema::default();
        assert!(s.observe(&[0x08]).is_err());
        assert_eq!((s.n, s.unparsed, s.fields.len()), (0, 1, 0));
    }

    #[test]
    fn infers_kinds() {
        let mut s = MessageSchema::default();
        for i in 0..4u64 {
            let mut inner = Vec::new();
            field(1, 0, &mut inner);
            varint(i + 2, &mut inner);
            len_field(2, b"name", &mut inner);
            let mut m = Vec::new();
            field(1, 0, &mut m);
            varint(i % 2, &mut m);
            len_field(2, "héllo wörld".as_bytes(), &mut m);
            len_field(3, &[0x13, 0x80, 0xff], &mut m);
            len_field(4, &inner, &mut m);
            len_field(4, &inner, &mut m);
            let mut packed = Vec::new();
            for v in [300u64, 5, 70000] {
                varint(v, &mut packed);
            }
            len_field(5, &packed, &mut m);
            field(6, 1, &mut m);
            m.extend_from_slice(&(2.5f64 * i as f64).to_le_bytes());
            field(7, 5, &mut m);
            m.extend_from_slice(&(1000 + i as u32).to_le_bytes());
            assert!(s.observe(&m).is_ok());
        }
        let k = |n: u32| s.fields.get(&n).map(|f| (f.kind(), f.is_repeated()));
        assert_eq!(k(1), Some((FieldKind::Bool, false)));
        assert_eq!(k(2), Some((FieldKind::String, false)));
        assert_eq!(k(3), Some((FieldKind::Bytes, false)));
        assert_eq!(k(4), Some((FieldKind::Message, true)));
        assert_eq!(k(5), Some((FieldKind::PackedInt, true)));
        assert_eq!(k(6), Some((FieldKind::Double, false)));
        assert_eq!(k(7), Some((FieldKind::Fixed32, false)));
        let inner = s.fields.get(&4).and_then(|f| f.msg.as_deref());
        let ik = |n: u32| inner.and_then(|m| m.fields.get(&n)).map(|f| f.kind());
        assert_eq!(ik(1), Some(FieldKind::Int));
        assert_eq!(ik(2), Some(FieldKind::String));
        let js = s.to_schema(false);
        assert_eq!(js["properties"]["field_4"]["type"], "array");
        assert_eq!(
            js["properties"]["field_4"]["items"]["properties"]["field_2"]["type"],
            "string"
        );
        assert_eq!(js["properties"]["field_3"]["x-protobuf-wire-type"], "len");
        // no value is stored anywhere
        let dump = serde_json::to_string(&s).unwrap_or_default();
        assert!(!dump.contains("name") && !dump.contains("llo"), "{dump}");
    }

    #[test]
    fn depth_is_capped() {
        let mut m = Vec::new();
        field(1, 0, &mut m);
        varint(1, &mut m);
        for _ in 0..40 {
            let mut outer = Vec::new();
            len_field(1, &m, &mut outer);
            m = outer;
        }
        let mut s = MessageSchema::default();
        assert!(s.observe(&m).is_ok());
        let mut d = 0;
        let mut cur = &s;
        while let Some(next) = cur.fields.get(&1).and_then(|f| f.msg.as_deref()) {
            cur = next;
            d += 1;
        }
        assert!(d < MAX_PB_DEPTH, "{d}");
        assert!(cur.overflow);
    }
}
