//! History in ClickHouse: one symbol and period over a range of frames, read deduplicated
//! (`FINAL`), every value bound as a parameter, never spliced into the query text.

use common::keys::bars_table;
use common::{Frame, Period, Symbol};
use runtime::clickhouse::BarRow;

use crate::error::{AppError, Result};
use crate::served::{Served, Store};

/// The bars table of one database.
#[derive(Clone)]
pub struct History {
    client: clickhouse::Client,
    query: String,
}

impl History {
    pub fn new(client: clickhouse::Client, database: &str) -> History {
        let query = format!(
            "SELECT ?fields FROM {} FINAL WHERE symbol = ? AND period = ? \
             AND frame >= toDateTime(?) AND frame <= toDateTime(?) ORDER BY frame",
            bars_table(database)
        );
        History { client, query }
    }

    /// The stored bars of `symbol` and `period` with frames in `from..=to`, oldest first.
    pub async fn bars(&self, symbol: Symbol, period: Period, (from, to): (Frame, Frame)) -> Result<Vec<Served>> {
        let rows = self
            .client
            .query(&self.query)
            .bind(symbol.to_string())
            .bind(period.minutes())
            .bind(from.epoch_seconds())
            .bind(to.epoch_seconds())
            .fetch_all::<BarRow>()
            .await
            .map_err(AppError::clickhouse)?;
        rows.iter()
            .map(|row| {
                row.bar().map(|bar| Served::parsed(bar, Store::ClickHouse)).map_err(|e| AppError::Unavailable {
                    store: Store::ClickHouse,
                    detail: format!("an unreadable row: {e}"),
                })
            })
            .collect()
    }

    pub async fn ping(&self) -> Result<()> {
        self.client.query("SELECT 1").fetch_one::<u8>().await.map(drop).map_err(AppError::clickhouse)
    }
}
