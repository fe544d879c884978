//! The settings and counters of [`H2Conn`](super::H2Conn), and the content check the recogniser
//! uses to pick HTTP/2 on a connection picked up mid-stream.

use super::frame::{FrameHeader, HEADER_LEN, PREFACE};
use super::hpack::Limits;
use crate::http::HttpConfig;

/// Settings of [`H2Conn`](super::H2Conn).
#[derive(Copy, Clone, Debug)]
pub struct H2Config {
    /// Body and head caps shared with HTTP/1.
    pub http: HttpConfig,
    /// Most streams tracked at once per connection.
    pub max_streams: usize,
    /// Largest frame payload buffered (larger ones are skipped).
    pub max_frame: u32,
    /// Largest header block (HEADERS + CONTINUATION fragments) buffered.
    pub max_header_block: usize,
    /// HPACK caps.
    pub hpack: Limits,
}

impl Default for H2Config {
    fn default() -> Self {
        H2Config::from_http(HttpConfig::default())
    }
}

impl H2Config {
    /// Defaults that follow the HTTP/1 caps: the header list cap is the head cap.
    pub fn from_http(http: HttpConfig) -> H2Config {
        H2Config {
            http,
            max_streams: http.max_pipeline.max(1),
            max_frame: 1 << 20,
            max_header_block: http.head_cap.max(1024),
            hpack: Limits {
                table_cap: 64 << 10,
                max_list_size: http.head_cap.max(1024),
            },
        }
    }
}

/// Counters of the HTTP/2 stage (add them up with [`H2Stats::add`]).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct H2Stats {
    /// Connections handled as HTTP/2.
    pub connections: u64,
    /// Of those, connections picked up without their preface.
    pub pickups: u64,
    /// Frames parsed.
    pub frames: u64,
    /// Frames refused as malformed (the direction then searches for frame boundaries).
    pub frame_errors: u64,
    /// Frames whose payload was over the buffer cap and skipped.
    pub frames_skipped: u64,
    /// Times a direction searched for frame boundaries (pickup, gap, malformed frame).
    pub resyncs: u64,
    /// Bytes thrown away while searching for frame boundaries.
    pub resync_bytes: u64,
    /// Header blocks decoded.
    pub header_blocks: u64,
    /// Header blocks with fields that could not be decoded (unknown HPACK state) or that
    /// failed to decode.
    pub header_blocks_undecodable: u64,
    /// Header blocks over the header block cap (dropped; HPACK state lost).
    pub header_blocks_capped: u64,
    /// Decoded header lists cut at the header list cap.
    pub header_lists_capped: u64,
    /// Streams opened.
    pub streams: u64,
    /// Streams not tracked because of the stream cap.
    pub streams_dropped: u64,
    /// Exchanges emitted.
    pub exchanges: u64,
    /// RST_STREAM frames.
    pub rst_streams: u64,
    /// GOAWAY frames.
    pub goaways: u64,
    /// Bodies whose content decoding failed.
    pub decode_errors: u64,
}

impl H2Stats {
    /// Add `o` into `self`.
    pub fn add(&mut self, o: &H2Stats) {
        self.connections += o.connections;
        self.pickups += o.pickups;
        self.frames += o.frames;
        self.frame_errors += o.frame_errors;
        self.frames_skipped += o.frames_skipped;
        self.resyncs += o.resyncs;
        self.resync_bytes += o.resync_bytes;
        self.header_blocks += o.header_blocks;
        self.header_blocks_undecodable += o.header_blocks_undecodable;
        self.header_blocks_capped += o.header_blocks_capped;
        self.header_lists_capped += o.header_lists_capped;
        self.streams += o.streams;
        self.streams_dropped += o.streams_dropped;
        self.exchanges += o.exchanges;
        self.rst_streams += o.rst_streams;
        self.goaways += o.goaways;
        self.decode_errors += o.decode_errors;
    }
}

/// Does `buf` (the first bytes of a direction) look like HTTP/2 frames? True for the client
/// preface (or a prefix of it of 4+ bytes), or for a plausible frame header followed by
/// another one or by exactly the end of `buf`. For a recogniser deciding a connection
/// picked up mid-stream.
pub fn looks_like_h2(buf: &[u8]) -> bool {
    if buf.len() >= 4 && PREFACE.starts_with(buf.get(..buf.len().min(PREFACE.len())).unwrap_or(&[]))
    {
        return true;
    }
    chain_ok(buf, 0)
}

/// Are there plausible frames at `off` (two in a row, or one ending at the end of `buf`)?
pub(super) fn chain_ok(buf: &[u8], off: usize) -> bool {
    let Some(h) = buf.get(off..).and_then(FrameHeader::read) else {
        return false;
    };
    if !h.plausible() {
        return false;
    }
    let next = off + HEADER_LEN + h.len as usize;
    if next == buf.len() {
        return true;
    }
    matches!(buf.get(next..).and_then(FrameHeader::read), Some(h2) if h2.plausible())
}
