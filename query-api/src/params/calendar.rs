//! The calendar endpoints' parameters.

use chrono::NaiveDate;
use common::{Frame, Symbol};
use serde::Deserialize;
use utoipa::IntoParams;

use super::*;
use crate::error::{AppError, Result};

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

#[cfg(test)]
mod tests {
    use super::*;

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
