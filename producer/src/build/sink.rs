//! Where `producer build` writes bars: ClickHouse, as live bars (`live_bars` and `bars`, with a
//! live version: a rebuilt day replaces the live bars there, never a vendor's; at the end the
//! history version of every symbol is bumped in Redis, so the query API's cache reads them again),
//! or one file per period in a directory (`bars_{N}min.parquet` or `.csv`, the long table of
//! [`runtime::table`]).

use parking_lot::Mutex;
use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use arrow_array::RecordBatch;
use arrow_schema::ArrowError;
use common::Period;
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use runtime::clickhouse::BarRow;
use runtime::keys::Keys;
use runtime::table::{Columns, Extra};
use tokio::runtime::Handle;

use crate::error::{Error, Result};

/// Rows of a Parquet row group: what a writer buffers, at most.
const ROW_GROUP: usize = 131_072;
/// Tries of one INSERT (or of the schema) before the file (or the build) fails, the waits between
/// them doubling from the first: about a minute (0.5 + 1 + ... + 32 s) of ClickHouse away.
const TRIES: u32 = 8;
const FIRST_WAIT: Duration = Duration::from_millis(500);
const INSERT_TIMEOUT: Duration = Duration::from_secs(300);

/// The file format of [`Sink::files`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    Parquet,
    Csv,
}

/// A destination of built bars; written from any thread.
pub enum Sink {
    ClickHouse(Box<ClickHouseSink>),
    Files { dir: PathBuf, format: FileFormat, writers: Mutex<BTreeMap<Period, Writer>> },
}

/// ClickHouse's bars table, the rows' version, and the versions to bump at the end.
pub struct ClickHouseSink {
    client: clickhouse::Client,
    runtime: Handle,
    version: u64,
    versions: Versions,
}

/// The Redis hash of history versions a build into ClickHouse bumps at its end.
pub struct Versions {
    pub redis: runtime::redis::Connection,
    pub keys: Keys,
}

/// One period's open file.
pub enum Writer {
    Parquet(Box<ArrowWriter<File>>),
    Csv(BufWriter<File>),
}

impl Sink {
    /// ClickHouse's bar tables of `database` (created when missing); rows carry `version`, a live one.
    pub fn clickhouse(
        client: clickhouse::Client,
        database: &str,
        runtime: Handle,
        version: u64,
        versions: Versions,
    ) -> Result<Sink> {
        runtime.block_on(retried("schema", || async {
            runtime::schema::apply_schema(&client, database).await.map(drop)
        }))?;
        let client = client.with_database(database);
        Ok(Sink::ClickHouse(Box::new(ClickHouseSink { client, runtime, version, versions })))
    }

    /// Files in `dir` (created when missing).
    pub fn files(dir: &Path, format: FileFormat) -> Result<Sink> {
        std::fs::create_dir_all(dir).map_err(|source| Error::File { path: dir.to_owned(), source })?;
        let writers = Mutex::new(BTreeMap::new());
        Ok(Sink::Files { dir: dir.to_owned(), format, writers })
    }

    /// Writes `rows`, bars of one file: one INSERT (the caller bounds how many), or a batch per
    /// period's file.
    pub fn write(&self, mut rows: Vec<BarRow>) -> Result<()> {
        match self {
            Sink::ClickHouse(sink) => {
                let ClickHouseSink { client, runtime, version, .. } = sink.as_ref();
                rows.iter_mut().for_each(|r| r.version = *version);
                runtime.block_on(retried("insert", || runtime::clickhouse::insert_live(client, &rows, INSERT_TIMEOUT)))
            }
            Sink::Files { dir, format, writers } => {
                let mut by_period: BTreeMap<u16, Vec<&BarRow>> = BTreeMap::new();
                rows.iter().for_each(|r| by_period.entry(r.period).or_default().push(r));
                let mut encoded = Vec::new();
                for (minutes, ours) in by_period {
                    let period = Period::from_minutes(minutes)?;
                    encoded.push((period, Encoded::new(*format, dir, &ours)?));
                }
                let mut writers = writers.lock();
                for (period, encoded) in encoded {
                    let writer = match writers.entry(period) {
                        Entry::Occupied(w) => w.into_mut(),
                        Entry::Vacant(empty) => empty.insert(Writer::create(dir, *format, period)?),
                    };
                    writer.write(dir, encoded)?;
                }
                Ok(())
            }
        }
    }

    /// Ends the files (Parquet's footer), or bumps the history version of every symbol: a Redis
    /// that does not answer leaves the query API's cached answers to their `cache_ttl_ms`.
    pub fn finish(&self) -> Result<()> {
        let (dir, writers) = match self {
            Sink::Files { dir, writers, .. } => (dir, writers),
            Sink::ClickHouse(sink) => {
                if let Err(e) = sink.runtime.block_on(bump_all(&sink.versions)) {
                    tracing::warn!(error = %e, "the history versions were not bumped: cached answers expire by their TTL");
                }
                return Ok(());
            }
        };
        let writers = std::mem::take(&mut *writers.lock());
        for writer in writers.into_values() {
            match writer {
                Writer::Parquet(w) => w.close().map(drop).map_err(|e| arrow_error(dir, e))?,
                Writer::Csv(mut w) => w.flush().map_err(|source| Error::File { path: dir.clone(), source })?,
            }
        }
        Ok(())
    }
}

impl Writer {
    fn create(dir: &Path, format: FileFormat, period: Period) -> Result<Writer> {
        let extension = if format == FileFormat::Parquet { "parquet" } else { "csv" };
        let path = dir.join(format!("bars_{}min.{extension}", period.minutes()));
        let file = File::create(&path).map_err(|source| Error::File { path: path.clone(), source })?;
        Ok(match format {
            FileFormat::Parquet => {
                let properties = WriterProperties::builder().set_max_row_group_size(ROW_GROUP).build();
                let writer = ArrowWriter::try_new(file, runtime::table::schema(Columns::default()), Some(properties));
                Writer::Parquet(Box::new(writer.map_err(|e| arrow_error(&path, e))?))
            }
            FileFormat::Csv => {
                let mut w = BufWriter::with_capacity(1 << 20, file);
                w.write_all(runtime::table::csv_header(Columns::default()).as_bytes())
                    .map_err(|source| Error::File { path: path.clone(), source })?;
                Writer::Csv(w)
            }
        })
    }

    fn write(&mut self, dir: &Path, encoded: Encoded) -> Result<()> {
        match (self, encoded) {
            (Writer::Parquet(w), Encoded::Batch(batch)) => w.write(&batch).map_err(|e| arrow_error(dir, e)),
            (Writer::Csv(w), Encoded::Text(text)) => {
                w.write_all(text.as_bytes()).map_err(|source| Error::File { path: dir.to_owned(), source })
            }
            _ => unreachable!("a sink encodes in its own format"),
        }
    }
}

/// Rows of one period encoded for a file, outside the writers' lock.
enum Encoded {
    Batch(RecordBatch),
    Text(String),
}

impl Encoded {
    fn new(format: FileFormat, dir: &Path, rows: &[&BarRow]) -> Result<Encoded> {
        let bars = rows.iter().map(|r| r.bar().map_err(Error::Domain));
        match format {
            FileFormat::Parquet => {
                let schema = runtime::table::schema(Columns::default());
                let bars =
                    bars.map(|b| b.map(|b| (b, Extra::LIVE)).map_err(|e| ArrowError::ComputeError(e.to_string())));
                let batch = runtime::table::batch(&schema, Columns::default(), bars);
                Ok(Encoded::Batch(batch.map_err(|e| arrow_error(dir, e))?))
            }
            FileFormat::Csv => {
                let mut text = String::with_capacity(rows.len() * 96);
                for bar in bars {
                    runtime::table::csv_row(&mut text, Columns::default(), &bar?, Extra::LIVE);
                }
                Ok(Encoded::Text(text))
            }
        }
    }
}

async fn bump_all(versions: &Versions) -> redis::RedisResult<()> {
    runtime::redis::bump_all_history(&mut versions.redis.clone(), &versions.keys).await
}

/// `what` (an INSERT, the schema), tried again with doubling waits while ClickHouse fails it.
async fn retried<F, Fut>(what: &str, mut attempt_once: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = clickhouse::error::Result<()>>,
{
    let mut wait = FIRST_WAIT;
    let mut attempt = 1;
    loop {
        match attempt_once().await {
            Ok(()) => return Ok(()),
            Err(e) if attempt < TRIES => {
                let wait_ms = wait.as_millis() as u64;
                tracing::warn!(error = %e, attempt, wait_ms, "clickhouse {what} failed; trying again");
                tokio::time::sleep(wait).await;
                wait *= 2;
                attempt += 1;
            }
            Err(e) => return Err(Error::Store(format!("clickhouse {what} failed {TRIES} times: {e}"))),
        }
    }
}

fn arrow_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Input { path: path.to_owned(), line: 0, message: format!("parquet: {e}") }
}
