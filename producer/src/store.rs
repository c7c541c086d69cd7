//! The producer's Redis: reading the tick stream from the producer's own position, the lease that
//! keeps one producer active, committing each step (bars, forming bars, publications, dead letters,
//! journal record, the group's position and, now and then, the checkpoint) as one MULTI/EXEC that
//! lands only while the lease is this producer's (WATCH), and reading back the checkpoint and
//! journal on start.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::NaiveDate;
use common::{BarEvent, BarEventKind, Period, Symbol};
use redis::streams::{StreamId, StreamRangeReply, StreamReadOptions, StreamReadReply};
use redis::{AsyncCommands, Script};
use runtime::keys::{history_version_field, Keys};
use runtime::redis::Connection;

use crate::engine::{Commit, Record, Saved};
use crate::error::{Error, Result};
use crate::ingest::{Entry, EntryId};
use crate::settings::ProducerSettings;

/// Dead letters kept (approximately) in `ticks:dead`.
const DEAD_LETTERS_KEPT: usize = 1_000_000;
/// Entries per XRANGE page while replaying the journal.
const RANGE_PAGE: usize = 10_000;

/// Takes the lease when nobody holds it: the holder's value is a new fencing token and the name.
/// Returns the value now held, ours or another's.
const ACQUIRE: &str = r"
local held = redis.call('GET', KEYS[1])
if held then return held end
local fence = redis.call('INCR', KEYS[2])
local value = fence .. ' ' .. ARGV[1]
redis.call('SET', KEYS[1], value, 'PX', ARGV[2])
return value";

/// A connection that (re)connects on demand: commands fail fast while Redis is away, the caller
/// backs off and retries, and the next command reconnects.
pub fn connect(settings: &runtime::settings::RedisSettings) -> Result<Connection> {
    Ok(runtime::redis::connect(settings)?)
}

/// The tick stream as this producer reads and writes it.
#[derive(Clone)]
pub struct StreamStore {
    con: Connection,
    keys: Keys,
    stream: String,
    group: String,
    /// Whether a checkpoint trims the stream (`producer.trim_stream`).
    trim: bool,
    /// The archiver's group with the tick archive on (`archive.ticks`): the stream is trimmed
    /// only behind it, and the ticks the rules refused are recorded for it.
    archive_group: Option<String>,
    lease_ttl: Duration,
    acquire: Script,
}

/// The lease as one attempt to take it found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lease {
    /// Ours: the value every commit must find.
    Ours(String),
    /// Another producer's, by its value (`{fence} {instance}`).
    Held(String),
}

impl StreamStore {
    pub fn new(con: Connection, keys: Keys, settings: &ProducerSettings) -> StreamStore {
        let section = &settings.producer;
        StreamStore {
            con,
            stream: keys.tick_stream(),
            keys,
            group: section.group.clone(),
            trim: section.trim_stream,
            archive_group: settings.archive.ticks.then(|| settings.archive.group.clone()),
            lease_ttl: Duration::from_millis(section.lease_ttl_ms.max(100)),
            acquire: Script::new(ACQUIRE),
        }
    }

    /// Takes the lease for `instance` unless another producer holds it.
    pub async fn acquire(&mut self, instance: &str) -> Result<Lease> {
        let value: String = self
            .acquire
            .key(self.keys.producer_lease())
            .key(self.keys.producer_fence())
            .arg(instance)
            .arg(self.lease_ttl.as_millis() as u64)
            .invoke_async(&mut self.con)
            .await?;
        let ours = value.split_once(' ').is_some_and(|(_, name)| name == instance);
        Ok(if ours { Lease::Ours(value) } else { Lease::Held(value) })
    }

    /// Creates the consumer group (reading the stream from its start) unless it exists.
    pub async fn ensure_group(&mut self) -> Result<()> {
        let created: redis::RedisResult<()> = self.con.xgroup_create_mkstream(&self.stream, &self.group, "0").await;
        match created {
            Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
            other => Ok(other?),
        }
    }

    /// Applies the calendar changes stored in Redis to `calendar` now (see
    /// [`runtime::calendar::LiveCalendar::refresh`]).
    pub async fn refresh_calendar(&mut self, calendar: &runtime::calendar::LiveCalendar) -> Result<()> {
        Ok(calendar.refresh(&mut self.con, &self.keys, false).await?)
    }

    /// The checkpoint, if one was written, and the journal records after it.
    pub async fn load(&mut self) -> Result<(Option<Saved>, Vec<Record>)> {
        let state: BTreeMap<String, Vec<u8>> = self.con.hgetall(self.keys.producer_state()).await?;
        let saved = match (state.get("aggregator"), state.get("counters"), state.get("last_id")) {
            (Some(aggregator), Some(counters), Some(last_id)) => Some(Saved {
                format: match state.get("format") {
                    None => 1,
                    Some(format) => std::str::from_utf8(format)
                        .ok()
                        .and_then(|s| s.parse().ok())
                        .ok_or_else(|| Error::State(format!("format {:?}", String::from_utf8_lossy(format))))?,
                },
                aggregator: aggregator.clone(),
                counters: counters.clone(),
                last_id: std::str::from_utf8(last_id)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| Error::State("last_id".into()))?,
                latest_day: String::from_utf8_lossy(state.get("latest_day").map_or(&[][..], Vec::as_slice)).into(),
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

    /// Up to `count` entries after `after`, waiting up to `block` for the first. The producer reads
    /// by its own position, so what another (fenced-out) producer read changes nothing.
    pub async fn next(&mut self, after: EntryId, count: usize, block: Duration) -> Result<Vec<Entry>> {
        let options = StreamReadOptions::default().count(count).block(block.as_millis() as usize);
        let reply: StreamReadReply = self.con.xread_options(&[&self.stream], &[after.to_string()], &options).await?;
        reply.keys.into_iter().flat_map(|k| k.ids).map(entry).collect()
    }

    /// Writes a step atomically under the lease `lease` (renewing it); with `checkpoint`, the state
    /// replaces the journal and the stream is trimmed below the checkpoint. `Error::Fenced` when
    /// the lease is no longer ours: nothing was written. The lease and the fence counter are
    /// watched from the moment they are read, so if another producer takes the lease before the
    /// transaction runs, the transaction does not.
    pub async fn commit(&mut self, lease: &str, commit: &Commit, checkpoint: Option<&Saved>) -> Result<()> {
        let (key, fence) = (self.keys.producer_lease(), self.keys.producer_fence());
        let (held, drawn): (Option<String>, Option<String>) = redis::pipe()
            .cmd("WATCH")
            .arg(&[&key, &fence])
            .ignore()
            .get(&key)
            .get(&fence)
            .query_async(&mut self.con)
            .await?;
        // Expired but not taken (no fence drawn since ours: a step slower than the lease) is
        // still ours; the transaction sets the lease again.
        let ours = match held.as_deref() {
            Some(value) => value == lease,
            None => lease.split_once(' ').is_some_and(|(ours, _)| drawn.as_deref() == Some(ours)),
        };
        if !ours {
            redis::cmd("UNWATCH").query_async::<()>(&mut self.con).await?;
            return Err(Error::Fenced(held.unwrap_or_else(|| "nobody".into())));
        }
        let mut pipe = redis::pipe();
        pipe.atomic().pset_ex(&key, lease, self.lease_ttl.as_millis() as u64).ignore();
        if let Some(progress) = &commit.progress {
            pipe.set(self.keys.producer_progress(), progress.encode()).ignore();
        }
        if let Some(record) = commit.record {
            // The group's position is the producer's, so `XINFO GROUPS` shows its lag.
            pipe.cmd("XGROUP")
                .arg("SETID")
                .arg(&self.stream)
                .arg(&self.group)
                .arg(record.upto.to_string())
                .arg("ENTRIESREAD")
                .arg(commit.entries_read);
        }
        let messages = write_bars(&mut pipe, &self.keys, &commit.events, runtime::clock::version_us());
        let unsent = self.con.publish_in(&mut pipe, messages);
        if self.archive_group.is_some() && !commit.refused.is_empty() {
            let refused: Vec<(String, &str)> =
                commit.refused.iter().map(|(id, at)| (id.to_string(), at.as_str())).collect();
            pipe.hset_multiple(self.keys.refused_ticks(), &refused).ignore();
        }
        for d in &commit.dead {
            let id = d.id.to_string();
            let fields: [(&str, &[u8]); 5] = [
                ("reason", d.reason.as_str().as_bytes()),
                ("detail", d.detail.as_bytes()),
                ("id", id.as_bytes()),
                ("field", d.field.as_bytes()),
                ("entry", &d.entry),
            ];
            let limit = redis::streams::StreamMaxlen::Approx(DEAD_LETTERS_KEPT);
            pipe.xadd_maxlen(self.keys.dead_ticks(), limit, "*", &fields).ignore();
        }
        match (checkpoint, commit.record) {
            (Some(saved), _) => {
                let (last_id, format) = (saved.last_id.to_string(), saved.format.to_string());
                let state = [
                    ("format", format.as_bytes()),
                    ("aggregator", saved.aggregator.as_slice()),
                    ("counters", saved.counters.as_slice()),
                    ("last_id", last_id.as_bytes()),
                    ("latest_day", saved.latest_day.as_bytes()),
                ];
                pipe.hset_multiple(self.keys.producer_state(), &state).ignore();
                pipe.del(self.keys.producer_journal()).ignore();
                if let Some(below) = self.trim_below(saved.last_id).await? {
                    pipe.cmd("XTRIM").arg(&self.stream).arg("MINID").arg(below.to_string()).ignore();
                }
            }
            (None, Some(record)) => {
                pipe.rpush(self.keys.producer_journal(), record.encode()).ignore();
            }
            (None, None) => {}
        }
        let landed: Option<()> = pipe.query_async(&mut self.con).await?;
        landed.ok_or_else(|| Error::Fenced("another producer (it changed while this commit was sent)".into()))?;
        self.con.replicated().await?;
        self.con.send(unsent).await;
        Ok(())
    }

    /// The id below which a checkpoint at `checkpoint` trims the stream, if it trims: the
    /// checkpoint, or with the tick archive on the older of it and the archiver's position (not
    /// at all while the archiver has no group yet).
    async fn trim_below(&mut self, checkpoint: EntryId) -> Result<Option<EntryId>> {
        if !self.trim {
            return Ok(None);
        }
        let Some(archive_group) = self.archive_group.clone() else { return Ok(Some(checkpoint)) };
        let Some(archiver) = self.group(&archive_group).await? else { return Ok(None) };
        let archived: EntryId = archiver.last_delivered_id.parse().map_err(Error::State)?;
        Ok(Some(archived.successor().min(checkpoint)))
    }

    /// The stream's consumer group `name`, when it exists.
    async fn group(&mut self, name: &str) -> Result<Option<redis::streams::StreamInfoGroup>> {
        let groups: redis::streams::StreamInfoGroupsReply = self.con.xinfo_groups(&self.stream).await?;
        Ok(groups.groups.into_iter().find(|g| g.name == name))
    }

    /// Entries after the producer's committed position (`lag`).
    pub async fn backlog(&mut self) -> Result<Option<u64>> {
        let group = self.group(&self.group.clone()).await?;
        Ok(group.and_then(|g| g.lag.map(|l| l as u64)))
    }

    pub async fn ping(&mut self) -> Result<()> {
        Ok(redis::cmd("PING").query_async::<()>(&mut self.con).await?)
    }
}

/// Writes bar events as the producer commits them (the test harness writes same-day bars with it
/// too). Closed and amended bars replace their frame in the day's sorted set, and their messages
/// `(channel, bar object)` are returned for the connection to publish
/// ([`runtime::redis::Connection::publish_in`]);
/// forming bars go to the day's hash, and leave it when they close without a successor: the
/// hash holds each symbol's forming bar as of the step's end, wherever steps were cut. Every
/// symbol with a bar joins the day's symbol set, and every (period, symbol) whose closed bars
/// changed takes `version` (a microsecond of the wall clock, unique to the commit) in the day's
/// versions, which the query API's cache is checked against.
pub fn write_bars(pipe: &mut redis::Pipeline, keys: &Keys, events: &[BarEvent], version: u64) -> Vec<(String, String)> {
    let mut messages = Vec::new();
    let mut forming: BTreeMap<(NaiveDate, Period, Symbol), Option<String>> = BTreeMap::new();
    let mut changed: BTreeMap<NaiveDate, BTreeSet<String>> = BTreeMap::new();
    let mut days = BTreeSet::new();
    let mut symbols: BTreeMap<NaiveDate, BTreeSet<Symbol>> = BTreeMap::new();
    for e in events {
        let day = e.bar.frame.date();
        days.insert(day.to_string());
        symbols.entry(day).or_default().insert(e.bar.symbol);
        let json = serde_json::to_string(&e.bar).expect("bars serialize");
        let field = (day, e.period, e.bar.symbol);
        if e.kind == BarEventKind::Updated {
            forming.insert(field, Some(json));
            continue;
        }
        if e.kind == BarEventKind::Closed {
            forming.insert(field, None);
        }
        changed.entry(day).or_default().insert(history_version_field(e.period, e.bar.symbol));
        let key = keys.day_bars(day, e.period, e.bar.symbol);
        let score = e.bar.frame.epoch_seconds();
        pipe.zrembyscore(&key, score, score).ignore();
        pipe.zadd(&key, &json, score).ignore();
        messages.push((keys.bar_channel(e.period, e.bar.symbol), json));
    }
    let mut by_hash: BTreeMap<(NaiveDate, Period), FormingHash> = BTreeMap::new();
    for ((day, period, symbol), bar) in forming {
        let hash = by_hash.entry((day, period)).or_default();
        match bar {
            Some(json) => hash.set.push((symbol.to_string(), json)),
            None => hash.removed.push(symbol.to_string()),
        }
    }
    for ((day, period), hash) in &by_hash {
        let key = keys.forming_bars(*day, *period);
        if !hash.set.is_empty() {
            pipe.hset_multiple(&key, &hash.set).ignore();
        }
        if !hash.removed.is_empty() {
            pipe.hdel(&key, &hash.removed).ignore();
        }
    }
    for (day, members) in symbols {
        let members: Vec<String> = members.iter().map(ToString::to_string).collect();
        pipe.sadd(keys.day_symbols(day), members).ignore();
    }
    for (day, fields) in changed {
        let versions: Vec<(String, u64)> = fields.into_iter().map(|f| (f, version)).collect();
        pipe.hset_multiple(keys.day_versions(day), &versions).ignore();
    }
    if !days.is_empty() {
        pipe.sadd(keys.days_held(), days).ignore();
    }
    messages
}

/// What one step writes to one forming-bar hash: the symbols' bars set, the symbols removed.
#[derive(Default)]
struct FormingHash {
    set: Vec<(String, String)>,
    removed: Vec<String>,
}

fn entry(s: StreamId) -> Result<Entry> {
    let id = s.id.parse().map_err(Error::State)?;
    Ok(Entry { id, fields: runtime::redis::entry_fields(s.map) })
}
