//! `format=arrow|parquet|csv` of `/api/v1/bars` and `/api/v1/snapshot` against a real Redis and
//! ClickHouse: the same bars as the JSON answer, exact decimals, the frame's zone, and long answers
//! sent in chunks of symbols (one Parquet row group each).

mod support;

use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal128Type, TimestampSecondType, UInt64Type};
use arrow_array::Array;
use arrow_array::RecordBatch;
use bytes::Bytes;
use common::{Amount, Bar, Frame, Period, Price};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use support::{bars_of, get_json, get_with, ApiStores, DAYS};

const SYMBOLS: [&str; 3] = ["600519.SH", "000001.SZ", "300750.SZ"];

/// The bars of record batches read back into the domain's type.
fn bars(batches: &[RecordBatch]) -> Vec<Bar> {
    let mut out = Vec::new();
    for b in batches {
        let column = |name: &str| b.column_by_name(name).unwrap_or_else(|| panic!("no column {name}"));
        let symbols = column("symbol").as_string::<i32>();
        let frames = column("frame").as_primitive::<TimestampSecondType>();
        let units = |name: &str, row: usize| {
            let array = column(name).as_primitive::<Decimal128Type>();
            assert_eq!(array.scale(), 4, "{name} in 1/10,000 yuan");
            array.value(row)
        };
        let price = |name: &str, row: usize| Price::from_units(units(name, row).try_into().unwrap());
        let vols = column("vol").as_primitive::<UInt64Type>();
        let trades = column("trades").as_primitive::<UInt64Type>();
        let vwaps = column("vwap").as_primitive::<Decimal128Type>();
        for row in 0..b.num_rows() {
            let bar = Bar {
                symbol: symbols.value(row).parse().unwrap(),
                frame: Frame::from_epoch_seconds(frames.value(row)),
                open: price("open", row),
                high: price("high", row),
                low: price("low", row),
                close: price("close", row),
                vol: vols.value(row),
                amount: Amount::from_units(units("amount", row)),
                trades: trades.is_valid(row).then(|| u32::try_from(trades.value(row)).unwrap()),
            };
            let vwap = vwaps.is_valid(row).then(|| Price::from_units(vwaps.value(row).try_into().unwrap()));
            assert_eq!(vwap, bar.vwap(), "{} {}: the vwap column", bar.symbol, bar.frame);
            out.push(bar);
        }
    }
    out
}

fn arrow(bytes: Vec<u8>) -> Vec<RecordBatch> {
    let reader = arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(bytes), None).unwrap();
    reader.map(Result::unwrap).collect()
}

/// The batches of a Parquet file and its number of row groups.
fn parquet(bytes: Vec<u8>) -> (Vec<RecordBatch>, usize) {
    let builder = ParquetRecordBatchReaderBuilder::try_new(Bytes::from(bytes)).unwrap();
    let groups = builder.metadata().num_row_groups();
    (builder.build().unwrap().map(Result::unwrap).collect(), groups)
}

#[tokio::test]
async fn arrow_parquet_and_csv_hold_the_json_answers_bars_exactly() {
    let mut stack = ApiStores::start().await;
    for symbol in SYMBOLS {
        stack.three_days(symbol).await;
    }
    let api = stack.api(&[("TICKBAR__API__STREAM_CHUNK_BARS", "800")]).await;
    let query = format!("symbols={}&period=1&start={}&end={}", SYMBOLS.join(","), DAYS[0], DAYS[2]);
    let (status, json) = get_json(&api, &format!("/api/v1/bars?{query}")).await;
    assert_eq!(status, 200, "{json}");
    let expected: Vec<Bar> = SYMBOLS.iter().flat_map(|s| bars_of(&json["symbols"][*s])).collect();
    assert_eq!(expected.len(), 3 * 720);

    let answer = get_with(&api, &format!("/api/v1/bars?{query}&format=arrow"), &[]).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.header("content-type"), Some("application/vnd.apache.arrow.stream"));
    let batches = arrow(answer.bytes);
    assert_eq!(bars(&batches), expected, "the same bars, in the order asked");
    let schema = batches[0].schema();
    assert_eq!(schema.field_with_name("frame").unwrap().data_type().to_string(), "Timestamp(s, \"Asia/Shanghai\")");
    assert_eq!(schema.field_with_name("open").unwrap().data_type().to_string(), "Decimal128(18, 4)");
    assert_eq!(batches.len(), 3, "one batch per symbol at 800 bars a chunk");

    let answer = get_with(&api, &format!("/api/v1/bars?{query}&format=parquet"), &[]).await;
    assert_eq!(answer.header("content-type"), Some("application/vnd.apache.parquet"));
    assert!(answer.header("content-disposition").unwrap().contains("bars_1m_2026-11-18_2026-11-20.parquet"));
    let (batches, groups) = parquet(answer.bytes);
    assert_eq!(bars(&batches), expected);
    assert_eq!(groups, 3, "a row group per chunk of symbols: sent as read");

    let (_, csv) = api.get(&format!("/api/v1/bars?{query}&format=csv")).await;
    assert_eq!(csv.lines().count(), 1 + expected.len());

    let one = format!("/api/v1/bars?symbol=600519.SH&period=1d&count=2&format=arrow&end={}", DAYS[2]);
    let answer = get_with(&api, &one, &[]).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(bars(&arrow(answer.bytes)).len(), 2, "built periods too");
}

#[tokio::test]
async fn a_snapshot_as_arrow_and_bad_formats() {
    let mut stack = ApiStores::start().await;
    let expected = stack.three_days("600519.SH").await;
    let api = stack.api(&[]).await;
    let answer = get_with(&api, &format!("/api/v1/snapshot?at={}T10:00&format=arrow", DAYS[2]), &[]).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let minute = &expected.iter().find(|(p, _)| *p == Period::M1).unwrap().1;
    assert_eq!(bars(&arrow(answer.bytes)), [minute[720 - 240 + 29].clone()]);
    let (status, bad) = get_json(&api, "/api/v1/bars?symbol=600519.SH&count=3&format=feather").await;
    assert_eq!(status, 400);
    assert!(bad["error"]["message"].as_str().unwrap().contains("json, csv, arrow and parquet"), "{bad}");
}
