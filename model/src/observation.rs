//! The learner's input: one decoded HTTP request/response exchange.
//!
//! A gRPC call is an observation too: method `POST`, target `/pkg.Service/Method`, and
//! [`Observation::grpc`] set to the call's length-prefixed messages (decompressed, already
//! capped by the engine) and its `grpc-status`. The learner infers protobuf message schemas
//! from those messages instead of reading the bodies.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One request/response exchange, decoded (bodies de-chunked and content-decoded).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// Host header (without default port), else the server `ip:port`.
    pub service: String,
    /// `ip:port` of the server, used for `servers` in the export.
    pub server: Option<String>,
    /// Request method as on the wire (`GET`, `POST`, ...).
    pub method: String,
    /// Request-target as on the wire: `path?query` (may be absolute-form).
    pub target: String,
    /// Request headers in wire order.
    pub request_headers: Headers,
    /// Decoded request body, maybe capped.
    pub request_body: Option<Vec<u8>>,
    /// True if `request_body` was cut at a cap.
    pub request_body_truncated: bool,
    /// Response status, `None` if no response was seen.
    pub status: Option<u16>,
    /// Response headers in wire order.
    pub response_headers: Headers,
    /// Decoded response body, maybe capped.
    pub response_body: Option<Vec<u8>>,
    /// True if `response_body` was cut at a cap.
    pub response_body_truncated: bool,
    /// Time from request to response, in milliseconds.
    pub latency_ms: Option<f64>,
    /// Request time, unix milliseconds.
    pub ts_unix_ms: i64,
    /// Set for a gRPC call (`content-type: application/grpc*`): its messages and status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc: Option<GrpcCall>,
}

/// The gRPC part of an observation: the messages of one call, in order, and its status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrpcCall {
    /// Request messages (client → server), each decompressed and without the 5-byte
    /// length prefix; the engine caps their number and size.
    #[serde(default)]
    pub request_messages: Vec<Vec<u8>>,
    /// Response messages (server → client), likewise.
    #[serde(default)]
    pub response_messages: Vec<Vec<u8>>,
    /// `grpc-status` from the trailers (or a trailers-only response); `None` if not seen.
    #[serde(default)]
    pub status: Option<u32>,
}

impl Observation {
    /// The first request header with this name (case-insensitive).
    pub fn request_header(&self, name: &str) -> Option<&str> {
        self.request_headers.get(name)
    }

    /// The first response header with this name (case-insensitive).
    pub fn response_header(&self, name: &str) -> Option<&str> {
        self.response_headers.get(name)
    }
}

/// The service an exchange belongs to: its Host header without the default port (`:80`),
/// lower-cased; else the server address.
pub fn service_name(host: Option<&str>, server: &str) -> String {
    match host.map(str::trim).filter(|h| !h.is_empty()) {
        Some(h) => h.strip_suffix(":80").unwrap_or(h).to_ascii_lowercase(),
        None => server.to_string(),
    }
}

/// Header fields in wire order: one text, and where each field's name and value are in it.
///
/// Cost policy: a captured head arrives as one text with the ranges of its fields (the
/// engine's `MessageHead`), and moves in whole ([`Headers::from_parts`]) instead of being
/// copied a name and a value at a time (that copy was ~1,000 instructions per exchange on
/// the live path). Ranges are read with `str::get`, so a range that does not fit the text
/// reads as an empty string: never a panic. Serialized as a list of `[name, value]` pairs.
#[derive(Clone, Default)]
pub struct Headers {
    text: String,
    /// Per field: name start, name end, value start, value end (bytes of `text`).
    spans: Vec<[u32; 4]>,
}

impl Headers {
    /// No fields.
    pub fn new() -> Headers {
        Headers::default()
    }

    /// Fields given as a text and, per field, the byte ranges of its name and value in it
    /// (`[name start, name end, value start, value end]`).
    pub fn from_parts(text: String, spans: Vec<[u32; 4]>) -> Headers {
        Headers { text, spans }
    }

    /// The text and the ranges ([`Headers::from_parts`]), to reuse their room.
    pub fn into_parts(self) -> (String, Vec<[u32; 4]>) {
        (self.text, self.spans)
    }

    /// Appends a field. Ranges are 32-bit: a field that would end the text beyond 4 GiB is
    /// not added (no head or HAR entry held in memory comes near).
    pub fn push(&mut self, name: &str, value: &str) {
        let start = self.text.len();
        let (Ok(a), Ok(b), Ok(d)) = (
            u32::try_from(start),
            u32::try_from(start + name.len()),
            u32::try_from(start + name.len() + value.len()),
        ) else {
            return;
        };
        self.text.push_str(name);
        self.text.push_str(value);
        self.spans.push([a, b, b, d]);
    }

    /// The text from `x` to `y`; "" when that range does not fit it.
    fn part(&self, x: u32, y: u32) -> &str {
        self.text.get(x as usize..y as usize).unwrap_or_default()
    }

    /// The fields in order, as (name, value).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.spans
            .iter()
            .map(|&[a, b, c, d]| (self.part(a, b), self.part(c, d)))
    }

    /// The value of the first field named `name` (ASCII case-insensitive).
    pub fn get(&self, name: &str) -> Option<&str> {
        // asked several times per exchange: a field whose name has another length is passed
        // over without reading it (a range that does not fit reads as "", as in `iter`)
        let want = u32::try_from(name.len()).ok();
        self.spans
            .iter()
            .find(|&&[a, b, _, _]| {
                (name.is_empty() || b.checked_sub(a) == want)
                    && self.part(a, b).eq_ignore_ascii_case(name)
            })
            .map(|&[_, _, c, d]| self.part(c, d))
    }

    /// How many fields.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// No field?
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }
}

impl<N: AsRef<str>, V: AsRef<str>> FromIterator<(N, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(it: I) -> Headers {
        let mut h = Headers::new();
        for (n, v) in it {
            h.push(n.as_ref(), v.as_ref());
        }
        h
    }
}

impl From<Vec<(String, String)>> for Headers {
    fn from(v: Vec<(String, String)>) -> Headers {
        v.into_iter().collect()
    }
}

/// Equal when the fields are (the texts may be laid out differently).
impl PartialEq for Headers {
    fn eq(&self, o: &Headers) -> bool {
        self.len() == o.len() && self.iter().eq(o.iter())
    }
}

impl Eq for Headers {}

impl std::fmt::Debug for Headers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Serialize for Headers {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for Headers {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Headers, D::Error> {
        Ok(Vec::<(String, String)>::deserialize(d)?.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_read_back_what_was_given() {
        let h: Headers = [
            ("Host", "a.test"),
            ("Content-Type", "text/plain"),
            ("X", ""),
        ]
        .into_iter()
        .collect();
        assert_eq!(h.len(), 3);
        assert_eq!(
            h.iter().collect::<Vec<_>>(),
            [
                ("Host", "a.test"),
                ("Content-Type", "text/plain"),
                ("X", "")
            ]
        );
        assert_eq!(h.get("content-type"), Some("text/plain"));
        assert_eq!(h.get("accept"), None);
        // as a list of pairs, both ways
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(
            json,
            r#"[["Host","a.test"],["Content-Type","text/plain"],["X",""]]"#
        );
        assert_eq!(serde_json::from_str::<Headers>(&json).unwrap(), h);
        // the same fields in another layout (the text shifted by a start line) are equal
        let (text, spans) = h.clone().into_parts();
        let shifted = spans.iter().map(|s| s.map(|x| x + 4)).collect();
        let moved = Headers::from_parts(format!("GET {text}"), shifted);
        assert_eq!(moved, h);
    }

    proptest::proptest! {
        /// `get` answers what a search of `iter` answers, whatever the ranges.
        #[test]
        fn get_is_a_search_of_iter(
            text in "[aA-é:]{0,12}",
            spans in proptest::collection::vec(proptest::array::uniform4(0u32..14), 0..6),
            name in proptest::sample::select(vec!["", "a", "A", "aa", "a-", "é", "-é"]),
        ) {
            let h = Headers::from_parts(text, spans);
            let reference = h.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v);
            proptest::prop_assert_eq!(h.get(name), reference);
        }
    }

    #[test]
    fn ranges_that_do_not_fit_read_as_empty() {
        // out of the text, reversed, and inside a multi-byte character
        let h = Headers::from_parts(
            "näme".into(),
            vec![[0, 99, 0, 1], [3, 1, 0, 0], [0, 2, 2, 3]],
        );
        assert_eq!(
            h.iter().collect::<Vec<_>>(),
            [("", "n"), ("", ""), ("", "")]
        );
        assert_eq!(h.get(""), Some("n"));
    }
}
