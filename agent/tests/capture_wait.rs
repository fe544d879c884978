//! The live capture's wait for packets (`LiveCapture::wait`, `poll(2)` on the packet
//! socket) on the loopback interface, with real TCP traffic from this process: on a silent
//! filter it times out with nothing to read; it returns, with packets to read, only once
//! traffic was sent (not at once, which would make the capture loop spin, and not never,
//! which would hold packets back).
//!
//! Needs CAP_NET_RAW (root in CI); skipped with a message otherwise, unless `CI` is set.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn wait_sleeps_until_the_kernel_hands_over_packets() {
    let port = common::start_server();
    let Some(mut cap) = common::open_or_skip(&common::lo_config(port)) else {
        return;
    };
    // nothing sent yet: the wait times out and there is nothing to read
    assert_eq!(cap.wait(Duration::from_millis(100)), Some(false));
    assert!(cap.next_packet().expect("read").is_none());

    let sent = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&sent);
    let client = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        flag.store(true, Ordering::SeqCst);
        common::request(port, "GET", "/users/1", "");
    });
    let start = Instant::now();
    let mut woken = false;
    while start.elapsed() < Duration::from_secs(10) {
        match cap.wait(Duration::from_secs(1)) {
            Some(true) => {
                woken = true;
                break;
            }
            Some(false) => continue,
            None => panic!("poll failed"),
        }
    }
    assert!(woken, "no wake-up within 10 s of traffic");
    assert!(
        sent.load(Ordering::SeqCst),
        "woken before any traffic was sent"
    );
    // the wake-up had something to read: the request's packets
    let mut packets = 0;
    while cap.next_packet().expect("read").is_some() {
        packets += 1;
    }
    assert!(packets > 0, "woken with nothing to read");
    client.join().expect("client");
}
