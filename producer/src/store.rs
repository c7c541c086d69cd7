//! The producer's Redis: reading the tick stream through the consumer group, committing each step
//! (bars, forming bars, publications, dead letters, journal record, acknowledgements and, now and
//! then, the checkpoint) as one MULTI/EXEC, and reading back the checkpoint and journal on start.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::NaiveDate;
use common::keys::Keys;
use common::{BarEventKind, Period};
use redis::aio::ConnectionManager;
use redis::streams::{StreamId, StreamRangeReply, StreamReadOptions, StreamReadReply};
use redis::{AsyncCommands, Value};

use crate::engine::{Record, Saved, Step};
use crate::error::{Error, Result};
use crate::ingest::{Entry, EntryId};
use crate::settings::ProducerSection;

/// Dead letters kept (approximately) in `ticks:dead`.
const DEAD_LETTERS_KEPT: usize = 1_000_000;
/// Entries per XRANGE page while replaying the journal.
const RANGE_PAGE: usize = 10_000;

/// A connection that (re)connects on demand: commands fail fast while Redis is away, the caller
/// backs off and retries, and the next command reconnects.
pub fn connect(url: &str) -> Result<ConnectionManager> {
    Ok(runtime::redis::connect(url)?)
}

/// The tick stream as this producer reads and writes it.
#[derive(Clone)]
pub struct Store {
    con: ConnectionManager,
    keys: Keys,
    stream: String,
    group: String,
    consumer: String,
    trim: bool,
}

impl Store {
    pub fn new(con: ConnectionManager, keys: Keys, section: &ProducerSection) -> Store {
        Store {
            con,
            stream: keys.tick_stream(),
            keys,
            group: section.group.clone(),
            consumer: section.consumer.clone(),
            trim: section.trim_stream,
        }
    }

    /// Creates the consumer group (reading the stream from its start) unless it exists.
    pub async fn ensure_group(&mut self) -> Result<()> {
        let created: redis::RedisResult<()> = self.con.xgroup_create_mkstream(&self.stream, &self.group, "0").await;
        match created {
            Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
            other => Ok(other?),
        }
    }

    /// The checkpoint, if one was written, and the journal records after it.
    pub async fn load(&mut self) -> Result<(Option<Saved>, Vec<Record>)> {
        let state: BTreeMap<String, Vec<u8>> = self.con.hgetall(self.keys.producer_state()).await?;
        let saved = match (state.get("aggregator"), state.get("counters"), state.get("last_id")) {
            (Some(aggregator), Some(counters), Some(last_id)) => Some(Saved {
                aggregator: aggregator.clone(),
                counters: counters.clone(),
                last_id: std::str::from_utf8(last_id)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| Error::State("last_id".into()))?,
            }),
            (None, None, None) => None,
            _ => return Err(Error::State(format!("{} is incomplete", self.keys.producer_state()))),
        };
        let journal: Vec<String> = self.con.lrange(self.keys.producer_journal(), 0, -1).await?;
        let records = journal.iter().map(|r| Record::decode(r)).collect::<Result<_>>()?;
        Ok((saved, records))
    }

    /// The entries after `after` up to and including `upto`, in order.
    pub async fn range(&mut self, after: EntryId, upto: EntryId) -> Result<Vec<Entry>> {
        let mut out = Vec::new();
        let mut from = after;
        while from < upto {
            let page: StreamRangeReply =
                self.con.xrange_count(&self.stream, format!("({from}"), upto.to_string(), RANGE_PAGE).await?;
            let Some(last) = page.ids.last() else { break };
            from = last.id.parse().map_err(Error::State)?;
            out.extend(page.ids.into_iter().map(entry).collect::<Result<Vec<_>>>()?);
        }
        Ok(out)
    }

    /// Entries delivered to this consumer earlier but never acknowledged.
    pub async fn pending(&mut self, count: usize) -> Result<Vec<Entry>> {
        self.read("0", count, None).await
    }

    /// New entries, waiting up to `block` for the first.
    pub async fn next(&mut self, count: usize, block: Duration) -> Result<Vec<Entry>> {
        self.read(">", count, Some(block)).await
    }

    async fn read(&mut self, from: &str, count: usize, block: Option<Duration>) -> Result<Vec<Entry>> {
        let mut options = StreamReadOptions::default().group(&self.group, &self.consumer).count(count);
        if let Some(block) = block {
            options = options.block(block.as_millis() as usize);
        }
        let reply: StreamReadReply = self.con.xread_options(&[&self.stream], &[from], &options).await?;
        reply.keys.into_iter().flat_map(|k| k.ids).map(entry).collect()
    }

    /// Writes a step as one transaction; with `checkpoint`, the state replaces the journal and the
    /// stream is trimmed below the checkpoint.
    pub async fn commit(&mut self, step: &Step, checkpoint: Option<&Saved>) -> Result<()> {
        let mut pipe = redis::pipe();
        pipe.atomic();
        self.write_bars(&mut pipe, step);
        for d in &step.dead {
            let id = d.id.to_string();
            let fields: [(&str, &[u8]); 5] = [
                ("reason", d.reason.as_bytes()),
                ("detail", d.detail.as_bytes()),
                ("id", id.as_bytes()),
                ("field", d.field.as_bytes()),
                ("entry", &d.entry),
            ];
            let limit = redis::streams::StreamMaxlen::Approx(DEAD_LETTERS_KEPT);
            pipe.xadd_maxlen(self.keys.dead_ticks(), limit, "*", &fields).ignore();
        }
        if !step.acks.is_empty() {
            pipe.xack(&self.stream, &self.group, &step.acks.iter().map(ToString::to_string).collect::<Vec<_>>())
                .ignore();
        }
        match (checkpoint, step.record) {
            (Some(saved), _) => {
                let last_id = saved.last_id.to_string();
                let state = [
                    ("aggregator", saved.aggregator.as_slice()),
                    ("counters", saved.counters.as_slice()),
                    ("last_id", last_id.as_bytes()),
                ];
                pipe.hset_multiple(self.keys.producer_state(), &state).ignore();
                pipe.del(self.keys.producer_journal()).ignore();
                if self.trim {
                    pipe.cmd("XTRIM").arg(&self.stream).arg("MINID").arg(saved.last_id.to_string()).ignore();
                }
            }
            (None, Some(record)) => {
                pipe.rpush(self.keys.producer_journal(), record.encode()).ignore();
            }
            (None, None) => {}
        }
        Ok(pipe.query_async::<()>(&mut self.con).await?)
    }

    /// Closed and amended bars replace their frame in the day's sorted set and are published;
    /// forming bars go to the day's hash, one HSET per (day, period).
    fn write_bars(&self, pipe: &mut redis::Pipeline, step: &Step) {
        let mut forming: BTreeMap<(NaiveDate, Period), Vec<(String, String)>> = BTreeMap::new();
        let mut days = BTreeSet::new();
        for e in &step.events {
            let day = e.bar.frame.date();
            days.insert(day.to_string());
            let json = serde_json::to_string(&e.bar).expect("bars serialize");
            match e.kind {
                BarEventKind::Updated => {
                    forming.entry((day, e.period)).or_default().push((e.bar.symbol.to_string(), json))
                }
                BarEventKind::Closed | BarEventKind::Amended => {
                    let key = self.keys.day_bars(day, e.period, e.bar.symbol);
                    let score = e.bar.frame.epoch_seconds();
                    pipe.zrembyscore(&key, score, score).ignore();
                    pipe.zadd(&key, &json, score).ignore();
                    pipe.publish(self.keys.bar_channel(e.period, e.bar.symbol), &json).ignore();
                }
            }
        }
        for ((day, period), fields) in &forming {
            pipe.hset_multiple(self.keys.forming_bars(*day, *period), fields).ignore();
        }
        if !days.is_empty() {
            pipe.sadd(self.keys.days_held(), days).ignore();
        }
    }

    /// Entries waiting for the group (`lag`) and delivered but unacknowledged (`pending`).
    pub async fn backlog(&mut self) -> Result<(Option<u64>, u64)> {
        let groups: redis::streams::StreamInfoGroupsReply = self.con.xinfo_groups(&self.stream).await?;
        let group = groups.groups.into_iter().find(|g| g.name == self.group);
        Ok(group.map_or((None, 0), |g| (g.lag.map(|l| l as u64), g.pending as u64)))
    }

    pub async fn ping(&mut self) -> Result<()> {
        Ok(redis::cmd("PING").query_async::<()>(&mut self.con).await?)
    }
}

fn entry(s: StreamId) -> Result<Entry> {
    let id = s.id.parse().map_err(Error::State)?;
    let mut fields: Vec<(String, Vec<u8>)> = s
        .map
        .into_iter()
        .map(|(k, v)| match v {
            Value::BulkString(bytes) => (k, bytes),
            Value::SimpleString(text) => (k, text.into_bytes()),
            other => (k, format!("{other:?}").into_bytes()),
        })
        .collect();
    fields.sort();
    Ok(Entry { id, fields })
}
