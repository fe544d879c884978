//! Trie compaction: what a service does when a flood of new paths exhausts its node budget.
//!
//! The node budget ([`crate::model::MAX_NODES`] per service, [`crate::LearnConfig::max_nodes`]
//! per source) bounds memory, but on its own a flood of distinct literal paths (`/alpha/bravo`
//! over 64×64 words) fills it within seconds, and every path first seen later (the
//! legitimate `/api/v1/users/{id}`) lands in the `_other` bucket. Yet most of those nodes
//! would be folded by the export anyway: at a *collapsed* node (see [`crate::paths`]: a full
//! literal map, or many literals hit once) the export sums the literal children into the
//! parameter child. Compaction materialises that fold in the trie, freeing the nodes.
//!
//! Policy:
//! - **When:** (1) a path needs up to N new nodes and fewer than N are left in the budget:
//!   the whole service trie is compacted first (every collapsed node, as below); (2) a word
//!   is about to fill a node's literal map ([`crate::paths::MAX_LITERALS`]): the export
//!   would fold that whole map, real routes included, so the node is compacted when that
//!   protects a literal (one the rules below keep); a map filled by values alone is left to
//!   the export; (3) a word overflows a full map: it may be a real route (`/api` arriving
//!   after the flood), so the values fold to make room for it. Traffic within both budgets
//!   is never compacted. The price of (3): a plain-word leaf value first seen after it
//!   (`/users/bob`, hit several times) may stay a literal beside the parameter in the
//!   export, where a map that overflowed used to fold whole. A compaction
//!   that frees little holds further attempts: a service waits until its `_other` count
//!   doubles, a node until its `lit_overflow` reaches a power of two, so compaction costs
//!   amortised O(1) work per node created.
//! - **What folds:** at a collapsed node, the literal children that are neither pinned
//!   static nor frequent (the export's own static test) and that share the *structure* of
//!   the values, the majority of their siblings by (methods answered, sub-tree depth): a
//!   literal folds when it answers a method the values answer (or, like them, none) and
//!   shares a child literal with them (or has none, or they have none). So `/api` → `v1`
//!   beside 63 flood words whose children are flood words stays, and so does `GET /health`
//!   beside flood words that answer nothing themselves: real routes keep their templates
//!   whether they arrived before or after the flood.
//! - **How:** each folded literal's sub-tree is merged into the parameter child with the
//!   evidence's own sum ([`Combine`], [`Mode::Sum`]), its word counted as a parameter value
//!   (class `Word`, the value's scalar schema), as the export does. Where the parameter's
//!   own literal map is full, a merged literal goes one level further into its parameter
//!   (counted in `lit_overflow`), so no count is lost. A node whose children were just
//!   folded into its parameter keeps that parameter's literal children in this pass: they
//!   are the "values' sub-routes" the export's structure rules compare later literals with
//!   (`/alpha` re-arriving after a compaction folds at export because its children exist
//!   under the values). Further passes, run while a pass frees less than a quarter of the
//!   trie, reach them.
//! - **Determinism:** which literals fold is a function of the node's evidence only (counts,
//!   methods, sub-tree shapes, words in byte order); *when* compaction runs depends on the
//!   order of arrival, so a learner under budget pressure may derive templates a learner
//!   without pressure would not (only at nodes the export collapses anyway). Counts stay
//!   exact.
//! - **Counted:** [`crate::Stats::compactions`] and [`crate::Stats::compacted_nodes`] (the
//!   agent exports both as metrics and logs the first compaction).
//! - **Merging snapshots:** a snapshot taken after a compaction no longer has the folded
//!   literals; joined with an earlier snapshot of the same source, the folded values count
//!   in both the old literals and the parameter (over-counted at the collector, not lost).

use crate::classify::SegClass;
use crate::evidence::{Combine, Mode};
use crate::paths::{is_collapsed, is_static, PathNode, TSeg, MAX_LITERALS, MAX_SEGMENTS};
use crate::schema::{Ctx, SchemaNode};
use std::collections::BTreeMap;

/// Nodes in the sub-trie rooted at `node`, `node` included.
pub(crate) fn count_nodes(node: &PathNode) -> u64 {
    1 + node.lits.values().map(count_nodes).sum::<u64>()
        + node.param.as_deref().map_or(0, count_nodes)
}

/// Depth of the sub-trie below `node` (0 for a leaf), at most [`MAX_SEGMENTS`].
fn depth(node: &PathNode, limit: usize) -> usize {
    if limit == 0 {
        return 0;
    }
    let lits = node.lits.values().map(|c| 1 + depth(c, limit - 1));
    let param = node.param.as_deref().map(|p| 1 + depth(p, limit - 1));
    lits.chain(param).max().unwrap_or(0)
}

/// A literal's structure: the methods it answers and its sub-tree depth.
type Shape<'a> = (Vec<&'a str>, usize);

/// The literals of `node` to fold into its parameter child (see the module doc); `full`:
/// the literal map is (about to be) full, which collapses the node whatever `prev`.
fn fold_set(node: &PathNode, prev: Option<&TSeg>, full: bool) -> Vec<String> {
    if node.pin.is_some() || !(full || is_collapsed(node, prev)) {
        return Vec::new();
    }
    // candidates, with their structure: (methods answered, sub-tree depth)
    let cands: Vec<(&String, &PathNode, Shape)> = node
        .lits
        .iter()
        .filter(|(k, c)| !c.keep && !is_static(k, node))
        .map(|(k, c)| {
            let methods = c.eps.keys().map(|m| m.as_str()).collect();
            (k, c, (methods, depth(c, MAX_SEGMENTS)))
        })
        .collect();
    let mut shapes: BTreeMap<&Shape, usize> = BTreeMap::new();
    for (_, _, s) in &cands {
        *shapes.entry(s).or_default() += 1;
    }
    // the majority structure; ties go to the smallest (a deterministic choice)
    let Some((major, n)) = shapes
        .iter()
        .max_by_key(|(s, n)| (**n, std::cmp::Reverse(**s)))
        .map(|(s, n)| ((*s).clone(), *n))
    else {
        return Vec::new();
    };
    if n < 2 {
        return Vec::new();
    }
    // the majority's methods, and in how many members each child literal occurs
    let mut methods: std::collections::BTreeSet<&str> = Default::default();
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, c, s) in &cands {
        if *s == major {
            methods.extend(c.eps.keys().map(|m| m.as_str()));
            for k in c.lits.keys() {
                *seen.entry(k.as_str()).or_default() += 1;
            }
        }
    }
    cands
        .iter()
        .filter(|(_, c, s)| {
            let own = usize::from(*s == major);
            // answers a method the values answer (or, like them, none)
            let same_methods = if c.eps.is_empty() {
                methods.is_empty()
            } else {
                c.eps.keys().any(|m| methods.contains(m.as_str()))
            };
            // shares a sub-route with the other values (or they have none to compare)
            let others_have_children = seen.values().any(|n| *n > own);
            let same_children = c.lits.is_empty()
                || !others_have_children
                || c.lits
                    .keys()
                    .any(|k| seen.get(k.as_str()).is_some_and(|n| *n > own));
            same_methods && same_children
        })
        .map(|(k, _, _)| (*k).clone())
        .collect()
}

/// Counts `word` (a folded literal hit `hits` times) as a value of the parameter node `p`.
fn count_value(p: &mut PathNode, word: &str, hits: u64) {
    *p.classes.entry(SegClass::Word).or_insert(0) += hits;
    let pii = std::cell::Cell::new(0);
    p.values
        .get_or_insert_with(Box::<SchemaNode>::default)
        .observe_text(
            word,
            "id",
            Ctx {
                ts: 0,
                examples: false,
                thin: true,
                pii: &pii,
            },
        );
}

/// Merges the sub-trie `src` into `dst` (sums of evidence; see the module doc).
fn merge_into(dst: &mut PathNode, mut src: PathNode) {
    let lits = std::mem::take(&mut src.lits);
    let param = src.param.take();
    dst.combine(&src, Mode::Sum);
    for (k, c) in lits {
        if let Some(d) = dst.lits.get_mut(&k) {
            merge_into(d, c);
        } else if dst.lits.len() < MAX_LITERALS {
            dst.lits.insert(k, c);
        } else {
            dst.lit_overflow += c.hits;
            let p = dst.param.get_or_insert_with(Default::default);
            count_value(p, &k, c.hits);
            merge_into(p, c);
        }
    }
    if let Some(p) = param {
        match dst.param.as_deref_mut() {
            Some(d) => merge_into(d, *p),
            None => dst.param = Some(p),
        }
    }
}

/// Compacts a node whose literal map a new word is about to fill or overflow; returns how
/// many literals were folded.
pub(crate) fn compact_full(node: &mut PathNode) -> usize {
    let fold = fold_set(node, None, true);
    // filling the map with values alone: the export folds a full map whole, nothing to
    // protect (a word overflowing it may be a real route: there the values fold)
    let protects = node
        .lits
        .iter()
        .any(|(k, c)| !c.keep && !is_static(k, node) && !fold.contains(k));
    if !protects && node.lits.len() < MAX_LITERALS {
        return 0;
    }
    fold_into_param(node, &fold)
}

/// Folds the foldable literal children of `node` into its parameter child; returns how
/// many literals were folded.
fn compact_node(node: &mut PathNode, prev: Option<&TSeg>, full: bool) -> usize {
    let fold = fold_set(node, prev, full);
    fold_into_param(node, &fold)
}

fn fold_into_param(node: &mut PathNode, fold: &[String]) -> usize {
    for k in fold {
        if let Some(c) = node.lits.remove(k) {
            let p = node.param.get_or_insert_with(Default::default);
            count_value(p, k, c.hits);
            merge_into(p, c);
        }
    }
    fold.len()
}

/// A placeholder parameter segment: `is_collapsed` only asks whether the previous segment
/// is a parameter.
fn param_seg() -> TSeg {
    TSeg::Param {
        name: String::new(),
        values: Box::default(),
        class: SegClass::Word,
        multi: false,
    }
}

fn pass(node: &mut PathNode, prev: Option<&TSeg>, depth_left: usize) -> usize {
    let folded = compact_node(node, prev, false);
    if depth_left == 0 {
        return folded;
    }
    let mut n = folded;
    for (k, c) in node.lits.iter_mut() {
        n += pass(c, Some(&TSeg::Lit(k.clone())), depth_left - 1);
    }
    if folded == 0 {
        if let Some(p) = node.param.as_deref_mut() {
            n += pass(p, Some(&param_seg()), depth_left - 1);
        }
    }
    n
}

/// Compacts a whole service trie; returns the nodes freed. Passes repeat while a pass
/// folds something and the trie is still above three quarters of its size before.
pub(crate) fn compact_tree(root: &mut PathNode) -> u64 {
    let before = count_nodes(root);
    let mut now = before;
    for _ in 0..MAX_SEGMENTS {
        if pass(root, None, MAX_SEGMENTS) == 0 {
            break;
        }
        now = count_nodes(root);
        if now * 4 <= before * 3 {
            break;
        }
    }
    before.saturating_sub(now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paths::derive;
    use crate::{ApiModel, LearnConfig, Observation};

    const WORDS: [&str; 64] = [
        "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
        "juliet", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra",
        "tango", "uniform", "victor", "whiskey", "xray", "yankee", "zulu", "amber", "azure",
        "beige", "black", "blue", "bronze", "brown", "coral", "cream", "cyan", "gold", "gray",
        "green", "indigo", "ivory", "jade", "khaki", "lemon", "lilac", "lime", "linen", "magenta",
        "maroon", "mint", "navy", "olive", "orange", "peach", "pearl", "pink", "plum", "purple",
        "red", "rose", "ruby", "salmon", "sand", "silver",
    ];

    fn ob(method: &str, target: &str) -> Observation {
        Observation {
            method: method.into(),
            target: target.into(),
            status: Some(200),
            service: "svc".into(),
            ..Default::default()
        }
    }

    /// The legitimate traffic of `bench/flood.sh`, one round.
    fn legit(i: usize) -> Vec<Observation> {
        vec![
            ob("GET", &format!("/api/v1/users/{}", 100 + i)),
            ob("PUT", &format!("/api/v1/users/{}", 100 + i)),
            ob("DELETE", &format!("/api/v1/users/{}", 100 + i)),
            ob("POST", "/api/v1/users"),
            ob("GET", "/api/v1/users"),
            ob(
                "GET",
                &format!("/api/v1/orders/3f2b8c1e-0d4a-4b6e-9f1a-{:012x}", i),
            ),
            ob(
                "GET",
                &format!("/api/v1/orders/3f2b8c1e-0d4a-4b6e-9f1a-{:012x}/items", i),
            ),
            ob("GET", "/api/v1/products"),
            ob("GET", &format!("/api/v1/products/{}", 7 + i)),
            ob("GET", "/health"),
        ]
    }

    fn flood(i: usize) -> Observation {
        // a deterministic walk over all 64×64 word pairs
        let j = (i * 2_654_435_761) % (64 * 64);
        ob("GET", &format!("/{}/{}", WORDS[j % 64], WORDS[j / 64]))
    }

    const LEGIT_OPS: [(&str, &str); 10] = [
        ("GET", "/api/v1/users/{userId}"),
        ("PUT", "/api/v1/users/{userId}"),
        ("DELETE", "/api/v1/users/{userId}"),
        ("POST", "/api/v1/users"),
        ("GET", "/api/v1/users"),
        ("GET", "/api/v1/orders/{orderId}"),
        ("GET", "/api/v1/orders/{orderId}/items"),
        ("GET", "/api/v1/products"),
        ("GET", "/api/v1/products/{productId}"),
        ("GET", "/health"),
    ];

    fn check_legit(m: &ApiModel, rounds: u64) {
        let rows = m.endpoints();
        for (meth, t) in LEGIT_OPS {
            let r = rows.iter().find(|r| r.method == meth && r.template == t);
            let got = r.map(|r| r.count);
            assert_eq!(got, Some(rounds), "{meth} {t}: {rows:#?}");
        }
        let st = m.stats();
        assert!(st.compactions > 0, "the flood compacted: {st:?}");
        let svc = &m.combined().services["svc"];
        assert_eq!(svc.other, 0, "nothing in _other");
        assert_eq!(svc.nodes + 1, count_nodes(&svc.root), "node accounting");
        assert!(svc.nodes <= crate::model::MAX_NODES);
        // the flood is at most a word list of operations (`/{slug}/alpha` when the values'
        // sub-routes do not fill a map), not thousands
        assert!(
            rows.len() <= 10 + MAX_LITERALS,
            "{} rows: {rows:#?}",
            rows.len()
        );
    }

    #[test]
    fn flood_then_legit_keeps_legit_routes() {
        let cfg = LearnConfig::default();
        let mut m = ApiModel::new();
        for i in 0..40_000 {
            m.observe(&flood(i), &cfg);
        }
        for i in 0..20 {
            for o in legit(i) {
                m.observe(&o, &cfg);
            }
            for k in 0..200 {
                m.observe(&flood(40_000 + i * 200 + k), &cfg);
            }
        }
        check_legit(&m, 20);
    }

    #[test]
    fn legit_then_flood_keeps_legit_routes() {
        let cfg = LearnConfig::default();
        let mut m = ApiModel::new();
        for i in 0..20 {
            for o in legit(i) {
                m.observe(&o, &cfg);
            }
        }
        for i in 0..40_000 {
            m.observe(&flood(i), &cfg);
        }
        check_legit(&m, 20);
    }

    #[test]
    fn legit_routes_filling_a_literal_map_with_the_flood_stay_static() {
        // 62 words: the root's map is exactly full with `api` and `health`, and the trie
        // (62 + 62×62 nodes) stays within the node budget: only the full map protects them
        let cfg = LearnConfig::default();
        let mut m = ApiModel::new();
        for i in 0..20 {
            for o in legit(i) {
                m.observe(&o, &cfg);
            }
            for k in 0..1000 {
                let j = ((i * 1000 + k) * 2_654_435_761) % (62 * 62);
                m.observe(
                    &ob("GET", &format!("/{}/{}", WORDS[j % 62], WORDS[j / 62])),
                    &cfg,
                );
            }
        }
        check_legit(&m, 20);
    }

    #[test]
    fn legit_routes_after_a_full_map_without_node_pressure_stay_static() {
        // the flood fills the root's map long before the node budget: `/api` overflows it
        let cfg = LearnConfig::default();
        let mut m = ApiModel::new();
        for i in 0..2000 {
            m.observe(
                &ob("GET", &format!("/{}/{}", WORDS[i % 64], WORDS[i % 7])),
                &cfg,
            );
        }
        for i in 0..20 {
            for o in legit(i) {
                m.observe(&o, &cfg);
            }
            for w in WORDS {
                m.observe(&ob("GET", &format!("/{w}/{}", WORDS[i % 7])), &cfg);
            }
        }
        check_legit(&m, 20);
    }

    #[test]
    fn interleaved_legit_and_flood_keep_legit_routes() {
        let cfg = LearnConfig::default();
        let mut m = ApiModel::new();
        for i in 0..40 {
            for o in legit(i) {
                m.observe(&o, &cfg);
            }
            for k in 0..1000 {
                m.observe(&flood(i * 1000 + k), &cfg);
            }
        }
        check_legit(&m, 40);
    }

    #[test]
    fn traffic_within_the_literal_and_node_budgets_is_never_compacted() {
        let cfg = LearnConfig::default();
        let mut m = ApiModel::new();
        for w in &WORDS[..62] {
            m.observe(&ob("GET", &format!("/tags/{w}")), &cfg);
            m.observe(&ob("GET", &format!("/{w}/x")), &cfg);
        }
        assert_eq!(m.stats().compactions, 0);
        let svc = &m.combined().services["svc"];
        assert_eq!(svc.root.lits["tags"].lits.len(), 62);
    }

    #[test]
    fn a_full_map_of_values_alone_is_left_to_the_export() {
        let cfg = LearnConfig::default();
        let mut m = ApiModel::new();
        for w in WORDS {
            m.observe(&ob("GET", &format!("/tags/{w}")), &cfg);
        }
        // values alone: nothing to protect, the export folds the full map
        assert_eq!(m.stats().compactions, 0);
        let rows: Vec<String> = m.endpoints().iter().map(|r| r.template.clone()).collect();
        assert_eq!(rows, ["/tags/{tagId}"]);
        assert_eq!(m.endpoints()[0].count, 64);
    }

    #[test]
    fn routes_with_their_own_sub_routes_are_not_folded() {
        // 40 values sharing sub-routes, 24 routes each with sub-routes of their own
        let mut node = PathNode::default();
        for (i, w) in WORDS.iter().enumerate() {
            let c = node.lits.entry(w.to_string()).or_default();
            c.hits = 5;
            let subs = if i < 40 {
                vec!["items".to_string(), "owner".to_string()]
            } else {
                vec![format!("{w}-report")]
            };
            for sub in subs {
                let leaf = c.lits.entry(sub).or_default();
                leaf.hits = 5;
                leaf.eps.insert("GET".into(), Default::default());
            }
        }
        let fold = fold_set(&node, Some(&TSeg::Lit("x".into())), true);
        assert_eq!(fold.len(), 40, "{fold:?}");
        for k in &fold {
            assert!(node.lits[k].lits.contains_key("items"), "{k} folded");
        }
        // and a route answering a method the values never answer stays too
        node.lits
            .entry("login".into())
            .or_default()
            .eps
            .insert("POST".into(), Default::default());
        assert!(!fold_set(&node, None, true).contains(&"login".to_string()));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
        /// Any mix of flood and legitimate paths under a small node budget: the trie never
        /// exceeds the budget, the node count matches the trie, and every observation is
        /// either in an endpoint or counted in `_other`.
        #[test]
        fn memory_stays_bounded(
            max_nodes in 50u64..400,
            paths in proptest::collection::vec(
                (0usize..4, proptest::collection::vec(0usize..64, 1..5), 0usize..1000),
                1..2500,
            ),
        ) {
            let cfg = LearnConfig { max_nodes, ..LearnConfig::default() };
            let mut m = ApiModel::new();
            for (meth, words, id) in &paths {
                let mut p: String = words.iter().map(|w| format!("/{}", WORDS[*w])).collect();
                if id % 3 == 0 {
                    p.push_str(&format!("/{id}"));
                }
                m.observe(&ob(["GET", "POST", "PUT", "DELETE"][*meth], &p), &cfg);
                let svc = &m.combined().services["svc"];
                proptest::prop_assert!(svc.nodes <= max_nodes);
            }
            let c = m.combined();
            let svc = &c.services["svc"];
            proptest::prop_assert_eq!(svc.nodes + 1, count_nodes(&svc.root));
            let total: u64 = m.endpoints().iter().map(|r| r.count).sum();
            proptest::prop_assert_eq!(total + svc.other, paths.len() as u64);
        }
    }

    #[test]
    fn fold_keeps_counts_exact() {
        let cfg = LearnConfig::default();
        let mut m = ApiModel::new();
        let mut n = 0u64;
        for i in 0..30_000 {
            m.observe(&flood(i), &cfg);
            n += 1;
        }
        let total: u64 = m.endpoints().iter().map(|r| r.count).sum();
        let svc = &m.combined().services["svc"];
        assert_eq!(total + svc.other, n);
        let d = derive(&svc.root);
        assert!(
            d.len() <= 4,
            "{:?}",
            d.iter().map(|d| d.template()).collect::<Vec<_>>()
        );
    }
}
