//! Bars of lengths the stores do not hold (any-minute, daily, weekly), built at query time from the
//! real 600519.SH days of 2023-02-01..03: two in ClickHouse, the third in Redis, as live.

mod support;

use common::{Amount, Bar, Frame, Ohlcv, Period};
use harness::fixtures;
use harness::seed::aggregate;
use rust_decimal::Decimal;
use support::{bars_of, get_json, ApiStores};

const SYMBOL: &str = "600519.SH";
const DAYS: [&str; 3] = ["2023-02-01", "2023-02-02", "2023-02-03"];
/// The exchange's day totals of 600519.SH (shares, yuan), see the fixtures' SOURCES.md.
const TOTALS: [(u64, &str); 3] =
    [(3_397_389, "6244678924.61"), (2_975_886, "5465509509.98"), (3_494_490, "6324635031.35")];

/// The real days' bars of every stored period: the first two in ClickHouse, the last in Redis.
/// Returns the 1-minute bars of the three days.
async fn real_days(stack: &mut ApiStores) -> Vec<Bar> {
    let mut minutes = Vec::new();
    for (i, day) in DAYS.iter().enumerate() {
        let ticks = fixtures::trades(day);
        for period in Period::DEFAULTS {
            let bars = aggregate(&ticks, SYMBOL, period);
            if i < 2 {
                stack.store_history(period, &bars).await;
            } else {
                stack.store_same_day(period, &bars).await;
            }
            if period == Period::M1 {
                minutes.extend(bars);
            }
        }
    }
    minutes
}

/// `minutes`-long bars folded from 1-minute ones by the label arithmetic of docs/api.md, written
/// out here apart from the session module: a 1-minute bar labelled `hh:mm` (end) falls in window
/// `(minute of its session - 1) / minutes`, labelled with that window's end.
fn folded(one_minute: &[Bar], minutes: u32) -> Vec<Bar> {
    let mut out: Vec<Bar> = Vec::new();
    for bar in one_minute {
        let t = bar.frame.local();
        let clock = t.format("%H").to_string().parse::<u32>().unwrap() * 60
            + t.format("%M").to_string().parse::<u32>().unwrap();
        let session = if clock <= 11 * 60 + 30 { 9 * 60 + 30 } else { 13 * 60 };
        let end = session + ((clock - session - 1) / minutes + 1) * minutes;
        let label = format!("{} {:02}:{:02}:00", t.date(), end / 60, end % 60);
        let frame: Frame = label.parse().unwrap();
        match out.last_mut() {
            Some(last) if last.frame == frame => {
                let mut v = last.ohlcv();
                v.fold(&bar.ohlcv());
                *last = Bar::new(last.symbol, frame, &v);
            }
            _ => out.push(Bar { frame, ..bar.clone() }),
        }
    }
    out
}

/// `amount` rounded to the yuan as Tushare rounds it (half to even).
fn to_the_yuan(amount: Amount) -> Amount {
    Amount::from_decimal(Decimal::from_i128_with_scale(amount.units(), 4).round()).unwrap()
}

#[tokio::test]
async fn daily_bars_of_the_real_days_equal_the_exchange_totals_and_tushare() {
    let mut stack = ApiStores::start().await;
    real_days(&mut stack).await;
    let api = stack.api(&[]).await;
    let (status, answer) =
        get_json(&api, &format!("/api/v1/bars?symbol={SYMBOL}&period=1d&start={}&end={}", DAYS[0], DAYS[2])).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["period"], "1d");
    assert_eq!(answer["sources"], serde_json::json!({"redis": 1, "clickhouse": 2}));
    let daily = bars_of(&answer);
    assert_eq!(daily.len(), 3);
    for ((bar, day), (vol, amount)) in daily.iter().zip(DAYS).zip(TOTALS) {
        assert_eq!(bar.frame.to_string(), format!("{day} 00:00:00"));
        assert_eq!((bar.vol, bar.amount), (vol, amount.parse::<Amount>().unwrap()), "{day}: the exchange's totals");
        let tushare = fixtures::tushare_daily(day);
        assert_eq!(
            Ohlcv { amount: to_the_yuan(bar.amount), trades: None, ..bar.ohlcv() },
            tushare,
            "{day}: Tushare's bar, amount to the yuan"
        );
    }

    let (_, last) = get_json(&api, &format!("/api/v1/bars?symbol={SYMBOL}&period=1d&count=2&end={}", DAYS[2])).await;
    assert_eq!(bars_of(&last), daily[1..], "the last two days");

    let (_, week) =
        get_json(&api, &format!("/api/v1/bars?symbol={SYMBOL}&period=1w&start=2023-01-30&end=2023-02-05")).await;
    let week = bars_of(&week);
    assert_eq!(week.len(), 1, "one week, labelled with its last trading day");
    assert_eq!(week[0].frame.to_string(), "2023-02-03 00:00:00");
    let whole = daily.iter().skip(1).fold(daily[0].ohlcv(), |mut v: Ohlcv, d| {
        v.fold(&d.ohlcv());
        v
    });
    assert_eq!(week[0].ohlcv(), whole);

    let (_, month) =
        get_json(&api, &format!("/api/v1/bars?symbol={SYMBOL}&period=1M&start={}&end={}", DAYS[0], DAYS[2])).await;
    let month = bars_of(&month);
    assert_eq!(month.len(), 1, "February so far, though its last trading day (the 28th) has no data yet");
    assert_eq!(month[0].frame.to_string(), "2023-02-03 00:00:00", "dated with its last day of data, never later");
    assert_eq!(month[0].ohlcv(), whole);
    let (_, last) = get_json(&api, &format!("/api/v1/bars?symbol={SYMBOL}&period=1M&count=1&end={}", DAYS[2])).await;
    assert_eq!(bars_of(&last), month, "count walks back to the same bar");
}

#[tokio::test]
async fn any_minute_bars_are_folds_of_the_one_minute_bars_across_both_stores() {
    let mut stack = ApiStores::start().await;
    let one_minute = real_days(&mut stack).await;
    let api = stack.api(&[]).await;
    for minutes in [2u32, 10, 40, 120] {
        let path = format!("/api/v1/bars?symbol={SYMBOL}&period={minutes}&start={}&end={}", DAYS[0], DAYS[2]);
        let (status, answer) = get_json(&api, &path).await;
        assert_eq!(status, 200, "{answer}");
        let bars = bars_of(&answer);
        assert_eq!(bars.len(), 3 * 240 / minutes as usize, "{minutes}m");
        assert_eq!(bars, folded(&one_minute, minutes), "{minutes}m");
    }
    let inside = format!("/api/v1/bars?symbol={SYMBOL}&period=40&start={}T10:00&end={}T14:00", DAYS[1], DAYS[1]);
    let frames: Vec<String> = bars_of(&get_json(&api, &inside).await.1).iter().map(|b| b.frame.to_string()).collect();
    assert_eq!(frames, ["2023-02-02 10:10:00", "2023-02-02 10:50:00", "2023-02-02 11:30:00", "2023-02-02 13:40:00"]);

    let (status, refused) = get_json(&api, &format!("/api/v1/bars?symbol={SYMBOL}&period=7&count=3")).await;
    assert_eq!((status, refused["error"]["code"].as_str()), (400, Some("bad_period")), "{refused}");
}

#[tokio::test]
async fn a_length_no_stored_period_divides_is_a_400_naming_it() {
    let stack = ApiStores::start().await;
    let api = stack.api(&[("TICKBAR__BARS__PERIODS", "5,15")]).await;
    let (status, answer) = get_json(&api, &format!("/api/v1/bars?symbol={SYMBOL}&period=3&count=3")).await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer["error"]["message"].as_str().unwrap().contains("no stored period divides it"), "{answer}");
    let (status, _) = get_json(&api, &format!("/api/v1/bars?symbol={SYMBOL}&period=30&count=3")).await;
    assert_eq!(status, 200, "30 is built from the stored 15");
}

#[tokio::test]
async fn a_day_held_in_redis_gives_its_forming_daily_bar() {
    let mut stack = ApiStores::start().await;
    let day = DAYS[2];
    let now_ms = common::time::parse_datetime(&format!("{day}T10:07:30")).unwrap();
    let ticks: Vec<_> = fixtures::trades(day).into_iter().filter(|t| t.time_ms < now_ms).collect();
    let so_far = ticks.iter().skip(1).fold(
        Ohlcv { vol: ticks[0].volume, amount: ticks[0].amount, ..Ohlcv::flat(ticks[0].price) },
        |mut v, t| {
            v.fold(&Ohlcv { vol: t.volume, amount: t.amount, ..Ohlcv::flat(t.price) });
            v
        },
    );
    for period in [Period::M1, Period::M5, Period::M15, Period::M30] {
        stack.store_same_day(period, &aggregate(&ticks, SYMBOL, period)).await;
    }
    let hour = Bar::new(SYMBOL.parse().unwrap(), format!("{day} 10:30:00").parse().unwrap(), &so_far);
    let mut con = stack.con.clone();
    redis::cmd("HSET")
        .arg(stack.keys.forming_bars(day.parse().unwrap(), Period::M60))
        .arg(SYMBOL)
        .arg(serde_json::to_string(&hour).unwrap())
        .query_async::<()>(&mut con)
        .await
        .unwrap();
    let api = stack.api(&[("TICKBAR__CLOCK__START", &format!("{day}T10:07:30"))]).await;

    let (status, answer) =
        get_json(&api, &format!("/api/v1/bars?symbol={SYMBOL}&period=1d&count=1&include_forming=true")).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["bars"][0]["forming"], true, "{answer}");
    assert_eq!(bars_of(&answer)[0].ohlcv(), so_far, "the day so far");
    let (_, two_hours) =
        get_json(&api, &format!("/api/v1/bars?symbol={SYMBOL}&period=120&count=1&include_forming=true")).await;
    assert_eq!(bars_of(&two_hours)[0].frame.to_string(), format!("{day} 11:30:00"));
    let (_, closed_only) = get_json(&api, &format!("/api/v1/bars?symbol={SYMBOL}&period=1d&count=1")).await;
    assert_eq!(closed_only["count"], 0, "the day has not closed: {closed_only}");
    let (_, ten) = get_json(&api, &format!("/api/v1/bars?symbol={SYMBOL}&period=10&count=4")).await;
    let frames: Vec<String> = bars_of(&ten).iter().map(|b| b.frame.to_string()).collect();
    assert_eq!(
        frames,
        ["09:40", "09:50", "10:00"].map(|t| format!("{day} {t}:00")),
        "closed 10-minute bars from 1-minute ones"
    );
}

/// Writes 贵州茅台's entry of the instrument list, as `producer import-instruments` does.
async fn list_moutai(stack: &ApiStores) {
    let listed =
        common::instrument::Instrument::new(SYMBOL.parse().unwrap(), "贵州茅台", "2001-08-27".parse().unwrap(), None);
    let row = runtime::clickhouse::InstrumentRow::new(&listed, 1).unwrap();
    let client = stack.clickhouse.client().with_database(support::DATABASE);
    let timeout = std::time::Duration::from_secs(30);
    runtime::clickhouse::insert(&client, runtime::keys::INSTRUMENTS_TABLE, &[row], timeout).await.unwrap();
}

fn price_of(value: &serde_json::Value) -> Option<common::Price> {
    value.as_f64().map(|_| value.to_string().parse().unwrap())
}

#[tokio::test]
async fn daily_bars_carry_the_previous_close_and_with_the_instrument_list_their_limits() {
    let mut stack = ApiStores::start().await;
    real_days(&mut stack).await;
    let api = stack.api(&[]).await;
    let path = format!("/api/v1/bars?symbol={SYMBOL}&period=1d&start={}&end={}", DAYS[0], DAYS[2]);
    let (_, unlisted) = get_json(&api, &path).await;
    let bars = bars_of(&unlisted);
    let first = &unlisted["bars"][0];
    assert!(first.get("pre_close").is_none() && first["paused"] == false, "nothing before the first day: {first}");
    for i in 1..3 {
        let bar = &unlisted["bars"][i];
        assert_eq!(price_of(&bar["pre_close"]), Some(bars[i - 1].close), "{bar}");
        assert!(bar.get("high_limit").is_none(), "no instrument list, no limits: {bar}");
    }
    let (_, from_second) =
        get_json(&api, &format!("/api/v1/bars?symbol={SYMBOL}&period=1d&start={}&end={}", DAYS[1], DAYS[2])).await;
    assert_eq!(price_of(&from_second["bars"][0]["pre_close"]), Some(bars[0].close), "read from before the span");

    list_moutai(&stack).await;
    let (_, listed) = get_json(&api, &path).await;
    for i in 1..3 {
        let bar = &listed["bars"][i];
        let (high, low) = common::instrument::limits(bars[i - 1].close, 10);
        assert_eq!((price_of(&bar["high_limit"]), price_of(&bar["low_limit"])), (Some(high), Some(low)), "{bar}");
        assert!(bars[i].high <= high && bars[i].low >= low, "the day traded inside its limits");
    }
    let csv = api.get(&format!("{path}&format=csv")).await.1;
    let header = csv.lines().next().unwrap();
    assert_eq!(
        header,
        "symbol,frame,open,high,low,close,vol,amount,trades,vwap,pre_close,paused,high_limit,low_limit,source"
    );
    let (high, low) = common::instrument::limits(bars[0].close, 10);
    let second = csv.lines().nth(2).unwrap();
    assert!(second.ends_with(&format!(",{},false,{high},{low},vendor", bars[0].close)), "{second}");

    let (status, all) = get_json(&api, "/api/v1/instruments").await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(all["count"], 1);
    assert_eq!(
        all["instruments"][0],
        serde_json::json!({"symbol": SYMBOL, "name": "贵州茅台", "board": "main",
        "list_date": "2001-08-27", "delist_date": null, "st": false})
    );
    let (_, none) = get_json(&api, "/api/v1/instruments?symbols=000001.SZ").await;
    assert_eq!(none["count"], 0);
    let (status, bad) = get_json(&api, "/api/v1/instruments?symbols=600519").await;
    assert_eq!(status, 400, "{bad}");
}

#[tokio::test]
async fn a_day_without_bars_between_two_traded_days_is_a_paused_daily_bar() {
    let mut stack = ApiStores::start().await;
    for day in [DAYS[0], DAYS[2]] {
        stack.store_history(Period::M60, &aggregate(&fixtures::trades(day), SYMBOL, Period::M60)).await;
    }
    let api = stack.api(&[]).await;
    let (_, answer) =
        get_json(&api, &format!("/api/v1/bars?symbol={SYMBOL}&period=1d&start={}&end={}", DAYS[0], DAYS[2])).await;
    let bars = bars_of(&answer);
    assert_eq!(bars.len(), 3, "{answer}");
    let paused = &answer["bars"][1];
    assert_eq!(paused["paused"], true, "{paused}");
    assert_eq!((bars[1].frame.to_string(), bars[1].vol), (format!("{} 00:00:00", DAYS[1]), 0));
    assert_eq!(bars[1].ohlcv(), Ohlcv::flat(bars[0].close), "flat at the close before");
    assert_eq!(price_of(&paused["pre_close"]), Some(bars[0].close));
    assert_eq!(price_of(&answer["bars"][2]["pre_close"]), Some(bars[0].close), "the close before the suspension");
    assert_eq!(answer["bars"][2]["paused"], false);
}

#[tokio::test]
async fn a_symbol_without_a_trade_today_is_paused_only_once_the_session_has_closed() {
    let mut stack = ApiStores::start().await;
    for day in [DAYS[0], DAYS[1]] {
        stack.store_history(Period::M60, &aggregate(&fixtures::trades(day), SYMBOL, Period::M60)).await;
    }
    let other: Vec<Bar> = aggregate(&fixtures::trades(DAYS[2]), SYMBOL, Period::M60)
        .into_iter()
        .map(|b| Bar { symbol: "000333.SZ".parse().unwrap(), ..b })
        .collect();
    stack.store_same_day(Period::M60, &other).await;
    let path = format!("/api/v1/bars?symbol={SYMBOL}&period=1d&start={}&end={}", DAYS[0], DAYS[2]);
    for (at, days) in [("10:00:00", 2), ("15:30:00", 3)] {
        let api = stack.api(&[("TICKBAR__CLOCK__START", &format!("{}T{at}", DAYS[2]))]).await;
        let (_, answer) = get_json(&api, &path).await;
        assert_eq!(bars_of(&answer).len(), days, "at {at} the day held in Redis: {answer}");
        let last = answer["bars"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["paused"], days == 3, "only a closed day without a trade is paused: {last}");
    }
}
