//! Adjusted prices end to end: factor files through `producer import-factors`, the factor queue
//! drained by the consumer into `adj_factors` (deduplicated, a bad item dead-lettered), and the query
//! API's forward and backward prices. The worked example: 600000.SH's cumulative factors as Baostock
//! publishes them (ex-dates 2015-06-23, 2016-06-23, 2017-05-25: 6.295967, 7.128788, 9.385732),
//! bars on each side of the 2017-05-25 ex-date.

use common::{Bar, Period, Price};
use harness::stack::{StackOptions, WholeStack};
use redis::AsyncCommands;
use rust_decimal::{Decimal, RoundingStrategy};

const TUSHARE: &str = "ts_code,trade_date,adj_factor
600000.SH,20160622,6.295967
600000.SH,20160623,7.128788
600000.SH,20170524,7.128788
600000.SH,20170525,9.385732
600000.SH,20170526,9.385732
600000.SH,20171301,9.9
";
const XTQUANT: &str = "stock_code,time,interest,dr
000001.SZ,20160616,0.153,1.2
000001.SZ,20170712,0.158,1.1
";
const DAYS: [&str; 2] = ["2017-05-24", "2017-05-25"];

fn cents(price: Price, ratio: Decimal) -> Price {
    let scaled = (price.to_decimal() * ratio).round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    Price::from_decimal(scaled).unwrap()
}

fn scaled(bars: &[Bar], ratio: impl Fn(&Bar) -> Decimal) -> Vec<Bar> {
    bars.iter()
        .map(|b| {
            let r = ratio(b);
            Bar {
                open: cents(b.open, r),
                high: cents(b.high, r),
                low: cents(b.low, r),
                close: cents(b.close, r),
                ..b.clone()
            }
        })
        .collect()
}

async fn bars(stack: &WholeStack, query: &str) -> (u16, serde_json::Value) {
    let (status, body) =
        stack.api.get(&format!("/api/v1/bars?symbol=600000.SH&start={}&end={}&{query}", DAYS[0], DAYS[1])).await;
    (status, serde_json::from_str(&body).unwrap_or_else(|e| panic!("{query}: {e}: {body}")))
}

fn of(answer: &serde_json::Value) -> Vec<Bar> {
    serde_json::from_value(answer["bars"].clone()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn factor_files_reach_clickhouse_once_and_price_the_bars_forward_and_backward() {
    let producer = harness::workspace_binary("producer");
    let bins = producer.parent().unwrap();
    let stack = WholeStack::start(StackOptions::plain(bins)).await.unwrap();
    let minute: Vec<Bar> =
        DAYS.iter().flat_map(|d| harness::seed::day_bars("600000.SH", d.parse().unwrap(), Period::M1, 3)).collect();
    let hour: Vec<Bar> =
        DAYS.iter().flat_map(|d| harness::seed::day_bars("600000.SH", d.parse().unwrap(), Period::M60, 3)).collect();
    let client = stack.clickhouse[0].client();
    harness::writers::write_history(&client, "tickbar", Period::M1, &minute).await.unwrap();
    harness::writers::write_history(&client, "tickbar", Period::M60, &hour).await.unwrap();

    let (tushare, xtquant) = (stack.dir().join("adj_factor.csv"), stack.dir().join("divid_factors.csv"));
    std::fs::write(&tushare, TUSHARE).unwrap();
    std::fs::write(&xtquant, XTQUANT).unwrap();
    let report = |file: &std::path::Path| -> serde_json::Value {
        let out = stack.run("producer", &["import-factors", "--file", &file.display().to_string()]).unwrap();
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let first = report(&tushare);
    assert_eq!((first["read"].as_u64(), first["written"].as_u64()), (Some(6), Some(3)), "the ex-dates only: {first}");
    assert_eq!(first["refused"]["unreadable"], 1, "{first}");
    assert_eq!(report(&xtquant)["written"], 2);
    report(&tushare);
    let mut con = stack.redis.connect().await.unwrap();
    let keys = runtime::keys::Keys::default();
    let _: () =
        con.lpush(keys.factor_queue(), r#"{"symbol":"600000.SH","ex_date":"2017-05-25","factor":-1}"#).await.unwrap();

    let sql = "SELECT toString(symbol), toString(ex_date), toString(factor) FROM tickbar.adj_factors FINAL ORDER BY symbol, ex_date";
    let expected = [
        ("000001.SZ", "2016-06-16", "1.20000000"),
        ("000001.SZ", "2017-07-12", "1.32000000"),
        ("600000.SH", "2016-06-22", "6.29596700"),
        ("600000.SH", "2016-06-23", "7.12878800"),
        ("600000.SH", "2017-05-25", "9.38573200"),
    ];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let rows: Vec<(String, String, String)> = client.query(sql).fetch_all().await.unwrap_or_default();
        let dead: Vec<String> = con.lrange(keys.history_dead(), 0, -1).await.unwrap();
        let queued: u64 = con.llen(keys.factor_queue()).await.unwrap();
        let rows: Vec<(&str, &str, &str)> = rows.iter().map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str())).collect();
        if rows == expected && queued == 0 && dead.len() == 1 {
            assert!(dead[0].contains("bad_factor") && dead[0].contains("positive"), "{dead:?}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "factors {rows:?}, queued {queued}, dead {dead:?}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }

    let before = |b: &Bar| b.frame.date() < DAYS[1].parse().unwrap();
    let (f16, f17) = (Decimal::new(7_128_788, 6), Decimal::new(9_385_732, 6));
    let (status, hfq) = bars(&stack, "adjust=hfq").await;
    assert_eq!(status, 200, "{hfq}");
    assert_eq!(of(&hfq), scaled(&minute, |b| if before(b) { f16 } else { f17 }), "backward: price x f(day)");
    let (_, qfq) = bars(&stack, "adjust=forward").await;
    assert_eq!(
        of(&qfq),
        scaled(&minute, |b| if before(b) { f16 / f17 } else { Decimal::ONE }),
        "forward to the latest"
    );
    let first_open = of(&qfq)[0].open;
    assert_eq!(
        (minute[0].open, first_open),
        (Price::from_units(102_100), Price::from_units(77_500)),
        "10.21 x 7.128788 / 9.385732 = 7.7548… -> 7.75"
    );
    let (_, to_2016) = bars(&stack, "adjust=qfq&adjust_ref=2017-05-24").await;
    assert_eq!(of(&to_2016), scaled(&minute, |b| if before(b) { Decimal::ONE } else { f17 / f16 }));
    let (_, daily) = bars(&stack, "adjust=qfq&period=1d").await;
    let day_one = &of(&daily)[0];
    let high = hour.iter().filter(|b| before(b)).map(|b| b.high).max().unwrap();
    assert_eq!(day_one.high, cents(high, f16 / f17), "a daily bar folds the adjusted hourly bars");
    assert_eq!(day_one.vol, hour.iter().filter(|b| before(b)).map(|b| b.vol).sum::<u64>(), "volume as traded");
    let (_, plain) = bars(&stack, "adjust=none").await;
    assert_eq!(of(&plain), minute);

    for (query, says) in [("adjust=front", "accepted are none"), ("adjust=hfq&adjust_ref=2017-05-24", "adjust=forward")]
    {
        let (status, answer) = bars(&stack, query).await;
        assert_eq!(status, 400, "{query}: {answer}");
        assert!(answer["error"]["message"].as_str().unwrap().contains(says), "{query}: {answer}");
    }
    stack.stop();
}
