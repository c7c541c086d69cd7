//! The `producer` binary: the service (the default command), `replay`, `build`, `import-history`
//! and `import-factors`, over the library (`lib.rs`).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use chrono::NaiveDate;
use clap::{Parser, Subcommand, ValueEnum};
use common::normalise::{Normaliser, SourceLayout, VolumeUnit};
use common::Period;
use producer::settings::ProducerSettings;
use producer::{build, factors, import, instruments, monitor, replay, service, store};

#[derive(Parser)]
#[command(
    name = "producer",
    version,
    about = "Turns A-share ticks from the Redis stream `ticks` into 1/5/15/30/60-minute bars kept in Redis"
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
    /// Writes a tick file (CSV with a header, or JSON lines; QMT or plain ticks) into the tick stream.
    Replay {
        #[arg(long)]
        file: PathBuf,
        /// Speed-up over tick time: 1 is real time, 0 as fast as possible.
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
    },
    /// Builds bars from tick archives with the live path's rules, into ClickHouse (`[clickhouse]`)
    /// or, with --out, into files: CSV, CSV.gz or Parquet; QMT snapshots (a `lastPrice` column,
    /// volume in lots) or plain ticks; one file per day or per symbol.
    Build {
        /// Tick files, or directories of them (`.csv`, `.csv.gz`, `.parquet`, searched recursively).
        #[arg(required_unless_present = "archive", conflicts_with = "archive")]
        paths: Vec<PathBuf>,
        /// Read the ticks from ClickHouse's tick archive (`tickbar.ticks`) instead of files: the
        /// market dates `--from`..=`--to` (default: `--from`), of `--symbols` (default: all).
        #[arg(long, requires = "from")]
        archive: bool,
        #[arg(long, requires = "archive")]
        from: Option<NaiveDate>,
        #[arg(long, requires = "archive")]
        to: Option<NaiveDate>,
        /// Comma-separated, e.g. `600519.SH,000001.SZ`.
        #[arg(long, requires = "archive", value_delimiter = ',')]
        symbols: Vec<common::Symbol>,
        /// Write `bars_{N}min.parquet` (or `.csv`) into this directory instead of ClickHouse.
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = OutFormat::Parquet)]
        format: OutFormat,
        /// Threads, and aggregator shards per file; 0: one per core.
        #[arg(long, default_value_t = 0)]
        threads: usize,
        /// No progress bar (there is none when stderr is no terminal).
        #[arg(long)]
        quiet: bool,
    },
    /// Pushes vendor bars (CSV or JSON lines) into `historical_bar_data_{N}min`, normalised.
    ImportHistory {
        #[arg(long)]
        file: PathBuf,
        /// The bars' period in minutes.
        #[arg(long)]
        period: Period,
        #[arg(long, value_enum, default_value_t = Layout::Tdx240)]
        layout: Layout,
        #[arg(long, value_enum, default_value_t = Unit::Shares)]
        volume_unit: Unit,
    },
    /// Pushes adjustment factors (Tushare adj_factor or xtquant dividend-factor CSV) onto
    /// `historical_adj_factors`, which the consumer writes to ClickHouse.
    ImportFactors {
        #[arg(long)]
        file: PathBuf,
    },
    /// Writes the instrument list (Tushare stock_basic CSV, or xtquant instrument details as JSON
    /// lines) into ClickHouse's `instruments`, which the API serves and daily limits come from.
    ImportInstruments {
        #[arg(long)]
        file: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Layout {
    /// 240 bars a day, the auction inside 09:31.
    Tdx240,
    /// 241: a separate 09:30 auction bar (QMT, Tushare, Eastmoney).
    Vendor241,
}

#[derive(Clone, Copy, ValueEnum)]
enum OutFormat {
    Parquet,
    Csv,
}

#[derive(Clone, Copy, ValueEnum)]
enum Unit {
    Shares,
    Lots,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let (settings, calendar, clock) = cli.config.load::<ProducerSettings>()?;
    runtime::init_tracing();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let _entered = rt.enter();
    let keys = settings.keys();
    match cli.command {
        Some(Command::Service(command)) => command.run(&settings, &calendar, clock)?,
        None => rt.block_on(serve(settings, calendar, clock))?,
        Some(Command::Replay { file, speed }) => {
            anyhow::ensure!(speed >= 0.0 && speed.is_finite(), "--speed must be 0 or more");
            let mut con = store::connect(&settings.redis)?;
            let report = rt.block_on(replay::replay(&mut con, &keys, &file, speed))?;
            println!("{}", serde_json::to_string(&report)?);
        }
        Some(Command::Build { paths, archive, from, to, symbols, out, format, threads, quiet }) => {
            let input = match from.filter(|_| archive) {
                Some(from) => {
                    build::Input::Archive(build::archive::Selection { from, to: to.unwrap_or(from), symbols })
                }
                None => build::Input::Files(paths),
            };
            let sink = sink(&settings, clock, out, format)?;
            rt.block_on(runtime::calendar::apply_stored(&calendar, &settings.redis));
            let report = build(&settings, calendar.days(), input, &sink, threads, quiet)?;
            println!("{}", serde_json::to_string(&report)?);
            anyhow::ensure!(
                report.failed.is_empty(),
                "{} of {} files were not built",
                report.failed.len(),
                report.files
            );
        }
        Some(Command::ImportHistory { file, period, layout, volume_unit }) => {
            let source = match layout {
                Layout::Tdx240 => SourceLayout::Tdx240,
                Layout::Vendor241 => SourceLayout::Vendor241,
            };
            let unit = match volume_unit {
                Unit::Shares => VolumeUnit::Shares,
                Unit::Lots => VolumeUnit::Lots,
            };
            rt.block_on(runtime::calendar::apply_stored(&calendar, &settings.redis));
            let normaliser = Normaliser::new(settings.bars.layout, calendar.days(), period, source, unit);
            let mut con = store::connect(&settings.redis)?;
            let report = rt.block_on(import::import(&mut con, &keys, &file, period, normaliser))?;
            println!("{}", serde_json::to_string(&report)?);
        }
        Some(Command::ImportFactors { file }) => {
            let mut con = store::connect(&settings.redis)?;
            let report = rt.block_on(factors::import(&mut con, &keys, &file))?;
            println!("{}", serde_json::to_string(&report)?);
        }
        Some(Command::ImportInstruments { file }) => {
            let client = runtime::clickhouse::client(&settings.clickhouse)?;
            let report = rt.block_on(instruments::import(&client, &settings.clickhouse.database, &file))?;
            println!("{}", serde_json::to_string(&report)?);
        }
    }
    Ok(())
}

/// Where `producer build` writes: files of `format` in `out`, or ClickHouse as live bars stamped
/// with `clock`'s second.
fn sink(
    settings: &ProducerSettings,
    clock: runtime::clock::Clock,
    out: Option<PathBuf>,
    format: OutFormat,
) -> anyhow::Result<build::sink::Sink> {
    Ok(match out {
        Some(dir) => {
            let format = match format {
                OutFormat::Parquet => build::sink::FileFormat::Parquet,
                OutFormat::Csv => build::sink::FileFormat::Csv,
            };
            build::sink::Sink::files(&dir, format)?
        }
        None => {
            let client = runtime::clickhouse::client(&settings.clickhouse)?;
            let version = common::Source::live_version(clock.now_ms());
            let runtime = tokio::runtime::Handle::current();
            let redis = runtime::redis::connect(&settings.redis).context("redis")?;
            let versions = build::sink::Versions { redis, keys: settings.keys() };
            build::sink::Sink::clickhouse(client, &settings.clickhouse.database, runtime, version, versions)?
        }
    })
}

fn build(
    settings: &ProducerSettings,
    calendar: Arc<common::TradingCalendar>,
    input: build::Input,
    sink: &build::sink::Sink,
    threads: usize,
    quiet: bool,
) -> anyhow::Result<build::BuildReport> {
    let threads = if threads == 0 { std::thread::available_parallelism().map_or(1, |n| n.get()) } else { threads };
    let options = build::Options { bars: settings.bars.clone(), calendar, threads };
    let progress = if quiet { indicatif::ProgressBar::hidden() } else { progress_bar() };
    Ok(match input {
        build::Input::Files(paths) => build::build(&paths, &options, sink, &progress)?,
        build::Input::Archive(selection) => {
            let client = runtime::clickhouse::client(&settings.clickhouse)?;
            let (database, runtime) = (&settings.clickhouse.database, tokio::runtime::Handle::current());
            progress.set_style(ticks_style());
            build::archive::build(&client, database, &runtime, &selection, &options, sink, &progress)?
        }
    })
}

/// The progress bar of a build from the archive: ticks, not bytes.
fn ticks_style() -> indicatif::ProgressStyle {
    indicatif::ProgressStyle::with_template("{elapsed_precise} [{wide_bar}] {human_pos}/{human_len} ticks eta {eta}")
        .expect("the template is valid")
}

/// A bar of the input bytes read, with the rate and the time left.
fn progress_bar() -> indicatif::ProgressBar {
    let style = indicatif::ProgressStyle::with_template(
        "{elapsed_precise} [{wide_bar}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
    )
    .expect("the template is valid");
    indicatif::ProgressBar::new(0).with_style(style)
}

async fn serve(
    settings: ProducerSettings,
    calendar: runtime::calendar::LiveCalendar,
    clock: runtime::clock::Clock,
) -> anyhow::Result<()> {
    let keys = settings.keys();
    let con = store::connect(&settings.redis).context("redis")?;
    let probe = store::StreamStore::new(store::connect(&settings.redis)?, keys, &settings);
    let instance = runtime::instance_name(&settings.producer.instance);
    let alerts = runtime::alert::Alerts::new(&settings.alerts, "producer", instance, clock)?;
    let monitor = Arc::new(monitor::Monitor::new(&settings, probe, calendar.clone(), alerts.clone()));
    let lifetime = runtime::ops::Lifetime::start(settings.http.listen).await?;
    let stop = lifetime.stop();
    let http = lifetime.serve(monitor.routes());
    tracing::info!(clock = ?settings.producer.clock, listen = %settings.http.listen, "producer started");
    service::run(&settings, calendar, clock, con, monitor, stop).await;
    http.await??;
    alerts.flush(runtime::alert::FLUSH_AT_STOP).await;
    tracing::info!("producer stopped");
    Ok(())
}
