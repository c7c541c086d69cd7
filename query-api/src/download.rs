//! Answers sent as files, chunk by chunk as the query produces them: CSV (a header line, then one
//! row per bar), an Arrow IPC stream or Parquet (see [`crate::columnar`]). Nothing waits for the
//! whole answer: each chunk of bars is encoded, sent and dropped before the next is read.

use arrow_schema::ArrowError;
use axum::body::Body;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::stream::{self, BoxStream, Stream, StreamExt};

use runtime::table::Columns;

use crate::columnar::{Columnar, Encoder};
use crate::error::{AppError, Result};
use crate::params::Format;
use crate::served::Served;

/// `chunks` of bars as a `format` file named `name` (the extension is added), with the columns of
/// `columns` beyond the bar's. A failure after the first byte ends the body early (the client sees a cut
/// transfer), and is logged. JSON is rendered in memory by its callers, never here (given JSON,
/// this writes CSV).
pub fn file(
    format: Format,
    columns: Columns,
    name: &str,
    chunks: impl Stream<Item = Result<Vec<Served>>> + Send + 'static,
) -> Response {
    let body: BoxStream<'static, Result<Bytes>> = match format {
        Format::Csv | Format::Json => csv(columns, chunks).boxed(),
        Format::Arrow => encoded(Columnar::Arrow, columns, chunks),
        Format::Parquet => encoded(Columnar::Parquet, columns, chunks),
    };
    let body = body.inspect(|chunk| {
        if let Err(e) = chunk {
            tracing::warn!(error = %e, "an answer cut short");
        }
    });
    attachment(format, name, Body::from_stream(body))
}

/// `body`, a `format` file named `name` (the extension is added; JSON stands for CSV).
pub fn attachment(format: Format, name: &str, body: Body) -> Response {
    let (content_type, extension) = match format {
        Format::Csv | Format::Json => ("text/csv; charset=utf-8", "csv"),
        Format::Arrow => ("application/vnd.apache.arrow.stream", "arrow"),
        Format::Parquet => ("application/vnd.apache.parquet", "parquet"),
    };
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}.{extension}\"")),
        ],
        body,
    )
        .into_response()
}

/// The CSV header, then each chunk's rows.
fn csv(
    columns: Columns,
    chunks: impl Stream<Item = Result<Vec<Served>>> + Send + 'static,
) -> impl Stream<Item = Result<Bytes>> {
    let header = runtime::table::csv_header(columns);
    let rows = chunks.map(move |chunk| chunk.map(|bars| Bytes::from(csv_rows(&bars, columns))));
    stream::once(async move { Ok(Bytes::from(header)) }).chain(rows)
}

/// `bars` as CSV rows; exact decimals, frames in ISO-8601 with `+08:00`.
fn csv_rows(bars: &[Served], columns: Columns) -> String {
    let mut out = String::with_capacity(bars.len() * 96);
    for served in bars {
        let Ok(bar) = served.bar() else {
            tracing::warn!(frame = %served.frame(), "an unreadable stored bar left out of a CSV answer");
            continue;
        };
        runtime::table::csv_row(&mut out, columns, &bar, served.extra());
    }
    out
}

/// An Arrow or Parquet body: the schema first, a record batch per chunk, the footer last.
fn encoded(
    kind: Columnar,
    columns: Columns,
    chunks: impl Stream<Item = Result<Vec<Served>>> + Send + 'static,
) -> BoxStream<'static, Result<Bytes>> {
    let schema = runtime::table::schema(columns);
    let encoder = match Encoder::new(kind, &schema) {
        Ok(encoder) => encoder,
        Err(e) => return stream::once(async move { Err(arrow(e)) }).boxed(),
    };
    let state = (Some(encoder), chunks.boxed());
    stream::unfold(state, move |(encoder, mut chunks)| {
        let schema = schema.clone();
        async move {
            let mut encoder = encoder?;
            match chunks.next().await {
                Some(Ok(bars)) => {
                    let rows = bars.iter().map(|s| {
                        let bar = s.bar().map_err(|e| ArrowError::ParseError(format!("an unreadable stored bar: {e}")));
                        bar.map(|b| (b, s.extra()))
                    });
                    let bytes = runtime::table::batch(&schema, columns, rows)
                        .and_then(|batch| encoder.write(&batch))
                        .and_then(|head| Ok([head, encoder.flush()?].concat().into()))
                        .map_err(arrow);
                    let next = bytes.is_ok().then_some(encoder);
                    Some((bytes, (next, chunks)))
                }
                Some(Err(e)) => Some((Err(e), (None, chunks))),
                None => Some((encoder.finish().map_err(arrow), (None, chunks))),
            }
        }
    })
    .boxed()
}

pub fn arrow(e: arrow_schema::ArrowError) -> AppError {
    AppError::Encoding(e.to_string())
}
