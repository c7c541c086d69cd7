//! The Arrow IPC stream and Parquet answers of `/api/v1/bars`: the long table of
//! [`runtime::table`] (with `forming` when `include_forming=true`), written a record batch per
//! symbol as the query's chunks arrive; the bytes written so far are taken out after each batch,
//! so nothing accumulates.

use arrow_array::RecordBatch;
use arrow_schema::{ArrowError, SchemaRef};
use bytes::Bytes;
use parquet::arrow::ArrowWriter;

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
