//! Schema inference: a [`SchemaNode`] accumulates type evidence for one position in a
//! payload (a JSON value, a form field, a query parameter) and exports JSON Schema 2020-12 as
//! OpenAPI 3.1 uses it.
//!
//! Policy:
//! - Types are counted per JSON type; `integer` and `number` both seen export as `number`;
//!   more than one type exports a type union (`["string", "null"]`).
//! - `required` lists the properties present in every object observed at the parent.
//! - String formats are counted per format; a format is exported when at least 90% of the
//!   strings (75% for `byte`) had it and no other specific format was seen.
//! - Objects whose keys are all identifier-like (numbers, UUIDs, hashes, dates...) are maps:
//!   their values merge into `additionalProperties`, keys are not stored. So are objects under
//!   a key whose last word is one of [`MAP_WORDS`] (`Labels`, `annotations`, `Attributes`):
//!   conventional dictionaries of user-chosen keys.
//! - Enums are exported only when the values are clearly vocabulary, because an enum is the
//!   one place where observed text reaches an export. All of:
//!   - the key names a category: its last word (split at `_-.` and camelCase, plural `s`
//!     dropped) is one of [`CATEGORY_WORDS`] (`status`, `type`, `kind`, `currency`,
//!     `order_status`, `accountType`...). A letters-only value under any other key
//!     (`passphrase`, `mothers_maiden`, `memorable_word`, `security_answer`, `nickname`) is
//!     never an enum, however often it repeats: repetition only shows that a few users sent
//!     their own value many times, while the key is what says a value is drawn from a
//!     fixed vocabulary;
//!   - the key is not secret-like ([`crate::redact::is_secret_key`]) and no value at this
//!     position had a PII shape ([`crate::pii`]);
//!   - every value looks like a token (`active`, `in_progress`, `EUR`; letters and `_-.`
//!     only, no digits, so ids/codes/secrets never qualify);
//!   - at most 10 distinct values, at least 20 strings observed, every value seen at least
//!     3 times.
//!
//!   Candidate values are kept as 64-bit hashes; the text of a value is stored only once it
//!   has been seen 5 times (so a value seen once never appears in the model).
//! - Integers beyond the 64-bit range (parsed as floats) still count as `integer`.
//! - Query parameters that only ever show `0`/`1`/`true`/`false` export as `boolean`, unless
//!   the key is one letter or its last word names a count, position or duration
//!   ([`COUNT_WORDS`]: `page=1`, `limit=0`, `t=1`).
//! - Sensitive-data inventory: every scalar is checked against the [`crate::pii`] shapes and
//!   the classes seen are counted per position (`pii`), exported as `x-apitap-pii`
//!   (`{"email": 12}`); a position under a secret-like key counts all its values as
//!   `secret`. Only classes and counts are kept, never the value.
//! - Examples (only with `examples` on) are synthesised from type and format
//!   ([`crate::redact::example_for`]), never copied from a value.
//! - Caps: depth 16, 128 properties per object (further keys go to `additionalProperties` and
//!   set `overflow`), 1024 array elements inspected per array, 64 values per JSON stream
//!   body; overflow is flagged. The body cap bounds the work per body in any case.
//! - Long arrays are thinned, never truncated (`ItemPick`): the first [`ITEMS_FULL`]
//!   elements of an array are observed in full, and beyond them about one in
//!   [`ITEMS_STRIDE`] (deterministic gaps). Every other element is still walked for its
//!   structure: objects and arrays are counted, every member counts as present (so
//!   `required` and `x-apitap-presence` see every element), and what is new is observed in
//!   full: a property not seen at that position, a JSON type not seen there, and every
//!   string of a position whose enum is still possible (an enum's thresholds are counts).
//!   Only the inspection of scalars of known types is skipped: their format, PII and
//!   example evidence, and their type counts, so a format's 90% share or a PII count is a
//!   share or count of the values inspected in full. So the rare variants of a list, which
//!   often come last (a newest-first history ends with the entries that created the bucket
//!   and its groups), are learned wherever they are, and a list page of a few hundred
//!   records costs about 16 + n/8 records' inspection. Value flow ([`crate::valueflow`])
//!   takes every string of every element.
//! - A JSON body holding several values one after another (NDJSON / JSON Lines, or
//!   concatenated values, whatever its media type says) is a stream of documents of one
//!   schema: each value is observed at the body's root, as if it had come in its own body.

use crate::classify::{
    classify_segment, classify_text, string_format, StrFormat, TextScalar, N_FORMATS,
};
use crate::evidence::{
    self, cnt, combine_map, combine_opt, is_false, is_zero, is_zero_i, Combine, Mode,
};
use crate::pii::{classify_int, classify_value, segment_class, ClassSet, PiiClass};
use crate::props::Props;
use crate::redact::{example_for, example_text, is_secret_key, key_words};
use crate::sound::{bytes_ctrl, bytes_eq, hex4, skip_ws, word_at, SoundText};
use crate::valueflow::{self, Taken};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::borrow::Cow;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt;

/// Max nesting depth inspected.
pub const MAX_DEPTH: usize = 16;
/// Max properties per object node.
pub const MAX_PROPS: usize = 128;
/// Max array elements inspected per array value (see the module doc).
pub const MAX_ITEMS: usize = 1024;
/// Elements at the head of an array always observed in full (see the module doc).
pub const ITEMS_FULL: usize = 16;
/// Beyond [`ITEMS_FULL`], about one element in this many is observed in full.
pub const ITEMS_STRIDE: usize = 8;
/// Max values of a JSON stream body (NDJSON, concatenated values) observed per body.
pub const MAX_STREAM: usize = 64;
/// Max enum candidates per node.
pub const MAX_ENUM: usize = 10;
/// Observations of a value before its text is stored.
pub const ENUM_TEXT_MIN: u64 = 5;
/// Key words that name a category (see the module doc): an enum is exported only under a
/// key whose last word is one of these.
pub const CATEGORY_WORDS: [&str; 46] = [
    "status",
    "state",
    "type",
    "kind",
    "category",
    "class",
    "mode",
    "role",
    "level",
    "tier",
    "plan",
    "currency",
    "country",
    "region",
    "lang",
    "language",
    "locale",
    "unit",
    "method",
    "format",
    "sort",
    "order",
    "direction",
    "dir",
    "scope",
    "reason",
    "condition",
    "priority",
    "severity",
    "stage",
    "phase",
    "visibility",
    "channel",
    "result",
    "outcome",
    "action",
    "event",
    "op",
    "operation",
    "interval",
    "period",
    "frequency",
    "platform",
    "variant",
    "grade",
    "rating",
];

/// Last key words that name a count, size or position: a `0`/`1` query value under such a
/// key is a number, not a flag (see [`SchemaNode::observe_query`]).
pub const COUNT_WORDS: [&str; 30] = [
    "page", "offset", "limit", "count", "size", "start", "end", "skip", "max", "min", "top",
    "first", "last", "depth", "level", "version", "num", "number", "index", "id", "tail", "since",
    "until", "time", "timeout", "delay", "wait", "seconds", "duration", "interval",
];

/// An integer written beyond the 64-bit range (a 128-bit id, a big balance: serde_json
/// hands it over as an `f64`): whole and at least 2^63 in magnitude. Such a number is
/// `integer` (JSON Schema counts any number without a fractional part as one).
fn beyond_u64_integer(v: f64) -> bool {
    v.is_finite() && v.fract() == 0.0 && v.abs() >= 9_223_372_036_854_775_808.0
}

/// Last key words that name a dictionary of user-chosen keys (Docker/Kubernetes/Prometheus
/// `Labels`, `annotations`, event `Attributes`): an object under such a key is a map, so its
/// keys (user data) are never stored as property names.
pub const MAP_WORDS: [&str; 3] = ["labels", "annotations", "attributes"];

fn is_map_key(key: &str) -> bool {
    key_words(key)
        .last()
        .is_some_and(|w| MAP_WORDS.iter().any(|m| w.eq_ignore_ascii_case(m)))
}

/// Counts per JSON type.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TypeCounts {
    /// `null`
    #[serde(default, skip_serializing_if = "is_zero")]
    pub null: u64,
    /// `boolean`
    #[serde(default, skip_serializing_if = "is_zero")]
    pub boolean: u64,
    /// `integer`
    #[serde(default, skip_serializing_if = "is_zero")]
    pub integer: u64,
    /// non-integer `number`
    #[serde(default, skip_serializing_if = "is_zero")]
    pub number: u64,
    /// `string`
    #[serde(default, skip_serializing_if = "is_zero")]
    pub string: u64,
    /// `array`
    #[serde(default, skip_serializing_if = "is_zero")]
    pub array: u64,
    /// `object`
    #[serde(default, skip_serializing_if = "is_zero")]
    pub object: u64,
}

impl Combine for TypeCounts {
    fn combine(&mut self, o: &Self, m: Mode) {
        cnt(&mut self.null, o.null, m);
        cnt(&mut self.boolean, o.boolean, m);
        cnt(&mut self.integer, o.integer, m);
        cnt(&mut self.number, o.number, m);
        cnt(&mut self.string, o.string, m);
        cnt(&mut self.array, o.array, m);
        cnt(&mut self.object, o.object, m);
    }
}

/// Evidence for one schema position.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SchemaNode {
    /// Values observed here.
    pub n: u64,
    /// Per-type counts.
    pub t: TypeCounts,
    /// Per-format string counts, indexed by [`StrFormat`] (index 0: no format).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fmt: Vec<u64>,
    /// Object properties.
    #[serde(default, skip_serializing_if = "Props::is_empty")]
    pub props: Props,
    /// Map values (objects with id-like keys) and overflow properties.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional: Option<Box<SchemaNode>>,
    /// Objects observed in map mode.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub maps: u64,
    /// Query values `0`/`1` under a key that does not name a count or position (see
    /// [`SchemaNode::observe_query`]): when every integer here was one, the parameter is a
    /// boolean.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub bits: u64,
    /// Array element evidence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<Box<SchemaNode>>,
    /// Enum candidates by value hash.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub enum_h: BTreeMap<u64, u64>,
    /// Enum candidate texts, stored once seen [`ENUM_TEXT_MIN`] times.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub enum_v: BTreeMap<u64, String>,
    /// Enum impossible here (too many values, or an ineligible string).
    #[serde(default, skip_serializing_if = "is_false")]
    pub enum_dead: bool,
    /// A cap was hit under this node.
    #[serde(default, skip_serializing_if = "is_false")]
    pub overflow: bool,
    /// First seen, unix ms.
    #[serde(default, skip_serializing_if = "is_zero_i")]
    pub first: i64,
    /// Last seen, unix ms.
    #[serde(default, skip_serializing_if = "is_zero_i")]
    pub last: i64,
    /// One synthesised example (only with `examples` on); the smallest by JSON text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub example: Option<Value>,
    /// Sensitive-data inventory: values here with a PII shape, per class.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pii: BTreeMap<PiiClass, u64>,
}

/// Per-observation context for schema inference.
#[derive(Clone, Copy)]
pub(crate) struct Ctx<'a> {
    pub ts: i64,
    pub examples: bool,
    /// Thin long arrays ([`ItemPick`]); off with [`crate::LearnConfig::all_items`].
    pub thin: bool,
    /// The PII classes found in this observation so far (what [`SchemaNode::pii_add`]
    /// counted), so the caller learns them without scanning the exchange again.
    pub pii: &'a Cell<ClassSet>,
}

impl Ctx<'_> {
    /// Notes that the observation carried a value of class `c`.
    pub fn mark(&self, c: PiiClass) {
        self.pii.set(self.pii.get() | 1 << (c as u8));
    }
}

fn fnv(s: &str) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

/// Enum-looking tokens: `active`, `in_progress`, `Visa`, `EUR`, `IN_TRANSIT`: letters with
/// `_`, `-`, `.`, all lowercase after an optional capital, or all uppercase. No digits, so
/// identifiers, codes and secrets never qualify.
fn enum_token(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty() || b.len() > 32 || !b[0].is_ascii_alphabetic() {
        return false;
    }
    let sep = |c: &u8| b"_-.".contains(c);
    let lower = b[1..].iter().all(|c| c.is_ascii_lowercase() || sep(c));
    let upper = b.iter().all(|c| c.is_ascii_uppercase() || sep(c));
    lower || upper
}

/// Does the key name a category (its last word in [`CATEGORY_WORDS`], plural `s` dropped)?
pub fn category_key(key: &str) -> bool {
    let Some(last) = key_words(key).last() else {
        return false;
    };
    let is = |w: &str| CATEGORY_WORDS.iter().any(|c| c.eq_ignore_ascii_case(w));
    is(last)
        || last.len() > 3
            && (last.ends_with('s') || last.ends_with('S'))
            && last.get(..last.len() - 1).is_some_and(is)
        || last.len() > 4
            && (last.ends_with("es") || last.ends_with("ES"))
            && last.get(..last.len() - 2).is_some_and(is)
}

/// Keys under which an enum may be exported (see the module doc).
fn enum_key_ok(key: &str) -> bool {
    category_key(key) && !is_secret_key(key)
}

thread_local! {
    /// [`enum_key_ok`] answers by key ([`crate::memo`]: exact key compared, so the answer is
    /// always the function's). The question is asked for every string while an enum is
    /// possible at its position, by a few keys over and over (`status`, `currency`);
    /// splitting the key into words and matching the secret-key lists each time cost more
    /// than the rest of the string's inference.
    static KEY_MEMO: crate::memo::KeyMemo<bool> = const { crate::memo::KeyMemo::new(false) };
}

/// [`enum_key_ok`], remembered for short keys.
fn enum_key_ok_memo(key: &str) -> bool {
    KEY_MEMO.with(|m| m.get(key, enum_key_ok))
}

fn example_min(slot: &mut Option<Value>, v: Value) {
    match slot {
        Some(cur) => {
            let (a, b) = (cur.to_string(), v.to_string());
            if b < a {
                *slot = Some(v);
            }
        }
        None => *slot = Some(v),
    }
}

impl SchemaNode {
    fn touch(&mut self, ts: i64) {
        self.n += 1;
        evidence::seen(&mut self.first, &mut self.last, ts);
    }

    fn fmt_add(&mut self, f: StrFormat) {
        if self.fmt.len() < N_FORMATS {
            self.fmt.resize(N_FORMATS, 0);
        }
        if let Some(x) = self.fmt.get_mut(f as usize) {
            *x += 1;
        }
    }

    fn pii_add(&mut self, c: Option<PiiClass>, ctx: Ctx) {
        if let Some(c) = c {
            ctx.mark(c);
            *self.pii.entry(c).or_insert(0) += 1;
            self.kill_enum();
        }
    }

    fn string(&mut self, s: &str, key: &str, ctx: Ctx) {
        self.t.string += 1;
        let f = string_format(s);
        self.fmt_add(f);
        let class = match classify_value(s) {
            None if s.contains('%') => segment_class(s),
            c => c,
        };
        self.pii_add(class, ctx);
        if self.enum_dead {
            return;
        }
        // the key test is the costly one: only while the enum is still possible
        if f != StrFormat::None || !enum_token(s) || !enum_key_ok_memo(key) {
            self.kill_enum();
            return;
        }
        let h = fnv(s);
        let len = self.enum_h.len();
        match self.enum_h.get_mut(&h) {
            Some(c) => {
                *c += 1;
                if *c >= ENUM_TEXT_MIN && !self.enum_v.contains_key(&h) {
                    self.enum_v.insert(h, s.to_string());
                }
            }
            None if len < MAX_ENUM => {
                self.enum_h.insert(h, 1);
            }
            None => self.kill_enum(),
        }
    }

    fn kill_enum(&mut self) {
        self.enum_dead = true;
        self.enum_h.clear();
        self.enum_v.clear();
    }

    /// Observe a JSON value.
    pub(crate) fn observe_json(&mut self, v: &Value, key: &str, ctx: Ctx, depth: usize) {
        self.observe_json_at(v, key, ctx, depth, false, false)
    }

    /// Under a thinned array element (`light`, see the module doc): does a scalar of kind
    /// `s` only count as present here? It does when this node has counted its type already,
    /// except a string where an enum is still possible (an enum's thresholds are counts).
    /// Then it is counted so, and the caller stops.
    fn light(&mut self, light: bool, s: Scalar, ts: i64) -> bool {
        if !light {
            return false;
        }
        let t = &self.t;
        let seen = match s {
            Scalar::Null => t.null,
            Scalar::Bool => t.boolean,
            Scalar::Integer => t.integer,
            Scalar::Number => t.number,
            Scalar::String if self.enum_dead => t.string,
            Scalar::String => 0,
        };
        if seen == 0 {
            return false;
        }
        self.touch(ts);
        true
    }

    /// [`Self::observe_json`]; `item`: the value is an element of the array named `key`;
    /// `light`: it is in a thinned element ([`ItemPick`]).
    fn observe_json_at(
        &mut self,
        v: &Value,
        key: &str,
        ctx: Ctx,
        depth: usize,
        item: bool,
        light: bool,
    ) {
        let scalar = match v {
            Value::Null => Some(Scalar::Null),
            Value::Bool(_) => Some(Scalar::Bool),
            Value::Number(n) if n.is_f64() && !n.as_f64().is_some_and(beyond_u64_integer) => {
                Some(Scalar::Number)
            }
            Value::Number(_) => Some(Scalar::Integer),
            Value::String(_) => Some(Scalar::String),
            Value::Array(_) | Value::Object(_) => None,
        };
        if scalar.is_some_and(|s| self.light(light, s, ctx.ts)) {
            return;
        }
        self.touch(ctx.ts);
        match v {
            Value::Null => self.t.null += 1,
            Value::Bool(_) => self.t.boolean += 1,
            Value::Number(n) => {
                if n.is_f64() {
                    if n.as_f64().is_some_and(beyond_u64_integer) {
                        self.t.integer += 1
                    } else {
                        self.t.number += 1
                    }
                } else {
                    self.t.integer += 1;
                    self.pii_add(n.as_u64().and_then(classify_int), ctx);
                }
            }
            Value::String(s) => self.string(s, key, ctx),
            Value::Array(a) => {
                self.t.array += 1;
                if depth >= MAX_DEPTH {
                    self.overflow = true;
                    return;
                }
                if a.len() > MAX_ITEMS {
                    self.overflow = true;
                }
                if !a.is_empty() {
                    let mut pick = ItemPick::new(self.t.array, ctx);
                    let items = self.items.get_or_insert_with(Default::default);
                    for (i, x) in a.iter().take(MAX_ITEMS).enumerate() {
                        let thin = light || !pick.full(i);
                        items.observe_json_at(x, key, ctx, depth + 1, true, thin);
                    }
                }
            }
            Value::Object(o) => {
                self.t.object += 1;
                if depth >= MAX_DEPTH {
                    self.overflow = true;
                    return;
                }
                self.observe_entries(o, if item { "" } else { key }, ctx, depth, light);
            }
        }
        if ctx.examples && !matches!(v, Value::Array(_) | Value::Object(_)) {
            example_min(&mut self.example, example_for(v));
        }
    }

    /// The members of one object observed at this node (already counted as an object).
    /// `key` is the name the object was found under (a [`MAP_WORDS`] name makes it a map);
    /// `light`: the object is in a thinned array element.
    fn observe_entries(
        &mut self,
        o: &Map<String, Value>,
        key: &str,
        ctx: Ctx,
        depth: usize,
        light: bool,
    ) {
        // cheap common case: the first key is a known property -> not a map
        let known = self.maps == 0
            && o.keys()
                .next()
                .is_some_and(|k| self.props.contains_key(k.as_str()));
        let map_mode = !known
            && !o.is_empty()
            && (self.maps > 0 && self.props.is_empty()
                || is_map_key(key)
                || o.keys().all(|k| classify_segment(k).is_id_like()));
        if map_mode {
            self.maps += 1;
            let add = self.additional.get_or_insert_with(Default::default);
            for (k, x) in o.iter().take(MAX_PROPS) {
                add.observe_json_at(x, k, ctx, depth + 1, false, light);
            }
            return;
        }
        for (k, x) in o {
            let p = match self.props.get_or_insert(k, MAX_PROPS) {
                Some(p) => p,
                None => {
                    self.overflow = true;
                    self.additional.get_or_insert_with(Default::default)
                }
            };
            p.observe_json_at(x, k, ctx, depth + 1, false, light);
        }
    }

    /// Observe a JSON document straight from its bytes, without building a
    /// [`serde_json::Value`] (see [`Observe`]). Returns `false`, and changes nothing, when
    /// the bytes are not one valid JSON value.
    ///
    /// A body of several JSON values one after another (NDJSON / JSON Lines, or values
    /// simply concatenated, as Docker's `/events` sends under `application/json`) is a
    /// stream: each value is observed at this node as one more document of the same schema,
    /// the first [`MAX_STREAM`] of them; beyond that the node is flagged `overflow`. Every
    /// value must parse, or nothing is observed.
    ///
    /// `flow`: value flow's collector for this body, filled during the same walk and
    /// [`Taken::finish`]ed when the body was one value walked completely.
    pub(crate) fn observe_json_bytes(
        &mut self,
        bytes: &[u8],
        ctx: Ctx,
        flow: Option<&mut Taken>,
    ) -> bool {
        // the common case: a body the walk is sure to finish (checked by one cheap scan)
        // is walked straight into this node
        if let Some(text) = sound_json(bytes) {
            let mut flow = flow;
            let ok = self.walk_json(&mut SoundText::new(text), ctx, flow.as_deref_mut());
            if let (true, Some(t)) = (ok, flow) {
                t.finish();
            }
            return ok;
        }
        // anything else: one value serde_json reads (a number out of range, a lone
        // surrogate, invalid UTF-8 in a string or nesting beyond its limit still fail the
        // walk) is walked into a copy, kept only when the walk finished, so a broken body
        // never half-updates a node
        if serde_json::from_slice::<de::IgnoredAny>(bytes).is_ok() {
            let marks = ctx.pii.get();
            let mut copy = self.clone();
            let mut flow = flow;
            let ok = copy.walk_json(
                &mut serde_json::Deserializer::from_slice(bytes),
                ctx,
                flow.as_deref_mut(),
            );
            if ok {
                *self = copy;
                if let Some(t) = flow {
                    t.finish();
                }
            } else {
                ctx.pii.set(marks);
            }
            return ok;
        }
        // not one value: a stream of values? (an empty body is no stream)
        let mut values = 0usize;
        for v in serde_json::Deserializer::from_slice(bytes).into_iter::<de::IgnoredAny>() {
            if v.is_err() {
                return false;
            }
            values += 1;
        }
        if values < 2 {
            return false;
        }
        // every value observed is parsed before the first is observed (same rule)
        let mut docs = Vec::with_capacity(values.min(MAX_STREAM));
        let stream = serde_json::Deserializer::from_slice(bytes).into_iter::<Value>();
        for v in stream.take(MAX_STREAM) {
            match v {
                Ok(v) => docs.push(v),
                Err(_) => return false,
            }
        }
        for v in &docs {
            self.observe_json(v, "", ctx, 0);
        }
        if values > MAX_STREAM {
            self.overflow = true;
        }
        true
    }

    /// The streaming walk of one JSON value ([`Observe`]) from `d` (serde_json over bytes,
    /// or a [`SoundText`] over text [`sound_json`] accepted); false if the reader stopped
    /// with an error (what was observed before it stays: see [`sound_json`]).
    fn walk_json<'de, D: Deserializer<'de>>(
        &mut self,
        d: D,
        ctx: Ctx,
        flow: Option<&mut Taken>,
    ) -> bool {
        Observe {
            node: self,
            key: "",
            ctx,
            depth: 0,
            item: false,
            light: false,
            flow,
        }
        .deserialize(d)
        .is_ok()
    }

    /// Observe a scalar that arrived as text (query/header/form/path), typed by its shape.
    pub(crate) fn observe_text(&mut self, s: &str, key: &str, ctx: Ctx) {
        self.touch(ctx.ts);
        match classify_text(s) {
            TextScalar::Bool => self.t.boolean += 1,
            TextScalar::Int => {
                self.t.integer += 1;
                self.pii_add(classify_value(s), ctx);
            }
            TextScalar::Num => self.t.number += 1,
            TextScalar::Str(_) => self.string(s, key, ctx),
        }
        if ctx.examples {
            example_min(&mut self.example, example_text(s));
        }
    }

    /// Observe a query-string value: as [`Self::observe_text`], and a `0`/`1` under a key
    /// of more than one letter whose last word does not name a count, position or duration
    /// ([`COUNT_WORDS`]: `page=1`, `limit=0`, `t=1` stay integers) also counts as a bit, so a parameter that only ever shows
    /// `0`/`1`/`true`/`false` (Docker's `?all=1&force=0`) exports as a boolean.
    pub(crate) fn observe_query(&mut self, s: &str, key: &str, ctx: Ctx) {
        self.observe_text(s, key, ctx);
        if (s == "0" || s == "1")
            && key.len() > 1
            && !key_words(key)
                .last()
                .is_some_and(|w| COUNT_WORDS.contains(&w.to_ascii_lowercase().as_str()))
        {
            self.bits += 1;
        }
    }

    /// Observe a binary value (file part, opaque body) with `count` multiplicity.
    pub(crate) fn observe_binary(&mut self, ts: i64) {
        self.touch(ts);
        self.t.string += 1;
        self.fmt_add(StrFormat::Binary);
        self.kill_enum();
    }

    /// Observe a free-text body (`text/*`): a string, never an enum.
    pub(crate) fn observe_text_body(&mut self, ts: i64) {
        self.touch(ts);
        self.t.string += 1;
        self.fmt_add(StrFormat::None);
        self.kill_enum();
    }

    /// Observe a field of an object-shaped text payload (form) by name.
    pub(crate) fn observe_field(&mut self, name: &str, value: Option<&str>, ctx: Ctx) {
        let p = match self.props.get_or_insert(name, MAX_PROPS) {
            Some(p) => p,
            None => {
                self.overflow = true;
                self.additional.get_or_insert_with(Default::default)
            }
        };
        match value {
            Some(v) => p.observe_text(v, name, ctx),
            None => p.observe_binary(ctx.ts),
        }
    }

    /// A fingerprint of what this node has learned, not of how often: property names,
    /// the types, string formats and PII classes present, map mode, array items, recursively.
    /// It changes exactly when an observation adds something new (a property, a type, a
    /// format), which is what adaptive body sampling watches for.
    pub fn shape(&self) -> u64 {
        let mut h: u64 = 0xcbf29ce484222325;
        self.shape_into(&mut h);
        h
    }

    fn shape_into(&self, h: &mut u64) {
        fn mix(h: &mut u64, x: u64) {
            *h ^= x;
            *h = h.wrapping_mul(0x100000001b3).rotate_left(5);
        }
        let t = &self.t;
        let types = [
            t.null, t.boolean, t.integer, t.number, t.string, t.array, t.object,
        ]
        .iter()
        .enumerate()
        .fold(0u64, |b, (i, c)| b | (u64::from(*c > 0) << i));
        let fmts = self
            .fmt
            .iter()
            .enumerate()
            .fold(0u64, |b, (i, c)| b | (u64::from(*c > 0) << (i % 64)));
        let pii = self
            .pii
            .keys()
            .fold(0u64, |b, c| b | (1 << (*c as u8 % 64)));
        mix(
            h,
            types | u64::from(self.maps > 0) << 8 | u64::from(self.overflow) << 9,
        );
        mix(h, fmts);
        mix(h, pii);
        for (k, v) in &self.props {
            mix(h, fnv(k));
            v.shape_into(h);
        }
        if let Some(a) = &self.additional {
            mix(h, 1);
            a.shape_into(h);
        }
        if let Some(i) = &self.items {
            mix(h, 2);
            i.shape_into(h);
        }
        mix(h, 3);
    }

    /// Mark one object observation (for form/multipart payloads).
    pub(crate) fn observe_object_start(&mut self, ts: i64) {
        self.touch(ts);
        self.t.object += 1;
    }

    /// The exported format, if any (see the module doc for the rule).
    pub fn format(&self) -> Option<&'static str> {
        if self.t.string == 0 || self.fmt.is_empty() {
            return None;
        }
        let mut best: Option<(StrFormat, u64)> = None;
        for f in StrFormat::ALL.iter().skip(1) {
            let c = self.fmt.get(*f as usize).copied().unwrap_or(0);
            if c > 0 {
                if best.is_some() {
                    // two specific formats: date vs date-time mixes are not one format
                    return None;
                }
                best = Some((*f, c));
            }
        }
        let (f, c) = best?;
        let need = if f == StrFormat::Byte { 0.75 } else { 0.9 };
        if (c as f64) >= need * self.t.string as f64 {
            f.name()
        } else {
            None
        }
    }

    /// Word-keyed maps (`{"en": …, "fr": …}`): at least 10 objects, at least 5 keys, every
    /// key present in at most 70% of them, all values of one type. The known keys stay as
    /// `properties`; their merged schema becomes `additionalProperties`.
    fn map_like(&self) -> Option<SchemaNode> {
        if self.t.object < 10 || self.props.len() < 5 {
            return None;
        }
        let sig = |n: &SchemaNode| {
            let t = &n.t;
            [
                t.boolean > 0,
                t.integer + t.number > 0,
                t.string > 0,
                t.array > 0,
                t.object > 0,
            ]
        };
        let first = sig(self.props.values().next()?);
        if first.iter().filter(|x| **x).count() != 1 {
            return None;
        }
        let mut merged = SchemaNode::default();
        for p in self.props.values() {
            if p.n * 10 > self.t.object * 7 || sig(p) != first {
                return None;
            }
            merged.combine(p, Mode::Sum);
        }
        Some(merged)
    }

    fn enum_values(&self) -> Option<Vec<String>> {
        if self.enum_dead
            || self.enum_h.len() < 2
            || self.enum_h.len() > MAX_ENUM
            || self.t.string < 20
        {
            return None;
        }
        let t = &self.t;
        if t.boolean + t.integer + t.number + t.array + t.object > 0 {
            return None;
        }
        let mut out = Vec::new();
        for (h, c) in &self.enum_h {
            if *c < 3 {
                return None;
            }
            out.push(self.enum_v.get(h)?.clone());
        }
        out.sort();
        Some(out)
    }

    /// Export a scalar that arrived as text (path/query/header): if strings were seen beside
    /// numbers or booleans, the parameter is a string.
    pub fn to_text_schema(&self) -> Value {
        let mut s = self.to_schema(false);
        if let Some(o) = s.as_object_mut() {
            o.remove("enum");
            o.remove("examples");
            // the inventory goes on the parameter (it knows the parameter's name)
            o.remove("x-apitap-pii");
            let t = &self.t;
            if t.string > 0 && t.integer + t.number + t.boolean > 0 {
                o.insert("type".into(), json!("string"));
                o.remove("format");
            } else if self.bits > 0 && self.bits >= t.integer && t.string + t.number == 0 {
                // only 0/1 (and true/false): a flag
                o.insert("type".into(), json!("boolean"));
                o.remove("format");
            }
            if !o.contains_key("type") {
                o.insert("type".into(), json!("string"));
            }
        }
        s
    }

    /// The sensitive-data inventory of this position as `{"class": count}`, `None` if empty.
    /// `key` is the name the values were found under: a secret-like key counts every value
    /// as `secret`.
    pub fn pii_inventory(&self, key: &str) -> Option<Value> {
        let mut m = Map::new();
        for (c, n) in &self.pii {
            m.insert(c.name().into(), json!(n));
        }
        let scalars = self.t.string + self.t.integer + self.t.number + self.t.boolean;
        if scalars > 0 && !key.is_empty() && is_secret_key(key) {
            let n = self.pii.get(&PiiClass::Secret).copied().unwrap_or(0);
            m.insert("secret".into(), json!(n.max(scalars)));
        }
        (!m.is_empty()).then_some(Value::Object(m))
    }

    /// Export as a JSON Schema (2020-12 / OpenAPI 3.1). `evidence` adds `x-apitap-*` keys.
    pub fn to_schema(&self, evidence: bool) -> Value {
        self.to_schema_keyed(evidence, "")
    }

    /// [`Self::to_schema`] for values found under `key` (for the inventory).
    pub fn to_schema_keyed(&self, evidence: bool, key: &str) -> Value {
        let mut s = Map::new();
        let t = &self.t;
        let mut types: Vec<&str> = Vec::new();
        if t.object > 0
            || (!self.props.is_empty() || self.additional.is_some()) && t.object == 0 && self.n > 0
        {
            types.push("object");
        }
        if t.array > 0 {
            types.push("array");
        }
        if t.string > 0 {
            types.push("string");
        }
        if t.number > 0 {
            types.push("number");
        } else if t.integer > 0 {
            types.push("integer");
        }
        if t.boolean > 0 {
            types.push("boolean");
        }
        if t.null > 0 {
            types.push("null");
        }
        match types.len() {
            0 => {}
            1 => {
                s.insert("type".into(), json!(types[0]));
            }
            _ => {
                s.insert("type".into(), json!(types));
            }
        }
        if t.string > 0 {
            if let Some(f) = self.format() {
                s.insert("format".into(), json!(f));
            }
            if let Some(vals) = self.enum_values() {
                let mut vals: Vec<Value> = vals.into_iter().map(Value::String).collect();
                if t.null > 0 {
                    vals.push(Value::Null);
                }
                s.insert("enum".into(), Value::Array(vals));
            }
        }
        if t.object > 0 || !self.props.is_empty() {
            if !self.props.is_empty() {
                let mut props = Map::new();
                let mut req = Vec::new();
                for (k, p) in &self.props {
                    let mut ps = p.to_schema_keyed(evidence, k);
                    if evidence && t.object > 0 {
                        if let Some(o) = ps.as_object_mut() {
                            let frac = (p.n as f64 / t.object as f64).min(1.0);
                            o.insert(
                                "x-apitap-presence".into(),
                                json!((frac * 1000.0).round() / 1000.0),
                            );
                        }
                    }
                    props.insert(k.clone(), ps);
                    if p.n >= t.object && t.object > 0 && t.object > self.maps {
                        req.push(Value::String(k.clone()));
                    }
                }
                s.insert("properties".into(), Value::Object(props));
                if !req.is_empty() {
                    s.insert("required".into(), Value::Array(req));
                }
            }
            if let Some(a) = &self.additional {
                s.insert("additionalProperties".into(), a.to_schema(evidence));
            } else if let Some(m) = self.map_like() {
                s.insert("additionalProperties".into(), m.to_schema(evidence));
            }
        }
        if let Some(items) = &self.items {
            s.insert("items".into(), items.to_schema_keyed(evidence, key));
        }
        if let Some(ex) = &self.example {
            // an exported enum is vocabulary: its first value is the example
            let ex = match s.get("enum").and_then(|e| e.get(0)) {
                Some(first) if ex.is_string() => first.clone(),
                _ => ex.clone(),
            };
            s.insert("examples".into(), json!([ex]));
        }
        if let Some(p) = self.pii_inventory(key) {
            s.insert("x-apitap-pii".into(), p);
        }
        if evidence {
            s.insert("x-apitap-count".into(), json!(self.n));
            if self.first != 0 {
                s.insert("x-apitap-first-seen".into(), json!(self.first));
                s.insert("x-apitap-last-seen".into(), json!(self.last));
            }
        }
        if self.overflow {
            s.insert("x-apitap-overflow".into(), json!(true));
        }
        Value::Object(s)
    }
}

/// Deepest nesting [`sound_json`] accepts (serde_json refuses 128 levels).
pub(crate) const SOUND_DEPTH: usize = 100;
/// Longest number literal [`sound_json`] accepts: with an exponent of at most two digits,
/// such a number is finite as an `f64` (serde_json refuses one that is not).
const SOUND_NUMBER: usize = 40;

/// Is `b` one JSON value, surrounded by whitespace only, that serde_json reads to the end
/// without an error however it is deserialized: UTF-8 throughout, surrogate escapes in
/// pairs, numbers finite, nesting within its recursion limit. One scan, no allocation.
/// `false` means "not sure" (broken, a stream of values, or beyond these bounds): the
/// caller then takes the slow path.
///
/// This is what lets [`SchemaNode::observe_json_bytes`] walk a body straight into a node:
/// the walk can only fail where serde_json finds an error, and this scan is stricter than
/// serde_json on every point where it could (a validation with `IgnoredAny`, the previous
/// guard, skips strings and numbers without reading them, so a lone surrogate, invalid
/// UTF-8 in a string, `1e400` or 130 nested arrays passed it and failed the walk midway).
///
/// Returns the body as text when sound: the walk reads it with [`SoundText`], which makes
/// serde_json's visitor calls without checking any byte again (serde_json's own reader
/// re-checked every string, number and separator: ~2.3 G of 14.9 G instructions of `learn`
/// on the bench capture).
pub(crate) fn sound_json(b: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(b).ok()?;
    sound_structure(b).then_some(text)
}

/// [`sound_json`]'s scan of the structure (after the UTF-8 check).
fn sound_structure(b: &[u8]) -> bool {
    let mut i = 0usize;
    let mut depth = 0usize;
    // bit d set: the container at depth d is an object
    let mut objects: u128 = 0;
    // the container at `depth` is an object (read from `objects` only when one closes)
    let mut object = false;
    'value: loop {
        i = skip_ws(b, i);
        let Some(&c) = b.get(i) else { return false };
        match c {
            b'{' | b'[' => {
                depth += 1;
                if depth > SOUND_DEPTH {
                    return false;
                }
                let close = if c == b'{' {
                    objects |= 1 << depth;
                    b'}'
                } else {
                    objects &= !(1 << depth);
                    b']'
                };
                i = skip_ws(b, i + 1);
                if b.get(i) == Some(&close) {
                    i += 1;
                    depth -= 1;
                } else if c == b'{' {
                    object = true;
                    match member_key(b, i) {
                        Some(j) => i = j,
                        None => return false,
                    }
                    continue 'value;
                } else {
                    object = false;
                    continue 'value;
                }
            }
            b'"' => match sound_string(b, i + 1) {
                Some(j) => i = j,
                None => return false,
            },
            b't' | b'f' | b'n' => {
                let lit: &[u8] = match c {
                    b't' => b"true",
                    b'f' => b"false",
                    _ => b"null",
                };
                if b.get(i..i + lit.len()) != Some(lit) {
                    return false;
                }
                i += lit.len();
            }
            b'-' | b'0'..=b'9' => match sound_number(b, i) {
                Some(j) => i = j,
                None => return false,
            },
            _ => return false,
        }
        // after a value: close containers, or go on to the next element
        loop {
            if depth == 0 {
                return skip_ws(b, i) == b.len();
            }
            i = skip_ws(b, i);
            match b.get(i) {
                Some(b',') if object => {
                    match member_key(b, skip_ws(b, i + 1)) {
                        Some(j) => i = j,
                        None => return false,
                    }
                    continue 'value;
                }
                Some(b',') => {
                    i += 1;
                    continue 'value;
                }
                Some(b'}') if object => {}
                Some(b']') if !object => {}
                _ => return false,
            }
            i += 1;
            depth -= 1;
            object = objects >> depth & 1 == 1;
        }
    }
}

/// An object member's key and colon at `i`: the index after the colon.
#[inline]
fn member_key(b: &[u8], i: usize) -> Option<usize> {
    if b.get(i) != Some(&b'"') {
        return None;
    }
    let j = skip_ws(b, sound_string(b, i + 1)?);
    (b.get(j) == Some(&b':')).then_some(j + 1)
}

/// A string's contents from `i` (after its opening quote): the index after its closing
/// quote, if it has no control character and only valid escapes (`\u` surrogates paired).
#[inline]
fn sound_string(b: &[u8], mut i: usize) -> Option<usize> {
    loop {
        // eight bytes at a time to the next quote, backslash or control byte
        while let Some(x) = word_at(b, i) {
            let hit = bytes_ctrl(x) | bytes_eq(x, b'"') | bytes_eq(x, b'\\');
            if hit != 0 {
                i += hit.trailing_zeros() as usize / 8;
                break;
            }
            i += 8;
        }
        match *b.get(i)? {
            b'"' => return Some(i + 1),
            b'\\' => {
                i = match *b.get(i + 1)? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i + 2,
                    b'u' => {
                        let n = hex4(b, i + 2)?;
                        if (0xDC00..=0xDFFF).contains(&n) {
                            return None;
                        }
                        if (0xD800..=0xDBFF).contains(&n) {
                            if b.get(i + 6..i + 8) != Some(b"\\u") {
                                return None;
                            }
                            let m = hex4(b, i + 8)?;
                            if !(0xDC00..=0xDFFF).contains(&m) {
                                return None;
                            }
                            i + 12
                        } else {
                            i + 6
                        }
                    }
                    _ => return None,
                };
            }
            c if c < 0x20 => return None,
            _ => i += 1,
        }
    }
}

/// A number at `i` (JSON grammar, at most [`SOUND_NUMBER`] bytes, an exponent of at most
/// two digits): the index after it.
fn sound_number(b: &[u8], start: usize) -> Option<usize> {
    let digits = |mut i: usize| {
        let from = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        (i > from).then_some(i)
    };
    let mut i = start;
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    i = match *b.get(i)? {
        b'0' => i + 1,
        b'1'..=b'9' => digits(i)?,
        _ => return None,
    };
    if b.get(i) == Some(&b'.') {
        i = digits(i + 1)?;
    }
    if let Some(b'e' | b'E') = b.get(i) {
        i += 1;
        if let Some(b'+' | b'-') = b.get(i) {
            i += 1;
        }
        let from = i;
        i = digits(i)?;
        if i - from > 2 {
            return None;
        }
    }
    // `01`: serde_json refuses a digit after a leading zero (so does the caller's next
    // test, which wants a separator here)
    (i - start <= SOUND_NUMBER).then_some(i)
}

/// The JSON type of a scalar as [`TypeCounts`] counts it (for [`SchemaNode::light`]).
#[derive(Clone, Copy)]
enum Scalar {
    Null,
    Bool,
    Integer,
    Number,
    String,
}

/// Which elements of one array are observed in full (see the module doc): the first
/// [`ITEMS_FULL`], then about one in [`ITEMS_STRIDE`], the gap to the next drawn by
/// [`spread_gap`] from the element's index and `salt` (the count of arrays this node has
/// seen: deterministic, and a different phase for each array).
struct ItemPick {
    next: usize,
    salt: u64,
    /// Thinning is on ([`Ctx::thin`]).
    thin: bool,
}

impl ItemPick {
    fn new(salt: u64, ctx: Ctx) -> Self {
        ItemPick {
            next: 0,
            salt,
            thin: ctx.thin,
        }
    }

    /// Is element `i` observed in full? Asked for `i` = 0, 1, 2 … in order.
    fn full(&mut self, i: usize) -> bool {
        if i < ITEMS_FULL || !self.thin {
            return true;
        }
        if i < self.next {
            return false;
        }
        let gap = spread_gap(self.salt, i as u64, ITEMS_STRIDE as u64);
        self.next = i.saturating_add(usize::try_from(gap).unwrap_or(ITEMS_STRIDE));
        true
    }
}

/// A gap of mean ≈ `mean`, drawn from `[mean/2, mean/2 + mean)` by the splitmix64 finaliser
/// of `salt` and `k` (deterministic; `k` numbers the draws, `salt` sets the phase). Shared
/// by the array thinning here and the agent's per-endpoint body sampler, so that neither
/// stride aliases with a periodic pattern in what it samples.
pub fn spread_gap(salt: u64, k: u64, mean: u64) -> u64 {
    let mut z = salt ^ k.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    mean / 2 + z % mean.max(1)
}

/// A streaming schema observer: a [`DeserializeSeed`] that updates `node` while a reader
/// parses ([`SoundText`] for a body [`sound_json`] accepted, serde_json otherwise), with
/// the same rules as [`SchemaNode::observe_json`] and no intermediate [`Value`] (the cost
/// of building one dominated learning). Object members are processed in document order;
/// an object whose first key is not a known property (the first objects seen at a
/// position, and id-keyed maps) is buffered as a [`Map`] so that the map test can look at
/// all its keys, exactly as before.
///
/// With a value-flow collector (`flow`), every string also goes to it ([`Taken::string`]),
/// and what the schema skips (beyond its depth, item and property caps) is walked for it
/// ([`valueflow::Walk`]), so value flow needs no parse of its own ([`crate::valueflow`]).
pub(crate) struct Observe<'a> {
    node: &'a mut SchemaNode,
    key: &'a str,
    ctx: Ctx<'a>,
    depth: usize,
    /// The value is an array element (`key` names the array, not this value).
    item: bool,
    /// Under a thinned array element ([`ItemPick`]): a scalar of a type already counted
    /// here only counts as present (see the module doc).
    light: bool,
    flow: Option<&'a mut Taken>,
}

impl<'de> DeserializeSeed<'de> for Observe<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

/// An array element: creates the `items` node on the first element only.
struct ItemSeed<'a> {
    slot: &'a mut Option<Box<SchemaNode>>,
    key: &'a str,
    ctx: Ctx<'a>,
    depth: usize,
    light: bool,
    flow: Option<&'a mut Taken>,
}

impl<'de> DeserializeSeed<'de> for ItemSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        Observe {
            node: self.slot.get_or_insert_with(Default::default),
            key: self.key,
            ctx: self.ctx,
            depth: self.depth,
            item: true,
            light: self.light,
            flow: self.flow,
        }
        .deserialize(d)
    }
}

/// An object key, borrowed from the input when it has no escapes.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Cow<'de, str>, D::Error> {
        d.deserialize_str(KeySeed)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

impl Observe<'_> {
    fn scalar(self, v: impl FnOnce() -> Value) {
        if self.ctx.examples {
            example_min(&mut self.node.example, example_for(&v()));
        }
    }

    /// Does this scalar, under a thinned element, only count as present
    /// ([`SchemaNode::light`])?
    fn light(&mut self, s: Scalar) -> bool {
        self.node.light(self.light, s, self.ctx.ts)
    }
}

impl<'de> Visitor<'de> for Observe<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(mut self) -> Result<(), E> {
        if self.light(Scalar::Null) {
            return Ok(());
        }
        self.node.touch(self.ctx.ts);
        self.node.t.null += 1;
        self.scalar(|| Value::Null);
        Ok(())
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.visit_unit()
    }

    fn visit_bool<E: de::Error>(mut self, v: bool) -> Result<(), E> {
        if self.light(Scalar::Bool) {
            return Ok(());
        }
        self.node.touch(self.ctx.ts);
        self.node.t.boolean += 1;
        self.scalar(|| Value::Bool(v));
        Ok(())
    }

    fn visit_i64<E: de::Error>(mut self, v: i64) -> Result<(), E> {
        if self.light(Scalar::Integer) {
            return Ok(());
        }
        self.node.touch(self.ctx.ts);
        self.node.t.integer += 1;
        self.scalar(|| Value::from(v));
        Ok(())
    }

    fn visit_u64<E: de::Error>(mut self, v: u64) -> Result<(), E> {
        if self.light(Scalar::Integer) {
            return Ok(());
        }
        self.node.touch(self.ctx.ts);
        self.node.t.integer += 1;
        self.node.pii_add(classify_int(v), self.ctx);
        self.scalar(|| Value::from(v));
        Ok(())
    }

    fn visit_f64<E: de::Error>(mut self, v: f64) -> Result<(), E> {
        let integer = beyond_u64_integer(v);
        if self.light(if integer {
            Scalar::Integer
        } else {
            Scalar::Number
        }) {
            return Ok(());
        }
        self.node.touch(self.ctx.ts);
        if integer {
            self.node.t.integer += 1;
        } else {
            self.node.t.number += 1;
        }
        self.scalar(|| serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number));
        Ok(())
    }

    fn visit_str<E: de::Error>(mut self, v: &str) -> Result<(), E> {
        // value flow takes every string, thinned or not
        if let Some(t) = self.flow.as_deref_mut() {
            t.string(self.key, v);
        }
        if self.light(Scalar::String) {
            return Ok(());
        }
        self.node.touch(self.ctx.ts);
        self.node.string(v, self.key, self.ctx);
        self.scalar(|| Value::String(v.to_owned()));
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let (node, key, ctx, depth, light, mut flow) = (
            self.node, self.key, self.ctx, self.depth, self.light, self.flow,
        );
        node.touch(ctx.ts);
        node.t.array += 1;
        if depth >= MAX_DEPTH {
            node.overflow = true;
            return valueflow::seq_rest(flow, key, depth, seq);
        }
        let mut pick = ItemPick::new(node.t.array, ctx);
        for i in 0..MAX_ITEMS {
            let seed = ItemSeed {
                slot: &mut node.items,
                key,
                ctx,
                depth: depth + 1,
                light: light || !pick.full(i),
                flow: flow.as_deref_mut(),
            };
            if seq.next_element_seed(seed)?.is_none() {
                return Ok(());
            }
        }
        let next = valueflow::Walk::new(flow.as_deref_mut(), key, depth + 1);
        if seq.next_element_seed(next)?.is_some() {
            node.overflow = true;
            valueflow::seq_rest(flow, key, depth, seq)?;
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let (node, ctx, depth, light, mut flow) =
            (self.node, self.ctx, self.depth, self.light, self.flow);
        node.touch(ctx.ts);
        node.t.object += 1;
        if depth >= MAX_DEPTH {
            node.overflow = true;
            return valueflow::map_rest(flow, depth, map);
        }
        let Some(mut key) = map.next_key_seed(KeySeed)? else {
            return Ok(());
        };
        if node.maps == 0 && node.props.get_mut(&key).is_some() {
            // common case: a record with known properties, streamed; one hashed lookup
            // per member (a new one is inserted and observed in place: a walk of a sound
            // body cannot fail midway, and any other walks a copy)
            loop {
                let k: &str = &key;
                let target = match node.props.get_or_insert(k, MAX_PROPS) {
                    Some(p) => p,
                    None => {
                        node.overflow = true;
                        node.additional.get_or_insert_with(Default::default)
                    }
                };
                map.next_value_seed(Observe {
                    node: target,
                    key: k,
                    ctx,
                    depth: depth + 1,
                    item: false,
                    light,
                    flow: flow.as_deref_mut(),
                })?;
                match map.next_key_seed(KeySeed)? {
                    Some(k) => key = k,
                    None => return Ok(()),
                }
            }
        }
        if node.maps > 0 && node.props.is_empty() {
            // a known map: values go to additionalProperties, streamed
            node.maps += 1;
            let add = node.additional.get_or_insert_with(Default::default);
            let mut n = 0;
            loop {
                if n < MAX_PROPS {
                    map.next_value_seed(Observe {
                        node: add,
                        key: &key,
                        ctx,
                        depth: depth + 1,
                        item: false,
                        light,
                        flow: flow.as_deref_mut(),
                    })?;
                    n += 1;
                } else {
                    map.next_value_seed(valueflow::Walk::new(
                        flow.as_deref_mut(),
                        &key,
                        depth + 1,
                    ))?;
                }
                match map.next_key_seed(KeySeed)? {
                    Some(k) => key = k,
                    None => return Ok(()),
                }
            }
        }
        // new shape here: buffer the object, then the Value rules decide (map or record)
        let mut o = Map::new();
        loop {
            let v: Value = match flow.as_deref_mut() {
                Some(t) => map.next_value_seed(ValueSeed {
                    flow: Some(t),
                    key: &key,
                    depth: depth + 1,
                })?,
                None => map.next_value()?,
            };
            o.insert(key.into_owned(), v);
            match map.next_key_seed(KeySeed)? {
                Some(k) => key = k,
                None => break,
            }
        }
        node.observe_entries(&o, if self.item { "" } else { self.key }, ctx, depth, light);
        Ok(())
    }
}

/// A [`Value`] built as `Value::deserialize` builds it, its strings given to a value-flow
/// collector on the way (with [`valueflow::Walk`]'s depth rule): a buffered object's
/// values reach value flow in document order, which the [`Map`] does not keep.
struct ValueSeed<'a> {
    flow: Option<&'a mut Taken>,
    /// The object key the value is under (the array's, for an element).
    key: &'a str,
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        if self.flow.is_none() {
            return Value::deserialize(d);
        }
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any valid JSON value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        if let Some(t) = self.flow {
            t.string(self.key, v);
        }
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        if let Some(t) = self.flow {
            t.string(self.key, &v);
        }
        Ok(Value::String(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut flow = self.flow.filter(|_| self.depth < valueflow::MAX_FLOW_DEPTH);
        let mut v = Vec::new();
        while let Some(x) = seq.next_element_seed(ValueSeed {
            flow: flow.as_deref_mut(),
            key: self.key,
            depth: self.depth + 1,
        })? {
            v.push(x);
        }
        Ok(Value::Array(v))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut flow = self.flow.filter(|_| self.depth < valueflow::MAX_FLOW_DEPTH);
        let mut o = Map::new();
        while let Some(k) = map.next_key::<String>()? {
            let v = map.next_value_seed(ValueSeed {
                flow: flow.as_deref_mut(),
                key: &k,
                depth: self.depth + 1,
            })?;
            o.insert(k, v);
        }
        Ok(Value::Object(o))
    }
}

impl Combine for SchemaNode {
    fn combine(&mut self, o: &Self, m: Mode) {
        cnt(&mut self.n, o.n, m);
        self.t.combine(&o.t, m);
        if self.fmt.len() < o.fmt.len() {
            self.fmt.resize(o.fmt.len(), 0);
        }
        for (a, b) in self.fmt.iter_mut().zip(o.fmt.iter()) {
            cnt(a, *b, m);
        }
        self.overflow |= self.props.combine(&o.props, m, MAX_PROPS);
        combine_opt(&mut self.additional, &o.additional, m);
        cnt(&mut self.maps, o.maps, m);
        cnt(&mut self.bits, o.bits, m);
        combine_opt(&mut self.items, &o.items, m);
        self.enum_dead |= o.enum_dead;
        if !self.enum_dead {
            combine_map(&mut self.enum_h, &o.enum_h, m, usize::MAX);
            for (h, v) in &o.enum_v {
                self.enum_v.entry(*h).or_insert_with(|| v.clone());
            }
            if self.enum_h.len() > MAX_ENUM {
                self.kill_enum();
            }
        } else {
            self.kill_enum();
        }
        self.overflow |= o.overflow;
        evidence::first(&mut self.first, o.first);
        evidence::last(&mut self.last, o.last);
        if let Some(e) = &o.example {
            example_min(&mut self.example, e.clone());
        }
        combine_map(&mut self.pii, &o.pii, m, usize::MAX);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn ctx() -> Ctx<'static> {
        Ctx {
            ts: 1,
            examples: false,
            thin: true,
            pii: Box::leak(Box::new(Cell::new(0))),
        }
    }

    /// A body of `n` list items `{"id": i, "name": "item i"}`, with `odd(i)` replacing item
    /// `i`'s JSON when it returns one.
    fn list(n: usize, odd: impl Fn(usize) -> Option<String>) -> Vec<u8> {
        let items: Vec<String> = (0..n)
            .map(|i| odd(i).unwrap_or_else(|| format!(r#"{{"id":{i},"name":"item {i}"}}"#)))
            .collect();
        format!(r#"{{"data":[{}]}}"#, items.join(",")).into_bytes()
    }

    /// The `items` node of a [`list`] body, learned by each walk: the `Value` walk, and the
    /// streaming one (the root primed with `{"data":[]}` so that it streams, not buffers,
    /// the body; the priming leaves `items` untouched).
    fn list_items(body: &[u8]) -> [SchemaNode; 2] {
        let mut a = SchemaNode::default();
        let v: Value = serde_json::from_slice(body).unwrap_or_default();
        a.observe_json(&v, "", ctx(), 0);
        let mut b = SchemaNode::default();
        assert!(b.observe_json_bytes(br#"{"data":[]}"#, ctx(), None));
        assert!(b.props["data"].items.is_none());
        assert!(b.observe_json_bytes(body, ctx(), None));
        [a, b].map(|mut n| {
            n.props
                .remove("data")
                .and_then(|d| d.items)
                .map(|i| *i)
                .unwrap_or_default()
        })
    }

    /// Thinned elements still count presence: one element without `name`, far down the
    /// list, makes `name` optional, and `n` counts every element.
    #[test]
    fn thinned_items_count_presence() {
        for missing in [17, 50, 99, 199] {
            let body = list(200, |i| (i == missing).then(|| format!(r#"{{"id":{i}}}"#)));
            for items in list_items(&body) {
                assert_eq!(items.t.object, 200);
                assert_eq!(items.props["id"].n, 200);
                assert_eq!(items.props["name"].n, 199, "missing at {missing}");
                assert_eq!(items.to_schema(false)["required"], json!(["id"]));
                // the values themselves were inspected on a sample only
                let name = &items.props["name"];
                assert!(name.t.string >= ITEMS_FULL as u64 && name.t.string < 60);
            }
        }
    }

    /// What a thinned element adds is observed in full: a new property, a new type.
    #[test]
    fn thinned_items_learn_what_is_new() {
        let body = list(200, |i| match i {
            90 => Some(r#"{"id":90,"name":"x","at":"2024-01-01T00:00:00Z"}"#.into()),
            131 => Some(r#"{"id":null,"name":"y"}"#.into()),
            _ => None,
        });
        for items in list_items(&body) {
            let s = items.to_schema(false);
            assert_eq!(s["properties"]["at"]["type"], "string");
            assert_eq!(s["properties"]["at"]["format"], "date-time");
            assert_eq!(s["properties"]["id"]["type"], json!(["integer", "null"]));
        }
    }

    /// A position whose enum is still possible counts every string, thinned or not: an
    /// enum's thresholds are counts (20 strings, each value 3 times).
    #[test]
    fn thinned_items_keep_enum_counts() {
        let statuses = ["active", "expired", "pending"];
        // 24 elements: 16 in full, then about one in 8, so a thinned count would stay
        // under 20 strings and under 3 of `pending`
        let body = list(24, |i| {
            Some(format!(
                r#"{{"id":{i},"status":"{}"}}"#,
                statuses[(i / 8) % 3]
            ))
        });
        for items in list_items(&body) {
            assert_eq!(items.props["status"].t.string, 24);
            let s = items.to_schema(false);
            assert_eq!(s["properties"]["status"]["enum"], json!(statuses));
        }
    }

    #[test]
    fn infers_object() {
        let mut n = SchemaNode::default();
        n.observe_json(
            &json!({"id": 1, "name": "a", "tags": ["x"], "rating": null}),
            "",
            ctx(),
            0,
        );
        n.observe_json(
            &json!({"id": 2.5, "name": "b", "tags": [], "rating": 4}),
            "",
            ctx(),
            0,
        );
        let s = n.to_schema(false);
        assert_eq!(s["type"], "object");
        assert_eq!(s["properties"]["id"]["type"], "number");
        assert_eq!(
            s["properties"]["rating"]["type"],
            json!(["integer", "null"])
        );
        assert_eq!(s["properties"]["tags"]["items"]["type"], "string");
        assert_eq!(s["required"], json!(["id", "name", "rating", "tags"]));
    }

    #[test]
    fn optional_and_maps() {
        let mut n = SchemaNode::default();
        n.observe_json(
            &json!({"a": 1, "m": {"17": {"x": true}, "42": {"x": false}}}),
            "",
            ctx(),
            0,
        );
        n.observe_json(&json!({"m": {"9": {"x": true}}}), "", ctx(), 0);
        let s = n.to_schema(false);
        assert_eq!(s["required"], json!(["m"]));
        assert_eq!(
            s["properties"]["m"]["additionalProperties"]["properties"]["x"]["type"],
            "boolean"
        );
        assert!(s["properties"]["m"].get("properties").is_none());
    }

    #[test]
    fn word_keyed_maps() {
        let keys = ["alpha", "beta", "gamma", "delta", "omega", "zeta"];
        let mut n = SchemaNode::default();
        for i in 0..20usize {
            let mut o = Map::new();
            for (j, k) in keys.iter().enumerate() {
                if (i + j) % 3 == 0 {
                    o.insert(k.to_string(), json!(i));
                }
            }
            n.observe_json(&Value::Object(o), "", ctx(), 0);
        }
        let s = n.to_schema(false);
        assert_eq!(s["additionalProperties"]["type"], "integer");
        assert_eq!(s["properties"]["alpha"]["type"], "integer");
        // a record with always-present fields is not a map
        let mut r = SchemaNode::default();
        for i in 0..20 {
            r.observe_json(
                &json!({"a": i, "b": i, "c": i, "d": i, "e": i}),
                "",
                ctx(),
                0,
            );
        }
        assert!(r.to_schema(false).get("additionalProperties").is_none());
    }

    #[test]
    fn enums_need_evidence() {
        let mut n = SchemaNode::default();
        for i in 0..30 {
            let v = ["active", "returned", "overdue"][i % 3];
            n.observe_json(&json!(v), "status", ctx(), 0);
        }
        assert_eq!(
            n.to_schema(false)["enum"],
            json!(["active", "overdue", "returned"])
        );
        let mut few = SchemaNode::default();
        for v in ["a", "b", "a", "b"] {
            few.observe_json(&json!(v), "status", ctx(), 0);
        }
        assert!(few.to_schema(false).get("enum").is_none());
        let mut ids = SchemaNode::default();
        for i in 0..40 {
            ids.observe_json(&json!(["x", "y"][i % 2]), "user_id", ctx(), 0);
        }
        assert!(ids.to_schema(false).get("enum").is_none());
    }

    #[test]
    fn formats_export() {
        let mut n = SchemaNode::default();
        n.observe_json(&json!("2024-01-01"), "d", ctx(), 0);
        n.observe_json(&json!("2024-02-01"), "d", ctx(), 0);
        assert_eq!(n.to_schema(false)["format"], "date");
        n.observe_json(&json!("2024-02-01T00:00:00Z"), "d", ctx(), 0);
        assert!(n.to_schema(false).get("format").is_none());
    }

    /// Generated JSON documents (also used by [`crate::sound`]'s tests).
    pub(crate) fn arb_json() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            (-1e6f64..1e6).prop_map(|f| json!(f)),
            prop::sample::select(vec![
                "active",
                "closed",
                "2024-01-01",
                "a@b.io",
                "x y",
                "http://a.b/c",
                "é\"\n",
            ])
            .prop_map(|s| Value::String(s.to_string())),
        ];
        leaf.prop_recursive(5, 48, 6, |inner| {
            let keys = prop::sample::select(vec![
                "id",
                "name",
                "status",
                "17",
                "42",
                "2024-01-01",
                "token",
                "a\"b",
            ]);
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..40).prop_map(Value::Array),
                prop::collection::vec((keys, inner), 0..6).prop_map(|kv| Value::Object(
                    kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
                )),
            ]
        })
    }

    proptest::proptest! {
        /// The streaming observer and the `Value` walk build the same node (serialized
        /// objects list their keys sorted, as `Map` iterates them).
        #[test]
        fn streaming_equals_value_walk(docs in proptest::collection::vec(arb_json(), 1..6), examples: bool, thin: bool) {
            let cell = Cell::new(0);
            let c = Ctx { ts: 5, examples, thin, pii: &cell };
            let (mut a, mut b) = (SchemaNode::default(), SchemaNode::default());
            for d in &docs {
                // the old path: parse to a Value, then walk it
                let text = serde_json::to_vec(d).unwrap_or_default();
                let v: Value = serde_json::from_slice(&text).unwrap_or_default();
                a.observe_json(&v, "", c, 0);
                proptest::prop_assert!(b.observe_json_bytes(&text, c, None));
            }
            proptest::prop_assert_eq!(a, b);
        }
    }

    #[test]
    fn key_memo_answers_as_the_key_test() {
        let keys = [
            "status",
            "Status",
            "order_status",
            "statuses",
            "name",
            "type",
            "token_type",
            "passwordType",
            "currency",
            "",
            "x",
            "kind",
            "api_key_kind",
            "accountType",
            "a_very_long_key_name_that_is_not_remembered_status",
        ];
        // twice round, many more keys than slots: misses, hits and evictions
        for round in 0..2 {
            for i in 0..200 {
                let k = format!("k{i}_status");
                assert_eq!(enum_key_ok_memo(&k), enum_key_ok(&k), "{k} round {round}");
            }
            for k in keys {
                assert_eq!(enum_key_ok_memo(k), enum_key_ok(k), "{k} round {round}");
            }
        }
        assert!(enum_key_ok_memo("status") && !enum_key_ok_memo("token_type"));
    }

    #[test]
    fn broken_json_changes_nothing() {
        let mut n = SchemaNode::default();
        assert!(n.observe_json_bytes(br#"{"a":[1,2,{"b":true}]}"#, ctx(), None));
        let before = n.clone();
        for bad in [&br#"{"a":[1,2,{"b":tru"#[..], b"{\"a\":1} x", b"", b"[1,]"] {
            assert!(!n.observe_json_bytes(bad, ctx(), None));
        }
        assert_eq!(n, before);
        // depth beyond MAX_DEPTH: counted as overflow, not recursed into
        let deep = format!("{}1{}", "[".repeat(40), "]".repeat(40));
        let mut d = SchemaNode::default();
        assert!(d.observe_json_bytes(deep.as_bytes(), ctx(), None));
        let mut cur = &d;
        let mut depth = 0;
        while let Some(next) = cur.items.as_deref() {
            cur = next;
            depth += 1;
        }
        assert_eq!(depth, MAX_DEPTH);
        assert!(cur.overflow);
    }

    #[test]
    fn bodies_serde_reads_only_in_part_change_nothing() {
        // each is one value to `IgnoredAny` (the previous guard), and the walk fails in it
        // after `a` was observed: none may leave a trace
        let deep = format!("{{\"a\":1,\"b\":{}1{}}}", "[".repeat(130), "]".repeat(130));
        let bodies: [&[u8]; 6] = [
            br#"{"a":1,"b":"\udc00"}"#,
            br#"{"a":1,"b":"\ud800x"}"#,
            br#"{"a":1,"b":1e400}"#,
            b"{\"a\":1,\"b\":\"\xff\"}",
            deep.as_bytes(),
            b"{\"a\":1}\n{\"a\":1e400}",
        ];
        for body in bodies {
            let mut n = SchemaNode::default();
            let cell = Cell::new(0);
            let c = Ctx {
                ts: 1,
                examples: false,
                thin: true,
                pii: &cell,
            };
            let mut flow = Taken::default();
            assert!(!n.observe_json_bytes(body, c, Some(&mut flow)), "{body:?}");
            assert_eq!(n, SchemaNode::default(), "{body:?}");
            assert_eq!(cell.get(), 0);
        }
        // the same shapes within serde_json's bounds are learned (the slow path included)
        let ok = format!("{{\"a\":1,\"b\":{}1{}}}", "[".repeat(110), "]".repeat(110));
        for body in [
            &br#"{"a":1,"b":"\ud83d\ude00"}"#[..],
            br#"{"a":1,"b":1e300}"#,
            ok.as_bytes(),
        ] {
            let mut n = SchemaNode::default();
            assert!(n.observe_json_bytes(body, ctx(), None), "{body:?}");
            assert!(n.props.contains_key("b"));
        }
    }

    #[test]
    fn sound_json_cases() {
        for good in [
            &b"{}"[..],
            b" [ ] ",
            b"0",
            b"-0.5e-10",
            b"\"\\u00e9\\n\"",
            br#"{"a": [1, true, null, {"b": "c"}], "d": -12.5E+3}"#,
            "\"é日本\"".as_bytes(),
        ] {
            assert!(
                sound_json(good).is_some(),
                "{:?}",
                String::from_utf8_lossy(good)
            );
            assert!(serde_json::from_slice::<Value>(good).is_ok());
        }
        for unsure in [
            &b""[..],
            b"01",
            b"1.",
            b"-",
            b"[1,]",
            b"{\"a\" 1}",
            b"{\"a\":1,}",
            b"[1] [2]",
            b"tru",
            b"nul",
            b"\"a\x01\"",
            b"\"\\x\"",
            b"\"\\u12\"",
            b"1e400",
            b"1e100",
            b"\"\\udc00\"",
            b"\"\\ud800\\u0041\"",
            b"\xef\xbb\xbf{}",
        ] {
            assert!(
                sound_json(unsure).is_none(),
                "{:?}",
                String::from_utf8_lossy(unsure)
            );
        }
    }

    proptest::proptest! {
        /// What `sound_json` accepts, serde_json reads to the end (into `str`s and `f64`s),
        /// whatever bytes are changed in a document; and it accepts the documents serde_json
        /// writes.
        #[test]
        fn sound_json_implies_serde_reads_it(
            d in arb_json(),
            edits in proptest::collection::vec((0usize..4096, proptest::sample::select(vec![
                b'"', b'\\', b'u', b'd', b'8', b'0', b'{', b'}', b'[', b']', b',', b':',
                b'e', b'-', b'.', b'1', b' ', 0x01, 0xc3, 0xff,
            ])), 0..4),
        ) {
            let mut text = serde_json::to_vec(&d).unwrap_or_default();
            proptest::prop_assert!(sound_json(&text).is_some());
            for (at, byte) in edits {
                let at = at % (text.len() + 1);
                if at % 2 == 0 {
                    text.insert(at, byte);
                } else if let Some(x) = text.get_mut(at) {
                    *x = byte;
                }
            }
            if sound_json(&text).is_some() {
                proptest::prop_assert!(serde_json::from_slice::<Value>(&text).is_ok());
            }
        }
    }

    #[test]
    fn json_streams_are_documents_of_one_schema() {
        // Docker /events: NDJSON under application/json
        let body = b"{\"Type\":\"container\",\"time\":1,\"Actor\":{\"ID\":\"x\"}}\n\
                     {\"Type\":\"image\",\"time\":2,\"timeNano\":3}\n";
        let mut n = SchemaNode::default();
        assert!(n.observe_json_bytes(body, ctx(), None));
        assert_eq!(n.t.object, 2);
        for k in ["Type", "time", "Actor", "timeNano"] {
            assert!(n.props.contains_key(k), "{k}");
        }
        assert!(n.props["Actor"].props.contains_key("ID"));
        let s = n.to_schema(false);
        assert_eq!(s["type"], "object");
        assert_eq!(s["required"], json!(["Type", "time"]));
        // concatenated without separators, CRLF lines
        let mut c = SchemaNode::default();
        assert!(c.observe_json_bytes(b"{\"a\":1}{\"a\":2}\r\n{\"a\":3}", ctx(), None));
        assert_eq!(c.t.object, 3);
        // one broken value: nothing observed
        let mut b = SchemaNode::default();
        assert!(!b.observe_json_bytes(b"{\"a\":1}\n{\"a\":", ctx(), None));
        assert_eq!(b, SchemaNode::default());
        // bounded
        let many = "{\"a\":1}\n".repeat(MAX_STREAM + 10);
        let mut m = SchemaNode::default();
        assert!(m.observe_json_bytes(many.as_bytes(), ctx(), None));
        assert_eq!(m.t.object, MAX_STREAM as u64);
        assert!(m.overflow);
    }

    #[test]
    fn label_dictionaries_are_maps() {
        let body = br#"{"Labels": {"com.example.team": "orbit", "owner": "maple"}, "Actor": {"Attributes": {"image": "x", "name": "y"}}, "name": "z"}"#;
        let mut n = SchemaNode::default();
        assert!(n.observe_json_bytes(body, ctx(), None));
        let mut v = SchemaNode::default();
        v.observe_json(&serde_json::from_slice(body).unwrap(), "", ctx(), 0);
        assert_eq!(n, v);
        let s = n.to_schema(false);
        let labels = &s["properties"]["Labels"];
        assert!(labels.get("properties").is_none(), "{labels}");
        assert_eq!(labels["additionalProperties"]["type"], "string");
        let attrs = &s["properties"]["Actor"]["properties"]["Attributes"];
        assert_eq!(attrs["additionalProperties"]["type"], "string");
        let text = serde_json::to_string(&n).unwrap();
        for k in ["com.example.team", "owner", "image"] {
            assert!(!text.contains(k), "{k} stored");
        }
        // an array named `labels` holds records (GitHub's label objects), not a map
        let mut a = SchemaNode::default();
        assert!(a.observe_json_bytes(br#"{"labels": [{"id": 1, "name": "bug"}]}"#, ctx(), None));
        let s2 = a.to_schema(false);
        assert_eq!(
            s2["properties"]["labels"]["items"]["required"],
            json!(["id", "name"])
        );
        // other keys are records as before
        assert!(s["properties"]["Actor"]["properties"]
            .get("Attributes")
            .is_some());
        assert_eq!(s["properties"]["name"]["type"], "string");
    }

    #[test]
    fn big_integers_stay_integers() {
        let body = br#"{"id": 340282366920938463463374607431768211455, "neg": -99999999999999999999, "x": 1.5, "u": 18446744073709551615}"#;
        let mut n = SchemaNode::default();
        assert!(n.observe_json_bytes(body, ctx(), None));
        let mut v = SchemaNode::default();
        v.observe_json(&serde_json::from_slice(body).unwrap(), "", ctx(), 0);
        for node in [&n, &v] {
            let s = node.to_schema(false);
            assert_eq!(s["properties"]["id"]["type"], "integer");
            assert_eq!(s["properties"]["neg"]["type"], "integer");
            assert_eq!(s["properties"]["u"]["type"], "integer");
            assert_eq!(s["properties"]["x"]["type"], "number");
        }
    }

    #[test]
    fn query_flags_are_booleans() {
        let q = |vals: &[&str], key: &str| {
            let mut n = SchemaNode::default();
            for v in vals {
                n.observe_query(v, key, ctx());
            }
            n.to_text_schema()["type"].clone()
        };
        assert_eq!(q(&["1", "1", "0"], "all"), "boolean");
        assert_eq!(q(&["1", "true", "false"], "force"), "boolean");
        assert_eq!(q(&["1"], "stream"), "boolean");
        // a count or position stays a number; other integers make it an integer
        assert_eq!(q(&["1", "1"], "page"), "integer");
        assert_eq!(q(&["0"], "pageOffset"), "integer");
        assert_eq!(q(&["1"], "t"), "integer");
        assert_eq!(q(&["1"], "wait_seconds"), "integer");
        assert_eq!(q(&["1", "0"], "duration"), "integer");
        assert_eq!(q(&["0", "1", "2"], "all"), "integer");
        assert_eq!(q(&["0", "x"], "all"), "string");
        // merged evidence keeps the rule
        let mut a = SchemaNode::default();
        a.observe_query("1", "all", ctx());
        let mut b = SchemaNode::default();
        b.observe_query("7", "all", ctx());
        a.combine(&b, Mode::Sum);
        assert_eq!(a.to_text_schema()["type"], "integer");
    }

    #[test]
    fn caps_hold() {
        let mut big = Map::new();
        for i in 0..500 {
            big.insert(format!("k{i}x"), json!(i));
        }
        let mut n = SchemaNode::default();
        n.observe_json(&Value::Object(big), "", ctx(), 0);
        assert_eq!(n.props.len(), MAX_PROPS);
        assert!(n.overflow);
        let mut deep = json!(1);
        for _ in 0..100 {
            deep = json!({"a": deep});
        }
        let mut d = SchemaNode::default();
        d.observe_json(&deep, "", ctx(), 0);
        let mut cur = &d;
        let mut depth = 0;
        while let Some(next) = cur.props.get("a") {
            cur = next;
            depth += 1;
        }
        assert_eq!(depth, MAX_DEPTH);
        assert!(cur.overflow);
    }
}
