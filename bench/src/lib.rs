//! Benchmark support for apitap: a fast, deterministic generator of large classic-pcap
//! files full of realistic keep-alive HTTP/1.1 REST traffic, with a ground-truth sidecar.
//!
//! - [`rng`]: a tiny seeded PRNG (SplitMix64 seeding xoshiro256**), so a seed fully
//!   determines the output on every platform.
//! - [`wire`]: the pcap file format and Ethernet/IPv4/TCP framing with correct checksums.
//! - [`bodies`]: pre-rendered pools of JSON bodies and response heads (identity, chunked,
//!   gzip, gzip+chunked). Generating 1 GB is then mostly memcpy and checksumming.
//! - [`traffic`]: the simulation: many concurrent TCP connections, handshakes,
//!   keep-alive and pipelined requests, MSS segmentation, delayed ACKs, FIN teardown.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod bodies;
pub mod rng;
pub mod traffic;
pub mod wire;
