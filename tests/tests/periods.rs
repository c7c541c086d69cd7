//! A deployment storing periods beyond the five defaults: `bars.periods = [1, 3, 5, 15, 30, 60,
//! 120]` on every service. The sample's history days go through the seven queues
//! (`historical_bar_data_3min` and `_120min` among them) into ClickHouse, the sample day through
//! the stream into Redis; the API serves every stored period over the three days as the rule
//! oracle gives it, reading 3 and 120 as stored bars; the nightly cleanup moves the day's seven
//! periods into ClickHouse with an integrity check that misses nothing and empties Redis.

use std::path::PathBuf;

use common::{Bar, Period};
use harness::stack::{StackOptions, WholeStack};
use redis::AsyncCommands;
use sample::market::{generate, DAYS};

/// `GET /api/v1/bars` of `symbol` and `period` over the sample's three days: the bars and how
/// many each store gave.
async fn served(stack: &WholeStack, symbol: &str, period: Period) -> (Vec<Bar>, (u64, u64)) {
    let path = format!("/api/v1/bars?symbol={symbol}&period={}&start={}&end={}", period.minutes(), DAYS[0], DAYS[2]);
    let (status, body) = stack.api.get(&path).await;
    assert_eq!(status, 200, "{path}: {body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    let sources = (answer["sources"]["redis"].as_u64().unwrap(), answer["sources"]["clickhouse"].as_u64().unwrap());
    (serde_json::from_value(answer["bars"].clone()).unwrap(), sources)
}

#[tokio::test(flavor = "multi_thread")]
async fn seven_stored_periods_flow_through_queues_stream_api_and_cleanup_as_the_rules_give() {
    let periods: Vec<Period> = [1, 3, 5, 15, 30, 60, 120].map(|m| Period::from_minutes(m).unwrap()).to_vec();
    let (three, two_hours) = (periods[1], periods[6]);
    let producer = harness::workspace_binary("producer");
    let bins = producer.parent().unwrap();
    let mut stack = WholeStack::start(StackOptions { periods: &periods, ..StackOptions::plain(bins) }).await.unwrap();
    let sample = stack.unpack(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/sample")).unwrap();
    stack.import_history(&sample).unwrap();
    let (stocks, days) = generate();
    // The vendor leaves out a liquid symbol's afternoon 120m bar of the second day: the
    // integrity check must say so.
    let liquid = stocks[0].symbol.to_string();
    let left_out = format!("{liquid},{} 15:00:00", DAYS[1]);
    let mut history_bars = sample.history_bars;
    for period in [three, two_hours] {
        let csv = sample::files::history_csv(&days[..2], period);
        let csv: String = csv
            .lines()
            .filter(|l| period != two_hours || !l.starts_with(&left_out))
            .map(|l| format!("{l}\n"))
            .collect();
        history_bars += csv.lines().count() as u64 - 1;
        let file = stack.dir().join(format!("history-{period}m.csv"));
        std::fs::write(&file, csv).unwrap();
        let minutes = period.minutes().to_string();
        stack
            .run("producer", &["import-history", "--file", &file.display().to_string(), "--period", &minutes])
            .unwrap();
    }
    stack.run("producer", &["replay", "--file", &sample.day.display().to_string(), "--speed", "0"]).unwrap();
    stack.history_stored(history_bars).await.unwrap();
    stack.day_applied().await.unwrap();

    let day = DAYS[2];
    let mut con = stack.redis.connect().await.unwrap();
    for (i, stock) in stocks.iter().enumerate().skip(1).step_by(7) {
        let symbol = stock.symbol.to_string();
        for &period in &periods {
            let want: Vec<Bar> = days.iter().flat_map(|d| sample::oracle::bars(&d.symbols[i], period)).collect();
            let on_day = want.iter().filter(|b| b.frame.date().to_string() == day).count() as u64;
            let (bars, sources) = served(&stack, &symbol, period).await;
            assert_eq!(bars, want, "{symbol} {period}m over the three days");
            assert_eq!(sources, (on_day, want.len() as u64 - on_day), "{symbol} {period}m sources");
        }
        for period in [three, two_hours] {
            let key = stack.keys.day_bars(day.parse().unwrap(), period, stock.symbol);
            let stored: u64 = con.zcard(&key).await.unwrap();
            let want = sample::oracle::bars(&days[2].symbols[i], period).len() as u64;
            assert_eq!(stored, want, "{key}: the producer stores the {period}m bars");
        }
    }
    let rows = |period: Period| format!("SELECT count() FROM tickbar.bars FINAL WHERE period = {}", period.minutes());
    let client = stack.clickhouse[0].client();
    let stored: u64 = client.query(&rows(two_hours)).fetch_one().await.unwrap();
    let want: usize = days[..2].iter().map(|d| sample::oracle::day_bars(d, two_hours).len()).sum();
    assert_eq!(stored, want as u64 - 1, "the 120m queue drained into ClickHouse, but the bar left out");

    let out = stack.command("consumer", &["cleanup", "--day", day]).output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the cleanup prints its report");
    assert_ne!(out.status.code(), Some(1), "the cleanup ran: {report}");
    let issues = report["integrity"]["issues"].as_array().unwrap();
    let issue = |period: u64, day: &str, symbol: &str| {
        issues
            .iter()
            .any(|i| i["period"] == period && i["day"] == day && i["symbol"] == symbol && i["kind"] == "missing")
    };
    assert!(issue(120, DAYS[1], &liquid), "the lost 120m bars: {report}");
    for i in issues.iter().filter(|i| i["period"] == 3) {
        let (day, symbol) = (i["day"].as_str().unwrap(), i["symbol"].as_str().unwrap());
        assert!(issue(1, day, symbol), "3m frames missing where 1m frames are (a late first trade): {i}");
    }
    let left: Vec<String> = con.keys(format!("tickbar:*{day}*")).await.unwrap();
    assert!(left.is_empty(), "left in Redis after the cleanup: {left:?}");
    for period in [three, two_hours] {
        let live = format!("SELECT count() FROM tickbar.live_bars WHERE period = {}", period.minutes());
        let written: u64 = client.query(&live).fetch_one().await.unwrap();
        assert_eq!(written, sample::oracle::day_bars(&days[2], period).len() as u64, "{period}m live bars: {report}");
    }
    let (bars, sources) = served(&stack, &stocks[1].symbol.to_string(), two_hours).await;
    let want: Vec<Bar> = days.iter().flat_map(|d| sample::oracle::bars(&d.symbols[1], two_hours)).collect();
    assert_eq!((bars, sources), (want.clone(), (0, want.len() as u64)), "the day served from ClickHouse now");
    stack.stop();
}
