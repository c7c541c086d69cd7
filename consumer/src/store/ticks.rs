//! ClickHouse for the tick archive (`tickbar.ticks`): the INSERT of a batch of ticks, which of a
//! batch's ticks are stored already (asked only when an earlier attempt may have landed), and the
//! whole days the retention drops. Every value is bound, never spliced.

use std::collections::HashSet;
use std::time::Duration;

use chrono::NaiveDate;
use clickhouse::Row;
use common::time::date_of;
use runtime::archive::{TickRow, TABLE};
use runtime::keys::ticks_table;
use serde::Deserialize;

use crate::error::Result;

/// The ticks table of one database.
#[derive(Clone)]
pub struct Archive {
    client: clickhouse::Client,
    database: String,
    table: String,
    insert_timeout: Duration,
}

/// What identifies a stored tick: its symbol, stream entry and position in the entry.
pub type TickKey = (String, u64, u64, u32);

#[derive(Row, Deserialize)]
struct Key {
    symbol: String,
    entry_ms: u64,
    entry_seq: u64,
    element: u32,
}

impl Archive {
    pub fn new(client: clickhouse::Client, database: &str, insert_timeout: Duration) -> Archive {
        Archive {
            client: client.with_database(database),
            database: database.to_owned(),
            table: ticks_table(database),
            insert_timeout,
        }
    }

    /// Writes `rows` in one INSERT that lands whole or fails.
    pub async fn insert(&self, rows: &[TickRow]) -> Result<()> {
        Ok(runtime::clickhouse::insert(&self.client, TABLE, rows, self.insert_timeout).await?)
    }

    /// Which of `rows` are stored: one read over their days and range of stream entries.
    pub async fn stored(&self, rows: &[TickRow]) -> Result<HashSet<TickKey>> {
        let (Some(first), Some(last)) = (rows.iter().map(|r| r.day).min(), rows.iter().map(|r| r.day).max()) else {
            return Ok(HashSet::new());
        };
        let (low, high) = (rows.iter().map(|r| r.entry_ms).min(), rows.iter().map(|r| r.entry_ms).max());
        let sql = format!(
            "SELECT ?fields FROM {} WHERE day >= toDate(?) AND day <= toDate(?) AND entry_ms >= ? AND entry_ms <= ?",
            self.table
        );
        let day = |d: u16| date_of(d.into()).to_string();
        let query = self.client.query(&sql).bind(day(first)).bind(day(last)).bind(low).bind(high);
        let keys: Vec<Key> = query.fetch_all().await?;
        Ok(keys.into_iter().map(|k| (k.symbol, k.entry_ms, k.entry_seq, k.element)).collect())
    }

    /// Drops every whole day of ticks before `first_kept`; the days dropped.
    pub async fn expire(&self, first_kept: NaiveDate) -> Result<Vec<NaiveDate>> {
        let sql = "SELECT DISTINCT partition FROM system.parts WHERE database = ? AND table = ? AND active";
        let partitions: Vec<String> = self.client.query(sql).bind(&self.database).bind(TABLE).fetch_all().await?;
        let mut dropped = Vec::new();
        for day in partitions.iter().filter_map(|p| p.trim_matches('\'').parse::<NaiveDate>().ok()) {
            if day < first_kept {
                let sql = format!("ALTER TABLE {} DROP PARTITION '{day}'", self.table);
                self.client.query(&sql).execute().await?;
                dropped.push(day);
            }
        }
        dropped.sort();
        Ok(dropped)
    }
}
