//! Capture fanout (`--fanout N`, PACKET_FANOUT by flow hash) on the loopback interface: real
//! TCP connections to a tiny HTTP server in this process.
//!
//! - two captures in one fanout group: every connection's packets, both directions, reach
//!   exactly one member, and both members get connections (the kernel's fanout hash is
//!   symmetric);
//! - the agent with `fanout 2` learns the same operations, counts and metrics as with one
//!   pipeline, with no unpaired message, whether each capture thread runs its own pipeline
//!   (the default) or feeds a pipeline thread (`--queued`).
//!
//! Needs CAP_NET_RAW (root in CI); skipped with a message otherwise, unless `CI` is set.

mod common;

use apitap::agent::{Agent, AgentSettings};
use apitap::capture::live::LiveCapture;
use apitap::metrics::Format;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// The traffic of one run: 60 exchanges, each on its own connection.
fn traffic(port: u16) {
    for i in 1..=50 {
        common::request(port, "GET", &format!("/users/{i}"), "");
    }
    for i in 0..5 {
        common::request(port, "GET", &format!("/users/{}", 500 + i), "");
    }
    for _ in 0..5 {
        common::request(port, "POST", "/users", "{\"name\":\"x\"}");
    }
}

fn count(text: &str, needle: &str) -> u64 {
    text.lines()
        .filter(|l| l.starts_with(needle))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// (source port, destination port) of an Ethernet + IPv4 + TCP packet.
fn ports(data: &[u8]) -> Option<(u16, u16)> {
    let ip = data.get(14..)?;
    let ihl = usize::from(ip.first()? & 0x0f) * 4;
    let tcp = ip.get(ihl..ihl + 4)?;
    Some((
        u16::from_be_bytes([tcp[0], tcp[1]]),
        u16::from_be_bytes([tcp[2], tcp[3]]),
    ))
}

#[test]
fn fanout_members_each_see_whole_connections() {
    let port = common::start_server();
    let cfg = common::lo_config(port);
    let Some(mut first) = common::open_or_skip(&cfg) else {
        return;
    };
    let group = first.join_fanout(None).expect("create the group");
    let mut second = LiveCapture::open(&cfg).expect("second capture");
    assert_eq!(second.join_fanout(Some(group)).expect("join"), group);
    traffic(port);
    // client port → (member, direction) pairs seen
    let mut seen: BTreeMap<u16, BTreeSet<(usize, bool)>> = BTreeMap::new();
    let mut idle = Instant::now();
    while idle.elapsed() < Duration::from_millis(500) {
        let mut any = false;
        for (k, cap) in [&mut first, &mut second].into_iter().enumerate() {
            while let Some(p) = cap.next_packet().expect("read") {
                any = true;
                let Some((src, dst)) = ports(p.data) else {
                    continue;
                };
                let to_server = dst == port;
                let client = if to_server { src } else { dst };
                seen.entry(client).or_default().insert((k, to_server));
            }
        }
        if any {
            idle = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(seen.len(), 60, "connections seen: {seen:?}");
    let mut per_member = [0, 0];
    for (client, s) in &seen {
        let members: BTreeSet<usize> = s.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            members.len(),
            1,
            "connection from port {client} split: {s:?}"
        );
        assert_eq!(
            s.len(),
            1 + 1,
            "connection from {client}: not both directions: {s:?}"
        );
        per_member[*members.first().expect("a member")] += 1;
    }
    assert!(
        per_member[0] > 0 && per_member[1] > 0,
        "one member got every connection: {per_member:?}"
    );
}

/// (method, template, count) rows of a model's endpoint table.
type Rows = Vec<(String, String, u64)>;

/// Runs the agent with `fanout` over [`traffic`]: the endpoint rows of the final model
/// and the metrics exposition once every exchange is counted.
fn run_agent(fanout: usize, inline: bool) -> Option<(Rows, String)> {
    let queued = !inline;
    let port = common::start_server();
    let args = AgentSettings {
        interface: vec!["lo".into()],
        filter: Some(format!("tcp port {port}")),
        listen: Some("127.0.0.1:0".into()),
        service: Some("svc".into()),
        source_id: Some("test".into()),
        snapshot_interval: Some(0.2),
        fanout: Some(fanout),
        queued,
        ..Default::default()
    };
    let agent = match Agent::start(args.resolve().expect("config")) {
        Ok(a) => a,
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!("SKIP: cannot capture on lo ({e:#}); needs CAP_NET_RAW");
            return None;
        }
        Err(e) => panic!("cannot capture on lo under CI: {e:#}"),
    };
    let shared = std::sync::Arc::clone(agent.shared());
    std::thread::sleep(Duration::from_millis(200));
    traffic(port);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut text = String::new();
    while Instant::now() < deadline {
        text = shared.render_metrics(Format::Prometheus);
        if count(&text, "apitap_exchanges_total") == 60 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let model = agent.stop().expect("stop");
    let text = text
        .lines()
        .filter(|l| l.starts_with("http_server_request_duration_seconds_count"))
        .map(|l| format!("{l}\n"))
        .collect::<String>()
        + &format!(
            "exchanges {}\nunpaired {}\ndrops {}\n",
            count(&text, "apitap_exchanges_total"),
            count(&text, "apitap_unpaired_messages_total"),
            count(&text, "apitap_kernel_drops_total") + count(&text, "apitap_queue_drops_total"),
        );
    let rows = model
        .endpoints()
        .iter()
        .map(|r| (r.method.clone(), r.template.clone(), r.count))
        .collect();
    assert_eq!(
        model.stats().observed,
        60,
        "fanout {fanout} inline {inline}"
    );
    Some((rows, text))
}

/// Capture threads that run their own pipelines (the default), one and two of them
/// (`fanout 2`, their models and metrics summed), and two capture threads feeding two
/// pipeline threads (`--queued --fanout 2`) learn what one pipeline thread fed over the
/// queue (`--queued`) learns.
#[test]
fn fanout_two_learns_what_one_learns() {
    let Some((rows1, metrics1)) = run_agent(1, false) else {
        return;
    };
    assert_eq!(
        rows1,
        vec![
            ("POST".to_string(), "/users".to_string(), 5),
            ("GET".to_string(), "/users/{userId}".to_string(), 55),
        ]
    );
    assert!(
        metrics1.contains("exchanges 60\nunpaired 0\ndrops 0\n"),
        "{metrics1}"
    );
    for (fanout, inline) in [(2, false), (1, true), (2, true)] {
        let Some((rows, metrics)) = run_agent(fanout, inline) else {
            return;
        };
        assert_eq!(rows, rows1, "fanout {fanout} inline {inline}");
        assert_eq!(metrics, metrics1, "fanout {fanout} inline {inline}");
    }
}
