//! `producer import-history`: vendor bars from CSV or JSON lines, normalised into the project's
//! layout by `common::normalise`, pushed onto `historical_bar_data_{N}min` for the consumer.

use std::path::Path;

use common::normalise::{DeadReason, Normaliser};
use common::{Bar, Period};
use runtime::keys::Keys;
use runtime::redis::Connection;

use crate::error::{Error, Result};
use crate::input::{InputFile, Report};

/// Bars pushed per pipeline.
const PIPELINE: usize = 1000;
/// Refused lines logged one by one before only counting.
const LOGGED: u64 = 20;

/// Reads `file`, normalises each bar and pushes the good ones onto the queue of `period`.
pub async fn import(
    con: &mut Connection,
    keys: &Keys,
    file: &Path,
    period: Period,
    mut normaliser: Normaliser,
) -> Result<Report> {
    let started = std::time::Instant::now();
    let mut report = Report::default();
    let mut out = Pusher { queue: keys.history_queue(period), batch: Vec::new(), queued: 0 };
    read_bars(file, |line, bar| {
        report.read += 1;
        let refusal = match bar {
            Err(message) => Err((DeadReason::Unreadable, message)),
            Ok(bar) => {
                let (symbol, frame) = (bar.symbol, bar.frame);
                normaliser.push(bar).map_err(|r| (r, format!("{symbol} {frame}")))
            }
        };
        match refusal {
            Ok(bar) => out.batch.extend(bar),
            Err((reason, what)) => {
                *report.refused.entry(reason).or_default() += 1;
                if report.refused.values().sum::<u64>() <= LOGGED {
                    tracing::warn!(line, %reason, what, "bar refused");
                }
            }
        }
    })?;
    out.batch.extend(normaliser.finish());
    out.flush(con).await?;
    con.replicated().await?;
    report.written = out.queued;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

struct Pusher {
    queue: String,
    batch: Vec<Bar>,
    queued: u64,
}

impl Pusher {
    async fn flush(&mut self, con: &mut Connection) -> Result<()> {
        for chunk in self.batch.chunks(PIPELINE) {
            let json: Vec<String> = chunk.iter().map(|b| serde_json::to_string(b).expect("bars serialize")).collect();
            redis::cmd("LPUSH").arg(&self.queue).arg(&json).query_async::<()>(con).await?;
            self.queued += chunk.len() as u64;
        }
        self.batch.clear();
        Ok(())
    }
}

/// Calls `each` with every bar of the file (or why its line is none), by line number.
fn read_bars(file: &Path, mut each: impl FnMut(u64, Result<Bar, String>)) -> Result<()> {
    match InputFile::open(file)? {
        InputFile::JsonLines(lines) => {
            for line in lines {
                let (n, line) = line?;
                each(n, serde_json::from_str(&line).map_err(|e| e.to_string()));
            }
        }
        InputFile::Csv(mut csv) => {
            let in_header = |message: String| Error::Input { path: file.to_owned(), line: 1, message };
            let columns = Columns::new(csv.headers().map_err(|e| in_header(e.to_string()))?).map_err(in_header)?;
            for (n, record) in csv.records().enumerate() {
                each(n as u64 + 2, record.map_err(|e| e.to_string()).and_then(|r| columns.bar(&r)));
            }
        }
    }
    Ok(())
}

/// Where a vendor CSV keeps each part of a bar; common vendor column names are accepted.
struct Columns {
    symbol: usize,
    exchange: Option<usize>,
    frame: FrameColumns,
    prices: [usize; 4],
    vol: usize,
    amount: usize,
}

enum FrameColumns {
    One(usize),
    /// `date` (`20180102` or `2018-01-02`) and `time` (`93100000`, `093100` or `09:31:00`).
    DateTime(usize, usize),
}

impl Columns {
    fn new(header: &csv::StringRecord) -> Result<Columns, String> {
        let names: Vec<String> = header.iter().map(|h| h.trim().to_ascii_lowercase()).collect();
        let find = |aliases: &[&str]| names.iter().position(|n| aliases.contains(&n.as_str()));
        let need =
            |aliases: &[&str]| find(aliases).ok_or_else(|| format!("no column {} in the header", aliases.join("/")));
        let frame = match (find(&["frame", "datetime", "trade_time"]), find(&["date", "trade_date"]), find(&["time"])) {
            (Some(i), _, _) => FrameColumns::One(i),
            (None, Some(d), Some(t)) => FrameColumns::DateTime(d, t),
            _ => return Err("no frame/datetime/trade_time column (nor date and time)".into()),
        };
        Ok(Columns {
            symbol: need(&["symbol", "ts_code", "code", "stock_code"])?,
            exchange: find(&["exchange"]),
            frame,
            prices: [need(&["open"])?, need(&["high"])?, need(&["low"])?, need(&["close"])?],
            vol: need(&["vol", "volume"])?,
            amount: need(&["amount", "turnover"])?,
        })
    }

    /// The bar of one row, through the contract's bar object so that one parser rules.
    fn bar(&self, r: &csv::StringRecord) -> Result<Bar, String> {
        let cell = |i: usize| r.get(i).map(str::trim).unwrap_or_default();
        let mut symbol = cell(self.symbol).to_owned();
        if let (false, Some(e)) = (symbol.contains('.'), self.exchange) {
            let suffix = match cell(e).to_ascii_uppercase().as_str() {
                "SZSE" | "SZ" => "SZ",
                "SSE" | "SH" => "SH",
                "BSE" | "BJ" => "BJ",
                other => return Err(format!("unknown exchange {other:?}")),
            };
            symbol = format!("{symbol}.{suffix}");
        }
        let frame = match self.frame {
            FrameColumns::One(i) => cell(i).to_owned(),
            FrameColumns::DateTime(d, t) => format!("{} {}", date(cell(d)), time(cell(t))),
        };
        let object = serde_json::json!({
            "symbol": symbol, "frame": frame,
            "open": cell(self.prices[0]), "high": cell(self.prices[1]), "low": cell(self.prices[2]), "close": cell(self.prices[3]),
            "vol": cell(self.vol), "amount": cell(self.amount),
        });
        serde_json::from_value(object).map_err(|e| e.to_string())
    }
}

/// `20180102` as `2018-01-02`; other forms pass through.
pub(crate) fn date(d: &str) -> String {
    if d.len() == 8 && d.bytes().all(|b| b.is_ascii_digit()) {
        format!("{}-{}-{}", &d[..4], &d[4..6], &d[6..])
    } else {
        d.to_owned()
    }
}

/// `93100000` (HHMMSSmmm), `093100` or `93100` (HHMMSS) to `09:31:00`; other forms pass through.
fn time(t: &str) -> String {
    if !t.bytes().all(|b| b.is_ascii_digit()) || t.len() < 5 {
        return t.to_owned();
    }
    let padded = if t.len() >= 8 { format!("{t:0>9}")[..6].to_owned() } else { format!("{t:0>6}") };
    format!("{}:{}:{}", &padded[..2], &padded[2..4], &padded[4..6])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendor_times_read_as_clock_times() {
        assert_eq!(time("93100000"), "09:31:00");
        assert_eq!(time("150000000"), "15:00:00");
        assert_eq!(time("093100"), "09:31:00");
        assert_eq!(time("09:31:00"), "09:31:00");
        assert_eq!(date("20180102"), "2018-01-02");
    }
}
