//! The stream payload parsers as they were built on serde_json (`RawValue` per element, serde
//! derive per tick), kept as the reference the scanner-based parsers of `common::tick` are held to.

use std::fmt;

use common::number;
use common::tick::{BadElement, DeadReason, Parsed, MAX_PRICE, MAX_VOLUME};
use common::time::parse_datetime;
use common::{Amount, Error, Price, Symbol, Tick, TickKind};
use rust_decimal::Decimal;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

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

fn parse_tick_object(json: &str) -> Result<Tick, Error> {
    let obj: TickObject = serde_json::from_str(json).map_err(bad_json)?;
    let price = Price::saturating_from_decimal(obj.price);
    bounded(price, obj.volume)?;
    let amount = match (obj.amount, obj.cumulative) {
        (Some(amount), _) => Amount::saturating_from_decimal(amount),
        // The price as held, to 1/10,000 yuan, times the shares.
        (None, false) => price * obj.volume,
        (None, true) => return Err(Error::InvalidTick { reason: DeadReason::MissingField, detail: String::new() }),
    };
    let (day_high, day_low) = (price_of(obj.high), price_of(obj.low));
    let kind =
        if obj.cumulative { TickKind::Cumulative { day_high, day_low, day_trades: None } } else { TickKind::Trade };
    Tick { symbol: obj.symbol, time_ms: obj.time.0, price, volume: obj.volume, amount, kind }.validate()
}

/// The fixed-point price of a decimal read, saturated as the scanner's is.
fn price_of(d: Option<Decimal>) -> Option<Price> {
    d.map(Price::saturating_from_decimal)
}

/// The price and volume checks that come before the amount is computed, on the price as held.
fn bounded(price: Price, volume: u64) -> Result<(), Error> {
    let reason = if price.is_negative() {
        DeadReason::BadPrice
    } else if price > MAX_PRICE || volume > MAX_VOLUME {
        DeadReason::OutOfBounds
    } else {
        return Ok(());
    };
    Err(Error::InvalidTick { reason, detail: String::new() })
}

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

fn parse_qmt_snapshot(symbol: &str, json: &str) -> Result<Tick, Error> {
    let symbol: Symbol = symbol.parse()?;
    let snap: QmtSnapshot = serde_json::from_str(json).map_err(bad_json)?;
    let volume = snap
        .volume
        .checked_mul(100)
        .ok_or_else(|| Error::InvalidTick { reason: DeadReason::BadNumber, detail: String::new() })?;
    let kind = TickKind::Cumulative { day_high: price_of(snap.high), day_low: price_of(snap.low), day_trades: None };
    let (price, amount) =
        (Price::saturating_from_decimal(snap.last_price), Amount::saturating_from_decimal(snap.amount));
    Tick { symbol, time_ms: snap.time.0, price, volume, amount, kind }.validate()
}

fn bad_json(e: serde_json::Error) -> Error {
    let detail = e.to_string();
    let reason = if e.is_syntax() || e.is_eof() {
        DeadReason::BadJson
    } else if detail.starts_with("missing field") {
        DeadReason::MissingField
    } else if detail.starts_with("invalid symbol") {
        DeadReason::BadSymbol
    } else if detail.starts_with("invalid time") {
        DeadReason::BadTime
    } else {
        DeadReason::BadField
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
                let mut pairs = Vec::new();
                while let Some(pair) = map.next_entry::<&'de str, &'de RawValue>()? {
                    pairs.push(pair);
                }
                Ok(QuoteMap(pairs))
            }
        }
        deserializer.deserialize_map(Pairs(std::marker::PhantomData))
    }
}

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
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<EpochMs, M::Error> {
                let (_, digits) =
                    map.next_entry::<String, String>()?.ok_or_else(|| de::Error::custom("expected a number"))?;
                digits.parse().map(EpochMs).map_err(|_| de::Error::custom("not whole milliseconds"))
            }
        }
        deserializer.deserialize_any(Time)
    }
}
