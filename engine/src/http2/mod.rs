//! HTTP/2 over cleartext (h2c) and gRPC framing: [`H2Conn`], driven by the protocol layer once
//! it recognised HTTP/2 (its HTTP/2 slot; `protocol::http2_parser` plugs this in). Output:
//! [`crate::exchange`] events, like HTTP/1's. Nothing here depends on the protocol layer.
//!
//! - [`frame`]: frames as a checked view over bytes.
//! - [`huffman`]: the HPACK Huffman code.
//! - [`hpack`]: header block decoding with a dynamic table per direction.
//! - `conn`: [`H2Conn`], the per-connection parser: streams → exchanges.
//! - [`grpc`]: gRPC messages and status from an HTTP/2 exchange.

mod conn;
pub mod frame;
pub mod grpc;
pub mod hpack;
pub mod huffman;

pub(crate) use conn::looks_like_h2;
pub use conn::{H2Config, H2Conn, H2Stats, Http2Start};
