//! The `consumer` binary: the service (the drain and the nightly cleanup behind a monitor) and
//! `consumer cleanup`, which runs the cleanup once; [`consumer::Consumer`] is what both run.

use anyhow::Context;
use chrono::NaiveDate;
use clap::{Parser, Subcommand};
use consumer::settings::ConsumerSettings;
use consumer::Consumer;

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

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let (settings, calendar, clock) = cli.config.load::<ConsumerSettings>()?;
    runtime::init_tracing();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let _entered = rt.enter();
    let consumer = Consumer::new(settings, calendar, clock)?;
    match cli.command {
        Some(Command::Service(command)) => command.run(consumer.settings(), consumer.calendar(), clock)?,
        None => rt.block_on(serve(&consumer))?,
        Some(Command::Cleanup { day, force }) => {
            rt.block_on(runtime::calendar::apply_stored(consumer.calendar(), &consumer.settings().redis));
            let report = rt.block_on(consumer.cleanup_once(day, force))?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            std::process::exit(match (&report.error, report.ok) {
                (Some(_), _) => 1,
                (None, false) => 2,
                (None, true) => 0,
            });
        }
    }
    Ok(())
}

/// The service behind its monitor until SIGTERM or Ctrl-C.
async fn serve(consumer: &Consumer) -> anyhow::Result<()> {
    let settings = consumer.settings();
    let con = runtime::redis::connect(&settings.redis).context("redis")?;
    let monitor = consumer.monitor(con.clone());
    let lifetime = runtime::ops::Lifetime::start(settings.http.listen).await?;
    let stop = lifetime.stop();
    let http = lifetime.serve(monitor.routes());
    tracing::info!(listen = %settings.http.listen, instance = %consumer.instance(), "consumer started");
    consumer.run(con, monitor, stop).await;
    http.await??;
    consumer.flush_alerts().await;
    tracing::info!("consumer stopped");
    Ok(())
}
