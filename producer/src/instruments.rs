//! `producer import-instruments`: the instrument list from a vendor file into ClickHouse's
//! `instruments` table (written directly: a list is small and replaced whole).
//!
//! Two shapes are read, told apart by the file:
//! - Tushare `stock_basic` as CSV (`ts_code`, `name`, `list_date`, and `delist_date` when asked
//!   for), dates as `YYYYMMDD`;
//! - xtquant `get_instrument_detail` dicts as JSON lines (`ExchangeID` and `InstrumentID`, or a
//!   `stock_code` like `600519.SH`; `InstrumentName`, `OpenDate`, `ExpireDate`), dates as
//!   `YYYYMMDD` numbers or text, an `ExpireDate` of `0` or `99999999` meaning still listed.
//!
//! The board comes from the code and the ST mark from the name ([`Instrument::new`]). A row that
//! cannot be read (an index or fund code, a missing date) is counted and logged, the rest imported.

use std::path::Path;
use std::time::Duration;

use chrono::NaiveDate;
use common::instrument::Instrument;
use common::normalise::DeadReason;
use runtime::clickhouse::InstrumentRow;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::import::date;
use crate::input::{csv_error, InputFile, Report};

/// How long one INSERT of the list may take.
const INSERT_TIMEOUT: Duration = Duration::from_secs(60);

/// Reads `file` and writes its instruments into `database.instruments`, replacing earlier rows of
/// the same symbols.
pub async fn import(client: &clickhouse::Client, database: &str, file: &Path) -> Result<Report> {
    let started = std::time::Instant::now();
    let mut report = Report::default();
    let instruments = read(file, &mut report)?;
    let version = runtime::clock::version_us();
    let rows: Vec<InstrumentRow> = instruments
        .iter()
        .filter_map(|i| InstrumentRow::new(i, version).map_err(|e| refuse(&mut report, 0, &e.to_string())).ok())
        .collect();
    let store = |e: clickhouse::error::Error| Error::Store(format!("clickhouse: {e}"));
    runtime::schema::apply_schema(client, database).await.map_err(store)?;
    let client = client.clone().with_database(database);
    runtime::clickhouse::insert(&client, runtime::keys::INSTRUMENTS_TABLE, &rows, INSERT_TIMEOUT)
        .await
        .map_err(store)?;
    report.written = rows.len() as u64;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

fn refuse(report: &mut Report, line: u64, message: &str) {
    tracing::warn!(line, message, "instrument refused");
    *report.refused.entry(DeadReason::Unreadable).or_default() += 1;
}

/// The instruments of `file`, Tushare CSV or xtquant JSON lines.
fn read(file: &Path, report: &mut Report) -> Result<Vec<Instrument>> {
    let mut out = Vec::new();
    match InputFile::open(file)? {
        InputFile::JsonLines(lines) => {
            for line in lines {
                let (number, text) = line?;
                report.read += 1;
                match serde_json::from_str(&text).map_err(|e| e.to_string()).and_then(|v| xtquant(&v)) {
                    Ok(instrument) => out.push(instrument),
                    Err(message) => refuse(report, number, &message),
                }
            }
        }
        InputFile::Csv(mut csv) => {
            let names: Vec<String> = csv.headers().map_err(|e| csv_error(file, e))?.iter().map(str::to_owned).collect();
            let column = |name: &str| names.iter().position(|n| n.trim() == name);
            let missing =
                |name: &str| Error::Input { path: file.to_owned(), line: 1, message: format!("no {name} column") };
            let symbol = column("ts_code").ok_or_else(|| missing("ts_code"))?;
            let name = column("name").ok_or_else(|| missing("name"))?;
            let listed = column("list_date").ok_or_else(|| missing("list_date"))?;
            let delisted = column("delist_date");
            for (n, record) in csv.records().enumerate() {
                report.read += 1;
                let row = record.map_err(|e| e.to_string()).and_then(|r| {
                    let cell = |i: usize| r.get(i).map(str::trim).unwrap_or_default();
                    let delisted = delisted.map(cell).filter(|d| !d.is_empty()).map(day).transpose()?;
                    let symbol = cell(symbol).parse().map_err(|e: common::Error| e.to_string())?;
                    Ok(Instrument::new(symbol, cell(name), day(cell(listed))?, delisted))
                });
                match row {
                    Ok(instrument) => out.push(instrument),
                    Err(message) => refuse(report, n as u64 + 2, &message),
                }
            }
        }
    }
    Ok(out)
}

/// An xtquant instrument detail dict.
fn xtquant(v: &Value) -> std::result::Result<Instrument, String> {
    let text = |key: &str| match &v[key] {
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let symbol = match (text("stock_code"), text("InstrumentID"), text("ExchangeID")) {
        (Some(code), _, _) => code,
        (None, Some(id), Some(exchange)) => format!("{id}.{exchange}"),
        _ => return Err("no stock_code, nor InstrumentID and ExchangeID".into()),
    };
    let symbol = symbol.parse().map_err(|e: common::Error| e.to_string())?;
    let name = text("InstrumentName").unwrap_or_default();
    let listed = day(&text("OpenDate").ok_or("no OpenDate")?)?;
    let delisted = text("ExpireDate").filter(|d| !matches!(d.as_str(), "" | "0" | "99999999")).map(|d| day(&d));
    Ok(Instrument::new(symbol, &name, listed, delisted.transpose()?))
}

/// A `YYYYMMDD` (or `YYYY-MM-DD`) date.
fn day(text: &str) -> std::result::Result<NaiveDate, String> {
    date(text).parse().map_err(|e: chrono::ParseError| format!("date {text:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xtquant_details_read_with_the_board_from_the_code_and_st_from_the_name() {
        let detail = serde_json::json!({"ExchangeID": "SH", "InstrumentID": "688981", "InstrumentName": "中芯国际",
            "OpenDate": 20200716, "ExpireDate": 99999999, "PreClose": 45.67});
        let i = xtquant(&detail).unwrap();
        assert_eq!(
            (i.symbol.to_string(), i.list_date.to_string(), i.delist_date),
            ("688981.SH".into(), "2020-07-16".into(), None)
        );
        assert_eq!(i.board, common::instrument::BoardName::Star);
        let st = serde_json::json!({"stock_code": "600234.SH", "InstrumentName": "*ST科新", "OpenDate": "20000101",
            "ExpireDate": "20261231"});
        let i = xtquant(&st).unwrap();
        assert!(i.st && i.delist_date == Some("2026-12-31".parse().unwrap()));
        let index = serde_json::json!({"ExchangeID": "SH", "InstrumentID": "000001X", "OpenDate": 19901219});
        assert!(xtquant(&index).is_err());
        assert!(xtquant(&serde_json::json!({"stock_code": "600519.SH"})).unwrap_err().contains("OpenDate"));
    }
}
