//! Proves the harness: a bar through a private Redis with the `redis` crate, and through a private
//! ClickHouse's ReplacingMergeTree with the `clickhouse` crate, read back deduplicated.

use common::{amount, price, Bar, Ohlcv, Period};
use harness::{ClickHouseServer, RedisServer};
use redis::AsyncCommands;
use runtime::clickhouse::BarRow;
use runtime::keys::{bars_table, Keys, BARS_TABLE};
use runtime::schema::apply_schema;

fn sample_bar(vol: u64) -> Bar {
    let v = Ohlcv {
        open: price!(1650.5),
        high: price!(1652.3),
        low: price!(1649.9),
        close: price!(1651),
        vol,
        amount: amount!(198612345.5),
        trades: None,
    };
    Bar::new("600519.SH".parse().unwrap(), "2026-11-19 09:31:00".parse().unwrap(), &v)
}

#[tokio::test]
async fn a_bar_written_to_the_private_redis_reads_back_equal() {
    let server = RedisServer::start().await.unwrap();
    let mut redis = server.connect().await.unwrap();
    let bar = sample_bar(120_300);
    let key = Keys::new("harness:").day_bars(bar.frame.date(), Period::M1, bar.symbol);
    let _: () = redis.zadd(&key, serde_json::to_string(&bar).unwrap(), bar.frame.epoch_seconds()).await.unwrap();
    let stored: Vec<String> =
        redis.zrangebyscore(&key, bar.frame.epoch_seconds(), bar.frame.epoch_seconds()).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(serde_json::from_str::<Bar>(&stored[0]).unwrap(), bar);
}

#[tokio::test]
async fn a_bar_inserted_twice_into_the_private_clickhouse_reads_back_once_deduplicated() {
    let server = ClickHouseServer::start().await.unwrap();
    let client = server.client();
    apply_schema(&client, "tickbar").await.unwrap();
    apply_schema(&client, "tickbar").await.expect("the DDL is idempotent");
    let (first, resent) = (sample_bar(100), sample_bar(120_300));
    let tickbar = client.clone().with_database("tickbar");
    for (bar, version) in [(&first, 1), (&resent, 2)] {
        let mut insert = tickbar.insert::<BarRow>(BARS_TABLE).await.unwrap();
        insert.write(&BarRow::new(bar, Period::M1, version).unwrap()).await.unwrap();
        insert.end().await.unwrap();
    }
    let sql = format!("SELECT ?fields FROM {} FINAL WHERE symbol = ? AND period = ?", bars_table("tickbar"));
    let rows: Vec<BarRow> = client.query(&sql).bind("600519.SH").bind(1u16).fetch_all().await.unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].bar().unwrap(), resent, "the re-sent bar replaced the first");
}
