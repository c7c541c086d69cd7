//! The bundled files: the history days as one vendor CSV per period (`producer import-history`),
//! the sample day as QMT whole-quote payloads, one JSON line per callback (`producer replay`),
//! with the feed's noise a live day has: re-sent payloads and stale snapshots. Gzipped on disk.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::path::Path;

use common::Period;

use crate::market::{generate, Day, Snapshot};
use crate::oracle;

/// Every `DUPLICATE_EVERY`th payload is sent twice.
const DUPLICATE_EVERY: usize = 1_000;
/// After every `STALE_EVERY`th payload, the first symbol of a payload 20 earlier is sent again.
const STALE_EVERY: usize = 1_500;

/// The name of the QMT payload file of `day` (`YYYY-MM-DD`).
pub fn qmt_file(day: &str) -> String {
    format!("{day}.qmt.jsonl.gz")
}

/// The name of the history file of `period`.
pub fn history_file(period: Period) -> String {
    format!("history-{}m.csv.gz", period.minutes())
}

/// Every bundled file as (name, uncompressed content).
pub fn bundle() -> Vec<(String, String)> {
    let (_, days) = generate();
    let (history, sample) = days.split_at(days.len() - 1);
    let mut files: Vec<(String, String)> =
        Period::DEFAULTS.iter().map(|p| (history_file(*p), history_csv(history, *p))).collect();
    files.push((qmt_file(&sample[0].date.to_string()), qmt_lines(&sample[0]).join("\n") + "\n"));
    files
}

/// The oracle's bars of `days` for `period` as vendor CSV.
pub fn history_csv(days: &[Day], period: Period) -> String {
    let mut csv = String::from("symbol,frame,open,high,low,close,vol,amount\n");
    for bar in days.iter().flat_map(|day| oracle::day_bars(day, period)) {
        let (f, o, h, l, c, v, a) = (bar.frame, bar.open, bar.high, bar.low, bar.close, bar.vol, bar.amount);
        writeln!(csv, "{},{f},{o},{h},{l},{c},{v},{a}", bar.symbol).expect("writing to a String");
    }
    csv
}

/// The day's snapshots as whole-quote payloads: the symbols with a snapshot at the same
/// millisecond share a payload, in time order; then the noise.
pub fn qmt_lines(day: &Day) -> Vec<String> {
    let mut all: Vec<&Snapshot> = day.symbols.iter().flatten().collect();
    all.sort_by_key(|s| s.time_ms);
    let clean: Vec<String> = all.chunk_by(|a, b| a.time_ms == b.time_ms).map(payload).collect();
    let mut lines = Vec::with_capacity(clean.len() + clean.len() / 500);
    for (i, line) in clean.iter().enumerate() {
        lines.push(line.clone());
        if i > 0 && i % DUPLICATE_EVERY == 0 {
            lines.push(line.clone());
        }
        if i >= 20 && i % STALE_EVERY == 0 {
            let first = &clean[i - 20];
            let end = first.find("},").map_or(first.len() - 1, |e| e + 1);
            lines.push(format!("{}}}", &first[..end]));
        }
    }
    lines
}

/// One whole-quote payload: symbol → QMT snapshot dict, numbers as JSON numbers.
fn payload(snaps: &[&Snapshot]) -> String {
    let dicts: Vec<String> = snaps
        .iter()
        .map(|s| {
            let p = Snapshot::price;
            format!(
                r#""{}":{{"time":{},"lastPrice":{},"open":{},"high":{},"low":{},"lastClose":{},"volume":{},"amount":{},"openInt":{}}}"#,
                s.symbol,
                s.time_ms,
                p(s.last),
                p(s.open),
                p(s.high),
                p(s.low),
                p(s.last_close),
                s.lots,
                p(s.amount),
                s.status
            )
        })
        .collect();
    format!("{{{}}}", dicts.join(","))
}

/// Writes `content` gzipped to `path` (no timestamp in the header, so the bytes are reproducible).
pub fn write_gz(path: &Path, content: &str) -> std::io::Result<()> {
    let mut gz = flate2::write::GzEncoder::new(std::fs::File::create(path)?, flate2::Compression::best());
    gz.write_all(content.as_bytes())?;
    gz.finish()?.sync_all()
}

/// The uncompressed content of a gzipped file.
pub fn read_gz(path: &Path) -> std::io::Result<String> {
    let mut content = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path)?).read_to_string(&mut content)?;
    Ok(content)
}
