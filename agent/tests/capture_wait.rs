//! The live capture's wait for packets (`LiveCapture::wait`, `poll(2)` on the packet
//! socket) on the loopback interface, with real TCP traffic from this process: on a silent
//! filter it times out with nothing to read; it returns, with packets to read, only once
//! traffic was sent (not at once, which would make the capture loop spin, and not never,
//! which would hold packets back).
//!
//! Needs CAP_NET_RAW (root in CI); skipped with a message otherwise, unless `CI` is set.

mod common;

use apitap::capture::live::{LiveCapture, LiveConfig};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[test]
fn wait_sleeps_until_the_kernel_hands_over_packets() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || common::serve(listener));
    let cfg = LiveConfig {
        interface: "lo".into(),
        filter: Some(format!("tcp port {port}")),
        buffer_size: 4 << 20,
        ..Default::default()
    };
    let mut cap = match LiveCapture::open(&cfg) {
        Ok(c) => c,
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!("SKIP: cannot capture on lo ({e}); needs CAP_NET_RAW");
            return;
        }
        Err(e) => panic!("cannot capture on lo under CI: {e}"),
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
