//! The drain: while this instance holds the drain lock, each period's queue is worked by
//! `consumer.workers_per_queue` workers, batch by batch (take into the worker's processing list,
//! check, skip what is stored (no existence read when the high-water marks say nothing can be),
//! INSERT, then drop the processing list), and the adjustment-factor
//! queue by one worker the same way (no existence check: a re-sent factor replaces the stored one).
//! Whatever fails leaves the batch in processing, and the next attempt, after a backoff, starts
//! from it; so does the next start after a crash. The tick archive's writer ([`crate::archive`])
//! works each shard stream under the same lock, one job per shard.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use common::adjust::FactorItem;
use common::normalise::DeadReason;
use common::Period;
use runtime::backoff::Backoff;
use runtime::clickhouse::{BarRow, FactorRow};
use runtime::clock::Clock;
use runtime::redis::Connection;
use runtime::stores::{Role, Store};
use tokio::sync::watch;

use crate::archive::Archiver;
use crate::batch::{prepare, reconcile, Tally};
use crate::error::{Error, Result};
use crate::high_water::HighWater;
use crate::item::{DeadLetter, Validator};
use crate::monitor::Monitor;
use crate::store::clickhouse::History;
use crate::store::redis::Queues;

/// How long a stopping drain lets an INSERT in flight finish before leaving it to the next start.
const STOP_GRACE: Duration = Duration::from_secs(7);

/// What the drain works with.
#[derive(Clone)]
pub struct Drain {
    pub queues: Queues,
    pub history: History,
    pub validator: Validator,
    pub batch_rows: usize,
    pub idle: Duration,
    pub monitor: Arc<Monitor>,
    /// The latest stored frame per (period, symbol), which spares time-ordered batches their check.
    pub marks: Arc<HighWater>,
    /// The tick archive's writer, one job per shard stream (`archive.ticks`).
    pub archiver: Option<Arc<Archiver>>,
    /// Stamps the dead letters.
    pub clock: Clock,
}

impl Drain {
    /// Takes the drain lock when it can and drains until `stop`; stands by while another instance
    /// holds the lock.
    pub async fn run(&self, mut con: Connection, mut stop: watch::Receiver<bool>) {
        let lock = self.queues.lock().clone();
        let mut backoff = Backoff::new();
        while !*stop.borrow() {
            let wait = match lock.acquire(&mut con).await {
                Ok(()) => {
                    backoff.reset();
                    self.monitor.set_drain(Role::Active, Some(lock.token().to_owned()));
                    match self.drain_while_held(&con, &stop).await {
                        Ok(()) => break,
                        Err(e) => tracing::warn!(error = %e, "draining stopped"),
                    }
                    Duration::ZERO
                }
                Err(Error::LockHeld { holder, .. }) => {
                    self.monitor.set_drain(Role::Standby, Some(holder.to_string()));
                    self.idle.max(Duration::from_secs(1))
                }
                Err(e) => {
                    self.monitor.failed(&e);
                    backoff.next_delay()
                }
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {},
                _ = stop.changed() => {},
            }
        }
        if let Err(e) = lock.release(&mut con).await {
            tracing::warn!(error = %e, "could not release the drain lock; it expires by itself");
        }
        self.monitor.set_drain(Role::Stopped, None);
    }

    /// Drains every period until `stop` (Ok) or until the lock is lost (Err); first finishes the
    /// batches left in processing by workers this configuration does not have.
    async fn drain_while_held(&self, con: &Connection, stop: &watch::Receiver<bool>) -> Result<()> {
        self.marks.forget();
        let work = async {
            self.queues.claim_fences(&mut con.clone()).await?;
            if let Some(archiver) = &self.archiver {
                archiver.prepare(&mut con.clone()).await?;
            }
            let leftovers = self.queues.leftovers(&mut con.clone()).await?;
            if !leftovers.is_empty() {
                tracing::info!(?leftovers, "finishing batches left by more workers than configured");
            }
            let finish = leftovers.into_iter().map(|(period, worker)| {
                self.drain_queue(Job::Bars { period, worker }, Run::Leftover, con.clone(), stop.clone())
            });
            futures_util::future::try_join_all(finish).await?;
            let workers =
                self.queues.periods().iter().flat_map(|p| (0..self.queues.workers()).map(move |worker| (*p, worker)));
            let shards = self.archiver.as_ref().map_or(0, |a| a.shards());
            let jobs = workers.map(|(period, worker)| Job::Bars { period, worker }).chain([Job::Factors]);
            let jobs = jobs.chain((0..shards).map(|shard| Job::Archive { shard }));
            let drains = jobs.map(|job| self.drain_queue(job, Run::Worker, con.clone(), stop.clone()));
            futures_util::future::try_join_all(drains).await.map(|_| ())
        };
        self.queues.lock().hold(con.clone(), work).await
    }

    /// Works one queue as `job` says until `stop` (a leftover: until its batch in processing is
    /// written); backs off while a store fails.
    async fn drain_queue(
        &self,
        job: Job,
        run: Run,
        mut con: Connection,
        mut stop: watch::Receiver<bool>,
    ) -> Result<()> {
        let mut backoff = Backoff::new();
        loop {
            if *stop.borrow() {
                return Ok(());
            }
            let step = async {
                match job {
                    Job::Bars { period, worker } => self.step(period, worker, &mut con).await,
                    Job::Factors => self.step_factors(&mut con).await,
                    Job::Archive { shard } => match &self.archiver {
                        Some(archiver) => archiver.step(shard, &mut con).await,
                        None => Ok(false),
                    },
                }
            };
            let mut stopping = stop.clone();
            let outcome = tokio::select! {
                r = step => r,
                () = async { let _ = stopping.wait_for(|s| *s).await; tokio::time::sleep(STOP_GRACE).await } => return Ok(()),
            };
            let wait = match outcome {
                Ok(_) if run == Run::Leftover => return Ok(()),
                Ok(true) => {
                    backoff.reset();
                    continue;
                }
                Ok(false) => self.idle,
                Err(lost @ Error::LockLost(_)) => return Err(lost),
                Err(e) => {
                    self.monitor.failed(&e);
                    backoff.next_delay()
                }
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {},
                _ = stop.changed() => {},
            }
        }
    }

    /// One batch of worker `worker` of `period`; `false` when its queue was empty.
    async fn step(&self, period: Period, worker: usize, con: &mut Connection) -> Result<bool> {
        let started = Instant::now();
        let taken = self.queues.take(con, period, worker, self.batch_rows).await?;
        self.monitor.set_up(Store::Redis);
        let Some(taken) = taken else { return Ok(false) };
        let took = started.elapsed();
        let queue = self.queues.keys().history_queue(period);
        let mut batch = prepare(&self.validator, period, &queue, &taken.items, taken.version);
        let prepared = started.elapsed();
        if self.marks.stale(period) {
            let read_at = Instant::now();
            self.marks.load(period, read_at, self.history.high_water(period).await?);
        }
        let existing = if self.marks.all_new(period, &batch.rows) {
            batch.tally.unchecked += 1;
            Vec::new()
        } else {
            self.history.existing(period, &batch.rows).await?
        };
        reconcile(&mut batch, &existing);
        let checked = started.elapsed();
        let rejected = self.insert(&batch.rows).await?;
        self.marks.raise(period, &batch.rows);
        self.monitor.set_up(Store::ClickHouse);
        let inserted = started.elapsed();
        let at_ms = self.clock.now_ms();
        batch.dead.extend(rejected.iter().map(|(row, why)| reject(&mut batch.tally, &queue, row, why, at_ms)));
        self.queues.done(con, period, worker, &batch.dead, &written_symbols(&batch.rows)).await?;
        self.monitor.batch_done(period, &batch.tally);
        tracing::debug!(
            period = period.minutes(),
            worker,
            items = batch.tally.items,
            written = batch.rows.len(),
            take_ms = took.as_millis() as u64,
            check_ms = (prepared - took).as_millis() as u64,
            exists_ms = (checked - prepared).as_millis() as u64,
            insert_ms = (inserted - checked).as_millis() as u64,
            total_ms = started.elapsed().as_millis() as u64,
            "batch written"
        );
        Ok(true)
    }

    /// One batch of the factor queue; `false` when it was empty. An unreadable or impossible factor
    /// is dead-lettered with its reason.
    async fn step_factors(&self, con: &mut Connection) -> Result<bool> {
        let keys = self.queues.keys();
        let (queue, processing) = (keys.factor_queue(), keys.factor_processing());
        let Some(taken) = self.queues.take_from(con, &queue, &processing, self.batch_rows).await? else {
            return Ok(false);
        };
        let mut rows = Vec::with_capacity(taken.items.len());
        let mut dead = Vec::new();
        for item in &taken.items {
            match factor_row(item, taken.version) {
                Ok(row) => rows.push(row),
                Err(why) => {
                    let at_ms = self.clock.now_ms();
                    let letter = DeadLetter { reason: DeadReason::BadFactor, detail: &why, queue: &queue, item, at_ms };
                    dead.push(serde_json::to_string(&letter).expect("dead letters serialize"));
                }
            }
        }
        if !rows.is_empty() {
            self.history.insert_factors(&rows).await?;
            self.monitor.set_up(Store::ClickHouse);
        }
        self.queues.done_in(con, &queue, &processing, &dead, &[]).await?;
        tracing::info!(written = rows.len(), refused = dead.len(), "adjustment factors written");
        Ok(true)
    }

    /// Inserts `rows`; when ClickHouse refuses data (not a failure to answer), splits the batch
    /// until the refused rows stand alone and returns them with ClickHouse's reason.
    async fn insert(&self, rows: &[BarRow]) -> Result<Vec<(BarRow, String)>> {
        let mut rejected = Vec::new();
        let mut pending: Vec<&[BarRow]> = vec![rows];
        while let Some(chunk) = pending.pop() {
            if chunk.is_empty() {
                continue;
            }
            match self.history.insert(chunk).await {
                Ok(()) => {}
                Err(Error::ClickHouse(e)) if is_data_error(&e) => {
                    if let [row] = chunk {
                        rejected.push((row.clone(), e.to_string()));
                    } else {
                        let (a, b) = chunk.split_at(chunk.len() / 2);
                        pending.extend([b, a]);
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(rejected)
    }
}

/// The symbols `rows` hold, each once: whose history versions a batch bumps.
fn written_symbols(rows: &[BarRow]) -> Vec<String> {
    let symbols: std::collections::BTreeSet<&str> = rows.iter().map(|r| r.symbol.as_str()).collect();
    symbols.into_iter().map(str::to_owned).collect()
}

/// The queue a worker drains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Job {
    /// One period's history queue, as worker `worker`.
    Bars { period: Period, worker: usize },
    /// The adjustment-factor queue.
    Factors,
    /// One shard's tick stream, into the tick archive.
    Archive { shard: usize },
}

/// A factor queue item as its row, or why it is none.
fn factor_row(item: &str, version: u64) -> std::result::Result<FactorRow, String> {
    let factor: FactorItem = serde_json::from_str(item).map_err(|e| e.to_string())?;
    factor.check().map_err(|e| e.to_string())?;
    FactorRow::new(&factor, version).map_err(|e| e.to_string())
}

/// What a worker does: drain its queue, or finish the batch a worker worker no longer configured left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Run {
    Worker,
    Leftover,
}

/// The dead letter (stamped `at_ms`) of a row ClickHouse refused, taken out of the tally's
/// written rows.
fn reject(tally: &mut Tally, queue: &str, row: &BarRow, why: &str, at_ms: i64) -> String {
    tally.inserted = tally.inserted.saturating_sub(1);
    *tally.dead.entry(DeadReason::ClickhouseRejected).or_default() += 1;
    let item =
        row.bar().map(|b| serde_json::to_string(&b).expect("bars serialize")).unwrap_or_else(|_| format!("{row:?}"));
    let letter = DeadLetter { reason: DeadReason::ClickhouseRejected, detail: why, queue, item: &item, at_ms };
    serde_json::to_string(&letter).expect("dead letters serialize")
}

/// ClickHouse error codes (`ErrorCodes.cpp`) that refuse the data itself, so retrying the same
/// rows cannot succeed.
const DATA_ERROR_CODES: [(u32, &str); 8] = [
    (6, "CANNOT_PARSE_TEXT"),
    (27, "CANNOT_PARSE_INPUT_ASSERTION_FAILED"),
    (38, "CANNOT_PARSE_DATE"),
    (53, "TYPE_MISMATCH"),
    (69, "ARGUMENT_OUT_OF_BOUND"),
    (70, "CANNOT_CONVERT_TYPE"),
    (321, "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE"),
    (407, "DECIMAL_OVERFLOW"),
];

/// Whether `e` is ClickHouse refusing values (a parse, type or range error), not failing to answer.
pub fn is_data_error(e: &clickhouse::error::Error) -> bool {
    let clickhouse::error::Error::BadResponse(text) = e else {
        return false;
    };
    let code = text.split("Code: ").nth(1).and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next());
    code.and_then(|c| c.parse::<u32>().ok()).is_some_and(|c| DATA_ERROR_CODES.iter().any(|(data, _)| *data == c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_refused_values_count_as_data_errors() {
        let bad = |text: &str| clickhouse::error::Error::BadResponse(text.into());
        assert!(is_data_error(&bad("Code: 53, e.displayText() = DB::Exception: Type mismatch")));
        assert!(is_data_error(&bad("Code: 407. DB::Exception: Decimal math overflow")));
        assert!(!is_data_error(&bad("Code: 241. DB::Exception: Memory limit exceeded")));
        assert!(!is_data_error(&bad("Code: 60. DB::Exception: Table tickbar.bars doesn't exist")));
        assert!(!is_data_error(&clickhouse::error::Error::TimedOut));
    }
}
