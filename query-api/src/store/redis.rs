//! Same-day bars in Redis, as the producer writes them: the set of days held, each day's closed bars
//! (a sorted set per symbol and period, read by score range) and the forming bar of each symbol.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use chrono::NaiveDate;
use common::keys::Keys;
use common::{Bar, Frame, Period, Symbol};
use redis::aio::ConnectionManager;

use crate::error::{AppError, Result};
use crate::served::{Body, Served, Store};

/// The days Redis holds and their bars.
pub struct SameDay {
    /// Connections used in turn: one multiplexed connection decodes its replies on one core.
    connections: Vec<ConnectionManager>,
    next: AtomicUsize,
    keys: Keys,
    /// The days held as last read, used while Redis does not answer.
    last_held: Mutex<Option<BTreeSet<NaiveDate>>>,
}

impl SameDay {
    /// Reads through `connections` (at least one) in turn.
    pub fn new(connections: Vec<ConnectionManager>, keys: Keys) -> SameDay {
        assert!(!connections.is_empty(), "at least one redis connection");
        SameDay { connections, next: AtomicUsize::new(0), keys, last_held: Mutex::new(None) }
    }

    fn con(&self) -> ConnectionManager {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.connections.len();
        self.connections[i].clone()
    }

    /// The trading days Redis holds bars for. While Redis does not answer, the days it held when it
    /// last did (so history still answers); an error when it never has.
    pub async fn days_held(&self) -> Result<BTreeSet<NaiveDate>> {
        let read = runtime::redis::days_held(&mut self.con(), &self.keys).await;
        let mut last = self.last_held.lock().expect("days lock");
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
    /// reaches into the range (the bar forming at `end` counts). One pipeline per connection, the
    /// symbols shared out among the connections so that several cores decode the replies of a
    /// large query at once.
    pub async fn bars(
        &self,
        days: &[NaiveDate],
        symbols: &[Symbol],
        period: Period,
        range: (Frame, Frame),
        forming: bool,
    ) -> Result<Vec<Vec<Served>>> {
        let per_connection = symbols.len().div_ceil(self.connections.len()).max(1);
        let parts =
            symbols.chunks(per_connection).map(|part| self.bars_on(self.con(), days, part, period, range, forming));
        let parts = futures_util::future::try_join_all(parts).await?;
        Ok(parts.into_iter().flatten().collect())
    }

    /// [`Self::bars`] of `symbols` in one pipeline on `con`.
    async fn bars_on(
        &self,
        mut con: ConnectionManager,
        days: &[NaiveDate],
        symbols: &[Symbol],
        period: Period,
        (start, end): (Frame, Frame),
        forming: bool,
    ) -> Result<Vec<Vec<Served>>> {
        let mut pipe = redis::pipe();
        for symbol in symbols {
            for day in days {
                let key = self.keys.day_bars(*day, period, *symbol);
                pipe.cmd("ZRANGEBYSCORE")
                    .arg(key)
                    .arg(start.epoch_seconds())
                    .arg(end.epoch_seconds())
                    .arg("WITHSCORES");
                if forming {
                    pipe.hget(self.keys.forming_bars(*day, period), symbol.to_string());
                }
            }
        }
        let replies: Vec<redis::Value> = pipe.query_async(&mut con).await.map_err(AppError::redis)?;
        let mut replies = replies.into_iter();
        let mut all = Vec::with_capacity(symbols.len());
        for _ in symbols {
            let mut out = Vec::new();
            for _ in days {
                let first = out.len();
                push_closed(&mut out, decode(replies.next())?)?;
                if forming {
                    let bar: Option<String> = decode(replies.next())?;
                    if let Some(bar) = bar.as_deref().map(parse).transpose()? {
                        let open = !out[first..].iter().any(|b| b.frame() == bar.frame);
                        let reaches =
                            bar.frame.epoch_seconds() - i64::from(period.minutes()) * 60 <= end.epoch_seconds();
                        if open && bar.frame >= start && reaches {
                            let frame = bar.frame;
                            out.push(Served { frame, body: Body::Parsed { bar, forming: true }, store: Store::Redis });
                            out[first..].sort_by_key(Served::frame);
                        }
                    }
                }
            }
            all.push(out);
        }
        Ok(all)
    }

    pub async fn ping(&self) -> Result<()> {
        redis::cmd("PING").query_async::<()>(&mut self.con()).await.map_err(AppError::redis)
    }
}

fn decode<T: redis::FromRedisValue>(value: Option<redis::Value>) -> Result<T> {
    let value = value.unwrap_or(redis::Value::Nil);
    redis::from_redis_value(value).map_err(|e| AppError::redis(e.into()))
}

/// Appends a day's closed bars as stored (their JSON untouched), each with its frame (the score).
fn push_closed(out: &mut Vec<Served>, closed: Vec<(String, i64)>) -> Result<()> {
    for (json, score) in closed {
        if !(json.starts_with('{') && json.ends_with('}')) {
            return Err(unreadable(&json));
        }
        out.push(Served { frame: Frame::from_epoch_seconds(score), body: Body::Stored(json), store: Store::Redis });
    }
    Ok(())
}

fn parse(json: &str) -> Result<Bar> {
    serde_json::from_str(json).map_err(|_| unreadable(json))
}

fn unreadable(json: &str) -> AppError {
    AppError::Unavailable { store: Store::Redis, detail: format!("an unreadable bar: {json}") }
}
