//! The aggregator against real Level-2 data of 600519.SH and 000333.SZ, 2023-02-01..03: trades
//! must give exactly the bars built directly from them, and snapshots the exchange's day totals.

mod support;

use std::str::FromStr;

use common::{Amount, Bar, Period, Price, Tick, TickKind};
use fixtures::{cents, compact, rows, snapshots, trades, tushare_daily as tushare};
use support::*;

const DAYS: [&str; 3] = ["2023-02-01", "2023-02-02", "2023-02-03"];

/// Exchange totals of 600519.SH: the final snapshot of each day, as SOURCES.md records them.
const MOUTAI_TOTALS: [(u64, &str); 3] =
    [(3_397_389, "6244678924.61"), (2_975_886, "5465509509.98"), (3_494_490, "6324635031.35")];
const MIDEA_VOLUMES: [u64; 3] = [26_724_709, 36_767_804, 20_830_020];

/// The day's 240 end labels, written out independently of the session module.
fn labels() -> Vec<String> {
    let minutes = (9 * 60 + 31..=11 * 60 + 30).chain(13 * 60 + 1..=15 * 60);
    minutes.map(|m| format!("{:02}:{:02}", m / 60, m % 60)).collect()
}

/// The label a trade at `hh:mm:ss.mmm` belongs to, by the rules read straight off `docs/conventions.md`.
fn label_of(time: &str) -> String {
    let (h, m): (u32, u32) = (time[0..2].parse().unwrap(), time[3..5].parse().unwrap());
    let minute = match h * 60 + m {
        t if t < 9 * 60 + 30 => 9 * 60 + 31,
        t if t == 11 * 60 + 30 || t == 15 * 60 => t,
        t => t + 1,
    };
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

/// One-minute bars built directly from the trades: no aggregator involved.
fn bars_from_trades(day: &str) -> Vec<Bar> {
    let rows = rows(&format!("600519.SH-{}-trades.csv.gz", compact(day)));
    let mut out: Vec<Bar> = Vec::new();
    let mut previous_close = None;
    for label in labels() {
        let mine: Vec<&Vec<String>> = rows.iter().filter(|r| label_of(&r[0]) == label).collect();
        let frame = frame(&format!("{day} {label}:00"));
        let bar = if mine.is_empty() {
            let p = previous_close.expect("600519 trades in the opening auction");
            let (vol, amount, trades) = (0, Amount::ZERO, None);
            Bar { symbol: sym("600519.SH"), frame, open: p, high: p, low: p, close: p, vol, amount, trades }
        } else {
            let prices: Vec<Price> = mine.iter().map(|r| cents(&r[1])).collect();
            Bar {
                symbol: sym("600519.SH"),
                frame,
                open: prices[0],
                high: *prices.iter().max().unwrap(),
                low: *prices.iter().min().unwrap(),
                close: *prices.last().unwrap(),
                vol: mine.iter().map(|r| r[2].parse::<u64>().unwrap()).sum(),
                amount: mine.iter().map(|r| cents(&r[3])).sum(),
                trades: Some(mine.len() as u32),
            }
        };
        previous_close = Some(bar.close);
        out.push(bar);
    }
    out
}

fn replay(ticks: Vec<Tick>, day: &str) -> Replay {
    let mut r = Replay::new();
    r.ticks(ticks);
    r.clock(&format!("{day}T16:00:00"));
    r
}

#[test]
fn real_trades_give_exactly_the_bars_built_directly_from_them() {
    for day in DAYS {
        let r = replay(trades(day), day);
        let ours = r.bars("600519.SH", Period::M1);
        let expected = bars_from_trades(day);
        assert_eq!(ours.len(), 240, "{day}");
        for (a, b) in ours.iter().zip(&expected) {
            assert_eq!(a, b, "{day}");
        }
    }
}

#[test]
fn real_trades_sum_to_the_exchange_day_totals() {
    for (day, (vol, amount)) in DAYS.into_iter().zip(MOUTAI_TOTALS) {
        let bars = replay(trades(day), day).bars("600519.SH", Period::M1);
        assert_eq!(bars.iter().map(|b| b.vol).sum::<u64>(), vol, "{day}");
        assert_eq!(bars.iter().map(|b| b.amount).sum::<Amount>(), Amount::from_str(amount).unwrap(), "{day}");
    }
}

#[test]
fn real_longer_bars_are_exact_folds_of_the_real_one_minute_bars() {
    let day = DAYS[0];
    let r = replay(trades(day), day);
    let ones = r.bars("600519.SH", Period::M1);
    for p in [Period::M5, Period::M15, Period::M30, Period::M60] {
        let longer = r.bars("600519.SH", p);
        assert_eq!(longer.len(), 240 / usize::from(p.minutes()), "{p}m");
        for (bar, minutes) in longer.iter().zip(ones.chunks(usize::from(p.minutes()))) {
            assert_eq!(bar.ohlcv(), fold(minutes), "{p}m {}", bar.frame);
        }
    }
}

#[test]
fn real_snapshots_give_the_exchange_day_volume_amount_open_high_low_and_close() {
    for (day, (vol, amount)) in DAYS.into_iter().zip(MOUTAI_TOTALS) {
        let r = replay(snapshots("600519.SH", day), day);
        let bars = r.bars("600519.SH", Period::M1);
        let daily = tushare(day);
        assert_eq!(bars.len(), 240, "{day}");
        assert_eq!(r.agg.unattributed(sym("600519.SH")), (0, Amount::ZERO), "{day}");
        assert_eq!((bars.iter().map(|b| b.vol).sum::<u64>(), daily.vol), (vol, vol), "{day}");
        let total: Amount = bars.iter().map(|b| b.amount).sum();
        assert_eq!(total, Amount::from_str(amount).unwrap(), "{day}");
        assert!((total - daily.amount).units().abs() <= 5_000, "{day}: Tushare rounds to the yuan");
        assert_eq!((bars[0].open, bars[239].close), (daily.open, daily.close), "{day}");
        let high = bars.iter().map(|b| b.high).max().unwrap();
        let low = bars.iter().map(|b| b.low).min().unwrap();
        assert_eq!((high, low), (daily.high, daily.low), "{day}");
    }
}

#[test]
fn real_shenzhen_snapshots_give_the_day_totals_of_the_last_snapshot() {
    for (day, vol) in DAYS.into_iter().zip(MIDEA_VOLUMES) {
        let ticks = snapshots("000333.SZ", day);
        let last = *ticks.last().unwrap();
        let r = replay(ticks, day);
        let bars = r.bars("000333.SZ", Period::M1);
        assert_eq!(bars.len(), 240, "{day}");
        assert_eq!((bars.iter().map(|b| b.vol).sum::<u64>(), last.volume), (vol, vol), "{day}");
        assert_eq!(bars.iter().map(|b| b.amount).sum::<Amount>(), last.amount, "{day}");
        assert_eq!(bars[239].close, last.price, "{day}");
        let TickKind::Cumulative { day_high, day_low, .. } = last.kind else { unreachable!() };
        assert_eq!(Some(bars.iter().map(|b| b.high).max().unwrap()), day_high, "{day}");
        assert_eq!(Some(bars.iter().map(|b| b.low).min().unwrap()), day_low, "{day}");
    }
}

#[test]
fn an_aggregator_saved_and_restored_mid_day_continues_exactly() {
    let day = DAYS[0];
    let mut ticks = trades(day);
    ticks.extend(snapshots("000333.SZ", day));
    ticks.sort_by_key(|t| t.time_ms);
    let whole = replay(ticks.clone(), day);
    let mut split = Replay::new();
    for (i, t) in ticks.into_iter().enumerate() {
        if i % 7_919 == 0 {
            let saved = split.agg.save();
            let calendar = std::sync::Arc::new(common::TradingCalendar::bundled());
            split.agg = common::BarAggregator::restore(&common::BarSettings::default(), calendar, &saved).unwrap();
        }
        split.tick(t);
    }
    split.clock(&format!("{day}T16:00:00"));
    assert_eq!(split.events.len(), whole.events.len());
    assert!(split.events == whole.events, "restoring changed an event");
    assert_eq!(split.agg.count(common::TickOutcome::Applied), whole.agg.count(common::TickOutcome::Applied));
}

#[test]
fn a_state_saved_under_another_layout_is_refused() {
    let saved = replay(trades(DAYS[0]), DAYS[0]).agg.save();
    let mut settings = common::BarSettings::default();
    settings.layout.fill_empty = false;
    let calendar = std::sync::Arc::new(common::TradingCalendar::bundled());
    let err = common::BarAggregator::restore(&settings, calendar, &saved).unwrap_err().to_string();
    assert!(err.contains("layout"), "{err}");
}
