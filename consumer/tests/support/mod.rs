//! What the consumer's end-to-end tests share: a private Redis and ClickHouse, the consumer binary
//! as a child process or the service in-process on the test's clock, a generator of history bars
//! in the seed-era shape, queue writers and readers of what landed in ClickHouse.
#![allow(dead_code)] // each test file uses its own part

use std::time::{Duration, Instant};

use common::Period;
use consumer::settings::ConsumerSettings;
use harness::{ServiceProcess, Stores, DATABASE};
use redis::AsyncCommands;
use runtime::keys::bars_table;

/// The stores, and the consumer's ways with them.
pub struct ConsumerStores(pub Stores);

impl std::ops::Deref for ConsumerStores {
    type Target = Stores;

    fn deref(&self) -> &Stores {
        &self.0
    }
}

impl std::ops::DerefMut for ConsumerStores {
    fn deref_mut(&mut self) -> &mut Stores {
        &mut self.0
    }
}

impl ConsumerStores {
    pub async fn start() -> ConsumerStores {
        ConsumerStores(Stores::start().await)
    }

    /// The settings every consumer of this stack runs with, plus `extra`.
    fn env<'a>(&'a self, urls: &'a (String, String), extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut env = vec![
            ("TICKBAR__REDIS__URL", urls.0.as_str()),
            ("TICKBAR__CLICKHOUSE__URL", urls.1.as_str()),
            ("TICKBAR__CONSUMER__IDLE_MS", "50"),
        ];
        env.extend_from_slice(extra);
        env
    }

    /// The consumer service in-process on `clock`, with `tune` changing its settings.
    pub fn in_process(&self, clock: runtime::clock::Clock, tune: impl FnOnce(&mut ConsumerSettings)) -> InProcess {
        let mut settings = ConsumerSettings::default();
        (settings.redis.url, settings.clickhouse.url) = (self.redis.url(), self.clickhouse.url());
        settings.consumer.idle_ms = 50;
        tune(&mut settings);
        let calendar = runtime::calendar::LiveCalendar::load(&settings.calendar).unwrap();
        let con = runtime::redis::connect(&settings.redis).unwrap();
        let consumer = consumer::Consumer::new(settings, calendar, clock).unwrap();
        let monitor = consumer.monitor(con.clone());
        InProcess::spawn(monitor.clone(), move |stopped| async move { consumer.run(con, monitor, stopped).await })
    }

    /// Queues `history` and waits until a consumer (in-process, with `tune`) has written it all.
    pub async fn load(&mut self, history: &[(Period, Vec<String>)], tune: impl FnOnce(&mut ConsumerSettings)) {
        let rows: u64 = history.iter().map(|(_, items)| items.len() as u64).sum();
        for (period, items) in history {
            self.push(*period, items).await;
        }
        let consumer = self.in_process(runtime::clock::Clock::System, tune);
        let start = Instant::now();
        while self.backlog().await > 0 || self.rows().await != rows {
            assert!(start.elapsed() < Duration::from_secs(180), "not drained in time: {}", consumer.status().await);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        consumer.stop().await;
    }

    /// The consumer service, with `env` overriding settings.
    pub fn consumer(&self, env: &[(&str, &str)]) -> ServiceProcess {
        let urls = (self.redis.url(), self.clickhouse.url());
        ServiceProcess::spawn(env!("CARGO_BIN_EXE_consumer"), &[], &self.env(&urls, env))
    }

    /// `consumer cleanup --day day`: its exit code, the report it printed and its log.
    pub fn cleanup(&self, day: &str, env: &[(&str, &str)]) -> (i32, serde_json::Value, String) {
        self.cleanup_with(&["--day", day], env)
    }

    /// `consumer cleanup ARGS`: its exit status, report and log.
    pub fn cleanup_with(&self, args: &[&str], env: &[(&str, &str)]) -> (i32, serde_json::Value, String) {
        let urls = (self.redis.url(), self.clickhouse.url());
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_consumer"));
        cmd.arg("cleanup").args(args).env("RUST_LOG", "warn");
        for (k, v) in self.env(&urls, env) {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("consumer cleanup runs");
        let report = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
        (out.status.code().unwrap_or(-1), report, String::from_utf8_lossy(&out.stderr).into_owned())
    }

    /// LPUSHes `items` onto the queue of `period`, the way a loader does, pipelined.
    pub async fn push(&mut self, period: Period, items: &[String]) {
        let queue = self.keys.history_queue(period);
        for chunk in items.chunks(5000) {
            let _: () = self.con.lpush(&queue, chunk).await.unwrap();
        }
    }

    /// Items waiting or in processing (any worker's list), over every queue.
    pub async fn backlog(&mut self) -> u64 {
        let mut total = 0;
        for p in Period::DEFAULTS {
            let queued: u64 = self.0.con.llen(self.0.keys.history_queue(p)).await.unwrap();
            total += queued;
            let processing: Vec<String> = self.0.con.keys(self.0.keys.history_processing_pattern(p)).await.unwrap();
            for list in processing {
                total += self.con.llen::<_, u64>(list).await.unwrap();
            }
        }
        total
    }

    /// The deduplicated row count of the bars table (0 before the consumer created it).
    pub async fn rows(&self) -> u64 {
        let sql = format!("SELECT count() FROM {} FINAL", bars_table(DATABASE));
        self.clickhouse.client().query(&sql).fetch_one::<u64>().await.unwrap_or(0)
    }

    /// Rows stored, merged or not: above [`Self::rows`] only while duplicates await a merge.
    pub async fn raw_rows(&self) -> u64 {
        let sql = format!("SELECT count() FROM {}", bars_table(DATABASE));
        self.clickhouse.client().query(&sql).fetch_one::<u64>().await.unwrap_or(0)
    }

    /// Waits until every queue is empty and `rows` rows are stored, while `consumer` runs.
    pub async fn drained(&mut self, consumer: &mut ServiceProcess, rows: u64) {
        let start = Instant::now();
        loop {
            consumer.assert_running();
            if self.backlog().await == 0 && self.rows().await == rows {
                return;
            }
            let (backlog, now) = (self.backlog().await, self.rows().await);
            assert!(
                start.elapsed() < Duration::from_secs(180),
                "not drained in time: {backlog} queued, {now} of {rows} rows"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits, moving the held `time` on, until every queue is empty and `rows` rows are stored.
    pub async fn drained_on(&mut self, time: &harness::clock::TestTime, rows: u64) {
        let start = Instant::now();
        while self.backlog().await > 0 || self.rows().await != rows {
            assert!(start.elapsed() < Duration::from_secs(120), "not drained in time: {} rows", self.rows().await);
            time.pass(Duration::from_millis(100)).await;
        }
    }

    /// The consumer's `/api/status`.
    pub async fn status(&self, consumer: &ServiceProcess) -> serde_json::Value {
        let (code, body) = consumer.get("/api/status").await;
        assert_eq!(code, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }
}

/// `n` distinct seed-era bars over 20 Shenzhen symbols (see [`harness::history`]).
pub fn history(n: usize) -> Vec<(Period, String)> {
    let symbols: Vec<String> = (1..=20).map(|i| format!("{i:06}.SZ")).collect();
    harness::seed::history(n, &symbols)
}

/// Pushes `bars` onto their queues.
pub async fn push_all(stack: &mut ConsumerStores, bars: &[(Period, String)]) {
    for period in Period::DEFAULTS {
        let items: Vec<String> = bars.iter().filter(|(p, _)| *p == period).map(|(_, b)| b.clone()).collect();
        stack.push(period, &items).await;
    }
}

/// The consumer service run in-process (see [`ConsumerStores::in_process`]).
pub type InProcess = harness::service::InProcess<consumer::monitor::Monitor>;
