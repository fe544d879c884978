//! HPACK header decompression (RFC 7541), one [`Decoder`] per direction of a connection.
//!
//! Policies:
//! - **Caps.** The dynamic table never holds more than [`Limits::table_cap`] bytes (RFC
//!   size: name + value + 32 per entry) whatever size the peer announces; the decoded
//!   header list stops growing at [`Limits::max_list_size`] — fields past it are dropped
//!   ([`HeaderBlock::over_cap`]) but the block is still decoded to the end so the table stays
//!   in step with the encoder.
//! - **Unknown state (mid-stream pickup, lost header blocks).** [`Decoder::desync`] forgets
//!   the dynamic table and marks that older, unknown entries may exist. From then on
//!   static-table references and literals decode; references to entries inserted since the
//!   pickup decode too (new entries go in at the front, so their indices are known); a
//!   reference past them is to an entry from before the pickup: that field is *missing*
//!   (counted in [`HeaderBlock::missing`]), never guessed. Entries inserted with a name we
//!   could not resolve are kept as placeholders (their index still counts). The table becomes
//!   fully known again when the encoder sends a table-size update to 0, or once the entries
//!   inserted since the pickup fill the table (more than its max size − 32 bytes, so no older
//!   entry can still fit; the max size is taken as 4096 — the protocol default — unless a
//!   size update was seen).
//! - **Errors.** A malformed block (integer overflow, string past the end, bad Huffman, an
//!   index past the table when the table is fully known) is an error; the caller counts it
//!   and calls [`Decoder::desync`], since the table may have diverged.

use super::huffman;
use crate::exchange::MessageHead;
use std::collections::VecDeque;

/// The static table (RFC 7541 Appendix A), index 1..=61 at positions 0..=60.
pub const STATIC_TABLE: [(&str, &str); 61] = [
    (":authority", ""),
    (":method", "GET"),
    (":method", "POST"),
    (":path", "/"),
    (":path", "/index.html"),
    (":scheme", "http"),
    (":scheme", "https"),
    (":status", "200"),
    (":status", "204"),
    (":status", "206"),
    (":status", "304"),
    (":status", "400"),
    (":status", "404"),
    (":status", "500"),
    ("accept-charset", ""),
    ("accept-encoding", "gzip, deflate"),
    ("accept-language", ""),
    ("accept-ranges", ""),
    ("accept", ""),
    ("access-control-allow-origin", ""),
    ("age", ""),
    ("allow", ""),
    ("authorization", ""),
    ("cache-control", ""),
    ("content-disposition", ""),
    ("content-encoding", ""),
    ("content-language", ""),
    ("content-length", ""),
    ("content-location", ""),
    ("content-range", ""),
    ("content-type", ""),
    ("cookie", ""),
    ("date", ""),
    ("etag", ""),
    ("expect", ""),
    ("expires", ""),
    ("from", ""),
    ("host", ""),
    ("if-match", ""),
    ("if-modified-since", ""),
    ("if-none-match", ""),
    ("if-range", ""),
    ("if-unmodified-since", ""),
    ("last-modified", ""),
    ("link", ""),
    ("location", ""),
    ("max-forwards", ""),
    ("proxy-authenticate", ""),
    ("proxy-authorization", ""),
    ("range", ""),
    ("referer", ""),
    ("refresh", ""),
    ("retry-after", ""),
    ("server", ""),
    ("set-cookie", ""),
    ("strict-transport-security", ""),
    ("transfer-encoding", ""),
    ("user-agent", ""),
    ("vary", ""),
    ("via", ""),
    ("www-authenticate", ""),
];

/// Number of static table entries.
const STATIC_LEN: usize = 61;
/// Per-entry overhead (RFC 7541 §4.1).
const ENTRY_OVERHEAD: usize = 32;
/// Default SETTINGS_HEADER_TABLE_SIZE.
pub const DEFAULT_TABLE_SIZE: usize = 4096;

/// Caps of a decoder.
#[derive(Copy, Clone, Debug)]
pub struct Limits {
    /// Largest dynamic table kept, in RFC size bytes.
    pub table_cap: usize,
    /// Largest decoded header list (RFC size: name + value + 32 per field).
    pub max_list_size: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            table_cap: 64 << 10,
            max_list_size: 64 << 10,
        }
    }
}

/// A decoded header block.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeaderBlock {
    /// Fields in order (names lower-case on the wire in HTTP/2; bytes that are not UTF-8 are
    /// replaced), in one [`MessageHead`] (no start line).
    pub fields: MessageHead,
    /// Fields that referenced a dynamic table entry from before a pickup (unknown).
    pub missing: usize,
    /// Fields were dropped at the header list cap.
    pub over_cap: bool,
}

/// Why a header block could not be decoded.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum HpackError {
    /// An integer with too many continuation bytes or over 32 bits.
    IntegerOverflow,
    /// The block ended inside a representation.
    Truncated,
    /// Invalid Huffman code.
    Huffman,
    /// Index 0, or past the table when the table is fully known.
    BadIndex(usize),
}

impl std::fmt::Display for HpackError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HpackError::IntegerOverflow => f.write_str("HPACK integer overflow"),
            HpackError::Truncated => f.write_str("HPACK block truncated"),
            HpackError::Huffman => f.write_str("invalid HPACK Huffman string"),
            HpackError::BadIndex(i) => write!(f, "HPACK index {i} out of range"),
        }
    }
}

impl std::error::Error for HpackError {}

/// One dynamic table entry; `None` name/value when unknown (inserted with a reference we
/// could not resolve).
#[derive(Clone, Debug)]
struct Entry {
    name: Option<String>,
    value: String,
    /// RFC size; a lower bound when the name is unknown.
    size: usize,
}

/// HPACK decoder state for one direction.
#[derive(Clone, Debug)]
pub struct Decoder {
    limits: Limits,
    /// Newest first.
    table: VecDeque<Entry>,
    /// Sum of `table` sizes.
    size: usize,
    /// Current max size (from size updates; clamped to the cap).
    max_size: usize,
    /// Entries older than `table` may exist, unknown to us.
    unknown_tail: bool,
    /// The encoder announced a table larger than our cap: we may drop entries it still has,
    /// so filling our table proves nothing.
    clamped: bool,
    scratch: Vec<u8>,
}

/// Read an HPACK integer with an `n`-bit prefix from `buf[*pos..]` (RFC 7541 §5.1).
fn integer(buf: &[u8], pos: &mut usize, n: u32) -> Result<usize, HpackError> {
    let first = *buf.get(*pos).ok_or(HpackError::Truncated)?;
    *pos += 1;
    let mask = (1u32 << n) - 1;
    let mut v = u32::from(first) & mask;
    if v < mask {
        return Ok(v as usize);
    }
    let mut shift = 0u32;
    loop {
        let b = *buf.get(*pos).ok_or(HpackError::Truncated)?;
        *pos += 1;
        if shift > 28 {
            return Err(HpackError::IntegerOverflow);
        }
        let add = u32::from(b & 0x7f)
            .checked_shl(shift)
            .filter(|a| (a >> shift) == u32::from(b & 0x7f))
            .ok_or(HpackError::IntegerOverflow)?;
        v = v.checked_add(add).ok_or(HpackError::IntegerOverflow)?;
        shift += 7;
        if b & 0x80 == 0 {
            return Ok(v as usize);
        }
    }
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new(Limits::default())
    }
}

impl Decoder {
    /// A decoder for a direction seen from its start.
    pub fn new(limits: Limits) -> Decoder {
        Decoder {
            limits,
            table: VecDeque::new(),
            size: 0,
            max_size: DEFAULT_TABLE_SIZE.min(limits.table_cap),
            unknown_tail: false,
            clamped: false,
            scratch: Vec::new(),
        }
    }

    /// A decoder for a direction picked up mid-stream (dynamic table unknown).
    pub fn picked_up(limits: Limits) -> Decoder {
        let mut d = Decoder::new(limits);
        d.unknown_tail = true;
        d
    }

    /// Forget the dynamic table: a header block was lost or could not be decoded.
    pub fn desync(&mut self) {
        self.table.clear();
        self.size = 0;
        self.unknown_tail = true;
    }

    /// Is the dynamic table fully known?
    pub fn in_sync(&self) -> bool {
        !self.unknown_tail
    }

    fn evict_to(&mut self, max: usize) {
        while self.size > max {
            match self.table.pop_back() {
                Some(e) => self.size -= e.size,
                None => {
                    self.size = 0;
                    break;
                }
            }
        }
    }

    fn set_max_size(&mut self, want: usize) {
        if want > self.limits.table_cap {
            // the encoder may keep more than we will: entries we drop may still be used
            self.max_size = self.limits.table_cap;
            self.evict_to(self.max_size);
            self.unknown_tail = true;
            self.clamped = true;
            return;
        }
        self.clamped = false;
        self.max_size = want;
        self.evict_to(want);
        if want == 0 {
            self.unknown_tail = false;
        }
    }

    fn insert(&mut self, name: Option<String>, value: String, size: usize) {
        if size > self.max_size {
            // RFC 7541 §4.4: an entry larger than the table empties it
            self.table.clear();
            self.size = 0;
            if name.is_some() && !self.clamped {
                self.unknown_tail = false;
            }
            return;
        }
        // making room for it evicts older entries first: if the entries we know need all
        // the room, every unknown (older) entry is gone
        if self.unknown_tail && !self.clamped && self.size + size > self.max_size {
            self.unknown_tail = false;
        }
        self.evict_to(self.max_size - size);
        self.table.push_front(Entry { name, value, size });
        self.size += size;
        // every entry is at least 32 bytes: if no older entry fits, none is left
        if self.unknown_tail && !self.clamped && self.size + ENTRY_OVERHEAD > self.max_size {
            self.unknown_tail = false;
        }
    }

    /// Resolve index `i` (1-based): `Ok(None)` if it is an unknown entry.
    fn lookup(&self, i: usize) -> Result<Option<(Option<&str>, &str)>, HpackError> {
        if i == 0 {
            return Err(HpackError::BadIndex(i));
        }
        if let Some(&(n, v)) = STATIC_TABLE.get(i - 1) {
            return Ok(Some((Some(n), v)));
        }
        match self.table.get(i - 1 - STATIC_LEN) {
            Some(e) => Ok(Some((e.name.as_deref(), e.value.as_str()))),
            None if self.unknown_tail => Ok(None),
            None => Err(HpackError::BadIndex(i)),
        }
    }

    /// Read a string literal; returns it and its raw decoded length.
    fn string(&mut self, buf: &[u8], pos: &mut usize) -> Result<(String, usize), HpackError> {
        let huff = buf.get(*pos).ok_or(HpackError::Truncated)? & 0x80 != 0;
        let len = integer(buf, pos, 7)?;
        let end = pos.checked_add(len).ok_or(HpackError::Truncated)?;
        let raw = buf.get(*pos..end).ok_or(HpackError::Truncated)?;
        *pos = end;
        if huff {
            self.scratch.clear();
            huffman::decode(raw, &mut self.scratch).ok_or(HpackError::Huffman)?;
            let n = self.scratch.len();
            Ok((String::from_utf8_lossy(&self.scratch).into_owned(), n))
        } else {
            Ok((String::from_utf8_lossy(raw).into_owned(), raw.len()))
        }
    }

    /// Decode one complete header block (all its HEADERS/CONTINUATION fragments joined).
    pub fn decode(&mut self, buf: &[u8]) -> Result<HeaderBlock, HpackError> {
        let mut out = HeaderBlock::default();
        let mut list_size = 0usize;
        let mut pos = 0usize;
        let max_list = self.limits.max_list_size;
        let mut emit = |out: &mut HeaderBlock, name: &str, value: &str| {
            let sz = name.len() + value.len() + ENTRY_OVERHEAD;
            if list_size + sz > max_list {
                out.over_cap = true;
            } else {
                list_size += sz;
                out.fields.push_header(name, value);
            }
        };
        while let Some(&b) = buf.get(pos) {
            if b & 0x80 != 0 {
                // indexed field
                let i = integer(buf, &mut pos, 7)?;
                match self.lookup(i)? {
                    Some((Some(n), v)) => {
                        let (n, v) = (n.to_owned(), v.to_owned());
                        emit(&mut out, &n, &v);
                    }
                    _ => out.missing += 1,
                }
            } else if b & 0xe0 == 0x20 {
                // dynamic table size update
                let s = integer(buf, &mut pos, 5)?;
                self.set_max_size(s);
            } else {
                // literal: with incremental indexing (6-bit index), without / never (4-bit)
                let indexing = b & 0xc0 == 0x40;
                let i = integer(buf, &mut pos, if indexing { 6 } else { 4 })?;
                let (name, name_len) = if i == 0 {
                    let (n, l) = self.string(buf, &mut pos)?;
                    (Some(n), l)
                } else {
                    match self.lookup(i)? {
                        Some((Some(n), _)) => (Some(n.to_owned()), n.len()),
                        _ => (None, 0),
                    }
                };
                let (value, value_len) = self.string(buf, &mut pos)?;
                match &name {
                    Some(n) => emit(&mut out, n, &value),
                    None => out.missing += 1,
                }
                if indexing {
                    self.insert(name, value, name_len + value_len + ENTRY_OVERHEAD);
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(crate) fn unhex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn fields(v: &[(&str, &str)]) -> MessageHead {
        v.iter()
            .fold(MessageHead::default(), |h, (a, b)| h.with_header(a, b))
    }

    fn table(d: &Decoder) -> MessageHead {
        d.table.iter().fold(MessageHead::default(), |h, e| {
            h.with_header(e.name.as_deref().unwrap_or_default(), &e.value)
        })
    }

    #[test]
    fn integers_c1() {
        // C.1.1: 10 with a 5-bit prefix; C.1.2: 1337; C.1.3: 42 on an 8-bit boundary
        let mut p = 0;
        assert_eq!(integer(&[0b0000_1010], &mut p, 5), Ok(10));
        p = 0;
        assert_eq!(
            integer(&[0b0001_1111, 0b1001_1010, 0b0000_1010], &mut p, 5),
            Ok(1337)
        );
        assert_eq!(p, 3);
        p = 0;
        assert_eq!(integer(&[42], &mut p, 8), Ok(42));
        p = 0;
        assert_eq!(
            integer(&[0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], &mut p, 5),
            Err(HpackError::IntegerOverflow)
        );
        p = 0;
        assert_eq!(
            integer(&[0x1f, 0xff], &mut p, 5),
            Err(HpackError::Truncated)
        );
    }

    #[test]
    fn c2_single_fields() {
        // C.2.1 literal with indexing
        let mut d = Decoder::default();
        let b = d
            .decode(&unhex(
                "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572",
            ))
            .unwrap();
        assert_eq!(b.fields, fields(&[("custom-key", "custom-header")]));
        assert_eq!(d.size, 55);
        // C.2.2 literal without indexing
        let mut d = Decoder::default();
        let b = d
            .decode(&unhex("040c 2f73 616d 706c 652f 7061 7468"))
            .unwrap();
        assert_eq!(b.fields, fields(&[(":path", "/sample/path")]));
        assert_eq!(d.size, 0);
        // C.2.3 never indexed
        let b = d
            .decode(&unhex("1008 7061 7373 776f 7264 0673 6563 7265 74"))
            .unwrap();
        assert_eq!(b.fields, fields(&[("password", "secret")]));
        // C.2.4 indexed
        let b = d.decode(&unhex("82")).unwrap();
        assert_eq!(b.fields, fields(&[(":method", "GET")]));
    }

    fn requests(blocks: [&str; 3]) {
        let mut d = Decoder::default();
        let b = d.decode(&unhex(blocks[0])).unwrap();
        assert_eq!(
            b.fields,
            fields(&[
                (":method", "GET"),
                (":scheme", "http"),
                (":path", "/"),
                (":authority", "www.example.com")
            ])
        );
        assert_eq!(d.size, 57);
        let b = d.decode(&unhex(blocks[1])).unwrap();
        assert_eq!(
            b.fields,
            fields(&[
                (":method", "GET"),
                (":scheme", "http"),
                (":path", "/"),
                (":authority", "www.example.com"),
                ("cache-control", "no-cache")
            ])
        );
        assert_eq!(d.size, 110);
        let b = d.decode(&unhex(blocks[2])).unwrap();
        assert_eq!(
            b.fields,
            fields(&[
                (":method", "GET"),
                (":scheme", "https"),
                (":path", "/index.html"),
                (":authority", "www.example.com"),
                ("custom-key", "custom-value")
            ])
        );
        assert_eq!(d.size, 164);
        assert_eq!(
            table(&d),
            fields(&[
                ("custom-key", "custom-value"),
                ("cache-control", "no-cache"),
                (":authority", "www.example.com")
            ])
        );
    }

    #[test]
    fn c3_requests_plain() {
        requests([
            "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
            "8286 84be 5808 6e6f 2d63 6163 6865",
            "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
        ]);
    }

    #[test]
    fn c4_requests_huffman() {
        requests([
            "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
            "8286 84be 5886 a8eb 1064 9cbf",
            "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
        ]);
    }

    fn responses(blocks: [&str; 3]) {
        let mut d = Decoder::new(Limits::default());
        d.set_max_size(256);
        let b = d.decode(&unhex(blocks[0])).unwrap();
        assert_eq!(
            b.fields,
            fields(&[
                (":status", "302"),
                ("cache-control", "private"),
                ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
                ("location", "https://www.example.com")
            ])
        );
        assert_eq!(d.size, 222);
        let b = d.decode(&unhex(blocks[1])).unwrap();
        assert_eq!(
            b.fields,
            fields(&[
                (":status", "307"),
                ("cache-control", "private"),
                ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
                ("location", "https://www.example.com")
            ])
        );
        assert_eq!(d.size, 222);
        let b = d.decode(&unhex(blocks[2])).unwrap();
        assert_eq!(
            b.fields,
            fields(&[
                (":status", "200"),
                ("cache-control", "private"),
                ("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
                ("location", "https://www.example.com"),
                ("content-encoding", "gzip"),
                (
                    "set-cookie",
                    "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"
                )
            ])
        );
        assert_eq!(d.size, 215);
        assert_eq!(
            table(&d),
            fields(&[
                (
                    "set-cookie",
                    "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"
                ),
                ("content-encoding", "gzip"),
                ("date", "Mon, 21 Oct 2013 20:13:22 GMT")
            ])
        );
    }

    #[test]
    fn c5_responses_plain() {
        responses([
            "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 \
             2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 \
             6c65 2e63 6f6d",
            "4803 3330 37c1 c0bf",
            "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d \
             54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 \
             5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e \
             3d31",
        ]);
    }

    #[test]
    fn c6_responses_huffman() {
        responses([
            "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 \
             2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
            "4883 640e ff c1 c0 bf",
            "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab \
             77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f \
             9587 3160 65c0 03ed 4ee5 b106 3d50 07",
        ]);
    }

    #[test]
    fn pickup_decodes_static_and_new_entries_only() {
        // C.3.2 seen without C.3.1: index 62 (":authority") is unknown
        let mut d = Decoder::picked_up(Limits::default());
        let b = d
            .decode(&unhex("8286 84be 5808 6e6f 2d63 6163 6865"))
            .unwrap();
        assert_eq!(
            b.fields,
            fields(&[
                (":method", "GET"),
                (":scheme", "http"),
                (":path", "/"),
                ("cache-control", "no-cache")
            ])
        );
        assert_eq!(b.missing, 1);
        assert!(!d.in_sync());
        // C.3.3: index 63 (0xbf) now refers to an unknown older entry; 62 is cache-control
        let b = d
            .decode(&unhex(
                "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
            ))
            .unwrap();
        assert_eq!(b.missing, 1);
        let b = d.decode(&unhex("be bf")).unwrap();
        assert_eq!(
            b.fields,
            fields(&[
                ("custom-key", "custom-value"),
                ("cache-control", "no-cache")
            ])
        );
        assert_eq!(b.missing, 0);
        // a reference past what we know is unknown, not an error, while out of sync
        assert_eq!(d.decode(&unhex("c0")).unwrap().missing, 1);
        // size update to 0 then back: fully known
        d.decode(&unhex("20 3fe1 1f")).unwrap();
        assert!(d.in_sync());
        assert_eq!(d.decode(&unhex("be")), Err(HpackError::BadIndex(62)));
    }

    #[test]
    fn pickup_resyncs_when_table_fills() {
        let mut d = Decoder::picked_up(Limits::default());
        // literal with indexing, new name: 1000-byte values, 4 of them > 4096 - 32
        for _ in 0..4 {
            let mut blk = vec![0x40, 0x01, b'x', 0x7f];
            let mut p = Vec::new();
            let mut n = 1000 - 127;
            while n >= 128 {
                p.push((n % 128) as u8 | 0x80);
                n /= 128;
            }
            p.push(n as u8);
            blk.extend(p);
            blk.extend(std::iter::repeat_n(b'v', 1000));
            assert!(d.decode(&blk).is_ok());
        }
        assert!(d.in_sync());
    }

    #[test]
    fn list_cap_drops_fields_but_keeps_table() {
        let mut d = Decoder::new(Limits {
            table_cap: 4096,
            max_list_size: 60,
        });
        // C.3.1 then C.3.2: the list is capped but the table still gets ":authority"
        let b = d
            .decode(&unhex("8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d"))
            .unwrap();
        assert!(b.over_cap);
        assert_eq!(b.fields.header_count(), 1);
        assert_eq!(d.size, 57);
        let b = d.decode(&unhex("be")).unwrap();
        assert_eq!(b.fields, fields(&[(":authority", "www.example.com")]));
    }

    #[test]
    fn table_cap_clamps_and_marks_unknown() {
        let mut d = Decoder::new(Limits {
            table_cap: 100,
            max_list_size: 1 << 16,
        });
        // size update to 1000 (over our cap of 100)
        d.decode(&unhex("3fc9 07")).unwrap();
        assert!(!d.in_sync());
        assert_eq!(d.max_size, 100);
    }

    #[test]
    fn errors() {
        let mut d = Decoder::default();
        assert_eq!(d.decode(&[0x80]), Err(HpackError::BadIndex(0)));
        assert_eq!(d.decode(&[0xbe]), Err(HpackError::BadIndex(62)));
        assert_eq!(d.decode(&[0x40, 0x05, b'a']), Err(HpackError::Truncated));
        assert_eq!(
            d.decode(&[0x40, 0x81, 0x00, 0x00]),
            Err(HpackError::Huffman)
        );
    }
}
