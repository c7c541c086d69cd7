//! Redis for the consumer: the reliable history queues (a batch moves atomically into a worker's
//! processing list and leaves it only when its rows are in ClickHouse), the expiring locks that keep draining
//! and the cleanup to one instance, and the removal of a trading day's same-day data.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use chrono::NaiveDate;
use common::{Period, Symbol};
use redis::{AsyncCommands, Script};
use runtime::keys::{history_version_field, Keys};
use runtime::redis::Connection;

use crate::error::{Error, Result};

/// Lua checks run first in every fenced script: the caller must still hold the lock (KEYS[1] is
/// the lock, or in a cluster the fence its holder wrote in the queue's hash slot).
const FENCE: &str = "if redis.call('GET', KEYS[1]) ~= ARGV[1] then return redis.error_reply('LOCKLOST') end\n";

/// The batch in processing, or up to ARGV[2] of the oldest queue items moved there first behind
/// their version: Redis's clock in microseconds when they were taken, so later takes rank higher.
const TAKE: &str = r"
if redis.call('EXISTS', KEYS[3]) == 0 then
  local items = redis.call('LRANGE', KEYS[2], -tonumber(ARGV[2]), -1)
  if #items == 0 then return items end
  redis.call('LTRIM', KEYS[2], 0, -#items - 1)
  local t = redis.call('TIME')
  redis.call('RPUSH', KEYS[3], t[1] .. string.format('%06d', tonumber(t[2])))
  for i = 1, #items, 1000 do
    redis.call('RPUSH', KEYS[3], unpack(items, i, math.min(i + 999, #items)))
  end
end
return redis.call('LRANGE', KEYS[3], 0, -1)";

/// The batch is done: its processing list is dropped.
const DONE: &str = "redis.call('DEL', KEYS[2])\nreturn 1";

const RENEW: &str =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0";
const RELEASE: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

/// An expiring lock: `SET NX PX` with this process's token, renewed and released only by it.
#[derive(Clone)]
pub struct Lock {
    pub what: &'static str,
    key: String,
    token: String,
    ttl: Duration,
}

impl Lock {
    /// A lock whose token is `instance` made unique to this process, so two instances configured
    /// with the same name never both hold it.
    pub fn new(what: &'static str, key: String, instance: &str, ttl: Duration) -> Lock {
        Lock { what, key, token: runtime::process_token(instance), ttl }
    }

    /// Takes the lock when free (or already ours); otherwise says who holds it.
    pub async fn acquire(&self, con: &mut Connection) -> Result<()> {
        let ttl = self.ttl.as_millis() as u64;
        let set: Option<String> =
            redis::cmd("SET").arg(&self.key).arg(&self.token).arg("NX").arg("PX").arg(ttl).query_async(con).await?;
        if set.is_some() || self.renew(con).await.is_ok() {
            return Ok(());
        }
        let holder: Option<String> = con.get(&self.key).await?;
        Err(Error::LockHeld { what: self.what, holder: holder.unwrap_or_else(|| "nobody (just expired)".into()) })
    }

    /// Extends the lock; an error when it is no longer ours.
    pub async fn renew(&self, con: &mut Connection) -> Result<()> {
        let renewed: i64 = Script::new(RENEW)
            .key(&self.key)
            .arg(&self.token)
            .arg(self.ttl.as_millis() as u64)
            .invoke_async(con)
            .await?;
        if renewed == 1 {
            Ok(())
        } else {
            Err(Error::LockLost(self.what))
        }
    }

    /// This process's token, the lock's value while it holds it.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Runs `work` while renewing the lock every third of its expiry; `LockLost` when the lock
    /// passed to another instance before `work` finished (which then stops).
    pub async fn hold<T>(&self, mut con: Connection, work: impl Future<Output = Result<T>>) -> Result<T> {
        let renew = async {
            loop {
                tokio::time::sleep(self.ttl / 3).await;
                match self.renew(&mut con).await {
                    Err(lost @ Error::LockLost(_)) => return lost,
                    Err(e) => tracing::warn!(lock = self.what, error = %e, "could not renew the lock yet"),
                    Ok(()) => {}
                }
            }
        };
        tokio::select! {
            lost = renew => Err(lost),
            done = work => done,
        }
    }

    pub async fn release(&self, con: &mut Connection) -> Result<()> {
        Script::new(RELEASE).key(&self.key).arg(&self.token).invoke_async::<i64>(con).await?;
        Ok(())
    }
}

/// The history queues of one deployment, worked under the drain lock.
#[derive(Clone)]
pub struct Queues {
    keys: Keys,
    lock: Lock,
    /// Workers per queue, each with its processing list.
    workers: usize,
    /// The stored periods (`bars.periods`): a queue each.
    periods: Vec<Period>,
    take: Script,
    done: Script,
}

impl Queues {
    pub fn new(keys: Keys, lock: Lock, workers: usize, periods: Vec<Period>) -> Queues {
        Queues {
            keys,
            lock,
            workers: workers.max(1),
            periods,
            take: Script::new(&format!("{FENCE}{TAKE}")),
            done: Script::new(&format!("{FENCE}{DONE}")),
        }
    }

    /// The stored periods, a queue each.
    pub fn periods(&self) -> &[Period] {
        &self.periods
    }

    pub fn lock(&self) -> &Lock {
        &self.lock
    }

    /// Writes the lock's token to each queue's fence where the fence is not the lock itself (in a
    /// cluster): from then on, an instance that lost the lock can no longer take or finish a batch.
    pub async fn claim_fences(&self, con: &mut Connection) -> Result<()> {
        let queues = self.periods.iter().map(|p| self.keys.history_queue(*p)).chain([self.keys.factor_queue()]);
        for fence in queues.map(|queue| self.keys.drain_fence(&queue)).filter(|fence| *fence != self.lock.key) {
            con.set::<_, _, ()>(fence, &self.lock.token).await?;
        }
        Ok(())
    }

    pub fn workers(&self) -> usize {
        self.workers
    }

    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// The batch of worker `worker` of `period`: the one left in processing by an interrupted
    /// attempt, else up to `n` items moved from the queue's old end; `None` when there is none.
    pub async fn take(&self, con: &mut Connection, period: Period, worker: usize, n: usize) -> Result<Option<Batch>> {
        let (queue, processing) = (self.keys.history_queue(period), self.keys.history_processing(period, worker));
        self.take_from(con, &queue, &processing, n).await
    }

    /// [`Self::take`] of any queue and its processing list.
    pub async fn take_from(
        &self,
        con: &mut Connection,
        queue: &str,
        processing: &str,
        n: usize,
    ) -> Result<Option<Batch>> {
        let mut items: Vec<String> = self
            .take
            .key(self.keys.drain_fence(queue))
            .key(queue)
            .key(processing)
            .arg(&self.lock.token)
            .arg(n.max(1))
            .invoke_async(con)
            .await
            .map_err(fenced(self.lock.what))?;
        if items.is_empty() {
            return Ok(None);
        }
        // A list whose head is no version was not made by `take` (written by hand): its items are
        // worked all the same, at the lowest version, so whatever is stored wins.
        let version = match items[0].parse() {
            Ok(version) => {
                items.remove(0);
                version
            }
            Err(_) => 0,
        };
        items.reverse();
        Ok(Some(Batch { version, items }))
    }

    /// Ends the batch of worker `worker`: pushes its dead letters, bumps the history version of
    /// each symbol it wrote (`Keys::history_versions`, so the query API's cache drops their
    /// answers), then drops the processing list. Interrupted before the drop, the batch is worked
    /// again: its rows deduplicate, its dead letters are pushed again.
    pub async fn done(
        &self,
        con: &mut Connection,
        period: Period,
        worker: usize,
        dead: &[String],
        written: &[String],
    ) -> Result<()> {
        let versions: Vec<String> = written.iter().map(|symbol| history_version_field(period, symbol)).collect();
        let (queue, processing) = (self.keys.history_queue(period), self.keys.history_processing(period, worker));
        self.done_in(con, &queue, &processing, dead, &versions).await
    }

    /// [`Self::done`] of any queue's processing list, with the version fields to bump. Each step
    /// touches one key (one hash slot of a cluster), the last one fenced.
    pub async fn done_in(
        &self,
        con: &mut Connection,
        queue: &str,
        processing: &str,
        dead: &[String],
        versions: &[String],
    ) -> Result<()> {
        for letters in dead.chunks(1000) {
            con.lpush::<_, _, ()>(self.keys.history_dead(), letters).await?;
        }
        if !versions.is_empty() {
            let mut bump = redis::pipe();
            versions.iter().for_each(|field| {
                bump.hincr(self.keys.history_versions(), field, 1).ignore();
            });
            bump.query_async::<()>(con).await?;
        }
        self.done
            .key(self.keys.drain_fence(queue))
            .key(processing)
            .arg(&self.lock.token)
            .invoke_async::<i64>(con)
            .await
            .map_err(fenced(self.lock.what))?;
        Ok(())
    }

    /// Processing lists of workers beyond `workers_per_queue` (left by an instance configured with
    /// more): each (period, worker) whose batch must still be finished.
    pub async fn leftovers(&self, con: &mut Connection) -> Result<Vec<(Period, usize)>> {
        let mut left = Vec::new();
        for &period in &self.periods {
            for key in con
                .scan(&self.keys.history_processing(period, 0), &self.keys.history_processing_pattern(period))
                .await?
            {
                let worker = self.keys.history_worker_of(period, &key);
                left.extend(worker.filter(|w| *w >= self.workers).map(|w| (period, w)));
            }
        }
        left.sort();
        Ok(left)
    }

    /// Queue length and items in processing per period, and the dead list's length: one pipeline
    /// per queue (with its processing lists, in its hash slot of a cluster).
    pub async fn lengths(&self, con: &mut Connection) -> Result<(BTreeMap<u16, (u64, u64)>, u64)> {
        let mut per_period = BTreeMap::new();
        for &p in &self.periods {
            let mut pipe = redis::pipe();
            pipe.llen(self.keys.history_queue(p));
            for worker in 0..self.workers {
                pipe.llen(self.keys.history_processing(p, worker));
            }
            let lens: Vec<u64> = pipe.query_async(con).await?;
            let processing = lens[1..].iter().map(|n| n.saturating_sub(1)).sum();
            per_period.insert(p.minutes(), (lens[0], processing));
        }
        Ok((per_period, con.llen(self.keys.history_dead()).await?))
    }
}

/// A batch of queue items, oldest first, and the version their rows get.
#[derive(Debug)]
pub struct Batch {
    pub version: u64,
    pub items: Vec<String>,
}

fn fenced(what: &'static str) -> impl FnOnce(redis::RedisError) -> Error {
    move |e| {
        if e.to_string().contains("LOCKLOST") {
            Error::LockLost(what)
        } else {
            Error::Redis(e)
        }
    }
}

/// What removing one trading day from Redis did.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct DayRemoved {
    pub day: NaiveDate,
    /// Whether `tickbar:days` listed the day.
    pub was_held: bool,
    pub bar_keys: u64,
    /// The forming-bar hashes and the symbol set.
    pub forming_keys: u64,
}

/// Unlists `day` from every shard's days held (so readers stop routing to Redis first), then
/// deletes its closed-bar sorted sets, its forming-bar hashes, its symbol set and its versions.
pub async fn remove_day(con: &mut Connection, keys: &Keys, day: NaiveDate) -> Result<DayRemoved> {
    let mut removed = DayRemoved { day, ..DayRemoved::default() };
    for shard in keys.each_shard() {
        let was_held: i64 = con.srem(shard.days_held(), day.to_string()).await?;
        removed.was_held |= was_held == 1;
    }
    for shard in keys.each_shard() {
        for chunk in con.scan(&shard.days_held(), &shard.day_bars_pattern(day)).await?.chunks(1000) {
            removed.bar_keys += con.unlink::<_, u64>(chunk).await?;
        }
        let mut forming = con.scan(&shard.days_held(), &shard.forming_bars_pattern(day)).await?;
        forming.extend([shard.day_symbols(day), shard.day_versions(day)]);
        removed.forming_keys += con.unlink::<_, u64>(&forming).await?;
    }
    Ok(removed)
}

/// One (symbol, period) whose bars of a day Redis holds, and how many.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldGroup {
    pub symbol: Symbol,
    pub period: Period,
    pub bars: u64,
}

/// Every (symbol, period) Redis holds closed bars of on `day` (in any shard), with their counts:
/// one pipeline per shard (its hash slot of a cluster).
pub async fn held_groups(con: &mut Connection, keys: &Keys, day: NaiveDate) -> Result<Vec<HeldGroup>> {
    let mut groups = Vec::new();
    for found in day_bar_keys(con, keys, day).await? {
        let mut pipe = redis::pipe();
        for key in &found {
            pipe.zcard(key);
        }
        let counts: Vec<u64> = pipe.query_async(con).await?;
        groups.extend(found.iter().zip(counts).filter_map(|(key, bars)| match keys.day_bars_of(key) {
            Some((_, period, symbol)) => Some(HeldGroup { symbol, period, bars }),
            None => {
                tracing::warn!(key, bars, "a key among the day's bars names no symbol and period; not checked");
                None
            }
        }));
    }
    Ok(groups)
}

/// The closed bars of the (symbol, period)s of `found` (keys of [`day_bar_keys`], one shard's):
/// each key's period (`None` for a key that names none) and bar objects, in one pipeline.
pub async fn read_bars(
    con: &mut Connection,
    keys: &Keys,
    found: &[String],
) -> Result<Vec<(Option<Period>, Vec<String>)>> {
    let mut pipe = redis::pipe();
    for key in found {
        pipe.zrange(key, 0, -1);
    }
    let bars: Vec<Vec<String>> = pipe.query_async(con).await?;
    Ok(found.iter().map(|k| keys.day_bars_of(k).map(|(_, period, _)| period)).zip(bars).collect())
}

/// Each shard's closed-bar keys of `day` (a shard holding none left out).
pub async fn day_bar_keys(con: &mut Connection, keys: &Keys, day: NaiveDate) -> Result<Vec<Vec<String>>> {
    let mut shards = Vec::new();
    for shard in keys.each_shard() {
        let found = con.scan(&shard.days_held(), &shard.day_bars_pattern(day)).await?;
        if !found.is_empty() {
            shards.push(found);
        }
    }
    Ok(shards)
}

/// Keeps `report` in the list of the last 30, then as the latest.
pub async fn store_report(con: &mut Connection, keys: &Keys, report: &str) -> Result<()> {
    redis::pipe()
        .lpush(keys.cleanup_reports(), report)
        .ltrim(keys.cleanup_reports(), 0, 29)
        .query_async::<()>(con)
        .await?;
    con.set::<_, _, ()>(keys.cleanup_last(), report).await?;
    Ok(())
}

pub async fn last_report(con: &mut Connection, keys: &Keys) -> Result<Option<String>> {
    Ok(con.get(keys.cleanup_last()).await?)
}

/// The trading days Redis holds same-day bars for, oldest first.
pub async fn days_held(con: &mut Connection, keys: &Keys) -> Result<Vec<NaiveDate>> {
    Ok(runtime::redis::days_held(con, keys).await?.into_iter().collect())
}

pub async fn ping(con: &mut Connection) -> Result<()> {
    redis::cmd("PING").query_async::<String>(con).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use harness::RedisServer;

    async fn redis() -> (RedisServer, Connection) {
        let server = RedisServer::start().await.expect("redis-server");
        let settings = runtime::settings::RedisSettings { url: server.url(), ..Default::default() };
        let con = runtime::redis::connect(&settings).unwrap();
        (server, con)
    }

    #[tokio::test]
    async fn a_lock_taken_over_stops_the_work_it_guarded_and_fences_the_queue() {
        let (_server, mut con) = redis().await;
        let keys = Keys::default();
        let lock = Lock::new("drain", keys.drain_lock(), "me", Duration::from_millis(300));
        lock.acquire(&mut con).await.unwrap();
        let other = Lock::new("drain", keys.drain_lock(), "other", Duration::from_millis(300));
        assert!(matches!(other.acquire(&mut con).await, Err(Error::LockHeld { holder, .. }) if holder == lock.token()));
        assert!(lock.token().starts_with("me#"), "the name, made unique to the process: {}", lock.token());
        let queues = Queues::new(keys.clone(), lock.clone(), 1, Period::DEFAULTS.to_vec());
        let _: () = con.lpush(keys.history_queue(Period::M1), &["b", "a"]).await.unwrap();
        let batch = queues.take(&mut con, Period::M1, 0, 10).await.unwrap().unwrap();
        assert_eq!(batch.items, ["b", "a"], "oldest (pushed first) first");

        let mut thief = con.clone();
        let finished = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let work_finished = finished.clone();
        let steal = async move {
            tokio::time::sleep(Duration::from_millis(150)).await;
            let _: () = thief.set(keys.drain_lock(), "other#1").await.unwrap();
            tokio::time::sleep(Duration::from_secs(5)).await;
            work_finished.store(true, std::sync::atomic::Ordering::SeqCst);
            Ok(())
        };
        let time = harness::clock::TestTime::hold("2026-11-18T10:00:00");
        let (held, ()) = tokio::join!(lock.hold(con.clone(), steal), time.pass(Duration::from_secs(1)));
        assert!(matches!(held, Err(Error::LockLost("drain"))), "{held:?}");
        assert!(!finished.load(std::sync::atomic::Ordering::SeqCst), "the work was stopped, not waited for");
        assert!(matches!(queues.done(&mut con, Period::M1, 0, &[], &[]).await, Err(Error::LockLost("drain"))));
        let kept: Vec<String> = con.lrange(queues.keys().history_processing(Period::M1, 0), 0, -1).await.unwrap();
        assert_eq!(kept.len(), 3, "the batch (version and two items) stays for the new holder");
    }

    #[tokio::test]
    async fn a_processing_list_written_by_hand_is_worked_at_the_lowest_version() {
        let (_server, mut con) = redis().await;
        let keys = Keys::default();
        let lock = Lock::new("drain", keys.drain_lock(), "me", Duration::from_secs(5));
        lock.acquire(&mut con).await.unwrap();
        let _: () = con.rpush(keys.history_processing(Period::M5, 0), &["b", "a"]).await.unwrap();
        let batch =
            Queues::new(keys, lock, 1, vec![Period::M5]).take(&mut con, Period::M5, 0, 10).await.unwrap().unwrap();
        assert_eq!((batch.version, batch.items), (0, vec!["a".to_owned(), "b".to_owned()]));
    }
}
