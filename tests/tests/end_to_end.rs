//! The whole stack end to end: a private TLS-only Redis (mutual TLS, an ACL user and password, as
//! across hosts) and a private ClickHouse the services reach over HTTPS (mutual TLS), the three
//! service binaries, the bundled sample's two history days through `producer import-history` and
//! the queues, its QMT day through `producer replay` and the tick stream. The API's bars over the three days, for
//! symbols of every kind and every period, equal the bars the rule oracle computes from the
//! generated snapshots; then `consumer cleanup` of the sample day keeps it in Redis without
//! `archive.bars` (no vendor history of it), and with it writes the day into ClickHouse as live
//! bars and empties its Redis data, the API answering the same bars from ClickHouse.
//!
//! The service binaries are those `cargo test --workspace` builds (`harness::workspace_binary`).

use std::path::PathBuf;

use common::{Bar, Period};
use harness::stack::{StackOptions, WholeStack};
use redis::AsyncCommands;
use runtime::keys::Keys;
use sample::market::{generate, Activity, DAYS, LIMIT_UP, SUSPENDED};

fn sample_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/sample")
}

/// `GET /api/v1/bars` of `symbol` and `period` from `start` to `end`: the bars and the sources.
async fn served(stack: &WholeStack, symbol: &str, period: Period, start: &str, end: &str) -> (Vec<Bar>, (u64, u64)) {
    let path = format!("/api/v1/bars?symbol={symbol}&period={}&start={start}&end={end}", period.minutes());
    let (status, body) = stack.api.get(&path).await;
    assert_eq!(status, 200, "{path}: {body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    let bars = serde_json::from_value(answer["bars"].clone()).unwrap();
    let sources = &answer["sources"];
    (bars, (sources["redis"].as_u64().unwrap(), sources["clickhouse"].as_u64().unwrap()))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sample_through_the_three_services_over_tls_is_served_as_the_rules_give_and_cleanup_moves_the_day_to_clickhouse(
) {
    let producer = harness::workspace_binary("producer");
    let bins = producer.parent().unwrap();
    ["consumer", "query-api"].iter().for_each(|b| assert!(bins.join(b).is_file(), "build the workspace first"));
    let mut stack = WholeStack::start(StackOptions { tls: true, ..StackOptions::plain(bins) }).await.unwrap();
    let sample = stack.unpack(&sample_dir()).unwrap();
    stack.import_history(&sample).unwrap();
    stack.run("producer", &["replay", "--file", &sample.day.display().to_string(), "--speed", "0"]).unwrap();
    let mut con = stack.redis.connect().await.unwrap();
    let _: String = con.xadd(Keys::new("").tick_stream(), "*", &[("qmt", "{broken")]).await.unwrap();
    stack.history_stored(sample.history_bars).await.unwrap();
    stack.day_applied().await.unwrap();
    metrics_pass_promtool_and_every_panel_and_rule_names_an_exported_metric(&stack).await;

    let (stocks, days) = generate();
    let pick = |activity: Activity| stocks.iter().position(|s| s.activity == activity).unwrap();
    let chosen = [pick(Activity::Liquid), 1, pick(Activity::Active), LIMIT_UP, pick(Activity::Thin)]
        .into_iter()
        .chain([pick(Activity::Rare)])
        .chain(SUSPENDED.map(|(s, _)| s));
    let [first, _, day] = DAYS;
    for i in chosen {
        let symbol = stocks[i].symbol.to_string();
        for period in Period::DEFAULTS {
            let want: Vec<Bar> = days.iter().flat_map(|d| sample::oracle::bars(&d.symbols[i], period)).collect();
            let on_day = want.iter().filter(|b| b.frame.date().to_string() == day).count() as u64;
            let (bars, sources) = served(&stack, &symbol, period, first, day).await;
            assert_eq!(bars, want, "{symbol} {period}m over {first}..{day}");
            assert_eq!(sources, (on_day, want.len() as u64 - on_day), "{symbol} {period}m sources");
        }
    }

    daily_bars_carry_the_previous_close_and_a_suspension_is_paused(&stack, &stocks, &days).await;

    let mut without_live = stack.command("consumer", &["cleanup", "--day", day]);
    let out = without_live.env("TICKBAR__ARCHIVE__BARS", "false").output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the cleanup prints its report");
    assert_eq!(
        out.status.code(),
        Some(2),
        "without live bars the day's history never reached ClickHouse: kept: {report}"
    );
    assert_eq!(report["kept"][0]["day"], day, "{report}");
    let held: Vec<String> = con.smembers(Keys::new("").days_held()).await.unwrap();
    assert!(held.contains(&day.to_owned()), "the only copy of the day stays in Redis: {held:?}");

    let out = stack.command("consumer", &["cleanup", "--day", day]).output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the cleanup prints its report");
    assert_ne!(out.status.code(), Some(1), "the cleanup failed: {report}");
    assert_eq!((&report["kept"], &report["redis"][0]["day"]), (&serde_json::json!([]), &day.into()), "{report}");
    let left: Vec<String> = con.keys(format!("tickbar:*{day}*")).await.unwrap();
    assert!(left.is_empty(), "left in Redis after the cleanup: {left:?}");
    let held: Vec<String> = con.smembers(Keys::new("").days_held()).await.unwrap();
    assert!(!held.contains(&day.to_owned()), "{held:?}");
    let symbol = stocks[0].symbol.to_string();
    let want: Vec<Bar> = days.iter().flat_map(|d| sample::oracle::bars(&d.symbols[0], Period::M1)).collect();
    let (bars, sources) = served(&stack, &symbol, Period::M1, first, day).await;
    assert_eq!(bars, want, "the day is served from ClickHouse now, as live history");
    assert_eq!(sources, (0, want.len() as u64));
}

/// The sample's daily bars: each day's `pre_close` is the day before's close; the stock suspended
/// on the last day gets a flat paused bar there; the one suspended on the first day starts the
/// next day, with no close before it.
async fn daily_bars_carry_the_previous_close_and_a_suspension_is_paused(
    stack: &WholeStack,
    stocks: &[sample::market::Stock],
    days: &[sample::market::Day],
) {
    let [first, _, last] = DAYS;
    let daily = |i: usize| {
        let symbol = stocks[i].symbol.to_string();
        async move {
            let path = format!("/api/v1/bars?symbol={symbol}&period=1d&start={first}&end={last}");
            let (status, body) = stack.api.get(&path).await;
            assert_eq!(status, 200, "{path}: {body}");
            serde_json::from_str::<serde_json::Value>(&body).unwrap()["bars"].as_array().unwrap().clone()
        }
    };
    let close_of = |i: usize, d: usize| sample::oracle::bars(&days[d].symbols[i], Period::M60).last().unwrap().close;
    let price = |v: &serde_json::Value| v.to_string().parse::<common::Price>().unwrap();
    let liquid = daily(0).await;
    assert_eq!(liquid.len(), 3);
    assert!(liquid[0].get("pre_close").is_none(), "no day before the sample: {}", liquid[0]);
    for (d, bar) in liquid.iter().enumerate().skip(1) {
        assert_eq!(price(&bar["pre_close"]), close_of(0, d - 1), "{bar}");
        assert_eq!(bar["paused"], false);
    }
    let (late, early) = (SUSPENDED[0], SUSPENDED[1]);
    assert_eq!((late.1, early.1), (2, 0), "suspended on the last day, and on the first");
    let suspended_last = daily(late.0).await;
    assert_eq!(suspended_last.len(), 3, "{suspended_last:?}");
    let paused = &suspended_last[2];
    let before = close_of(late.0, 1);
    assert_eq!((paused["paused"].as_bool(), paused["vol"].as_u64()), (Some(true), Some(0)), "{paused}");
    assert_eq!(
        (price(&paused["open"]), price(&paused["close"]), price(&paused["pre_close"])),
        (before, before, before)
    );
    let suspended_first = daily(early.0).await;
    assert_eq!(suspended_first.len(), 2, "nothing before its first bar is known: {suspended_first:?}");
    assert!(suspended_first[0].get("pre_close").is_none() && suspended_first[0]["paused"] == false);
}

/// Every service's `/metrics` passes `promtool check metrics` without a complaint, the alerting
/// rules `promtool check rules`, and every metric a panel of `deploy/grafana/tickbar.json` or a
/// rule of `deploy/prometheus/alerts.yml` queries is a family one of the three services exports (a
/// histogram's `_bucket`, `_sum` and `_count` count as its family).
async fn metrics_pass_promtool_and_every_panel_and_rule_names_an_exported_metric(stack: &WholeStack) {
    let started = std::time::Instant::now();
    while !stack.producer.get("/metrics").await.1.contains("tickbar_producer_dead_letters_total{reason=\"bad_json\"} 1")
    {
        assert!(started.elapsed().as_secs() < 20, "the broken entry was never counted");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let mut exported = std::collections::BTreeSet::new();
    for service in [&stack.producer, &stack.consumer, &stack.api] {
        let (status, text) = service.get("/metrics").await;
        assert_eq!(status, 200, "{text}");
        let complaints = harness::promtool::check_metrics(&text).unwrap();
        assert_eq!(complaints, "", "promtool check metrics:\n{text}");
        exported.extend(text.lines().filter_map(|l| Some(l.strip_prefix("# TYPE ")?.split(' ').next()?.to_owned())));
    }
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/grafana/tickbar.json");
    let dashboard: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let exprs: Vec<String> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .map(|t| t["expr"].as_str().unwrap().to_owned())
        .collect();
    assert!(exprs.len() >= 15, "a panel per figure: {exprs:?}");
    let rules = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/prometheus/alerts.yml");
    let checked = harness::promtool::check_rules(&rules).unwrap();
    assert!(checked.as_ref().is_ok_and(|said| said.contains("SUCCESS: 13 rules found")), "{checked:?}");
    let rule_exprs = std::fs::read_to_string(&rules).unwrap();
    let rule_exprs = rule_exprs.lines().filter_map(|l| l.trim().strip_prefix("expr:")).map(str::to_owned);
    // Written once a service has a receiver, and inside the sessions only (tests/tests/alerts.rs
    // sees them): this stack has no receiver and replays a past day.
    let sometimes =
        ["tickbar_alert_posts_total", "tickbar_alert_retries_total", "tickbar_producer_feed_silent_seconds"];
    exported.extend(sometimes.map(str::to_owned));
    for expr in exprs.iter().cloned().chain(rule_exprs) {
        let names =
            expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|w| w.starts_with("tickbar_"));
        for name in names {
            let family =
                ["_bucket", "_sum", "_count"].iter().fold(name, |n, suffix| n.strip_suffix(suffix).unwrap_or(n));
            assert!(exported.contains(family), "{expr}: {family} is not exported; exported: {exported:?}");
        }
    }
}
