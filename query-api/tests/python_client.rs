//! The Python client (`clients/python`, package `tickbar`) against the real API: seeds two symbols'
//! three days (two in ClickHouse, one in Redis), starts the API, runs the client's unittest suite
//! (`clients/python/tests`) from the source tree with the venv `tests/run.sh` builds, and publishes
//! live bars meanwhile (and a changing forming bar), killing the API's pub/sub connection once so
//! the client sees a gap.

mod support;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::stream::EntryId;
use common::tick::{Book, Quote};
use common::{Bar, Period, Price, TickKind};
use runtime::archive::TickRow;
use support::{bars_of, get_json, ApiStores, DAYS};

const SYMBOLS: [&str; 2] = ["600519.SH", "000001.SZ"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_python_client_passes_its_tests_against_the_real_api() {
    let python =
        std::env::var("TICKBAR_PYTHON").map(PathBuf::from).unwrap_or_else(|_| root().join("target/py-venv/bin/python"));
    assert!(
        python.is_file(),
        "{}: run tests/run.sh once (it installs ./clients/python[pandas,polars])",
        python.display()
    );
    let mut stack = ApiStores::start().await;
    for symbol in SYMBOLS {
        stack.three_days(symbol).await;
    }
    let ticks = ticks_archived(&stack).await;
    let moutai = common::instrument::Instrument::new(
        SYMBOLS[0].parse().unwrap(),
        "贵州茅台",
        "2001-08-27".parse().unwrap(),
        None,
    );
    let row = runtime::clickhouse::InstrumentRow::new(&moutai, 1).unwrap();
    let client = stack.clickhouse.client().with_database("tickbar");
    runtime::clickhouse::insert(&client, runtime::keys::INSTRUMENTS_TABLE, &[row], Duration::from_secs(30))
        .await
        .unwrap();
    let api = stack.api(&[]).await;
    let mut expected = serde_json::Map::new();
    for symbol in SYMBOLS {
        let (_, answer) =
            get_json(&api, &format!("/api/v1/bars?symbol={symbol}&start={}&end={}", DAYS[0], DAYS[2])).await;
        assert_eq!(bars_of(&answer).len(), 720);
        expected.insert(symbol.into(), answer["bars"].clone());
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("expected.json");
    let (start, end) = ("2023-02-01T09:30:00", "2023-02-01T09:31:00");
    let (_, served) =
        get_json(&api, &format!("/api/v1/ticks?symbols=600519.SH,000333.SZ&start={start}&end={end}")).await;
    assert_eq!(served["count"].as_u64(), Some(ticks), "{served}");
    let ticks = serde_json::json!({"symbols": ["600519.SH", "000333.SZ"], "start": start, "end": end, "ticks": served["ticks"]});
    let doc =
        serde_json::json!({"symbols": SYMBOLS, "days": DAYS, "bars": expected, "live": SYMBOLS[0], "ticks": ticks});
    std::fs::write(&file, doc.to_string()).unwrap();

    let mut child = tokio::process::Command::new(&python)
        .args(["-m", "unittest", "discover", "-v", "-s"])
        .arg(root().join("clients/python/tests"))
        .env("PYTHONPATH", root().join("clients/python/src"))
        .env("TICKBAR_URL", format!("http://127.0.0.1:{}", api.http))
        .env("TICKBAR_EXPECTED", &file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let (mut stdout, mut stderr) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let output = tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        let (mut out, mut err) = (String::new(), String::new());
        let _ = tokio::join!(stdout.read_to_string(&mut out), stderr.read_to_string(&mut err));
        format!("{out}{err}")
    });
    let mut con = stack.con.clone();
    let live: Bar = harness::seed::day_bars(SYMBOLS[0], DAYS[2].parse().unwrap(), Period::M1, 5)[100].clone();
    let channel = stack.keys.bar_channel(Period::M1, live.symbol);
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(180), "the client's tests hang:\n{}", {
            child.kill().await.unwrap();
            output.await.unwrap()
        });
        let tick = started.elapsed().as_millis() / 300;
        let _: i64 = redis::cmd("PUBLISH")
            .arg(&channel)
            .arg(serde_json::to_string(&live).unwrap())
            .query_async(&mut con)
            .await
            .unwrap();
        // The forming bar, a little bigger each turn: the API sends it on as it changes.
        let forming = Bar { vol: live.vol + tick as u64, ..live.clone() };
        let today = runtime::clock::Clock::System.today();
        let _: i64 = redis::AsyncCommands::hset(
            &mut con,
            stack.keys.forming_bars(today, Period::M1),
            live.symbol.to_string(),
            serde_json::to_string(&forming).unwrap(),
        )
        .await
        .unwrap();
        if tick % 20 == 10 {
            // Drops the API's subscription: its clients get a `gap`, then bars again.
            let _: redis::Value =
                redis::cmd("CLIENT").arg("KILL").arg("TYPE").arg("pubsub").query_async(&mut con).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let report = output.await.unwrap();
    assert!(status.success(), "the Python client's tests failed:\n{report}");
    assert!(report.contains("Ran 14 tests") && report.contains("OK"), "{report}");
}

/// Archives the first minute of 2023-02-01's real 600519.SH trades and 000333.SZ snapshots, the
/// snapshots with a two-level book, as the consumer's archiver writes them; how many.
async fn ticks_archived(stack: &ApiStores) -> u64 {
    let (from, to) = (
        common::time::parse_datetime("2023-02-01T09:30:00").unwrap(),
        common::time::parse_datetime("2023-02-01T09:31:00").unwrap() + 999,
    );
    let mut ticks = harness::fixtures::trades("2023-02-01");
    ticks.extend(harness::fixtures::snapshots("000333.SZ", "2023-02-01"));
    ticks.retain(|t| (from..=to).contains(&t.time_ms));
    let rows: Vec<TickRow> = ticks
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let book = match t.kind {
                TickKind::Cumulative { .. } => Book {
                    bid_price: vec![t.price, t.price - Price::from_units(100)],
                    bid_volume: vec![300, 1_200],
                    ask_price: vec![t.price + Price::from_units(100)],
                    ask_volume: vec![500],
                },
                TickKind::Trade => Book::default(),
            };
            let quote = Quote { tick: *t, book };
            TickRow::new(&quote, EntryId { ms: 1, seq: i as u64 }, 0)
        })
        .collect();
    let client = stack.clickhouse.client().with_database("tickbar");
    runtime::clickhouse::insert(&client, runtime::archive::TABLE, &rows, Duration::from_secs(30)).await.unwrap();
    rows.len() as u64
}
