//! The stale-feed rule: the symbols that traded today and have sent no tick for
//! `producer.stale_after_minutes` of their sessions, judged from a copy of each symbol's last tick
//! that the monitor takes after commits (at most every [`LAST_TICKS_EVERY`], or when event time
//! moved a minute), so a probe never reads the engine.

use parking_lot::Mutex;
use std::time::Duration;

use runtime::calendar::Market;

use common::time::{epoch_ms, split_ms, DayNumber};
use common::{BarAggregator, Frame, Symbol};
use serde::Serialize;
use tokio::time::Instant;

/// How often the symbols' last ticks are copied from the engine for the stale check.
const LAST_TICKS_EVERY: Duration = Duration::from_secs(5);
/// The most stale symbols listed (the longest silent first); all are counted.
const STALE_LISTED: usize = 50;
/// The symbol whose sessions a day without any tick is judged on: a main-board stock's.
const OPEN_REFERENCE: &str = "600000.SH";

/// Symbols that traded today and sent no tick for `after_minutes` of their sessions; and how long
/// the whole feed has been silent.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stale {
    pub after_minutes: u16,
    /// Session minutes since the latest tick of any symbol (since the open when none came today);
    /// `None` outside the sessions, on a day without trading, or before the clock is known.
    pub feed_silent_minutes: Option<u16>,
    pub count: usize,
    /// The longest silent first, at most 50.
    pub symbols: Vec<StaleSymbol>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StaleSymbol {
    pub symbol: String,
    pub last_tick: String,
    pub silent_minutes: u16,
}

/// The symbols' last ticks as of a commit, and the latest tick time then.
#[derive(Debug, Default)]
struct LastTicks {
    taken: Option<Instant>,
    latest_ms: Option<i64>,
    ticks: Vec<(Symbol, i64)>,
}

/// The copied last ticks and the sessions they are judged on (those of the calendar followed,
/// halts and early closes included: nobody is stale while the market is stopped).
#[derive(Debug)]
pub struct StaleWatch {
    market: Market,
    last: Mutex<LastTicks>,
}

impl StaleWatch {
    pub fn new(market: Market) -> StaleWatch {
        StaleWatch { market, last: Mutex::new(LastTicks::default()) }
    }

    /// Copies the last tick of each symbol that traded on the day of `now_ms` (the clock the rule
    /// is judged on; none in event time before the first tick), at most every few seconds or each
    /// minute of event time (a fast replay). `latest_ms` is the latest tick applied.
    pub fn take(&self, agg: &BarAggregator, latest_ms: Option<i64>, now_ms: Option<i64>) {
        let mut last = self.last.lock();
        let moved = |before: Option<i64>| latest_ms.zip(before).is_none_or(|(now, then)| now - then >= 60_000);
        if last.taken.is_some_and(|t| t.elapsed() < LAST_TICKS_EVERY) && !moved(last.latest_ms) {
            return;
        }
        if let Some(now) = now_ms {
            let today: DayNumber = split_ms(now).0;
            *last = LastTicks { taken: Some(Instant::now()), latest_ms, ticks: agg.last_ticks(today).collect() };
        }
    }

    /// The latest tick time as of the last copy.
    pub fn latest_ms(&self) -> Option<i64> {
        self.last.lock().latest_ms
    }

    /// The stale symbols at `now_ms` (none when there is no clock yet or the rule is off), and the
    /// feed's silence.
    pub fn judge(&self, now_ms: Option<i64>, after_minutes: u16) -> Stale {
        let last = self.last.lock();
        let Some(now) = now_ms else {
            return Stale { after_minutes, ..Stale::default() };
        };
        let (calendar, sessions) = self.market.now();
        let today = split_ms(now).0;
        let mut silent: Vec<(u16, Symbol, i64)> = (last.ticks.iter())
            .filter_map(|&(symbol, at)| Some((sessions.session_minutes(symbol, at, now)?, symbol, at)))
            .collect();
        let feed_silent_minutes = match silent.iter().map(|&(minutes, ..)| minutes).min() {
            Some(minutes) => Some(minutes),
            None if last.ticks.is_empty() && calendar.is_trading_day_number(today).unwrap_or(false) => {
                let reference = OPEN_REFERENCE.parse().expect("a valid symbol");
                sessions.session_minutes(reference, epoch_ms(today, 0), now)
            }
            None => None,
        };
        if after_minutes == 0 {
            return Stale { after_minutes, feed_silent_minutes, ..Stale::default() };
        }
        silent.retain(|&(minutes, ..)| minutes >= after_minutes);
        silent.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let symbols = (silent.iter().take(STALE_LISTED))
            .map(|&(silent_minutes, symbol, at)| StaleSymbol {
                symbol: symbol.to_string(),
                last_tick: Frame::from_epoch_seconds(at.div_euclid(1000)).to_iso8601(),
                silent_minutes,
            })
            .collect();
        Stale { after_minutes, feed_silent_minutes, count: silent.len(), symbols }
    }
}
