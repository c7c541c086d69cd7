//! What every service does beside its work: serves its monitor page, the page's `/api/status` and
//! `/api/charts` (the last hour, see [`crate::charts`]) with the vendored chart library,
//! `/healthz`, `/readyz` and `/metrics`, writes the Prometheus text format, stops on SIGTERM/SIGINT,
//! and backs off from a dependency that does not answer.

use std::fmt::Write as _;
use std::future::Future;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::NaiveDate;
use common::TradingCalendar;
use serde::Serialize;

use crate::charts::{Charts, Figure};
use crate::clock::Clock;

/// A service as its ops endpoints see it.
pub trait Ops: Send + Sync + 'static {
    /// The figures of the monitor page.
    type Status: serde::Serialize + Send;
    /// The trading calendar the service works with: its end is on every page and in `/metrics`.
    fn calendar(&self) -> &TradingCalendar;
    /// The service's clock: what "today" is on the pages and the charts' time.
    fn clock(&self) -> Clock;
    /// Reads what only the stores know (backlogs, queue lengths, whether each answers) and keeps
    /// it for [`Self::metrics`]; every [`PROBE_INTERVAL`], and on each `/api/status`.
    fn probe(&self) -> impl Future<Output = ()> + Send;
    /// The figures as `/api/status` serves them, as of the last probe.
    fn status(&self) -> Self::Status;
    /// Whether the service's dependencies answer; the error says which does not.
    fn ready(&self) -> impl Future<Output = Result<(), String>> + Send;
    /// The service's metrics in the Prometheus text format (see [`Metrics`]), from memory only: a
    /// scrape never waits on a store.
    fn metrics(&self) -> String;
    /// The ring buffers of the monitor page's charts.
    fn charts(&self) -> &Charts;
    /// What the charts show, read now from memory; sampled every chart interval.
    fn figures(&self) -> Vec<Figure>;
}

/// How often the stores are probed for the figures `/metrics` serves.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(2);

/// The monitor `page` at `/` with the stylesheet and script every page shares (`monitor.css`,
/// `monitor.js`), its figures at `/api/status`, and `/healthz`, `/readyz`, `/metrics`.
pub fn monitor_routes<O: Ops>(ops: Arc<O>, page: &'static str) -> Router {
    monitor_page(ops.clone(), "", page).merge(ops_routes(ops))
}

/// The monitor `page` under `base` (`{base}/`, `{base}/monitor.css`, `{base}/monitor.js`,
/// `{base}/api/status`), for a service whose `/` serves something else.
pub fn monitor_page<O: Ops>(ops: Arc<O>, base: &str, page: &'static str) -> Router {
    Router::new()
        .route(&format!("{base}/"), get(move || async move { Html(page) }))
        .route(
            &format!("{base}/monitor.css"),
            get(|| async { ([(header::CONTENT_TYPE, "text/css")], include_str!("monitor.css")) }),
        )
        .route(
            &format!("{base}/monitor.js"),
            get(|| async { ([(header::CONTENT_TYPE, "text/javascript")], include_str!("monitor.js")) }),
        )
        .route(&format!("{base}/api/status"), get(status::<O>))
        .route(&format!("{base}/api/charts"), get(|State(ops): State<Arc<O>>| async move { Json(ops.charts().data()) }))
        .route(
            &format!("{base}/uplot.js"),
            get(|| async {
                ([(header::CONTENT_TYPE, "text/javascript")], include_str!("../vendor/uplot/uPlot.iife.min.js"))
            }),
        )
        .route(
            &format!("{base}/uplot.css"),
            get(|| async { ([(header::CONTENT_TYPE, "text/css")], include_str!("../vendor/uplot/uPlot.min.css")) }),
        )
        .with_state(ops)
}

/// A service's figures with the state of its calendar beside them.
#[derive(Serialize)]
struct WithCalendar<S> {
    #[serde(flatten)]
    status: S,
    calendar: CalendarStatus,
}

/// How long the holiday list lasts, as every monitor page and `/api/status` show it.
#[derive(Debug, Clone, Serialize)]
pub struct CalendarStatus {
    pub last_date: NaiveDate,
    /// Days from today to `last_date` (negative past it): `tickbar_calendar_days_left`.
    pub days_left: i64,
    /// Today lies after the list: a weekday counts as a trading day only provisionally.
    pub provisional: bool,
    pub warning: Option<String>,
}

impl CalendarStatus {
    pub fn of(calendar: &TradingCalendar, today: NaiveDate) -> CalendarStatus {
        CalendarStatus {
            last_date: calendar.last_date(),
            days_left: calendar.days_left(today),
            provisional: calendar.is_provisional(today),
            warning: calendar.warning(today),
        }
    }

    /// Writes `tickbar_calendar_days_left` and `tickbar_calendar_provisional`.
    pub fn metrics(&self, m: &mut Metrics) {
        let help = "Days from today to the end of the holiday list (negative past it).";
        m.gauge("tickbar_calendar_days_left", help, &[], self.days_left as f64);
        let help = "1 when today lies after the holiday list and counts as a trading day only provisionally.";
        m.gauge("tickbar_calendar_provisional", help, &[], f64::from(u8::from(self.provisional)));
    }
}

async fn status<O: Ops>(State(ops): State<Arc<O>>) -> Response {
    ops.probe().await;
    let calendar = CalendarStatus::of(ops.calendar(), ops.clock().today());
    Json(WithCalendar { status: ops.status(), calendar }).into_response()
}

/// `/healthz` (alive), `/readyz` (the dependencies answer) and `/metrics`; starts probing the
/// stores every [`PROBE_INTERVAL`] for `/metrics`, and sampling the charts every chart interval.
pub fn ops_routes<O: Ops>(ops: Arc<O>) -> Router {
    let probed = ops.clone();
    tokio::spawn(async move {
        loop {
            probed.probe().await;
            tokio::time::sleep(PROBE_INTERVAL).await;
        }
    });
    let sampled = ops.clone();
    tokio::spawn(async move {
        loop {
            sampled.charts().record(sampled.clock().now_ms(), sampled.figures());
            tokio::time::sleep(sampled.charts().interval()).await;
        }
    });
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready::<O>))
        .route("/metrics", get(metrics::<O>))
        .with_state(ops)
}

/// A version stamp: the system clock's microsecond (not `[clock]`'s, which can repeat from run to
/// run), larger than any this process gave before.
pub fn version_us() -> u64 {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64);
    let previous = LAST.fetch_max(now, Relaxed);
    if previous >= now {
        LAST.fetch_add(1, Relaxed) + 1
    } else {
        now
    }
}

async fn ready<O: Ops>(State(ops): State<Arc<O>>) -> Response {
    match ops.ready().await {
        Ok(()) => "ready\n".into_response(),
        Err(why) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {why}\n")).into_response(),
    }
}

async fn metrics<O: Ops>(State(ops): State<Arc<O>>) -> Response {
    let mut shared = Metrics::new();
    CalendarStatus::of(ops.calendar(), ops.clock().today()).metrics(&mut shared);
    crate::redis::metrics(&mut shared);
    let text = ops.metrics() + &shared.finish();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}

/// A started service's lifetime: its HTTP port bound and the stop flag that SIGTERM or SIGINT
/// turns true. Each service binds, builds its work around [`Lifetime::stop`], then serves.
pub struct Lifetime {
    listener: tokio::net::TcpListener,
    stop: tokio::sync::watch::Receiver<bool>,
}

impl Lifetime {
    /// Binds `listen` and starts waiting for the stop signal.
    pub async fn start(listen: std::net::SocketAddr) -> Result<Lifetime, crate::Error> {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|source| crate::Error::Listen { addr: listen, source })?;
        let (stop_tx, stop) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown_signal().await;
            let _ = stop_tx.send(true);
        });
        Ok(Lifetime { listener, stop })
    }

    /// Turns true when the service is asked to stop.
    pub fn stop(&self) -> tokio::sync::watch::Receiver<bool> {
        self.stop.clone()
    }

    /// Serves `router` until the stop, then lets open requests finish; the task ends with it.
    pub fn serve(self, router: Router) -> tokio::task::JoinHandle<std::io::Result<()>> {
        let mut stop = self.stop;
        let shutdown = async move {
            let _ = stop.wait_for(|stop| *stop).await;
        };
        tokio::spawn(async move { axum::serve(self.listener, router).with_graceful_shutdown(shutdown).await })
    }
}

/// Completes on SIGTERM or SIGINT (Ctrl-C; on Windows the service manager's stop arrives as Ctrl-C).
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested");
}

/// Exponential backoff for retrying a dependency: 100 ms doubling to 5 s, reset on success.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(100);
    const MAX: Duration = Duration::from_secs(5);

    pub fn new() -> Backoff {
        Backoff { next: Self::FIRST }
    }

    /// The wait before the next attempt; each call doubles the following one up to the cap.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(Self::MAX);
        delay
    }

    pub fn reset(&mut self) {
        self.next = Self::FIRST;
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new()
    }
}

/// A rate per second of a growing total over a sliding window (ticks per second, bars per second).
#[derive(Debug)]
pub struct Rate {
    window: Duration,
    samples: std::sync::Mutex<std::collections::VecDeque<(tokio::time::Instant, u64)>>,
}

impl Rate {
    pub fn new(window: Duration) -> Rate {
        Rate { window, samples: std::sync::Mutex::new(std::collections::VecDeque::new()) }
    }

    /// Records `total` now and returns the rate since the oldest sample inside the window.
    pub fn sample(&self, total: u64) -> f64 {
        let now = tokio::time::Instant::now();
        let mut samples = self.samples.lock().expect("rate lock");
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

    #[test]
    fn backoff_doubles_to_its_cap_and_resets() {
        let mut b = Backoff::new();
        let delays: Vec<u128> = (0..8).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
        b.reset();
        assert_eq!(b.next_delay().as_millis(), 100);
    }
}
