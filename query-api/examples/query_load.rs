//! Query API load test: starts a private Redis and ClickHouse (the test harness), writes one day of
//! 1-minute bars for 50 symbols into Redis (the day it holds) and the day before into ClickHouse,
//! runs the release query-api, and drives it with wrk (32 connections, a random symbol per request)
//! for one day of 1-minute bars from each store (history through its cache, and through a second
//! query-api with the cache off), then for the Redis day of all 50 symbols in one call
//! (`symbols=`) and for a symbol's last 240 bars (`count=`); then sends the same history query
//! straight to ClickHouse over HTTP; then a year of one symbol's 1-minute history as Arrow. Last,
//! the Redis day grows to a whole market (5,000 symbols)
//! and `/api/v1/snapshot` is asked for all of them at 14:00. Run by `deploy/bench-query.sh`.
//!
//! `cargo run --release -p query-api --example query_load -- QUERY_API_BIN [SECONDS]`

use std::process::Command;

use common::Period;
use harness::{ClickHouseServer, RedisServer, ServiceProcess};
use runtime::keys::Keys;
use runtime::schema::apply_schema;

const SYMBOLS: u32 = 50;
/// The symbols of the whole-market snapshot run.
const MARKET: u32 = 5_000;
const TODAY: &str = "2026-11-20";
const HISTORY: &str = "2026-11-19";
/// The first day of the year of 600000.SH's history the Arrow run reads.
const YEAR_START: &str = "2025-11-19";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let binary = args.get(1).expect("QUERY_API_BIN");
    let seconds = args.get(2).map_or("15", String::as_str).to_owned();
    let (redis, clickhouse) = tokio::join!(RedisServer::start(), ClickHouseServer::start());
    let (redis, clickhouse) = (redis?, clickhouse?);
    apply_schema(&clickhouse.client(), "tickbar").await?;
    let mut con = redis.connect().await?;
    for code in 600_000..600_000 + SYMBOLS {
        let symbol = format!("{code}.SH");
        let today = harness::seed::day_bars(&symbol, TODAY.parse()?, Period::M1, 1);
        harness::writers::write_same_day(&mut con, &Keys::default(), Period::M1, &today).await?;
        let history = harness::seed::day_bars(&symbol, HISTORY.parse()?, Period::M1, 0);
        harness::writers::write_history(&clickhouse.client(), "tickbar", Period::M1, &history).await?;
    }
    println!("{SYMBOLS} symbols: {TODAY} (240 1m bars each) in Redis, {HISTORY} in ClickHouse");
    let env = [("TICKBAR__REDIS__URL", redis.url()), ("TICKBAR__CLICKHOUSE__URL", clickhouse.url())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut api = ServiceProcess::spawn(binary, &[], &env);
    api.answering("/readyz").await;
    let base = format!("http://127.0.0.1:{}", api.http);
    let uncached_env: Vec<(&str, &str)> =
        env.iter().copied().chain([("TICKBAR__API__HISTORY_CACHE_MB", "0")]).collect();
    let mut uncached_api = ServiceProcess::spawn(binary, &[], &uncached_env);
    uncached_api.answering("/readyz").await;
    let uncached = format!("http://127.0.0.1:{}", uncached_api.http);
    let bars = "/api/v1/bars?symbol={symbol}&period=1";
    let sql = format!(
        "SELECT symbol, frame, open, high, low, close, vol, amount FROM tickbar.bars FINAL \
         WHERE symbol = '{{symbol}}' AND period = 1 AND frame >= toDateTime('{HISTORY} 00:00:00') \
         AND frame <= toDateTime('{HISTORY} 23:59:59') ORDER BY frame FORMAT JSON"
    );
    let all: Vec<String> = (600_000..600_000 + SYMBOLS).map(|code| format!("{code}.SH")).collect();
    let many = format!("/api/v1/bars?symbols={}&period=1&start={TODAY}&end={TODAY}", all.join(","));
    // (what, where, path, connections): 32 clients, and a lone client for the latency of one call.
    let runs = [
        (format!("query-api, {TODAY} from Redis"), base.clone(), format!("{bars}&start={TODAY}&end={TODAY}"), 32),
        (format!("query-api, {SYMBOLS} symbols x {TODAY}, one call"), base.clone(), many.clone(), 32),
        (format!("query-api, {SYMBOLS} symbols x {TODAY}, one client"), base.clone(), many, 1),
        ("query-api, last 240 bars (count=240)".into(), base.clone(), format!("{bars}&count=240&end={TODAY}"), 32),
        ("query-api, last 480 bars (count=480)".into(), base.clone(), format!("{bars}&count=480&end={TODAY}"), 32),
        (
            format!("query-api, {HISTORY} from ClickHouse, cached"),
            base.clone(),
            format!("{bars}&start={HISTORY}&end={HISTORY}"),
            32,
        ),
        (
            format!("query-api, {HISTORY} from ClickHouse, cache off"),
            uncached,
            format!("{bars}&start={HISTORY}&end={HISTORY}"),
            32,
        ),
        ("ClickHouse HTTP, same history query".into(), clickhouse.url(), format!("/?query={}", encode(&sql)), 32),
    ];
    for (name, url, path, connections) in runs {
        wrk(&name, &url, &path, connections, &seconds, 240).await?;
    }
    let calendar = common::TradingCalendar::bundled();
    let year_start: chrono::NaiveDate = YEAR_START.parse()?;
    let year = calendar.trading_days(year_start, HISTORY.parse::<chrono::NaiveDate>()?.pred_opt().expect("a day"))?;
    let year_bars: Vec<common::Bar> =
        year.iter().flat_map(|d| harness::seed::day_bars("600000.SH", *d, Period::M1, 0)).collect();
    harness::writers::write_history(&clickhouse.client(), "tickbar", Period::M1, &year_bars).await?;
    let arrow = format!("/api/v1/bars?symbol=600000.SH&period=1&start={YEAR_START}&end={HISTORY}&format=arrow");
    let name = format!("query-api, 600000.SH x a year of 1m ({} bars) as Arrow, one client", year_bars.len() + 240);
    wrk(&name, &base, &arrow, 1, &seconds, 1).await?;
    for chunk in (SYMBOLS..MARKET).collect::<Vec<u32>>().chunks(100) {
        let bars: Vec<common::Bar> = chunk
            .iter()
            .flat_map(|i| harness::seed::day_bars(&format!("{:06}.SZ", i), TODAY.parse().unwrap(), Period::M1, 1))
            .collect();
        harness::writers::write_same_day(&mut con, &Keys::default(), Period::M1, &bars).await?;
    }
    println!("{MARKET} symbols: {TODAY} in Redis");
    let snapshot = format!("/api/v1/snapshot?period=1&at={TODAY}T14:00");
    for connections in [1, 32] {
        let name = format!("query-api, snapshot of {MARKET} symbols, {connections} client(s)");
        wrk(&name, &base, &snapshot, connections, &seconds, 1).await?;
    }
    println!("query-api peak RSS (VmHWM): {}", harness::service::peak_rss_mib(api.child.id()));
    Ok(())
}

/// Drives `url` + `path` with wrk for `seconds` over `connections`, after checking one answer
/// names 600000.SH at least `at_least` times; prints wrk's result line.
async fn wrk(
    name: &str,
    url: &str,
    path: &str,
    connections: u32,
    seconds: &str,
    at_least: usize,
) -> anyhow::Result<()> {
    {
        let port: u16 = url.rsplit(':').next().and_then(|p| p.parse().ok()).expect("a port");
        let (status, body) = harness::http_get(port, &path.replace("{symbol}", "600000.SH")).await;
        anyhow::ensure!(status == 200 && body.matches("600000.SH").count() >= at_least, "{name}: {status} {body}");
        let out = Command::new("wrk")
            .args([
                &format!("-t{}", connections.min(2)),
                &format!("-c{connections}"),
                &format!("-d{seconds}s"),
                "--latency",
            ])
            .args(["-s", "deploy/bench/random-symbol.lua", url])
            .env("TICKBAR_BENCH_PATH", path)
            .env("TICKBAR_BENCH_SYMBOLS", SYMBOLS.to_string())
            .output()?;
        let text = String::from_utf8_lossy(&out.stdout);
        let result = text.lines().find(|l| l.starts_with("RESULT")).unwrap_or("no result (is wrk installed?)");
        println!("{name:<48} {}", result.trim_start_matches("RESULT "));
    }
    Ok(())
}

/// `text` percent-encoded for a query string, `{symbol}` kept for the wrk script to fill in.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'{' | b'}' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
