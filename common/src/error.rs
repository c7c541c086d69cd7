//! The one error type of the domain crate: every way input can fail to be a tick, a bar, a symbol,
//! a period, a time or a calendar.

use chrono::NaiveDate;

use crate::tick::DeadReason;

/// What went wrong while turning outside input into domain values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("invalid symbol {0:?}: expected six digits and an exchange suffix .SH, .SZ or .BJ (e.g. 600519.SH)")]
    InvalidSymbol(String),
    #[error("invalid period {0}")]
    InvalidPeriod(String),
    #[error("invalid period {0:?}: accepted are a number of minutes that divides 120 (1, 2, 3, 5, 10, 15, 20, 30, 40, 60, 120, ...), 1d, 1w and 1M")]
    InvalidResolution(String),
    #[error("invalid adjust {0:?}: accepted are none, forward (qfq) and backward (hfq)")]
    InvalidAdjust(String),
    #[error("invalid adjustment factor: {0}")]
    InvalidFactor(String),
    #[error("invalid time {0:?}: expected epoch milliseconds or 24-hour ISO-8601 like 2026-11-20T09:31:00 (offset optional, none means Asia/Shanghai)")]
    InvalidTime(String),
    #[error("invalid number {0:?}: {1}")]
    InvalidNumber(String, &'static str),
    #[error("{date} is outside the trading calendar, which covers {first} to {last}; install a newer holiday list")]
    OutsideCalendar { date: NaiveDate, first: NaiveDate, last: NaiveDate },
    #[error("holiday list line {line}: {message}")]
    HolidayList { line: usize, message: String },
    #[error("day override list line {line}: {message}")]
    DayOverride { line: usize, message: String },
    #[error("invalid day override for {date}: {message}")]
    InvalidOverride { date: NaiveDate, message: String },
    #[error("invalid tick ({reason}): {detail}")]
    InvalidTick { reason: DeadReason, detail: String },
    #[error("invalid bar: {0}")]
    InvalidBar(String),
    #[error("unusable saved aggregator state: {0}")]
    InvalidState(String),
}

impl Error {
    /// The dead-letter reason of a tick this error refused: a field no tick can hold when the
    /// error is not about a tick's own parts.
    pub fn reason(&self) -> DeadReason {
        match self {
            Error::InvalidTick { reason, .. } => *reason,
            Error::InvalidSymbol(_) => DeadReason::BadSymbol,
            Error::InvalidTime(_) => DeadReason::BadTime,
            Error::InvalidNumber(..) => DeadReason::BadNumber,
            Error::OutsideCalendar { .. } => DeadReason::OutsideCalendar,
            Error::InvalidPeriod(_)
            | Error::InvalidResolution(_)
            | Error::InvalidAdjust(_)
            | Error::InvalidFactor(_)
            | Error::HolidayList { .. }
            | Error::DayOverride { .. }
            | Error::InvalidOverride { .. }
            | Error::InvalidBar(_)
            | Error::InvalidState(_) => DeadReason::BadField,
        }
    }
}
