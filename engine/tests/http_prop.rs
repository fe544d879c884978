//! Property tests: arbitrary conversations never panic, events keep their invariants
//! (indices in sequence, one Done per Started), and results do not depend on how the
//! bytes were cut into segments.

mod http_support;

use apitap_engine::exchange::{HeadPool, MessageHead};
use apitap_engine::http::{HttpConfig, HttpConn, HttpEvent};
use http_support::*;
use proptest::prelude::*;

/// Fragments that make HTTP-ish streams likely, mixed with arbitrary bytes.
fn fragment() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n".to_vec()),
        Just(b"POST /p HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc".to_vec()),
        Just(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec()),
        Just(b"HTTP/1.1 100 Continue\r\n\r\n".to_vec()),
        Just(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec()),
        Just(b"5\r\nhello\r\n0\r\n\r\n".to_vec()),
        Just(b"ffffffffffffffffff\r\n".to_vec()),
        Just(b"HTTP/1.0 200 OK\r\nContent-Encoding: gzip\r\n\r\n\x1f\x8b\x08\x00".to_vec()),
        Just(b"HEAD / HTTP/1.1\r\n\r\n".to_vec()),
        Just(b"CONNECT h:443 HTTP/1.1\r\n\r\n".to_vec()),
        Just(b"GET /x\r\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"Header: v\r\n".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..40),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => proptest::collection::vec(fragment(), 1..4).prop_map(|v| Step::C(v.concat())),
        6 => proptest::collection::vec(fragment(), 1..4).prop_map(|v| Step::S(v.concat())),
        1 => (0u64..64).prop_map(Step::GapC),
        1 => (0u64..64).prop_map(Step::GapS),
        1 => Just(Step::FinC),
        1 => Just(Step::FinS),
    ]
}

fn small_cfg() -> HttpConfig {
    HttpConfig {
        keep_bodies: true,
        body_cap: 16,
        head_cap: 128,
        decoded_cap: 1 << 16,
        max_pipeline: 3,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(steps in proptest::collection::vec(
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..200).prop_map(Step::C),
            proptest::collection::vec(any::<u8>(), 0..200).prop_map(Step::S),
            (0u64..1000).prop_map(Step::GapC),
            (0u64..1000).prop_map(Step::GapS),
        ], 0..12)) {
        // run_cfg checks the event invariants itself.
        run_cfg(&steps, Cut::Whole, HttpConfig::default());
        run_cfg(&steps, Cut::Whole, small_cfg());
    }

    #[test]
    fn httpish_conversations_keep_invariants_and_split_invariance(
        steps in proptest::collection::vec(step(), 1..10),
        cut in any::<prop::sample::Index>(),
    ) {
        for cfg in [HttpConfig::default(), small_cfg()] {
            let whole = run_cfg(&steps, Cut::Whole, cfg);
            let total: usize = steps.iter().map(|s| match s { Step::C(d) | Step::S(d) => d.len(), _ => 0 }).sum();
            let bw = run_cfg(&steps, Cut::Bytewise, cfg);
            prop_assert_eq!(rows(&bw), rows(&whole));
            prop_assert_eq!(bw.stats, whole.stats);
            if total > 1 {
                let k = cut.index(total - 1) + 1;
                let r = run_cfg(&steps, Cut::At(k), cfg);
                prop_assert_eq!(rows(&r), rows(&whole));
            }
            prop_assert_eq!(whole.stats.exchanges as usize, whole.exchanges.len());
        }
    }

    /// Heads built in handed-back allocations are the heads built fresh: the pool starts
    /// with dirty heads of assorted sizes, and every finished exchange's heads go back to
    /// it (with their text) as soon as it is emitted.
    #[test]
    fn pooled_heads_are_fresh_heads(
        steps in proptest::collection::vec(step(), 1..10),
        seed in proptest::collection::vec((0usize..300, 0usize..80), 0..6),
    ) {
        for cfg in [HttpConfig::default(), small_cfg()] {
            let fresh: Vec<String> = run_cfg(&steps, Cut::Whole, cfg)
                .exchanges
                .iter()
                .map(detail)
                .collect();
            let pool = HeadPool::default();
            for (text, fields) in &seed {
                let mut h = MessageHead::new(["X", &"t".repeat(*text), "Y"]);
                for i in 0..*fields {
                    h.push_header(&format!("h{i}"), "v");
                }
                pool.give(h);
            }
            let mut h = HttpConn::new(cfg, info()).with_pool(pool.clone());
            let mut out = Vec::new();
            let mut pooled = Vec::new();
            let give_back = |out: &mut Vec<HttpEvent>, pooled: &mut Vec<String>| {
                for ev in out.drain(..) {
                    if let HttpEvent::Done(x) = ev {
                        pooled.push(detail(&x));
                        let x = *x;
                        if let Some(q) = x.request {
                            pool.give(q.head);
                        }
                        if let Some(p) = x.response {
                            pool.give(p.head);
                        }
                    }
                }
            };
            for (i, st) in steps.iter().enumerate() {
                drive_step(&mut h, i, st, &mut out);
                give_back(&mut out, &mut pooled);
            }
            h.on_close(ts_of(steps.len()), &mut out);
            give_back(&mut out, &mut pooled);
            prop_assert_eq!(pooled, fresh);
        }
    }
}
