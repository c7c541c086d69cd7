//! `GET /api/v1/snapshot` against a real Redis and ClickHouse: the whole market at one moment from
//! the day Redis holds (its symbol set, one script call), from ClickHouse for a past day, with
//! forming bars, a symbol list, a weekend, CSV (the head in headers), now with no bar yet (the
//! latest day with bars, said so), and bad input.

mod support;

use common::{Bar, Period};
use support::{day_bars, get_json, ApiStores, DAYS};

const SYMBOLS: [&str; 3] = ["000001.SZ", "300750.SZ", "600519.SH"];

/// Every symbol's 1-minute bars: the first two days in ClickHouse, the third in Redis.
async fn market(stack: &mut ApiStores) -> Vec<Vec<Vec<Bar>>> {
    let mut all = Vec::new();
    for symbol in SYMBOLS {
        let days: Vec<Vec<Bar>> = DAYS.iter().map(|d| day_bars(symbol, d, Period::M1, 0)).collect();
        stack.store_history(Period::M1, &days[..2].concat()).await;
        stack.store_same_day(Period::M1, &days[2]).await;
        all.push(days);
    }
    all
}

fn bar_list(answer: &serde_json::Value, name: &str) -> Vec<Bar> {
    let list = answer[name].as_array().unwrap_or_else(|| panic!("no {name} in {answer}"));
    list.iter()
        .map(|b| {
            let mut b = b.clone();
            b.as_object_mut().unwrap().remove("forming");
            serde_json::from_value(b).unwrap()
        })
        .collect()
}

#[tokio::test]
async fn every_symbol_of_the_day_at_one_moment_from_redis_or_clickhouse() {
    let mut stack = ApiStores::start().await;
    let market = market(&mut stack).await;
    let day = DAYS[2].parse().unwrap();
    let forming = Bar { frame: format!("{} 10:08:00", DAYS[2]).parse().unwrap(), ..market[2][2][37].clone() };
    let mut con = stack.con.clone();
    redis::cmd("HSET")
        .arg(stack.keys.forming_bars(day, Period::M1))
        .arg("600519.SH")
        .arg(serde_json::to_string(&forming).unwrap())
        .query_async::<()>(&mut con)
        .await
        .unwrap();
    let api = stack.api(&[("TICKBAR__CLOCK__START", &format!("{}T10:07:30", DAYS[2]))]).await;

    let (status, now) = get_json(&api, "/api/v1/snapshot?period=1&include_forming=true").await;
    assert_eq!(status, 200, "{now}");
    assert_eq!(
        (now["source"].as_str(), now["day"].as_str(), now["count"].as_u64()),
        (Some("redis"), Some(DAYS[2]), Some(3))
    );
    let latest: Vec<Bar> = market.iter().map(|days| days[2][36].clone()).collect();
    assert_eq!(bar_list(&now, "bars"), latest, "each symbol's 10:07 bar, in symbol order");
    assert_eq!(bar_list(&now, "forming"), [forming], "the forming bar of the one symbol that has one");
    assert_eq!(now["forming"][0]["forming"], true);

    let (_, earlier) = get_json(&api, &format!("/api/v1/snapshot?at={}T10:00:30", DAYS[2])).await;
    let at_ten: Vec<Bar> = market.iter().map(|days| days[2][29].clone()).collect();
    assert_eq!(bar_list(&earlier, "bars"), at_ten);
    assert!(earlier.get("forming").is_none(), "forming bars only when asked: {earlier}");

    let (_, past) = get_json(&api, &format!("/api/v1/snapshot?at={}T14:00", DAYS[1])).await;
    assert_eq!(past["source"], "clickhouse");
    let at_two: Vec<Bar> = market.iter().map(|days| days[1][179].clone()).collect();
    assert_eq!(bar_list(&past, "bars"), at_two, "the 14:00 bars of the day before, from ClickHouse");

    let (_, weekend) = get_json(&api, "/api/v1/snapshot?at=2026-11-22T12:00").await;
    assert_eq!((weekend["day"].as_str(), weekend["at"].as_str()), (Some(DAYS[2]), Some("2026-11-20T23:59:59+08:00")));
    let closes: Vec<Bar> = market.iter().map(|days| days[2][239].clone()).collect();
    assert_eq!(bar_list(&weekend, "bars"), closes, "a Sunday is Friday's close");
}

#[tokio::test]
async fn a_symbol_list_keeps_its_order_names_the_missing_and_csv_holds_the_same_rows() {
    let mut stack = ApiStores::start().await;
    let market = market(&mut stack).await;
    let api = stack.api(&[]).await;
    let at = format!("{}T11:30", DAYS[2]);
    let (status, some) =
        get_json(&api, &format!("/api/v1/snapshot?at={at}&symbols=600519.SH,000002.SZ,000001.SZ")).await;
    assert_eq!(status, 200, "{some}");
    assert_eq!(bar_list(&some, "bars"), [market[2][2][119].clone(), market[0][2][119].clone()]);
    assert_eq!(some["missing"], serde_json::json!(["000002.SZ"]));

    let missing = format!("/api/v1/snapshot?at={at}&format=csv&symbols=600519.SH,000002.SZ");
    let file = support::get_with(&api, &missing, &[]).await;
    assert_eq!(file.header("tickbar-missing"), Some("000002.SZ"), "a file keeps the missing list");
    assert_eq!(file.header("tickbar-snapshot-at"), Some("2026-11-20T11:30:00+08:00"));
    assert_eq!(file.header("tickbar-snapshot-latest"), Some("false"));

    let (status, now) = get_json(&api, "/api/v1/snapshot").await;
    assert_eq!(status, 200, "{now}");
    assert_eq!((now["latest"].as_bool(), now["day"].as_str()), (Some(true), Some(DAYS[2])), "{now}");
    let closes: Vec<Bar> = market.iter().map(|days| days[2][239].clone()).collect();
    assert_eq!(bar_list(&now, "bars"), closes, "today has no bar yet: the close of the latest day with bars");

    let (status, csv) = api.get(&format!("/api/v1/snapshot?at={at}&format=csv")).await;
    assert_eq!(status, 200);
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows[0], "symbol,frame,open,high,low,close,vol,amount,trades,vwap,source");
    assert_eq!(rows.len(), 4, "{csv}");
    assert!(rows[3].starts_with("600519.SH,2026-11-20T11:30:00+08:00,"), "{csv}");
    assert!(rows[3].ends_with(",live"), "the day Redis holds is live: {csv}");

    for (query, code) in [
        ("period=2", "bad_period"),
        ("at=noon", "bad_time"),
        ("symbols=AAPL", "bad_symbol"),
        ("start=2026-11-20", "unknown_parameter"),
    ] {
        let (status, answer) = get_json(&api, &format!("/api/v1/snapshot?{query}")).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (400, Some(code)), "{query}: {answer}");
    }
}
