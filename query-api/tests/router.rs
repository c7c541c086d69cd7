//! The query API's edges in-process, through [`query_api::router`] with `oneshot` and paused time
//! (no server started): every malformed parameter is a 400 in the contract's shape, the calendar
//! endpoints, the OpenAPI document, the token, CORS and the request timeout. The stores are
//! addresses nobody answers on (or a listener that never replies), which none of these reach
//! except the timeout.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use common::calendar::BeyondList;
use query_api::settings::QueryApiSettings;
use query_api::App;
use serde_json::{json, Value};
use tower::ServiceExt;

/// Settings whose stores refuse every connection.
fn settings() -> QueryApiSettings {
    let mut settings = QueryApiSettings::default();
    settings.redis.url = "redis://127.0.0.1:1".into();
    settings.clickhouse.url = "http://127.0.0.1:1".into();
    settings
}

fn router(settings: &QueryApiSettings) -> Router {
    let calendar = runtime::calendar::LiveCalendar::load(&settings.calendar).unwrap();
    let (_, stop) = tokio::sync::watch::channel(false);
    let clock = runtime::clock::Clock::from_settings(&settings.clock).unwrap();
    query_api::router(Arc::new(App::connect(settings, calendar, clock, stop).unwrap()))
}

/// An answer: status, headers and body.
struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{}: {e}: {}", self.status, self.body))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

async fn get(router: &Router, path: &str, headers: &[(&str, &str)]) -> Answer {
    let mut request = Request::get(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = router.clone().oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    Answer { status: parts.status, headers: parts.headers, body: String::from_utf8(body.to_vec()).unwrap() }
}

async fn get_json(router: &Router, path: &str) -> (u16, Value) {
    let answer = get(router, path, &[]).await;
    (answer.status.as_u16(), answer.json())
}

#[tokio::test(start_paused = true)]
async fn every_malformed_parameter_is_a_400_in_the_contract_shape() {
    let api = router(&settings());
    let ok = "symbol=600519.SH&start=2026-11-20&end=2026-11-20";
    let cases: Vec<(String, &str, &str)> = vec![
        ("".into(), "missing_parameter", "`symbol` or `symbols` is required"),
        ("symbol=600519.SH&end=2026-11-20".into(), "missing_parameter", "`start` is required"),
        ("symbol=600519.SH&start=2026-11-20".into(), "missing_parameter", "`end` is required"),
        ("symbol=AAPL&start=2026-11-20&end=2026-11-20".into(), "bad_symbol", ".SH, .SZ or .BJ"),
        ("symbol=600519.XX&start=2026-11-20&end=2026-11-20".into(), "bad_symbol", "600519.SH"),
        (format!("{ok}&period=7"), "bad_period", "divides 120"),
        (format!("{ok}&period=five"), "bad_period", "1d, 1w and 1M"),
        ("symbol=600519.SH&start=2026-11-20%2009:30%20AM&end=2026-11-20".into(), "bad_time", "AM/PM is not accepted"),
        ("symbol=600519.SH&start=2026-11-20&end=2026-11-20T3:00pm".into(), "bad_time", "24-hour"),
        ("symbol=600519.SH&start=20261120&end=2026-11-20".into(), "bad_time", "a date alone"),
        ("symbol=600519.SH&start=2026-11-20T25:00&end=2026-11-20".into(), "bad_time", "24-hour ISO-8601"),
        ("symbol=600519.SH&start=2026-02-30&end=2026-03-02".into(), "bad_time", "ISO-8601"),
        ("symbol=600519.SH&start=2026-11-21&end=2026-11-20".into(), "bad_range", "is after end"),
        ("symbol=600519.SH&start=2024-11-20&end=2026-11-20".into(), "range_too_long", "366 days of 1-minute bars"),
        (format!("{ok}&format=feather"), "bad_parameter", "json, csv, arrow and parquet"),
        (format!("{ok}&include_forming=1"), "bad_parameter", "true and false"),
        (format!("{ok}&limit=10"), "unknown_parameter", "unknown parameter `limit`"),
        (format!("{ok}&symbol=000333.SZ"), "bad_parameter", "duplicate parameter `symbol`"),
        (format!("{ok}&symbols=000333.SZ"), "bad_parameter", "`symbol` and `symbols` exclude each other"),
        ("symbols=600519.SH,000333.XX&count=5".into(), "bad_symbol", "000333.XX"),
        ("symbol=600519.SH&count=5&start=2026-11-20".into(), "bad_parameter", "`count` and `start` exclude each other"),
        ("symbol=600519.SH&count=100001".into(), "bad_parameter", "from 1 to 100000"),
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
        ("/api/v1/calendar/phase?at=2026-11-20T2:58PM", "bad_time"),
        ("/api/v1/calendar/phase?symbol=600519", "bad_symbol"),
        ("/api/v1/calendar/phase?date=2026-11-20", "unknown_parameter"),
        ("/api/v1/stream/bars?symbol=600519.SH&period=3", "bad_period"),
        ("/api/v1/stream/bars?period=1", "missing_parameter"),
    ] {
        let (status, body) = get_json(&api, path).await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some(code)), "{path}: {body}");
    }
    let (status, body) = get_json(&api, "/api/v1/calendar/trading-days?start=2014-01-01&end=2014-02-01").await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("outside_calendar")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("covers 2015-01-01 to 2026-12-31"), "{body}");
    for before in [
        "/api/v1/bars?symbol=600519.SH&start=2010-01-04&end=2010-01-08",
        "/api/v1/bars?symbol=600519.SH&count=10&end=2010-01-08",
        "/api/v1/snapshot?at=2010-01-04T10:00",
        "/api/v1/ticks?symbol=600519.SH&start=2010-01-04&end=2010-01-04",
    ] {
        let (status, body) = get_json(&api, before).await;
        assert_eq!((status, body["error"]["code"].as_str()), (404, Some("outside_calendar")), "{before}: {body}");
    }
    let mut few = settings();
    few.api.max_symbols = 2;
    let (status, body) = get_json(&router(&few), "/api/v1/bars?symbols=600519.SH,000001.SZ,000002.SZ&count=1").await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("too_many_symbols")), "{body}");
    let mut refusing = settings();
    refusing.calendar.beyond_list = BeyondList::Refuse;
    let (status, body) = get_json(&router(&refusing), "/api/v1/calendar/next?date=2026-12-31").await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("outside_calendar")), "{body}");
    let (status, body) = get_json(&api, "/api/v2/bars").await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("not_found")), "{body}");
}

#[tokio::test(start_paused = true)]
async fn the_calendar_endpoints_answer_from_the_trading_calendar() {
    let api = router(&settings());
    let (status, nov) = get_json(&api, "/api/v1/calendar/trading-days?start=2026-11-01&end=2026-11-30").await;
    assert_eq!((status, nov["count"].as_u64()), (200, Some(21)), "{nov}");
    assert_eq!(nov["days"][0], "2026-11-02");
    assert_eq!(nov["days"][20], "2026-11-30");
    let (_, national_day) = get_json(&api, "/api/v1/calendar/is-trading-day?date=2026-10-05").await;
    assert_eq!(national_day, json!({"date": "2026-10-05", "trading_day": false, "provisional": false}));
    let (_, friday) = get_json(&api, "/api/v1/calendar/is-trading-day?date=2026-11-20").await;
    assert_eq!(friday["trading_day"], true);
    let (_, after) = get_json(&api, "/api/v1/calendar/next?date=2026-09-30").await;
    assert_eq!(after, json!({"date": "2026-09-30", "n": 1, "day": "2026-10-08", "provisional": false}));
    let (_, back) = get_json(&api, "/api/v1/calendar/next?date=2026-10-08&n=-2").await;
    assert_eq!(back["day"], "2026-09-29");
    let (_, beyond) = get_json(&api, "/api/v1/calendar/next?date=2026-12-31&n=2").await;
    assert_eq!(beyond, json!({"date": "2026-12-31", "n": 2, "day": "2027-01-04", "provisional": true}));
    let (_, saturday) = get_json(&api, "/api/v1/calendar/is-trading-day?date=2027-01-09").await;
    assert_eq!((saturday["trading_day"].as_bool(), saturday["provisional"].as_bool()), (Some(false), Some(true)));
}

#[tokio::test(start_paused = true)]
async fn the_phase_endpoint_names_the_phase_of_a_board_and_when_the_next_begins() {
    let api = router(&settings());
    let (status, auction) = get_json(&api, "/api/v1/calendar/phase?at=2026-11-20T14:58").await;
    assert_eq!(status, 200, "{auction}");
    assert_eq!(
        auction,
        json!({"at": "2026-11-20T14:58:00+08:00", "symbol": null, "trading_day": true, "provisional": false,
               "phase": "closing_auction", "next": {"phase": "closed", "at": "2026-11-20T15:00:00+08:00"}})
    );
    let (_, star) = get_json(&api, "/api/v1/calendar/phase?at=2026-11-20T15:10%2B08:00&symbol=688981.sh").await;
    assert_eq!((star["symbol"].as_str(), star["phase"].as_str()), (Some("688981.SH"), Some("after_hours")), "{star}");
    assert_eq!(star["next"], json!({"phase": "closed", "at": "2026-11-20T15:30:00+08:00"}));
    let (_, weekend) = get_json(&api, "/api/v1/calendar/phase?at=2026-11-21").await;
    assert_eq!((weekend["trading_day"].as_bool(), weekend["phase"].as_str()), (Some(false), Some("closed")));
    assert_eq!(weekend["next"], json!({"phase": "pre_open", "at": "2026-11-23T00:00:00+08:00"}));
    let (status, now) = get_json(&api, "/api/v1/calendar/phase").await;
    assert_eq!(status, 200, "{now}");
    assert!(now["phase"].is_string() && now["next"]["at"].as_str() > now["at"].as_str(), "{now}");
}

#[tokio::test(start_paused = true)]
async fn the_calendar_endpoints_follow_the_day_overrides_of_the_circuit_breaker_days() {
    let api = router(&settings());
    let (_, halted) = get_json(&api, "/api/v1/calendar/phase?at=2016-01-04T13:20").await;
    assert_eq!(
        (halted["phase"].as_str(), &halted["next"]),
        (Some("halted"), &json!({"phase": "continuous", "at": "2016-01-04T13:28:00+08:00"}))
    );
    let (_, closed) = get_json(&api, "/api/v1/calendar/phase?at=2016-01-07T10:05").await;
    assert_eq!(
        (closed["phase"].as_str(), &closed["next"]),
        (Some("closed"), &json!({"phase": "pre_open", "at": "2016-01-08T00:00:00+08:00"}))
    );
    let (_, january) = get_json(&api, "/api/v1/calendar/trading-days?start=2016-01-01&end=2016-01-31").await;
    let overrides = january["overrides"].as_array().unwrap();
    let changes: Vec<(&str, &str)> =
        overrides.iter().map(|o| (o["date"].as_str().unwrap(), o["change"].as_str().unwrap())).collect();
    assert_eq!(
        changes,
        [("2016-01-04", "halt"), ("2016-01-04", "early_close"), ("2016-01-07", "halt"), ("2016-01-07", "early_close")]
    );
    assert_eq!(
        (&overrides[0]["from"], &overrides[0]["to"], &overrides[1]["at"]),
        (&json!("13:13"), &json!("13:28"), &json!("13:34"))
    );
    assert!(overrides.iter().all(|o| !o["source"].as_str().unwrap().is_empty()), "{january}");
    let (_, november) = get_json(&api, "/api/v1/calendar/trading-days?start=2026-11-01&end=2026-11-30").await;
    assert_eq!(november["overrides"], json!([]));
}

#[tokio::test(start_paused = true)]
async fn openapi_describes_every_endpoint_with_its_parameters_and_errors() {
    let (status, doc) = get_json(&router(&settings()), "/openapi.json").await;
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
            "/api/v1/calendar/phase",
            "/api/v1/calendar/trading-days",
            "/api/v1/instruments",
            "/api/v1/snapshot",
            "/api/v1/stream/bars",
            "/api/v1/ticks"
        ]
    );
    let ticks = &paths["/api/v1/ticks"]["get"];
    let params: Vec<&str> =
        ticks["parameters"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(params, ["symbol", "symbols", "start", "end", "count", "format"]);
    assert!(ticks["responses"]["400"]["description"].as_str().unwrap().contains("api.max_ticks"));
    let bars = &paths["/api/v1/bars"]["get"];
    let params: Vec<&str> =
        bars["parameters"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(
        params,
        ["symbol", "symbols", "period", "start", "end", "count", "format", "include_forming", "adjust", "adjust_ref"]
    );
    for status in ["200", "400", "401", "503"] {
        assert!(bars["responses"].get(status).is_some(), "{status} in {}", bars["responses"]);
    }
    assert!(bars["responses"]["200"]["content"].get("text/csv").is_some());
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
}

#[tokio::test(start_paused = true)]
async fn a_token_guards_every_api_route_and_cors_admits_only_listed_origins() {
    let mut guarded = settings();
    guarded.api.token = Some("s3cret".into());
    guarded.api.cors_origins = vec!["http://strategy.local:3000".into()];
    let api = router(&guarded);
    let days = "/api/v1/calendar/trading-days?start=2026-11-02&end=2026-11-06";
    for path in
        [days, "/api/v1/bars?symbol=600519.SH&start=2026-11-20&end=2026-11-20", "/api/v1/stream/bars?symbol=600519.SH"]
    {
        let r = get(&api, path, &[]).await;
        assert_eq!(r.status, 401, "{path}: {}", r.body);
        assert_eq!(r.header("www-authenticate"), Some("Bearer"));
        assert_eq!(r.json()["error"]["code"], "unauthorized");
        assert_eq!(get(&api, path, &[("Authorization", "Bearer wrong")]).await.status, 401);
        assert_eq!(get(&api, path, &[("Authorization", "Bearer s3cret2")]).await.status, 401);
    }
    let r = get(&api, days, &[("Authorization", "Bearer s3cret"), ("Origin", "http://strategy.local:3000")]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("access-control-allow-origin"), Some("http://strategy.local:3000"));
    let r = get(&api, days, &[("Authorization", "Bearer s3cret"), ("Origin", "http://evil.example")]).await;
    assert_eq!((r.status, r.header("access-control-allow-origin")), (StatusCode::OK, None));
    for open in ["/", "/openapi.json", "/healthz", "/monitor/", "/favicon.ico"] {
        assert_eq!(get(&api, open, &[]).await.status, 200, "{open} needs no token");
    }
    let icon = get(&api, "/favicon.ico", &[]).await;
    assert_eq!(icon.header("content-type"), Some("image/svg+xml"), "the tab's icon, not a 404 in the error counts");
    let mut bad = settings();
    bad.api.cors_origins = vec!["not an\norigin".into()];
    let (_, stop) = tokio::sync::watch::channel(false);
    let refused = App::connect(&bad, runtime::calendar::LiveCalendar::bundled(), runtime::clock::Clock::System, stop)
        .err()
        .expect("a bad origin is refused");
    assert!(refused.to_string().contains("api.cors_origins"), "{refused}");
}

#[tokio::test(start_paused = true)]
async fn a_request_slower_than_the_timeout_is_a_503_timeout() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut slow = settings();
    slow.redis.url = format!("redis://{}", silent.local_addr().unwrap());
    slow.api.timeout_ms = 300;
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let started = tokio::time::Instant::now();
    let (status, answer) =
        get_json(&router(&slow), "/api/v1/bars?symbol=600519.SH&start=2026-11-18&end=2026-11-19").await;
    assert_eq!((status, answer["error"]["code"].as_str()), (503, Some("timeout")), "{answer}");
    assert_eq!(answer["error"]["message"], "the request took longer than 300 ms");
    assert_eq!(started.elapsed(), Duration::from_millis(300), "answered when the timeout passed, not before or after");
    hold.abort();
}

#[tokio::test(start_paused = true)]
async fn a_scrape_answers_from_memory_while_the_stores_hang() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut hung = settings();
    hung.redis.url = format!("redis://{}", silent.local_addr().unwrap());
    hung.clickhouse.url = format!("http://{}", silent.local_addr().unwrap());
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let api = router(&hung);
    let started = tokio::time::Instant::now();
    let metrics = get(&api, "/metrics", &[]).await;
    assert_eq!(metrics.status, 200);
    assert_eq!(started.elapsed(), Duration::ZERO, "no store was waited for");
    assert!(metrics.body.contains("tickbar_api_store_up{store=\"redis\"} 0"), "{}", metrics.body);
    assert!(metrics.body.contains("tickbar_calendar_remaining_seconds"), "{}", metrics.body);
    hold.abort();
}

#[tokio::test(start_paused = true)]
async fn the_token_can_guard_the_ops_pages_cors_star_admits_any_origin_and_store_errors_hide_their_text() {
    let mut guarded = settings();
    guarded.api.token = Some("s3cret".into());
    guarded.api.token_guards_ops = true;
    guarded.api.cors_origins = vec!["*".into()];
    let api = router(&guarded);
    for path in ["/metrics", "/monitor/", "/monitor/api/status"] {
        let r = get(&api, path, &[]).await;
        assert_eq!(r.status, 401, "{path}");
        assert!(r.header("www-authenticate").is_some_and(|c| c.starts_with("Basic realm=")), "a browser asks: {path}");
        assert_eq!(get(&api, path, &[("Authorization", "bearer s3cret")]).await.status, 200, "{path}");
        // user name anything, password the token: what a browser's prompt sends
        assert_eq!(get(&api, path, &[("Authorization", "Basic b3BzOnMzY3JldA==")]).await.status, 200, "{path}");
        assert_eq!(get(&api, path, &[("Authorization", "Basic b3BzOndyb25n")]).await.status, 401, "{path}");
    }
    for open in ["/healthz", "/", "/openapi.json"] {
        assert_eq!(get(&api, open, &[]).await.status, 200, "{open} stays open for probes and the page");
    }

    let days = "/api/v1/calendar/trading-days?start=2026-11-02&end=2026-11-06";
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let r =
            get(&api, days, &[("Authorization", &format!("{scheme} s3cret")), ("Origin", "http://any.example")]).await;
        assert_eq!(r.status, 200, "{scheme}: {}", r.body);
        assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    }

    let bars = "/api/v1/bars?symbol=600519.SH&start=2026-11-19&end=2026-11-19";
    let anonymous = get(&router(&settings()), bars, &[]).await;
    assert_eq!(
        (anonymous.status.as_u16(), anonymous.json()["error"]["code"].as_str()),
        (503, Some("redis_unavailable"))
    );
    assert_eq!(anonymous.json()["error"]["message"], "redis is unavailable", "only the store, not its error");
    let holder = get(&api, bars, &[("Authorization", "Bearer s3cret")]).await;
    let message = holder.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(
        message.starts_with("redis is unavailable: ") && message.len() > 30,
        "the token holder sees why: {message}"
    );
}

#[tokio::test]
async fn event_streams_beyond_max_streams_are_refused_with_a_503_until_one_closes() {
    let mut limited = settings();
    limited.api.max_streams = 2;
    let api = router(&limited);
    let path = "/api/v1/stream/bars?symbol=600519.SH&period=1";
    let open = |api: Router| async move { api.oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap() };
    let (first, second) = (open(api.clone()).await, open(api.clone()).await);
    assert_eq!((first.status(), second.status()), (StatusCode::OK, StatusCode::OK));
    let third = get(&api, path, &[]).await;
    assert_eq!((third.status.as_u16(), third.json()["error"]["code"].as_str()), (503, Some("too_many_streams")));
    drop(first);
    assert_eq!(open(api.clone()).await.status(), StatusCode::OK, "a closed stream makes room");
    drop(second);
}
