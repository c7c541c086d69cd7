//! The cleanup against a real Redis and ClickHouse: it removes one trading day's same-day data and
//! nothing of the next, names a symbol with a missing bar in its report and alerts a webhook, runs
//! at start when the scheduled run was missed, and never runs in two instances at once.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::keys::Keys;
use common::time::{day_number, epoch_ms};
use common::{BarAggregator, BarSettings, Period, Sessions, Tick, TickKind, TradingCalendar};
use harness::seed_bar;
use redis::AsyncCommands;
use support::Stack;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Writes what a producer leaves for `day`: a closed bar per period of two symbols, a forming bar
/// per period, and the day in the set of days held.
async fn same_day_data(stack: &mut Stack, day: &str) {
    let keys = stack.keys.clone();
    let date = day.parse().unwrap();
    for symbol in ["600519.SH", "000001.SZ"] {
        for period in Period::ALL {
            let bar = seed_bar(symbol, &format!("{day} 10:30:00"), 1);
            let _: () = stack.con.zadd(keys.day_bars(date, period, symbol.parse().unwrap()), bar, 1).await.unwrap();
            let _: () = stack.con.hset(keys.forming_bars(date, period), symbol, "{}").await.unwrap();
        }
    }
    let _: () = stack.con.sadd(keys.days_held(), day).await.unwrap();
}

/// The same-day keys of `day` left in Redis.
async fn keys_of(stack: &mut Stack, day: &str) -> usize {
    let bars: Vec<String> = stack.con.keys(format!("tickbar:bars:{day}:*")).await.unwrap();
    let forming: Vec<String> = stack.con.keys(format!("tickbar:forming:{day}:*")).await.unwrap();
    bars.len() + forming.len()
}

async fn days_held(stack: &mut Stack) -> Vec<String> {
    let mut days: Vec<String> = stack.con.smembers(Keys::default().days_held()).await.unwrap();
    days.sort();
    days
}

/// A producer checkpoint whose latest tick is on `day`, with `entries` stream entries before it.
async fn producer_state(stack: &mut Stack, day: &str, entries: usize) -> String {
    let mut agg = BarAggregator::new(&BarSettings::default(), Arc::new(TradingCalendar::bundled()));
    let time_ms = epoch_ms(day_number(day.parse().unwrap()), 10 * 3600);
    let tick = Tick {
        symbol: "600519.SH".parse().unwrap(),
        time_ms,
        price: "1800".parse().unwrap(),
        volume: 100,
        amount: "180000".parse().unwrap(),
        kind: TickKind::Trade,
    };
    agg.apply_at_watermark(&tick);
    let mut last = String::new();
    for _ in 0..entries {
        last = stack.con.xadd("ticks", "*", &[("tick", "{}")]).await.unwrap();
    }
    let keys = stack.keys.clone();
    let fields: [(&str, Vec<u8>); 3] =
        [("aggregator", agg.save()), ("counters", b"{}".to_vec()), ("last_id", last.clone().into_bytes())];
    let _: () = stack.con.hset_multiple(keys.producer_state(), &fields).await.unwrap();
    last
}

/// A webhook receiver on a free port: the body of the first POST it gets.
async fn webhook() -> (String, tokio::task::JoinHandle<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/alert", listener.local_addr().unwrap());
    let received = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = socket.read(&mut buf).await.unwrap();
            request.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&request).to_string();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap())
                    })
                    .unwrap_or(0);
                if body.len() >= length || n == 0 {
                    socket.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await.unwrap();
                    return body.to_owned();
                }
            }
        }
    });
    (url, received)
}

#[tokio::test(flavor = "multi_thread")]
async fn cleanup_removes_its_day_only_and_reports_a_missing_bar() {
    let mut stack = Stack::start().await;
    let (day, next) = ("2023-02-01", "2023-02-02");
    same_day_data(&mut stack, day).await;
    same_day_data(&mut stack, next).await;
    let last_id = producer_state(&mut stack, day, 5).await;
    let later: String = stack.con.xadd("ticks", "*", &[("tick", "{}")]).await.unwrap();

    let sessions = Sessions::new(common::Layout::default());
    let mut history = Vec::new();
    for symbol in ["600519.SH", "000002.SZ"] {
        for frame in sessions.grid(symbol.parse().unwrap()).frames(day_number(day.parse().unwrap()), Period::M1) {
            if symbol == "000002.SZ" && frame.to_string().ends_with("10:00:00") {
                continue;
            }
            history.push(seed_bar(symbol, &frame.to_string(), history.len() as u64));
        }
    }
    stack.push(Period::M1, &history).await;
    let mut consumer = stack.consumer(&[("TICKBAR__CONSUMER__CLEANUP_AT", "23:59")]);
    stack.drained(&mut consumer, 479).await;
    let stopping = Instant::now();
    assert!(consumer.terminate().success(), "SIGTERM stops the consumer cleanly: {}", consumer.log());
    assert!(stopping.elapsed() < Duration::from_secs(10));

    let (url, received) = webhook().await;
    let (code, report, _) = stack.cleanup(day, &[("TICKBAR__CONSUMER__WEBHOOK_URL", &url)]);
    assert_eq!(code, 2, "done, with an integrity issue: {report:#}");
    let issues = report["integrity"]["issues"].as_array().unwrap();
    assert_eq!(issues.len(), 1, "{report:#}");
    assert_eq!(
        (&issues[0]["symbol"], &issues[0]["kind"], &issues[0]["count"], &issues[0]["frames"]),
        (&"000002.SZ".into(), &"missing".into(), &1.into(), &serde_json::json!(["10:00"]))
    );
    assert_eq!(report["integrity"]["bars"], 479);
    let alert = tokio::time::timeout(Duration::from_secs(10), received).await.expect("the webhook was called").unwrap();
    assert!(alert.contains("000002.SZ") && alert.contains("integrity issues"), "{alert}");

    assert_eq!(keys_of(&mut stack, day).await, 0, "the day's bars and forming bars are gone");
    assert_eq!(keys_of(&mut stack, next).await, 15, "the next day's are all there");
    assert_eq!(days_held(&mut stack).await, [next]);
    assert!(report["producer_state"].as_str().unwrap().starts_with("removed"), "{report:#}");
    let state: bool = stack.con.exists(stack.keys.producer_state()).await.unwrap();
    assert!(!state, "the producer state of the day is gone");
    let left: Vec<(String, Vec<(String, String)>)> =
        redis::cmd("XRANGE").arg("ticks").arg("-").arg("+").query_async(&mut stack.con).await.unwrap();
    let left: Vec<&str> = left.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(left, [later.as_str()], "committed entries up to {last_id} are trimmed, the later one kept");

    let stored: String = stack.con.get(stack.keys.cleanup_last()).await.unwrap();
    assert_eq!(serde_json::from_str::<serde_json::Value>(&stored).unwrap()["days"], serde_json::json!([day]));
    let (again, second, _) = stack.cleanup(day, &[]);
    assert_eq!(again, 2);
    assert_eq!(second["redis"][0]["bar_keys"], 0, "a second run finds nothing more to remove");
    assert_eq!(keys_of(&mut stack, next).await, 15);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missed_cleanup_runs_at_start() {
    let mut stack = Stack::start().await;
    let calendar = TradingCalendar::bundled();
    let today = common::Frame::from_epoch_seconds(chrono::Utc::now().timestamp()).date();
    let previous = calendar.prev(today).expect("the bundled calendar covers today").to_string();
    let today = today.to_string();
    same_day_data(&mut stack, &previous).await;
    same_day_data(&mut stack, &today).await;
    let mut consumer = stack.consumer(&[("TICKBAR__CONSUMER__CLEANUP_AT", "00:00")]);
    let start = Instant::now();
    let report = loop {
        consumer.assert_running();
        let stored: Option<String> = stack.con.get(stack.keys.cleanup_last()).await.unwrap();
        if let Some(stored) = stored {
            break serde_json::from_str::<serde_json::Value>(&stored).unwrap();
        }
        assert!(start.elapsed() < Duration::from_secs(30), "no cleanup ran at start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        (&report["trigger"], &report["days"]),
        (&"schedule".into(), &serde_json::json!([previous])),
        "{report:#}"
    );
    assert!(report["scheduled_for"].as_str().unwrap().starts_with(&format!("{today}T00:00:00")), "{report:#}");
    assert_eq!(keys_of(&mut stack, &previous).await, 0);
    assert_eq!(keys_of(&mut stack, &today).await, 15);
    assert_eq!(days_held(&mut stack).await, [today]);
    let status = stack.status(&consumer).await;
    assert_eq!(status["last_cleanup"]["days"], report["days"], "the monitor shows the last cleanup");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_instances_never_run_the_cleanup_at_once() {
    let mut stack = Stack::start().await;
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
    assert_eq!(keys_of(&mut stack, day).await, 15, "nothing removed meanwhile");
    let holder: String = stack.con.get(&lock).await.unwrap();
    assert_eq!(holder, "other-instance", "the other instance's lock is left alone");
    let _: () = stack.con.del(&lock).await.unwrap();
    let (code, report, log) = stack.cleanup(day, &[]);
    assert_eq!(code, 0, "{report:#} {log}");
    assert_eq!(keys_of(&mut stack, day).await, 0);
    let after: Option<String> = stack.con.get(&lock).await.unwrap();
    assert_eq!(after, None, "the lock is released after the run");
}
