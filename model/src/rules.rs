//! A reviewed templates file applied to learned evidence ([`ApiModel::with_template_rules`]):
//! how the collector's `--templates` wins over inference on models pushed by agents that
//! never saw the file.
//!
//! Policy:
//! - A learner given the file (`apitap learn/agent --templates`) applies it while observing
//!   ([`crate::LearnConfig::pinned`], [`crate::LearnConfig::statics`]): a `param` segment's
//!   values are never stored. Evidence learned without it already holds the literals; the
//!   rules then act on the trie at export time, with the same effect on the templates:
//!   - `param /a/{x}/b/{y}` pins the parameter name on every node where `{x}` (`{y}`) sits,
//!     so derivation folds all the literal children there (except static pins) into the
//!     parameter, named `x` (`y`);
//!   - `static /a/{x}/b` marks the literal `b` under `/a/<any>` as never folded.
//! - `{x}` segments of a rule match every literal child and the parameter child, so a rule
//!   reaches the same routes whether or not the values were folded yet.
//! - Rules only add flags that merges keep (a pin's smallest name, a static's `or`), so the
//!   result is the same whether the rules are applied to each pushed model or to the merge.
//! - Applying is a walk of the trie per rule: each node is visited at most once per rule.
//!   The evidence itself is not changed: a consumer without the rules derives as before.

use crate::model::ApiModel;
use crate::paths::{PathNode, TemplateRules};

/// One parsed rule segment: a literal or a parameter name.
enum Seg<'a> {
    Lit(&'a str),
    Param(&'a str),
}

fn segments(rule: &str) -> Vec<Seg<'_>> {
    rule.split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            if let Some(n) = s.strip_prefix('{').and_then(|x| x.strip_suffix('}')) {
                Seg::Param(n)
            } else if let Some(n) = s.strip_prefix(':') {
                Seg::Param(n)
            } else {
                Seg::Lit(s)
            }
        })
        .collect()
}

/// Pins the parameters of a `param` rule from `node` on (`segs` not yet matched).
fn pin(node: &mut PathNode, segs: &[Seg<'_>]) {
    let Some((first, rest)) = segs.split_first() else {
        return;
    };
    match first {
        Seg::Lit(l) => {
            if let Some(c) = node.lits.get_mut(*l) {
                pin(c, rest);
            }
        }
        Seg::Param(name) => {
            if node.pin.as_deref().is_none_or(|p| *name < p) {
                node.pin = Some((*name).to_string());
            }
            if rest.is_empty() {
                return;
            }
            for c in node.lits.values_mut().filter(|c| !c.keep) {
                pin(c, rest);
            }
            if let Some(p) = node.param.as_deref_mut() {
                pin(p, rest);
            }
        }
    }
}

/// Marks the last literal of a `static` rule as kept, from `node` on.
fn keep(node: &mut PathNode, segs: &[Seg<'_>]) {
    let Some((first, rest)) = segs.split_first() else {
        return;
    };
    match first {
        Seg::Lit(l) => {
            if let Some(c) = node.lits.get_mut(*l) {
                if rest.is_empty() {
                    c.keep = true;
                } else {
                    keep(c, rest);
                }
            }
        }
        Seg::Param(_) => {
            for c in node.lits.values_mut() {
                keep(c, rest);
            }
            if let Some(p) = node.param.as_deref_mut() {
                keep(p, rest);
            }
        }
    }
}

/// Applies `rules` to one service's path trie (see the module doc).
pub fn apply_rules(root: &mut PathNode, rules: &TemplateRules) {
    // statics first: a pinned parameter folds every literal beside it except kept ones
    for r in &rules.statics {
        keep(root, &segments(r));
    }
    for r in &rules.params {
        pin(root, &segments(r));
    }
}

impl ApiModel {
    /// This model with a reviewed templates file applied to every source's evidence (see
    /// [`crate::rules`]): its exports follow the rules as if the learners had had them.
    pub fn with_template_rules(&self, rules: &TemplateRules) -> ApiModel {
        let mut m = self.clone();
        if rules.params.is_empty() && rules.statics.is_empty() {
            return m;
        }
        for s in m.sources.values_mut() {
            for svc in s.services.values_mut() {
                apply_rules(&mut svc.root, rules);
            }
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use crate::paths::parse_templates;
    use crate::{ApiModel, LearnConfig, Observation};

    fn obs(method: &str, path: &str) -> Observation {
        Observation {
            service: "api".into(),
            method: method.into(),
            target: path.into(),
            status: Some(200),
            ..Observation::default()
        }
    }

    fn learn(cfg: &LearnConfig, reqs: &[(&str, &str)]) -> ApiModel {
        let mut m = ApiModel::new();
        for (meth, p) in reqs {
            m.observe(&obs(meth, p), cfg);
        }
        m
    }

    fn templates(m: &ApiModel) -> Vec<String> {
        let mut v: Vec<String> = m
            .endpoints()
            .into_iter()
            .map(|e| format!("{} {}", e.method, e.template))
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// A handful of human-chosen names with one sub-route each, beside a static action:
    /// too little evidence for inference, so only the rules can decide.
    fn traffic() -> Vec<(&'static str, &'static str)> {
        vec![
            ("GET", "/teams/red/members"),
            ("GET", "/teams/blue/members"),
            ("POST", "/teams/create"),
            ("GET", "/teams/create"),
        ]
    }

    #[test]
    fn rules_applied_after_learning_equal_rules_applied_while_learning() {
        let rules = parse_templates("param /teams/{team}/members\nstatic /teams/create\n").unwrap();
        let plain = learn(&LearnConfig::default(), &traffic());
        assert!(
            templates(&plain).contains(&"GET /teams/red/members".to_string()),
            "{:?}",
            templates(&plain)
        );
        let while_learning = learn(
            &LearnConfig {
                pinned: rules.params.clone(),
                statics: rules.statics.clone(),
                ..LearnConfig::default()
            },
            &traffic(),
        );
        let after = plain.with_template_rules(&rules);
        assert_eq!(templates(&after), templates(&while_learning));
        assert_eq!(
            templates(&after),
            vec![
                "GET /teams/create",
                "GET /teams/{team}/members",
                "POST /teams/create"
            ]
        );
        // counts are summed into the template
        let members = after
            .endpoints()
            .into_iter()
            .find(|e| e.template == "/teams/{team}/members")
            .unwrap();
        assert_eq!(members.count, 2);
        // the evidence itself is untouched
        assert_eq!(
            templates(&plain),
            templates(&learn(&LearnConfig::default(), &traffic()))
        );
    }

    #[test]
    fn rules_commute_with_merging() {
        let rules = parse_templates("param /teams/:team/members\n").unwrap();
        let t = traffic();
        let a = learn(
            &LearnConfig {
                source: "a".into(),
                ..LearnConfig::default()
            },
            &t[..2],
        );
        let b = learn(
            &LearnConfig {
                source: "b".into(),
                ..LearnConfig::default()
            },
            &t[2..],
        );
        let each = a
            .with_template_rules(&rules)
            .merged(&b.with_template_rules(&rules));
        let whole = a.merged(&b).with_template_rules(&rules);
        assert_eq!(templates(&each), templates(&whole));
        assert!(templates(&whole).contains(&"GET /teams/{team}/members".to_string()));
    }
}
