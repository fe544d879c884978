//! Redaction of example values. The model never stores values unless
//! [`crate::LearnConfig::examples`] is on; then every example passes through [`redact`] first.
//!
//! Redacted: values under secret-looking keys (password, token, secret, api_key, auth,
//! cookie, session, credential, signature, private key...), JWTs, cloud/vendor keys (AWS
//! `AKIA`/`ASIA`, Google `AIza`, GitHub `ghp_`/`gho_`/`github_pat_`, Slack `xox?-`, Stripe
//! `sk_live_`/`rk_live_`), card numbers (13–19 digits passing Luhn), e-mail addresses, and
//! bearer/basic credentials.

use crate::classify::is_email;

/// The replacement text.
pub const REDACTED: &str = "<redacted>";

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
    const NEEDLES: [&str; 14] = [
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
    ["key", "pin", "cvv", "cvc", "ssn"]
        .iter()
        .any(|k| key.eq_ignore_ascii_case(k))
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

/// Redact one example value, given the key it was found under.
pub fn redact(key: &str, value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    if is_secret_key(key) {
        return Value::String(REDACTED.into());
    }
    match value {
        Value::String(s) if is_secret_value(s) => Value::String(REDACTED.into()),
        Value::Number(n) if is_card_number(&n.to_string()) => Value::String(REDACTED.into()),
        v => v.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn redacts() {
        assert_eq!(redact("password", &json!("hunter2")), json!(REDACTED));
        assert_eq!(redact("X-Api-Key", &json!("abc")), json!(REDACTED));
        assert_eq!(
            redact("note", &json!("AKIAIOSFODNN7EXAMPLE")),
            json!(REDACTED)
        );
        assert_eq!(
            redact("card", &json!("4111 1111 1111 1111")),
            json!(REDACTED)
        );
        assert_eq!(redact("n", &json!(4111111111111111u64)), json!(REDACTED));
        assert_eq!(
            redact("contact", &json!("ann@example.com")),
            json!(REDACTED)
        );
        assert_eq!(
            redact(
                "x",
                &json!("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl")
            ),
            json!(REDACTED)
        );
        assert_eq!(redact("title", &json!("Hello")), json!("Hello"));
        assert_eq!(
            redact("count", &json!(4111111111111112u64)),
            json!(4111111111111112u64)
        );
        assert!(!is_card_number("1234567890123"));
    }
}
