//! Message bodies: chunked transfer coding and content decoding, both streaming.
//!
//! - [`Chunked`] is a byte-driven state machine (no buffering): chunk-size lines with
//!   extensions, chunk data, the CRLF after each chunk, and trailer fields. It is lenient
//!   about bare `\n` and junk before the line end after a chunk, and strict about the size:
//!   a size that overflows 64 bits, or a line with no hex digits, is an error (the caller
//!   flags the message and resynchronises, like Zeek and libhtp).
//! - [`ContentDecoder`] undoes `gzip`/`x-gzip`, `deflate` (zlib-wrapped or raw: Microsoft
//!   servers famously send raw deflate, detected from the first two bytes) and `br`,
//!   counting the decoded length (what Zeek logs as `*_body_len`) and keeping the decoded
//!   bytes up to the body cap. The decoded length is bounded by a separate cap (decompression
//!   bombs): beyond it decoding stops. On a decode error (or the cap) the body length falls
//!   back to the raw (de-chunked) length and the kept body to the raw bytes, so the result
//!   does not depend on how the stream was split into segments.
//! - Stacked codings (`Content-Encoding: gzip, br`: gzip applied first) are undone in
//!   reverse through a chain of decoders, each layer's output streaming into the next, each
//!   bounded by the same decoded cap. Only the first layer keeps the raw bytes (for the
//!   fallback) and only the last the decoded body. A failure (or the cap) in any layer makes
//!   the whole body count raw, as for a single coding.
//! - gzip, zlib and raw deflate are inflated by `inflate` (flate2's low-level `Decompress`,
//!   states reused across bodies, no per-write zeroing; its module docs state its rules).

use super::inflate::{Format, Inflate};
use super::parser::Codings;
use super::parser::{Coding, ParseError};
use std::io::{self, Write};

/// Longest chunk-size line, chunk terminator junk, or trailer line accepted.
pub const MAX_CHUNK_LINE: u32 = 4096;

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum ChunkState {
    /// Leading whitespace before the hex size.
    SizeStart,
    /// Hex digits.
    Size,
    /// After the digits: whitespace, `;ext`, `\r`, until `\n`.
    SizeRest,
    /// Chunk data.
    Data,
    /// After data: until `\n`.
    DataEnd,
    /// Start of a trailer line (or the final empty line).
    TrailerStart,
    /// Inside a trailer line.
    Trailer,
    /// After a `\r` at the start of a trailer line.
    TrailerCr,
    /// Finished.
    Done,
}

/// Streaming de-chunker.
#[derive(Clone, Debug)]
pub struct Chunked {
    state: ChunkState,
    size: u64,
    remaining: u64,
    line_len: u32,
    trailer_bytes: u32,
}

/// Result of feeding [`Chunked`].
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ChunkStatus {
    /// All input consumed; more is needed.
    Partial,
    /// The body ended after consuming this many bytes of the input.
    Done(usize),
    /// Framing error after consuming this many bytes.
    Error(usize, ParseError),
}

impl Default for Chunked {
    fn default() -> Self {
        Self::new()
    }
}

impl Chunked {
    /// A de-chunker at the start of a body.
    pub fn new() -> Self {
        Chunked {
            state: ChunkState::SizeStart,
            size: 0,
            remaining: 0,
            line_len: 0,
            trailer_bytes: 0,
        }
    }

    /// Bytes of chunk data still expected in the current chunk (0 when in framing).
    pub fn data_remaining(&self) -> u64 {
        if self.state == ChunkState::Data {
            self.remaining
        } else {
            0
        }
    }

    /// Skip `n <= data_remaining()` bytes of chunk data (a capture gap).
    pub fn skip_data(&mut self, n: u64) {
        if self.state == ChunkState::Data {
            self.remaining = self.remaining.saturating_sub(n);
            if self.remaining == 0 {
                self.state = ChunkState::DataEnd;
                self.line_len = 0;
            }
        }
    }

    /// Feed bytes; chunk data is passed to `data`.
    pub fn feed(&mut self, input: &[u8], data: &mut dyn FnMut(&[u8])) -> ChunkStatus {
        let mut i = 0usize;
        while i < input.len() {
            if self.state == ChunkState::Data {
                let avail = input.len() - i;
                let take = usize::try_from(self.remaining).map_or(avail, |r| r.min(avail));
                if let Some(part) = input.get(i..i + take) {
                    data(part);
                }
                i += take;
                self.remaining -= take as u64;
                if self.remaining == 0 {
                    self.state = ChunkState::DataEnd;
                    self.line_len = 0;
                }
                continue;
            }
            let Some(&b) = input.get(i) else { break };
            i += 1;
            match self.state {
                ChunkState::SizeStart => {
                    if b == b' ' || b == b'\t' || b == b'\r' || b == b'\n' {
                        // Tolerate leading whitespace and stray empty lines.
                        if self.bump_line() {
                            return ChunkStatus::Error(i, ParseError::ChunkLineTooLong);
                        }
                    } else if let Some(d) = hex(b) {
                        self.size = u64::from(d);
                        self.state = ChunkState::Size;
                        self.line_len = 1;
                    } else {
                        return ChunkStatus::Error(i, ParseError::BadChunkSize);
                    }
                }
                ChunkState::Size => {
                    if let Some(d) = hex(b) {
                        match self
                            .size
                            .checked_mul(16)
                            .and_then(|s| s.checked_add(u64::from(d)))
                        {
                            Some(s) => self.size = s,
                            None => return ChunkStatus::Error(i, ParseError::ChunkSizeOverflow),
                        }
                        if self.bump_line() {
                            return ChunkStatus::Error(i, ParseError::ChunkLineTooLong);
                        }
                    } else if b == b'\n' {
                        self.end_size_line();
                    } else if b == b';' || b == b' ' || b == b'\t' || b == b'\r' {
                        self.state = ChunkState::SizeRest;
                    } else {
                        return ChunkStatus::Error(i, ParseError::BadChunkSize);
                    }
                }
                ChunkState::SizeRest => {
                    if b == b'\n' {
                        self.end_size_line();
                    } else if self.bump_line() {
                        return ChunkStatus::Error(i, ParseError::ChunkLineTooLong);
                    }
                }
                ChunkState::DataEnd => {
                    if b == b'\n' {
                        self.state = ChunkState::SizeStart;
                        self.line_len = 0;
                    } else if self.bump_line() {
                        return ChunkStatus::Error(i, ParseError::ChunkLineTooLong);
                    }
                }
                ChunkState::TrailerStart => {
                    if b == b'\n' {
                        self.state = ChunkState::Done;
                        return ChunkStatus::Done(i);
                    } else if b == b'\r' {
                        self.state = ChunkState::TrailerCr;
                    } else {
                        self.state = ChunkState::Trailer;
                        if self.bump_trailer() {
                            return ChunkStatus::Error(i, ParseError::ChunkLineTooLong);
                        }
                    }
                }
                ChunkState::TrailerCr => {
                    if b == b'\n' {
                        self.state = ChunkState::Done;
                        return ChunkStatus::Done(i);
                    }
                    self.state = if b == b'\r' {
                        ChunkState::TrailerCr
                    } else {
                        ChunkState::Trailer
                    };
                    if self.bump_trailer() {
                        return ChunkStatus::Error(i, ParseError::ChunkLineTooLong);
                    }
                }
                ChunkState::Trailer => {
                    if b == b'\n' {
                        self.state = ChunkState::TrailerStart;
                    } else if self.bump_trailer() {
                        return ChunkStatus::Error(i, ParseError::ChunkLineTooLong);
                    }
                }
                ChunkState::Data => {}
                ChunkState::Done => return ChunkStatus::Done(i - 1),
            }
        }
        if self.state == ChunkState::Done {
            ChunkStatus::Done(i)
        } else {
            ChunkStatus::Partial
        }
    }

    fn bump_line(&mut self) -> bool {
        self.line_len += 1;
        self.line_len > MAX_CHUNK_LINE
    }

    fn bump_trailer(&mut self) -> bool {
        self.trailer_bytes += 1;
        self.trailer_bytes > 16 * MAX_CHUNK_LINE
    }

    fn end_size_line(&mut self) {
        self.line_len = 0;
        if self.size == 0 {
            self.state = ChunkState::TrailerStart;
        } else {
            self.remaining = self.size;
            self.state = ChunkState::Data;
        }
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Collects decoded output: counts it, keeps it up to a cap (or passes it on to the next
/// decoder of a stack), refuses beyond the decoded cap.
#[derive(Debug)]
pub(super) struct Sink {
    pub(super) len: u64,
    max_len: u64,
    body: Option<Vec<u8>>,
    body_cap: usize,
    capped: bool,
    hit_max: bool,
    /// The decoder of the coding applied before this one (stacked codings).
    next: Option<Box<ContentDecoder>>,
}

impl Sink {
    fn push(&mut self, b: &[u8]) {
        self.len = self.len.saturating_add(b.len() as u64);
        if let Some(next) = self.next.as_mut() {
            next.write(b);
            return;
        }
        if let Some(body) = self.body.as_mut() {
            let room = self.body_cap.saturating_sub(body.len());
            if b.len() > room {
                self.capped = true;
            }
            body.extend_from_slice(b.get(..room.min(b.len())).unwrap_or_default());
        }
    }
}

impl Write for Sink {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        if self.len.saturating_add(b.len() as u64) > self.max_len {
            self.hit_max = true;
            return Err(io::Error::other("decoded length cap"));
        }
        self.push(b);
        if self.next.as_ref().is_some_and(|n| n.error) {
            return Err(io::Error::other("inner content coding failed"));
        }
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

enum Engine {
    Identity,
    /// Deflate before its first two bytes are known.
    DeflatePending([u8; 2], usize),
    /// gzip, zlib or raw deflate.
    Inflate(Box<Inflate>),
    Brotli(Box<brotli::DecompressorWriter<Sink>>),
    /// The compressed stream ended; trailing bytes are ignored.
    Finished,
    /// Decoding failed or hit the cap: raw counting from now on.
    Failed,
}

/// Configuration of a [`ContentDecoder`].
#[derive(Copy, Clone, Debug)]
pub struct DecodeLimits {
    /// Keep the body bytes?
    pub keep: bool,
    /// Maximum kept body bytes.
    pub body_cap: usize,
    /// Maximum decoded length before decoding stops.
    pub decoded_cap: u64,
}

/// The outcome of a body.
#[derive(Debug, Default)]
pub struct BodyResult {
    /// Decoded length (raw length if decoding failed).
    pub len: u64,
    /// Raw (de-chunked) length.
    #[cfg_attr(not(test), allow(dead_code))] // read by the tests
    pub raw_len: u64,
    /// Kept bytes, if bodies are kept.
    pub body: Option<Vec<u8>>,
    /// The kept body was cut at the cap (or the decoded cap was hit).
    pub capped: bool,
    /// Content decoding failed.
    pub decode_error: bool,
}

/// Streaming content decoder for one body.
pub struct ContentDecoder {
    engine: Engine,
    /// Identity / decoded output.
    sink: Sink,
    /// Raw bytes, kept when bodies are kept and a coding is applied (for the error fallback).
    raw: Option<Vec<u8>>,
    raw_len: u64,
    limits: DecodeLimits,
    error: bool,
    capped: bool,
}

impl std::fmt::Debug for ContentDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContentDecoder")
            .field("raw_len", &self.raw_len)
            .finish_non_exhaustive()
    }
}

const BROTLI_BUF: usize = 4096;

impl ContentDecoder {
    /// A decoder for a body with `coding`.
    pub fn new(coding: Coding, limits: DecodeLimits) -> Self {
        Self::with_codings(&Codings::one(coding), limits)
    }

    /// A decoder for a body with `codings` (in the order applied; undone in reverse).
    pub fn with_codings(codings: &Codings, limits: DecodeLimits) -> Self {
        let list = codings.as_slice();
        let mut next: Option<Box<ContentDecoder>> = None;
        for (i, &c) in list.iter().enumerate() {
            let outermost = i + 1 == list.len();
            let layer = Self::layer(c, limits, next.take(), outermost);
            if outermost {
                return layer;
            }
            next = Some(Box::new(layer));
        }
        Self::layer(Coding::Identity, limits, None, true)
    }

    /// One layer of a stack; `next` decodes its output; `outermost` sees the wire bytes.
    fn layer(
        coding: Coding,
        limits: DecodeLimits,
        next: Option<Box<ContentDecoder>>,
        outermost: bool,
    ) -> Self {
        let mut sink = Sink {
            len: 0,
            max_len: limits.decoded_cap,
            body: (limits.keep && next.is_none()).then(Vec::new),
            body_cap: limits.body_cap,
            capped: false,
            hit_max: false,
            next: None,
        };
        let mut engine_sink = sink.empty_like();
        engine_sink.next = next;
        let engine = match coding {
            Coding::Identity => Engine::Identity,
            Coding::Deflate => {
                // The engine is made once the first bytes tell zlib from raw deflate.
                sink.next = engine_sink.next.take();
                Engine::DeflatePending([0; 2], 0)
            }
            Coding::Gzip => Engine::Inflate(Box::new(Inflate::new(Format::Gzip, engine_sink))),
            Coding::Brotli => Engine::Brotli(Box::new(brotli::DecompressorWriter::new(
                engine_sink,
                BROTLI_BUF,
            ))),
        };
        let raw = (outermost && limits.keep && coding != Coding::Identity).then(Vec::new);
        ContentDecoder {
            engine,
            sink,
            raw,
            raw_len: 0,
            limits,
            error: false,
            capped: false,
        }
    }

    /// `len` body bytes were lost in a capture gap: they count in the length, but a coded
    /// body can no longer be decoded (raw counting from now on).
    pub fn gap(&mut self, len: u64) {
        self.raw_len = self.raw_len.saturating_add(len);
        match self.engine {
            Engine::Identity => self.sink.len = self.sink.len.saturating_add(len),
            Engine::Finished | Engine::Failed => {}
            _ => {
                self.error = true;
                self.engine = Engine::Failed;
            }
        }
    }

    /// Feed raw (de-chunked) body bytes.
    pub fn write(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        self.raw_len = self.raw_len.saturating_add(data.len() as u64);
        if let Some(raw) = self.raw.as_mut() {
            let room = self.limits.body_cap.saturating_sub(raw.len());
            raw.extend_from_slice(data.get(..room.min(data.len())).unwrap_or_default());
        }
        let res = match &mut self.engine {
            Engine::Identity => {
                self.sink.push(data);
                Ok(false)
            }
            Engine::DeflatePending(head, n) => {
                let mut rest = data;
                while *n < 2 {
                    match rest.split_first() {
                        Some((&b, r)) => {
                            if let Some(slot) = head.get_mut(*n) {
                                *slot = b;
                            }
                            *n += 1;
                            rest = r;
                        }
                        None => return,
                    }
                }
                let head = *head;
                let cmf = u16::from(head[0]);
                let flg = u16::from(head[1]);
                let zlib = cmf & 0x0f == 8 && (cmf * 256 + flg) % 31 == 0;
                let mut s = self.sink.empty_like();
                s.next = self.sink.next.take();
                let format = if zlib { Format::Zlib } else { Format::Raw };
                self.engine = Engine::Inflate(Box::new(Inflate::new(format, s)));
                self.feed_engine(&head).and_then(|done| {
                    if done {
                        Ok(true)
                    } else {
                        self.feed_engine(rest)
                    }
                })
            }
            _ => self.feed_engine(data),
        };
        self.after(res);
    }

    fn after(&mut self, res: io::Result<bool>) {
        match res {
            Ok(true) => {
                self.take_engine_output();
                self.engine = Engine::Finished;
            }
            Ok(false) => {}
            Err(_) => {
                let inner_capped = |s: &Sink| s.next.as_ref().is_some_and(|n| n.capped);
                if self
                    .engine_sink()
                    .is_some_and(|s| s.hit_max || inner_capped(s))
                {
                    self.capped = true;
                }
                self.error = true;
                self.engine = Engine::Failed;
            }
        }
    }

    /// Move a compressed engine's output into `self.sink`.
    fn take_engine_output(&mut self) {
        if let Some(s) = self.engine_sink() {
            let s = std::mem::replace(s, Sink::zero());
            self.sink.merge(s);
        }
    }

    /// Feed the compressed engine; `Ok(true)` when the compressed stream ended.
    fn feed_engine(&mut self, mut data: &[u8]) -> io::Result<bool> {
        while !data.is_empty() {
            let n = match &mut self.engine {
                Engine::Inflate(d) => return d.write(data),
                Engine::Brotli(d) => d.write(data)?,
                _ => return Ok(false),
            };
            if n == 0 {
                return Ok(true);
            }
            data = data.get(n..).unwrap_or_default();
        }
        Ok(false)
    }

    fn engine_sink(&mut self) -> Option<&mut Sink> {
        match &mut self.engine {
            Engine::Inflate(d) => Some(&mut d.sink),
            Engine::Brotli(d) => Some(d.get_mut()),
            _ => None,
        }
    }

    /// Finish the body. `complete`: the body ended normally (not truncated), so an
    /// unfinished compressed stream is reported as a decode error.
    pub fn finish(mut self) -> BodyResult {
        let mut error = self.error;
        // Flush what the engine still holds.
        let flushed = match &mut self.engine {
            Engine::Inflate(d) => {
                if d.complete() {
                    Ok(())
                } else {
                    Err(io::Error::other("incomplete compressed stream"))
                }
            }
            Engine::Brotli(d) => d.flush(),
            _ => Ok(()),
        };
        if flushed.is_err() && self.engine_sink().is_some_and(|s| s.len == 0) && self.raw_len > 0 {
            // Nothing at all decoded: not this coding.
            error = true;
        }
        let mut capped = self.capped;
        if let Engine::DeflatePending(_, n) = self.engine {
            if n > 0 {
                error = true;
            }
        }
        self.take_engine_output();
        // A stack: the inner layers finish too; their failure fails the whole body.
        let inner = self.sink.next.take().map(|n| n.finish());
        if let Some(r) = &inner {
            if r.decode_error {
                error = true;
                capped |= r.capped;
            }
        }
        if error {
            let raw = self.raw.take();
            let raw_capped = self.limits.keep && self.raw_len > self.limits.body_cap as u64;
            return BodyResult {
                len: self.raw_len,
                raw_len: self.raw_len,
                body: raw.or_else(|| self.limits.keep.then(Vec::new)),
                capped: capped || raw_capped,
                decode_error: true,
            };
        }
        capped |= self.sink.capped;
        if let Some(r) = inner {
            return BodyResult {
                len: r.len,
                raw_len: self.raw_len,
                body: r.body,
                capped: capped || r.capped,
                decode_error: false,
            };
        }
        BodyResult {
            len: self.sink.len,
            raw_len: self.raw_len,
            body: self.sink.body.take(),
            capped,
            decode_error: false,
        }
    }
}

impl Sink {
    fn empty_like(&self) -> Sink {
        Sink {
            len: 0,
            max_len: self.max_len,
            body: self.body.as_ref().map(|_| Vec::new()),
            body_cap: self.body_cap,
            capped: false,
            hit_max: false,
            next: None,
        }
    }

    fn zero() -> Sink {
        Sink {
            len: 0,
            max_len: 0,
            body: None,
            body_cap: 0,
            capped: false,
            hit_max: false,
            next: None,
        }
    }

    /// Take over a finished engine's output (this sink was unused for coded bodies).
    fn merge(&mut self, other: Sink) {
        self.len = other.len;
        self.body = other.body;
        self.capped = other.capped;
        self.next = other.next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dechunk(input: &[u8], split: usize) -> (Vec<u8>, ChunkStatus) {
        let mut c = Chunked::new();
        let mut out = Vec::new();
        let (a, b) = input.split_at(split.min(input.len()));
        let mut st = c.feed(a, &mut |d| out.extend_from_slice(d));
        if st == ChunkStatus::Partial {
            st = match c.feed(b, &mut |d| out.extend_from_slice(d)) {
                ChunkStatus::Done(n) => ChunkStatus::Done(n + a.len()),
                ChunkStatus::Error(n, e) => ChunkStatus::Error(n + a.len(), e),
                p => p,
            };
        }
        (out, st)
    }

    #[test]
    fn chunked_with_extensions_and_trailers() {
        let input =
            b"4;name=v\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-T: 1\r\n\r\nNEXT";
        for split in 0..input.len() {
            let (out, st) = dechunk(input, split);
            assert_eq!(out, b"Wikipedia in\r\n\r\nchunks.", "split {split}");
            assert_eq!(st, ChunkStatus::Done(input.len() - 4), "split {split}");
        }
    }

    #[test]
    fn chunked_bare_lf_and_upper_hex() {
        let (out, st) = dechunk(b"A\nabcdefghij\n0\n\n", 3);
        assert_eq!(out, b"abcdefghij");
        assert_eq!(st, ChunkStatus::Done(16));
    }

    #[test]
    fn chunk_size_overflow_is_an_error() {
        let input = b"10000000000000000\r\n\r\n";
        let (out, st) = dechunk(input, 5);
        assert!(out.is_empty());
        assert_eq!(st, ChunkStatus::Error(17, ParseError::ChunkSizeOverflow));
        let (_, st) = dechunk(b"zz\r\n", 0);
        assert_eq!(st, ChunkStatus::Error(1, ParseError::BadChunkSize));
    }

    #[test]
    fn chunk_gap_skip() {
        let mut c = Chunked::new();
        let mut out = Vec::new();
        assert_eq!(
            c.feed(b"a\r\n0123", &mut |d| out.extend_from_slice(d)),
            ChunkStatus::Partial
        );
        assert_eq!(c.data_remaining(), 6);
        c.skip_data(6);
        assert_eq!(
            c.feed(b"\r\n0\r\n\r\n", &mut |d| out.extend_from_slice(d)),
            ChunkStatus::Done(7)
        );
        assert_eq!(out, b"0123");
    }

    fn limits() -> DecodeLimits {
        DecodeLimits {
            keep: true,
            body_cap: 1 << 20,
            decoded_cap: 64 << 20,
        }
    }

    fn decode(coding: Coding, data: &[u8], step: usize) -> BodyResult {
        let mut d = ContentDecoder::new(coding, limits());
        for part in data.chunks(step.max(1)) {
            d.write(part);
        }
        d.finish()
    }

    fn compress(kind: &str, data: &[u8]) -> Vec<u8> {
        use flate2::Compression;
        match kind {
            "gzip" => {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), Compression::default());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            "zlib" => {
                let mut e = flate2::write::ZlibEncoder::new(Vec::new(), Compression::default());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            "raw" => {
                let mut e = flate2::write::DeflateEncoder::new(Vec::new(), Compression::default());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            _ => {
                let mut out = Vec::new();
                {
                    let mut w = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
                    w.write_all(data).unwrap();
                }
                out
            }
        }
    }

    #[test]
    fn x_gzip_sample_from_zeek_decodes_to_19_bytes() {
        let wire: &[u8] = b"\x1f\x8b\x08\x00'\x85\xcdW\x02\xffs\xcdK\xceOIMQH\xaf\xca,P\xc8HMLI-\x02\x00\x9c>\xe6\x02\x13\x00\x00\x00";
        assert_eq!(wire.len(), 39);
        for step in [1, 2, 7, 39] {
            let r = decode(Coding::Gzip, wire, step);
            assert_eq!(r.len, 19);
            assert_eq!(r.raw_len, 39);
            assert_eq!(r.body.as_deref(), Some(&b"Encoded gzip header"[..]));
            assert!(!r.decode_error);
        }
    }

    #[test]
    fn all_codings_roundtrip_at_any_step() {
        let text: Vec<u8> = (0..5000u32)
            .map(|i| b"abcdefghij"[(i * 7 % 10) as usize])
            .collect();
        for (kind, coding) in [
            ("gzip", Coding::Gzip),
            ("zlib", Coding::Deflate),
            ("raw", Coding::Deflate),
            ("br", Coding::Brotli),
        ] {
            let z = compress(kind, &text);
            for step in [1, 3, 100, z.len()] {
                let r = decode(coding, &z, step);
                assert!(!r.decode_error, "{kind} step {step}");
                assert_eq!(r.len, 5000, "{kind} step {step}");
                assert_eq!(r.raw_len, z.len() as u64);
                assert_eq!(r.body.as_deref(), Some(&text[..]));
            }
        }
    }

    #[test]
    fn garbage_falls_back_to_raw() {
        let r = decode(Coding::Gzip, b"this is not gzip at all", 4);
        assert!(r.decode_error);
        assert_eq!(r.len, 23);
        assert_eq!(r.body.as_deref(), Some(&b"this is not gzip at all"[..]));
        let r = decode(Coding::Brotli, b"\xff\xff\xff\xff\xff\xff", 1);
        assert!(r.decode_error);
        assert_eq!(r.len, 6);
    }

    #[test]
    fn decoded_cap_stops_bombs() {
        let z = compress("gzip", &vec![0u8; 1 << 20]);
        let mut d = ContentDecoder::new(
            Coding::Gzip,
            DecodeLimits {
                keep: false,
                body_cap: 0,
                decoded_cap: 1000,
            },
        );
        d.write(&z);
        let r = d.finish();
        assert!(r.decode_error && r.capped);
        assert_eq!(r.len, z.len() as u64);
        assert_eq!(r.body, None);
    }

    #[test]
    fn body_cap_cuts_kept_body_but_counts_all() {
        let mut d = ContentDecoder::new(
            Coding::Identity,
            DecodeLimits {
                keep: true,
                body_cap: 4,
                decoded_cap: 1 << 20,
            },
        );
        d.write(b"abc");
        d.write(b"defg");
        let r = d.finish();
        assert_eq!((r.len, r.capped), (7, true));
        assert_eq!(r.body.as_deref(), Some(&b"abcd"[..]));
    }

    fn stacked(codings: &[Coding], data: &[u8], step: usize, lim: DecodeLimits) -> BodyResult {
        let mut list = Codings::default();
        for &c in codings {
            assert!(list.push(c));
        }
        let mut d = ContentDecoder::with_codings(&list, lim);
        for part in data.chunks(step.max(1)) {
            d.write(part);
        }
        d.finish()
    }

    #[test]
    fn stacked_codings_are_undone_in_reverse() {
        let text: Vec<u8> = (0..3000u32)
            .map(|i| b"stacked!"[(i * 5 % 8) as usize])
            .collect();
        // `Content-Encoding: gzip, br`: gzip first, then brotli over it.
        let gz = compress("gzip", &text);
        let wire = compress("br", &gz);
        // `deflate, gzip, br` with raw deflate innermost.
        let wire3 = compress("br", &compress("gzip", &compress("raw", &text)));
        // `gzip, deflate` with a zlib outer layer (the pending-deflate path holds the chain).
        let wire_z = compress("zlib", &gz);
        for (codings, w) in [
            (&[Coding::Gzip, Coding::Brotli][..], &wire),
            (&[Coding::Deflate, Coding::Gzip, Coding::Brotli][..], &wire3),
            (&[Coding::Gzip, Coding::Deflate][..], &wire_z),
        ] {
            for step in [1, 2, 7, 100, w.len()] {
                let r = stacked(codings, w, step, limits());
                assert!(!r.decode_error, "{codings:?} step {step}");
                assert_eq!(r.len, 3000, "{codings:?} step {step}");
                assert_eq!(r.raw_len, w.len() as u64);
                assert_eq!(r.body.as_deref(), Some(&text[..]));
                assert!(!r.capped);
            }
        }
        // The same bytes under one coding: brotli undone, the gzip stream counted as is.
        let r = stacked(&[Coding::Brotli], &wire, 3, limits());
        assert_eq!((r.len, r.decode_error), (gz.len() as u64, false));
        // Without keeping bodies only the lengths are produced.
        let lim = DecodeLimits {
            keep: false,
            ..limits()
        };
        let r = stacked(&[Coding::Gzip, Coding::Brotli], &wire, 5, lim);
        assert_eq!((r.len, r.body, r.decode_error), (3000, None, false));
    }

    #[test]
    fn stacked_inner_failure_counts_the_wire_bytes() {
        // The outer layer decodes fine but its output is not gzip.
        let wire = compress("br", b"plain text, not gzip");
        for step in [1, 4, wire.len()] {
            let r = stacked(&[Coding::Gzip, Coding::Brotli], &wire, step, limits());
            assert!(r.decode_error, "step {step}");
            assert_eq!(r.len, wire.len() as u64);
            assert_eq!(r.body.as_deref(), Some(&wire[..]));
        }
        // The outer layer fails.
        let r = stacked(
            &[Coding::Gzip, Coding::Brotli],
            b"\xff\xff\xffjunk",
            2,
            limits(),
        );
        assert!(r.decode_error);
        assert_eq!(r.len, 7);
    }

    #[test]
    fn stacked_bomb_hits_the_cap_in_the_inner_layer() {
        // 1 MiB of zeros, gzip'd (~1 KiB), then brotli: the outer layer stays small, the
        // inner one hits the decoded cap.
        let wire = compress("br", &compress("gzip", &vec![0u8; 1 << 20]));
        let lim = DecodeLimits {
            keep: false,
            body_cap: 0,
            decoded_cap: 10_000,
        };
        let r = stacked(&[Coding::Gzip, Coding::Brotli], &wire, 64, lim);
        assert!(r.decode_error && r.capped);
        assert_eq!(r.len, wire.len() as u64);
    }

    #[test]
    fn trailing_bytes_after_gzip_end_are_ignored() {
        let mut z = compress("gzip", b"hello");
        z.extend_from_slice(b"\r\n");
        let r = decode(Coding::Gzip, &z, 1);
        assert!(!r.decode_error);
        assert_eq!(r.len, 5);
    }

    /// A gzip member with every optional header field (extra, name, comment, header CRC),
    /// built by hand (flate2's builder writes no header CRC).
    fn gzip_full_header(data: &[u8], name_len: usize, hcrc_ok: bool) -> Vec<u8> {
        let mut h = vec![0x1f, 0x8b, 8, 0x02 | 0x04 | 0x08 | 0x10, 1, 2, 3, 4, 0, 3];
        h.extend_from_slice(&5u16.to_le_bytes());
        h.extend_from_slice(b"ab\0cd");
        h.extend(std::iter::repeat_n(b'n', name_len));
        h.push(0);
        h.extend_from_slice(b"a comment\0");
        let mut c = flate2::Crc::new();
        c.update(&h);
        let sum = c.sum() as u16 ^ u16::from(!hcrc_ok);
        h.extend_from_slice(&sum.to_le_bytes());
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        h.extend_from_slice(&e.finish().unwrap());
        let mut c = flate2::Crc::new();
        c.update(data);
        h.extend_from_slice(&c.sum().to_le_bytes());
        h.extend_from_slice(&(data.len() as u32).to_le_bytes());
        h
    }

    #[test]
    fn gzip_optional_header_fields_at_any_split() {
        let data = br#"{"id":1,"name":"x"}"#.repeat(50);
        let z = gzip_full_header(&data, 20, true);
        for step in [1, 2, 3, 7, 13, z.len()] {
            let r = decode(Coding::Gzip, &z, step);
            assert!(!r.decode_error, "step {step}");
            assert_eq!(r.body.as_deref(), Some(&data[..]), "step {step}");
        }
        // A wrong header CRC, a name at the length limit and one past it.
        assert!(decode(Coding::Gzip, &gzip_full_header(&data, 20, false), 5).decode_error);
        let at_limit = decode(Coding::Gzip, &gzip_full_header(&data, 65535, true), 4096);
        assert!(!at_limit.decode_error);
        assert_eq!(at_limit.len, data.len() as u64);
        assert!(decode(Coding::Gzip, &gzip_full_header(&data, 65536, true), 4096).decode_error);
        // Bad magic, method, reserved flags.
        for (i, b) in [(0, 0x1e), (2, 7), (3, 0x20)] {
            let mut z = compress("gzip", &data);
            z[i] = b;
            assert!(decode(Coding::Gzip, &z, 3).decode_error, "byte {i}");
        }
    }

    #[test]
    fn reused_inflate_states_start_clean() {
        // Leave more states than the pool keeps mid-stream (truncated, corrupt), then decode
        // every coding again: each must come out as from a fresh decoder.
        let data = br#"{"k":"v","n":[1,2,3]}"#.repeat(3000);
        for _ in 0..2 {
            let mut live = Vec::new();
            for kind in ["gzip", "zlib", "raw"] {
                let z = compress(kind, &data);
                let coding = if kind == "gzip" {
                    Coding::Gzip
                } else {
                    Coding::Deflate
                };
                for _ in 0..=super::super::inflate::POOL_MAX {
                    let mut d = ContentDecoder::new(coding, limits());
                    d.write(&z[..z.len() / 2]);
                    live.push(d);
                }
                let mut bad = z.clone();
                let mid = bad.len() / 2;
                bad[mid..].iter_mut().for_each(|b| *b ^= 0x5a);
                let _ = decode(coding, &bad, 1000);
            }
            drop(live);
            for kind in ["gzip", "zlib", "raw"] {
                let z = compress(kind, &data);
                let coding = if kind == "gzip" {
                    Coding::Gzip
                } else {
                    Coding::Deflate
                };
                let r = decode(coding, &z, 999);
                assert!(!r.decode_error, "{kind}");
                assert_eq!(r.body.as_deref(), Some(&data[..]), "{kind}");
            }
        }
    }
}
