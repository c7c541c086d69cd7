//! Consumer load test: starts a private Redis and ClickHouse (the test harness), fills the five
//! history queues with N distinct bars in the seed-era shape, runs the consumer binary and measures
//! bars/s until every queue and processing list is empty, then checks that every bar is exactly one
//! deduplicated row. Then times the seed's approach on 10,000 bars: one
//! existence check and one single-row INSERT per bar. Run by `deploy/bench-consumer.sh`.
//!
//! `cargo run --release -p consumer --example load -- CONSUMER_BIN [BARS] [SEED_BARS]` (0 skips the seed run)

use std::time::{Duration, Instant};

use common::{Bar, Period};
use harness::{ClickHouseServer, RedisServer};
use redis::AsyncCommands;
use runtime::clickhouse::{BarRow, TABLE};
use runtime::keys::Keys;
use runtime::schema::apply_schema;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let consumer = args.get(1).expect("CONSUMER_BIN");
    let n: usize = args.get(2).map_or(1_000_000, |a| a.parse().expect("BARS"));
    let seed_bars: usize = args.get(3).map_or(10_000, |a| a.parse().expect("SEED_BARS"));
    let (redis, clickhouse) = tokio::join!(RedisServer::start(), ClickHouseServer::start());
    let (redis, clickhouse) = (redis?, clickhouse?);
    let config = redis::AsyncConnectionConfig::new().set_response_timeout(Some(Duration::from_secs(30)));
    let mut con = redis::Client::open(redis.url())?.get_multiplexed_async_connection_with_config(&config).await?;
    let keys = Keys::default();
    let symbols: Vec<String> = (600_000..600_200).map(|code| format!("{code}.SH")).collect();
    let bars = harness::seed::history(n, &symbols);
    for period in Period::DEFAULTS {
        let items: Vec<&String> = bars.iter().filter(|(p, _)| *p == period).map(|(_, b)| b).collect();
        for chunk in items.chunks(10_000) {
            let _: () = con.lpush(keys.history_queue(period), chunk).await?;
        }
    }
    println!("queued {n} bars over the five queues");

    let started = Instant::now();
    let log = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into());
    let env = [("TICKBAR__REDIS__URL", redis.url()), ("TICKBAR__CLICKHOUSE__URL", clickhouse.url()), ("RUST_LOG", log)];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut child = harness::ServiceProcess::spawn(consumer, &[], &env);
    let mut lists: Vec<String> = Period::DEFAULTS.iter().map(|p| keys.history_queue(*p)).collect();
    lists.extend(Period::DEFAULTS.iter().flat_map(|p| (0..16).map(|worker| keys.history_processing(*p, worker))));
    loop {
        let mut pipe = redis::pipe();
        for list in &lists {
            pipe.llen(list);
        }
        let lens: Vec<u64> = pipe.query_async(&mut con).await?;
        if lens.iter().all(|n| *n == 0) {
            break;
        }
        anyhow::ensure!(started.elapsed() < Duration::from_secs(600), "not drained after 10 minutes");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let secs = started.elapsed().as_secs_f64();
    child.kill();
    if std::env::var_os("TICKBAR_BENCH_LOG").is_some() {
        eprintln!("{}", child.log());
    }
    let client = clickhouse.client();
    let rows = client.query("SELECT count() FROM tickbar.bars FINAL").fetch_one::<u64>().await?;
    anyhow::ensure!(rows == n as u64, "{rows} deduplicated rows for {n} bars");
    let rate = n as f64 / secs;
    println!("consumer: {n} bars in {secs:.2} s = {rate:.0} bars/s (from start, schema included)");

    if seed_bars == 0 {
        return Ok(());
    }
    let seed = seed_approach(&clickhouse, &bars[..seed_bars.min(n)]).await?;
    println!(
        "seed approach (check + single-row INSERT per bar): {seed:.0} bars/s; the consumer is {:.0}x faster",
        rate / seed
    );
    Ok(())
}

/// The seed's way: per bar, one existence query and one INSERT of one row, into a fresh database.
async fn seed_approach(clickhouse: &ClickHouseServer, bars: &[(Period, String)]) -> anyhow::Result<f64> {
    let client = clickhouse.client();
    apply_schema(&client, "seed").await?;
    let seed = client.clone().with_database("seed");
    let started = Instant::now();
    for (version, (period, item)) in bars.iter().enumerate() {
        let bar: Bar = serde_json::from_str(item)?;
        let row = BarRow::new(&bar, *period, version as u64)?;
        let exists = client
            .query("SELECT count() FROM seed.bars WHERE symbol = ? AND period = ? AND frame = toDateTime(?)")
            .bind(&row.symbol)
            .bind(row.period)
            .bind(row.frame)
            .fetch_one::<u64>()
            .await?;
        if exists == 0 {
            let mut insert = seed.insert::<BarRow>(TABLE).await?;
            insert.write(&row).await?;
            insert.end().await?;
        }
    }
    Ok(bars.len() as f64 / started.elapsed().as_secs_f64())
}
