//! Turns a symbol's ticks into trades: per-trade ticks pass through; day-cumulative snapshots become
//! the trade between two snapshots, by difference, under the first-snapshot, stale and duplicate
//! rules of `docs/conventions.md`.

use serde::{Deserialize, Serialize};

use super::book::bounded;
use crate::money::{Amount, Price};
use crate::tick::{Tick, TickKind, MAX_AMOUNT, MAX_PRICE, MAX_VOLUME};

/// Snapshots stamped before 09:31:00 hold the opening auction, so the first one seen counts whole.
const FIRST_SNAPSHOT_COUNTS_BEFORE: u32 = (9 * 60 + 31) * 60;

/// What one tick contributes to bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Trade {
    pub time_ms: i64,
    pub price: Price,
    pub volume: u64,
    pub amount: Amount,
    /// A rise of the day high (fall of the day low) since the last snapshot: a trade in between.
    pub high: Option<Price>,
    pub low: Option<Price>,
    /// The trades it stands for: one for a per-trade tick; between two snapshots, the rise of
    /// the day's count where both tell it.
    pub trades: Option<u32>,
}

/// The reading of one tick against the symbol's cumulative baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reading {
    Trade(Trade),
    /// Volume did not rise: an old `lastPrice`, no trade.
    NoTrade,
    /// The same snapshot again.
    Duplicate,
    /// Time or a cumulative total went backwards.
    Stale,
    /// Volume or amount that no bar can honestly hold: the baseline of a first snapshot seen after
    /// 09:31, or an amount rise without volume.
    Unattributed {
        volume: u64,
        amount: Amount,
    },
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Baseline {
    time_ms: i64,
    volume: u64,
    amount: Amount,
    high: Option<Price>,
    low: Option<Price>,
    /// The day's trade count so far; absent in a checkpoint written before counts were kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    trades: Option<u32>,
}

/// A symbol's cumulative baseline for the day.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Feed {
    base: Option<Baseline>,
}

impl Feed {
    /// Checks a baseline read from a checkpoint: totals inside the bounds a tick has.
    pub fn check(&self) -> Result<(), String> {
        let price_ok = |p: Option<Price>| p.is_none_or(|p| bounded(p, MAX_PRICE));
        match self.base {
            Some(b)
                if b.volume > MAX_VOLUME || !bounded(b.amount, MAX_AMOUNT) || !price_ok(b.high) || !price_ok(b.low) =>
            {
                Err("the cumulative baseline is outside the bounds of a tick".into())
            }
            _ => Ok(()),
        }
    }

    /// Reads `tick`, stamped at `sec_of_day` market time, and moves the baseline.
    pub fn take(&mut self, tick: &Tick, sec_of_day: u32) -> Reading {
        let TickKind::Cumulative { day_high, day_low, day_trades } = tick.kind else {
            return if tick.volume == 0 {
                Reading::NoTrade
            } else {
                Reading::Trade(trade(tick, tick.volume, tick.amount, Some(1)))
            };
        };
        let (high, low) = (positive(day_high), positive(day_low));
        let base = match self.base {
            Some(b) if tick.time_ms < b.time_ms || tick.volume < b.volume => return Reading::Stale,
            Some(b) => b,
            None if sec_of_day >= FIRST_SNAPSHOT_COUNTS_BEFORE => {
                let (time_ms, volume, amount, trades) = (tick.time_ms, tick.volume, tick.amount, day_trades);
                self.base = Some(Baseline { time_ms, volume, amount, high, low, trades });
                return Reading::Unattributed { volume: tick.volume, amount: tick.amount };
            }
            None => Baseline { time_ms: 0, volume: 0, amount: Amount::ZERO, high: None, low: None, trades: Some(0) },
        };
        let amount = tick.amount - base.amount;
        if amount.is_negative() {
            return Reading::Stale;
        }
        self.base = Some(Baseline {
            time_ms: tick.time_ms,
            volume: tick.volume,
            amount: tick.amount,
            high: extreme(base.high, high, Price::max),
            low: extreme(base.low, low, Price::min),
            trades: day_trades,
        });
        let volume = tick.volume - base.volume;
        if volume == 0 {
            return match (amount.is_zero(), tick.time_ms == base.time_ms) {
                (true, true) => Reading::Duplicate,
                (true, false) => Reading::NoTrade,
                (false, _) => Reading::Unattributed { volume, amount },
            };
        }
        let trades = day_trades.zip(base.trades).and_then(|(now, before)| now.checked_sub(before));
        let mut t = trade(tick, volume, amount, trades);
        t.high = high.filter(|h| base.high.is_none_or(|b| *h > b));
        t.low = low.filter(|l| base.low.is_none_or(|b| *l < b));
        Reading::Trade(t)
    }
}

fn trade(tick: &Tick, volume: u64, amount: Amount, trades: Option<u32>) -> Trade {
    Trade { time_ms: tick.time_ms, price: tick.price, volume, amount, high: None, low: None, trades }
}

fn positive(v: Option<Price>) -> Option<Price> {
    v.filter(|x| *x > Price::ZERO)
}

fn extreme(a: Option<Price>, b: Option<Price>, pick: fn(Price, Price) -> Price) -> Option<Price> {
    match (a, b) {
        (Some(a), Some(b)) => Some(pick(a, b)),
        (a, b) => a.or(b),
    }
}
