//! The A-share trading calendar: which dates trade, from a holiday list loaded at run time plus
//! "never on Saturday or Sunday", and the day overrides ([`overrides`]) that change one day's
//! sessions or close it. One bit a day, so every lookup is O(1). Past the end of the list the
//! [`BeyondList`] policy decides: weekdays trade provisionally, or the date is an error.

mod overrides;

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

use crate::time::{date_of, day_number, DayNumber};
use crate::Error;

pub use overrides::{parse_overrides, DayChange, DayOverride, Hm, BUNDLED_OVERRIDES_CSV};

/// The holiday list shipped with tickbar (see `common/data/a_share_holidays.SOURCES.md`).
pub const BUNDLED_HOLIDAYS_CSV: &str = include_str!("../../data/a_share_holidays.csv");

/// What a date after the end of the holiday list is: the `calendar.beyond_list` setting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BeyondList {
    /// Every weekday trades, provisionally (the next year's holidays are not known yet): the
    /// services keep building and cleaning, and say the day is provisional.
    #[default]
    Weekdays,
    /// An error, as before the list is extended: nothing is built for such a day.
    Refuse,
}

/// How many days before the end of its holiday list a service warns.
pub const WARN_DAYS_BEFORE_END: i64 = 30;

/// Trading days of the years a holiday list covers, and what to make of the dates after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradingCalendar {
    first: NaiveDate,
    last: NaiveDate,
    /// Bit `i` is set when the day `first + i` trades.
    bits: Vec<u64>,
    beyond: BeyondList,
    /// The changes of each overridden day, closed days included (their bit is clear too).
    overrides: BTreeMap<NaiveDate, Vec<DayOverride>>,
}

impl TradingCalendar {
    /// The calendar of the holiday list and the day overrides bundled with this build.
    pub fn bundled() -> TradingCalendar {
        let overrides = parse_overrides(BUNDLED_OVERRIDES_CSV).expect("the bundled overrides are valid");
        Self::from_csv(BUNDLED_HOLIDAYS_CSV)
            .and_then(|c| c.with_overrides(overrides))
            .expect("the bundled holiday list is valid")
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
        let mut calendar = TradingCalendar {
            first,
            last,
            bits: vec![0; days.div_ceil(64)],
            beyond: BeyondList::default(),
            overrides: BTreeMap::new(),
        };
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

    /// The calendar with `overrides` added to the ones it has: each on a day that trades by the
    /// holiday list, and each day's changes possible together (see [`DayChange`]). A change
    /// already held is not added twice.
    pub fn with_overrides(mut self, overrides: Vec<DayOverride>) -> Result<TradingCalendar, Error> {
        for o in overrides {
            let invalid = |message: String| Error::InvalidOverride { date: o.date, message };
            let day = self.overrides.entry(o.date).or_default();
            if day.iter().any(|held| held.change == o.change) {
                continue;
            }
            day.push(o.clone());
            day.sort_by_key(|o| o.change.stop());
            overrides::check_day(day).map_err(invalid)?;
            if !self.is_trading_day(o.date)? && o.change != DayChange::Closed {
                return Err(invalid("it is not a trading day by the holiday list".into()));
            }
            if o.change == DayChange::Closed {
                if let Ok(i) = self.index(o.date) {
                    self.bits[i / 64] &= !(1 << (i % 64));
                }
            }
        }
        Ok(self)
    }

    /// Every day override held, by date.
    pub fn overrides(&self) -> impl Iterator<Item = &DayOverride> {
        self.overrides.values().flatten()
    }

    /// The changes to `date`'s sessions (a closed day included), in the order of their minutes.
    pub fn overrides_on(&self, date: NaiveDate) -> &[DayOverride] {
        self.overrides.get(&date).map_or(&[], Vec::as_slice)
    }

    /// The minutes `[from, to)` of `date` that do not trade by its overrides, in order.
    pub fn stops_on(&self, date: NaiveDate) -> Vec<(u32, u32)> {
        self.overrides_on(date).iter().filter_map(|o| o.change.stop()).collect()
    }

    /// The calendar with `policy` for the dates after the end of the list.
    pub fn beyond_list(mut self, policy: BeyondList) -> TradingCalendar {
        self.beyond = policy;
        self
    }

    /// Whether `date` lies after the list, where weekdays trade only provisionally.
    pub fn is_provisional(&self, date: NaiveDate) -> bool {
        date > self.last
    }

    /// Days from `today` to the last date of the list (negative once past it).
    pub fn days_left(&self, today: NaiveDate) -> i64 {
        (self.last - today).num_days()
    }

    /// The warning a service shows on `today`: from [`WARN_DAYS_BEFORE_END`] days before the end
    /// of the list, and past it.
    pub fn warning(&self, today: NaiveDate) -> Option<String> {
        let left = self.days_left(today);
        let what = match self.beyond {
            BeyondList::Weekdays => "weekdays after it are provisional trading days",
            BeyondList::Refuse => "dates after it are refused",
        };
        let install =
            "install the next year's list (SERVICE calendar install-holidays, or calendar.holidays_file and SIGHUP)";
        match left {
            l if l < 0 => Some(format!("the holiday list ended on {}: {what}; {install}", self.last)),
            l if l <= WARN_DAYS_BEFORE_END => {
                Some(format!("the holiday list ends on {} ({l} days left): then {what}; {install}", self.last))
            }
            _ => None,
        }
    }

    /// The first date the list covers (January 1st of its first year).
    pub fn first_date(&self) -> NaiveDate {
        self.first
    }

    /// The last date the list covers (December 31st of its last year).
    pub fn last_date(&self) -> NaiveDate {
        self.last
    }

    /// Whether `date` trades; after the list, as the [`BeyondList`] policy says.
    pub fn is_trading_day(&self, date: NaiveDate) -> Result<bool, Error> {
        match self.index(date) {
            Ok(i) => Ok(self.bit(i)),
            Err(_) if date > self.last && self.beyond == BeyondList::Weekdays => {
                let closed = self.overrides_on(date).iter().any(|o| o.change == DayChange::Closed);
                Ok(!matches!(date.weekday(), Weekday::Sat | Weekday::Sun) && !closed)
            }
            Err(e) => Err(e),
        }
    }

    /// [`Self::is_trading_day`] for a day number, the form the aggregator holds.
    pub fn is_trading_day_number(&self, day: DayNumber) -> Result<bool, Error> {
        self.is_trading_day(date_of(day))
    }

    /// The first trading day after `date`.
    pub fn next(&self, date: NaiveDate) -> Result<NaiveDate, Error> {
        self.walk(date, NaiveDate::succ_opt)
    }

    /// The last trading day before `date`.
    pub fn prev(&self, date: NaiveDate) -> Result<NaiveDate, Error> {
        self.walk(date, NaiveDate::pred_opt)
    }

    /// The first trading day from `date` (excluded) on in the direction `step` takes; an error
    /// where the calendar ends first.
    fn walk(&self, date: NaiveDate, step: fn(&NaiveDate) -> Option<NaiveDate>) -> Result<NaiveDate, Error> {
        self.is_trading_day(date)?;
        let mut day = date;
        loop {
            day = step(&day).ok_or_else(|| self.beyond(date))?;
            if self.is_trading_day(day)? {
                return Ok(day);
            }
        }
    }

    /// Trading days from `start` to `end`, both inclusive; empty when `start > end`.
    pub fn trading_days(&self, start: NaiveDate, end: NaiveDate) -> Result<Vec<NaiveDate>, Error> {
        self.is_trading_day(start)?;
        self.is_trading_day(end)?;
        let mut days = Vec::new();
        for day in start.iter_days().take_while(|d| *d <= end) {
            if self.is_trading_day(day)? {
                days.push(day);
            }
        }
        Ok(days)
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

    fn index(&self, date: NaiveDate) -> Result<usize, Error> {
        if date < self.first || date > self.last {
            return Err(self.beyond(date));
        }
        Ok((day_number(date) - day_number(self.first)) as usize)
    }

    fn bit(&self, i: usize) -> bool {
        self.bits[i / 64] & (1 << (i % 64)) != 0
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
    fn past_the_list_weekdays_trade_provisionally_or_are_refused() {
        let c = TradingCalendar::bundled();
        assert_eq!(c.is_trading_day(d("2027-01-04")), Ok(true));
        assert_eq!(c.is_trading_day(d("2027-01-09")), Ok(false), "a Saturday");
        assert!(c.is_provisional(d("2027-01-04")) && !c.is_provisional(d("2026-12-31")));
        assert_eq!(c.next(d("2026-12-31")).unwrap(), d("2027-01-01"), "provisional: New Year is not known");
        assert_eq!(c.prev(d("2027-01-04")).unwrap(), d("2027-01-01"));
        assert_eq!(c.trading_days(d("2026-12-30"), d("2027-01-05")).unwrap().len(), 5);
        let refusing = TradingCalendar::bundled().beyond_list(BeyondList::Refuse);
        assert!(refusing.is_trading_day(d("2027-01-04")).is_err());
        assert!(refusing.next(d("2026-12-31")).is_err());
        assert!(c.is_trading_day(d("2014-12-31")).is_err(), "before the list stays an error");
    }

    #[test]
    fn the_warning_starts_thirty_days_before_the_end() {
        let c = TradingCalendar::bundled();
        assert_eq!(c.days_left(d("2026-12-01")), 30);
        assert!(c.warning(d("2026-11-30")).is_none());
        assert!(c.warning(d("2026-12-01")).unwrap().contains("30 days left"));
        assert!(c.warning(d("2027-01-04")).unwrap().contains("ended on 2026-12-31"));
    }

    #[test]
    fn a_replacement_list_changes_the_calendar_without_a_rebuild() {
        let c = TradingCalendar::from_csv("2030-01-01,new_years_day\n").unwrap();
        assert!(!c.is_trading_day(d("2030-01-01")).unwrap());
        assert!(c.is_trading_day(d("2030-01-02")).unwrap());
        assert!(c.is_trading_day(d("2026-11-20")).is_err());
    }
}
