//! The long table of bars every file tickbar writes has: `symbol, frame, open, high, low, close,
//! vol, amount` (and `forming` when asked), as Arrow record batches (prices decimal128(18, 4) and
//! the amount decimal128(22, 4) like ClickHouse's columns, `frame` a timestamp in seconds with the
//! Asia/Shanghai zone, `vol` uint64) and as CSV rows (exact decimals, ISO-8601 frames with
//! `+08:00`). The query API's downloads and `producer build`'s files are this one shape.

use std::fmt::Write;
use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, Decimal128Builder, StringBuilder, TimestampSecondBuilder, UInt64Builder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef, TimeUnit};
use common::money::SCALE as MONEY_SCALE;
use common::Bar;

/// Decimals of the price and amount columns: those prices and amounts hold.
const SCALE: i8 = MONEY_SCALE as i8;
const ZONE: &str = "Asia/Shanghai";

/// The columns, with `forming` when the table may hold a forming bar.
pub fn schema(forming: bool) -> SchemaRef {
    let price = |name: &str| Field::new(name, DataType::Decimal128(18, SCALE), false);
    let mut fields = vec![
        Field::new("symbol", DataType::Utf8, false),
        Field::new("frame", DataType::Timestamp(TimeUnit::Second, Some(ZONE.into())), false),
        price("open"),
        price("high"),
        price("low"),
        price("close"),
        Field::new("vol", DataType::UInt64, false),
        Field::new("amount", DataType::Decimal128(22, SCALE), false),
    ];
    if forming {
        fields.push(Field::new("forming", DataType::Boolean, false));
    }
    Arc::new(Schema::new(fields))
}

/// `bars` (each with whether it is forming) as one record batch of `schema`.
pub fn batch<I>(schema: &SchemaRef, bars: I) -> Result<RecordBatch, ArrowError>
where
    I: ExactSizeIterator<Item = Result<(Bar, bool), ArrowError>>,
{
    let n = bars.len();
    let mut symbol = StringBuilder::with_capacity(n, n * 9);
    let mut frame = TimestampSecondBuilder::with_capacity(n).with_timezone(ZONE);
    let decimals = |precision: u8| Decimal128Builder::with_capacity(n).with_precision_and_scale(precision, SCALE);
    let mut prices = [decimals(18)?, decimals(18)?, decimals(18)?, decimals(18)?];
    let mut amount = decimals(22)?;
    let mut vol = UInt64Builder::with_capacity(n);
    let mut forming = BooleanBuilder::with_capacity(n);
    let mut name = String::new();
    for bar in bars {
        let (bar, is_forming) = bar?;
        name.clear();
        let _ = write!(name, "{}", bar.symbol);
        symbol.append_value(&name);
        frame.append_value(bar.frame.epoch_seconds());
        for (column, value) in prices.iter_mut().zip([bar.open, bar.high, bar.low, bar.close]) {
            column.append_value(value.units().into());
        }
        vol.append_value(bar.vol);
        amount.append_value(bar.amount.units());
        forming.append_value(is_forming);
    }
    let [mut open, mut high, mut low, mut close] = prices;
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(symbol.finish()),
        Arc::new(frame.finish()),
        Arc::new(open.finish()),
        Arc::new(high.finish()),
        Arc::new(low.finish()),
        Arc::new(close.finish()),
        Arc::new(vol.finish()),
        Arc::new(amount.finish()),
    ];
    if schema.fields().len() > columns.len() {
        columns.push(Arc::new(forming.finish()));
    }
    RecordBatch::try_new(schema.clone(), columns)
}

/// The CSV header line, with `forming` when the rows say it.
pub fn csv_header(forming: bool) -> &'static str {
    if forming {
        "symbol,frame,open,high,low,close,vol,amount,forming\n"
    } else {
        "symbol,frame,open,high,low,close,vol,amount\n"
    }
}

/// Appends `bar`'s CSV row to `out`, ending `,true`/`,false` when `forming` is given.
pub fn csv_row(out: &mut String, bar: &Bar, forming: Option<bool>) {
    let Bar { symbol, frame, open, high, low, close, vol, amount } = bar;
    let _ = write!(out, "{symbol},{},{open},{high},{low},{close},{vol},{amount}", frame.to_iso8601());
    out.push_str(match forming {
        None => "\n",
        Some(false) => ",false\n",
        Some(true) => ",true\n",
    });
}

#[cfg(test)]
mod tests {
    use arrow_array::cast::AsArray;
    use arrow_array::types::Decimal128Type;

    use super::*;

    fn bar() -> Bar {
        serde_json::from_str(
            r#"{"symbol":"600519.SH","frame":"2026-11-19 09:31:00","open":1650.5,"high":1652.3,"low":1649.9,"close":1651,"vol":120300,"amount":198612345.5}"#,
        )
        .unwrap()
    }

    #[test]
    fn a_batch_holds_the_bar_in_fixed_point_and_a_row_in_exact_decimals() {
        let schema = schema(false);
        let batch = batch(&schema, [Ok((bar(), false))].into_iter()).unwrap();
        assert_eq!(batch.num_columns(), 8);
        assert_eq!(batch.column(2).as_primitive::<Decimal128Type>().value(0), 16_505_000);
        assert_eq!(batch.column(7).as_primitive::<Decimal128Type>().value(0), 1_986_123_455_000);
        let mut row = String::new();
        csv_row(&mut row, &bar(), Some(true));
        assert_eq!(row, "600519.SH,2026-11-19T09:31:00+08:00,1650.5,1652.3,1649.9,1651,120300,198612345.5,true\n");
        assert_eq!(csv_header(true).matches(',').count(), row.matches(',').count());
    }
}
