//! Which store serves which part of a range: the trading days Redis says it holds come from Redis,
//! every other trading day from ClickHouse. Routing uses that record, never the wall-clock date.

use std::collections::BTreeSet;

use chrono::{NaiveDate, NaiveTime};
use common::{Frame, TradingCalendar};

/// The reads one query needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Days held in Redis inside the range, oldest first.
    pub redis_days: Vec<NaiveDate>,
    /// The part of the range ClickHouse serves: from the first trading day Redis does not hold to
    /// the last one (held days in between are read from both, and Redis wins the merge).
    pub clickhouse: Option<(Frame, Frame)>,
}

/// The plan for `start..=end` when Redis holds `held`. Days outside the calendar count as trading.
pub fn plan(start: Frame, end: Frame, held: &BTreeSet<NaiveDate>, calendar: &TradingCalendar) -> Plan {
    let (first, last) = (start.date(), end.date());
    let redis_days: Vec<NaiveDate> = held.range(first..=last).copied().collect();
    let needs_history = |d: &NaiveDate| !held.contains(d) && calendar.is_trading_day(*d).unwrap_or(true);
    let mut history = first.iter_days().take_while(|d| *d <= last).filter(needs_history);
    let clickhouse = history.next().map(|from| {
        let to = history.last().unwrap_or(from);
        (start.max(whole_day(from).0), end.min(whole_day(to).1))
    });
    Plan { redis_days, clickhouse }
}

/// The first and last frame (second) of `day`, market time.
pub fn whole_day(day: NaiveDate) -> (Frame, Frame) {
    (
        Frame::from_local(day.and_time(NaiveTime::MIN)),
        Frame::from_local(day.and_hms_opt(23, 59, 59).expect("a valid time")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(text: &str) -> Frame {
        text.parse().unwrap()
    }

    fn held(days: &[&str]) -> BTreeSet<NaiveDate> {
        days.iter().map(|d| d.parse().unwrap()).collect()
    }

    fn run(start: &str, end: &str, days: &[&str]) -> (Vec<String>, Option<(String, String)>) {
        let p = plan(frame(start), frame(end), &held(days), &TradingCalendar::bundled());
        let redis = p.redis_days.iter().map(ToString::to_string).collect();
        (redis, p.clickhouse.map(|(a, b)| (a.to_string(), b.to_string())))
    }

    #[test]
    fn held_days_come_from_redis_and_the_days_before_from_clickhouse() {
        let (redis, ch) = run("2026-11-18 00:00:00", "2026-11-20 23:59:59", &["2026-11-20"]);
        assert_eq!(redis, ["2026-11-20"]);
        assert_eq!(ch, Some(("2026-11-18 00:00:00".into(), "2026-11-19 23:59:59".into())));
    }

    #[test]
    fn a_range_inside_held_days_or_weekends_needs_no_history() {
        assert_eq!(run("2026-11-19 09:30:00", "2026-11-20 15:00:00", &["2026-11-19", "2026-11-20"]).1, None);
        assert_eq!(run("2026-11-21 00:00:00", "2026-11-22 23:59:59", &[]).1, None);
        assert_eq!(
            run("2026-11-21 00:00:00", "2026-11-23 15:00:00", &["2026-11-23"]),
            (vec!["2026-11-23".into()], None)
        );
    }

    #[test]
    fn without_held_days_clickhouse_serves_the_range_as_asked() {
        let (redis, ch) = run("2026-11-18 09:31:00", "2026-11-19 10:00:00", &["2026-11-20"]);
        assert!(redis.is_empty());
        assert_eq!(ch, Some(("2026-11-18 09:31:00".into(), "2026-11-19 10:00:00".into())));
    }

    #[test]
    fn a_held_day_between_history_days_is_read_from_both() {
        let (redis, ch) = run("2026-11-18 00:00:00", "2026-11-20 23:59:59", &["2026-11-19"]);
        assert_eq!(redis, ["2026-11-19"]);
        assert_eq!(ch, Some(("2026-11-18 00:00:00".into(), "2026-11-20 23:59:59".into())));
    }
}
