//! Runs the `reassembly` fuzz target's driver on random and hand-picked inputs, so its
//! invariants are checked by `cargo test` (the fuzz target itself needs cargo-fuzz).

#[path = "flow_support/fuzz_driver.rs"]
mod fuzz_driver;

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn driver_invariants_hold(data in proptest::collection::vec(any::<u8>(), 0..3000)) {
        fuzz_driver::run(&data);
    }

    /// Inputs biased to few flags and small offsets, so segments mostly hit the same streams.
    #[test]
    fn driver_invariants_hold_dense(
        segs in proptest::collection::vec(
            (0u8..8, prop::sample::select(vec![0x00u8, 0x08, 0x10, 0x40, 0x50, 0x48, 0x20, 0x80]),
             0u16..600, 0u8..120, 0u8..40, any::<u8>()),
            0..300,
        ),
        budget_mode in any::<bool>(),
    ) {
        let mut data = vec![if budget_mode { 0x80 } else { 0 }];
        for (sel, flags, off, len, ack, t) in segs {
            let [lo, hi] = off.to_le_bytes();
            data.extend_from_slice(&[sel | flags, lo, hi, len, ack, t & 0x07]);
        }
        fuzz_driver::run(&data);
    }
}

#[test]
fn empty_and_short_inputs() {
    fuzz_driver::run(&[]);
    fuzz_driver::run(&[0x80]);
    fuzz_driver::run(&[0, 1, 2, 3]);
}

#[test]
fn handshake_data_and_fins() {
    // pair 0, client SYN at offset 0; server SYN+ACK; data; FINs.
    let segs: [[u8; 6]; 6] = [
        [0x10, 0, 0, 0, 0, 2],
        [0x10 | 0x40 | 4, 0, 0, 0, 0, 2],
        [0x40, 1, 0, 10, 0, 2],
        [0x40 | 4, 1, 0, 20, 0, 2],
        [0x48, 11, 0, 0, 2, 2],
        [0x48 | 4, 21, 0, 0, 1, 2],
    ];
    let mut data = vec![0u8];
    segs.iter().for_each(|s| data.extend_from_slice(s));
    fuzz_driver::run(&data);
}
