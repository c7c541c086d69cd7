//! The `query-api` binary: loads the settings and the calendar, builds the [`App`], serves
//! [`query_api::router`] until SIGTERM/SIGINT. Everything else is in the library (`lib.rs`).

use std::sync::Arc;

use anyhow::Context;
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
    let Some((settings, calendar)) = cli.service.settings::<QueryApiSettings>()? else {
        return Ok(());
    };
    runtime::init_tracing();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(serve(settings, calendar))
}

async fn serve(settings: QueryApiSettings, calendar: common::TradingCalendar) -> anyhow::Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let app = Arc::new(App::connect(&settings, calendar, stop_rx.clone())?);
    let listener = tokio::net::TcpListener::bind(settings.http.listen)
        .await
        .with_context(|| format!("http.listen {}", settings.http.listen))?;
    tracing::info!(listen = %settings.http.listen, "query-api started");
    tokio::spawn(async move {
        runtime::ops::shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    let mut stopped = stop_rx;
    runtime::ops::serve(listener, query_api::router(app), async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    })
    .await?;
    tracing::info!("query-api stopped");
    Ok(())
}
