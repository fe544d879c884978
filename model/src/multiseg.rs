//! Multi-segment path parameters: identifiers that contain `/`.
//!
//! Image names (`realeval/web:v2`, `localhost:5000/team/ml:7`), file paths
//! (`notes/raw data/a.md`), repository paths of nested groups and object keys are one value
//! spread over several path segments. Learned segment by segment they become dozens of
//! literal paths. At derive time (from the merged [`PathNode`] evidence only, like every other
//! templating decision in [`crate::paths`]) the children of a node are read as values of ONE
//! multi-segment parameter when:
//!
//! 1. **Suffix routes.** Under the node's value positions (its parameter child and each
//!    literal child, every one a *region*), a *suffix* is a route word (lowercase letters,
//!    `-`/`_` between letters) that is a child of at least [`SUFFIX_MIN_PARENTS`] distinct
//!    nodes, and at most half of the time answers exactly the methods its parent answers (a
//!    sub-directory answers what its parent directory answers; `json`, `history`, `tag`,
//!    `checkpoints` answer something else than the value they hang under). A leaf route word
//!    answering only `POST` under a node that answers nothing (`.../app/push`) is an action
//!    suffix as well.
//! 2. **Varying value length.** In each region, the *value length* of a path is the index of
//!    the first suffix on it (the head literal is index 0). The parameter is multi-segment
//!    only when value lengths differ: `json` after one segment (`/images/web/json`), two
//!    (`/images/realeval/web:v2/json`) and three (`/images/localhost:5000/team/ml:7/json`).
//!    A fixed length is ordinary single-segment parameters (`/repos/{owner}/{repo}/issues`,
//!    where `issues` is always the third segment) and is left to the other rules.
//!
//! 3. **Keys without a suffix.** With no suffix route at all (object keys
//!    `/bucket/photos/2024/cat.jpg`, `/bucket/a.txt`), the values are one multi-segment
//!    parameter when every request below the value positions ends at a value-shaped segment
//!    (not a route word), never at a parameter below the head, at least [`KEY_MIN_ENDS`]
//!    requests in two or more regions end at different lengths, one of at least three
//!    segments, and no route word repeats under [`SUFFIX_MIN_PARENTS`] parents (that is a
//!    resource's structure: `/zones/{zone}/metadata/{kind}`, `/orders/{id}/items/{itemId}`).
//!
//! Then the parameter child, the literals other rules already folded, and every literal kept
//! static by the other rules whose region holds a suffix (the *heads*) become one parameter
//! marked multi-segment: every segment of a region up to its first suffix is part of the
//! value, every endpoint there is the parameter's own, each suffix keeps its subtree. Kept
//! literals without a suffix below them stay static (`/images/create`, `/images/json`,
//! `/images/search`), and the rule never applies at the root or directly after a version or
//! `api` segment (resource lists), so `/api/me` stays beside `/api/contents/{path}`.
//!
//! Values are read after percent-decoding where it matters (a route word never contains an
//! escape, so `raw%20data` is a value segment, never a suffix). Nothing here stores a value:
//! the evidence reported by `--explain` is counts, lengths and the suffix route names.
//!
//! The OpenAPI export writes the parameter as an ordinary `{name}` path parameter (OpenAPI
//! 3.1 has no multi-segment parameter) with `x-apitap-multi-segment: true` and a
//! description saying that the value may contain `/`; the agent's route table matches it
//! against one or more segments, preferring a literal suffix after it.

use crate::classify::SegClass;
use crate::evidence::{Combine, Mode};
use crate::paths::{PathNode, TSeg, MAX_SEGMENTS};
use std::collections::{BTreeMap, BTreeSet};

/// Min distinct parent nodes of a suffix route word.
pub const SUFFIX_MIN_PARENTS: usize = 3;

/// Per route word found below the regions.
#[derive(Default)]
struct WordStats {
    /// Distinct parent nodes it is a child of.
    parents: usize,
    /// Occurrences answering exactly its parent's (non-empty) method set.
    same_methods: usize,
    /// Occurrences that are a POST-only leaf under a node answering nothing.
    action_leaf: usize,
}

/// A decided multi-segment parameter at one node (see the module doc).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Plan {
    /// Literal children kept static by the other rules that are heads of values.
    pub heads: BTreeSet<String>,
    /// Suffix route names.
    pub suffixes: BTreeSet<String>,
    /// Value lengths (segments) seen before a suffix.
    pub lengths: BTreeSet<usize>,
    /// Distinct nodes a suffix hangs under.
    pub parents: usize,
}

/// A route word: lowercase ASCII letters, `-`/`_` only between letters, at most 32 bytes.
pub(crate) fn route_word(k: &str) -> bool {
    let b = k.as_bytes();
    !b.is_empty()
        && b.len() <= 32
        && b.first().is_some_and(|x| x.is_ascii_lowercase())
        && b.last().is_some_and(|x| x.is_ascii_lowercase())
        && b.iter()
            .all(|x| x.is_ascii_lowercase() || *x == b'-' || *x == b'_')
        && !k.contains("--")
        && !k.contains("__")
}

fn collect<'a>(n: &'a PathNode, idx: usize, stats: &mut BTreeMap<&'a str, WordStats>) {
    if idx >= MAX_SEGMENTS {
        return;
    }
    for (w, c) in &n.lits {
        if route_word(w) {
            let s = stats.entry(w.as_str()).or_default();
            s.parents += 1;
            // the same methods, one of them creating or changing the resource: a nested
            // value of the same kind (a sub-directory), not a sub-route
            if c.eps.keys().eq(n.eps.keys())
                && c.eps.keys().any(|m| !matches!(m.as_str(), "GET" | "HEAD"))
            {
                s.same_methods += 1;
            }
            if c.lits.is_empty()
                && c.param.is_none()
                && n.eps.is_empty()
                && c.eps.keys().eq(["POST"].iter())
            {
                s.action_leaf += 1;
            }
        }
        collect(c, idx + 1, stats);
    }
    if let Some(p) = &n.param {
        collect(p, idx + 1, stats);
    }
}

/// Value lengths (index of the first suffix) on the paths below `n` (at index `idx`), per
/// suffix; false when a version segment (`v3`) is part of a value: an API prefix, not a value.
fn lengths<'a>(
    n: &'a PathNode,
    idx: usize,
    sfx: &BTreeSet<&str>,
    out: &mut BTreeMap<&'a str, BTreeSet<usize>>,
) -> bool {
    if idx >= MAX_SEGMENTS {
        return true;
    }
    for (w, c) in &n.lits {
        if sfx.contains(w.as_str()) {
            out.entry(w.as_str()).or_default().insert(idx + 1);
        } else if crate::classify::classify_segment(w) == SegClass::Version
            || !lengths(c, idx + 1, sfx, out)
        {
            return false;
        }
    }
    match &n.param {
        Some(p) => lengths(p, idx + 1, sfx, out),
        None => true,
    }
}

/// Methods answered by the value part (before the first suffix) of the paths below `n`.
fn value_methods<'a>(n: &'a PathNode, sfx: &BTreeSet<&str>, out: &mut BTreeSet<&'a str>) {
    out.extend(n.eps.keys().map(|m| m.as_str()));
    for (w, c) in &n.lits {
        if !sfx.contains(w.as_str()) {
            value_methods(c, sfx, out);
        }
    }
    if let Some(p) = &n.param {
        value_methods(p, sfx, out);
    }
}

/// Every request below `n` ends at a value-shaped segment (not a route word: a file name,
/// an id) and uses only `methods`; `ends` counts those endpoints.
fn value_chain(n: &PathNode, methods: &BTreeSet<&str>, ends: &mut usize, idx: usize) -> bool {
    if idx >= MAX_SEGMENTS {
        return false;
    }
    let ok = |c: &PathNode| c.eps.keys().all(|m| methods.contains(m.as_str()));
    for (w, c) in &n.lits {
        if !c.eps.is_empty() {
            if route_word(w) || !ok(c) {
                return false;
            }
            *ends += 1;
        }
        if !value_chain(c, methods, ends, idx + 1) {
            return false;
        }
    }
    match &n.param {
        Some(p) if !p.eps.is_empty() && !ok(p) => false,
        Some(p) => {
            *ends += usize::from(!p.eps.is_empty());
            value_chain(p, methods, ends, idx + 1)
        }
        None => true,
    }
}

/// Lengths of the requests below a key region (see [`key_plan`]); false when one ends at a
/// route word, a version or a parameter below the head.
fn key_chain(n: &PathNode, idx: usize, out: &mut BTreeSet<usize>, ends: &mut usize) -> bool {
    if idx >= MAX_SEGMENTS {
        return false;
    }
    for (w, c) in &n.lits {
        if crate::classify::classify_segment(w) == SegClass::Version {
            return false;
        }
        if !c.eps.is_empty() {
            if route_word(w) {
                return false;
            }
            out.insert(idx + 1);
            *ends += 1;
        }
        if !key_chain(c, idx + 1, out, ends) {
            return false;
        }
    }
    match &n.param {
        Some(p) if !p.eps.is_empty() => false,
        Some(p) => key_chain(p, idx + 1, out, ends),
        None => true,
    }
}

/// Min requests ending in value-shaped names for [`key_plan`].
pub const KEY_MIN_ENDS: usize = 4;

/// No suffix route: object keys and file paths (`/bucket/photos/2024/cat.jpg`,
/// `/bucket/a.txt`). The values are one multi-segment parameter when every request in the
/// value regions ends at a value-shaped segment (not a route word; the head itself may be
/// one only when it answers nothing), never at a parameter below the head, at least
/// [`KEY_MIN_ENDS`] of them in at least two regions, at different lengths of which one at
/// least 3 segments, and no route word repeats under [`SUFFIX_MIN_PARENTS`] parents (a
/// repeated sub-route is a resource's structure: `/zones/{zone}/metadata/{kind}`). The
/// parameter and the literals other rules folded must all qualify; a kept literal that does
/// not (`/bucket/search` answering) stays static.
fn key_plan(
    node: &PathNode,
    regions: &[(Option<&str>, &PathNode)],
    kept_names: &BTreeSet<&str>,
    stats: &BTreeMap<&str, WordStats>,
) -> Option<Plan> {
    if stats.values().any(|s| s.parents >= SUFFIX_MIN_PARENTS) {
        return None;
    }
    let mut lengths = BTreeSet::new();
    let (mut ends, mut contributing) = (0usize, 0usize);
    let mut heads = BTreeSet::new();
    for (name, r) in regions {
        let mut ls = BTreeSet::new();
        let mut e = 0usize;
        let head_ok = match name {
            Some(n) if !r.eps.is_empty() => !route_word(n),
            _ => true,
        };
        if !r.eps.is_empty() {
            ls.insert(0);
            e += 1;
        }
        let ok = head_ok && key_chain(r, 0, &mut ls, &mut e);
        let kept = name.is_some_and(|n| kept_names.contains(n));
        if !ok {
            if kept {
                continue;
            }
            return None; // the parameter or a folded literal has a resource's structure
        }
        if e == 0 {
            continue;
        }
        if let Some(n) = name.filter(|_| kept) {
            heads.insert(n.to_string());
        }
        contributing += 1;
        ends += e;
        lengths.extend(ls);
    }
    let deep = lengths.iter().any(|l| *l >= 2);
    (contributing >= 2 && ends >= KEY_MIN_ENDS && lengths.len() >= 2 && deep && node.pin.is_none())
        .then(|| Plan {
            heads,
            suffixes: BTreeSet::new(),
            lengths,
            parents: 0,
        })
}

fn allowed(prev: Option<&TSeg>) -> bool {
    match prev {
        Some(TSeg::Lit(l)) => {
            !(crate::classify::classify_segment(l) == SegClass::Version
                || l.eq_ignore_ascii_case("api")
                || l.eq_ignore_ascii_case("rest"))
        }
        Some(TSeg::Param { .. }) => true,
        None => false,
    }
}

/// Decide whether the value children of `node` are one multi-segment parameter. `kept` are
/// the literals the other rules keep static; `prev` is the segment of `node` itself.
pub(crate) fn plan(
    node: &PathNode,
    kept: &[(&String, &PathNode)],
    prev: Option<&TSeg>,
) -> Option<Plan> {
    if !allowed(prev) {
        return None;
    }
    let kept: BTreeSet<&str> = kept.iter().map(|(k, _)| k.as_str()).collect();
    plan_at(node, &kept, true)
}

/// [`plan`] at `node` whose literals `kept` may become heads. With `check_heads`, a head that
/// answers nothing itself and under which the rule holds on its own (`/store/files` above
/// `/store/files/{path}`) is a resource list, not a value: the parameter belongs below it.
fn plan_at(node: &PathNode, kept_names: &BTreeSet<&str>, check_heads: bool) -> Option<Plan> {
    if node.pin.is_some() {
        return None;
    }
    // cheap pre-check: some value position has a grandchild
    let deep = |c: &PathNode| {
        c.lits
            .values()
            .any(|g| !g.lits.is_empty() || g.param.is_some())
    };
    if !node.lits.values().chain(node.param.as_deref()).any(deep) {
        return None;
    }
    let regions: Vec<(Option<&str>, &PathNode)> = node
        .lits
        .iter()
        .filter(|(k, c)| !c.keep && crate::classify::classify_segment(k) != SegClass::Version)
        .map(|(k, c)| (Some(k.as_str()), c))
        .chain(node.param.as_deref().map(|p| (None, p)))
        .collect();
    let mut stats: BTreeMap<&str, WordStats> = BTreeMap::new();
    for (_, r) in &regions {
        collect(r, 0, &mut stats);
    }
    // suffix route words; action leaves only ever end a value, they never decide alone
    let strong = |s: &WordStats| s.parents >= SUFFIX_MIN_PARENTS && s.same_methods * 2 <= s.parents;
    let suffixes: BTreeSet<&str> = stats
        .iter()
        .filter(|(_, s)| strong(s) || (s.action_leaf > 0 && s.action_leaf == s.parents))
        .map(|(w, _)| *w)
        .collect();
    if !stats.values().any(strong) {
        return key_plan(node, &regions, kept_names, &stats);
    }
    let mut by_word: BTreeMap<&str, BTreeSet<usize>> = BTreeMap::new();
    let mut heads = BTreeSet::new();
    let mut contributing = 0usize;
    // kept literals without a suffix below them, and the methods the values answer
    let mut chains: Vec<(&str, &PathNode)> = Vec::new();
    let mut methods: BTreeSet<&str> = BTreeSet::new();
    for (name, r) in &regions {
        let mut ls = BTreeMap::new();
        if !lengths(r, 0, &suffixes, &mut ls) {
            if name.is_none() {
                return None; // the parameter's own values would fold an API prefix
            }
            continue;
        }
        if ls.is_empty() {
            if let Some(n) = name.filter(|n| kept_names.contains(n) && r.eps.is_empty()) {
                chains.push((n, *r));
            }
            continue;
        }
        if check_heads && name.is_some() && r.eps.is_empty() {
            let all: BTreeSet<&str> = r.lits.keys().map(|k| k.as_str()).collect();
            if let Some(inner) = plan_at(r, &all, false) {
                // a route word answering requests that is no value head: a static route
                // of a resource list (`/store/files/search`, `/images/create`)
                let list = r.lits.iter().any(|(k, c)| {
                    route_word(k) && !c.eps.is_empty() && !inner.heads.contains(k.as_str())
                });
                if list {
                    continue;
                }
            }
        }
        contributing += 1;
        value_methods(r, &suffixes, &mut methods);
        if let Some(n) = name {
            if kept_names.contains(n) {
                heads.insert(n.to_string());
            }
        }
        for (w, l) in ls {
            by_word.entry(w).or_default().extend(l);
        }
    }
    // one strong suffix after values of different lengths
    let all: BTreeSet<usize> = by_word
        .iter()
        .filter(|(w, l)| l.len() >= 2 && stats.get(*w).is_some_and(strong))
        .flat_map(|(_, l)| l.iter().copied())
        .collect();
    // one region alone (`/store/files/...` seen from `/store`) may be a static prefix: the
    // values are at least two (literals or the parameter)
    if all.is_empty() || contributing < 2 {
        return None;
    }
    // a literal answering nothing whose requests all end in value-shaped names answering
    // the values' methods (`/contents/does-not-exist/results.txt`) is a value too
    for (n, r) in chains {
        let mut ends = 0usize;
        if value_chain(r, &methods, &mut ends, 1) && ends > 0 {
            heads.insert(n.to_string());
        }
    }
    let parents = stats
        .iter()
        .filter(|(w, _)| suffixes.contains(*w))
        .map(|(_, s)| s.parents)
        .max()
        .unwrap_or(0);
    Some(Plan {
        heads,
        suffixes: suffixes.into_iter().map(str::to_string).collect(),
        lengths: all,
        parents,
    })
}

impl Plan {
    /// Re-root the (already combined) parameter node `p`: every segment before a suffix is
    /// part of the value, so its endpoints are `p`'s own; each suffix keeps its subtree.
    pub(crate) fn flatten(&self, p: &mut PathNode) {
        let lits = std::mem::take(&mut p.lits);
        let param = p.param.take();
        for (w, c) in lits {
            self.fold_child(p, w, &c, 1);
        }
        if let Some(c) = param {
            self.fold_value(p, &c, 1);
        }
    }

    /// Fold a head literal's region (hits, endpoints, suffixes) into `p`.
    pub(crate) fn fold_head(&self, p: &mut PathNode, head: &PathNode) {
        p.hits += head.hits;
        self.fold_value(p, head, 0);
    }

    fn fold_child(&self, p: &mut PathNode, w: String, c: &PathNode, idx: usize) {
        if self.suffixes.contains(&w) {
            match p.lits.get_mut(&w) {
                Some(e) => e.combine(c, Mode::Sum),
                None => {
                    p.lits.insert(w, c.clone());
                }
            }
        } else {
            self.fold_value(p, c, idx);
        }
    }

    /// `src` is a value segment at index `idx`: its endpoints become `p`'s.
    fn fold_value(&self, p: &mut PathNode, src: &PathNode, idx: usize) {
        if idx >= MAX_SEGMENTS {
            return;
        }
        let shallow = PathNode {
            eps: src.eps.clone(),
            method_overflow: src.method_overflow,
            ..Default::default()
        };
        p.combine(&shallow, Mode::Sum);
        for (w, c) in &src.lits {
            self.fold_child(p, w.clone(), c, idx + 1);
        }
        if let Some(c) = &src.param {
            self.fold_value(p, c, idx + 1);
        }
    }

    /// `--explain` evidence (counts, lengths and route names only).
    pub(crate) fn evidence(&self) -> String {
        let ls: Vec<String> = self.lengths.iter().map(|l| l.to_string()).collect();
        if self.suffixes.is_empty() {
            return format!(
                "multi-segment: requests end in value-shaped names (no route words, no \
                 suffix route) after {} segments; {} static-looking literals folded as \
                 heads of multi-segment values",
                self.lengths
                    .iter()
                    .map(|l| (l + 1).to_string())
                    .collect::<Vec<_>>()
                    .join("/"),
                self.heads.len()
            );
        }
        let sx: Vec<&str> = self.suffixes.iter().map(|s| s.as_str()).collect();
        format!(
            "multi-segment: values span {} segments before a suffix route ([{}], \
             each under up to {} distinct values); {} static-looking literals folded as \
             heads of multi-segment values",
            ls.join("/"),
            sx.join(", "),
            self.parents,
            self.heads.len()
        )
    }
}

/// Name of a multi-segment parameter: `imageId` → `imagePath`, `id`/`slug` → `path`.
pub(crate) fn multi_name(name: &str) -> String {
    if let Some(base) = name.strip_suffix("Id") {
        if !base.is_empty() {
            return format!("{base}Path");
        }
    }
    match name {
        "id" | "slug" | "uuid" => "path".into(),
        n => n.to_string(),
    }
}

/// A pinned parameter name of a multi-segment pin (`{name*}` in a templates file).
pub(crate) fn is_multi_pin(name: &str) -> bool {
    name.len() > 1 && name.ends_with('*')
}

/// Index of the multi-segment parameter of a parsed pin, if it has one.
pub(crate) fn pin_multi_index(pin: &[(String, bool)]) -> Option<usize> {
    pin.iter().position(|(n, p)| *p && is_multi_pin(n))
}

/// A multi-segment pin's parameter name at `i` of `segs`: `i` is its position and the
/// segments before it match the pin's literals.
pub(crate) fn pin_name_at<'a>(
    pin: &'a [(String, bool)],
    mi: usize,
    segs: &[&str],
    i: usize,
) -> Option<&'a str> {
    if i != mi || segs.len() <= mi {
        return None;
    }
    let prefix_ok = pin
        .iter()
        .take(mi)
        .enumerate()
        .all(|(j, (s, is_param))| *is_param || segs.get(j) == Some(&s.as_str()));
    prefix_ok
        .then(|| pin.get(mi).map(|(n, _)| n.as_str()))
        .flatten()
}

/// The literal that ends a multi-segment pinned value starting at `i` of `segs`
/// (`json` of `/images/{name*}/json`), if this pin has one there.
pub(crate) fn pin_suffix_at<'a>(
    pin: &'a [(String, bool)],
    segs: &[&str],
    i: usize,
) -> Option<&'a str> {
    let mi = pin_multi_index(pin)?;
    pin_name_at(pin, mi, segs, i)?;
    pin.get(mi + 1)
        .filter(|(_, is_param)| !*is_param)
        .map(|(s, _)| s.as_str())
}

/// After a multi-segment pinned value that started at `start` and ended at the suffix
/// literal at `k`: the pin's parameter name at `i` (its segments after the value, matched by
/// position from `k`).
pub(crate) fn pin_tail_name<'a>(
    pin: &'a [(String, bool)],
    segs: &[&str],
    start: usize,
    k: usize,
    i: usize,
) -> Option<&'a str> {
    let mi = pin_multi_index(pin)?;
    pin_name_at(pin, mi, segs, start)?;
    let rest = pin.get(mi + 1..)?;
    if i < k || rest.len() > segs.len().saturating_sub(k) {
        return None;
    }
    let matches = rest
        .iter()
        .enumerate()
        .all(|(j, (s, is_param))| *is_param || segs.get(k + j) == Some(&s.as_str()));
    rest.get(i - k)
        .filter(|(_, is_param)| matches && *is_param)
        .map(|(n, _)| n.as_str())
}
