//! Reading a JSON text already checked to be sound: a serde [`Deserializer`] over text that
//! `schema::sound_json` accepted (one value, UTF-8, valid grammar and escapes, paired
//! surrogates, finite numbers, nesting within bounds).
//!
//! Policy:
//! - **Same visits as serde_json.** Every visitor sees exactly the calls
//!   `serde_json::Deserializer::from_str` makes on the same text: `visit_borrowed_str` for a
//!   string without escapes, `visit_str` (of the unescaped text) for one with escapes,
//!   `visit_u64` for a non-negative integer that fits, `visit_i64` for a negative one whose
//!   negation is negative as an `i64`, `visit_f64` for every other number (parsed by
//!   serde_json itself, so the value is bit for bit the one it would give), `visit_unit` for
//!   `null`, `visit_map`/`visit_seq` for containers. The schema walk, value flow and
//!   `Value` building are therefore the same whichever reads the text (tested against
//!   serde_json on generated documents).
//! - **Why it exists.** The check has already scanned every byte; serde_json's own reader
//!   checks each again (positions, UTF-8 of escapes, number syntax, recursion, trailing
//!   commas) on the hottest path of learning. This reader only finds the ends of strings
//!   (eight bytes at a time) and reads numbers.
//! - **No panic on any input.** Bytes are read with `get`; text it was not built for (not
//!   checked first) gives an [`Error`], never a panic or a loop: every step consumes at
//!   least one byte or stops, and containers nest at most `SOUND_DEPTH` deep here too (the
//!   check's bound), so unchecked nesting cannot exhaust the stack.

use crate::schema::SOUND_DEPTH;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// The walk stopped: a visitor refused a value, or the text was not as checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Error;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("the JSON walk stopped")
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Error
    }
}

/// A sound JSON text, read from the start (see the module doc).
pub(crate) struct SoundText<'de> {
    text: &'de str,
    i: usize,
    /// Containers open around the current value.
    depth: usize,
    /// Unescaped text of the current string with escapes (kept for its allocation).
    scratch: String,
}

const ONES: u64 = u64::MAX / 255;

/// The eight bytes at `i` as one little-endian word, when there are eight.
#[inline]
pub(crate) fn word_at(b: &[u8], i: usize) -> Option<u64> {
    let mut w = [0u8; 8];
    w.copy_from_slice(b.get(i..i + 8)?);
    Some(u64::from_le_bytes(w))
}

/// The bytes of `x` equal to `c`, flagged by their high bit. Flags above a true match may
/// be false (a borrow runs upwards), never below: only the lowest flag of a mask (or of an
/// `|` of such masks) is to be read, with `trailing_zeros() / 8`.
#[inline]
pub(crate) fn bytes_eq(x: u64, c: u8) -> u64 {
    let q = x ^ (ONES * u64::from(c));
    q.wrapping_sub(ONES) & !q & (ONES << 7)
}

/// The bytes of `x` below 0x20 (control bytes), flagged as [`bytes_eq`] flags them.
#[inline]
pub(crate) fn bytes_ctrl(x: u64) -> u64 {
    x.wrapping_sub(ONES * 0x20) & !x & (ONES << 7)
}

/// JSON whitespace from `i` on: the index of the next other byte (or the end).
#[inline]
pub(crate) fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\n' | b'\r' | b'\t') = b.get(i) {
        i += 1;
    }
    i
}

/// Four hex digits at `i`.
pub(crate) fn hex4(b: &[u8], i: usize) -> Option<u32> {
    let d = b.get(i..i + 4)?;
    d.iter().try_fold(0u32, |n, &c| {
        let v = (c as char).to_digit(16)?;
        Some(n << 4 | v)
    })
}

impl<'de> SoundText<'de> {
    /// A reader at the start of `text` (which `sound_json` accepted).
    pub(crate) fn new(text: &'de str) -> Self {
        SoundText {
            text,
            i: 0,
            depth: 0,
            scratch: String::new(),
        }
    }

    fn bytes(&self) -> &'de [u8] {
        self.text.as_bytes()
    }

    /// Skips whitespace; the next byte.
    #[inline]
    fn peek(&mut self) -> Option<u8> {
        self.i = skip_ws(self.bytes(), self.i);
        self.bytes().get(self.i).copied()
    }

    /// Enters a container (its opening byte consumed); an error beyond the check's depth.
    fn open(&mut self) -> Result<(), Error> {
        if self.depth >= SOUND_DEPTH {
            return Err(Error);
        }
        self.depth += 1;
        self.i += 1;
        Ok(())
    }

    /// Leaves a container at its `close` byte.
    fn close(&mut self, close: u8) -> Result<(), Error> {
        self.eat(close)?;
        self.depth -= 1;
        Ok(())
    }

    /// Consumes `c` after whitespace.
    #[inline]
    fn eat(&mut self, c: u8) -> Result<(), Error> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(Error)
        }
    }

    /// The index of the next `"` or `\` from `i` (or the end).
    #[inline]
    fn quote_or_escape(&self, mut i: usize) -> usize {
        let b = self.bytes();
        while let Some(x) = word_at(b, i) {
            let hit = bytes_eq(x, b'"') | bytes_eq(x, b'\\');
            if hit != 0 {
                return i + hit.trailing_zeros() as usize / 8;
            }
            i += 8;
        }
        while let Some(&c) = b.get(i) {
            if c == b'"' || c == b'\\' {
                return i;
            }
            i += 1;
        }
        i
    }

    /// A string at the opening quote, visited as serde_json visits it.
    fn string<V: Visitor<'de>>(&mut self, v: V) -> Result<V::Value, Error> {
        let start = self.i + 1;
        let end = self.quote_or_escape(start);
        if self.bytes().get(end) == Some(&b'"') {
            self.i = end + 1;
            let s = self.text.get(start..end).ok_or(Error)?;
            return v.visit_borrowed_str(s);
        }
        let mut out = std::mem::take(&mut self.scratch);
        out.clear();
        let r = self
            .unescape(start, &mut out)
            .and_then(|()| v.visit_str(&out));
        self.scratch = out;
        r
    }

    /// The text of the string from `i` (after its opening quote), unescaped into `out`;
    /// leaves the reader after the closing quote.
    fn unescape(&mut self, mut i: usize, out: &mut String) -> Result<(), Error> {
        loop {
            let j = self.quote_or_escape(i);
            out.push_str(self.text.get(i..j).ok_or(Error)?);
            let b = self.bytes();
            match b.get(j) {
                Some(b'"') => {
                    self.i = j + 1;
                    return Ok(());
                }
                Some(b'\\') => {}
                _ => return Err(Error),
            }
            let c = match b.get(j + 1) {
                Some(b'"') => '"',
                Some(b'\\') => '\\',
                Some(b'/') => '/',
                Some(b'b') => '\x08',
                Some(b'f') => '\x0c',
                Some(b'n') => '\n',
                Some(b'r') => '\r',
                Some(b't') => '\t',
                Some(b'u') => {
                    let hi = hex4(b, j + 2).ok_or(Error)?;
                    if (0xD800..0xDC00).contains(&hi) {
                        // a pair (the check refused a lone or reversed half)
                        let lo = hex4(b, j + 8).ok_or(Error)?;
                        let c = 0x10000 + ((hi - 0xD800) << 10) + (lo.wrapping_sub(0xDC00) & 0x3ff);
                        out.push(char::from_u32(c).ok_or(Error)?);
                        i = j + 12;
                    } else {
                        out.push(char::from_u32(hi).ok_or(Error)?);
                        i = j + 6;
                    }
                    continue;
                }
                _ => return Err(Error),
            };
            out.push(c);
            i = j + 2;
        }
    }

    /// A number, visited as serde_json visits it.
    fn number<V: Visitor<'de>>(&mut self, v: V) -> Result<V::Value, Error> {
        let b = self.bytes();
        let start = self.i;
        let negative = b.get(start) == Some(&b'-');
        let mut i = start + usize::from(negative);
        let mut n: u64 = 0;
        let mut fits = true;
        while let Some(&c) = b.get(i).filter(|c| c.is_ascii_digit()) {
            match n
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(c - b'0')))
            {
                Some(x) => n = x,
                None => fits = false,
            }
            i += 1;
        }
        let integer = !matches!(b.get(i), Some(b'.' | b'e' | b'E'));
        if integer && fits {
            self.i = i;
            if !negative {
                return v.visit_u64(n);
            }
            // serde_json's rule: `-0` and negatives beyond i64 are floats
            let neg = (n as i64).wrapping_neg();
            if neg < 0 {
                return v.visit_i64(neg);
            }
        }
        if fits {
            if let Some((f, end)) = short_float(b, i, n) {
                self.i = end;
                return v.visit_f64(if negative { -f } else { f });
            }
        }
        while let Some(b'0'..=b'9' | b'+' | b'-' | b'.' | b'e' | b'E') = b.get(i) {
            i += 1;
        }
        self.i = i;
        // the rare case: serde_json's own float parse, so the value is bit for bit its
        let token = self.text.get(start..i).ok_or(Error)?;
        let f: f64 = serde_json::from_str(token).map_err(|_| Error)?;
        v.visit_f64(f)
    }

    /// Skips one value (what `deserialize_ignored_any` reads).
    fn skip_value(&mut self) -> Result<(), Error> {
        let b = self.bytes();
        let mut depth = 0usize;
        loop {
            match self.peek() {
                Some(b'{' | b'[') => {
                    depth += 1;
                    self.i += 1;
                    continue;
                }
                Some(b'}' | b']') => {
                    depth = depth.checked_sub(1).ok_or(Error)?;
                    self.i += 1;
                }
                Some(b',' | b':') if depth > 0 => {
                    self.i += 1;
                    continue;
                }
                Some(b'"') => {
                    let mut j = self.i + 1;
                    loop {
                        j = self.quote_or_escape(j);
                        match b.get(j) {
                            Some(b'"') => break,
                            Some(_) => j += 2,
                            None => return Err(Error),
                        }
                    }
                    self.i = j + 1;
                }
                Some(c) if c.is_ascii_alphanumeric() || c == b'-' => {
                    self.i += 1;
                    while let Some(c) = b.get(self.i) {
                        if !(c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.')) {
                            break;
                        }
                        self.i += 1;
                    }
                }
                _ => return Err(Error),
            }
            if depth == 0 {
                return Ok(());
            }
        }
    }
}

/// Exact powers of ten as `f64` (10^22 is the largest that is exact).
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// The magnitude of a float whose integer digits `int` end at `i` (at its `.`, `e` or
/// `E`), and the index after it, when it is short: all its digits make a significand below
/// 2^53 and its decimal exponent is within ±22. Such a value is the significand (exact as
/// an `f64`) times or divided by an exact power of ten: one correctly rounded operation,
/// the very one serde_json's parser performs (`f64_from_parts`), and the correctly
/// rounded value its `float_roundtrip` parser gives. `None`: the caller asks serde_json.
fn short_float(b: &[u8], mut i: usize, int: u64) -> Option<(f64, usize)> {
    const LIMIT: u64 = 1 << 53;
    let mut sig = int;
    let mut exp: i32 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        while let Some(&c) = b.get(i).filter(|c| c.is_ascii_digit()) {
            sig = sig
                .checked_mul(10)?
                .checked_add(u64::from(c - b'0'))
                .filter(|&s| s < LIMIT)?;
            exp -= 1;
            i += 1;
        }
    }
    if let Some(b'e' | b'E') = b.get(i) {
        i += 1;
        let negative = match b.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let mut e: i32 = 0;
        while let Some(&c) = b.get(i).filter(|c| c.is_ascii_digit()) {
            // at most two digits (the check refused more)
            e = e.checked_mul(10)?.checked_add(i32::from(c - b'0'))?;
            i += 1;
        }
        exp = if negative { exp - e } else { exp + e };
    }
    if sig >= LIMIT {
        return None;
    }
    let pow = *POW10.get(usize::try_from(exp.unsigned_abs()).ok()?)?;
    let f = sig as f64;
    Some((if exp >= 0 { f * pow } else { f / pow }, i))
}

impl<'de> Deserializer<'de> for &mut SoundText<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match self.peek() {
            Some(b'{') => {
                self.open()?;
                let r = v.visit_map(Items {
                    de: self,
                    first: true,
                })?;
                self.close(b'}')?;
                Ok(r)
            }
            Some(b'[') => {
                self.open()?;
                let r = v.visit_seq(Items {
                    de: self,
                    first: true,
                })?;
                self.close(b']')?;
                Ok(r)
            }
            Some(b'"') => self.string(v),
            Some(b't') => {
                self.i += 4;
                v.visit_bool(true)
            }
            Some(b'f') => {
                self.i += 5;
                v.visit_bool(false)
            }
            Some(b'n') => {
                self.i += 4;
                v.visit_unit()
            }
            Some(b'-' | b'0'..=b'9') => self.number(v),
            _ => Err(Error),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match self.peek() {
            Some(b'"') => self.string(v),
            _ => Err(Error),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.deserialize_str(v)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.deserialize_str(v)
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        if self.peek() == Some(b'n') {
            self.i += 4;
            v.visit_none()
        } else {
            v.visit_some(self)
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.skip_value()?;
        v.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char bytes byte_buf unit
        unit_struct newtype_struct seq tuple tuple_struct map struct enum
    }
}

/// A container's items (after its `{` or `[`): an object's members as a [`MapAccess`], an
/// array's elements as a [`SeqAccess`].
struct Items<'a, 'de> {
    de: &'a mut SoundText<'de>,
    first: bool,
}

impl Items<'_, '_> {
    /// Steps over the separator before the next item: false at the `close` byte. An
    /// object's first item must open a string; later keys are not looked at here (text
    /// `sound_json` accepted has only string keys, and a key seed asks `deserialize_str`
    /// or `deserialize_identifier`, which refuse anything else).
    fn more(&mut self, close: u8) -> Result<bool, Error> {
        match self.de.peek() {
            Some(c) if c == close => return Ok(false),
            Some(b',') if !self.first => self.de.i += 1,
            Some(c) if self.first && (close == b']' || c == b'"') => {}
            _ => return Err(Error),
        }
        self.first = false;
        Ok(true)
    }
}

impl<'de> MapAccess<'de> for Items<'_, 'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        if !self.more(b'}')? {
            return Ok(None);
        }
        seed.deserialize(&mut *self.de).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        self.de.eat(b':')?;
        seed.deserialize(&mut *self.de)
    }
}

impl<'de> SeqAccess<'de> for Items<'_, 'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        if !self.more(b']')? {
            return Ok(None);
        }
        seed.deserialize(&mut *self.de).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::Value;

    /// What a visitor sees, in order: the same log from both readers means the same visits.
    #[derive(Debug, PartialEq)]
    enum Seen {
        Borrowed(String),
        Str(String),
        U64(u64),
        I64(i64),
        F64(u64),
        Bool(bool),
        Unit,
        Map,
        Seq,
        End,
    }

    struct Log<'a>(&'a mut Vec<Seen>);

    impl<'de> DeserializeSeed<'de> for Log<'_> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }

    struct Key<'a>(&'a mut Vec<Seen>);

    impl<'de> DeserializeSeed<'de> for Key<'_> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_str(Log(self.0))
        }
    }

    impl<'de> Visitor<'de> for Log<'_> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("anything")
        }
        fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<(), E> {
            self.0.push(Seen::Borrowed(v.to_owned()));
            Ok(())
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
            self.0.push(Seen::Str(v.to_owned()));
            Ok(())
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
            self.0.push(Seen::U64(v));
            Ok(())
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
            self.0.push(Seen::I64(v));
            Ok(())
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
            self.0.push(Seen::F64(v.to_bits()));
            Ok(())
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
            self.0.push(Seen::Bool(v));
            Ok(())
        }
        fn visit_unit<E: de::Error>(self) -> Result<(), E> {
            self.0.push(Seen::Unit);
            Ok(())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
            self.0.push(Seen::Map);
            while m.next_key_seed(Key(self.0))?.is_some() {
                m.next_value_seed(Log(self.0))?;
            }
            self.0.push(Seen::End);
            Ok(())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<(), A::Error> {
            self.0.push(Seen::Seq);
            while s.next_element_seed(Log(self.0))?.is_some() {}
            self.0.push(Seen::End);
            Ok(())
        }
    }

    fn visits_sound(text: &str) -> Vec<Seen> {
        let mut v = Vec::new();
        let ok = Log(&mut v).deserialize(&mut SoundText::new(text));
        assert_eq!(ok, Ok(()), "{text}");
        v
    }

    fn visits_serde(text: &str) -> Vec<Seen> {
        let mut v = Vec::new();
        let ok = Log(&mut v).deserialize(&mut serde_json::Deserializer::from_str(text));
        assert!(ok.is_ok(), "{text}");
        v
    }

    #[test]
    fn visits_as_serde_json_does() {
        for text in [
            "0",
            "-0",
            " 7 ",
            "-1",
            "18446744073709551615",
            "18446744073709551616",
            "-9223372036854775808",
            "-9223372036854775809",
            "-18446744073709551615",
            "1.5",
            "-2.5e-3",
            "1E+2",
            "123456789012345678901234567890",
            "0.1000000000000000055511151231257827",
            "2.2250738585072011e-308",
            "9007199254740993.5",
            "0.000000000000000000001e-2",
            "123.456e-22",
            "4503599627370497.5",
            "1.7976931348623157e308",
            "-0.0",
            "0e0",
            "5e-1",
            "1.25E+22",
            "1.25E+23",
            "true",
            "false",
            "null",
            r#""""#,
            r#""plain text, long enough for two words""#,
            r#""a\"b\\c\/d\b\f\n\r\t""#,
            r#""\u00e9\u65e5\ud83d\ude00 x""#,
            "\"é日本 and more after the first word\"",
            r#"{"a":[1,true,null,{"b":"c"}],"d":-12.5E+3,"e\n":{}}"#,
            " { \"k\" : [ ] , \"l\" : [ { } , [ ] ] } ",
            r#"[[[[["deep"]]]],{"x":{"y":{"z":null}}}]"#,
        ] {
            assert_eq!(visits_sound(text), visits_serde(text), "{text}");
        }
    }

    #[test]
    fn values_and_ignored_values_as_serde_json() {
        let text = r#"{"a":[1,-2,3.25,"s\u0041",{"b":null}],"c":{"d":[true,false]},"e":-0}"#;
        let mut d = SoundText::new(text);
        let v = Value::deserialize(&mut d).ok();
        assert_eq!(v, serde_json::from_str::<Value>(text).ok());
        // skipped wholesale, then the rest read
        let text = r#"[{"skip":["x\"]",{"y":[1,2]}],"n":1e5}, "after"]"#;
        let mut d = SoundText::new(text);
        let v: Option<(de::IgnoredAny, String)> = Deserialize::deserialize(&mut d).ok();
        assert_eq!(v.map(|(_, s)| s).as_deref(), Some("after"));
    }

    #[test]
    fn text_not_checked_is_an_error_not_a_panic() {
        for text in [
            "",
            "{",
            "[",
            "\"",
            "\"\\",
            "\"\\u12",
            "{\"a\"",
            "{\"a\":",
            "[1,",
            "}",
            "]",
            "-",
            ",",
            "{,}",
            "[,1]",
            "\"\\ud800\"",
            "\"\\q\"",
            "{\"a\" 1}",
            "[1 2]",
        ] {
            let mut v = Vec::new();
            // any result will do, as long as it returns
            let _ = Log(&mut v).deserialize(&mut SoundText::new(text));
            let _ = Value::deserialize(&mut SoundText::new(text));
            let _ = de::IgnoredAny::deserialize(&mut SoundText::new(text));
        }
        assert_eq!(Value::deserialize(&mut SoundText::new("{")).ok(), None);
        // nesting the check would refuse is refused here too, without recursing into it
        let deep = "[".repeat(100_000) + &"]".repeat(100_000);
        assert_eq!(Value::deserialize(&mut SoundText::new(&deep)).ok(), None);
        let mut v = Vec::new();
        assert!(Log(&mut v).deserialize(&mut SoundText::new(&deep)).is_err());
        // the deepest the check accepts is read
        let ok = "[".repeat(SOUND_DEPTH) + &"]".repeat(SOUND_DEPTH);
        assert!(sound_json_ok(&ok));
        assert!(Value::deserialize(&mut SoundText::new(&ok)).is_ok());
    }

    fn sound_json_ok(text: &str) -> bool {
        crate::schema::sound_json(text.as_bytes()).is_some()
    }

    proptest::proptest! {
        /// Any document serde_json writes (compact or pretty) is visited as serde_json
        /// visits it.
        #[test]
        fn generated_documents_visit_the_same(
            d in crate::schema::tests::arb_json(),
            pretty in proptest::bool::ANY,
        ) {
            let text = if pretty {
                serde_json::to_string_pretty(&d)
            } else {
                serde_json::to_string(&d)
            }
            .unwrap_or_default();
            proptest::prop_assert_eq!(visits_sound(&text), visits_serde(&text));
        }

        /// Number tokens of every shape (integer digits, fraction, exponent, sign) read to
        /// the same bits as serde_json reads them.
        #[test]
        fn numbers_read_as_serde_json_reads_them(
            negative in proptest::bool::ANY,
            int in "(0|[1-9][0-9]{0,22})",
            frac in proptest::option::of("[0-9]{1,20}"),
            exp in proptest::option::of(("[eE]", "[+-]?", "[0-9]{1,2}")),
        ) {
            let mut t = String::new();
            if negative {
                t.push('-');
            }
            t.push_str(&int);
            if let Some(f) = &frac {
                t.push('.');
                t.push_str(f);
            }
            if let Some((e, sign, digits)) = &exp {
                t.push_str(e);
                t.push_str(sign);
                t.push_str(digits);
            }
            if let Some(text) = crate::schema::sound_json(t.as_bytes()) {
                proptest::prop_assert_eq!(visits_sound(text), visits_serde(text));
            }
        }

        /// Documents with bytes changed or inserted (quotes, escapes, digits, signs,
        /// exponents, brackets, invalid UTF-8): whatever `sound_json` still accepts is
        /// visited as serde_json visits it.
        #[test]
        fn edited_documents_visit_the_same(
            d in crate::schema::tests::arb_json(),
            edits in proptest::collection::vec((0usize..4096, proptest::sample::select(vec![
                b'"', b'\\', b'u', b'd', b'8', b'0', b'9', b'{', b'}', b'[', b']', b',', b':',
                b'e', b'E', b'+', b'-', b'.', b'1', b' ', b'\n', b'n', b't', 0x01, 0xc3, 0xa9,
                0xff,
            ])), 0..6),
        ) {
            let mut text = serde_json::to_vec(&d).unwrap_or_default();
            for (at, byte) in edits {
                let at = at % (text.len() + 1);
                if at % 2 == 0 {
                    text.insert(at, byte);
                } else if let Some(x) = text.get_mut(at) {
                    *x = byte;
                }
            }
            if let Some(text) = crate::schema::sound_json(&text) {
                proptest::prop_assert_eq!(visits_sound(text), visits_serde(text));
            }
        }
    }
}
