//! The query page at `/`: a form (a symbol list, any period the API serves, adjusted prices, dates
//! with 24-hour times), an interactive candlestick chart (zoom, pan, crosshair, OHLCV legend,
//! volume pane, day separators, moving averages, live updates from the event stream, drawn with the
//! vendored TradingView Lightweight Charts at `/vendor/lightweight-charts.js`) and the table of
//! bars of a chosen symbol, the sources line, CSV download, and links to the monitor pages whose
//! addresses are settings; and the icon browsers ask every site for (`/favicon.ico`), so their
//! request is no 404 in the error counts.

use axum::http::header;
use axum::response::Html;
use axum::routing::get;
use axum::Router;

use crate::settings::ApiSection;

const PAGE: &str = include_str!("page.html");

/// A red and a green candle: what a browser's tab shows.
const ICON: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><path d="M4 1v14M12 3v11" stroke="#555"/><rect x="2" y="4" width="4" height="7" fill="#d9363e"/><rect x="10" y="6" width="4" height="5" fill="#1a9850"/></svg>"##;

/// `/` with the monitor links of `api` filled in.
pub fn routes(api: &ApiSection) -> Router {
    let page = PAGE
        .replace("{{producer_monitor_url}}", &attribute(&api.producer_monitor_url))
        .replace("{{consumer_monitor_url}}", &attribute(&api.consumer_monitor_url));
    let chart_library = include_str!("../vendor/lightweight-charts/lightweight-charts.standalone.production.js");
    Router::new()
        .route("/", get(move || async move { Html(page.clone()) }))
        .route(
            "/vendor/lightweight-charts.js",
            get(move || async move { ([(header::CONTENT_TYPE, "text/javascript")], chart_library) }),
        )
        .route("/favicon.ico", get(|| async { ([(header::CONTENT_TYPE, "image/svg+xml")], ICON) }))
}

/// `text` safe inside a double-quoted HTML attribute.
fn attribute(text: &str) -> String {
    text.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_monitor_links_are_the_settings_escaped() {
        assert_eq!(attribute(r#"http://h/?a=1&b="x""#), "http://h/?a=1&amp;b=&quot;x&quot;");
    }
}
