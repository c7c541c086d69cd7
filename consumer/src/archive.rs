//! The tick archive's writer: while this instance holds the drain lock, each shard's tick stream is
//! read after the archiver's own position up to the producer's (entries the producer has judged),
//! each entry's ticks read by the producer's field rules less those its rules refused, written to
//! `tickbar.ticks` in one INSERT, and only then the position moved. Exactly once: a batch whose
//! INSERT may have landed unrecorded (after a start or any failure) first asks which of its ticks
//! are stored and writes only the others.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use common::stream::EntryId;
use common::tick::Payload;
use runtime::archive::TickRow;
use runtime::keys::Keys;
use runtime::redis::Connection;
use runtime::settings::ArchiveSettings;
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
    /// Per shard: ticks an entry held in the last batch, so the next reads about `batch_ticks`
    /// ticks' worth of entries, not `batch_entries` whole-market payloads it would mostly drop.
    ticks_per_entry: Vec<AtomicUsize>,
    monitor: Arc<Monitor>,
}

/// Entries the first batch of a shard reads: few, until the entries' size is known.
const FIRST_ENTRIES: usize = 16;

impl Archiver {
    pub fn new(keys: &Keys, settings: &ArchiveSettings, archive: Archive, monitor: Arc<Monitor>) -> Archiver {
        let streams: Vec<TickStream> =
            keys.each_shard().map(|shard| TickStream::new(&shard, &settings.group, &settings.producer_group)).collect();
        let batch_ticks = settings.batch_ticks.max(1);
        Archiver {
            uncertain: streams.iter().map(|_| AtomicBool::new(true)).collect(),
            ticks_per_entry: streams.iter().map(|_| AtomicUsize::new(batch_ticks.div_ceil(FIRST_ENTRIES))).collect(),
            streams,
            archive,
            batch_entries: settings.batch_entries.max(1),
            batch_ticks,
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
        let per_entry = self.ticks_per_entry[shard].load(Ordering::Relaxed);
        let wanted = entries_to_read(self.batch_ticks, per_entry, self.batch_entries);
        let entries = stream.entries(con, at.archived, producer, wanted).await?;
        let refused = stream.refused(con).await?;
        let (mut rows, upto) = rows_of(&entries, &refused, self.batch_ticks);
        let used = entries.iter().position(|e| Some(e.id) == upto).map_or(entries.len(), |i| i + 1);
        if used > 0 {
            self.ticks_per_entry[shard].store(rows.len().div_ceil(used).max(1), Ordering::Relaxed);
        }
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

/// Entries to read for about `batch_ticks` ticks at `per_entry` ticks an entry: at least one, at
/// most `batch_entries`.
fn entries_to_read(batch_ticks: usize, per_entry: usize, batch_entries: usize) -> usize {
    (batch_ticks / per_entry.max(1)).clamp(1, batch_entries)
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
            Ok(payload) => Payload::quotes_of_field(field, payload),
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
    fn a_batch_reads_about_its_ticks_worth_of_entries() {
        assert_eq!(entries_to_read(200_000, 5_000, 2_000), 40, "whole-market payloads: 40, not 2,000");
        assert_eq!(entries_to_read(200_000, 1, 2_000), 2_000, "single ticks: the entry cap");
        assert_eq!(entries_to_read(200_000, 500_000, 2_000), 1, "one payload larger than a batch: still one");
        assert_eq!(entries_to_read(200_000, 200_000_usize.div_ceil(FIRST_ENTRIES), 2_000), FIRST_ENTRIES);
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
