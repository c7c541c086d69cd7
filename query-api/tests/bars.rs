//! `GET /api/v1/bars` against a real Redis and ClickHouse: the three-day merge, yesterday still in
//! Redis, the forming bar, CSV, and a store that does not answer.

mod support;

use common::Period;
use support::{bars_of, day_bars, get_json, get_with, ApiStores, DAYS};

const SYMBOL: &str = "600519.SH";

fn path(period: Period, start: &str, end: &str) -> String {
    format!("/api/v1/bars?symbol={SYMBOL}&period={period}&start={start}&end={end}")
}

#[tokio::test]
async fn three_days_merge_in_order_with_the_same_day_from_redis() {
    let mut stack = ApiStores::start().await;
    let expected = stack.three_days(SYMBOL).await;
    let api = stack.api(&[]).await;
    for (period, bars) in expected {
        let (status, answer) = get_json(&api, &path(period, DAYS[0], DAYS[2])).await;
        assert_eq!(status, 200, "{answer}");
        let per_day = 240 / usize::from(period.minutes());
        assert_eq!(answer["count"], 3 * per_day, "{period}m");
        assert_eq!(answer["sources"], serde_json::json!({"redis": per_day, "clickhouse": 2 * per_day}), "{period}m");
        assert_eq!(bars_of(&answer), bars, "{period}m: every bar, in order, today's first frame from Redis");
        assert_eq!(answer["period"], period.minutes());
        assert_eq!(answer["start"], "2026-11-18T00:00:00+08:00");
        assert_eq!(answer["end"], "2026-11-20T23:59:59+08:00");
        assert_eq!(answer["bars"][0]["frame"].as_str().unwrap().len(), 25, "ISO-8601 with +08:00");
        let sources: Vec<&str> =
            answer["bars"].as_array().unwrap().iter().map(|b| b["source"].as_str().unwrap()).collect();
        assert_eq!(sources, [vec!["vendor"; 2 * per_day], vec!["live"; per_day]].concat(), "{period}m");
    }
    let (_, part) = get_json(&api, &path(Period::M1, "2026-11-19T14:58", "2026-11-20%2009:32:00")).await;
    let frames: Vec<&str> = part["bars"].as_array().unwrap().iter().map(|b| b["frame"].as_str().unwrap()).collect();
    assert_eq!(
        frames,
        [
            "2026-11-19T14:58:00+08:00",
            "2026-11-19T14:59:00+08:00",
            "2026-11-19T15:00:00+08:00",
            "2026-11-20T09:31:00+08:00",
            "2026-11-20T09:32:00+08:00"
        ]
    );
    assert_eq!(part["sources"], serde_json::json!({"redis": 2, "clickhouse": 3}));
}

#[tokio::test]
async fn yesterday_still_in_redis_is_served_from_redis() {
    let mut stack = ApiStores::start().await;
    let mut expected = Vec::new();
    for day in DAYS {
        stack.store_history(Period::M1, &day_bars(SYMBOL, day, Period::M1, 0)).await;
    }
    for day in &DAYS[1..] {
        let live = day_bars(SYMBOL, day, Period::M1, 3);
        stack.store_same_day(Period::M1, &live).await;
        expected.extend(live);
    }
    let api = stack.api(&[]).await;
    let (status, answer) = get_json(&api, &path(Period::M1, DAYS[0], DAYS[2])).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["sources"], serde_json::json!({"redis": 480, "clickhouse": 240}));
    let bars = bars_of(&answer);
    assert_eq!(bars[..240], day_bars(SYMBOL, DAYS[0], Period::M1, 0)[..]);
    assert_eq!(bars[240..], expected[..], "the two held days are Redis's bars");
}

#[tokio::test]
async fn the_forming_bar_is_added_only_when_asked_and_only_while_open() {
    let mut stack = ApiStores::start().await;
    let today = day_bars(SYMBOL, DAYS[2], Period::M1, 0);
    stack.store_same_day(Period::M1, &today[..30]).await;
    let mut con = stack.con.clone();
    let forming = serde_json::to_string(&today[30]).unwrap();
    let five_minute = day_bars(SYMBOL, DAYS[2], Period::M5, 0);
    let stale = serde_json::to_string(&five_minute[0]).unwrap();
    stack.store_same_day(Period::M5, &five_minute[..1]).await;
    let day = DAYS[2].parse().unwrap();
    redis::pipe()
        .hset(stack.keys.forming_bars(day, Period::M1), SYMBOL, forming)
        .hset(stack.keys.forming_bars(day, Period::M5), SYMBOL, stale)
        .query_async::<()>(&mut con)
        .await
        .unwrap();
    let api = stack.api(&[]).await;

    let (_, plain) = get_json(&api, &path(Period::M1, DAYS[2], DAYS[2])).await;
    assert_eq!(plain["count"], 30);
    let (_, with) = get_json(&api, &format!("{}&include_forming=true", path(Period::M1, DAYS[2], DAYS[2]))).await;
    assert_eq!((with["count"].as_u64(), with["sources"]["redis"].as_u64()), (Some(31), Some(31)));
    assert_eq!(with["bars"][30]["forming"], true);
    assert!(with["bars"][29].get("forming").is_none());
    assert_eq!(bars_of(&with), today[..31]);
    let (_, five) = get_json(&api, &format!("{}&include_forming=true", path(Period::M5, DAYS[2], DAYS[2]))).await;
    assert_eq!(five["count"], 1, "a forming bar whose frame has closed is stale: {five}");
    assert!(five["bars"][0].get("forming").is_none());
}

#[tokio::test]
async fn csv_holds_the_same_bars_under_a_header() {
    let mut stack = ApiStores::start().await;
    let expected = stack.three_days(SYMBOL).await;
    let api = stack.api(&[]).await;
    let response = get_with(&api, &format!("{}&format=csv", path(Period::M5, DAYS[0], DAYS[2])), &[]).await;
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("text/csv; charset=utf-8"));
    let mut lines = response.body.lines();
    assert_eq!(lines.next(), Some("symbol,frame,open,high,low,close,vol,amount,trades,vwap,source"));
    let rows: Vec<Vec<String>> = lines.map(|l| l.split(',').map(str::to_owned).collect()).collect();
    let bars = &expected.iter().find(|(p, _)| *p == Period::M5).unwrap().1;
    assert_eq!(rows.len(), bars.len());
    for (row, bar) in rows.iter().zip(bars) {
        let want = [
            bar.symbol.to_string(),
            bar.frame.to_iso8601(),
            bar.open.to_string(),
            bar.high.to_string(),
            bar.low.to_string(),
            bar.close.to_string(),
            bar.vol.to_string(),
            bar.amount.to_string(),
            bar.trades.map(|n| n.to_string()).unwrap_or_default(),
            bar.vwap().map(|p| p.to_string()).unwrap_or_default(),
            if bar.frame.date().to_string() == DAYS[2] { "live" } else { "vendor" }.to_owned(),
        ];
        assert_eq!(row[..], want[..], "history is the vendor's, the day Redis holds live");
    }
}

#[tokio::test]
async fn a_store_that_does_not_answer_is_a_503_naming_it_and_the_other_store_still_serves() {
    let mut stack = ApiStores::start().await;
    stack.three_days(SYMBOL).await;
    let api = stack.api(&[]).await;
    assert_eq!(get_json(&api, &path(Period::M1, DAYS[0], DAYS[2])).await.0, 200);

    stack.clickhouse.stop();
    let (status, cached) = get_json(&api, &path(Period::M1, DAYS[0], DAYS[2])).await;
    assert_eq!((status, cached["count"].as_u64()), (200, Some(720)), "history asked before is held: {cached}");
    let (status, answer) = get_json(&api, &path(Period::M5, DAYS[0], DAYS[2])).await;
    assert_eq!(status, 503, "{answer}");
    assert_eq!(answer["error"]["code"], "clickhouse_unavailable");
    assert!(answer["error"]["message"].as_str().unwrap().starts_with("clickhouse is unavailable"), "{answer}");
    let (status, today) = get_json(&api, &path(Period::M1, DAYS[2], DAYS[2])).await;
    assert_eq!((status, today["count"].as_u64()), (200, Some(240)), "today needs only Redis: {today}");
    assert_eq!(api.get("/readyz").await.0, 503);

    stack.clickhouse.launch().await.unwrap();
    stack.redis.stop();
    let (status, answer) = get_json(&api, &path(Period::M1, DAYS[2], DAYS[2])).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (503, Some("redis_unavailable")), "{answer}");
    let (status, history) = get_json(&api, &path(Period::M1, DAYS[0], DAYS[1])).await;
    assert_eq!((status, history["count"].as_u64()), (200, Some(480)), "history needs only ClickHouse: {history}");
    assert_eq!(history["sources"]["clickhouse"], 480);
}

#[tokio::test]
async fn many_symbols_answer_keyed_by_symbol_and_as_one_long_csv() {
    let mut stack = ApiStores::start().await;
    let moutai = stack.three_days(SYMBOL).await;
    let ping_an = stack.three_days("000001.SZ").await;
    let api = stack.api(&[]).await;
    let query = format!("symbols=000001.SZ,{SYMBOL},000002.SZ&period=5&start={}&end={}", DAYS[0], DAYS[2]);
    let (status, answer) = get_json(&api, &format!("/api/v1/bars?{query}")).await;
    assert_eq!(status, 200, "{answer}");
    let five = |expected: &[(Period, Vec<common::Bar>)]| expected[1].1.clone();
    assert_eq!(bars_of(&answer["symbols"][SYMBOL]), five(&moutai));
    assert_eq!(bars_of(&answer["symbols"]["000001.SZ"]), five(&ping_an));
    assert_eq!(
        answer["symbols"]["000002.SZ"],
        serde_json::json!({"count": 0, "sources": {"redis": 0, "clickhouse": 0}, "bars": []})
    );
    assert_eq!((answer["count"].as_u64(), answer["period"].as_u64()), (Some(2 * 144), Some(5)));
    assert_eq!(answer["sources"], serde_json::json!({"redis": 2 * 48, "clickhouse": 2 * 96}));
    assert_eq!(answer["unknown"], serde_json::json!(["000002.SZ"]), "no store ever held it: said, not silent");
    let known =
        get_with(&api, &format!("/api/v1/bars?symbol={SYMBOL}&period=5&start=2026-11-23&end=2026-11-23"), &[]).await;
    assert_eq!(
        (known.status, known.header("tickbar-unknown")),
        (200, None),
        "a listed symbol's empty day is only empty"
    );
    let body: serde_json::Value = serde_json::from_str(&known.body).unwrap();
    assert!(body.get("unknown").is_none(), "{body}");

    let file = get_with(&api, &format!("/api/v1/bars?{query}&format=csv"), &[]).await;
    assert_eq!(file.header("tickbar-unknown"), Some("000002.SZ"), "a file names it in a header");
    let (status, csv) = (file.status, file.body);
    assert_eq!(status, 200);
    let symbols: Vec<&str> = csv.lines().skip(1).map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(symbols.len(), 2 * 144);
    assert!(
        symbols[..144].iter().all(|s| *s == "000001.SZ") && symbols[144..].iter().all(|s| *s == SYMBOL),
        "in the order asked"
    );
}

#[tokio::test]
async fn the_last_n_bars_walk_back_from_redis_into_clickhouse() {
    let mut stack = ApiStores::start().await;
    let expected = stack.three_days(SYMBOL).await;
    let api = stack.api(&[]).await;
    let one_minute = &expected[0].1;
    let (status, answer) = get_json(&api, &format!("/api/v1/bars?symbol={SYMBOL}&count=300&end={}", DAYS[2])).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(bars_of(&answer), one_minute[one_minute.len() - 300..], "240 from Redis, the 60 before from ClickHouse");
    assert_eq!(answer["sources"], serde_json::json!({"redis": 240, "clickhouse": 60}));
    assert_eq!(answer["start"], "2026-11-19T14:01:00+08:00", "the first bar served");

    let (_, before) = get_json(&api, &format!("/api/v1/bars?symbol={SYMBOL}&count=3&end=2026-11-20T09:32:00")).await;
    assert_eq!(
        bars_of(&before),
        one_minute[479..482],
        "15:00 of the day before, then today's first two, Redis winning 09:31"
    );
    let (_, all) = get_json(&api, &format!("/api/v1/bars?symbols={SYMBOL},000001.SZ&count=1000&end={}", DAYS[2])).await;
    assert_eq!(bars_of(&all["symbols"][SYMBOL]), one_minute[..], "fewer bars than asked: all of them");
    assert_eq!(all["symbols"]["000001.SZ"]["count"], 0);
}
