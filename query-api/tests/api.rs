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

/// `query-api calendar ARGS` against the stack's Redis, on the clock of 2026-12-10 10:20: its
/// exit status and what it printed.
fn calendar_command(stack: &ApiStores, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_query-api"))
        .arg("calendar")
        .args(args)
        .env("TICKBAR__REDIS__URL", stack.redis.url())
        .env("TICKBAR__CLOCK__START", "2026-12-10T10:20:00")
        .env("RUST_LOG", "warn")
        .output()
        .expect("query-api calendar runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

/// Polls `path` until `found` says yes (at most 10 s): a change applied by the running service.
async fn until_answer(api: &harness::ServiceProcess, path: &str, found: impl Fn(&serde_json::Value) -> bool) {
    let started = std::time::Instant::now();
    loop {
        let (_, answer) = get_json(api, path).await;
        if found(&answer) {
            return;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "{path} never changed: {answer}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_closure_and_a_holiday_list_stored_by_the_calendar_command_apply_without_a_restart_and_sighup_reloads_the_file(
) {
    let stack = ApiStores::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("holidays.csv");
    std::fs::write(&file, common::calendar::BUNDLED_HOLIDAYS_CSV).unwrap();
    let file_setting = file.display().to_string();
    let api = stack
        .api(&[("TICKBAR__CLOCK__START", "2026-12-10T10:20:00"), ("TICKBAR__CALENDAR__HOLIDAYS_FILE", &file_setting)])
        .await;
    let (_, status) = get_json(&api, "/monitor/api/status").await;
    assert_eq!((&status["calendar"]["days_left"], &status["calendar"]["version"]), (&21.into(), &0.into()), "{status}");
    assert!(status["calendar"]["warning"].as_str().unwrap().contains("21 days left"), "{status}");

    let phase = "/api/v1/calendar/phase?at=2026-12-10T10:40:00";
    assert_eq!(get_json(&api, phase).await.1["phase"], "continuous");
    let announce =
        ["announce", "--date", "2026-12-10", "--change", "early_close", "--from", "10:30", "--source", "test notice"];
    let (ok, said) = calendar_command(&stack, &announce);
    assert!(ok && said.contains("calendar version 1 stored"), "{said}");
    until_answer(&api, phase, |a| a["phase"] == "closed").await;
    let (_, status) = get_json(&api, "/monitor/api/status").await;
    assert_eq!(status["calendar"]["version"], 1, "{status}");
    assert_eq!(status["calendar"]["overrides"][0]["change"], "early_close", "{status}");
    let (_, metrics) = api.get("/metrics").await;
    assert!(metrics.contains("tickbar_calendar_version 1"), "{metrics}");
    let (ok, said) =
        calendar_command(&stack, &["announce", "--date", "2026-12-09", "--change", "closed", "--source", "x"]);
    assert!(!ok && said.contains("past day"), "a past day is refused unless forced: {said}");

    let next_year = dir.path().join("next.csv");
    std::fs::write(&next_year, format!("{}2027-01-01,new_years_day\n", common::calendar::BUNDLED_HOLIDAYS_CSV))
        .unwrap();
    let (ok, said) = calendar_command(&stack, &["install-holidays", "--file", &next_year.display().to_string()]);
    assert!(ok && said.contains("calendar version 2 stored"), "{said}");
    until_answer(&api, "/monitor/api/status", |s| s["calendar"]["days_left"] == 386).await;
    let (_, status) = get_json(&api, "/monitor/api/status").await;
    assert!(status["calendar"]["warning"].is_null(), "the monitors' warning is gone: {status}");
    let (_, metrics) = api.get("/metrics").await;
    assert!(metrics.contains("tickbar_calendar_remaining_seconds 33350400"), "{metrics}");

    let (ok, said) = calendar_command(&stack, &["withdraw", "--date", "2026-12-10"]);
    assert!(ok, "{said}");
    let _: () = redis::AsyncCommands::del(&mut stack.con.clone(), "tickbar:calendar").await.unwrap();
    until_answer(&api, "/monitor/api/status", |s| s["calendar"]["days_left"] == 21).await;
    std::fs::write(&file, format!("{}2027-12-31,x\n", common::calendar::BUNDLED_HOLIDAYS_CSV)).unwrap();
    api.signal("HUP");
    until_answer(&api, "/monitor/api/status", |s| s["calendar"]["days_left"] == 386).await;
}
