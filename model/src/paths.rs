//! Path templating.
//!
//! Each service has one trie of path segments, shared by all methods (so `GET /books/{isbn}`
//! and `DELETE /books/{isbn}` always agree). Every node has
//! - `lits`: literal children (at most [`MAX_LITERALS`]), each with its hit count,
//! - `param`: one parameter child holding every value routed to "a parameter here", with
//!   evidence of the value classes it saw and the values' scalar schema,
//! - `lit_overflow`: how many words reached the parameter because `lits` was full.
//!
//! Routing at observe time:
//! - Identifier-like segments (integers, UUIDs, hex hashes, prefixed ids like `acct_8f3k2`,
//!   ISO dates, e-mails, long opaque tokens, anything over 64 bytes) go straight to `param`:
//!   they are never stored, so `/users/1…/users/1000000` costs one node.
//! - Words/slugs and versions (`v2`) go to `lits`. When the literal cap is full, further words
//!   go to `param`.
//! - A segment covered by a pinned template parameter (`LearnConfig::pinned`) goes to `param`.
//!
//! Nothing is decided at observe time: every decision below is made at derive time from the
//! merged evidence only, so learning traffic in one piece or split among any number of
//! sources (replicas, agent restarts) and merged in any order derives the same templates
//! (`tests/split_merge.rs`). A node is *collapsed* ("its literal children are values of a
//! parameter") when its literal map is full, or when it has at least 8 distinct literals, at
//! least half of them hit only once, and either at least half are slug-shaped (digits or
//! separators) or there are at least 16. The root and the node after a version or `api`
//! segment never collapse on words (they list resources). (Models written before this rule
//! carry a sticky `collapsed` flag set at observe time; it is read and ignored.)
//!
//! Templates are *derived* at export time from the (merged) evidence, deterministically:
//! at a collapsed node the literal children that do not look static are folded (summed) into
//! the parameter child; a literal stays static when it is a plain lowercase word while most
//! siblings are not, or when it is hit at least 8 times and 10 times the median sibling. At a
//! node that is not collapsed all literals stay (`/articles/featured` beside
//! `/articles/{articleId}`). Values each revisited several times (a CLI creating, reading
//! and deleting each name) are not "hit once": there the sub-route rules below decide.
//!
//! Frequency alone cannot tell a hot value from a static route (one author is read far more
//! than the others), so a literal that the rules above keep is still folded when:
//! - its shape is the values' shape: at a collapsed node, at least 4 and at least half of
//!   the folded literals are multi-part slugs with one separator and case (`liam-okafor`,
//!   `ava-costa`), and the literal is one too, with a part count in their range
//!   (`grace-walsh`); unless its GET 2xx JSON responses look like another resource (object
//!   vs array, or fewer than half of the top-level property names shared: `top-rated`
//!   answering a list). Plain words (`me`, `featured`, `search`) never fold this way: a
//!   single dictionary word is the typical static route, and `/users/me` answers the same
//!   schema as `/users/{userId}`;
//! - it shares the values' structure: all its sub-routes exist under the values, or it
//!   answers a non-GET method they answer, or it has their id prefix;
//! - at a node that is not collapsed, at least [`UNIFORM_MIN`] word literals answer nothing
//!   themselves and have the same set of sub-routes (`/tags/budget/articles`,
//!   `/tags/climate/articles`, ...): they are all values.
//!
//! - at a node that is not collapsed, at least [`GROUP_MIN`] literals with no parameter
//!   child share one rich structure (same literal sub-routes and shared methods, with a sub-route
//!   and two features in all, or two shared methods one of which changes state): human-chosen
//!   names (`/containers/web/{json,rename}`, `/volumes/data` answering GET and DELETE) are
//!   values even when few, while action routes beside them (`POST /containers/create`,
//!   `GET /containers/json`: one method, no sub-routes) stay static ([`value_groups`]).
//!   Values each exercising part of one structure (DNS zones, one with `cryptokeys`,
//!   another with `rectify`, all with `metadata`) fold when at least [`OVERLAP_MIN`] of
//!   them, and half of the rich literals, agree with the rich majority structure
//!   ([`overlap_group`]).
//!
//! More evidence, in [`crate::fold`]: names the service handed out as values ([`crate::valueflow`],
//! `POST /variables {"name":"backup_url_1"}` then `GET /variables/name/backup_url_1`) fold
//! when at least two siblings, half of them, are such hits, or beside a parameter; beside a
//! parameter, a literal that is not a plain word and answers a subset of the values' methods
//! and sub-routes folds (`/networks/net-db5`, `/delay/0.1`, `/zones/nonexistent.invalid.`);
//! names with identical parameter sub-routes answering nothing themselves fold
//! (`/cookies/set/{name}/{value}` beside `/cookies/set`); a literal the service named as a
//! resource (`Location` of a create, a part of a non-HTTP URI) folds even alone; leaf
//! literals addressing scalar fields of the object their parent answers fold
//! (`/profile/{u}/displayname`); dotted names in one namespace with one parameter shape
//! fold (`/receipt/m.read/{e}`, `/receipt/m.read.private/{e}`). Literals folded by a sibling
//! rule count as "the values" for the structure rules above.
//!
//! Each rule reads only the merged evidence and whole-node shapes, never observation order,
//! so templates stay a deterministic function of the evidence; a shape, once matched, keeps
//! matching as more values with the same shape arrive.
//!
//! Identifiers containing `/` (image names, file paths) are one multi-segment parameter,
//! decided after the rules above from the same merged evidence: see [`crate::multiseg`].
//!
//! Parameter names: singular of the preceding literal + `Id` (`/users/{userId}`), `Date` or
//! `Email` for those classes, only when that literal is vocabulary-like: a word of lowercase
//! letters (`-`/`_` between letters allowed: `flow_runs`), no digits, dots or colons; its
//! node emits no parameter beside it (a literal at a value position is a value that stayed
//! literal: `/images/realeval/{…}` beside `/images/{imageId}`); and it is not one of
//! [`UNIFORM_MIN`] or more singular sibling words answering nothing themselves with the same
//! sub-route shape (user names `/basic-auth/alice/{…}`, `/basic-auth/carol/{…}`). Otherwise,
//! and after another parameter or at the root, a format-based name (`id`, `uuid`, `date`,
//! `slug`...), so a name never carries a captured value; pinned names win. Duplicates get a
//! numeric suffix.

use crate::classify::{camel, classify_segment, id_prefix, is_plain_word, singular, SegClass};
use crate::endpoint::Endpoint;
use crate::evidence::{cnt, combine_map, combine_opt, is_false, is_zero, Combine, Mode};
use crate::fold;
use crate::schema::{Ctx, SchemaNode};
use crate::valueflow::ValueFlow;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Max literal children per node.
pub const MAX_LITERALS: usize = 64;
/// Max remembered id prefixes per parameter node.
pub const MAX_PREFIXES: usize = 8;
/// Max methods per node.
pub const MAX_METHODS: usize = 16;
/// Max path segments considered.
pub const MAX_SEGMENTS: usize = 32;
/// Max literal segment length; longer segments are parameters.
pub const MAX_LITERAL_LEN: usize = 64;
/// Min literal siblings with identical sub-routes to be read as parameter values.
pub const UNIFORM_MIN: usize = 4;

/// A trie node (see the module doc).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PathNode {
    /// Observations whose path reached this node.
    pub hits: u64,
    /// Literal children.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub lits: BTreeMap<String, PathNode>,
    /// The parameter child.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub param: Option<Box<PathNode>>,
    /// On a parameter node: counts of value classes routed here.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub classes: BTreeMap<SegClass, u64>,
    /// On a parameter node: prefixes of prefixed ids routed here (`acct`, `cus`), at most 8.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub prefixes: BTreeMap<String, u64>,
    /// On a parameter node: scalar schema of the values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Box<SchemaNode>>,
    /// Legacy: set at observe time by models written before templates were decided at
    /// derive time; read for compatibility and ignored.
    #[serde(default, skip_serializing_if = "is_false")]
    pub collapsed: bool,
    /// Words were routed to the parameter because `lits` was full.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub lit_overflow: u64,
    /// A literal pinned static by a templates file (`static /containers/json`): never folded.
    #[serde(default, skip_serializing_if = "is_false")]
    pub keep: bool,
    /// Pinned parameter name for this node's parameter child.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin: Option<String>,
    /// Endpoints ending here, by method.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub eps: BTreeMap<String, Endpoint>,
    /// Methods dropped at the cap.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub method_overflow: u64,
}

impl Combine for PathNode {
    fn combine(&mut self, o: &Self, m: Mode) {
        cnt(&mut self.hits, o.hits, m);
        combine_map(&mut self.lits, &o.lits, m, MAX_LITERALS);
        combine_opt(&mut self.param, &o.param, m);
        combine_map(&mut self.classes, &o.classes, m, usize::MAX);
        combine_map(&mut self.prefixes, &o.prefixes, m, MAX_PREFIXES);
        combine_opt(&mut self.values, &o.values, m);
        self.collapsed |= o.collapsed; // legacy, ignored (see the field doc)
        self.keep |= o.keep;
        cnt(&mut self.lit_overflow, o.lit_overflow, m);
        match (&mut self.pin, &o.pin) {
            (Some(a), Some(b)) if b < a => *a = b.clone(),
            (None, Some(b)) => self.pin = Some(b.clone()),
            _ => {}
        }
        combine_map(&mut self.eps, &o.eps, m, MAX_METHODS);
        cnt(&mut self.method_overflow, o.method_overflow, m);
    }
}

/// A parsed pinned template: `None` = literal must match, `Some(name)` = parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Pin {
    segs: Vec<(String, bool)>,
    /// A static pin: its last segment is a literal that is never folded.
    keep: bool,
}

impl Pin {
    /// Parse `/v1/orgs/{org}/repos` (`:org` also accepted).
    pub fn parse(t: &str) -> Pin {
        let segs = t
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| {
                if let Some(n) = s.strip_prefix('{').and_then(|x| x.strip_suffix('}')) {
                    (n.to_string(), true)
                } else if let Some(n) = s.strip_prefix(':') {
                    (n.to_string(), true)
                } else {
                    (s.to_string(), false)
                }
            })
            .collect();
        Pin { segs, keep: false }
    }

    /// Parse a static pin `/containers/json` (`{x}` segments match anything).
    pub fn parse_static(t: &str) -> Pin {
        Pin {
            keep: true,
            ..Pin::parse(t)
        }
    }

    /// Is `segs[i]` the literal a static pin keeps?
    fn keeps(&self, segs: &[&str], i: usize) -> bool {
        self.keep
            && self.segs.len() == i + 1
            && self
                .segs
                .iter()
                .zip(segs)
                .all(|((s, is_param), seg)| *is_param || s == seg)
    }

    /// If the pin matches a prefix of `segs`, the parameter name at `i`.
    fn name_at<'a>(&'a self, segs: &[&str], i: usize) -> Option<&'a str> {
        if let Some(mi) = crate::multiseg::pin_multi_index(&self.segs) {
            // `{name*}` spans segments: only what precedes it is matched by position
            return crate::multiseg::pin_name_at(&self.segs, mi, segs, i);
        }
        if self.keep || self.segs.len() > segs.len() || i >= self.segs.len() {
            return None;
        }
        for (j, (s, is_param)) in self.segs.iter().enumerate() {
            if !is_param && segs.get(j) != Some(&s.as_str()) {
                return None;
            }
        }
        self.segs
            .get(i)
            .filter(|(_, p)| *p)
            .map(|(n, _)| n.as_str())
    }
}

/// Max rules in a templates file.
pub const MAX_TEMPLATE_RULES: usize = 10_000;

/// Rules of a reviewed templates file: parameter pins and static pins.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TemplateRules {
    /// `param` lines: templates whose `{name}` segments are parameters (merges).
    pub params: Vec<String>,
    /// `static` lines: literal routes never folded into a parameter (splits).
    pub statics: Vec<String>,
}

/// Parse a templates file. One rule per line, `#` starts a comment:
///
/// ```text
/// # reviewed 2026-12-02
/// param  /v1.41/images/{name}/json     # these values are one parameter (merge)
/// param  /zones/:zone                  # `:name` also accepted
/// param  /v2/{name*}/tags/list          # `{name*}`: one value that may contain `/`
/// static /v1.41/containers/json        # this literal stays a route (split)
/// static /users/{userId}/settings      # `{x}` matches any segment before it
/// ```
///
/// The rules win over inference: a `param` segment is a parameter from the first request
/// (its values are never stored), a `static` literal is never folded. A `{name*}` segment
/// (at most one per rule) is a multi-segment parameter: the value runs up to the literal
/// that follows it in a rule (`tags`), or to the end of the path; segments after that
/// literal match by position from it. Errors name the line.
pub fn parse_templates(text: &str) -> Result<TemplateRules, String> {
    let mut rules = TemplateRules::default();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if rules.params.len() + rules.statics.len() >= MAX_TEMPLATE_RULES {
            return Err(format!("more than {MAX_TEMPLATE_RULES} rules"));
        }
        let n = n + 1;
        let (kind, path) = line
            .split_once(char::is_whitespace)
            .map(|(k, p)| (k, p.trim()))
            .ok_or_else(|| format!("line {n}: expected `param PATH` or `static PATH`"))?;
        if !path.starts_with('/') || path.contains(char::is_whitespace) {
            return Err(format!("line {n}: `{path}` is not a path"));
        }
        let pin = Pin::parse(path);
        let has_param = pin.segs.iter().any(|(_, p)| *p);
        let multis = pin
            .segs
            .iter()
            .filter(|(n, p)| *p && crate::multiseg::is_multi_pin(n))
            .count();
        if multis > usize::from(kind == "param") {
            return Err(format!(
                "line {n}: `{path}`: at most one {{name*}} per rule, and only in `param`"
            ));
        }
        match kind {
            "param" if has_param => rules.params.push(path.to_string()),
            "param" => return Err(format!("line {n}: `{path}` has no {{parameter}}")),
            "static" if pin.segs.last().is_some_and(|(_, p)| !*p) => {
                rules.statics.push(path.to_string())
            }
            "static" => return Err(format!("line {n}: `{path}` must end in a literal")),
            k => return Err(format!("line {n}: unknown rule `{k}` (param or static)")),
        }
    }
    Ok(rules)
}

fn collapse_allowed(prev: Option<&str>) -> bool {
    match prev {
        None => false,
        Some(p) => {
            !(classify_segment(p) == SegClass::Version
                || p.eq_ignore_ascii_case("api")
                || p.eq_ignore_ascii_case("rest"))
        }
    }
}

/// Are the literal children of `node` values of a parameter? Decided at derive time from
/// the merged evidence only (see the module doc): a full literal map, or at least 8 distinct
/// literals, at least half of them hit once, and either at least half slug-shaped or at
/// least 16 of them, where collapsing is allowed after `prev`.
pub(crate) fn is_collapsed(node: &PathNode, prev: Option<&TSeg>) -> bool {
    let d = node.lits.len();
    if d >= MAX_LITERALS {
        return true;
    }
    let allowed = match prev {
        Some(TSeg::Lit(l)) => collapse_allowed(Some(l)),
        Some(TSeg::Param { .. }) => true,
        None => false,
    };
    if !allowed || d < 8 {
        return false;
    }
    let single = node.lits.values().filter(|c| c.hits <= 1).count();
    let slugish = node.lits.keys().filter(|k| !is_plain_word(k)).count();
    single * 2 >= d && (slugish * 2 >= d || d >= 16)
}

/// Node budget of one `route` call: nodes it may still create, and what it created and
/// freed (by compacting a node whose literal map is full, [`crate::compact`]).
#[derive(Debug, Default)]
pub(crate) struct Budget {
    /// Nodes that may still be created.
    pub left: u64,
    /// Nodes created.
    pub created: u64,
    /// Nodes freed by compaction.
    pub freed: u64,
    /// Node compactions run.
    pub compactions: u64,
}

/// Walk/extend the trie for one path; returns the endpoint map of the final node, or `None`
/// if the path was dropped (node budget exhausted).
pub(crate) fn route<'a>(
    root: &'a mut PathNode,
    segs: &[&str],
    pins: &[Pin],
    budget: &mut Budget,
    ctx: Ctx,
) -> Option<&'a mut PathNode> {
    let mut cur = root;
    cur.hits += 1;
    // inside a value of a multi-segment pin (`{name*}`): where it started, the literals that
    // end it; after it, where its pins continue
    let mut value_ends: Option<(usize, Vec<&str>)> = None;
    let mut tail: Option<(usize, usize)> = None;
    for (i, &seg) in segs.iter().enumerate() {
        if let Some((start, ends)) = &value_ends {
            if !ends.contains(&seg) {
                continue; // one more segment of the value: never stored
            }
            tail = Some((*start, i));
            value_ends = None;
        }
        let pinned = pins.iter().find_map(|p| {
            p.name_at(segs, i).or_else(|| {
                let (start, k) = tail?;
                crate::multiseg::pin_tail_name(&p.segs, segs, start, k, i)
            })
        });
        let multi_pin = pinned
            .or(cur.pin.as_deref())
            .is_some_and(crate::multiseg::is_multi_pin);
        if multi_pin && !pins.iter().any(|p| p.keeps(segs, i)) {
            value_ends = Some((
                i,
                pins.iter()
                    .filter_map(|p| crate::multiseg::pin_suffix_at(&p.segs, segs, i))
                    .collect(),
            ));
        }
        if let Some(name) = pinned {
            if cur.pin.as_deref().is_none_or(|p| name < p) {
                cur.pin = Some(name.to_string());
            }
        }
        let class = classify_segment(seg);
        let keep = pins.iter().any(|p| p.keeps(segs, i));
        let to_param = !keep
            && (pinned.is_some()
                || cur.pin.is_some()
                || class.is_id_like()
                || seg.len() > MAX_LITERAL_LEN);
        if !to_param
            && (cur.lits.len() + 1 == MAX_LITERALS
                || cur.lits.len() >= MAX_LITERALS
                    && (cur.lit_overflow == 0 || cur.lit_overflow.is_power_of_two()))
            && !cur.lits.contains_key(seg)
        {
            // a word fills (or overflows) the literal map: fold the values the export folds
            // anyway at a full map (crate::compact)
            let before = crate::compact::count_nodes(cur);
            if crate::compact::compact_full(cur) > 0 {
                let freed = before.saturating_sub(crate::compact::count_nodes(cur));
                budget.left += freed;
                budget.freed += freed;
                budget.compactions += 1;
            }
        }
        let next: &mut PathNode = if !to_param
            && (cur.lits.contains_key(seg) || cur.lits.len() < MAX_LITERALS && budget.left > 0)
        {
            if !cur.lits.contains_key(seg) {
                budget.left -= 1;
                budget.created += 1;
                cur.lits.insert(seg.to_string(), PathNode::default());
            }
            let c = cur.lits.get_mut(seg)?;
            c.keep |= keep;
            c
        } else {
            if !to_param {
                cur.lit_overflow += 1;
            }
            if cur.param.is_none() {
                if budget.left == 0 {
                    return None;
                }
                budget.left -= 1;
                budget.created += 1;
            }
            let p = cur.param.get_or_insert_with(Default::default);
            *p.classes.entry(class).or_insert(0) += 1;
            if class == SegClass::Prefixed {
                if let Some(pre) = id_prefix(seg) {
                    if let Some(c) = p.prefixes.get_mut(pre) {
                        *c += 1;
                    } else if p.prefixes.len() < MAX_PREFIXES {
                        p.prefixes.insert(pre.to_string(), 1);
                    }
                }
            }
            p.values
                .get_or_insert_with(Default::default)
                .observe_text(seg, "id", ctx);
            p
        };
        next.hits += 1;
        cur = next;
    }
    Some(cur)
}

/// One segment of a derived template.
#[derive(Debug, Clone, PartialEq)]
pub enum TSeg {
    /// A literal segment.
    Lit(String),
    /// A parameter.
    Param {
        /// Parameter name.
        name: String,
        /// Scalar schema of the values.
        values: Box<SchemaNode>,
        /// Dominant value class.
        class: SegClass,
        /// The value may span several segments (contains `/`; see [`crate::multiseg`]).
        multi: bool,
    },
}

/// A derived endpoint: template segments plus the endpoint evidence.
#[derive(Debug, Clone)]
pub struct Derived {
    /// Template segments.
    pub segs: Vec<TSeg>,
    /// Method (uppercase as observed).
    pub method: String,
    /// Evidence.
    pub ep: Endpoint,
}

impl Derived {
    /// `/users/{userId}/orders`.
    pub fn template(&self) -> String {
        template_string(&self.segs)
    }
}

/// Render template segments as a path.
pub fn template_string(segs: &[TSeg]) -> String {
    if segs.is_empty() {
        return "/".into();
    }
    let mut s = String::new();
    for seg in segs {
        s.push('/');
        match seg {
            TSeg::Lit(l) => s.push_str(l),
            TSeg::Param { name, .. } => {
                s.push('{');
                s.push_str(name);
                s.push('}');
            }
        }
    }
    s
}

pub(crate) fn is_static(k: &str, node: &PathNode) -> bool {
    if classify_segment(k) == SegClass::Version {
        return true;
    }
    let Some(c) = node.lits.get(k) else {
        return false;
    };
    let mut hits: Vec<u64> = node.lits.values().map(|c| c.hits).collect();
    hits.sort_unstable();
    let median = hits.get(hits.len() / 2).copied().unwrap_or(0);
    let total: u64 = hits.iter().sum::<u64>() + node.param.as_ref().map_or(0, |p| p.hits);
    let plain = node.lits.keys().filter(|k| is_plain_word(k)).count();
    let h = c.hits;
    if k.bytes().any(|b| b.is_ascii_digit()) {
        // digits make a segment value-like: never a static route beside collapsed values
        return false;
    }
    let frequent = h >= 3 && h >= 3 * median.max(1);
    // a static route is its own operation: it carries a real share of this node's traffic
    (frequent && h * 20 >= total)
        || (frequent && is_plain_word(k) && plain * 3 < node.lits.len() && h * 50 >= total)
}

/// The shape of a multi-part slug: its one separator (`-`, `_` or `.`), whether it has
/// uppercase letters, and its number of parts. `None` for plain words and anything else.
fn slug_shape(k: &str) -> Option<(u8, bool, usize)> {
    let sep = *k.as_bytes().iter().find(|c| b"-_.".contains(c))?;
    let mut upper = false;
    let mut parts = 0;
    for part in k.split(sep as char) {
        if part.is_empty() || !part.bytes().all(|c| c.is_ascii_alphanumeric()) {
            return None;
        }
        upper |= part.bytes().any(|c| c.is_ascii_uppercase());
        parts += 1;
    }
    Some((sep, upper, parts))
}

/// The dominant slug shape among a node's folded literals (the parameter's known values).
#[derive(Default)]
struct ShapeProfile {
    /// Separator, uppercase, min and max part count; set when at least 4 values and at
    /// least half of them share separator and case.
    dominant: Option<(u8, bool, usize, usize)>,
}

impl ShapeProfile {
    fn of<'a>(values: impl Iterator<Item = &'a str>) -> ShapeProfile {
        let mut total = 0usize;
        let mut by: BTreeMap<(u8, bool), (usize, usize, usize)> = BTreeMap::new();
        for v in values {
            total += 1;
            if let Some((sep, up, parts)) = slug_shape(v) {
                let e = by.entry((sep, up)).or_insert((0, usize::MAX, 0));
                e.0 += 1;
                e.1 = e.1.min(parts);
                e.2 = e.2.max(parts);
            }
        }
        // deterministic: most values, then the smallest key
        let best = by
            .iter()
            .max_by_key(|(k, v)| (v.0, std::cmp::Reverse(**k)))
            .filter(|(_, v)| v.0 >= 4 && v.0 * 2 >= total);
        ShapeProfile {
            dominant: best.map(|((sep, up), (_, lo, hi))| (*sep, *up, *lo, *hi)),
        }
    }

    /// Does `k` have the dominant shape (same separator and case, part count in range)?
    fn matches(&self, k: &str) -> bool {
        match (self.dominant, slug_shape(k)) {
            (Some((s, u, lo, hi)), Some((ks, ku, kp))) => {
                s == ks && u == ku && (lo..=hi).contains(&kp)
            }
            _ => false,
        }
    }
}

/// Top-level shape of the 2xx JSON responses to GET: (object seen, array seen, property names).
type Sig<'a> = (bool, bool, BTreeSet<&'a str>);

fn get_sig(eps: &BTreeMap<String, Endpoint>) -> Option<Sig<'_>> {
    let ep = eps.get("GET")?;
    let mut sig: Option<Sig<'_>> = None;
    for (_, r) in ep.resp.range(200..300) {
        for (media, b) in &r.content {
            if !media.contains("json") || b.schema.n == 0 {
                continue;
            }
            let s = &b.schema;
            let one = (
                s.t.object > 0,
                s.t.array > 0,
                s.props.keys().map(|k| k.as_str()).collect(),
            );
            union_sig(&mut sig, Some(one));
        }
    }
    sig
}

fn union_sig<'a>(acc: &mut Option<Sig<'a>>, o: Option<Sig<'a>>) {
    let Some(o) = o else { return };
    match acc {
        None => *acc = Some(o),
        Some(a) => {
            a.0 |= o.0;
            a.1 |= o.1;
            a.2.extend(o.2);
        }
    }
}

/// Clearly another resource: both answered GET with 2xx JSON, and the top-level types differ
/// or fewer than half of the property names are shared.
fn distinct_responses(lit: Option<Sig<'_>>, values: Option<&Sig<'_>>) -> bool {
    let (Some(l), Some(v)) = (lit, values) else {
        return false;
    };
    if (l.0, l.1) != (v.0, v.1) {
        return true;
    }
    let union = l.2.union(&v.2).count();
    let common = l.2.intersection(&v.2).count();
    union > 0 && common * 2 < union
}

/// At least [`UNIFORM_MIN`] literal children (words or slugs, no versions), none answering
/// requests itself, no parameter, and all with the same non-empty set of literal children
/// (`/tags/budget/articles`, `/tags/climate/articles`, ...): the literals are values of a
/// parameter even before the node collapses. Not at the root or after a version/`api`
/// segment (resource lists), as for collapsing.
fn uniform_values(node: &PathNode, prev: Option<&TSeg>) -> bool {
    let allowed = match prev {
        Some(TSeg::Lit(l)) => collapse_allowed(Some(l)),
        Some(TSeg::Param { .. }) => true,
        None => false,
    };
    if !allowed || node.param.is_some() || node.lits.len() < UNIFORM_MIN {
        return false;
    }
    let mut first: Option<&PathNode> = None;
    node.lits.iter().all(|(k, c)| {
        let ok = classify_segment(k) == SegClass::Word
            && c.eps.is_empty()
            && c.param.is_none()
            && !c.lits.is_empty();
        ok && match first {
            None => {
                first = Some(c);
                true
            }
            Some(f) => f.lits.keys().eq(c.lits.keys()),
        }
    })
}

/// Min members of a group of literal siblings with one rich structure (see [`value_groups`]).
pub const GROUP_MIN: usize = 3;

/// A structure rich enough not to be a coincidence of static routes (see [`value_groups`]).
fn rich(methods: &BTreeSet<&str>, subs: &BTreeSet<&str>) -> bool {
    let changes = methods
        .iter()
        .any(|m| !matches!(*m, "GET" | "HEAD" | "OPTIONS"));
    (!subs.is_empty() && subs.len() + methods.len() >= 2) || (changes && methods.len() >= 2)
}

/// Literal siblings that are values of a parameter because they share one *rich* structure:
/// at least [`GROUP_MIN`] of them (human-chosen names such as container or volume names are
/// often few) have the same literal sub-routes, none has a parameter child (that would make
/// it a collection of ids), and the structure each has and the methods all of them share are
/// rich enough not to be a coincidence of static routes: at least one sub-route and two
/// features (sub-routes plus methods), or two methods one of which changes state
/// (`GET`+`DELETE`; `/accounts/ann.dev` answering GET/PUT/PATCH and `/accounts/bo.dev`
/// GET/PUT/PATCH/DELETE share GET/PUT/PATCH).
/// `/containers/web/{json,rename}`, `/containers/db/{json,rename}`,
/// `/containers/cache/{json,rename}` fold to `/containers/{containerId}/...` while
/// `POST /containers/create` and `GET /containers/json` (one method, no sub-routes) stay.
/// Not at the root or after a version/`api` segment (resource lists), as for collapsing.
fn value_groups<'a>(node: &'a PathNode, prev: Option<&TSeg>) -> BTreeSet<&'a str> {
    let allowed = match prev {
        Some(TSeg::Lit(l)) => collapse_allowed(Some(l)),
        Some(TSeg::Param { .. }) => true,
        None => false,
    };
    let mut out = BTreeSet::new();
    if !allowed {
        return out;
    }
    // by sub-routes; each member rich on its own, the group rich on what all members share
    let mut groups: BTreeMap<BTreeSet<&'a str>, Vec<(&'a str, BTreeSet<&'a str>)>> =
        BTreeMap::new();
    // every rich literal with its features (methods and sub-routes), for the overlap rule
    let mut all: Vec<(&'a str, BTreeSet<&'a str>, BTreeSet<&'a str>)> = Vec::new();
    for (k, c) in &node.lits {
        if c.param.is_some() || classify_segment(k) == SegClass::Version {
            continue;
        }
        let methods: BTreeSet<&str> = c.eps.keys().map(|m| m.as_str()).collect();
        let subs: BTreeSet<&str> = c.lits.keys().map(|m| m.as_str()).collect();
        if rich(&methods, &subs) {
            all.push((k.as_str(), methods.clone(), subs.clone()));
            groups.entry(subs).or_default().push((k.as_str(), methods));
        }
    }
    out.extend(overlap_group(&all));
    for (subs, members) in groups {
        if members.len() < GROUP_MIN {
            continue;
        }
        let mut shared = members[0].1.clone();
        for (_, m) in &members[1..] {
            shared = shared.intersection(m).copied().collect();
        }
        if rich(&shared, &subs) {
            out.extend(members.into_iter().map(|(k, _)| k));
        }
    }
    out
}

/// Min rich literals for the overlap rule ([`overlap_group`]).
pub const OVERLAP_MIN: usize = 4;

/// Values that each exercise part of one structure (DNS zones: one has `cryptokeys`, another
/// `rectify`, all `metadata` and `notify`, most GET/PATCH/PUT/DELETE): the *majority
/// structure* is the methods and sub-routes at least half of the rich literals have; when it
/// is rich, at least [`OVERLAP_MIN`] literals agree with it (Jaccard similarity of their
/// features with it at least 1/2) and they are at least half of the rich literals, the
/// agreeing literals are values. Heterogeneous static routes have no common majority.
fn overlap_group<'a>(all: &[(&'a str, BTreeSet<&'a str>, BTreeSet<&'a str>)]) -> Vec<&'a str> {
    if all.len() < OVERLAP_MIN {
        return Vec::new();
    }
    let mut mcount: BTreeMap<&str, usize> = BTreeMap::new();
    let mut scount: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, m, sub) in all {
        for x in m {
            *mcount.entry(x).or_default() += 1;
        }
        for x in sub {
            *scount.entry(x).or_default() += 1;
        }
    }
    let n = all.len();
    let maj = |c: &BTreeMap<&'a str, usize>| -> BTreeSet<&'a str> {
        c.iter()
            .filter(|(_, v)| **v * 2 >= n)
            .map(|(k, _)| *k)
            .collect()
    };
    let (mm, ms) = (maj(&mcount), maj(&scount));
    if !rich(&mm, &ms) {
        return Vec::new();
    }
    let agree: Vec<&str> = all
        .iter()
        .filter(|(_, m, sub)| {
            let inter = m.intersection(&mm).count() + sub.intersection(&ms).count();
            let union = m.union(&mm).count() + sub.union(&ms).count();
            inter * 2 >= union
        })
        .map(|(k, _, _)| *k)
        .collect();
    if agree.len() >= OVERLAP_MIN && agree.len() * 2 >= n {
        agree
    } else {
        Vec::new()
    }
}

/// `prefix` of `prefix_rest` / `prefix-rest` where rest is 6+ alphanumerics, or 3+ with a
/// digit or uppercase letter: looser than [`id_prefix`], used only against prefixes already seen.
fn loose_prefix(s: &str) -> Option<&str> {
    let pos = s.find(['_', '-'])?;
    let (prefix, id) = (&s[..pos], &s[pos + 1..]);
    ((1..=6).contains(&prefix.len())
        && prefix.bytes().all(|c| c.is_ascii_lowercase())
        && id.len() >= 3
        && id.bytes().all(|c| c.is_ascii_alphanumeric())
        && (id.len() >= 6
            || id
                .bytes()
                .any(|c| c.is_ascii_digit() || c.is_ascii_uppercase())))
    .then_some(prefix)
}

/// Sub-route shape of a literal's node: its literal children and whether it has a parameter.
fn subroute_shape(c: &PathNode) -> (Vec<&str>, bool) {
    (
        c.lits.keys().map(|k| k.as_str()).collect(),
        c.param.is_some(),
    )
}

/// A kept literal a parameter may be named after (see the module doc, "Parameter names"):
/// a vocabulary-like word (lowercase letters, `-`/`_` only between letters, at most 32
/// bytes) that is not one of [`UNIFORM_MIN`] or more singular sibling words answering nothing
/// themselves with the same sub-route shape (`/basic-auth/alice/{…}`, `/basic-auth/carol/{…}`:
/// user names that stayed literal). The caller also requires that the literal's node emits
/// no parameter beside it (a literal at a value position is a value).
fn is_vocabulary(k: &str, c: &PathNode, kept: &[(&String, &PathNode)]) -> bool {
    let wordlike = crate::multiseg::route_word(k) && !k.contains("-_") && !k.contains("_-");
    if !wordlike {
        return false;
    }
    let bare = |k: &str, c: &PathNode| c.eps.is_empty() && singular(k) == k;
    if !bare(k, c) {
        return true;
    }
    let shape = subroute_shape(c);
    let same = kept
        .iter()
        .filter(|(k2, c2)| bare(k2, c2) && subroute_shape(c2) == shape)
        .count();
    same < UNIFORM_MIN
}

fn param_name(prev: Option<&TSeg>, prev_vocab: bool, class: SegClass, pin: Option<&str>) -> String {
    if let Some(p) = pin {
        return p.to_string();
    }
    let suffix = match class {
        SegClass::Date => "Date",
        SegClass::Email => "Email",
        _ => "Id",
    };
    match prev {
        Some(TSeg::Lit(l)) if prev_vocab && classify_segment(l) == SegClass::Word => {
            let base = camel(&singular(l), false);
            if base.is_empty() {
                "id".into()
            } else {
                format!("{base}{suffix}")
            }
        }
        _ => match class {
            SegClass::Uuid => "uuid",
            SegClass::Date => "date",
            SegClass::Email => "email",
            SegClass::Word => "slug",
            _ => "id",
        }
        .into(),
    }
}

/// Derive templates for all endpoints under `root`.
pub fn derive(root: &PathNode) -> Vec<Derived> {
    derive_flow(root, &ValueFlow::default())
}

/// [`derive`] with the service's value-flow evidence ([`crate::valueflow`], [`crate::fold`]).
pub fn derive_flow(root: &PathNode, flow: &ValueFlow) -> Vec<Derived> {
    let mut out = Vec::new();
    let mut segs = Vec::new();
    derive_rec(root, &mut segs, &mut out, &mut None, 0, false, flow);
    out
}

/// Why a template parameter exists or a literal stayed static (`apitap learn --explain`).
/// Holds counts and route names only: the literals folded into a parameter are values and
/// are never named.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    /// The parameter (`/users/{userId}`) or the static literal (`/users/me`), as a template.
    pub template: String,
    /// `parameter` or `static`.
    pub kind: &'static str,
    /// The evidence that decided it.
    pub evidence: String,
}

/// Explain every parameter and every literal kept static beside values or among many
/// siblings (see [`Explanation`]); same decisions as [`derive`].
pub fn explain(root: &PathNode) -> Vec<Explanation> {
    explain_flow(root, &ValueFlow::default())
}

/// [`explain`] with the service's value-flow evidence, as [`derive_flow`].
pub fn explain_flow(root: &PathNode, flow: &ValueFlow) -> Vec<Explanation> {
    let mut out = Vec::new();
    let mut why = Some(Vec::new());
    derive_rec(root, &mut Vec::new(), &mut out, &mut why, 0, false, flow);
    why.unwrap_or_default()
}

fn classes_text(classes: &BTreeMap<SegClass, u64>) -> String {
    let v: Vec<String> = classes.iter().map(|(c, n)| format!("{c:?}={n}")).collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(" ")
    }
}

fn derive_rec(
    node: &PathNode,
    segs: &mut Vec<TSeg>,
    out: &mut Vec<Derived>,
    why: &mut Option<Vec<Explanation>>,
    depth: usize,
    prev_vocab: bool,
    flow: &ValueFlow,
) {
    for (m, ep) in &node.eps {
        out.push(Derived {
            segs: segs.clone(),
            method: m.clone(),
            ep: ep.clone(),
        });
    }
    if depth > MAX_SEGMENTS {
        return;
    }
    let collapsed = is_collapsed(node, segs.last());
    let absorb_all = node.pin.is_some() || uniform_values(node, segs.last());
    let grouped = value_groups(node, segs.last());
    let flowed = fold::flow_group(node, segs.last(), flow);
    let uniform_params = fold::uniform_param_values(node, segs.last());
    let fields = fold::field_values(node, segs.last());
    let qualified = fold::qualified_values(node, segs.last());
    let mut absorbed: Vec<(&String, &PathNode)> = Vec::new();
    let mut kept: Vec<(&String, &PathNode)> = Vec::new();
    // reasons for folding, counted (explain only)
    let mut reasons: BTreeMap<&'static str, usize> = BTreeMap::new();
    for (k, child) in &node.lits {
        let reason = if child.keep {
            None
        } else if node.pin.is_some() {
            Some("pinned template")
        } else if absorb_all {
            Some("identical sub-routes, answering nothing themselves")
        } else if grouped.contains(k.as_str()) {
            Some("sub-route/method agreement with sibling values")
        } else if flowed.contains(k.as_str()) {
            Some("value-flow hits among siblings")
        } else if uniform_params {
            Some("identical parameter sub-routes, answering nothing themselves")
        } else if qualified {
            Some("namespaced names with identical parameter sub-routes")
        } else if fields.contains(k.as_str()) {
            Some("addresses a scalar field of the object its parent answers")
        } else if fold::named_resource(k, child, segs.last(), flow) {
            Some("named by the service as a resource (Location of a create, URI part)")
        } else if collapsed && !is_static(k, node) {
            Some("many distinct literals (collapsed node)")
        } else {
            None
        };
        match reason {
            Some(r) => {
                *reasons.entry(r).or_default() += 1;
                absorbed.push((k, child));
            }
            None => kept.push((k, child)),
        }
    }
    // Structure: a kept literal whose children all exist under the parameter values
    // (`/books/budget/copies` beside `/books/{isbn}/copies`), or that answers a non-GET
    // method the parameter values also answer (`PATCH /articles/some-slug`), is a value too.
    // "The values" are the parameter child plus, at a collapsed node, the typical literals
    // (hit no more than the median).
    if node.param.is_some() || collapsed || !absorbed.is_empty() {
        let mut hits: Vec<u64> = node.lits.values().map(|c| c.hits).collect();
        hits.sort_unstable();
        let median = hits.get(hits.len() / 2).copied().unwrap_or(0);
        let mut value_children: BTreeSet<&str> = BTreeSet::new();
        let mut value_methods: BTreeSet<&str> = BTreeSet::new();
        if let Some(p) = &node.param {
            value_children.extend(p.lits.keys().map(|k| k.as_str()));
            value_methods.extend(p.eps.keys().map(|k| k.as_str()));
        }
        if collapsed {
            for c in node.lits.values().filter(|c| c.hits <= median) {
                value_children.extend(c.lits.keys().map(|k| k.as_str()));
                value_methods.extend(c.eps.keys().map(|k| k.as_str()));
            }
        } else {
            // literals folded by a sibling rule are values too
            for (_, c) in &absorbed {
                value_children.extend(c.lits.keys().map(|k| k.as_str()));
                value_methods.extend(c.eps.keys().map(|k| k.as_str()));
            }
        }
        // the values' GET responses, for the sibling rules of `fold`
        let mut beside_sig = node.param.as_ref().and_then(|p| get_sig(&p.eps));
        for (_, c) in &absorbed {
            union_sig(&mut beside_sig, get_sig(&c.eps));
        }
        let beside = fold::Values {
            methods: &value_methods,
            children: &value_children,
        };
        let prefixes = node.param.as_ref().map(|p| &p.prefixes);
        let (shapes, values_sig) = if collapsed {
            let shapes = ShapeProfile::of(absorbed.iter().map(|(k, _)| k.as_str()));
            let mut sig = node.param.as_ref().and_then(|p| get_sig(&p.eps));
            for (_, c) in &absorbed {
                union_sig(&mut sig, get_sig(&c.eps));
            }
            (shapes, sig)
        } else {
            (ShapeProfile::default(), None)
        };
        let (fold, keep): (Vec<_>, Vec<_>) = kept.into_iter().partition(|(k, c)| {
            if c.keep {
                return false;
            }
            // same id prefix as the parameter's values (`cus_abcdefgh` beside `{cus_8f3k...}`)
            let same_prefix =
                loose_prefix(k).is_some_and(|pre| prefixes.is_some_and(|ps| ps.contains_key(pre)));
            let same_children =
                !c.lits.is_empty() && c.lits.keys().all(|x| value_children.contains(x.as_str()));
            let same_methods = c.eps.keys().any(|m| m != "GET" && m != "HEAD")
                && c.eps.keys().all(|m| value_methods.contains(m.as_str()));
            // same slug shape as the folded values (`grace-walsh` beside `liam-okafor`,
            // `ava-costa`, ...), unless its responses look like another resource
            let same_shape =
                shapes.matches(k) && !distinct_responses(get_sig(&c.eps), values_sig.as_ref());
            let r = if same_prefix {
                Some("id prefix of the parameter's values")
            } else if let Some(r) = (!collapsed)
                .then(|| {
                    let distinct = distinct_responses(get_sig(&c.eps), beside_sig.as_ref());
                    fold::beside_values(k, c, &beside, flow, distinct)
                })
                .flatten()
            {
                Some(r)
            } else if same_children {
                Some("all sub-routes exist under the values")
            } else if same_methods {
                Some("answers the values' state-changing methods")
            } else if same_shape {
                Some("slug shape of the folded values")
            } else {
                None
            };
            if let Some(r) = r {
                *reasons.entry(r).or_default() += 1;
            }
            r.is_some()
        });
        absorbed.extend(fold);
        kept = keep;
    }
    // identifiers containing `/`: one multi-segment parameter (see `crate::multiseg`)
    let multi = crate::multiseg::plan(node, &kept, segs.last());
    if let Some(m) = &multi {
        kept.retain(|(k, _)| !m.heads.contains(k.as_str()));
    }
    if let Some(w) = why.as_mut() {
        let beside = node.param.is_some() || !absorbed.is_empty();
        if beside || node.lits.len() >= GROUP_MIN {
            let d = node.lits.len();
            let single = node.lits.values().filter(|c| c.hits <= 1).count();
            let slugish = node.lits.keys().filter(|k| !is_plain_word(k)).count();
            for (k, c) in &kept {
                segs.push(TSeg::Lit((*k).clone()));
                let methods: Vec<&str> = c.eps.keys().map(|x| x.as_str()).collect();
                let decided = if c.keep {
                    "pinned static by the templates file".to_string()
                } else if classify_segment(k) == SegClass::Version {
                    "a version segment".to_string()
                } else if collapsed {
                    format!("a frequent static route among values ({} hits)", c.hits)
                } else {
                    format!(
                        "node not collapsed ({d} sibling literals, {single} hit once, \
                         {slugish} slug-shaped); no sibling group shares its structure"
                    )
                };
                w.push(Explanation {
                    template: template_string(segs),
                    kind: "static",
                    evidence: format!(
                        "{decided}; class {:?}; methods [{}]; {} literal sub-routes{}",
                        classify_segment(k),
                        methods.join(","),
                        c.lits.len() + usize::from(c.param.is_some()),
                        if beside { "; beside a parameter" } else { "" }
                    ),
                });
                segs.pop();
            }
        }
    }
    let beside = node.param.is_some() || !absorbed.is_empty();
    let vocab: Vec<bool> = kept
        .iter()
        .map(|(k, c)| !beside && is_vocabulary(k, c, &kept))
        .collect();
    for ((k, child), vocab) in kept.into_iter().zip(vocab) {
        segs.push(TSeg::Lit(k.clone()));
        derive_rec(child, segs, out, why, depth + 1, vocab, flow);
        segs.pop();
    }
    if node.param.is_none() && absorbed.is_empty() && multi.is_none() {
        return;
    }
    let mut p: PathNode = node.param.as_deref().cloned().unwrap_or_default();
    let direct = classes_text(&p.classes);
    let (direct_hits, n_folded) = (p.hits, absorbed.len());
    let flow_hits = absorbed.iter().filter(|(k, _)| flow.hit(k)).count();
    let pii = std::cell::Cell::new(0);
    for (k, child) in absorbed {
        p.combine(child, Mode::Sum);
        *p.classes.entry(SegClass::Word).or_insert(0) += child.hits;
        p.values.get_or_insert_with(Default::default).observe_text(
            k,
            "id",
            Ctx {
                ts: 0,
                examples: false,
                thin: true,
                pii: &pii,
            },
        );
    }
    if let Some(m) = &multi {
        for (k, child) in node
            .lits
            .iter()
            .filter(|(k, _)| m.heads.contains(k.as_str()))
        {
            m.fold_head(&mut p, child);
            *p.classes.entry(SegClass::Word).or_insert(0) += child.hits;
            p.values.get_or_insert_with(Default::default).observe_text(
                k,
                "id",
                Ctx {
                    ts: 0,
                    examples: false,
                    thin: true,
                    pii: &pii,
                },
            );
        }
        m.flatten(&mut p);
    }
    let class = p
        .classes
        .iter()
        .max_by_key(|(c, n)| (**n, std::cmp::Reverse(**c)))
        .map(|(c, _)| *c)
        .unwrap_or(SegClass::Word);
    let pinned_multi = node
        .pin
        .as_deref()
        .is_some_and(crate::multiseg::is_multi_pin);
    let pin = node.pin.as_deref().map(|p| p.trim_end_matches('*'));
    let mut name = param_name(segs.last(), prev_vocab, class, pin);
    if multi.is_some() && pin.is_none() {
        name = crate::multiseg::multi_name(&name);
    }
    let taken = |n: &str, segs: &[TSeg]| {
        segs.iter()
            .any(|s| matches!(s, TSeg::Param { name, .. } if name == n))
    };
    if taken(&name, segs) {
        let base = name.clone();
        let mut i = 2;
        while taken(&name, segs) {
            name = format!("{base}{i}");
            i += 1;
        }
    }
    let values = p.values.clone().unwrap_or_default();
    segs.push(TSeg::Param {
        name,
        values,
        class,
        multi: multi.is_some() || pinned_multi,
    });
    if let Some(w) = why.as_mut() {
        let folded: Vec<String> = reasons.iter().map(|(r, n)| format!("{n} by {r}")).collect();
        w.push(Explanation {
            template: template_string(segs),
            kind: "parameter",
            evidence: format!(
                "{direct_hits} hits of identifier-like values (classes {direct}); \
                 {n_folded} literal values folded{}; {} distinct sub-routes under it; \
                 value-flow hits {flow_hits}{}",
                if folded.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", folded.join(", "))
                },
                p.lits.len(),
                multi
                    .as_ref()
                    .map(|m| format!("; {}", m.evidence()))
                    .unwrap_or_default()
            ),
        });
    }
    derive_rec(&p, segs, out, why, depth + 1, false, flow);
    segs.pop();
}
