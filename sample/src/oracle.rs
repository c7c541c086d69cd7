//! The bars the rules of `docs/conventions.md` give for one symbol's clean snapshot sequence, in the
//! default layout (end labels, the auction folded into 09:31, flat bars from the first trade on,
//! no after-hours), computed here from the rules alone and not by `common`'s aggregator: the
//! reference of the end-to-end test and the source of the sample history.

use common::time::split_ms;
use common::{Bar, Frame, Ohlcv, Period};

use crate::market::{hms, Day, Snapshot};

/// One-minute bars in a day.
const MINUTES: usize = 240;

/// The minute (0..240, 09:31 … 15:00) a trade at `sec` of the day counts in, if any: 09:25 to
/// 09:30:59 in 09:31, 11:30:xx in 11:30, 13:00:xx in 13:01, 15:00:xx in 15:00.
fn minute(sec: u32) -> Option<usize> {
    let index = |from: u32| (sec - from) as usize / 60;
    match sec {
        s if (hms(9, 25, 0)..hms(9, 31, 0)).contains(&s) => Some(0),
        s if (hms(9, 31, 0)..hms(11, 31, 0)).contains(&s) => Some(index(hms(9, 30, 0)).min(119)),
        s if (hms(13, 0, 0)..hms(15, 1, 0)).contains(&s) => Some(120 + index(hms(13, 0, 0)).min(119)),
        _ => None,
    }
}

/// The label (second of the day) of minute `i`.
fn label(i: usize) -> u32 {
    let i = i as u32;
    if i < 120 {
        hms(9, 31, 0) + 60 * i
    } else {
        hms(13, 1, 0) + 60 * (i - 120)
    }
}

/// The one-minute intervals of a day from the symbol's first trade on (quiet minutes flat at the
/// previous close), indexed by minute. Each snapshot whose cumulative volume rose is one trade
/// at its last price holding the rise in volume and amount; a rise of the day high (fall of the
/// day low) since the previous snapshot widens that trade's range.
fn minutes(snaps: &[Snapshot]) -> Vec<Option<Ohlcv>> {
    let mut out: Vec<Option<Ohlcv>> = vec![None; MINUTES];
    let mut before: Option<&Snapshot> = None;
    for s in snaps {
        let (lots, amount, high, low) = before.map_or((0, 0, 0, 0), |b| (b.lots, b.amount, b.high, b.low));
        before = Some(s);
        let Some(i) = minute(split_ms(s.time_ms).1).filter(|_| s.lots > lots) else { continue };
        let price = Snapshot::price(s.last);
        let trade = Ohlcv {
            open: price,
            high: if s.high > high { price.max(Snapshot::price(s.high)) } else { price },
            low: if low == 0 || s.low < low { price.min(Snapshot::price(s.low)) } else { price },
            close: price,
            vol: (s.lots - lots) * 100,
            amount: Snapshot::amount(s.amount - amount),
            // The generated snapshots carry no `transactionNum`.
            trades: None,
        };
        match &mut out[i] {
            Some(bar) => bar.fold(&trade),
            empty => *empty = Some(trade),
        }
    }
    let Some(first) = out.iter().position(Option::is_some) else { return out };
    let mut close = out[first].expect("the first traded minute").close;
    for slot in &mut out[first..] {
        let bar = *slot.get_or_insert(Ohlcv::flat(close));
        close = bar.close;
    }
    out
}

/// The symbol's bars of `period` on the snapshots' day: windows of `period` minutes aligned to
/// each session's start (120 minutes each, so no window spans lunch), labelled by their end.
pub fn bars(snaps: &[Snapshot], period: Period) -> Vec<Bar> {
    let Some(first) = snaps.first() else { return vec![] };
    let day = split_ms(first.time_ms).0;
    let size = usize::from(period.minutes());
    minutes(snaps)
        .chunks(size)
        .enumerate()
        .filter_map(|(w, window)| {
            let mut traded = window.iter().flatten();
            let mut bar = *traded.next()?;
            traded.for_each(|m| bar.fold(m));
            Some(Bar::new(first.symbol, Frame::at(day, label(w * size + size - 1)), &bar))
        })
        .collect()
}

/// The bars of every symbol of a day for `period`, symbol by symbol.
pub fn day_bars(day: &Day, period: Period) -> Vec<Bar> {
    day.symbols.iter().flat_map(|snaps| bars(snaps, period)).collect()
}
