//! The `query-api` binary: loads the settings and the calendar, builds the [`App`], serves
//! [`query_api::router`] until SIGTERM/SIGINT. Everything else is in the library (`lib.rs`).

use std::sync::Arc;

use clap::Parser;
use query_api::settings::QueryApiSettings;
use query_api::App;

#[derive(Parser)]
#[command(name = "query-api", version, about = "Serves same-day Redis bars merged with ClickHouse history over HTTP")]
struct Cli {
    #[command(flatten)]
    service: runtime::ServiceArgs,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let Some((settings, calendar, clock)) = cli.service.settings::<QueryApiSettings>()? else {
        return Ok(());
    };
    runtime::init_tracing();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(serve(settings, calendar, clock))
}

async fn serve(
    settings: QueryApiSettings,
    calendar: runtime::calendar::LiveCalendar,
    clock: runtime::clock::Clock,
) -> anyhow::Result<()> {
    let lifetime = runtime::ops::Lifetime::start(settings.http.listen).await?;
    let app = Arc::new(App::connect(&settings, calendar, clock, lifetime.stop())?);
    tracing::info!(listen = %settings.http.listen, "query-api started");
    lifetime.serve(query_api::router(app)).await??;
    tracing::info!("query-api stopped");
    Ok(())
}
