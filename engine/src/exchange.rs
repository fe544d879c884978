//! The exchange vocabulary every HTTP parser emits: [`Exchange`] (a [`Request`] and its
//! [`Response`], with [`Flag`]s) and [`HttpEvent`]. The bottom of the parsing stack: the HTTP/1
//! and HTTP/2 parsers produce these, the protocol layer passes them on, and this module depends
//! on nothing above it (the data flow reads decode → flow → reassembly → protocol → http and
//! http2 → exchange, with no edge back up).

use crate::ascii::eq_nocase;
use crate::Timestamp;
use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;

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

/// A byte range of a [`MessageHead`]'s text (`u32`: a head is bounded far below 4 GiB; a
/// part that would end past `u32::MAX` is not stored).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
struct Span {
    start: u32,
    end: u32,
}

impl Span {
    fn new(start: usize, end: usize) -> Option<Span> {
        Some(Span {
            start: u32::try_from(start).ok()?,
            end: u32::try_from(end).ok()?,
        })
    }

    fn len(self) -> usize {
        self.end.wrapping_sub(self.start) as usize
    }

    fn of(self, text: &str) -> &str {
        text.get(self.start as usize..self.end as usize)
            .unwrap_or_default()
    }
}

/// The text of one message head: its three start-line parts and its header fields, kept in
/// one string with ranges into it.
///
/// Cost policy: a head is parsed into some 20 strings (method, target, version, a name and
/// a value per header), and allocating each was most of what turning a head into an
/// exchange cost; here a head is two allocations (the text and the field ranges), and
/// every part is read back as a `&str`. The text is a copy of the head as sent when it is
/// valid UTF-8 (the parts are ranges of it); otherwise, and for parts that are not in the
/// head as sent (a folded value, `HTTP/0.9` for a version-less request line, HTTP/2
/// fields), each part is appended to it, bytes that are not UTF-8 replaced (U+FFFD) part
/// by part. Its size is bounded by what produced it: the HTTP/1 head cap (folded values at
/// most double it), the HTTP/2 header list cap.
///
/// Equality compares the parts, not how the text is laid out.
#[derive(Clone, Default)]
pub struct MessageHead {
    text: String,
    line: [Span; 3],
    fields: Vec<(Span, Span)>,
}

impl MessageHead {
    /// A head with these start-line parts (request: method, target, version; response:
    /// version, status code, reason) and no header fields.
    pub fn new(line: [&str; 3]) -> MessageHead {
        let mut h = MessageHead {
            text: String::with_capacity(line.iter().map(|p| p.len()).sum()),
            ..MessageHead::default()
        };
        h.set_line(line);
        h
    }

    /// `self` with one more header field (builder form of [`MessageHead::push_header`]).
    #[must_use]
    pub fn with_header(mut self, name: &str, value: &str) -> MessageHead {
        self.push_header(name, value);
        self
    }

    /// Replaces the three start-line parts.
    pub fn set_line(&mut self, line: [&str; 3]) {
        for (i, p) in line.into_iter().enumerate() {
            self.set_part(i, p);
        }
    }

    /// Appends a header field.
    pub fn push_header(&mut self, name: &str, value: &str) {
        if let (Some(n), Some(v)) = (self.append(name), self.append(value)) {
            self.fields.push((n, v));
        }
    }

    /// Appends every header field of `other`, in order (HTTP/2 trailers).
    pub fn append_headers(&mut self, other: &MessageHead) {
        self.fields.reserve(other.fields.len());
        for (n, v) in other.headers() {
            self.push_header(n, v);
        }
    }

    /// Start-line part `i` (0, 1 or 2; `""` if unset).
    pub fn part(&self, i: usize) -> &str {
        self.line.get(i).map_or("", |s| s.of(&self.text))
    }

    /// The header fields in order, names as sent.
    pub fn headers(&self) -> Headers<'_> {
        Headers {
            text: &self.text,
            fields: self.fields.iter(),
        }
    }

    /// The head's text, giving up the head: `fields` becomes, per header field in order,
    /// the byte ranges of its name and value in that text (`[name start, name end, value
    /// start, value end]`), so a consumer takes the fields without copying them (the
    /// learner's observation does, once per exchange).
    pub fn into_parts(mut self, fields: &mut Vec<[u32; 4]>) -> String {
        self.take_parts(fields, String::new())
    }

    /// As [`MessageHead::into_parts`], leaving the head empty with `spare` (cleared) as its
    /// text buffer and its field vector's room kept: for [`HeadPool::give`].
    pub fn take_parts(&mut self, fields: &mut Vec<[u32; 4]>, mut spare: String) -> String {
        fields.clear();
        fields.extend(
            self.fields
                .iter()
                .map(|(n, v)| [n.start, n.end, v.start, v.end]),
        );
        self.fields.clear();
        self.line = Default::default();
        spare.clear();
        std::mem::replace(&mut self.text, spare)
    }

    /// The value of the first header field named `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        // names compared as bytes, lengths first: most names are told apart by length
        let (text, want) = (self.text.as_bytes(), name.as_bytes());
        self.fields
            .iter()
            .find(|(n, _)| {
                n.len() == want.len()
                    && text
                        .get(n.start as usize..n.end as usize)
                        .is_some_and(|b| eq_nocase(b, want))
            })
            .map(|&(_, v)| v.of(&self.text))
    }

    /// How many header fields.
    pub fn header_count(&self) -> usize {
        self.fields.len()
    }

    /// Start-line part `i` becomes `s` (appended to the text).
    pub(crate) fn set_part(&mut self, i: usize, s: &str) {
        let span = self.append(s).unwrap_or_default();
        if let Some(slot) = self.line.get_mut(i) {
            *slot = span;
        }
    }

    /// Start-line part `i` becomes the value of the first header field named exactly
    /// `name` (HTTP/2 pseudo-headers: no copy); `""` without one.
    pub(crate) fn part_from_header(&mut self, i: usize, name: &str) {
        let text = &self.text;
        let span = self
            .fields
            .iter()
            .find(|(n, _)| n.of(text) == name)
            .map(|&(_, v)| v)
            .unwrap_or_default();
        if let Some(slot) = self.line.get_mut(i) {
            *slot = span;
        }
    }

    fn append(&mut self, s: &str) -> Option<Span> {
        let start = self.text.len();
        let span = Span::new(start, start.checked_add(s.len())?)?;
        self.text.push_str(s);
        Some(span)
    }

    fn append_lossy(&mut self, b: &[u8]) -> Option<Span> {
        match std::str::from_utf8(b) {
            Ok(s) => self.append(s),
            Err(_) => self.append(&String::from_utf8_lossy(b)),
        }
    }
}

impl PartialEq for MessageHead {
    fn eq(&self, o: &MessageHead) -> bool {
        (0..3).all(|i| self.part(i) == o.part(i)) && self.headers().eq(o.headers())
    }
}

impl Eq for MessageHead {}

impl std::fmt::Debug for MessageHead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageHead")
            .field("line", &[self.part(0), self.part(1), self.part(2)])
            .field("headers", &self.headers().collect::<Vec<_>>())
            .finish()
    }
}

/// The header fields of a [`MessageHead`], in order: `(name, value)`.
#[derive(Clone, Debug)]
pub struct Headers<'a> {
    text: &'a str,
    fields: std::slice::Iter<'a, (Span, Span)>,
}

impl<'a> Iterator for Headers<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<(&'a str, &'a str)> {
        self.fields
            .next()
            .map(|&(n, v)| (n.of(self.text), v.of(self.text)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.fields.size_hint()
    }
}

impl DoubleEndedIterator for Headers<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.fields
            .next_back()
            .map(|&(n, v)| (n.of(self.text), v.of(self.text)))
    }
}

impl ExactSizeIterator for Headers<'_> {}

impl std::iter::FusedIterator for Headers<'_> {}

/// Builds a [`MessageHead`] from parts of one source buffer, the HTTP/1 head as sent:
/// valid UTF-8 is copied once and its parts are ranges of the copy; otherwise each part is
/// appended, replacing what is not UTF-8 (see [`MessageHead`]).
/// Heads kept by a [`HeadPool`]: a consumer takes up to two heads per exchange back after
/// each run of events (the agent handles up to 64 events at a time), so the pool must hold
/// that many or the heads beyond are allocated afresh.
pub const POOL_HEADS: usize = 256;
/// A head whose text has more room than this is not kept by a [`HeadPool`].
pub const POOL_TEXT: usize = 4096;
/// A head whose field vector has room for more fields than this is not kept.
pub const POOL_FIELDS: usize = 64;

/// Spare [`MessageHead`] allocations: the consumer of exchanges hands their heads back
/// ([`HeadPool::give`], e.g. after moving the text out with [`MessageHead::take_parts`]) and
/// the HTTP/1 parser builds the next heads in them, so a steady stream of exchanges
/// allocates no head text or field vector. A handle: clones share one pool. Not `Send`
/// (one pipeline thread).
///
/// Bounds: at most [`POOL_HEADS`] heads, each with at most [`POOL_TEXT`] bytes of text room
/// and [`POOL_FIELDS`] fields of room (1.25 MiB at worst, ~100 KiB for heads of a few
/// hundred bytes); a larger head, or one more, is dropped. Without a giver the pool stays
/// empty and every head is allocated, as before. A head is taken from the end of the pool
/// if it has room enough, so request and response heads of different sizes do not grow
/// each other's buffers.
#[derive(Clone, Debug, Default)]
pub struct HeadPool(Rc<RefCell<Vec<MessageHead>>>);

impl HeadPool {
    /// Keeps `head`'s allocations for a later head (its content is cleared), within the
    /// pool's bounds.
    pub fn give(&self, mut head: MessageHead) {
        let (text, fields) = (head.text.capacity(), head.fields.capacity());
        if (text == 0 && fields == 0) || text > POOL_TEXT || fields > POOL_FIELDS {
            return;
        }
        head.text.clear();
        head.fields.clear();
        head.line = Default::default();
        if let Ok(mut kept) = self.0.try_borrow_mut() {
            if kept.len() < POOL_HEADS {
                kept.push(head);
            }
        }
    }

    /// An empty head with room for `text` bytes and `fields` fields (a kept one if any).
    pub(crate) fn take(&self, text: usize, fields: usize) -> MessageHead {
        let mut h = match self.0.try_borrow_mut() {
            Ok(mut kept) => {
                // the last few only: a pool of mixed sizes is not searched end to end
                let fits = kept
                    .iter()
                    .rev()
                    .take(4)
                    .position(|h| h.text.capacity() >= text && h.fields.capacity() >= fields);
                match fits {
                    Some(back) => {
                        let i = kept.len() - 1 - back;
                        kept.swap_remove(i)
                    }
                    None => kept.pop().unwrap_or_default(),
                }
            }
            Err(_) => MessageHead::default(),
        };
        h.text.reserve(text);
        h.fields.reserve(fields);
        h
    }

    /// Heads kept now.
    pub fn len(&self) -> usize {
        self.0.try_borrow().map_or(0, |k| k.len())
    }

    /// No head is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

pub(crate) struct HeadBuilder<'s> {
    head: MessageHead,
    src: &'s [u8],
    /// Where `src` starts in the text, when it was copied there whole.
    base: Option<usize>,
}

impl<'s> HeadBuilder<'s> {
    /// A new head whose parts will come from `src`, with room for `fields` header fields.
    pub(crate) fn new(src: &'s [u8], fields: usize) -> HeadBuilder<'s> {
        let head = MessageHead {
            text: String::with_capacity(src.len()),
            line: Default::default(),
            fields: Vec::with_capacity(fields),
        };
        HeadBuilder::extend(head, src)
    }

    /// As [`HeadBuilder::new`], in a head taken from `pool`.
    pub(crate) fn pooled(pool: &HeadPool, src: &'s [u8], fields: usize) -> HeadBuilder<'s> {
        HeadBuilder::extend(pool.take(src.len(), fields), src)
    }

    /// More parts for `head` (the header lines after a version-less request line), from
    /// `src`.
    pub(crate) fn extend(mut head: MessageHead, src: &'s [u8]) -> HeadBuilder<'s> {
        let base = match std::str::from_utf8(src) {
            Ok(s) => head.append(s).map(|sp| sp.start as usize),
            Err(_) => None,
        };
        HeadBuilder { head, src, base }
    }

    /// The head so far.
    pub(crate) fn head(&self) -> &MessageHead {
        &self.head
    }

    /// The span of `part`, a sub-slice of the source (appended if it is not one).
    fn span(&mut self, part: &[u8]) -> Span {
        if let Some(base) = self.base {
            let off = (part.as_ptr() as usize).wrapping_sub(self.src.as_ptr() as usize);
            if off <= self.src.len() && part.len() <= self.src.len() - off {
                let (a, b) = (base + off, base + off + part.len());
                let t = &self.head.text;
                if t.is_char_boundary(a) && t.is_char_boundary(b) {
                    if let Some(s) = Span::new(a, b) {
                        return s;
                    }
                }
            }
        }
        self.head.append_lossy(part).unwrap_or_default()
    }

    /// Start-line part `i` is `part` (of the source).
    pub(crate) fn set_part(&mut self, i: usize, part: &[u8]) {
        let s = self.span(part);
        if let Some(slot) = self.head.line.get_mut(i) {
            *slot = s;
        }
    }

    /// Start-line part `i` is `s`, which is not in the source.
    pub(crate) fn set_part_str(&mut self, i: usize, s: &str) {
        self.head.set_part(i, s);
    }

    /// A header field (name and value of the source).
    pub(crate) fn push(&mut self, name: &[u8], value: &[u8]) {
        let n = self.span(name);
        let v = self.span(value);
        self.head.fields.push((n, v));
    }

    /// A continuation line (obs-fold) `more` (of the source, trimmed, not empty) is
    /// appended to the last field's value, after one space (none after an empty value);
    /// without a field it is dropped.
    pub(crate) fn fold(&mut self, more: &[u8]) {
        let Some(&(_, old)) = self.head.fields.last() else {
            return;
        };
        let text_len = self.head.text.len();
        let start = if old.end as usize == text_len {
            // the value is already last in the text: grow it in place
            old.start as usize
        } else {
            let v = old.of(&self.head.text).to_owned();
            self.head.text.push_str(&v);
            text_len
        };
        if old.start != old.end {
            self.head.text.push(' ');
        }
        let _ = self.head.append_lossy(more);
        let end = self.head.text.len();
        if let (Some(s), Some(last)) = (Span::new(start, end), self.head.fields.last_mut()) {
            last.1 = s;
        }
    }

    /// The head.
    pub(crate) fn finish(self) -> MessageHead {
        self.head
    }
}

/// A request as seen on the wire.
#[derive(Clone, Debug, Default)]
pub struct Request {
    /// Method, request-target and version, and the header fields ([`Request::method`],
    /// [`Request::uri`], [`Request::version`], [`Request::headers`]).
    pub head: MessageHead,
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

impl Request {
    /// Method token, as sent.
    pub fn method(&self) -> &str {
        self.head.part(0)
    }

    /// Request-target exactly as on the wire.
    pub fn uri(&self) -> &str {
        self.head.part(1)
    }

    /// Version token, e.g. `HTTP/1.1`; `HTTP/0.9` for a version-less request line;
    /// `HTTP/2` for HTTP/2.
    pub fn version(&self) -> &str {
        self.head.part(2)
    }

    /// Header fields in order, names as sent.
    pub fn headers(&self) -> Headers<'_> {
        self.head.headers()
    }

    /// The value of the first header named `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.header(name)
    }
}

/// A response as seen on the wire (the final one; 1xx interim responses are not kept).
#[derive(Clone, Debug, Default)]
pub struct Response {
    /// Status code, if it was a number.
    pub status: Option<u16>,
    /// Version, status code token and reason phrase, and the header fields
    /// ([`Response::version`], [`Response::status_text`], [`Response::reason`],
    /// [`Response::headers`]).
    pub head: MessageHead,
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

impl Response {
    /// Version token.
    pub fn version(&self) -> &str {
        self.head.part(0)
    }

    /// The status code token as sent (e.g. `2XX`).
    pub fn status_text(&self) -> &str {
        self.head.part(1)
    }

    /// Reason phrase.
    pub fn reason(&self) -> &str {
        self.head.part(2)
    }

    /// Header fields in order.
    pub fn headers(&self) -> Headers<'_> {
        self.head.headers()
    }

    /// The value of the first header named `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.header(name)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: usize, fields: usize) -> MessageHead {
        let mut h = MessageHead::new(["GET", &"t".repeat(text), "HTTP/1.1"]);
        for i in 0..fields {
            h.push_header(&format!("h{i}"), "v");
        }
        h
    }

    #[test]
    fn head_pool_keeps_within_its_bounds_and_hands_out_empty_heads() {
        let pool = HeadPool::default();
        // too much room, or none at all: not kept
        pool.give(head(POOL_TEXT + 1, 1));
        pool.give(head(1, POOL_FIELDS + 1));
        pool.give(MessageHead::default());
        assert!(pool.is_empty());
        for _ in 0..POOL_HEADS + 10 {
            pool.give(head(100, 5));
        }
        assert_eq!(pool.len(), POOL_HEADS);
        let h = pool.take(10, 2);
        assert_eq!(pool.len(), POOL_HEADS - 1);
        assert_eq!(h.header_count(), 0);
        assert_eq!((h.part(0), h.part(1), h.part(2)), ("", "", ""));
        assert!(h.text.is_empty() && h.text.capacity() >= 100);
        // a head with room enough is preferred to the last one given
        let pool = HeadPool::default();
        pool.give(head(2000, 20));
        pool.give(head(10, 1));
        let h = pool.take(1500, 10);
        assert!(h.text.capacity() >= 2000, "{}", h.text.capacity());
        assert_eq!(pool.len(), 1);
        // an empty pool allocates what is asked
        let h = HeadPool::default().take(64, 3);
        assert!(h.text.capacity() >= 64 && h.fields.capacity() >= 3);
    }

    #[test]
    fn take_parts_moves_the_text_out_and_leaves_the_spare_in() {
        let mut h = head(5, 2);
        let want: Vec<(String, String)> = h
            .headers()
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect();
        let mut spare = String::with_capacity(300);
        spare.push_str("old");
        let mut fields = Vec::new();
        let text = h.take_parts(&mut fields, spare);
        let got: Vec<(String, String)> = fields
            .iter()
            .map(|[a, b, c, d]| {
                (
                    text[*a as usize..*b as usize].to_owned(),
                    text[*c as usize..*d as usize].to_owned(),
                )
            })
            .collect();
        assert_eq!(got, want);
        assert_eq!(h.header_count(), 0);
        assert!(h.text.is_empty() && h.text.capacity() >= 300);
        assert!(h.fields.capacity() >= 2);
    }
}
