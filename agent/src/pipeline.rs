//! Runs the engine's [`Pipeline`] over capture files read by libpcap (one offline run):
//! capture → [`apitap_engine::Pipeline`] → a sink of [`HttpEvent`]s.
//!
//! Flows persist across the files of one run (rotated captures continue each other); idle
//! timeouts run on capture time.

use crate::capture::{FileSource, LinkType};
use anyhow::{Context, Result};
use apitap_engine::http::{HttpEvent, SharedGate};
use apitap_engine::pipeline::{Pipeline, PipelineConfig, PipelineStats, ADVANCE_EVERY};

/// Counters of a whole run: the capture files, then each engine stage.
#[derive(Clone, Debug, Default)]
pub struct RunStats {
    /// Files read.
    pub files: u64,
    /// Files whose last record was cut short.
    pub capture_truncated: u64,
    /// The engine's stages (packets and bytes read from the captures after the BPF filter).
    pub engine: PipelineStats,
    /// Packets read per link type (the first 16 link types seen).
    pub links: Vec<(LinkType, u64)>,
}

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `n` followed by the singular or plural noun: `1 connection`, `1,204 connections`.
fn count(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

impl RunStats {
    /// When packets were read but no exchange came out: what was seen, and why nothing came
    /// out (one line per reason, largest first). `None` if there were exchanges or no
    /// packets.
    pub fn why_empty(&self) -> Option<String> {
        let e = &self.engine;
        if e.packets == 0 || e.protocol.http.exchanges > 0 || e.protocol.h2.exchanges > 0 {
            return None;
        }
        let d = &e.decode;
        let p = &e.protocol;
        let mut why: Vec<(u64, String)> = Vec::new();
        let undecoded: u64 = d.unsupported_link;
        if undecoded > 0 {
            let links: Vec<String> = self
                .links
                .iter()
                .filter(|(l, _)| !decoded_link(*l))
                .map(|(l, n)| {
                    format!(
                        "{} of link type {} ({})",
                        count(*n, "packet", "packets"),
                        l.0,
                        l.name()
                    )
                })
                .collect();
            let what = if links.is_empty() {
                format!(
                    "{} of an unsupported link type",
                    count(undecoded, "packet", "packets")
                )
            } else {
                links.join(", ")
            };
            why.push((undecoded, format!("{what}: not decoded")));
        }
        for (n, what) in [
            (d.non_ip, "not IP"),
            (d.non_tcp, "IP but not TCP"),
            (d.truncated, "cut short by the capture (snaplen)"),
            (d.bad_header, "malformed headers"),
            (d.frag_held + d.frag_dropped, "IP fragments never completed"),
        ] {
            if n > 0 {
                why.push((n, format!("{} {what}", count(n, "packet", "packets"))));
            }
        }
        for (n, what) in [
            (p.tls, "TLS (encrypted: not parsed)"),
            (p.http2_unsupported, "HTTP/2 (not parsed by this build)"),
            (p.unrecognised, "not HTTP"),
            (p.undecided, "too few bytes to tell the protocol"),
            (p.socks_failed, "failed SOCKS handshakes"),
        ] {
            if n > 0 {
                why.push((
                    n,
                    format!("{} {what}", count(n, "connection", "connections")),
                ));
            }
        }
        if p.http2 > 0 {
            why.push((
                p.http2,
                format!(
                    "{} with {} ({} undecodable) but no stream",
                    count(p.http2, "HTTP/2 connection", "HTTP/2 connections"),
                    count(p.h2.header_blocks, "header block", "header blocks"),
                    thousands(p.h2.header_blocks_undecodable)
                ),
            ));
        }
        if p.http1 > 0 {
            why.push((
                p.http1,
                format!(
                    "{} with {} and {} but no complete exchange",
                    count(p.http1, "HTTP/1 connection", "HTTP/1 connections"),
                    count(p.http.requests, "request head", "request heads"),
                    count(p.http.responses, "response head", "response heads")
                ),
            ));
        }
        if d.tcp > 0 && e.flow.flows_created == 0 {
            why.push((
                d.tcp,
                format!(
                    "{} that start no connection (no SYN, no payload)",
                    count(d.tcp, "TCP segment", "TCP segments")
                ),
            ));
        }
        why.sort_by_key(|w| std::cmp::Reverse(w.0));
        let mut out = format!(
            "no HTTP exchanges in {} ({}, {}):",
            count(e.packets, "packet", "packets"),
            count(d.tcp, "TCP segment", "TCP segments"),
            count(e.flow.flows_created, "connection", "connections")
        );
        for (_, w) in why {
            out.push_str("\n  ");
            out.push_str(&w);
        }
        Some(out)
    }

    /// A human-readable multi-line summary.
    pub fn summary(&self) -> String {
        let e = &self.engine;
        let mut p = e.protocol;
        p.http = Default::default();
        p.h2 = Default::default();
        format!(
            "capture: {} files, {} packets, {} bytes\ndecode: {:?}\nflow: {:?}\nreassembly: {:?}\nprotocol: {:?}\nhttp: {:?}\nh2: {:?}",
            self.files,
            e.packets,
            e.bytes,
            e.decode,
            e.flow,
            e.reassembly,
            p,
            e.protocol.http,
            e.protocol.h2
        )
    }
}

/// Does the engine decode this link type? (A probe with an empty frame: only unsupported
/// link types say so without looking at the bytes.)
fn decoded_link(l: LinkType) -> bool {
    let mut d = apitap_engine::decode::Decoder::new();
    let pkt = apitap_engine::Packet {
        ts: apitap_engine::Timestamp::default(),
        link: l,
        data: &[],
        orig_len: 0,
    };
    let _ = d.decode(&pkt);
    d.stats().unsupported_link == 0
}

/// Runs the pipeline over `paths` in order (each narrowed by the BPF `filter`), calling `sink`
/// for every HTTP event; `gate` chooses the bodies kept (see
/// [`apitap_engine::http::BodyGate`]).
pub fn run_files(
    paths: &[String],
    filter: Option<&str>,
    cfg: &PipelineConfig,
    gate: Option<SharedGate>,
    progress: bool,
    sink: &mut dyn FnMut(HttpEvent) -> Result<()>,
) -> Result<RunStats> {
    let mut pipe = Pipeline::with_gate(cfg, gate);
    let mut files = 0;
    let mut truncated = 0;
    let mut events: Vec<HttpEvent> = Vec::with_capacity(64);
    let mut n: u64 = 0;
    let mut links: Vec<(LinkType, u64)> = Vec::new();
    for path in paths {
        let mut src = FileSource::open(path, filter)
            .with_context(|| format!("cannot read capture {path}"))?;
        files += 1;
        let bar = progress.then(|| crate::progress::bar(path, src.progress().1));
        loop {
            let pkt = match src.next_packet() {
                Ok(Some(p)) => p,
                Ok(None) => break,
                Err(e) => {
                    pipe.flush(&mut events);
                    for ev in events.drain(..) {
                        sink(ev)?;
                    }
                    return Err(e).with_context(|| format!("while reading {path}"));
                }
            };
            pipe.push(&pkt, &mut events);
            if let Some((_, c)) = links.iter_mut().find(|(l, _)| *l == pkt.link) {
                *c += 1;
            } else if links.len() < 16 {
                links.push((pkt.link, 1));
            }
            n += 1;
            if n.is_multiple_of(ADVANCE_EVERY) {
                if let Some(b) = &bar {
                    b.set_position(src.progress().0);
                }
            }
            // Most packets produce no event: skip the drain (its setup and drop) for them.
            if !events.is_empty() {
                for ev in events.drain(..) {
                    sink(ev)?;
                }
            }
        }
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        let c = src.stats();
        truncated += u64::from(c.truncated_records > 0);
    }
    pipe.flush(&mut events);
    for ev in events.drain(..) {
        sink(ev)?;
    }
    Ok(RunStats {
        files,
        capture_truncated: truncated,
        engine: pipe.stats(),
        links,
    })
}

#[cfg(test)]
mod tests {
    use super::count;

    #[test]
    fn counts_agree_in_number() {
        assert_eq!(count(0, "connection", "connections"), "0 connections");
        assert_eq!(count(1, "connection", "connections"), "1 connection");
        assert_eq!(count(1204, "packet", "packets"), "1,204 packets");
    }
}
