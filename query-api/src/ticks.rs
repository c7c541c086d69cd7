//! `GET /api/v1/ticks`: the archived ticks (`tickbar.ticks`, written by the consumer's archiver) of
//! symbols over a range, or each symbol's last N, as the producer normalised them: JSON, or one
//! long table as CSV, an Arrow IPC stream or Parquet. Today's ticks are there once archived,
//! seconds behind the feed; earlier days' for as long as `archive.retention_days` keeps them.

use std::fmt::Write;
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Decimal128Builder, ListBuilder, StringBuilder, TimestampMillisecondBuilder, UInt64Builder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef, TimeUnit};
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use axum::Json;
use common::money::{Amount, Price, SCALE};
use common::time::iso8601_ms;
use common::Symbol;
use runtime::archive::TickRow;
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::App;
use crate::columnar::{Columnar, Encoder};
use crate::download::{arrow, attachment};
use crate::error::{AppError, Result};
use crate::params::{Format, Span, TicksQuery};

/// The ticks of a query, oldest first symbol by symbol, in the order the symbols were asked.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicksAnswer {
    /// The range as understood (`null` for `count`, which walks back from `end`).
    pub start: Option<String>,
    pub end: String,
    pub count: usize,
    pub ticks: Vec<TickObject>,
}

/// One archived tick, exact: prices and amounts in yuan, volumes in shares.
#[derive(Debug, Serialize, ToSchema)]
pub struct TickObject {
    pub symbol: String,
    /// The exchange time, ISO-8601 with milliseconds and `+08:00`.
    pub time: String,
    #[schema(value_type = f64)]
    pub price: Price,
    /// One trade's shares, or with `cumulative` the day's shares so far.
    pub volume: u64,
    #[schema(value_type = f64)]
    pub amount: Amount,
    /// `volume` and `amount` are the day's totals so far (a snapshot), not one trade's.
    pub cumulative: bool,
    /// The day's high and low, where the feed gives them.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    pub high: Option<Price>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    pub low: Option<Price>,
    /// The day's trade count so far, where the feed gives it (QMT's `transactionNum`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trades: Option<u64>,
    /// A snapshot's bid levels, best first: `[price, shares]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Vec<f64>>)]
    pub bid: Vec<(Price, u64)>,
    /// A snapshot's ask levels, best first: `[price, shares]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Vec<f64>>)]
    pub ask: Vec<(Price, u64)>,
}

impl TickObject {
    fn of(row: &TickRow) -> TickObject {
        let levels = |prices: &[i64], volumes: &[u64]| {
            prices.iter().zip(volumes).map(|(p, v)| (Price::from_units(*p), *v)).collect::<Vec<_>>()
        };
        TickObject {
            symbol: row.symbol.clone(),
            time: iso8601_ms(row.time_ms),
            price: Price::from_units(row.price),
            volume: row.volume,
            amount: Amount::from_units(row.amount),
            cumulative: row.cumulative != 0,
            high: row.high.map(Price::from_units),
            low: row.low.map(Price::from_units),
            trades: row.trades,
            bid: levels(&row.bid_price, &row.bid_volume),
            ask: levels(&row.ask_price, &row.ask_volume),
        }
    }
}

/// The answer to `q`: a 400 `too_many_ticks` when it would hold more than `api.max_ticks`.
pub async fn answer(app: &App, q: &TicksQuery) -> Result<Response> {
    let rows = match q.span {
        Span::Between { start, end } => {
            let range = (start.epoch_seconds() * 1000, end.epoch_seconds() * 1000 + 999);
            let rows = app.history.ticks(&q.symbols, range, q.max_ticks + 1).await?;
            if rows.len() > q.max_ticks {
                return Err(too_many(q.max_ticks, "the range holds more; split it"));
            }
            rows
        }
        Span::Last { count, end } => {
            if q.symbols.len() * count as usize > q.max_ticks {
                return Err(too_many(q.max_ticks, "ask for fewer symbols or a smaller count"));
            }
            app.history.last_ticks(&q.symbols, count, end.epoch_seconds() * 1000 + 999).await?
        }
    };
    let rows = in_asked_order(rows, &q.symbols);
    Ok(match q.format {
        Format::Json => Json(json(q, &rows)).into_response(),
        Format::Csv => attachment(q.format, &file_name(q), Body::from(csv(&rows))),
        Format::Arrow => attachment(q.format, &file_name(q), Body::from(encoded(Columnar::Arrow, &rows)?)),
        Format::Parquet => attachment(q.format, &file_name(q), Body::from(encoded(Columnar::Parquet, &rows)?)),
    })
}

fn too_many(max: usize, advice: &str) -> AppError {
    AppError::bad("too_many_ticks", format!("one answer holds at most {max} ticks (api.max_ticks): {advice}"))
}

/// `rows` (sorted by symbol) regrouped into the order the symbols were asked, each group's order kept.
fn in_asked_order(mut rows: Vec<TickRow>, symbols: &[Symbol]) -> Vec<TickRow> {
    let names: Vec<String> = symbols.iter().map(Symbol::to_string).collect();
    rows.sort_by_key(|r| names.iter().position(|n| *n == r.symbol));
    rows
}

fn json(q: &TicksQuery, rows: &[TickRow]) -> TicksAnswer {
    let start = match q.span {
        Span::Between { start, .. } => Some(start.to_iso8601()),
        Span::Last { .. } => None,
    };
    let end = iso8601_ms(q.span.end().epoch_seconds() * 1000 + 999);
    TicksAnswer { start, end, count: rows.len(), ticks: rows.iter().map(TickObject::of).collect() }
}

fn file_name(q: &TicksQuery) -> String {
    let who = if q.symbols.len() == 1 { q.symbols[0].to_string() } else { "ticks".to_owned() };
    match q.span {
        Span::Between { start, end } => format!("{who}_ticks_{}_{}", start.date(), end.date()),
        Span::Last { count, end } => format!("{who}_ticks_last{count}_{}", end.date()),
    }
}

/// The CSV header of the long table of ticks.
pub const CSV_HEADER: &str =
    "symbol,time,price,volume,amount,cumulative,high,low,trades,bid_price,bid_volume,ask_price,ask_volume\n";

/// The table as CSV: exact decimals, an absent value empty, a book's levels `;`-separated.
fn csv(rows: &[TickRow]) -> String {
    let mut out = String::with_capacity(CSV_HEADER.len() + rows.len() * 120);
    out.push_str(CSV_HEADER);
    let price = |u: &i64| Price::from_units(*u).to_string();
    let joined = |values: Vec<String>| values.join(";");
    for r in rows {
        let t = TickObject::of(r);
        let optional = |v: Option<String>| v.unwrap_or_default();
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{},{}",
            t.symbol,
            t.time,
            t.price,
            t.volume,
            t.amount,
            t.cumulative,
            optional(t.high.map(|p| p.to_string())),
            optional(t.low.map(|p| p.to_string())),
            optional(t.trades.map(|n| n.to_string())),
            joined(r.bid_price.iter().map(price).collect()),
            joined(r.bid_volume.iter().map(u64::to_string).collect()),
            joined(r.ask_price.iter().map(price).collect()),
            joined(r.ask_volume.iter().map(u64::to_string).collect()),
        );
    }
    out
}

/// The table's Arrow columns: decimals exact (decimal128 with 4 places), `time` a timestamp in ms
/// with the Asia/Shanghai zone, the book's levels as lists.
pub fn schema() -> SchemaRef {
    let price = || DataType::Decimal128(18, SCALE as i8);
    let list = |item: DataType| DataType::List(Arc::new(Field::new("item", item, true)));
    Arc::new(Schema::new(vec![
        Field::new("symbol", DataType::Utf8, false),
        Field::new("time", DataType::Timestamp(TimeUnit::Millisecond, Some(ZONE.into())), false),
        Field::new("price", price(), false),
        Field::new("volume", DataType::UInt64, false),
        Field::new("amount", DataType::Decimal128(22, SCALE as i8), false),
        Field::new("cumulative", DataType::Boolean, false),
        Field::new("high", price(), true),
        Field::new("low", price(), true),
        Field::new("trades", DataType::UInt64, true),
        Field::new("bid_price", list(price()), false),
        Field::new("bid_volume", list(DataType::UInt64), false),
        Field::new("ask_price", list(price()), false),
        Field::new("ask_volume", list(DataType::UInt64), false),
    ]))
}

const ZONE: &str = "Asia/Shanghai";

/// `rows` as one Arrow IPC stream or Parquet file of [`schema`].
fn encoded(kind: Columnar, rows: &[TickRow]) -> Result<Vec<u8>> {
    let schema = schema();
    let batch = batch(&schema, rows).map_err(arrow)?;
    let mut encoder = Encoder::new(kind, &schema).map_err(arrow)?;
    let mut out = encoder.write(&batch).map_err(arrow)?.to_vec();
    out.extend_from_slice(&encoder.flush().map_err(arrow)?);
    out.extend_from_slice(&encoder.finish().map_err(arrow)?);
    Ok(out)
}

fn batch(schema: &SchemaRef, rows: &[TickRow]) -> std::result::Result<RecordBatch, ArrowError> {
    let n = rows.len();
    let decimals = |precision: u8| Decimal128Builder::with_capacity(n).with_precision_and_scale(precision, SCALE as i8);
    let mut symbol = StringBuilder::with_capacity(n, n * 9);
    let mut time = TimestampMillisecondBuilder::with_capacity(n).with_timezone(ZONE);
    let (mut price, mut amount, mut high, mut low) = (decimals(18)?, decimals(22)?, decimals(18)?, decimals(18)?);
    let (mut volume, mut trades) = (UInt64Builder::with_capacity(n), UInt64Builder::with_capacity(n));
    let mut cumulative = BooleanBuilder::with_capacity(n);
    let mut bid_price = ListBuilder::new(decimals(18)?);
    let mut ask_price = ListBuilder::new(decimals(18)?);
    let (mut bid_volume, mut ask_volume) =
        (ListBuilder::new(UInt64Builder::new()), ListBuilder::new(UInt64Builder::new()));
    for r in rows {
        symbol.append_value(&r.symbol);
        time.append_value(r.time_ms);
        price.append_value(r.price.into());
        volume.append_value(r.volume);
        amount.append_value(r.amount);
        cumulative.append_value(r.cumulative != 0);
        high.append_option(r.high.map(i128::from));
        low.append_option(r.low.map(i128::from));
        trades.append_option(r.trades);
        for (list, units) in [(&mut bid_price, &r.bid_price), (&mut ask_price, &r.ask_price)] {
            units.iter().for_each(|u| list.values().append_value((*u).into()));
            list.append(true);
        }
        for (list, values) in [(&mut bid_volume, &r.bid_volume), (&mut ask_volume, &r.ask_volume)] {
            list.values().append_slice(values);
            list.append(true);
        }
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(symbol.finish()),
        Arc::new(time.finish()),
        Arc::new(price.finish()),
        Arc::new(volume.finish()),
        Arc::new(amount.finish()),
        Arc::new(cumulative.finish()),
        Arc::new(high.finish()),
        Arc::new(low.finish()),
        Arc::new(trades.finish()),
        Arc::new(bid_price.finish()),
        Arc::new(bid_volume.finish()),
        Arc::new(ask_price.finish()),
        Arc::new(ask_volume.finish()),
    ];
    RecordBatch::try_new(schema.clone(), columns)
}

#[cfg(test)]
mod tests {
    use arrow_array::cast::AsArray;
    use arrow_array::types::Decimal128Type;

    use super::*;

    fn row(symbol: &str, time_ms: i64, book: bool) -> TickRow {
        TickRow {
            symbol: symbol.into(),
            day: 19_389,
            time_ms,
            price: 16_505_000,
            volume: 120_300,
            amount: 1_986_123_455_000,
            cumulative: u8::from(book),
            high: book.then_some(16_600_000),
            low: book.then_some(16_400_000),
            trades: book.then_some(5_321),
            bid_price: if book { vec![16_504_000, 16_503_000] } else { vec![] },
            bid_volume: if book { vec![300, 1_200] } else { vec![] },
            ask_price: if book { vec![16_506_000] } else { vec![] },
            ask_volume: if book { vec![500] } else { vec![] },
            entry_ms: 1,
            entry_seq: 0,
            element: 0,
        }
    }

    #[test]
    fn a_tick_is_written_exactly_in_every_format() {
        let ms = common::time::parse_datetime("2023-02-01T09:30:03.120").unwrap();
        let rows = [row("600519.SH", ms, true), row("000333.SZ", ms + 5, false)];
        let object = serde_json::to_value(TickObject::of(&rows[0])).unwrap();
        let want = r#"{"symbol":"600519.SH","time":"2023-02-01T09:30:03.120+08:00","price":1650.5,"volume":120300,"amount":198612345.5,"cumulative":true,"high":1660,"low":1640,"trades":5321,"bid":[[1650.4,300],[1650.3,1200]],"ask":[[1650.6,500]]}"#;
        assert_eq!(object, serde_json::from_str::<serde_json::Value>(want).unwrap());
        let plain = serde_json::to_value(TickObject::of(&rows[1])).unwrap();
        assert!(plain.get("high").is_none() && plain.get("bid").is_none(), "absent values are left out: {plain}");
        let text = csv(&rows);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], CSV_HEADER.trim_end());
        assert_eq!(
            lines[1],
            "600519.SH,2023-02-01T09:30:03.120+08:00,1650.5,120300,198612345.5,true,1660,1640,5321,1650.4;1650.3,300;1200,1650.6,500"
        );
        assert_eq!(lines[2], "000333.SZ,2023-02-01T09:30:03.125+08:00,1650.5,120300,198612345.5,false,,,,,,,");
        let batch = batch(&schema(), &rows).unwrap();
        assert_eq!(batch.column(2).as_primitive::<Decimal128Type>().value(0), 16_505_000);
        let bids = batch.column(9).as_list::<i32>().value(0);
        assert_eq!(bids.as_primitive::<Decimal128Type>().values().to_vec(), [16_504_000, 16_503_000]);
        assert!(batch.column(6).is_null(1) && batch.column(9).as_list::<i32>().value(1).is_empty());
    }

    #[test]
    fn ticks_come_in_the_order_the_symbols_were_asked() {
        let rows = vec![row("000333.SZ", 1, false), row("600519.SH", 2, false), row("600519.SH", 3, false)];
        let asked: Vec<Symbol> = ["600519.SH", "000333.SZ"].iter().map(|s| s.parse().unwrap()).collect();
        let ordered: Vec<(String, i64)> =
            in_asked_order(rows, &asked).into_iter().map(|r| (r.symbol, r.time_ms)).collect();
        assert_eq!(ordered, [("600519.SH".into(), 2), ("600519.SH".into(), 3), ("000333.SZ".into(), 1)]);
    }
}
