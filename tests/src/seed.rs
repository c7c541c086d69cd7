//! Generated bars in the seed-era shapes: history bars for the consumer's tests and load
//! benchmark, whole days of bars for the query API's tests.

use chrono::NaiveDate;
use common::time::day_number;
use common::{Bar, Period, Sessions, Symbol, Tick, TradingCalendar};

/// A bar object in the seed-era shape: frame with a space; prices alternately numbers and strings.
pub fn seed_bar(symbol: &str, frame: &str, n: u64) -> String {
    let open = 1000 + n % 97;
    let close = 1000 + n % 89;
    let (high, low) = (open.max(close) + 3, open.min(close) - 2);
    let price = |cents: u64| format!("{}.{:02}", cents / 100, cents % 100);
    let vol = 100 * (1 + n % 500);
    if n.is_multiple_of(2) {
        format!(
            r#"{{"symbol":"{symbol}","frame":"{frame}","open":{},"high":{},"low":{},"close":{},"vol":{vol},"amount":{}.5}}"#,
            price(open),
            price(high),
            price(low),
            price(close),
            vol * 10
        )
    } else {
        format!(
            r#"{{"symbol":"{symbol}","frame":"{frame}","open":"{}","high":"{}","low":"{}","close":"{}","vol":"{vol}","amount":"{}.25"}}"#,
            price(open),
            price(high),
            price(low),
            price(close),
            vol * 10
        )
    }
}

/// `n` distinct history bars with their periods, oldest first: every frame of the grid of `symbols`
/// over trading days from 2023-01-03, each symbol-day's five periods together, cut at exactly `n`.
pub fn history(n: usize, symbols: &[String]) -> Vec<(Period, String)> {
    let calendar = TradingCalendar::bundled();
    let sessions = Sessions::new(common::Layout::default(), &calendar);
    let days = calendar.trading_days("2023-01-03".parse().unwrap(), "2026-12-31".parse().unwrap()).unwrap();
    let mut out = Vec::with_capacity(n);
    for day in days {
        for symbol in symbols {
            let grid = sessions.grid(symbol.parse().unwrap(), day_number(day));
            for period in Period::DEFAULTS {
                for frame in grid.frames(day_number(day), period) {
                    if out.len() == n {
                        return out;
                    }
                    out.push((period, seed_bar(symbol, &frame.to_string(), out.len() as u64)));
                }
            }
        }
    }
    out
}

/// Every bar of `symbol`'s grid on `day` for `period` in the seed-era numbers; `variant` changes
/// them, so that the same frame from two stores can be told apart.
pub fn day_bars(symbol: &str, day: NaiveDate, period: Period, variant: u64) -> Vec<Bar> {
    let sessions = Sessions::new(common::Layout::default(), &TradingCalendar::bundled());
    let grid = sessions.grid(symbol.parse().expect("a valid symbol"), day_number(day));
    grid.frames(day_number(day), period)
        .enumerate()
        .map(|(i, frame)| {
            let json = seed_bar(symbol, &frame.to_string(), i as u64 + 7 * variant);
            serde_json::from_str(&json).expect("seed bars parse")
        })
        .collect()
}

/// The final bars an in-process aggregator builds from `ticks` in event time, as a second opinion.
pub fn aggregate(ticks: &[Tick], symbol: &str, period: Period) -> Vec<Bar> {
    let calendar = std::sync::Arc::new(common::TradingCalendar::bundled());
    let mut agg = common::BarAggregator::new(&common::BarSettings::default(), calendar);
    let mut events = Vec::new();
    for t in ticks {
        agg.apply_at_watermark(t);
        agg.advance(agg.latest_tick_ms().unwrap());
        events.extend(agg.drain_events());
    }
    let symbol: Symbol = symbol.parse().unwrap();
    let mut by_frame = std::collections::BTreeMap::new();
    for e in events.into_iter().filter(|e| e.period == period && e.bar.symbol == symbol) {
        if e.kind != common::BarEventKind::Updated {
            by_frame.insert(e.bar.frame, e.bar);
        }
    }
    by_frame.into_values().collect()
}
