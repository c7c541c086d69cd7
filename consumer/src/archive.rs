//! The tick archive's writer: while this instance holds the drain lock, each shard's tick stream is
//! read after the archiver's own position up to the producer's (entries the producer has judged),
//! each entry's ticks read by the producer's field rules less those its rules refused, written to
//! `tickbar.ticks` in one INSERT, and only then the position moved. Exactly once: a batch whose
//! INSERT may have landed unrecorded (after a start or any failure) first asks which of its ticks
//! are stored and writes only the others.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::keys::Keys;
use common::settings::ArchiveSettings;
use common::stream::EntryId;
use common::tick::parse_quotes;
use runtime::archive::TickRow;
use runtime::redis::Connection;
use runtime::stores::Store;

use crate::error::Result;
use crate::monitor::Monitor;
use crate::store::stream::{StreamEntry, TickStream};
use crate::store::ticks::Archive;

/// The archiver of every shard's stream.
pub struct Archiver {
    streams: Vec<TickStream>,
    archive: Archive,
    batch_entries: usize,
    batch_ticks: usize,
    /// Per shard: whether the last INSERT may have landed without the position moving.
    uncertain: Vec<AtomicBool>,
    monitor: Arc<Monitor>,
}

impl Archiver {
    pub fn new(keys: &Keys, settings: &ArchiveSettings, archive: Archive, monitor: Arc<Monitor>) -> Archiver {
        let streams: Vec<TickStream> =
            keys.each_shard().map(|shard| TickStream::new(&shard, &settings.group, &settings.producer_group)).collect();
        Archiver {
            uncertain: streams.iter().map(|_| AtomicBool::new(true)).collect(),
            streams,
            archive,
            batch_entries: settings.batch_entries.max(1),
            batch_ticks: settings.batch_ticks.max(1),
            monitor,
        }
    }

    /// How many shard streams there are.
    pub fn shards(&self) -> usize {
        self.streams.len()
    }

    /// Before archiving under a newly taken lock: every group exists, and every shard's next batch
    /// checks what is stored (the last holder's INSERT may have landed unrecorded).
    pub async fn prepare(&self, con: &mut Connection) -> Result<()> {
        for (stream, uncertain) in self.streams.iter().zip(&self.uncertain) {
            stream.ensure_group(con).await?;
            uncertain.store(true, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Archives one batch of shard `shard`; `false` when it had nothing to archive.
    pub async fn step(&self, shard: usize, con: &mut Connection) -> Result<bool> {
        let result = self.archive_batch(shard, con).await;
        if result.is_err() {
            self.uncertain[shard].store(true, Ordering::Relaxed);
        }
        result
    }

    async fn archive_batch(&self, shard: usize, con: &mut Connection) -> Result<bool> {
        let stream = &self.streams[shard];
        let at = stream.positions(con).await?;
        self.monitor.set_up(Store::Redis);
        self.monitor.archive_position(shard, at);
        let Some(producer) = at.producer.filter(|p| *p > at.archived) else { return Ok(false) };
        let entries = stream.entries(con, at.archived, producer, self.batch_entries).await?;
        let refused = stream.refused(con).await?;
        let (mut rows, upto) = rows_of(&entries, &refused, self.batch_ticks);
        let upto = upto.unwrap_or(producer);
        let recheck = self.uncertain[shard].load(Ordering::Relaxed);
        if recheck {
            let stored = self.archive.stored(&rows).await?;
            rows.retain(|r| !stored.contains(&(r.symbol.clone(), r.entry_ms, r.entry_seq, r.element)));
            self.uncertain[shard].store(!stored.is_empty(), Ordering::Relaxed);
        }
        if !rows.is_empty() {
            self.archive.insert(&rows).await?;
            self.monitor.set_up(Store::ClickHouse);
        }
        let passed: Vec<EntryId> = refused.range(..=upto).map(|(id, _)| *id).collect();
        stream.advance(con, upto, &passed).await?;
        self.monitor.ticks_archived(rows.len() as u64, recheck);
        tracing::debug!(shard, ticks = rows.len(), %upto, recheck, "ticks archived");
        Ok(true)
    }
}

/// The rows of `entries` (in stream order) less the ticks `refused` names, cut after the entry that
/// brings them to `limit`: the rows, and the last entry they cover (`None` without entries).
pub fn rows_of(
    entries: &[StreamEntry],
    refused: &BTreeMap<EntryId, Vec<u32>>,
    limit: usize,
) -> (Vec<TickRow>, Option<EntryId>) {
    let mut rows = Vec::new();
    let mut upto = None;
    for entry in entries {
        if rows.len() >= limit {
            break;
        }
        let left_out = refused.get(&entry.id).map_or(&[][..], Vec::as_slice);
        let quotes = entry.fields.iter().flat_map(|(field, value)| match std::str::from_utf8(value) {
            Ok(payload) => parse_quotes(field, payload),
            Err(_) => Vec::new(),
        });
        for (element, quote) in (0u32..).zip(quotes) {
            if !left_out.contains(&element) {
                rows.push(TickRow::new(&quote, entry.id, element));
            }
        }
        upto = Some(entry.id);
    }
    (rows, upto)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: u64, fields: &[(&str, &str)]) -> StreamEntry {
        let mut fields: Vec<(String, Vec<u8>)> =
            fields.iter().map(|(f, v)| (f.to_string(), v.as_bytes().to_vec())).collect();
        fields.sort();
        StreamEntry { id: EntryId { ms: 7, seq }, fields }
    }

    fn tick(symbol: &str, time: i64) -> String {
        format!(r#"{{"symbol":"{symbol}","time":{time},"price":"10.5","volume":100}}"#)
    }

    #[test]
    fn every_accepted_tick_is_a_row_named_by_its_entry_and_position_less_the_refused() {
        let t = 1_763_602_203_000;
        let entries = [
            entry(0, &[("tick", &format!("[{},{{\"symbol\":\"x\"}},{}]", tick("600519.SH", t), tick("000001.SZ", t)))]),
            entry(1, &[("qmt", r#"{"000333.SZ":{"time":1763602203000,"lastPrice":70,"volume":3,"amount":21000}}"#)]),
            entry(2, &[("tick", &tick("600519.SH", t + 1)), ("quote", "{}")]),
            entry(3, &[("tick", "not json")]),
        ];
        let refused = BTreeMap::from([(EntryId { ms: 7, seq: 0 }, vec![0])]);
        let (rows, upto) = rows_of(&entries, &refused, 100);
        let named: Vec<(&str, u64, u32)> = rows.iter().map(|r| (r.symbol.as_str(), r.entry_seq, r.element)).collect();
        assert_eq!(named, [("000001.SZ", 0, 1), ("000333.SZ", 1, 0), ("600519.SH", 2, 0)]);
        assert_eq!((rows[1].volume, upto), (300, Some(EntryId { ms: 7, seq: 3 })), "the unreadable entry is passed");
    }

    #[test]
    fn a_batch_is_cut_after_the_entry_that_reaches_the_limit() {
        let t = 1_763_602_203_000;
        let two = format!("[{},{}]", tick("600519.SH", t), tick("600519.SH", t + 1));
        let entries: Vec<StreamEntry> = (0..4).map(|seq| entry(seq, &[("tick", &two)])).collect();
        let (rows, upto) = rows_of(&entries, &BTreeMap::new(), 3);
        assert_eq!((rows.len(), upto), (4, Some(EntryId { ms: 7, seq: 1 })), "whole entries only");
        assert_eq!(rows_of(&[], &BTreeMap::new(), 3).1, None);
    }
}
