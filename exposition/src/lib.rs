//! One representation of metrics for every apitap process (agent, upstream pusher, remote
//! writer, collector): typed [`Family`]s of [`Sample`]s, and one renderer.
//!
//! Policy:
//! - A metric is built once, typed (counter, gauge or histogram, with its labels), never as
//!   text. [`Exposition::render`] writes it in the Prometheus text format 0.0.4 or in
//!   OpenMetrics 1.0 text (chosen by the scraper's `Accept` header, [`Format::from_accept`]);
//!   [`Exposition::for_each_series`] flattens it into the series a Prometheus server would
//!   store after scraping it (histograms as `_bucket`/`_sum`/`_count`, counters as
//!   `_total`), which is what remote write sends. Nothing re-parses text.
//! - The two text formats differ only here:
//!   - a counter family is named `foo_total` in 0.0.4 (`# TYPE foo_total counter`) and `foo`
//!     in OpenMetrics (the sample is `foo_total` in both); a family's name is given without
//!     `_total` ([`Family::counter`]);
//!   - OpenMetrics wants canonical floats for bucket bounds (`le="1.0"`, not `le="1"`) and
//!     ends with `# EOF`.
//! - Label values are escaped (`\\`, `\"`, `\n`); label names and metric names are program
//!   constants (`&'static str`), never captured text, so they need no checking. Label
//!   *values* that come from traffic must be bounded by the caller (see the agent's metric
//!   caps): this crate bounds nothing.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

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

    /// The format a scraper asks for with this `Accept` header: OpenMetrics when it is named
    /// (Prometheus names it first, with text 0.0.4 as a fallback), else text 0.0.4.
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
    /// Monotonic counter.
    Counter,
    /// Gauge.
    Gauge,
    /// Histogram with fixed buckets.
    Histogram,
}

/// A number: integers are written exactly, floats in the format's float syntax.
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum Number {
    /// An integer.
    Int(u64),
    /// A float.
    Float(f64),
}

impl Number {
    /// As a float (remote write carries doubles).
    pub fn as_f64(self) -> f64 {
        match self {
            Number::Int(v) => v as f64,
            Number::Float(v) => v,
        }
    }
}

impl From<u64> for Number {
    fn from(v: u64) -> Self {
        Number::Int(v)
    }
}

impl From<f64> for Number {
    fn from(v: f64) -> Self {
        Number::Float(v)
    }
}

/// The value of one histogram sample.
#[derive(Clone, Debug, PartialEq)]
pub struct HistogramValue {
    /// Finite upper bounds, ascending.
    pub bounds: &'static [f64],
    /// Per-bucket (not cumulative) counts; one more than `bounds`, the last for `+Inf`.
    /// Missing entries count as 0, extra ones are added to `+Inf`.
    pub counts: Vec<u64>,
    /// Sum of the observations.
    pub sum: f64,
}

impl HistogramValue {
    /// Cumulative counts per bound, `+Inf` last (always `bounds.len() + 1` entries).
    pub fn cumulative(&self) -> Vec<u64> {
        let mut out = Vec::with_capacity(self.bounds.len() + 1);
        let mut cum = 0u64;
        for i in 0..self.bounds.len() {
            cum = cum.saturating_add(self.counts.get(i).copied().unwrap_or(0));
            out.push(cum);
        }
        let rest: u64 = self.counts.iter().skip(self.bounds.len()).sum();
        out.push(cum.saturating_add(rest));
        out
    }
}

/// A sample's value; its type must match its family's [`Kind`].
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A counter or gauge value.
    Number(Number),
    /// A histogram.
    Histogram(HistogramValue),
}

/// One labelled sample of a family.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// Labels in the order written (names are program constants).
    pub labels: Vec<(&'static str, String)>,
    /// The value.
    pub value: Value,
}

/// A metric family: name, help, type and samples.
#[derive(Clone, Debug, PartialEq)]
pub struct Family {
    /// The family name; a counter's without `_total`.
    pub name: &'static str,
    /// The help text (one line).
    pub help: &'static str,
    /// The type.
    pub kind: Kind,
    /// The samples.
    pub samples: Vec<Sample>,
}

impl Family {
    /// A counter family; `name` without `_total` (its samples are written `name_total`).
    pub fn counter(name: &'static str, help: &'static str) -> Family {
        debug_assert!(
            !name.ends_with("_total"),
            "{name}: give counters without _total"
        );
        Family {
            name,
            help,
            kind: Kind::Counter,
            samples: Vec::new(),
        }
    }

    /// A gauge family.
    pub fn gauge(name: &'static str, help: &'static str) -> Family {
        Family {
            name,
            help,
            kind: Kind::Gauge,
            samples: Vec::new(),
        }
    }

    /// A histogram family.
    pub fn histogram(name: &'static str, help: &'static str) -> Family {
        Family {
            name,
            help,
            kind: Kind::Histogram,
            samples: Vec::new(),
        }
    }

    /// Adds a counter or gauge sample.
    pub fn number(&mut self, labels: &[(&'static str, &str)], v: impl Into<Number>) {
        self.samples.push(Sample {
            labels: own(labels),
            value: Value::Number(v.into()),
        });
    }

    /// The same, builder style, for one unlabelled sample.
    pub fn with(mut self, v: impl Into<Number>) -> Family {
        self.number(&[], v);
        self
    }

    /// Adds a histogram sample: `counts` per bucket (not cumulative) with one extra for
    /// `+Inf`.
    pub fn observed(
        &mut self,
        labels: &[(&'static str, &str)],
        bounds: &'static [f64],
        counts: &[u64],
        sum: f64,
    ) {
        self.samples.push(Sample {
            labels: own(labels),
            value: Value::Histogram(HistogramValue {
                bounds,
                counts: counts.to_vec(),
                sum,
            }),
        });
    }
}

fn own(labels: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    labels.iter().map(|(k, v)| (*k, (*v).to_string())).collect()
}

/// Families to be rendered or remote-written together.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Exposition {
    /// The families, in output order.
    pub families: Vec<Family>,
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

fn number(v: Number, format: Format, out: &mut String) {
    match v {
        Number::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Number::Float(f) => float(f, format, out),
    }
}

fn labels(out: &mut String, labels: &[(&'static str, String)], extra: Option<(&str, &str)>) {
    if labels.is_empty() && extra.is_none() {
        return;
    }
    out.push('{');
    let mut first = true;
    for (k, v) in labels.iter().map(|(k, v)| (*k, v.as_str())).chain(extra) {
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str(k);
        out.push_str("=\"");
        escape_label(v, out);
        out.push('"');
    }
    out.push('}');
}

/// One series as remote write sends it: full sample name, labels (the sample's, then `le`
/// for buckets), value.
pub type SeriesFn<'a> = dyn FnMut(&str, &[(&str, &str)], f64) + 'a;

impl Exposition {
    /// An empty exposition.
    pub fn new() -> Self {
        Exposition::default()
    }

    /// Appends a family.
    pub fn push(&mut self, f: Family) {
        self.families.push(f);
    }

    /// Appends all of `other`'s families.
    pub fn extend(&mut self, other: Exposition) {
        self.families.extend(other.families);
    }

    /// The family named `name`, if any.
    pub fn family(&self, name: &str) -> Option<&Family> {
        self.families.iter().find(|f| f.name == name)
    }

    /// Writes every family in `format`.
    pub fn render(&self, format: Format) -> String {
        let mut out = String::with_capacity(16 << 10);
        for f in &self.families {
            render_family(f, format, &mut out);
        }
        if format == Format::OpenMetrics {
            out.push_str("# EOF\n");
        }
        out
    }

    /// Calls `each` once per series, as a Prometheus server stores them after a scrape
    /// (see the module doc); `le` values are written as in the text format 0.0.4.
    pub fn for_each_series(&self, each: &mut SeriesFn<'_>) {
        let mut name = String::with_capacity(96);
        for f in &self.families {
            for s in &f.samples {
                let mut lv: Vec<(&str, &str)> = Vec::with_capacity(s.labels.len() + 1);
                lv.extend(s.labels.iter().map(|(k, v)| (*k, v.as_str())));
                match &s.value {
                    Value::Number(n) => {
                        name.clear();
                        name.push_str(f.name);
                        if f.kind == Kind::Counter {
                            name.push_str("_total");
                        }
                        each(&name, &lv, n.as_f64());
                    }
                    Value::Histogram(h) => {
                        let cum = h.cumulative();
                        name.clear();
                        name.push_str(f.name);
                        name.push_str("_bucket");
                        for (i, c) in cum.iter().enumerate() {
                            let mut le = String::with_capacity(16);
                            float(
                                h.bounds.get(i).copied().unwrap_or(f64::INFINITY),
                                Format::Prometheus,
                                &mut le,
                            );
                            let mut with_le = lv.clone();
                            with_le.push(("le", le.as_str()));
                            each(&name, &with_le, *c as f64);
                        }
                        let count = cum.last().copied().unwrap_or(0);
                        name.clear();
                        name.push_str(f.name);
                        name.push_str("_sum");
                        each(&name, &lv, h.sum);
                        name.clear();
                        name.push_str(f.name);
                        name.push_str("_count");
                        each(&name, &lv, count as f64);
                    }
                }
            }
        }
    }
}

fn render_family(f: &Family, format: Format, out: &mut String) {
    let (fam, t) = match (f.kind, format) {
        (Kind::Counter, Format::Prometheus) => (format!("{}_total", f.name), "counter"),
        (Kind::Counter, Format::OpenMetrics) => (f.name.to_string(), "counter"),
        (Kind::Gauge, _) => (f.name.to_string(), "gauge"),
        (Kind::Histogram, _) => (f.name.to_string(), "histogram"),
    };
    let _ = writeln!(out, "# HELP {fam} {}", f.help);
    let _ = writeln!(out, "# TYPE {fam} {t}");
    let mut le = String::with_capacity(16);
    for s in &f.samples {
        match &s.value {
            Value::Number(n) => {
                out.push_str(f.name);
                if f.kind == Kind::Counter {
                    out.push_str("_total");
                }
                labels(out, &s.labels, None);
                out.push(' ');
                number(*n, format, out);
                out.push('\n');
            }
            Value::Histogram(h) => {
                let cum = h.cumulative();
                for (i, c) in cum.iter().enumerate() {
                    le.clear();
                    float(
                        h.bounds.get(i).copied().unwrap_or(f64::INFINITY),
                        format,
                        &mut le,
                    );
                    out.push_str(f.name);
                    out.push_str("_bucket");
                    labels(out, &s.labels, Some(("le", &le)));
                    let _ = writeln!(out, " {c}");
                }
                out.push_str(f.name);
                out.push_str("_sum");
                labels(out, &s.labels, None);
                out.push(' ');
                float(h.sum, format, out);
                out.push('\n');
                out.push_str(f.name);
                out.push_str("_count");
                labels(out, &s.labels, None);
                let _ = writeln!(out, " {}", cum.last().copied().unwrap_or(0));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_family_names() {
        let mut f = Family::counter("a", "A.");
        f.number(&[("x", "q\"\\\n")], 3u64);
        let e = Exposition { families: vec![f] };
        assert_eq!(
            e.render(Format::Prometheus),
            "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"q\\\"\\\\\\n\"} 3\n"
        );
        assert_eq!(
            e.render(Format::OpenMetrics),
            "# HELP a A.\n# TYPE a counter\na_total{x=\"q\\\"\\\\\\n\"} 3\n# EOF\n"
        );
    }

    #[test]
    fn histogram_is_cumulative() {
        const B: [f64; 2] = [0.5, 1.0];
        let mut f = Family::histogram("h", "H.");
        f.observed(&[("k", "v")], &B, &[1, 2, 3], 7.25);
        let e = Exposition { families: vec![f] };
        assert_eq!(
            e.render(Format::Prometheus),
            "# HELP h H.\n# TYPE h histogram\n\
             h_bucket{k=\"v\",le=\"0.5\"} 1\nh_bucket{k=\"v\",le=\"1\"} 3\n\
             h_bucket{k=\"v\",le=\"+Inf\"} 6\nh_sum{k=\"v\"} 7.25\nh_count{k=\"v\"} 6\n"
        );
        let om = e.render(Format::OpenMetrics);
        assert!(om.contains("h_bucket{k=\"v\",le=\"1.0\"} 3\n"), "{om}");
        assert!(om.ends_with("h_count{k=\"v\"} 6\n# EOF\n"), "{om}");
    }

    #[test]
    fn series_match_the_text() {
        const B: [f64; 1] = [1.0];
        let mut h = Family::histogram("h", "H.");
        h.observed(&[("k", "v")], &B, &[2, 1], 3.5);
        let e = Exposition {
            families: vec![
                Family::counter("c", "C.").with(4u64),
                Family::gauge("g", "G.").with(0.5),
                h,
            ],
        };
        let mut got = Vec::new();
        e.for_each_series(&mut |n, l, v| {
            let l: Vec<String> = l.iter().map(|(k, v)| format!("{k}={v}")).collect();
            got.push(format!("{n}{{{}}} {v}", l.join(",")));
        });
        assert_eq!(
            got,
            [
                "c_total{} 4",
                "g{} 0.5",
                "h_bucket{k=v,le=1} 2",
                "h_bucket{k=v,le=+Inf} 3",
                "h_sum{k=v} 3.5",
                "h_count{k=v} 3"
            ]
        );
    }

    #[test]
    fn short_or_long_counts_do_not_panic() {
        const B: [f64; 2] = [1.0, 2.0];
        let h = HistogramValue {
            bounds: &B,
            counts: vec![1],
            sum: 0.0,
        };
        assert_eq!(h.cumulative(), vec![1, 1, 1]);
        let h = HistogramValue {
            bounds: &B,
            counts: vec![1, 1, 1, 1],
            sum: 0.0,
        };
        assert_eq!(h.cumulative(), vec![1, 2, 4]);
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
