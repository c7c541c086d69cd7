//! Bars written where the services write them: same-day bars into Redis with the producer's own
//! write (so the query API's tests cannot drift from it), history into ClickHouse as the consumer
//! inserts it.

use common::keys::Keys;
use common::{Bar, BarEvent, BarEventKind, Period};
use runtime::clickhouse::BarRow;

use crate::{HarnessError, Result};

/// Writes `bars` of `period` into the bars table of `database`, as the consumer does (a vendor
/// version: now in microseconds).
pub async fn write_history(client: &clickhouse::Client, database: &str, period: Period, bars: &[Bar]) -> Result<()> {
    let failed = |e: clickhouse::error::Error| HarnessError::Store(e.to_string());
    let client = client.clone().with_database(database);
    let mut insert = client.insert::<BarRow>(runtime::clickhouse::TABLE).await.map_err(failed)?;
    for bar in bars {
        let row =
            BarRow::new(bar, period, runtime::ops::version_us()).map_err(|e| HarnessError::Store(e.to_string()))?;
        insert.write(&row).await.map_err(failed)?;
    }
    insert.end().await.map_err(failed)
}

/// Writes `bars` of `period` into Redis as closed bars of their days, with the producer's own
/// write of a step's closed bars.
pub async fn write_same_day(
    con: &mut redis::aio::MultiplexedConnection,
    keys: &Keys,
    period: Period,
    bars: &[Bar],
) -> Result<()> {
    let events: Vec<BarEvent> =
        bars.iter().map(|bar| BarEvent { kind: BarEventKind::Closed, period, bar: bar.clone() }).collect();
    let mut pipe = redis::pipe();
    producer::store::write_bars(&mut pipe, keys, &events, runtime::ops::version_us());
    pipe.query_async::<()>(con).await.map_err(|e| HarnessError::Store(e.to_string()))
}
