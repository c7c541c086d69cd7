//! The consumer's monitor page as an operator sees it: rendered by headless Chromium after a drain
//! and a cleanup, with queue, row, dead-letter and cleanup figures (its live bar reconciled with
//! the vendor's) and the last hour's charts.

mod support;

use common::Period;
use harness::page::{element_text, thousands};
use support::{history, push_all, ConsumerStores};

#[tokio::test(flavor = "multi_thread")]
async fn the_monitor_page_renders_live_figures_in_a_browser() {
    let mut stack = ConsumerStores::start().await;
    let bars = history(5_000);
    push_all(&mut stack, &bars).await;
    stack.push(Period::M5, &["{broken".to_owned()]).await;
    let mut consumer = stack.consumer(&[("TICKBAR__HTTP__CHART_INTERVAL_MS", "100")]);
    stack.drained(&mut consumer, 5_000).await;
    let live = harness::seed::seed_bar("000001.SZ", "2023-01-03 09:31:00", 999_983);
    let key = stack.keys.day_bars("2023-01-03".parse().unwrap(), Period::M1, "000001.SZ".parse().unwrap());
    let _: () = redis::AsyncCommands::zadd(&mut stack.con, key, live, 1).await.unwrap();
    let (code, report, log) = stack.cleanup("2023-01-03", &[]);
    assert_eq!(code, 2, "the history stops mid-day, so the check finds missing bars: {report:#} {log}");

    let url = format!("http://127.0.0.1:{}/", consumer.http);
    let dom = tokio::task::spawn_blocking(move || harness::page::chromium_dom(&url, 3_000)).await.unwrap().unwrap();
    let figure = |id: &str| element_text(&dom, id);
    assert_eq!((figure("redis"), figure("clickhouse")), ("up".into(), "up".into()));
    let status = stack.status(&consumer).await;
    assert_eq!(status["drain"], "active", "{status}");
    let holder = status["drain_holder"].as_str().expect("the holder's token");
    assert!(holder.contains(&status["instance"].as_str().unwrap().to_owned()), "{status}");
    assert_eq!(figure("drain"), format!("active ({holder})"));
    assert_eq!(figure("items"), thousands(5_001));
    assert_eq!(figure("inserted"), format!("{} / 0", thousands(5_000)));
    assert_eq!(figure("dead_queue"), "1");
    assert_eq!(figure("queued_total"), "0");
    let per_day_1m = bars.iter().filter(|(p, _)| *p == Period::M1).count() as u64;
    assert!(
        dom.contains(&format!(
            "<td>1 min</td><td>0</td><td>0</td><td>{0}</td><td>{0}</td><td>0</td><td>0</td><td>{0}</td>",
            thousands(per_day_1m)
        )),
        "the 1-minute row shows what was drained and the rows in ClickHouse: {dom}"
    );
    assert!(dom.contains("<td>bad_json</td><td>1</td>"), "dead letters by reason are listed");
    assert!(
        figure("cleanup").contains("days 2023-01-03") && figure("cleanup").contains("integrity issues"),
        "{}",
        figure("cleanup")
    );
    assert!(dom.contains("<td>missing</td>"), "the integrity issues are listed");
    assert!(figure("reconciled").contains("2023-01-03 (1 bars)"), "{}", figure("reconciled"));
    assert!(
        figure("cleanup").contains("producers at") && !figure("cleanup").contains("undefined"),
        "the report's producer progress, as the report has it: {}",
        figure("cleanup")
    );
    assert!(
        dom.contains("<td>2023-01-03</td><td>1 min</td><td>000001.SZ</td>"),
        "the symbol whose live bar differs from the vendor's is listed: {}",
        figure("reconciled")
    );
    assert_eq!(figure("error"), "", "the page reached its status and chart endpoints");
    for chart in ["bars", "queued"] {
        let points = harness::page::chart_points(&dom, chart);
        assert!(points.is_some_and(|n| n >= 1), "the {chart} chart has points: {points:?}");
    }
    assert!(harness::page::chart_points(&dom, "insert_ms").is_some(), "the INSERT latency chart is drawn");
    assert_eq!(dom.matches("<canvas").count(), 3, "three charts drawn by uPlot");
    let url = format!("http://127.0.0.1:{}/", consumer.http);
    let faults = tokio::task::spawn_blocking(move || harness::page::monitor_faults(&url, &dom)).await.unwrap().unwrap();
    assert!(faults.is_empty(), "{faults:#?}");
    let (_, metrics) = consumer.get("/metrics").await;
    let inserts = metrics.lines().find_map(|l| l.strip_prefix("tickbar_consumer_insert_duration_seconds_count "));
    assert!(inserts.and_then(|n| n.parse::<u64>().ok()).is_some_and(|n| n >= 1), "INSERTs are timed: {metrics}");
}
