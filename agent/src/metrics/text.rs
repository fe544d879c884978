//! Writers for the Prometheus text exposition format 0.0.4 and OpenMetrics 1.0 text.
//!
//! The two differ in a few places, all handled here:
//! - a counter's family name: `# TYPE foo_total counter` in 0.0.4 (the sample name), `# TYPE
//!   foo counter` in OpenMetrics (the sample is still `foo_total`);
//! - histogram bucket bounds: OpenMetrics wants canonical floats (`1.0`, not `1`);
//! - OpenMetrics ends with `# EOF`.
//!
//! Label values are escaped (`\\`, `\"`, `\n`) in both.

use std::fmt::Write;

/// Which text format to write.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4.
    Prometheus,
    /// OpenMetrics 1.0 text.
    OpenMetrics,
}

impl Format {
    /// The HTTP `Content-Type` of this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }

    /// The format a scraper asks for with this `Accept` header (OpenMetrics only when it is
    /// named).
    pub fn from_accept(accept: Option<&str>) -> Format {
        match accept {
            Some(a) if a.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Prometheus,
        }
    }
}

/// Metric family types.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Monotonic counter; the name given must end in `_total`.
    Counter,
    /// Gauge.
    Gauge,
    /// Histogram.
    Histogram,
}

/// Accumulates one exposition.
#[derive(Debug)]
pub struct Writer {
    /// The format being written.
    pub format: Format,
    out: String,
}

/// Escapes a label value.
pub fn escape_label(v: &str, out: &mut String) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Formats a float for a sample value or bucket bound.
pub fn float(v: f64, format: Format, out: &mut String) {
    if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v.is_nan() {
        out.push_str("NaN");
    } else if format == Format::OpenMetrics && v.fract() == 0.0 && v.abs() < 1e15 {
        let _ = write!(out, "{v:.1}");
    } else {
        let _ = write!(out, "{v}");
    }
}

impl Writer {
    /// An empty exposition.
    pub fn new(format: Format) -> Self {
        Writer {
            format,
            out: String::with_capacity(16 << 10),
        }
    }

    /// Starts a family: `# HELP` and `# TYPE`. For counters `name` ends in `_total`.
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) {
        let fam = match (kind, self.format) {
            (Kind::Counter, Format::OpenMetrics) => name.strip_suffix("_total").unwrap_or(name),
            _ => name,
        };
        let t = match kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        };
        let _ = writeln!(self.out, "# HELP {fam} {help}");
        let _ = writeln!(self.out, "# TYPE {fam} {t}");
    }

    fn labels(&mut self, labels: &[(&str, &str)], extra: Option<(&str, &str)>) {
        if labels.is_empty() && extra.is_none() {
            return;
        }
        self.out.push('{');
        let mut first = true;
        for (k, v) in labels.iter().copied().chain(extra) {
            if !first {
                self.out.push(',');
            }
            first = false;
            self.out.push_str(k);
            self.out.push_str("=\"");
            escape_label(v, &mut self.out);
            self.out.push('"');
        }
        self.out.push('}');
    }

    /// One sample `name{labels} value`.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(name);
        self.labels(labels, None);
        self.out.push(' ');
        float(value, self.format, &mut self.out);
        self.out.push('\n');
    }

    /// One integer sample.
    pub fn sample_u64(&mut self, name: &str, labels: &[(&str, &str)], value: u64) {
        self.out.push_str(name);
        self.labels(labels, None);
        let _ = writeln!(self.out, " {value}");
    }

    /// The samples of one histogram: `bounds` are the finite upper bounds, `counts` the
    /// per-bucket (non-cumulative) counts with one extra for `+Inf`.
    pub fn histogram(
        &mut self,
        name: &str,
        labels: &[(&str, &str)],
        bounds: &[f64],
        counts: &[u64],
        sum: f64,
    ) {
        let mut cum = 0u64;
        let mut le = String::with_capacity(16);
        for (i, c) in counts.iter().enumerate() {
            cum += c;
            le.clear();
            float(
                bounds.get(i).copied().unwrap_or(f64::INFINITY),
                self.format,
                &mut le,
            );
            self.out.push_str(name);
            self.out.push_str("_bucket");
            self.labels(labels, Some(("le", &le)));
            let _ = writeln!(self.out, " {cum}");
        }
        self.out.push_str(name);
        self.out.push_str("_sum");
        self.labels(labels, None);
        self.out.push(' ');
        float(sum, self.format, &mut self.out);
        self.out.push('\n');
        self.out.push_str(name);
        self.out.push_str("_count");
        self.labels(labels, None);
        let _ = writeln!(self.out, " {cum}");
    }

    /// The finished text (with `# EOF` for OpenMetrics).
    pub fn finish(mut self) -> String {
        if self.format == Format::OpenMetrics {
            self.out.push_str("# EOF\n");
        }
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_family_names() {
        let mut w = Writer::new(Format::Prometheus);
        w.family("a_total", Kind::Counter, "A.");
        w.sample_u64("a_total", &[("x", "q\"\\\n")], 3);
        assert_eq!(
            w.finish(),
            "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"q\\\"\\\\\\n\"} 3\n"
        );
        let mut w = Writer::new(Format::OpenMetrics);
        w.family("a_total", Kind::Counter, "A.");
        w.sample_u64("a_total", &[], 3);
        assert_eq!(
            w.finish(),
            "# HELP a A.\n# TYPE a counter\na_total 3\n# EOF\n"
        );
    }

    #[test]
    fn histogram_is_cumulative() {
        let mut w = Writer::new(Format::Prometheus);
        w.histogram("h", &[("k", "v")], &[0.5, 1.0], &[1, 2, 3], 7.25);
        assert_eq!(
            w.finish(),
            "h_bucket{k=\"v\",le=\"0.5\"} 1\nh_bucket{k=\"v\",le=\"1\"} 3\n\
             h_bucket{k=\"v\",le=\"+Inf\"} 6\nh_sum{k=\"v\"} 7.25\nh_count{k=\"v\"} 6\n"
        );
        let mut w = Writer::new(Format::OpenMetrics);
        w.histogram("h", &[], &[1.0], &[0, 0], 0.0);
        assert_eq!(
            w.finish(),
            "h_bucket{le=\"1.0\"} 0\nh_bucket{le=\"+Inf\"} 0\nh_sum 0.0\nh_count 0\n# EOF\n"
        );
    }

    #[test]
    fn accept_negotiation() {
        assert_eq!(Format::from_accept(None), Format::Prometheus);
        assert_eq!(
            Format::from_accept(Some(
                "application/openmetrics-text;version=1.0.0,text/plain;q=0.5"
            )),
            Format::OpenMetrics
        );
        assert_eq!(Format::from_accept(Some("text/plain")), Format::Prometheus);
    }
}
