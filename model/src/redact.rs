//! Secret-like keys and example values.
//!
//! Examples (only with [`crate::LearnConfig::examples`]) are *synthesised* from the type and
//! format of what was observed, never copied or masked from a captured value: a string with
//! format `email` gives `user@example.com`, a `date-time` gives `2024-01-01T00:00:00Z`, an
//! integer gives `0`, a plain string gives `"string"` ([`example_for`], [`example_text`]).
//! An exported enum replaces a string example by its first value (vocabulary, see
//! [`crate::schema`]).
//!
//! Secret-like keys ([`is_secret_key`]): names containing password, passwd, pwd, secret,
//! token, api_key, apikey, auth, cookie, session, credential, signature, private_key,
//! access_key or social_security; names with a word (split at `_`, `-`, `.` and camelCase)
//! among pass, passphrase, passcode, pin, otp, totp, mfa, cvv, cvc, ssn, answer, maiden,
//! memorable, mnemonic, recovery, seed, key; and the exact names `key`, `pin`, `cvv`, `cvc`,
//! `ssn`. These keys never get an enum and are counted as the `secret` class in the
//! sensitive-data inventory.

use crate::classify::{classify_text, is_email, string_format, StrFormat, TextScalar};
use serde_json::Value;

/// Case-insensitive substring test where `-` and `.` in `hay` match `_` in `needle`; no allocation.
pub fn key_contains(hay: &str, needle: &str) -> bool {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    if n.len() > h.len() {
        return false;
    }
    let norm = |c: u8| match c {
        b'-' | b'.' => b'_',
        c => c.to_ascii_lowercase(),
    };
    h.windows(n.len())
        .any(|w| w.iter().zip(n).all(|(a, b)| norm(*a) == *b))
}

/// Does this key name suggest a secret?
pub fn is_secret_key(key: &str) -> bool {
    const NEEDLES: [&str; 15] = [
        "social_security",
        "password",
        "passwd",
        "pwd",
        "secret",
        "token",
        "api_key",
        "apikey",
        "auth",
        "cookie",
        "session",
        "credential",
        "signature",
        "private_key",
        "access_key",
    ];
    if NEEDLES.iter().any(|n| key_contains(key, n)) {
        return true;
    }
    const WORDS: [&str; 18] = [
        "pass",
        "passphrase",
        "passcode",
        "pin",
        "otp",
        "totp",
        "mfa",
        "cvv",
        "cvc",
        "ssn",
        "answer",
        "answers",
        "maiden",
        "memorable",
        "mnemonic",
        "recovery",
        "seed",
        "key",
    ];
    if key_words(key).any(|w| WORDS.iter().any(|x| x.eq_ignore_ascii_case(w))) {
        return true;
    }
    ["key", "pin", "cvv", "cvc", "ssn"]
        .iter()
        .any(|k| key.eq_ignore_ascii_case(k))
}

thread_local! {
    /// [`is_secret_key`] answers by key ([`crate::memo`]: the exact key is compared, so the
    /// answer is always the function's). Asked for every non-standard request header, query
    /// key and cookie name of every exchange (the same few names over and over:
    /// `x-request-id`, `page`), where the 33 substring and word tests cost ~1,700
    /// instructions a name.
    static SECRET_MEMO: crate::memo::KeyMemo<bool> = const { crate::memo::KeyMemo::new(false) };
}

/// [`is_secret_key`], remembered for short keys.
pub(crate) fn is_secret_key_memo(key: &str) -> bool {
    SECRET_MEMO.with(|m| m.get(key, is_secret_key))
}

/// Luhn check on a digit string (spaces and dashes ignored), 13–19 digits.
pub fn is_card_number(s: &str) -> bool {
    let ds: Vec<u32> = s
        .chars()
        .filter(|c| *c != ' ' && *c != '-')
        .map(|c| c.to_digit(10).unwrap_or(99))
        .collect();
    if ds.len() < 13 || ds.len() > 19 || ds.iter().any(|&d| d > 9) {
        return false;
    }
    let sum: u32 = ds
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

fn is_jwt(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 3
        && s.starts_with("eyJ")
        && parts.iter().take(2).all(|p| {
            p.len() >= 4
                && p.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        })
}

/// Does this value look like a secret regardless of its key?
pub fn is_secret_value(s: &str) -> bool {
    let t = s.trim();
    let lower_prefixes = ["bearer ", "basic ", "token ", "digest "];
    if lower_prefixes
        .iter()
        .any(|p| t.len() > p.len() && t.get(..p.len()).is_some_and(|x| x.eq_ignore_ascii_case(p)))
    {
        return true;
    }
    const PREFIXES: [&str; 12] = [
        "AKIA",
        "ASIA",
        "AIza",
        "ghp_",
        "gho_",
        "ghs_",
        "github_pat_",
        "xoxb-",
        "xoxp-",
        "sk_live_",
        "rk_live_",
        "sk-",
    ];
    if PREFIXES
        .iter()
        .any(|p| t.starts_with(p) && t.len() >= p.len() + 10)
    {
        return true;
    }
    is_jwt(t) || is_card_number(t) || is_email(t) || t.contains("-----BEGIN")
}

/// The words of a key: split at non-alphanumerics and lower→upper case changes
/// (`securityAnswer` → `security`, `Answer`); no allocation.
pub fn key_words(key: &str) -> impl Iterator<Item = &str> {
    let b = key.as_bytes();
    let mut start = 0usize;
    let mut i = 0usize;
    std::iter::from_fn(move || {
        while i <= b.len() {
            let at = i;
            i += 1;
            let boundary = at == b.len()
                || !b[at].is_ascii_alphanumeric()
                || at > start
                    && b[at].is_ascii_uppercase()
                    && b.get(at - 1).is_some_and(|c| c.is_ascii_lowercase());
            if !boundary {
                continue;
            }
            let w = key.get(start..at).unwrap_or("");
            start = if at < b.len() && b[at].is_ascii_alphanumeric() {
                at
            } else {
                at + 1
            };
            if !w.is_empty() {
                return Some(w);
            }
        }
        None
    })
}

/// A synthesised example for a string of this format.
pub fn example_string(f: StrFormat) -> &'static str {
    match f {
        StrFormat::DateTime => "2024-01-01T00:00:00Z",
        StrFormat::Date => "2024-01-01",
        StrFormat::Time => "00:00:00Z",
        StrFormat::Uuid => "00000000-0000-4000-8000-000000000000",
        StrFormat::Email => "user@example.com",
        StrFormat::Uri => "https://example.com/",
        StrFormat::Ipv4 => "192.0.2.1",
        StrFormat::Ipv6 => "2001:db8::1",
        StrFormat::Byte => "c3RyaW5n",
        StrFormat::Binary | StrFormat::None => "string",
    }
}

/// A synthesised example for a JSON value: from its type and string format only.
pub fn example_for(v: &Value) -> Value {
    match v {
        Value::Null => Value::Null,
        Value::Bool(_) => Value::Bool(true),
        Value::Number(n) if n.is_f64() => serde_json::json!(1.5),
        Value::Number(_) => serde_json::json!(0),
        Value::String(s) => Value::String(example_string(string_format(s)).into()),
        Value::Array(_) => Value::Array(Vec::new()),
        Value::Object(_) => Value::Object(Default::default()),
    }
}

/// A synthesised example for a value that arrived as text (query, header, path, form).
pub fn example_text(s: &str) -> Value {
    match classify_text(s) {
        TextScalar::Bool => Value::Bool(true),
        TextScalar::Int => serde_json::json!(0),
        TextScalar::Num => serde_json::json!(1.5),
        TextScalar::Str(f) => Value::String(example_string(f).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_keys() {
        for k in [
            "password",
            "X-Api-Key",
            "passphrase",
            "mothers_maiden",
            "memorable_word",
            "security_answer",
            "securityAnswer",
            "social_security_number",
            "otp_code",
            "pass",
            "client_key",
            "pin",
            "card_cvv",
        ] {
            assert!(is_secret_key(k), "{k}");
            // twice: the second answer comes from the memo
            assert!(is_secret_key_memo(k) && is_secret_key_memo(k), "{k}");
        }
        for k in [
            "status",
            "passenger_count",
            "compass",
            "title",
            "type",
            "keyboard",
        ] {
            assert!(!is_secret_key(k), "{k}");
            assert!(!is_secret_key_memo(k) && !is_secret_key_memo(k), "{k}");
        }
        let w: Vec<&str> = key_words("order-statusCode_x").collect();
        assert_eq!(w, ["order", "status", "Code", "x"]);
    }

    #[test]
    fn examples_are_synthesised() {
        assert_eq!(
            example_for(&json!("ann@corp.io")),
            json!("user@example.com")
        );
        assert_eq!(example_for(&json!("hunter2")), json!("string"));
        assert_eq!(example_for(&json!(4111111111111111u64)), json!(0));
        assert_eq!(example_for(&json!(2.75)), json!(1.5));
        assert_eq!(example_text("123-45-6789"), json!("string"));
        assert_eq!(example_text("42"), json!(0));
        assert_eq!(
            example_text("2024-05-06T07:08:09Z"),
            json!("2024-01-01T00:00:00Z")
        );
    }

    #[test]
    fn secret_values() {
        assert!(is_secret_value("AKIAIOSFODNN7EXAMPLE"));
        assert!(is_secret_value("4111 1111 1111 1111"));
        assert!(is_secret_value("ann@example.com"));
        assert!(is_secret_value(
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
        ));
        assert!(!is_secret_value("Hello"));
        assert!(!is_card_number("1234567890123"));
    }
}
