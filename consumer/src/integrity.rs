//! The checks of ClickHouse history after a cleanup, without I/O: each stored (symbol, period, day)
//! against the bar grid of the layout (missing, extra and duplicate frames), and the data checks
//! that flag, never drop: close-to-close jumps the daily price limit cannot explain, and days whose
//! volume is far below the symbol's recent mean.

use chrono::NaiveDate;
use common::symbol::Board;
use common::time::day_number;
use common::{Frame, Period, Sessions, Symbol};
use serde::{Deserialize, Serialize};

use crate::store::clickhouse::{Closes, DailyRow, DayGroup};

/// Frames named in one issue; the count says how many there are in all.
const FRAMES_NAMED: usize = 10;
/// A jump is flagged only beyond this, and beyond what the price limit allows.
const JUMP: f64 = 0.20;
/// Slack for the tick rounding of limit prices.
const LIMIT_SLACK: f64 = 0.005;
/// Trading days of volume history a volume check needs, and how far below the mean is flagged.
pub const VOLUME_DAYS: usize = 20;
const VOLUME_SIGMAS: f64 = 5.0;

/// Something wrong with the stored bars of one symbol, period and day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issue {
    pub symbol: String,
    pub period: u16,
    pub day: NaiveDate,
    pub kind: IssueKind,
    pub count: u64,
    /// The first few frames concerned, `HH:MM`.
    pub frames: Vec<String>,
}

/// What is wrong with the stored frames of a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IssueKind {
    /// A frame of the grid without a bar.
    Missing,
    /// A bar off the grid.
    Extra,
    /// Rows beyond one per frame.
    Duplicate,
}

impl IssueKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            IssueKind::Missing => "missing",
            IssueKind::Extra => "extra",
            IssueKind::Duplicate => "duplicate",
        }
    }
}

impl std::fmt::Display for IssueKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why data that is kept looks wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlagKind {
    /// A close-to-close move the daily price limit cannot explain.
    PriceJump,
    /// A day's volume far below the symbol's recent mean.
    LowVolume,
}

/// Data that looks wrong but is kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Flag {
    pub symbol: String,
    pub day: NaiveDate,
    pub kind: FlagKind,
    pub detail: String,
}

/// The issues of one stored group of `day` against its symbol's grid.
pub fn check_group(sessions: &Sessions, day: NaiveDate, group: &DayGroup) -> Vec<Issue> {
    let (Ok(symbol), Ok(period)) = (group.symbol.parse::<Symbol>(), Period::from_minutes(group.period)) else {
        let issue = Issue {
            symbol: group.symbol.clone(),
            period: group.period,
            day,
            kind: IssueKind::Extra,
            count: group.rows,
            frames: vec!["(no valid symbol or period)".into()],
        };
        return vec![issue];
    };
    let mut stored: Vec<i64> = group.frames.iter().map(|f| i64::from(*f)).collect();
    stored.sort_unstable();
    stored.dedup();
    let day_n = day_number(day);
    let expected: Vec<i64> = sessions.grid(symbol, day_n).frames(day_n, period).map(Frame::epoch_seconds).collect();
    let missing: Vec<i64> = expected.iter().copied().filter(|f| stored.binary_search(f).is_err()).collect();
    let extra: Vec<i64> = stored.iter().copied().filter(|f| !expected.contains(f)).collect();
    let issue = |kind: IssueKind, count: u64, frames: &[i64]| Issue {
        symbol: group.symbol.clone(),
        period: group.period,
        day,
        kind,
        count,
        frames: frames
            .iter()
            .take(FRAMES_NAMED)
            .map(|f| Frame::from_epoch_seconds(*f).time().format("%H:%M").to_string())
            .collect(),
    };
    let mut issues = Vec::new();
    if !missing.is_empty() {
        issues.push(issue(IssueKind::Missing, missing.len() as u64, &missing));
    }
    if !extra.is_empty() {
        issues.push(issue(IssueKind::Extra, extra.len() as u64, &extra));
    }
    if group.rows > group.distinct {
        issues.push(issue(IssueKind::Duplicate, group.rows - group.distinct, &[]));
    }
    issues
}

/// The daily price limit of a symbol's board (5% ST names show as 10%: the check errs towards
/// fewer flags); an unreadable symbol gets the main boards' 10%.
fn daily_limit(symbol: &str) -> f64 {
    symbol.parse::<Symbol>().map_or(Board::Main, |s| s.board()).daily_limit()
}

fn jump(from: i64, to: i64) -> Option<f64> {
    (from > 0).then(|| (to as f64 / from as f64 - 1.0).abs())
}

/// Day-to-day close jumps and low-volume days on `days`, from one row per symbol and day (sorted
/// by symbol, then day) that reaches back at least [`VOLUME_DAYS`] trading days before them.
pub fn daily_flags(rows: &[DailyRow], days: &[NaiveDate]) -> Vec<Flag> {
    let mut flags = Vec::new();
    for series in rows.chunk_by(|a, b| a.symbol == b.symbol) {
        let limit = daily_limit(&series[0].symbol) + LIMIT_SLACK;
        for (i, row) in series.iter().enumerate() {
            let Some(day) = yyyymmdd(row.day).filter(|d| days.contains(d)) else { continue };
            let flag = |kind: FlagKind, detail: String| Flag { symbol: row.symbol.clone(), day, kind, detail };
            if let Some(change) = i.checked_sub(1).and_then(|p| jump(series[p].close, row.close)) {
                if change > JUMP.max(limit) {
                    flags.push(flag(
                        FlagKind::PriceJump,
                        format!("close {:+.1}% on the previous day's", change * 100.0),
                    ));
                }
            }
            if i >= VOLUME_DAYS {
                let window: Vec<f64> = series[i - VOLUME_DAYS..i].iter().map(|r| r.vol as f64).collect();
                let mean = window.iter().sum::<f64>() / VOLUME_DAYS as f64;
                let sd = (window.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / VOLUME_DAYS as f64).sqrt();
                if (row.vol as f64) < mean - VOLUME_SIGMAS * sd {
                    let detail = format!("volume {} against a 20-day mean of {mean:.0} (sd {sd:.0})", row.vol);
                    flags.push(flag(FlagKind::LowVolume, detail));
                }
            }
        }
    }
    flags
}

/// Jumps between consecutive bars of one day beyond what a move from limit-down to limit-up allows.
pub fn intraday_flags(day: NaiveDate, symbols: &[Closes]) -> Vec<Flag> {
    let mut flags = Vec::new();
    for s in symbols {
        let limit = daily_limit(&s.symbol);
        let allowed = JUMP.max((1.0 + limit) / (1.0 - limit) - 1.0 + LIMIT_SLACK);
        let mut closes = s.closes.clone();
        closes.sort_unstable();
        for pair in closes.windows(2) {
            if jump(pair[0].1, pair[1].1).is_some_and(|change| change > allowed) {
                let at = Frame::from_epoch_seconds(pair[1].0.into()).time().format("%H:%M");
                let detail = format!(
                    "close at {at} moved {:+.1}% from the bar before",
                    jump(pair[0].1, pair[1].1).unwrap_or(0.0) * 100.0
                );
                flags.push(Flag { symbol: s.symbol.clone(), day, kind: FlagKind::PriceJump, detail });
            }
        }
    }
    flags
}

fn yyyymmdd(n: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt((n / 10_000) as i32, n / 100 % 100, n % 100)
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::Layout;

    fn day() -> NaiveDate {
        "2023-02-01".parse().unwrap()
    }

    fn frames(symbol: Symbol, period: Period) -> Vec<u32> {
        let sessions = Sessions::new(Layout::default(), &common::TradingCalendar::bundled());
        sessions
            .grid(symbol, day_number(day()))
            .frames(day_number(day()), period)
            .map(|f| f.epoch_seconds() as u32)
            .collect()
    }

    #[test]
    fn a_missing_bar_is_named_and_a_full_day_is_clean() {
        let sessions = Sessions::new(Layout::default(), &common::TradingCalendar::bundled());
        let symbol: Symbol = "600519.SH".parse().unwrap();
        let mut all = frames(symbol, Period::M1);
        let full = DayGroup { symbol: symbol.to_string(), period: 1, rows: 240, distinct: 240, frames: all.clone() };
        assert!(check_group(&sessions, day(), &full).is_empty());
        all.remove(2);
        all.push(all[0] + 12 * 3600);
        let gap = DayGroup { symbol: symbol.to_string(), period: 1, rows: 241, distinct: 240, frames: all };
        let issues = check_group(&sessions, day(), &gap);
        let kinds: Vec<(IssueKind, u64, Vec<String>)> =
            issues.iter().map(|i| (i.kind, i.count, i.frames.clone())).collect();
        assert_eq!(
            kinds,
            [
                (IssueKind::Missing, 1, vec!["09:33".into()]),
                (IssueKind::Extra, 1, vec!["21:31".into()]),
                (IssueKind::Duplicate, 1, vec![])
            ]
        );
        for kind in [IssueKind::Missing, IssueKind::Extra, IssueKind::Duplicate] {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str(), "one string form");
        }
    }

    #[test]
    fn a_circuit_breaker_day_of_the_vendors_shape_misses_nothing() {
        let sessions = Sessions::new(Layout::default(), &common::TradingCalendar::bundled());
        let date: NaiveDate = "2016-01-04".parse().unwrap();
        let minute = |h: u32, m: u32| Frame::at(day_number(date), (h * 60 + m) * 60).epoch_seconds() as u32;
        let traded = [(9 * 60 + 31, 11 * 60 + 30), (13 * 60 + 1, 13 * 60 + 13), (13 * 60 + 29, 13 * 60 + 34)];
        let frames: Vec<u32> = traded.iter().flat_map(|&(a, b)| (a..=b).map(|m| minute(m / 60, m % 60))).collect();
        assert_eq!(frames.len(), 139);
        let rows = frames.len() as u64;
        let vendor = DayGroup { symbol: "600519.SH".into(), period: 1, rows, distinct: rows, frames };
        assert!(check_group(&sessions, date, &vendor).is_empty(), "no frame of the halt or after 13:34 is expected");
        let filled = frames_of_a_regular_day(date);
        let filled = DayGroup { symbol: "600519.SH".into(), period: 1, rows: 240, distinct: 240, frames: filled };
        let issues = check_group(&sessions, date, &filled);
        assert_eq!(issues.iter().map(|i| (i.kind, i.count)).collect::<Vec<_>>(), [(IssueKind::Extra, 101)]);
    }

    fn frames_of_a_regular_day(date: NaiveDate) -> Vec<u32> {
        let regular = Sessions::new(Layout::default(), &common::TradingCalendar::from_csv("2030-01-01,x").unwrap());
        let day = day_number(date);
        regular
            .grid("600519.SH".parse().unwrap(), day)
            .frames(day, Period::M1)
            .map(|f| f.epoch_seconds() as u32)
            .collect()
    }

    fn daily(symbol: &str, closes: &[i64], vols: &[u64]) -> Vec<DailyRow> {
        let days = common::TradingCalendar::bundled()
            .trading_days("2023-01-01".parse().unwrap(), "2023-03-31".parse().unwrap())
            .unwrap();
        closes
            .iter()
            .zip(vols)
            .zip(days)
            .map(|((c, v), d)| DailyRow {
                symbol: symbol.into(),
                day: d.format("%Y%m%d").to_string().parse().unwrap(),
                close: *c,
                vol: *v,
            })
            .collect()
    }

    #[test]
    fn jumps_beyond_the_limit_and_collapsed_volume_are_flagged() {
        let mut vols = vec![1_000_000u64; 21];
        vols[20] = 10;
        let mut closes = vec![100_000i64; 21];
        closes[20] = 120_300;
        let rows = daily("600519.SH", &closes, &vols);
        let last = yyyymmdd(rows[20].day).unwrap();
        let kinds: Vec<FlagKind> = daily_flags(&rows, &[last]).into_iter().map(|f| f.kind).collect();
        assert_eq!(kinds, [FlagKind::PriceJump, FlagKind::LowVolume]);
        assert_eq!(serde_json::to_value(FlagKind::LowVolume).unwrap(), "low_volume");
        let star = daily("688981.SH", &closes, &[1_000_000u64; 21]);
        assert!(daily_flags(&star, &[last]).is_empty(), "20.3% is within a STAR limit of 20% and its rounding");
    }

    #[test]
    fn intraday_moves_are_flagged_only_beyond_limit_down_to_limit_up() {
        let closes = |c: &[i64]| Closes {
            symbol: "600519.SH".into(),
            closes: c.iter().enumerate().map(|(i, c)| (i as u32 * 60, *c)).collect(),
        };
        assert!(intraday_flags(day(), &[closes(&[100_000, 121_000])]).is_empty());
        assert_eq!(intraday_flags(day(), &[closes(&[100_000, 130_000, 129_000])]).len(), 1);
    }
}
