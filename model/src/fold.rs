//! Sibling and value-flow evidence for templating: more reasons a literal path segment is a
//! value of a parameter, read by [`crate::paths`] at derive time from the merged evidence
//! only (so split learning still equals whole learning).
//!
//! - **Value-flow group** ([`flow_group`]): at a node where values may fold (not the root,
//!   not after a version or `api` segment), when at least [`FLOW_GROUP_MIN`] literal children,
//!   and at least half of them, are texts the service handed out as values
//!   ([`crate::valueflow`]: `/variables/name/backup_url_1` after `POST /variables
//!   {"name":"backup_url_1"}`, `/rooms/{id}/send/m.room.message/...` after events of
//!   `"type":"m.room.message"`), those literals are values, however few.
//! - **Beside the values** ([`beside_values`]): next to a parameter (an identifier-like child,
//!   or literals folded by a sibling rule), a literal is a value too when
//!   - it is a value-flow hit and all its sub-routes exist under the values (a
//!     version-shaped one, `v3`, only without sub-routes), or
//!   - it is not a plain lowercase word (it carries digits, `-`, `_`, `.`: `0.1`,
//!     `realeval-net-db5`, `nonexistent.invalid.`), answers only methods the values answer
//!     and has only sub-routes they have, and its GET responses do not look like another
//!     resource.
//!
//!   A plain word answering a subset of the values' methods (`GET /users/me`,
//!   `GET /containers/json`) is the typical static route and stays; so does a route
//!   answering a method the values do not (`POST /containers/create`, `POST /flows/filter`).
//! - **Uniform names with parameters** ([`uniform_param_values`]): at least
//!   [`crate::paths::UNIFORM_MIN`] word literals that answer nothing themselves and each
//!   have only a parameter child with the same methods and sub-routes
//!   (`/cookies/set/alice/{v}`, `/cookies/set/carol/{v}`, ...) are values: a static
//!   collection answers its own list, and four that never do, all shaped alike, are names.
//!
//! Two-level values fold with their parent: the folded siblings' subtrees are merged before
//! the child level is derived, so `/basic-auth/alice/pw79`, `/basic-auth/dave/pw43`, ...
//! become `/basic-auth/{user}/{…}` once the user names fold.

use crate::classify::{classify_segment, is_plain_word, SegClass};
use crate::paths::{PathNode, TSeg, UNIFORM_MIN};
use crate::valueflow::ValueFlow;
use std::collections::BTreeSet;

/// Min value-flow hits among literal siblings for [`flow_group`].
pub const FLOW_GROUP_MIN: usize = 2;

/// May literal children of a node after `prev` be values (not the root, not after a
/// version or `api`/`rest` segment)?
fn allowed(prev: Option<&TSeg>) -> bool {
    match prev {
        Some(TSeg::Lit(l)) => {
            !(classify_segment(l) == SegClass::Version
                || l.eq_ignore_ascii_case("api")
                || l.eq_ignore_ascii_case("rest"))
        }
        Some(TSeg::Param { .. }) => true,
        None => false,
    }
}

/// The literal children that are value-flow hits, when they are a group (see the module doc).
pub(crate) fn flow_group<'a>(
    node: &'a PathNode,
    prev: Option<&TSeg>,
    flow: &ValueFlow,
) -> BTreeSet<&'a str> {
    if !allowed(prev) || flow.h.is_empty() {
        return BTreeSet::new();
    }
    let cands: Vec<&'a str> = node
        .lits
        .iter()
        .filter(|(k, c)| !c.keep && classify_segment(k) != SegClass::Version)
        .map(|(k, _)| k.as_str())
        .collect();
    let hits: BTreeSet<&'a str> = cands.iter().copied().filter(|k| flow.hit(k)).collect();
    if hits.len() >= FLOW_GROUP_MIN && hits.len() * 2 >= cands.len() {
        hits
    } else {
        BTreeSet::new()
    }
}

/// What the values beside a literal answer: methods and literal sub-routes.
pub(crate) struct Values<'a> {
    /// Methods the values answer.
    pub methods: &'a BTreeSet<&'a str>,
    /// Literal sub-routes under the values.
    pub children: &'a BTreeSet<&'a str>,
}

/// Why literal `k` (node `c`) beside the values is a value too, if it is (see the module doc).
/// `distinct` says its GET responses look like another resource than the values'.
pub(crate) fn beside_values(
    k: &str,
    c: &PathNode,
    v: &Values<'_>,
    flow: &ValueFlow,
    distinct: bool,
) -> Option<&'static str> {
    if c.keep || distinct {
        return None;
    }
    let subs_ok = c.lits.keys().all(|x| v.children.contains(x.as_str()));
    // a version-shaped literal (`v3`) is a value only when handed out as one and it has no
    // sub-routes (a version segment always has them: `/v2/users`)
    let version = classify_segment(k) == SegClass::Version;
    if subs_ok && (!version || c.lits.is_empty()) && flow.hit(k) {
        return Some("value-flow hit beside the values");
    }
    if version {
        return None;
    }
    let methods_ok = c.eps.keys().all(|m| v.methods.contains(m.as_str()));
    let answers = !c.eps.is_empty() || !c.lits.is_empty();
    if !is_plain_word(k) && answers && methods_ok && subs_ok && c.param.is_none() {
        return Some("not a plain word, answering a subset of the values' methods and sub-routes");
    }
    None
}

/// At least [`UNIFORM_MIN`] word literals answering nothing themselves, each with only a
/// parameter child, all with the same methods and sub-routes under it (see the module doc).
pub(crate) fn uniform_param_values(node: &PathNode, prev: Option<&TSeg>) -> bool {
    if !allowed(prev) || node.param.is_some() || node.lits.len() < UNIFORM_MIN {
        return false;
    }
    let mut first: Option<&PathNode> = None;
    node.lits.iter().all(|(k, c)| {
        let Some(p) = c.param.as_deref() else {
            return false;
        };
        let ok = classify_segment(k) == SegClass::Word
            && !c.keep
            && c.eps.is_empty()
            && c.lits.is_empty()
            && !p.eps.is_empty();
        ok && match first {
            None => {
                first = Some(p);
                true
            }
            Some(f) => f.eps.keys().eq(p.eps.keys()) && f.lits.keys().eq(p.lits.keys()),
        }
    })
}
