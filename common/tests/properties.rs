//! Invariants of the aggregator over generated days of snapshots and trades.

mod support;

use chrono::Timelike;
use common::session::{phase_at, Phase};
use common::{Amount, Price};
use common::{Bar, Period, Tick, TickKind};
use proptest::prelude::*;
use support::*;

const DAY: &str = "2026-11-20";
const SYMBOLS: [&str; 3] = ["600519.SH", "000001.SZ", "688981.SH"];

/// A day of cumulative snapshots per symbol: rising times from 09:10 to 15:10 (so pre-open, lunch
/// and after-close ones occur), volumes that mostly rise, sometimes stand still, sometimes go back.
fn snapshot_day() -> impl Strategy<Value = Vec<Tick>> {
    let step = (1u32..90, 0u64..5, 900i64..1100, any::<bool>(), 0u8..20);
    prop::collection::vec((0usize..SYMBOLS.len(), step), 1..400).prop_map(|steps| {
        let mut state = [(9 * 3600 + 10 * 60, 0u64, Amount::ZERO); 3];
        let mut ticks = Vec::new();
        for (s, (gap, lots, cents, high_jump, backwards)) in steps {
            let (sec, vol, amount) = &mut state[s];
            *sec += gap;
            let price = Price::from_units(cents * 100);
            let (v, a) = if backwards == 0 {
                (vol.saturating_sub(100), *amount)
            } else {
                *vol += lots * 100;
                *amount += price * (lots * 100);
                (*vol, *amount)
            };
            let high = high_jump.then(|| price + Price::from_units(500));
            ticks.push(Tick {
                symbol: sym(SYMBOLS[s]),
                time_ms: ms(&format!("{DAY}T{:02}:{:02}:{:02}", *sec / 3600, *sec / 60 % 60, *sec % 60)),
                price,
                volume: v,
                amount: a,
                kind: TickKind::Cumulative { day_high: high, day_low: None, day_trades: None },
            });
        }
        ticks.sort_by_key(|t| t.time_ms);
        ticks
    })
}

/// Trades at random seconds of the whole day, in time order.
fn trade_day() -> impl Strategy<Value = Vec<Tick>> {
    prop::collection::vec((0usize..SYMBOLS.len(), 9 * 3600u32..15 * 3600 + 120, 1u64..50, 900i64..1100), 1..300)
        .prop_map(|raw| {
            let mut ticks: Vec<Tick> = raw
                .into_iter()
                .map(|(s, sec, lots, cents)| {
                    let time = format!("{DAY}T{:02}:{:02}:{:02}", sec / 3600, sec / 60 % 60, sec % 60);
                    trade(SYMBOLS[s], &time, &Price::from_units(cents * 100).to_string(), lots * 100)
                })
                .collect();
            ticks.sort_by_key(|t| t.time_ms);
            ticks
        })
}

fn run(ticks: &[Tick]) -> Replay {
    let mut r = Replay::new();
    r.ticks(ticks.iter().copied());
    r.clock(&format!("{DAY}T16:00:00"));
    r
}

fn all_bars(r: &Replay, p: Period) -> Vec<Bar> {
    SYMBOLS.iter().flat_map(|s| r.bars(s, p)).collect()
}

/// The most closed minutes a symbol's book may hold: the longest window (60) and the minutes the
/// grace and the correction window (62 s) can still amend.
const HELD_MINUTES: usize = 62;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any instant of the holiday list's years, on either board schedule: the phase holds until
    /// the next begins, later, and then it is the next.
    #[test]
    fn a_phase_lasts_until_the_next_one_it_names_begins(
        at_ms in 1_420_070_400_000i64..1_798_646_400_000,
        symbol in prop_oneof![Just(None), Just(Some("600519.SH")), Just(Some("688981.SH"))],
    ) {
        let calendar = common::TradingCalendar::bundled();
        let symbol = symbol.map(sym);
        let now = phase_at(&calendar, symbol, at_ms).unwrap();
        prop_assert!(now.next_at_ms > at_ms);
        prop_assert_eq!(phase_at(&calendar, symbol, now.next_at_ms - 1).unwrap().phase, now.phase);
        let next = phase_at(&calendar, symbol, now.next_at_ms).unwrap();
        prop_assert_eq!(next.phase, now.next);
        prop_assert!(next.trading_day || next.phase == Phase::Closed);
    }

    #[test]
    fn a_book_holds_an_hour_of_closed_minutes_not_the_day(ticks in prop_oneof![snapshot_day(), trade_day()]) {
        let mut r = Replay::new();
        r.ticks(ticks.iter().copied());
        let saved: serde_json::Value = serde_json::from_slice(&r.agg.save()).unwrap();
        for (symbol, book) in saved["books"].as_object().unwrap() {
            let held = book["closed"].as_array().unwrap().len();
            prop_assert!(held <= HELD_MINUTES, "{symbol} holds {held} closed minutes");
        }
    }

    #[test]
    fn every_bar_has_low_at_most_open_and_close_at_most_high(ticks in prop_oneof![snapshot_day(), trade_day()]) {
        let r = run(&ticks);
        for p in Period::DEFAULTS {
            for b in all_bars(&r, p) {
                prop_assert!(b.low <= b.open.min(b.close) && b.open.max(b.close) <= b.high, "{p}m {b:?}");
            }
        }
    }

    #[test]
    fn multi_minute_bars_equal_the_fold_of_their_one_minute_bars(ticks in prop_oneof![snapshot_day(), trade_day()]) {
        let r = run(&ticks);
        let grid = common::Sessions::new(common::Layout::default(), &common::TradingCalendar::bundled());
        for s in SYMBOLS {
            let ones = r.bars(s, Period::M1);
            for p in [Period::M5, Period::M15, Period::M30, Period::M60] {
                for bar in r.bars(s, p) {
                    let window = grid.grid(sym(s), day_of(&bar)).windows(p).iter().find(|w| w.label == bar.frame.time().num_seconds_from_midnight()).unwrap();
                    let inside: Vec<Bar> = ones.iter().filter(|b| {
                        let slot = grid.grid(sym(s), day_of(b)).classify(b.frame.time().num_seconds_from_midnight() - 60).unwrap();
                        (window.first..=window.last).contains(&slot)
                    }).cloned().collect();
                    prop_assert_eq!(bar.ohlcv(), fold(&inside), "{} {}m {}", s, p, bar.frame);
                }
            }
        }
    }

    #[test]
    fn a_days_volume_is_the_last_cumulative_volume_less_the_unattributed(ticks in snapshot_day()) {
        let r = run(&ticks);
        for s in SYMBOLS {
            let last = ticks.iter().filter(|t| t.symbol == sym(s)).map(|t| t.volume).max().unwrap_or(0);
            let in_bars: u64 = r.bars(s, Period::M1).iter().map(|b| b.vol).sum();
            prop_assert_eq!(in_bars + r.agg.unattributed(sym(s)).0, last, "{}", s);
        }
    }

    #[test]
    fn trades_volume_is_conserved_between_bars_and_unattributed(ticks in trade_day()) {
        let r = run(&ticks);
        for s in SYMBOLS {
            let traded: u64 = ticks.iter().filter(|t| t.symbol == sym(s)).map(|t| t.volume).sum();
            let in_bars: u64 = r.bars(s, Period::M1).iter().map(|b| b.vol).sum();
            prop_assert_eq!(in_bars + r.agg.unattributed(sym(s)).0, traded, "{}", s);
        }
    }

    #[test]
    fn feeding_the_same_snapshot_twice_changes_nothing(ticks in snapshot_day(), every in 1usize..5) {
        let doubled: Vec<Tick> = ticks.iter().enumerate().flat_map(|(i, t)| {
            std::iter::repeat_n(*t, if i % every == 0 { 2 } else { 1 })
        }).collect();
        let (once, twice) = (run(&ticks), run(&doubled));
        for p in Period::DEFAULTS {
            prop_assert_eq!(all_bars(&once, p), all_bars(&twice, p));
        }
    }
}

fn day_of(bar: &Bar) -> common::time::DayNumber {
    common::time::day_number(bar.frame.date())
}
