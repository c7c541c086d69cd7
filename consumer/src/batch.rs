//! One batch of queue items on its way to ClickHouse, without I/O: items become rows or dead
//! letters, a bar sent twice in the batch counts once (the later one wins), and rows already stored
//! unchanged (or by a later take) are dropped as duplicates while changed ones replace the stored
//! row, as does every vendor bar a live bar holds the frame of.

use std::collections::{BTreeMap, HashMap};

use common::normalise::DeadReason;
use common::{Period, Source};
use runtime::clickhouse::BarRow;
use serde::Serialize;

use crate::item::{DeadLetter, Validator};

/// What a batch came to.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub items: u64,
    /// New (symbol, period, frame)s written.
    pub inserted: u64,
    /// Stored bars replaced by a different bar for the same frame.
    pub replaced: u64,
    /// Items that changed nothing: already stored as they are, or superseded later in the batch.
    pub duplicates: u64,
    pub dead: BTreeMap<DeadReason, u64>,
    /// Batches written without an existence read: every row later than the high-water marks.
    pub unchecked: u64,
}

impl Tally {
    pub fn add(&mut self, other: &Tally) {
        self.items += other.items;
        self.inserted += other.inserted;
        self.replaced += other.replaced;
        self.duplicates += other.duplicates;
        self.unchecked += other.unchecked;
        for (reason, n) in &other.dead {
            *self.dead.entry(*reason).or_default() += n;
        }
    }

    pub fn dead_total(&self) -> u64 {
        self.dead.values().sum()
    }
}

/// The usable rows of a batch (one per frame) and the dead letters of the rest.
#[derive(Debug, Default)]
pub struct Prepared {
    pub rows: Vec<BarRow>,
    pub dead: Vec<String>,
    pub tally: Tally,
}

/// Checks each item (oldest first) of `queue`, the queue of `period`; rows carry `version`, and
/// dead letters its time in ms.
pub fn prepare(validator: &Validator, period: Period, queue: &str, items: &[String], version: u64) -> Prepared {
    let mut out = Prepared { tally: Tally { items: items.len() as u64, ..Tally::default() }, ..Prepared::default() };
    let mut at: HashMap<(String, u32), usize> = HashMap::with_capacity(items.len());
    for item in items {
        let row = validator.bar(period, item).and_then(|bar| {
            BarRow::new(&bar, period, version)
                .map_err(|e| crate::item::Refused { reason: DeadReason::OutOfRange, detail: e.to_string() })
        });
        match row {
            Ok(row) => match at.get(&(row.symbol.clone(), row.frame)) {
                Some(&i) => {
                    out.rows[i] = row;
                    out.tally.duplicates += 1;
                }
                None => {
                    at.insert((row.symbol.clone(), row.frame), out.rows.len());
                    out.rows.push(row);
                }
            },
            Err(refused) => {
                *out.tally.dead.entry(refused.reason).or_default() += 1;
                let letter = DeadLetter {
                    reason: refused.reason,
                    detail: &refused.detail,
                    queue,
                    item,
                    at_ms: (version / 1000) as i64,
                };
                out.dead.push(serde_json::to_string(&letter).expect("dead letters serialize"));
            }
        }
    }
    out
}

/// Drops the rows stored unchanged, or stored from a later take, in `existing`; a changed row
/// keeps its (higher) version and replaces the stored one. A stored live bar is always replaced,
/// the same or not: the frame's source becomes the vendor.
pub fn reconcile(prepared: &mut Prepared, existing: &[BarRow]) {
    let stored: HashMap<(&str, u32), &BarRow> = existing.iter().map(|r| ((r.symbol.as_str(), r.frame), r)).collect();
    let tally = &mut prepared.tally;
    prepared.rows.retain(|row| match stored.get(&(row.symbol.as_str(), row.frame)) {
        Some(old)
            if Source::of_version(old.version) == Source::Vendor
                && (old.same_bar(row) || old.version >= row.version) =>
        {
            tally.duplicates += 1;
            false
        }
        Some(_) => {
            tally.replaced += 1;
            true
        }
        None => {
            tally.inserted += 1;
            true
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use runtime::calendar::{LiveCalendar, Market};

    fn item(minute: u32, close: &str) -> String {
        format!(
            r#"{{"symbol":"600519.SH","frame":"2023-02-01 10:{minute:02}:00","open":10,"high":12,"low":9,"close":{close},"vol":100,"amount":1000}}"#
        )
    }

    /// A vendor take's version: microseconds of November 2023.
    const TAKEN: u64 = 1_700_000_000_000_000;

    fn validator() -> Validator {
        Validator::new(Market::new(common::Layout::default(), LiveCalendar::bundled()))
    }

    #[test]
    fn a_bar_twice_in_a_batch_counts_once_and_the_later_wins() {
        let items = [item(1, "10"), item(2, "11"), item(1, "11.5"), "junk".into()];
        let mut p = prepare(&validator(), Period::M1, "q", &items, 5);
        assert_eq!(p.rows.len(), 2);
        assert_eq!(p.rows[0].close, 115_000);
        assert_eq!(p.dead.len(), 1);
        assert!(p.dead[0].contains(r#""reason":"bad_json""#) && p.dead[0].contains(r#""item":"junk""#));
        reconcile(&mut p, &[]);
        assert_eq!(
            p.tally,
            Tally {
                items: 4,
                inserted: 2,
                replaced: 0,
                duplicates: 1,
                dead: [(DeadReason::BadJson, 1)].into(),
                unchecked: 0
            }
        );
    }

    #[test]
    fn stored_bars_are_duplicates_unless_changed_by_a_later_take() {
        let stored =
            prepare(&validator(), Period::M1, "q", &[item(1, "10"), item(2, "11"), item(4, "11")], TAKEN + 100).rows;
        let items = [item(1, "10"), item(2, "10.5"), item(3, "10"), item(4, "12")];
        let mut later = prepare(&validator(), Period::M1, "q", &items, TAKEN + 200);
        reconcile(&mut later, &stored);
        assert_eq!((later.tally.inserted, later.tally.replaced, later.tally.duplicates), (1, 2, 1));
        let minutes: Vec<u32> = later.rows.iter().map(|r| r.frame % 3600 / 60).collect();
        assert_eq!(minutes, [2, 3, 4]);
        let mut earlier = prepare(&validator(), Period::M1, "q", &[item(2, "9.5")], TAKEN + 50);
        reconcile(&mut earlier, &stored);
        assert_eq!(
            (earlier.rows.len(), earlier.tally.duplicates),
            (0, 1),
            "an older take never overwrites a newer one"
        );
    }

    #[test]
    fn a_vendor_bar_replaces_a_live_one_even_when_they_agree() {
        let live = prepare(&validator(), Period::M1, "q", &[item(1, "10"), item(2, "11")], 1_700_000_000).rows;
        let mut vendor = prepare(&validator(), Period::M1, "q", &[item(1, "10"), item(2, "10.5")], TAKEN);
        reconcile(&mut vendor, &live);
        assert_eq!((vendor.rows.len(), vendor.tally.replaced, vendor.tally.duplicates), (2, 2, 0));
        assert!(vendor.rows.iter().all(|r| Source::of_version(r.version) == Source::Vendor));
    }
}
