//! The query page in headless Chromium: a range given in the address is queried, and the chart
//! (TradingView Lightweight Charts, served by the API) and the table show every bar; a bar fed into
//! the event stream while the page is open appears without a reload; two symbols' daily bars with
//! adjusted prices, one charted (whole days whatever the form's times); errors, the server's and the page's own, are shown in the page;
//! the API's own monitor page draws its charts.

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
    assert!(count(&dom, "<canvas") >= 4, "the candle and volume panes and their axes are drawn: {dom}");
    assert!(dom.contains(r#"data-live="on""#), "a day Redis holds is on screen: the page follows it");
    let legend = element_text(&dom, "legend");
    assert!(legend.starts_with("2026-11-20 15:00 · O "), "the legend shows the last bar: {legend}");
    assert!(dom.contains(r#"<span class="ma20">MA20 "#), "and its moving averages: {dom}");
    let table = &dom[dom.find(r#"<table id="bars""#).unwrap()..];
    let table = &table[..table.find("</table>").unwrap()];
    assert_eq!(count(table, "<tr"), 1 + 144, "header and one row per bar");
    assert!(table.contains("<th>source</th>") && table.contains("<td>vendor</td>") && table.contains("<td>live</td>"));
    for row in table.split("<tr>").skip(2) {
        let cells: Vec<&str> = row.split("<td>").skip(1).map(|c| c.split("</td>").next().unwrap()).collect();
        for price in &cells[1..5] {
            let decimals = price.split('.').nth(1).map_or(0, str::len);
            assert!((2..=4).contains(&decimals), "prices show two to four decimals: {price} in {row}");
        }
        assert!(cells[6].contains(',') || cells[6].len() < 4, "amounts are grouped by thousands: {}", cells[6]);
    }
    assert!(
        table.contains("<td>2026-11-18 09:35</td>") && table.contains("<td>2026-11-20 14:55</td>"),
        "24-hour frames"
    );
    assert!(dom.contains(&format!(r#"href="{producer}""#)), "the producer monitor link is the setting");
    for shown in [&legend, table, dom.as_str().split("<form").nth(1).unwrap().split("</form>").next().unwrap()] {
        assert!(!shown.contains("AM") && !shown.contains("PM"), "no AM/PM in the form, legend or table");
    }
    assert!(dom.contains("TradingView Lightweight Charts"), "the licence's attribution notice is on the page");

    let daily =
        format!("{base}?symbol=600519.SH,000001.SZ&period=1d&adjust=qfq&start=2026-11-18T09:30&end=2026-11-20T15:00");
    let dom = tokio::task::spawn_blocking(move || chromium_dom(&daily, 8000)).await.unwrap().unwrap();
    assert_eq!(element_text(&dom, "error"), "", "{dom}");
    assert!(element_text(&dom, "sources").starts_with("6 bars · 2 from Redis · 4 from ClickHouse"), "{dom}");
    assert!(dom.contains(r#"data-candles="3""#), "the first symbol's three days, 09:30 in the form or not: {dom}");
    assert!(dom.contains("<option>600519.SH</option><option>000001.SZ</option>"), "a symbol to chart: {dom}");

    let bad_symbol = format!("{base}?symbol=AAPL&period=1&start=2026-11-20T09:30&end=2026-11-20T15:00");
    let dom = tokio::task::spawn_blocking(move || chromium_dom(&bad_symbol, 5000)).await.unwrap().unwrap();
    assert!(element_text(&dom, "error").contains("expected six digits"), "{dom}");
    let twelve_hour = format!("{base}?symbol=600519.SH&period=1&start=2026-11-20T9:30PM&end=2026-11-20T15:00");
    let dom = tokio::task::spawn_blocking(move || chromium_dom(&twelve_hour, 5000)).await.unwrap().unwrap();
    assert!(element_text(&dom, "error").contains("AM/PM is not accepted"), "{dom}");
}

#[tokio::test]
async fn a_bar_fed_into_the_stream_appears_on_the_open_page_without_a_reload() {
    let mut stack = ApiStores::start().await;
    stack.three_days("600519.SH").await;
    let api = stack.api(&[]).await;
    let url = format!(
        "http://127.0.0.1:{}/?symbol=600519.SH&period=5&start=2026-11-20T09:30:00&end=2026-11-20T15:00:00",
        api.http
    );
    // Published until the page has rendered: whenever its stream is open, it gets the bar.
    let late = r#"{"symbol":"600519.SH","frame":"2026-11-23T09:35:00+08:00","open":1700,"high":1712.5,"low":1699,"close":1710,"vol":4200,"amount":7150000}"#;
    let mut con = stack.con.clone();
    let feed = tokio::spawn(async move {
        loop {
            let _: () = redis::AsyncCommands::publish(&mut con, "bars:5:600519.SH", late).await.unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    });
    // Chromium's virtual time runs ahead of the wall clock once nothing but the open stream is
    // pending, so a loaded machine can end one page's budget before the next publish reaches it.
    // Each try is a fresh page load: a page that never shows the bar fails every one.
    let mut dom = String::new();
    for _ in 0..4 {
        let url = url.clone();
        dom = tokio::task::spawn_blocking(move || chromium_dom(&url, 8000)).await.unwrap().unwrap();
        if dom.contains(r#"data-candles="49""#) {
            break;
        }
    }
    feed.abort();
    assert_eq!(element_text(&dom, "error"), "", "{dom}");
    assert!(dom.contains(r#"data-candles="49""#), "48 bars queried and the one from the stream: {dom}");
    assert!(dom.contains(r#"data-last-frame="2026-11-23T09:35:00+08:00""#), "{dom}");
    assert!(dom.contains("<td>2026-11-23 09:35</td><td>1,700.00</td>"), "the table has it too, prices to the cent");
    assert!(element_text(&dom, "legend").contains("C 1710"), "the legend shows the new bar");

    let monitor = format!("http://127.0.0.1:{}/monitor/", api.http);
    let page = monitor.clone();
    let dom = tokio::task::spawn_blocking(move || chromium_dom(&page, 3000)).await.unwrap().unwrap();
    for chart in ["requests", "p50_ms", "client_errors"] {
        assert!(harness::page::chart_points(&dom, chart).is_some(), "the monitor's {chart} chart is drawn: {dom}");
    }
    let faults =
        tokio::task::spawn_blocking(move || harness::page::monitor_faults(&monitor, &dom)).await.unwrap().unwrap();
    assert!(faults.is_empty(), "{faults:#?}");
}
