//! The producer under abuse: killed with SIGKILL mid-stream and restarted, fed 10,000 malformed
//! entries, stopped with SIGTERM. Bars must come out as if nothing had happened.

mod support;

use std::time::Duration;

use common::{Period, Tick};
use harness::fixtures;
use harness::seed::aggregate;
use redis::AsyncCommands;
use runtime::keys::Keys;
use support::*;

const DAY: &str = "2023-02-01";

/// A real day of two symbols, one tick per entry: 600519.SH trades and 000333.SZ snapshots.
fn day_entries() -> (Vec<Tick>, Vec<(&'static str, String)>) {
    let mut ticks = fixtures::trades(DAY);
    ticks.extend(fixtures::snapshots("000333.SZ", DAY));
    ticks.sort_by_key(|t| t.time_ms);
    let entries = ticks.iter().map(|t| ("tick", tick_json(t))).collect();
    (ticks, entries)
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_with_sigkill_mid_stream_and_restarted_the_bars_equal_a_clean_run() {
    let mut stack = ProducerRedis::start().await;
    let (_, entries) = day_entries();

    let mut clean = stack.producer("clean:", &[]);
    stack.send("clean:", &entries).await;
    stack.drained("clean:", &mut clean).await;
    let expected = stack.dump("clean:").await;
    let keys: Vec<&str> = expected.iter().map(|(key, _)| key.as_str()).collect();
    assert_eq!(keys.len(), 10, "two symbols' bars of five periods, and no forming bar left after the close: {keys:?}");

    let fast_checkpoints = [("TICKBAR__PRODUCER__CHECKPOINT_INTERVAL_MS", "150")];
    let mut producer = stack.producer("crash:", &fast_checkpoints);
    let mut kills = 0;
    for (i, chunk) in entries.chunks(2_000).enumerate() {
        stack.send("crash:", chunk).await;
        tokio::time::sleep(Duration::from_millis(60)).await;
        if i % 3 == 1 {
            producer.kill();
            kills += 1;
            producer = stack.producer("crash:", &fast_checkpoints);
        }
    }
    stack.drained("crash:", &mut producer).await;
    assert!(kills >= 5);
    let got = stack.dump("crash:").await;
    assert_eq!(got.len(), expected.len());
    for (a, b) in got.iter().zip(&expected) {
        assert_eq!(a, b);
    }
}

/// 10,000 entries nobody can use, of every kind, each with the reason it gets.
fn malformed() -> Vec<((&'static str, String), &'static str)> {
    let kinds: [(&str, &str, &str); 8] = [
        ("tick", "{\"symbol\":\"600519.SH\",", "bad_json"),
        ("tick", r#"{"symbol":"60051.SH","time":1675215000000,"price":1,"volume":1}"#, "bad_symbol"),
        ("tick", r#"{"symbol":"600519.SH","price":1,"volume":1}"#, "missing_field"),
        ("tick", r#"{"symbol":"600519.SH","time":1675215000000,"price":0,"volume":100}"#, "bad_price"),
        ("tick", r#"{"symbol":"600519.SH","time":-5,"price":1,"volume":1}"#, "implausible_time"),
        ("tick", r#"{"symbol":"600519.SH","time":"2023-02-01 99:99:99","price":1,"volume":1}"#, "bad_time"),
        ("quote", r#"{"symbol":"600519.SH"}"#, "unknown_field"),
        ("qmt", r#"{"600519.SH":{"time":1675215000000,"lastPrice":-1,"volume":1,"amount":1}}"#, "bad_price"),
    ];
    (0..10_000).map(|i| kinds[i % kinds.len()]).map(|(f, p, r)| ((f, p.to_owned()), r)).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_thousand_malformed_entries_are_dead_lettered_with_reasons_and_valid_ticks_are_unaffected() {
    let mut stack = ProducerRedis::start().await;
    let (ticks, valid) = day_entries();
    let bad = malformed();
    let mut mixed = Vec::new();
    let mut bad_iter = bad.iter();
    for (i, entry) in valid.iter().enumerate() {
        mixed.push(entry.clone());
        if i % 3 == 0 {
            if let Some((b, _)) = bad_iter.next() {
                mixed.push(b.clone());
            }
        }
    }
    mixed.extend(bad_iter.map(|(b, _)| b.clone()));

    let mut producer = stack.producer("mixed:", &[]);
    stack.send("mixed:", &mixed).await;
    stack.drained("mixed:", &mut producer).await;

    let dead_stream = Keys::new("mixed:").dead_ticks();
    let dead: u64 = stack.con.xlen(&dead_stream).await.unwrap();
    assert_eq!(dead, 10_000);
    let (status, body) = producer.get("/api/status").await;
    assert_eq!(status, 200, "{body}");
    let status: serde_json::Value = serde_json::from_str(&body).unwrap();
    for reason in
        ["bad_json", "bad_symbol", "missing_field", "bad_price", "implausible_time", "bad_time", "unknown_field"]
    {
        let expected = bad.iter().filter(|(_, r)| *r == reason).count() as u64;
        assert_eq!(status["counters"]["dead"][reason], expected, "{reason}");
    }
    let first: redis::streams::StreamRangeReply = stack.con.xrange_count(&dead_stream, "-", "+", 1).await.unwrap();
    let fields = &first.ids[0].map;
    for field in ["reason", "detail", "entry", "id", "field"] {
        assert!(fields.contains_key(field), "dead letters carry {field}");
    }

    for p in common::Period::DEFAULTS {
        for symbol in ["600519.SH", "000333.SZ"] {
            let ours = stack.bars("mixed:", DAY, p, symbol).await;
            assert_eq!(ours, aggregate(&ticks, symbol, p), "{symbol} {p}m");
        }
    }
    assert_eq!(stack.bars("mixed:", DAY, Period::M1, "600519.SH").await.len(), 240);

    let (status, metrics) = producer.get("/metrics").await;
    assert_eq!(status, 200);
    assert!(metrics.contains("tickbar_producer_dead_letters_total{reason=\"bad_json\"} 1250"), "{metrics}");
    assert_eq!(producer.get("/healthz").await.0, 200);
    assert_eq!(producer.get("/readyz").await.0, 200);

    let started = std::time::Instant::now();
    assert!(producer.terminate().success(), "SIGTERM is a clean exit");
    assert!(started.elapsed() < Duration::from_secs(10));
    let last: redis::streams::StreamRangeReply =
        stack.con.xrevrange_count(Keys::new("mixed:").tick_stream(), "+", "-", 1).await.unwrap();
    let saved: String = stack.con.hget(Keys::new("mixed:").producer_state(), "last_id").await.unwrap();
    assert_eq!(saved, last.ids[0].id, "the stop checkpointed everything");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_archive_is_told_which_ticks_the_clock_refused_even_when_the_stream_is_never_trimmed() {
    let mut stack = ProducerRedis::start().await;
    let ahead = r#"[{"symbol":"600519.SH","time":1675215060000,"price":1,"volume":100},{"symbol":"600519.SH","time":"2099-01-05T10:00:00","price":1,"volume":100}]"#;
    let entries = [("tick", ahead.to_owned())];
    let mut producer = stack.producer("keep:", &[("TICKBAR__PRODUCER__TRIM_STREAM", "false")]);
    stack.send("keep:", &entries).await;
    stack.drained("keep:", &mut producer).await;
    let keys = Keys::new("keep:");
    let sent: redis::streams::StreamRangeReply = stack.con.xrange_count(keys.tick_stream(), "-", "+", 1).await.unwrap();
    let refused: Vec<(String, String)> = stack.con.hgetall(keys.refused_ticks()).await.unwrap();
    assert_eq!(refused, [(sent.ids[0].id.clone(), "1".to_owned())], "the second tick of the entry is left out");
}
