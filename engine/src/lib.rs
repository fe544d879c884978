//! apitap-engine: the stages that take untrusted captured bytes and turn them into HTTP
//! exchanges. Pure: no async runtime, server, client, store or libpcap; packets come in from
//! any source ([`Packet`]), events go out into caller-owned buffers.
//!
//! The stages, one folder each, data flowing one way (top to bottom):
//!
//! ```text
//! Packet ──▶ decode ──TcpSegment──▶ flow ──(per direction)──▶ reassembly
//!                                     │ in-order bytes, gaps, FIN
//!                                     ▼
//!                    protocol (Recogniser: probe, then one StreamParser per connection)
//!                                     │
//!                                     ▼
//!                    http (HTTP/1.x), http2 (h2c, gRPC)
//!                                     │
//!                                     ▼
//!                    exchange (HttpEvent / Exchange) ──▶ caller
//! ```
//!
//! Module dependencies follow the same direction: `protocol` uses the `http` and `http2`
//! parsers (and implements its `StreamParser` for them), the parsers use `exchange` and know
//! nothing of `protocol`; `http2` shares HTTP/1's body decoding and framing rules.
//!
//! - [`decode`]: link layer, IP (with fragment reassembly), TCP header.
//! - [`flow`]: the connection table: roles, idle timeouts, caps.
//! - [`reassembly`]: one in-order byte stream per direction, bounded out-of-order buffer.
//! - [`protocol`]: recognises each connection's protocol by content (HTTP/1, HTTP/2 preface
//!   and h2c, TLS, SOCKS tunnels) and hands its byte streams to a [`protocol::StreamParser`];
//!   the interface any protocol parser implements, usable without TCP.
//! - [`http`]: HTTP/1.x parsing and request/response pairing.
//! - [`http2`]: HTTP/2 over cleartext (h2c) and gRPC framing (the protocol layer's HTTP/2
//!   parser).
//! - [`exchange`]: the [`Exchange`] and [`HttpEvent`] types every parser emits.
//! - [`pipeline`]: the stages wired together, fed one packet at a time.
#![forbid(unsafe_code)]
#![deny(missing_docs, rust_2018_idioms)]
// Every byte here may come from an attacker: no panicking shortcuts outside tests.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::unimplemented,
        clippy::todo
    )
)]

mod ascii;
pub mod decode;
pub mod exchange;
pub mod flow;
pub mod http;
pub mod http2;
mod packet;
pub mod pipeline;
pub mod protocol;
pub mod reassembly;
mod timestamp;

// The deliberate API, at the top: the stages' drivers, the parser interface and what comes
// out. Each stage's module holds the rest of its public surface (its config and counters);
// parsers' internals (head and chunk parsing, content decoding, probes, the SOCKS handshake,
// the reassembler itself) are private to the crate.
pub use decode::{DecodeStats, Decoder, DecoderConfig, TcpSegment};
pub use flow::{ConnHandler, ConnInfo, Dir, FlowConfig, FlowStats, FlowTable};
pub use http::{
    Exchange, Flag, Headers, HttpConfig, HttpConn, HttpEvent, HttpStats, MessageHead, Request,
    Response,
};
pub use packet::{LinkType, Packet};
pub use pipeline::{Pipeline, PipelineConfig, PipelineStats};
pub use protocol::{ProtocolConfig, ProtocolStats, Recogniser, StreamParser};
pub use timestamp::Timestamp;
