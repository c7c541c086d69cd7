//! What every service does beside its work: serves its monitor page, the page's `/api/status` and
//! `/api/charts` (the last hour, see [`crate::charts`]) with the vendored chart library,
//! `/healthz`, `/readyz` and `/metrics` (written with [`crate::metrics`]); and, in [`lifetime`],
//! binds its port and stops on SIGTERM/SIGINT.

mod lifetime;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::NaiveDate;
use common::calendar::DayOverride;
use serde::Serialize;

use crate::alert::{Alerts, Reading};
use crate::calendar::LiveCalendar;
use crate::charts::{Charts, Figure};
use crate::clock::Clock;
use crate::metrics::Metrics;

pub use lifetime::{shutdown_signal, Lifetime};

/// A service as its ops endpoints see it.
pub trait Ops: Send + Sync + 'static {
    /// The figures of the monitor page.
    type Status: serde::Serialize + Send;
    /// The trading calendar the service works with: its end is on every page and in `/metrics`.
    fn calendar(&self) -> &LiveCalendar;
    /// The service's clock: what "today" is on the pages and the charts' time; the one its alerts
    /// run on.
    fn clock(&self) -> Clock {
        self.alerts().clock()
    }
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
    /// The service's alerting, judged after every probe.
    fn alerts(&self) -> &Arc<Alerts>;
    /// The alert conditions the service watches (see [`crate::alert::RULES`]), read from memory
    /// as of the last probe.
    fn readings(&self) -> Vec<Reading>;
}

/// Seconds in a day: the calendar's remaining days in Prometheus's base unit.
const SECONDS_A_DAY: i64 = 86_400;

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
                ([(header::CONTENT_TYPE, "text/javascript")], include_str!("../../vendor/uplot/uPlot.iife.min.js"))
            }),
        )
        .route(
            &format!("{base}/uplot.css"),
            get(|| async { ([(header::CONTENT_TYPE, "text/css")], include_str!("../../vendor/uplot/uPlot.min.css")) }),
        )
        .with_state(ops)
}

/// The most overrides a status lists.
pub const OVERRIDES_SHOWN: usize = 20;

/// A service's figures with the state of its calendar beside them.
#[derive(Serialize)]
struct WithCalendar<S> {
    #[serde(flatten)]
    status: S,
    calendar: CalendarStatus,
}

/// The calendar in use, as every monitor page and `/api/status` show it: its version and source,
/// the overrides of today and the days after, and how long the holiday list lasts.
#[derive(Debug, Clone, Serialize)]
pub struct CalendarStatus {
    pub version: u64,
    pub source: String,
    /// Today's overrides and the later ones, at most [`OVERRIDES_SHOWN`].
    pub overrides: Vec<DayOverride>,
    pub last_date: NaiveDate,
    /// Days from today to `last_date` (negative past it); `tickbar_calendar_remaining_seconds`
    /// says it in seconds, Prometheus's base unit.
    pub days_left: i64,
    /// Today lies after the list: a weekday counts as a trading day only provisionally.
    pub provisional: bool,
    pub warning: Option<String>,
}

impl CalendarStatus {
    pub fn of(live: &LiveCalendar, today: NaiveDate) -> CalendarStatus {
        let now = live.current();
        let calendar = &now.days;
        let overrides = calendar.overrides().filter(|o| o.date >= today).take(OVERRIDES_SHOWN).cloned().collect();
        CalendarStatus {
            version: now.version,
            source: now.source.clone(),
            overrides,
            last_date: calendar.last_date(),
            days_left: calendar.days_left(today),
            provisional: calendar.is_provisional(today),
            warning: calendar.warning(today),
        }
    }

    /// Writes `tickbar_calendar_remaining_seconds`, `tickbar_calendar_provisional`,
    /// `tickbar_calendar_version` and `tickbar_calendar_info{source}`.
    pub fn metrics(&self, m: &mut Metrics) {
        let help = "Version of the stored calendar change applied (0: the baseline alone).";
        m.gauge("tickbar_calendar_version", help, &[], self.version as f64);
        m.gauge("tickbar_calendar_info", "Where the calendar in use comes from.", &[("source", &self.source)], 1.0);
        let help = "Time from today to the end of the holiday list, whole days in seconds (negative past it).";
        m.gauge("tickbar_calendar_remaining_seconds", help, &[], (self.days_left * SECONDS_A_DAY) as f64);
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
/// stores every [`PROBE_INTERVAL`] for `/metrics` and the alerts, and sampling the charts every
/// chart interval.
pub fn ops_routes<O: Ops>(ops: Arc<O>) -> Router {
    let probed = ops.clone();
    tokio::spawn(async move {
        loop {
            probed.probe().await;
            probed.alerts().observe(probed.readings());
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
    ops.alerts().metrics(&mut shared);
    let text = ops.metrics() + &shared.finish();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}
