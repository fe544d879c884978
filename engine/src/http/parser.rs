//! Lenient HTTP/1.x message-head parsing: start lines, header fields, framing headers.
//!
//! # Why not `httparse`
//!
//! `httparse` is strict by design and rejects things real peers send and that Zeek and
//! libhtp accept: a lower-case `http/1.1` version token, a request line without a version
//! (`GET /path` – HTTP/0.9, or the libhtp "missing protocol" case followed by headers),
//! `METHOD HTTP/1.1` with no target, spaces inside the target, header lines without a colon,
//! obs-fold continuation lines, non-numeric status codes (`2XX`) and bare `\n` line endings.
//! Rejecting any of those would lose the exchange, so this module is a small hand-written
//! parser over complete lines. It never allocates per byte: the caller accumulates one
//! message head in a reusable buffer, [`HeadScan`] finds its end resumably, the start line
//! is parsed into parts of that buffer, and the head becomes one
//! [`crate::exchange::MessageHead`] (a copy of its text with ranges for the parts, lossy
//! UTF-8: two allocations per message head).
//!
//! # Recognising HTTP by content
//!
//! [`sniff_request`] and [`sniff_response`] look at the first bytes of a message:
//! a request starts with a method token (ASCII letter first, then letters, digits, `-`, `_`;
//! at most [`MAX_METHOD_LEN`] bytes) followed by a space and a target; a response starts
//! with `HTTP/` in any case. To keep text protocols (SMTP `EHLO host`, FTP `USER x`) from
//! looking like HTTP/0.9, a version-less request line is only plausible when its target
//! starts with `/`; in strict mode (resynchronising after garbage) the line must end with
//! an `HTTP/` version token.

use crate::ascii::{self, eq_nocase};
use crate::exchange::HeadBuilder;
use memchr::memchr;

/// Longest method token accepted.
pub const MAX_METHOD_LEN: usize = 32;

/// A parse failure. Tiny and `Copy`, so it can be counted and returned cheaply; every kind
/// has its own counter ([`ParseErrorCounts`]).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Where a message should start, a line that starts no message (skipped to resync).
    NotAStartLine,
    /// The request line is not `METHOD SP target [SP version]`.
    BadRequestLine,
    /// The status line does not start with `HTTP/`.
    BadStatusLine,
    /// The header section exceeded the configured cap.
    HeadTooLarge,
    /// A chunk-size line has no hex digits or bad characters.
    BadChunkSize,
    /// A chunk size does not fit in 64 bits.
    ChunkSizeOverflow,
    /// A chunk-size line, chunk terminator or trailer section is too long.
    ChunkLineTooLong,
    /// The parser made no progress on its input (a bug guarded against: resynchronised).
    Stalled,
}

impl ParseError {
    /// Every kind, in counter order.
    pub const ALL: [ParseError; 8] = [
        ParseError::NotAStartLine,
        ParseError::BadRequestLine,
        ParseError::BadStatusLine,
        ParseError::HeadTooLarge,
        ParseError::BadChunkSize,
        ParseError::ChunkSizeOverflow,
        ParseError::ChunkLineTooLong,
        ParseError::Stalled,
    ];

    /// A short snake_case name (for logs and metric labels).
    pub fn as_str(self) -> &'static str {
        match self {
            ParseError::NotAStartLine => "not_a_start_line",
            ParseError::BadRequestLine => "bad_request_line",
            ParseError::BadStatusLine => "bad_status_line",
            ParseError::HeadTooLarge => "head_too_large",
            ParseError::BadChunkSize => "bad_chunk_size",
            ParseError::ChunkSizeOverflow => "chunk_size_overflow",
            ParseError::ChunkLineTooLong => "chunk_line_too_long",
            ParseError::Stalled => "stalled",
        }
    }
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ParseError::NotAStartLine => "a line that starts no HTTP message",
            ParseError::BadRequestLine => "malformed request line",
            ParseError::BadStatusLine => "malformed status line",
            ParseError::HeadTooLarge => "message head over the size cap",
            ParseError::BadChunkSize => "malformed chunk size",
            ParseError::ChunkSizeOverflow => "chunk size over 64 bits",
            ParseError::ChunkLineTooLong => "chunk line or trailer too long",
            ParseError::Stalled => "parser made no progress",
        })
    }
}

impl std::error::Error for ParseError {}

/// A counter per [`ParseError`] kind.
#[derive(Copy, Clone, Default, PartialEq, Eq)]
pub struct ParseErrorCounts([u64; ParseError::ALL.len()]);

impl ParseErrorCounts {
    /// Counts one error.
    pub fn count(&mut self, e: ParseError) {
        if let Some(c) = self.0.get_mut(e as usize) {
            *c += 1;
        }
    }

    /// How many errors of kind `e`.
    pub fn get(&self, e: ParseError) -> u64 {
        self.0.get(e as usize).copied().unwrap_or(0)
    }

    /// Adds `o` into `self`.
    pub fn add(&mut self, o: &ParseErrorCounts) {
        for (a, b) in self.0.iter_mut().zip(o.0) {
            *a += b;
        }
    }

    /// The total over every kind.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }
}

impl std::fmt::Debug for ParseErrorCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut m = f.debug_map();
        for e in ParseError::ALL {
            let n = self.get(e);
            if n > 0 {
                m.entry(&e.as_str(), &n);
            }
        }
        m.finish()
    }
}

/// What the first bytes of a message look like.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Plausibly an HTTP request.
    Request,
    /// Plausibly an HTTP response.
    Response,
    /// Neither.
    Neither,
    /// Not enough bytes to tell.
    NeedMore,
}

fn is_method_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Does `buf` start like an HTTP response (`HTTP/`, case-insensitive)?
pub fn sniff_response(buf: &[u8]) -> Verdict {
    const P: &[u8] = b"HTTP/";
    let n = buf.len().min(P.len());
    let (Some(have), Some(want)) = (buf.get(..n), P.get(..n)) else {
        return Verdict::Neither;
    };
    if !have.eq_ignore_ascii_case(want) {
        Verdict::Neither
    } else if n < P.len() {
        Verdict::NeedMore
    } else {
        Verdict::Response
    }
}

/// Does `buf` start with an HTTP status line? It must start with `HTTP/` and, once its line
/// is complete, carry a status code: a token starting with a digit (`2XX` is tolerated,
/// `HTTP/2 and ...` in prose is not); `strict` (when resynchronising inside garbage)
/// requires a version `HTTP/d[.d]` and exactly three digits.
pub fn sniff_status_line(buf: &[u8], strict: bool) -> Verdict {
    match sniff_response(buf) {
        Verdict::Response => {}
        v => return v,
    }
    let Some(nl) = memchr(b'\n', buf) else {
        return Verdict::NeedMore;
    };
    let line = trim_eol(buf.get(..nl).unwrap_or_default());
    // the common line: a digit right after the blank that ends the version is the code's
    // first (what the token split finds for it, without iterators; test
    // `plain_status_lines_parse_as_any`)
    if !strict {
        let w = line.iter().position(|&b| is_ws(b));
        if w.and_then(|w| line.get(w + 1))
            .is_some_and(u8::is_ascii_digit)
        {
            return Verdict::Response;
        }
    }
    status_tokens(line, strict)
}

/// [`sniff_status_line`]'s verdict on a complete line (without its line ending) that
/// starts like `HTTP/`, from its first two tokens.
fn status_tokens(line: &[u8], strict: bool) -> Verdict {
    let mut tokens = line.split(|&b| is_ws(b)).filter(|t| !t.is_empty());
    let version = tokens.next().unwrap_or_default();
    let code = tokens.next().unwrap_or_default();
    let ok = if strict {
        let v = version.get(5..).unwrap_or_default();
        let version_ok = match v {
            [a] => a.is_ascii_digit(),
            [a, b'.', b] => a.is_ascii_digit() && b.is_ascii_digit(),
            _ => false,
        };
        version_ok && code.len() == 3 && code.iter().all(u8::is_ascii_digit)
    } else {
        code.first().is_some_and(u8::is_ascii_digit)
    };
    if ok {
        Verdict::Response
    } else {
        Verdict::Neither
    }
}

/// Does `buf` start like an HTTP request line? `strict` additionally requires a trailing
/// `HTTP/` version token (used when resynchronising inside garbage).
pub fn sniff_request(buf: &[u8], strict: bool) -> Verdict {
    // Method token.
    let mut i = 0;
    while let Some(&b) = buf.get(i) {
        if b == b' ' {
            break;
        }
        let ok = if i == 0 {
            b.is_ascii_alphabetic()
        } else {
            is_method_char(b)
        };
        if !ok || i >= MAX_METHOD_LEN {
            return Verdict::Neither;
        }
        i += 1;
    }
    if i >= buf.len() {
        return Verdict::NeedMore;
    }
    if i == 0 {
        return Verdict::Neither;
    }
    // Spaces, then the first byte of the target.
    let mut j = i;
    while buf.get(j).copied().is_some_and(is_ws) {
        j += 1;
    }
    let Some(&first) = buf.get(j) else {
        return Verdict::NeedMore;
    };
    if first == b'\r' || first == b'\n' {
        return Verdict::Neither;
    }
    if first == b'/' && !strict {
        return Verdict::Request;
    }
    // Otherwise the line must end in a version token: need the whole line.
    let Some(rest) = buf.get(i..) else {
        return Verdict::Neither;
    };
    let Some(nl) = memchr(b'\n', rest) else {
        return Verdict::NeedMore;
    };
    let line = trim_eol(rest.get(..nl).unwrap_or_default());
    let last = line
        .rsplit(|&b| is_ws(b))
        .find(|t| !t.is_empty())
        .unwrap_or_default();
    if last.len() >= 5 && sniff_response(last) == Verdict::Response {
        Verdict::Request
    } else {
        Verdict::Neither
    }
}

/// `line` without its trailing `\r\n` / `\n` (and a lone trailing `\r`).
pub fn trim_eol(line: &[u8]) -> &[u8] {
    let l = line.strip_suffix(b"\n").unwrap_or(line);
    l.strip_suffix(b"\r").unwrap_or(l)
}

fn trim_ws(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if is_ws(*first) {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = s {
        if is_ws(*last) || *last == b'\r' {
            s = rest;
        } else {
            break;
        }
    }
    s
}

/// Progress of a scan over an accumulated message head.
#[derive(Copy, Clone, Debug, Default)]
pub struct HeadScan {
    /// Start of the first line not yet seen complete.
    pub line_start: usize,
    /// End (exclusive, after `\n`) of the start line, once complete.
    pub first_line_end: Option<usize>,
}

impl HeadScan {
    /// Resume scanning `buf` (which only ever grows) for the empty line that ends the head.
    /// Returns the length of the whole head (including the empty line) when complete.
    pub fn scan(&mut self, buf: &[u8]) -> Option<usize> {
        loop {
            let rest = buf.get(self.line_start..)?;
            let nl = memchr(b'\n', rest)?;
            let end = self.line_start + nl + 1;
            let line = trim_eol(rest.get(..=nl).unwrap_or_default());
            self.line_start = end;
            if self.first_line_end.is_none() {
                self.first_line_end = Some(end);
            } else if line.is_empty() {
                return Some(end);
            }
        }
    }
}

/// A parsed request line: parts of the line given to [`parse_request_line`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestLine<'a> {
    /// Method token.
    pub method: &'a [u8],
    /// Target as sent (may contain spaces; empty for `METHOD HTTP/1.1`).
    pub uri: &'a [u8],
    /// Version token, `None` for a version-less (HTTP/0.9 style) line.
    pub version: Option<&'a [u8]>,
    /// Something odd was tolerated.
    pub malformed: bool,
}

/// Does the request line `line` (without its line ending) end in a version token (its last
/// whitespace-separated token starts like `HTTP/`)? Exactly when this is true,
/// [`parse_request_line`] either fails or finds a version; when it is false, it either fails
/// or finds none. A cheap test (one reverse scan) for the parser's question "is this a
/// version-less request line?", asked of every request line before its head is complete:
/// the full parse cost ~800 instructions there, and the head is parsed again when complete.
pub(crate) fn ends_in_version(line: &[u8]) -> bool {
    split_version(trim_ws(line)).1.is_some()
}

/// `s` split before its last whitespace-separated token when that token is a version (starts
/// like `HTTP/`, as [`sniff_response`] tells): (what precedes it, trimmed; the version). Else
/// `(s, None)`. The one rule for "the request line ends in a version", for
/// [`parse_request_line`] and [`ends_in_version`].
fn split_version(s: &[u8]) -> (&[u8], Option<&[u8]>) {
    let (before, last) = match memchr::memrchr2(b' ', b'\t', s) {
        Some(p) => (
            trim_ws(s.get(..p).unwrap_or_default()),
            s.get(p + 1..).unwrap_or_default(),
        ),
        None => (&b""[..], s),
    };
    if sniff_response(last) == Verdict::Response {
        (before, Some(last))
    } else {
        (s, None)
    }
}

/// A method token: a letter, then letters, digits, `-` or `_`, at most [`MAX_METHOD_LEN`].
fn valid_method(method: &[u8]) -> bool {
    method.len() <= MAX_METHOD_LEN
        && method.first().is_some_and(u8::is_ascii_alphabetic)
        && method.iter().all(|&b| is_method_char(b))
}

/// A request line (trimmed) split at its first separator `sp`: the method token, checked,
/// and the rest, trimmed and not empty.
fn method_and_rest(line: &[u8], sp: Option<usize>) -> Result<(&[u8], &[u8]), ParseError> {
    let sp = sp.ok_or(ParseError::BadRequestLine)?;
    let method = line.get(..sp).ok_or(ParseError::BadRequestLine)?;
    if !valid_method(method) {
        return Err(ParseError::BadRequestLine);
    }
    let rest = trim_ws(line.get(sp..).unwrap_or_default());
    if rest.is_empty() {
        return Err(ParseError::BadRequestLine);
    }
    Ok((method, rest))
}

/// Parse a request line (without its line ending). Lenient: tabs or runs of spaces
/// separate tokens, the target is everything between method and a final `HTTP/` token.
/// The common shape takes [`request_line_plain`], any other line [`parse_request_line_any`].
pub fn parse_request_line(line: &[u8]) -> Result<RequestLine<'_>, ParseError> {
    let line = trim_ws(line);
    if let Some(r) = request_line_plain(line) {
        return Ok(r);
    }
    parse_request_line_any(line)
}

/// The request line almost every client sends, `METHOD SP target SP HTTP/…` with one space
/// each and no tab (`line` trimmed), split with two searches instead of a look at every
/// byte; `None` for any other line, which [`parse_request_line_any`] parses. When it gives
/// a line, the full parse gives the same one (test `plain_request_lines_parse_as_any`):
/// the method is checked as there, and every condition below is one under which its scan
/// finds exactly two separators, neither next to the other nor a tab.
fn request_line_plain(line: &[u8]) -> Option<RequestLine<'_>> {
    let sp = line
        .iter()
        .take(MAX_METHOD_LEN + 1)
        .position(|&b| b == b' ')?;
    let method = line.get(..sp)?;
    if !valid_method(method) {
        return None;
    }
    let rest = line.get(sp + 1..)?;
    let vs = memchr::memrchr(b' ', rest)?;
    let (uri, version) = (rest.get(..vs)?, rest.get(vs + 1..)?);
    // the full parse trims a carriage return off the target's end
    if uri.is_empty() || uri.last() == Some(&b'\r') || ascii::has_blank(uri) {
        return None;
    }
    if memchr(b'\t', version).is_some() || sniff_response(version) != Verdict::Response {
        return None;
    }
    Some(RequestLine {
        method,
        uri,
        version: Some(version),
        malformed: !version.starts_with(b"HTTP/"),
    })
}

/// [`parse_request_line`] for any line (`line` trimmed). The line is scanned once for what
/// the checks need (the first separator, a tab, two spaces in a row, how many separators):
/// a memchr per question cost more in setup than a line of a few dozen bytes costs to read.
fn parse_request_line_any(line: &[u8]) -> Result<RequestLine<'_>, ParseError> {
    let mut first_ws = None;
    let mut n_ws = 0usize;
    let mut malformed = false;
    let mut prev_space = false;
    for (i, &b) in line.iter().enumerate() {
        let space = b == b' ';
        if space || b == b'\t' {
            n_ws += 1;
            first_ws.get_or_insert(i);
            malformed |= !space || prev_space;
        }
        prev_space = space;
    }
    let (method, rest) = method_and_rest(line, first_ws)?;
    let (uri, version) = split_version(rest);
    if let Some(v) = version {
        // the separator after the method and the one before the version are two distinct
        // separators outside the target, so a target can hold one only when there are more
        let uri_ws = n_ws > 2 && memchr::memchr2(b' ', b'\t', uri).is_some();
        if !v.starts_with(b"HTTP/") || uri.is_empty() || uri_ws {
            malformed = true;
        }
    } else {
        malformed = true;
    }
    Ok(RequestLine {
        method,
        uri,
        version,
        malformed,
    })
}

/// A parsed status line: parts of the line given to [`parse_status_line`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatusLine<'a> {
    /// Version token as sent.
    pub version: &'a [u8],
    /// Numeric status code, if the token was three digits.
    pub status: Option<u16>,
    /// Status code token as sent.
    pub status_text: &'a [u8],
    /// Reason phrase.
    pub reason: &'a [u8],
    /// Something odd was tolerated.
    pub malformed: bool,
}

/// Parse a status line (without its line ending).
pub fn parse_status_line(line: &[u8]) -> Result<StatusLine<'_>, ParseError> {
    let line = trim_ws(line);
    if sniff_response(line) != Verdict::Response {
        return Err(ParseError::BadStatusLine);
    }
    if let Some(st) = status_line_plain(line) {
        return Ok(st);
    }
    Ok(parse_status_line_any(line))
}

/// The status line almost every server sends, `HTTP/x.y SP ddd [SP reason]` (`line`
/// trimmed, starting like `HTTP/`): the version ends at the first blank and three digits
/// follow it. Split without iterators; `None` for any other line. What it gives is what
/// [`parse_status_line_any`] gives (test `plain_status_lines_parse_as_any`).
fn status_line_plain(line: &[u8]) -> Option<StatusLine<'_>> {
    let w = line.iter().position(|&b| is_ws(b))?;
    let version = line.get(..w)?;
    let rest = line.get(w + 1..)?;
    let &[a, b, c] = rest.first_chunk::<3>()?;
    if ![a, b, c].iter().all(u8::is_ascii_digit) || !rest.get(3).copied().is_none_or(is_ws) {
        return None;
    }
    let digit = |d: u8| u16::from(d - b'0');
    Some(StatusLine {
        version,
        status: Some(digit(a) * 100 + digit(b) * 10 + digit(c)),
        status_text: rest.get(..3)?,
        reason: trim_ws(rest.get(4..).unwrap_or_default()),
        malformed: !version.starts_with(b"HTTP/"),
    })
}

/// [`parse_status_line`] for any line (`line` trimmed, starting like `HTTP/`).
fn parse_status_line_any(line: &[u8]) -> StatusLine<'_> {
    let mut parts = line.splitn(2, |&b| is_ws(b));
    let version = parts.next().unwrap_or_default();
    let rest = trim_ws(parts.next().unwrap_or_default());
    let mut parts = rest.splitn(2, |&b| is_ws(b));
    let code = parts.next().unwrap_or_default();
    let reason = trim_ws(parts.next().unwrap_or_default());
    let status = if code.len() == 3 && code.iter().all(u8::is_ascii_digit) {
        std::str::from_utf8(code)
            .ok()
            .and_then(|s| s.parse::<u16>().ok())
    } else {
        None
    };
    let malformed = status.is_none() || !version.starts_with(b"HTTP/");
    StatusLine {
        version,
        status,
        status_text: code,
        reason,
        malformed,
    }
}

/// Parse header lines (`lines` holds whole lines, each ending in `\n`; a final empty line is
/// ignored) into `head` (`lines` is part of its source). Continuation lines (obs-fold) are
/// appended to the previous value with one space; lines without a colon are skipped.
/// Returns whether anything was odd, and the head's [`framing`].
///
/// The framing is gathered as the fields go by (a second pass over the head's fields cost
/// ~500 instructions per response) and is what [`framing`] gives for the finished head's
/// fields: the names it looks for are ASCII, so comparing the bytes as sent answers as
/// comparing their text does; where the field's text could differ from its bytes (a folded
/// line, a value that is not UTF-8) or the head had fields before (headers after a
/// version-less request line), [`framing`] runs on the finished head instead (test
/// `framing_while_parsing_is_framing_after`).
pub(crate) fn parse_headers(lines: &[u8], head: &mut HeadBuilder<'_>) -> (bool, Framing) {
    let mut malformed = false;
    let mut scan = FramingScan::default();
    let mut exact = head.head().header_count() == 0;
    let mut rest = lines;
    while !rest.is_empty() {
        // this runs on every message head: the line's end and its colon in one pass
        let (end, colon) = line_and_colon(rest);
        let raw = rest.get(..end).unwrap_or_default();
        rest = rest.get(end..).unwrap_or_default();
        let line = trim_eol(raw);
        if line.is_empty() {
            continue;
        }
        if line.first().is_some_and(|&b| is_ws(b)) {
            let v = trim_ws(line);
            if !v.is_empty() {
                head.fold(v);
            }
            malformed = true;
            exact = false;
            continue;
        }
        match colon {
            Some(c) => {
                let name = trim_ws(line.get(..c).unwrap_or_default());
                let value = trim_ws(line.get(c + 1..).unwrap_or_default());
                if name.is_empty() || name.len() != line.get(..c).map_or(0, <[u8]>::len) {
                    malformed = true;
                }
                if FramingScan::may_frame(name) {
                    match std::str::from_utf8(value) {
                        Ok(v) => scan.field(name, v),
                        Err(_) => exact = false,
                    }
                }
                head.push(name, value);
            }
            None => malformed = true,
        }
    }
    let framing = if exact {
        scan.finish()
    } else {
        framing(head.head().headers())
    };
    (malformed, framing)
}

/// The first line of `rest`: where it ends (after its `\n`, or the end of `rest`) and the
/// index of its first `:`, found in one pass eight bytes at a time. Header lines are mostly
/// 20–40 bytes, where two `memchr` calls per line (one for the line feed, one for the colon)
/// cost more than this loop.
#[inline]
fn line_and_colon(rest: &[u8]) -> (usize, Option<usize>) {
    let mut colon = None;
    let mut i = 0;
    while let Some(chunk) = rest.get(i..).and_then(<[u8]>::first_chunk) {
        let x = ascii::word(chunk);
        // only the lowest flag of each mask is read (see `ascii::flags`)
        let nl = ascii::flags(x, b'\n');
        if colon.is_none() {
            let cm = ascii::flags(x, b':');
            if cm != 0 && (nl == 0 || cm.trailing_zeros() < nl.trailing_zeros()) {
                colon = Some(i + cm.trailing_zeros() as usize / 8);
            }
        }
        if nl != 0 {
            return (i + nl.trailing_zeros() as usize / 8 + 1, colon);
        }
        i += 8;
    }
    while let Some(&b) = rest.get(i) {
        if b == b'\n' {
            return (i + 1, colon);
        }
        if b == b':' && colon.is_none() {
            colon = Some(i);
        }
        i += 1;
    }
    (rest.len(), colon)
}

/// Room to reserve for the header fields of `lines`: an estimate from the length (one field
/// per 24 bytes, plus one), not a count. Counting the line feeds (a memchr count) cost ~200
/// instructions per head, more than the reallocation an underestimate costs now and then
/// (typical header lines are 20–40 bytes, browsers' longer); the estimate is bounded by the
/// head cap (64 KiB / 24 fields of 16 bytes: ~43 KiB), and the vector is transient.
pub(crate) fn field_room(lines: &[u8]) -> usize {
    lines.len() / 24 + 1
}

/// Content codings understood for decoding.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum Coding {
    /// No (or an unknown) coding: bytes are counted as they are.
    #[default]
    Identity,
    /// `gzip` / `x-gzip`.
    Gzip,
    /// `deflate` (zlib-wrapped or raw; detected from the first bytes).
    Deflate,
    /// `br`.
    Brotli,
}

/// Most content codings decoded on one body (more, and the body is counted raw).
pub const MAX_CODINGS: usize = 4;

/// The content codings of a body in the order they were applied (`Content-Encoding: gzip,
/// br` is gzip, then brotli: decoding undoes them in reverse). Empty: count bytes as sent.
/// `identity` entries are dropped; an unknown coding, or more than [`MAX_CODINGS`], empty
/// the list (what cannot be undone completely is counted raw).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub struct Codings {
    list: [Coding; MAX_CODINGS],
    len: u8,
}

impl Codings {
    /// No coding to undo.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// A list of one coding (empty for [`Coding::Identity`]).
    pub fn one(c: Coding) -> Codings {
        let mut l = Codings::default();
        if c != Coding::Identity {
            l.list[0] = c;
            l.len = 1;
        }
        l
    }

    /// The codings, first applied first.
    pub fn as_slice(&self) -> &[Coding] {
        self.list.get(..usize::from(self.len)).unwrap_or_default()
    }

    /// Append `c`; false if the list is full.
    pub fn push(&mut self, c: Coding) -> bool {
        match self.list.get_mut(usize::from(self.len)) {
            Some(slot) => {
                *slot = c;
                self.len += 1;
                true
            }
            None => false,
        }
    }
}

/// Body-relevant facts from a header list.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub struct Framing {
    /// `Transfer-Encoding` names `chunked`.
    pub chunked: bool,
    /// A valid `Content-Length`.
    pub content_length: Option<u64>,
    /// A `Content-Length` was present but invalid, overflowing, or contradictory.
    pub bad_content_length: bool,
    /// The content codings to undo.
    pub codings: Codings,
}

/// Parse a Content-Length value: optional surrounding whitespace, decimal digits only, fits
/// in 63 bits (larger values are treated as invalid, like libhtp).
pub fn parse_content_length(v: &str) -> Option<u64> {
    // one pass (this runs on most messages): blanks, digits, blanks
    let b = v.as_bytes();
    let start = b.iter().position(|&c| c != b' ' && c != b'\t')?;
    let mut n: u64 = 0;
    let mut i = start;
    while let Some(&c) = b.get(i) {
        if !c.is_ascii_digit() {
            break;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
        i += 1;
    }
    let rest = b.get(i..).unwrap_or_default();
    if i == start || !rest.iter().all(|&c| c == b' ' || c == b'\t') {
        return None;
    }
    Some(n).filter(|&n| n <= i64::MAX as u64)
}

/// Extract framing facts from headers.
pub fn framing<'a>(headers: impl IntoIterator<Item = (&'a str, &'a str)>) -> Framing {
    let mut scan = FramingScan::default();
    for (name, value) in headers {
        scan.field(name.as_bytes(), value);
    }
    scan.finish()
}

/// [`framing`] one field at a time.
#[derive(Default)]
struct FramingScan {
    f: Framing,
    /// Some coding could not be undone (unknown, or too many).
    undecodable: bool,
}

impl FramingScan {
    /// Could a field named `name` bear on the framing? (A length test first: the three
    /// names are 14, 16 and 17 bytes long.)
    #[inline]
    fn may_frame(name: &[u8]) -> bool {
        matches!(name.len(), 14 | 16 | 17)
    }

    fn field(&mut self, nb: &[u8], value: &str) {
        let f = &mut self.f;
        if eq_nocase(nb, b"transfer-encoding") {
            if value
                .split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("chunked"))
            {
                f.chunked = true;
            }
        } else if eq_nocase(nb, b"content-length") {
            // A comma-separated list of identical values is tolerated (RFC 9110 8.6).
            let mut this = None;
            let mut bad = false;
            for part in value.split(',') {
                match (parse_content_length(part), this) {
                    (Some(n), None) => this = Some(n),
                    (Some(n), Some(m)) if n == m => {}
                    _ => bad = true,
                }
            }
            match (this, f.content_length) {
                (Some(n), None) if !bad => f.content_length = Some(n),
                (Some(n), Some(m)) if !bad && n == m => {}
                _ => f.bad_content_length = true,
            }
        } else if eq_nocase(nb, b"content-encoding") {
            for t in value.split(',') {
                let t = t.trim();
                if t.is_empty() || t.eq_ignore_ascii_case("identity") {
                    continue;
                }
                let c = if t.eq_ignore_ascii_case("gzip") || t.eq_ignore_ascii_case("x-gzip") {
                    Coding::Gzip
                } else if t.eq_ignore_ascii_case("deflate") {
                    Coding::Deflate
                } else if t.eq_ignore_ascii_case("br") {
                    Coding::Brotli
                } else {
                    Coding::Identity
                };
                if c == Coding::Identity || !f.codings.push(c) {
                    self.undecodable = true;
                }
            }
        }
    }

    fn finish(mut self) -> Framing {
        if self.undecodable {
            self.f.codings = Codings::default();
        }
        if self.f.bad_content_length {
            self.f.content_length = None;
        }
        self.f
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::MessageHead;

    fn s(b: &[u8]) -> &str {
        std::str::from_utf8(b).unwrap()
    }

    /// The head `parse_headers` makes of `lines`, and whether they were malformed.
    fn headers(lines: &[u8]) -> (Vec<(String, String)>, bool) {
        let mut b = HeadBuilder::new(lines, field_room(lines));
        let (bad, _) = parse_headers(lines, &mut b);
        let h = b.finish();
        let v = h
            .headers()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        (v, bad)
    }

    #[test]
    fn sniffing() {
        assert_eq!(sniff_response(b"HT"), Verdict::NeedMore);
        assert_eq!(sniff_response(b"http/1.1 200"), Verdict::Response);
        assert_eq!(sniff_response(b"HTTX/"), Verdict::Neither);
        assert_eq!(
            sniff_request(b"GET / HTTP/1.1\r\n", false),
            Verdict::Request
        );
        assert_eq!(sniff_request(b"GE", false), Verdict::NeedMore);
        assert_eq!(sniff_request(b"GET ", false), Verdict::NeedMore);
        assert_eq!(sniff_request(b"GET /", false), Verdict::Request);
        assert_eq!(sniff_request(b"GET /", true), Verdict::NeedMore);
        assert_eq!(sniff_request(b"GET /x\r\n", true), Verdict::Neither);
        assert_eq!(sniff_request(b"GET /x http/1.0\n", true), Verdict::Request);
        assert_eq!(sniff_request(b"CONNECT h:443", false), Verdict::NeedMore);
        assert_eq!(
            sniff_request(b"CONNECT h:443 HTTP/1.1\r\n", false),
            Verdict::Request
        );
        assert_eq!(sniff_request(b"EHLO host\r\n", false), Verdict::Neither);
        assert_eq!(sniff_request(b"220 ready\r\n", false), Verdict::Neither);
        assert_eq!(sniff_request(b"GET/ HTTP/1.1\n", false), Verdict::Neither);
        assert_eq!(sniff_request(b"OPTIONS\n", false), Verdict::Neither);
        assert_eq!(
            sniff_request(b"HTTP/1.1 200 OK\r\n", false),
            Verdict::Neither
        );
        assert_eq!(
            sniff_request("ÃÂÃ / HTTP/1.".as_bytes(), false),
            Verdict::Neither
        );
        assert_eq!(
            sniff_request(b"CCM_POST / HTTP/1.\n", false),
            Verdict::Request
        );
        assert_eq!(
            sniff_request(b"OPTIONS * HTTP/1.1\n", false),
            Verdict::Request
        );
        assert_eq!(
            sniff_request(b"OPTIONS HTTP/1.1\n", false),
            Verdict::Request
        );
    }

    #[test]
    fn ends_in_version_agrees_with_the_request_line_parser() {
        for l in [
            &b""[..],
            b"GET / HTTP/1.1",
            b"GET /",
            b"GET /x y",
            b"GET /HTTP/1.1",
            b"GET / http/1.0",
            b"GET / HTTP/",
            b"GET / HTTP",
            b"GET /a b HTTP/1.1",
            b"GET\t/t\tHTTP/1.1",
            b"  GET  /t  HTTP/1.1 \t\r",
            b"OPTIONS HTTP/1.1",
            b"OPTIONSHTTP/1.1",
            b"HTTP/1.1",
            b"GET/ HTTP/1.1",
            b"GET / HTTP/1.1 x",
            b"1GET / HTTP/1.1",
        ] {
            let parsed = parse_request_line(l);
            let has = ends_in_version(l);
            assert!(
                parsed.as_ref().map_or(true, |r| r.version.is_some() == has),
                "{:?}: {parsed:?}, ends_in_version {has}",
                s(l)
            );
        }
        assert!(ends_in_version(b"GET / HTTP/1.1"));
        assert!(!ends_in_version(b"GET /x"));
    }

    /// The request-line parser as it was before its single-pass scan (a memchr per
    /// question; the method check it shared is [`method_and_rest`]): the reference
    /// [`parse_request_line`] must agree with.
    fn reference_parse_request_line(line: &[u8]) -> Result<RequestLine<'_>, ParseError> {
        let line = trim_ws(line);
        let (method, rest) = method_and_rest(line, memchr::memchr2(b' ', b'\t', line))?;
        let mut malformed = memchr(b'\t', line).is_some()
            || memchr::memchr_iter(b' ', line).any(|i| line.get(i + 1) == Some(&b' '));
        let (uri, version) = split_version(rest);
        if let Some(v) = version {
            if !v.starts_with(b"HTTP/")
                || uri.is_empty()
                || memchr::memchr2(b' ', b'\t', uri).is_some()
            {
                malformed = true;
            }
        } else {
            malformed = true;
        }
        Ok(RequestLine {
            method,
            uri,
            version,
            malformed,
        })
    }

    /// Every line of a small grid of request-line shapes (13,392 lines: separators of each
    /// kind around and inside the target, versions and their look-alikes) parses as the
    /// reference parses it: the deterministic half of the check below.
    #[test]
    fn request_line_grid_agrees_with_the_reference() {
        // no piece, one piece, or two pieces in a row
        const PIECES: [&str; 5] = ["/a", " ", "b", "\t", "/a b"];
        let mut targets = vec![String::new()];
        targets.extend(PIECES.map(String::from));
        targets.extend(
            PIECES
                .iter()
                .flat_map(|a| PIECES.map(|b| format!("{a}{b}"))),
        );
        let mut n = 0;
        for pre in ["", " "] {
            for method in ["GET", "1X", ""] {
                for s1 in [" ", "  ", "\t"] {
                    for target in &targets {
                        for s2 in ["", " ", "\t"] {
                            for version in ["", "HTTP/1.1", "http/1.0", "HTTP"] {
                                for post in ["", " \r"] {
                                    let mut l = [pre, method, s1].concat().into_bytes();
                                    l.extend(target.bytes());
                                    l.extend([s2, version, post].concat().bytes());
                                    assert_eq!(
                                        parse_request_line(&l),
                                        reference_parse_request_line(&l),
                                        "{:?}",
                                        String::from_utf8_lossy(&l)
                                    );
                                    n += 1;
                                }
                            }
                        }
                    }
                }
            }
        }
        assert_eq!(n, 13_392);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]
        /// The single-pass parser gives what the reference gives: on lines shaped like
        /// request lines (method, separators, target pieces, version) and on free mixes of
        /// the pieces that matter.
        #[test]
        fn request_line_agrees_with_the_reference(
            shaped in (
                proptest::sample::select(vec![&b""[..], b" ", b"\t"]),
                proptest::sample::select(vec![&b""[..], b"GET", b"get", b"M-1_x", b"1X", b"OPTIONS"]),
                proptest::sample::select(vec![&b""[..], b" ", b"  ", b"\t", b" \t", b"\t "]),
                proptest::collection::vec(
                    proptest::sample::select(vec![&b"/"[..], b"/a", b"b", b" ", b"\t", b"*", b"?q=1"]),
                    0..4,
                ),
                proptest::sample::select(vec![&b""[..], b" ", b"  ", b"\t", b" \t"]),
                proptest::sample::select(vec![&b""[..], b"HTTP/1.1", b"http/1.0", b"HTTP/", b"HTTP", b"HTTP/1.1 x"]),
                proptest::sample::select(vec![&b""[..], b" ", b"\r", b" \t\r"]),
            ),
            free in proptest::collection::vec(
                proptest::sample::select(vec![
                    &b" "[..], b"  ", b"\t", b" \t", b"GET", b"get", b"M-1_x", b"1",
                    b"/", b"/a", b"b", b"?q=1", b"HTTP/1.1", b"http/1.0", b"HTTP/", b"HTTP",
                    b"\r", b"*", b"\xc3\xa4",
                ]),
                0..10,
            )
        ) {
            let (pre, method, s1, target, s2, version, post) = shaped;
            let mut line = [pre, method, s1].concat();
            line.extend(target.concat());
            line.extend([s2, version, post].concat());
            for l in [line, free.concat()] {
                proptest::prop_assert_eq!(
                    parse_request_line(&l),
                    reference_parse_request_line(&l),
                    "{:?}", String::from_utf8_lossy(&l)
                );
            }
        }
    }

    #[test]
    fn request_lines() {
        let r = parse_request_line(b"GET /a b HTTP/1.1").unwrap();
        assert_eq!((s(r.method), s(r.uri)), ("GET", "/a b"));
        assert_eq!(r.version.map(s), Some("HTTP/1.1"));
        assert!(r.malformed);
        let r = parse_request_line(b"GET /HTTP/1.1").unwrap();
        assert_eq!((s(r.uri), r.version.map(s)), ("/HTTP/1.1", None));
        let r = parse_request_line(b"OPTIONS HTTP/1.1").unwrap();
        assert_eq!((s(r.uri), r.version.map(s)), ("", Some("HTTP/1.1")));
        let r = parse_request_line(b"get /x http/1.0").unwrap();
        assert_eq!((s(r.method), r.version.map(s)), ("get", Some("http/1.0")));
        assert!(r.malformed);
        let r = parse_request_line(b"QUERY /users HTTP/1.1").unwrap();
        assert!(!r.malformed);
        assert_eq!(
            parse_request_line(b"OPTIONSHTTP/1.1"),
            Err(ParseError::BadRequestLine)
        );
        assert_eq!(
            parse_request_line(b"GET/ HTTP/1.1"),
            Err(ParseError::BadRequestLine)
        );
        assert_eq!(parse_request_line(b""), Err(ParseError::BadRequestLine));
        // tabs and runs of spaces separate tokens, and make the line malformed
        for (line, uri, malformed) in [
            (&b"GET\t/t HTTP/1.1"[..], "/t", true),
            (b"GET  /t HTTP/1.1", "/t", true),
            (b"GET /t  HTTP/1.1", "/t", true),
            (b"GET /t\tHTTP/1.1", "/t", true),
            (b"GET /t HTTP/1.1 ", "/t", false),
            (b"GET /a\tb HTTP/1.1", "/a\tb", true),
            (b"GET / HTTP/1.1", "/", false),
        ] {
            let r = parse_request_line(line).unwrap();
            assert_eq!(
                (s(r.method), s(r.uri), r.version.map(s), r.malformed),
                ("GET", uri, Some("HTTP/1.1"), malformed),
                "{:?}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn status_lines() {
        let st = parse_status_line(b"HTTP/1.1 200 OK").unwrap();
        assert_eq!(
            (st.status, s(st.reason), st.malformed),
            (Some(200), "OK", false)
        );
        let st = parse_status_line(b"HTTP/1.0 2XX OK").unwrap();
        assert_eq!((st.status, s(st.status_text)), (None, "2XX"));
        let st = parse_status_line(b"http/1.1 404").unwrap();
        assert_eq!((st.status, s(st.reason)), (Some(404), ""));
        assert_eq!(parse_status_line(b"<html>"), Err(ParseError::BadStatusLine));
    }

    #[test]
    fn head_scan_resumes() {
        let full = b"GET / HTTP/1.1\r\nHost: a\r\n\r\nrest";
        for split in 0..full.len() {
            let mut s = HeadScan::default();
            let a = s.scan(&full[..split]);
            let b = s.scan(full);
            assert_eq!(a.or(b), Some(27), "split {split}");
        }
        let mut s = HeadScan::default();
        assert_eq!(s.scan(b"GET /\n\n"), Some(7));
    }

    /// A head of the request line `line` and the header `lines` (as the HTTP/1 parser
    /// builds it).
    fn request_head(line: &[u8], lines: &[u8]) -> MessageHead {
        let mut src = line.to_vec();
        src.extend_from_slice(b"\r\n");
        src.extend_from_slice(lines);
        let r = parse_request_line(&src[..line.len()]).unwrap();
        let (m, u, v) = (r.method.len(), r.uri.len(), r.version.map(<[u8]>::len));
        // offsets of the parts in `src`
        let at = |p: &[u8]| p.as_ptr() as usize - src.as_ptr() as usize;
        let (mo, uo, vo) = (at(r.method), at(r.uri), r.version.map(at));
        let mut b = HeadBuilder::new(&src, 4);
        b.set_part(0, &src[mo..mo + m]);
        b.set_part(1, &src[uo..uo + u]);
        match (vo, v) {
            (Some(o), Some(n)) => b.set_part(2, &src[o..o + n]),
            _ => b.set_part_str(2, "HTTP/0.9"),
        }
        parse_headers(&src[line.len() + 2..], &mut b);
        b.finish()
    }

    #[test]
    fn heads_with_invalid_utf8_are_read_part_by_part() {
        // one bad byte in one value: the other parts are read as they are, that value
        // with U+FFFD, as when every part was checked on its own
        let (h, _) = headers(b"Host: caf\xc3\xa9\r\nX-Bad: a\xffb\r\nServer: n\r\n\r\n");
        let want: Vec<(String, String)> = [
            ("Host", "caf\u{e9}"),
            ("X-Bad", "a\u{fffd}b"),
            ("Server", "n"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        assert_eq!(h, want);
        let head = request_head(
            b"GET /\xff\xc3\xa9 HTTP/1.1",
            b"A: \xfe\r\n  x\xc3\xa9\r\n\r\n",
        );
        assert_eq!(
            head,
            MessageHead::new(["GET", "/\u{fffd}\u{e9}", "HTTP/1.1"])
                .with_header("A", "\u{fffd} x\u{e9}")
        );
        let head = request_head(b"GET /caf\xc3\xa9 HTTP/1.1", b"B: \xc3\xa9\r\n\r\n");
        assert_eq!(
            head,
            MessageHead::new(["GET", "/caf\u{e9}", "HTTP/1.1"]).with_header("B", "\u{e9}")
        );
        let st = parse_status_line(b"HTTP/1.1 200 \xffok\xc3\xa9").unwrap();
        assert_eq!(
            (s(st.version), s(st.status_text), st.reason),
            ("HTTP/1.1", "200", &b"\xffok\xc3\xa9"[..])
        );
        let r = parse_request_line(b"OPTIONS HTTP/1.1").unwrap();
        assert_eq!((s(r.uri), r.version.map(s)), ("", Some("HTTP/1.1")));
        // a version-less line gets `HTTP/0.9`, which is not in the head as sent
        assert_eq!(request_head(b"GET /x", b"\r\n").part(2), "HTTP/0.9");
    }

    #[test]
    fn headers_fold_and_junk() {
        let (h, bad) = headers(b"A: 1\r\n  more\r\nFakeHeader\nB:2\n\n");
        assert!(bad);
        assert_eq!(
            h,
            vec![("A".into(), "1 more".into()), ("B".into(), "2".into())]
        );
        assert!(!headers(b"Host: x\r\n\r\n").1);
        // folds: onto an empty value without a space, several in a row, onto a value
        // that is not last, and a fold with no field before it is dropped
        let (h, _) = headers(b"  lost\r\nE:\r\n x\r\nA: 1\r\n 2\r\n\t3\r\nB: b\r\n\r\n");
        let want: Vec<(String, String)> = [("E", "x"), ("A", "1 2 3"), ("B", "b")]
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(h, want);
    }

    #[test]
    fn framing_rules() {
        fn h<'a>(v: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
            v.to_vec()
        }
        let f = framing(h(&[
            ("Transfer-Encoding", "chunked"),
            ("Content-Length", "50"),
        ]));
        assert!(f.chunked);
        assert_eq!(f.content_length, Some(50));
        let f = framing(h(&[("content-length", "99999999999999999999")]));
        assert_eq!((f.content_length, f.bad_content_length), (None, true));
        let f = framing(h(&[("Content-Length", "5"), ("Content-Length", "6")]));
        assert_eq!((f.content_length, f.bad_content_length), (None, true));
        let f = framing(h(&[("Content-Length", "5, 5")]));
        assert_eq!(f.content_length, Some(5));
        let f = framing(h(&[("Content-Length", "14"), ("Content-Len", "1")]));
        assert_eq!(f.content_length, Some(14));
        let codings = |v: &str| framing(h(&[("Content-Encoding", v)])).codings;
        assert_eq!(codings("x-gzip").as_slice(), [Coding::Gzip]);
        assert_eq!(codings("BR").as_slice(), [Coding::Brotli]);
        assert_eq!(codings("identity").as_slice(), []);
        assert_eq!(
            codings("gzip, identity,br").as_slice(),
            [Coding::Gzip, Coding::Brotli]
        );
        // Several headers add up, in order.
        let f = framing(h(&[
            ("Content-Encoding", "deflate"),
            ("Content-Encoding", "gzip"),
        ]));
        assert_eq!(f.codings.as_slice(), [Coding::Deflate, Coding::Gzip]);
        // Unknown codings or too many: count raw.
        assert!(codings("gzip, compress").is_empty());
        assert!(codings("zstd").is_empty());
        assert_eq!(codings("gzip, gzip, gzip, gzip").as_slice().len(), 4);
        assert!(codings("gzip, gzip, gzip, gzip, gzip").is_empty());
        assert_eq!(parse_content_length("9223372036854775808"), None);
        assert_eq!(parse_content_length(" 2200000000 "), Some(2_200_000_000));
        assert_eq!(parse_content_length("+5"), None);
    }

    /// What `line_and_colon` must say: the line feed and the colon by `memchr` (the way
    /// lines were split before it).
    fn line_and_colon_by_memchr(rest: &[u8]) -> (usize, Option<usize>) {
        let end = memchr(b'\n', rest).map_or(rest.len(), |p| p + 1);
        (end, memchr(b':', rest.get(..end).unwrap_or_default()))
    }

    #[test]
    fn line_and_colon_cases() {
        for rest in [
            &b""[..],
            b"\n",
            b":",
            b"Host: a\r\nX: y\r\n",
            b"Content-Type: text/html\r\n",
            b"no colon on this line at all\r\nNext: 1",
            b"a\nb:c",
            b"x-long-header-name-beyond-eight-bytes:value:with:colons\r\n",
            b"1234567\n:",
            b"12345678:\n",
            b"\xff\xfe:\x80\n",
        ] {
            assert_eq!(
                line_and_colon(rest),
                line_and_colon_by_memchr(rest),
                "{:?}",
                String::from_utf8_lossy(rest)
            );
        }
    }

    /// The quick splits answer for the lines real peers send (else the proptests below,
    /// which compare them with the full parses only when they answer, prove little).
    #[test]
    fn plain_lines_take_the_quick_split() {
        let r = request_line_plain(b"GET /users/1?x=2 HTTP/1.1").expect("plain");
        assert_eq!((r.method, r.uri), (&b"GET"[..], &b"/users/1?x=2"[..]));
        assert!(!r.malformed);
        assert!(request_line_plain(b"GET /a b HTTP/1.1").is_none());
        let s = status_line_plain(b"HTTP/1.1 404 Not Found").expect("plain");
        assert_eq!((s.status, s.reason), (Some(404), &b"Not Found"[..]));
        assert_eq!(
            status_line_plain(b"HTTP/1.1 200").map(|s| s.status),
            Some(Some(200))
        );
        assert!(status_line_plain(b"HTTP/1.1 2000 X").is_none());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2048))]
        /// The one-pass scan finds what two `memchr` calls find, on any bytes (line feeds
        /// and colons made frequent).
        #[test]
        fn line_and_colon_is_two_memchrs(
            rest in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::strategy::Just(b'\n'),
                    proptest::strategy::Just(b':'),
                    proptest::strategy::Just(b'\r'),
                    proptest::num::u8::ANY,
                ],
                0..80,
            ),
        ) {
            proptest::prop_assert_eq!(line_and_colon(&rest), line_and_colon_by_memchr(&rest));
        }

        /// Request lines of the common shape and near misses of it (blanks doubled, tabs,
        /// a carriage return, lower-case or cut versions, bad methods): the quick split
        /// gives what the full scan gives, whenever it answers.
        #[test]
        fn plain_request_lines_parse_as_any(
            lead in "[ \t]{0,1}",
            method in "(GET|get|POST|M-1_x|1GET|GE\tT|)",
            sp1 in "( | | | |  |\t| \t|)",
            target in "[/a?%]{0,8}(|||| |\t|\r)[/a?%]{0,4}(||\r)",
            sp2 in "( | | |  |\t|\t |)",
            version in "(HTTP/1.1|http/1.0|HTTP/|HTTP|HTTP/1.1\t|Http/2|H|)",
            tail in "[ \t\r]{0,1}",
        ) {
            let line = format!("{lead}{method}{sp1}{target}{sp2}{version}{tail}");
            let l = trim_ws(line.as_bytes());
            if let Some(quick) = request_line_plain(l) {
                proptest::prop_assert_eq!(Ok(quick), parse_request_line_any(l));
            }
            proptest::prop_assert_eq!(parse_request_line(line.as_bytes()), parse_request_line_any(l));
        }

        /// Status lines of the common shape and near misses (codes of other lengths or
        /// not digits, doubled blanks, tabs, no reason): the quick split gives what the
        /// token split gives, and so does the quick sniff.
        #[test]
        fn plain_status_lines_parse_as_any(
            version in "(HTTP/1.1|http/1.0|HTTP/|HTTPS/1|HTTP/1.1x)",
            sp1 in "( |  |\t| \t|)",
            code in "[0-9X ]{0,5}",
            sp2 in "( |  |\t|)",
            reason in "[A-Za-z \t\r]{0,8}",
        ) {
            let line = format!("{version}{sp1}{code}{sp2}{reason}");
            let l = trim_ws(line.as_bytes());
            if let Some(quick) = status_line_plain(l) {
                proptest::prop_assert_eq!(quick, parse_status_line_any(l));
            }
            let want = if sniff_response(l) == Verdict::Response {
                Ok(parse_status_line_any(l))
            } else {
                Err(ParseError::BadStatusLine)
            };
            proptest::prop_assert_eq!(parse_status_line(line.as_bytes()), want);
            let framed = format!("{line}\r\n");
            let sniffed = sniff_status_line(framed.as_bytes(), false);
            let by_tokens = match sniff_response(framed.as_bytes()) {
                Verdict::Response => status_tokens(trim_eol(line.as_bytes()), false),
                v => v,
            };
            proptest::prop_assert_eq!(sniffed, by_tokens);
        }

        /// The framing gathered while parsing is what `framing` gives for the finished
        /// head: header blocks of framing fields and near misses (case, look-alike names,
        /// lists, codings, bytes that are not UTF-8, folded lines, lines without a
        /// colon), parsed into an empty head and into one that has a field already.
        #[test]
        fn framing_while_parsing_is_framing_after(
            fields in proptest::collection::vec(
                (
                    proptest::prop_oneof![
                        proptest::strategy::Just("Content-Length"),
                        proptest::strategy::Just("content-LENGTH"),
                        proptest::strategy::Just("Transfer-Encoding"),
                        proptest::strategy::Just("Content-Encoding"),
                        proptest::strategy::Just("Content-Lengtx"),
                        proptest::strategy::Just("Content-Typing-X"),
                        proptest::strategy::Just("Host"),
                        proptest::strategy::Just(" Content-Length"),
                    ],
                    proptest::prop_oneof![
                        proptest::strategy::Just(&b"5"[..]),
                        proptest::strategy::Just(&b"5, 5"[..]),
                        proptest::strategy::Just(&b"6"[..]),
                        proptest::strategy::Just(&b"chunked"[..]),
                        proptest::strategy::Just(&b"gzip, chunked"[..]),
                        proptest::strategy::Just(&b"br, gzip"[..]),
                        proptest::strategy::Just(&b"identity"[..]),
                        proptest::strategy::Just("\u{a0}chunked".as_bytes()),
                        proptest::strategy::Just(&b"4\xff"[..]),
                        proptest::strategy::Just(&b"x-gzip,deflate,br,gzip,br"[..]),
                    ],
                    0u8..8,
                ),
                0..7,
            ),
        ) {
            let mut lines = Vec::new();
            for (name, value, shape) in &fields {
                match shape {
                    0 => lines.extend_from_slice(b" folded\r\n"),
                    1 => lines.extend_from_slice(b"no colon here\n"),
                    _ => {}
                }
                lines.extend_from_slice(name.as_bytes());
                lines.extend_from_slice(b": ");
                lines.extend_from_slice(value);
                lines.extend_from_slice(if *shape == 2 { b"\n" } else { b"\r\n" });
            }
            lines.extend_from_slice(b"\r\n");
            let mut b = HeadBuilder::new(&lines, field_room(&lines));
            let (_, during) = parse_headers(&lines, &mut b);
            let head = b.finish();
            proptest::prop_assert_eq!(during, framing(head.headers()));
            // a head with a field already (headers after a version-less request line)
            let before = MessageHead::default().with_header("Content-Length", "9");
            let mut b = HeadBuilder::extend(before, &lines);
            let (_, during) = parse_headers(&lines, &mut b);
            let head = b.finish();
            proptest::prop_assert_eq!(during, framing(head.headers()));
        }

        /// The one-pass `Content-Length` parse answers what trimming, checking the digits
        /// and `str::parse` answer.
        #[test]
        fn content_length_is_trim_check_parse(
            v in proptest::string::string_regex("[ \t]{0,2}[0-9+ ,a\t]{0,22}[ \t]{0,2}").unwrap(),
        ) {
            let t = v.trim_matches(|c: char| c == ' ' || c == '\t');
            let want = if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
                None
            } else {
                t.parse::<u64>().ok().filter(|&n| n <= i64::MAX as u64)
            };
            proptest::prop_assert_eq!(parse_content_length(&v), want);
        }
    }
}
