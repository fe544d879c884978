//! Diff of two OpenAPI documents (3.0/3.1 JSON values), classifying changes as breaking or
//! compatible for clients.
//!
//! Operations are matched by method and path shape (parameter names ignored).
//! Breaking: removed operation; removed response status; removed response media type;
//! removed response property; a response property that became optional; a response type that
//! gained types (`integer` → `number`, `string` → `["string","null"]`); a request type that
//! lost types (narrowing); a new required request property, parameter or request body;
//! a removed request media type.
//! Compatible: added operation/status/property/optional parameter, removed parameter,
//! widened request types, narrowed response types.
//! gRPC (`application/grpc` content, protobuf fields with `x-protobuf-field`): a removed
//! field or a changed wire type is breaking in requests and responses alike (old peers
//! still send or expect it), as is a changed streaming kind (`x-apitap-grpc`); an added
//! field and a type change within one wire type (`int64` ↔ `bool`) are compatible.
//!
//! Untrusted input: both documents may be hostile. [`diff_checked`] bounds the work:
//! - every pair of (old, new) schemas is compared at most once, so a `$ref` cycle
//!   (`properties` referring back to their own schema) or a shared schema costs one
//!   comparison, not an exponential walk;
//! - `allOf`/`oneOf`/`anyOf` expansion detects cycles (a schema that is, through `$ref`s,
//!   its own `allOf` member) and fails with [`DiffError::Cycle`];
//! - nesting deeper than [`MAX_NESTING`] fails with [`DiffError::TooDeep`];
//! - more than [`MAX_WORK`] schema steps fail with [`DiffError::TooMuchWork`].
//!
//! Input size and parse depth are the reader's job (the CLI caps both before parsing).

use serde::Serialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// Max schema steps (comparisons, `allOf` expansions) per diff.
pub const MAX_WORK: u64 = 2_000_000;
/// Max nesting of schemas (properties, items, `allOf` members) followed.
pub const MAX_NESTING: usize = 64;

/// Why a diff could not be computed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiffError {
    /// A composition (`allOf`/`oneOf`/`anyOf`) that contains itself.
    Cycle(String),
    /// Schemas nested deeper than [`MAX_NESTING`].
    TooDeep(String),
    /// More than [`MAX_WORK`] steps.
    TooMuchWork,
}

impl std::fmt::Display for DiffError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DiffError::Cycle(at) => write!(f, "schema composition cycle (allOf/oneOf/anyOf contains itself) at {at}"),
            DiffError::TooDeep(at) => write!(f, "schemas nested deeper than {MAX_NESTING} levels at {at}"),
            DiffError::TooMuchWork => write!(f, "diff needs more than {MAX_WORK} schema steps; refusing (hostile or enormous document?)"),
        }
    }
}

impl std::error::Error for DiffError {}

/// Work accounting shared by one diff.
#[derive(Default)]
struct Guard {
    work: u64,
    err: Option<DiffError>,
}

impl Guard {
    /// Counts one step; false once the budget is spent or an error occurred.
    fn step(&mut self) -> bool {
        self.work += 1;
        if self.work > MAX_WORK && self.err.is_none() {
            self.err = Some(DiffError::TooMuchWork);
        }
        self.err.is_none()
    }

    fn fail(&mut self, e: DiffError) {
        if self.err.is_none() {
            self.err = Some(e);
        }
    }
}

fn addr(v: &Value) -> usize {
    v as *const Value as usize
}

/// One change.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Change {
    /// `METHOD /path` of the operation.
    pub operation: String,
    /// Machine-readable kind, e.g. `response-property-removed`.
    pub kind: String,
    /// Where in the operation (e.g. `200 application/json $.items[].id`).
    pub location: String,
    /// Human-readable detail.
    pub detail: String,
}

/// The result of [`diff`].
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Diff {
    /// Operations only in the new document.
    pub added_endpoints: Vec<String>,
    /// Operations only in the old document (also listed as breaking).
    pub removed_endpoints: Vec<String>,
    /// Breaking changes.
    pub breaking: Vec<Change>,
    /// Compatible changes.
    pub compatible: Vec<Change>,
}

impl Diff {
    /// Any breaking change?
    pub fn has_breaking(&self) -> bool {
        !self.breaking.is_empty()
    }

    /// JSON rendering.
    pub fn to_json(&self) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        v["has_breaking"] = json!(self.has_breaking());
        v
    }

    /// Text rendering.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let sec = |s: &mut String, title: &str, items: &[String]| {
            if !items.is_empty() {
                s.push_str(&format!("{title} ({}):\n", items.len()));
                for i in items {
                    s.push_str(&format!("  {i}\n"));
                }
            }
        };
        sec(&mut s, "Added endpoints", &self.added_endpoints);
        sec(&mut s, "Removed endpoints", &self.removed_endpoints);
        let fmt = |c: &Change| format!("{} [{}] {}: {}", c.operation, c.kind, c.location, c.detail);
        sec(
            &mut s,
            "BREAKING changes",
            &self.breaking.iter().map(fmt).collect::<Vec<_>>(),
        );
        sec(
            &mut s,
            "Compatible changes",
            &self.compatible.iter().map(fmt).collect::<Vec<_>>(),
        );
        if s.is_empty() {
            s.push_str("No changes.\n");
        }
        s
    }
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "patch", "head", "options", "trace",
];

fn shape(path: &str) -> String {
    let mut out = String::new();
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        out.push('/');
        if seg.starts_with('{') && seg.ends_with('}') {
            out.push_str("{}");
        } else {
            out.push_str(seg);
        }
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

fn deref<'a>(doc: &'a Value, mut v: &'a Value) -> &'a Value {
    for _ in 0..16 {
        let Some(r) = v.get("$ref").and_then(|r| r.as_str()) else {
            return v;
        };
        let Some(ptr) = r.strip_prefix('#') else {
            return v;
        };
        match doc.pointer(ptr) {
            Some(t) => v = t,
            None => return v,
        }
    }
    v
}

struct Op<'a> {
    display: String,
    item: &'a Value,
    op: &'a Value,
}

fn operations(doc: &Value) -> BTreeMap<String, Op<'_>> {
    let mut out = BTreeMap::new();
    if let Some(paths) = doc.get("paths").and_then(|p| p.as_object()) {
        for (p, item) in paths {
            let item = deref(doc, item);
            for m in METHODS {
                if let Some(op) = item.get(m) {
                    let up = m.to_ascii_uppercase();
                    out.insert(
                        format!("{up} {}", shape(p)),
                        Op {
                            display: format!("{up} {p}"),
                            item,
                            op,
                        },
                    );
                }
            }
        }
    }
    out
}

fn types(doc: &Value, s: &Value, g: &mut Guard) -> BTreeSet<String> {
    let mut t = BTreeSet::new();
    let mut stack = Vec::new();
    types_rec(doc, s, g, &mut stack, &mut t);
    t
}

fn types_rec(
    doc: &Value,
    s: &Value,
    g: &mut Guard,
    stack: &mut Vec<usize>,
    t: &mut BTreeSet<String>,
) {
    let raw = s;
    let s = deref(doc, s);
    if !g.step() {
        return;
    }
    if stack.contains(&addr(s)) {
        g.fail(DiffError::Cycle(short(raw)));
        return;
    }
    if stack.len() >= MAX_NESTING {
        g.fail(DiffError::TooDeep(short(raw)));
        return;
    }
    match s.get("type") {
        Some(Value::String(x)) => {
            t.insert(x.clone());
        }
        Some(Value::Array(xs)) => t.extend(xs.iter().filter_map(|x| x.as_str().map(String::from))),
        _ => {
            if s.get("properties").is_some() {
                t.insert("object".into());
            }
            if s.get("items").is_some() {
                t.insert("array".into());
            }
        }
    }
    if s.get("nullable") == Some(&Value::Bool(true)) {
        t.insert("null".into());
    }
    stack.push(addr(s));
    for k in ["allOf", "oneOf", "anyOf"] {
        if let Some(xs) = s.get(k).and_then(|x| x.as_array()) {
            for x in xs {
                types_rec(doc, x, g, stack, t);
            }
        }
    }
    stack.pop();
}

/// A short description of a schema for error messages (its `$ref`, title or keys).
fn short(s: &Value) -> String {
    if let Some(r) = s.get("$ref").and_then(|r| r.as_str()) {
        return r.chars().take(120).collect();
    }
    match s.as_object() {
        Some(o) => {
            let keys: Vec<&str> = o.keys().take(5).map(String::as_str).collect();
            format!("schema with keys {keys:?}")
        }
        None => "a non-object schema".into(),
    }
}

fn widen(t: &BTreeSet<String>) -> BTreeSet<String> {
    // integer ⊂ number
    let mut w = t.clone();
    if w.contains("number") {
        w.insert("integer".into());
    }
    w
}

type Props<'a> = (BTreeMap<&'a str, &'a Value>, BTreeSet<&'a str>);

fn props<'a>(doc: &'a Value, s: &'a Value, g: &mut Guard) -> Props<'a> {
    let mut out = (BTreeMap::new(), BTreeSet::new());
    let mut stack = Vec::new();
    props_rec(doc, s, g, &mut stack, &mut out);
    out
}

fn props_rec<'a>(
    doc: &'a Value,
    s: &'a Value,
    g: &mut Guard,
    stack: &mut Vec<usize>,
    out: &mut Props<'a>,
) {
    let raw = s;
    let s = deref(doc, s);
    if !g.step() {
        return;
    }
    if stack.contains(&addr(s)) {
        g.fail(DiffError::Cycle(short(raw)));
        return;
    }
    if stack.len() >= MAX_NESTING {
        g.fail(DiffError::TooDeep(short(raw)));
        return;
    }
    if let Some(o) = s.get("properties").and_then(|x| x.as_object()) {
        for (k, v) in o {
            if !g.step() {
                return;
            }
            out.0.insert(k.as_str(), v);
        }
    }
    if let Some(r) = s.get("required").and_then(|x| x.as_array()) {
        out.1.extend(r.iter().filter_map(|x| x.as_str()));
    }
    if let Some(xs) = s.get("allOf").and_then(|x| x.as_array()) {
        stack.push(addr(s));
        for x in xs {
            props_rec(doc, x, g, stack, out);
        }
        stack.pop();
    }
}

struct Ctx<'a> {
    old: &'a Value,
    new: &'a Value,
    op: String,
    out: &'a mut Diff,
    g: &'a mut Guard,
    /// (old schema, new schema, kind: 0 request, 1 response, 2 gRPC) pairs already compared
    /// in this operation.
    seen: HashSet<(usize, usize, u8)>,
}

impl Ctx<'_> {
    fn push(&mut self, breaking: bool, kind: &str, location: String, detail: String) {
        let c = Change {
            operation: self.op.clone(),
            kind: kind.into(),
            location,
            detail,
        };
        if breaking {
            self.out.breaking.push(c)
        } else {
            self.out.compatible.push(c)
        }
    }

    /// Compare schemas. `response`: true for responses (clients read), false for requests.
    fn schema(&mut self, o: &Value, n: &Value, loc: &str, response: bool, depth: usize) {
        if depth > 24 || !self.g.step() {
            return;
        }
        let (o, n) = (deref(self.old, o), deref(self.new, n));
        // each pair once: `$ref` cycles and shared schemas cost one comparison
        if !self.seen.insert((addr(o), addr(n), response as u8)) {
            return;
        }
        let (to, tn) = (types(self.old, o, self.g), types(self.new, n, self.g));
        if !to.is_empty() && !tn.is_empty() && to != tn {
            let (gained, lost) = (!tn.is_subset(&widen(&to)), !to.is_subset(&widen(&tn)));
            let breaking = if response { gained } else { lost };
            let detail = format!("type {:?} -> {:?}", to, tn);
            self.push(
                breaking,
                if breaking {
                    "type-changed-incompatibly"
                } else {
                    "type-changed"
                },
                loc.to_string(),
                detail,
            );
        }
        let (po, ro) = props(self.old, o, self.g);
        let (pn, rn) = props(self.new, n, self.g);
        for (k, ov) in &po {
            let l = format!("{loc}.{k}");
            match pn.get(k) {
                None => {
                    if response {
                        self.push(
                            true,
                            "response-property-removed",
                            l,
                            "property removed".into(),
                        );
                    } else {
                        self.push(
                            false,
                            "request-property-removed",
                            l,
                            "property no longer documented".into(),
                        );
                    }
                }
                Some(nv) => {
                    let (ov, nv): (&Value, &Value) = (ov, nv);
                    if response && ro.contains(k) && !rn.contains(k) {
                        self.push(
                            true,
                            "response-property-optional",
                            l.clone(),
                            "property may now be absent".into(),
                        );
                    }
                    if !response && !ro.contains(k) && rn.contains(k) {
                        self.push(
                            true,
                            "request-property-required",
                            l.clone(),
                            "property is now required".into(),
                        );
                    }
                    self.schema(ov, nv, &l, response, depth + 1);
                }
            }
        }
        for k in pn.keys().filter(|k| !po.contains_key(*k)) {
            let l = format!("{loc}.{k}");
            if !response && rn.contains(k) {
                self.push(
                    true,
                    "request-property-added-required",
                    l,
                    "new required property".into(),
                );
            } else {
                self.push(
                    false,
                    if response {
                        "response-property-added"
                    } else {
                        "request-property-added"
                    },
                    l,
                    "new property".into(),
                );
            }
        }
        let (io, inn) = (o.get("items"), n.get("items"));
        if let (Some(a), Some(b)) = (io, inn) {
            self.schema(a, b, &format!("{loc}[]"), response, depth + 1);
        }
        let (ao, an) = (o.get("additionalProperties"), n.get("additionalProperties"));
        if let (Some(a), Some(b)) = (ao, an) {
            if a.is_object() && b.is_object() {
                self.schema(a, b, &format!("{loc}.*"), response, depth + 1);
            }
        }
    }
}

impl Ctx<'_> {
    /// Protobuf message schemas (see the module doc for what is breaking).
    fn grpc_schema(&mut self, o: &Value, n: &Value, loc: &str, depth: usize) {
        if depth > 24 || !self.g.step() {
            return;
        }
        let (o, n) = (deref(self.old, o), deref(self.new, n));
        if !self.seen.insert((addr(o), addr(n), 2)) {
            return;
        }
        let (o, n) = (o.get("items").unwrap_or(o), n.get("items").unwrap_or(n));
        let empty = serde_json::Map::new();
        let po = o
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let pn = n
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        for (k, ov) in po {
            let l = format!("{loc}.{k}");
            let Some(nv) = pn.get(k) else {
                self.push(
                    true,
                    "grpc-field-removed",
                    l,
                    "protobuf field removed".into(),
                );
                continue;
            };
            let w = |v: &Value| v.get("x-protobuf-wire-type").cloned();
            if w(ov) != w(nv) {
                let detail = format!("wire type {:?} -> {:?}", w(ov), w(nv));
                self.push(true, "grpc-wire-type-changed", l.clone(), detail);
            } else if types(self.old, ov, self.g) != types(self.new, nv, self.g)
                || ov.get("format") != nv.get("format")
            {
                self.push(
                    false,
                    "grpc-type-changed",
                    l.clone(),
                    "type changed within the same wire type".into(),
                );
            }
            self.grpc_schema(ov, nv, &l, depth + 1);
        }
        for k in pn.keys().filter(|k| !po.contains_key(*k)) {
            self.push(
                false,
                "grpc-field-added",
                format!("{loc}.{k}"),
                "new protobuf field".into(),
            );
        }
    }
}

const GRPC: &str = "application/grpc";

fn params(doc: &Value, item: &Value, op: &Value) -> BTreeMap<(String, String), Value> {
    let mut out = BTreeMap::new();
    for src in [item, op] {
        if let Some(ps) = src.get("parameters").and_then(|x| x.as_array()) {
            for p in ps {
                let p = deref(doc, p);
                let (Some(name), Some(loc)) = (
                    p.get("name").and_then(|x| x.as_str()),
                    p.get("in").and_then(|x| x.as_str()),
                ) else {
                    continue;
                };
                if loc == "path" {
                    continue; // compared through the path shape
                }
                let name = if loc == "header" {
                    name.to_ascii_lowercase()
                } else {
                    name.to_string()
                };
                out.insert((loc.to_string(), name), p.clone());
            }
        }
    }
    out
}

fn required(p: &Value) -> bool {
    p.get("required") == Some(&Value::Bool(true))
}

fn content(doc: &Value, v: Option<&Value>) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    if let Some(c) = v
        .map(|v| deref(doc, v))
        .and_then(|v| v.get("content"))
        .and_then(|c| c.as_object())
    {
        for (k, m) in c {
            let key = k.split(';').next().unwrap_or(k).trim().to_ascii_lowercase();
            out.insert(key, m.get("schema").cloned().unwrap_or(json!({})));
        }
    }
    out
}

/// Diff two OpenAPI documents. On a hostile document (see [`diff_checked`]) the result is
/// the changes found before the limit plus a breaking `diff-incomplete` change naming the
/// error, so a caller never mistakes it for a clean diff.
pub fn diff(old: &Value, new: &Value) -> Diff {
    let mut g = Guard::default();
    let mut out = diff_guarded(old, new, &mut g);
    if let Some(e) = g.err {
        out.breaking.push(Change {
            operation: String::new(),
            kind: "diff-incomplete".into(),
            location: String::new(),
            detail: e.to_string(),
        });
    }
    out
}

/// Diff two OpenAPI documents with bounded work; an error for composition cycles, nesting
/// beyond [`MAX_NESTING`] or more than [`MAX_WORK`] steps.
pub fn diff_checked(old: &Value, new: &Value) -> Result<Diff, DiffError> {
    let mut g = Guard::default();
    let out = diff_guarded(old, new, &mut g);
    match g.err {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

fn diff_guarded(old: &Value, new: &Value, g: &mut Guard) -> Diff {
    let mut out = Diff::default();
    let (oo, no) = (operations(old), operations(new));
    for (k, o) in &oo {
        if !no.contains_key(k) {
            out.removed_endpoints.push(o.display.clone());
            out.breaking.push(Change {
                operation: o.display.clone(),
                kind: "endpoint-removed".into(),
                location: String::new(),
                detail: "operation removed".into(),
            });
        }
    }
    for (k, n) in &no {
        if !oo.contains_key(k) {
            out.added_endpoints.push(n.display.clone());
        }
    }
    for (k, o) in &oo {
        let Some(n) = no.get(k) else { continue };
        if g.err.is_some() {
            break;
        }
        let mut cx = Ctx {
            old,
            new,
            op: n.display.clone(),
            out: &mut out,
            g,
            seen: HashSet::new(),
        };
        // parameters
        let (po, pn) = (params(old, o.item, o.op), params(new, n.item, n.op));
        for ((loc, name), p) in &pn {
            let l = format!("{loc} parameter {name}");
            match po.get(&(loc.clone(), name.clone())) {
                None if required(p) => cx.push(
                    true,
                    "parameter-added-required",
                    l,
                    "new required parameter".into(),
                ),
                None => cx.push(false, "parameter-added", l, "new optional parameter".into()),
                Some(op) => {
                    if required(p) && !required(op) {
                        cx.push(
                            true,
                            "parameter-now-required",
                            l.clone(),
                            "parameter became required".into(),
                        );
                    }
                    if let (Some(a), Some(b)) = (op.get("schema"), p.get("schema")) {
                        cx.schema(a, b, &l, false, 0);
                    }
                }
            }
        }
        for (loc, name) in po.keys() {
            if !pn.contains_key(&(loc.clone(), name.clone())) {
                cx.push(
                    false,
                    "parameter-removed",
                    format!("{loc} parameter {name}"),
                    "parameter no longer documented".into(),
                );
            }
        }
        let stream = |op: &Value| {
            op.get("x-apitap-grpc")
                .and_then(|g| g.get("streaming"))
                .cloned()
        };
        if let (Some(a), Some(b)) = (stream(o.op), stream(n.op)) {
            if a != b {
                cx.push(
                    true,
                    "grpc-streaming-changed",
                    "x-apitap-grpc".into(),
                    format!("streaming {a} -> {b}"),
                );
            }
        }
        // request body
        let (rbo, rbn) = (o.op.get("requestBody"), n.op.get("requestBody"));
        let rq = |v: Option<&Value>, d: &Value| v.map(|v| required(deref(d, v))).unwrap_or(false);
        if rq(rbn, new) && !rq(rbo, old) {
            cx.push(
                true,
                "request-body-required",
                "requestBody".into(),
                "request body became required".into(),
            );
        }
        let (co, cn) = (content(old, rbo), content(new, rbn));
        for (mt, so) in &co {
            match cn.get(mt) {
                Some(sn) if mt == GRPC => cx.grpc_schema(so, sn, &format!("request {mt} $"), 0),
                Some(sn) => cx.schema(so, sn, &format!("requestBody {mt} $"), false, 0),
                None if !cn.is_empty() => cx.push(
                    true,
                    "request-media-removed",
                    format!("requestBody {mt}"),
                    "media type no longer accepted".into(),
                ),
                None => {}
            }
        }
        // responses
        let empty = json!({});
        let ro = o.op.get("responses").and_then(|r| r.as_object());
        let rn = n.op.get("responses").and_then(|r| r.as_object());
        if let (Some(ro), Some(rn)) = (ro, rn) {
            for (code, r) in ro {
                match rn.get(code) {
                    None => cx.push(
                        true,
                        "status-removed",
                        code.clone(),
                        "response status no longer returned".into(),
                    ),
                    Some(r2) => {
                        let (c1, c2) = (content(old, Some(r)), content(new, Some(r2)));
                        for (mt, s1) in &c1 {
                            match c2.get(mt) {
                                Some(s2) if mt == GRPC => {
                                    cx.grpc_schema(s1, s2, &format!("{code} {mt} $"), 0)
                                }
                                Some(s2) => cx.schema(s1, s2, &format!("{code} {mt} $"), true, 0),
                                None => cx.push(
                                    true,
                                    "response-media-removed",
                                    format!("{code} {mt}"),
                                    "media type removed".into(),
                                ),
                            }
                        }
                        for mt in c2.keys().filter(|m| !c1.contains_key(*m)) {
                            cx.push(
                                false,
                                "response-media-added",
                                format!("{code} {mt}"),
                                "new media type".into(),
                            );
                        }
                    }
                }
            }
            for code in rn.keys().filter(|c| !ro.contains_key(*c)) {
                cx.push(
                    false,
                    "status-added",
                    code.clone(),
                    "new response status".into(),
                );
            }
        }
        let _ = &empty;
    }
    out.breaking.sort();
    out.compatible.sort();
    out
}

/// Diff two models through their OpenAPI exports.
pub fn diff_models(
    old: &crate::ApiModel,
    new: &crate::ApiModel,
    opts: &crate::ExportOptions,
) -> Diff {
    diff(&old.to_openapi(opts), &new.to_openapi(opts))
}
