//! `query-api`: serves same-day Redis bars merged with ClickHouse history over HTTP.
//! The service loop arrives with issue #5; today the binary validates and prints its settings.

mod settings;

use clap::{Parser, Subcommand};
use settings::QueryApiSettings;

#[derive(Parser)]
#[command(name = "query-api", version, about = "Serves same-day Redis bars merged with ClickHouse history over HTTP")]
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
    let settings: QueryApiSettings = runtime::load_settings(cli.config.config.as_deref())?;
    runtime::load_calendar(&settings.calendar)?;
    match cli.command {
        Some(Command::CheckConfig) => runtime::print_settings(&settings),
        None => anyhow::bail!("the query API is not built yet (issue #5); `query-api check-config` validates settings"),
    }
    Ok(())
}
