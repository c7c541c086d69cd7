//! What the query API's end-to-end tests share: a private Redis and ClickHouse with the schema,
//! bars of chosen days written where the producer (Redis) and the consumer (ClickHouse) write
//! them, and the query-api binary as a child process.
#![allow(dead_code)] // each test file uses its own part

use common::{Bar, Period};
use harness::{HttpResponse, ServiceProcess, Stores};
use runtime::schema::apply_schema;

pub use harness::DATABASE;
/// Two history days and the day Redis holds.
pub const DAYS: [&str; 3] = ["2026-11-18", "2026-11-19", "2026-11-20"];

/// The stores with the schema, and the query API's ways with them.
pub struct ApiStores(pub Stores);

impl std::ops::Deref for ApiStores {
    type Target = Stores;

    fn deref(&self) -> &Stores {
        &self.0
    }
}

impl std::ops::DerefMut for ApiStores {
    fn deref_mut(&mut self) -> &mut Stores {
        &mut self.0
    }
}

impl ApiStores {
    pub async fn start() -> ApiStores {
        let stores = Stores::start().await;
        apply_schema(&stores.clickhouse.client(), DATABASE).await.expect("the schema");
        ApiStores(stores)
    }

    /// The query API on this stack, with `env` overriding settings; returns once it answers.
    pub async fn api(&self, env: &[(&str, &str)]) -> ServiceProcess {
        let (redis, clickhouse) = (self.redis.url(), self.clickhouse.url());
        let mut all = vec![("TICKBAR__REDIS__URL", redis.as_str()), ("TICKBAR__CLICKHOUSE__URL", clickhouse.as_str())];
        all.extend_from_slice(env);
        let mut api = ServiceProcess::spawn(env!("CARGO_BIN_EXE_query-api"), &[], &all);
        api.answering("/healthz").await;
        api
    }

    /// For every period: the first two [`DAYS`] of `symbol` in ClickHouse, the third in Redis, and
    /// the third day's first frame also in ClickHouse with other numbers. Returns the bars a query
    /// over the three days must answer, per period.
    pub async fn three_days(&mut self, symbol: &str) -> Vec<(Period, Vec<Bar>)> {
        let mut expected = Vec::new();
        for period in Period::DEFAULTS {
            let history: Vec<Bar> = DAYS[..2].iter().flat_map(|d| day_bars(symbol, d, period, 0)).collect();
            let today = day_bars(symbol, DAYS[2], period, 1);
            self.store_history(period, &history).await;
            self.store_history(period, &day_bars(symbol, DAYS[2], period, 2)[..1]).await;
            self.store_same_day(period, &today).await;
            expected.push((period, history.into_iter().chain(today).collect()));
        }
        expected
    }

    /// Writes `bars` of `period` into ClickHouse and bumps their symbols' history versions, as the
    /// consumer does.
    pub async fn store_history(&mut self, period: Period, bars: &[Bar]) {
        harness::writers::write_history(&self.clickhouse.client(), DATABASE, period, bars).await.unwrap();
        let symbols: std::collections::BTreeSet<String> = bars.iter().map(|b| b.symbol.to_string()).collect();
        for symbol in symbols {
            let field = runtime::keys::history_version_field(period, symbol);
            let _: i64 =
                redis::AsyncCommands::hincr(&mut self.0.con, self.0.keys.history_versions(), field, 1).await.unwrap();
        }
    }

    /// Writes `bars` of `period` into Redis as the producer does.
    pub async fn store_same_day(&mut self, period: Period, bars: &[Bar]) {
        harness::writers::write_same_day(&mut self.0.con, &self.0.keys, period, bars).await.unwrap();
    }
}

/// [`harness::seed::day_bars`] of a day given as text.
pub fn day_bars(symbol: &str, day: &str, period: Period, variant: u64) -> Vec<Bar> {
    harness::seed::day_bars(symbol, day.parse().unwrap(), period, variant)
}

/// The bars of an API answer.
pub fn bars_of(answer: &serde_json::Value) -> Vec<Bar> {
    answer["bars"]
        .as_array()
        .unwrap_or_else(|| panic!("no bars in {answer}"))
        .iter()
        .map(|b| {
            let mut b = b.clone();
            b.as_object_mut().unwrap().remove("forming");
            serde_json::from_value(b).unwrap()
        })
        .collect()
}

/// `GET path` with JSON parsed; panics on a non-JSON body.
pub async fn get_json(api: &ServiceProcess, path: &str) -> (u16, serde_json::Value) {
    let (status, body) = api.get(path).await;
    let json = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {status} {e}: {body}"));
    (status, json)
}

/// `GET path` with extra headers.
pub async fn get_with(api: &ServiceProcess, path: &str, headers: &[(&str, &str)]) -> HttpResponse {
    harness::http_request(api.http, path, headers).await
}
