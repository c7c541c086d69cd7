//! `producer build` end to end: real Level-2 days written as tick archives (CSV.gz of trades,
//! Parquet of snapshots) rebuild the live producer's bars and the exchange's day totals; a
//! generated whole-market day (5,000 symbols of QMT snapshots) builds into a real ClickHouse; bad
//! rows are reported, not built; a symbol's day in two files refuses the second.

mod support;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, Decimal128Array, Float64Array, RecordBatch, StringArray, TimestampMillisecondArray,
    UInt64Array,
};
use common::{Amount, Bar, Period, Price, Tick, TickKind};
use harness::seed::aggregate;
use harness::writers::csv_bars;
use harness::{fixtures, ClickHouseServer};
use runtime::clickhouse::BarRow;
use serde_json::Value;
use support::*;

/// Runs `producer build` with `args` and settings `env`; its report, and whether it succeeded.
fn build(args: &[&str], env: &[(&str, &str)]) -> (Value, bool) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_producer"))
        .arg("build")
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let report = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{e}: {stdout} {}", String::from_utf8_lossy(&out.stderr)));
    (report, out.status.success())
}

/// Trades as a gzipped CSV archive, times as exchange-local text.
fn write_trades(path: &Path, ticks: &[Tick]) {
    let mut gz = flate2::write::GzEncoder::new(std::fs::File::create(path).unwrap(), flate2::Compression::fast());
    writeln!(gz, "symbol,time,price,volume,amount").unwrap();
    for t in ticks {
        let time = common::Frame::from_epoch_seconds(t.time_ms.div_euclid(1000)).to_iso8601();
        let time = format!("{}.{:03}", time.trim_end_matches("+08:00"), t.time_ms.rem_euclid(1000));
        writeln!(gz, "{},{time},{},{},{}", t.symbol, t.price, t.volume, t.amount).unwrap();
    }
    gz.finish().unwrap();
}

/// Cumulative snapshots as a Parquet archive the way dataframe tools write one: a zoned
/// millisecond timestamp, float prices, decimal amounts, a boolean flag.
fn write_snapshots(path: &Path, ticks: &[Tick]) {
    let float = |f: &dyn Fn(&Tick) -> Price| -> ArrayRef {
        Arc::new(Float64Array::from_iter_values(ticks.iter().map(|t| f(t).to_string().parse::<f64>().unwrap())))
    };
    let day = |t: &Tick, high: bool| match t.kind {
        TickKind::Cumulative { day_high, day_low, .. } => (if high { day_high } else { day_low }).unwrap(),
        TickKind::Trade => unreachable!("snapshots"),
    };
    let amount = Decimal128Array::from_iter_values(ticks.iter().map(|t| t.amount.units() / 100));
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("symbol", Arc::new(StringArray::from_iter_values(ticks.iter().map(|t| t.symbol.to_string())))),
        (
            "time",
            Arc::new(
                TimestampMillisecondArray::from_iter_values(ticks.iter().map(|t| t.time_ms))
                    .with_timezone("Asia/Shanghai"),
            ),
        ),
        ("price", float(&|t| t.price)),
        ("high", float(&|t| day(t, true))),
        ("low", float(&|t| day(t, false))),
        ("volume", Arc::new(UInt64Array::from_iter_values(ticks.iter().map(|t| t.volume)))),
        ("amount", Arc::new(amount.with_precision_and_scale(22, 2).unwrap())),
        ("cumulative", Arc::new(BooleanArray::from(vec![true; ticks.len()]))),
    ];
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let mut writer =
        parquet::arrow::ArrowWriter::try_new(std::fs::File::create(path).unwrap(), batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

fn of(bars: &[Bar], symbol: &str, day: &str) -> Vec<Bar> {
    bars.iter().filter(|b| b.symbol.to_string() == symbol && b.frame.to_iso8601().starts_with(day)).cloned().collect()
}

/// The deduplicated bars of `symbol` and `period` in ClickHouse database `db`, by frame.
async fn stored(ch: &ClickHouseServer, db: &str, symbol: &str, period: Period) -> Vec<Bar> {
    let sql = format!("SELECT ?fields FROM {db}.bars FINAL WHERE symbol = ? AND period = ? ORDER BY frame");
    let rows: Vec<BarRow> = ch.client().query(&sql).bind(symbol).bind(period.minutes()).fetch_all().await.unwrap();
    rows.iter().map(|r| r.bar().unwrap()).collect()
}

fn count(report: &Value, field: &str) -> BTreeMap<String, u64> {
    serde_json::from_value(report[field].clone()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn real_trades_rebuilt_from_archives_equal_the_live_producers_bars() {
    let mut stack = ProducerRedis::start().await;
    let ch = ClickHouseServer::start().await.unwrap();
    let ticks: Vec<Tick> = DAYS.iter().flat_map(|d| fixtures::trades(d)).collect();
    stack.replay("live:", &ticks).await;
    let dir = tempfile::tempdir().unwrap();
    for day in DAYS {
        write_trades(&dir.path().join(format!("{day}.csv.gz")), &fixtures::trades(day));
    }
    let (url, redis) = (ch.url(), stack.redis.url());
    let env = [
        ("TICKBAR__CLICKHOUSE__URL", url.as_str()),
        ("TICKBAR__CLICKHOUSE__DATABASE", "built"),
        ("TICKBAR__REDIS__URL", redis.as_str()),
    ];
    let (report, ok) = build(&[dir.path().to_str().unwrap()], &env);
    assert!(ok, "{report}");
    assert_eq!(
        (report["rows"].as_u64(), report["ticks"].as_u64()),
        (Some(ticks.len() as u64), Some(ticks.len() as u64))
    );
    assert_eq!(count(&report, "refused"), BTreeMap::new());
    assert_eq!(count(&report, "bars")["1"], 720);
    for p in Period::DEFAULTS {
        let built = stored(&ch, "built", "600519.SH", p).await;
        for (day, (vol, amount)) in DAYS.into_iter().zip(MOUTAI_TOTALS) {
            let live = stack.bars("live:", day, p, "600519.SH").await;
            let ours = of(&built, "600519.SH", day);
            assert_eq!(ours, live, "{day} {p}m");
            assert_eq!(ours.iter().map(|b| b.vol).sum::<u64>(), vol, "{day} {p}m");
            assert_eq!(ours.iter().map(|b| b.amount).sum::<Amount>(), amount.parse().unwrap(), "{day} {p}m");
        }
    }
    let (again, ok) = build(&[dir.path().to_str().unwrap()], &env);
    assert!(ok, "{again}");
    let rows: u64 = ch.client().query("SELECT count() FROM built.bars FINAL").fetch_one().await.unwrap();
    assert_eq!(rows, 720 + 144 + 48 + 24 + 12, "a rebuilt day replaces its rows");
    let versions = runtime::keys::Keys::default().history_versions();
    let all: i64 = redis::AsyncCommands::hget(&mut stack.con, versions, runtime::keys::ALL_HISTORY).await.unwrap();
    assert_eq!(all, 2, "each build bumped the history version of every symbol");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_build_waits_out_a_clickhouse_restart_and_loses_nothing() {
    let mut ch = ClickHouseServer::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let day = DAYS[0];
    write_trades(&dir.path().join(format!("{day}.csv.gz")), &fixtures::trades(day));
    ch.stop();
    let url = ch.url();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_producer"))
        .args(["build", "--quiet", dir.path().to_str().unwrap()])
        .env("TICKBAR__CLICKHOUSE__URL", &url)
        .env("TICKBAR__CLICKHOUSE__DATABASE", "restarted")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    ch.launch().await.unwrap();
    let out = tokio::task::spawn_blocking(|| child.wait_with_output().unwrap()).await.unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    assert!(log.contains("clickhouse schema failed; trying again"), "ClickHouse was away: {log}");
    let built = stored(&ch, "restarted", "600519.SH", Period::M1).await;
    assert_eq!(built, aggregate(&fixtures::trades(day), "600519.SH", Period::M1));
    assert_eq!(built.iter().map(|b| b.vol).sum::<u64>(), MOUTAI_TOTALS[0].0);
}

#[test]
fn real_snapshots_from_parquet_build_the_live_bars_and_the_exchange_day_totals() {
    let dir = tempfile::tempdir().unwrap();
    let mut all = BTreeMap::new();
    for symbol in ["600519.SH", "000333.SZ"] {
        let ticks: Vec<Tick> = DAYS.iter().flat_map(|d| fixtures::snapshots(symbol, d)).collect();
        write_snapshots(&dir.path().join(format!("{symbol}.parquet")), &ticks);
        all.insert(symbol, ticks);
    }
    let out = dir.path().join("out");
    let (report, ok) = build(&["--out", out.to_str().unwrap(), "--format", "csv", dir.path().to_str().unwrap()], &[]);
    assert!(ok, "{report}");
    assert_eq!(count(&report, "refused"), BTreeMap::new(), "{report}");
    for p in Period::DEFAULTS {
        let built = csv_bars(&out.join(format!("bars_{}min.csv", p.minutes())));
        for (i, day) in DAYS.into_iter().enumerate() {
            for (symbol, ticks) in &all {
                let day_ticks: Vec<Tick> =
                    ticks.iter().filter(|t| fixtures::compact(day) == date_of(t)).copied().collect();
                assert_eq!(of(&built, symbol, day), aggregate(&day_ticks, symbol, p), "{symbol} {day} {p}m");
            }
            let volume = |symbol| of(&built, symbol, day).iter().map(|b| b.vol).sum::<u64>();
            assert_eq!(
                (volume("600519.SH"), volume("000333.SZ")),
                (MOUTAI_TOTALS[i].0, MIDEA_VOLUMES[i]),
                "{day} {p}m"
            );
            let amount: Amount = of(&built, "600519.SH", day).iter().map(|b| b.amount).sum();
            assert_eq!(amount, MOUTAI_TOTALS[i].1.parse().unwrap(), "{day} {p}m");
        }
    }
}

fn date_of(t: &Tick) -> String {
    common::time::date_of(common::time::split_ms(t.time_ms).0).format("%Y%m%d").to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_generated_whole_market_day_of_5000_symbols_builds_into_clickhouse() {
    const SYMBOLS: usize = 5_000;
    let ch = ClickHouseServer::start().await.unwrap();
    let ticks: Vec<Tick> = harness::market::ticks(SYMBOLS, 60).collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("2026-11-18.csv");
    let mut csv = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
    writeln!(csv, "symbol,time,lastPrice,open,high,low,volume,amount,bidPrice1").unwrap();
    for t in &ticks {
        writeln!(
            csv,
            "{},{},{},{},,,{},{},{}",
            t.symbol,
            t.time_ms,
            t.price,
            t.price,
            t.volume / 100,
            t.amount,
            t.price
        )
        .unwrap();
    }
    csv.into_inner().unwrap().sync_all().unwrap();
    let url = ch.url();
    let env = [("TICKBAR__CLICKHOUSE__URL", url.as_str()), ("TICKBAR__CLICKHOUSE__DATABASE", "market")];
    let (report, ok) = build(&["--threads", "2", file.to_str().unwrap()], &env);
    assert!(ok, "{report}");
    assert_eq!(report["ticks"].as_u64(), Some(ticks.len() as u64));
    let applied = (ticks.len() - SYMBOLS) as u64;
    let outcomes = BTreeMap::from([("applied".to_owned(), applied), ("no_trade".to_owned(), SYMBOLS as u64)]);
    assert_eq!(count(&report, "outcomes"), outcomes);
    let day_volume: u64 = ticks[ticks.len() - SYMBOLS..].iter().map(|t| t.volume).sum();
    for p in Period::DEFAULTS {
        let sql = "SELECT count(), sum(vol), uniqExact(symbol) FROM market.bars FINAL WHERE period = ?";
        let (rows, vol, symbols): (u64, u64, u64) = ch.client().query(sql).bind(p.minutes()).fetch_one().await.unwrap();
        let per_day = 240 / u64::from(p.minutes());
        assert_eq!((rows, vol, symbols), (SYMBOLS as u64 * per_day, day_volume, SYMBOLS as u64), "{p}m");
    }
    for i in [0, 1, 2_467, SYMBOLS - 1] {
        let symbol = harness::market::symbol(i).to_string();
        let own: Vec<Tick> = ticks.iter().filter(|t| t.symbol == harness::market::symbol(i)).copied().collect();
        for p in Period::DEFAULTS {
            assert_eq!(stored(&ch, "market", &symbol, p).await, aggregate(&own, &symbol, p), "{symbol} {p}m");
        }
    }
}

#[test]
fn bad_rows_are_reported_parquet_equals_csv_and_a_day_in_two_files_refuses_the_second() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    let rows = [
        "symbol,time,price,volume",
        "600519.SH,2026-11-18 09:30:03,1650.5,300",
        "600519.SH,2026-11-18 09:31:10,1651,200",
        "6005.SH,2026-11-18 09:31:11,1651,200",
        "600519.SH,2026-11-18 09:31:12,-1,200",
        "600519.SH,2026-11-18 12:00:00,1651,100",
        "000001.SZ,2026-11-18 14:59:59,10.01,500",
    ];
    std::fs::write(input.join("a.csv"), rows.join("\n")).unwrap();
    let (parquet, csv) = (dir.path().join("parquet"), dir.path().join("csv"));
    let (report, ok) = build(&["--out", parquet.to_str().unwrap(), input.to_str().unwrap()], &[]);
    assert!(ok, "{report}");
    assert_eq!(count(&report, "refused"), BTreeMap::from([("bad_price".into(), 1), ("bad_symbol".into(), 1)]));
    let examples = report["examples"].to_string();
    assert!(examples.contains("a.csv line 4: bad_symbol") && examples.contains("line 5: bad_price"), "{examples}");
    assert_eq!(count(&report, "outcomes")["lunch_break"], 1);
    let (_, ok) = build(&["--out", csv.to_str().unwrap(), "--format", "csv", input.to_str().unwrap()], &[]);
    assert!(ok);
    for p in Period::DEFAULTS {
        let name = format!("bars_{}min", p.minutes());
        // Each file's shards write as they finish, so the two files need not list symbols alike.
        let by_key = |mut bars: Vec<Bar>| {
            bars.sort_by_key(|b| (b.symbol.to_string(), b.frame));
            bars
        };
        let from_csv = by_key(csv_bars(&csv.join(format!("{name}.csv"))));
        let days = 240 / usize::from(p.minutes()) + 1;
        assert_eq!(from_csv.len(), days, "{p}m: 600519.SH's day filled, 000001.SZ's from its one trade");
        assert_eq!(by_key(parquet_bars(&parquet.join(format!("{name}.parquet")))), from_csv, "{p}m");
    }
    std::fs::write(input.join("b.csv"), [rows[0], rows[6]].join("\n")).unwrap();
    let (report, ok) = build(&["--out", csv.to_str().unwrap(), input.to_str().unwrap()], &[]);
    assert!(!ok, "{report}");
    let failed = report["failed"].to_string();
    assert!(failed.contains("000001.SZ 2026-11-18 is also in"), "{failed}");
}

/// The bars of a Parquet file `build` wrote, read back through the query API's column types.
fn parquet_bars(path: &Path) -> Vec<Bar> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Decimal128Type, TimestampSecondType, UInt64Type};
    use arrow_array::Array;
    let file = std::fs::File::open(path).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap();
    let mut bars = Vec::new();
    for batch in reader {
        let batch = batch.unwrap();
        let units = |i: usize, r: usize| batch.column(i).as_primitive::<Decimal128Type>().value(r);
        let price = |i: usize, r: usize| Price::from_units(units(i, r).try_into().unwrap());
        for r in 0..batch.num_rows() {
            let ohlcv = common::Ohlcv {
                open: price(2, r),
                high: price(3, r),
                low: price(4, r),
                close: price(5, r),
                vol: batch.column(6).as_primitive::<UInt64Type>().value(r),
                amount: Amount::from_units(units(7, r)),
                trades: batch
                    .column(8)
                    .is_valid(r)
                    .then(|| u32::try_from(batch.column(8).as_primitive::<UInt64Type>().value(r)).unwrap()),
            };
            let symbol = batch.column(0).as_string::<i32>().value(r).parse().unwrap();
            let frame =
                common::Frame::from_epoch_seconds(batch.column(1).as_primitive::<TimestampSecondType>().value(r));
            bars.push(Bar::new(symbol, frame, &ohlcv));
        }
    }
    bars
}

/// A trade of 100 shares every 30 seconds of `symbol` through both regular sessions of `day`,
/// the minutes a day override stops included.
fn every_half_minute(symbol: &str, day: &str) -> Vec<Tick> {
    let (morning, afternoon) = ((9 * 3600 + 30 * 60)..(11 * 3600 + 30 * 60), (13 * 3600)..(15 * 3600));
    morning
        .chain(afternoon)
        .step_by(30)
        .map(|s| {
            let time = format!("{day}T{:02}:{:02}:{:02}.500", s / 3600, s / 60 % 60, s % 60);
            let price = Price::from_units(100_000 + i64::from(s / 60 % 9) * 100);
            let (symbol, time_ms) = (symbol.parse().unwrap(), common::time::parse_datetime(&time).unwrap());
            Tick { symbol, time_ms, price, volume: 100, amount: price * 100, kind: TickKind::Trade }
        })
        .collect()
}

#[test]
fn the_circuit_breaker_days_build_bars_up_to_the_close_and_none_inside_the_halt() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    let days = [("2016-01-04", 139, "13:34"), ("2016-01-07", 15, "10:00")];
    let ticks: Vec<Tick> = days.iter().flat_map(|(day, ..)| every_half_minute("600519.SH", day)).collect();
    write_trades(&input.join("days.csv.gz"), &ticks);
    let out = dir.path().join("out");
    let (report, ok) =
        build(&["--quiet", "--out", out.to_str().unwrap(), "--format", "csv", input.to_str().unwrap()], &[]);
    assert!(ok, "{report}");
    let outcomes = count(&report, "outcomes");
    assert!(outcomes["halted"] > 0 && outcomes["after_close"] > 0, "{report}");
    let minutes = csv_bars(&out.join("bars_1min.csv"));
    for (day, bars, last) in days {
        let mine = of(&minutes, "600519.SH", day);
        assert_eq!(mine.len(), bars, "{day}: the traded minutes only");
        assert_eq!(mine.last().unwrap().frame.time().format("%H:%M").to_string(), last, "{day}");
        assert_eq!(mine, of(&aggregate(&ticks, "600519.SH", Period::M1), "600519.SH", day), "{day}: the live path's");
    }
    let traded: u64 = minutes.iter().map(|b| b.vol).sum();
    let refused = (outcomes["halted"] + outcomes["after_close"]) * 100;
    assert_eq!(traded + refused, ticks.len() as u64 * 100, "every share is in a bar or refused with its reason");
    let hours = csv_bars(&out.join("bars_60min.csv"));
    let labels: Vec<String> = hours.iter().map(|b| b.frame.to_iso8601()[..16].to_string()).collect();
    assert_eq!(labels, ["2016-01-04T10:30", "2016-01-04T11:30", "2016-01-04T14:00", "2016-01-07T10:30"]);
}
