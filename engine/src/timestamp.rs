//! Capture timestamps.

use std::fmt;

/// A capture timestamp: nanoseconds since the Unix epoch (UTC).
///
/// Offline pipelines run on capture time, never wall-clock time, so idle timeouts and
/// latencies are reproducible for a given file.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// From seconds and microseconds, as in a pcap record header.
    pub fn from_micros(secs: i64, micros: i64) -> Self {
        Timestamp(
            secs.saturating_mul(1_000_000_000)
                .saturating_add(micros.saturating_mul(1_000)),
        )
    }

    /// From seconds and nanoseconds.
    pub fn from_nanos(secs: i64, nanos: i64) -> Self {
        Timestamp(secs.saturating_mul(1_000_000_000).saturating_add(nanos))
    }

    /// Nanoseconds since the epoch.
    pub fn as_nanos(self) -> i64 {
        self.0
    }

    /// Seconds since the epoch, as a float.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }

    /// `self - earlier` in milliseconds (negative if `earlier` is later).
    pub fn millis_since(self, earlier: Timestamp) -> f64 {
        (self.0.saturating_sub(earlier.0)) as f64 / 1e6
    }

    /// `self + nanos`, saturating.
    pub fn add_nanos(self, nanos: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(nanos))
    }

    /// RFC 3339 in UTC with microsecond precision, e.g. `2009-11-18T20:58:04.030912Z`.
    pub fn rfc3339(self) -> String {
        let secs = self.0.div_euclid(1_000_000_000);
        let nanos = self.0.rem_euclid(1_000_000_000);
        match time::OffsetDateTime::from_unix_timestamp(secs) {
            Ok(dt) => format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
                dt.year(),
                u8::from(dt.month()),
                dt.day(),
                dt.hour(),
                dt.minute(),
                dt.second(),
                nanos / 1_000
            ),
            Err(_) => format!("{}.{:06}", secs, nanos / 1_000),
        }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rfc3339())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formats_utc_with_micros() {
        let ts = Timestamp::from_micros(1_258_577_884, 30_912);
        assert_eq!(ts.rfc3339(), "2009-11-18T20:58:04.030912Z");
        assert_eq!(
            Timestamp::from_micros(0, 0).rfc3339(),
            "1970-01-01T00:00:00.000000Z"
        );
    }

    #[test]
    fn millis_since() {
        let a = Timestamp::from_micros(10, 0);
        let b = Timestamp::from_micros(10, 2_500);
        assert_eq!(b.millis_since(a), 2.5);
    }
}
