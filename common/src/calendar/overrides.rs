//! Day overrides: the session changes of one trading day (an early close, a halt, a late open, the
//! whole day closed), each with its source; read from the `date,change,from,to,source` CSV or as
//! JSON, and checked against the session times and against each other.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::session::{CONTINUOUS_CLOSE, CONTINUOUS_OPEN, OPENING_AUCTION};
use crate::Error;

/// The day overrides shipped with tickbar: the 2016 circuit-breaker days (see
/// `common/data/a_share_holidays.SOURCES.md`).
pub const BUNDLED_OVERRIDES_CSV: &str = include_str!("../../data/a_share_overrides.csv");

/// A minute of the day in market time, written `HH:MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hm(u16);

impl Hm {
    /// `h:m`, or `None` past 23:59.
    pub const fn new(h: u16, m: u16) -> Option<Hm> {
        if h < 24 && m < 60 {
            Some(Hm(h * 60 + m))
        } else {
            None
        }
    }

    /// Minutes since midnight.
    pub const fn minutes(self) -> u32 {
        self.0 as u32
    }
}

impl FromStr for Hm {
    type Err = Error;

    fn from_str(s: &str) -> Result<Hm, Error> {
        let bad = || Error::InvalidTime(s.to_string());
        let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
        if h.len() != 2 || m.len() != 2 {
            return Err(bad());
        }
        Hm::new(h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?).ok_or_else(bad)
    }
}

impl fmt::Display for Hm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

impl Serialize for Hm {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Hm {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Hm, D::Error> {
        String::deserialize(deserializer)?.parse().map_err(serde::de::Error::custom)
    }
}

/// One change to a trading day's sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum DayChange {
    /// No trading at all: the day is not a trading day.
    Closed,
    /// Trading stops at `at` for the rest of the day (after-hours session included).
    EarlyClose { at: Hm },
    /// No trading from `from` until `to`.
    Halt { from: Hm, to: Hm },
    /// Trading starts at `at` (no opening auction before it).
    LateOpen { at: Hm },
}

impl DayChange {
    /// The snake-case name, as the CSV and the JSON write it.
    pub const fn as_str(self) -> &'static str {
        match self {
            DayChange::Closed => "closed",
            DayChange::EarlyClose { .. } => "early_close",
            DayChange::Halt { .. } => "halt",
            DayChange::LateOpen { .. } => "late_open",
        }
    }

    /// The change read from its name and times, as the CSV and the admin command give them.
    pub fn parse(change: &str, from: Option<Hm>, to: Option<Hm>) -> Result<DayChange, String> {
        let need = |t: Option<Hm>, what: &str| t.ok_or_else(|| format!("{change} needs {what}"));
        let change = match change {
            "closed" => DayChange::Closed,
            "early_close" => DayChange::EarlyClose { at: need(from, "the minute trading stops")? },
            "halt" => DayChange::Halt { from: need(from, "a start")?, to: need(to, "an end")? },
            "late_open" => DayChange::LateOpen { at: need(from, "the minute trading starts")? },
            other => return Err(format!("unknown change {other:?}: closed, early_close, halt or late_open")),
        };
        Ok(change)
    }

    /// Whether the change is possible on its own: its minutes inside the continuous sessions
    /// (09:30 to 15:00), a halt ending after it starts.
    fn check(self) -> Result<(), String> {
        let (open, close) = (CONTINUOUS_OPEN, CONTINUOUS_CLOSE);
        let inside = |t: Hm, what: &str| {
            if t.minutes() > open && t.minutes() < close {
                Ok(())
            } else {
                Err(format!("{what} {t} must lie after 09:30 and before 15:00"))
            }
        };
        match self {
            DayChange::Closed => Ok(()),
            DayChange::EarlyClose { at } => inside(at, "an early close at"),
            DayChange::LateOpen { at } => inside(at, "a late open at"),
            DayChange::Halt { from, to } if from >= to => {
                Err(format!("a halt from {from} must end after it, not at {to}"))
            }
            DayChange::Halt { from, to } if from.minutes() < open || to.minutes() > close => {
                Err(format!("a halt from {from} to {to} must lie within 09:30 to 15:00"))
            }
            DayChange::Halt { .. } => Ok(()),
        }
    }

    /// The minutes of the day `[from, to)` the change stops trading in: to 24:00 for an early
    /// close, from the opening auction (09:15) for a late open; `None` for a closed day.
    pub fn stop(self) -> Option<(u32, u32)> {
        match self {
            DayChange::Closed => None,
            DayChange::EarlyClose { at } => Some((at.minutes(), 24 * 60)),
            DayChange::Halt { from, to } => Some((from.minutes(), to.minutes())),
            DayChange::LateOpen { at } => Some((OPENING_AUCTION, at.minutes())),
        }
    }
}

impl fmt::Display for DayChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DayChange::Closed => f.write_str("closed all day"),
            DayChange::EarlyClose { at } => write!(f, "early close at {at}"),
            DayChange::Halt { from, to } => write!(f, "halt from {from} to {to}"),
            DayChange::LateOpen { at } => write!(f, "late open at {at}"),
        }
    }
}

/// A change to one day's sessions and where it is recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayOverride {
    pub date: NaiveDate,
    #[serde(flatten)]
    pub change: DayChange,
    /// The notice or data the change is taken from.
    #[serde(default)]
    pub source: String,
}

impl fmt::Display for DayOverride {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.date, self.change)
    }
}

/// Reads a `date,change,from,to,source` CSV: one change a row, `from` holding the minute of an
/// early close or a late open; the source is the rest of the line. Blank lines and lines starting
/// with `#` are skipped, and the header is optional.
pub fn parse_overrides(text: &str) -> Result<Vec<DayOverride>, Error> {
    let mut overrides = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || (n == 0 && line.starts_with("date")) {
            continue;
        }
        let err = |message: String| Error::DayOverride { line: n + 1, message };
        let fields: Vec<&str> = line.splitn(5, ',').map(str::trim).collect();
        let [date, change, from, to, source] = fields[..] else {
            return Err(err(format!("expected date,change,from,to,source, got {line:?}")));
        };
        let date = NaiveDate::parse_from_str(date, "%Y-%m-%d")
            .map_err(|e| err(format!("{date:?} is not a YYYY-MM-DD date ({e})")))?;
        let time = |t: &str| (!t.is_empty()).then(|| t.parse::<Hm>()).transpose().map_err(|e| err(e.to_string()));
        let change = DayChange::parse(change, time(from)?, time(to)?).map_err(err)?;
        let source = source.strip_prefix('"').and_then(|s| s.strip_suffix('"')).unwrap_or(source);
        overrides.push(DayOverride { date, change, source: source.to_string() });
    }
    Ok(overrides)
}

/// Checks the changes of one day together: each possible, a closed day alone, at most one early
/// close and one late open, halts apart from each other and inside the hours left, and some
/// minute left to trade.
pub(crate) fn check_day(changes: &[DayOverride]) -> Result<(), String> {
    for o in changes {
        o.change.check()?;
    }
    if changes.len() > 1 && changes.iter().any(|o| o.change == DayChange::Closed) {
        return Err("a closed day takes no other change".into());
    }
    let count = |name: &str| changes.iter().filter(|o| o.change.as_str() == name).count();
    if count("early_close") > 1 || count("late_open") > 1 {
        return Err("a day has at most one early close and one late open".into());
    }
    let mut stops: Vec<(u32, u32)> = changes.iter().filter_map(|o| o.change.stop()).collect();
    stops.sort_unstable();
    for pair in stops.windows(2) {
        if pair[1].0 < pair[0].1 {
            return Err("the changes overlap: each minute is stopped by one change at most".into());
        }
    }
    let open = stops.iter().find(|s| s.0 == OPENING_AUCTION).map_or(CONTINUOUS_OPEN, |s| s.1);
    let close = stops.iter().find(|s| s.1 == 24 * 60).map_or(CONTINUOUS_CLOSE, |s| s.0);
    if open >= close {
        return Err("nothing is left to trade: announce the day closed".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(text: &str) -> Result<Vec<DayOverride>, Error> {
        parse_overrides(&format!("date,change,from,to,source\n{text}"))
    }

    #[test]
    fn the_bundled_overrides_are_the_two_circuit_breaker_days() {
        let all = parse_overrides(BUNDLED_OVERRIDES_CSV).unwrap();
        let days: std::collections::BTreeSet<String> = all.iter().map(|o| o.date.to_string()).collect();
        assert_eq!(days.into_iter().collect::<Vec<_>>(), ["2016-01-04", "2016-01-07"]);
        assert!(all.iter().all(|o| !o.source.is_empty()), "every change names its source");
    }

    #[test]
    fn a_row_reads_into_its_change_and_source() {
        let o = &change("2016-01-04,halt,13:13,13:28,a notice, with a comma").unwrap()[0];
        assert_eq!(o.change, DayChange::Halt { from: Hm::new(13, 13).unwrap(), to: Hm::new(13, 28).unwrap() });
        assert_eq!(o.source, "a notice, with a comma");
        let json = serde_json::to_string(o).unwrap();
        assert_eq!(
            json,
            r#"{"date":"2016-01-04","change":"halt","from":"13:13","to":"13:28","source":"a notice, with a comma"}"#
        );
        assert_eq!(serde_json::from_str::<DayOverride>(&json).unwrap(), *o);
    }

    #[test]
    fn a_bad_row_names_its_line_and_what_is_wrong() {
        let message = |text: &str| change(text).unwrap_err().to_string();
        assert!(message("2016-01-04,halt,13:13,,x").contains("halt needs an end"));
        assert!(message("2016-01-04,pause,13:13,,x").contains("unknown change \"pause\""));
        assert!(message("2016-01-04,halt,1313,,x").contains("line 2"));
        assert!(message("2016-01-04,early_close").contains("expected date,change,from,to,source"));
    }

    #[test]
    fn impossible_days_are_refused_with_the_reason() {
        let day = |text: &str| check_day(&change(text).unwrap()).map_err(|e| e.split(':').next().unwrap().to_string());
        assert_eq!(day("2026-12-07,early_close,15:00,,x"), Err("an early close at 15".into()));
        assert_eq!(day("2026-12-07,halt,10:30,10:00,x"), Err("a halt from 10".into()));
        assert!(day("2026-12-07,halt,09:00,10:00,x").unwrap_err().contains("a halt from 09"));
        assert!(day("2026-12-07,closed,,,x\n2026-12-07,halt,10:00,10:15,x").is_err());
        assert!(day("2026-12-07,halt,10:00,10:30,x\n2026-12-07,halt,10:15,10:45,x").is_err());
        assert!(day("2026-12-07,late_open,13:00,,x\n2026-12-07,early_close,11:00,,x").is_err());
        assert_eq!(day("2016-01-04,halt,13:13,13:28,x\n2016-01-04,early_close,13:34,,x"), Ok(()));
        assert_eq!(day("2026-12-07,halt,11:00,13:30,x"), Ok(()), "a halt may span the lunch break");
    }
}
