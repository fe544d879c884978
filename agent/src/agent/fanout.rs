//! What the pipeline threads of a capture fanout (`--fanout N`) share: each member learns
//! into its own model and keeps its own health figures; the agent publishes their sum.
//!
//! Policy: the kernel hands every TCP connection to one member (see the capture module's
//! fanout policy), so the members' evidence is disjoint and their models are combined in
//! [`Mode::Sum`] (counters add, sets and schemas join): the sum of the parts is the model
//! one pipeline would have learned, up to the sampler's per-member decisions. Each member
//! publishes its own part and the sum of the latest parts of all members (a member's part is
//! at most one snapshot interval old); the metrics are one [`crate::metrics::HttpMetrics`]
//! every member records into, the pipeline health figures the sum of the members'.
//! Memory: one copy of each member's model (its last part) besides the published sum.

use crate::metrics::Health;
use apitap_model::evidence::{Combine, Mode};
use apitap_model::ApiModel;
use std::sync::{Mutex, PoisonError};

/// The members' latest model parts and health figures.
#[derive(Debug)]
pub(super) struct Members {
    parts: Mutex<Vec<Option<ApiModel>>>,
    health: Mutex<Vec<Health>>,
}

impl Members {
    /// State for `n` members.
    pub(super) fn new(n: usize) -> Members {
        Members {
            parts: Mutex::new((0..n).map(|_| None).collect()),
            health: Mutex::new(vec![Health::default(); n]),
        }
    }

    /// Keeps `own` as member `k`'s part and returns the sum of every member's latest part.
    pub(super) fn merged(&self, k: usize, own: ApiModel) -> ApiModel {
        let mut parts = self.parts.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(slot) = parts.get_mut(k) {
            *slot = Some(own);
        }
        sum(parts.iter().flatten())
    }

    /// Keeps `own` as member `k`'s pipeline health and writes the members' sum into `out`.
    pub(super) fn health(&self, k: usize, own: &Health, out: &mut Health) {
        let mut all = self.health.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(slot) = all.get_mut(k) {
            *slot = own.clone();
        }
        macro_rules! sum_fields {
            ($($f:ident),*) => { $( out.$f = all.iter().map(|h| h.$f).sum(); )* };
        }
        sum_fields!(
            active_flows,
            flows_created,
            flows_evicted,
            reassembly_gaps,
            reassembly_gap_bytes,
            decode_errors,
            parse_errors,
            unpaired_requests,
            unpaired_responses,
            exchanges,
            learn_skipped,
            learn_other,
            learn_compactions,
            pending_routes
        );
    }
}

/// The sum of disjoint models ([`Mode::Sum`] per source).
pub(super) fn sum<'a>(models: impl IntoIterator<Item = &'a ApiModel>) -> ApiModel {
    let mut out = ApiModel::new();
    for m in models {
        for (id, s) in &m.sources {
            match out.sources.get_mut(id) {
                Some(t) => t.combine(s, Mode::Sum),
                None => {
                    out.sources.insert(id.clone(), s.clone());
                }
            }
        }
    }
    out
}
