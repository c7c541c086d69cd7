//! The producer service: takes the lease (or stands by while another producer holds it), recovers
//! its state from Redis, then reads, applies and commits batches until asked to stop. A Redis
//! failure or a lost lease sends it back to the lease after a backoff: the state in memory may be
//! ahead of what was committed, and Redis alone says what was. A saved state it cannot use is a
//! fault: shown on `/readyz` and the monitor, and looked at again until someone repairs it.

use std::sync::Arc;
use std::time::Duration;

use common::TradingCalendar;
use runtime::backoff::Backoff;
use runtime::calendar::LiveCalendar;
use runtime::clock::Clock;
use runtime::redis::Connection;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::engine::{Commit, Engine, Rules, Tempo};
use crate::error::Result;
use crate::monitor::Monitor;
use crate::settings::ProducerSettings;
use crate::store::{Lease, StreamStore};

/// How often a producer whose saved state is unusable looks whether it was repaired.
const FAULT_RECHECK: Duration = Duration::from_secs(10);

/// Runs until `stop` turns true, then commits a checkpoint (when active) and returns. Bars close,
/// and lags are judged, on `clock`; intervals (checkpoints, lease renewal) on tokio's time. The
/// calendar follows the changes stored in Redis meanwhile, active or standing by.
pub async fn run(
    settings: &ProducerSettings,
    calendar: LiveCalendar,
    clock: Clock,
    con: Connection,
    monitor: Arc<Monitor>,
    mut stop: watch::Receiver<bool>,
) {
    // Unique to this process: two producers configured with one name still exclude each other.
    let instance = runtime::process_token(&runtime::instance_name(&settings.producer.instance));
    let lease_ttl = Duration::from_millis(settings.producer.lease_ttl_ms.max(100));
    let mut backoff = Backoff::new();
    tokio::spawn(runtime::calendar::follow(con.clone(), settings.keys(), calendar.clone(), stop.clone()));
    while !*stop.borrow() {
        let mut store = StreamStore::new(con.clone(), settings.keys(), settings);
        let delay = match store.acquire(&instance).await {
            Ok(Lease::Ours(lease)) => {
                monitor.active(&lease);
                match Worker::recover(settings, calendar.clone(), clock, store, lease, &monitor).await {
                    Ok(mut worker) => {
                        backoff.reset();
                        match worker.run(&monitor, &stop).await {
                            Ok(()) => return,
                            Err(e) => monitor.failed(&e),
                        }
                    }
                    Err(e) => monitor.failed(&e),
                }
                if monitor.faulty() {
                    FAULT_RECHECK
                } else {
                    backoff.next_delay()
                }
            }
            Ok(Lease::Held(holder)) => {
                monitor.standing_by(&holder);
                backoff.reset();
                lease_ttl / 10
            }
            Err(e) => {
                monitor.failed(&e);
                backoff.next_delay()
            }
        };
        tokio::select! {
            () = tokio::time::sleep(delay) => {},
            _ = stop.changed() => {},
        }
    }
}

/// An active producer with its recovered engine.
struct Worker {
    store: StreamStore,
    engine: Engine,
    /// The calendar followed, and the one the engine works on.
    calendar: LiveCalendar,
    applied: Arc<TradingCalendar>,
    /// The lease value every commit must find.
    lease: String,
    read: ReadSize,
    block: Duration,
    checkpoint_every: Duration,
    last_checkpoint: Instant,
    /// Commits journalled since the checkpoint: nothing to checkpoint while it is zero.
    journalled: usize,
    /// The lease is renewed by every commit, and by an empty one when this much passed without.
    renew_every: Duration,
    last_commit: Instant,
    clock: Clock,
    /// On the wall clock (in event time there is nothing to catch up with).
    wall_clock: bool,
    /// Working off a backlog: the next batch is applied in event time.
    behind: bool,
    /// The wall clock after the previous read; a longer pause than `catch_up_lag_ms` (a SIGSTOP, a
    /// starved process) means entries may have piled up behind it.
    last_wall: i64,
    catch_up_lag_ms: i64,
}

impl Worker {
    /// Hands the engine the calendar [`LiveCalendar`] holds now, when it changed.
    fn follow_calendar(&mut self) {
        let days = self.calendar.days();
        if !Arc::ptr_eq(&days, &self.applied) {
            self.engine.set_calendar(days.clone());
            self.applied = days;
            tracing::info!(version = self.calendar.current().version, "the bars follow the changed calendar");
        }
    }

    /// Loads the checkpoint and replays the journal after it: the engine as of the last commit.
    async fn recover(
        settings: &ProducerSettings,
        calendar: LiveCalendar,
        clock: Clock,
        mut store: StreamStore,
        lease: String,
        monitor: &Monitor,
    ) -> Result<Worker> {
        let section = &settings.producer;
        let wall_clock = section.clock == crate::settings::BarClock::Wall;
        store.ensure_group().await?;
        let (saved, journal) = store.load().await?;
        store.refresh_calendar(&calendar).await?;
        let applied = calendar.days();
        let mut engine = match &saved {
            Some(saved) => Engine::restore(&settings.bars, applied.clone(), Rules::of(settings), saved)?,
            None => Engine::new(&settings.bars, applied.clone(), Rules::of(settings)),
        };
        let started = Instant::now();
        let mut scratch = Commit::default();
        for record in &journal {
            let entries = store.range(engine.last_id(), record.upto).await?;
            if record.upto > engine.last_id() && entries.last().is_none_or(|e| e.id != record.upto) {
                let missing = format!("the journal needs stream entries up to {} that are gone", record.upto);
                return Err(crate::error::Error::State(missing));
            }
            scratch.clear();
            engine.step(&entries, record.tempo, &mut scratch);
        }
        tracing::info!(
            checkpoint = saved.as_ref().map(|s| s.last_id.to_string()),
            journal = journal.len(),
            last_id = %engine.last_id(),
            took_ms = started.elapsed().as_millis() as u64,
            "recovered"
        );
        let worker = Worker {
            store,
            engine,
            calendar,
            applied,
            lease,
            read: ReadSize::new(section.batch_entries, section.batch_ticks),
            block: Duration::from_millis(section.block_ms.max(1)),
            checkpoint_every: Duration::from_millis(section.checkpoint_interval_ms),
            last_checkpoint: Instant::now(),
            journalled: journal.len(),
            renew_every: Duration::from_millis(section.lease_ttl_ms.max(100) / 3),
            last_commit: Instant::now(),
            clock,
            wall_clock,
            behind: wall_clock,
            last_wall: clock.now_ms(),
            catch_up_lag_ms: section.catch_up_lag_ms as i64,
        };
        monitor.recovered(&worker.engine, worker.behind);
        Ok(worker)
    }

    async fn run(&mut self, monitor: &Monitor, stop: &watch::Receiver<bool>) -> Result<()> {
        let mut commit = Commit::default();
        loop {
            if *stop.borrow() {
                commit.clear();
                return self.store.commit(&self.lease, &commit, Some(&self.engine.save())).await;
            }
            self.follow_calendar();
            let before = self.clock.now_ms();
            let asked = self.read.count;
            let entries = self.store.next(self.engine.last_id(), asked, self.block).await?;
            // Read after the entries, so none is stamped after it; a stall anywhere in the loop
            // longer than `catch_up_lag_ms` (besides the read's own wait) means a backlog.
            let wall = self.clock.now_ms();
            let waited = self.block.as_millis() as i64 + self.catch_up_lag_ms;
            let paused = before - self.last_wall > self.catch_up_lag_ms || wall - before > waited;
            self.last_wall = wall;
            let checkpoint_due = self.journalled > 0 && self.last_checkpoint.elapsed() >= self.checkpoint_every;
            let renew_due = self.last_commit.elapsed() >= self.renew_every;
            if entries.is_empty() && !self.engine.due(wall) && !checkpoint_due && !renew_due {
                continue;
            }
            // An empty read means the stream is drained: the wall clock may close bars again.
            let tempo = Tempo { wall_ms: wall, catch_up: !entries.is_empty() && (self.behind || paused) };
            commit.clear();
            let ticks_before = self.engine.counters().ticks;
            self.engine.step(&entries, tempo, &mut commit);
            self.read.adapt(entries.len(), self.engine.counters().ticks - ticks_before);
            let checkpoint = checkpoint_due.then(|| self.engine.save());
            self.store.commit(&self.lease, &commit, checkpoint.as_ref()).await?;
            self.last_commit = Instant::now();
            if checkpoint.is_some() {
                self.last_checkpoint = Instant::now();
                self.journalled = 0;
            } else {
                self.journalled += 1;
            }
            let fresh = self.engine.watermark().is_some_and(|w| w >= wall - self.catch_up_lag_ms);
            self.behind = self.wall_clock && (entries.len() == asked || (tempo.catch_up && !fresh));
            monitor.committed(&self.engine, self.behind);
        }
    }
}

/// How many entries the next read asks for: at most `batch_entries`, and about `batch_ticks`
/// ticks' worth at the size the last batch's payloads had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ReadSize {
    max_entries: usize,
    ticks: usize,
    count: usize,
}

impl ReadSize {
    fn new(max_entries: usize, ticks: usize) -> ReadSize {
        let max_entries = max_entries.max(1);
        ReadSize { max_entries, ticks: ticks.max(1), count: max_entries }
    }

    /// Sizes the next read after a batch of `entries` entries that held `ticks` ticks.
    fn adapt(&mut self, entries: usize, ticks: u64) {
        if entries > 0 {
            let per_entry = usize::try_from(ticks).unwrap_or(usize::MAX).div_ceil(entries).max(1);
            self.count = (self.ticks / per_entry).clamp(1, self.max_entries);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ReadSize;

    #[test]
    fn reads_shrink_for_big_payloads_and_grow_back_for_small_ones() {
        let mut read = ReadSize::new(1000, 20_000);
        assert_eq!(read.count, 1000, "the first read asks for the most");
        read.adapt(1000, 5_000_000);
        assert_eq!(read.count, 4, "whole-market payloads of 5,000 snapshots: four a batch");
        read.adapt(4, 20_000);
        assert_eq!(read.count, 4);
        read.adapt(4, 4);
        assert_eq!(read.count, 1000, "single ticks again: back to the most");
        read.adapt(0, 0);
        assert_eq!(read.count, 1000, "an empty read changes nothing");
        read.adapt(1, 1_000_000);
        assert_eq!(read.count, 1, "never less than one entry");
    }
}
