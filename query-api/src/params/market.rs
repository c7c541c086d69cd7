//! The parameters of the other market-data endpoints: ticks, the snapshot and the live stream.

use common::{Frame, Period, Symbol};
use serde::Deserialize;
use utoipa::IntoParams;

use super::*;
use crate::error::{AppError, Result};

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
        let period = stored_period(self.period, limits)?;
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

/// `GET /api/v1/instruments`
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InstrumentsParams {
    /// Only these securities, comma-separated (up to `api.max_symbols`); default: the whole list.
    #[param(pattern = r"^\d{6}\.(SH|SZ|BJ|sh|sz|bj)(,\d{6}\.(SH|SZ|BJ|sh|sz|bj))*$", example = "600519.SH,688981.SH")]
    pub symbols: Option<String>,
}

impl InstrumentsParams {
    /// The symbols asked for, or `None` for the whole list.
    pub fn check(self, limits: &Limits) -> Result<Option<Vec<Symbol>>> {
        self.symbols.map(|list| symbol_list(&list, limits.max_symbols)).transpose()
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
    /// The symbol and a stored period: the live stream carries no other.
    pub fn check(self, limits: &Limits) -> Result<(Symbol, Period)> {
        Ok((symbol(self.symbol)?, stored_period(self.period, limits)?))
    }
}

/// The period of `value` when this deployment stores it (`bars.periods`).
fn stored_period(value: Option<String>, limits: &Limits) -> Result<Period> {
    let period = period(value)?;
    if !limits.periods.contains(&period) {
        return Err(AppError::bad(
            "bad_period",
            format!("period {period}: this deployment stores no {period}-minute bars"),
        ));
    }
    Ok(period)
}
