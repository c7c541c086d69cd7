//! A synthetic day of QMT snapshots for 5,000 symbols through the aggregator into all five periods.
//!
//! One symbol in five is liquid (a snapshot every 3 s), the rest every 15 s; snapshots arrive
//! time-major in whole-market payloads, as xtquant pushes them. `advance` (closing bars and
//! reporting every touched symbol's forming bars of all five periods) runs once per producer batch:
//! bench `live` flushes after every payload (one every 3 s, the live case), bench `catch_up` after
//! ten payloads (a producer draining a backlog reads many stream entries per batch).

use std::sync::Arc;

use common::time::parse_datetime;
use common::{Amount, BarAggregator, BarSettings, Price, Symbol, Tick, TickKind, TradingCalendar};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use support::{symbol_name, Lcg};

mod support;

const SYMBOLS: usize = 5_000;

fn symbols() -> Vec<Symbol> {
    (0..SYMBOLS).map(|i| symbol_name(i).parse().unwrap()).collect()
}

/// The day's snapshots in whole-market batches.
fn synthetic_day() -> Vec<Vec<Tick>> {
    let open = parse_datetime("2026-11-20T09:25:00").unwrap();
    let lunch = (parse_datetime("2026-11-20T11:30:03").unwrap(), parse_datetime("2026-11-20T13:00:00").unwrap());
    let close = parse_datetime("2026-11-20T15:00:03").unwrap();
    let symbols = symbols();
    let mut rng = Lcg(42);
    let mut state: Vec<(i64, u64, Amount)> =
        (0..SYMBOLS).map(|i| (1_000 + i as i64 % 9_000, 0, Amount::ZERO)).collect();
    let mut batches = Vec::new();
    let mut step = 0u64;
    let mut time = open;
    while time <= close {
        if time <= lunch.0 || time >= lunch.1 {
            let mut batch = Vec::new();
            for (i, symbol) in symbols.iter().enumerate() {
                if !i.is_multiple_of(5) && !step.is_multiple_of(5) {
                    continue;
                }
                let (cents, vol, amount) = &mut state[i];
                *cents = (*cents + rng.next(5) as i64 - 2).max(100);
                let lots = rng.next(20);
                let price = Price::from_units(*cents * 100);
                *vol += lots * 100;
                *amount += price * (lots * 100);
                let kind = TickKind::Cumulative { day_high: None, day_low: None, day_trades: None };
                batch.push(Tick { symbol: *symbol, time_ms: time, price, volume: *vol, amount: *amount, kind });
            }
            batches.push(batch);
        }
        step += 1;
        time += 3_000;
    }
    batches
}

fn aggregate_day(c: &mut Criterion) {
    let day = synthetic_day();
    for (name, payloads_per_batch) in [("live", 1), ("catch_up", 10)] {
        bench_batches(c, &day, name, payloads_per_batch);
    }
}

fn bench_batches(c: &mut Criterion, day: &[Vec<Tick>], name: &str, payloads_per_batch: usize) {
    let ticks: usize = day.iter().map(Vec::len).sum();
    let calendar = Arc::new(TradingCalendar::bundled());
    let settings = BarSettings::default();
    let mut group = c.benchmark_group("aggregate");
    group.sample_size(10).throughput(Throughput::Elements(ticks as u64));
    group.bench_function(format!("qmt_day_5000_symbols_all_periods/{name}"), |b| {
        b.iter_batched(
            || BarAggregator::new(&settings, calendar.clone()),
            |mut agg| {
                let mut events = 0;
                for batch in day.chunks(payloads_per_batch) {
                    let mut now = 0;
                    for tick in batch.iter().flatten() {
                        now = tick.time_ms;
                        agg.apply(tick, now);
                    }
                    agg.advance(now);
                    events += agg.drain_events().count();
                }
                agg.advance(i64::MAX / 2);
                events + agg.drain_events().count()
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, aggregate_day);
criterion_main!(benches);
