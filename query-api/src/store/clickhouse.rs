//! History in ClickHouse: symbols and a period over a range of frames, each symbol's last bars, or
//! every symbol's latest bar at a moment, and the archived ticks of symbols over a range or their
//! last N, read deduplicated (`FINAL`) in one query, every value bound as a parameter, never spliced into
//! the query text.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::adjust::Factors;
use common::instrument::Instrument;
use common::{Frame, Period, Source, Symbol};
use runtime::archive::TickRow;
use runtime::clickhouse::{BarRow, FactorRow, InstrumentRow};
use runtime::keys::{bars_table, factors_table, instruments_table, ticks_table};

use crate::error::{AppError, Result};
use crate::served::{Served, Store};

/// The bars table of one database.
#[derive(Clone)]
pub struct History {
    client: clickhouse::Client,
    database: String,
    table: String,
    factors: String,
    ticks: String,
    instruments: String,
    /// Whether the database is known to hold every migration this release reads.
    migrated: Arc<AtomicBool>,
}

impl History {
    pub fn new(client: clickhouse::Client, database: &str) -> History {
        History {
            client,
            database: database.to_owned(),
            table: bars_table(database),
            factors: factors_table(database),
            ticks: ticks_table(database),
            instruments: instruments_table(database),
            migrated: Arc::default(),
        }
    }

    /// For each of `symbols`, in order: its stored bars of `period` with frames in `from..=to`,
    /// oldest first. One query for all of them.
    pub async fn bars(
        &self,
        symbols: &[Symbol],
        period: Period,
        (from, to): (Frame, Frame),
    ) -> Result<Vec<Vec<Served>>> {
        let sql = format!(
            "SELECT ?fields FROM {} FINAL WHERE symbol IN ({}) AND period = ? \
             AND frame >= toDateTime(?) AND frame <= toDateTime(?) ORDER BY symbol, frame",
            self.table,
            placeholders(symbols.len())
        );
        let query = bind_symbols(self.client.query(&sql), symbols).bind(period.minutes());
        let rows = query.bind(from.epoch_seconds()).bind(to.epoch_seconds()).fetch_all::<BarRow>().await;
        by_symbol(symbols, rows.map_err(AppError::clickhouse)?, false)
    }

    /// For each of `symbols`, in order: its last `count` stored bars of `period` with frames at or
    /// before `end` and outside the `skip` ranges (the days Redis serves), oldest first.
    pub async fn last(
        &self,
        symbols: &[Symbol],
        period: Period,
        (count, end): (u32, Frame),
        skip: &[(Frame, Frame)],
    ) -> Result<Vec<Vec<Served>>> {
        let skipped = " AND NOT (frame >= toDateTime(?) AND frame <= toDateTime(?))".repeat(skip.len());
        let sql = format!(
            "SELECT ?fields FROM {} FINAL WHERE symbol IN ({}) AND period = ? AND frame <= toDateTime(?){skipped} \
             ORDER BY symbol, frame DESC LIMIT ? BY symbol",
            self.table,
            placeholders(symbols.len())
        );
        let mut query = bind_symbols(self.client.query(&sql), symbols).bind(period.minutes()).bind(end.epoch_seconds());
        for (from, to) in skip {
            query = query.bind(from.epoch_seconds()).bind(to.epoch_seconds());
        }
        let rows = query.bind(count).fetch_all::<BarRow>().await.map_err(AppError::clickhouse)?;
        by_symbol(symbols, rows, true)
    }

    /// Every symbol's (or each of `symbols`') latest bar of `period` with a frame in `from..=at`,
    /// in symbol order. One query.
    pub async fn snapshot(
        &self,
        period: Period,
        (from, at): (Frame, Frame),
        symbols: Option<&[Symbol]>,
    ) -> Result<Vec<Served>> {
        let only = symbols.map_or(String::new(), |s| format!(" AND symbol IN ({})", placeholders(s.len())));
        let sql = format!(
            "SELECT ?fields FROM {} FINAL WHERE period = ? AND frame >= toDateTime(?) AND frame <= toDateTime(?){only} \
             ORDER BY symbol, frame DESC LIMIT 1 BY symbol",
            self.table
        );
        let query = self.client.query(&sql).bind(period.minutes()).bind(from.epoch_seconds()).bind(at.epoch_seconds());
        let rows = bind_symbols(query, symbols.unwrap_or_default()).fetch_all::<BarRow>().await;
        rows.map_err(AppError::clickhouse)?.iter().map(served).collect()
    }

    /// The archived ticks of `symbols` with times in `from_ms..=to_ms`, by symbol then in the order
    /// they were fed (time, stream entry, place in it), at most `limit` of them. One query.
    pub async fn ticks(&self, symbols: &[Symbol], (from_ms, to_ms): (i64, i64), limit: usize) -> Result<Vec<TickRow>> {
        let sql = format!(
            "SELECT ?fields FROM {} FINAL WHERE symbol IN ({}) AND day >= toDate(?) AND day <= toDate(?) \
             AND time_ms >= ? AND time_ms <= ? ORDER BY {TICK_ORDER} LIMIT ?",
            self.ticks,
            placeholders(symbols.len())
        );
        let days = |ms: i64| Frame::from_epoch_seconds(ms.div_euclid(1000)).date().to_string();
        let query = bind_symbols(self.client.query(&sql), symbols).bind(days(from_ms)).bind(days(to_ms));
        let query = query.bind(from_ms).bind(to_ms).bind(limit as u64);
        query.fetch_all().await.map_err(AppError::clickhouse)
    }

    /// Each of `symbols`' last `count` archived ticks at or before `to_ms`, by symbol then in the
    /// order they were fed. One query.
    pub async fn last_ticks(&self, symbols: &[Symbol], count: u32, to_ms: i64) -> Result<Vec<TickRow>> {
        let newest_first = TICK_ORDER.replace(", ", " DESC, ") + " DESC";
        let sql = format!(
            "SELECT ?fields FROM {} FINAL WHERE symbol IN ({}) AND time_ms <= ? \
             ORDER BY {newest_first} LIMIT ? BY symbol",
            self.ticks,
            placeholders(symbols.len())
        );
        let query = bind_symbols(self.client.query(&sql), symbols).bind(to_ms).bind(count);
        let mut rows: Vec<TickRow> = query.fetch_all().await.map_err(AppError::clickhouse)?;
        rows.reverse();
        Ok(rows)
    }

    /// The symbols among `symbols` with any stored bar. One query.
    pub async fn stored_symbols(&self, symbols: &[Symbol]) -> Result<Vec<String>> {
        let sql =
            format!("SELECT DISTINCT symbol FROM {} WHERE symbol IN ({})", self.table, placeholders(symbols.len()));
        bind_symbols(self.client.query(&sql), symbols).fetch_all().await.map_err(AppError::clickhouse)
    }

    /// The market date of the latest stored bar of `period`; `None` when there is none.
    pub async fn latest_day(&self, period: Period) -> Result<Option<chrono::NaiveDate>> {
        let sql = format!("SELECT toUInt32(max(frame)) FROM {} WHERE period = ?", self.table);
        let latest: u32 =
            self.client.query(&sql).bind(period.minutes()).fetch_one().await.map_err(AppError::clickhouse)?;
        Ok((latest > 0).then(|| Frame::from_epoch_seconds(latest.into()).date()))
    }

    /// Each of `symbols`' adjustment factors, in order. One query.
    pub async fn factors(&self, symbols: &[Symbol]) -> Result<Vec<Factors>> {
        let sql = format!(
            "SELECT ?fields FROM {} FINAL WHERE symbol IN ({}) ORDER BY symbol, ex_date",
            self.factors,
            placeholders(symbols.len())
        );
        let rows = bind_symbols(self.client.query(&sql), symbols).fetch_all::<FactorRow>().await;
        let rows = rows.map_err(AppError::clickhouse)?;
        Ok(symbols
            .iter()
            .map(|s| {
                let name = s.to_string();
                Factors::new(rows.iter().filter(|r| r.symbol == name).map(FactorRow::point).collect())
            })
            .collect())
    }

    /// The instrument list, or the instruments of `symbols` (those it has), by symbol.
    pub async fn instruments(&self, symbols: Option<&[Symbol]>) -> Result<Vec<Instrument>> {
        let only = symbols.map_or(String::new(), |s| format!(" WHERE symbol IN ({})", placeholders(s.len())));
        let sql = format!("SELECT ?fields FROM {} FINAL{only} ORDER BY symbol", self.instruments);
        let query = bind_symbols(self.client.query(&sql), symbols.unwrap_or_default());
        let rows = query.fetch_all::<InstrumentRow>().await.map_err(AppError::clickhouse)?;
        let unreadable = |e: common::Error| AppError::Unavailable {
            store: Store::ClickHouse,
            detail: format!("an unreadable instrument row: {e}"),
        };
        rows.iter().map(|r| r.instrument().map_err(unreadable)).collect()
    }

    /// Whether ClickHouse answers with the schema this release reads: until it has, the
    /// migrations are applied (or, for a user that may not, found applied by another service).
    pub async fn ping(&self) -> Result<()> {
        if !self.migrated.load(Ordering::Relaxed) {
            runtime::schema::apply_schema(&self.client, &self.database).await.map_err(AppError::clickhouse)?;
            self.migrated.store(true, Ordering::Relaxed);
        }
        self.client.query("SELECT 1").fetch_one::<u8>().await.map(drop).map_err(AppError::clickhouse)
    }
}

/// The archive's own order: a row's identity, as the table is sorted.
const TICK_ORDER: &str = "symbol, time_ms, entry_ms, entry_seq, element";

fn placeholders(n: usize) -> String {
    vec!["?"; n].join(",")
}

fn bind_symbols(mut query: clickhouse::query::Query, symbols: &[Symbol]) -> clickhouse::query::Query {
    for symbol in symbols {
        query = query.bind(symbol.to_string());
    }
    query
}

/// Rows sorted by symbol (then frame, newest first when `newest_first`) as one oldest-first series
/// per symbol of `symbols`.
fn by_symbol(symbols: &[Symbol], rows: Vec<BarRow>, newest_first: bool) -> Result<Vec<Vec<Served>>> {
    let mut series: Vec<Vec<Served>> = vec![Vec::new(); symbols.len()];
    let place: std::collections::HashMap<String, usize> =
        symbols.iter().enumerate().map(|(i, s)| (s.to_string(), i)).collect();
    for row in &rows {
        if let Some(i) = place.get(&row.symbol) {
            series[*i].push(served(row)?);
        }
    }
    if newest_first {
        series.iter_mut().for_each(|s| s.reverse());
    }
    Ok(series)
}

fn served(row: &BarRow) -> Result<Served> {
    let bar = row
        .bar()
        .map_err(|e| AppError::Unavailable { store: Store::ClickHouse, detail: format!("an unreadable row: {e}") })?;
    Ok(Served::history(bar, Source::of_version(row.version)))
}
