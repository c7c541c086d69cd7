//! `producer replay`: writes a tick file into the tick stream as the contract's entries, paced by
//! tick time. CSV with a header (plain ticks, or QMT snapshots when there is a `lastPrice` column)
//! or JSON lines (tick objects or arrays, or QMT whole-quote payloads), written as they are.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use common::tick::Payload;
use runtime::keys::Keys;
use runtime::redis::Connection;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::error::Result;
use crate::input::{csv_error, InputFile, Report};

/// Entries sent per pipeline when nothing makes the replay wait.
const PIPELINE: usize = 1000;
/// Plain ticks of one time put in one array entry, at most.
const TICKS_PER_ENTRY: usize = 500;

/// One stream entry to write: its field (`tick` or `qmt`), payload and tick time (if readable).
struct Outgoing {
    field: Payload,
    payload: String,
    time_ms: Option<i64>,
}

/// Replays `file` into the tick stream at `speed` times tick time (0: as fast as Redis takes it);
/// each batch of entries waits for `redis.wait_replicas` replicas.
pub async fn replay(con: &mut Connection, keys: &Keys, file: &Path, speed: f64) -> Result<Report> {
    let started = Instant::now();
    let mut out = Sender::new(keys.each_shard().map(|k| k.tick_stream()).collect(), speed);
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
    let field = if is_tick { Payload::Tick } else { Payload::Qmt };
    let time_ms = tick_time(field, &line);
    Outgoing { field, payload: line, time_ms }
}

/// The tick time of a payload, for pacing: its first readable tick's.
fn tick_time(field: Payload, payload: &str) -> Option<i64> {
    field.parse(payload).ok()?.into_iter().find_map(|t| t.ok()).map(|t| t.time_ms)
}

/// Groups CSV rows of the same time into one entry: a QMT payload or an array of tick objects.
struct CsvEntries {
    names: Vec<String>,
    kind: Payload,
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
            kind: Payload::of_columns(names.iter().map(String::as_str)),
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
            let left_out = value.trim().is_empty() || (self.kind == Payload::Qmt && name == "symbol");
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
        let payload = match self.kind {
            Payload::Qmt => {
                let quotes: Map<String, Value> = group.into_iter().map(|(s, o)| (s, Value::Object(o))).collect();
                Value::Object(quotes).to_string()
            }
            Payload::Tick => Value::Array(group.into_iter().map(|(_, o)| Value::Object(o)).collect()).to_string(),
        };
        let field = self.kind;
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

/// The parts of `entry` for each shard among `shards`: a QMT payload's quotes and a tick array's
/// ticks go to their symbol's shard, each part keeping its text. What names no readable symbol
/// goes to shard 0, whose producer dead-letters it with its reason.
fn split(entry: Outgoing, shards: u16) -> Vec<(u16, Outgoing)> {
    let shard = |symbol: &str| symbol.parse().map_or(0, |s| common::shard::shard_of(s, shards));
    let mut parts: BTreeMap<u16, Vec<String>> = BTreeMap::new();
    let payload = entry.payload.trim_start();
    let whole = if entry.field == Payload::Qmt {
        serde_json::from_str::<BTreeMap<String, Box<RawValue>>>(payload).map(|quotes| {
            for (symbol, quote) in quotes {
                parts.entry(shard(&symbol)).or_default().push(format!("{}:{}", Value::String(symbol), quote.get()));
            }
            ("{", "}")
        })
    } else if payload.starts_with('[') {
        serde_json::from_str::<Vec<Box<RawValue>>>(payload).map(|ticks| {
            for tick in ticks {
                let symbol = serde_json::from_str::<Symbolled>(tick.get()).map(|t| t.symbol).unwrap_or_default();
                parts.entry(shard(&symbol)).or_default().push(tick.get().to_owned());
            }
            ("[", "]")
        })
    } else {
        let symbol = serde_json::from_str::<Symbolled>(payload).map(|t| t.symbol).unwrap_or_default();
        return vec![(shard(&symbol), entry)];
    };
    let Ok((open, close)) = whole else { return vec![(0, entry)] };
    parts
        .into_iter()
        .map(|(i, items)| {
            let payload = format!("{open}{}{close}", items.join(","));
            (i, Outgoing { field: entry.field, payload, time_ms: entry.time_ms })
        })
        .collect()
}

/// The symbol of a tick object, for [`split`].
#[derive(serde::Deserialize)]
struct Symbolled {
    #[serde(default)]
    symbol: String,
}

/// Writes entries in pipelines, one stream per shard and one pipeline per stream (its hash slot of a
/// cluster), waiting when tick time says the next one is not due yet.
struct Sender {
    streams: Vec<String>,
    speed: f64,
    pipes: Vec<redis::Pipeline>,
    queued: usize,
    sent: u64,
    origin: Option<(i64, Instant)>,
}

impl Sender {
    fn new(streams: Vec<String>, speed: f64) -> Sender {
        let pipes = streams.iter().map(|_| redis::pipe()).collect();
        Sender { streams, speed, pipes, queued: 0, sent: 0, origin: None }
    }

    async fn push(&mut self, con: &mut Connection, entry: Outgoing) -> Result<()> {
        if let (Some(time_ms), true) = (entry.time_ms, self.speed > 0.0) {
            let (t0, wall0) = *self.origin.get_or_insert((time_ms, Instant::now()));
            let due = wall0 + Duration::from_secs_f64((time_ms - t0).max(0) as f64 / 1000.0 / self.speed);
            if due > Instant::now() {
                self.flush(con).await?;
                tokio::time::sleep_until(due.into()).await;
            }
        }
        let parts = match self.streams.len() {
            1 => vec![(0, entry)],
            n => split(entry, n as u16),
        };
        for (shard, part) in parts {
            self.pipes[usize::from(shard)]
                .cmd("XADD")
                .arg(&self.streams[usize::from(shard)])
                .arg("*")
                .arg(part.field.field())
                .arg(part.payload)
                .ignore();
            self.queued += 1;
        }
        if self.queued >= PIPELINE {
            self.flush(con).await?;
        }
        Ok(())
    }

    async fn flush(&mut self, con: &mut Connection) -> Result<()> {
        if self.queued > 0 {
            for pipe in self.pipes.iter_mut().filter(|p| p.cmd_iter().next().is_some()) {
                pipe.query_async::<()>(con).await?;
                pipe.clear();
            }
            con.replicated().await?;
            self.sent += self.queued as u64;
            self.queued = 0;
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
        assert_eq!(first.field, Payload::Tick);
        assert_eq!(first.payload.matches("\"high\"").count(), 1, "{}", first.payload);
        let ticks = Payload::Tick.parse(&first.payload).unwrap();
        assert!(ticks.iter().all(Result::is_ok) && ticks.len() == 2);
        assert_eq!(first.time_ms, Some(common::time::parse_datetime("2026-11-18T09:30:03").unwrap()));
    }

    #[test]
    fn payloads_split_by_the_shard_of_each_symbol_keeping_their_text() {
        let shard = |s: &str| common::shard::shard_of(s.parse().unwrap(), 2);
        let (a, b) = ("600519.SH", "000333.SZ");
        assert_ne!(shard(a), shard(b), "the two symbols are on different shards of 2");
        let qmt = format!(r#"{{"{a}":{{"lastPrice":1650.50,"volume":3}},"{b}":{{"lastPrice":60.1}}}}"#);
        let parts = split(Outgoing { field: Payload::Qmt, payload: qmt, time_ms: Some(7) }, 2);
        let text: BTreeMap<u16, String> = parts.iter().map(|(i, o)| (*i, o.payload.clone())).collect();
        assert_eq!(text[&shard(a)], format!(r#"{{"{a}":{{"lastPrice":1650.50,"volume":3}}}}"#));
        assert_eq!(text[&shard(b)], format!(r#"{{"{b}":{{"lastPrice":60.1}}}}"#));
        assert!(parts.iter().all(|(_, o)| o.field == Payload::Qmt && o.time_ms == Some(7)));

        let ticks = format!(
            r#"[{{"symbol":"{a}","price":"1"}},{{"symbol":"{b}","price":"2"}},{{"symbol":"{a}","price":"3"}}]"#
        );
        let parts = split(Outgoing { field: Payload::Tick, payload: ticks, time_ms: None }, 2);
        let mine = &parts.iter().find(|(i, _)| *i == shard(a)).unwrap().1.payload;
        assert_eq!(mine, &format!(r#"[{{"symbol":"{a}","price":"1"}},{{"symbol":"{a}","price":"3"}}]"#));

        for broken in ["{oops", r#"{"symbol":"AAPL"}"#] {
            let parts = split(Outgoing { field: Payload::Tick, payload: broken.into(), time_ms: None }, 2);
            assert_eq!((parts.len(), parts[0].0, parts[0].1.payload.as_str()), (1, 0, broken), "to shard 0 as it was");
        }
    }
}
