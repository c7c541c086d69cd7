//! Ticks: one trade, or a day-cumulative snapshot, of one symbol; parsed from the contract's two
//! stream payloads, the plain tick object (or an array of them) and the QMT whole-quote dict.

use std::fmt;

use rust_decimal::Decimal;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::number;
use crate::symbol::Symbol;
use crate::time::parse_datetime;
use crate::Error;

/// How a tick's volume and amount are to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TickKind {
    /// This trade's own volume and amount.
    Trade,
    /// Day-cumulative totals; the day high and low, when the feed has them, reveal trades between
    /// two snapshots.
    Cumulative { day_high: Option<Decimal>, day_low: Option<Decimal> },
}

/// A tick in the domain's units: shares and yuan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tick {
    pub symbol: Symbol,
    pub time_ms: i64,
    pub price: Decimal,
    pub volume: u64,
    pub amount: Decimal,
    pub kind: TickKind,
}

/// Epoch milliseconds of 2000-01-01 and 2100-01-01: anything outside is no market time.
const PLAUSIBLE_MS: std::ops::Range<i64> = 946_684_800_000..4_102_444_800_000;

/// The highest price a tick may carry, in yuan: about forty times the highest A-share price ever
/// traded (600519.SH near 2,600 yuan), so a misplaced decimal point or a garbage number is refused.
pub const MAX_PRICE: Decimal = Decimal::from_parts(100_000, 0, 0, false, 0);
/// The most shares a tick (or a day-cumulative snapshot, or one bar) may carry: a hundred times the
/// busiest stock's busiest day (about 10^10 shares).
pub const MAX_VOLUME: u64 = 1_000_000_000_000;
/// The largest amount a tick (or a snapshot, or one bar) may carry, in yuan: 10^14, some sixty
/// times the whole market's daily turnover. Sums of bounded values cannot overflow `Decimal`.
pub const MAX_AMOUNT: Decimal = Decimal::from_parts(0x107A_4000, 0x5AF3, 0, false, 0);

impl Tick {
    /// Checks what any tick must satisfy whatever the calendar says: a plausible time, and prices,
    /// volume and amount inside the bounds above.
    pub fn validate(self) -> Result<Tick, Error> {
        if !PLAUSIBLE_MS.contains(&self.time_ms) {
            let detail = format!("time {} ms is outside any plausible day", self.time_ms);
            return Err(Error::InvalidTick { reason: "implausible_time", detail });
        }
        if self.volume > 0 && self.price <= Decimal::ZERO {
            let detail = format!("price {} with volume {}", self.price, self.volume);
            return Err(Error::InvalidTick { reason: "bad_price", detail });
        }
        check_price("price", self.price)?;
        if let TickKind::Cumulative { day_high, day_low } = self.kind {
            day_high.map(|p| check_price("high", p)).transpose()?;
            day_low.map(|p| check_price("low", p)).transpose()?;
        }
        check_volume(self.volume)?;
        if self.amount.is_sign_negative() && !self.amount.is_zero() {
            return Err(Error::InvalidTick { reason: "negative_amount", detail: format!("{}", self.amount) });
        }
        if self.amount > MAX_AMOUNT {
            let detail = format!("amount {} is above {MAX_AMOUNT} yuan", self.amount);
            return Err(Error::InvalidTick { reason: "out_of_bounds", detail });
        }
        Ok(self)
    }
}

fn check_price(what: &str, price: Decimal) -> Result<(), Error> {
    if price.is_sign_negative() && !price.is_zero() {
        return Err(Error::InvalidTick { reason: "bad_price", detail: format!("{what} {price} is negative") });
    }
    if price > MAX_PRICE {
        let detail = format!("{what} {price} is above {MAX_PRICE} yuan");
        return Err(Error::InvalidTick { reason: "out_of_bounds", detail });
    }
    Ok(())
}

fn check_volume(volume: u64) -> Result<(), Error> {
    if volume > MAX_VOLUME {
        let detail = format!("volume {volume} is above {MAX_VOLUME} shares");
        return Err(Error::InvalidTick { reason: "out_of_bounds", detail });
    }
    Ok(())
}

/// One element of a payload that could not be used: why, and the element itself (for a QMT payload
/// the one-entry object `{"SYMBOL": {...}}`), so its dead letter need not copy the whole payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadElement {
    pub error: Error,
    pub element: String,
}

/// Each element of a payload, parsed on its own so that one bad element spoils only itself.
pub type Parsed = Vec<Result<Tick, BadElement>>;

/// Parses a `tick` stream field: one tick object or a JSON array of them.
pub fn parse_tick_payload(json: &str) -> Result<Parsed, Error> {
    let items: Vec<&RawValue> = if json.trim_start().starts_with('[') {
        serde_json::from_str(json).map_err(bad_json)?
    } else {
        vec![serde_json::from_str(json).map_err(bad_json)?]
    };
    let parse = |raw: &RawValue| {
        parse_tick_object(raw.get()).map_err(|error| BadElement { error, element: raw.get().to_owned() })
    };
    Ok(items.into_iter().map(parse).collect())
}

/// Parses one plain tick object.
pub fn parse_tick_object(json: &str) -> Result<Tick, Error> {
    let obj: TickObject = serde_json::from_str(json).map_err(bad_json)?;
    check_price("price", obj.price)?;
    check_volume(obj.volume)?;
    let amount = match (obj.amount, obj.cumulative) {
        (Some(amount), _) => amount,
        // Both factors are bounded above, so the product fits.
        (None, false) => obj.price * Decimal::from(obj.volume),
        (None, true) => {
            let detail = "a cumulative tick needs its amount".into();
            return Err(Error::InvalidTick { reason: "missing_field", detail });
        }
    };
    let kind =
        if obj.cumulative { TickKind::Cumulative { day_high: obj.high, day_low: obj.low } } else { TickKind::Trade };
    Tick { symbol: obj.symbol, time_ms: obj.time.0, price: obj.price, volume: obj.volume, amount, kind }.validate()
}

/// Parses a `qmt` stream field: an xtquant whole-quote payload mapping symbol to snapshot dict.
pub fn parse_qmt_payload(json: &str) -> Result<Parsed, Error> {
    let quotes: Vec<(&str, &RawValue)> = serde_json::from_str::<QuoteMap>(json).map_err(bad_json)?.0;
    let parse = |(symbol, raw): (&str, &RawValue)| {
        parse_qmt_snapshot(symbol, raw.get()).map_err(|error| {
            let key = serde_json::to_string(symbol).expect("strings serialize");
            BadElement { error, element: format!("{{{key}:{}}}", raw.get()) }
        })
    };
    Ok(quotes.into_iter().map(parse).collect())
}

/// Parses one QMT snapshot dict of `symbol`: cumulative lots become shares.
pub fn parse_qmt_snapshot(symbol: &str, json: &str) -> Result<Tick, Error> {
    let symbol: Symbol = symbol.parse()?;
    let snap: QmtSnapshot = serde_json::from_str(json).map_err(|e| of_symbol(symbol, bad_json(e)))?;
    let volume = snap.volume.checked_mul(100).ok_or_else(|| Error::InvalidTick {
        reason: "bad_number",
        detail: format!("{symbol}: volume {} lots overflows", snap.volume),
    })?;
    let kind = TickKind::Cumulative { day_high: snap.high, day_low: snap.low };
    Tick { symbol, time_ms: snap.time.0, price: snap.last_price, volume, amount: snap.amount, kind }
        .validate()
        .map_err(|e| of_symbol(symbol, e))
}

/// Names the symbol in an error about one element of a QMT payload.
fn of_symbol(symbol: Symbol, e: Error) -> Error {
    match e {
        Error::InvalidTick { reason, detail } => Error::InvalidTick { reason, detail: format!("{symbol}: {detail}") },
        other => Error::InvalidTick { reason: other.reason(), detail: format!("{symbol}: {other}") },
    }
}

/// A JSON error, named for what it most likely was: broken JSON, a missing field, or a field whose
/// value is not what it must be (the message names the field and the rule).
fn bad_json(e: serde_json::Error) -> Error {
    let detail = e.to_string();
    let reason = if e.is_syntax() || e.is_eof() {
        "bad_json"
    } else if detail.starts_with("missing field") {
        "missing_field"
    } else if detail.starts_with("invalid symbol") {
        "bad_symbol"
    } else if detail.starts_with("invalid time") {
        "bad_time"
    } else {
        "bad_field"
    };
    Error::InvalidTick { reason, detail }
}

#[derive(Deserialize)]
struct TickObject {
    symbol: Symbol,
    time: EpochMs,
    #[serde(with = "number::decimal")]
    price: Decimal,
    #[serde(with = "number::whole")]
    volume: u64,
    #[serde(default, with = "number::optional_decimal")]
    amount: Option<Decimal>,
    #[serde(default)]
    cumulative: bool,
    #[serde(default, with = "number::optional_decimal")]
    high: Option<Decimal>,
    #[serde(default, with = "number::optional_decimal")]
    low: Option<Decimal>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QmtSnapshot {
    time: EpochMs,
    #[serde(with = "number::decimal")]
    last_price: Decimal,
    #[serde(default, with = "number::optional_decimal")]
    high: Option<Decimal>,
    #[serde(default, with = "number::optional_decimal")]
    low: Option<Decimal>,
    #[serde(with = "number::whole")]
    volume: u64,
    #[serde(with = "number::decimal")]
    amount: Decimal,
}

/// The symbol → dict pairs of a QMT payload, in payload order.
struct QuoteMap<'a>(Vec<(&'a str, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for QuoteMap<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Pairs<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for Pairs<'a> {
            type Value = QuoteMap<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object mapping symbols to QMT snapshot dicts")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some(pair) = map.next_entry::<&'de str, &'de RawValue>()? {
                    pairs.push(pair);
                }
                Ok(QuoteMap(pairs))
            }
        }
        deserializer.deserialize_map(Pairs(std::marker::PhantomData))
    }
}

/// A tick time: epoch milliseconds (a number or a string of digits) or an ISO-8601 string.
struct EpochMs(i64);

impl<'de> Deserialize<'de> for EpochMs {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Time;
        impl<'de> Visitor<'de> for Time {
            type Value = EpochMs;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("epoch milliseconds or an ISO-8601 time")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<EpochMs, E> {
                Ok(EpochMs(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<EpochMs, E> {
                i64::try_from(v).map(EpochMs).map_err(E::custom)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<EpochMs, E> {
                if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
                    return v.parse().map(EpochMs).map_err(E::custom);
                }
                parse_datetime(v).map(EpochMs).map_err(E::custom)
            }
            // serde_json's arbitrary_precision hands a number over as a one-entry map of its digits.
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<EpochMs, M::Error> {
                let (_, digits) =
                    map.next_entry::<String, String>()?.ok_or_else(|| de::Error::custom("expected a number"))?;
                digits
                    .parse()
                    .map(EpochMs)
                    .map_err(|_| de::Error::custom(format!("time {digits} is not whole milliseconds")))
            }
        }
        deserializer.deserialize_any(Time)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn the_contract_tick_object_parses() {
        let t = parse_tick_object(
            r#"{"symbol":"600519.SH","time":1763602203000,"price":1650.5,"volume":300,"amount":495150.0,"cumulative":false}"#,
        )
        .unwrap();
        assert_eq!((t.time_ms, t.price, t.volume, t.amount), (1_763_602_203_000, dec!(1650.5), 300, dec!(495150)));
        assert_eq!(t.kind, TickKind::Trade);
    }

    #[test]
    fn times_as_strings_digits_or_iso_agree() {
        let a =
            parse_tick_object(r#"{"symbol":"600519.sh","time":"2025-11-20T09:30:03","price":"1650.5","volume":"300"}"#);
        let b = parse_tick_object(r#"{"symbol":"600519.SH","time":"1763602203000","price":1650.5,"volume":300}"#);
        assert_eq!(a.unwrap(), b.unwrap());
    }

    #[test]
    fn the_bounds_are_the_documented_numbers() {
        assert_eq!((MAX_PRICE, MAX_AMOUNT), (Decimal::from(100_000), Decimal::from(100_000_000_000_000u64)));
    }

    #[test]
    fn a_trade_without_amount_is_priced_exactly() {
        let t = parse_tick_object(r#"{"symbol":"000001.SZ","time":1763602203000,"price":10.01,"volume":300}"#).unwrap();
        assert_eq!(t.amount, dec!(3003));
    }

    #[test]
    fn bad_ticks_are_errors_with_a_reason_not_panics() {
        for (bad, reason) in [
            (r#"{"symbol":"600519","time":1763602203000,"price":1,"volume":1}"#, "bad_symbol"),
            (r#"{"symbol":"600519.SH","time":1763602203000,"price":0,"volume":100}"#, "bad_price"),
            (r#"{"symbol":"600519.SH","time":1763602203000,"price":-1,"volume":100}"#, "bad_price"),
            (r#"{"symbol":"600519.SH","time":1763602203000,"price":1,"volume":-100}"#, "bad_field"),
            (r#"{"symbol":"600519.SH","time":0,"price":1,"volume":1}"#, "implausible_time"),
            (r#"{"symbol":"600519.SH","time":"2025-11-20 99:99:99","price":1,"volume":1}"#, "bad_time"),
            (r#"{"symbol":"600519.SH","price":1,"volume":1}"#, "missing_field"),
            (r#"{"symbol":"600519.SH","time":1763602203000,"price":1,"volume":1,"cumulative":true}"#, "missing_field"),
            (r#"{"symbol":"600519.SH","time":1763602203000,"price":1,"volume":1,"amount":-5}"#, "negative_amount"),
            (
                r#"{"symbol":"600519.SH","time":"2026-11-18T10:00:00","price":"79228162514264337593543950335","volume":2}"#,
                "out_of_bounds",
            ),
            (r#"{"symbol":"600519.SH","time":1763602203000,"price":1,"volume":1000000000001}"#, "out_of_bounds"),
            (r#"{"symbol":"600519.SH","time":1763602203000,"price":1,"volume":1,"amount":1e15}"#, "out_of_bounds"),
            (r#"{"symbol":"600519.SH","time":1763602203000,"price":1e400,"volume":1}"#, "bad_field"),
            (r#"not json"#, "bad_json"),
            (r#"{"symbol":"600519.SH","#, "bad_json"),
        ] {
            assert_eq!(parse_tick_object(bad).unwrap_err().reason(), reason, "{bad}");
        }
        let qmt = parse_qmt_payload(r#"{"60051.SH":{},"600519.SH":{"time":1763602203000,"lastPrice":1}}"#).unwrap();
        assert_eq!(
            qmt.iter().map(|r| r.as_ref().unwrap_err().error.reason()).collect::<Vec<_>>(),
            ["bad_symbol", "missing_field"]
        );
        assert_eq!(qmt[0].as_ref().unwrap_err().element, r#"{"60051.SH":{}}"#, "the element, not the payload");
    }

    #[test]
    fn an_array_payload_keeps_good_elements_beside_bad_ones() {
        let parsed = parse_tick_payload(
            r#"[{"symbol":"600519.SH","time":1763602203000,"price":1,"volume":1},{"symbol":"bad","time":1,"price":1,"volume":1}]"#,
        )
        .unwrap();
        assert!(parsed[0].is_ok() && parsed[1].is_err());
    }

    #[test]
    fn a_qmt_payload_becomes_cumulative_ticks_in_shares() {
        let parsed = parse_qmt_payload(
            r#"{"600519.SH":{"time":1763602203000,"lastPrice":1650.5,"open":1648,"high":1651,"low":1647.5,"lastClose":1640,"volume":1203,"amount":198612345.5,"openInt":13,"bidPrice":[1650.4,0,0,0,0]},
                "000001.SZ":{"time":1763602203000,"lastPrice":0,"volume":10,"amount":100}}"#,
        )
        .unwrap();
        let t = parsed[0].as_ref().unwrap();
        assert_eq!((t.volume, t.amount), (120_300, dec!(198612345.5)));
        assert_eq!(t.kind, TickKind::Cumulative { day_high: Some(dec!(1651)), day_low: Some(dec!(1647.5)) });
        assert!(parsed[1].is_err(), "a zero price with volume is refused");
    }
}
