//! The day overrides of `docs/conventions.md` ("Day overrides"): a halt, an early close, a late
//! open and a closed day, as the aggregator, the folds, the expected frames and the phase follow
//! them. The two circuit-breaker days of January 2016 ship with the bundled calendar.

mod support;

use std::sync::Arc;

use chrono::NaiveDate;
use common::calendar::{DayChange, DayOverride, Hm};
use common::resample::{Part, Resampler, Resolution};
use common::session::{phase_at, Phase};
use common::time::day_number;
use common::{BarSettings, Layout, Period, Rejection, Sessions, TickOutcome, TradingCalendar};
use support::*;

const MOUTAI: &str = "600519.SH";
const QUIET: &str = "000333.SZ";

/// A trade of 100 shares every 30 seconds through both sessions of `day`, the halt and the
/// afternoon after an early close included, at a price that moves each minute.
fn busy_day(day: &str) -> Vec<common::Tick> {
    let mut ticks = Vec::new();
    for (from, to) in [(9 * 3600 + 30 * 60, 11 * 3600 + 30 * 60), (13 * 3600, 15 * 3600)] {
        for s in (from + 10..to).step_by(30) {
            let time = format!("{day}T{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
            ticks.push(trade(MOUTAI, &time, &format!("{}", 10 + s / 60 % 7), 100));
        }
    }
    ticks
}

fn labels(r: &Replay, symbol: &str, period: Period) -> Vec<String> {
    r.bars(symbol, period).iter().map(|b| b.frame.time().format("%H:%M").to_string()).collect()
}

fn minutes(from: &str, to: &str) -> Vec<String> {
    let (from, to): (Hm, Hm) = (from.parse().unwrap(), to.parse().unwrap());
    (from.minutes()..=to.minutes()).map(|m| format!("{:02}:{:02}", m / 60, m % 60)).collect()
}

fn replay(day: &str) -> Replay {
    let mut r = Replay::new();
    for t in busy_day(day) {
        r.tick(t);
    }
    r.clock(&format!("{day}T15:30:00"));
    r
}

fn outcome_volume(day: &str, outcome: TickOutcome) -> u64 {
    let mut r = Replay::new();
    busy_day(day).into_iter().filter(|t| r.tick(*t) == outcome).map(|t| t.volume).sum()
}

#[test]
fn a_halt_has_no_bars_and_an_early_close_ends_the_day_2016_01_04() {
    let r = replay("2016-01-04");
    let want: Vec<String> = [minutes("09:31", "11:30"), minutes("13:01", "13:13"), minutes("13:29", "13:34")].concat();
    assert_eq!(labels(&r, MOUTAI, Period::M1), want, "13:13:xx trades go into the 13:13 bar, 13:34:xx into 13:34");
    assert_eq!(labels(&r, MOUTAI, Period::M5)[24..], ["13:05", "13:10", "13:15", "13:30", "13:35"]);
    assert_eq!(labels(&r, MOUTAI, Period::M60), ["10:30", "11:30", "14:00"], "labels stay the regular ones");
    assert!(r.agg.count(TickOutcome::Rejected(Rejection::Halted)) > 0);
    assert!(r.agg.count(TickOutcome::Rejected(Rejection::AfterClose)) > 0);
}

#[test]
fn a_halt_has_no_bars_and_an_early_close_ends_the_day_2016_01_07() {
    let r = replay("2016-01-07");
    let want: Vec<String> = [minutes("09:31", "09:42"), minutes("09:58", "10:00")].concat();
    assert_eq!(labels(&r, MOUTAI, Period::M1), want, "fifteen minutes of trading");
    assert_eq!(labels(&r, MOUTAI, Period::M30), ["10:00"]);
}

#[test]
fn no_flat_bar_fills_a_halt_or_the_hours_after_an_early_close() {
    let mut r = Replay::new();
    r.tick(trade(QUIET, "2016-01-04T13:05:10", "20", 300));
    r.tick(trade(QUIET, "2016-01-04T13:30:10", "21", 300));
    r.clock("2016-01-04T15:30:00");
    let want: Vec<String> = [minutes("13:06", "13:13"), minutes("13:29", "13:34")].concat();
    assert_eq!(labels(&r, QUIET, Period::M1), want, "filled to the halt, again after it, and to the close");
    let (halt_filled, close) = (&r.bars(QUIET, Period::M1)[7], r.bars(QUIET, Period::M1)[8].clone());
    assert_eq!((halt_filled.vol, close.vol), (0, 0), "13:13 is a flat fill, 13:29 too");
}

#[test]
fn the_last_bars_close_at_the_early_close_not_at_their_regular_end() {
    let mut r = Replay::new();
    r.tick(trade(MOUTAI, "2016-01-04T13:33:50", "10", 100));
    r.clock("2016-01-04T13:34:02");
    for (p, label) in [(Period::M1, "13:34"), (Period::M5, "13:35"), (Period::M15, "13:45"), (Period::M30, "14:00")] {
        assert_eq!(labels(&r, MOUTAI, p), [label], "{p}m closed at 13:34 plus grace");
    }
    assert_eq!(labels(&r, MOUTAI, Period::M60), ["14:00"]);
    let events = r.events.len();
    r.clock("2016-01-04T15:30:00");
    assert_eq!(r.events.len(), events, "nothing after the close");
}

#[test]
fn daily_bars_fold_the_traded_minutes_only() {
    let r = replay("2016-01-04");
    let traded =
        outcome_volume("2016-01-04", TickOutcome::Applied) + outcome_volume("2016-01-04", TickOutcome::Amended);
    let refused = outcome_volume("2016-01-04", TickOutcome::Rejected(Rejection::Halted))
        + outcome_volume("2016-01-04", TickOutcome::Rejected(Rejection::AfterClose));
    let all: u64 = busy_day("2016-01-04").iter().map(|t| t.volume).sum();
    assert_eq!(traded + refused, all, "13:13:xx and 13:34:xx trades amend the bar before");
    let calendar = TradingCalendar::bundled();
    let sessions = Sessions::new(Layout::default(), &calendar);
    let parts =
        r.bars(MOUTAI, Period::M1).into_iter().map(|bar| Part { bar, forming: false, same_day: false, live: false });
    let daily =
        Resampler::new(&sessions, &calendar, Period::M1, Resolution::Day).resample(parts, frame("2016-01-05T00:00:00"));
    assert_eq!(daily.len(), 1);
    assert_eq!(daily[0].bar.vol, traded, "the day holds what traded before the halt, between it and the close");
    assert!(!daily[0].forming);
    let forming = Resampler::new(&sessions, &calendar, Period::M1, Resolution::Day).resample(
        r.bars(MOUTAI, Period::M1).into_iter().map(|bar| Part { bar, forming: false, same_day: true, live: true }),
        frame("2016-01-04T13:34:00"),
    );
    assert!(!forming[0].forming, "the day is complete at the early close, not at 15:00");
}

#[test]
fn the_expected_frames_of_an_overridden_day_are_its_traded_windows() {
    let calendar = TradingCalendar::bundled();
    let sessions = Sessions::new(Layout::default(), &calendar);
    let day = day_number("2016-01-04".parse().unwrap());
    let grid = sessions.grid(sym(MOUTAI), day);
    let count = |p| grid.frames(day, p).count();
    assert_eq!([Period::M1, Period::M5, Period::M15, Period::M30, Period::M60].map(count), [139, 29, 11, 6, 3]);
    let day7 = day_number("2016-01-07".parse().unwrap());
    assert_eq!(sessions.grid(sym(MOUTAI), day7).frames(day7, Period::M1).count(), 15);
}

#[test]
fn the_phase_is_halted_inside_a_halt_and_closed_after_an_early_close() {
    let calendar = TradingCalendar::bundled();
    let phase = |t: &str| phase_at(&calendar, None, ms(t)).unwrap();
    let halted = phase("2016-01-04T13:20:00");
    assert_eq!(
        (halted.phase, halted.next, halted.next_at_ms),
        (Phase::Halted, Phase::Continuous, ms("2016-01-04T13:28:00"))
    );
    let before = phase("2016-01-04T13:30:00");
    assert_eq!(
        (before.phase, before.next, before.next_at_ms),
        (Phase::Continuous, Phase::Closed, ms("2016-01-04T13:34:00"))
    );
    let closed = phase("2016-01-04T14:00:00");
    assert_eq!(
        (closed.phase, closed.next, closed.next_at_ms),
        (Phase::Closed, Phase::PreOpen, ms("2016-01-05T00:00:00"))
    );
    assert_eq!(phase("2016-01-07T09:45:00").phase, Phase::Halted);
    assert_eq!(phase("2016-01-07T10:00:00").phase, Phase::Closed);
}

fn announced(changes: &[(&str, DayChange)]) -> TradingCalendar {
    let overrides = changes
        .iter()
        .map(|(date, change)| DayOverride { date: date.parse().unwrap(), change: *change, source: "test".into() })
        .collect();
    TradingCalendar::bundled().with_overrides(overrides).unwrap()
}

fn hm(s: &str) -> Hm {
    s.parse().unwrap()
}

#[test]
fn a_late_open_has_no_auction_and_no_bar_before_it() {
    let calendar = announced(&[("2026-11-20", DayChange::LateOpen { at: hm("10:30") })]);
    let mut r = Replay::on_calendar(BarSettings::default(), calendar.clone());
    assert_eq!(r.tick(trade(MOUTAI, "2026-11-20T09:25:00", "10", 100)), TickOutcome::Rejected(Rejection::Halted));
    assert_eq!(r.tick(trade(MOUTAI, "2026-11-20T10:30:05", "10", 100)), TickOutcome::Applied);
    r.clock("2026-11-20T10:40:00");
    assert_eq!(labels(&r, MOUTAI, Period::M1).first().map(String::as_str), Some("10:31"));
    let opening = phase_at(&calendar, None, ms("2026-11-20T09:20:00")).unwrap();
    assert_eq!((opening.phase, opening.next), (Phase::Halted, Phase::Continuous));
}

#[test]
fn a_closed_day_announced_is_no_trading_day() {
    let calendar = announced(&[("2026-11-20", DayChange::Closed)]);
    assert_eq!(calendar.is_trading_day(NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()), Ok(false));
    assert_eq!(calendar.next("2026-11-19".parse().unwrap()).unwrap().to_string(), "2026-11-23");
    let mut r = Replay::on_calendar(BarSettings::default(), calendar);
    assert_eq!(
        r.tick(trade(MOUTAI, "2026-11-20T10:00:00", "10", 100)),
        TickOutcome::Rejected(Rejection::NonTradingDay)
    );
    let beyond = announced(&[("2027-03-01", DayChange::Closed)]);
    assert_eq!(beyond.is_trading_day("2027-03-01".parse().unwrap()), Ok(false), "past the list too");
}

#[test]
fn a_close_announced_during_the_day_closes_its_bars_on_time_and_builds_nothing_after() {
    let mut r = Replay::new();
    for t in busy_day("2026-11-20").into_iter().take_while(|t| t.time_ms < ms("2026-11-20T10:20:00")) {
        r.tick(t);
    }
    r.agg.set_calendar(Arc::new(announced(&[("2026-11-20", DayChange::EarlyClose { at: hm("10:30") })])));
    for t in busy_day("2026-11-20").into_iter().filter(|t| t.time_ms >= ms("2026-11-20T10:20:00")) {
        r.tick(t);
    }
    r.clock("2026-11-20T15:30:00");
    assert_eq!(labels(&r, MOUTAI, Period::M1), minutes("09:31", "10:30"));
    assert_eq!(labels(&r, MOUTAI, Period::M60), ["10:30"]);
    assert_eq!(labels(&r, MOUTAI, Period::M30), ["10:00", "10:30"]);
}

#[test]
fn impossible_or_non_trading_overrides_are_refused() {
    let calendar = || TradingCalendar::bundled();
    let one = |date: &str, change| vec![DayOverride { date: date.parse().unwrap(), change, source: String::new() }];
    let err = calendar().with_overrides(one("2026-11-21", DayChange::Halt { from: hm("10:00"), to: hm("10:15") }));
    assert!(err.unwrap_err().to_string().contains("not a trading day"), "a Saturday");
    let err = calendar().with_overrides(one("2016-01-04", DayChange::EarlyClose { at: hm("14:00") }));
    assert!(err.unwrap_err().to_string().contains("at most one early close"));
    let again = calendar().with_overrides(one("2016-01-04", DayChange::EarlyClose { at: hm("13:34") })).unwrap();
    assert_eq!(again.overrides_on("2016-01-04".parse().unwrap()).len(), 2, "a change already held is not doubled");
}
