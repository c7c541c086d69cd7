//! Bars: the OHLCV record of one symbol over one frame (the contract's bar object), the events
//! the aggregator emits about them, and the source a stored bar came from.

use serde::{Deserialize, Serialize};

use crate::money::{Amount, Price};
use crate::number;
use crate::period::Period;
use crate::symbol::Symbol;
use crate::tick::{MAX_AMOUNT, MAX_PRICE, MAX_VOLUME};
use crate::time::Frame;
use crate::Error;

/// Prices, volume (shares), amount (yuan) and trade count of an interval, without its identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ohlcv {
    pub open: Price,
    pub high: Price,
    pub low: Price,
    pub close: Price,
    pub vol: u64,
    pub amount: Amount,
    /// The trades in the interval, where the feed told them; `None` on an interval without volume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trades: Option<u32>,
}

impl Ohlcv {
    /// A flat interval at `price` with no trade.
    pub fn flat(price: Price) -> Ohlcv {
        Ohlcv { open: price, high: price, low: price, close: price, vol: 0, amount: Amount::ZERO, trades: None }
    }

    /// Extends this interval by the one right after it: how longer bars are built from 1m bars.
    /// The trade count is the sum where both are known (an interval without volume had none).
    pub fn fold(&mut self, next: &Ohlcv) {
        self.add_trades(next.vol, next.trades);
        self.high = self.high.max(next.high);
        self.low = self.low.min(next.low);
        self.close = next.close;
        self.vol += next.vol;
        self.amount += next.amount;
    }

    /// Counts `trades` more trades of `vol` shares (before the volume is added): the sum where
    /// both counts are known, unknown when either is not, none while there is no volume.
    pub fn add_trades(&mut self, vol: u64, trades: Option<u32>) {
        let known = |vol: u64, trades: Option<u32>| if vol == 0 { Some(0) } else { trades };
        let sum = known(self.vol, self.trades).zip(known(vol, trades)).map(|(a, b)| a.saturating_add(b));
        self.trades = sum.filter(|_| self.vol + vol > 0);
    }
}

/// The contract's bar object: `{"symbol","frame","open","high","low","close","vol","amount"}`, then
/// `trades` where the count is known and `vwap` (amount / vol, derived when written, ignored when
/// read) where there is volume.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Bar {
    pub symbol: Symbol,
    pub frame: Frame,
    #[cfg_attr(feature = "openapi", schema(value_type = f64))]
    pub open: Price,
    #[cfg_attr(feature = "openapi", schema(value_type = f64))]
    pub high: Price,
    #[cfg_attr(feature = "openapi", schema(value_type = f64))]
    pub low: Price,
    #[cfg_attr(feature = "openapi", schema(value_type = f64))]
    pub close: Price,
    /// Shares.
    #[serde(with = "number::whole")]
    pub vol: u64,
    #[cfg_attr(feature = "openapi", schema(value_type = f64))]
    pub amount: Amount,
    /// The number of trades in the bar: absent where the feed (or the vendor) does not give it,
    /// and on a bar without volume.
    #[serde(default, deserialize_with = "number::optional_count")]
    pub trades: Option<u32>,
}

impl Bar {
    pub fn new(symbol: Symbol, frame: Frame, v: &Ohlcv) -> Bar {
        let (open, high, low, close) = (v.open, v.high, v.low, v.close);
        Bar { symbol, frame, open, high, low, close, vol: v.vol, amount: v.amount, trades: v.trades }
    }

    pub fn ohlcv(&self) -> Ohlcv {
        let (open, high, low, close) = (self.open, self.high, self.low, self.close);
        Ohlcv { open, high, low, close, vol: self.vol, amount: self.amount, trades: self.trades }
    }

    /// The volume-weighted average price, amount / vol to the price's precision; none without volume.
    pub fn vwap(&self) -> Option<Price> {
        self.amount.per_share(self.vol)
    }

    /// Checks the bar's own consistency: positive prices, `low <= open, close <= high`, no negative
    /// amount, and prices, volume and amount inside the bounds a tick has (so bars fold without overflow).
    pub fn check(&self) -> Result<(), Error> {
        let fail = |what: &str| Err(Error::InvalidBar(format!("{} {}: {what}", self.symbol, self.frame)));
        if self.low <= Price::ZERO {
            return fail("prices must be positive");
        }
        if self.high > MAX_PRICE || self.vol > MAX_VOLUME || self.amount > MAX_AMOUNT {
            return fail("a price, the volume or the amount is beyond what a bar can hold");
        }
        if self.low > self.open.min(self.close) || self.high < self.open.max(self.close) {
            return fail("needs low <= open, close <= high");
        }
        if self.amount.is_negative() {
            return fail("amount must not be negative");
        }
        Ok(())
    }
}

impl Serialize for Bar {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let vwap = self.vwap();
        let fields = 8 + usize::from(self.trades.is_some()) + usize::from(vwap.is_some());
        let mut out = serializer.serialize_struct("Bar", fields)?;
        out.serialize_field("symbol", &self.symbol)?;
        out.serialize_field("frame", &self.frame)?;
        out.serialize_field("open", &self.open)?;
        out.serialize_field("high", &self.high)?;
        out.serialize_field("low", &self.low)?;
        out.serialize_field("close", &self.close)?;
        out.serialize_field("vol", &self.vol)?;
        out.serialize_field("amount", &self.amount)?;
        if let Some(trades) = self.trades {
            out.serialize_field("trades", &trades)?;
        }
        if let Some(vwap) = vwap {
            out.serialize_field("vwap", &vwap)?;
        }
        out.end()
    }
}

/// What happened to a bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BarEventKind {
    /// The forming bar changed; it may change again.
    Updated,
    /// The bar's interval has passed: final unless a late tick amends it.
    Closed,
    /// A closed bar changed through a late tick inside the correction window.
    Amended,
}

/// One output of the aggregator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BarEvent {
    pub kind: BarEventKind,
    pub period: Period,
    pub bar: Bar,
}

/// Where a bar of history came from: the vendor's history (the authority) or tickbar's own bars,
/// built live from the feed. A stored row says which by its version: a vendor row's is the time
/// the consumer took it from its queue in microseconds, a live row's the time it was written in
/// seconds, always lower, so a vendor row replaces a live one whichever was written first and a
/// live one never replaces a vendor one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Vendor,
    Live,
}

impl Source {
    /// Versions below this are live rows' (epoch seconds); vendor rows' (epoch microseconds) are
    /// above it from 1970-01-12 on.
    pub const LIVE_VERSIONS_END: u64 = 1_000_000_000_000;

    /// The source of a stored row of `version`.
    pub const fn of_version(version: u64) -> Source {
        if version < Source::LIVE_VERSIONS_END {
            Source::Live
        } else {
            Source::Vendor
        }
    }

    /// The version of a live row written at `epoch_ms`: its second, so a later write of the same
    /// bar replaces an earlier one and every vendor row outranks it.
    pub const fn live_version(epoch_ms: i64) -> u64 {
        (epoch_ms / 1000).unsigned_abs()
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Source::Vendor => "vendor",
            Source::Live => "live",
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{amount, price};

    #[test]
    fn a_live_version_is_below_every_vendor_version_and_says_so() {
        let now_ms = 1_796_000_000_000;
        let live = Source::live_version(now_ms);
        let vendor_taken_in_1971 = 365 * 86_400 * 1_000_000;
        assert!(live < vendor_taken_in_1971);
        assert_eq!(
            (Source::of_version(live), Source::of_version(vendor_taken_in_1971)),
            (Source::Live, Source::Vendor)
        );
        assert!(Source::live_version(now_ms + 1000) > live, "a later live write replaces an earlier one");
        assert_eq!(serde_json::to_value(Source::Live).unwrap(), Source::Live.as_str());
    }

    #[test]
    fn the_bar_object_round_trips_in_the_contract_shape() {
        let seed = r#"{"symbol":"600519.SH","frame":"2026-11-19 09:31:00","open":1650.0,"high":1652.3,"low":"1649.9","close":1651.0,"vol":"120300","amount":198612345.5}"#;
        let bar: Bar = serde_json::from_str(seed).unwrap();
        assert_eq!((bar.low, bar.vol, bar.amount), (price!(1649.9), 120_300, amount!(198612345.5)));
        assert_eq!(
            serde_json::to_string(&bar).unwrap(),
            r#"{"symbol":"600519.SH","frame":"2026-11-19T09:31:00+08:00","open":1650,"high":1652.3,"low":1649.9,"close":1651,"vol":120300,"amount":198612345.5,"vwap":1650.9754}"#
        );
        assert!(bar.check().is_ok());
        let counted = seed.replace(r#""amount""#, r#""trades":"57","vwap":1,"amount""#);
        let counted: Bar = serde_json::from_str(&counted).unwrap();
        assert_eq!(counted, Bar { trades: Some(57), ..bar.clone() }, "a vwap read is derived again, not taken");
        let written = serde_json::to_string(&counted).unwrap();
        assert!(written.ends_with(r#""amount":198612345.5,"trades":57,"vwap":1650.9754}"#), "{written}");
        let flat = Bar { vol: 0, amount: Amount::ZERO, ..bar };
        let written = serde_json::to_string(&flat).unwrap();
        assert!(written.ends_with(r#""vol":0,"amount":0}"#), "no vwap and no trades without volume: {written}");
    }

    #[test]
    fn trade_counts_fold_where_both_are_known_and_a_bar_without_volume_had_none() {
        let traded = |vol, trades| Ohlcv { vol, trades, ..Ohlcv::flat(price!(10)) };
        let mut v = Ohlcv::flat(price!(10));
        v.fold(&traded(300, Some(2)));
        assert_eq!(v.trades, Some(2));
        v.fold(&Ohlcv::flat(price!(10)));
        v.fold(&traded(100, Some(1)));
        assert_eq!((v.vol, v.trades), (400, Some(3)));
        v.fold(&traded(100, None));
        assert_eq!((v.vol, v.trades), (500, None), "one minute without a count: the sum is unknown");
        v.fold(&traded(100, Some(1)));
        assert_eq!(v.trades, None, "and stays unknown");
        let mut flat = Ohlcv::flat(price!(10));
        flat.fold(&Ohlcv::flat(price!(10)));
        assert_eq!(flat.trades, None, "no volume, no count");
    }

    #[test]
    fn inconsistent_bars_fail_the_check() {
        let mut bar: Bar = serde_json::from_str(
            r#"{"symbol":"600519.SH","frame":"2026-11-19T09:31:00+08:00","open":10,"high":11,"low":9,"close":10,"vol":1,"amount":10}"#,
        )
        .unwrap();
        bar.high = price!(9.5);
        assert!(bar.check().is_err());
        bar.high = price!(100001);
        assert!(bar.check().is_err(), "a price beyond any A-share");
        (bar.high, bar.vol) = (price!(11), u64::MAX);
        assert!(bar.check().is_err(), "a volume that would overflow a fold");
    }
}
