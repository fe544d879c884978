//! A capture with packets but no exchanges says on stderr what was seen and why nothing
//! came out (runs the real binary on captures written by scapy, see
//! `engine/tests/data/captures/gen.py`).

use std::path::PathBuf;
use std::process::Command;

fn capture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../engine/tests/data/captures")
        .join(name)
}

/// Runs `apitap exchanges FILE`: (exit success, stdout, stderr).
fn exchanges(file: &std::path::Path) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_apitap"))
        .args(["exchanges", "--no-progress"])
        .arg(file)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn undecoded_link_type_is_named() {
    // The 802.11 capture relabelled as link type 147 (DLT_USER0), which nothing decodes.
    let mut b = std::fs::read(capture("wifi_radiotap.pcap")).unwrap();
    b[20..24].copy_from_slice(&147u32.to_le_bytes());
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("user0.pcap");
    std::fs::write(&f, b).unwrap();
    let (ok, stdout, stderr) = exchanges(&f);
    assert!(ok);
    assert_eq!(stdout, "");
    assert!(
        stderr.contains("no HTTP exchanges in 8 packets")
            && stderr.contains("8 packets of link type 147 (other): not decoded"),
        "{stderr}"
    );
}

#[test]
fn tls_only_is_explained() {
    let (ok, stdout, stderr) = exchanges(&capture("tls.pcap"));
    assert!(ok);
    assert_eq!(stdout, "");
    assert!(
        stderr.contains("1 connection TLS (encrypted: not parsed)")
            && stderr.contains(", 1 connection):"),
        "{stderr}"
    );
}

#[test]
fn nothing_is_said_when_exchanges_came_out() {
    let (ok, stdout, stderr) = exchanges(&capture("vxlan.pcap"));
    assert!(ok);
    assert_eq!(stdout.lines().count(), 1);
    assert!(!stderr.contains("no HTTP exchanges"), "{stderr}");
}
