//! The query page in headless Chromium: a range given in the address is queried, and the chart
//! and the table show every bar; two symbols' daily bars with adjusted prices, one charted; errors,
//! the server's and the page's own, are shown in the page.

mod support;

use harness::page::{chromium_dom, element_text};
use support::ApiStores;

fn count(dom: &str, needle: &str) -> usize {
    dom.matches(needle).count()
}

#[tokio::test]
async fn the_page_charts_and_tabulates_a_merged_range_and_shows_errors() {
    let mut stack = ApiStores::start().await;
    stack.three_days("600519.SH").await;
    stack.three_days("000001.SZ").await;
    let producer = "http://producer.example:9101/";
    let api = stack.api(&[("TICKBAR__API__PRODUCER_MONITOR_URL", producer)]).await;
    let base = format!("http://127.0.0.1:{}/", api.http);

    let url = format!("{base}?symbol=600519.SH&period=5&start=2026-11-18T09:30:00&end=2026-11-20T15:00:00");
    let dom = tokio::task::spawn_blocking(move || chromium_dom(&url, 8000)).await.unwrap().unwrap();
    assert_eq!(element_text(&dom, "error"), "", "{dom}");
    assert!(element_text(&dom, "sources").starts_with("144 bars · 48 from Redis · 96 from ClickHouse"), "{dom}");
    assert!(dom.contains(r#"data-candles="144""#), "{dom}");
    assert_eq!(count(&dom, r#"<g class="candle "#), 144, "candles");
    assert_eq!(count(&dom, r#"<rect class="volume "#), 144, "volume bars");
    let table = &dom[dom.find(r#"<table id="bars""#).unwrap()..];
    let table = &table[..table.find("</table>").unwrap()];
    assert_eq!(count(table, "<tr"), 1 + 144, "header and one row per bar");
    assert!(
        table.contains("<td>2026-11-18 09:35</td>") && table.contains("<td>2026-11-20 14:55</td>"),
        "24-hour frames"
    );
    assert!(dom.contains(&format!(r#"href="{producer}""#)), "the producer monitor link is the setting");
    let chart = &dom[dom.find(r#"<svg id="chart""#).unwrap()..dom.find("</svg>").unwrap()];
    for shown in [chart, table, dom.as_str().split("<form").nth(1).unwrap().split("</form>").next().unwrap()] {
        assert!(!shown.contains("AM") && !shown.contains("PM"), "no AM/PM in the form, chart or table");
    }
    assert!(chart.contains(">11-20 13:05<"), "24-hour axis labels");

    let daily =
        format!("{base}?symbol=600519.SH,000001.SZ&period=1d&adjust=qfq&start=2026-11-18T00:00&end=2026-11-20T23:59");
    let dom = tokio::task::spawn_blocking(move || chromium_dom(&daily, 8000)).await.unwrap().unwrap();
    assert_eq!(element_text(&dom, "error"), "", "{dom}");
    assert!(element_text(&dom, "sources").starts_with("6 bars · 2 from Redis · 4 from ClickHouse"), "{dom}");
    assert!(dom.contains(r#"data-candles="3""#), "the first symbol's three days: {dom}");
    assert!(dom.contains("<option>600519.SH</option><option>000001.SZ</option>"), "a symbol to chart: {dom}");

    let bad_symbol = format!("{base}?symbol=AAPL&period=1&start=2026-11-20T09:30&end=2026-11-20T15:00");
    let dom = tokio::task::spawn_blocking(move || chromium_dom(&bad_symbol, 5000)).await.unwrap().unwrap();
    assert!(element_text(&dom, "error").contains("expected six digits"), "{dom}");
    let twelve_hour = format!("{base}?symbol=600519.SH&period=1&start=2026-11-20T9:30PM&end=2026-11-20T15:00");
    let dom = tokio::task::spawn_blocking(move || chromium_dom(&twelve_hour, 5000)).await.unwrap().unwrap();
    assert!(element_text(&dom, "error").contains("AM/PM is not accepted"), "{dom}");
}
