//! A generated whole-market day for builds at scale: `symbols` symbols (half SH, half SZ), each
//! with a cumulative QMT snapshot every `step_s` seconds of both sessions, its lots and amount
//! rising by a few trades' worth each time, and an unchanged one at 15:00:05 (which closes the
//! day's last bars, as in the live path). Generated in time order, lazily: a whole day of 3 s
//! snapshots is 24 M ticks. Also the QMT CSV row `producer build` reads.

use std::io::Write;

use common::time::{day_number, epoch_ms};
use common::{Amount, Price, Symbol, Tick, TickKind};

/// The generated day.
pub const DAY: &str = "2026-11-18";
/// The header of [`write_qmt_row`]'s rows; `open` and `bidPrice1` are there to be skipped.
pub const QMT_HEADER: &str = "symbol,time,lastPrice,open,high,low,volume,amount,bidPrice1";
/// When the closing snapshot is stamped, seconds of the day.
const CLOSING_SNAPSHOT: u32 = 15 * 3600 + 5;

/// The day's ticks in time order, symbol by symbol within a time.
pub fn ticks(symbols: usize, step_s: u32) -> MarketDay {
    let times = (9 * 3600 + 1800..11 * 3600 + 1800).chain(13 * 3600..15 * 3600).step_by(step_s as usize);
    MarketDay {
        day: day_number(DAY.parse().expect("a date")),
        names: (0..symbols).map(symbol).collect(),
        times: times.collect(),
        totals: vec![(0, Amount::ZERO); symbols],
        k: 0,
        i: 0,
    }
}

/// The generator behind [`ticks`]: at time `k`, symbol `i` is next.
pub struct MarketDay {
    day: common::time::DayNumber,
    names: Vec<Symbol>,
    times: Vec<u32>,
    /// Each symbol's cumulative shares and amount.
    totals: Vec<(u64, Amount)>,
    k: usize,
    i: usize,
}

impl Iterator for MarketDay {
    type Item = Tick;

    fn next(&mut self) -> Option<Tick> {
        if self.i == self.names.len() {
            (self.i, self.k) = (0, self.k + 1);
        }
        let (i, k) = (self.i, self.k);
        self.i += 1;
        let total = self.totals.get_mut(i)?;
        let (price, sec) = match self.times.get(k) {
            Some(&sec) => {
                let price = price(k, i);
                let shares = (i % 7 + 1 + k % 3) as u64 * 100;
                total.0 += shares;
                total.1 += price * shares;
                (price, sec)
            }
            None if k == self.times.len() => (price(k - 1, i), CLOSING_SNAPSHOT),
            None => return None,
        };
        let kind = TickKind::Cumulative { day_high: None, day_low: None, day_trades: None };
        let time_ms = epoch_ms(self.day, sec);
        Some(Tick { symbol: self.names[i], time_ms, price, volume: total.0, amount: total.1, kind })
    }
}

/// Symbol `i`'s price at time `k`: a few ticks of 0.01 around its own level.
fn price(k: usize, i: usize) -> Price {
    Price::from_units((1000 + (i % 500) as i64 + ((k * 7 + i) % 13) as i64) * 100)
}

/// The `i`th symbol: 600000.SH, 000001.SZ, 600001.SH, 000002.SZ, ...
pub fn symbol(i: usize) -> Symbol {
    let name = if i.is_multiple_of(2) { format!("{:06}.SH", 600_000 + i / 2) } else { format!("{:06}.SZ", 1 + i / 2) };
    name.parse().expect("a valid symbol")
}

/// `tick` as a row under [`QMT_HEADER`]: volume in lots, no day high or low.
pub fn write_qmt_row(out: &mut impl Write, t: &Tick) -> std::io::Result<()> {
    writeln!(out, "{},{},{},{},,,{},{},{}", t.symbol, t.time_ms, t.price, t.price, t.volume / 100, t.amount, t.price)
}
