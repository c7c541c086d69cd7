//! The Python client (`clients/python`, package `tickbar`) against the real API: seeds two symbols'
//! three days (two in ClickHouse, one in Redis), starts the API, runs the client's unittest suite
//! (`clients/python/tests`) from the source tree with the venv `tests/run.sh` builds, and publishes
//! live bars meanwhile, killing the API's pub/sub connection once so the client sees a gap.

mod support;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{Bar, Period};
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
    let doc = serde_json::json!({"symbols": SYMBOLS, "days": DAYS, "bars": expected, "live": SYMBOLS[0]});
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
        if tick % 20 == 10 {
            // Drops the API's subscription: its clients get a `gap`, then bars again.
            let _: redis::Value =
                redis::cmd("CLIENT").arg("KILL").arg("TYPE").arg("pubsub").query_async(&mut con).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let report = output.await.unwrap();
    assert!(status.success(), "the Python client's tests failed:\n{report}");
    assert!(report.contains("Ran 6 tests") && report.contains("OK"), "{report}");
}
