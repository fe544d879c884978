//! Stage 5 — HTTP/1.x: each connection's two byte streams → request/response exchanges.
//!
//! Input: the two byte streams of one connection through [`HttpConn`]'s `on_data`, `on_gap`,
//! `on_fin` and `on_close` (the protocol layer drives it once it recognised HTTP/1; so can any
//! driver). Output: [`HttpEvent`]s (from [`crate::exchange`], shared with HTTP/2), and a
//! [`Switch`] when the connection turns to another protocol. Nothing here depends on the
//! protocol layer: it sits above the parsers.
//!
//! - `parser`: lenient start-line and header parsing, recognising HTTP by content.
//! - `body`: chunked transfer coding and content decoding (gzip, deflate, br, stacked),
//!   streaming.
//! - `conn`: [`HttpConn`], the per-connection parser: roles, pairing, gaps, resync. Its
//!   module docs state the policies (what Zeek/libhtp behaviour is followed where); its
//!   files split it by concern: `head` (message heads), `framing` (bodies), `pairing`
//!   (exchange entries and their order), `v09` (HTTP/0.9), `tunnel` (101 and CONNECT),
//!   `gaps` (capture gaps, FIN and close).

pub(crate) mod body;
pub(crate) mod conn;
pub(crate) mod parser;

pub use conn::{HttpConfig, HttpConn, HttpStats, Switch, SwitchTo};
pub use parser::{ParseError, ParseErrorCounts};

pub use crate::exchange::{Exchange, Flag, HttpEvent, Request, Response};
