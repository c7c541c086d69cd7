//! Producer load test: pushes N QMT snapshots (whole-quote payloads of 100 symbols) into the tick
//! stream of a Redis, starts the producer binary in event time, and measures end-to-end ticks/s
//! until the last entry is committed (bars in Redis, acknowledged), and the producer's peak RSS.
//! Snapshots come every STEP_MS of market time from 09:30, the lunch break skipped: with 60000 and
//! 241 rounds every symbol has a snapshot in every minute of a whole day, so every bar of every
//! period is built and held. With SHARDS above 1, each payload is split by symbol over the shards'
//! streams (as `producer replay` and the QMT bridge split it) and one producer per shard runs;
//! their peak RSS is each one's. REDIS_URLS of several nodes (comma-separated) are a Redis Cluster:
//! the producers run in cluster mode, each shard's stream on its hash slot's master. Run by
//! `deploy/bench-producer.sh`.
//!
//! `cargo run --release -p producer --example producer_load -- REDIS_URLS PRODUCER_BIN [SNAPSHOTS] [SYMBOLS] [STEP_MS] [SHARDS]`

use std::time::{Duration, Instant};

use common::shard::shard_of;
use redis::aio::ConnectionLike;
use redis::AsyncCommands;
use runtime::settings::{RedisMode, RedisSettings};

const PER_PAYLOAD: usize = 100;
const PREFIX: &str = "load:";

#[tokio::main]
async fn main() -> redis::RedisResult<()> {
    let args: Vec<String> = std::env::args().collect();
    let (urls, producer) = (&args[1], &args[2]);
    let snapshots: usize = args.get(3).map_or(1_000_000, |a| a.parse().expect("SNAPSHOTS"));
    let symbols: usize = args.get(4).map_or(2_000, |a| a.parse().expect("SYMBOLS"));
    let step_ms: i64 = args.get(5).map_or(3_000, |a| a.parse().expect("STEP_MS"));
    let shards: u16 = args.get(6).map_or(1, |a| a.parse().expect("SHARDS"));
    let mut urls = urls.split(',').map(String::from);
    let url = urls.next().expect("a Redis URL");
    let nodes: Vec<String> = urls.collect();
    let mode = if nodes.is_empty() { RedisMode::Standalone } else { RedisMode::Cluster };
    let settings = RedisSettings { url, nodes, mode, key_prefix: PREFIX.into(), shards, ..RedisSettings::default() };
    let mut con = runtime::redis::connect(&settings)?;
    let keys = settings.keys();
    let streams: Vec<String> = keys.each_shard().map(|k| k.tick_stream()).collect();
    let shard_of: Vec<usize> =
        (0..symbols).map(|s| usize::from(shard_of(code(s).parse().expect("a symbol"), shards))).collect();
    let _: () = redis::cmd("FLUSHDB").query_async(&mut con).await?;

    let rounds = snapshots.div_ceil(symbols);
    let mut pipes: Vec<redis::Pipeline> = streams.iter().map(|_| redis::pipe()).collect();
    let mut queued: usize = 0;
    for round in 0..rounds {
        let time = market_time(round as i64 * step_ms);
        for chunk in (0..symbols).collect::<Vec<_>>().chunks(PER_PAYLOAD) {
            for (shard, stream) in streams.iter().enumerate() {
                let quotes: Vec<String> =
                    chunk.iter().filter(|&&s| shard_of[s] == shard).map(|&s| snapshot(s, round, time)).collect();
                if quotes.is_empty() {
                    continue;
                }
                let pipe = &mut pipes[shard];
                pipe.cmd("XADD").arg(stream).arg("*").arg("qmt").arg(format!("{{{}}}", quotes.join(","))).ignore();
                queued += 1;
                if pipe.len() == 1000 {
                    pipe.query_async::<()>(&mut con).await?;
                    pipe.clear();
                }
            }
        }
    }
    for pipe in pipes.iter().filter(|p| !p.is_empty()) {
        pipe.query_async::<()>(&mut con).await?;
    }
    let ticks = rounds * symbols;
    println!("pushed {ticks} snapshots in {queued} entries");

    let started = Instant::now();
    let mut children: Vec<_> = (0..shards)
        .map(|shard| {
            std::process::Command::new(producer)
                .env("TICKBAR__REDIS__URL", &settings.url)
                .env("TICKBAR__REDIS__MODE", if settings.nodes.is_empty() { "standalone" } else { "cluster" })
                .env("TICKBAR__REDIS__NODES", settings.nodes.join(","))
                .env("TICKBAR__REDIS__KEY_PREFIX", PREFIX)
                .env("TICKBAR__REDIS__SHARDS", shards.to_string())
                .env("TICKBAR__PRODUCER__SHARD", shard.to_string())
                .env("TICKBAR__PRODUCER__CLOCK", "event")
                .env("TICKBAR__HTTP__LISTEN", "127.0.0.1:0")
                .env("RUST_LOG", "warn")
                .spawn()
                .expect("the producer binary")
        })
        .collect();
    for stream in &streams {
        while !applied(&mut con, stream).await {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let peaks: Vec<String> = children.iter().map(|c| harness::service::peak_rss_mib(c.id())).collect();
    for child in &mut children {
        let _ = child.kill();
        let _ = child.wait();
    }
    println!("{ticks} ticks end to end on {shards} shard(s) in {secs:.2} s: {:.0} ticks/s", ticks as f64 / secs);
    println!("producer peak RSS (VmHWM): {}", peaks.join(", "));
    Ok(())
}

/// Whether the producer of `stream` has committed its every entry.
async fn applied(con: &mut (impl ConnectionLike + Send + Sync), stream: &str) -> bool {
    let groups: redis::streams::StreamInfoGroupsReply = con.xinfo_groups(stream).await.unwrap_or_default();
    groups.groups.first().is_some_and(|g| g.pending == 0 && g.lag == Some(0))
}

/// Epoch ms of 2023-02-01 at `elapsed` ms of trading after 09:30, the lunch break skipped.
fn market_time(elapsed: i64) -> i64 {
    const OPEN: i64 = 1_675_215_000_000; // 09:30:00 +08:00
    const MORNING: i64 = 2 * 3_600_000;
    const LUNCH: i64 = 90 * 60_000;
    if elapsed < MORNING {
        OPEN + elapsed
    } else {
        OPEN + LUNCH + elapsed
    }
}

/// The code of the `s`-th symbol.
fn code(s: usize) -> String {
    if s.is_multiple_of(2) {
        format!("{:06}.SZ", s)
    } else {
        format!("{:06}.SH", 600_000 + s)
    }
}

/// Symbol `s`'s `round`-th snapshot: one lot more each time, the price wandering by cents.
fn snapshot(s: usize, round: usize, time: i64) -> String {
    let code = code(s);
    let cents = 1_000 + (s % 500) as i64 * 10 + (round as i64 * 7 % 13);
    let lots = 100 + round as u64;
    let amount = 10 * (lots as i64) * cents; // yuan: lots * 100 * cents / 100 (approximate turnover)
    format!(
        r#""{code}":{{"time":{time},"lastPrice":{}.{:02},"open":10.0,"high":{}.{:02},"low":9.0,"lastClose":10.0,"volume":{lots},"amount":{amount},"openInt":13,"bidPrice":[0,0,0,0,0],"askPrice":[0,0,0,0,0],"bidVol":[0,0,0,0,0],"askVol":[0,0,0,0,0]}}"#,
        cents / 100,
        cents % 100,
        cents / 100 + 1,
        cents % 100
    )
}
