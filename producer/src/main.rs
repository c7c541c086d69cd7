//! `producer`: turns A-share ticks from the Redis stream `ticks` into bars kept in Redis.
//! The service loop arrives with issue #3; today the binary checks and prints its settings.

mod settings;

use clap::Parser;
use settings::ProducerSettings;

#[derive(Parser)]
#[command(
    name = "producer",
    version,
    about = "Turns A-share ticks from the Redis stream `ticks` into 1/5/15/30/60-minute bars kept in Redis"
)]
struct Cli {
    #[command(flatten)]
    service: runtime::ServiceArgs,
}

fn main() -> anyhow::Result<()> {
    let Some(_settings) = Cli::parse().service.settings::<ProducerSettings>()? else {
        return Ok(());
    };
    anyhow::bail!("the producer service is not built yet (issue #3); `producer check-config` checks the settings")
}
