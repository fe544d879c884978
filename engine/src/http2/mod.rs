//! HTTP/2 over cleartext (h2c) and gRPC framing: the parser behind the protocol layer's
//! HTTP/2 slot ([`crate::protocol::ProtocolConfig::http2`]; plug in [`parser`]).
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
pub use conn::{parser, H2Config, H2Conn, H2Stats};
