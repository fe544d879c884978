//! Stage 1 — capture: packets from capture files (pcap, pcapng, gzip-compressed, stdin) and,
//! live interfaces ([`mod@live`]), narrowed by a BPF filter compiled by libpcap itself.
//!
//! Output: a stream of [`Packet`]s (timestamp, link type, bytes) handed to [`apitap_engine::decode`].
//!
//! The offline source is [`FileSource`] (see [`mod@file`] for the policies: gzip detection by
//! magic bytes, stdin, truncated last records, errors).

pub mod file;
pub mod live;

pub use file::{CaptureError, CaptureStats, FileSource};

pub use apitap_engine::{LinkType, Packet};
