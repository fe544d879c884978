//! The exchange vocabulary every HTTP parser emits: [`Exchange`] (a [`Request`] and its
//! [`Response`], with [`Flag`]s) and [`HttpEvent`]. The bottom of the parsing stack: the HTTP/1
//! and HTTP/2 parsers produce these, the protocol layer passes them on, and this module depends
//! on nothing above it (the data flow reads decode → flow → reassembly → protocol → http and
//! http2 → exchange, with no edge back up).

use crate::Timestamp;
use std::net::SocketAddr;

/// Something worth flagging about an exchange. Serialised in snake_case.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Flag {
    /// Bytes of this exchange were lost in a capture gap.
    Gap,
    /// The message ended before its declared length (connection closed or capture ended).
    Truncated,
    /// A request with no response.
    UnpairedRequest,
    /// A response with no request.
    UnpairedResponse,
    /// A body could not be de-chunked or content-decoded.
    DecodeError,
    /// CONNECT succeeded or 101 Switching Protocols: what follows is another protocol (after a
    /// CONNECT, HTTP sent through the tunnel is parsed on, in exchanges of its own).
    Upgraded,
    /// A body was cut at the body cap (lengths still count everything).
    BodyCapped,
    /// Something malformed was tolerated (e.g. bad header line, odd version token).
    Malformed,
}

impl Flag {
    /// The wire name used in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            Flag::Gap => "gap",
            Flag::Truncated => "truncated",
            Flag::UnpairedRequest => "unpaired_request",
            Flag::UnpairedResponse => "unpaired_response",
            Flag::DecodeError => "decode_error",
            Flag::Upgraded => "upgraded",
            Flag::BodyCapped => "body_capped",
            Flag::Malformed => "malformed",
        }
    }
}

/// A request as seen on the wire.
#[derive(Clone, Debug, Default)]
pub struct Request {
    /// Method token, as sent.
    pub method: String,
    /// Request-target exactly as on the wire.
    pub uri: String,
    /// Version token, e.g. `HTTP/1.1`; `HTTP/0.9` for a version-less request line; `HTTP/2`
    /// for HTTP/2.
    pub version: String,
    /// Header fields in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// Body length after de-chunking and content decoding (as Zeek counts).
    pub body_len: u64,
    /// Body length on the wire: de-chunked, not content-decoded (what the OpenTelemetry
    /// `http.request.body.size` attribute means).
    pub wire_len: u64,
    /// Decoded body, up to the body cap, if bodies are kept.
    pub body: Option<Vec<u8>>,
    /// First byte of the request.
    pub ts_start: Timestamp,
    /// Last byte of the request.
    pub ts_end: Timestamp,
}

/// A response as seen on the wire (the final one; 1xx interim responses are not kept).
#[derive(Clone, Debug, Default)]
pub struct Response {
    /// Status code, if it was a number.
    pub status: Option<u16>,
    /// The status code token as sent (e.g. `2XX`).
    pub status_text: String,
    /// Reason phrase.
    pub reason: String,
    /// Version token.
    pub version: String,
    /// Header fields in order.
    pub headers: Vec<(String, String)>,
    /// Body length after de-chunking and content decoding.
    pub body_len: u64,
    /// Body length on the wire: de-chunked, not content-decoded.
    pub wire_len: u64,
    /// Decoded body, up to the body cap, if bodies are kept.
    pub body: Option<Vec<u8>>,
    /// First byte of the response.
    pub ts_start: Timestamp,
    /// Last byte of the response.
    pub ts_end: Timestamp,
}

/// One request/response exchange (either side may be missing).
#[derive(Clone, Debug)]
pub struct Exchange {
    /// Id of the connection (see [`crate::flow::ConnInfo::id`]).
    pub conn_id: u64,
    /// Position of this exchange within its connection, from 0.
    pub index: u64,
    /// The client (sender of requests).
    pub client: SocketAddr,
    /// The server.
    pub server: SocketAddr,
    /// The request, if seen.
    pub request: Option<Request>,
    /// The final response, if seen.
    pub response: Option<Response>,
    /// Flags, sorted and deduplicated.
    pub flags: Vec<Flag>,
    /// The HTTP/2 stream the exchange was carried on (`None` for HTTP/1.x).
    pub stream_id: Option<u32>,
    /// The body gate's key for this exchange ([`crate::http::Gated::key`]; `None` when no
    /// gate was asked at its request head), so its consumer need not compute it again.
    pub gate_key: Option<u64>,
}

impl Exchange {
    /// When the exchange started: request start, else response start.
    pub fn ts(&self) -> Timestamp {
        match (&self.request, &self.response) {
            (Some(r), _) => r.ts_start,
            (None, Some(r)) => r.ts_start,
            (None, None) => Timestamp::default(),
        }
    }

    /// Request start to response end, in milliseconds, when both were seen (the span an
    /// OpenTelemetry `http.server.request.duration` covers).
    pub fn latency_ms(&self) -> Option<f64> {
        match (&self.request, &self.response) {
            (Some(q), Some(r)) => Some(r.ts_end.millis_since(q.ts_start).max(0.0)),
            _ => None,
        }
    }

    /// The ordering key of capture order of the request: (start, connection, index).
    pub fn order_key(&self) -> (Timestamp, u64, u64) {
        (self.ts(), self.conn_id, self.index)
    }
}

/// What the HTTP stage emits.
#[derive(Clone, Debug)]
pub enum HttpEvent {
    /// An exchange began (its first byte was seen); its [`Exchange`] will follow, later,
    /// with the same key. Lets the output stage print in request order with bounded memory.
    Started {
        /// Start timestamp.
        ts: Timestamp,
        /// Connection id.
        conn_id: u64,
        /// Index within the connection.
        index: u64,
    },
    /// A finished exchange.
    Done(Box<Exchange>),
}
