//! The `/api/v1` endpoints over HTTP: merged bars (JSON or streamed CSV), archived ticks, live bars
//! as Server-Sent Events, and the trading calendar, with the answer types the OpenAPI document names.

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use chrono::NaiveDate;
use common::calendar::DayOverride;
use common::session::{phase_at, Phase};
use common::{Frame, Symbol};
use futures_util::stream::{self, Stream, StreamExt};
use serde::Serialize;
use tokio::sync::broadcast::error::RecvError;
use utoipa::ToSchema;

use crate::answer::{self, BarsAnswer};
use crate::app::App;
use crate::download;
use crate::error::{AppError, ErrorBody, Result};
use crate::live::Live;
use crate::params::{
    BarsParams, DateParams, DayParams, DayRangeParams, Format, InstrumentsParams, Params, PhaseParams, SnapshotParams,
    StreamParams, TicksParams,
};
use crate::query;
use crate::served::Sources;
use crate::snapshot::Snapshot;

/// The query routes (answered within the request limits) and the event stream route (long-lived).
pub fn routes(app: Arc<App>) -> (Router, Router) {
    let queries = Router::new()
        .route("/api/v1/bars", get(bars))
        .route("/api/v1/snapshot", get(snapshot))
        .route("/api/v1/ticks", get(ticks))
        .route("/api/v1/instruments", get(instruments))
        .route("/api/v1/calendar/trading-days", get(trading_days))
        .route("/api/v1/calendar/is-trading-day", get(is_trading_day))
        .route("/api/v1/calendar/next", get(next_trading_day))
        .route("/api/v1/calendar/phase", get(market_phase))
        .with_state(app.clone());
    let streams = Router::new().route("/api/v1/stream/bars", get(stream_bars)).with_state(app);
    (queries, streams)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TradingDays {
    #[schema(value_type = String, format = Date)]
    pub start: NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub end: NaiveDate,
    pub count: usize,
    #[schema(value_type = Vec<String>)]
    pub days: Vec<NaiveDate>,
    /// Some of `days` lie after the holiday list: weekdays taken as trading days until the next
    /// list is installed (`calendar.beyond_list = "weekdays"`).
    pub provisional: bool,
    /// The day overrides from `start` to `end`: `{"date", "change", "source"}` with `change` one of
    /// `closed`, `early_close` (and `at`, `HH:MM`), `halt` (and `from`, `to`) or `late_open` (and
    /// `at`).
    #[schema(value_type = Vec<Object>)]
    pub overrides: Vec<DayOverride>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IsTradingDay {
    #[schema(value_type = String, format = Date)]
    pub date: NaiveDate,
    pub trading_day: bool,
    /// `date` lies after the holiday list: the answer is the weekday rule, not a known schedule.
    pub provisional: bool,
}

/// The market's phase at an instant, and the next one.
#[derive(Debug, Serialize, ToSchema)]
pub struct MarketPhase {
    /// The instant asked about.
    pub at: Frame,
    /// The symbol whose board's schedule applies, when one was given.
    pub symbol: Option<Symbol>,
    pub trading_day: bool,
    /// `at`'s day lies after the holiday list: the weekday rule, not a known schedule.
    pub provisional: bool,
    pub phase: Phase,
    pub next: NextPhase,
}

/// The phase after the current one and when it begins: later the same day, or the next trading
/// day's `pre_open` at midnight.
#[derive(Debug, Serialize, ToSchema)]
pub struct NextPhase {
    pub phase: Phase,
    pub at: Frame,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NextDay {
    #[schema(value_type = String, format = Date)]
    pub date: NaiveDate,
    pub n: i32,
    /// T+n: the n-th trading day after `date` (before it for negative n; `date` itself or the next
    /// trading day for n = 0).
    #[schema(value_type = String, format = Date)]
    pub day: NaiveDate,
    /// `day` (or a day counted to reach it) lies after the holiday list.
    pub provisional: bool,
}

/// The archived ticks of one symbol (or several) over a range (or the last `count`), as the
/// producer accepted and normalised them.
#[utoipa::path(
    get,
    path = "/api/v1/ticks",
    tag = "ticks",
    params(TicksParams),
    responses(
        (status = 200, description = "The ticks, oldest first, symbol by symbol in the order asked", content(
            (crate::ticks::TicksAnswer = "application/json"),
            (String = "text/csv", example = "symbol,time,price,volume,amount,cumulative,high,low,trades,bid_price,bid_volume,ask_price,ask_volume\n000333.SZ,2023-02-01T09:30:03.000+08:00,50.21,312300,15680112,true,50.3,49.9,512,50.2;50.19,1200;3400,50.21,800\n"),
            (Vec<u8> = "application/vnd.apache.arrow.stream"),
            (Vec<u8> = "application/vnd.apache.parquet")
        )),
        (status = 400, description = "A parameter is missing, malformed or out of range, or the answer would hold more than `api.max_ticks` ticks", body = ErrorBody),
        (status = 404, description = "The range ends on a day the trading calendar does not cover (`outside_calendar`)", body = ErrorBody),
        (status = 503, description = "ClickHouse does not answer, or the request timed out", body = ErrorBody)
    )
)]
pub async fn ticks(State(app): State<Arc<App>>, Params(params): Params<TicksParams>) -> Result<Response> {
    let query = params.check(&app.limits(), app.clock.now())?;
    covered(&app, query.span.end())?;
    crate::ticks::answer(&app, &query).await
}

/// Bars of one symbol (or several) and a period over a range (or the last `count`), same-day bars
/// from Redis merged with history.
#[utoipa::path(
    get,
    path = "/api/v1/bars",
    tag = "bars",
    params(BarsParams),
    responses(
        (status = 200, description = "The bars, one per frame, oldest first", content(
            (BarsAnswer = "application/json"),
            (String = "text/csv", example = "symbol,frame,open,high,low,close,vol,amount,trades,vwap,source\n600519.SH,2026-11-19T09:31:00+08:00,1650,1652.3,1649.9,1651,120300,198612345.5,57,1650.9754,vendor\n"),
            (Vec<u8> = "application/vnd.apache.arrow.stream"),
            (Vec<u8> = "application/vnd.apache.parquet")
        )),
        (status = 400, description = "A parameter is missing, malformed or out of range", body = ErrorBody),
        (status = 404, description = "The range ends on a day the trading calendar does not cover (`outside_calendar`)", body = ErrorBody),
        (status = 503, description = "A store the range needs does not answer, or the request timed out", body = ErrorBody)
    )
)]
pub async fn bars(State(app): State<Arc<App>>, Params(params): Params<BarsParams>) -> Result<Response> {
    let query = params.check(&app.limits(), app.clock.now())?;
    covered(&app, query.span.end())?;
    if query.format == Format::Json {
        let series = query::series(&app, &query).await?;
        for s in &series {
            app.monitor.served(s.sources);
        }
        let empty: Vec<Symbol> =
            query.symbols.iter().zip(&series).filter(|(_, s)| s.bars.is_empty()).map(|(s, _)| *s).collect();
        let unknown = query::unknown(&app, &empty).await?;
        return Ok(answer::render(&query, series, unknown));
    }
    let unknown = query::unknown(&app, &query.symbols).await?;
    let mut chunks = query::chunks(app.clone(), query.clone()).boxed();
    let first = chunks.next().await.transpose()?;
    let monitor = app.monitor.clone();
    let bars = stream::iter(first.map(Ok)).chain(chunks).map(move |chunk| {
        chunk.map(|series| {
            series.iter().for_each(|s| monitor.served(s.sources));
            series.into_iter().flat_map(|s| s.bars).collect::<Vec<_>>()
        })
    });
    let daily = query.resolution == common::resample::Resolution::Day;
    let columns = runtime::table::Columns { source: true, forming: query.include_forming, daily };
    let mut file = download::file(query.format, columns, &answer::file_name(&query), bars);
    answer::name_unknown(&mut file, &unknown.join(","));
    Ok(file)
}

/// The whole market at one moment: every symbol's latest closed bar at or before `at` (default now)
/// on that trading day, or those of `symbols`, with the forming bars when asked.
#[utoipa::path(
    get,
    path = "/api/v1/snapshot",
    tag = "bars",
    params(SnapshotParams),
    responses(
        (status = 200, description = "One bar per symbol, in symbol order", content(
            (Snapshot = "application/json"),
            (String = "text/csv"),
            (Vec<u8> = "application/vnd.apache.arrow.stream"),
            (Vec<u8> = "application/vnd.apache.parquet")
        )),
        (status = 400, description = "A parameter is missing, malformed or out of range", body = ErrorBody),
        (status = 404, description = "The range ends on a day the trading calendar does not cover (`outside_calendar`)", body = ErrorBody),
        (status = 503, description = "The store the day needs does not answer, or the request timed out", body = ErrorBody)
    )
)]
pub async fn snapshot(State(app): State<Arc<App>>, Params(params): Params<SnapshotParams>) -> Result<Response> {
    let query = params.check(&app.limits(), app.clock.now())?;
    covered(&app, query.at)?;
    let found = crate::snapshot::read(&app, &query).await?;
    app.monitor.served(Sources::of(&found.bars));
    Ok(crate::snapshot::render(&query, found))
}

/// Live bars of one symbol and period as Server-Sent Events: `event: bar` with a bar object for each
/// closed or amended bar, `event: gap` when bars may have been missed (re-query `/api/v1/bars`).
#[utoipa::path(
    get,
    path = "/api/v1/stream/bars",
    tag = "bars",
    params(StreamParams),
    responses(
        (status = 200, description = "An endless event stream", content_type = "text/event-stream", body = String),
        (status = 400, description = "A parameter is missing or malformed", body = ErrorBody),
        (status = 503, description = "`api.max_streams` streams are open (`too_many_streams`)", body = ErrorBody)
    )
)]
pub async fn stream_bars(
    State(app): State<Arc<App>>,
    Params(params): Params<StreamParams>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let (symbol, period) = params.check(&app.limits())?;
    let permit = app.streams.admit()?;
    let watch = app.hub.join(app.keys.bar_channel(period, symbol), period, symbol);
    let events = stream::unfold((watch, app.stop.clone(), permit), |(mut watch, mut stop, permit)| async move {
        let event = tokio::select! {
            received = watch.receiver.recv() => match received {
                Ok(Live::Bar(json)) => Event::default().event("bar").data(&*json),
                Ok(Live::Forming(json)) => Event::default().event("forming").data(&*json),
                Ok(Live::Gap) => gap("the live feed reconnected to redis"),
                Err(RecvError::Lagged(n)) => gap(&format!("this client fell {n} bars behind")),
                Err(RecvError::Closed) => return None,
            },
            _ = stop.wait_for(|stop| *stop) => return None,
        };
        Some((Ok(event), (watch, stop, permit)))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

fn gap(why: &str) -> Event {
    Event::default().event("gap").data(format!("{why}; bars may have been missed: re-query /api/v1/bars"))
}

/// A query ending on a day the trading calendar does not cover (before its first year, or past its
/// list under `calendar.beyond_list = "refuse"`) is the calendar endpoints' 404 `outside_calendar`,
/// never a silent empty answer.
fn covered(app: &App, end: Frame) -> Result<()> {
    app.calendar().is_trading_day(end.date()).map(drop).map_err(calendar_error)
}

/// A date the calendar does not cover: well-formed, but not a day it knows (404).
fn calendar_error(e: common::Error) -> AppError {
    AppError::OutsideCalendar(e.to_string())
}

/// The instrument list `producer import-instruments` loaded, or its entries for `symbols`.
#[utoipa::path(
    get,
    path = "/api/v1/instruments",
    tag = "instruments",
    params(InstrumentsParams),
    responses(
        (status = 200, body = Instruments),
        (status = 400, description = "A malformed symbol list", body = ErrorBody),
        (status = 503, description = "ClickHouse does not answer", body = ErrorBody)
    )
)]
pub async fn instruments(
    State(app): State<Arc<App>>,
    Params(params): Params<InstrumentsParams>,
) -> Result<Json<Instruments>> {
    let symbols = params.check(&app.limits())?;
    let instruments = app.history.instruments(symbols.as_deref()).await?;
    Ok(Json(Instruments { count: instruments.len(), instruments }))
}

/// The answer of `GET /api/v1/instruments`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Instruments {
    pub count: usize,
    pub instruments: Vec<common::instrument::Instrument>,
}

/// The trading days from `start` to `end`, both inclusive.
#[utoipa::path(
    get,
    path = "/api/v1/calendar/trading-days",
    tag = "calendar",
    params(DayRangeParams),
    responses(
        (status = 200, body = TradingDays),
        (status = 400, description = "A missing or malformed date", body = ErrorBody),
        (status = 404, description = "A date outside the trading calendar", body = ErrorBody)
    )
)]
pub async fn trading_days(
    State(app): State<Arc<App>>,
    Params(params): Params<DayRangeParams>,
) -> Result<Json<TradingDays>> {
    let (start, end) = params.check()?;
    let calendar = app.calendar();
    let days = calendar.trading_days(start, end).map_err(calendar_error)?;
    let provisional = calendar.is_provisional(end);
    let overrides = calendar.overrides().filter(|o| (start..=end).contains(&o.date)).cloned().collect();
    Ok(Json(TradingDays { start, end, count: days.len(), days, provisional, overrides }))
}

/// Whether `date` is a trading day.
#[utoipa::path(
    get,
    path = "/api/v1/calendar/is-trading-day",
    tag = "calendar",
    params(DayParams),
    responses(
        (status = 200, body = IsTradingDay),
        (status = 400, description = "A missing or malformed date", body = ErrorBody),
        (status = 404, description = "A date outside the trading calendar", body = ErrorBody)
    )
)]
pub async fn is_trading_day(
    State(app): State<Arc<App>>,
    Params(params): Params<DayParams>,
) -> Result<Json<IsTradingDay>> {
    let date = params.date()?;
    let calendar = app.calendar();
    let trading_day = calendar.is_trading_day(date).map_err(calendar_error)?;
    Ok(Json(IsTradingDay { date, trading_day, provisional: calendar.is_provisional(date) }))
}

/// T+n: the n-th trading day after `date`.
#[utoipa::path(
    get,
    path = "/api/v1/calendar/next",
    tag = "calendar",
    params(DateParams),
    responses(
        (status = 200, body = NextDay),
        (status = 400, description = "A missing or malformed date or n", body = ErrorBody),
        (status = 404, description = "A day outside the trading calendar", body = ErrorBody)
    )
)]
pub async fn next_trading_day(
    State(app): State<Arc<App>>,
    Params(params): Params<DateParams>,
) -> Result<Json<NextDay>> {
    let (date, n) = params.check()?;
    let calendar = app.calendar();
    let day = calendar.add_trading_days(date, n).map_err(calendar_error)?;
    let provisional = calendar.is_provisional(day.max(date));
    Ok(Json(NextDay { date, n, day, provisional }))
}

/// The market's phase: the trading day or not, the phase now (or at `at`) on a board's schedule,
/// and when the next begins.
#[utoipa::path(
    get,
    path = "/api/v1/calendar/phase",
    tag = "calendar",
    params(PhaseParams),
    responses(
        (status = 200, body = MarketPhase),
        (status = 400, description = "A malformed instant or symbol", body = ErrorBody),
        (status = 404, description = "An instant outside the trading calendar", body = ErrorBody)
    )
)]
pub async fn market_phase(
    State(app): State<Arc<App>>,
    Params(params): Params<PhaseParams>,
) -> Result<Json<MarketPhase>> {
    let (at, symbol) = params.check(app.clock.now())?;
    let calendar = app.calendar();
    let found = phase_at(&calendar, symbol, at.epoch_seconds() * 1000).map_err(calendar_error)?;
    let next = NextPhase { phase: found.next, at: Frame::from_epoch_seconds(found.next_at_ms.div_euclid(1000)) };
    let provisional = calendar.is_provisional(at.date());
    Ok(Json(MarketPhase { at, symbol, trading_day: found.trading_day, provisional, phase: found.phase, next }))
}
