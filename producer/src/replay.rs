//! `producer replay`: writes a tick file into the tick stream as the contract's entries, paced by
//! tick time. CSV with a header (plain ticks, or QMT snapshots when there is a `lastPrice` column)
//! or JSON lines (tick objects or arrays, or QMT whole-quote payloads), written as they are.

use std::path::Path;
use std::time::{Duration, Instant};

use common::keys::Keys;
use common::tick::{parse_qmt_payload, parse_tick_payload};
use redis::aio::ConnectionManager;
use serde_json::{Map, Value};

use crate::error::Result;
use crate::input::{csv_error, InputFile, Report};

/// Entries sent per pipeline when nothing makes the replay wait.
const PIPELINE: usize = 1000;
/// Plain ticks of one time put in one array entry, at most.
const TICKS_PER_ENTRY: usize = 500;

/// One stream entry to write: its field (`tick` or `qmt`), payload and tick time (if readable).
struct Outgoing {
    field: &'static str,
    payload: String,
    time_ms: Option<i64>,
}

/// Replays `file` into the tick stream at `speed` times tick time (0: as fast as Redis takes it).
pub async fn replay(con: &mut ConnectionManager, keys: &Keys, file: &Path, speed: f64) -> Result<Report> {
    let started = Instant::now();
    let mut out = Sender::new(keys.tick_stream(), speed);
    let mut report = Report::default();
    match InputFile::open(file)? {
        InputFile::JsonLines(lines) => {
            for line in lines {
                let (_, line) = line?;
                report.read += 1;
                out.push(con, json_line(line)).await?;
            }
        }
        InputFile::Csv(mut csv) => {
            let header = csv.headers().map_err(|e| csv_error(file, e))?.clone();
            let mut rows = CsvEntries::new(&header);
            for record in csv.records() {
                let record = record.map_err(|e| csv_error(file, e))?;
                report.read += 1;
                if let Some(entry) = rows.push(&record) {
                    out.push(con, entry).await?;
                }
            }
            if let Some(entry) = rows.flush() {
                out.push(con, entry).await?;
            }
        }
    }
    out.flush(con).await?;
    report.written = out.sent;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// A JSON line is a QMT payload unless it is a tick object (it has `symbol`) or an array of them.
fn json_line(line: String) -> Outgoing {
    let is_tick = line.trim_start().starts_with('[')
        || serde_json::from_str::<Map<String, Value>>(&line).is_ok_and(|m| m.contains_key("symbol"));
    let field = if is_tick { "tick" } else { "qmt" };
    let time_ms = tick_time(field, &line);
    Outgoing { field, payload: line, time_ms }
}

/// The tick time of a payload, for pacing: its first readable tick's.
fn tick_time(field: &str, payload: &str) -> Option<i64> {
    let parsed = if field == "tick" { parse_tick_payload(payload) } else { parse_qmt_payload(payload) };
    parsed.ok()?.into_iter().find_map(|t| t.ok()).map(|t| t.time_ms)
}

/// Groups CSV rows of the same time into one entry: a QMT payload or an array of tick objects.
struct CsvEntries {
    names: Vec<String>,
    qmt: bool,
    time_column: Option<usize>,
    symbol_column: Option<usize>,
    group: Vec<(String, Map<String, Value>)>,
    group_time: String,
}

impl CsvEntries {
    fn new(header: &csv::StringRecord) -> CsvEntries {
        let names: Vec<String> = header.iter().map(|h| h.trim().to_owned()).collect();
        let position = |name: &str| names.iter().position(|n| n == name);
        CsvEntries {
            qmt: position("lastPrice").is_some(),
            time_column: position("time"),
            symbol_column: position("symbol"),
            names,
            group: Vec::new(),
            group_time: String::new(),
        }
    }

    fn push(&mut self, record: &csv::StringRecord) -> Option<Outgoing> {
        let time = self.time_column.and_then(|i| record.get(i)).unwrap_or_default().to_owned();
        let full = self.group.len() >= TICKS_PER_ENTRY;
        let out = if (time != self.group_time || full) && !self.group.is_empty() { self.flush() } else { None };
        self.group_time = time;
        let symbol = self.symbol_column.and_then(|i| record.get(i)).unwrap_or_default().to_owned();
        let mut object = Map::new();
        for (name, value) in self.names.iter().zip(record.iter()) {
            // An empty cell is a field left out, as `producer build` reads it.
            let left_out = value.trim().is_empty() || (self.qmt && name == "symbol");
            if !left_out {
                object.insert(name.clone(), field_value(name, value.trim()));
            }
        }
        self.group.push((symbol, object));
        out
    }

    fn flush(&mut self) -> Option<Outgoing> {
        if self.group.is_empty() {
            return None;
        }
        let group = std::mem::take(&mut self.group);
        let (field, payload) = if self.qmt {
            let quotes: Map<String, Value> = group.into_iter().map(|(s, o)| (s, Value::Object(o))).collect();
            ("qmt", Value::Object(quotes).to_string())
        } else {
            ("tick", Value::Array(group.into_iter().map(|(_, o)| Value::Object(o)).collect()).to_string())
        };
        let time_ms = tick_time(field, &payload);
        Some(Outgoing { field, payload, time_ms })
    }
}

/// CSV cells go out as JSON strings (exact: the parsers read numbers from strings), except the
/// `cumulative` flag.
fn field_value(name: &str, value: &str) -> Value {
    match (name, value) {
        ("cumulative", flag) => Value::Bool(common::tick::is_true(flag)),
        _ => Value::String(value.to_owned()),
    }
}

/// Writes entries in pipelines, waiting when tick time says the next one is not due yet.
struct Sender {
    stream: String,
    speed: f64,
    pipe: redis::Pipeline,
    queued: usize,
    sent: u64,
    origin: Option<(i64, Instant)>,
}

impl Sender {
    fn new(stream: String, speed: f64) -> Sender {
        Sender { stream, speed, pipe: redis::pipe(), queued: 0, sent: 0, origin: None }
    }

    async fn push(&mut self, con: &mut ConnectionManager, entry: Outgoing) -> Result<()> {
        if let (Some(time_ms), true) = (entry.time_ms, self.speed > 0.0) {
            let (t0, wall0) = *self.origin.get_or_insert((time_ms, Instant::now()));
            let due = wall0 + Duration::from_secs_f64((time_ms - t0).max(0) as f64 / 1000.0 / self.speed);
            if due > Instant::now() {
                self.flush(con).await?;
                tokio::time::sleep_until(due.into()).await;
            }
        }
        self.pipe.cmd("XADD").arg(&self.stream).arg("*").arg(entry.field).arg(entry.payload).ignore();
        self.queued += 1;
        if self.queued >= PIPELINE {
            self.flush(con).await?;
        }
        Ok(())
    }

    async fn flush(&mut self, con: &mut ConnectionManager) -> Result<()> {
        if self.queued > 0 {
            self.pipe.query_async::<()>(con).await?;
            self.sent += self.queued as u64;
            self.queued = 0;
            self.pipe.clear();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use csv::StringRecord;

    use super::*;

    #[test]
    fn csv_rows_of_one_time_are_one_entry_and_an_empty_cell_is_left_out() {
        let mut rows =
            CsvEntries::new(&StringRecord::from(vec!["symbol", "time", "price", "volume", "high", "cumulative"]));
        let row = |time: &str, high: &str| StringRecord::from(vec!["600519.SH", time, "1650.5", "300", high, "0"]);
        assert!(rows.push(&row("2026-11-18 09:30:03", "")).is_none());
        assert!(rows.push(&row("2026-11-18 09:30:03", "1651")).is_none());
        let first = rows.push(&row("2026-11-18 09:30:06", "")).expect("a new time ends the entry");
        assert_eq!(first.field, "tick");
        assert_eq!(first.payload.matches("\"high\"").count(), 1, "{}", first.payload);
        let ticks = parse_tick_payload(&first.payload).unwrap();
        assert!(ticks.iter().all(Result::is_ok) && ticks.len() == 2);
        assert_eq!(first.time_ms, Some(common::time::parse_datetime("2026-11-18T09:30:03").unwrap()));
    }
}
