//! `producer build --archive`: the ticks of some days (and symbols) read back from ClickHouse's tick
//! archive (`tickbar.ticks`) in the order the producer took them (stream entry, then place in the
//! entry), and fed to the same shards and aggregators as a file's ticks, so a rebuild under the
//! live settings gives the live bars and one under another layout gives that layout's.

use chrono::NaiveDate;
use common::{Symbol, Tick};
use indicatif::ProgressBar;
use rayon::prelude::*;
use runtime::archive::TickRow;
use runtime::keys::ticks_table;
use tokio::runtime::Handle;

use super::{write_shard, BuildReport, FileReport, Options, Shard};
use crate::build::sink::Sink;
use crate::error::{Error, Result};

/// Archived ticks read, and applied, at a time.
const BATCH: usize = 200_000;

/// Which archived ticks a build reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// The market dates `from..=to`.
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Only these symbols; empty: every symbol.
    pub symbols: Vec<Symbol>,
}

/// Builds the bars of the archived ticks `selection` names (in `database`, through `client` on
/// `runtime`) into `sink`, `progress` counting ticks.
pub fn build(
    client: &clickhouse::Client,
    database: &str,
    runtime: &Handle,
    selection: &Selection,
    options: &Options,
    sink: &Sink,
    progress: &ProgressBar,
) -> Result<BuildReport> {
    let started = std::time::Instant::now();
    let (filter, symbols) = where_clause(selection);
    let table = ticks_table(database);
    let count_sql = format!("SELECT count() FROM {table} WHERE {filter}");
    let bind = |q: clickhouse::query::Query| {
        let q = q.bind(selection.from.to_string()).bind(selection.to.to_string());
        if symbols.is_empty() {
            q
        } else {
            q.bind(symbols.clone())
        }
    };
    let total: u64 = runtime.block_on(bind(client.query(&count_sql)).fetch_one()).map_err(store)?;
    progress.set_length(total);
    let sql = format!("SELECT ?fields FROM {table} FINAL WHERE {filter} ORDER BY entry_ms, entry_seq, element");
    let mut cursor = bind(client.query(&sql)).fetch::<TickRow>().map_err(store)?;
    let mut shards: Vec<Shard> = (0..options.threads).map(|_| Shard::new(options)).collect();
    let mut report = FileReport::default();
    loop {
        let rows = runtime.block_on(async {
            let mut rows = Vec::with_capacity(BATCH);
            while rows.len() < BATCH {
                match cursor.next().await? {
                    Some(row) => rows.push(row),
                    None => break,
                }
            }
            Ok::<_, clickhouse::error::Error>(rows)
        });
        let rows = rows.map_err(store)?;
        if rows.is_empty() {
            break;
        }
        let ticks = by_shard(&rows, shards.len())?;
        shards.par_iter_mut().zip(ticks).for_each(|(shard, ticks)| shard.apply(&ticks));
        report.rows += rows.len() as u64;
        report.ticks += rows.len() as u64;
        progress.inc(rows.len() as u64);
    }
    let built: Vec<_> = shards.into_par_iter().map(Shard::finish).collect();
    let written: Vec<Result<FileReport>> = built.into_par_iter().map(|b| write_shard(b, sink)).collect();
    for one in written {
        report.absorb(one?);
    }
    sink.finish()?;
    progress.finish_and_clear();
    let mut out = BuildReport::default();
    out.add(std::path::Path::new("archive"), report);
    out.timed(started);
    Ok(out)
}

/// The SQL condition of `selection` (days, and symbols when named) and the symbols to bind.
fn where_clause(selection: &Selection) -> (String, Vec<String>) {
    let days = "day >= toDate(?) AND day <= toDate(?)".to_owned();
    let symbols: Vec<String> = selection.symbols.iter().map(Symbol::to_string).collect();
    if symbols.is_empty() {
        (days, symbols)
    } else {
        (format!("{days} AND has(?, symbol)"), symbols)
    }
}

/// `rows`' ticks, each in the list of its symbol's shard, in archive order.
fn by_shard(rows: &[TickRow], shards: usize) -> Result<Vec<Vec<Tick>>> {
    let mut out = vec![Vec::new(); shards];
    for row in rows {
        let tick = row.quote()?.tick;
        out[super::source::shard_of(&tick, shards)].push(tick);
    }
    Ok(out)
}

fn store(e: clickhouse::error::Error) -> Error {
    Error::Store(format!("clickhouse: the tick archive: {e}"))
}
