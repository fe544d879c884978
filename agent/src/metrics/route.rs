//! Concrete request path → learned route template (`/users/42` → `/users/{userId}`).
//!
//! The model derives templates at export time from all evidence, so the route of an exchange
//! is only known against a snapshot of the model. A [`RouteTable`] is built from a snapshot
//! ([`ApiModel::derived`]) as one trie of template segments per service; a lookup walks the
//! trie, preferring a literal segment over a parameter and backtracking when the literal
//! branch leads nowhere. A multi-segment parameter (a value containing `/`, see
//! `apitap_model::multiseg`) is tried last and matches one or more segments: greedily, the
//! longest value after which the rest of the path still matches a literal suffix route
//! (`/images/{name}/json` for `/images/localhost:5000/team/ml:7/json`), else the whole rest
//! (`/images/{name}`). Without multi-segment parameters each trie node is visited at most
//! once per lookup; with them a lookup is bounded by [`MAX_STEPS`] node visits, so it costs
//! at most that whatever the path and the snapshot.
//!
//! Templates are shared by all methods of a path (the model keeps one trie per service), so a
//! path whose method the snapshot has not seen yet still gets its template when any method
//! ends at that node. A path the snapshot cannot route at all (new since the snapshot)
//! returns `None`; the caller waits for the next snapshot.
//!
//! gRPC methods are exact names (never templated, kept beside the trie by the model): the
//! table holds the learned `/pkg.Service/Method` paths per service, and
//! [`RouteTable::grpc_method`] finds one by exact match.

use apitap_model::model::split_target;
use apitap_model::paths::TSeg;
use apitap_model::ApiModel;
use std::collections::HashMap;
use std::sync::Arc;

/// Looked up on every exchange: aHash, not SipHash.
type FastMap<K, V> = HashMap<K, V, ahash::RandomState>;

#[derive(Debug, Default)]
struct Node {
    lits: FastMap<String, Node>,
    param: Option<Box<Node>>,
    /// The multi-segment parameter child.
    multi: Option<Box<Node>>,
    /// The template of endpoints ending here.
    template: Option<Arc<str>>,
}

/// Learned templates per service, for routing concrete paths (see the module doc).
#[derive(Debug, Default)]
pub struct RouteTable {
    services: FastMap<String, Node>,
    /// Learned gRPC method paths (`/pkg.Service/Method`) per service.
    grpc: HashMap<String, std::collections::HashSet<String>>,
    templates: usize,
    endpoints: usize,
}

impl RouteTable {
    /// Builds the table from a model snapshot.
    pub fn from_model(model: &ApiModel) -> RouteTable {
        let mut t = RouteTable::default();
        // the agent's model has one source: read it in place; otherwise one combined view.
        // Derived one service at a time, so a table costs no copy of the whole model.
        let combined;
        let src = match model.sources.values().next() {
            Some(s) if model.sources.len() == 1 => s,
            _ => {
                combined = model.combined();
                &combined
            }
        };
        for (svc, m) in &src.services {
            let ds = m.derive();
            if !m.grpc.is_empty() {
                t.grpc.insert(svc.clone(), m.grpc.keys().cloned().collect());
            }
            let root = t.services.entry(svc.clone()).or_default();
            for d in ds {
                t.endpoints += 1;
                let mut node = &mut *root;
                for s in &d.segs {
                    node = match s {
                        TSeg::Lit(l) => node.lits.entry(l.clone()).or_default(),
                        TSeg::Param { multi: true, .. } => {
                            node.multi.get_or_insert_with(Default::default)
                        }
                        TSeg::Param { .. } => node.param.get_or_insert_with(Default::default),
                    };
                }
                if node.template.is_none() {
                    node.template = Some(Arc::from(d.template()));
                    t.templates += 1;
                }
            }
        }
        t
    }

    /// Number of distinct templates.
    pub fn len(&self) -> usize {
        self.templates
    }

    /// Number of endpoints (method and template) in the snapshot.
    pub fn endpoints(&self) -> usize {
        self.endpoints
    }

    /// The learned gRPC method of `path` (`/pkg.Service/Method`) for `service`, as
    /// (`pkg.Service`, `Method`), if the snapshot has it: only names the model learned ever
    /// become label values.
    pub fn grpc_method(&self, service: &str, path: &str) -> Option<(&str, &str)> {
        let known = self.grpc.get(service)?.get(path)?;
        apitap_model::grpc::method_path(known)
    }

    /// True if the table has no template.
    pub fn is_empty(&self) -> bool {
        self.templates == 0
    }

    /// The template of request-target `target` of `service`, if the snapshot knows it.
    pub fn route(&self, service: &str, target: &str) -> Option<&Arc<str>> {
        let root = self.services.get(service)?;
        let (path, _) = split_target(target)?;
        let mut segs: [&str; apitap_model::paths::MAX_SEGMENTS] =
            [""; apitap_model::paths::MAX_SEGMENTS];
        let mut n = 0;
        for s in apitap_model::model::path_segments(path) {
            *segs.get_mut(n)? = s;
            n += 1;
        }
        let mut steps = MAX_STEPS;
        find(root, segs.get(..n)?, &mut steps)
    }
}

/// Max trie node visits per lookup (bounds backtracking over multi-segment parameters).
pub const MAX_STEPS: usize = 4096;

fn find<'a>(node: &'a Node, segs: &[&str], steps: &mut usize) -> Option<&'a Arc<str>> {
    if *steps == 0 {
        return None;
    }
    *steps -= 1;
    let Some((first, rest)) = segs.split_first() else {
        return node.template.as_ref();
    };
    if let Some(t) = node.lits.get(*first).and_then(|c| find(c, rest, steps)) {
        return Some(t);
    }
    if let Some(t) = node.param.as_deref().and_then(|p| find(p, rest, steps)) {
        return Some(t);
    }
    let m = node.multi.as_deref()?;
    // greedy: the longest value that leaves a literal suffix route matching the rest
    for take in (1..segs.len()).rev() {
        let Some((next, after)) = segs.get(take..).and_then(|r| r.split_first()) else {
            continue;
        };
        if let Some(t) = m.lits.get(*next).and_then(|c| find(c, after, steps)) {
            return Some(t);
        }
    }
    m.template.as_ref()
}

#[cfg(test)]
mod tests {
    use super::*;
    use apitap_model::{LearnConfig, Observation};

    fn obs(method: &str, target: &str) -> Observation {
        Observation {
            service: "api.test".into(),
            method: method.into(),
            target: target.into(),
            status: Some(200),
            ..Default::default()
        }
    }

    #[test]
    fn routes_ids_and_keeps_static_literals() {
        let mut m = ApiModel::new();
        let cfg = LearnConfig::default();
        for i in 1..=20 {
            m.observe(&obs("GET", &format!("/users/{i}")), &cfg);
            m.observe(&obs("GET", &format!("/users/{i}/orders?x=1")), &cfg);
        }
        m.observe(&obs("GET", "/users/me"), &cfg);
        m.observe(&obs("GET", "/health"), &cfg);
        let t = RouteTable::from_model(&m);
        // GET on /users/{userId}, /users/{userId}/orders, /users/me, /health
        assert_eq!((t.len(), t.endpoints()), (4, 4));
        let r = |p: &str| t.route("api.test", p).map(|s| s.to_string());
        assert_eq!(r("/users/77").as_deref(), Some("/users/{userId}"));
        assert_eq!(
            r("/users/77/orders").as_deref(),
            Some("/users/{userId}/orders")
        );
        assert_eq!(r("/users/me").as_deref(), Some("/users/me"));
        assert_eq!(r("/health?verbose=1").as_deref(), Some("/health"));
        // unknown shapes and services are not routed
        assert_eq!(r("/nope"), None);
        assert_eq!(r("/users/1/orders/2"), None);
        assert_eq!(t.route("other", "/health"), None);
        assert_eq!(r("*"), None);
    }

    #[test]
    fn backtracks_from_a_dead_literal_branch() {
        let mut m = ApiModel::new();
        let cfg = LearnConfig::default();
        // `/items/new` is a static endpoint; `/items/{id}/tags` exists only under the param.
        m.observe(&obs("GET", "/items/new"), &cfg);
        for i in 1..=5 {
            m.observe(&obs("GET", &format!("/items/{i}/tags")), &cfg);
        }
        let t = RouteTable::from_model(&m);
        assert_eq!(
            t.route("api.test", "/items/new").map(|s| s.to_string()),
            Some("/items/new".into())
        );
        let tags = t
            .route("api.test", "/items/new/tags")
            .map(|s| s.to_string());
        assert_eq!(tags.as_deref(), Some("/items/{itemId}/tags"));
    }

    #[test]
    fn multi_segment_parameter_matches_greedily_before_a_literal_suffix() {
        let mut m = ApiModel::new();
        let cfg = LearnConfig::default();
        // image names with `/`: json/history/tag under values of 1, 2 and 3 segments
        for n in [
            "web-a",
            "web-b",
            "web-c",
            "team/db:1",
            "team/db:2",
            "reg:5000/x/ml:7",
        ] {
            m.observe(&obs("GET", &format!("/images/{n}/json")), &cfg);
            m.observe(&obs("GET", &format!("/images/{n}/history")), &cfg);
            m.observe(&obs("POST", &format!("/images/{n}/tag")), &cfg);
            m.observe(&obs("DELETE", &format!("/images/{n}")), &cfg);
        }
        m.observe(&obs("POST", "/images/create"), &cfg);
        m.observe(&obs("GET", "/images/json"), &cfg);
        let t = RouteTable::from_model(&m);
        let r = |p: &str| t.route("api.test", p).map(|s| s.to_string());
        assert_eq!(r("/images/json").as_deref(), Some("/images/json"));
        assert_eq!(r("/images/create").as_deref(), Some("/images/create"));
        assert_eq!(
            r("/images/new/json").as_deref(),
            Some("/images/{imagePath}/json")
        );
        assert_eq!(
            r("/images/a:1/b/c/d/json").as_deref(),
            Some("/images/{imagePath}/json")
        );
        assert_eq!(
            r("/images/a/b/c/tag").as_deref(),
            Some("/images/{imagePath}/tag")
        );
        assert_eq!(r("/images/a/b/c").as_deref(), Some("/images/{imagePath}"));
        // a value segment named like a suffix: the longest value wins
        assert_eq!(
            r("/images/a/json/b/json").as_deref(),
            Some("/images/{imagePath}/json")
        );
    }

    #[test]
    fn other_methods_share_the_template() {
        let mut m = ApiModel::new();
        let cfg = LearnConfig::default();
        m.observe(&obs("GET", "/books/9780262033848"), &cfg);
        let t = RouteTable::from_model(&m);
        assert_eq!(t.len(), 1);
        assert_eq!(t.endpoints(), 1);
        let r = t.route("api.test", "/books/123").map(|s| s.to_string());
        assert_eq!(r.as_deref(), Some("/books/{bookId}"));
    }

    #[test]
    fn grpc_methods_by_exact_name_only() {
        let mut m = ApiModel::new();
        let cfg = LearnConfig::default();
        m.observe(
            &Observation {
                method: "POST".into(),
                grpc: Some(apitap_model::GrpcCall {
                    status: Some(0),
                    ..Default::default()
                }),
                ..obs("POST", "/shop.v1.Cart/AddItem")
            },
            &cfg,
        );
        let t = RouteTable::from_model(&m);
        assert_eq!(
            t.grpc_method("api.test", "/shop.v1.Cart/AddItem"),
            Some(("shop.v1.Cart", "AddItem"))
        );
        assert_eq!(t.grpc_method("api.test", "/shop.v1.Cart/Other"), None);
        assert_eq!(t.grpc_method("other", "/shop.v1.Cart/AddItem"), None);
        assert_eq!(t.endpoints(), 1);
    }
}
