//! The query API's edges over HTTP: every malformed parameter is a 400 in the contract's shape, the
//! calendar endpoints, the OpenAPI document, the token, CORS and the ops endpoints.

mod support;

use support::{get_json, get_with, Stack};

#[tokio::test]
async fn every_malformed_parameter_is_a_400_in_the_contract_shape() {
    let stack = Stack::start().await;
    let api = stack.api(&[]).await;
    let ok = "symbol=600519.SH&start=2026-11-20&end=2026-11-20";
    let cases: Vec<(String, &str, &str)> = vec![
        ("".into(), "missing_parameter", "`symbol` is required"),
        ("symbol=600519.SH&end=2026-11-20".into(), "missing_parameter", "`start` is required"),
        ("symbol=600519.SH&start=2026-11-20".into(), "missing_parameter", "`end` is required"),
        ("symbol=AAPL&start=2026-11-20&end=2026-11-20".into(), "bad_symbol", ".SH, .SZ or .BJ"),
        ("symbol=600519.XX&start=2026-11-20&end=2026-11-20".into(), "bad_symbol", "600519.SH"),
        (format!("{ok}&period=2"), "bad_period", "1, 5, 15, 30 and 60"),
        (format!("{ok}&period=five"), "bad_period", "1, 5, 15, 30 and 60"),
        ("symbol=600519.SH&start=2026-11-20%2009:30%20AM&end=2026-11-20".into(), "bad_time", "AM/PM is not accepted"),
        ("symbol=600519.SH&start=2026-11-20&end=2026-11-20T3:00pm".into(), "bad_time", "24-hour"),
        ("symbol=600519.SH&start=20261120&end=2026-11-20".into(), "bad_time", "a date alone"),
        ("symbol=600519.SH&start=2026-11-20T25:00&end=2026-11-20".into(), "bad_time", "24-hour ISO-8601"),
        ("symbol=600519.SH&start=2026-02-30&end=2026-03-02".into(), "bad_time", "ISO-8601"),
        ("symbol=600519.SH&start=2026-11-21&end=2026-11-20".into(), "bad_range", "is after end"),
        ("symbol=600519.SH&start=2024-11-20&end=2026-11-20".into(), "range_too_long", "366 days of 1-minute bars"),
        (format!("{ok}&format=parquet"), "bad_parameter", "json and csv"),
        (format!("{ok}&include_forming=1"), "bad_parameter", "true and false"),
        (format!("{ok}&limit=10"), "unknown_parameter", "unknown parameter `limit`"),
        (format!("{ok}&symbol=000333.SZ"), "bad_parameter", "duplicate parameter `symbol`"),
    ];
    for (query, code, says) in &cases {
        let (status, body) = get_json(&api, &format!("/api/v1/bars?{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["error"]["code"], *code, "{query}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{query}: {message}");
        assert_eq!(body.as_object().unwrap().len(), 1, "only `error`: {body}");
    }
    for (path, code) in [
        ("/api/v1/calendar/trading-days?start=2026-11-01", "missing_parameter"),
        ("/api/v1/calendar/trading-days?start=2026-11-30&end=2026-11-01", "bad_range"),
        ("/api/v1/calendar/is-trading-day?date=2026/11/20", "bad_time"),
        ("/api/v1/calendar/is-trading-day?date=2026-11-20&n=1", "unknown_parameter"),
        ("/api/v1/calendar/next?date=2026-11-20&n=x", "bad_parameter"),
        ("/api/v1/calendar/next?date=2026-11-20&n=100000", "bad_parameter"),
        ("/api/v1/stream/bars?symbol=600519.SH&period=3", "bad_period"),
        ("/api/v1/stream/bars?period=1", "missing_parameter"),
    ] {
        let (status, body) = get_json(&api, path).await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some(code)), "{path}: {body}");
    }
    let (status, body) = get_json(&api, "/api/v1/calendar/trading-days?start=2014-01-01&end=2014-02-01").await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("outside_calendar")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("covers 2015-01-01 to 2026-12-31"), "{body}");
    let refusing = stack.api(&[("TICKBAR__CALENDAR__BEYOND_LIST", "refuse")]).await;
    let (status, body) = get_json(&refusing, "/api/v1/calendar/next?date=2026-12-31").await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("outside_calendar")), "{body}");
    let (status, body) = get_json(&api, "/api/v2/bars").await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("not_found")), "{body}");
}

#[tokio::test]
async fn the_calendar_endpoints_answer_from_the_trading_calendar() {
    let stack = Stack::start().await;
    let api = stack.api(&[]).await;
    let (status, nov) = get_json(&api, "/api/v1/calendar/trading-days?start=2026-11-01&end=2026-11-30").await;
    assert_eq!((status, nov["count"].as_u64()), (200, Some(21)), "{nov}");
    assert_eq!(nov["days"][0], "2026-11-02");
    assert_eq!(nov["days"][20], "2026-11-30");
    let (_, national_day) = get_json(&api, "/api/v1/calendar/is-trading-day?date=2026-10-05").await;
    assert_eq!(national_day, serde_json::json!({"date": "2026-10-05", "trading_day": false, "provisional": false}));
    let (_, friday) = get_json(&api, "/api/v1/calendar/is-trading-day?date=2026-11-20").await;
    assert_eq!(friday["trading_day"], true);
    let (_, after) = get_json(&api, "/api/v1/calendar/next?date=2026-09-30").await;
    assert_eq!(after, serde_json::json!({"date": "2026-09-30", "n": 1, "day": "2026-10-08", "provisional": false}));
    let (_, back) = get_json(&api, "/api/v1/calendar/next?date=2026-10-08&n=-2").await;
    assert_eq!(back["day"], "2026-09-29");
    let (_, beyond) = get_json(&api, "/api/v1/calendar/next?date=2026-12-31&n=2").await;
    assert_eq!(beyond, serde_json::json!({"date": "2026-12-31", "n": 2, "day": "2027-01-04", "provisional": true}));
    let (_, saturday) = get_json(&api, "/api/v1/calendar/is-trading-day?date=2027-01-09").await;
    assert_eq!((saturday["trading_day"].as_bool(), saturday["provisional"].as_bool()), (Some(false), Some(true)));
    let (_, status) = get_json(&api, "/monitor/api/status").await;
    assert_eq!(status["calendar"]["last_date"], "2026-12-31", "{status}");
}

#[tokio::test]
async fn openapi_describes_every_endpoint_with_its_parameters_and_errors() {
    let stack = Stack::start().await;
    let api = stack.api(&[]).await;
    let (status, doc) = get_json(&api, "/openapi.json").await;
    assert_eq!(status, 200);
    let paths = doc["paths"].as_object().unwrap();
    let mut names: Vec<&str> = paths.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "/api/v1/bars",
            "/api/v1/calendar/is-trading-day",
            "/api/v1/calendar/next",
            "/api/v1/calendar/trading-days",
            "/api/v1/stream/bars"
        ]
    );
    let bars = &paths["/api/v1/bars"]["get"];
    let params: Vec<&str> =
        bars["parameters"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(params, ["symbol", "period", "start", "end", "format", "include_forming"]);
    for status in ["200", "400", "401", "503"] {
        assert!(bars["responses"].get(status).is_some(), "{status} in {}", bars["responses"]);
    }
    assert!(bars["responses"]["200"]["content"].get("text/csv").is_some());
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
}

#[tokio::test]
async fn a_token_guards_every_api_route_and_cors_admits_only_listed_origins() {
    let stack = Stack::start().await;
    let api = stack
        .api(&[("TICKBAR__API__TOKEN", "s3cret"), ("TICKBAR__API__CORS_ORIGINS", "http://strategy.local:3000")])
        .await;
    let days = "/api/v1/calendar/trading-days?start=2026-11-02&end=2026-11-06";
    for path in
        [days, "/api/v1/bars?symbol=600519.SH&start=2026-11-20&end=2026-11-20", "/api/v1/stream/bars?symbol=600519.SH"]
    {
        let r = get_with(&api, path, &[]).await;
        assert_eq!(r.status, 401, "{path}: {}", r.body);
        assert_eq!(r.header("www-authenticate"), Some("Bearer"));
        assert!(r.body.contains("\"unauthorized\""), "{}", r.body);
        assert_eq!(get_with(&api, path, &[("Authorization", "Bearer wrong")]).await.status, 401);
    }
    let r = get_with(&api, days, &[("Authorization", "Bearer s3cret"), ("Origin", "http://strategy.local:3000")]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("access-control-allow-origin"), Some("http://strategy.local:3000"));
    let r = get_with(&api, days, &[("Authorization", "Bearer s3cret"), ("Origin", "http://evil.example")]).await;
    assert_eq!(r.header("access-control-allow-origin"), None);
    for open in ["/", "/openapi.json", "/healthz", "/readyz", "/metrics", "/monitor/"] {
        assert_eq!(api.get(open).await.0, 200, "{open} needs no token");
    }
}

#[tokio::test]
async fn the_ops_endpoints_count_requests_by_route_and_status() {
    let stack = Stack::start().await;
    let api = stack.api(&[]).await;
    get_json(&api, "/api/v1/calendar/is-trading-day?date=2026-11-20").await;
    get_json(&api, "/api/v1/calendar/is-trading-day?date=x").await;
    let (status, metrics) = api.get("/metrics").await;
    assert_eq!(status, 200);
    for line in [
        "tickbar_api_requests_total{route=\"/api/v1/calendar/is-trading-day\",status=\"200\"} 1",
        "tickbar_api_requests_total{route=\"/api/v1/calendar/is-trading-day\",status=\"400\"} 1",
        "tickbar_api_store_up{store=\"redis\"} 1",
        "tickbar_api_store_up{store=\"clickhouse\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
    let (_, status) = get_json(&api, "/monitor/api/status").await;
    assert_eq!((status["redis"].as_str(), status["clickhouse"].as_str()), (Some("up"), Some("up")));
    assert_eq!(api.get("/readyz").await, (200, "ready\n".into()));
}
