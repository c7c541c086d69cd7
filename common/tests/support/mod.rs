//! Test support shared by the integration tests of `common`: tick builders and an event-time
//! driver that feeds an aggregator and keeps the final version of every bar.
#![allow(dead_code)] // each test file uses its own part of the support module

use std::collections::BTreeMap;
use std::sync::Arc;

use common::time::parse_datetime;
use common::{
    Bar, BarAggregator, BarEventKind, BarSettings, Frame, Period, Symbol, Tick, TickKind, TickOutcome, TradingCalendar,
};
use std::fmt::Debug;
use std::str::FromStr;

pub fn ms(time: &str) -> i64 {
    parse_datetime(time).unwrap_or_else(|e| panic!("{time}: {e}"))
}

pub fn sym(s: &str) -> Symbol {
    s.parse().unwrap()
}

pub fn frame(time: &str) -> Frame {
    time.parse().unwrap()
}

/// A price, an amount or a decimal from its text.
pub fn dec<T: FromStr<Err: Debug>>(s: &str) -> T {
    s.parse().unwrap()
}

/// One trade: its own volume (shares) at `price`, amount exact.
pub fn trade(symbol: &str, time: &str, price: &str, volume: u64) -> Tick {
    let price: common::Price = dec(price);
    Tick { symbol: sym(symbol), time_ms: ms(time), price, volume, amount: price * volume, kind: TickKind::Trade }
}

/// A day-cumulative snapshot without day high/low.
pub fn snap(symbol: &str, time: &str, price: &str, volume: u64, amount: &str) -> Tick {
    Tick {
        symbol: sym(symbol),
        time_ms: ms(time),
        price: dec(price),
        volume,
        amount: dec(amount),
        kind: TickKind::Cumulative { day_high: None, day_low: None, day_trades: None },
    }
}

/// A day-cumulative snapshot with its day high and low.
pub fn snap_hl(symbol: &str, time: &str, price: &str, volume: u64, amount: &str, high: &str, low: &str) -> Tick {
    Tick {
        kind: TickKind::Cumulative { day_high: Some(dec(high)), day_low: Some(dec(low)), day_trades: None },
        ..snap(symbol, time, price, volume, amount)
    }
}

/// An aggregator driven in event time (now = the latest tick time), recording every event.
pub struct Replay {
    pub agg: BarAggregator,
    pub events: Vec<common::BarEvent>,
    now: i64,
}

impl Replay {
    pub fn new() -> Replay {
        Replay::with_settings(BarSettings::default())
    }

    pub fn with_settings(settings: BarSettings) -> Replay {
        Replay::on_calendar(settings, TradingCalendar::bundled())
    }

    pub fn on_calendar(settings: BarSettings, calendar: TradingCalendar) -> Replay {
        Replay { agg: BarAggregator::new(&settings, Arc::new(calendar)), events: Vec::new(), now: i64::MIN }
    }

    /// Applies one tick at event time and advances, as a producer would with a batch of one.
    pub fn tick(&mut self, t: Tick) -> TickOutcome {
        self.now = self.now.max(t.time_ms);
        let outcome = self.agg.apply(&t, self.now);
        self.agg.advance(self.now);
        self.events.extend(self.agg.drain_events());
        outcome
    }

    pub fn ticks(&mut self, ticks: impl IntoIterator<Item = Tick>) {
        for t in ticks {
            self.tick(t);
        }
    }

    /// Moves the clock to `time` with no tick, as the wall clock does for illiquid symbols.
    pub fn clock(&mut self, time: &str) {
        self.now = self.now.max(ms(time));
        self.agg.advance(self.now);
        self.events.extend(self.agg.drain_events());
    }

    /// The final version of every closed bar of `symbol` and `period`, by frame.
    pub fn bars(&self, symbol: &str, period: Period) -> Vec<Bar> {
        final_bars(&self.events, sym(symbol), period)
    }

    pub fn count(&self, kind: BarEventKind, period: Period) -> usize {
        self.events.iter().filter(|e| e.kind == kind && e.period == period).count()
    }
}

/// The last closed or amended version of each bar of `symbol` and `period`, sorted by frame.
pub fn final_bars(events: &[common::BarEvent], symbol: Symbol, period: Period) -> Vec<Bar> {
    let mut by_frame = BTreeMap::new();
    for e in events.iter().filter(|e| e.period == period && e.bar.symbol == symbol && e.kind != BarEventKind::Updated) {
        by_frame.insert(e.bar.frame, e.bar.clone());
    }
    by_frame.into_values().collect()
}

/// Folds consecutive one-minute bars into the bar of a longer window.
pub fn fold(bars: &[Bar]) -> common::Ohlcv {
    let mut v = bars[0].ohlcv();
    for b in &bars[1..] {
        v.fold(&b.ohlcv());
    }
    v
}
