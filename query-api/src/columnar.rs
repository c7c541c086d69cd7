//! The Arrow IPC stream and Parquet answers of `/api/v1/bars`: one long table `symbol, frame, open,
//! high, low, close, vol, amount` (and `forming` with `include_forming=true`), prices decimal128(18, 4)
//! and the amount decimal128(22, 4) like ClickHouse's columns, `frame` a timestamp in seconds with
//! the Asia/Shanghai zone, `vol` uint64. Written a record batch per symbol as the query's chunks
//! arrive; the bytes written so far are taken out after each batch, so nothing accumulates.

use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, Decimal128Builder, StringBuilder, TimestampSecondBuilder, UInt64Builder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef, TimeUnit};
use bytes::Bytes;
use common::number::to_scaled;
use parquet::arrow::ArrowWriter;
use rust_decimal::Decimal;

use crate::served::Served;

/// Decimals of the price and amount columns.
const SCALE: i8 = 4;
const ZONE: &str = "Asia/Shanghai";

/// The columns of an answer, with `forming` when it may hold the forming bar.
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

/// `bars` as one record batch of `schema`.
pub fn batch(schema: &SchemaRef, bars: &[Served]) -> Result<RecordBatch, ArrowError> {
    let n = bars.len();
    let mut symbol = StringBuilder::with_capacity(n, n * 9);
    let mut frame = TimestampSecondBuilder::with_capacity(n).with_timezone(ZONE);
    let decimals = |precision: u8| Decimal128Builder::with_capacity(n).with_precision_and_scale(precision, SCALE);
    let mut prices = [decimals(18)?, decimals(18)?, decimals(18)?, decimals(18)?];
    let mut amount = decimals(22)?;
    let mut vol = UInt64Builder::with_capacity(n);
    let mut forming = BooleanBuilder::with_capacity(n);
    for served in bars {
        let bar = served.bar().map_err(|e| ArrowError::ParseError(format!("an unreadable stored bar: {e}")))?;
        symbol.append_value(bar.symbol.to_string());
        frame.append_value(bar.frame.epoch_seconds());
        for (column, value) in prices.iter_mut().zip([bar.open, bar.high, bar.low, bar.close]) {
            column.append_value(units(value)?);
        }
        vol.append_value(bar.vol);
        amount.append_value(units(bar.amount)?);
        forming.append_value(served.forming());
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

/// `value` in units of 10^-4, rounded there (stored values have at most four decimals).
fn units(value: Decimal) -> Result<i128, ArrowError> {
    to_scaled(value.round_dp(SCALE as u32), SCALE as u32).map_err(|e| ArrowError::ComputeError(e.to_string()))
}

/// Which columnar file an answer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Columnar {
    /// Arrow IPC stream (`application/vnd.apache.arrow.stream`).
    Arrow,
    /// Parquet (`application/vnd.apache.parquet`), one row group per chunk of symbols.
    Parquet,
}

/// A columnar answer being written: batches in, the bytes they add out.
pub enum Encoder {
    Arrow(arrow_ipc::writer::StreamWriter<Vec<u8>>),
    Parquet(ArrowWriter<Vec<u8>>),
}

impl Encoder {
    pub fn new(kind: Columnar, schema: &SchemaRef) -> Result<Encoder, ArrowError> {
        Ok(match kind {
            Columnar::Arrow => Encoder::Arrow(arrow_ipc::writer::StreamWriter::try_new(Vec::new(), schema)?),
            Columnar::Parquet => Encoder::Parquet(ArrowWriter::try_new(Vec::new(), schema.clone(), None)?),
        })
    }

    /// Writes `batch` and returns the bytes written since the last call (the schema first).
    pub fn write(&mut self, batch: &RecordBatch) -> Result<Bytes, ArrowError> {
        match self {
            Encoder::Arrow(w) => {
                w.write(batch)?;
                Ok(std::mem::take(w.get_mut()).into())
            }
            Encoder::Parquet(w) => {
                w.write(batch)?;
                Ok(Bytes::new())
            }
        }
    }

    /// Ends a chunk: Parquet closes its row group and hands out its bytes.
    pub fn flush(&mut self) -> Result<Bytes, ArrowError> {
        match self {
            Encoder::Arrow(_) => Ok(Bytes::new()),
            Encoder::Parquet(w) => {
                w.flush()?;
                Ok(std::mem::take(w.inner_mut()).into())
            }
        }
    }

    /// The last bytes: the end-of-stream marker, or Parquet's footer.
    pub fn finish(self) -> Result<Bytes, ArrowError> {
        match self {
            Encoder::Arrow(mut w) => {
                w.finish()?;
                Ok(std::mem::take(w.get_mut()).into())
            }
            Encoder::Parquet(mut w) => {
                w.finish()?;
                Ok(std::mem::take(w.inner_mut()).into())
            }
        }
    }
}
