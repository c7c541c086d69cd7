//! The producer's deterministic core: batches of stream entries in, bar events and dead letters out,
//! with the counters the monitor shows. The same batch at the same `now` always gives the same
//! result, which is what makes a restart exact: the journal records each batch's last entry id and
//! `now`, and recovery replays them on top of the last checkpoint.

use std::collections::BTreeMap;
use std::sync::Arc;

use common::{BarAggregator, BarEvent, BarEventKind, BarSettings, Tick, TradingCalendar};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::ingest::{read_entry, DeadLetter, Entry, EntryId};
use crate::settings::Clock;

/// Totals since the stream was first read; they survive restarts with the state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    pub entries: u64,
    pub ticks: u64,
    /// Dead-lettered entries (or payload elements) by reason.
    pub dead: BTreeMap<String, u64>,
    /// Bars closed and amended, by period index.
    pub closed: [u64; 5],
    pub amended: [u64; 5],
}

/// One journal record: entries up to `upto` were applied at `now_ms`, then the clock advanced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    pub upto: EntryId,
    pub now_ms: i64,
}

impl Record {
    pub fn encode(&self) -> String {
        format!("{} {}", self.upto, self.now_ms)
    }

    pub fn decode(text: &str) -> Result<Record> {
        let bad = || Error::State(format!("journal record {text:?}"));
        let (upto, now) = text.split_once(' ').ok_or_else(bad)?;
        Ok(Record { upto: upto.parse().map_err(|_| bad())?, now_ms: now.parse().map_err(|_| bad())? })
    }
}

/// What one step produced, committed to Redis as one transaction.
#[derive(Debug, Default)]
pub struct Step {
    pub events: Vec<BarEvent>,
    pub dead: Vec<DeadLetter>,
    pub acks: Vec<EntryId>,
    pub record: Option<Record>,
}

impl Step {
    pub fn clear(&mut self) {
        self.events.clear();
        self.dead.clear();
        self.acks.clear();
        self.record = None;
    }
}

/// A checkpoint: the whole state after the entry `last_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    pub aggregator: Vec<u8>,
    pub counters: Vec<u8>,
    pub last_id: EntryId,
}

/// The aggregator with its clock, counters and stream position.
pub struct Engine {
    agg: BarAggregator,
    clock: Clock,
    counters: Counters,
    last_id: EntryId,
    ticks: Vec<Tick>,
}

impl Engine {
    pub fn new(settings: &BarSettings, calendar: Arc<TradingCalendar>, clock: Clock) -> Engine {
        Engine::with(BarAggregator::new(settings, calendar), clock, Counters::default(), EntryId::default())
    }

    fn with(agg: BarAggregator, clock: Clock, counters: Counters, last_id: EntryId) -> Engine {
        Engine { agg, clock, counters, last_id, ticks: Vec::new() }
    }

    /// The engine as a checkpoint left it.
    pub fn restore(
        settings: &BarSettings,
        calendar: Arc<TradingCalendar>,
        clock: Clock,
        saved: &Saved,
    ) -> Result<Engine> {
        let agg = BarAggregator::restore(settings, calendar, &saved.aggregator)?;
        let counters = serde_json::from_slice(&saved.counters).map_err(|e| Error::State(format!("counters: {e}")))?;
        Ok(Engine::with(agg, clock, counters, saved.last_id))
    }

    pub fn save(&self) -> Saved {
        Saved {
            aggregator: self.agg.save(),
            counters: serde_json::to_vec(&self.counters).expect("counters serialize"),
            last_id: self.last_id,
        }
    }

    /// Applies `entries` (in stream order, all after [`Self::last_id`]) at `now_ms`, then advances
    /// the clock; what happened goes into `step`. In event time `now_ms` is not used.
    pub fn step(&mut self, entries: &[Entry], now_ms: i64, step: &mut Step) {
        self.ticks.clear();
        let first_dead = step.dead.len();
        for entry in entries {
            read_entry(entry, &mut self.ticks, &mut step.dead);
            step.acks.push(entry.id);
        }
        self.counters.entries += entries.len() as u64;
        self.counters.ticks += self.ticks.len() as u64;
        for d in &step.dead[first_dead..] {
            *self.counters.dead.entry(d.reason.to_owned()).or_default() += 1;
        }
        let now_ms = match self.clock {
            Clock::Wall => {
                self.ticks.iter().for_each(|t| {
                    self.agg.apply(t, now_ms);
                });
                now_ms
            }
            Clock::Event => {
                self.ticks.iter().for_each(|t| {
                    self.agg.apply_at_watermark(t);
                });
                self.agg.latest_tick_ms().unwrap_or(i64::MIN)
            }
        };
        self.agg.advance(now_ms);
        for e in self.agg.drain_events() {
            match e.kind {
                BarEventKind::Closed => self.counters.closed[e.period.index()] += 1,
                BarEventKind::Amended => self.counters.amended[e.period.index()] += 1,
                BarEventKind::Updated => {}
            }
            step.events.push(e);
        }
        if let Some(last) = entries.last() {
            self.last_id = last.id;
        }
        step.record = Some(Record { upto: self.last_id, now_ms });
    }

    /// Whether the clock alone has bars to close at `now_ms` (never in event time: only ticks move it).
    pub fn due(&self, now_ms: i64) -> bool {
        self.clock == Clock::Wall && self.agg.due(now_ms)
    }

    pub fn last_id(&self) -> EntryId {
        self.last_id
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    pub fn aggregator(&self) -> &BarAggregator {
        &self.agg
    }
}
