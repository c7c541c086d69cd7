//! Bars of any length built from stored ones: any whole number of minutes that tiles the sessions,
//! trading days, weeks and months. A longer bar folds the stored bars of its window (open of the
//! first, close of the last, the extremes, the sums), so it is as exact as they are.
//!
//! Minute windows come from the session grid ([`Grid::tiling`]), aligned to each session's start
//! like the stored periods; a day is one trading day; a week runs Monday to Sunday and a month is
//! the calendar month, each holding the trading days that fall in it.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, Days, NaiveDate, Timelike};
use serde::{Serialize, Serializer};

use crate::bar::Bar;
use crate::calendar::TradingCalendar;
use crate::period::Period;
use crate::session::{Grid, Sessions, Tiling};
use crate::time::{day_number, Frame};
use crate::Error;

/// The length of the bars a query asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resolution {
    /// A whole number of minutes that divides 120, so windows tile the morning and the afternoon.
    Minutes(u16),
    /// One trading day, labelled with its date at 00:00.
    Day,
    /// The trading days of a Monday-to-Sunday week, labelled with the week's last trading day.
    Week,
    /// The trading days of a calendar month, labelled with the month's last trading day.
    Month,
}

/// Minutes in a session; a minute resolution must divide it.
const SESSION_MINUTES: u16 = 120;

impl Resolution {
    /// The period of the same length, for a minute resolution: when `bars.periods` holds it, such
    /// bars are read, not built.
    pub fn stored(self) -> Option<Period> {
        match self {
            Resolution::Minutes(m) => Period::from_minutes(m).ok(),
            _ => None,
        }
    }

    /// The longest of `stored` that divides this resolution's windows: the bars it is built from.
    pub fn base(self, stored: &[Period]) -> Result<Period, Error> {
        let minutes = match self {
            Resolution::Minutes(m) => m,
            _ => SESSION_MINUTES,
        };
        stored
            .iter()
            .copied()
            .filter(|p| minutes.is_multiple_of(p.minutes()))
            .max()
            .ok_or_else(|| Error::InvalidResolution(format!("{self}: no stored period divides it")))
    }

    /// How many base bars at most one bar of this resolution folds (a day counts its four hours).
    pub fn span_of(self, base: Period) -> u32 {
        let minutes = match self {
            Resolution::Minutes(m) => u32::from(m),
            Resolution::Day => 270,
            Resolution::Week => 5 * 270,
            Resolution::Month => 23 * 270,
        };
        minutes.div_ceil(u32::from(base.minutes()))
    }

    /// The whole days the bars between `first` and `last` (dates) are built from: the days
    /// themselves for minutes and days, widened to whole weeks or months.
    pub fn days_covering(self, first: NaiveDate, last: NaiveDate) -> (NaiveDate, NaiveDate) {
        match self {
            Resolution::Minutes(_) | Resolution::Day => (first, last),
            Resolution::Week => (week_start(first), week_start(last) + Days::new(6)),
            Resolution::Month => (first.with_day(1).unwrap_or(first), month_end(last)),
        }
    }
}

fn week_start(day: NaiveDate) -> NaiveDate {
    day - Days::new(u64::from(day.weekday().num_days_from_monday()))
}

fn month_end(day: NaiveDate) -> NaiveDate {
    let first = day.with_day(1).unwrap_or(day);
    first.checked_add_months(chrono::Months::new(1)).and_then(|d| d.pred_opt()).unwrap_or(day)
}

impl FromStr for Resolution {
    type Err = Error;

    /// `10`, `10m`, `10min`; `1d`, `1w`, `1M` (case matters: `1m` is a minute).
    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = || Error::InvalidResolution(s.to_owned());
        match s {
            "1d" | "1D" => return Ok(Resolution::Day),
            "1w" | "1W" => return Ok(Resolution::Week),
            "1M" => return Ok(Resolution::Month),
            _ => {}
        }
        let digits = s.strip_suffix("min").or_else(|| s.strip_suffix('m')).unwrap_or(s);
        match digits.parse::<u16>() {
            Ok(m) if m > 0 && SESSION_MINUTES.is_multiple_of(m) => Ok(Resolution::Minutes(m)),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for Resolution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Resolution::Minutes(m) => write!(f, "{m}"),
            Resolution::Day => f.write_str("1d"),
            Resolution::Week => f.write_str("1w"),
            Resolution::Month => f.write_str("1M"),
        }
    }
}

impl Serialize for Resolution {
    /// Minutes as a number (as [`Period`] is), the others as their names.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Resolution::Minutes(m) => serializer.serialize_u16(*m),
            other => serializer.collect_str(other),
        }
    }
}

/// One built bar: whether it is still forming (its interval has not ended, or a stored bar in it
/// is forming), whether any of its stored bars came from the same-day store, and whether any was
/// built live (not vendor history).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    pub bar: Bar,
    /// When its interval begins (the first day's 00:00 for days, weeks and months).
    pub opens: Frame,
    pub forming: bool,
    pub same_day: bool,
    pub live: bool,
    /// The frame of the last stored bar in it.
    pub last: Frame,
}

/// A stored bar fed to [`Resampler::resample`].
#[derive(Debug, Clone)]
pub struct Part {
    pub bar: Bar,
    pub forming: bool,
    pub same_day: bool,
    pub live: bool,
}

/// Builds bars of one resolution from bars of one stored period under one session layout.
pub struct Resampler<'a> {
    sessions: &'a Sessions,
    calendar: &'a TradingCalendar,
    base: Period,
    target: Resolution,
}

/// Which output bar a stored bar belongs to, when it starts a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Window {
    key: (NaiveDate, u16),
    label: Frame,
    opens: Frame,
    end: Frame,
}

impl<'a> Resampler<'a> {
    pub fn new(sessions: &'a Sessions, calendar: &'a TradingCalendar, base: Period, target: Resolution) -> Self {
        Resampler { sessions, calendar, base, target }
    }

    /// The bars of one symbol's stored `parts` (sorted by frame, all of the base period), built at
    /// `now`. A stored bar whose frame is no label of the base period joins the window of the label
    /// after it.
    pub fn resample(&self, parts: impl IntoIterator<Item = Part>, now: Frame) -> Vec<Built> {
        let mut out: Vec<(Window, Built)> = Vec::new();
        let mut tiling: Option<(Tiling, &Grid)> = None;
        for part in parts {
            let grid = self.sessions.grid(part.bar.symbol, day_number(part.bar.frame.date()));
            if tiling.as_ref().is_none_or(|(_, g)| !std::ptr::eq(*g, grid)) {
                tiling = Some((self.tiling(grid), grid));
            }
            let window = self.window_of(&part.bar, grid, tiling.as_ref().map(|(t, _)| t));
            match out.last_mut() {
                Some((w, built)) if w.key == window.key => {
                    let mut v = built.bar.ohlcv();
                    v.fold(&part.bar.ohlcv());
                    built.bar = Bar::new(built.bar.symbol, built.bar.frame, &v);
                    built.forming |= part.forming;
                    built.same_day |= part.same_day;
                    built.live |= part.live;
                    built.last = part.bar.frame;
                }
                _ => {
                    let bar = Bar { frame: window.label, ..part.bar };
                    let (forming, same_day, live, last) = (part.forming, part.same_day, part.live, part.bar.frame);
                    let built = Built { bar, opens: window.opens, forming, same_day, live, last };
                    out.push((window, built));
                }
            }
        }
        out.into_iter()
            .map(|(w, mut built)| {
                built.forming |= w.end > now;
                built
            })
            .collect()
    }

    fn tiling(&self, grid: &Grid) -> Tiling {
        match self.target {
            Resolution::Minutes(m) => grid.tiling(m),
            _ => Tiling::default(),
        }
    }

    fn window_of(&self, bar: &Bar, grid: &Grid, tiling: Option<&Tiling>) -> Window {
        let (date, sec) = (bar.frame.date(), bar.frame.time().num_seconds_from_midnight());
        let day_close = grid.window(Period::M1, grid.last_slot()).end;
        let at = |day: NaiveDate, sec: u32| Frame::at(day_number(day), sec);
        match self.target {
            Resolution::Minutes(_) => {
                let base = grid.windows(self.base);
                let i = base.partition_point(|w| w.label < sec).min(base.len() - 1);
                let tiling = tiling.expect("a minute tiling");
                let index = tiling.window_of[base[i].first as usize];
                let w = tiling.windows[index as usize];
                Window {
                    key: (date, index),
                    label: at(date, w.label),
                    opens: at(date, w.start),
                    end: at(date, w.closes),
                }
            }
            Resolution::Day => {
                Window { key: (date, 0), label: at(date, 0), opens: at(date, 0), end: at(date, day_close) }
            }
            Resolution::Week | Resolution::Month => {
                let (first, last) = self.target.days_covering(date, date);
                let closing = self.last_trading_day(first, last).unwrap_or(date);
                Window { key: (first, 0), label: at(closing, 0), opens: at(first, 0), end: at(closing, day_close) }
            }
        }
    }

    fn last_trading_day(&self, first: NaiveDate, last: NaiveDate) -> Option<NaiveDate> {
        self.calendar.trading_days(first, last).ok()?.last().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Price;
    use crate::session::Layout;
    use proptest::prelude::*;

    #[test]
    fn resolutions_parse_and_print_in_the_api_spellings() {
        for (text, r) in [
            ("10", Resolution::Minutes(10)),
            ("40m", Resolution::Minutes(40)),
            ("120min", Resolution::Minutes(120)),
            ("1d", Resolution::Day),
            ("1w", Resolution::Week),
            ("1M", Resolution::Month),
        ] {
            assert_eq!(text.parse::<Resolution>().unwrap(), r, "{text}");
            assert_eq!(r.to_string().parse::<Resolution>().unwrap(), r);
        }
        for bad in ["0", "7", "25", "240", "1h", "1m1", "", "2d"] {
            assert!(bad.parse::<Resolution>().is_err(), "{bad}");
        }
        assert_eq!(serde_json::to_string(&Resolution::Minutes(10)).unwrap(), "10");
        assert_eq!(serde_json::to_string(&Resolution::Month).unwrap(), "\"1M\"");
    }

    #[test]
    fn the_base_is_the_longest_stored_period_that_divides() {
        let all = Period::DEFAULTS;
        assert_eq!(Resolution::Minutes(10).base(&all).unwrap(), Period::M5);
        assert_eq!(Resolution::Minutes(40).base(&all).unwrap(), Period::M5);
        assert_eq!(Resolution::Minutes(120).base(&all).unwrap(), Period::M60);
        assert_eq!(Resolution::Minutes(3).base(&all).unwrap(), Period::M1);
        assert_eq!(Resolution::Day.base(&all).unwrap(), Period::M60);
        assert_eq!(Resolution::Week.base(&[Period::M1, Period::M5]).unwrap(), Period::M5);
        assert!(Resolution::Minutes(3).base(&[Period::M5]).is_err());
    }

    #[test]
    fn weeks_and_months_widen_to_whole_ones() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(
            Resolution::Week.days_covering(d("2023-02-01"), d("2023-02-03")),
            (d("2023-01-30"), d("2023-02-05"))
        );
        assert_eq!(
            Resolution::Month.days_covering(d("2024-02-10"), d("2024-02-10")),
            (d("2024-02-01"), d("2024-02-29"))
        );
        assert_eq!(Resolution::Day.days_covering(d("2023-02-01"), d("2023-02-03")), (d("2023-02-01"), d("2023-02-03")));
    }

    fn minute_bars(day: &str, prices: &[u32]) -> Vec<Part> {
        let sessions = Sessions::new(Layout::default(), &TradingCalendar::bundled());
        let date: NaiveDate = day.parse().unwrap();
        let grid = sessions.grid("600519.SH".parse().unwrap(), day_number(date));
        grid.frames(day_number(date), Period::M1)
            .zip(prices.iter().cycle())
            .map(|(frame, p)| {
                let price = Price::yuan(i64::from(*p));
                let bar = Bar::new(
                    "600519.SH".parse().unwrap(),
                    frame,
                    &crate::Ohlcv { vol: u64::from(*p), amount: price * 10, ..crate::Ohlcv::flat(price) },
                );
                Part { bar, forming: false, same_day: false, live: false }
            })
            .collect()
    }

    fn build(parts: Vec<Part>, target: Resolution, now: &str) -> Vec<Built> {
        let sessions = Sessions::new(Layout::default(), &TradingCalendar::bundled());
        let calendar = TradingCalendar::bundled();
        Resampler::new(&sessions, &calendar, Period::M1, target).resample(parts, now.parse().unwrap())
    }

    #[test]
    fn two_hour_bars_are_the_morning_and_the_afternoon() {
        let built = build(minute_bars("2023-02-01", &[10, 12, 11, 9]), Resolution::Minutes(120), "2023-02-02 00:00:00");
        let frames: Vec<String> = built.iter().map(|b| b.bar.frame.to_string()).collect();
        assert_eq!(frames, ["2023-02-01 11:30:00", "2023-02-01 15:00:00"]);
        assert_eq!(built[0].bar.vol, 30 * (10 + 12 + 11 + 9));
        assert_eq!(
            (built[0].bar.open, built[0].bar.high, built[0].bar.low),
            (Price::yuan(10), Price::yuan(12), Price::yuan(9))
        );
        assert!(built.iter().all(|b| !b.forming));
    }

    #[test]
    fn a_window_not_ended_at_now_is_forming() {
        let mut parts = minute_bars("2023-02-01", &[10]);
        parts.truncate(37);
        let built = build(parts, Resolution::Minutes(20), "2023-02-01 10:07:30");
        let last = built.last().unwrap();
        assert_eq!(last.bar.frame.to_string(), "2023-02-01 10:10:00");
        assert!(last.forming && !built[0].forming);
    }

    #[test]
    fn a_week_is_labelled_with_its_last_trading_day() {
        let parts: Vec<Part> = ["2023-01-30", "2023-02-01", "2023-02-03", "2023-02-06"]
            .iter()
            .flat_map(|d| minute_bars(d, &[10]))
            .collect();
        let built = build(parts, Resolution::Week, "2023-02-07 12:00:00");
        let frames: Vec<String> = built.iter().map(|b| b.bar.frame.to_string()).collect();
        assert_eq!(frames, ["2023-02-03 00:00:00", "2023-02-10 00:00:00"]);
        assert_eq!(built[0].bar.vol, 3 * 240 * 10);
        assert!(built[1].forming, "the week of 2023-02-06 runs to the 10th");
    }

    proptest! {
        #[test]
        fn any_minute_tiling_keeps_the_day_totals_and_extremes(
            prices in proptest::collection::vec(1u32..1000, 1..240),
            minutes in proptest::sample::select(vec![1u16, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 24, 30, 40, 60, 120]),
        ) {
            let parts = minute_bars("2023-02-01", &prices);
            let (vol, high): (u64, u32) = (parts.iter().map(|p| p.bar.vol).sum(), *prices.iter().max().unwrap());
            let built = build(parts, Resolution::Minutes(minutes), "2023-02-02 00:00:00");
            prop_assert_eq!(built.len(), 240 / usize::from(minutes));
            prop_assert_eq!(built.iter().map(|b| b.bar.vol).sum::<u64>(), vol);
            prop_assert_eq!(built.iter().map(|b| b.bar.high).max().unwrap(), Price::yuan(i64::from(high)));
            let day = build(minute_bars("2023-02-01", &prices), Resolution::Day, "2023-02-02 00:00:00");
            prop_assert_eq!(day.len(), 1);
            prop_assert_eq!(day[0].bar.vol, vol);
        }
    }
}
