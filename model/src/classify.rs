//! Value classification: path-segment classes (is this segment an identifier?) and string
//! formats (JSON Schema `format`). Pure functions over `&str`, no allocation.

use serde::{Deserialize, Serialize};

/// The class of a concrete path segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SegClass {
    /// All digits (`42`, `9780306406157`).
    Int,
    /// RFC 4122 textual UUID.
    Uuid,
    /// Hex hash or id (`5f2b9c...`, at least 8 hex digits mixing letters and digits, or 16+).
    Hex,
    /// Prefixed id: a short lowercase prefix, `_` or `-`, then an alphanumeric id
    /// containing a digit (`acct_8f3k2l9`, `cus-00af31`).
    Prefixed,
    /// ISO date `2024-01-31`.
    Date,
    /// An e-mail address.
    Email,
    /// Base64/base64url-like token or other long opaque value with digits and letters.
    Token,
    /// API version literal (`v1`, `v2.1`, `v1beta1`): always a literal.
    Version,
    /// A word or slug: letters, digits, `-`, `_`, `.` (`featured`, `my-first-post`).
    Word,
}

impl SegClass {
    /// Identifier-like classes become parameters immediately.
    pub fn is_id_like(self) -> bool {
        !matches!(self, SegClass::Version | SegClass::Word)
    }
}

fn is_hex(b: u8) -> bool {
    b.is_ascii_hexdigit()
}

/// Checks `8-4-4-4-12` hex with dashes.
pub fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 36 {
        return false;
    }
    b.iter().enumerate().all(|(i, &c)| match i {
        8 | 13 | 18 | 23 => c == b'-',
        _ => is_hex(c),
    })
}

fn digits(b: &[u8]) -> bool {
    !b.is_empty() && b.iter().all(|c| c.is_ascii_digit())
}

/// `YYYY-MM-DD`.
pub fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && digits(&b[0..4])
        && b[4] == b'-'
        && digits(&b[5..7])
        && b[7] == b'-'
        && digits(&b[8..10])
        && (b'0'..=b'1').contains(&b[5])
        && (b'0'..=b'3').contains(&b[8])
}

/// `HH:MM:SS(.frac)?(Z|±HH:MM)?`.
pub fn is_time(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 8
        || !(digits(&b[0..2])
            && b[2] == b':'
            && digits(&b[3..5])
            && b[5] == b':'
            && digits(&b[6..8]))
    {
        return false;
    }
    let mut rest = &b[8..];
    if rest.first() == Some(&b'.') {
        let n = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return false;
        }
        rest = &rest[1 + n..];
    }
    match rest {
        [] | [b'Z'] | [b'z'] => true,
        [s, h1, h2, b':', m1, m2] if (*s == b'+' || *s == b'-') => {
            [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit())
        }
        [s, h1, h2, m1, m2] if (*s == b'+' || *s == b'-') => {
            [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit())
        }
        _ => false,
    }
}

/// RFC 3339 date-time: fractional seconds of any length (Go's nanoseconds, trailing zeros
/// trimmed or not), offset `Z`/`±hh:mm`/`±hhmm` or missing; `T`, `t` or a space (RFC 3339
/// §5.6 note; Python's `str(datetime)`) as separator.
pub fn is_date_time(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 19
        && s.is_char_boundary(10)
        && s.is_char_boundary(11)
        && is_date(&s[..10])
        && matches!(b[10], b'T' | b't' | b' ')
        && is_time(&s[11..])
}

/// Could `b` be an IPv6 address at all: a `:` and only the bytes
/// [`std::net::Ipv6Addr`]'s parser accepts (hex digits, `:`, `.` of an embedded IPv4), so
/// the parse is tried only then.
pub fn ipv6_chars(b: &[u8]) -> bool {
    b.contains(&b':')
        && b.iter()
            .all(|c| c.is_ascii_hexdigit() || *c == b':' || *c == b'.')
}

/// A plausible e-mail address.
pub fn is_email(s: &str) -> bool {
    if s.len() > 254 || s.len() < 5 {
        return false;
    }
    let Some(at) = s.find('@') else { return false };
    let (local, domain) = (&s[..at], &s[at + 1..]);
    !local.is_empty()
        && domain.len() >= 3
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && s.bytes().all(|c| c.is_ascii_graphic())
        && local
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"._%+-".contains(&c))
        && domain
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'-')
}

/// `http(s)://host...` without whitespace.
pub fn is_uri(s: &str) -> bool {
    let rest = if let Some(r) = s.strip_prefix("https://") {
        r
    } else if let Some(r) = s.strip_prefix("http://") {
        r
    } else {
        return false;
    };
    !rest.is_empty() && !rest.starts_with('/') && s.bytes().all(|c| c.is_ascii_graphic())
}

/// Base64 (standard or url-safe) with enough evidence that it is not a word.
pub fn is_base64(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 8 || !b.len().is_multiple_of(4) {
        return false;
    }
    let body = s.trim_end_matches('=');
    if b.len() - body.len() > 2 {
        return false;
    }
    let (mut up, mut lo, mut dig, mut sym) = (false, false, false, false);
    for c in body.bytes() {
        match c {
            b'A'..=b'Z' => up = true,
            b'a'..=b'z' => lo = true,
            b'0'..=b'9' => dig = true,
            b'+' | b'/' => sym = true,
            _ => return false,
        }
    }
    let padded = body.len() != b.len();
    padded || sym || (b.len() >= 16 && up && lo && dig)
}

/// String format of a value, or `None` for a plain string.
pub fn string_format(s: &str) -> StrFormat {
    let b = s.as_bytes();
    let Some(&first) = b.first() else {
        return StrFormat::None;
    };
    if first.is_ascii_digit() {
        if is_date_time(s) {
            return StrFormat::DateTime;
        }
        if is_date(s) {
            return StrFormat::Date;
        }
        if is_time(s) {
            return StrFormat::Time;
        }
        if is_uuid(s) {
            return StrFormat::Uuid;
        }
        if b.contains(&b'.') && s.parse::<std::net::Ipv4Addr>().is_ok() {
            return StrFormat::Ipv4;
        }
    } else if is_uuid(s) {
        return StrFormat::Uuid;
    }
    if first == b'h' && is_uri(s) {
        return StrFormat::Uri;
    }
    if b.contains(&b'@') && is_email(s) {
        return StrFormat::Email;
    }
    if b.len() >= 2 && ipv6_chars(b) && s.parse::<std::net::Ipv6Addr>().is_ok() {
        return StrFormat::Ipv6;
    }
    if is_base64(s) {
        return StrFormat::Byte;
    }
    StrFormat::None
}

/// JSON Schema string formats the learner recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum StrFormat {
    /// No recognised format.
    None = 0,
    /// `date-time`
    DateTime,
    /// `date`
    Date,
    /// `time`
    Time,
    /// `uuid`
    Uuid,
    /// `email`
    Email,
    /// `uri`
    Uri,
    /// `ipv4`
    Ipv4,
    /// `ipv6`
    Ipv6,
    /// `byte` (base64)
    Byte,
    /// `binary` (file upload / opaque bytes)
    Binary,
}

/// Number of [`StrFormat`] variants.
pub const N_FORMATS: usize = 11;

impl StrFormat {
    /// All formats, indexable by `as usize`.
    pub const ALL: [StrFormat; N_FORMATS] = [
        StrFormat::None,
        StrFormat::DateTime,
        StrFormat::Date,
        StrFormat::Time,
        StrFormat::Uuid,
        StrFormat::Email,
        StrFormat::Uri,
        StrFormat::Ipv4,
        StrFormat::Ipv6,
        StrFormat::Byte,
        StrFormat::Binary,
    ];

    /// The JSON Schema `format` keyword value.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            StrFormat::None => return None,
            StrFormat::DateTime => "date-time",
            StrFormat::Date => "date",
            StrFormat::Time => "time",
            StrFormat::Uuid => "uuid",
            StrFormat::Email => "email",
            StrFormat::Uri => "uri",
            StrFormat::Ipv4 => "ipv4",
            StrFormat::Ipv6 => "ipv6",
            StrFormat::Byte => "byte",
            StrFormat::Binary => "binary",
        })
    }
}

/// Is this a version literal (`v1`, `v2.1`, `v1beta1`, `v3alpha`)?
pub fn is_version(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 2 || b.len() > 12 || (b[0] != b'v' && b[0] != b'V') || !b[1].is_ascii_digit() {
        return false;
    }
    let rest = &s[1..];
    let n = rest
        .bytes()
        .take_while(|c| c.is_ascii_digit() || *c == b'.')
        .count();
    let tail = &rest[n..];
    tail.is_empty()
        || ["alpha", "beta", "rc"].iter().any(|p| {
            tail.strip_prefix(p)
                .is_some_and(|d| d.bytes().all(|c| c.is_ascii_digit()))
        })
}

/// The prefix of a prefixed id (`acct` for `acct_8f3k2l9x`), if the segment has that shape
/// (lowercase prefix of 1–6 letters, `_` or `-`, 6+ alphanumerics).
pub fn id_prefix(s: &str) -> Option<&str> {
    let pos = s.find(['_', '-'])?;
    let (prefix, id) = (&s[..pos], &s[pos + 1..]);
    ((1..=6).contains(&prefix.len())
        && prefix.bytes().all(|c| c.is_ascii_lowercase())
        && id.len() >= 6
        && id.bytes().all(|c| c.is_ascii_alphanumeric()))
    .then_some(prefix)
}

/// Number of lower/upper case transitions between adjacent letters.
fn case_changes(s: &str) -> usize {
    s.as_bytes()
        .windows(2)
        .filter(|w| {
            w[0].is_ascii_alphabetic()
                && w[1].is_ascii_alphabetic()
                && w[0].is_ascii_uppercase() != w[1].is_ascii_uppercase()
        })
        .count()
}

/// Classify a concrete path segment (raw, as on the wire).
///
/// A segment with percent-escapes is classified after decoding. Route names are tokens that
/// never need escaping, so a segment whose decoded text holds a byte outside letters, digits,
/// `-`, `_`, `.` (an encoded `/`, space, `:`, `@`, sigil...) is an identifier (`Token` unless
/// the decoded text has a more specific class): `repo%2Fname`, `%40scope%2Fpkg`, `a%3Ab`.
pub fn classify_segment(s: &str) -> SegClass {
    if s.contains('%') {
        let d = crate::endpoint::pct_decode(s, false);
        if d != s {
            let c = classify_decoded(&d);
            let route_like = d
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
            return if c.is_id_like() || route_like {
                c
            } else {
                SegClass::Token
            };
        }
    }
    classify_decoded(s)
}

/// Longest lowercase-letter word [`classify_decoded`] answers without its full checks:
/// below every class that a string of `a`-`z` alone can have (hex and base64 tokens need
/// 16 bytes; version, UUID, date, e-mail, prefixed id and every PII shape need a digit,
/// separator or capital).
const SHORT_WORD: usize = 15;

fn classify_decoded(s: &str) -> SegClass {
    let b = s.as_bytes();
    // the common route word (`users`, `orders`): nothing below can match it
    if b.len() <= SHORT_WORD && b.iter().all(u8::is_ascii_lowercase) {
        return SegClass::Word;
    }
    classify_full(s)
}

fn classify_full(s: &str) -> SegClass {
    let b = s.as_bytes();
    if b.is_empty() {
        return SegClass::Word;
    }
    if digits(b) {
        return SegClass::Int;
    }
    if is_version(s) {
        return SegClass::Version;
    }
    if is_uuid(s) {
        return SegClass::Uuid;
    }
    if is_date(s) {
        return SegClass::Date;
    }
    if b.contains(&b'@') && is_email(&s.replace("%40", "@"))
        || s.contains("%40") && is_email(&s.replace("%40", "@"))
    {
        return SegClass::Email;
    }
    // `@` marks a handle or address (`@ann:example.org`, `@scope`): route names never carry it
    if b.len() >= 2 && b.contains(&b'@') {
        return SegClass::Token;
    }
    let (mut nd, mut nl, mut nu, mut other) = (0usize, 0usize, 0usize, 0usize);
    let mut all_hex = true;
    for &c in b {
        match c {
            b'0'..=b'9' => nd += 1,
            b'a'..=b'z' => {
                nl += 1;
                all_hex &= c <= b'f';
            }
            b'A'..=b'Z' => {
                nu += 1;
                all_hex &= c <= b'F';
            }
            _ => {
                other += 1;
                all_hex = false;
            }
        }
    }
    if all_hex && ((b.len() >= 8 && nd > 0 && nl + nu > 0) || b.len() >= 16) {
        return SegClass::Hex;
    }
    // prefixed ids: `acct_8f3k2l9x`, `cus-00af31`, `ch_3Mq...`
    if let Some(pos) = s.find(['_', '-']) {
        let (prefix, id) = (&s[..pos], &s[pos + 1..]);
        if (1..=6).contains(&prefix.len())
            && prefix.bytes().all(|c| c.is_ascii_lowercase())
            && id.len() >= 6
            && id.bytes().all(|c| c.is_ascii_alphanumeric())
            && (id.bytes().any(|c| c.is_ascii_digit())
                || id.len() >= 10 && id.bytes().any(|c| c.is_ascii_uppercase()))
        {
            return SegClass::Prefixed;
        }
    }
    if b.len() > 64 {
        return SegClass::Token;
    }
    // random mixed-case ids without digits (`EogbvORNeLwZTkozYEic`)
    if b.len() >= 12 && other == 0 && case_changes(s) >= 6 {
        return SegClass::Token;
    }
    // opaque tokens: long, several digits mixed with letters, few separators
    if b.len() >= 16 && nd >= 2 && nl + nu >= 2 && other * 8 <= b.len() && !b.contains(&b'.') {
        let seps = b.iter().filter(|&&c| c == b'-').count();
        if seps <= 1 || (nu > 0 && nl > 0) {
            return SegClass::Token;
        }
    }
    if b.len() >= 10 && nd >= 3 && nl + nu >= 3 && other == 0 {
        return SegClass::Token;
    }
    if is_base64(s) && b.len() >= 16 {
        return SegClass::Token;
    }
    // PII-shaped (phone, SSN, card, IBAN, JWT...): always a parameter, never a literal
    if crate::pii::pii_segment(s) {
        return SegClass::Token;
    }
    SegClass::Word
}

/// True for a word made of lowercase letters only (`featured`, `search`, `me`): typical of
/// static routes, as opposed to slugs (`my-first-post-2`).
pub fn is_plain_word(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c.is_ascii_lowercase())
}

/// Typed view of a scalar that arrived as text (query, header, form field, path segment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextScalar {
    /// `true` / `false`
    Bool,
    /// An integer (fits i64)
    Int,
    /// A decimal number
    Num,
    /// A string with a format
    Str(StrFormat),
}

/// Type a textual scalar value.
pub fn classify_text(s: &str) -> TextScalar {
    match s {
        "true" | "false" => return TextScalar::Bool,
        _ => {}
    }
    let b = s.as_bytes();
    if !b.is_empty() && b.len() <= 18 {
        let d = if b[0] == b'-' { &b[1..] } else { b };
        if digits(d) && (d.len() == 1 || d[0] != b'0') {
            return TextScalar::Int;
        }
        if d.len() >= 3 && d[0].is_ascii_digit() && *d.last().unwrap_or(&b'x') != b'.' {
            let dots = d.iter().filter(|&&c| c == b'.').count();
            if dots == 1 && d.iter().all(|c| c.is_ascii_digit() || *c == b'.') {
                return TextScalar::Num;
            }
        }
    }
    TextScalar::Str(string_format(s))
}

/// Singularise an English resource name, lowercase ASCII best effort.
pub fn singular(s: &str) -> String {
    let l = s.to_ascii_lowercase();
    if l == "people" {
        return "person".into();
    }
    if let Some(x) = l.strip_suffix("ies") {
        if !x.is_empty() {
            return format!("{x}y");
        }
    }
    for suf in ["sses", "xes", "ches", "shes"] {
        if let Some(x) = l.strip_suffix(suf) {
            return format!("{x}{}", &suf[..suf.len() - 2]);
        }
    }
    if l.len() > 3
        && l.ends_with('s')
        && !l.ends_with("ss")
        && !l.ends_with("us")
        && !l.ends_with("is")
    {
        return l[..l.len() - 1].to_string();
    }
    l
}

/// `foo-bar_baz` -> `fooBarBaz` (first letter lowercase), non-alphanumerics dropped.
pub fn camel(s: &str, upper_first: bool) -> String {
    let mut out = String::with_capacity(s.len());
    let mut up = upper_first;
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            if up {
                out.push(c.to_ascii_uppercase());
                up = false;
            } else {
                out.push(c);
            }
        } else {
            up = true;
        }
    }
    if !upper_first {
        if let Some(f) = out.get(..1) {
            let f = f.to_ascii_lowercase();
            out.replace_range(..1, &f);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The short-word shortcut answers what the full checks answer: every lowercase word of
    /// at most [`SHORT_WORD`] bytes is a `Word` for them too (hex-only letters, `e` first,
    /// repeated letters and pseudo-random words), and one byte longer they may not be.
    #[test]
    fn short_words_need_no_full_check() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut words: Vec<String> = Vec::new();
        for len in 0..=SHORT_WORD {
            for alphabet in [&b"abcdefghijklmnopqrstuvwxyz"[..], b"abcdef", b"e", b"a"] {
                for _ in 0..2_000 {
                    let w: String = (0..len)
                        .map(|_| alphabet[(next() % alphabet.len() as u64) as usize] as char)
                        .collect();
                    words.push(w);
                }
            }
        }
        for w in &words {
            assert_eq!(classify_full(w), SegClass::Word, "{w}");
            assert_eq!(classify_segment(w), SegClass::Word, "{w}");
        }
        // the bound is tight: 16 hex letters are a hash
        assert_eq!(classify_full("deadbeefdeadbeef"), SegClass::Hex);
        assert_eq!(classify_segment("deadbeefdeadbeef"), SegClass::Hex);
    }

    #[test]
    fn segments() {
        assert_eq!(classify_segment("42"), SegClass::Int);
        assert_eq!(classify_segment("9780306406157"), SegClass::Int);
        assert_eq!(classify_segment("v2"), SegClass::Version);
        assert_eq!(classify_segment("v1beta1"), SegClass::Version);
        assert_eq!(
            classify_segment("3f2b8c1e-9d4a-4b6f-8e2d-1a2b3c4d5e6f"),
            SegClass::Uuid
        );
        assert_eq!(classify_segment("5f2b9c0a"), SegClass::Hex);
        assert_eq!(classify_segment("deadbeefdeadbeefdeadbeef"), SegClass::Hex);
        assert_eq!(classify_segment("acct_8f3k2l9x"), SegClass::Prefixed);
        assert_eq!(classify_segment("2024-01-31"), SegClass::Date);
        assert_eq!(classify_segment("ann.lee@example.com"), SegClass::Email);
        assert_eq!(classify_segment("ann.lee%40example.com"), SegClass::Email);
        assert_eq!(
            classify_segment("aGVsbG8gd29ybGQ1MjM0NQ=="),
            SegClass::Token
        );
        assert_eq!(
            classify_segment("pi_EogbvORNeLwZTkozYEicNLXq"),
            SegClass::Prefixed
        );
        assert_eq!(
            classify_segment("EogbvORNeLwZTkozYEicNLXq"),
            SegClass::Token
        );
        assert_eq!(classify_segment("line_items"), SegClass::Word);
        assert_eq!(
            classify_segment("acct_AvZFKKBLGICBKAHM"),
            SegClass::Prefixed
        );
        assert_eq!(id_prefix("cus_abcdefgh"), Some("cus"));
        assert_eq!(id_prefix("payment_methods"), None);
        assert_eq!(classify_segment("GetUserProfile"), SegClass::Word);
        assert_eq!(classify_segment("featured"), SegClass::Word);
        assert_eq!(classify_segment("my-first-post-2024"), SegClass::Word);
        assert_eq!(classify_segment("accounts"), SegClass::Word);
        assert_eq!(classify_segment("deadline"), SegClass::Word);
        assert_eq!(classify_segment("facade"), SegClass::Word);
        assert_eq!(classify_segment("oauth2"), SegClass::Word);
        // percent-encoded identifiers: classified after decoding
        assert_eq!(classify_segment("hc%2Ftiny%3Aedge"), SegClass::Token);
        assert_eq!(classify_segment("%40scope%2Fpkg"), SegClass::Token);
        assert_eq!(classify_segment("my%20notes"), SegClass::Token);
        assert_eq!(classify_segment("%34%32"), SegClass::Int);
        assert_eq!(classify_segment("feat%75red"), SegClass::Word);
        assert_eq!(classify_segment("100%"), SegClass::Word);
        // handles: `@` never appears in a route name
        assert_eq!(classify_segment("@ann.lee:chat.example"), SegClass::Token);
        assert_eq!(classify_segment("@scope"), SegClass::Token);
    }

    #[test]
    fn formats() {
        assert_eq!(string_format("2024-01-31T10:00:00Z"), StrFormat::DateTime);
        assert_eq!(
            string_format("2024-01-31T10:00:00.123+01:00"),
            StrFormat::DateTime
        );
        for dt in [
            "2024-01-31T10:00:00.123456789Z",
            "2024-01-31T10:00:00.1234567+02:00",
            "2024-01-31T10:00:00.5-07:00",
            "0001-01-01T00:00:00Z",
            "2024-01-31 10:00:00.123456+00:00",
            "2024-01-31 10:00:00",
        ] {
            assert_eq!(string_format(dt), StrFormat::DateTime, "{dt}");
        }
        for not in [
            "2024-01-31T10:00:00.",
            "2024-01-31  10:00:00",
            "2024-01-31 10:00",
        ] {
            assert_ne!(string_format(not), StrFormat::DateTime, "{not}");
        }
        assert_eq!(string_format("2024-01-31"), StrFormat::Date);
        assert_eq!(string_format("10:00:00"), StrFormat::Time);
        assert_eq!(
            string_format("3f2b8c1e-9d4a-4b6f-8e2d-1a2b3c4d5e6f"),
            StrFormat::Uuid
        );
        assert_eq!(string_format("a@b.io"), StrFormat::Email);
        assert_eq!(string_format("https://x.org/a"), StrFormat::Uri);
        assert_eq!(string_format("10.0.0.1"), StrFormat::Ipv4);
        assert_eq!(string_format("::1"), StrFormat::Ipv6);
        assert_eq!(string_format("q83v/A=="), StrFormat::Byte);
        assert_eq!(string_format("hello world"), StrFormat::None);
        assert_eq!(string_format("abcdefgh"), StrFormat::None);
        assert_eq!(string_format("1.5"), StrFormat::None);
    }

    #[test]
    fn text_and_names() {
        assert_eq!(classify_text("12"), TextScalar::Int);
        assert_eq!(classify_text("-3"), TextScalar::Int);
        assert_eq!(classify_text("1.25"), TextScalar::Num);
        assert_eq!(classify_text("true"), TextScalar::Bool);
        assert_eq!(classify_text("007"), TextScalar::Str(StrFormat::None));
        assert_eq!(singular("users"), "user");
        assert_eq!(singular("categories"), "category");
        assert_eq!(singular("addresses"), "address");
        assert_eq!(singular("status"), "status");
        assert_eq!(camel("line-items", false), "lineItems");
        assert_eq!(camel("users", true), "Users");
    }
}
