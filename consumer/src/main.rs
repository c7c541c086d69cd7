//! `consumer`: drains the historical-bar queues into ClickHouse and runs the 2 a.m. cleanup.
//! The service loop arrives with issue #4; today the binary checks and prints its settings.

mod settings;

use clap::Parser;
use settings::ConsumerSettings;

#[derive(Parser)]
#[command(
    name = "consumer",
    version,
    about = "Drains the historical-bar queues into ClickHouse and runs the nightly Redis cleanup"
)]
struct Cli {
    #[command(flatten)]
    service: runtime::ServiceArgs,
}

fn main() -> anyhow::Result<()> {
    let Some(_settings) = Cli::parse().service.settings::<ConsumerSettings>()? else {
        return Ok(());
    };
    anyhow::bail!("the consumer service is not built yet (issue #4); `consumer check-config` checks the settings")
}
