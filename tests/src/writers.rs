//! Bars written where the services write them: same-day bars into Redis with the producer's own
//! write (so the query API's tests cannot drift from it), history into ClickHouse as the consumer
//! inserts it; and the bars of a CSV file `producer build` wrote, read back.

use common::{Bar, BarEvent, BarEventKind, Period};
use runtime::clickhouse::BarRow;
use runtime::keys::Keys;

use crate::{HarnessError, Result};

/// Writes `bars` of `period` into the bars table of `database`, as the consumer does (a vendor
/// version: now in microseconds).
pub async fn write_history(client: &clickhouse::Client, database: &str, period: Period, bars: &[Bar]) -> Result<()> {
    let failed = |e: clickhouse::error::Error| HarnessError::Store(e.to_string());
    let client = client.clone().with_database(database);
    let mut insert = client.insert::<BarRow>(runtime::clickhouse::TABLE).await.map_err(failed)?;
    for bar in bars {
        let row =
            BarRow::new(bar, period, runtime::clock::version_us()).map_err(|e| HarnessError::Store(e.to_string()))?;
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
    for (channel, message) in producer::store::write_bars(&mut pipe, keys, &events, runtime::clock::version_us()) {
        pipe.publish(channel, message).ignore();
    }
    pipe.query_async::<()>(con).await.map_err(|e| HarnessError::Store(e.to_string()))
}

/// The bars of a CSV file `producer build --format csv` wrote (its header checked, and each
/// row's `vwap` against its amount and volume).
pub fn csv_bars(path: &std::path::Path) -> Vec<Bar> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header = "symbol,frame,open,high,low,close,vol,amount,trades,vwap";
    assert_eq!(lines.next(), Some(header), "{}", path.display());
    lines
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            let trades = if c[8].is_empty() { "null" } else { c[8] };
            let json = format!(
                r#"{{"symbol":"{}","frame":"{}","open":{},"high":{},"low":{},"close":{},"vol":{},"amount":{},"trades":{trades}}}"#,
                c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]
            );
            let bar: Bar = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{l}: {e}"));
            assert_eq!(bar.vwap().map(|p| p.to_string()).unwrap_or_default(), c[9], "{l}");
            bar
        })
        .collect()
}
