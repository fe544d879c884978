//! apitap: learns what an HTTP API really does by watching its traffic.
//!
//! The pipeline, one module per stage, data flowing one way:
//!
//! ```text
//! capture ──Packet──▶ decode ──TcpSegment──▶ flow ──(per direction)──▶ reassembly
//!                                              │ in-order bytes, gaps, FIN
//!                                              ▼
//!                                     http (ConnHandler) ──HttpEvent──▶ output / learn
//! ```
//!
//! - [`capture`]: packets from files or interfaces, BPF-filtered by libpcap.
//! - [`decode`]: link layer, IP (with fragment reassembly), TCP header.
//! - [`flow`]: the connection table: roles, idle timeouts, caps.
//! - [`reassembly`]: one in-order byte stream per direction, bounded out-of-order buffer.
//! - [`http`]: HTTP/1.x parsing and request/response pairing.
//! - [`output`]: exchanges as JSON lines or HAR, in request order.
//! - [`pipeline`]: wires the stages together for one run.
//! - [`upstream`]: pushes the model to a collector and metrics by Prometheus remote write.
//! - [`inject`]: adds the agent sidecar to Kubernetes manifests.
//! - [`agent`]: the long-running agent (live capture, continuous learning), with its
//!   [`admin`] HTTP server and [`metrics`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod admin;
pub mod agent;
pub mod capture;
pub mod decode;
pub mod flow;
pub mod http;
pub mod inject;
pub mod learn;
pub mod metrics;
pub mod output;
pub mod pipeline;
pub mod progress;
pub mod reassembly;
mod timestamp;
pub mod upstream;

pub use timestamp::Timestamp;
