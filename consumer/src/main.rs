//! `consumer`: drains the historical-bar queues into ClickHouse and runs the 2 a.m. cleanup.
//! The service loop arrives with issue #4; today the binary validates and prints its settings.

mod settings;

use clap::{Parser, Subcommand};
use settings::ConsumerSettings;

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
    /// Validates the settings (file, environment, holiday list) and prints them as JSON.
    CheckConfig,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings: ConsumerSettings = runtime::load_settings(cli.config.config.as_deref())?;
    runtime::load_calendar(&settings.calendar)?;
    match cli.command {
        Some(Command::CheckConfig) => runtime::print_settings(&settings),
        None => anyhow::bail!(
            "the consumer service is not built yet (issue #4); `consumer check-config` validates settings"
        ),
    }
    Ok(())
}
