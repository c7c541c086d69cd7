//! The cleanup against a real Redis and ClickHouse: it removes one trading day's same-day data and
//! nothing of the next (leaving the producer's stream and state alone), names a symbol with a
//! missing bar in its report and alerts a webhook, keeps a day whose history ClickHouse lacks until
//! it arrives or `--force` (with `archive.bars` off), runs at 2 a.m. on the service's clock and at
//! start when the scheduled run was missed (the service in-process on a clock the test holds), and
//! never runs in two instances at once. The live bars' way out of Redis is
//! `tests/tests/live_history.rs`'s.

mod support;

use std::time::Duration;

use common::time::day_number;
use common::{Period, Sessions};
use consumer::settings::ConsumerSettings;
use harness::clock::TestTime;
use harness::seed::seed_bar;
use redis::AsyncCommands;
use runtime::keys::Keys;
use runtime::progress::Progress;
use support::{ConsumerStores, InProcess};

/// `archive.bars` off: the day's Redis bars are not written to ClickHouse as live bars, so a day
/// the vendor's history lacks stays in Redis (and the bars written here, a few per day, do not
/// reach the integrity check).
const NO_LIVE_BARS: (&str, &str) = ("TICKBAR__ARCHIVE__BARS", "false");

/// Writes what a producer leaves for `day`: a closed bar per period of two symbols, a forming bar
/// per period, and the day in the set of days held.
async fn same_day_data(stack: &mut ConsumerStores, day: &str) {
    let keys = stack.keys.clone();
    let date = day.parse().unwrap();
    for symbol in ["600519.SH", "000001.SZ"] {
        for period in Period::DEFAULTS {
            let bar = seed_bar(symbol, &format!("{day} 10:30:00"), 1);
            let _: () = stack.con.zadd(keys.day_bars(date, period, symbol.parse().unwrap()), bar, 1).await.unwrap();
            let _: () = stack.con.hset(keys.forming_bars(date, period), symbol, "{}").await.unwrap();
        }
    }
    let _: () = stack.con.sadd(keys.days_held(), day).await.unwrap();
}

/// The same-day keys of `day` left in Redis.
async fn keys_of(stack: &mut ConsumerStores, day: &str) -> usize {
    let bars: Vec<String> = stack.con.keys(format!("tickbar:bars:{day}:*")).await.unwrap();
    let forming: Vec<String> = stack.con.keys(format!("tickbar:forming:{day}:*")).await.unwrap();
    bars.len() + forming.len()
}

async fn days_held(stack: &mut ConsumerStores) -> Vec<String> {
    let mut days: Vec<String> = stack.con.smembers(Keys::default().days_held()).await.unwrap();
    days.sort();
    days
}

/// A producer's stream of `entries` entries, its state, and the progress record it writes: its
/// latest tick on `day`, the last entry committed.
async fn producer_progress(stack: &mut ConsumerStores, day: &str, entries: usize) -> String {
    let mut last = String::new();
    for _ in 0..entries {
        last = stack.con.xadd("ticks", "*", &[("tick", "{}")]).await.unwrap();
    }
    let progress = Progress { latest_day: Some(day.parse().unwrap()), position: last.parse().unwrap() };
    let _: () = stack.0.con.set(stack.0.keys.producer_progress(), progress.encode()).await.unwrap();
    let _: () = stack.0.con.hset(stack.0.keys.producer_state(), "last_id", "0-1").await.unwrap();
    last
}

/// History of `day` in every period for `symbols`, as a loader queues it; `skip` leaves out one
/// (symbol, one-minute frame). Returns the rows it makes.
fn history(day: &str, symbols: &[&str], skip: Option<(&str, &str)>) -> Vec<(Period, Vec<String>)> {
    let sessions = Sessions::new(common::Layout::default(), &common::TradingCalendar::bundled());
    let day = day_number(day.parse().unwrap());
    let mut n = 0;
    Period::DEFAULTS
        .iter()
        .map(|&period| {
            let mut items = Vec::new();
            for symbol in symbols {
                for frame in sessions.grid(symbol.parse().unwrap(), day).frames(day, period) {
                    let frame = frame.to_string();
                    if period == Period::M1 && skip.is_some_and(|(s, f)| s == *symbol && frame.ends_with(f)) {
                        continue;
                    }
                    n += 1;
                    items.push(seed_bar(symbol, &frame, n));
                }
            }
            (period, items)
        })
        .collect()
}

/// The loading consumer's cleanup is due late in the evening, so it cleans none of the test's days.
fn late(settings: &mut ConsumerSettings) {
    settings.consumer.cleanup_at = "23:59:00".parse().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn cleanup_removes_its_day_only_and_reports_a_missing_bar() {
    let mut stack = ConsumerStores::start().await;
    let (day, next) = ("2023-02-01", "2023-02-02");
    same_day_data(&mut stack, day).await;
    same_day_data(&mut stack, next).await;
    let last_id = producer_progress(&mut stack, day, 5).await;
    let history = history(day, &["600519.SH", "000001.SZ"], Some(("000001.SZ", "10:00:00")));
    stack.load(&history, late).await;

    let (url, received) = harness::http::webhook().await;
    let (code, report, _) = stack.cleanup(day, &[("TICKBAR__CONSUMER__WEBHOOK_URL", &url)]);
    assert_eq!(code, 2, "done, with an integrity issue: {report:#}");
    let issues = report["integrity"]["issues"].as_array().unwrap();
    assert_eq!(issues.len(), 1, "{report:#}");
    assert_eq!(
        (&issues[0]["symbol"], &issues[0]["kind"], &issues[0]["count"], &issues[0]["frames"]),
        (&"000001.SZ".into(), &"missing".into(), &1.into(), &serde_json::json!(["10:00"]))
    );
    assert_eq!(report["integrity"]["bars"], 2 * (240 + 48 + 16 + 8 + 4) - 1);
    assert_eq!(report["kept"], serde_json::json!([]), "ClickHouse holds the day's history: {report:#}");
    let alert = tokio::time::timeout(Duration::from_secs(10), received).await.expect("the webhook was called").unwrap();
    assert!(alert.contains("000001.SZ") && alert.contains("integrity issues"), "{alert}");
    let body: serde_json::Value = serde_json::from_str(&alert).unwrap();
    assert_eq!(
        (&body["ok"], &body["days"], &body["rule"], &body["status"]),
        (&false.into(), &serde_json::json!([day]), &"cleanup_failed".into(), &"notice".into()),
        "the first releases' webhook keeps its text, ok, days and instance: {body}"
    );
    assert!(body["text"].is_string() && body["instance"].is_string(), "{body}");

    assert_eq!(keys_of(&mut stack, day).await, 0, "the day's bars and forming bars are gone");
    assert_eq!(keys_of(&mut stack, next).await, 15, "the next day's are all there");
    assert_eq!(days_held(&mut stack).await, [next]);
    assert_eq!(
        (&report["producer_latest_day"], &report["producer_positions"]),
        (&day.into(), &serde_json::json!([last_id])),
        "from the producer's progress record, not its state"
    );
    let state: bool = stack.0.con.exists(stack.0.keys.producer_state()).await.unwrap();
    let entries: u64 = stack.con.xlen("ticks").await.unwrap();
    assert!(state && entries == 5, "the producer's state and stream are the producer's: left alone");

    let stored: String = stack.0.con.get(stack.0.keys.cleanup_last()).await.unwrap();
    assert_eq!(serde_json::from_str::<serde_json::Value>(&stored).unwrap()["days"], serde_json::json!([day]));
    let (again, second, _) = stack.cleanup(day, &[]);
    assert_eq!(again, 2);
    assert_eq!(second["redis"][0]["bar_keys"], 0, "a second run finds nothing more to remove");
    assert_eq!(keys_of(&mut stack, next).await, 15);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_day_whose_history_clickhouse_lacks_stays_in_redis_until_it_arrives_or_is_forced() {
    let mut stack = ConsumerStores::start().await;
    let day = "2023-02-01";
    same_day_data(&mut stack, day).await;
    stack.load(&history(day, &["600519.SH"], None), late).await;

    let (url, received) = harness::http::webhook().await;
    let env = [("TICKBAR__CONSUMER__WEBHOOK_URL", url.as_str()), NO_LIVE_BARS];
    let (code, report, _) = stack.cleanup(day, &env);
    assert_eq!((code, &report["ok"]), (2, &false.into()), "kept, so not ok: {report:#}");
    assert_eq!(report["kept"][0]["day"], day, "{report:#}");
    assert_eq!(report["kept"][0]["groups_missing"], 5, "000001.SZ in each period: {report:#}");
    assert_eq!(
        report["kept"][0]["missing"][0],
        serde_json::json!({"symbol": "000001.SZ", "period": 1, "redis": 1, "clickhouse": 0})
    );
    let alert = tokio::time::timeout(Duration::from_secs(10), received).await.expect("the webhook was called").unwrap();
    assert!(alert.contains("kept in redis") && alert.contains(day), "{alert}");
    assert_eq!(keys_of(&mut stack, day).await, 15, "the only copy of 000001.SZ's bars stays");
    assert_eq!(days_held(&mut stack).await, [day], "and is still served from Redis");

    let (code, report, log) = stack.cleanup_with(&["--day", day, "--force"], &[NO_LIVE_BARS]);
    assert_eq!(
        (code, &report["forced"], &report["kept"]),
        (0, &true.into(), &serde_json::json!([])),
        "{report:#} {log}"
    );
    assert_eq!(keys_of(&mut stack, day).await, 0, "--force removes it anyway");
}

/// The latest report the cleanup kept in Redis, waited for with time held until `found` says it
/// is the one looked for.
async fn report_when(
    time: &TestTime,
    stack: &ConsumerStores,
    consumer: &InProcess,
    found: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let report = time
        .until("the cleanup's report", || {
            let (mut con, key) = (stack.con.clone(), stack.keys.cleanup_last());
            let found = &found;
            async move {
                let stored: Option<String> = con.get(key).await.unwrap();
                let report = serde_json::from_str::<serde_json::Value>(&stored?).unwrap();
                found(&report).then_some(report)
            }
        })
        .await;
    let status = consumer.status().await;
    assert_eq!(status["last_cleanup"]["days"], report["days"], "the monitor shows the last cleanup");
    report
}

#[tokio::test]
async fn the_cleanup_runs_at_2_am_on_the_services_clock_and_not_a_second_before() {
    let mut stack = ConsumerStores::start().await;
    let (previous, today) = ("2026-11-18", "2026-11-19");
    same_day_data(&mut stack, previous).await;
    same_day_data(&mut stack, today).await;
    stack.load(&history(previous, &["600519.SH", "000001.SZ"], None), late).await;
    let _: () = stack.0.con.del(stack.0.keys.cleanup_last()).await.unwrap();
    let time = TestTime::hold("2026-11-19T01:59:00");
    let consumer = stack.in_process(time.clock(), |_| {});
    let first = report_when(&time, &stack, &consumer, |_| true).await;
    assert_eq!(
        (&first["days"], &first["scheduled_for"]),
        (&serde_json::json!(["2026-11-17"]), &"2026-11-18T02:00:00+08:00".into()),
        "with no report kept, yesterday's run was missed and runs at start: {first:#}"
    );
    time.pass_until(common::time::parse_datetime("2026-11-19T01:59:59.999").unwrap()).await;
    assert_eq!(days_held(&mut stack).await, [previous, today], "not a second early");
    time.pass(Duration::from_secs(1)).await;
    let run = report_when(&time, &stack, &consumer, |r| r["days"] == serde_json::json!([previous])).await;
    assert_eq!((&run["trigger"], &run["scheduled_for"]), (&"schedule".into(), &"2026-11-19T02:00:00+08:00".into()));
    assert_eq!(keys_of(&mut stack, previous).await, 0);
    assert_eq!(keys_of(&mut stack, today).await, 15);
    assert_eq!(days_held(&mut stack).await, [today]);
    time.pass(Duration::from_secs(3600)).await;
    let hour_later: String = stack.0.con.get(stack.0.keys.cleanup_last()).await.unwrap();
    assert_eq!(serde_json::from_str::<serde_json::Value>(&hour_later).unwrap(), run, "it runs once a night");
    consumer.stop().await;
}

#[tokio::test]
async fn a_missed_cleanup_runs_at_start() {
    let mut stack = ConsumerStores::start().await;
    let (previous, today) = ("2026-11-18".to_owned(), "2026-11-19".to_owned());
    same_day_data(&mut stack, &previous).await;
    same_day_data(&mut stack, &today).await;
    stack.load(&history(&previous, &["600519.SH", "000001.SZ"], None), late).await;
    let _: () = stack.0.con.del(stack.0.keys.cleanup_last()).await.unwrap();
    let time = TestTime::hold("2026-11-19T00:30:00");
    let consumer = stack.in_process(time.clock(), |s| s.consumer.cleanup_at = "00:00:00".parse().unwrap());
    let report = report_when(&time, &stack, &consumer, |_| true).await;
    assert_eq!(
        (&report["trigger"], &report["days"]),
        (&"schedule".into(), &serde_json::json!([previous])),
        "{report:#}"
    );
    assert_eq!(report["scheduled_for"], format!("{today}T00:00:00+08:00"), "{report:#}");
    assert_eq!(keys_of(&mut stack, &previous).await, 0);
    assert_eq!(keys_of(&mut stack, &today).await, 15);
    assert_eq!(days_held(&mut stack).await, [today]);
    consumer.stop().await;
}

#[tokio::test]
async fn past_the_holiday_list_the_scheduled_cleanup_still_runs_and_says_the_list_ended() {
    let mut stack = ConsumerStores::start().await;
    let day = "2027-01-04";
    same_day_data(&mut stack, day).await;
    stack.load(&history(day, &["600519.SH", "000001.SZ"], None), late).await;
    let _: () = stack.0.con.del(stack.0.keys.cleanup_last()).await.unwrap();
    let time = TestTime::hold("2027-01-05T02:00:30");
    let consumer = stack.in_process(time.clock(), |_| {});
    let report = report_when(&time, &stack, &consumer, |_| true).await;
    assert_eq!(report["days"], serde_json::json!([day]), "{report:#}");
    assert!(report["calendar_warning"].as_str().unwrap().contains("ended on 2026-12-31"), "{report:#}");
    assert_eq!(keys_of(&mut stack, day).await, 0, "the provisional day was cleaned");
    consumer.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_instances_never_run_the_cleanup_at_once() {
    let mut stack = ConsumerStores::start().await;
    let day = "2023-02-01";
    same_day_data(&mut stack, day).await;
    let lock = stack.keys.cleanup_lock();
    let _: () = redis::cmd("SET")
        .arg(&lock)
        .arg("other-instance")
        .arg("PX")
        .arg(60_000)
        .query_async(&mut stack.con)
        .await
        .unwrap();
    let (code, report, log) = stack.cleanup(day, &[]);
    assert_eq!((code, report), (1, serde_json::Value::Null), "refused while another instance holds the lock");
    assert!(log.contains("the cleanup lock is held by other-instance"), "{log}");
    let (_, _, log) =
        stack.cleanup_with(&["--day", day, "--force"], &[("TICKBAR__CONSUMER__INSTANCE", "other-instance")]);
    assert!(log.contains("the cleanup lock is held by other-instance"), "one name, another process: still out: {log}");
    assert_eq!(keys_of(&mut stack, day).await, 15, "nothing removed meanwhile");
    let holder: String = stack.con.get(&lock).await.unwrap();
    assert_eq!(holder, "other-instance", "the other instance's lock is left alone");
    let _: () = stack.con.del(&lock).await.unwrap();
    let (code, report, log) = stack.cleanup_with(&["--day", day, "--force"], &[NO_LIVE_BARS]);
    assert_eq!(code, 0, "{report:#} {log}");
    assert_eq!(keys_of(&mut stack, day).await, 0);
    let after: Option<String> = stack.con.get(&lock).await.unwrap();
    assert_eq!(after, None, "the lock is released after the run");
}

#[tokio::test]
async fn an_early_close_announced_while_running_ends_the_integrity_expectation_of_its_day() {
    let mut stack = ConsumerStores::start().await;
    let day = "2023-02-01";
    let closed = common::TradingCalendar::bundled()
        .with_overrides(vec![common::calendar::DayOverride {
            date: day.parse().unwrap(),
            change: common::calendar::DayChange::EarlyClose { at: "10:30".parse().unwrap() },
            source: "test".into(),
        }])
        .unwrap();
    let sessions = Sessions::new(common::Layout::default(), &closed);
    let n = day_number(day.parse().unwrap());
    let vendor: Vec<(Period, Vec<String>)> = Period::DEFAULTS
        .iter()
        .map(|&p| {
            let frames = sessions.grid("600519.SH".parse().unwrap(), n).frames(n, p);
            (p, frames.enumerate().map(|(i, f)| seed_bar("600519.SH", &f.to_string(), i as u64)).collect())
        })
        .collect();
    assert_eq!(vendor[0].1.len(), 60, "09:31 to 10:30");
    stack.load(&vendor, late).await;
    let (_, before, _) = stack.cleanup(day, &[NO_LIVE_BARS]);
    let issues = before["integrity"]["issues"].as_array().unwrap();
    let minutes = issues.iter().find(|i| i["period"] == 1).expect("the one-minute bars after 10:30 are missing");
    assert_eq!((&minutes["kind"], &minutes["count"]), (&"missing".into(), &180.into()), "{before:#}");

    let time = TestTime::hold("2023-02-01T10:20:00");
    let consumer = stack.in_process(time.clock(), late);
    let mut settings = ConsumerSettings::default();
    settings.redis.url = stack.redis.url();
    let announce = runtime::calendar::admin::CalendarCommand::Announce {
        date: day.parse().unwrap(),
        change: "early_close".into(),
        from: Some("10:30".parse().unwrap()),
        to: None,
        source: "an emergency notice".into(),
        force: false,
    };
    runtime::calendar::admin::run(
        &announce,
        &settings.redis,
        &runtime::calendar::LiveCalendar::bundled(),
        time.clock(),
    )
    .await
    .unwrap();
    time.pass(Duration::from_secs(1)).await;
    time.until("the consumer on calendar version 1", || async {
        use runtime::ops::Ops;
        (consumer.monitor.calendar().current().version == 1).then_some(())
    })
    .await;
    consumer.stop().await;
    let (code, after, log) = stack.cleanup(day, &[NO_LIVE_BARS]);
    assert_eq!(code, 0, "{after:#} {log}");
    assert_eq!(after["integrity"]["issues"], serde_json::json!([]), "the day ends at 10:30: {after:#}");
    assert_eq!(after["integrity"]["bars"], 60 + 12 + 4 + 2 + 1);
}
