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
//! - **Named resources** ([`named_resource`]): a literal the service named as a resource
//!   (the `Location` of a `201` to a `POST` on the literal's parent, `POST
//!   /contents/x/checkpoints` -> `.../checkpoints/checkpoint`; the authority or a path segment
//!   of a non-HTTP URI it handed out, `mxc://example.org/AbCd` -> `/download/example.org/AbCd`)
//!   is a value even alone: the server itself said it names an instance.
//! - **Field sub-resources** ([`field_values`]): at least [`FIELD_MIN`] leaf literals under a
//!   node whose GET answers an object with a scalar property of each one's name, each
//!   answering (or accepting) only an object keyed by its own name
//!   (`GET /profile/{u}` -> `{"displayname":…,"avatar_url":…}`, `GET|PUT
//!   /profile/{u}/displayname` <-> `{"displayname":…}`): they address the fields of that
//!   object, so they are values of a field-name parameter. A sub-collection named like a
//!   count (`/users/{u}/followers` beside `"followers": 20`) answers a list, not
//!   `{"followers":…}`, and stays.
//! - **Namespaced names** ([`qualified_values`]): at least two literals that are dotted
//!   names in one namespace (`m.read`, `m.read.private`; `org.example.ping`), answering
//!   nothing themselves and each with only a parameter child answering the same methods,
//!   are values: a dotted namespace marks an extensible name, not a route (the same reading
//!   as value flow's `type` keys). File names (`openapi.json`) are not namespaced names.
//!
//! Two-level values fold with their parent: the folded siblings' subtrees are merged before
//! the child level is derived, so `/basic-auth/alice/pw79`, `/basic-auth/dave/pw43`, ...
//! become `/basic-auth/{user}/{…}` once the user names fold.

use crate::classify::{classify_segment, is_plain_word, SegClass};
use crate::endpoint::Endpoint;
use crate::paths::{PathNode, TSeg, UNIFORM_MIN};
use crate::schema::SchemaNode;
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

/// Is literal `k` (node `c`) a resource the service named (see the module doc)?
pub(crate) fn named_resource(k: &str, c: &PathNode, prev: Option<&TSeg>, flow: &ValueFlow) -> bool {
    allowed(prev) && !c.keep && classify_segment(k) != SegClass::Version && flow.named(k)
}

/// Min leaf literals for [`field_values`].
pub const FIELD_MIN: usize = 2;

/// Object schemas of the 2xx JSON responses of `ep`, plus its JSON request bodies when
/// `requests` (objects only).
fn objects(ep: &Endpoint, requests: bool) -> Vec<&SchemaNode> {
    let resp = ep.resp.range(200..300).flat_map(|(_, r)| r.content.iter());
    let req = ep.req.iter().filter(|_| requests);
    resp.chain(req)
        .filter(|(media, b)| media.contains("json") && b.schema.n > 0)
        .map(|(_, b)| &b.schema)
        .collect()
}

fn scalar(s: &SchemaNode) -> bool {
    s.n > 0 && s.t.object == 0 && s.t.array == 0
}

/// Leaf literals addressing the scalar fields of the object `node` answers (see the module
/// doc), when at least [`FIELD_MIN`] of them do.
pub(crate) fn field_values<'a>(node: &'a PathNode, prev: Option<&TSeg>) -> BTreeSet<&'a str> {
    let mut out = BTreeSet::new();
    let Some(get) = node.eps.get("GET") else {
        return out;
    };
    if !allowed(prev) {
        return out;
    }
    let parent = objects(get, false);
    for (k, c) in &node.lits {
        if c.keep || !c.lits.is_empty() || c.param.is_some() || c.eps.is_empty() {
            continue;
        }
        // a scalar property of the parent's object
        let field = parent
            .iter()
            .any(|o| o.t.object > 0 && o.props.get(k.as_str()).is_some_and(scalar));
        if !field {
            continue;
        }
        // every JSON body it answers or accepts is an object keyed only by its own name,
        // and at least one has that key
        let bodies: Vec<&SchemaNode> = c.eps.values().flat_map(|ep| objects(ep, true)).collect();
        let own = |o: &&SchemaNode| {
            o.t.object > 0
                && o.t.array == 0
                && o.additional.is_none()
                && o.props.keys().all(|p| p == k)
        };
        let echoes = bodies.iter().any(|o| o.props.contains_key(k.as_str()));
        if echoes && bodies.iter().all(own) {
            out.insert(k.as_str());
        }
    }
    if out.len() < FIELD_MIN {
        out.clear();
    }
    out
}

/// File extensions: a dotted literal ending in one is a file name, not a namespaced name.
const FILE_EXTS: [&str; 16] = [
    "json", "yaml", "yml", "xml", "html", "htm", "txt", "js", "css", "csv", "png", "svg", "ico",
    "gz", "zip", "tar",
];

/// `m.read`, `org.example.ping`: at least two dot-separated parts of lowercase letters,
/// digits and `_`, each starting with a letter, the last not a file extension. Its
/// namespace (first part) when it is one.
fn namespace(k: &str) -> Option<&str> {
    let mut parts = k.split('.');
    let first = parts.next()?;
    let mut n = 0;
    let mut last = first;
    for p in std::iter::once(first).chain(parts) {
        let ok = p.bytes().next().is_some_and(|c| c.is_ascii_lowercase())
            && p.bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_');
        if !ok {
            return None;
        }
        last = p;
        n += 1;
    }
    (n >= 2 && !FILE_EXTS.contains(&last)).then_some(first)
}

/// At least two namespaced names in one namespace, answering nothing themselves, each with
/// only a parameter child answering the same methods (see the module doc).
pub(crate) fn qualified_values(node: &PathNode, prev: Option<&TSeg>) -> bool {
    if !allowed(prev) || node.lits.len() < 2 {
        return false;
    }
    let mut ns: Option<&str> = None;
    let mut first: Option<&PathNode> = None;
    node.lits.iter().all(|(k, c)| {
        let Some(n) = namespace(k) else {
            return false;
        };
        let Some(p) = c.param.as_deref() else {
            return false;
        };
        let ok = !c.keep
            && c.eps.is_empty()
            && c.lits.is_empty()
            && !p.eps.is_empty()
            && ns.is_none_or(|x| x == n);
        ns = Some(n);
        ok && match first {
            None => {
                first = Some(p);
                true
            }
            Some(f) => f.eps.keys().eq(p.eps.keys()) && f.lits.keys().eq(p.lits.keys()),
        }
    })
}
