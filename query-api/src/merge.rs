//! One bar series out of two stores: same-day bars from Redis and history from ClickHouse, merged
//! on the frame (the symbol and period are the query's), sorted, one bar per frame, Redis winning.

use common::{Bar, Frame};
use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

/// Where a served bar came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Redis,
    ClickHouse,
}

/// A bar as the API serves it: the contract's bar object, plus `"forming": true` on the bar still
/// forming (only with `include_forming=true`).
#[derive(Debug, Clone)]
pub struct Served {
    pub frame: Frame,
    pub body: Body,
    pub source: Source,
}

/// A served bar's content.
#[derive(Debug, Clone)]
pub enum Body {
    /// The bar object exactly as the producer stored it in Redis: passed through without being
    /// parsed and written again (the producer wrote it from a [`Bar`]).
    Stored(String),
    /// A bar read into its fields: ClickHouse rows and the forming bar.
    Parsed { bar: Bar, forming: bool },
}

impl Served {
    pub fn parsed(bar: Bar, source: Source) -> Served {
        Served { frame: bar.frame, body: Body::Parsed { bar, forming: false }, source }
    }

    pub fn frame(&self) -> Frame {
        self.frame
    }

    /// Whether this is the bar still forming.
    pub fn forming(&self) -> bool {
        matches!(self.body, Body::Parsed { forming: true, .. })
    }

    /// The bar's fields (a stored bar is parsed now).
    pub fn bar(&self) -> serde_json::Result<Bar> {
        match &self.body {
            Body::Stored(json) => serde_json::from_str(json),
            Body::Parsed { bar, .. } => Ok(bar.clone()),
        }
    }

    /// Appends the bar object (with `"forming":true` on the forming bar) to `out`.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        match &self.body {
            Body::Stored(json) => out.extend_from_slice(json.as_bytes()),
            Body::Parsed { bar, forming } => {
                serde_json::to_writer(&mut *out, bar).expect("bars serialize");
                if *forming {
                    out.pop();
                    out.extend_from_slice(br#","forming":true}"#);
                }
            }
        }
    }
}

impl PartialSchema for Served {
    fn schema() -> RefOr<Schema> {
        let forming = ObjectBuilder::new()
            .schema_type(Type::Boolean)
            .description(Some("Present and true on the bar still forming; it may change until its interval ends."));
        AllOfBuilder::new()
            .item(Ref::from_schema_name("Bar"))
            .item(ObjectBuilder::new().property("forming", forming))
            .into()
    }
}

impl ToSchema for Served {}

/// The merged series and how many of its bars each store gave.
#[derive(Debug, Clone, Default)]
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
        Served::parsed(Bar::new("600519.SH".parse().unwrap(), Frame::from_epoch_seconds(60 * minute), &v), source)
    }

    #[test]
    fn stored_bars_pass_through_and_parsed_ones_carry_their_mark() {
        let json = r#"{"symbol":"600519.SH","frame":"1970-01-01T08:01:00+08:00","open":2.50,"high":2.5,"low":2.5,"close":2.5,"vol":0,"amount":0}"#;
        let stored =
            Served { frame: Frame::from_epoch_seconds(60), body: Body::Stored(json.into()), source: Source::Redis };
        let mut out = Vec::new();
        stored.write_json(&mut out);
        assert_eq!(out, json.as_bytes());
        assert_eq!(stored.bar().unwrap().open, Decimal::new(25, 1));
        let mut forming = served(2, Source::Redis, 3);
        forming.body = Body::Parsed { bar: forming.bar().unwrap(), forming: true };
        let (mut marked, mut plain) = (Vec::new(), Vec::new());
        forming.write_json(&mut marked);
        served(2, Source::ClickHouse, 3).write_json(&mut plain);
        let marked: serde_json::Value = serde_json::from_slice(&marked).unwrap();
        let mut plain: serde_json::Value = serde_json::from_slice(&plain).unwrap();
        plain["forming"] = true.into();
        assert_eq!(marked, plain);
    }

    #[test]
    fn redis_wins_a_frame_both_hold_and_the_sources_are_counted() {
        let redis = vec![served(3, Source::Redis, 30), served(4, Source::Redis, 40)];
        let history = vec![served(1, Source::ClickHouse, 1), served(3, Source::ClickHouse, 3)];
        let s = merge(redis, history);
        let got: Vec<(i64, Decimal)> =
            s.bars.iter().map(|b| (b.frame().epoch_seconds() / 60, b.bar().unwrap().close)).collect();
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
