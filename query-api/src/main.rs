//! `query-api`: serves same-day Redis bars merged with ClickHouse history (`/api/v1/bars`), live
//! bars as Server-Sent Events, the trading calendar, the OpenAPI document, the query page at `/`
//! and its own monitor page at `/monitor/`.

mod api;
mod error;
mod guard;
mod live;
mod merge;
mod monitor;
mod page;
mod params;
mod plan;
mod settings;
mod store;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::http::{header, Uri};
use axum::middleware::from_fn_with_state;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use clap::Parser;
use common::keys::Keys;
use common::TradingCalendar;
use settings::QueryApiSettings;
use utoipa::OpenApi;

use crate::api::{ApiDoc, App};
use crate::error::AppError;
use crate::guard::Limits;
use crate::live::Hub;
use crate::monitor::Monitor;
use crate::store::clickhouse::History;
use crate::store::redis::SameDay;

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

async fn serve(settings: QueryApiSettings, calendar: TradingCalendar) -> anyhow::Result<()> {
    let keys = Keys::new(settings.redis.key_prefix.clone());
    let connections = (0..settings.api.redis_connections.max(1))
        .map(|_| runtime::redis::connect(&settings.redis.url))
        .collect::<Result<Vec<_>, _>>()
        .context("redis.url")?;
    let same_day = Arc::new(SameDay::new(connections, keys.clone()));
    let history = History::new(runtime::clickhouse::client(&settings.clickhouse), &settings.clickhouse.database);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let hub = Hub::start(redis::Client::open(settings.redis.url.as_str())?, stop_rx.clone());
    let calendar = Arc::new(calendar);
    let monitor = Arc::new(Monitor::new(same_day.clone(), history.clone(), hub.clone(), calendar.clone()));
    let app = Arc::new(App {
        calendar,
        same_day,
        history,
        hub,
        keys,
        max_range_days: settings.api.max_range_days.max(1),
        monitor: monitor.clone(),
        stop: stop_rx.clone(),
    });
    let router = router(&settings.api, app, monitor).map_err(anyhow::Error::msg)?;
    let listener = tokio::net::TcpListener::bind(settings.http.listen)
        .await
        .with_context(|| format!("http.listen {}", settings.http.listen))?;
    tracing::info!(listen = %settings.http.listen, "query-api started");
    let mut stopped = stop_rx;
    tokio::spawn(async move {
        runtime::ops::shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    runtime::ops::serve(listener, router, async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    })
    .await?;
    tracing::info!("query-api stopped");
    Ok(())
}

/// Every route: `/api/v1` behind the token, CORS and (for queries) the limits; the OpenAPI
/// document; the query page; the monitor page and the ops endpoints; a JSON 404 for the rest.
fn router(api: &settings::ApiSection, app: Arc<App>, monitor: Arc<Monitor>) -> Result<Router, String> {
    let (queries, streams) = api::routes(app);
    let limits = Arc::new(Limits {
        permits: tokio::sync::Semaphore::new(api.max_concurrency.max(1)),
        timeout: Duration::from_millis(api.timeout_ms.max(1)),
    });
    let token: Option<Arc<str>> = api.token.as_deref().filter(|t| !t.is_empty()).map(Arc::from);
    let mut routes = queries
        .layer(from_fn_with_state(limits, guard::limit))
        .merge(streams)
        .layer(from_fn_with_state(token, guard::authorize));
    if let Some(cors) = guard::cors(&api.cors_origins)? {
        routes = routes.layer(cors);
    }
    let openapi = Arc::new(ApiDoc::openapi().to_pretty_json().map_err(|e| e.to_string())?);
    Ok(routes
        .route(
            "/openapi.json",
            get(move || async move { ([(header::CONTENT_TYPE, "application/json")], openapi.to_string()) }),
        )
        .merge(page::routes(api))
        .merge(runtime::ops::monitor_page(monitor.clone(), "/monitor", include_str!("monitor.html")))
        .merge(runtime::ops::ops_routes(monitor.clone()))
        .fallback(|uri: Uri| async move { AppError::NotFound(uri.path().to_owned()).into_response() })
        .layer(from_fn_with_state(monitor, monitor::track)))
}
