//! The ClickHouse schema as numbered migrations: the files of `sql/` (`NNN_name.sql`), applied
//! once each, in order, and recorded in the database's `schema_migrations` table, by whichever
//! service starts first. Every statement is idempotent (`CREATE ... IF NOT EXISTS`; an
//! `ALTER TABLE ... ADD COLUMN` is skipped when the column is there, which 18.16 cannot say in
//! SQL), so two services migrating at once, or one stopped half-way, leave the same schema, and a
//! migration recorded twice is harmless. A server that knows no column codecs (18.16) gets the
//! tables without them.

use std::collections::BTreeSet;

use clickhouse::error::{Error, Result};

/// One numbered migration of `sql/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    pub version: u32,
    pub name: &'static str,
    /// The DDL, `{database}` standing for `clickhouse.database`.
    pub text: &'static str,
}

/// Every migration, in order. Files 1 to 4 are the schema the first releases created at every
/// start; a deployment of those has their tables, which the migrations find and leave alone.
pub const MIGRATIONS: [Migration; 6] = [
    Migration { version: 1, name: "001_bars", text: include_str!("../../sql/001_bars.sql") },
    Migration { version: 2, name: "002_adj_factors", text: include_str!("../../sql/002_adj_factors.sql") },
    Migration { version: 3, name: "003_ticks", text: include_str!("../../sql/003_ticks.sql") },
    Migration { version: 4, name: "004_live_bars", text: include_str!("../../sql/004_live_bars.sql") },
    Migration { version: 5, name: "005_bar_trades", text: include_str!("../../sql/005_bar_trades.sql") },
    Migration { version: 6, name: "006_instruments", text: include_str!("../../sql/006_instruments.sql") },
];

/// The table that records the migrations applied: one row per application (two services applying
/// one at once write two), read as the set of versions.
pub const MIGRATIONS_TABLE: &str = "schema_migrations";

/// The statements of every migration for `database`, in order, comments dropped.
pub fn schema_statements(database: &str) -> Vec<String> {
    MIGRATIONS.iter().flat_map(|m| statements(m.text, database)).collect()
}

/// The `;`-separated statements of a DDL file's `text` for `database`, in order, comments dropped.
pub fn statements(text: &str, database: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().filter(|line| !line.trim_start().starts_with("--")).collect();
    lines
        .join("\n")
        .split(';')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().replace("{database}", database))
        .collect()
}

/// Brings `database` up to the last migration: when the record lacks any, creates the database
/// and the record table when missing, then applies, in order, each migration the record lacks and
/// records it. Returns the versions applied now (none when the schema is current, which is then
/// only read).
pub async fn apply_schema(client: &clickhouse::Client, database: &str) -> Result<Vec<u32>> {
    // A current schema is only read, never written to: a read-only user finds it so.
    if applied(client, database).await.is_ok_and(|done| MIGRATIONS.iter().all(|m| done.contains(&m.version))) {
        return Ok(Vec::new());
    }
    let server: String = client.query("SELECT version()").fetch_one().await?;
    client.query(&format!("CREATE DATABASE IF NOT EXISTS {database}")).execute().await?;
    let record = format!(
        "CREATE TABLE IF NOT EXISTS {database}.{MIGRATIONS_TABLE} \
         (version UInt32, name String, applied_at DateTime) ENGINE = MergeTree ORDER BY version"
    );
    client.query(&record).execute().await?;
    let done = applied(client, database).await?;
    let mut now = Vec::new();
    for migration in MIGRATIONS.iter().filter(|m| !done.contains(&m.version)) {
        for statement in statements(migration.text, database) {
            apply(client, database, &for_server(&statement, &server)).await?;
        }
        // INSERT ... SELECT, not VALUES: the whole statement is the query (a server logs it so).
        let insert = format!(
            "INSERT INTO {database}.{MIGRATIONS_TABLE} (version, name, applied_at) SELECT {}, '{}', now()",
            migration.version, migration.name
        );
        client.query(&insert).execute().await?;
        tracing::info!(version = migration.version, name = migration.name, "clickhouse migration applied");
        now.push(migration.version);
    }
    Ok(now)
}

/// The versions the record of `database` holds.
pub async fn applied(client: &clickhouse::Client, database: &str) -> Result<BTreeSet<u32>> {
    let versions: Vec<u32> =
        client.query(&format!("SELECT DISTINCT version FROM {database}.{MIGRATIONS_TABLE}")).fetch_all().await?;
    Ok(versions.into_iter().collect())
}

/// `statement` as a server of `version` is given it: from 20.1 on as written, an `ADD COLUMN` with
/// `IF NOT EXISTS`; before, without column codecs (and the `ADD COLUMN` checked by [`apply`]).
pub fn for_server(statement: &str, version: &str) -> String {
    if !current_syntax(version) {
        return without_codecs(statement);
    }
    statement.replacen(" ADD COLUMN ", " ADD COLUMN IF NOT EXISTS ", 1)
}

/// The statements of every migration for `database` as a server of `version` is given them.
pub fn schema_statements_for(database: &str, version: &str) -> Vec<String> {
    schema_statements(database).iter().map(|s| for_server(s, version)).collect()
}

/// Runs one statement; a plain `ADD COLUMN` (an old server's) only when the column is missing,
/// and never on a Distributed table, whose shards' tables a cluster migrates `ON CLUSTER`
/// (`sql/cluster/migrations`).
async fn apply(client: &clickhouse::Client, database: &str, statement: &str) -> Result<()> {
    let Some((table, column)) = added_column(statement, database) else {
        return client.query(statement).execute().await;
    };
    let columns = "SELECT count() FROM system.columns WHERE database = ? AND table = ? AND name = ?";
    let present: u64 = client.query(columns).bind(database).bind(table).bind(column).fetch_one().await?;
    if present > 0 {
        return Ok(());
    }
    let engine = "SELECT engine FROM system.tables WHERE database = ? AND name = ?";
    let engine: String = client.query(engine).bind(database).bind(table).fetch_one().await?;
    if engine == "Distributed" {
        return Err(Error::Custom(format!(
            "{database}.{table} is a Distributed table without column {column}: apply \
             sql/cluster/migrations first (docs/operations.md, upgrading)"
        )));
    }
    match client.query(statement).execute().await {
        Err(e) if e.to_string().contains("already exists") => Ok(()),
        done => done,
    }
}

/// The table and column of an `ALTER TABLE {database}.t ADD COLUMN c ...` statement.
fn added_column<'a>(statement: &'a str, database: &str) -> Option<(&'a str, &'a str)> {
    let mut words = statement.split_whitespace();
    let [alter, table_word, table, add, column_word, column] = std::array::from_fn(|_| words.next().unwrap_or(""));
    let plain = alter == "ALTER" && table_word == "TABLE" && add == "ADD" && column_word == "COLUMN" && column != "IF";
    let table = table.strip_prefix(database)?.strip_prefix('.')?;
    plain.then_some((table, column))
}

/// Whether a server of `version` (as `SELECT version()` gives it) knows column codecs and
/// `ADD COLUMN IF NOT EXISTS`: from 20.1 on every codec the DDL names is there.
pub fn current_syntax(version: &str) -> bool {
    version.split('.').next().and_then(|major| major.parse::<u32>().ok()).is_some_and(|major| major >= 20)
}

/// `statement` without its `CODEC(...)` clauses.
pub fn without_codecs(statement: &str) -> String {
    let mut out = String::with_capacity(statement.len());
    let mut rest = statement;
    while let Some(at) = rest.find("CODEC(") {
        out.push_str(rest[..at].trim_end());
        let clause = &rest[at..];
        let mut depth = 0;
        let end = clause.char_indices().find_map(|(i, c)| {
            depth += match c {
                '(' => 1,
                ')' => -1,
                _ => 0,
            };
            (c == ')' && depth == 0).then_some(i + 1)
        });
        rest = &clause[end.unwrap_or(clause.len())..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_without_codecs_gets_the_columns_without_them() {
        let ticks = &schema_statements("db1")[3];
        let plain = without_codecs(ticks);
        assert!(!plain.contains("CODEC") && plain.contains(" Int64,\n") && plain.contains(" UInt32\n)"));
        assert_eq!(
            plain.matches(',').count() + 5,
            ticks.matches(',').count(),
            "the two-codec clauses' commas went too"
        );
        assert!(!current_syntax("18.16.1") && current_syntax("20.3.1.1") && current_syntax("26.9.1"));
        let added = &schema_statements("db1")[5];
        assert_eq!(&for_server(added, "18.16.1"), added);
        assert!(for_server(added, "26.9.1").starts_with("ALTER TABLE db1.bars ADD COLUMN IF NOT EXISTS trades"));
        assert_eq!(added_column(&for_server(added, "26.9.1"), "db1"), None, "a current server checks it itself");
    }

    #[test]
    fn the_migrations_are_numbered_in_order_and_create_the_contract_tables() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version as usize, i + 1);
            assert!(m.name.starts_with(&format!("{:03}_", m.version)), "{}", m.name);
        }
        let statements = schema_statements("db1");
        assert_eq!(statements.len(), 8, "{statements:?}");
        assert!(statements[0].starts_with("CREATE DATABASE IF NOT EXISTS db1"));
        assert!(statements[1].contains("CREATE TABLE IF NOT EXISTS db1.bars") && statements[1].contains("Replacing"));
        assert!(statements[2].contains("CREATE TABLE IF NOT EXISTS db1.adj_factors"));
        assert!(statements[3].contains("CREATE TABLE IF NOT EXISTS db1.ticks") && statements[3].contains("CODEC("));
        assert!(
            statements[4].contains("CREATE TABLE IF NOT EXISTS db1.live_bars") && statements[4].contains("(version)")
        );
        assert_eq!(added_column(&statements[5], "db1"), Some(("bars", "trades")));
        assert_eq!(added_column(&statements[6], "db1"), Some(("live_bars", "trades")));
        assert_eq!(added_column(&statements[6], "db2"), None, "another database's table is not ours");
        assert_eq!(added_column(&statements[1], "db1"), None);
        assert!(statements[7].contains("CREATE TABLE IF NOT EXISTS db1.instruments"));
    }
}
