//! A user with no vendor history: the sample's three days fed live through `producer replay` and
//! the tick stream, and after each the nightly cleanup (`consumer cleanup --day`), which writes the
//! day's bars into ClickHouse as live bars and removes the day from Redis. The API's bars over the
//! three days then equal the rule oracle's, every one marked `live`. Then the vendor's history of
//! the second day arrives late, with differences planted in two symbols: the API serves the
//! vendor's bars of that day, and the reconciliation of the next cleanup names exactly those two
//! symbols, in its report, its webhook text and the consumer's `/metrics`.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{Bar, Period, Source};
use harness::stack::{StackOptions, WholeStack};
use redis::AsyncCommands;
use runtime::keys::Keys;
use sample::market::{generate, Day};

/// `GET /api/v1/bars` of `symbol` and `period` from `start` to `end`: each bar and its source.
async fn served(stack: &WholeStack, symbol: &str, period: Period, start: &str, end: &str) -> Vec<(Bar, String)> {
    let path = format!("/api/v1/bars?symbol={symbol}&period={}&start={start}&end={end}", period.minutes());
    let (status, body) = stack.api.get(&path).await;
    assert_eq!(status, 200, "{path}: {body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    let objects = answer["bars"].as_array().unwrap();
    let source = |o: &serde_json::Value| o["source"].as_str().unwrap_or("none").to_owned();
    objects.iter().map(|o| (serde_json::from_value(o.clone()).unwrap(), source(o))).collect()
}

/// `consumer cleanup --day day` with `env`: its exit code and report.
fn cleanup(stack: &WholeStack, day: &str, env: &[(&str, &str)]) -> (Option<i32>, serde_json::Value) {
    let mut command = stack.command("consumer", &["cleanup", "--day", day]);
    command.envs(env.iter().copied());
    let out = command.output().unwrap();
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!("the cleanup prints its report: {}", String::from_utf8_lossy(&out.stderr));
    });
    (out.status.code(), report)
}

/// Every oracle bar of `day`, all periods.
fn day_bars(day: &Day) -> u64 {
    Period::DEFAULTS.iter().map(|p| sample::oracle::day_bars(day, *p).len() as u64).sum()
}

/// Items of one period's history queue.
type Queued = (Period, Vec<String>);

/// The vendor's history of `day`: the oracle's bars, but the first planted symbol's 1-minute bar
/// at 10:00 has 100 more shares and the second's 5-minute bar at 13:30 closes at its high. The planted
/// bars with their periods, and the items per period.
fn vendor_history(day: &Day, planted: [&str; 2]) -> (Vec<(Period, Bar)>, Vec<Queued>) {
    let mut changed = Vec::new();
    let queues = Period::DEFAULTS
        .iter()
        .map(|&period| {
            let mut bars = sample::oracle::day_bars(day, period);
            for bar in &mut bars {
                let at = bar.frame.time().format("%H:%M").to_string();
                let symbol = bar.symbol.to_string();
                if period == Period::M1 && symbol == planted[0] && at == "10:00" {
                    bar.vol += 100;
                    bar.amount += bar.close * 100;
                    changed.push((period, bar.clone()));
                }
                if period == Period::M5 && symbol == planted[1] && at == "13:30" {
                    assert_ne!(bar.close, bar.high, "the planted change changes the bar");
                    bar.close = bar.high;
                    changed.push((period, bar.clone()));
                }
            }
            (period, bars.iter().map(|b| serde_json::to_string(b).unwrap()).collect())
        })
        .collect();
    assert_eq!(changed.len(), 2, "both differences planted");
    (changed, queues)
}

/// The symbols the report's reconciliation says differ, with their period.
fn differing(report: &serde_json::Value) -> BTreeSet<(u64, String)> {
    let mut out = BTreeSet::new();
    for day in report["reconciliation"].as_array().unwrap() {
        for d in day["differences"].as_array().unwrap() {
            out.insert((day["period"].as_u64().unwrap(), d["symbol"].as_str().unwrap().to_owned()));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_vendor_each_day_becomes_live_history_and_a_late_vendor_day_supersedes_it_and_is_reconciled() {
    let producer = harness::workspace_binary("producer");
    let bins = producer.parent().unwrap();
    let mut stack = WholeStack::start(StackOptions::plain(bins)).await.unwrap();
    let mut con = stack.redis.connect().await.unwrap();
    let (stocks, days) = generate();
    let dates: Vec<String> = days.iter().map(|d| d.date.to_string()).collect();

    for (day, date) in days.iter().zip(&dates) {
        let file = stack.dir().join(format!("{date}.jsonl"));
        std::fs::write(&file, sample::files::qmt_lines(day).join("\n")).unwrap();
        stack.run("producer", &["replay", "--file", &file.display().to_string(), "--speed", "0"]).unwrap();
        stack.day_applied().await.unwrap();
        let (code, report) = cleanup(&stack, date, &[]);
        assert_ne!(code, Some(1), "the cleanup of {date} failed: {report:#}");
        assert_eq!(report["kept"], serde_json::json!([]), "nothing kept: {report:#}");
        assert_eq!(report["redis"][0]["day"], date.as_str(), "{report:#}");
        let written = &report["live_written"][0];
        assert_eq!((written["bars"].as_u64(), written["unreadable"].as_u64()), (Some(day_bars(day)), Some(0)));
        let held: Vec<String> = con.smembers(Keys::default().days_held()).await.unwrap();
        assert!(!held.contains(date), "{date} left Redis: {held:?}");
        let left: Vec<String> = con.keys(format!("tickbar:bars:{date}:*")).await.unwrap();
        assert!(left.is_empty(), "{date}'s bars left in Redis: {}", left.len());
    }
    let live_rows: u64 = days.iter().map(day_bars).sum();
    stack.bars_stored("", live_rows).await.unwrap();

    let (first, last) = (&dates[0], &dates[2]);
    for (i, stock) in stocks.iter().enumerate() {
        let symbol = stock.symbol.to_string();
        for period in Period::DEFAULTS {
            let want: Vec<Bar> = days.iter().flat_map(|d| sample::oracle::bars(&d.symbols[i], period)).collect();
            let got = served(&stack, &symbol, period, first, last).await;
            assert_eq!(got.iter().map(|(b, _)| b.clone()).collect::<Vec<_>>(), want, "{symbol} {period}m");
            assert!(got.iter().all(|(_, s)| s == Source::Live.as_str()), "{symbol} {period}m is live history");
        }
    }

    let planted = [stocks[0].symbol.to_string(), stocks[1].symbol.to_string()];
    let (changed, queues) = vendor_history(&days[1], [&planted[0], &planted[1]]);
    let vendor_rows: u64 = queues.iter().map(|(_, items)| items.len() as u64).sum();
    for (period, items) in &queues {
        let _: () = con.rpush(stack.keys.history_queue(*period), items).await.unwrap();
    }
    stack.bars_stored(&format!("version >= {}", Source::LIVE_VERSIONS_END), vendor_rows).await.unwrap();
    stack.bars_stored("", live_rows).await.unwrap();

    for (i, stock) in stocks.iter().enumerate().take(4) {
        let symbol = stock.symbol.to_string();
        for period in [Period::M1, Period::M5] {
            let mut want = sample::oracle::bars(&days[1].symbols[i], period);
            for bar in &mut want {
                if let Some((_, c)) =
                    changed.iter().find(|(p, c)| *p == period && (c.symbol, c.frame) == (bar.symbol, bar.frame))
                {
                    *bar = c.clone();
                }
            }
            let got = served(&stack, &symbol, period, &dates[1], &dates[1]).await;
            assert_eq!(
                got.iter().map(|(b, _)| b.clone()).collect::<Vec<_>>(),
                want,
                "{symbol} {period}m: the vendor's"
            );
            assert!(got.iter().all(|(_, s)| s == Source::Vendor.as_str()), "{symbol} {period}m is the vendor's now");
            let around = served(&stack, &symbol, period, first, last).await;
            let live = around.iter().filter(|(b, _)| b.frame.date() != days[1].date);
            assert!(
                live.clone().all(|(_, s)| s == Source::Live.as_str()),
                "{symbol} {period}m: days 1 and 3 stay live"
            );
        }
    }

    let (url, received) = harness::http::webhook().await;
    let (code, report) = cleanup(&stack, last, &[("TICKBAR__CONSUMER__WEBHOOK_URL", &url)]);
    assert_eq!(code, Some(2), "differences make the report not ok: {report:#}");
    let named = differing(&report);
    let want: BTreeSet<(u64, String)> = [(1, planted[0].clone()), (5, planted[1].clone())].into();
    assert_eq!(named, want, "exactly the two planted symbols: {:#}", report["reconciliation"]);
    let reconciled: Vec<&serde_json::Value> =
        report["reconciliation"].as_array().unwrap().iter().filter(|r| r["day"] == dates[1].as_str()).collect();
    assert_eq!(
        reconciled.len(),
        Period::DEFAULTS.len(),
        "only the day with both sources, every period: {reconciled:?}"
    );
    let one = reconciled.iter().find(|r| r["period"] == 1).unwrap();
    let traded = days[1].symbols.iter().filter(|s| !sample::oracle::bars(s, Period::M1).is_empty()).count();
    assert_eq!(one["symbols"].as_u64(), Some(traded as u64), "every symbol traded that day is compared");
    let d = &one["differences"][0];
    assert_eq!((d["differing"].as_u64(), d["volume_difference"].as_i64()), (Some(1), Some(-100)), "{d}");
    let alert = tokio::time::timeout(Duration::from_secs(10), received).await.expect("the webhook was called").unwrap();
    assert!(alert.contains("live bars differ from the vendor's"), "{alert}");
    assert!(planted.iter().all(|s| alert.contains(s.as_str())), "{alert}");

    let started = Instant::now();
    loop {
        let (_, metrics) = stack.consumer.get("/metrics").await;
        let line = |period: u16| format!("tickbar_consumer_reconciliation_differing_symbols{{period=\"{period}\"}} 1");
        if metrics.contains(&line(1)) && metrics.contains(&line(5)) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "the metrics never showed the reconciliation:\n{metrics}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stack.stop();
}
