//! `consumer`: drains the historical-bar queues into ClickHouse and runs the nightly cleanup of the
//! previous trading day's Redis data with its integrity report; `consumer cleanup` runs it once.
//!
//! # Layout
//! - [`item`]: a queue item checked into a bar or a dead letter; [`batch`]: a batch deduplicated
//!   against ClickHouse and tallied.
//! - [`drain`]: the drain lock and the per-period workers around them, and [`archive`], the tick
//!   archive's writer that works under the same lock; [`high_water`]: the latest
//!   stored frames that spare time-ordered batches their existence read.
//! - [`cleanup`]: the 2 a.m. cleanup, its schedule and report; [`integrity`]: the checks of the
//!   cleaned days, without I/O; [`webhook`]: the report's delivery.
//! - [`store`]: the queues, locks and same-day keys in Redis, the bars table in ClickHouse.
//! - [`monitor`]: the monitor page, `/metrics` and `/readyz`; [`settings`] and [`error`].
//! - This file: the commands, and the wiring both the service and `cleanup` are built from.

mod archive;
mod batch;
mod cleanup;
mod drain;
mod error;
mod high_water;
mod integrity;
mod item;
mod monitor;
mod settings;
mod store;
mod webhook;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::NaiveDate;
use clap::{Parser, Subcommand};
use common::{Sessions, TradingCalendar};
use runtime::clock::Clock;
use runtime::ops::Backoff;
use runtime::stores::Store;
use settings::ConsumerSettings;

use crate::archive::Archiver;
use crate::cleanup::{Cleanup, Trigger};
use crate::drain::Drain;
use crate::item::Validator;
use crate::monitor::Monitor;
use crate::store::clickhouse::History;
use crate::store::redis::{Lock, Queues};
use crate::store::ticks::Archive;

#[derive(Parser)]
#[command(
    name = "consumer",
    version,
    about = "Drains the historical-bar queues into ClickHouse and runs the nightly Redis cleanup"
)]
struct Cli {
    #[command(flatten)]
    config: runtime::ConfigArg,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    #[command(flatten)]
    Service(runtime::ServiceCommand),
    /// Runs the cleanup once for one trading day and prints its report as JSON. Exit status 0: done
    /// and clean; 1: it failed (or another instance holds the lock); 2: done, with integrity issues
    /// or the day kept because ClickHouse lacks its history.
    Cleanup {
        /// The trading day to remove from Redis (default: the trading day before today).
        #[arg(long)]
        day: Option<NaiveDate>,
        /// Remove the day even when ClickHouse lacks its history (the bars are then gone).
        #[arg(long)]
        force: bool,
    },
}

/// The parts both the service and `cleanup` are built from.
struct Wiring {
    instance: String,
    /// The client of `[clickhouse]`, not naming the database (which may not exist yet).
    clickhouse: clickhouse::Client,
    queues: Queues,
    history: History,
    cleanup: Cleanup,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let (settings, calendar, clock) = cli.config.load::<ConsumerSettings>()?;
    runtime::init_tracing();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let _entered = rt.enter();
    let calendar = Arc::new(calendar);
    let parts = parts(&settings, calendar.clone(), clock)?;
    match cli.command {
        Some(Command::Service(runtime::ServiceCommand::CheckConfig)) => {
            runtime::check_config(&settings, &calendar, clock)
        }
        None => rt.block_on(serve(settings, parts))?,
        Some(Command::Cleanup { day, force }) => {
            let code = rt.block_on(cleanup_once(&settings, &parts, day, force))?;
            std::process::exit(code);
        }
    }
    Ok(())
}

fn parts(settings: &ConsumerSettings, calendar: Arc<TradingCalendar>, clock: Clock) -> Result<Wiring, runtime::Error> {
    let section = &settings.consumer;
    let keys = settings.redis.keys();
    let instance = section.instance_name();
    let ttl = Duration::from_millis(section.lock_ttl_ms.max(1000));
    let clickhouse = runtime::clickhouse::client(&settings.clickhouse)?;
    let history = History::new(
        clickhouse.clone(),
        &settings.clickhouse.database,
        Duration::from_millis(section.insert_timeout_ms),
    );
    let drain_lock = Lock::new("drain", keys.drain_lock(), &instance, ttl);
    let queues = Queues::new(keys.clone(), drain_lock, section.workers_per_queue);
    let cleanup = Cleanup {
        keys: keys.clone(),
        lock: Lock::new("cleanup", keys.cleanup_lock(), &instance, ttl),
        history: history.clone(),
        calendar,
        clock,
        bars: settings.bars.clone(),
        at: section.cleanup_at,
        integrity_days: section.integrity_days,
        webhook_url: section.webhook_url.clone().filter(|u| !u.is_empty()),
        archive: Archive::new(
            clickhouse.clone(),
            &settings.clickhouse.database,
            Duration::from_millis(section.insert_timeout_ms),
        ),
        retention_days: settings.archive.retention_days,
        live_bars: settings.archive.bars,
    };
    Ok(Wiring { instance, clickhouse, queues, history, cleanup })
}

/// `consumer cleanup [--day D]`: the exit status.
async fn cleanup_once(
    settings: &ConsumerSettings,
    parts: &Wiring,
    day: Option<NaiveDate>,
    force: bool,
) -> anyhow::Result<i32> {
    let day = match day {
        Some(day) => day,
        None => parts.cleanup.calendar.prev(parts.cleanup.clock.today())?,
    };
    apply_schema(settings, &parts.clickhouse).await.context("clickhouse")?;
    let mut con = runtime::redis::connect(&settings.redis).context("redis")?;
    let report = parts.cleanup.run(&mut con, vec![day], Trigger::Command, None, force).await?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(match (&report.error, report.ok) {
        (Some(_), _) => 1,
        (None, false) => 2,
        (None, true) => 0,
    })
}

async fn serve(settings: ConsumerSettings, parts: Wiring) -> anyhow::Result<()> {
    let section = &settings.consumer;
    let con = runtime::redis::connect(&settings.redis).context("redis")?;
    let monitor = Arc::new(Monitor::new(
        parts.instance.clone(),
        parts.queues.clone(),
        parts.history.clone(),
        con.clone(),
        parts.cleanup.calendar.clone(),
        parts.cleanup.clock,
        settings.http.chart_interval_ms,
    ));
    let lifetime = runtime::ops::Lifetime::start(settings.http.listen).await?;
    let stop_rx = lifetime.stop();
    let http = lifetime.serve(monitor.routes());
    tracing::info!(listen = %settings.http.listen, instance = %parts.instance, "consumer started");
    if !schema_applied(&settings, &parts.clickhouse, &monitor, stop_rx.clone()).await {
        http.await??;
        return Ok(());
    }
    let drain = Drain {
        queues: parts.queues.clone(),
        history: parts.history.clone(),
        validator: Validator::new(Arc::new(Sessions::new(settings.bars.layout)), parts.cleanup.calendar.clone()),
        periods: common::Period::ALL.to_vec(),
        batch_rows: section.batch_rows.max(1),
        idle: Duration::from_millis(section.idle_ms.max(1)),
        monitor: monitor.clone(),
        marks: Arc::new(high_water::HighWater::new(Duration::from_millis(section.high_water_ttl_ms))),
        archiver: settings.archive.ticks.then(|| {
            let keys = settings.redis.keys();
            let archive = parts.cleanup.archive.clone();
            Arc::new(Archiver::new(&keys, &settings.archive, archive, monitor.clone()))
        }),
        clock: parts.cleanup.clock,
    };
    let cleanup = parts.cleanup.schedule(con.clone(), monitor.clone(), stop_rx.clone());
    tokio::join!(drain.run(con.clone(), stop_rx), cleanup);
    http.await??;
    tracing::info!("consumer stopped");
    Ok(())
}

/// Applies the DDL, retrying with backoff while ClickHouse is away; `false` when stopped first.
async fn schema_applied(
    settings: &ConsumerSettings,
    client: &clickhouse::Client,
    monitor: &Monitor,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> bool {
    let mut backoff = Backoff::new();
    loop {
        match apply_schema(settings, client).await {
            Ok(()) => {
                monitor.set_up(Store::ClickHouse);
                return true;
            }
            Err(e) => monitor.failed(&e.into()),
        }
        tokio::select! {
            () = tokio::time::sleep(backoff.next_delay()) => {},
            _ = stop.changed() => return false,
        }
    }
}

/// Creates the database and the bars table when missing.
async fn apply_schema(settings: &ConsumerSettings, client: &clickhouse::Client) -> clickhouse::error::Result<()> {
    runtime::clickhouse::apply_schema(client, &settings.clickhouse.database).await
}
