//! Upgrades keep every byte: the state the previous release left mid-day (`tests/data/upgrade`,
//! taken by `tickbar-release-fixture` on that release's code) is put into fresh stores and the
//! current services are started on it. The day goes on from the old checkpoint and journal, and its
//! bars equal those of an uninterrupted run of the current code (and the rule oracle); the history
//! the old release stored in ClickHouse reads back through the API.

use std::path::{Path, PathBuf};

use common::{Bar, Period};
use harness::stack::{StackOptions, WholeStack};
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
        for period in Period::ALL {
            let want: Vec<Bar> = days.iter().flat_map(|d| sample::oracle::bars(&d.symbols[i], period)).collect();
            let after_upgrade = served(&upgraded, &symbol, period, first, day).await;
            assert_eq!(after_upgrade, served(&uninterrupted, &symbol, period, first, day).await, "{symbol} {period}m");
            assert_eq!(after_upgrade, want, "{symbol} {period}m against the rules");
        }
    }
    upgraded.stop();
    uninterrupted.stop();
}
