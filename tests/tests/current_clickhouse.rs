//! Every statement the services issue runs on current ClickHouse too. The whole stack runs the
//! bundled sample on the Debian 18.16 server with its query log on: the consumer's DDL, inserts,
//! high-water and duplicate reads, the cleanups' integrity queries, live-bar inserts and
//! reconciliation (of a history day, then of the sample day, written as live bars), factor imports, and the query
//! API's ranges, symbol lists, resampled and adjusted bars, last-N bars and snapshots. The
//! statements it logged (with their bound values) are run again on ClickHouse 26 through chdb
//! (`tests/chdb_check.py`), each INSERT with rows of its target shape read back from 18.16, after
//! the DDL as a current server is given it (with the tick archive's column codecs).
//! Needs the venv's chdb (`TICKBAR_PYTHON`, set by `tests/run.sh`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use harness::stack::{StackOptions, WholeStack};

const FACTORS: &str = "ts_code,trade_date,adj_factor\n600519.SH,20261117,1.0\n600519.SH,20261118,1.25\n";

/// The distinct statements the services ran, without the harness's and this test's own: the
/// database, then the tables, then the INSERTs (their table named with the database the client was given), then the
/// queries. (18.16's query log stamps whole seconds, so its order within a second is lost.)
async fn logged(client: &clickhouse::Client) -> Vec<String> {
    client.query("SYSTEM FLUSH LOGS").execute().await.unwrap();
    let sql = "SELECT query FROM system.query_log WHERE type = 2 ORDER BY event_time";
    let all: Vec<String> = client.query(sql).fetch_all().await.unwrap();
    // The migrations' ALTERs as 18.16 was given them: a current server is given them with
    // IF NOT EXISTS, in the schema this test puts first.
    let ours = ["owner.tsv", "system.", "SYSTEM ", "ALTER TABLE"];
    let mut seen = std::collections::BTreeSet::new();
    let mut statements: Vec<String> = (all.into_iter())
        .filter(|q| !ours.iter().any(|o| q.contains(o)))
        .map(|q| match q.strip_prefix("INSERT INTO `") {
            Some(rest) => format!("INSERT INTO tickbar.`{rest}"),
            None => q,
        })
        .filter(|q| seen.insert(q.clone()))
        .collect();
    let rank = ["CREATE DATABASE", "CREATE", "INSERT"];
    statements.sort_by_key(|q| rank.iter().position(|r| q.starts_with(r)).unwrap_or(rank.len()));
    statements
}

/// Rows of each INSERT's target columns, as JSON lines, read back from 18.16.
async fn rows_of_inserts(client: &clickhouse::Client, statements: &[String]) -> BTreeMap<String, Vec<String>> {
    let mut rows = BTreeMap::new();
    for sql in statements.iter().filter(|s| s.starts_with("INSERT INTO") && s.contains(" FORMAT ")) {
        let target = sql["INSERT INTO".len()..].split(" FORMAT").next().unwrap().trim();
        let (table, columns) = target.split_once('(').unwrap();
        let select = format!("SELECT {} FROM {table} LIMIT 20", columns.trim_end_matches(')'));
        let text = client.query(&select).fetch_bytes("JSONEachRow").unwrap().collect().await.unwrap();
        rows.insert(sql.clone(), String::from_utf8(text.to_vec()).unwrap().lines().map(str::to_owned).collect());
    }
    rows
}

#[tokio::test(flavor = "multi_thread")]
async fn every_statement_the_services_issue_on_18_16_also_runs_on_current_clickhouse() {
    let python = std::env::var("TICKBAR_PYTHON").unwrap_or_else(|_| "target/py-venv/bin/python".into());
    let producer = harness::workspace_binary("producer");
    let bins = producer.parent().unwrap();
    let mut stack = WholeStack::start(StackOptions::plain(bins)).await.unwrap();
    let sample = stack.unpack(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/sample")).unwrap();
    stack.import_history(&sample).unwrap();
    stack.run("producer", &["replay", "--file", &sample.day.display().to_string(), "--speed", "0"]).unwrap();
    let factors = stack.dir().join("adj_factor.csv");
    std::fs::write(&factors, FACTORS).unwrap();
    stack.run("producer", &["import-factors", "--file", &factors.display().to_string()]).unwrap();
    stack.history_stored(sample.history_bars).await.unwrap();
    stack.day_applied().await.unwrap();
    let [first, second, day] = sample::market::DAYS;
    for path in [
        format!("/api/v1/bars?symbol=600519.SH&period=5&start={first}&end={day}"),
        format!("/api/v1/bars?symbols=600519.SH,000001.SZ&period=1&start={first}&end={second}&format=csv"),
        format!("/api/v1/bars?symbol=600519.SH&period=1d&adjust=qfq&start={first}&end={day}"),
        format!("/api/v1/bars?symbol=600519.SH&period=60&adjust=hfq&start={first}&end={day}"),
        format!("/api/v1/bars?symbol=600519.SH&period=30&count=20&end={day}T15:00"),
        format!("/api/v1/snapshot?period=1&at={second}T14:00"),
        format!("/api/v1/snapshot?period=1&at={second}T14:00&symbols=600519.SH,000001.SZ"),
    ] {
        let (status, body) = stack.api.get(&path).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
    for cleaned in [second, day] {
        let out = stack.command("consumer", &["cleanup", "--day", cleaned]).output().unwrap();
        assert_ne!(out.status.code(), Some(1), "the cleanup ran: {}", String::from_utf8_lossy(&out.stdout));
    }

    let client = stack.clickhouse[0].client();
    let statements = logged(&client).await;
    for kind in ["CREATE TABLE", "INSERT INTO", "adj_factors", "FINAL", "live_bars", "UNION ALL"] {
        assert!(statements.iter().any(|s| s.contains(kind)), "no {kind} statement was logged: {statements:#?}");
    }
    let rows = rows_of_inserts(&client, &statements).await;
    // 18.16 was given the tables without their column codecs; a current server gets them with.
    let current = runtime::schema::schema_statements_for("tickbar", "26.1");
    let statements: Vec<String> = current.into_iter().chain(statements).collect();
    let capture = serde_json::json!({"statements": statements, "rows": rows});
    let file = stack.dir().join("capture.json");
    std::fs::write(&file, capture.to_string()).unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("chdb_check.py");
    let out = std::process::Command::new(&python).arg(script).arg(&file).output().expect("the venv's python with chdb");
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{report}");
    assert!(
        report.contains("ClickHouse 2") && report.contains(&format!("{0} of {0} statements ran", statements.len())),
        "{report}"
    );
    println!("{report}");
}
