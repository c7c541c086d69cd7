//! Caches of answers: bars of one symbol and period (over one frame range of history, or one day
//! Redis holds), kept in memory and served again while the version they were read at holds.
//!
//! History: the consumer bumps a symbol's version (`Keys::history_versions`, field
//! `{period}:{symbol}`) in the same script that ends each batch it wrote, `producer build` the
//! field of every symbol (`*`) when it is done. A day Redis holds: the producer sets the version of
//! each (period, symbol) whose closed bars a commit changed (`Keys::day_versions`) in the same
//! transaction. Each request reads the versions before the bars, so an answer is never kept at a
//! version older than what it holds. An answer is also dropped `cache_ttl_ms` after it was
//! read (for writers that bump nothing); while Redis does not answer, ClickHouse is asked directly.

use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use common::{Frame, Period, Symbol};
use quick_cache::sync::Cache;
use quick_cache::Weighter;
use serde::Serialize;

use crate::error::Result;
use crate::served::Served;
use crate::store::clickhouse::History;
use crate::store::redis::SameDay;

/// The version a history answer was read at: the counter of all symbols' history and the symbol's own.
pub type Version = (i64, i64);

/// A history answer: one symbol and period over one range of frames.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Range {
    symbol: Symbol,
    period: Period,
    from: Frame,
    to: Frame,
}

/// A day Redis holds: one symbol's closed bars of one period, the whole day.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DayKey {
    pub symbol: Symbol,
    pub period: Period,
    pub day: NaiveDate,
}

#[derive(Clone)]
struct Entry<V> {
    version: V,
    bars: Arc<[Served]>,
    read_at: Instant,
}

/// What an entry costs: its bars (each with its JSON) and a little for the key and the bookkeeping.
#[derive(Clone)]
struct Bytes;

impl<K, V> Weighter<K, Entry<V>> for Bytes {
    fn weight(&self, _: &K, entry: &Entry<V>) -> u64 {
        (entry.bars.len() * (std::mem::size_of::<Served>() + 200) + 128) as u64
    }
}

/// How a cache has answered, for the monitor page and `/metrics`.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct CacheStatus {
    /// Symbols answered from memory.
    pub hits: u64,
    /// Symbols read from the store: not held, held at another version, or expired.
    pub misses: u64,
    /// Requests that went to the store without the cache because Redis did not give the versions.
    pub bypassed: u64,
    pub entries: u64,
    pub bytes: u64,
}

/// Answers by key, at most a given number of bytes of them, each valid at its version.
pub struct Kept<K, V> {
    entries: Cache<K, Entry<V>, Bytes>,
    ttl: Duration,
    hits: AtomicU64,
    misses: AtomicU64,
    bypassed: AtomicU64,
}

impl<K: Eq + Hash + Clone, V: PartialEq + Clone> Kept<K, V> {
    pub fn new(capacity_bytes: u64, ttl: Duration) -> Kept<K, V> {
        let items = (capacity_bytes / 16_384).max(16) as usize;
        Kept {
            entries: Cache::with_weighter(items, capacity_bytes, Bytes),
            ttl,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            bypassed: AtomicU64::new(0),
        }
    }

    /// The bars held for `key` at `version` and younger than the TTL; counted as a hit or a miss.
    pub fn get(&self, key: &K, version: &V) -> Option<Vec<Served>> {
        let held = self.entries.get(key).filter(|e| e.version == *version && e.read_at.elapsed() < self.ttl);
        let counter = if held.is_some() { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
        held.map(|e| e.bars.to_vec())
    }

    /// Keeps `bars`, read at `version` (each written out once, `Served::kept`).
    pub fn put(&self, key: K, version: V, bars: &[Served]) {
        let entry = Entry { version, bars: bars.iter().map(Served::kept).collect(), read_at: Instant::now() };
        self.entries.insert(key, entry);
    }

    /// Counts a request served without the cache.
    pub fn bypass(&self) {
        self.bypassed.fetch_add(1, Ordering::Relaxed);
    }

    pub fn status(&self) -> CacheStatus {
        CacheStatus {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            bypassed: self.bypassed.load(Ordering::Relaxed),
            entries: self.entries.len() as u64,
            bytes: self.entries.weight(),
        }
    }
}

/// History answers by (symbol, period, range).
pub struct HistoryCache(Kept<Range, Version>);

impl HistoryCache {
    pub fn new(capacity_bytes: u64, ttl: Duration) -> HistoryCache {
        HistoryCache(Kept::new(capacity_bytes, ttl))
    }

    /// [`History::bars`] through the cache: the versions of `symbols` read in one round trip, the
    /// symbols held at those versions served from memory, the rest fetched in one query and kept.
    pub async fn bars(
        &self,
        history: &History,
        same_day: &SameDay,
        symbols: &[Symbol],
        period: Period,
        range: (Frame, Frame),
    ) -> Result<Vec<Vec<Served>>> {
        let Ok(versions) = same_day.history_versions(period, symbols).await else {
            self.0.bypass();
            return history.bars(symbols, period, range).await;
        };
        let key = |symbol: Symbol| Range { symbol, period, from: range.0, to: range.1 };
        let mut found: Vec<Option<Vec<Served>>> =
            symbols.iter().zip(&versions).map(|(s, v)| self.0.get(&key(*s), v)).collect();
        let missing: Vec<usize> = (0..symbols.len()).filter(|i| found[*i].is_none()).collect();
        if !missing.is_empty() {
            let wanted: Vec<Symbol> = missing.iter().map(|i| symbols[*i]).collect();
            let fetched = history.bars(&wanted, period, range).await?;
            for (i, bars) in missing.into_iter().zip(fetched) {
                self.0.put(key(symbols[i]), versions[i], &bars);
                found[i] = Some(bars);
            }
        }
        Ok(found.into_iter().map(|bars| bars.expect("every symbol found or fetched")).collect())
    }

    pub fn status(&self) -> CacheStatus {
        self.0.status()
    }
}
