//! Tick archive load test: starts a private Redis and ClickHouse (the test harness), writes N QMT
//! whole-market snapshots of S symbols (xtquant's full snapshot dicts, five bid/ask levels, one
//! payload of every symbol each 3 s from 09:30) into the tick stream, sets the producer's group
//! at its end (as if the producer had applied it all), runs the consumer binary and measures
//! archived ticks/s until the archiver's group reaches the end; then checks the row count, merges
//! the table and prints the bytes on disk per snapshot beside the snapshot's JSON size. Then it
//! rebuilds the day's bars from the archive (`producer build --archive`, into `bars` and
//! `live_bars` as the nightly cleanup writes them), merges those tables, and prints the bytes a
//! bar takes and the disk a trading day takes for 100, 1,000 and 5,000 symbols of 3-second
//! snapshots. Run by `deploy/bench-archive.sh`.
//!
//! `cargo run --release -p consumer --example archive_load -- CONSUMER_BIN PRODUCER_BIN [SNAPSHOTS] [SYMBOLS]`

use std::time::{Duration, Instant};

use harness::{ClickHouseServer, RedisServer};
use redis::AsyncCommands;
use runtime::keys::Keys;
use runtime::settings::ArchiveSettings;

/// 2026-11-18 09:30:00 +08:00, epoch ms.
const OPEN_MS: i64 = 1_763_429_400_000;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let consumer = args.get(1).expect("CONSUMER_BIN");
    let producer = args.get(2).expect("PRODUCER_BIN");
    let n: usize = args.get(3).map_or(2_000_000, |a| a.parse().expect("SNAPSHOTS"));
    let symbols: usize = args.get(4).map_or(5_000, |a| a.parse().expect("SYMBOLS"));
    let (redis, clickhouse) = tokio::join!(RedisServer::start(), ClickHouseServer::start());
    let (redis, clickhouse) = (redis?, clickhouse?);
    let config = redis::AsyncConnectionConfig::new().set_response_timeout(Some(Duration::from_secs(60)));
    let mut con = redis::Client::open(redis.url())?.get_multiplexed_async_connection_with_config(&config).await?;
    let stream = Keys::default().tick_stream();
    let (mut json_bytes, mut written, mut step) = (0usize, 0usize, 0i64);
    let mut market = Market::new(symbols);
    while written < n {
        let mut pipe = redis::pipe();
        for _ in 0..20 {
            let payload = market.payload(OPEN_MS + step * 3_000, (n - written).min(symbols));
            json_bytes += payload.len();
            written += (n - written).min(symbols);
            pipe.cmd("XADD").arg(&stream).arg("*").arg("qmt").arg(payload).ignore();
            step += 1;
            if written >= n {
                break;
            }
        }
        pipe.query_async::<()>(&mut con).await?;
    }
    let group = ArchiveSettings::default().producer_group;
    let _: () = redis::cmd("XGROUP").arg("CREATE").arg(&stream).arg(&group).arg("$").query_async(&mut con).await?;
    let last: redis::streams::StreamRangeReply = con.xrevrange_count(&stream, "+", "-", 1).await?;
    let last = last.ids[0].id.clone();
    println!(
        "{n} snapshots of {symbols} symbols in {step} payloads, {:.0} bytes of JSON a snapshot",
        json_bytes as f64 / n as f64
    );

    let started = Instant::now();
    let log = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into());
    let env = [("TICKBAR__REDIS__URL", redis.url()), ("TICKBAR__CLICKHOUSE__URL", clickhouse.url()), ("RUST_LOG", log)];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut child = harness::ServiceProcess::spawn(consumer, &[], &env);
    let archive_group = ArchiveSettings::default().group;
    loop {
        let groups: redis::streams::StreamInfoGroupsReply = con.xinfo_groups(&stream).await?;
        if groups.groups.iter().any(|g| g.name == archive_group && g.last_delivered_id == last) {
            break;
        }
        anyhow::ensure!(started.elapsed() < Duration::from_secs(900), "not archived after 15 minutes");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let secs = started.elapsed().as_secs_f64();
    let peak = harness::service::peak_rss_mib(child.child.id());
    child.kill();
    println!(
        "archived {n} snapshots in {secs:.2} s: {:.0} ticks/s (consumer start included; peak RSS {peak})",
        n as f64 / secs
    );

    let client = clickhouse.client();
    let (rows, bytes) = merged(&client, "ticks").await?;
    anyhow::ensure!(rows == n as u64, "{rows} rows for {n} snapshots");
    let version: String = client.query("SELECT version()").fetch_one().await?;
    let per = bytes as f64 / n as f64;
    let json = json_bytes as f64 / n as f64;
    println!(
        "ClickHouse {version}: {bytes} bytes on disk after merges, {per:.1} a snapshot, 1/{:.1} of its JSON",
        json / per
    );

    codecs(&clickhouse, json).await?;

    let day = common::Frame::from_epoch_seconds(OPEN_MS / 1000).date().to_string();
    let out = std::process::Command::new(producer)
        .args(["build", "--archive", "--from", &day, "--quiet"])
        .envs(env.iter().copied())
        .output()?;
    anyhow::ensure!(out.status.success(), "producer build --archive: {}", String::from_utf8_lossy(&out.stderr));
    let (mut bars, mut bar_bytes) = (0, 0);
    for table in ["bars", "live_bars"] {
        let (rows, bytes) = merged(&client, table).await?;
        println!("{table}: {rows} bars of the day rebuilt from the archive, {bytes} bytes on disk after merges");
        (bars, bar_bytes) = (bars + rows, bar_bytes + bytes);
    }
    let per_bar = bar_bytes as f64 / bars as f64;
    let bars_a_symbol = bars as f64 / symbols as f64;
    println!("{per_bar:.1} bytes a bar; {bars_a_symbol:.0} bars a symbol and day over both tables");
    if (n as f64) < symbols as f64 * SNAPSHOTS_A_DAY {
        println!(
            "less than a whole day ({SNAPSHOTS_A_DAY} snapshots a symbol): the rest of the day is flat bars, no sizing"
        );
        return Ok(());
    }
    for listed in [100.0, 1_000.0, 5_000.0] {
        let ticks = listed * SNAPSHOTS_A_DAY * per / 1e6;
        let bars = listed * bars_a_symbol * per_bar / 1e6;
        println!(
            "a trading day of {listed:.0} symbols (3-second snapshots): ticks {ticks:.1} MB + bars {bars:.1} MB = {:.1} MB",
            ticks + bars
        );
    }
    Ok(())
}

/// The same rows on current ClickHouse with the codecs of `sql/003_ticks.sql`, through chdb
/// (`deploy/archive_codecs.py`, with the venv's python `TICKBAR_PYTHON`); skipped without it.
async fn codecs(clickhouse: &ClickHouseServer, json: f64) -> anyhow::Result<()> {
    let Ok(python) = std::env::var("TICKBAR_PYTHON") else {
        println!("TICKBAR_PYTHON unset: the codecs on current ClickHouse are not measured");
        return Ok(());
    };
    let statements = runtime::schema::schema_statements("tickbar");
    let ddl = statements.iter().find(|s| s.contains(".ticks")).expect("the ticks table's DDL");
    let file = std::env::temp_dir().join(format!("tickbar-ticks-ddl-{}.sql", std::process::id()));
    std::fs::write(&file, ddl)?;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/archive_codecs.py");
    let status = std::process::Command::new(python)
        .arg(script)
        .arg(&file)
        .arg(clickhouse.url())
        .arg(format!("{json:.1}"))
        .status()?;
    std::fs::remove_file(&file)?;
    anyhow::ensure!(status.success(), "deploy/archive_codecs.py failed");
    Ok(())
}

/// 3-second snapshots of a symbol in a trading day's four hours.
const SNAPSHOTS_A_DAY: f64 = 4.0 * 3600.0 / 3.0;

/// `tickbar.{table}` merged into its final parts: its rows and its bytes on disk.
async fn merged(client: &clickhouse::Client, table: &str) -> anyhow::Result<(u64, u64)> {
    client.query(&format!("OPTIMIZE TABLE tickbar.{table} FINAL")).execute().await?;
    let rows: u64 = client.query(&format!("SELECT count() FROM tickbar.{table}")).fetch_one().await?;
    let sql = "SELECT sum(bytes_on_disk) FROM system.parts WHERE database = 'tickbar' AND table = ? AND active";
    Ok((rows, client.query(sql).bind(table).fetch_one().await?))
}

/// A whole market's state: each symbol's last price, cumulative volume, amount and trade count.
struct Market {
    symbols: Vec<(String, i64, u64, i128, u64)>,
    seed: u64,
}

impl Market {
    fn new(n: usize) -> Market {
        let symbols = (0..n)
            .map(|i| {
                let code = if i % 2 == 0 { format!("{:06}.SH", 600_000 + i) } else { format!("{:06}.SZ", i) };
                (code, 20_000 + (i as i64 * 7919) % 2_000_000, 0, 0, 0)
            })
            .collect();
        Market { symbols, seed: 42 }
    }

    fn next(&mut self, below: u64) -> u64 {
        self.seed = self.seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.seed >> 33) % below
    }

    /// One whole-market payload of the first `count` symbols at `time_ms`, prices in 1/10,000 yuan
    /// moving by ticks of 0.01 yuan.
    fn payload(&mut self, time_ms: i64, count: usize) -> String {
        let mut out = String::from("{");
        for i in 0..count {
            let (step, lots, trades) = (self.next(5) as i64 - 2, self.next(300), self.next(40));
            let s = &mut self.symbols[i];
            s.1 = (s.1 + step * 100).max(20_000);
            s.2 += lots;
            s.3 += i128::from(lots) * 100 * i128::from(s.1);
            s.4 += trades;
            let (code, price, volume, amount, count) = (s.0.clone(), s.1, s.2, s.3, s.4);
            let yuan = |units: i64| format!("{}.{:02}", units / 10_000, (units % 10_000) / 100);
            let level = |side: i64| (1..=5).map(|k| yuan(price + side * k * 100)).collect::<Vec<_>>().join(",");
            let vols = (0..5).map(|_| self.next(900).to_string()).collect::<Vec<_>>().join(",");
            let vols2 = (0..5).map(|_| self.next(900).to_string()).collect::<Vec<_>>().join(",");
            if i > 0 {
                out.push(',');
            }
            out.push_str(&format!(
                r#""{code}":{{"time":{time_ms},"lastPrice":{},"open":{},"high":{},"low":{},"lastClose":{},"amount":{}.{:02},"volume":{volume},"pvolume":{},"stockStatus":3,"openInt":13,"lastSettlementPrice":0,"askPrice":[{}],"bidPrice":[{}],"askVol":[{vols}],"bidVol":[{vols2}],"settlementPrice":0,"transactionNum":{count},"pe":0}}"#,
                yuan(price),
                yuan(price - 300),
                yuan(price + 500),
                yuan(price - 700),
                yuan(price - 200),
                amount / 10_000,
                (amount % 10_000) / 100,
                volume * 100,
                level(1),
                level(-1),
            ));
        }
        out.push('}');
        out
    }
}
