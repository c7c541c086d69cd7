//! `tickbar-demo`: the whole stack on this machine with the bundled sample (run by
//! `deploy/demo.sh`). Redis and ClickHouse start on free ports with their files under `--dir`,
//! then the consumer, the producer (event clock) and the query API on the services' own ports
//! (free ones when those are taken); the two history days go
//! through `producer import-history` and the queues, the sample day of QMT payloads through
//! `producer replay` at `--speed` times market time. Ctrl-C (or SIGTERM) stops what it started.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Parser;
use harness::stack::{Ports, StackOptions, WholeStack};
use sample::market::DAYS;

/// Marks a directory as the demo's own, so that a later run may wipe it.
const MARKER: &str = ".tickbar-demo";

#[derive(Parser)]
#[command(about = "Runs Redis, ClickHouse, producer, consumer and query API with the bundled sample day")]
struct Args {
    /// Where Redis, ClickHouse, the logs and the unpacked sample live (wiped at start).
    #[arg(long, default_value = "target/demo")]
    dir: PathBuf,
    /// The bundled sample files.
    #[arg(long, default_value = "deploy/sample")]
    sample: PathBuf,
    /// Replay speed over market time (600: the 4-hour day in about 35 s; 0: as fast as possible).
    #[arg(long, default_value_t = 600.0)]
    speed: f64,
    /// The query API's port (the services' own default); a port taken falls back to a free one.
    #[arg(long, default_value_t = 8080)]
    api_port: u16,
    /// The producer's monitor port; a port taken falls back to a free one.
    #[arg(long, default_value_t = 9101)]
    producer_port: u16,
    /// The consumer's monitor port; a port taken falls back to a free one.
    #[arg(long, default_value_t = 9102)]
    consumer_port: u16,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    fresh_dir(&args.dir)?;
    let dir = std::path::absolute(&args.dir)?;
    let exe = std::env::current_exe()?;
    let bin_dir = exe.parent().context("the demo's own directory")?;
    println!("Starting Redis and ClickHouse (files under {}) ...", dir.display());
    let mut stack = WholeStack::start(StackOptions {
        dir: Some(&dir),
        log_level: "info",
        ports: Ports { api: args.api_port, producer: args.producer_port, consumer: args.consumer_port },
        ..StackOptions::plain(bin_dir)
    })
    .await?;
    for (name, asked, got) in [
        ("query API", args.api_port, stack.api.http),
        ("producer", args.producer_port, stack.producer.http),
        ("consumer", args.consumer_port, stack.consumer.http),
    ] {
        if asked != got {
            println!("Port {asked} is taken: the {name} listens on {got}.");
        }
    }
    let loaded = tokio::select! {
        loaded = load(&mut stack, &args) => Some(loaded),
        () = stopped() => None,
    };
    if let Some(Ok(())) = loaded {
        println!("\nRunning. Logs: {}/logs/. Press Ctrl-C to stop everything the demo started.", dir.display());
        stopped().await;
    }
    stop(stack);
    loaded.unwrap_or(Ok(()))
}

/// Makes `dir` empty: creates it, or wipes it when an earlier demo made it.
fn fresh_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        if !dir.join(MARKER).exists() {
            bail!("{} exists and is not a demo directory; pass another --dir", dir.display());
        }
        std::fs::remove_dir_all(dir).with_context(|| format!("wiping {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join(MARKER), "made by tickbar-demo; wiped by its next run\n")?;
    Ok(())
}

/// Loads the sample through the services and prints where to look.
async fn load(stack: &mut WholeStack, args: &Args) -> anyhow::Result<()> {
    let sample = stack.unpack(&args.sample)?;
    stack.import_history(&sample)?;
    println!("History: {} bars of {} and {} queued for the consumer.", sample.history_bars, DAYS[0], DAYS[1]);
    print_urls(stack);
    let speed = args.speed.to_string();
    let day = sample.day.display().to_string();
    let pace = if args.speed > 0.0 { format!("at {speed}x market time") } else { "as fast as it goes".to_owned() };
    println!("\nReplaying {} (QMT snapshots of 50 symbols) {pace} ...", DAYS[2]);
    let replay = stack.command("producer", &["replay", "--file", &day, "--speed", &speed]);
    let started = std::time::Instant::now();
    let out = tokio::process::Command::from(replay).kill_on_drop(true).output().await?;
    if !out.status.success() {
        bail!("producer replay: {}: {}", out.status, String::from_utf8_lossy(&out.stderr));
    }
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    println!(
        "Replayed {} stream entries in {:.0} s.",
        report["written"].as_u64().map_or("the".to_owned(), |n| n.to_string()),
        started.elapsed().as_secs_f64()
    );
    stack.day_applied().await?;
    stack.history_stored(sample.history_bars).await?;
    println!(
        "Loaded: {} in Redis (from the tick stream), {} and {} in ClickHouse (from the queues).",
        DAYS[2], DAYS[0], DAYS[1]
    );
    Ok(())
}

/// The stack's URLs.
fn print_urls(stack: &WholeStack) {
    let [first, _, day] = DAYS;
    let api = format!("http://127.0.0.1:{}", stack.api.http);
    println!("\nQuery page (history and the sample day, 5-minute candles):");
    println!("  {api}/?symbol=600519.SH&period=5&start={first}&end={day}");
    println!(
        "Monitors: producer http://127.0.0.1:{}/  consumer http://127.0.0.1:{}/  query API {api}/monitor/",
        stack.producer.http, stack.consumer.http
    );
    println!("API:      curl '{api}/api/v1/bars?symbol=000333.SZ&period=60&start={first}&end={day}'");
    println!("          {api}/openapi.json");
    println!("\nPython (pip install \"./clients/python[pandas]\"):");
    println!("  from tickbar import Client");
    println!("  api = Client(\"{api}\")");
    println!("  df = api.bars([\"600519.SH\", \"000001.SZ\"], period=5, start=\"{first}\", end=\"{day}\")");
}

/// Ctrl-C or SIGTERM.
async fn stopped() {
    let mut term =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term.recv() => {},
    }
}

fn stop(stack: WholeStack) {
    println!("\nStopping the query API, the producer, the consumer, then ClickHouse and Redis ...");
    stack.stop();
    println!("Stopped. The data stays under the demo directory until the next run.");
}
