//! The drain against a real Redis and ClickHouse: exact row counts after duplicates, crashes and a
//! ClickHouse outage, and dead letters with reasons for unusable items. A crash is a killed process;
//! the outage and the marks' expiry run the service in-process on a clock the test holds.

mod support;

use std::time::Duration;

use common::Period;
use harness::clock::TestTime;
use harness::seed::seed_bar;
use redis::AsyncCommands;
use support::{history, push_all, ConsumerStores};

#[tokio::test(flavor = "multi_thread")]
async fn a_hundred_thousand_seed_bars_land_once_and_again_as_duplicates() {
    let mut stack = ConsumerStores::start().await;
    let bars = history(100_000);
    push_all(&mut stack, &bars).await;
    let mut consumer = stack.consumer(&[]);
    stack.drained(&mut consumer, 100_000).await;
    assert_eq!(stack.raw_rows().await, 100_000, "no row was written twice");
    let unchecked = stack.status(&consumer).await["since_start"]["unchecked"].as_u64().unwrap();
    assert!(unchecked >= 5, "new bars later than every mark are written without an existence read");
    push_all(&mut stack, &bars).await;
    stack.drained(&mut consumer, 100_000).await;
    let status = stack.status(&consumer).await;
    let total = &status["since_start"];
    assert_eq!(total["unchecked"].as_u64(), Some(unchecked), "a batch of stored frames is always checked");
    assert_eq!((total["items"].as_u64(), total["inserted"].as_u64()), (Some(200_000), Some(100_000)), "{total}");
    assert_eq!(total["duplicates"].as_u64(), Some(100_000), "{total}");
    assert_eq!(stack.raw_rows().await, 100_000, "duplicates are skipped before the INSERT");
    for (period, per_day) in [(1, 240), (5, 48), (15, 16), (30, 8), (60, 4)] {
        let rows = status["rows"][period.to_string()].as_u64().unwrap();
        assert!(rows >= per_day, "period {period}: {rows} rows");
    }
    let rows: u64 = status["rows"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(rows, 100_000);

    let (period, first) = &bars[0];
    let corrected = first.replace("\"vol\":100,", "\"vol\":700,");
    assert_ne!(&corrected, first);
    stack.push(*period, &[corrected]).await;
    stack.drained(&mut consumer, 100_000).await;
    let sql = "SELECT vol FROM tickbar.bars FINAL WHERE symbol = '000001.SZ' AND period = 1 ORDER BY frame LIMIT 1";
    assert_eq!(
        stack.clickhouse.client().query(sql).fetch_one::<u64>().await.unwrap(),
        700,
        "a re-sent bar replaces the old"
    );
    assert_eq!(stack.status(&consumer).await["since_start"]["replaced"].as_u64(), Some(1));
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_mid_drain_loses_and_doubles_nothing() {
    let mut stack = ConsumerStores::start().await;
    let bars = history(60_000);
    push_all(&mut stack, &bars).await;
    let small_batches = [("TICKBAR__CONSUMER__BATCH_ROWS", "500"), ("TICKBAR__CONSUMER__LOCK_TTL_MS", "1000")];
    let mut kills = 0;
    while kills < 4 {
        let mut consumer = stack.consumer(&small_batches);
        let before = stack.rows().await;
        let start = std::time::Instant::now();
        while stack.rows().await <= before && start.elapsed() < Duration::from_secs(60) {
            consumer.assert_running();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(150 * kills)).await;
        consumer.kill();
        kills += 1;
        assert!(stack.rows().await < 60_000, "killed {kills} times before the end: use more bars");
    }
    let processing = stack.backlog().await;
    let mut consumer = stack.consumer(&small_batches);
    stack.drained(&mut consumer, 60_000).await;
    let status = stack.status(&consumer).await;
    assert_eq!(status["since_start"]["dead"], serde_json::json!({}), "{status}");
    eprintln!("after {kills} kills: {processing} items were queued or in processing, and recovered");
}

#[tokio::test]
async fn clickhouse_stopped_mid_drain_and_restarted_loses_nothing() {
    let mut stack = ConsumerStores::start().await;
    let bars = history(40_000);
    let (first, second) = bars.split_at(10_000);
    push_all(&mut stack, first).await;
    let time = TestTime::hold("2026-11-18T10:00:00");
    let consumer = stack.in_process(time.clock(), |s| s.consumer.batch_rows = 2000);
    stack.drained_on(&time, 10_000).await;
    stack.clickhouse.stop();
    push_all(&mut stack, second).await;
    let status = time
        .pass_until_found("the monitor showing ClickHouse down", Duration::from_millis(100), || async {
            let status = consumer.status().await;
            (status["clickhouse"] == "down").then_some(status)
        })
        .await;
    let error = status["last_error"].as_str().unwrap();
    assert!(error.starts_with("clickhouse") && !error.starts_with("clickhouse: clickhouse"), "{status}");
    assert!(stack.backlog().await > 0, "the queue is kept while ClickHouse is away");
    time.pass(Duration::from_secs(120)).await;
    assert!(stack.backlog().await > 0, "and stays through two minutes of retries");
    stack.clickhouse.launch().await.unwrap();
    stack.drained_on(&time, 40_000).await;
    let status = consumer.status().await;
    assert_eq!((&status["clickhouse"], &status["last_error"]), (&"up".into(), &serde_json::Value::Null), "{status}");
    consumer.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_and_out_of_session_items_are_dead_lettered_with_reasons() {
    let mut stack = ConsumerStores::start().await;
    let good = seed_bar("600519.SH", "2023-02-01 09:31:00", 1);
    let bad = [
        ("bad_json", "{\"symbol\":".to_owned()),
        ("bad_field", seed_bar("600519.XX", "2023-02-01 09:32:00", 2)),
        ("bad_field", seed_bar("600519.SH", "2023-02-01 99:99:99", 3)),
        ("negative_volume", seed_bar("600519.SH", "2023-02-01 09:33:00", 4).replace("\"vol\":", "\"vol\":-")),
        ("bad_bar", seed_bar("600519.SH", "2023-02-01 09:34:00", 6).replace("\"low\":10", "\"low\":99")),
        ("outside_sessions", seed_bar("600519.SH", "2023-02-01 12:00:00", 8)),
        ("outside_sessions", seed_bar("600519.SH", "2023-02-01 09:30:00", 10)),
        ("non_trading_day", seed_bar("600519.SH", "2023-01-28 10:00:00", 12)),
        (
            "bad_field",
            seed_bar("600519.SH", "2023-02-01 09:35:00", 14).replace("\"amount\":15000.5", "\"amount\":1e30"),
        ),
    ];
    // More than four decimals is float noise, rounded to 1/10,000 yuan: the bar is kept.
    let rounded = seed_bar("600519.SH", "2023-02-01 09:36:00", 16).replace(".5}", ".50004}");
    let mut items: Vec<String> = bad.iter().map(|(_, item)| item.clone()).collect();
    items.extend([good, rounded]);
    stack.push(Period::M1, &items).await;
    let mut consumer = stack.consumer(&[]);
    stack.drained(&mut consumer, 2).await;
    let field = runtime::keys::history_version_field(Period::M1, "600519.SH");
    let version: i64 = stack.0.con.hget(stack.0.keys.history_versions(), field).await.unwrap();
    assert_eq!(version, 1, "the one batch bumped the history version of the symbol it wrote");
    let dead: Vec<String> = stack.0.con.lrange(stack.0.keys.history_dead(), 0, -1).await.unwrap();
    let mut got: Vec<(String, String)> = dead
        .iter()
        .map(|d| serde_json::from_str::<serde_json::Value>(d).unwrap())
        .map(|d| {
            assert_eq!(d["queue"], "historical_bar_data_1min");
            assert!(!d["detail"].as_str().unwrap().is_empty(), "{d}");
            (d["reason"].as_str().unwrap().to_owned(), d["item"].as_str().unwrap().to_owned())
        })
        .collect();
    got.sort();
    let mut want: Vec<(String, String)> = bad.iter().map(|(r, i)| (r.to_string(), i.clone())).collect();
    want.sort();
    assert_eq!(got, want, "every bad item is dead-lettered once, with its reason and as it was sent");
    let status = stack.status(&consumer).await;
    assert_eq!(status["since_start"]["dead"]["outside_sessions"], 2, "{status}");
    let (code, metrics) = consumer.get("/metrics").await;
    assert_eq!(code, 200);
    assert!(metrics.contains("tickbar_consumer_dead_letters_total{reason=\"bad_bar\"} 1"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread")]
async fn batches_left_by_more_workers_than_configured_are_finished() {
    let mut stack = ConsumerStores::start().await;
    let bars = history(3_000);
    let mut queued = Vec::new();
    for (worker, chunk) in bars.chunks(1_000).enumerate() {
        let (period, _) = chunk[0];
        let items: Vec<&String> = chunk.iter().filter(|(p, _)| *p == period).map(|(_, item)| item).collect();
        // The layout a worker's take leaves: the version, then the items newest first.
        let processing = stack.keys.history_processing(period, 6 + worker);
        let _: () = stack.con.rpush(&processing, "1700000000000000").await.unwrap();
        let _: () = stack.con.rpush(&processing, items.iter().rev().collect::<Vec<_>>()).await.unwrap();
        queued.push(items.len() as u64);
    }
    let rows: u64 = queued.iter().sum();
    let mut consumer = stack.consumer(&[("TICKBAR__CONSUMER__WORKERS_PER_QUEUE", "2")]);
    stack.drained(&mut consumer, rows).await;
    for period in Period::DEFAULTS {
        let left: Vec<String> = stack.0.con.keys(stack.0.keys.history_processing_pattern(period)).await.unwrap();
        assert!(left.is_empty(), "no processing list is left: {left:?}");
    }
}

#[tokio::test]
async fn a_bar_written_behind_the_drain_stays_one_row_and_is_seen_once_the_marks_are_read_again() {
    let mut stack = ConsumerStores::start().await;
    let time = TestTime::hold("2026-11-18T10:00:00");
    for (symbol, ttl, duplicates) in [("600000.SH", 300_000, 0), ("600001.SH", 1, 1)] {
        let bar = |minute: u32| seed_bar(symbol, &format!("2023-01-03 10:{minute:02}:00"), u64::from(minute));
        stack.push(Period::M1, &[bar(1), bar(2)]).await;
        let consumer = stack.in_process(time.clock(), |s| s.consumer.high_water_ttl_ms = ttl);
        let rows = stack.rows().await + 2;
        stack.drained_on(&time, rows).await;
        let late: common::Bar = serde_json::from_str(&bar(30)).unwrap();
        harness::writers::write_history(&stack.clickhouse.client(), "tickbar", Period::M1, &[late]).await.unwrap();
        time.pass(Duration::from_millis(5)).await;
        stack.push(Period::M1, &[bar(30)]).await;
        let total = time
            .pass_until_found("the late bar drained", Duration::from_millis(50), || async {
                let total = consumer.status().await["since_start"].clone();
                (total["items"].as_u64() == Some(3)).then_some(total)
            })
            .await;
        assert_eq!(total["duplicates"].as_u64(), Some(duplicates), "ttl {ttl}: {total}");
        assert_eq!(total["inserted"].as_u64(), Some(3 - duplicates), "ttl {ttl}: {total}");
        assert_eq!(stack.rows().await, rows + 1, "ttl {ttl}: one row per frame after FINAL");
        consumer.stop().await;
    }
}
