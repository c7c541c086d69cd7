//! One bar series out of two stores: same-day bars from Redis and history from ClickHouse, merged
//! on the frame (the symbol and period are the query's), sorted, one bar per frame, Redis winning.

use common::{Bar, Frame};
use serde::Serialize;
use utoipa::ToSchema;

/// Where a served bar came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Redis,
    ClickHouse,
}

/// A bar as the API serves it: the contract's bar object, plus `"forming": true` on the bar still
/// forming (only with `include_forming=true`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Served {
    #[serde(flatten)]
    pub bar: Bar,
    /// Present and `true` on the bar still forming; it may change until its interval ends.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub forming: bool,
    #[serde(skip)]
    pub source: Source,
}

impl Served {
    pub fn new(bar: Bar, source: Source) -> Served {
        Served { bar, forming: false, source }
    }

    pub fn frame(&self) -> Frame {
        self.bar.frame
    }
}

/// The merged series and how many of its bars each store gave.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Series {
    pub bars: Vec<Served>,
    pub redis: usize,
    pub clickhouse: usize,
}

/// Merges two series sorted by frame; where both hold a frame, the Redis bar is kept.
pub fn merge(redis: Vec<Served>, clickhouse: Vec<Served>) -> Series {
    let mut bars = Vec::with_capacity(redis.len() + clickhouse.len());
    let (mut r, mut c) = (redis.into_iter().peekable(), clickhouse.into_iter().peekable());
    loop {
        let next = match (r.peek(), c.peek()) {
            (Some(a), Some(b)) if a.frame() == b.frame() => {
                c.next();
                r.next()
            }
            (Some(a), Some(b)) if b.frame() < a.frame() => c.next(),
            (Some(_), _) => r.next(),
            (None, _) => c.next(),
        };
        match next {
            Some(bar) => bars.push(bar),
            None => break,
        }
    }
    let redis = bars.iter().filter(|b| b.source == Source::Redis).count();
    Series { redis, clickhouse: bars.len() - redis, bars }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::Ohlcv;
    use proptest::prelude::*;
    use rust_decimal::Decimal;

    fn served(minute: i64, source: Source, price: i64) -> Served {
        let v = Ohlcv::flat(Decimal::from(price));
        Served::new(Bar::new("600519.SH".parse().unwrap(), Frame::from_epoch_seconds(60 * minute), &v), source)
    }

    #[test]
    fn redis_wins_a_frame_both_hold_and_the_sources_are_counted() {
        let redis = vec![served(3, Source::Redis, 30), served(4, Source::Redis, 40)];
        let history = vec![served(1, Source::ClickHouse, 1), served(3, Source::ClickHouse, 3)];
        let s = merge(redis, history);
        let got: Vec<(i64, Decimal)> = s.bars.iter().map(|b| (b.frame().epoch_seconds() / 60, b.bar.close)).collect();
        assert_eq!(got, [(1, 1.into()), (3, 30.into()), (4, 40.into())]);
        assert_eq!((s.redis, s.clickhouse), (2, 1));
    }

    proptest! {
        #[test]
        fn the_merge_is_sorted_unique_and_keeps_every_redis_bar(
            redis in proptest::collection::btree_set(0i64..500, 0..60),
            history in proptest::collection::btree_set(0i64..500, 0..60),
        ) {
            let r: Vec<Served> = redis.iter().map(|m| served(*m, Source::Redis, 2)).collect();
            let c: Vec<Served> = history.iter().map(|m| served(*m, Source::ClickHouse, 1)).collect();
            let s = merge(r, c);
            let frames: Vec<i64> = s.bars.iter().map(|b| b.frame().epoch_seconds() / 60).collect();
            let expected: Vec<i64> = redis.union(&history).copied().collect();
            prop_assert_eq!(frames, expected);
            prop_assert_eq!(s.redis, redis.len());
            for b in &s.bars {
                let minute = b.frame().epoch_seconds() / 60;
                prop_assert_eq!(b.source == Source::Redis, redis.contains(&minute));
            }
        }
    }
}
