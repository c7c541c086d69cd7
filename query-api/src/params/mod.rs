//! The query parameters of every endpoint: read strictly (an unknown or repeated parameter is a 400),
//! then checked into domain values with messages that say what was wrong and what is accepted.
//! This file holds the extractor and the readers of the fields several endpoints share; each
//! endpoint's parameters are in [`bars`], [`market`] (ticks, snapshot, stream) or [`calendar`].

mod bars;
mod calendar;
mod market;

pub use bars::{BarsParams, BarsQuery, Limits, Span, MAX_COUNT};
pub use calendar::{DateParams, DayParams, DayRangeParams, PhaseParams};
pub use market::{InstrumentsParams, SnapshotParams, SnapshotQuery, StreamParams, TicksParams, TicksQuery};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::NaiveDate;
use common::adjust::Adjust;
use common::resample::Resolution;
use common::time::parse_datetime;
use common::{Frame, Period, Symbol};
use serde::de::DeserializeOwned;

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

/// The answer format of `/api/v1/bars` and `/api/v1/snapshot`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
    /// An Arrow IPC stream.
    Arrow,
    Parquet,
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
