//! The generated capture is valid as far as Wireshark is concerned: every request and
//! response is found (per method and per status, matching the truth sidecar), no frame is
//! malformed, no checksum is bad, and the expert system reports no warnings or errors.
//!
//! Needs `tshark`. Without it the test is skipped, unless `CI` is set, then it fails.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

fn have_tshark() -> bool {
    Command::new("tshark")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn tshark(pcap: &Path, args: &[&str]) -> String {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(pcap)
        .args([
            "-o",
            "tcp.check_checksum:TRUE",
            "-o",
            "ip.check_checksum:TRUE",
        ])
        .args(args)
        .output()
        .expect("running tshark");
    assert!(
        out.status.success(),
        "tshark {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("tshark output is UTF-8")
}

/// Counts every value of a (possibly repeated, aggregated with spaces) field.
fn count_field(pcap: &Path, filter: &str, field: &str) -> BTreeMap<String, u64> {
    let text = tshark(
        pcap,
        &[
            "-Y",
            filter,
            "-T",
            "fields",
            "-e",
            field,
            "-E",
            "occurrence=a",
            "-E",
            "aggregator= ",
        ],
    );
    let mut m = BTreeMap::new();
    for v in text.split_whitespace() {
        *m.entry(v.to_string()).or_insert(0) += 1;
    }
    m
}

fn generate(dir: &Path, args: &[&str]) -> (std::path::PathBuf, serde_json::Value) {
    let pcap = dir.join("t.pcap");
    let st = Command::new(env!("CARGO_BIN_EXE_gen-capture"))
        .arg("--out")
        .arg(&pcap)
        .args(args)
        .status()
        .expect("running gen-capture");
    assert!(st.success());
    let truth: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join("t.pcap.truth.json")).expect("truth file written"),
    )
    .expect("truth is JSON");
    (pcap, truth)
}

#[test]
fn tshark_agrees_with_the_truth_file() {
    if !have_tshark() {
        if std::env::var_os("CI").is_some() {
            panic!("tshark is required in CI for this test");
        }
        eprintln!("SKIP: tshark not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // Small but with every feature: high pipelining, chunked, gzip and error shares.
    let (pcap, truth) = generate(
        dir.path(),
        &[
            "--connections",
            "60",
            "--seed",
            "11",
            "--concurrency",
            "25",
            "--pipeline-share",
            "0.3",
            "--error-share",
            "0.1",
            "--chunked-share",
            "0.4",
            "--gzip-share",
            "0.4",
        ],
    );
    let n = truth["exchanges"].as_u64().unwrap();
    assert!(n >= 60, "at least one exchange per connection, got {n}");
    assert!(truth["pipelined_requests"].as_u64().unwrap() > 0);
    assert!(truth["chunked_responses"].as_u64().unwrap() > 0);
    assert!(truth["gzip_responses"].as_u64().unwrap() > 0);

    let methods = count_field(&pcap, "http.request", "http.request.method");
    let want: BTreeMap<String, u64> = truth["methods"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
        .collect();
    assert_eq!(methods, want, "requests per method");
    assert_eq!(methods.values().sum::<u64>(), n);

    let statuses = count_field(&pcap, "http.response", "http.response.code");
    let want: BTreeMap<String, u64> = truth["statuses"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
        .collect();
    assert_eq!(statuses, want, "responses per status");

    // Nothing malformed, no bad checksum, no warning/error from the expert system.
    let bad = tshark(
        &pcap,
        &[
            "-Y",
            "_ws.malformed || ip.checksum.status == 0 || tcp.checksum.status == 0 || _ws.expert.severity >= \"Warning\"",
        ],
    );
    assert_eq!(bad.trim(), "", "problem frames:\n{bad}");
    let expert = tshark(&pcap, &["-q", "-z", "expert"]);
    assert!(!expert.contains("Errors ("), "expert errors:\n{expert}");
    assert!(!expert.contains("Warnings ("), "expert warnings:\n{expert}");
    assert!(
        expert.contains("Chats ("),
        "expert summary looks wrong:\n{expert}"
    );

    // Frame count matches.
    let frames = tshark(&pcap, &["-T", "fields", "-e", "frame.number"]);
    assert_eq!(
        frames.lines().count() as u64,
        truth["packets"].as_u64().unwrap()
    );
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let d1 = tempfile::tempdir().unwrap();
    let d2 = tempfile::tempdir().unwrap();
    let d3 = tempfile::tempdir().unwrap();
    let args = ["--connections", "30", "--seed", "5"];
    let (p1, t1) = generate(d1.path(), &args);
    let (p2, t2) = generate(d2.path(), &args);
    let (p3, _) = generate(d3.path(), &["--connections", "30", "--seed", "6"]);
    let (b1, b2, b3) = (
        std::fs::read(p1).unwrap(),
        std::fs::read(p2).unwrap(),
        std::fs::read(p3).unwrap(),
    );
    assert_eq!(b1, b2);
    assert_eq!(t1, t2);
    assert_ne!(b1, b3);
    assert_eq!(t1["file_bytes"].as_u64().unwrap(), b1.len() as u64);
    assert_eq!(t1["connections"].as_u64().unwrap(), 30);
}

#[test]
fn size_target_is_met_with_small_overshoot() {
    let d = tempfile::tempdir().unwrap();
    let (p, t) = generate(d.path(), &["--size-gb", "0.004", "--seed", "2"]);
    let len = std::fs::metadata(p).unwrap().len();
    assert_eq!(t["file_bytes"].as_u64().unwrap(), len);
    assert!(len >= 4_000_000, "file too small: {len}");
    assert!(len < 6_000_000, "overshoot too big: {len}");
}
