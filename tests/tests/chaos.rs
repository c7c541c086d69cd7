//! Chaos: the sample day fed at market pace on a set clock (240 times as fast: 09:14 to 15:01 in
//! about 90 s), the two history days queued along the way, while the producer and the consumer are
//! killed with SIGKILL and Redis (AOF on, `appendfsync always`) is killed and restarted at random
//! moments, one fault every 1.5 to 4 s. The bars in Redis then equal the rule oracle's for every
//! symbol and period, and the rows in ClickHouse the history's, exactly as an undisturbed run
//! leaves them (the end-to-end test shows an undisturbed run gives the oracle's bars).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Bar, Period};
use harness::clock::{real_ms, SetClock};
use harness::{ClickHouseServer, RedisServer, ServiceProcess};
use redis::AsyncCommands;
use runtime::keys::Keys;
use sample::market::{generate, DAYS};

fn at(time: &str) -> i64 {
    common::time::parse_datetime(&format!("{}T{time}", DAYS[2])).unwrap()
}

/// A tiny seeded generator for the fault moments; the seed is printed so a failure can be replayed.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

struct Services {
    bin_dir: PathBuf,
    /// Every process's log is kept, appended to, for the message of a failure.
    logs: PathBuf,
    producer_env: Vec<(String, String)>,
    consumer_env: Vec<(String, String)>,
}

impl Services {
    fn spawn(&self, name: &str, env: &[(String, String)]) -> ServiceProcess {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let runs = std::fs::read_dir(&self.logs).map_or(0, |d| d.count());
        let log = self.logs.join(format!("{runs:03}-{name}.log"));
        ServiceProcess::spawn_logging(&self.bin_dir.join(name).display().to_string(), &[], &env, &log, "info")
    }

    /// The last lines of every log, oldest process first.
    fn tails(&self) -> String {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&self.logs).unwrap().map(|e| e.unwrap().path()).collect();
        names.sort();
        let tail = |p: &PathBuf| {
            let text = std::fs::read_to_string(p).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(12)..].join("\n")
        };
        names.iter().map(|p| format!("== {}\n{}", p.display(), tail(p))).collect::<Vec<_>>().join("\n")
    }

    fn producer(&self) -> ServiceProcess {
        self.spawn("producer", &self.producer_env)
    }

    fn consumer(&self) -> ServiceProcess {
        self.spawn("consumer", &self.consumer_env)
    }
}

/// The sample's files, unpacked into `dir`: the QMT day's payloads, and a history file per period.
fn unpack(dir: &Path) -> (Vec<String>, Vec<(Period, PathBuf)>) {
    let sample = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/sample");
    let read = |name: String| sample::files::read_gz(&sample.join(name)).unwrap();
    let day = read(sample::files::qmt_file(DAYS[2])).lines().map(str::to_owned).collect();
    let history = Period::DEFAULTS
        .iter()
        .map(|&p| {
            let path = dir.join(format!("history-{p}.csv"));
            std::fs::write(&path, read(sample::files::history_file(p))).unwrap();
            (p, path)
        })
        .collect();
    (day, history)
}

/// The payloads' times: each payload's first snapshot time.
fn payload_time(payload: &str) -> i64 {
    let parsed = common::tick::parse_qmt_payload(payload).unwrap();
    parsed.iter().find_map(|t| t.as_ref().ok()).map(|t| t.time_ms).unwrap()
}

/// Feeds the day at the clock's pace, retrying every write through Redis outages (a bridge's
/// queue), and runs `producer import-history` for each period at its moment, again until it works.
async fn feed(clock: SetClock, url: String, day: Vec<String>, history: Vec<(Period, PathBuf)>, producer: PathBuf) {
    let imports: Vec<(i64, Period, PathBuf)> = ["10:00:00", "10:45:00", "11:20:00", "13:30:00", "14:15:00"]
        .iter()
        .zip(history)
        .map(|(t, (p, f))| (at(t), p, f))
        .collect();
    let mut imports = imports.into_iter().peekable();
    let mut con: Option<redis::aio::MultiplexedConnection> = None;
    for payload in day {
        let time = payload_time(&payload);
        clock.until(time).await;
        while let Some((_, period, file)) = imports.next_if(|(when, _, _)| *when <= time) {
            import(&producer, &url, period, &file).await;
        }
        loop {
            if con.is_none() {
                con = redis::Client::open(url.as_str()).unwrap().get_multiplexed_async_connection().await.ok();
            }
            if let Some(c) = con.as_mut() {
                let added: redis::RedisResult<String> = c.xadd("ticks", "*", &[("qmt", payload.as_str())]).await;
                if added.is_ok() {
                    break;
                }
            }
            con = None;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn import(producer: &Path, url: &str, period: Period, file: &Path) {
    let (producer, url, file) = (producer.to_owned(), url.to_owned(), file.to_owned());
    tokio::task::spawn_blocking(move || {
        let minutes = period.minutes().to_string();
        while !std::process::Command::new(&producer)
            .args(["import-history", "--file", &file.display().to_string(), "--period", &minutes])
            .env("TICKBAR__REDIS__URL", &url)
            .env("RUST_LOG", "error")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
        {
            std::thread::sleep(Duration::from_millis(100));
        }
    })
    .await
    .unwrap();
}

/// The fault to inject next, in turn.
#[derive(Debug, Clone, Copy)]
enum Fault {
    KillProducer,
    KillConsumer,
    RestartRedis,
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sample_day_under_kills_and_redis_restarts_equals_an_undisturbed_run() {
    let bin_dir = harness::workspace_binary("producer").parent().unwrap().to_owned();
    let (redis, clickhouse) = tokio::join!(RedisServer::start_durable(), ClickHouseServer::start());
    let (mut redis, clickhouse) = (redis.unwrap(), clickhouse.unwrap());
    let work = tempfile::tempdir().unwrap();
    let (day, history) = unpack(work.path());
    let clock = SetClock::new("2026-11-18T09:14:00", 240, 3_000);
    let var = |k: &str, v: String| (k.to_owned(), v);
    let logs = work.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let services = Arc::new(Services {
        bin_dir: bin_dir.clone(),
        logs,
        producer_env: clock
            .env()
            .into_iter()
            .map(|(k, v)| var(k, v))
            .chain([
                var("TICKBAR__REDIS__URL", redis.url()),
                var("TICKBAR__PRODUCER__BLOCK_MS", "50".into()),
                var("TICKBAR__PRODUCER__LEASE_TTL_MS", "3000".into()),
                var("TICKBAR__PRODUCER__CHECKPOINT_INTERVAL_MS", "700".into()),
                // Clock settings are in market time, 240 times the real: a minute is a quarter second.
                var("TICKBAR__PRODUCER__MAX_AHEAD_MS", "60000".into()),
                var("TICKBAR__PRODUCER__CATCH_UP_LAG_MS", "60000".into()),
                var("TICKBAR__BARS__CORRECTION_WINDOW_MS", "1200000".into()),
            ])
            .collect(),
        consumer_env: vec![
            var("TICKBAR__REDIS__URL", redis.url()),
            var("TICKBAR__CLICKHOUSE__URL", clickhouse.url()),
            var("TICKBAR__CONSUMER__BATCH_ROWS", "500".into()),
            var("TICKBAR__CONSUMER__LOCK_TTL_MS", "1000".into()),
        ],
    });
    let mut producer = services.producer();
    let mut consumer = services.consumer();
    let feeder = tokio::spawn(feed(clock, redis.url(), day, history, bin_dir.join("producer")));

    let seed = real_ms() as u64;
    println!("chaos seed {seed}");
    let mut rng = Lcg(seed);
    let faults = [Fault::KillProducer, Fault::KillConsumer, Fault::RestartRedis];
    let mut injected = Vec::new();
    let chaos_started = Instant::now();
    clock.until(at("09:30:00")).await;
    while clock.now() < at("14:50:00") {
        tokio::time::sleep(Duration::from_millis(1_500 + rng.below(2_500))).await;
        let fault = faults[injected.len() % faults.len()];
        match fault {
            Fault::KillProducer => {
                producer.kill();
                producer = services.producer();
            }
            Fault::KillConsumer => {
                consumer.kill();
                consumer = services.consumer();
            }
            Fault::RestartRedis => {
                redis.stop();
                tokio::time::sleep(Duration::from_millis(rng.below(500))).await;
                redis.launch().await.unwrap();
            }
        }
        injected.push((fault, real_ms() - clock.origin_ms));
    }
    let chaos_for = chaos_started.elapsed();
    println!("injected {} faults over {chaos_for:?}: {injected:?}", injected.len());
    assert!(chaos_for >= Duration::from_secs(60) && injected.len() >= 15, "{chaos_for:?}, {injected:?}");
    feeder.await.unwrap();
    clock.until(at("15:01:00")).await;

    let mut con = redis.connect().await.unwrap();
    let (stocks, days) = generate();
    let history_rows: u64 = days[..2]
        .iter()
        .map(|d| Period::DEFAULTS.iter().map(|p| sample::oracle::day_bars(d, *p).len() as u64).sum::<u64>())
        .sum();
    let table = runtime::keys::bars_table("tickbar");
    let start = Instant::now();
    loop {
        producer.assert_running();
        consumer.assert_running();
        let applied = harness::stack::producer_caught_up(&mut con, &Keys::new("").tick_stream()).await;
        let rows = clickhouse
            .client()
            .query(&format!("SELECT count() FROM {table} FINAL"))
            .fetch_one::<u64>()
            .await
            .unwrap_or(0);
        if applied && rows == history_rows {
            break;
        }
        if start.elapsed() > Duration::from_secs(120) {
            let status = producer.get("/api/status").await.1;
            let stream: redis::streams::StreamInfoGroupsReply = con.xinfo_groups("ticks").await.unwrap_or_default();
            let last: redis::streams::StreamRangeReply = con.xrevrange_count("ticks", "+", "-", 1).await.unwrap();
            panic!(
                "not settled: applied {applied}, {rows} of {history_rows} rows (seed {seed})\nproducer: {status}\ngroup: {:?}\nlast: {:?}\n{}",
                stream.groups.first().map(|g| (&g.last_delivered_id, g.pending, g.lag)),
                last.ids.first().map(|e| &e.id),
                services.tails()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let keys = Keys::new("");
    for period in Period::DEFAULTS {
        let want = sample::oracle::day_bars(&days[2], period);
        for stock in &stocks {
            let key = keys.day_bars(days[2].date, period, stock.symbol);
            let members: Vec<String> = con.zrange(&key, 0, -1).await.unwrap();
            let got: Vec<Bar> = members.iter().map(|m| serde_json::from_str(m).unwrap()).collect();
            let expected: Vec<Bar> = want.iter().filter(|b| b.symbol == stock.symbol).cloned().collect();
            assert_eq!(got, expected, "{} {period}m (seed {seed})", stock.symbol);
        }
    }
    let sql = format!("SELECT sum(vol) AS vol, toString(sum(amount)) AS amount FROM {table} FINAL");
    let (vol, amount) = clickhouse.client().query(&sql).fetch_one::<(u64, String)>().await.unwrap();
    let history: Vec<Bar> =
        days[..2].iter().flat_map(|d| Period::DEFAULTS.iter().flat_map(|p| sample::oracle::day_bars(d, *p))).collect();
    assert_eq!(vol, history.iter().map(|b| b.vol).sum::<u64>(), "history volume (seed {seed})");
    let want: common::Amount = history.iter().map(|b| b.amount).sum();
    assert_eq!(amount.parse::<common::Amount>().unwrap(), want, "history amount (seed {seed})");
}
