//! `tickbar-release-fixture`: takes the state this release leaves mid-day into a fixture directory
//! (see `harness::release`), for the next releases' upgrade test. The whole stack starts on
//! private stores; the sample's two history days go through the queues into ClickHouse; the sample
//! day is replayed up to `--checkpoint-at` and, once the producer has checkpointed it, on to
//! `--stop-at`, and the producer is killed (SIGKILL) with those last batches in its journal only.
//! The consumer is stopped once its archiver has the ticks. Then every Redis key and every
//! ClickHouse table is written out.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{ensure, Context};
use chrono::Timelike;
use clap::Parser;
use harness::release;
use harness::stack::{StackOptions, WholeStack};
use redis::AsyncCommands;
use serde_json::json;

#[derive(Parser)]
#[command(about = "Writes the state this release leaves mid-day (Redis, ClickHouse) into a fixture directory")]
struct Args {
    /// The fixture directory (created; must not exist).
    #[arg(long)]
    out: PathBuf,
    /// The bundled sample files.
    #[arg(long, default_value = "deploy/sample")]
    sample: PathBuf,
    /// Replay the sample day's snapshots stamped before this time, then wait for a checkpoint.
    #[arg(long, default_value = "10:00:00")]
    checkpoint_at: chrono::NaiveTime,
    /// Then those stamped before this time, left in the journal.
    #[arg(long, default_value = "10:05:00")]
    stop_at: chrono::NaiveTime,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    ensure!(!args.out.exists(), "{} exists", args.out.display());
    std::fs::create_dir_all(&args.out)?;
    let exe = std::env::current_exe()?;
    let bin_dir = exe.parent().context("the binary's own directory")?;
    let mut stack = WholeStack::start(StackOptions::plain(bin_dir)).await?;
    let sample = stack.unpack(&args.sample)?;
    stack.import_history(&sample)?;
    stack.history_stored(sample.history_bars).await?;
    let lines: Vec<String> = std::fs::read_to_string(&sample.day)?.lines().map(String::from).collect();
    let checkpoint_lines = lines_before(&lines, args.checkpoint_at)?;
    let stop_lines = lines_before(&lines, args.stop_at)?;
    let mut con = stack.redis.connect().await?;
    replay(&stack, &lines[..checkpoint_lines], "first")?;
    stack.day_applied().await?;
    until_checkpointed(&mut con, &stack).await?;
    replay(&stack, &lines[checkpoint_lines..stop_lines], "second")?;
    stack.day_applied().await?;
    stack.producer.kill();
    let journal: u64 = con.llen(stack.keys.producer_journal()).await?;
    ensure!(journal > 0, "the producer checkpointed the second part too: run again");
    until_archived(&mut con, &stack).await?;
    stack.consumer.terminate();
    let keys = release::take_redis(&mut con, &args.out).await?;
    let tables = release::take_clickhouse(&stack.clickhouse[0].client(), "tickbar", &args.out).await?;
    let manifest = json!({
        "release": env!("CARGO_PKG_VERSION"),
        "commit": git_commit(),
        "sample_day": sample::market::DAYS[2],
        "checkpointed_lines": checkpoint_lines,
        "replayed_lines": stop_lines,
        "journal_records": journal,
        "history_bars": sample.history_bars,
        "redis_keys": keys,
        "clickhouse_tables": tables,
    });
    release::write_manifest(&args.out, &manifest)?;
    println!("{}", serde_json::to_string_pretty(&manifest)?);
    stack.stop();
    Ok(())
}

/// How many of the day's lines (one QMT payload each, every symbol at one time) are stamped
/// before `time` of the day.
fn lines_before(lines: &[String], time: chrono::NaiveTime) -> anyhow::Result<usize> {
    for (i, line) in lines.iter().enumerate() {
        let payload: serde_json::Value = serde_json::from_str(line)?;
        let first = payload.as_object().and_then(|o| o.values().next()).context("an empty payload")?;
        let ms = first["time"].as_i64().context("a payload without time")?;
        if common::time::split_ms(ms).1 >= time.num_seconds_from_midnight() {
            return Ok(i);
        }
    }
    Ok(lines.len())
}

/// Replays `lines` through `producer replay`, as fast as it goes.
fn replay(stack: &WholeStack, lines: &[String], part: &str) -> anyhow::Result<()> {
    let file = stack.dir().join(format!("{part}.qmt.jsonl"));
    std::fs::write(&file, lines.iter().map(|l| format!("{l}\n")).collect::<String>())?;
    stack.run("producer", &["replay", "--file", &file.display().to_string(), "--speed", "0"])?;
    Ok(())
}

/// Waits until the producer's journal is empty: a checkpoint holds everything applied.
async fn until_checkpointed(con: &mut redis::aio::MultiplexedConnection, stack: &WholeStack) -> anyhow::Result<()> {
    for _ in 0..300 {
        let journal: u64 = con.llen(stack.keys.producer_journal()).await?;
        let state: bool = con.exists(stack.keys.producer_state()).await?;
        if state && journal == 0 {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("the producer did not checkpoint within 30 s")
}

/// Waits until the consumer's archiver has passed every entry of the tick stream.
async fn until_archived(con: &mut redis::aio::MultiplexedConnection, stack: &WholeStack) -> anyhow::Result<()> {
    let group = runtime::settings::ArchiveSettings::default().group;
    for _ in 0..600 {
        if harness::stack::group_caught_up(con, &stack.keys.tick_stream(), &group).await {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("the tick archive did not catch up within 60 s")
}

/// The commit this binary was built from, when built in a git checkout.
fn git_commit() -> String {
    let out = std::process::Command::new("git").args(["rev-parse", "--short", "HEAD"]).output();
    out.ok().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned()).unwrap_or_default()
}
