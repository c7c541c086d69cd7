//! The whole market at one moment (`/api/v1/snapshot`): for every symbol of a trading day (or those
//! asked for), its latest closed bar at or before the moment, and the forming bar when asked. A day
//! Redis holds is read in one script call, any other day in one ClickHouse query. Asked for now
//! (no `at`) when now has no bar yet, it is the close of the latest day with bars, and says so.
//! Files carry the answer's moment, day and `missing` list in headers.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use common::Frame;
use serde::Serialize;
use utoipa::ToSchema;

use crate::answer::{open_object, write_list};
use crate::app::App;
use crate::download;
use crate::error::Result;
use crate::params::{Format, SnapshotQuery};
use crate::plan::whole_day;
use crate::served::{Served, Store};

/// What a snapshot found: the answer of `/api/v1/snapshot`.
#[derive(Debug, ToSchema)]
pub struct Snapshot {
    #[serde(flatten)]
    pub head: SnapshotHead,
    /// Each symbol's latest closed bar at or before `at`, in symbol order (asked order with `symbols=`).
    pub bars: Vec<Served>,
    /// Each symbol's bar forming now: present with `include_forming=true` (empty with `at`).
    pub forming: Option<Vec<Served>>,
    /// Symbols asked for with no bar that day up to `at`.
    pub missing: Vec<String>,
}

/// The answer of `/api/v1/snapshot`, without its bar lists.
#[derive(Debug, Serialize, ToSchema)]
pub struct SnapshotHead {
    /// Minutes.
    pub period: u16,
    /// The moment of the snapshot (ISO-8601, `+08:00`): a day that does not trade moves it to the
    /// close of the trading day before.
    #[schema(value_type = String)]
    pub at: Frame,
    /// The trading day the bars are of.
    #[schema(value_type = String, format = Date)]
    pub day: NaiveDate,
    /// The store that answered.
    #[schema(value_type = String, example = "redis")]
    pub source: Store,
    /// Closed bars in the answer.
    pub count: usize,
    /// No `at` was given and now has no bar yet (a morning before the open, a weekend, a feed not
    /// started): the snapshot is of the close of the latest day with bars.
    pub latest: bool,
}

/// Reads the snapshot `q` asks for: of now without `at`, or when now has no bar, of the close of
/// the latest day with bars (before now's).
pub async fn read(app: &App, q: &SnapshotQuery) -> Result<Snapshot> {
    let found = read_at(app, q).await?;
    let empty = found.bars.is_empty() && found.forming.as_ref().is_none_or(Vec::is_empty);
    if !(q.live && empty) {
        return Ok(found);
    }
    let held = app.same_day.days_held().await?.into_iter().filter(|d| *d < found.head.day).max();
    let stored = app.history.latest_day(q.period).await?.filter(|d| *d < found.head.day);
    let Some(day) = held.max(stored) else { return Ok(found) };
    let mut latest = read_at(app, &SnapshotQuery { at: whole_day(day).1, live: false, ..q.clone() }).await?;
    latest.head.latest = true;
    Ok(latest)
}

async fn read_at(app: &App, q: &SnapshotQuery) -> Result<Snapshot> {
    let (day, at) = trading_moment(app, q.at);
    let held = app.same_day.days_held().await?;
    let symbols = q.symbols.as_deref();
    let (bars, forming, source) = if held.contains(&day) {
        let forming = q.include_forming && q.live;
        let latest = app.same_day.snapshot(day, q.period, at, symbols, forming).await?;
        let (mut bars, mut live) = (Vec::with_capacity(latest.len()), Vec::new());
        for one in latest {
            bars.extend(one.closed);
            live.extend(one.forming);
        }
        (bars, live, Store::Redis)
    } else {
        (app.history.snapshot(q.period, (whole_day(day).0, at), symbols).await?, Vec::new(), Store::ClickHouse)
    };
    let missing = missing(q, &bars, &forming);

    let bars = in_asked_order(q, bars);
    let head = SnapshotHead { period: q.period.minutes(), at, day, source, count: bars.len(), latest: false };
    let forming = q.include_forming.then_some(forming);
    Ok(Snapshot { head, bars, forming, missing })
}

/// The trading day of `at` and the moment on it: `at` itself on a trading day, else the close of
/// the trading day before (the calendar's edge keeps `at`).
fn trading_moment(app: &App, at: Frame) -> (NaiveDate, Frame) {
    let calendar = app.calendar();
    match calendar.is_trading_day(at.date()) {
        Ok(false) => match calendar.prev(at.date()) {
            Ok(day) => (day, whole_day(day).1),
            Err(_) => (at.date(), at),
        },
        _ => (at.date(), at),
    }
}

fn symbol_of(bar: &Served) -> Option<String> {
    bar.bar().ok().map(|b| b.symbol.to_string())
}

fn missing(q: &SnapshotQuery, bars: &[Served], forming: &[Served]) -> Vec<String> {
    let Some(asked) = &q.symbols else { return Vec::new() };
    let found: std::collections::HashSet<String> = bars.iter().chain(forming).filter_map(symbol_of).collect();
    asked.iter().map(ToString::to_string).filter(|s| !found.contains(s)).collect()
}

/// ClickHouse answers in symbol order; a `symbols=` list is answered in its own order.
fn in_asked_order(q: &SnapshotQuery, bars: Vec<Served>) -> Vec<Served> {
    let Some(asked) = &q.symbols else { return bars };
    let place: std::collections::HashMap<String, usize> =
        asked.iter().enumerate().map(|(i, s)| (s.to_string(), i)).collect();
    let mut keyed: Vec<(usize, Served)> = bars
        .into_iter()
        .map(|b| (symbol_of(&b).and_then(|s| place.get(&s).copied()).unwrap_or(usize::MAX), b))
        .collect();
    keyed.sort_by_key(|(i, _)| *i);
    keyed.into_iter().map(|(_, b)| b).collect()
}

/// A snapshot file's moment (ISO-8601), whether it is the latest day with bars (`true`/`false`),
/// and the symbols asked for without a bar (comma-separated): what the JSON answer says in fields.
pub const AT_HEADER: &str = "tickbar-snapshot-at";
pub const LATEST_HEADER: &str = "tickbar-snapshot-latest";
pub const MISSING_HEADER: &str = "tickbar-missing";

/// The snapshot as JSON, or as a CSV, Arrow or Parquet file of one row per bar (the head in
/// headers).
pub fn render(q: &SnapshotQuery, s: Snapshot) -> Response {
    let forming = s.forming.unwrap_or_default();
    if q.format != Format::Json {
        let name = format!("snapshot_{}m_{}", q.period, s.head.at.local().format("%Y-%m-%dT%H%M"));
        let rows: Vec<Served> = s.bars.into_iter().chain(forming).collect();
        let mut file = download::file(
            q.format,
            runtime::table::Columns { source: true, forming: q.include_forming, daily: false },
            &name,
            futures_util::stream::iter([Ok(rows)]),
        );
        let headers = file.headers_mut();
        let at = s.head.at.to_iso8601();
        let described = [
            (AT_HEADER, at.as_str()),
            (LATEST_HEADER, if s.head.latest { "true" } else { "false" }),
            (MISSING_HEADER, &s.missing.join(",")),
        ];
        for (name, value) in described {
            headers.insert(name, header::HeaderValue::from_str(value).expect("ISO times and symbols are header-safe"));
        }
        return file;
    }
    let mut out = Vec::with_capacity(256 + s.bars.iter().chain(&forming).map(|b| b.json_len() + 1).sum::<usize>());
    open_object(&mut out, &s.head);
    write_list(&mut out, "bars", &s.bars);
    if q.include_forming {
        write_list(&mut out, "forming", &forming);
    }
    out.extend_from_slice(br#","missing":"#);
    serde_json::to_writer(&mut out, &s.missing).expect("symbols serialize");
    out.push(b'}');
    ([(header::CONTENT_TYPE, "application/json")], out).into_response()
}
