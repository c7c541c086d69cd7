//! The query parameters of every endpoint: read strictly (an unknown or repeated parameter is a 400),
//! then checked into domain values with messages that say what was wrong and what is accepted.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::NaiveDate;
use common::adjust::Adjust;
use common::resample::Resolution;
use common::time::parse_datetime;
use common::{Frame, Period, Symbol};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::{AppError, Result};
use crate::plan::whole_day;

/// A query string read into `T`, whose fields are the only parameters accepted.
pub struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self> {
        let query = parts.uri.query().unwrap_or_default();
        serde_urlencoded::from_str(query).map(Params).map_err(|e| {
            let message = e.to_string().replace("field", "parameter");
            let code = if message.starts_with("unknown") { "unknown_parameter" } else { "bad_parameter" };
            AppError::bad(code, message)
        })
    }
}

/// `GET /api/v1/bars`
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BarsParams {
    /// One security, e.g. `600519.SH` (`.SH`, `.SZ` or `.BJ`; lower case accepted). Exactly one
    /// of `symbol` and `symbols` is required.
    #[param(pattern = r"^\d{6}\.(SH|SZ|BJ|sh|sz|bj)$", example = "600519.SH")]
    pub symbol: Option<String>,
    /// Several securities, comma-separated (up to `api.max_symbols`, 1,000 by default): the answer
    /// is keyed by symbol (JSON) or one long table (CSV).
    #[param(pattern = r"^\d{6}\.(SH|SZ|BJ|sh|sz|bj)(,\d{6}\.(SH|SZ|BJ|sh|sz|bj))*$", example = "600519.SH,000001.SZ")]
    pub symbols: Option<String>,
    /// Bar length: minutes that divide 120 (1, 2, 3, 5, 10, 15, 20, 30, 40, 60, 120, ...; `10m` and
    /// `10min` too), or `1d`, `1w`, `1M` (default 1). 1, 5, 15, 30 and 60 are stored; the others
    /// are built from the longest stored period that divides them.
    #[param(value_type = Option<String>, pattern = r"^(\d{1,3}(m|min)?|1[dDwWM])$", example = "5")]
    pub period: Option<String>,
    /// First frame, inclusive: `2026-11-19T09:30:00`, `2026-11-19 09:30`, an offset such as `+08:00`
    /// (none means Asia/Shanghai), or a date alone for the start of that day. 24-hour times only.
    /// Required unless `count` is given (the two exclude each other).
    #[param(
        pattern = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$",
        example = "2026-11-19T09:30:00"
    )]
    pub start: Option<String>,
    /// Last frame, inclusive; same forms as `start`; a date alone means the end of that day.
    /// Required with `start`; with `count` it defaults to now.
    #[param(
        pattern = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$",
        example = "2026-11-20"
    )]
    pub end: Option<String>,
    /// The last `count` bars of each symbol at or before `end` (1 to 100,000), walking back over
    /// trading days through Redis, then ClickHouse.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100000, example = 240)]
    pub count: Option<String>,
    /// `json` (default), `csv` (with a header line), `arrow` (an Arrow IPC stream) or `parquet`;
    /// the last three are one long table sent as it is read.
    #[param(pattern = "^(json|csv|arrow|parquet)$", example = "json")]
    pub format: Option<String>,
    /// `true` adds the bar still forming now, marked `"forming": true` (default `false`).
    #[param(value_type = Option<bool>, example = false)]
    pub include_forming: Option<String>,
    /// Prices `none` (default, as traded), `forward` (`qfq`, 前复权) or `backward` (`hfq`, 后复权),
    /// by the factors in ClickHouse's `adj_factors`; rounded to the cent, volume and amount as traded.
    #[param(pattern = "^(none|forward|backward|qfq|hfq)$", example = "forward")]
    pub adjust: Option<String>,
    /// With `adjust=forward`: the date whose prices stay as traded (`YYYY-MM-DD`; default: the
    /// latest factor's).
    #[param(value_type = Option<String>, format = Date, example = "2026-11-20")]
    pub adjust_ref: Option<String>,
}

/// The answer format of `/api/v1/bars` and `/api/v1/snapshot`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
    /// An Arrow IPC stream.
    Arrow,
    Parquet,
}

/// The most bars `count` may ask for per symbol.
pub const MAX_COUNT: u32 = 100_000;

/// Which bars of each symbol a query wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    /// Every bar with a frame in `start..=end`.
    Between { start: Frame, end: Frame },
    /// The last `count` bars with a frame at or before `end`.
    Last { count: u32, end: Frame },
}

impl Span {
    pub fn end(self) -> Frame {
        match self {
            Span::Between { end, .. } | Span::Last { end, .. } => end,
        }
    }
}

/// A checked bars query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BarsQuery {
    /// In the order asked, each once.
    pub symbols: Vec<Symbol>,
    /// Asked with `symbols=`: the answer is keyed by symbol.
    pub keyed: bool,
    /// The bar length of the answer.
    pub resolution: Resolution,
    /// The stored period read: `resolution` itself, or the longest stored period dividing it.
    pub period: Period,
    pub span: Span,
    pub format: Format,
    pub include_forming: bool,
    /// The instant the query is answered at: which bars are still forming.
    pub now: Frame,
    pub adjust: Adjust,
}

impl BarsParams {
    /// The query these parameters ask for: at most `limits.max_symbols` symbols; a range may span
    /// at most `limits.max_range_days` days per minute of the period; `now` is the default end of a
    /// `count` query.
    pub fn check(self, limits: &Limits, now: Frame) -> Result<BarsQuery> {
        let (symbols, keyed) = one_or_many(self.symbol, self.symbols, limits.max_symbols)?;
        let resolution = resolution(self.period)?;
        let period = match resolution.stored().filter(|p| limits.periods.contains(p)) {
            Some(stored) => stored,
            None => resolution.base(&limits.periods).map_err(|e| AppError::bad("bad_period", e.to_string()))?,
        };
        let span = span(self.count, self.start, self.end, now)?;
        if let Span::Between { start, end } = span {
            check_range(start, end, period, limits.max_range_days)?;
        }
        let format = format(self.format)?;
        let include_forming = flag("include_forming", self.include_forming)?;
        let adjust = adjust(self.adjust, self.adjust_ref)?;
        Ok(BarsQuery { symbols, keyed, resolution, period, span, format, include_forming, now, adjust })
    }
}

/// The symbols of `symbol=` (one) or `symbols=` (a list, at most `max`; the answer keyed): exactly
/// one of them.
fn one_or_many(symbol_param: Option<String>, symbols: Option<String>, max: usize) -> Result<(Vec<Symbol>, bool)> {
    match (symbol_param, symbols) {
        (Some(one), None) => Ok((vec![symbol(Some(one))?], false)),
        (None, Some(many)) => Ok((symbol_list(&many, max)?, true)),
        (None, None) => Err(AppError::bad("missing_parameter", "`symbol` or `symbols` is required")),
        (Some(_), Some(_)) => {
            Err(AppError::bad("bad_parameter", "`symbol` and `symbols` exclude each other: give one"))
        }
    }
}

/// `start..=end`, or the last `count` at or before `end` (default `now`).
fn span(count: Option<String>, start: Option<String>, end: Option<String>, now: Frame) -> Result<Span> {
    match (count, start) {
        (Some(_), Some(_)) => Err(AppError::bad("bad_parameter", "`count` and `start` exclude each other: give one")),
        (Some(count), None) => {
            let end = end.map_or(Ok(now), |end| bound("end", Some(end), Bound::End))?;
            Ok(Span::Last { count: count_of(&count)?, end })
        }
        (None, start) => {
            Ok(Span::Between { start: bound("start", start, Bound::Start)?, end: bound("end", end, Bound::End)? })
        }
    }
}

/// What one request may ask for, and the periods the stores hold.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_range_days: u32,
    pub max_symbols: usize,
    pub periods: Vec<Period>,
    /// The most ticks one `/api/v1/ticks` answer may hold.
    pub max_ticks: usize,
}

/// `start..=end` in order and no longer than `max_range_days` days of 1-minute bars.
fn check_range(start: Frame, end: Frame, period: Period, max_range_days: u32) -> Result<()> {
    if start > end {
        return Err(AppError::bad(
            "bad_range",
            format!("start {} is after end {}", start.to_iso8601(), end.to_iso8601()),
        ));
    }
    let limit_days = i64::from(max_range_days) * i64::from(period.minutes());
    if end.epoch_seconds() - start.epoch_seconds() >= limit_days * 86_400 {
        return Err(AppError::bad(
            "range_too_long",
            format!(
                "the range from {} to {} is longer than {limit_days} days, the most one request may span \
                 for {period}-minute bars ({max_range_days} days of 1-minute bars); split it",
                start.to_iso8601(),
                end.to_iso8601()
            ),
        ));
    }
    Ok(())
}

/// A comma-separated symbol list: each valid, each once (first place kept), at most `max`.
fn symbol_list(text: &str, max: usize) -> Result<Vec<Symbol>> {
    let mut symbols: Vec<Symbol> = Vec::new();
    for part in text.split(',').map(str::trim) {
        let symbol: Symbol = part.parse().map_err(|e: common::Error| AppError::bad("bad_symbol", e.to_string()))?;
        if !symbols.contains(&symbol) {
            symbols.push(symbol);
        }
    }
    if symbols.len() > max {
        return Err(AppError::bad(
            "too_many_symbols",
            format!("`symbols` lists {} symbols; one request may ask for {max} (api.max_symbols)", symbols.len()),
        ));
    }
    Ok(symbols)
}

fn count_of(text: &str) -> Result<u32> {
    match text.parse::<u32>() {
        Ok(n @ 1..=MAX_COUNT) => Ok(n),
        _ => Err(AppError::bad(
            "bad_parameter",
            format!("count {text:?}: accepted is a whole number from 1 to {MAX_COUNT}"),
        )),
    }
}

/// `GET /api/v1/ticks`
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TicksParams {
    /// One security, e.g. `600519.SH`. Exactly one of `symbol` and `symbols` is required.
    #[param(pattern = r"^\d{6}\.(SH|SZ|BJ|sh|sz|bj)$", example = "600519.SH")]
    pub symbol: Option<String>,
    /// Several securities, comma-separated (up to `api.max_symbols`): one long list, symbol by symbol.
    #[param(pattern = r"^\d{6}\.(SH|SZ|BJ|sh|sz|bj)(,\d{6}\.(SH|SZ|BJ|sh|sz|bj))*$", example = "600519.SH,000001.SZ")]
    pub symbols: Option<String>,
    /// First tick time, inclusive (same forms as `start` of `/api/v1/bars`; a date alone is the
    /// start of that day). Required unless `count` is given.
    #[param(
        pattern = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$",
        example = "2026-11-19T09:30:00"
    )]
    pub start: Option<String>,
    /// Last tick time, inclusive to the end of its second; a date alone is the end of that day.
    /// Required with `start`; with `count` it defaults to now.
    #[param(
        pattern = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$",
        example = "2026-11-20"
    )]
    pub end: Option<String>,
    /// The last `count` ticks of each symbol at or before `end` (1 to 100,000).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100000, example = 100)]
    pub count: Option<String>,
    /// `json` (default), `csv`, `arrow` (an Arrow IPC stream) or `parquet`.
    #[param(pattern = "^(json|csv|arrow|parquet)$", example = "json")]
    pub format: Option<String>,
}

/// A checked ticks query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicksQuery {
    /// In the order asked, each once.
    pub symbols: Vec<Symbol>,
    pub span: Span,
    pub format: Format,
    /// The most ticks the answer may hold (`api.max_ticks`).
    pub max_ticks: usize,
}

impl TicksParams {
    /// The query these parameters ask for; `now` is the default end of a `count` query.
    pub fn check(self, limits: &Limits, now: Frame) -> Result<TicksQuery> {
        let (symbols, _) = one_or_many(self.symbol, self.symbols, limits.max_symbols)?;
        let span = span(self.count, self.start, self.end, now)?;
        if let Span::Between { start, end } = span {
            check_range(start, end, Period::M1, limits.max_range_days)?;
        }
        Ok(TicksQuery { symbols, span, format: format(self.format)?, max_ticks: limits.max_ticks })
    }
}

/// `GET /api/v1/snapshot`
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SnapshotParams {
    /// Bar length in minutes: a stored period, 1, 5, 15, 30 or 60 (default 1).
    #[param(value_type = Option<u16>, example = 1)]
    pub period: Option<String>,
    /// The moment of the snapshot (same forms as `start` of `/api/v1/bars`; a date alone is that
    /// day's close). Default: now. On a day that does not trade, the trading day before.
    #[param(
        pattern = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$",
        example = "2026-11-20T10:30:00"
    )]
    pub at: Option<String>,
    /// Only these securities, comma-separated (up to `api.max_symbols`); default: every symbol
    /// with a bar that day.
    #[param(pattern = r"^\d{6}\.(SH|SZ|BJ|sh|sz|bj)(,\d{6}\.(SH|SZ|BJ|sh|sz|bj))*$", example = "600519.SH,000001.SZ")]
    pub symbols: Option<String>,
    /// `json` (default), `csv`, `arrow` or `parquet`.
    #[param(pattern = "^(json|csv|arrow|parquet)$", example = "json")]
    pub format: Option<String>,
    /// `true` adds each symbol's bar forming now (only without `at`), default `false`.
    #[param(value_type = Option<bool>, example = false)]
    pub include_forming: Option<String>,
}

/// A checked snapshot query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotQuery {
    pub period: Period,
    pub at: Frame,
    /// `at` was not given: the snapshot is of now, and may hold forming bars.
    pub live: bool,
    /// The symbols asked for, or `None` for every symbol of the day.
    pub symbols: Option<Vec<Symbol>>,
    pub format: Format,
    pub include_forming: bool,
}

impl SnapshotParams {
    pub fn check(self, limits: &Limits, now: Frame) -> Result<SnapshotQuery> {
        let period = period(self.period)?;
        if !limits.periods.contains(&period) {
            return Err(AppError::bad(
                "bad_period",
                format!("period {period}: this deployment stores no {period}-minute bars"),
            ));
        }
        let at = self.at.map(|at| bound("at", Some(at), Bound::End)).transpose()?;
        let symbols = self.symbols.map(|list| symbol_list(&list, limits.max_symbols)).transpose()?;
        Ok(SnapshotQuery {
            period,
            at: at.unwrap_or(now),
            live: at.is_none(),
            symbols,
            format: format(self.format)?,
            include_forming: flag("include_forming", self.include_forming)?,
        })
    }
}

/// `GET /api/v1/stream/bars`
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StreamParams {
    /// The security, e.g. `600519.SH`.
    #[param(required = true, example = "600519.SH")]
    pub symbol: Option<String>,
    /// Bar length in minutes: 1, 5, 15, 30 or 60 (default 1).
    #[param(value_type = Option<u16>, example = 1)]
    pub period: Option<String>,
}

impl StreamParams {
    pub fn check(self) -> Result<(Symbol, Period)> {
        Ok((symbol(self.symbol)?, period(self.period)?))
    }
}

/// `GET /api/v1/calendar/trading-days`
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DayRangeParams {
    /// First date, inclusive (`YYYY-MM-DD`).
    #[param(required = true, value_type = String, format = Date, example = "2026-11-02")]
    pub start: Option<String>,
    /// Last date, inclusive (`YYYY-MM-DD`).
    #[param(required = true, value_type = String, format = Date, example = "2026-11-30")]
    pub end: Option<String>,
}

impl DayRangeParams {
    pub fn check(self) -> Result<(NaiveDate, NaiveDate)> {
        let (start, end) = (date("start", self.start)?, date("end", self.end)?);
        if start > end {
            return Err(AppError::bad("bad_range", format!("start {start} is after end {end}")));
        }
        Ok((start, end))
    }
}

/// `GET /api/v1/calendar/is-trading-day`
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DayParams {
    /// The date (`YYYY-MM-DD`).
    #[param(required = true, value_type = String, format = Date, example = "2026-11-20")]
    pub date: Option<String>,
}

impl DayParams {
    pub fn date(self) -> Result<NaiveDate> {
        date("date", self.date)
    }
}

/// `GET /api/v1/calendar/phase`
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PhaseParams {
    /// The instant (same forms as `start` of `/api/v1/bars`; a date alone is its midnight).
    /// Default: now.
    #[param(value_type = Option<String>, example = "2026-11-20T14:58:00+08:00")]
    pub at: Option<String>,
    /// A symbol whose board's schedule applies: STAR Market, ChiNext and Beijing listings have the
    /// 15:05–15:30 after-hours session. Default: the main boards' schedule, which has none.
    #[param(value_type = Option<String>, example = "688981.SH")]
    pub symbol: Option<String>,
}

impl PhaseParams {
    /// The instant (`now` when not given) and the symbol.
    pub fn check(self, now: Frame) -> Result<(Frame, Option<Symbol>)> {
        let at = self.at.map_or(Ok(now), |at| bound("at", Some(at), Bound::Start))?;
        let symbol = self.symbol.map(|s| symbol(Some(s))).transpose()?;
        Ok((at, symbol))
    }
}

/// `GET /api/v1/calendar/next`
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DateParams {
    /// The date (`YYYY-MM-DD`).
    #[param(required = true, value_type = String, format = Date, example = "2026-11-20")]
    pub date: Option<String>,
    /// How many trading days on (T+n; negative goes back), -1000 to 1000, default 1.
    #[param(value_type = Option<i32>, minimum = -1000, maximum = 1000, example = 1)]
    pub n: Option<String>,
}

impl DateParams {
    pub const MAX_N: i32 = 1000;

    /// The date and n.
    pub fn check(self) -> Result<(NaiveDate, i32)> {
        let date = date("date", self.date)?;
        let n = match &self.n {
            None => 1,
            Some(text) => text.parse().ok().filter(|n: &i32| n.abs() <= Self::MAX_N).ok_or_else(|| {
                AppError::bad("bad_parameter", format!("n {text:?}: expected a whole number from -1000 to 1000"))
            })?,
        };
        Ok((date, n))
    }
}

fn required(name: &str, value: Option<String>) -> Result<String> {
    value.ok_or_else(|| AppError::bad("missing_parameter", format!("the parameter `{name}` is required")))
}

fn symbol(value: Option<String>) -> Result<Symbol> {
    required("symbol", value)?.parse().map_err(|e: common::Error| AppError::bad("bad_symbol", e.to_string()))
}

fn period(value: Option<String>) -> Result<Period> {
    value.map_or(Ok(Period::M1), |p| p.parse().map_err(|e: common::Error| AppError::bad("bad_period", e.to_string())))
}

fn adjust(value: Option<String>, reference: Option<String>) -> Result<Adjust> {
    let adjust = value.map_or(Ok(Adjust::None), |a| {
        a.parse().map_err(|e: common::Error| AppError::bad("bad_parameter", e.to_string()))
    })?;
    match (adjust, reference) {
        (_, None) => Ok(adjust),
        (Adjust::Forward { .. }, Some(day)) => Ok(Adjust::Forward { reference: Some(date("adjust_ref", Some(day))?) }),
        (_, Some(_)) => Err(AppError::bad("bad_parameter", "`adjust_ref` goes with `adjust=forward` (or qfq) only")),
    }
}

fn format(value: Option<String>) -> Result<Format> {
    match value.as_deref() {
        None | Some("json") => Ok(Format::Json),
        Some("csv") => Ok(Format::Csv),
        Some("arrow") => Ok(Format::Arrow),
        Some("parquet") => Ok(Format::Parquet),
        Some(other) => {
            Err(AppError::bad("bad_parameter", format!("format {other:?}: accepted are json, csv, arrow and parquet")))
        }
    }
}

fn resolution(value: Option<String>) -> Result<Resolution> {
    value.map_or(Ok(Resolution::Minutes(1)), |p| {
        p.parse().map_err(|e: common::Error| AppError::bad("bad_period", e.to_string()))
    })
}

fn flag(name: &str, value: Option<String>) -> Result<bool> {
    match value.as_deref() {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(AppError::bad("bad_parameter", format!("{name} {other:?}: accepted are true and false"))),
    }
}

fn date(name: &str, value: Option<String>) -> Result<NaiveDate> {
    let text = required(name, value)?;
    parse_date(&text).ok_or_else(|| AppError::bad("bad_time", format!("{name} {text:?}: expected a date YYYY-MM-DD")))
}

fn parse_date(text: &str) -> Option<NaiveDate> {
    (text.len() == 10).then(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()).flatten()
}

/// `2026-11-19T09:30:00 08:00` back to `+08:00`: an unencoded `+` in a query string arrives as a space.
fn restore_plus(text: String) -> String {
    let b = text.as_bytes();
    let n = b.len();
    let offset_like = n > 16 && b[n - 6] == b' ' && b[n - 3] == b':' && text.contains('T');
    if offset_like {
        format!("{}+{}", &text[..n - 6], &text[n - 5..])
    } else {
        text
    }
}

/// Which end of a range a time is: a date alone means the start or the end of that day.
#[derive(Debug, Clone, Copy)]
enum Bound {
    Start,
    End,
}

/// The first (or last) whole second a bound admits, between 1970 and 2105 (ClickHouse `DateTime`).
fn bound(name: &str, value: Option<String>, bound: Bound) -> Result<Frame> {
    let text = restore_plus(required(name, value)?);
    let text = text.trim();
    let lower = text.to_ascii_lowercase();
    if lower.ends_with("am") || lower.ends_with("pm") {
        return Err(AppError::bad(
            "bad_time",
            format!("{name} {text:?}: times are 24-hour (09:30, 13:05, 15:00); AM/PM is not accepted"),
        ));
    }
    let frame = match (parse_date(text), bound) {
        (Some(day), Bound::Start) => whole_day(day).0,
        (Some(day), Bound::End) => whole_day(day).1,
        (None, _) => {
            let ms = parse_datetime(text).map_err(|_| {
                AppError::bad(
                    "bad_time",
                    format!(
                        "{name} {text:?}: expected a 24-hour ISO-8601 time like 2026-11-20T09:31:00 (an offset \
                         optional, none means Asia/Shanghai), or a date alone (2026-11-20) for the whole day"
                    ),
                )
            })?;
            let secs = match bound {
                Bound::Start => ms.div_euclid(1000) + i64::from(ms.rem_euclid(1000) > 0),
                Bound::End => ms.div_euclid(1000),
            };
            Frame::from_epoch_seconds(secs)
        }
    };
    if !(0..=i64::from(u32::MAX)).contains(&frame.epoch_seconds()) {
        return Err(AppError::bad("bad_time", format!("{name} {text:?}: times must lie between 1970 and 2105")));
    }
    Ok(frame)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(query: &str) -> BarsParams {
        serde_urlencoded::from_str(query).unwrap()
    }

    fn now() -> Frame {
        "2026-11-20 10:00:00".parse().unwrap()
    }

    fn check(query: &str) -> Result<BarsQuery> {
        params(query)
            .check(&Limits { max_range_days: 366, max_symbols: 3, periods: Period::ALL.to_vec(), max_ticks: 10 }, now())
    }

    fn range(q: &BarsQuery) -> (String, String) {
        match q.span {
            Span::Between { start, end } => (start.to_string(), end.to_string()),
            other => panic!("{other:?}"),
        }
    }

    fn code(query: &str) -> (&'static str, String) {
        match check(query).unwrap_err() {
            AppError::BadRequest { code, message } => (code, message),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn dates_alone_cover_whole_days_and_times_take_every_contract_form() {
        let q =
            check("symbol=600519.sh&period=5&start=2026-11-19&end=2026-11-20&format=csv&include_forming=true").unwrap();
        assert_eq!((q.symbols[0].to_string(), q.keyed), ("600519.SH".into(), false));
        assert_eq!((q.period, q.format, q.include_forming), (Period::M5, Format::Csv, true));
        assert_eq!(range(&q), ("2026-11-19 00:00:00".into(), "2026-11-20 23:59:59".into()));
        for (start, expected) in [
            ("2026-11-19T09:30:00", "2026-11-19 09:30:00"),
            ("2026-11-19 09:30", "2026-11-19 09:30:00"),
            ("2026-11-19T01:30:00Z", "2026-11-19 09:30:00"),
            ("2026-11-19T09:30:00%2B08:00", "2026-11-19 09:30:00"),
            ("2026-11-19T10:30:00+09:00", "2026-11-19 09:30:00"),
            ("2026-11-19T09:30:00.5", "2026-11-19 09:30:01"),
        ] {
            let q = check(&format!("symbol=600519.SH&start={start}&end=2026-11-20")).unwrap();
            assert_eq!((range(&q).0, q.period, q.format), (expected.to_owned(), Period::M1, Format::Json));
        }
    }

    #[test]
    fn each_malformed_parameter_names_what_is_accepted() {
        let cases = [
            ("period=1&start=2026-11-19&end=2026-11-19", "missing_parameter", "`symbol` or `symbols` is required"),
            (
                "symbol=600519.SH&symbols=000001.SZ&count=5",
                "bad_parameter",
                "`symbol` and `symbols` exclude each other",
            ),
            ("symbols=600519.SH,000001.SZ,000002.SZ,000004.SZ&count=5", "too_many_symbols", "may ask for 3"),
            ("symbols=600519.SH,AAPL&count=5", "bad_symbol", "AAPL"),
            ("symbol=600519.SH&count=5&start=2026-11-19", "bad_parameter", "`count` and `start` exclude each other"),
            ("symbol=600519.SH&count=0", "bad_parameter", "from 1 to 100000"),
            ("symbol=600519.SH&count=ten", "bad_parameter", "from 1 to 100000"),
            ("symbol=600519.SH&end=2026-11-19", "missing_parameter", "`start` is required"),
            ("symbol=600519&start=2026-11-19&end=2026-11-19", "bad_symbol", ".SH, .SZ or .BJ"),
            ("symbol=600519.SH&period=7&start=2026-11-19&end=2026-11-19", "bad_period", "divides 120"),
            ("symbol=600519.SH&period=1y&start=2026-11-19&end=2026-11-19", "bad_period", "1d, 1w and 1M"),
            ("symbol=600519.SH&start=2026-11-19%209:30%20PM&end=2026-11-19", "bad_time", "AM/PM is not accepted"),
            ("symbol=600519.SH&start=2026-11-31&end=2026-12-01", "bad_time", "24-hour ISO-8601"),
            ("symbol=600519.SH&start=2026-11-20&end=2026-11-19", "bad_range", "is after end"),
            ("symbol=600519.SH&start=2024-01-01&end=2025-12-31", "range_too_long", "366 days of 1-minute bars"),
            (
                "symbol=600519.SH&start=2026-11-19&end=2026-11-19&format=xml",
                "bad_parameter",
                "json, csv, arrow and parquet",
            ),
            ("symbol=600519.SH&start=2026-11-19&end=2026-11-19&include_forming=yes", "bad_parameter", "true and false"),
            ("symbol=600519.SH&start=1969-12-31&end=2026-11-19", "bad_time", "between 1970 and 2105"),
        ];
        for (query, expected_code, says) in cases {
            let (code, message) = code(query);
            assert_eq!(code, expected_code, "{query}: {message}");
            assert!(message.contains(says), "{query}: {message}");
        }
        let (code, message) = code("symbol=600519.SH&start=1794965400000&end=2026-11-20");
        assert_eq!(code, "bad_time");
        assert!(!message.contains("epoch"), "no form is offered that is then refused: {message}");
    }

    #[test]
    fn symbols_are_listed_once_in_order_and_count_ends_now_unless_told() {
        let q = check("symbols=600519.SH,000001.sz,600519.SH&count=240").unwrap();
        let symbols: Vec<String> = q.symbols.iter().map(ToString::to_string).collect();
        assert_eq!((symbols, q.keyed), (vec!["600519.SH".to_owned(), "000001.SZ".to_owned()], true));
        assert_eq!(q.span, Span::Last { count: 240, end: now() });
        let q = check("symbol=600519.SH&count=5&end=2026-11-19").unwrap();
        assert_eq!(q.span, Span::Last { count: 5, end: "2026-11-19 23:59:59".parse().unwrap() });
    }

    #[test]
    fn longer_periods_may_span_proportionally_more_days() {
        assert!(check("symbol=600519.SH&period=5&start=2024-01-01&end=2025-12-31").is_ok());
        assert_eq!(code("symbol=600519.SH&period=5&start=2015-01-01&end=2025-12-31").0, "range_too_long");
    }

    #[test]
    fn calendar_parameters_are_dates_and_a_bounded_n() {
        let p = DateParams { date: Some("2026-11-20".into()), n: Some("-3".into()) };
        let (date, n) = p.check().unwrap();
        assert_eq!((date.to_string(), n), ("2026-11-20".into(), -3));
        let too_far = DateParams { date: Some("2026-11-20".into()), n: Some("1001".into()) }.check();
        assert!(matches!(too_far, Err(AppError::BadRequest { code: "bad_parameter", .. })));
        assert!(DateParams { date: Some("20261120".into()), n: None }.check().is_err());
        assert!(DayParams { date: Some("20261120".into()) }.date().is_err());
        let range = DayRangeParams { start: Some("2026-11-20".into()), end: Some("2026-11-19".into()) };
        assert!(matches!(range.check(), Err(AppError::BadRequest { code: "bad_range", .. })));
    }
}
