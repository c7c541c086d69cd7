//! `query-api`: serves same-day Redis bars merged with ClickHouse history over HTTP.
//! The service loop arrives with issue #5; today the binary checks and prints its settings.

mod settings;

use clap::Parser;
use settings::QueryApiSettings;

#[derive(Parser)]
#[command(name = "query-api", version, about = "Serves same-day Redis bars merged with ClickHouse history over HTTP")]
struct Cli {
    #[command(flatten)]
    service: runtime::ServiceArgs,
}

fn main() -> anyhow::Result<()> {
    let Some(_settings) = Cli::parse().service.settings::<QueryApiSettings>()? else {
        return Ok(());
    };
    anyhow::bail!("the query-api service is not built yet (issue #5); `query-api check-config` checks the settings")
}
