//! The monitor page as an operator sees it: rendered by headless Chromium, with live figures.

mod support;

use harness::fixtures;
use support::*;

#[tokio::test(flavor = "multi_thread")]
async fn the_monitor_page_renders_live_figures_in_a_browser() {
    let mut stack = ProducerRedis::start().await;
    let ticks = fixtures::trades("2023-02-01");
    let mut entries: Vec<(&str, String)> = ticks.iter().map(|t| ("tick", tick_json(t))).collect();
    entries.push(("tick", "{broken".to_owned()));
    let mut producer = stack.producer("page:", &[("TICKBAR__CLOCK__START", "2026-12-15T10:00:00")]);
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
    assert_eq!(figure("ticks_total"), harness::page::thousands(ticks.len() as u64));
    assert_eq!(figure("symbols_active"), "1");
    let last = ticks.iter().map(|t| t.time_ms).max().unwrap();
    assert_eq!(figure("last_tick_time"), common::Frame::from_epoch_seconds(last / 1000).to_string());
    assert_eq!(figure("dead_total"), "1");
    assert!(dom.contains("<td>bad_json</td>"), "dead letters by reason are listed");
    assert!(dom.contains("<td>1 min</td><td>240</td>"), "240 one-minute bars closed: {dom}");
    assert_eq!(figure("error"), "", "the page reached its status endpoint");
}
