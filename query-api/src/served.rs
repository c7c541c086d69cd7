//! A bar as the API serves it, the store it came from, its source (vendor history or built live),
//! and how many bars each store gave: the types the two stores produce and the merge, the query
//! and the answers consume.

use std::sync::Arc;

use common::instrument::Daily;
use common::{Bar, Frame, Source};
pub use runtime::stores::Store;
use serde::Serialize;
use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

/// A bar as the API serves it: the contract's bar object, plus `"source"` (`"vendor"` or
/// `"live"`) and `"forming": true` on the bar still forming (only with `include_forming=true`).
#[derive(Debug, Clone)]
pub struct Served {
    pub frame: Frame,
    pub body: Body,
    /// The store it came from.
    pub store: Store,
    /// Vendor history, or built live (every same-day bar; a resampled bar with any live part).
    pub source: Source,
    /// A daily bar's own fields (`pre_close`, `paused`, the limits); none on other bars.
    pub daily: Option<Daily>,
}

/// A served bar's content.
#[derive(Debug, Clone)]
pub enum Body {
    /// The bar object exactly as the producer stored it in Redis: passed through without being
    /// parsed and written again (the producer wrote it from a [`Bar`]); shared, so a day the cache
    /// keeps is served again without a copy.
    Stored(Arc<str>),
    /// A bar read into its fields: ClickHouse rows and the forming bar.
    Parsed { bar: Bar, forming: bool },
    /// A closed bar read into its fields and written out once: what the history cache keeps, so a
    /// bar it serves again is not written again.
    Kept { bar: Bar, json: Arc<str> },
}

impl Served {
    /// A bar of ClickHouse's history from `source`.
    pub fn history(bar: Bar, source: Source) -> Served {
        Served::built(bar, false, Store::ClickHouse, source)
    }

    /// A same-day bar of Redis (built live).
    pub fn same_day(frame: Frame, body: Body) -> Served {
        Served { frame, body, store: Store::Redis, source: Source::Live, daily: None }
    }

    /// A bar built here (forming or not), credited to `store` and `source`.
    pub fn built(bar: Bar, forming: bool, store: Store, source: Source) -> Served {
        Served { frame: bar.frame, body: Body::Parsed { bar, forming }, store, source, daily: None }
    }

    pub fn frame(&self) -> Frame {
        self.frame
    }

    /// This bar as the history cache keeps it: a closed parsed bar written out once.
    pub fn kept(&self) -> Served {
        match &self.body {
            Body::Parsed { bar, forming: false } => {
                let json = serde_json::to_string(bar).expect("bars serialize").into();
                Served { body: Body::Kept { bar: bar.clone(), json }, ..self.clone() }
            }
            _ => self.clone(),
        }
    }

    /// Whether this is the bar still forming.
    pub fn forming(&self) -> bool {
        matches!(self.body, Body::Parsed { forming: true, .. })
    }

    /// The bar's fields (a stored bar is parsed now).
    pub fn bar(&self) -> serde_json::Result<Bar> {
        match &self.body {
            Body::Stored(json) => serde_json::from_str(json),
            Body::Parsed { bar, .. } | Body::Kept { bar, .. } => Ok(bar.clone()),
        }
    }

    /// About how many bytes [`Self::write_json`] writes, to size the answer once.
    pub fn json_len(&self) -> usize {
        const SOURCE: usize = r#","source":"vendor""#.len();
        match &self.body {
            Body::Stored(json) => json.len() + SOURCE,
            Body::Kept { json, .. } => json.len() + SOURCE,
            Body::Parsed { .. } => 200,
        }
    }

    /// Appends the bar object, with its `"source"` (and `"forming":true` on the forming bar), to
    /// `out`: the stored or kept object as it is, the fields added before its closing brace.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        match &self.body {
            Body::Stored(json) => out.extend_from_slice(json.as_bytes()),
            Body::Kept { json, .. } => out.extend_from_slice(json.as_bytes()),
            Body::Parsed { bar, .. } => serde_json::to_writer(&mut *out, bar).expect("bars serialize"),
        }
        out.pop();
        out.extend_from_slice(br#","source":""#);
        out.extend_from_slice(self.source.as_str().as_bytes());
        out.push(b'"');
        if self.forming() {
            out.extend_from_slice(br#","forming":true"#);
        }
        if let Some(daily) = &self.daily {
            let fields = serde_json::to_vec(daily).expect("daily fields serialize");
            out.push(b',');
            out.extend_from_slice(&fields[1..fields.len() - 1]);
        }
        out.push(b'}');
    }

    /// The values of the table's columns beyond the bar's (`runtime::table`).
    pub fn extra(&self) -> runtime::table::Extra {
        let daily = self.daily.unwrap_or_default();
        runtime::table::Extra { source: self.source, forming: self.forming(), daily }
    }
}

impl PartialSchema for Served {
    fn schema() -> RefOr<Schema> {
        let forming = ObjectBuilder::new()
            .schema_type(Type::Boolean)
            .description(Some("Present and true on the bar still forming; it may change until its interval ends."));
        let source = ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some([Source::Vendor.as_str(), Source::Live.as_str()]))
            .description(Some(
                "Where the bar came from: `vendor` history, or `live`, built by tickbar from the feed (every \
                 bar of a day Redis holds, and history no vendor bar replaced; a resampled bar with any live part).",
            ));
        let vwap = ObjectBuilder::new().schema_type(Type::Number).description(Some(
            "The volume-weighted average price, amount / vol to 1/10,000 yuan; absent on a bar without volume.",
        ));
        let number = |text: &'static str| ObjectBuilder::new().schema_type(Type::Number).description(Some(text));
        let paused = ObjectBuilder::new()
            .schema_type(Type::Boolean)
            .description(Some("Daily bars (`period=1d`): true on a day without a trade (a suspension between two traded days is a flat paused bar)."));
        let extra = ObjectBuilder::new()
            .property("vwap", vwap)
            .property("pre_close", number("Daily bars: the close of the trading day before (the last close before a suspension); absent when the stores hold none."))
            .property("paused", paused)
            .property("high_limit", number("Daily bars, with an instrument list: the day's upper price limit from pre_close by the board's rule, rounded half up to the fen; absent on days without a limit."))
            .property("low_limit", number("Daily bars, with an instrument list: the day's lower price limit."));
        AllOfBuilder::new()
            .item(Ref::from_schema_name("Bar"))
            .item(extra.property("source", source).required("source").property("forming", forming))
            .into()
    }
}

impl ToSchema for Served {}

/// How many of the bars each store gave.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Sources {
    pub redis: usize,
    pub clickhouse: usize,
}

impl Sources {
    /// The count of `bars` by the store each came from.
    pub fn of(bars: &[Served]) -> Sources {
        let redis = bars.iter().filter(|b| b.store == Store::Redis).count();
        Sources { redis, clickhouse: bars.len() - redis }
    }

    pub fn plus(self, other: Sources) -> Sources {
        Sources { redis: self.redis + other.redis, clickhouse: self.clickhouse + other.clickhouse }
    }

    pub fn get(&self, store: Store) -> usize {
        match store {
            Store::Redis => self.redis,
            Store::ClickHouse => self.clickhouse,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use common::{Ohlcv, Price};

    /// A flat bar of 600519.SH at `minute` after the epoch, closing at `price` (from the vendor
    /// when of ClickHouse).
    pub fn served(minute: i64, store: Store, price: i64) -> Served {
        let v = Ohlcv::flat(Price::yuan(price));
        let bar = Bar::new("600519.SH".parse().unwrap(), Frame::from_epoch_seconds(60 * minute), &v);
        let source = if store == Store::Redis { Source::Live } else { Source::Vendor };
        Served::built(bar, false, store, source)
    }

    #[test]
    fn stored_bars_pass_through_with_their_source_and_parsed_ones_carry_their_mark() {
        let json = r#"{"symbol":"600519.SH","frame":"1970-01-01T08:01:00+08:00","open":2.50,"high":2.5,"low":2.5,"close":2.5,"vol":0,"amount":0}"#;
        let stored = Served::same_day(Frame::from_epoch_seconds(60), Body::Stored(json.into()));
        let mut out = Vec::new();
        stored.write_json(&mut out);
        assert_eq!(String::from_utf8(out).unwrap(), json.replace("0}", r#"0,"source":"live"}"#));
        assert_eq!(stored.bar().unwrap().open, Price::from_units(25_000));
        let mut forming = served(2, Store::Redis, 3);
        forming.body = Body::Parsed { bar: forming.bar().unwrap(), forming: true };
        let (mut marked, mut plain) = (Vec::new(), Vec::new());
        forming.write_json(&mut marked);
        served(2, Store::ClickHouse, 3).write_json(&mut plain);
        let marked: serde_json::Value = serde_json::from_slice(&marked).unwrap();
        let mut plain: serde_json::Value = serde_json::from_slice(&plain).unwrap();
        plain["forming"] = true.into();
        plain["source"] = "live".into();
        assert_eq!(marked, plain);
    }

    #[test]
    fn a_kept_bar_is_written_and_read_as_the_parsed_one() {
        let parsed = served(2, Store::ClickHouse, 3);
        let kept = parsed.kept();
        assert!(matches!(kept.body, Body::Kept { .. }));
        let (mut a, mut b) = (Vec::new(), Vec::new());
        parsed.write_json(&mut a);
        kept.write_json(&mut b);
        assert_eq!((a.clone(), kept.json_len()), (b, a.len()));
        assert_eq!(kept.bar().unwrap(), parsed.bar().unwrap());
    }
}
