//! Fuzzes flow tracking and TCP reassembly: arbitrary bytes become a sequence of segments
//! (endpoint pair, direction, flags, sequence offset, payload length, ack, time step) fed to
//! a `FlowTable` with a trivial handler; the driver panics if an invariant breaks (calls
//! after close or FIN, `on_close` not exactly once, more bytes delivered than fed, state left
//! after the final flush).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/flow_support/fuzz_driver.rs"]
mod fuzz_driver;

fuzz_target!(|data: &[u8]| {
    fuzz_driver::run(data);
});
