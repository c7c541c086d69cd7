//! The query API's ops endpoints over HTTP with both stores up (the edges that need no store are
//! tested in-process in `router.rs`).

mod support;

use support::{get_json, get_with, ApiStores};

#[tokio::test]
async fn the_ops_endpoints_count_requests_by_route_and_status() {
    let stack = ApiStores::start().await;
    let api = stack.api(&[("TICKBAR__API__TOKEN", "s3cret")]).await;
    let token = [("Authorization", "Bearer s3cret")];
    get_with(&api, "/api/v1/calendar/is-trading-day?date=2026-11-20", &token).await;
    get_with(&api, "/api/v1/calendar/is-trading-day?date=x", &token).await;
    // The status probes the stores, so the metrics after it show them up.
    let (_, status) = get_json(&api, "/monitor/api/status").await;
    let (code, metrics) = api.get("/metrics").await;
    assert_eq!(code, 200);
    assert!(metrics.contains("# TYPE tickbar_api_request_duration_seconds histogram"), "{metrics}");
    assert!(metrics.contains("tickbar_api_request_duration_seconds_bucket{le=\"+Inf\"}"), "{metrics}");
    for line in [
        "tickbar_api_requests_total{route=\"/api/v1/calendar/is-trading-day\",status=\"200\"} 1",
        "tickbar_api_requests_total{route=\"/api/v1/calendar/is-trading-day\",status=\"400\"} 1",
        "tickbar_api_store_up{store=\"redis\"} 1",
        "tickbar_api_store_up{store=\"clickhouse\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
    assert_eq!((status["redis"].as_str(), status["clickhouse"].as_str()), (Some("up"), Some("up")));
    assert_eq!(status["errors"], serde_json::json!({}), "{status}");
    assert_eq!(status["calendar"]["last_date"], "2026-12-31", "{status}");
    assert_eq!(api.get("/readyz").await, (200, "ready\n".into()), "the ops endpoints need no token");
}
