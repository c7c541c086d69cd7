//! The state a release leaves behind, kept as a fixture that later releases must read: every Redis
//! key as `DUMP` wrote it (with its time to live), and every ClickHouse table of the database as
//! the server shows its DDL, with its rows as TabSeparated text. `tickbar-release-fixture` takes one
//! from a running stack; the upgrade test puts one back into fresh servers.
//!
//! A fixture directory holds `manifest.json` (what was done to reach the state), `redis.jsonl.gz`
//! (one `{"key", "pttl", "dump"}` object a line, the dump in hex) and, per table,
//! `clickhouse/<table>.sql` and `clickhouse/<table>.tsv.gz`.

use std::path::Path;

use redis::AsyncCommands;
use serde_json::{json, Value};

use crate::{io, HarnessError, Result};

/// The Redis part of a fixture.
const REDIS_FILE: &str = "redis.jsonl.gz";
/// The directory of the ClickHouse part.
const CLICKHOUSE_DIR: &str = "clickhouse";

fn store(e: impl std::fmt::Display) -> HarnessError {
    HarnessError::Store(e.to_string())
}

/// Writes every key of the Redis behind `con` into `dir`.
pub async fn take_redis(con: &mut redis::aio::MultiplexedConnection, dir: &Path) -> Result<usize> {
    let mut keys: Vec<String> = con.keys("*").await.map_err(store)?;
    keys.sort();
    let mut lines = String::new();
    for key in &keys {
        let dump: Vec<u8> = redis::cmd("DUMP").arg(key).query_async(con).await.map_err(store)?;
        let pttl: i64 = con.pttl(key).await.map_err(store)?;
        lines.push_str(&json!({ "key": key, "pttl": pttl, "dump": hex(&dump) }).to_string());
        lines.push('\n');
    }
    sample::files::write_gz(&dir.join(REDIS_FILE), &lines).map_err(io(REDIS_FILE))?;
    Ok(keys.len())
}

/// Restores every key of the fixture in `dir` into the Redis behind `con` (keys with a time to
/// live get what was left of it).
pub async fn restore_redis(con: &mut redis::aio::MultiplexedConnection, dir: &Path) -> Result<usize> {
    let text = sample::files::read_gz(&dir.join(REDIS_FILE)).map_err(io(REDIS_FILE))?;
    let mut restored = 0;
    for line in text.lines() {
        let entry: Value = serde_json::from_str(line).map_err(store)?;
        let (Some(key), Some(pttl), Some(dump)) =
            (entry["key"].as_str(), entry["pttl"].as_i64(), entry["dump"].as_str())
        else {
            return Err(store(format!("a fixture line without key, pttl and dump: {line}")));
        };
        let ttl = pttl.max(0);
        redis::cmd("RESTORE").arg(key).arg(ttl).arg(unhex(dump)?).query_async::<()>(con).await.map_err(store)?;
        restored += 1;
    }
    Ok(restored)
}

/// Writes every table of `database` into `dir`: its DDL as the server shows it and its rows.
pub async fn take_clickhouse(client: &clickhouse::Client, database: &str, dir: &Path) -> Result<Vec<String>> {
    let dir = dir.join(CLICKHOUSE_DIR);
    std::fs::create_dir_all(&dir).map_err(io(dir.display().to_string()))?;
    let list = format!("SELECT name FROM system.tables WHERE database = '{database}' ORDER BY name");
    let tables: Vec<String> = client.query(&list).fetch_all().await.map_err(store)?;
    for table in &tables {
        let ddl: String =
            client.query(&format!("SHOW CREATE TABLE {database}.{table}")).fetch_one().await.map_err(store)?;
        let ddl = ddl.replace(&format!("{database}.{table}"), &format!("{{database}}.{table}"));
        std::fs::write(dir.join(format!("{table}.sql")), ddl + "\n").map_err(io(table.clone()))?;
        let select = format!("SELECT * FROM {database}.{table}");
        let rows = client.query(&select).fetch_bytes("TabSeparated").map_err(store)?.collect().await.map_err(store)?;
        let mut rows: Vec<&str> = std::str::from_utf8(&rows).map_err(store)?.lines().collect();
        rows.sort_unstable();
        let rows: String = rows.iter().map(|row| format!("{row}\n")).collect();
        sample::files::write_gz(&dir.join(format!("{table}.tsv.gz")), &rows).map_err(io(table.clone()))?;
    }
    Ok(tables)
}

/// Creates `database` and every table of the fixture in `dir` as the release left them, rows and all.
pub async fn restore_clickhouse(client: &clickhouse::Client, database: &str, dir: &Path) -> Result<Vec<String>> {
    let dir = dir.join(CLICKHOUSE_DIR);
    client.query(&format!("CREATE DATABASE IF NOT EXISTS {database}")).execute().await.map_err(store)?;
    let mut tables = Vec::new();
    for entry in std::fs::read_dir(&dir).map_err(io(dir.display().to_string()))? {
        let path = entry.map_err(io("fixture"))?.path();
        let Some(table) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".sql")) else {
            continue;
        };
        let ddl = std::fs::read_to_string(&path).map_err(io(table.to_owned()))?;
        client.query(&ddl.replace("{database}", database)).execute().await.map_err(store)?;
        let rows = sample::files::read_gz(&dir.join(format!("{table}.tsv.gz"))).map_err(io(table.to_owned()))?;
        if !rows.is_empty() {
            let mut insert =
                client.insert_formatted_with(format!("INSERT INTO {database}.{table} FORMAT TabSeparated"));
            insert.send(rows.into_bytes().into()).await.map_err(store)?;
            insert.end().await.map_err(store)?;
        }
        tables.push(table.to_owned());
    }
    tables.sort();
    Ok(tables)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Result<Vec<u8>> {
    let digit = |i: usize| u8::from_str_radix(text.get(i..i + 2).unwrap_or("?"), 16);
    (0..text.len()).step_by(2).map(|i| digit(i).map_err(|_| store(format!("not hex at {i}")))).collect()
}

/// The manifest of a fixture in `dir`.
pub fn manifest(dir: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(dir.join("manifest.json")).map_err(io("manifest.json"))?;
    serde_json::from_str(&text).map_err(store)
}

/// Writes the manifest of a fixture into `dir`.
pub fn write_manifest(dir: &Path, manifest: &Value) -> Result<()> {
    let text = serde_json::to_string_pretty(manifest).map_err(store)?;
    std::fs::write(dir.join("manifest.json"), text + "\n").map_err(io("manifest.json"))
}
