//! The long table of bars every file tickbar writes has: `symbol, frame, open, high, low, close,
//! vol, amount, trades, vwap` (`trades` and `vwap` empty where the bar has none; daily bars then
//! `pre_close, paused, high_limit, low_limit`; and, when asked, `source`, `vendor` or `live`, then `forming`), as Arrow record batches (prices decimal128(18, 4) and
//! the amount decimal128(22, 4) like ClickHouse's columns, `frame` a timestamp in seconds with the
//! Asia/Shanghai zone, `vol` uint64) and as CSV rows (exact decimals, ISO-8601 frames with
//! `+08:00`). The query API's downloads and `producer build`'s files are this one shape.

use std::fmt::Write;
use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, Decimal128Builder, StringBuilder, TimestampSecondBuilder, UInt64Builder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef, TimeUnit};
use common::instrument::Daily;
use common::money::SCALE as MONEY_SCALE;
use common::{Bar, Source};

/// Decimals of the price and amount columns: those prices and amounts hold.
const SCALE: i8 = MONEY_SCALE as i8;
const ZONE: &str = "Asia/Shanghai";

/// The columns beyond the bar's a table has.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Columns {
    /// `source`: where each bar came from (the query API's answers).
    pub source: bool,
    /// `forming`: whether each bar is still forming (when the table may hold one).
    pub forming: bool,
    /// `pre_close, paused, high_limit, low_limit`: the daily bar's own fields.
    pub daily: bool,
}

/// A row's values of the [`Columns`] beyond the bar's (those of columns the table lacks are
/// ignored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extra {
    pub source: Source,
    pub forming: bool,
    pub daily: Daily,
}

impl Extra {
    /// A closed bar built live: what `producer build` writes (its files have neither column).
    pub const LIVE: Extra = Extra {
        source: Source::Live,
        forming: false,
        daily: Daily { pre_close: None, paused: false, high_limit: None, low_limit: None },
    };
}

/// The columns, with `columns`' beyond the bar's.
pub fn schema(columns: Columns) -> SchemaRef {
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
        Field::new("trades", DataType::UInt64, true),
        Field::new("vwap", DataType::Decimal128(18, SCALE), true),
    ];
    if columns.daily {
        fields.push(price("pre_close").with_nullable(true));
        fields.push(Field::new("paused", DataType::Boolean, false));
        fields.push(price("high_limit").with_nullable(true));
        fields.push(price("low_limit").with_nullable(true));
    }
    if columns.source {
        fields.push(Field::new("source", DataType::Utf8, false));
    }
    if columns.forming {
        fields.push(Field::new("forming", DataType::Boolean, false));
    }
    Arc::new(Schema::new(fields))
}

/// `bars` (each with its [`Extra`]) as one record batch of `schema`, a [`schema`] of `columns`.
pub fn batch<I>(schema: &SchemaRef, columns: Columns, bars: I) -> Result<RecordBatch, ArrowError>
where
    I: ExactSizeIterator<Item = Result<(Bar, Extra), ArrowError>>,
{
    let n = bars.len();
    let mut symbol = StringBuilder::with_capacity(n, n * 9);
    let mut frame = TimestampSecondBuilder::with_capacity(n).with_timezone(ZONE);
    let decimals = |precision: u8| Decimal128Builder::with_capacity(n).with_precision_and_scale(precision, SCALE);
    let mut prices = [decimals(18)?, decimals(18)?, decimals(18)?, decimals(18)?];
    let mut amount = decimals(22)?;
    let mut vwap = decimals(18)?;
    let (mut vol, mut trades) = (UInt64Builder::with_capacity(n), UInt64Builder::with_capacity(n));
    let mut source = StringBuilder::with_capacity(n, n * 6);
    let mut forming = BooleanBuilder::with_capacity(n);
    let mut daily_prices = [decimals(18)?, decimals(18)?, decimals(18)?];
    let mut paused = BooleanBuilder::with_capacity(n);
    let mut name = String::new();
    for bar in bars {
        let (bar, extra) = bar?;
        name.clear();
        let _ = write!(name, "{}", bar.symbol);
        symbol.append_value(&name);
        frame.append_value(bar.frame.epoch_seconds());
        for (column, value) in prices.iter_mut().zip([bar.open, bar.high, bar.low, bar.close]) {
            column.append_value(value.units().into());
        }
        vol.append_value(bar.vol);
        amount.append_value(bar.amount.units());
        trades.append_option(bar.trades.map(u64::from));
        vwap.append_option(bar.vwap().map(|p| p.units().into()));
        source.append_value(extra.source.as_str());
        forming.append_value(extra.forming);
        let d = extra.daily;
        for (column, value) in daily_prices.iter_mut().zip([d.pre_close, d.high_limit, d.low_limit]) {
            column.append_option(value.map(|p| p.units().into()));
        }
        paused.append_value(d.paused);
    }
    let [mut open, mut high, mut low, mut close] = prices;
    let mut arrays: Vec<ArrayRef> = vec![
        Arc::new(symbol.finish()),
        Arc::new(frame.finish()),
        Arc::new(open.finish()),
        Arc::new(high.finish()),
        Arc::new(low.finish()),
        Arc::new(close.finish()),
        Arc::new(vol.finish()),
        Arc::new(amount.finish()),
        Arc::new(trades.finish()),
        Arc::new(vwap.finish()),
    ];
    if columns.daily {
        let [mut pre_close, mut high_limit, mut low_limit] = daily_prices;
        arrays.push(Arc::new(pre_close.finish()));
        arrays.push(Arc::new(paused.finish()));
        arrays.push(Arc::new(high_limit.finish()));
        arrays.push(Arc::new(low_limit.finish()));
    }
    if columns.source {
        arrays.push(Arc::new(source.finish()));
    }
    if columns.forming {
        arrays.push(Arc::new(forming.finish()));
    }
    RecordBatch::try_new(schema.clone(), arrays)
}

/// The CSV header line of `columns`.
pub fn csv_header(columns: Columns) -> String {
    let mut header = String::from("symbol,frame,open,high,low,close,vol,amount,trades,vwap");
    if columns.daily {
        header.push_str(",pre_close,paused,high_limit,low_limit");
    }
    if columns.source {
        header.push_str(",source");
    }
    if columns.forming {
        header.push_str(",forming");
    }
    header.push('\n');
    header
}

/// Appends `bar`'s CSV row of `columns` to `out`, with `extra`'s values of them.
pub fn csv_row(out: &mut String, columns: Columns, bar: &Bar, extra: Extra) {
    let Bar { symbol, frame, open, high, low, close, vol, amount, trades } = bar;
    let _ = write!(out, "{symbol},{},{open},{high},{low},{close},{vol},{amount},", frame.to_iso8601());
    if let Some(trades) = trades {
        let _ = write!(out, "{trades}");
    }
    out.push(',');
    if let Some(vwap) = bar.vwap() {
        let _ = write!(out, "{vwap}");
    }
    if columns.daily {
        let d = extra.daily;
        let price = |p: Option<common::Price>| p.map(|p| p.to_string()).unwrap_or_default();
        let _ = write!(out, ",{},{},{},{}", price(d.pre_close), d.paused, price(d.high_limit), price(d.low_limit));
    }
    if columns.source {
        let _ = write!(out, ",{}", extra.source);
    }
    if columns.forming {
        let _ = write!(out, ",{}", extra.forming);
    }
    out.push('\n');
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
        let bare = batch(&schema(Columns::default()), Columns::default(), [Ok((bar(), Extra::LIVE))].into_iter());
        let bare = bare.unwrap();
        assert_eq!(bare.num_columns(), 10);
        assert_eq!(bare.column(2).as_primitive::<Decimal128Type>().value(0), 16_505_000);
        assert_eq!(bare.column(7).as_primitive::<Decimal128Type>().value(0), 1_986_123_455_000);
        let all = Columns { source: true, forming: true, daily: false };
        let extra = Extra { source: Source::Vendor, forming: true, daily: Daily::default() };
        let batch = batch(&schema(all), all, [Ok((bar(), extra))].into_iter()).unwrap();
        assert_eq!(
            (batch.column(10).as_string::<i32>().value(0), batch.column(11).as_boolean().value(0)),
            ("vendor", true)
        );
        assert!(batch.column(8).is_null(0), "no trade count");
        assert_eq!(batch.column(9).as_primitive::<Decimal128Type>().value(0), 16_509_754, "vwap 1650.9754");
        let mut row = String::new();
        csv_row(&mut row, all, &bar(), extra);
        assert_eq!(
            row,
            "600519.SH,2026-11-19T09:31:00+08:00,1650.5,1652.3,1649.9,1651,120300,198612345.5,,1650.9754,vendor,true\n"
        );
        assert_eq!(csv_header(all).matches(',').count(), row.matches(',').count());
    }
}
