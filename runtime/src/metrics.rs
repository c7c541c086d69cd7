//! The Prometheus text format every service's `/metrics` is written in ([`Metrics`]), and the
//! figures behind it that a monitor keeps in memory: a rate over a window ([`Rate`]) and a
//! duration histogram ([`Durations`]).

use std::fmt::Write as _;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

/// A rate per second of a growing total over a sliding window (ticks per second, bars per second).
#[derive(Debug)]
pub struct Rate {
    window: Duration,
    samples: parking_lot::Mutex<std::collections::VecDeque<(tokio::time::Instant, u64)>>,
}

impl Rate {
    pub fn new(window: Duration) -> Rate {
        Rate { window, samples: parking_lot::Mutex::new(std::collections::VecDeque::new()) }
    }

    /// Records `total` now and returns the rate since the oldest sample inside the window.
    pub fn sample(&self, total: u64) -> f64 {
        let now = tokio::time::Instant::now();
        let mut samples = self.samples.lock();
        samples.push_back((now, total));
        while samples.len() > 2 && now - samples[0].0 > self.window {
            samples.pop_front();
        }
        let (then, before) = samples[0];
        let secs = (now - then).as_secs_f64();
        if secs > 0.0 {
            total.saturating_sub(before) as f64 / secs
        } else {
            0.0
        }
    }
}

/// Upper bounds (seconds) of the buckets of every duration histogram.
pub const DURATION_BUCKETS: [f64; 14] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Durations counted into [`DURATION_BUCKETS`] with their sum: a Prometheus histogram, and the
/// mean a chart draws.
#[derive(Debug, Default)]
pub struct Durations {
    /// By bucket, one more than the bounds for the rest.
    buckets: [AtomicU64; DURATION_BUCKETS.len() + 1],
    sum_us: AtomicU64,
}

impl Durations {
    pub fn record(&self, took: Duration) {
        let bucket = DURATION_BUCKETS.iter().position(|le| took.as_secs_f64() <= *le).unwrap_or(DURATION_BUCKETS.len());
        self.buckets[bucket].fetch_add(1, Relaxed);
        self.sum_us.fetch_add(took.as_micros() as u64, Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.buckets.iter().map(|b| b.load(Relaxed)).sum()
    }

    pub fn sum_ms(&self) -> f64 {
        self.sum_us.load(Relaxed) as f64 / 1e3
    }

    /// Writes the histogram `name` (in seconds).
    pub fn write(&self, m: &mut Metrics, name: &str, help: &str) {
        let counts: Vec<u64> = self.buckets.iter().map(|b| b.load(Relaxed)).collect();
        m.histogram(name, help, &DURATION_BUCKETS, &counts, self.sum_ms() / 1e3);
    }
}

/// A Prometheus text-format page, written one sample at a time; `# HELP`/`# TYPE` come once per
/// family, before its first sample.
#[derive(Debug, Default)]
pub struct Metrics {
    text: String,
    family: String,
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics::default()
    }

    pub fn counter(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: u64) -> &mut Metrics {
        self.sample(name, "counter", help, labels, &value.to_string())
    }

    pub fn gauge(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: f64) -> &mut Metrics {
        self.sample(name, "gauge", help, labels, &value.to_string())
    }

    /// A histogram: `counts[i]` observations at or below `bounds[i]` (not cumulative; one more
    /// count than bounds for the rest), their `sum`.
    pub fn histogram(&mut self, name: &str, help: &str, bounds: &[f64], counts: &[u64], sum: f64) -> &mut Metrics {
        let mut cumulative = 0;
        for (i, count) in counts.iter().enumerate() {
            cumulative += count;
            let le = bounds.get(i).map_or("+Inf".to_owned(), f64::to_string);
            self.sample_of(name, "histogram", help, &format!("{name}_bucket"), &[("le", &le)], &cumulative.to_string());
        }
        self.sample_of(name, "histogram", help, &format!("{name}_sum"), &[], &sum.to_string());
        self.sample_of(name, "histogram", help, &format!("{name}_count"), &[], &cumulative.to_string())
    }

    fn sample(&mut self, name: &str, kind: &str, help: &str, labels: &[(&str, &str)], value: &str) -> &mut Metrics {
        self.sample_of(name, kind, help, name, labels, value)
    }

    /// One line of the family `family`, named `name` (a histogram's lines carry suffixes).
    fn sample_of(
        &mut self,
        family: &str,
        kind: &str,
        help: &str,
        name: &str,
        labels: &[(&str, &str)],
        value: &str,
    ) -> &mut Metrics {
        if self.family != family {
            let _ = writeln!(self.text, "# HELP {family} {help}\n# TYPE {family} {kind}");
            self.family = family.to_owned();
        }
        self.text.push_str(name);
        if !labels.is_empty() {
            let pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
            let _ = write!(self.text, "{{{}}}", pairs.join(","));
        }
        let _ = writeln!(self.text, " {value}");
        self
    }

    pub fn finish(self) -> String {
        self.text
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_write_one_header_per_family_and_escaped_labels() {
        let mut m = Metrics::new();
        m.counter("x_total", "Things.", &[("reason", "bad \"json\"")], 3).counter("x_total", "Things.", &[], 4);
        m.gauge("y", "Level.", &[], 1.5);
        assert_eq!(
            m.finish(),
            "# HELP x_total Things.\n# TYPE x_total counter\nx_total{reason=\"bad \\\"json\\\"\"} 3\nx_total 4\n\
             # HELP y Level.\n# TYPE y gauge\ny 1.5\n"
        );
    }

    #[test]
    fn histograms_write_cumulative_buckets_sum_and_count() {
        let mut m = Metrics::new();
        m.histogram("d_seconds", "Durations.", &[0.01, 0.1], &[2, 0, 1], 1.25);
        assert_eq!(
            m.finish(),
            "# HELP d_seconds Durations.\n# TYPE d_seconds histogram\nd_seconds_bucket{le=\"0.01\"} 2\n\
             d_seconds_bucket{le=\"0.1\"} 2\nd_seconds_bucket{le=\"+Inf\"} 3\nd_seconds_sum 1.25\nd_seconds_count 3\n"
        );
    }
}
