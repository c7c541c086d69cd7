//! The caches against a real Redis and ClickHouse. History: a day asked twice is read from
//! ClickHouse once; rows changed behind its back stay unseen until the history version of their
//! symbol (the consumer's bump) or of all symbols (`producer build`'s) moves, or the TTL passes;
//! while Redis does not answer, ClickHouse is asked directly. A day Redis holds: its closed bars
//! are read once per version the producer sets, a range of the day is cut from the day held, and
//! the forming bar is read every time.

mod support;

use std::time::Duration;

use common::{Bar, Frame, Period};
use redis::AsyncCommands;
use runtime::clickhouse::{BarRow, TABLE};
use runtime::keys::{history_version_field, ALL_HISTORY};
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
    let _: i64 = stack.0.con.hincr(stack.0.keys.history_versions(), field, 1).await.unwrap();
}

async fn day(api: &harness::ServiceProcess) -> Vec<Bar> {
    let (status, answer) = get_json(api, &format!("/api/v1/bars?symbol={SYMBOL}&start={0}&end={0}", DAYS[0])).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["sources"]["clickhouse"], 240, "{answer}");
    bars_of(&answer)
}

/// The counter of `result` of `cache` (`history` or `day`) on `/metrics`.
async fn counted(api: &harness::ServiceProcess, cache: &str, result: &str) -> u64 {
    let (_, metrics) = api.get("/metrics").await;
    let line = format!("tickbar_api_cache_total{{cache=\"{cache}\",result=\"{result}\"}} ");
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
    assert_eq!((counted(&api, "history", "miss").await, counted(&api, "history", "hit").await), (1, 1));
    let (_, metrics) = api.get("/metrics").await;
    for family in ["tickbar_api_cache_total", "tickbar_api_cache_bytes"] {
        assert_eq!(metrics.matches(&format!("# TYPE {family} ")).count(), 1, "one group per family: {metrics}");
    }

    write_quietly(&stack, &variants[1], 2).await;
    assert_eq!(day(&api).await, variants[0], "held: nothing said the history changed");
    bump(&mut stack, &history_version_field(Period::M1, SYMBOL)).await;
    assert_eq!(day(&api).await, variants[1], "the symbol's version moved, as after a consumer batch");
    write_quietly(&stack, &variants[2], 3).await;
    bump(&mut stack, ALL_HISTORY).await;
    assert_eq!(day(&api).await, variants[2], "every symbol's version moved, as after a build");
    assert_eq!((counted(&api, "history", "miss").await, counted(&api, "history", "hit").await), (3, 2));

    let expiring = stack.api(&[("TICKBAR__API__CACHE_TTL_MS", "0")]).await;
    assert_eq!(day(&expiring).await, variants[2]);
    write_quietly(&stack, &variants[3], 4).await;
    assert_eq!(day(&expiring).await, variants[3], "past the TTL a quiet write is seen too");

    stack.redis.stop();
    write_quietly(&stack, &variants[0], 5).await;
    assert_eq!(day(&api).await, variants[0], "without Redis's versions ClickHouse is asked");
    assert_eq!(counted(&api, "history", "bypass").await, 1);
}

#[tokio::test]
async fn a_cache_of_zero_bytes_is_off() {
    let stack = ApiStores::start().await;
    write_quietly(&stack, &day_bars(SYMBOL, DAYS[0], Period::M1, 0), 1).await;
    let api = stack.api(&[("TICKBAR__API__HISTORY_CACHE_MB", "0")]).await;
    write_quietly(&stack, &day_bars(SYMBOL, DAYS[0], Period::M1, 1), 2).await;
    assert_eq!(day(&api).await, day_bars(SYMBOL, DAYS[0], Period::M1, 1));
    let (_, metrics) = api.get("/metrics").await;
    assert!(!metrics.contains("cache=\"history\""), "{metrics}");
}

/// The bars of `SYMBOL`'s `day` the API answers for `query` (after `start` and `end`).
async fn redis_day(api: &harness::ServiceProcess, query: &str) -> Vec<Bar> {
    let (status, answer) = get_json(api, &format!("/api/v1/bars?symbol={SYMBOL}&{query}")).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["sources"]["clickhouse"], 0, "{answer}");
    bars_of(&answer)
}

#[tokio::test]
async fn a_day_redis_holds_is_kept_until_the_producer_changes_it_and_the_forming_bar_is_always_read() {
    let mut stack = ApiStores::start().await;
    let (day, whole) = (DAYS[2], format!("start={0}&end={0}", DAYS[2]));
    let bars = day_bars(SYMBOL, day, Period::M1, 0);
    stack.store_same_day(Period::M1, &bars[..100]).await;
    let api = stack.api(&[]).await;
    assert_eq!(redis_day(&api, &whole).await, bars[..100]);
    assert_eq!(redis_day(&api, &whole).await, bars[..100]);
    assert_eq!((counted(&api, "day", "miss").await, counted(&api, "day", "hit").await), (1, 1));
    let morning = format!("start={day}T10:00:00&end={day}T10:30:00");
    let (from, to): (Frame, Frame) =
        (format!("{day} 10:00:00").parse().unwrap(), format!("{day} 10:30:00").parse().unwrap());
    let expected: Vec<Bar> = bars[..100].iter().filter(|b| (from..=to).contains(&b.frame)).cloned().collect();
    assert_eq!(
        (redis_day(&api, &morning).await, counted(&api, "day", "hit").await),
        (expected, 2),
        "a range of a day held"
    );

    let key = stack.keys.day_bars(day.parse().unwrap(), Period::M1, SYMBOL.parse().unwrap());
    let changed = Bar { vol: bars[0].vol + 100, ..bars[0].clone() };
    let score = changed.frame.epoch_seconds();
    let _: () = redis::pipe()
        .zrembyscore(&key, score, score)
        .zadd(&key, serde_json::to_string(&changed).unwrap(), score)
        .query_async(&mut stack.con)
        .await
        .unwrap();
    assert_eq!(redis_day(&api, &whole).await[0], bars[0], "held: the producer set no new version");
    stack.store_same_day(Period::M1, std::slice::from_ref(&changed)).await;
    assert_eq!(redis_day(&api, &whole).await[0], changed, "the producer's commit moved the version");

    let forming_key = stack.keys.forming_bars(day.parse().unwrap(), Period::M1);
    for vol in [1, 2] {
        let forming = Bar { vol, ..bars[100].clone() };
        let _: () = stack.con.hset(&forming_key, SYMBOL, serde_json::to_string(&forming).unwrap()).await.unwrap();
        let answer = redis_day(&api, &format!("{whole}&include_forming=true")).await;
        assert_eq!((answer.len(), answer.last().unwrap()), (101, &forming), "the forming bar is read every time");
    }
}
