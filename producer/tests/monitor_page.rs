//! The monitor page as an operator sees it: rendered by headless Chromium, with live figures, the
//! last hour's charts, the stale symbols and the calendar's warning and announced overrides.

mod support;

use common::Tick;
use harness::fixtures;
use support::*;

#[tokio::test(flavor = "multi_thread")]
async fn the_monitor_page_renders_live_figures_in_a_browser() {
    let mut stack = ProducerRedis::start().await;
    let mut ticks = fixtures::trades("2023-02-01");
    // A second symbol that trades at 10:00 and is silent from then on: stale by the close.
    let silent = Tick { symbol: "000333.SZ".parse().unwrap(), time_ms: frame_ms("2023-02-01 10:00:00"), ..ticks[0] };
    let at = ticks.partition_point(|t| t.time_ms < silent.time_ms);
    ticks.insert(at, silent);
    let mut entries: Vec<(&str, String)> = ticks.iter().map(|t| ("tick", tick_json(t))).collect();
    entries.push(("tick", "{broken".to_owned()));
    let env = [("TICKBAR__CLOCK__START", "2026-12-15T10:00:00"), ("TICKBAR__HTTP__CHART_INTERVAL_MS", "100")];
    let mut producer = stack.producer("page:", &env);
    let announced = std::process::Command::new(env!("CARGO_BIN_EXE_producer"))
        .args(["calendar", "announce", "--date", "2026-12-16", "--change", "halt", "--from", "13:00", "--to", "13:15"])
        .args(["--source", "a notice"])
        .envs([("TICKBAR__REDIS__URL", stack.redis.url().as_str()), ("TICKBAR__REDIS__KEY_PREFIX", "page:")])
        .env("TICKBAR__CLOCK__START", "2026-12-15T10:00:00")
        .output()
        .unwrap();
    assert!(announced.status.success(), "{}", String::from_utf8_lossy(&announced.stderr));
    stack.send("page:", &entries).await;
    stack.drained("page:", &mut producer).await;

    let url = format!("http://127.0.0.1:{}/", producer.http);
    let dom = tokio::task::spawn_blocking(move || harness::page::chromium_dom(&url, 3_000)).await.unwrap().unwrap();
    let figure = |id: &str| harness::page::element_text(&dom, id);
    assert_eq!(figure("redis"), "up");
    assert_eq!(figure("role"), "active");
    assert_eq!(figure("catching_up"), "no");
    assert!(
        figure("calendar-warning").contains("the holiday list ends on 2026-12-31 (16 days left)"),
        "the calendar's end shows a fortnight ahead: {dom}"
    );
    assert_eq!(figure("calendar-overrides"), "Calendar v1: 2026-12-16 halt 13:00–13:15", "the announced halt shows");
    assert_eq!(figure("ticks_total"), harness::page::thousands(ticks.len() as u64));
    assert_eq!(figure("symbols_active"), "2");
    let last = ticks.iter().map(|t| t.time_ms).max().unwrap();
    assert_eq!(figure("last_tick_time"), common::Frame::from_epoch_seconds(last / 1000).to_string());
    assert_eq!(figure("dead_total"), "1");
    assert!(dom.contains("<td>bad_json</td>"), "dead letters by reason are listed");
    assert!(dom.contains("<td>1 min</td><td>450</td>"), "240 + 210 one-minute bars closed: {dom}");
    assert_eq!(figure("error"), "", "the page reached its status and chart endpoints");

    assert_eq!(figure("stale_count"), "1", "{dom}");
    let listed = "<td>000333.SZ</td><td>2023-02-01 10:00:00</td>";
    assert!(dom.contains(listed), "the silent symbol is listed with its last tick: {dom}");
    assert!(!dom.contains("<td>600519.SH</td>"), "the symbol that traded to the close is not stale");
    for chart in ["ticks", "stream_lag", "bars_closed", "dead_letters"] {
        let points = harness::page::chart_points(&dom, chart);
        assert!(points.is_some_and(|n| n >= 1), "the {chart} chart has points: {points:?}");
    }
    assert_eq!(dom.matches("<canvas").count(), 4, "four charts drawn by uPlot");
    let url = format!("http://127.0.0.1:{}/", producer.http);
    let faults = tokio::task::spawn_blocking(move || harness::page::monitor_faults(&url, &dom)).await.unwrap().unwrap();
    assert!(faults.is_empty(), "{faults:#?}");
}

fn frame_ms(time: &str) -> i64 {
    time.parse::<common::Frame>().unwrap().epoch_seconds() * 1000
}
