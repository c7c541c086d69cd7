//! ClickHouse for the consumer: the bars a batch would write that are already stored (one range
//! query per batch), the latest stored frame per symbol (the high-water marks), the INSERT of a
//! batch in RowBinary, the cleanup's write of a day's live bars, and the reads behind the monitor
//! page, the integrity check and the reconciliation of live bars with the vendor's. Every read is
//! deduplicated (`FINAL`) but the marks', where any row counts; every value is bound, never spliced.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use clickhouse::Row;
use common::time::{day_number, epoch_ms};
use common::{Period, Source};
use runtime::clickhouse::{BarRow, FactorRow, TABLE};
use runtime::keys::{bars_table, live_bars_table, FACTORS_TABLE};
use runtime::metrics::Durations;
use serde::Deserialize;

use crate::error::Result;

/// The bars table of one database.
#[derive(Clone)]
pub struct History {
    client: clickhouse::Client,
    table: String,
    live_table: String,
    insert_timeout: Duration,
    /// How long each INSERT took, landed or not.
    inserts: Arc<Durations>,
}

/// One (symbol, period) of a day as stored: its row count, distinct frames, and the frames.
#[derive(Debug, Row, Deserialize)]
pub struct DayGroup {
    pub symbol: String,
    pub period: u16,
    pub rows: u64,
    pub distinct: u64,
    pub frames: Vec<u32>,
}

/// One (symbol, period) of a day that both live and vendor bars hold: the frames only the vendor
/// has (missing live), only the live bars have (missing from the vendor's), the frames both have
/// whose OHLC or volume differ, and the live volume less the vendor's.
#[derive(Debug, Clone, PartialEq, Eq, Row, Deserialize, serde::Serialize)]
pub struct Compared {
    pub symbol: String,
    pub period: u16,
    pub missing_live: u64,
    pub missing_vendor: u64,
    pub differing: u64,
    pub volume_difference: i64,
}

impl Compared {
    /// Whether the two sides agree on every frame.
    pub fn agrees(&self) -> bool {
        self.missing_live == 0 && self.missing_vendor == 0 && self.differing == 0 && self.volume_difference == 0
    }
}

/// One symbol's day: last close (in units of 10^-4) and volume.
#[derive(Debug, Row, Deserialize)]
pub struct DailyRow {
    pub symbol: String,
    /// `YYYYMMDD`
    pub day: u32,
    pub close: i64,
    pub vol: u64,
}

/// One symbol's closes of a day: (frame, close in units of 10^-4), in any order.
#[derive(Debug, Row, Deserialize)]
pub struct Closes {
    pub symbol: String,
    pub closes: Vec<(u32, i64)>,
}

#[derive(Row, Deserialize)]
struct Mark {
    symbol: String,
    frame: u32,
}

#[derive(Row, Deserialize)]
struct PeriodRows {
    period: u16,
    rows: u64,
}

impl History {
    pub fn new(client: clickhouse::Client, database: &str, insert_timeout: Duration) -> History {
        let inserts = Arc::new(Durations::default());
        History {
            client: client.with_database(database),
            table: bars_table(database),
            live_table: live_bars_table(database),
            insert_timeout,
            inserts,
        }
    }

    /// The durations of this consumer's INSERTs.
    pub fn inserts(&self) -> &Durations {
        &self.inserts
    }

    /// The stored rows among the (symbol, frame)s of `rows`, all of one period: one query over the
    /// batch's bounding box of symbols and frames, filtered to its symbols.
    pub async fn existing(&self, period: Period, rows: &[BarRow]) -> Result<Vec<BarRow>> {
        let (Some(first), Some(last)) = (rows.iter().map(|r| &r.symbol).min(), rows.iter().map(|r| &r.symbol).max())
        else {
            return Ok(Vec::new());
        };
        let from = rows.iter().map(|r| r.frame).min().unwrap_or(0);
        let to = rows.iter().map(|r| r.frame).max().unwrap_or(0);
        let mut symbols: Vec<&str> = rows.iter().map(|r| r.symbol.as_str()).collect();
        symbols.sort_unstable();
        symbols.dedup();
        let sql = format!(
            "SELECT ?fields FROM {} FINAL WHERE period = ? AND symbol >= ? AND symbol <= ? \
             AND frame >= toDateTime(?) AND frame <= toDateTime(?) AND has(?, symbol)",
            self.table
        );
        let query = self.client.query(&sql).bind(period.minutes()).bind(first).bind(last).bind(from).bind(to);
        Ok(query.bind(symbols).fetch_all().await?)
    }

    /// The latest frame stored for each symbol of `period` (any row counts, merged or not).
    pub async fn high_water(&self, period: Period) -> Result<HashMap<String, u32>> {
        let sql = format!(
            "SELECT symbol, toUInt32(max(frame)) AS frame FROM {} WHERE period = ? GROUP BY symbol",
            self.table
        );
        let marks: Vec<Mark> = self.client.query(&sql).bind(period.minutes()).fetch_all().await?;
        Ok(marks.into_iter().map(|m| (m.symbol, m.frame)).collect())
    }

    /// Writes `rows` in one INSERT; it either lands whole or fails.
    pub async fn insert(&self, rows: &[BarRow]) -> Result<()> {
        self.insert_into(TABLE, rows).await
    }

    /// Writes bars tickbar built live (each of a live version) into `live_bars` and `bars`.
    pub async fn insert_live(&self, rows: &[BarRow]) -> Result<()> {
        self.timed(runtime::clickhouse::insert_live(&self.client, rows, self.insert_timeout)).await
    }

    /// The (symbol, period)s of `day` that both the live bars and the vendor's bars hold, each
    /// with how the two differ, by period then symbol.
    pub async fn reconcile(&self, day: NaiveDate) -> Result<Vec<Compared>> {
        let sql = format!(
            "SELECT symbol, period, \
               toUInt64(countIf(has_live = 0)) AS missing_live, toUInt64(countIf(has_vendor = 0)) AS missing_vendor, \
               toUInt64(countIf(has_live = 1 AND has_vendor = 1 AND differ = 1)) AS differing, \
               toInt64(sum(live_vol)) - toInt64(sum(vendor_vol)) AS volume_difference \
             FROM ( \
               SELECT symbol, period, frame, max(live) AS has_live, max(1 - live) AS has_vendor, \
                 toUInt8(min(open) != max(open) OR min(high) != max(high) OR min(low) != max(low) \
                   OR min(close) != max(close) OR min(vol) != max(vol)) AS differ, \
                 sumIf(vol, live = 1) AS live_vol, sumIf(vol, live = 0) AS vendor_vol \
               FROM ( \
                 SELECT symbol, period, frame, open, high, low, close, vol, toUInt8(1) AS live FROM {live} FINAL \
                   WHERE frame >= toDateTime(?) AND frame < toDateTime(?) \
                 UNION ALL \
                 SELECT symbol, period, frame, open, high, low, close, vol, toUInt8(0) AS live FROM {bars} FINAL \
                   WHERE frame >= toDateTime(?) AND frame < toDateTime(?) AND version >= ? \
               ) GROUP BY symbol, period, frame \
             ) GROUP BY symbol, period HAVING max(has_live) = 1 AND max(has_vendor) = 1 \
             ORDER BY period, symbol",
            live = self.live_table,
            bars = self.table,
        );
        let (from, to) = day_bounds(day, day);
        let query = self.client.query(&sql).bind(from).bind(to).bind(from).bind(to);
        Ok(query.bind(Source::LIVE_VERSIONS_END).fetch_all().await?)
    }

    /// Writes adjustment factors in one INSERT.
    pub async fn insert_factors(&self, rows: &[FactorRow]) -> Result<()> {
        self.insert_into(FACTORS_TABLE, rows).await
    }

    async fn insert_into<T>(&self, table: &str, rows: &[T]) -> Result<()>
    where
        T: clickhouse::RowWrite + for<'a> clickhouse::Row<Value<'a> = T>,
    {
        self.timed(runtime::clickhouse::insert(&self.client, table, rows, self.insert_timeout)).await
    }

    /// Runs `insert`, recording how long it took, landed or not.
    async fn timed(&self, insert: impl std::future::Future<Output = clickhouse::error::Result<()>>) -> Result<()> {
        let started = std::time::Instant::now();
        let inserted = insert.await;
        self.inserts.record(started.elapsed());
        Ok(inserted?)
    }

    /// Deduplicated rows per period.
    pub async fn rows_per_period(&self) -> Result<BTreeMap<u16, u64>> {
        let sql = format!("SELECT period, count() AS rows FROM {} FINAL GROUP BY period ORDER BY period", self.table);
        let rows: Vec<PeriodRows> = self.client.query(&sql).fetch_all().await?;
        Ok(rows.into_iter().map(|r| (r.period, r.rows)).collect())
    }

    /// Every (symbol, period) stored for `day`.
    pub async fn day_groups(&self, day: NaiveDate) -> Result<Vec<DayGroup>> {
        let sql = format!(
            "SELECT symbol, period, count() AS rows, uniqExact(frame) AS distinct, groupArray(toUInt32(frame)) AS frames \
             FROM {} FINAL WHERE frame >= toDateTime(?) AND frame < toDateTime(?) GROUP BY symbol, period",
            self.table
        );
        let (from, to) = day_bounds(day, day);
        Ok(self.client.query(&sql).bind(from).bind(to).fetch_all().await?)
    }

    /// Each symbol's last close and volume per day of `period` bars over `first..=last`.
    pub async fn daily(&self, period: Period, first: NaiveDate, last: NaiveDate) -> Result<Vec<DailyRow>> {
        let sql = format!(
            "SELECT symbol, toYYYYMMDD(frame) AS day, argMax(close, frame) AS close, sum(vol) AS vol \
             FROM {} FINAL WHERE period = ? AND frame >= toDateTime(?) AND frame < toDateTime(?) \
             GROUP BY symbol, day ORDER BY symbol, day",
            self.table
        );
        let (from, to) = day_bounds(first, last);
        Ok(self.client.query(&sql).bind(period.minutes()).bind(from).bind(to).fetch_all().await?)
    }

    /// Each symbol's closes of `period` bars on `day`.
    pub async fn closes(&self, period: Period, day: NaiveDate) -> Result<Vec<Closes>> {
        let sql = format!(
            "SELECT symbol, groupArray((toUInt32(frame), close)) AS closes FROM {} FINAL \
             WHERE period = ? AND frame >= toDateTime(?) AND frame < toDateTime(?) GROUP BY symbol",
            self.table
        );
        let (from, to) = day_bounds(day, day);
        Ok(self.client.query(&sql).bind(period.minutes()).bind(from).bind(to).fetch_all().await?)
    }

    pub async fn ping(&self) -> Result<()> {
        self.client.query("SELECT 1").fetch_one::<u8>().await?;
        Ok(())
    }
}

/// Epoch seconds of the start of `first` and of the day after `last`, market time.
fn day_bounds(first: NaiveDate, last: NaiveDate) -> (u32, u32) {
    let start = |d: NaiveDate| (epoch_ms(day_number(d), 0) / 1000) as u32;
    (start(first), start(last) + 86_400)
}
