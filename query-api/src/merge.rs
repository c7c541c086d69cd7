//! One bar series out of two stores: same-day bars from Redis and history from ClickHouse, merged
//! on the frame (the symbol and period are the query's), sorted, one bar per frame, Redis winning.

use crate::served::{Served, Sources};

/// The merged series and how many of its bars each store gave.
#[derive(Debug, Clone, Default)]
pub struct Series {
    pub bars: Vec<Served>,
    pub sources: Sources,
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
    Series { sources: Sources::of(&bars), bars }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::served::tests::served;
    use crate::served::Store;
    use common::Price;
    use proptest::prelude::*;

    #[test]
    fn redis_wins_a_frame_both_hold_and_the_sources_are_counted() {
        let redis = vec![served(3, Store::Redis, 30), served(4, Store::Redis, 40)];
        let history = vec![served(1, Store::ClickHouse, 1), served(3, Store::ClickHouse, 3)];
        let s = merge(redis, history);
        let got: Vec<(i64, Price)> =
            s.bars.iter().map(|b| (b.frame().epoch_seconds() / 60, b.bar().unwrap().close)).collect();
        assert_eq!(got, [(1, Price::yuan(1)), (3, Price::yuan(30)), (4, Price::yuan(40))]);
        assert_eq!(s.sources, Sources { redis: 2, clickhouse: 1 });
    }

    proptest! {
        #[test]
        fn the_merge_is_sorted_unique_and_keeps_every_redis_bar(
            redis in proptest::collection::btree_set(0i64..500, 0..60),
            history in proptest::collection::btree_set(0i64..500, 0..60),
        ) {
            let r: Vec<Served> = redis.iter().map(|m| served(*m, Store::Redis, 2)).collect();
            let c: Vec<Served> = history.iter().map(|m| served(*m, Store::ClickHouse, 1)).collect();
            let s = merge(r, c);
            let frames: Vec<i64> = s.bars.iter().map(|b| b.frame().epoch_seconds() / 60).collect();
            let expected: Vec<i64> = redis.union(&history).copied().collect();
            prop_assert_eq!(frames, expected);
            prop_assert_eq!(s.sources.redis, redis.len());
            for b in &s.bars {
                let minute = b.frame().epoch_seconds() / 60;
                prop_assert_eq!(b.store == Store::Redis, redis.contains(&minute));
            }
        }
    }
}
