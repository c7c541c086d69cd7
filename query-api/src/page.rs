//! The query page at `/`: a form (a symbol list, any period the API serves, adjusted prices, dates
//! with 24-hour times), a candlestick chart with volume and the table of bars of a chosen symbol,
//! the sources line, CSV download, and links to the monitor pages whose addresses are settings.

use axum::response::Html;
use axum::routing::get;
use axum::Router;

use crate::settings::ApiSection;

const PAGE: &str = include_str!("page.html");

/// `/` with the monitor links of `api` filled in.
pub fn routes(api: &ApiSection) -> Router {
    let page = PAGE
        .replace("{{producer_monitor_url}}", &attribute(&api.producer_monitor_url))
        .replace("{{consumer_monitor_url}}", &attribute(&api.consumer_monitor_url));
    Router::new().route("/", get(move || async move { Html(page.clone()) }))
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
