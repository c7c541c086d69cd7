//! One shard's tick stream as the archiver reads it: its own consumer group (`archive.group`), whose
//! position is the last entry archived; the producer's group, whose position bounds what may be
//! archived (the producer has judged those entries); the producer's refusals; and the move of the
//! archiver's position, with the refusals it passed, as one transaction. The producer trims the
//! stream only behind the slower of the two groups.

use std::collections::BTreeMap;

use common::stream::EntryId;
use redis::streams::{StreamInfoGroupsReply, StreamRangeReply};
use redis::AsyncCommands;
use runtime::keys::Keys;
use runtime::redis::Connection;

use crate::error::Result;

/// A stream entry: its id and its fields, sorted as the producer reads them (so the positions of
/// its refusals name the same ticks).
pub struct StreamEntry {
    pub id: EntryId,
    pub fields: Vec<(String, Vec<u8>)>,
}

/// The tick stream of one producer shard.
#[derive(Clone)]
pub struct TickStream {
    stream: String,
    refused: String,
    group: String,
    producer_group: String,
}

/// Where the two readers of a stream stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Positions {
    /// The last entry archived.
    pub archived: EntryId,
    /// The last entry the producer committed; `None` before it first read the stream.
    pub producer: Option<EntryId>,
    /// Entries the producer has committed and the archive not, when Redis counts them.
    pub lag: Option<u64>,
}

impl TickStream {
    /// The stream of `shard` (the names of one shard, [`Keys::shard`]).
    pub fn new(shard: &Keys, group: &str, producer_group: &str) -> TickStream {
        TickStream {
            stream: shard.tick_stream(),
            refused: shard.refused_ticks(),
            group: group.to_owned(),
            producer_group: producer_group.to_owned(),
        }
    }

    /// Creates the archiver's group at the stream's start unless it exists: from then on the
    /// producer trims nothing the archiver has not passed.
    pub async fn ensure_group(&self, con: &mut Connection) -> Result<()> {
        let created: redis::RedisResult<()> = con.xgroup_create_mkstream(&self.stream, &self.group, "0").await;
        match created {
            Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
            other => Ok(other?),
        }
    }

    /// Both groups' positions.
    pub async fn positions(&self, con: &mut Connection) -> Result<Positions> {
        let reply: StreamInfoGroupsReply = con.xinfo_groups(&self.stream).await?;
        let position = |name: &str| {
            let group = reply.groups.iter().find(|g| g.name == name);
            group.and_then(|g| g.last_delivered_id.parse::<EntryId>().ok()).filter(|id| *id != EntryId::default())
        };
        let ours = reply.groups.iter().find(|g| g.name == self.group);
        let lag = ours.and_then(|g| g.lag).map(|l| l as u64);
        let (archived, producer) = (position(&self.group).unwrap_or_default(), position(&self.producer_group));
        let lag = producer.and_then(|p| lag.map(|l| if p > archived { l } else { 0 }));
        Ok(Positions { archived, producer, lag })
    }

    /// Up to `count` entries after `after` up to and including `upto`, in order.
    pub async fn entries(
        &self,
        con: &mut Connection,
        after: EntryId,
        upto: EntryId,
        n: usize,
    ) -> Result<Vec<StreamEntry>> {
        let page: StreamRangeReply = con.xrange_count(&self.stream, format!("({after}"), upto.to_string(), n).await?;
        Ok(page.ids.into_iter().filter_map(entry).collect())
    }

    /// The producer's refusals not yet passed: entry id to the positions of its refused ticks.
    pub async fn refused(&self, con: &mut Connection) -> Result<BTreeMap<EntryId, Vec<u32>>> {
        let all: BTreeMap<String, String> = con.hgetall(&self.refused).await?;
        let positions = |list: &str| list.split(',').filter_map(|p| p.parse().ok()).collect();
        Ok(all.into_iter().filter_map(|(id, list)| Some((id.parse().ok()?, positions(&list)))).collect())
    }

    /// Moves the archiver's position to `to` and forgets the refusals it passed, in one transaction.
    pub async fn advance(&self, con: &mut Connection, to: EntryId, passed: &[EntryId]) -> Result<()> {
        let mut pipe = redis::pipe();
        pipe.atomic().cmd("XGROUP").arg("SETID").arg(&self.stream).arg(&self.group).arg(to.to_string()).ignore();
        if !passed.is_empty() {
            let fields: Vec<String> = passed.iter().map(ToString::to_string).collect();
            pipe.hdel(&self.refused, fields).ignore();
        }
        Ok(pipe.query_async(con).await?)
    }
}

/// The entry of a stream reply; `None` for an id Redis would not hand out.
fn entry(s: redis::streams::StreamId) -> Option<StreamEntry> {
    Some(StreamEntry { id: s.id.parse().ok()?, fields: runtime::redis::entry_fields(s.map) })
}
