//! The A-share trading calendar: which dates trade, from a holiday list loaded at run time plus
//! "never on Saturday or Sunday". One bit a day, so every lookup is O(1).

use chrono::{Datelike, NaiveDate, Weekday};

use crate::time::{date_of, day_number, DayNumber};
use crate::Error;

/// The holiday list shipped with tickbar (see `common/data/a_share_holidays.SOURCES.md`).
pub const BUNDLED_HOLIDAYS_CSV: &str = include_str!("../data/a_share_holidays.csv");

/// Trading days of the years a holiday list covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradingCalendar {
    first: NaiveDate,
    last: NaiveDate,
    /// Bit `i` is set when the day `first + i` trades.
    bits: Vec<u64>,
}

impl TradingCalendar {
    /// The calendar of the holiday list bundled with this build.
    pub fn bundled() -> TradingCalendar {
        Self::from_csv(BUNDLED_HOLIDAYS_CSV).expect("the bundled holiday list is valid")
    }

    /// Builds the calendar from a `date,name` CSV of weekday closures. The calendar covers whole
    /// years, from the first listed date's year to the last one's; blank lines and lines starting
    /// with `#` are skipped, and the header is optional.
    pub fn from_csv(text: &str) -> Result<TradingCalendar, Error> {
        let holidays = parse_holidays(text)?;
        let (Some(min), Some(max)) = (holidays.iter().min(), holidays.iter().max()) else {
            return Err(Error::HolidayList { line: 0, message: "no holiday rows".into() });
        };
        let first = NaiveDate::from_ymd_opt(min.year(), 1, 1).expect("January 1st exists");
        let last = NaiveDate::from_ymd_opt(max.year(), 12, 31).expect("December 31st exists");
        let days = (last - first).num_days() as usize + 1;
        let mut calendar = TradingCalendar { first, last, bits: vec![0; days.div_ceil(64)] };
        for (i, date) in first.iter_days().take(days).enumerate() {
            if !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
                calendar.bits[i / 64] |= 1 << (i % 64);
            }
        }
        for date in holidays {
            let i = calendar.index(date).expect("holidays lie inside the covered years");
            calendar.bits[i / 64] &= !(1 << (i % 64));
        }
        Ok(calendar)
    }

    /// The first date the list covers (January 1st of its first year).
    pub fn first_date(&self) -> NaiveDate {
        self.first
    }

    /// The last date the list covers (December 31st of its last year).
    pub fn last_date(&self) -> NaiveDate {
        self.last
    }

    pub fn is_trading_day(&self, date: NaiveDate) -> Result<bool, Error> {
        let i = self.index(date)?;
        Ok(self.bit(i))
    }

    /// [`Self::is_trading_day`] for a day number, the form the aggregator holds.
    pub fn is_trading_day_number(&self, day: DayNumber) -> Result<bool, Error> {
        self.is_trading_day(date_of(day))
    }

    /// The first trading day after `date`.
    pub fn next(&self, date: NaiveDate) -> Result<NaiveDate, Error> {
        let from = self.index(date)? + 1;
        (from..self.len()).find(|&i| self.bit(i)).map(|i| self.date_at(i)).ok_or_else(|| self.beyond(date))
    }

    /// The last trading day before `date`.
    pub fn prev(&self, date: NaiveDate) -> Result<NaiveDate, Error> {
        let to = self.index(date)?;
        (0..to).rev().find(|&i| self.bit(i)).map(|i| self.date_at(i)).ok_or_else(|| self.beyond(date))
    }

    /// Trading days from `start` to `end`, both inclusive; empty when `start > end`.
    pub fn trading_days(&self, start: NaiveDate, end: NaiveDate) -> Result<Vec<NaiveDate>, Error> {
        let (from, to) = (self.index(start)?, self.index(end)?);
        Ok((from..=to).filter(|&i| self.bit(i)).map(|i| self.date_at(i)).collect())
    }

    /// T+n: the `n`-th trading day after `date` (before it for negative `n`). With `n == 0` it is
    /// `date` itself when that trades, else the next trading day.
    pub fn add_trading_days(&self, date: NaiveDate, n: i32) -> Result<NaiveDate, Error> {
        let mut day = date;
        if n == 0 {
            return if self.is_trading_day(date)? { Ok(date) } else { self.next(date) };
        }
        for _ in 0..n.unsigned_abs() {
            day = if n > 0 { self.next(day)? } else { self.prev(day)? };
        }
        Ok(day)
    }

    fn len(&self) -> usize {
        (self.last - self.first).num_days() as usize + 1
    }

    fn index(&self, date: NaiveDate) -> Result<usize, Error> {
        if date < self.first || date > self.last {
            return Err(self.beyond(date));
        }
        Ok((day_number(date) - day_number(self.first)) as usize)
    }

    fn bit(&self, i: usize) -> bool {
        self.bits[i / 64] & (1 << (i % 64)) != 0
    }

    fn date_at(&self, i: usize) -> NaiveDate {
        date_of(day_number(self.first) + i as DayNumber)
    }

    fn beyond(&self, date: NaiveDate) -> Error {
        Error::OutsideCalendar { date, first: self.first, last: self.last }
    }
}

fn parse_holidays(text: &str) -> Result<Vec<NaiveDate>, Error> {
    let mut dates = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || (n == 0 && line.starts_with("date")) {
            continue;
        }
        let field = line.split(',').next().unwrap_or_default().trim();
        let date = NaiveDate::parse_from_str(field, "%Y-%m-%d").map_err(|e| Error::HolidayList {
            line: n + 1,
            message: format!("{field:?} is not a YYYY-MM-DD date ({e})"),
        })?;
        dates.push(date);
    }
    Ok(dates)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn the_bundled_list_covers_2015_to_2026() {
        let c = TradingCalendar::bundled();
        assert_eq!((c.first_date(), c.last_date()), (d("2015-01-01"), d("2026-12-31")));
    }

    #[test]
    fn a_malformed_line_names_its_number() {
        let err = TradingCalendar::from_csv("date,name\n2026-01-01,x\n2026-13-01,y\n").unwrap_err();
        assert!(matches!(err, Error::HolidayList { line: 3, .. }), "{err}");
    }

    #[test]
    fn an_empty_list_is_an_error() {
        assert!(TradingCalendar::from_csv("date,name\n").is_err());
    }

    #[test]
    fn a_replacement_list_changes_the_calendar_without_a_rebuild() {
        let c = TradingCalendar::from_csv("2030-01-01,new_years_day\n").unwrap();
        assert!(!c.is_trading_day(d("2030-01-01")).unwrap());
        assert!(c.is_trading_day(d("2030-01-02")).unwrap());
        assert!(c.is_trading_day(d("2026-11-20")).is_err());
    }
}
