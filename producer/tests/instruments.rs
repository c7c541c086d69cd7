//! `producer import-instruments` end to end: Tushare's `stock_basic` CSV and xtquant's instrument
//! details (JSON lines) into a real ClickHouse's `instruments`; unreadable rows counted, the rest
//! imported; a symbol in both lists is read once.

use harness::ClickHouseServer;
use runtime::clickhouse::InstrumentRow;
use serde_json::Value;

const TUSHARE: &str = "ts_code,symbol,name,area,industry,market,list_date,delist_date
600519.SH,600519,贵州茅台,贵州,白酒,主板,20010827,
688981.SH,688981,中芯国际,上海,半导体,科创板,20200716,
600234.SH,600234,*ST科新,山西,装修装饰,主板,19990315,
000003.SZ,000003,PT金田A,深圳,综合,主板,19910703,20020614
HK0700,0700,腾讯控股,深圳,互联网,港股,20040616,
";

const XTQUANT: &str = r#"{"ExchangeID":"SZ","InstrumentID":"300750","InstrumentName":"宁德时代","OpenDate":20180611,"ExpireDate":99999999}
{"ExchangeID":"BJ","InstrumentID":"830799","InstrumentName":"艾融软件","OpenDate":"20211115","ExpireDate":0}
{"ExchangeID":"SH","InstrumentID":"600519","InstrumentName":"贵州茅台","OpenDate":20010827,"ExpireDate":99999999}
{"ExchangeID":"SZ","InstrumentID":"300001"}
"#;

/// Runs `producer import-instruments` on `text` (written as `name`) into database `db`.
fn import(ch: &ClickHouseServer, dir: &std::path::Path, name: &str, text: &str) -> Value {
    let file = dir.join(name);
    std::fs::write(&file, text).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_producer"))
        .args(["import-instruments", "--file", &file.display().to_string()])
        .env("TICKBAR__CLICKHOUSE__URL", ch.url())
        .env("TICKBAR__CLICKHOUSE__DATABASE", "listed")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn both_vendor_lists_import_with_boards_st_marks_and_delistings() {
    let ch = ClickHouseServer::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let report = import(&ch, dir.path(), "stock_basic.csv", TUSHARE);
    assert_eq!((report["read"].as_u64(), report["written"].as_u64()), (Some(5), Some(4)), "{report}");
    assert_eq!(report["refused"]["unreadable"], 1, "the Hong Kong code: {report}");
    let report = import(&ch, dir.path(), "details.jsonl", XTQUANT);
    assert_eq!((report["read"].as_u64(), report["written"].as_u64()), (Some(4), Some(3)), "{report}");

    let client = ch.client();
    let rows: Vec<InstrumentRow> =
        client.query("SELECT ?fields FROM listed.instruments FINAL ORDER BY symbol").fetch_all().await.unwrap();
    let listed: Vec<(String, String, bool, Option<String>)> = rows
        .iter()
        .map(|r| {
            let i = r.instrument().unwrap();
            (i.symbol.to_string(), i.board.to_string(), i.st, i.delist_date.map(|d| d.to_string()))
        })
        .collect();
    let own = |s: &str, b: &str, st: bool, d: Option<&str>| (s.to_owned(), b.to_owned(), st, d.map(str::to_owned));
    assert_eq!(
        listed,
        [
            own("000003.SZ", "main", false, Some("2002-06-14")),
            own("300750.SZ", "chinext", false, None),
            own("600234.SH", "main", true, None),
            own("600519.SH", "main", false, None),
            own("688981.SH", "star", false, None),
            own("830799.BJ", "beijing", false, None),
        ]
    );
}
