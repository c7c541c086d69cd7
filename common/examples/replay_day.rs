//! Replays one real trading day of 600519.SH (every Level-2 trade of 2023-02-01, bundled with the
//! tests) through the aggregator and prints its hour bars and day totals next to the exchange's.
//!
//! `cargo run --release -p common --example replay_day`

use std::io::Read;
use std::sync::Arc;

use common::time::parse_datetime;
use common::{BarAggregator, BarEventKind, BarSettings, Period, Tick, TickKind, TradingCalendar};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/real/600519.SH-20230201-trades.csv.gz");

fn main() {
    let mut csv = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(FIXTURE).expect("the bundled fixture"))
        .read_to_string(&mut csv)
        .expect("gzip text");
    let ticks: Vec<Tick> = csv
        .lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            Tick {
                symbol: "600519.SH".parse().expect("a symbol"),
                time_ms: parse_datetime(&format!("2023-02-01T{}", f[0])).expect("a time"),
                price: f[1].parse().expect("a price"),
                volume: f[2].parse().expect("shares"),
                amount: f[3].parse().expect("an amount"),
                kind: TickKind::Trade,
            }
        })
        .collect();
    let mut agg = BarAggregator::new(&BarSettings::default(), Arc::new(TradingCalendar::bundled()));
    let started = std::time::Instant::now();
    for t in &ticks {
        agg.apply(t, t.time_ms);
    }
    agg.advance(parse_datetime("2023-02-01T16:00:00").expect("a time"));
    let elapsed = started.elapsed();
    // A bar's final version is its last Closed or Amended event (closing-auction trades stamped
    // 15:00:01 amend the 15:00 bars that a tick at 15:00 closed).
    let mut last = std::collections::BTreeMap::new();
    for e in agg.drain_events().filter(|e| e.kind != BarEventKind::Updated) {
        last.insert((e.period, e.bar.frame), e);
    }
    let closed: Vec<_> = last.into_values().collect();
    println!("600519.SH 2023-02-01: {} trades -> {} bars in {elapsed:.2?}\n", ticks.len(), closed.len());
    println!("{:<26} {:>9} {:>9} {:>9} {:>9} {:>9} {:>16}", "60m bar", "open", "high", "low", "close", "vol", "amount");
    for e in closed.iter().filter(|e| e.period == Period::M60) {
        let b = &e.bar;
        println!(
            "{:<26} {:>9} {:>9} {:>9} {:>9} {:>9} {:>16}",
            b.frame.to_iso8601(),
            b.open,
            b.high,
            b.low,
            b.close,
            b.vol,
            b.amount
        );
    }
    let ones: Vec<_> = closed.iter().filter(|e| e.period == Period::M1).map(|e| &e.bar).collect();
    let vol: u64 = ones.iter().map(|b| b.vol).sum();
    let amount: common::Amount = ones.iter().map(|b| b.amount).sum();
    println!("\n1m bars: {}; day volume {vol} shares, amount {amount} yuan", ones.len());
    println!("exchange: day volume 3397389 shares, amount 6244678924.61 yuan");
}
