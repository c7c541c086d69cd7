//! `producer import-factors`: adjustment factors from vendor CSV files onto the factor queue
//! (`historical_adj_factors`), which the consumer drains into `adj_factors`.
//!
//! Two shapes are read, told apart by their columns:
//! - Tushare `adj_factor` (`ts_code,trade_date,adj_factor`): a cumulative factor per trading day;
//!   only the days it changes on are kept (the ex-dates).
//! - xtquant `get_divid_factors` exported with a symbol column (`stock_code` or `symbol`, a date
//!   column `time`/`date` as `YYYYMMDD`, and `dr`, the event's own factor): the running product per
//!   symbol, from 1.
//!
//! A `factor` column (with `symbol`, `ex_date`) is taken as cumulative factors as they are.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;
use common::adjust::{change_points, cumulative, FactorItem};
use common::normalise::DeadReason;
use common::Symbol;
use runtime::keys::Keys;
use runtime::redis::Connection;
use rust_decimal::Decimal;

use crate::error::{Error, Result};
use crate::import::date;
use crate::input::{InputFile, Report};

/// Items pushed per command.
const PIPELINE: usize = 1000;

/// How a file's factor column reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Tushare's daily cumulative series.
    Daily,
    /// xtquant's per-event factors.
    Event,
    /// Cumulative factors at their ex-dates.
    Cumulative,
}

/// Reads `file`, turns it into cumulative factors per ex-date and pushes them onto the queue.
pub async fn import(con: &mut Connection, keys: &Keys, file: &Path) -> Result<Report> {
    let started = std::time::Instant::now();
    let mut report = Report::default();
    let (kind, series) = read(file, &mut report)?;
    let mut items = Vec::new();
    for (symbol, mut points) in series {
        let points = match kind {
            Kind::Daily => change_points(&mut points),
            Kind::Event => cumulative(&mut points),
            Kind::Cumulative => points,
        };
        items.extend(points.into_iter().map(|(ex_date, factor)| FactorItem { symbol, ex_date, factor }));
    }
    let mut good = Vec::with_capacity(items.len());
    for item in items {
        match item.check() {
            Ok(()) => good.push(serde_json::to_string(&item).expect("factors serialize")),
            Err(e) => {
                tracing::warn!(error = %e, "factor refused");
                *report.refused.entry(DeadReason::BadFactor).or_default() += 1;
            }
        }
    }
    for chunk in good.chunks(PIPELINE) {
        redis::cmd("LPUSH").arg(keys.factor_queue()).arg(chunk).query_async::<()>(con).await?;
        report.written += chunk.len() as u64;
    }
    con.replicated().await?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

type Series = BTreeMap<Symbol, Vec<(NaiveDate, Decimal)>>;

/// The file's rows, grouped by symbol, and what its factor column means.
fn read(file: &Path, report: &mut Report) -> Result<(Kind, Series)> {
    let in_header = |message: String| Error::Input { path: file.to_owned(), line: 1, message };
    let InputFile::Csv(mut csv) = InputFile::open(file)? else {
        return Err(in_header("factor files are CSV with a header".into()));
    };
    let names: Vec<String> =
        csv.headers().map_err(|e| in_header(e.to_string()))?.iter().map(|h| h.trim().to_ascii_lowercase()).collect();
    let find = |aliases: &[&str]| names.iter().position(|n| aliases.contains(&n.as_str()));
    let symbol =
        find(&["ts_code", "symbol", "stock_code", "code"]).ok_or_else(|| in_header("no symbol column".into()))?;
    let day = find(&["trade_date", "ex_date", "time", "date", ""]).ok_or_else(|| in_header("no date column".into()))?;
    let (kind, factor) = match (find(&["adj_factor"]), find(&["dr"]), find(&["factor"])) {
        (Some(i), _, _) => (Kind::Daily, i),
        (None, Some(i), _) => (Kind::Event, i),
        (None, None, Some(i)) => (Kind::Cumulative, i),
        _ => return Err(in_header("no adj_factor, dr or factor column".into())),
    };
    let mut series = Series::new();
    for (n, record) in csv.records().enumerate() {
        report.read += 1;
        let row = record.map_err(|e| e.to_string()).and_then(|r| {
            let cell = |i: usize| r.get(i).map(str::trim).unwrap_or_default().to_owned();
            let symbol: Symbol = cell(symbol).parse().map_err(|e: common::Error| e.to_string())?;
            let day: NaiveDate = date(&cell(day)).parse().map_err(|e: chrono::ParseError| e.to_string())?;
            let factor: Decimal = cell(factor).parse().map_err(|e: rust_decimal::Error| e.to_string())?;
            Ok((symbol, day, factor))
        });
        match row {
            Ok((symbol, day, factor)) => series.entry(symbol).or_default().push((day, factor)),
            Err(message) => {
                tracing::warn!(line = n + 2, message, "factor row refused");
                *report.refused.entry(DeadReason::Unreadable).or_default() += 1;
            }
        }
    }
    Ok((kind, series))
}
