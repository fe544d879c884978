//! Sensitive-data detection: which PII class a captured value has the shape of.
//!
//! The detectors never keep a value; callers count the class ([`PiiClass`]) where the value
//! was seen (a schema position, a parameter, a header) and that count is the model's
//! sensitive-data inventory, exported as `x-apitap-pii`.
//!
//! Classes and rules (each a shape check on the whole value, trimmed, no allocation):
//! - `email`: a plausible address ([`crate::classify::is_email`]).
//! - `phone`: `+` and 8–15 digits (E.164, spaces, dots, dashes and one parenthesised group
//!   allowed), or the North-American `ddd-ddd-dddd` / `(ddd) ddd-dddd` / `ddd.ddd.dddd`.
//!   Bare digit strings are not phones (they are ids).
//! - `card`: 13–19 digits (spaces/dashes allowed) passing the Luhn check and starting with a
//!   card-network digit (2–6).
//! - `iban`: country letters, 2 check digits, 11–30 alphanumerics (spaces allowed), valid
//!   ISO 13616 mod-97 checksum.
//! - `ssn`: `ddd-dd-dddd` with a non-zero area, group and serial.
//! - `jwt`: `eyJ…` with three dot-separated base64url parts.
//! - `ip`: an IPv4 or IPv6 address.
//! - `secret`: a credential by its value (bearer/basic credentials, vendor key prefixes such
//!   as AWS `AKIA`, GitHub `ghp_`, Stripe `sk_live_`, PEM blocks) or any value under a
//!   secret-like key ([`crate::redact::is_secret_key`]).
//!
//! [`pii_segment`] is the path-segment test: a segment of one of these shapes (after
//! percent-decoding `@`, `+`, space) is always a parameter, however few distinct values were
//! seen, so it never becomes a literal in a template, a route label or `/v1/endpoints`.

use crate::classify::is_email;
use serde::{Deserialize, Serialize};

/// A class of sensitive value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PiiClass {
    /// E-mail address.
    Email,
    /// Telephone number.
    Phone,
    /// Payment card number (Luhn-valid).
    Card,
    /// IBAN (mod-97 valid).
    Iban,
    /// US social security number.
    Ssn,
    /// JSON Web Token.
    Jwt,
    /// IP address.
    Ip,
    /// A credential or a value under a secret-like key.
    Secret,
}

/// Number of [`PiiClass`] variants.
pub const N_CLASSES: usize = 8;

impl PiiClass {
    /// All classes.
    pub const ALL: [PiiClass; N_CLASSES] = [
        PiiClass::Email,
        PiiClass::Phone,
        PiiClass::Card,
        PiiClass::Iban,
        PiiClass::Ssn,
        PiiClass::Jwt,
        PiiClass::Ip,
        PiiClass::Secret,
    ];

    /// The lowercase name (`email`, `card`...), as exported and used as a metric label.
    pub fn name(self) -> &'static str {
        match self {
            PiiClass::Email => "email",
            PiiClass::Phone => "phone",
            PiiClass::Card => "card",
            PiiClass::Iban => "iban",
            PiiClass::Ssn => "ssn",
            PiiClass::Jwt => "jwt",
            PiiClass::Ip => "ip",
            PiiClass::Secret => "secret",
        }
    }
}

/// Luhn check on 13–19 digits (spaces and dashes ignored).
pub fn luhn_ok(s: &str) -> bool {
    let mut sum = 0u32;
    let mut n = 0usize;
    for c in s.bytes().rev() {
        match c {
            b' ' | b'-' => continue,
            b'0'..=b'9' => {
                let mut d = (c - b'0') as u32;
                if n % 2 == 1 {
                    d *= 2;
                    if d > 9 {
                        d -= 9;
                    }
                }
                sum += d;
                n += 1;
                if n > 19 {
                    return false;
                }
            }
            _ => return false,
        }
    }
    (13..=19).contains(&n) && sum.is_multiple_of(10)
}

/// A payment card number: Luhn-valid, 13–19 digits, first digit 2–6.
pub fn is_card(s: &str) -> bool {
    let first = s.bytes().find(|c| c.is_ascii_digit());
    matches!(first, Some(b'2'..=b'6')) && luhn_ok(s)
}

/// An IBAN with a valid ISO 13616 mod-97 checksum.
pub fn is_iban(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 15 || b.len() > 42 {
        return false;
    }
    let mut chars = b.iter().copied().filter(|c| *c != b' ');
    let (Some(c0), Some(c1), Some(d0), Some(d1)) =
        (chars.next(), chars.next(), chars.next(), chars.next())
    else {
        return false;
    };
    if !(c0.is_ascii_uppercase()
        && c1.is_ascii_uppercase()
        && d0.is_ascii_digit()
        && d1.is_ascii_digit())
    {
        return false;
    }
    // rearranged: BBAN then country then check digits; letters count as 10..35
    let mut rem: u32 = 0;
    let mut len = 0usize;
    let mut add = |c: u8| -> bool {
        let v = match c {
            b'0'..=b'9' => (c - b'0') as u32,
            b'A'..=b'Z' => (c - b'A') as u32 + 10,
            _ => return false,
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
        true
    };
    for c in chars {
        if !add(c) {
            return false;
        }
        len += 1;
    }
    if !(11..=30).contains(&len) {
        return false;
    }
    add(c0) && add(c1) && add(d0) && add(d1) && rem == 1
}

/// A US social security number `ddd-dd-dddd` (area, group, serial non-zero, area not 666).
pub fn is_ssn(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 11 || b[3] != b'-' || b[6] != b'-' {
        return false;
    }
    let d = |r: std::ops::Range<usize>| b[r].iter().all(|c| c.is_ascii_digit());
    let z = |r: std::ops::Range<usize>| b[r].iter().all(|c| *c == b'0');
    d(0..3) && d(4..6) && d(7..11) && !z(0..3) && !z(4..6) && !z(7..11) && &b[0..3] != b"666"
}

/// A telephone number (see the module doc for the accepted shapes).
pub fn is_phone(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 9 || b.len() > 24 {
        return false;
    }
    if b[0] == b'+' {
        let mut digits = 0;
        let mut parens = 0;
        let mut prev_sep = false;
        for &c in &b[1..] {
            match c {
                b'0'..=b'9' => {
                    digits += 1;
                    prev_sep = false;
                }
                b' ' | b'-' | b'.' if !prev_sep => prev_sep = true,
                b'(' | b')' => parens += 1,
                _ => return false,
            }
        }
        return (8..=15).contains(&digits) && (parens == 0 || parens == 2);
    }
    // North-American forms: ddd-ddd-dddd, ddd.ddd.dddd, (ddd) ddd-dddd
    let groups = |t: &[u8], sep: u8| {
        t.len() == 12
            && t[3] == sep
            && t[7] == sep
            && t.iter()
                .enumerate()
                .all(|(i, c)| i == 3 || i == 7 || c.is_ascii_digit())
    };
    if groups(b, b'-') || groups(b, b'.') {
        return true;
    }
    b.len() == 14
        && b[0] == b'('
        && b[4] == b')'
        && b[5] == b' '
        && b[9] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| matches!(i, 0 | 4 | 5 | 9) || c.is_ascii_digit())
}

/// A JSON Web Token (`eyJ` header, three base64url parts).
pub fn is_jwt(s: &str) -> bool {
    if !s.starts_with("eyJ") || s.len() < 20 {
        return false;
    }
    let mut parts = 0;
    for p in s.split('.') {
        parts += 1;
        if parts > 3
            || parts < 3 && p.len() < 4
            || !p
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_' || c == b'=')
        {
            return false;
        }
    }
    parts == 3
}

/// An IPv4 or IPv6 address.
pub fn is_ip(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 3 || b.len() > 45 {
        return false;
    }
    if b.contains(&b'.') && b.iter().all(|c| c.is_ascii_digit() || *c == b'.') {
        return s.parse::<std::net::Ipv4Addr>().is_ok();
    }
    crate::classify::ipv6_chars(b) && s.parse::<std::net::Ipv6Addr>().is_ok()
}

/// A credential recognisable by its value alone.
pub fn is_credential(s: &str) -> bool {
    // every scheme and prefix below starts with one of these bytes (a cheap rejection of
    // most values before the comparisons)
    let starts = s.as_bytes().first().is_some_and(|c| {
        matches!(
            c,
            b'b' | b'B' | b't' | b'T' | b'd' | b'D' | b'A' | b'g' | b'x' | b's' | b'r'
        )
    });
    if !starts {
        return has_pem_header(s.as_bytes());
    }
    const SCHEMES: [&str; 4] = ["bearer ", "basic ", "token ", "digest "];
    if SCHEMES.iter().any(|p| {
        s.len() > p.len() + 3 && s.get(..p.len()).is_some_and(|x| x.eq_ignore_ascii_case(p))
    }) {
        return true;
    }
    const PREFIXES: [&str; 15] = [
        "AKIA",
        "ASIA",
        "AIza",
        "ghp_",
        "gho_",
        "ghs_",
        "ghu_",
        "github_pat_",
        "glpat-",
        "xoxb-",
        "xoxp-",
        "sk_live_",
        "rk_live_",
        "sk_test_",
        "sk-",
    ];
    PREFIXES
        .iter()
        .any(|p| s.starts_with(p) && s.len() >= p.len() + 10)
        || has_pem_header(s.as_bytes())
}

/// Does `b` contain `-----BEGIN` (a PEM block)? Looks only where a `-` is.
fn has_pem_header(b: &[u8]) -> bool {
    let mut from = 0;
    while let Some(p) = b
        .get(from..)
        .and_then(|r| r.iter().position(|&c| c == b'-'))
    {
        let at = from + p;
        if b.get(at..at + 10) == Some(b"-----BEGIN".as_slice()) {
            return true;
        }
        from = at + 1;
    }
    false
}

/// The PII class of a value's shape, if any. Cheap for ordinary words.
pub fn classify_value(s: &str) -> Option<PiiClass> {
    let s = s.trim();
    let b = s.as_bytes();
    let first = *b.first()?;
    if b.len() < 7 {
        // shorter than any class (IPv6 `::1` aside, not worth a class)
        return None;
    }
    if b.contains(&b'@') {
        return is_email(s).then_some(PiiClass::Email);
    }
    if first == b'e' && is_jwt(s) {
        return Some(PiiClass::Jwt);
    }
    if is_credential(s) {
        return Some(PiiClass::Secret);
    }
    if first.is_ascii_digit() || first == b'+' || first == b'(' {
        if is_ssn(s) {
            return Some(PiiClass::Ssn);
        }
        if is_phone(s) {
            return Some(PiiClass::Phone);
        }
        if is_card(s) {
            return Some(PiiClass::Card);
        }
    }
    if first.is_ascii_uppercase() && b.get(1).is_some_and(|c| c.is_ascii_uppercase()) && is_iban(s)
    {
        return Some(PiiClass::Iban);
    }
    if (first.is_ascii_hexdigit() || first == b':') && is_ip(s) {
        return Some(PiiClass::Ip);
    }
    None
}

/// The PII class of an integer value (card numbers sent as JSON numbers).
pub fn classify_int(v: u64) -> Option<PiiClass> {
    if v < 1_000_000_000_000 {
        return None;
    }
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut x = v;
    while x > 0 {
        i -= 1;
        buf[i] = b'0' + (x % 10) as u8;
        x /= 10;
    }
    let s = std::str::from_utf8(&buf[i..]).ok()?;
    is_card(s).then_some(PiiClass::Card)
}

/// Is this raw path segment PII-shaped (so always a parameter)? Percent-encoded `@`, `+`,
/// space and parentheses are decoded first.
pub fn pii_segment(seg: &str) -> bool {
    segment_class(seg).is_some()
}

/// [`classify_value`] of a raw, maybe percent-encoded, value (see [`pii_segment`]).
pub fn segment_class(seg: &str) -> Option<PiiClass> {
    if seg.len() < 7 || seg.len() > 512 {
        return None;
    }
    if seg.contains('%') {
        let mut buf = String::with_capacity(seg.len());
        let b = seg.as_bytes();
        let mut i = 0;
        while i < b.len() {
            let dec = match b.get(i..i + 3) {
                Some(b"%40") => Some('@'),
                Some(b"%2B") | Some(b"%2b") => Some('+'),
                Some(b"%20") => Some(' '),
                Some(b"%28") => Some('('),
                Some(b"%29") => Some(')'),
                _ => None,
            };
            match dec {
                Some(c) => {
                    buf.push(c);
                    i += 3;
                }
                None => {
                    buf.push(b[i] as char);
                    i += 1;
                }
            }
        }
        return classify_value(&buf);
    }
    classify_value(seg)
}

/// A set of [`PiiClass`]es as bits (`1 << class as u8`).
pub type ClassSet = u8;

/// The classes in a set, in [`PiiClass::ALL`] order.
pub fn classes(set: ClassSet) -> impl Iterator<Item = PiiClass> {
    PiiClass::ALL
        .into_iter()
        .filter(move |c| set & (1 << (*c as u8)) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_rejections_keep_the_answers() {
        assert!(is_credential("x -----BEGIN RSA PRIVATE KEY----- abc"));
        assert!(is_credential("-----BEGIN CERTIFICATE-----"));
        assert!(!is_credential("2024-01-01 ----BEGIN"));
        assert!(is_credential("Bearer abcdef") && is_credential("sk_live_0123456789ab"));
        assert!(!is_credential("Sk_live_0123456789ab"));
        assert!(is_ip("fe80::1") && is_ip("::ffff:192.0.2.1") && is_ip("2001:DB8::1"));
        assert!(!is_ip("deadbeef") && !is_ip("2024-01-01T00:00:00Z") && !is_ip("fe80::1%eth0"));
    }

    #[test]
    fn classes() {
        let c = |s| classify_value(s).map(PiiClass::name);
        assert_eq!(c("ann.lee@example.com"), Some("email"));
        assert_eq!(c("+14155550142"), Some("phone"));
        assert_eq!(c("+44 20 7946 0958"), Some("phone"));
        assert_eq!(c("+1 (415) 555-0142"), Some("phone"));
        assert_eq!(c("415-555-0142"), Some("phone"));
        assert_eq!(c("(415) 555-0142"), Some("phone"));
        assert_eq!(c("4111 1111 1111 1111"), Some("card"));
        assert_eq!(c("4111111111111111"), Some("card"));
        assert_eq!(c("4111111111111112"), None);
        assert_eq!(c("GB82 WEST 1234 5698 7654 32"), Some("iban"));
        assert_eq!(c("DE89370400440532013000"), Some("iban"));
        assert_eq!(c("DE89370400440532013001"), None);
        assert_eq!(c("123-45-6789"), Some("ssn"));
        assert_eq!(c("000-45-6789"), None);
        assert_eq!(
            c("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"),
            Some("jwt")
        );
        assert_eq!(c("10.1.2.3"), Some("ip"));
        assert_eq!(c("2001:db8::1"), Some("ip"));
        assert_eq!(c("AKIAIOSFODNN7EXAMPLE"), Some("secret"));
        assert_eq!(c("Bearer abc.def.ghi"), Some("secret"));
        // ordinary values
        for v in [
            "active",
            "2024-01-31",
            "12345678",
            "1.2.3",
            "v1.2.3",
            "in_progress",
            "hello world",
            "3.14159",
            "deadbeef",
            "Cafe",
            "ABCDEFGHIJKLMNOP",
        ] {
            assert_eq!(c(v), None, "{v}");
        }
        assert_eq!(classify_int(4111111111111111), Some(PiiClass::Card));
        assert_eq!(classify_int(1234567), None);
    }

    #[test]
    fn observe_returns_classes() {
        // the learner reports the classes it found, so the agent's per-route PII metric
        // needs no second scan of the exchange
        let cfg = crate::LearnConfig::default();
        let mut m = crate::ApiModel::new();
        let o = crate::Observation {
            method: "POST".into(),
            target: "/users/+14155550142/x?email=ann%40example.com".into(),
            request_headers: vec![
                ("Content-Type".into(), "application/json".into()),
                ("Cookie".into(), "session=abc".into()),
            ]
            .into(),
            request_body: Some(
                br#"{"iban":"DE89370400440532013000","n":4111111111111111}"#.to_vec(),
            ),
            status: Some(200),
            ..Default::default()
        };
        let got: Vec<&str> = super::classes(m.observe(&o, &cfg))
            .map(PiiClass::name)
            .collect();
        assert_eq!(got, ["email", "phone", "card", "iban", "secret"]);
        let auth = crate::Observation {
            method: "GET".into(),
            target: "/users/42?page=2".into(),
            request_headers: vec![("Authorization".into(), "Bearer x".into())].into(),
            status: Some(200),
            ..Default::default()
        };
        assert_eq!(m.observe(&auth, &cfg), 1 << PiiClass::Secret as u8);
        let plain = crate::Observation {
            method: "GET".into(),
            target: "/users/42?page=2".into(),
            response_headers: vec![("Content-Type".into(), "application/json".into())].into(),
            response_body: Some(br#"{"name":"Ann","n":7}"#.to_vec()),
            status: Some(200),
            ..Default::default()
        };
        assert_eq!(m.observe(&plain, &cfg), 0);
    }

    #[test]
    fn segments() {
        assert!(pii_segment("123-45-6789"));
        assert!(pii_segment("+14155550142"));
        assert!(pii_segment("%2B14155550142"));
        assert!(pii_segment("ann%40example.com"));
        assert!(pii_segment("GB82WEST12345698765432"));
        assert!(!pii_segment("profile"));
        assert!(!pii_segment("my-first-post"));
        assert!(!pii_segment("2024-01-31"));
    }
}
