//! Stage 6 — output: exchanges printed as JSON lines or HAR 1.2, in capture order of the
//! request.
//!
//! Exchanges complete out of order (a slow response on one connection, fast ones on others),
//! so [`Reorderer`] holds finished exchanges until every exchange that *started* earlier has
//! finished too. It is bounded: past its cap it releases the oldest finished exchange early
//! and counts it in [`ReorderStats::forced`]; order is then best-effort, never unbounded.
//!
//! Writers: [`jsonl::JsonlWriter`] (one JSON object per line; the field names are the public
//! interface, see the README) and [`har::HarWriter`] (HAR 1.2, streamed, for Postman,
//! browsers and mitmproxy2swagger).

pub mod har;
pub mod jsonl;
mod order;

pub use order::{ReorderStats, Reorderer};

use apitap_engine::http::Exchange;
use apitap_engine::Timestamp;
use std::io;
use std::net::SocketAddr;

/// A destination for finished exchanges.
pub trait ExchangeWriter {
    /// Writes one exchange.
    fn write(&mut self, ex: &Exchange) -> io::Result<()>;
    /// Writes any trailer and flushes.
    fn finish(&mut self) -> io::Result<()>;
}

/// A body as text if it is valid UTF-8, else as base64: `(text, is_base64)`.
pub fn body_text(body: &[u8]) -> (std::borrow::Cow<'_, str>, bool) {
    use base64::Engine as _;
    match std::str::from_utf8(body) {
        Ok(s) => (std::borrow::Cow::Borrowed(s), false),
        Err(_) => (
            std::borrow::Cow::Owned(base64::engine::general_purpose::STANDARD.encode(body)),
            true,
        ),
    }
}

/// Appends `ts` as [`Timestamp::rfc3339`] formats it (UTC, microseconds,
/// `2009-11-18T20:58:04.030912Z`), without `core::fmt` from 1970 on (days to civil dates as
/// in Howard Hinnant's `civil_from_days`); earlier times go through [`Timestamp::rfc3339`]
/// itself.
pub fn rfc3339_into(ts: Timestamp, out: &mut String) {
    /// 10000-01-01T00:00:00Z.
    const END: i64 = 253_402_300_800;
    let secs = ts.0.div_euclid(1_000_000_000);
    let micros = ts.0.rem_euclid(1_000_000_000) / 1_000;
    if !(0..END).contains(&secs) {
        out.push_str(&ts.rfc3339());
        return;
    }
    let (days, sod) = (secs / 86_400, secs % 86_400);
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let mut b = *b"0000-00-00T00:00:00.000000Z";
    let mut put = |at: usize, width: usize, mut v: i64| {
        for i in (at..at + width).rev() {
            if let Some(d) = b.get_mut(i) {
                *d = b'0' + (v % 10) as u8;
            }
            v /= 10;
        }
    };
    put(0, 4, year);
    put(5, 2, month);
    put(8, 2, day);
    put(11, 2, sod / 3_600);
    put(14, 2, sod / 60 % 60);
    put(17, 2, sod % 60);
    put(20, 6, micros);
    // Only ASCII digits were written into an ASCII template.
    out.push_str(std::str::from_utf8(&b).unwrap_or_default());
}

/// Appends `a` as its `Display` does (`1.2.3.4:80`, `[::1]:80`), without `core::fmt` for
/// IPv4.
pub fn socket_addr_into(a: &SocketAddr, out: &mut String) {
    fn dec(out: &mut String, v: u16) {
        let mut digits = [0u8; 5];
        let mut n = 0;
        let mut v = v;
        loop {
            if let Some(d) = digits.get_mut(n) {
                *d = b'0' + (v % 10) as u8;
            }
            n += 1;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        for d in digits.iter().take(n).rev() {
            out.push(char::from(*d));
        }
    }
    match a {
        SocketAddr::V4(v4) => {
            for (i, o) in v4.ip().octets().into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                dec(out, u16::from(o));
            }
            out.push(':');
            dec(out, v4.port());
        }
        SocketAddr::V6(_) => {
            use std::fmt::Write as _;
            let _ = write!(out, "{a}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_into_is_rfc3339() {
        let day = 86_400i64;
        let mut cases: Vec<i64> = vec![0, 1, 999, 1_000, -1, -1_000, i64::MIN, i64::MAX];
        // Every day boundary (and the second before) of 1970-2101, leap years and century
        // rules included, plus a spread of times across the whole range (nanoseconds in an
        // i64 reach 2262).
        for d in 0..(132 * 366) {
            let s = d * day;
            cases.push(s * 1_000_000_000);
            cases.push((s - 1) * 1_000_000_000 + 999_999_999);
        }
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            cases.push((x >> 1) as i64);
            cases.push(x as i64);
        }
        let mut s = String::new();
        for n in cases {
            let ts = Timestamp(n);
            s.clear();
            rfc3339_into(ts, &mut s);
            assert_eq!(s, ts.rfc3339(), "{n}");
        }
    }

    #[test]
    fn socket_addr_into_is_display() {
        let mut s = String::new();
        for a in [
            "0.0.0.0:0",
            "1.2.3.4:80",
            "255.255.255.255:65535",
            "10.0.0.1:8080",
            "192.168.100.10:443",
            "[::1]:80",
            "[2001:db8::1]:8443",
            "[::ffff:1.2.3.4]:1",
        ] {
            let a: SocketAddr = a.parse().unwrap();
            s.clear();
            socket_addr_into(&a, &mut s);
            assert_eq!(s, a.to_string());
        }
        for ip in [
            0u32,
            1,
            9,
            10,
            99,
            100,
            255,
            256,
            0x0a00_0001,
            0xffff_ffff,
            0x7f00_0001,
        ] {
            for port in [0u16, 1, 9, 10, 99, 100, 999, 1000, 9999, 10000, 65535] {
                let a = SocketAddr::from((std::net::Ipv4Addr::from(ip), port));
                s.clear();
                socket_addr_into(&a, &mut s);
                assert_eq!(s, a.to_string());
            }
        }
    }
}
