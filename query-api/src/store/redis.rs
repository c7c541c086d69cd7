//! Same-day bars in Redis, as the producer writes them: the set of days held, each day's closed bars
//! (a sorted set per symbol and period, read by score range), the forming bar of each symbol, and
//! the day's symbol set a snapshot of the whole market reads by, each under its symbol's shard's
//! keys (`redis.shards`); closed bars kept in memory while
//! the day's version of their (period, symbol) holds (`store::cache`).

use parking_lot::Mutex;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::NaiveDate;
use common::shard::shard_of;
use common::{Bar, Frame, Period, Source, Symbol};
use runtime::keys::{history_version_field, Keys, ALL_HISTORY};
use runtime::redis::Connection;

use crate::error::{AppError, Result};
use crate::plan::whole_day;
use crate::served::{Body, Served, Store};
use crate::store::cache::{CacheStatus, DayKey, Kept};

/// The days Redis holds and their bars.
pub struct SameDay {
    /// Connections used in turn: one multiplexed connection decodes its replies on one core.
    connections: Vec<Connection>,
    next: AtomicUsize,
    keys: Keys,
    /// The days held as last read, used while Redis does not answer.
    last_held: Mutex<Option<BTreeSet<NaiveDate>>>,
    /// Each day's closed bars by (symbol, period), kept at the version the producer set.
    cache: Option<Kept<DayKey, u64>>,
}

impl SameDay {
    /// Reads through `connections` (at least one) in turn, keeping closed bars in `cache`.
    pub fn new(connections: Vec<Connection>, keys: Keys, cache: Option<Kept<DayKey, u64>>) -> SameDay {
        assert!(!connections.is_empty(), "at least one redis connection");
        SameDay { connections, next: AtomicUsize::new(0), keys, last_held: Mutex::new(None), cache }
    }

    fn con(&self) -> Connection {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.connections.len();
        self.connections[i].clone()
    }

    /// The trading days Redis holds bars for. While Redis does not answer, the days it held when it
    /// last did (so history still answers); an error when it never has.
    pub async fn days_held(&self) -> Result<BTreeSet<NaiveDate>> {
        let read = runtime::redis::days_held(&mut self.con(), &self.keys).await;
        let mut last = self.last_held.lock();
        match read {
            Ok(held) => {
                *last = Some(held.clone());
                Ok(held)
            }
            Err(e) => last.clone().ok_or_else(|| AppError::redis(e)),
        }
    }

    /// For each of `symbols`, in order: the closed bars of `days` inside `start..=end`, oldest
    /// first, with each day's forming bar when `forming` is set, it has not closed and its interval
    /// reaches into the range (the bar forming at `end` counts). The symbols are shared out by
    /// shard (one hash slot of a cluster per pipeline), then among the connections, so that several
    /// cores decode the replies of a large query at once.
    pub async fn bars(
        &self,
        days: &[NaiveDate],
        symbols: &[Symbol],
        period: Period,
        range: (Frame, Frame),
        forming: bool,
    ) -> Result<Vec<Vec<Served>>> {
        let per_connection = symbols.len().div_ceil(self.connections.len()).max(1);
        let mut parts: Vec<(Keys, Vec<usize>)> = Vec::new();
        for (keys, members) in by_shard(&self.keys, symbols) {
            parts.extend(members.chunks(per_connection).map(|part| (keys.clone(), part.to_vec())));
        }
        let reads = parts.iter().map(|(keys, members)| {
            let part: Vec<Symbol> = members.iter().map(|i| symbols[*i]).collect();
            async move { self.bars_on(keys, days, &part, period, range, forming).await }
        });
        let read = futures_util::future::try_join_all(reads).await?;
        let mut all = vec![Vec::new(); symbols.len()];
        for ((_, members), bars) in parts.iter().zip(read) {
            members.iter().zip(bars).for_each(|(i, bars)| all[*i] = bars);
        }
        Ok(all)
    }

    /// [`Self::bars`] of `symbols`, all of the shard `keys` names, on a connection of its own:
    /// first the days' versions of the symbols (when the day cache is on) and the forming bars
    /// (when asked), in one pipeline; then the closed bars the cache does not hold, in another
    /// (the whole day, to keep, when its version is known).
    async fn bars_on(
        &self,
        keys: &Keys,
        days: &[NaiveDate],
        symbols: &[Symbol],
        period: Period,
        range: (Frame, Frame),
        forming: bool,
    ) -> Result<Vec<Vec<Served>>> {
        let mut con = self.con();
        let mut first = redis::pipe();
        if self.cache.is_some() {
            let fields: Vec<String> = symbols.iter().map(|s| history_version_field(period, s)).collect();
            for day in days {
                first.cmd("HMGET").arg(keys.day_versions(*day)).arg(&fields);
            }
        }
        if forming {
            for symbol in symbols {
                for day in days {
                    first.hget(keys.forming_bars(*day, period), symbol.to_string());
                }
            }
        }
        let replies: Vec<redis::Value> = if first.cmd_iter().next().is_some() {
            first.query_async(&mut con).await.map_err(AppError::redis)?
        } else {
            Vec::new()
        };
        let mut replies = replies.into_iter();
        let mut versions: Vec<Vec<Option<u64>>> = Vec::new();
        if self.cache.is_some() {
            for _ in days {
                versions.push(decode(replies.next())?);
            }
        }
        let version = |d: usize, s: usize| versions.get(d).and_then(|v| v[s]);
        let mut closed: Vec<Vec<Option<Vec<Served>>>> = (0..symbols.len())
            .map(|s| (0..days.len()).map(|d| self.held(symbols[s], period, days[d], version(d, s))).collect())
            .collect();
        let mut second = redis::pipe();
        let mut wanted = Vec::new();
        for (s, symbol) in symbols.iter().enumerate() {
            for (d, day) in days.iter().enumerate() {
                if closed[s][d].is_none() {
                    let (from, to) = if version(d, s).is_some() { whole_day(*day) } else { range };
                    let key = keys.day_bars(*day, period, *symbol);
                    second
                        .cmd("ZRANGEBYSCORE")
                        .arg(key)
                        .arg(from.epoch_seconds())
                        .arg(to.epoch_seconds())
                        .arg("WITHSCORES");
                    wanted.push((s, d));
                }
            }
        }
        if !wanted.is_empty() {
            let read: Vec<redis::Value> = second.query_async(&mut con).await.map_err(AppError::redis)?;
            for ((s, d), reply) in wanted.into_iter().zip(read) {
                let mut bars = Vec::new();
                push_closed(&mut bars, decode(Some(reply))?)?;
                if let (Some(cache), Some(v)) = (&self.cache, version(d, s)) {
                    cache.put(DayKey { symbol: symbols[s], period, day: days[d] }, v, &bars);
                }
                closed[s][d] = Some(bars);
            }
        }
        let mut all = Vec::with_capacity(symbols.len());
        for per_day in closed {
            let mut out = Vec::new();
            for bars in per_day {
                let first = out.len();
                let bars = bars.expect("every day found or read");
                out.extend(bars.into_iter().filter(|b| (range.0..=range.1).contains(&b.frame())));
                if forming {
                    let bar: Option<String> = decode(replies.next())?;
                    if let Some(bar) = bar.as_deref().map(parse).transpose()? {
                        add_forming(&mut out, first, bar, period, range);
                    }
                }
            }
            all.push(out);
        }
        Ok(all)
    }

    /// The closed bars of `symbol`'s `day` the cache holds at `version` (none without a version).
    fn held(&self, symbol: Symbol, period: Period, day: NaiveDate, version: Option<u64>) -> Option<Vec<Served>> {
        let (cache, version) = (self.cache.as_ref()?, version?);
        cache.get(&DayKey { symbol, period, day }, &version)
    }

    pub fn day_cache_status(&self) -> Option<CacheStatus> {
        self.cache.as_ref().map(Kept::status)
    }

    /// Per symbol (those of `symbols` in their order, or all of the day's symbol sets in symbol
    /// order): its latest closed bar of `period` at or before `at`, and its forming bar when
    /// `forming` is set (left out when already closed). One script call per shard, all at once:
    /// one round trip, whatever the number of symbols.
    pub async fn snapshot(
        &self,
        day: NaiveDate,
        period: Period,
        at: Frame,
        symbols: Option<&[Symbol]>,
        forming: bool,
    ) -> Result<Vec<Latest>> {
        let parts: Vec<(Keys, Option<Vec<Symbol>>)> = match symbols {
            Some(asked) => by_shard(&self.keys, asked)
                .into_iter()
                .map(|(keys, members)| (keys, Some(members.iter().map(|i| asked[*i]).collect())))
                .collect(),
            None => self.keys.each_shard().map(|keys| (keys, None)).collect(),
        };
        let reads =
            parts.iter().map(|(keys, members)| self.snapshot_of(keys, day, period, at, members.as_deref(), forming));
        let mut latest: Vec<Latest> = futures_util::future::try_join_all(reads).await?.into_iter().flatten().collect();
        match symbols {
            Some(asked) if parts.len() > 1 => {
                let order: HashMap<String, usize> = asked.iter().enumerate().map(|(i, s)| (s.to_string(), i)).collect();
                latest.sort_by_key(|l| order.get(&l.symbol).copied());
            }
            Some(_) => {}
            None => latest.sort_by(|a, b| a.symbol.cmp(&b.symbol)),
        }
        Ok(latest)
    }

    /// [`Self::snapshot`] of one shard's symbols.
    async fn snapshot_of(
        &self,
        keys: &Keys,
        day: NaiveDate,
        period: Period,
        at: Frame,
        symbols: Option<&[Symbol]>,
        forming: bool,
    ) -> Result<Vec<Latest>> {
        let mut invocation = SNAPSHOT.prepare_invoke();
        invocation
            .key(keys.day_symbols(day))
            .arg(keys.day_bars_prefix(day, period))
            .arg(if forming { keys.forming_bars(day, period) } else { String::new() })
            .arg(at.epoch_seconds());
        for symbol in symbols.unwrap_or_default() {
            invocation.arg(symbol.to_string());
        }
        let flat: Vec<Option<String>> = invocation.invoke_async(&mut self.con()).await.map_err(AppError::redis)?;
        let mut latest = Vec::with_capacity(flat.len() / 4);
        for row in flat.chunks_exact(4) {
            let [Some(symbol), json, score, forming] = row else { continue };
            let closed = match (json, score.as_deref().and_then(|s| s.parse::<i64>().ok())) {
                (Some(json), Some(score)) => Some(stored(json.clone(), score)?),
                _ => None,
            };
            let forming = forming.as_deref().map(parse).transpose()?;
            let forming = forming.filter(|bar| closed.as_ref().is_none_or(|c| c.frame < bar.frame));
            let forming = forming.map(|bar| Served::built(bar, true, Store::Redis, Source::Live));
            latest.push(Latest { symbol: symbol.clone(), closed, forming });
        }
        Ok(latest)
    }

    /// The history versions of `symbols`' bars of `period` (see `Keys::history_versions`): for each,
    /// the counter of all symbols and its own, 0 where nothing was written yet. One round trip.
    pub async fn history_versions(&self, period: Period, symbols: &[Symbol]) -> Result<Vec<(i64, i64)>> {
        let mut cmd = redis::cmd("HMGET");
        cmd.arg(self.keys.history_versions()).arg(ALL_HISTORY);
        for symbol in symbols {
            cmd.arg(history_version_field(period, symbol));
        }
        let read: Vec<Option<i64>> = cmd.query_async(&mut self.con()).await.map_err(AppError::redis)?;
        let all = read.first().copied().flatten().unwrap_or(0);
        Ok(read.iter().skip(1).map(|own| (all, own.unwrap_or(0))).collect())
    }

    /// The forming bar (JSON, as the producer keeps it) of each (period, symbol) on `day`, in order.
    /// One round trip per shard.
    pub async fn forming_on(&self, day: NaiveDate, watched: &[(Period, Symbol)]) -> Result<Vec<Option<String>>> {
        let symbols: Vec<Symbol> = watched.iter().map(|(_, symbol)| *symbol).collect();
        let mut forming = vec![None; watched.len()];
        for (keys, members) in by_shard(&self.keys, &symbols) {
            let mut pipe = redis::pipe();
            for (period, symbol) in members.iter().map(|i| watched[*i]) {
                pipe.hget(keys.forming_bars(day, period), symbol.to_string());
            }
            let read: Vec<Option<String>> = pipe.query_async(&mut self.con()).await.map_err(AppError::redis)?;
            members.iter().zip(read).for_each(|(i, bar)| forming[*i] = bar);
        }
        Ok(forming)
    }

    /// Which of `symbols` a day Redis holds has a bar of (its shard's symbol set of each day held).
    /// One round trip per shard.
    pub async fn held_symbols(&self, symbols: &[Symbol]) -> Result<Vec<bool>> {
        let days = self.days_held().await?;
        let mut held = vec![false; symbols.len()];
        if days.is_empty() {
            return Ok(held);
        }
        for (keys, members) in by_shard(&self.keys, symbols) {
            let mut pipe = redis::pipe();
            for i in &members {
                for day in &days {
                    pipe.sismember(keys.day_symbols(*day), symbols[*i].to_string());
                }
            }
            let read: Vec<bool> = pipe.query_async(&mut self.con()).await.map_err(AppError::redis)?;
            for (i, per_day) in members.iter().zip(read.chunks(days.len())) {
                held[*i] = per_day.iter().any(|h| *h);
            }
        }
        Ok(held)
    }

    pub async fn ping(&self) -> Result<()> {
        redis::cmd("PING").query_async::<()>(&mut self.con()).await.map_err(AppError::redis)
    }
}

/// The keys of each shard `symbols` fall on, with the positions of its symbols, shard order.
fn by_shard(keys: &Keys, symbols: &[Symbol]) -> Vec<(Keys, Vec<usize>)> {
    let mut shards: BTreeMap<u16, Vec<usize>> = BTreeMap::new();
    for (i, symbol) in symbols.iter().enumerate() {
        shards.entry(shard_of(*symbol, keys.shards())).or_default().push(i);
    }
    shards.into_iter().map(|(shard, members)| (keys.shard(shard), members)).collect()
}

/// One symbol of a snapshot.
#[derive(Debug, Clone)]
pub struct Latest {
    pub symbol: String,
    pub closed: Option<Served>,
    pub forming: Option<Served>,
}

/// KEYS[1]: the day's symbol set of one shard. ARGV: the prefix of its sorted sets of one period,
/// its forming hash of that period (empty: none wanted), the snapshot's epoch second, then the
/// symbols asked for (none: the whole set). Returns four values per symbol: the symbol, its latest
/// closed bar at or before the second and that bar's score (nil, nil without one), its forming bar
/// (or nil). The other keys are named in ARGV because the symbols are only known inside the
/// script; all share the symbol set's shard tag, so in a cluster they lie in its hash slot.
static SNAPSHOT: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        r"
local symbols = {}
if #ARGV > 3 then
  for i = 4, #ARGV do symbols[#symbols + 1] = ARGV[i] end
else
  symbols = redis.call('SMEMBERS', KEYS[1])
end
local out = {}
for _, symbol in ipairs(symbols) do
  local last = redis.call('ZREVRANGEBYSCORE', ARGV[1] .. symbol, ARGV[3], '-inf', 'WITHSCORES', 'LIMIT', 0, 1)
  out[#out + 1] = symbol
  out[#out + 1] = last[1] or false
  out[#out + 1] = last[2] or false
  out[#out + 1] = (ARGV[2] ~= '' and redis.call('HGET', ARGV[2], symbol)) or false
end
return out
",
    )
});

fn decode<T: redis::FromRedisValue>(value: Option<redis::Value>) -> Result<T> {
    let value = value.unwrap_or(redis::Value::Nil);
    redis::from_redis_value(value).map_err(|e| AppError::redis(e.into()))
}

/// Adds the forming `bar` to the day's bars from `first` on when it has not closed, and its
/// interval reaches into the range (the bar forming at `end` counts).
fn add_forming(out: &mut Vec<Served>, first: usize, bar: Bar, period: Period, (start, end): (Frame, Frame)) {
    let open = !out[first..].iter().any(|b| b.frame() == bar.frame);
    let reaches = bar.frame.epoch_seconds() - i64::from(period.minutes()) * 60 <= end.epoch_seconds();
    if open && bar.frame >= start && reaches {
        let frame = bar.frame;
        out.push(Served::same_day(frame, Body::Parsed { bar, forming: true }));
        out[first..].sort_by_key(Served::frame);
    }
}

/// Appends a day's closed bars as stored (their JSON untouched), each with its frame (the score).
fn push_closed(out: &mut Vec<Served>, closed: Vec<(String, i64)>) -> Result<()> {
    for (json, score) in closed {
        out.push(stored(json, score)?);
    }
    Ok(())
}

/// A closed bar as stored (its JSON untouched) with its frame, the score; one the previous
/// release stored, without the `vwap` a bar with volume now carries, is written again.
fn stored(json: String, score: i64) -> Result<Served> {
    if !(json.starts_with('{') && json.ends_with('}')) {
        return Err(unreadable(&json));
    }
    let frame = Frame::from_epoch_seconds(score);
    if !json.contains(r#""vwap":"#) && !json.contains(r#""vol":0,"#) {
        let bar = parse(&json)?;
        let json = serde_json::to_string(&bar).expect("bars serialize").into();
        return Ok(Served::same_day(frame, Body::Kept { bar, json }));
    }
    Ok(Served::same_day(frame, Body::Stored(json.into())))
}

fn parse(json: &str) -> Result<Bar> {
    serde_json::from_str(json).map_err(|_| unreadable(json))
}

fn unreadable(json: &str) -> AppError {
    AppError::Unavailable { store: Store::Redis, detail: format!("an unreadable bar: {json}") }
}
