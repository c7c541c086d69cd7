//! Upgrades keep every byte: the state the previous release left mid-day (`tests/data/upgrade`,
//! taken by `tickbar-release-fixture` on that release's code) is put into fresh stores and the
//! current services are started on it. The day goes on from the old checkpoint and journal, and its
//! bars equal those of an uninterrupted run of the current code (and the rule oracle); the history
//! the old release stored in ClickHouse reads back through the API.

use std::path::{Path, PathBuf};

use common::{Bar, Period};
use harness::stack::{StackOptions, WholeStack};
use harness::ClickHouseServer;
use runtime::schema::{applied, apply_schema, MIGRATIONS};
use sample::market::{generate, DAYS};

/// The previous release's fixture.
fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/upgrade/0.1.0-0b9cbe8")
}

fn sample_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/sample")
}

/// `GET /api/v1/bars` of `symbol` and `period` from `start` to `end`.
async fn served(stack: &WholeStack, symbol: &str, period: Period, start: &str, end: &str) -> Vec<Bar> {
    let path = format!("/api/v1/bars?symbol={symbol}&period={}&start={start}&end={end}", period.minutes());
    let (status, body) = stack.api.get(&path).await;
    assert_eq!(status, 200, "{path}: {body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    serde_json::from_value(answer["bars"].clone()).unwrap()
}

/// Replays the sample day's lines `from..` (one QMT payload a line) into the stack's stream.
fn replay_from(stack: &WholeStack, day: &Path, from: usize) {
    let lines: String = std::fs::read_to_string(day).unwrap().lines().skip(from).map(|l| format!("{l}\n")).collect();
    let rest = stack.dir().join("rest.qmt.jsonl");
    std::fs::write(&rest, lines).unwrap();
    stack.run("producer", &["replay", "--file", &rest.display().to_string(), "--speed", "0"]).unwrap();
}

/// The stack of the current services, on the fixture (`restore`) or on empty stores, with the
/// sample day replayed from line `from` and every entry applied.
async fn run(restore: Option<&Path>, from: usize) -> WholeStack {
    let producer = harness::workspace_binary("producer");
    let bins = producer.parent().unwrap();
    let mut stack = WholeStack::start(StackOptions { restore, ..StackOptions::plain(bins) }).await.unwrap();
    let sample = stack.unpack(&sample_dir()).unwrap();
    if restore.is_none() {
        stack.import_history(&sample).unwrap();
    }
    replay_from(&stack, &sample.day, from);
    stack.day_applied().await.unwrap();
    stack.history_stored(sample.history_bars).await.unwrap();
    stack
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deployment_of_the_previous_release_goes_on_with_its_day_exactly_and_keeps_its_history() {
    let fixture = fixture();
    let manifest = harness::release::manifest(&fixture).unwrap();
    assert_eq!(manifest["sample_day"], DAYS[2], "{manifest}");
    assert!(manifest["journal_records"].as_u64().unwrap() > 0, "the fixture has a journal after its checkpoint");
    let replayed = manifest["replayed_lines"].as_u64().unwrap() as usize;
    let (upgraded, uninterrupted) = tokio::join!(run(Some(&fixture), replayed), run(None, 0));

    let (stocks, days) = generate();
    let [first, _, day] = DAYS;
    for (i, stock) in stocks.iter().enumerate() {
        let symbol = stock.symbol.to_string();
        for period in Period::DEFAULTS {
            let want: Vec<Bar> = days.iter().flat_map(|d| sample::oracle::bars(&d.symbols[i], period)).collect();
            let after_upgrade = served(&upgraded, &symbol, period, first, day).await;
            assert_eq!(after_upgrade, served(&uninterrupted, &symbol, period, first, day).await, "{symbol} {period}m");
            assert_eq!(after_upgrade, want, "{symbol} {period}m against the rules");
        }
    }
    upgraded.stop();
    uninterrupted.stop();
}

/// Every column of `database`'s tables but the migrations record: table, name and type, in
/// order (18.16 has no `position`: its rows come in the table's order).
async fn columns(client: &clickhouse::Client, database: &str) -> Vec<(String, String, String)> {
    let sql = "SELECT table, name, type FROM system.columns WHERE database = ? AND table != 'schema_migrations'";
    let mut columns: Vec<(String, String, String)> = client.query(sql).bind(database).fetch_all().await.unwrap();
    columns.sort_by(|a, b| a.0.cmp(&b.0));
    columns
}

#[tokio::test(flavor = "multi_thread")]
async fn the_migrations_bring_the_previous_release_database_to_the_fresh_schema_once_with_two_services_at_once() {
    let clickhouse = ClickHouseServer::start().await.unwrap();
    let client = clickhouse.client();
    harness::release::restore_clickhouse(&client, "old", &fixture()).await.unwrap();
    let count = |table: &str, filter: &str| format!("SELECT count() FROM old.{table} {filter}");
    let rows: u64 = client.query(&count("bars", "")).fetch_one().await.unwrap();
    assert!(rows > 30_000, "the fixture's history: {rows}");

    let (first, second) = tokio::join!(apply_schema(&client, "old"), apply_schema(&client, "old"));
    let (first, second) = (first.unwrap(), second.unwrap());
    let every: Vec<u32> = MIGRATIONS.iter().map(|m| m.version).collect();
    assert!(first == every || second == every, "one of them applied all: {first:?} {second:?}");
    assert_eq!(applied(&client, "old").await.unwrap().into_iter().collect::<Vec<_>>(), every);
    assert_eq!(apply_schema(&client, "old").await.unwrap(), Vec::<u32>::new(), "applied once");

    apply_schema(&client, "fresh").await.unwrap();
    let upgraded = columns(&client, "old").await;
    assert_eq!(upgraded, columns(&client, "fresh").await, "an upgraded database is a fresh one");
    for table in ["bars", "live_bars"] {
        let at = upgraded.iter().position(|(t, name, _)| t == table && name == "trades").expect(table);
        assert_eq!(upgraded[at - 1].1, "amount", "{table}.trades follows amount");
        assert_eq!(upgraded[at].2, "Nullable(UInt64)");
    }
    let absent: u64 = client.query(&count("bars", "WHERE trades IS NULL")).fetch_one().await.unwrap();
    assert_eq!(absent, rows, "every old row reads with no trade count");
}
