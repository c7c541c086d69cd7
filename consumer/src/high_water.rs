//! High-water marks: per period, the latest frame ClickHouse holds for each symbol, read once per
//! period and raised by every INSERT of this drain. A batch whose every row is later than its
//! symbol's mark cannot hold a stored bar, so it needs no existence read: history arriving in time
//! order (vendor backfills, the nightly queue) is written without one. A batch with any earlier
//! row is checked as before. Rows written behind the consumer's back (another instance before a
//! takeover, `producer build`) are seen when the marks are read again: at every drain start and
//! once they are older than `consumer.high_water_ttl_ms`. Until then such a row may be written
//! again; it is still one row after `FINAL` (the later version wins), only counted as inserted.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use common::Period;
use runtime::clickhouse::BarRow;

/// The marks of every period read so far.
pub struct HighWater {
    ttl: Duration,
    periods: Mutex<HashMap<Period, Marks>>,
}

/// One period's marks, and when they were read.
struct Marks {
    read_at: Instant,
    frames: HashMap<String, u32>,
}

impl HighWater {
    /// Marks read again once older than `ttl`; a zero `ttl` turns them off (every batch checked).
    pub fn new(ttl: Duration) -> HighWater {
        HighWater { ttl, periods: Mutex::new(HashMap::new()) }
    }

    /// Drops every mark: a drain that starts (perhaps after another instance's) reads them anew.
    pub fn forget(&self) {
        self.periods.lock().clear();
    }

    /// Whether `period`'s marks must be read (again) before [`Self::all_new`] can answer.
    pub fn stale(&self, period: Period) -> bool {
        !self.ttl.is_zero() && self.periods.lock().get(&period).is_none_or(|m| m.read_at.elapsed() >= self.ttl)
    }

    /// Takes `period`'s marks as ClickHouse holds them (symbol, latest frame), read at `read_at`.
    /// Raises made since `read_at` by INSERTs that landed before the read are in `frames` already;
    /// those made after it are kept.
    pub fn load(&self, period: Period, read_at: Instant, frames: HashMap<String, u32>) {
        let mut periods = self.periods.lock();
        let mut marks = Marks { read_at, frames };
        if let Some(old) = periods.remove(&period) {
            for (symbol, frame) in old.frames {
                marks.raise(symbol, frame);
            }
        }
        periods.insert(period, marks);
    }

    /// Whether every row of `rows` (of `period`) is later than its symbol's mark; false while the
    /// marks are off or not read.
    pub fn all_new(&self, period: Period, rows: &[BarRow]) -> bool {
        let periods = self.periods.lock();
        let Some(marks) = periods.get(&period).filter(|_| !self.ttl.is_zero()) else { return false };
        rows.iter().all(|r| marks.frames.get(&r.symbol).is_none_or(|mark| r.frame > *mark))
    }

    /// Raises the marks of `period` by `rows`, just written.
    pub fn raise(&self, period: Period, rows: &[BarRow]) {
        if let Some(marks) = self.periods.lock().get_mut(&period) {
            for row in rows {
                marks.raise(row.symbol.clone(), row.frame);
            }
        }
    }
}

impl Marks {
    fn raise(&mut self, symbol: String, frame: u32) {
        let mark = self.frames.entry(symbol).or_insert(frame);
        *mark = (*mark).max(frame);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(symbol: &str, frame: u32) -> BarRow {
        BarRow {
            symbol: symbol.into(),
            period: 1,
            frame,
            open: 1,
            high: 1,
            low: 1,
            close: 1,
            vol: 1,
            amount: 1,
            trades: None,
            version: 1,
        }
    }

    #[test]
    fn a_batch_later_than_every_mark_needs_no_check_and_an_earlier_row_does() {
        let marks = HighWater::new(Duration::from_secs(60));
        assert!(marks.stale(Period::M1) && !marks.all_new(Period::M1, &[row("A", 5)]), "unread marks answer no");
        marks.load(Period::M1, Instant::now(), HashMap::from([("A".into(), 100)]));
        assert!(!marks.stale(Period::M1));
        assert!(marks.all_new(Period::M1, &[row("A", 101), row("B", 1)]), "B was never stored");
        assert!(!marks.all_new(Period::M1, &[row("A", 101), row("A", 100)]), "100 may be stored");
        marks.raise(Period::M1, &[row("B", 7)]);
        assert!(!marks.all_new(Period::M1, &[row("B", 7)]), "what this drain wrote is marked");
        assert!(!marks.all_new(Period::M5, &[row("A", 101)]), "each period has its own marks");
    }

    #[test]
    fn a_reread_keeps_later_raises_and_zero_ttl_turns_the_marks_off() {
        let marks = HighWater::new(Duration::from_secs(60));
        marks.load(Period::M1, Instant::now(), HashMap::from([("A".into(), 100)]));
        marks.raise(Period::M1, &[row("A", 200)]);
        marks.load(Period::M1, Instant::now(), HashMap::from([("A".into(), 150), ("C".into(), 9)]));
        assert!(!marks.all_new(Period::M1, &[row("A", 180)]) && !marks.all_new(Period::M1, &[row("C", 9)]));
        marks.forget();
        assert!(marks.stale(Period::M1) && !marks.all_new(Period::M1, &[row("Z", 1)]));
        let off = HighWater::new(Duration::ZERO);
        off.load(Period::M1, Instant::now(), HashMap::new());
        assert!(!off.stale(Period::M1) && !off.all_new(Period::M1, &[row("A", 1)]));
    }
}
