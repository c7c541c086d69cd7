//! What a stale feed is judged by: the minutes of a symbol's sessions since its last tick
//! (`Sessions::session_minutes`), and the last tick of each symbol that traded
//! (`BarAggregator::last_ticks`).

mod support;

use common::time::day_number;
use common::{Layout, Sessions, TradingCalendar};
use support::*;

const DAY: &str = "2026-11-20";

fn minutes(from: &str, to: &str) -> Option<u16> {
    Sessions::new(Layout::default(), &TradingCalendar::bundled()).session_minutes(
        sym("600519.SH"),
        ms(&format!("{DAY}T{from}")),
        ms(&format!("{DAY}T{to}")),
    )
}

#[test]
fn session_minutes_skip_the_lunch_break_and_stop_outside_the_sessions() {
    assert_eq!(minutes("10:00:10", "10:05:50"), Some(5));
    assert_eq!(minutes("11:28:00", "13:02:30"), Some(4), "11:28, 11:29 | 13:00, 13:01: lunch is not silence");
    assert_eq!(minutes("09:20:00", "09:40:00"), Some(10), "before the open counts from the open");
    assert_eq!(minutes("11:00:00", "12:00:00"), None, "at lunch nobody is stale");
    assert_eq!(minutes("14:00:00", "15:10:00"), None, "after the close neither");
    let sessions = Sessions::new(Layout::default(), &TradingCalendar::bundled());
    let (yesterday, now) = (ms("2026-11-19T14:59:00"), ms(&format!("{DAY}T09:45:00")));
    assert_eq!(sessions.session_minutes(sym("600519.SH"), yesterday, now), None, "another day");
}

#[test]
fn last_ticks_name_the_symbols_that_traded_today_with_their_latest_tick_traded_or_not() {
    let mut replay = Replay::new();
    replay.ticks([
        snap("600519.SH", &format!("{DAY}T09:25:00"), "1500", 100, "150000"),
        snap("600519.SH", &format!("{DAY}T09:31:00"), "1500", 300, "450000"),
        snap("600519.SH", &format!("{DAY}T09:40:00"), "1500", 300, "450000"),
        snap("000333.SZ", &format!("{DAY}T09:25:00"), "60", 0, "0"),
        snap("000333.SZ", &format!("{DAY}T09:32:00"), "60", 0, "0"),
        trade("000001.SZ", &format!("{DAY}T09:33:00"), "11", 300),
    ]);
    let mut last: Vec<(String, i64)> =
        replay.agg.last_ticks(day_number(DAY.parse().unwrap())).map(|(s, ms)| (s.to_string(), ms)).collect();
    last.sort();
    let want = [("000001.SZ", "09:33:00"), ("600519.SH", "09:40:00")];
    let want: Vec<(String, i64)> = want.iter().map(|(s, t)| (s.to_string(), ms(&format!("{DAY}T{t}")))).collect();
    assert_eq!(last, want, "000333.SZ never traded; 600519.SH's untraded 09:40 snapshot still counts as a tick");
    assert_eq!(replay.agg.last_ticks(day_number("2026-11-19".parse().unwrap())).count(), 0);
}
