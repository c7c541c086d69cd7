//! What the consumer's end-to-end tests share: a private Redis and ClickHouse, the consumer binary
//! as a child process, a generator of history bars in the seed-era shape, queue writers and
//! readers of what landed in ClickHouse.
#![allow(dead_code)] // each test file uses its own part

use std::time::{Duration, Instant};

use common::keys::{bars_table, Keys};
use common::time::day_number;
use common::{Period, Sessions, TradingCalendar};
use harness::{ClickHouseServer, RedisServer, ServiceProcess};
use redis::aio::MultiplexedConnection;
use redis::AsyncCommands;

pub const DATABASE: &str = "tickbar";

/// A private Redis and ClickHouse and connections to them.
pub struct Stack {
    pub redis: RedisServer,
    pub clickhouse: ClickHouseServer,
    pub con: MultiplexedConnection,
    pub keys: Keys,
}

impl Stack {
    pub async fn start() -> Stack {
        let (redis, clickhouse) = tokio::join!(RedisServer::start(), ClickHouseServer::start());
        let (redis, clickhouse) = (redis.expect("redis-server"), clickhouse.expect("clickhouse-server"));
        let con = redis::Client::open(redis.url()).unwrap().get_multiplexed_async_connection().await.unwrap();
        Stack { redis, clickhouse, con, keys: Keys::default() }
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

    /// The consumer service, with `env` overriding settings.
    pub fn consumer(&self, env: &[(&str, &str)]) -> ServiceProcess {
        let urls = (self.redis.url(), self.clickhouse.url());
        ServiceProcess::spawn(env!("CARGO_BIN_EXE_consumer"), &[], &self.env(&urls, env))
    }

    /// `consumer cleanup --day day`: its exit code, the report it printed and its log.
    pub fn cleanup(&self, day: &str, env: &[(&str, &str)]) -> (i32, serde_json::Value, String) {
        let urls = (self.redis.url(), self.clickhouse.url());
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_consumer"));
        cmd.args(["cleanup", "--day", day]).env("RUST_LOG", "warn");
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

    /// Items waiting or in processing, over every queue.
    pub async fn backlog(&mut self) -> u64 {
        let mut total = 0;
        for p in Period::ALL {
            let queued: u64 = self.con.llen(self.keys.history_queue(p)).await.unwrap();
            total += queued;
            for slot in 0..8 {
                total += self.con.llen::<_, u64>(self.keys.history_processing(p, slot)).await.unwrap();
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

    /// The consumer's `/api/status`.
    pub async fn status(&self, consumer: &ServiceProcess) -> serde_json::Value {
        let (code, body) = consumer.get("/api/status").await;
        assert_eq!(code, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }
}

/// A bar object in the seed-era shape: frame with a space; prices alternately numbers and strings.
pub fn seed_bar(symbol: &str, frame: &str, n: u64) -> String {
    let open = 1000 + n % 97;
    let close = 1000 + n % 89;
    let (high, low) = (open.max(close) + 3, open.min(close) - 2);
    let price = |cents: u64| format!("{}.{:02}", cents / 100, cents % 100);
    let vol = 100 * (1 + n % 500);
    if n.is_multiple_of(2) {
        format!(
            r#"{{"symbol":"{symbol}","frame":"{frame}","open":{},"high":{},"low":{},"close":{},"vol":{vol},"amount":{}.5}}"#,
            price(open),
            price(high),
            price(low),
            price(close),
            vol * 10
        )
    } else {
        format!(
            r#"{{"symbol":"{symbol}","frame":"{frame}","open":"{}","high":"{}","low":"{}","close":"{}","vol":"{vol}","amount":"{}.25"}}"#,
            price(open),
            price(high),
            price(low),
            price(close),
            vol * 10
        )
    }
}

/// `n` distinct bars per period queue, oldest first: every frame of the grid of 20 symbols over
/// trading days from 2023-01-03, each day's five periods together, cut at exactly `n` in all.
pub fn history(n: usize) -> Vec<(Period, String)> {
    let calendar = TradingCalendar::bundled();
    let sessions = Sessions::new(common::Layout::default());
    let days = calendar.trading_days("2023-01-03".parse().unwrap(), "2024-12-31".parse().unwrap()).unwrap();
    let symbols: Vec<String> = (0..20).map(|i| format!("{:06}.SZ", i + 1)).collect();
    let mut out = Vec::with_capacity(n);
    for day in days {
        for symbol in &symbols {
            let grid = sessions.grid(symbol.parse().unwrap());
            for period in Period::ALL {
                for frame in grid.frames(day_number(day), period) {
                    if out.len() == n {
                        return out;
                    }
                    out.push((period, seed_bar(symbol, &frame.to_string(), out.len() as u64)));
                }
            }
        }
    }
    out
}

/// Pushes `bars` onto their queues.
pub async fn push_all(stack: &mut Stack, bars: &[(Period, String)]) {
    for period in Period::ALL {
        let items: Vec<String> = bars.iter().filter(|(p, _)| *p == period).map(|(_, b)| b.clone()).collect();
        stack.push(period, &items).await;
    }
}
