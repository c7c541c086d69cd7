//! Proves the harness: a bar through a private Redis with the `redis` crate, and through a private
//! ClickHouse's ReplacingMergeTree with the `clickhouse` crate, read back deduplicated.

use common::keys::{bars_table, Keys, BARS_TABLE};
use common::number::{from_scaled, to_scaled};
use common::{Bar, Ohlcv, Period};
use harness::{schema_statements, ClickHouseServer, RedisServer};
use redis::AsyncCommands;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

fn sample_bar(vol: u64) -> Bar {
    let price = |s: &str| s.parse::<Decimal>().unwrap();
    let v = Ohlcv {
        open: price("1650.5"),
        high: price("1652.3"),
        low: price("1649.9"),
        close: price("1651"),
        vol,
        amount: price("198612345.5"),
    };
    Bar::new("600519.SH".parse().unwrap(), "2026-11-19 09:31:00".parse().unwrap(), &v)
}

#[tokio::test]
async fn a_bar_written_to_the_private_redis_reads_back_equal() {
    let server = RedisServer::start().await.unwrap();
    let mut redis = redis::Client::open(server.url()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let bar = sample_bar(120_300);
    let key = Keys::new("harness:").day_bars(bar.frame.date(), Period::M1, bar.symbol);
    let _: () = redis.zadd(&key, serde_json::to_string(&bar).unwrap(), bar.frame.epoch_seconds()).await.unwrap();
    let stored: Vec<String> =
        redis.zrangebyscore(&key, bar.frame.epoch_seconds(), bar.frame.epoch_seconds()).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(serde_json::from_str::<Bar>(&stored[0]).unwrap(), bar);
}

#[derive(Debug, clickhouse::Row, Serialize, Deserialize)]
struct BarRow {
    symbol: String,
    period: u16,
    frame: u32,
    open: i64,
    high: i64,
    low: i64,
    close: i64,
    vol: u64,
    amount: i128,
    version: u64,
}

impl BarRow {
    fn new(bar: &Bar, period: Period, version: u64) -> BarRow {
        let price = |d: Decimal| to_scaled(d, 4).unwrap() as i64;
        BarRow {
            symbol: bar.symbol.to_string(),
            period: period.minutes(),
            frame: bar.frame.epoch_seconds() as u32,
            open: price(bar.open),
            high: price(bar.high),
            low: price(bar.low),
            close: price(bar.close),
            vol: bar.vol,
            amount: to_scaled(bar.amount, 4).unwrap(),
            version,
        }
    }

    fn bar(&self) -> Bar {
        let v = Ohlcv {
            open: from_scaled(self.open.into(), 4),
            high: from_scaled(self.high.into(), 4),
            low: from_scaled(self.low.into(), 4),
            close: from_scaled(self.close.into(), 4),
            vol: self.vol,
            amount: from_scaled(self.amount, 4),
        };
        Bar::new(self.symbol.parse().unwrap(), common::Frame::from_epoch_seconds(self.frame.into()), &v)
    }
}

#[tokio::test]
async fn a_bar_inserted_twice_into_the_private_clickhouse_reads_back_once_deduplicated() {
    let server = ClickHouseServer::start().await.unwrap();
    let client = server.client();
    for statement in schema_statements("tickbar") {
        client.query(&statement).execute().await.unwrap();
    }
    for statement in schema_statements("tickbar") {
        client.query(&statement).execute().await.expect("the DDL is idempotent");
    }
    let (first, resent) = (sample_bar(100), sample_bar(120_300));
    let tickbar = client.clone().with_database("tickbar");
    for (bar, version) in [(&first, 1), (&resent, 2)] {
        let mut insert = tickbar.insert::<BarRow>(BARS_TABLE).await.unwrap();
        insert.write(&BarRow::new(bar, Period::M1, version)).await.unwrap();
        insert.end().await.unwrap();
    }
    let sql = format!("SELECT ?fields FROM {} FINAL WHERE symbol = ? AND period = ?", bars_table("tickbar"));
    let rows: Vec<BarRow> = client.query(&sql).bind("600519.SH").bind(1u16).fetch_all().await.unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].bar(), resent, "the re-sent bar replaced the first");
}
