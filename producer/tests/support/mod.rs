//! What the producer's end-to-end tests share: a private Redis, the producer binary run as a
//! child process or its service run in-process on the test's clock, stream writers, and readers of
//! the bars it leaves in Redis.
#![allow(dead_code)] // each test file uses its own part

use std::time::{Duration, Instant};

use common::{Bar, Period, Tick};
use harness::RedisServer;
use redis::aio::MultiplexedConnection;
use redis::AsyncCommands;
use runtime::keys::Keys;

/// A private Redis and a connection to it.
pub struct ProducerRedis {
    pub redis: RedisServer,
    pub con: MultiplexedConnection,
}

impl ProducerRedis {
    pub async fn start() -> ProducerRedis {
        let redis = RedisServer::start().await.expect("redis-server");
        let con = redis.connect().await.unwrap();
        ProducerRedis { redis, con }
    }

    /// A producer in event time on this Redis under `prefix`, with `env` overriding settings.
    pub fn producer(&self, prefix: &str, env: &[(&str, &str)]) -> Producer {
        let url = self.redis.url();
        let mut all = vec![
            ("TICKBAR__REDIS__URL", url.as_str()),
            ("TICKBAR__REDIS__KEY_PREFIX", prefix),
            ("TICKBAR__PRODUCER__CLOCK", "event"),
            ("TICKBAR__PRODUCER__BLOCK_MS", "50"),
        ];
        all.extend_from_slice(env);
        Producer::spawn(env!("CARGO_BIN_EXE_producer"), &[], &all)
    }

    /// Writes entries (field, payload) to the tick stream under `prefix`, pipelined.
    pub async fn send(&mut self, prefix: &str, entries: &[(&str, String)]) {
        let stream = Keys::new(prefix).tick_stream();
        for chunk in entries.chunks(1000) {
            let mut pipe = redis::pipe();
            for (field, payload) in chunk {
                pipe.cmd("XADD").arg(&stream).arg("*").arg(*field).arg(payload).ignore();
            }
            pipe.query_async::<()>(&mut self.con).await.unwrap();
        }
    }

    /// Replays `ticks` through `producer replay` (JSON lines) into a producer under `prefix`, and
    /// waits until it has them.
    pub async fn replay(&mut self, prefix: &str, ticks: &[Tick]) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ticks.jsonl");
        std::fs::write(&file, ticks.iter().map(tick_json).collect::<Vec<_>>().join("\n")).unwrap();
        let mut producer = self.producer(prefix, &[]);
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_producer"))
            .args(["replay", "--speed", "0", "--file"])
            .arg(&file)
            .env("TICKBAR__REDIS__URL", self.redis.url())
            .env("TICKBAR__REDIS__KEY_PREFIX", prefix)
            .status()
            .unwrap();
        assert!(status.success());
        self.drained(prefix, &mut producer).await;
    }

    /// Waits until the producer under `prefix` has committed every entry of its stream.
    pub async fn drained(&mut self, prefix: &str, producer: &mut Producer) {
        let stream = Keys::new(prefix).tick_stream();
        let start = Instant::now();
        loop {
            producer.assert_running();
            let done = harness::stack::producer_caught_up(&mut self.con, &stream).await;
            if done {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "the producer did not drain the stream in time: {}",
                producer.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The completed bars of one day, period and symbol, in frame order.
    pub async fn bars(&mut self, prefix: &str, day: &str, period: Period, symbol: &str) -> Vec<Bar> {
        let key = Keys::new(prefix).day_bars(day.parse().unwrap(), period, symbol.parse().unwrap());
        let members: Vec<String> = self.con.zrange(key, 0, -1).await.unwrap();
        members.iter().map(|m| serde_json::from_str(m).unwrap()).collect()
    }

    /// Every key under `prefix` with its content, for comparing two runs.
    pub async fn dump(&mut self, prefix: &str) -> Vec<(String, Vec<String>)> {
        let mut keys: Vec<String> = self.con.keys(format!("{prefix}tickbar:[bf]*")).await.unwrap();
        keys.sort();
        let mut out = Vec::new();
        for key in keys {
            let kind: String = redis::cmd("TYPE").arg(&key).query_async(&mut self.con).await.unwrap();
            let mut content: Vec<String> = match kind.as_str() {
                "zset" => self.con.zrange(&key, 0, -1).await.unwrap(),
                "hash" => self.con.hgetall::<_, Vec<String>>(&key).await.unwrap(),
                other => panic!("{key} is a {other}"),
            };
            if kind == "hash" {
                let mut pairs: Vec<String> = content.chunks(2).map(|p| p.join("=")).collect();
                pairs.sort();
                content = pairs;
            }
            out.push((key.trim_start_matches(prefix).to_owned(), content));
        }
        out
    }
}

/// The real Level-2 days (see `common/tests/data/real/SOURCES.md`).
pub const DAYS: [&str; 3] = ["2023-02-01", "2023-02-02", "2023-02-03"];
/// Exchange day totals of 600519.SH (volume in shares, amount in yuan).
pub const MOUTAI_TOTALS: [(u64, &str); 3] =
    [(3_397_389, "6244678924.61"), (2_975_886, "5465509509.98"), (3_494_490, "6324635031.35")];
/// Exchange day volumes of 000333.SZ.
pub const MIDEA_VOLUMES: [u64; 3] = [26_724_709, 36_767_804, 20_830_020];

/// The producer as a child process.
pub use harness::ServiceProcess as Producer;

pub use harness::fixtures::tick_json;

/// The producer service run in-process, on the clock a test holds ([`harness::clock::TestTime`]).
pub type InProcess = harness::service::InProcess<producer::monitor::Monitor>;

/// The service on the wall clock `clock` under `prefix` of `redis`, with `settings` changed by
/// `tune`; reads wait a millisecond, so a test's steps of time find it ready.
pub fn in_process(
    redis: &RedisServer,
    prefix: &str,
    clock: runtime::clock::Clock,
    tune: impl FnOnce(&mut producer::settings::ProducerSettings),
) -> InProcess {
    use producer::settings::{BarClock, ProducerSettings};
    let mut settings = ProducerSettings::default();
    (settings.redis.url, settings.redis.key_prefix) = (redis.url(), prefix.to_owned());
    (settings.producer.clock, settings.producer.block_ms) = (BarClock::Wall, 1);
    tune(&mut settings);
    let calendar = runtime::calendar::LiveCalendar::load(&settings.calendar).unwrap();
    let con = producer::store::connect(&settings.redis).unwrap();
    let probe = producer::store::StreamStore::new(con.clone(), settings.keys(), &settings);
    let alerts = runtime::alert::Alerts::new(&settings.alerts, "producer", "test".into(), clock).unwrap();
    let monitor = std::sync::Arc::new(producer::monitor::Monitor::new(&settings, probe, calendar.clone(), alerts));
    InProcess::spawn(monitor.clone(), move |stopped| async move {
        producer::service::run(&settings, calendar, clock, con, monitor, stopped).await
    })
}
