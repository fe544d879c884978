//! HTTP/2 over cleartext (h2c) and gRPC framing: [`H2Conn`], driven by the protocol layer once
//! it recognised HTTP/2 (its HTTP/2 slot; `protocol::http2_parser` plugs this in). Output:
//! [`crate::exchange`] events, like HTTP/1's. Nothing here depends on the protocol layer.
//!
//! - [`frame`]: frames as a checked view over bytes.
//! - [`huffman`]: the HPACK Huffman code.
//! - [`hpack`]: header block decoding with a dynamic table per direction.
//! - `config`: [`H2Config`], [`H2Stats`] and the content check for mid-stream pickup.
//! - `conn`: [`H2Conn`], the per-connection parser: streams → exchanges.
//! - `stream`: one stream's lifecycle and its request and response halves.
//! - [`grpc`]: gRPC messages and status from an HTTP/2 exchange.

mod config;
mod conn;
pub mod frame;
pub mod grpc;
pub mod hpack;
pub mod huffman;
mod stream;

pub(crate) use config::looks_like_h2;
pub use config::{H2Config, H2Stats};
pub use conn::{H2Conn, Http2Start};
