//! The history cache against a real Redis and ClickHouse: a history day asked twice is read from
//! ClickHouse once; rows changed behind its back stay unseen until the history version of their
//! symbol (the consumer's bump) or of all symbols (`producer build`'s) moves, or the TTL passes;
//! while Redis does not answer, ClickHouse is asked directly.

mod support;

use std::time::Duration;

use common::keys::{history_version_field, ALL_HISTORY};
use common::{Bar, Period};
use redis::AsyncCommands;
use runtime::clickhouse::{BarRow, TABLE};
use support::{bars_of, day_bars, get_json, ApiStores, DATABASE, DAYS};

const SYMBOL: &str = "600519.SH";

/// Writes `bars` into ClickHouse at `version`, bumping no history version: a writer the cache
/// does not hear of.
async fn write_quietly(stack: &ApiStores, bars: &[Bar], version: u64) {
    let rows: Vec<BarRow> = bars.iter().map(|b| BarRow::new(b, Period::M1, version).unwrap()).collect();
    let client = stack.clickhouse.client().with_database(DATABASE);
    runtime::clickhouse::insert(&client, TABLE, &rows, Duration::from_secs(30)).await.unwrap();
}

async fn bump(stack: &mut ApiStores, field: &str) {
    let _: i64 = stack.con.hincr(stack.keys.history_versions(), field, 1).await.unwrap();
}

async fn day(api: &harness::ServiceProcess) -> Vec<Bar> {
    let (status, answer) = get_json(api, &format!("/api/v1/bars?symbol={SYMBOL}&start={0}&end={0}", DAYS[0])).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["sources"]["clickhouse"], 240, "{answer}");
    bars_of(&answer)
}

/// The cache's counter of `result` on `/metrics`.
async fn counted(api: &harness::ServiceProcess, result: &str) -> u64 {
    let (_, metrics) = api.get("/metrics").await;
    let line = format!("tickbar_api_history_cache_total{{result=\"{result}\"}} ");
    let found = metrics.lines().find_map(|l| l.strip_prefix(line.as_str()));
    found.unwrap_or_else(|| panic!("no {line} in {metrics}")).parse().unwrap()
}

#[tokio::test]
async fn a_history_answer_is_kept_until_its_version_moves() {
    let mut stack = ApiStores::start().await;
    let variants: Vec<Vec<Bar>> = (0..4).map(|v| day_bars(SYMBOL, DAYS[0], Period::M1, v)).collect();
    write_quietly(&stack, &variants[0], 1).await;
    let api = stack.api(&[]).await;
    assert_eq!(day(&api).await, variants[0]);
    assert_eq!(day(&api).await, variants[0]);
    assert_eq!((counted(&api, "miss").await, counted(&api, "hit").await), (1, 1));

    write_quietly(&stack, &variants[1], 2).await;
    assert_eq!(day(&api).await, variants[0], "held: nothing said the history changed");
    bump(&mut stack, &history_version_field(Period::M1, SYMBOL)).await;
    assert_eq!(day(&api).await, variants[1], "the symbol's version moved, as after a consumer batch");
    write_quietly(&stack, &variants[2], 3).await;
    bump(&mut stack, ALL_HISTORY).await;
    assert_eq!(day(&api).await, variants[2], "every symbol's version moved, as after a build");
    assert_eq!((counted(&api, "miss").await, counted(&api, "hit").await), (3, 2));

    let expiring = stack.api(&[("TICKBAR__API__HISTORY_CACHE_TTL_MS", "0")]).await;
    assert_eq!(day(&expiring).await, variants[2]);
    write_quietly(&stack, &variants[3], 4).await;
    assert_eq!(day(&expiring).await, variants[3], "past the TTL a quiet write is seen too");

    stack.redis.stop();
    write_quietly(&stack, &variants[0], 5).await;
    assert_eq!(day(&api).await, variants[0], "without Redis's versions ClickHouse is asked");
    assert_eq!(counted(&api, "bypass").await, 1);
}

#[tokio::test]
async fn a_cache_of_zero_bytes_is_off() {
    let stack = ApiStores::start().await;
    write_quietly(&stack, &day_bars(SYMBOL, DAYS[0], Period::M1, 0), 1).await;
    let api = stack.api(&[("TICKBAR__API__HISTORY_CACHE_MB", "0")]).await;
    write_quietly(&stack, &day_bars(SYMBOL, DAYS[0], Period::M1, 1), 2).await;
    assert_eq!(day(&api).await, day_bars(SYMBOL, DAYS[0], Period::M1, 1));
    let (_, metrics) = api.get("/metrics").await;
    assert!(!metrics.contains("tickbar_api_history_cache_total"), "{metrics}");
}
