//! `producer import-history` with a month of real vendor 1-minute bars (000001.SZ, January 2018,
//! DolphinDB candle layout: end-labelled, 240 a day, volume in shares) and a QMT-style 241 file.

mod support;

use common::{Bar, Period};
use harness::fixtures;
use redis::AsyncCommands;
use runtime::keys::Keys;
use support::*;

fn import(stack: &ProducerRedis, file: &std::path::Path, args: &[&str]) -> serde_json::Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_producer"))
        .args(["import-history", "--file"])
        .arg(file)
        .args(args)
        .env("TICKBAR__REDIS__URL", stack.redis.url())
        .env("TICKBAR__REDIS__KEY_PREFIX", "h:")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_real_month_of_vendor_bars_is_queued_whole_and_a_241_file_is_folded_into_240() {
    let mut stack = ProducerRedis::start().await;
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("candle_201801.csv");
    let rows: Vec<String> = fixtures::rows("000001.SZ-201801-candles.csv.gz").iter().map(|r| r.join(",")).collect();
    let header = "symbol,exchange,cycle,tradingDay,date,time,open,high,low,close,volume,turnover,unixTime";
    std::fs::write(&real, format!("{header}\n{}\n", rows.join("\n"))).unwrap();
    let report = import(&stack, &real, &["--period", "1"]);
    assert_eq!(report["read"], 21 * 240);
    assert_eq!(report["written"], 21 * 240);
    let queue = Keys::new("h:").history_queue(Period::M1);
    let oldest: Vec<String> = stack.con.lrange(&queue, -1, -1).await.unwrap();
    let bar: Bar = serde_json::from_str(&oldest[0]).unwrap();
    assert_eq!(bar.frame, "2018-01-02 09:31:00".parse().unwrap());
    assert_eq!((bar.open, bar.vol, bar.amount), ("13.35".parse().unwrap(), 2_003_635, "26785576.72".parse().unwrap()));

    let file = dir.path().join("qmt241.csv");
    std::fs::write(
        &file,
        "symbol,datetime,open,high,low,close,volume,amount\n\
         600519.SH,2023-02-01 09:30:00,1854.98,1854.98,1854.98,1854.98,10,1854980\n\
         600519.SH,2023-02-01 09:31:00,1855.00,1859.00,1850.00,1851.00,20,3702000\n\
         600519.SH,2023-02-01 12:00:00,1851.00,1851.00,1851.00,1851.00,1,185100\n\
         600519.SH,2023-02-04 10:00:00,1851.00,1851.00,1851.00,1851.00,1,185100\n\
         600519.SH,2023-02-01 10:00:00,1851.00,1850.00,1852.00,1851.00,1,185100\n",
    )
    .unwrap();
    let report = import(&stack, &file, &["--period", "1", "--layout", "vendor241", "--volume-unit", "lots"]);
    assert_eq!(report["written"], 1);
    assert_eq!(report["refused"], serde_json::json!({"bad_bar": 1, "non_trading_day": 1, "outside_sessions": 1}));
    let newest: Vec<String> = stack.con.lrange(&queue, 0, 0).await.unwrap();
    let folded: Bar = serde_json::from_str(&newest[0]).unwrap();
    assert_eq!(folded.frame, "2023-02-01 09:31:00".parse().unwrap());
    assert_eq!(
        (folded.open, folded.close, folded.vol),
        ("1854.98".parse().unwrap(), "1851.00".parse().unwrap(), 3_000)
    );
    assert_eq!(folded.amount, "5556980".parse().unwrap());
}
