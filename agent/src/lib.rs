//! apitap: learns what an HTTP API really does by watching its traffic.
//!
//! The pipeline, data flowing one way; the stages that parse untrusted bytes live in the
//! pure `apitap-engine` crate (`engine/`):
//!
//! ```text
//! capture ──Packet──▶ apitap_engine (decode → flow → reassembly → http) ──HttpEvent──▶ output / learn
//! ```
//!
//! - [`capture`]: packets from files or interfaces, BPF-filtered by libpcap.
//! - [`apitap_engine`]: decode, flow table, TCP reassembly, HTTP/1.x parsing and pairing.
//! - [`output`]: exchanges as JSON lines or HAR, in request order.
//! - [`pipeline`]: runs the engine over capture files (one offline run).
//! - [`upstream`]: pushes the model to a collector and metrics by Prometheus remote write.
//! - [`inject`]: adds the agent sidecar to Kubernetes manifests.
//! - [`agent`]: the long-running agent (live capture, continuous learning), with its
//!   [`admin`] HTTP server and [`metrics`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod admin;
pub mod agent;
pub mod capture;
pub mod inject;
pub mod learn;
pub mod metrics;
pub mod output;
pub mod pipeline;
pub mod progress;
pub mod upstream;
