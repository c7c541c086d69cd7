//! The producer against real Level-2 data (600519.SH trades and snapshots, 000333.SZ snapshots,
//! 2023-02-01..03), through the `replay` subcommand, the stream and Redis.

mod support;

use common::Amount;
use common::{Period, Tick};
use harness::fixtures;
use harness::seed::aggregate;
use support::*;

/// Tushare's daily open and close of 600519.SH.
const MOUTAI_OPEN_CLOSE: [(&str, &str); 3] = [("1854.98", "1844.97"), ("1848.38", "1836.11"), ("1820.0", "1818.0")];

#[tokio::test(flavor = "multi_thread")]
async fn real_trades_as_plain_ticks_give_the_exact_bars_and_the_exchange_totals() {
    let mut stack = ProducerRedis::start().await;
    let ticks: Vec<Tick> = DAYS.iter().flat_map(|d| fixtures::trades(d)).collect();
    stack.replay("trades:", &ticks).await;
    for (day, (vol, amount)) in DAYS.into_iter().zip(MOUTAI_TOTALS) {
        let ours = stack.bars("trades:", day, Period::M1, "600519.SH").await;
        assert_eq!(ours.len(), 240, "{day}");
        let day_ticks: Vec<Tick> = fixtures::trades(day);
        assert_eq!(ours, aggregate(&day_ticks, "600519.SH", Period::M1), "{day}");
        assert_eq!(ours.iter().map(|b| b.vol).sum::<u64>(), vol, "{day}");
        assert_eq!(ours.iter().map(|b| b.amount).sum::<Amount>(), amount.parse().unwrap(), "{day}");
        for p in [Period::M5, Period::M15, Period::M30, Period::M60] {
            let longer = stack.bars("trades:", day, p, "600519.SH").await;
            assert_eq!(longer, aggregate(&day_ticks, "600519.SH", p), "{day} {p}m");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn real_snapshots_as_cumulative_ticks_give_the_exchange_day_volume_amount_open_and_close() {
    let mut stack = ProducerRedis::start().await;
    let mut ticks = Vec::new();
    for day in DAYS {
        let mut day_ticks = fixtures::snapshots("600519.SH", day);
        day_ticks.extend(fixtures::snapshots("000333.SZ", day));
        day_ticks.sort_by_key(|t| t.time_ms);
        ticks.extend(day_ticks);
    }
    stack.replay("snaps:", &ticks).await;
    for (i, day) in DAYS.into_iter().enumerate() {
        let moutai = stack.bars("snaps:", day, Period::M1, "600519.SH").await;
        assert_eq!(moutai.len(), 240, "{day}");
        assert_eq!(moutai.iter().map(|b| b.vol).sum::<u64>(), MOUTAI_TOTALS[i].0, "{day}");
        assert_eq!(moutai.iter().map(|b| b.amount).sum::<Amount>(), MOUTAI_TOTALS[i].1.parse().unwrap(), "{day}");
        let (open, close) = MOUTAI_OPEN_CLOSE[i];
        assert_eq!((moutai[0].open, moutai[239].close), (open.parse().unwrap(), close.parse().unwrap()), "{day}");
        let midea = stack.bars("snaps:", day, Period::M1, "000333.SZ").await;
        assert_eq!(midea.iter().map(|b| b.vol).sum::<u64>(), MIDEA_VOLUMES[i], "{day}");
        let daily = stack.bars("snaps:", day, Period::M60, "000333.SZ").await;
        assert_eq!(daily.len(), 4, "{day}");
    }
}
