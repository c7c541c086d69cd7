//! The history cache: ClickHouse's bars of one symbol and period over one frame range, kept in
//! memory and served again while that history's version in Redis is the one read before the bars
//! were fetched. The consumer bumps a symbol's version (`Keys::history_versions`, field
//! `{period}:{symbol}`) in the same script that ends each batch it wrote, `producer build` the field
//! of every symbol (`*`) when it is done; so an answer never outlives the data it was read from.
//! An answer is also dropped `history_cache_ttl_ms` after it was read, for writers that bump
//! nothing, and while Redis does not answer ClickHouse is asked directly.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Frame, Period, Symbol};
use quick_cache::sync::Cache;
use quick_cache::Weighter;
use serde::Serialize;

use crate::error::Result;
use crate::served::Served;
use crate::store::clickhouse::History;
use crate::store::redis::SameDay;

/// The version an answer was read at: the counter of all symbols' history and the symbol's own.
pub type Version = (i64, i64);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    symbol: Symbol,
    period: Period,
    from: Frame,
    to: Frame,
}

#[derive(Clone)]
struct Entry {
    version: Version,
    bars: Arc<[Served]>,
    read_at: Instant,
}

/// What an entry costs: its bars (each with its JSON) and a little for the key and the bookkeeping.
#[derive(Clone)]
struct Bytes;

impl Weighter<Key, Entry> for Bytes {
    fn weight(&self, _: &Key, entry: &Entry) -> u64 {
        (entry.bars.len() * (std::mem::size_of::<Served>() + 200) + 128) as u64
    }
}

/// How the cache has answered, for the monitor page and `/metrics`.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct CacheStatus {
    /// Symbols answered from memory.
    pub hits: u64,
    /// Symbols read from ClickHouse: not held, held at an older version, or expired.
    pub misses: u64,
    /// Requests that went straight to ClickHouse because Redis did not give the versions.
    pub bypassed: u64,
    pub entries: u64,
    pub bytes: u64,
}

/// ClickHouse's answers by (symbol, period, range), at most `capacity` bytes of them.
pub struct HistoryCache {
    entries: Cache<Key, Entry, Bytes>,
    ttl: Duration,
    hits: AtomicU64,
    misses: AtomicU64,
    bypassed: AtomicU64,
}

impl HistoryCache {
    pub fn new(capacity_bytes: u64, ttl: Duration) -> HistoryCache {
        let items = (capacity_bytes / 16_384).max(16) as usize;
        HistoryCache {
            entries: Cache::with_weighter(items, capacity_bytes, Bytes),
            ttl,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            bypassed: AtomicU64::new(0),
        }
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
            self.bypassed.fetch_add(1, Ordering::Relaxed);
            return history.bars(symbols, period, range).await;
        };
        let key = |symbol: Symbol| Key { symbol, period, from: range.0, to: range.1 };
        let mut found: Vec<Option<Vec<Served>>> =
            symbols.iter().zip(&versions).map(|(s, v)| self.held(&key(*s), *v)).collect();
        let missing: Vec<usize> = (0..symbols.len()).filter(|i| found[*i].is_none()).collect();
        self.hits.fetch_add((symbols.len() - missing.len()) as u64, Ordering::Relaxed);
        self.misses.fetch_add(missing.len() as u64, Ordering::Relaxed);
        if !missing.is_empty() {
            let wanted: Vec<Symbol> = missing.iter().map(|i| symbols[*i]).collect();
            let fetched = history.bars(&wanted, period, range).await?;
            let read_at = Instant::now();
            for (i, bars) in missing.into_iter().zip(fetched) {
                let entry = Entry { version: versions[i], bars: bars.iter().map(Served::kept).collect(), read_at };
                self.entries.insert(key(symbols[i]), entry);
                found[i] = Some(bars);
            }
        }
        Ok(found.into_iter().map(|bars| bars.expect("every symbol found or fetched")).collect())
    }

    /// The bars held for `key` at `version` and younger than the TTL.
    fn held(&self, key: &Key, version: Version) -> Option<Vec<Served>> {
        let entry = self.entries.get(key)?;
        (entry.version == version && entry.read_at.elapsed() < self.ttl).then(|| entry.bars.to_vec())
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
