//! The tick files `producer build` reads, as blocks of rows: CSV (plain, or gzipped when the name
//! ends `.gz`) in blocks of whole lines, Parquet in record batches; and a block's rows parsed into
//! ticks by [`TickTable`], the live path's field rules, each routed to the shard of its symbol.

use std::fmt::Write as _;
use std::fs::File;
use std::hash::BuildHasher;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{ArrayRef, RecordBatch};
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_schema::{ArrowError, DataType, TimeUnit};
use common::tick::{DeadReason, TickTable};
use common::Tick;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};

use crate::error::{Error, Result};

/// Bytes of CSV in one block, about: big enough that a block is worth a thread, small enough that
/// a window of them stays a few tens of MB.
const BLOCK_BYTES: u64 = 4 << 20;
/// Parquet rows in one block.
const BATCH_ROWS: usize = 65_536;

/// Which files a path stands for: a file itself, or the tick files (`.csv`, `.csv.gz`,
/// `.parquet`) under a directory, in name order.
pub fn expand(path: &Path) -> Result<Vec<PathBuf>> {
    let io = |source| Error::File { path: path.to_owned(), source };
    if !path.is_dir() {
        std::fs::metadata(path).map_err(io)?;
        return Ok(vec![path.to_owned()]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).map_err(io)? {
        let entry = entry.map_err(io)?.path();
        if entry.is_dir() {
            files.extend(expand(&entry)?);
        } else if Format::of(&entry).is_some() {
            files.push(entry);
        }
    }
    files.sort();
    Ok(files)
}

/// How a file is read, by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    CsvGz,
    Parquet,
}

impl Format {
    fn of(path: &Path) -> Option<Format> {
        let name = path.file_name()?.to_str()?.to_ascii_lowercase();
        if name.ends_with(".csv.gz") {
            Some(Format::CsvGz)
        } else if name.ends_with(".csv") {
            Some(Format::Csv)
        } else if name.ends_with(".parquet") {
            Some(Format::Parquet)
        } else {
            None
        }
    }
}

/// Some rows of a file, in file order.
pub enum Block {
    /// Whole CSV lines, the first being line `first_line` of the file.
    Csv { first_line: u64, bytes: Vec<u8> },
    /// A Parquet record batch, the first row being data row `first_row` (from 1).
    Parquet { first_row: u64, batch: RecordBatch },
}

/// An open tick file's rows, block by block; [`open`] gives them with what the header says.
pub struct Blocks {
    path: PathBuf,
    rows: Rows,
    /// File bytes read so far.
    read: Arc<AtomicU64>,
}

enum Rows {
    Csv { reader: Box<dyn BufRead + Send>, line: u64 },
    Parquet { reader: ParquetRecordBatchReader, row: u64, rows: u64, bytes: u64 },
}

/// Opens a tick file: the table its header describes, and its rows.
pub fn open(path: &Path) -> Result<(TickTable, Blocks)> {
    let io = |source| Error::File { path: path.to_owned(), source };
    let file = File::open(path).map_err(io)?;
    let format = Format::of(path).ok_or_else(|| input(path, 0, "a tick file is .csv, .csv.gz or .parquet".into()))?;
    let read = Arc::new(AtomicU64::new(0));
    let (names, rows) = match format {
        Format::Csv | Format::CsvGz => {
            let counted = Counted { inner: file, read: read.clone() };
            let mut reader: Box<dyn BufRead + Send> = if format == Format::CsvGz {
                Box::new(BufReader::with_capacity(1 << 20, flate2::read::MultiGzDecoder::new(counted)))
            } else {
                Box::new(BufReader::with_capacity(1 << 20, counted))
            };
            let mut header = String::new();
            reader.read_line(&mut header).map_err(io)?;
            (csv_cells(header.trim_start_matches('\u{feff}').as_bytes()), Rows::Csv { reader, line: 2 })
        }
        Format::Parquet => {
            let bytes = file.metadata().map_err(io)?.len();
            let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| input(path, 0, e.to_string()))?;
            let names = builder.schema().fields().iter().map(|f| f.name().clone()).collect();
            let rows = builder.metadata().file_metadata().num_rows().max(1) as u64;
            let reader = builder.with_batch_size(BATCH_ROWS).build().map_err(|e| input(path, 0, e.to_string()))?;
            (names, Rows::Parquet { reader, row: 1, rows, bytes })
        }
    };
    let table = TickTable::new(names.iter().map(String::as_str)).map_err(|e| input(path, 1, e.to_string()))?;
    Ok((table, Blocks { path: path.to_owned(), rows, read }))
}

impl Blocks {
    /// The next block of rows, or `None` at the end of the file.
    pub fn next_block(&mut self) -> Result<Option<Block>> {
        match &mut self.rows {
            Rows::Csv { reader, line } => {
                let io = |source| Error::File { path: self.path.clone(), source };
                let mut bytes = Vec::with_capacity(BLOCK_BYTES as usize + 4096);
                reader.by_ref().take(BLOCK_BYTES).read_to_end(&mut bytes).map_err(io)?;
                if bytes.last().is_some_and(|b| *b != b'\n') {
                    reader.read_until(b'\n', &mut bytes).map_err(io)?;
                }
                if bytes.is_empty() {
                    return Ok(None);
                }
                let first_line = *line;
                *line += bytes.iter().filter(|b| **b == b'\n').count() as u64;
                Ok(Some(Block::Csv { first_line, bytes }))
            }
            Rows::Parquet { reader, row, rows, bytes } => match reader.next() {
                None => Ok(None),
                Some(Err(e)) => Err(input(&self.path, *row, e.to_string())),
                Some(Ok(batch)) => {
                    let first_row = *row;
                    *row += batch.num_rows() as u64;
                    self.read.store(*bytes * (*row - 1).min(*rows) / *rows, Ordering::Relaxed);
                    Ok(Some(Block::Parquet { first_row, batch }))
                }
            },
        }
    }

    /// File bytes read so far (for Parquet, in proportion to the rows read).
    pub fn progress(&self) -> u64 {
        self.read.load(Ordering::Relaxed)
    }
}

/// A reader counting the bytes read through it.
struct Counted<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// A row that is no tick: where it is and why.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub reason: DeadReason,
    /// The CSV line, or the Parquet data row (from 1).
    pub row: u64,
    pub detail: String,
}

/// A block's rows as ticks, one list per shard in file order, and the rows refused.
#[derive(Default)]
pub struct Parsed {
    pub rows: u64,
    pub ticks: Vec<Vec<Tick>>,
    pub refused: Vec<Refusal>,
}

impl Parsed {
    fn take(&mut self, row: u64, tick: std::result::Result<Tick, common::Error>) {
        self.rows += 1;
        match tick {
            Ok(tick) => {
                let shard = shard_of(&tick, self.ticks.len());
                self.ticks[shard].push(tick);
            }
            Err(e) => self.refuse(row, e.reason(), e.to_string()),
        }
    }

    fn refuse(&mut self, row: u64, reason: DeadReason, detail: String) {
        self.refused.push(Refusal { reason, row, detail });
    }
}

/// Parses `block` by `table`, each tick into the list of its symbol's shard among `shards`.
pub fn parse(block: &Block, table: &TickTable, shards: usize) -> Parsed {
    let mut out = Parsed { ticks: vec![Vec::new(); shards], ..Parsed::default() };
    match block {
        Block::Csv { first_line, bytes } => {
            let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(&bytes[..]);
            let mut record = csv::StringRecord::new();
            loop {
                let line = first_line + reader.position().line().saturating_sub(1);
                match reader.read_record(&mut record) {
                    Ok(false) => break,
                    Ok(true) if record.iter().all(str::is_empty) => {}
                    Ok(true) => out.take(line, table.tick(record.iter())),
                    Err(e) => {
                        out.rows += 1;
                        let utf8 = matches!(e.kind(), csv::ErrorKind::Utf8 { .. });
                        out.refuse(line, DeadReason::BadRow, e.to_string());
                        if !utf8 {
                            break;
                        }
                    }
                }
            }
        }
        Block::Parquet { first_row, batch } => parse_batch(&mut out, *first_row, batch, table),
    }
    out
}

/// The rows of a Parquet batch, each cell as the text Arrow displays it (a null as nothing).
fn parse_batch(out: &mut Parsed, first_row: u64, batch: &RecordBatch, table: &TickTable) {
    let refuse = |out: &mut Parsed, e: ArrowError| {
        out.rows += batch.num_rows() as u64;
        out.refuse(first_row, DeadReason::BadRow, format!("a column tickbar cannot read: {e}"));
    };
    let options = FormatOptions::default();
    let columns = match batch.columns().iter().map(epoch_ms_of_times).collect::<std::result::Result<Vec<_>, _>>() {
        Ok(columns) => columns,
        Err(e) => return refuse(out, e),
    };
    let formatters = columns.iter().map(|c| ArrayFormatter::try_new(c.as_ref(), &options));
    let formatters = match formatters.collect::<std::result::Result<Vec<_>, _>>() {
        Ok(formatters) => formatters,
        Err(e) => return refuse(out, e),
    };
    let mut cells = vec![String::new(); formatters.len()];
    for r in 0..batch.num_rows() {
        for (cell, formatter) in cells.iter_mut().zip(&formatters) {
            cell.clear();
            let _ = write!(cell, "{}", formatter.value(r));
        }
        out.take(first_row + r as u64, table.tick(cells.iter().map(String::as_str)));
    }
}

/// A timestamp column as epoch milliseconds (the digits a tick's `time` may be), any other column
/// as it is. A zoned timestamp is an instant; a naive one is read as market time (UTC+8), the way
/// dataframe tools store a Beijing wall clock.
fn epoch_ms_of_times(column: &ArrayRef) -> std::result::Result<ArrayRef, ArrowError> {
    let DataType::Timestamp(unit, zone) = column.data_type() else { return Ok(column.clone()) };
    let raw = arrow_cast::cast(column, &DataType::Int64)?;
    let naive_shift = if zone.is_none() { MARKET_OFFSET_MS } else { 0 };
    let ms = raw.as_primitive::<Int64Type>().unary::<_, Int64Type>(|v| {
        let ms = match unit {
            TimeUnit::Second => v.saturating_mul(1000),
            TimeUnit::Millisecond => v,
            TimeUnit::Microsecond => v.div_euclid(1000),
            TimeUnit::Nanosecond => v.div_euclid(1_000_000),
        };
        ms.saturating_sub(naive_shift)
    });
    Ok(Arc::new(ms))
}

/// Asia/Shanghai's offset from UTC; it has kept no summer time since 1991.
const MARKET_OFFSET_MS: i64 = 8 * 3_600_000;

/// The shard a tick's symbol belongs to: every tick of a symbol goes to one aggregator.
pub fn shard_of(tick: &Tick, shards: usize) -> usize {
    (rustc_hash::FxBuildHasher.hash_one(tick.symbol) % shards as u64) as usize
}

/// The cells of one CSV line (the header).
fn csv_cells(line: &[u8]) -> Vec<String> {
    let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(line);
    let mut record = csv::StringRecord::new();
    match reader.read_record(&mut record) {
        Ok(true) => record.iter().map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

fn input(path: &Path, line: u64, message: String) -> Error {
    Error::Input { path: path.to_owned(), line, message }
}
