//! `query-api`: serves same-day Redis bars merged with ClickHouse history (`/api/v1/bars`), live
//! bars as Server-Sent Events, the trading calendar, the OpenAPI document, the query page at `/`
//! and its own monitor page at `/monitor/`. The binary (`main.rs`) loads the settings and serves
//! [`router`]; tests call the router in-process.
//!
//! # Layout
//! - [`app`]: the state every request shares, built from the settings.
//! - [`api`]: the `/api/v1` handlers and the calendar answers; [`answer`]: the JSON bar answers
//!   (one symbol, keyed by symbol); [`download`]: CSV, Arrow and Parquet files sent chunk by chunk,
//!   [`columnar`] the Arrow table they are; [`openapi`]: the document of them.
//! - [`params`]: query parameters, checked into queries or a 400.
//! - [`query`]: the bar query: [`plan`] (which store serves which days), [`store`] (the Redis and
//!   ClickHouse reads), [`merge`] (one series, Redis winning a frame both hold).
//! - [`snapshot`]: the whole market at one moment, from Redis in one script call or ClickHouse.
//! - [`ticks`]: the archived ticks of symbols over a range or their last N (`/api/v1/ticks`).
//! - [`served`]: a served bar, the store it came from and the per-store counts.
//! - [`live`]: shared Redis subscriptions behind the event streams.
//! - [`guard`]: token, CORS, concurrency limit and timeout; [`error`]: every failure as a JSON answer.
//! - [`page`]: the query page; [`monitor`]: request figures, `/metrics`, `/readyz` and the monitor page.
//! - [`settings`]: `[api]` and the sections the service reads.

pub mod answer;
pub mod api;
pub mod app;
pub mod columnar;
pub mod download;
pub mod error;
pub mod guard;
pub mod live;
pub mod merge;
pub mod monitor;
pub mod openapi;
pub mod page;
pub mod params;
pub mod plan;
pub mod query;
pub mod served;
pub mod settings;
pub mod snapshot;
pub mod store;
pub mod ticks;

use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, Uri};
use axum::middleware::from_fn_with_state;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

pub use crate::app::App;
use crate::error::AppError;
use crate::guard::Limits;

/// Every route: `/api/v1` behind CORS and (for queries) the limits; the OpenAPI document; the
/// query page; the monitor page and the ops endpoints; a JSON 404 for the rest; the token (see
/// [`guard::authorize`]) in front of all.
pub fn router(app: Arc<App>) -> Router {
    let api = &app.api;
    let limits = Arc::new(Limits {
        permits: Arc::new(tokio::sync::Semaphore::new(api.max_concurrency.max(1))),
        timeout: Duration::from_millis(api.timeout_ms.max(1)),
    });
    let token = Arc::new(guard::Token {
        token: api.token.as_deref().filter(|t| !t.is_empty()).map(Arc::from),
        guards_ops: api.token_guards_ops,
    });
    let (queries, streams) = api::routes(app.clone());
    let mut routes = queries.layer(from_fn_with_state(limits, guard::limit)).merge(streams);
    if let Some(cors) = app.cors.clone() {
        routes = routes.layer(cors);
    }
    let openapi: Arc<str> = openapi::document().into();
    let monitor = app.monitor.clone();
    routes
        .route(
            "/openapi.json",
            get(move || async move { ([(header::CONTENT_TYPE, "application/json")], openapi.to_string()) }),
        )
        .merge(page::routes(api))
        .merge(runtime::ops::monitor_page(monitor.clone(), "/monitor", include_str!("monitor.html")))
        .merge(runtime::ops::ops_routes(monitor.clone()))
        .fallback(|uri: Uri| async move { AppError::NotFound(uri.path().to_owned()).into_response() })
        .layer(from_fn_with_state(token, guard::authorize))
        .layer(from_fn_with_state(monitor, monitor::track))
}
