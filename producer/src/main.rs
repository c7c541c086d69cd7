//! `producer`: turns A-share ticks from the Redis stream `ticks` into bars kept in Redis.
//! The service loop arrives with issue #3; today the binary validates and prints its settings.

mod settings;

use clap::{Parser, Subcommand};
use settings::ProducerSettings;

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
    /// Validates the settings (file, environment, holiday list) and prints them as JSON.
    CheckConfig,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings: ProducerSettings = runtime::load_settings(cli.config.config.as_deref())?;
    runtime::load_calendar(&settings.calendar)?;
    match cli.command {
        Some(Command::CheckConfig) => runtime::print_settings(&settings),
        None => anyhow::bail!(
            "the producer service is not built yet (issue #3); `producer check-config` validates settings"
        ),
    }
    Ok(())
}
