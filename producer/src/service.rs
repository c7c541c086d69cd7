//! The producer service: recovers its state from Redis, then reads, applies and commits batches
//! until asked to stop. Any Redis failure sends it back to recovery after a backoff: the state in
//! memory may be ahead of what was committed, and Redis alone says what was.

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::keys::Keys;
use common::TradingCalendar;
use redis::aio::ConnectionManager;
use runtime::ops::Backoff;
use tokio::sync::watch;

use crate::engine::{Engine, Step};
use crate::error::Result;
use crate::monitor::Monitor;
use crate::settings::ProducerSettings;
use crate::store::Store;

/// Runs until `stop` turns true, then commits a checkpoint and returns.
pub async fn run(
    settings: &ProducerSettings,
    calendar: Arc<TradingCalendar>,
    con: ConnectionManager,
    monitor: Arc<Monitor>,
    mut stop: watch::Receiver<bool>,
) {
    let mut backoff = Backoff::new();
    while !*stop.borrow() {
        match Worker::recover(settings, calendar.clone(), con.clone(), &monitor).await {
            Ok(mut worker) => {
                backoff.reset();
                monitor.set_redis(true);
                match worker.run(&monitor, &stop).await {
                    Ok(()) => return,
                    Err(e) => tracing::warn!(error = %e, "redis failed; recovering from the last commit"),
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot recover from redis yet"),
        }
        monitor.set_redis(false);
        let delay = backoff.next_delay();
        tokio::select! {
            () = tokio::time::sleep(delay) => {},
            _ = stop.changed() => {},
        }
    }
}

/// A connected producer with its recovered engine.
struct Worker {
    store: Store,
    engine: Engine,
    batch: usize,
    block: Duration,
    checkpoint_every: Duration,
    last_checkpoint: Instant,
    /// Commits journalled since the checkpoint: nothing to checkpoint while it is zero.
    journalled: usize,
    /// Entries delivered before a crash are re-read first.
    draining_pending: bool,
}

impl Worker {
    /// Loads the checkpoint and replays the journal after it: the engine as of the last commit.
    async fn recover(
        settings: &ProducerSettings,
        calendar: Arc<TradingCalendar>,
        con: ConnectionManager,
        monitor: &Monitor,
    ) -> Result<Worker> {
        let section = &settings.producer;
        let mut store = Store::new(con, Keys::new(settings.redis.key_prefix.clone()), section);
        store.ensure_group().await?;
        let (saved, journal) = store.load().await?;
        let mut engine = match &saved {
            Some(saved) => Engine::restore(&settings.bars, calendar, section.clock, saved)?,
            None => Engine::new(&settings.bars, calendar, section.clock),
        };
        let started = Instant::now();
        let mut scratch = Step::default();
        for record in &journal {
            let entries = store.range(engine.last_id(), record.upto).await?;
            scratch.clear();
            engine.step(&entries, record.now_ms, &mut scratch);
        }
        tracing::info!(
            checkpoint = saved.as_ref().map(|s| s.last_id.to_string()),
            journal = journal.len(),
            last_id = %engine.last_id(),
            took_ms = started.elapsed().as_millis() as u64,
            "recovered"
        );
        monitor.recovered(&engine);
        Ok(Worker {
            store,
            engine,
            batch: section.batch_entries.max(1),
            block: Duration::from_millis(section.block_ms.max(1)),
            checkpoint_every: Duration::from_millis(section.checkpoint_interval_ms),
            last_checkpoint: Instant::now(),
            journalled: journal.len(),
            draining_pending: true,
        })
    }

    async fn run(&mut self, monitor: &Monitor, stop: &watch::Receiver<bool>) -> Result<()> {
        let mut step = Step::default();
        loop {
            if *stop.borrow() {
                step.clear();
                return self.store.commit(&step, Some(&self.engine.save())).await;
            }
            let mut entries = if self.draining_pending {
                self.store.pending(self.batch).await?
            } else {
                self.store.next(self.batch, self.block).await?
            };
            step.clear();
            if self.draining_pending {
                self.draining_pending = !entries.is_empty();
                let applied = self.engine.last_id();
                step.acks.extend(entries.iter().map(|e| e.id).filter(|id| *id <= applied));
                entries.retain(|e| e.id > applied);
            }
            let now = runtime::ops::wall_ms();
            let checkpoint_due = self.journalled > 0 && self.last_checkpoint.elapsed() >= self.checkpoint_every;
            if entries.is_empty() && step.acks.is_empty() && !self.engine.due(now) && !checkpoint_due {
                continue;
            }
            self.engine.step(&entries, now, &mut step);
            let checkpoint = checkpoint_due.then(|| self.engine.save());
            self.store.commit(&step, checkpoint.as_ref()).await?;
            if checkpoint.is_some() {
                self.last_checkpoint = Instant::now();
                self.journalled = 0;
            } else {
                self.journalled += 1;
            }
            monitor.committed(&self.engine);
        }
    }
}
