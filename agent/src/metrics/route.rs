//! Concrete request path → learned route template (`/users/42` → `/users/{userId}`).
//!
//! The model derives templates at export time from all evidence, so the route of an exchange
//! is only known against a snapshot of the model. A [`RouteTable`] is built from a snapshot
//! ([`ApiModel::derived`]) as one trie of template segments per service; a lookup walks the
//! trie, preferring a literal segment over a parameter and backtracking when the literal
//! branch leads nowhere. Each trie node is visited at most once per lookup, so a lookup costs
//! at most the size of the trie, and in practice the path's depth.
//!
//! Templates are shared by all methods of a path (the model keeps one trie per service), so a
//! path whose method the snapshot has not seen yet still gets its template when any method
//! ends at that node. A path the snapshot cannot route at all (new since the snapshot)
//! returns `None`; the caller waits for the next snapshot.

use apitap_model::model::split_target;
use apitap_model::paths::TSeg;
use apitap_model::ApiModel;
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Debug, Default)]
struct Node {
    lits: HashMap<String, Node>,
    param: Option<Box<Node>>,
    /// The template of endpoints ending here.
    template: Option<Arc<str>>,
}

/// Learned templates per service, for routing concrete paths (see the module doc).
#[derive(Debug, Default)]
pub struct RouteTable {
    services: HashMap<String, Node>,
    templates: usize,
    endpoints: usize,
}

impl RouteTable {
    /// Builds the table from a model snapshot.
    pub fn from_model(model: &ApiModel) -> RouteTable {
        let mut t = RouteTable::default();
        for (svc, ds) in model.derived() {
            let root = t.services.entry(svc).or_default();
            for d in ds {
                t.endpoints += 1;
                let mut node = &mut *root;
                for s in &d.segs {
                    node = match s {
                        TSeg::Lit(l) => node.lits.entry(l.clone()).or_default(),
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
        for s in path.split('/').filter(|s| !s.is_empty()) {
            *segs.get_mut(n)? = s;
            n += 1;
        }
        find(root, segs.get(..n)?)
    }
}

fn find<'a>(node: &'a Node, segs: &[&str]) -> Option<&'a Arc<str>> {
    let Some((first, rest)) = segs.split_first() else {
        return node.template.as_ref();
    };
    if let Some(t) = node.lits.get(*first).and_then(|c| find(c, rest)) {
        return Some(t);
    }
    node.param.as_deref().and_then(|p| find(p, rest))
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
}
