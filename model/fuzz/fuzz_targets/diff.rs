//! Fuzz `apitap diff` on untrusted specs (`apitap_model::diff`).
//!
//! The input is split at the first `0xff` byte into two JSON documents (an old and a new
//! spec); anything that is not JSON is skipped. Checks, beyond no panic, no stack overflow
//! and no blow-up (libFuzzer's `-timeout` and `-rss_limit_mb` catch hangs and memory):
//! - a document diffed against itself has no change at all, when the diff completes;
//! - `diff` and `diff_checked` agree: a completed `diff_checked` is exactly `diff`, and an
//!   incomplete one makes `diff` report a breaking `diff-incomplete` change;
//! - an operation is never both added and removed.
#![no_main]

use apitap_model::diff::{diff, diff_checked};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let (a, b) = match data.iter().position(|&x| x == 0xff) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, data),
    };
    let (Ok(old), Ok(new)) = (
        serde_json::from_slice::<Value>(a),
        serde_json::from_slice::<Value>(b),
    ) else {
        return;
    };
    if let Ok(d) = diff_checked(&old, &old) {
        assert!(
            d.breaking.is_empty() && d.compatible.is_empty(),
            "a spec diffed against itself has changes: {d:?}"
        );
        assert!(d.added_endpoints.is_empty() && d.removed_endpoints.is_empty());
    }
    let full = diff(&old, &new);
    match diff_checked(&old, &new) {
        Ok(d) => assert!(d == full, "diff and diff_checked disagree"),
        Err(_) => assert!(
            full.breaking.iter().any(|c| c.kind == "diff-incomplete"),
            "an incomplete diff is not reported as breaking"
        ),
    }
    for e in &full.added_endpoints {
        assert!(
            !full.removed_endpoints.contains(e),
            "{e} both added and removed"
        );
    }
});
