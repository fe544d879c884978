//! Shared helpers for the collector tests and the agent's upstream tests (included with
//! `#[path]`; as a test target of its own it has no tests). The collector process is the
//! `apitap-collector` binary in this crate's tests and `apitap collector` in the agent's.
#![allow(dead_code)]

use apitap_model::{ApiModel, LearnConfig, Observation};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The collector command of the crate under test (see the module doc).
pub fn collector_command() -> Command {
    match option_env!("CARGO_BIN_EXE_apitap-collector") {
        Some(bin) => Command::new(bin),
        None => {
            // The agent's tests: `apitap collector`.
            let mut c = Command::new(option_env!("CARGO_BIN_EXE_apitap").unwrap_or("apitap"));
            c.arg("collector");
            c
        }
    }
}

/// A running `apitap collector` process, killed on drop.
pub struct Collector {
    pub child: Child,
    pub url: String,
}

impl Collector {
    /// Starts a collector on a free port with `extra` arguments; waits until it listens.
    pub fn start(data_dir: &Path, extra: &[&str]) -> Collector {
        Self::start_on(data_dir, "127.0.0.1:0", extra)
    }

    /// Starts a collector on `listen`.
    pub fn start_on(data_dir: &Path, listen: &str, extra: &[&str]) -> Collector {
        let mut child = collector_command()
            .args(["--listen", listen, "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start apitap collector");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on ").nth(1) {
                    if let Some(t) = tx.take() {
                        let _ = t.send(rest.trim().to_string());
                    }
                }
                if std::env::var_os("APITAP_TEST_VERBOSE").is_some() {
                    eprintln!("collector: {line}");
                }
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("collector did not start listening");
        Collector { child, url }
    }

    /// The port it listens on.
    pub fn addr(&self) -> String {
        self.url.trim_start_matches("http://").to_string()
    }

    /// SIGKILL and reap.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// An observation of `method target` answered by `status` with a JSON body.
pub fn obs(
    service: &str,
    method: &str,
    target: &str,
    status: u16,
    body: &str,
    ms: f64,
) -> Observation {
    Observation {
        service: service.into(),
        server: Some("10.0.0.1:80".into()),
        method: method.into(),
        target: target.into(),
        status: Some(status),
        response_headers: vec![("Content-Type".into(), "application/json".into())].into(),
        response_body: Some(body.as_bytes().to_vec()),
        latency_ms: Some(ms),
        ts_unix_ms: 1_700_000_000_000,
        grpc: None,
        ..Observation::default()
    }
}

/// A model of source `source` learned from `obs`.
pub fn model_of(source: &str, obs: &[Observation]) -> ApiModel {
    let mut m = ApiModel::new();
    let cfg = LearnConfig {
        source: source.into(),
        ..LearnConfig::default()
    };
    m.observe_all(obs.iter(), &cfg);
    m
}

/// A growing model: source `source` after `n` rounds of traffic over `paths` endpoints.
pub fn traffic(source: &str, n: usize, paths: usize) -> ApiModel {
    let mut m = ApiModel::new();
    let cfg = LearnConfig {
        source: source.into(),
        ..LearnConfig::default()
    };
    for i in 0..n {
        let p = i % paths.max(1);
        let o = obs(
            "api.test",
            "GET",
            &format!("/r{p}/items/{}", i % 7 + 1),
            if i.is_multiple_of(10) { 500 } else { 200 },
            &format!("{{\"id\":{i},\"name\":\"n{i}\"}}"),
            (i % 50) as f64 + 0.5,
        );
        m.observe(&o, &cfg);
    }
    m
}

/// Polls `f` until it returns `Some` or the timeout passes.
pub fn wait_for<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let end = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() > end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// gzip.
pub fn gzip(b: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}
