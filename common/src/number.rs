//! Exact numbers at the JSON edge: prices and amounts as `Decimal`, volumes as whole shares, each
//! accepted as a JSON number or a string and never passed through `f64`.
//!
//! serde_json runs with `arbitrary_precision`, so a JSON number reaches us as its literal digits.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::{Deserializer, Serializer};

use crate::Error;

/// `#[serde(with = "crate::number::decimal")]`: a `Decimal` written as an exact JSON number.
pub mod decimal {
    use super::*;

    pub fn serialize<S: Serializer>(value: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
        rust_decimal::serde::arbitrary_precision::serialize(&value.normalize(), serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
        rust_decimal::serde::arbitrary_precision::deserialize(deserializer)
    }
}

/// `#[serde(with = "crate::number::optional_decimal")]`: an optional `Decimal`.
pub mod optional_decimal {
    use super::*;

    pub fn serialize<S: Serializer>(value: &Option<Decimal>, serializer: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => decimal::serialize(v, serializer),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Decimal>, D::Error> {
        rust_decimal::serde::arbitrary_precision_option::deserialize(deserializer)
    }
}

/// `#[serde(with = "crate::number::whole")]`: a non-negative whole number such as a volume.
pub mod whole {
    use super::*;

    pub fn serialize<S: Serializer>(value: &u64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(*value)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
        deserialize_u64(deserializer)
    }
}

/// A non-negative whole number from a JSON number (`300`, `300.0`) or string (`"300"`).
pub fn deserialize_u64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    let value = rust_decimal::serde::arbitrary_precision::deserialize(deserializer)?;
    whole_from_decimal(value).map_err(serde::de::Error::custom)
}

/// The `u64` a decimal stands for, or why it is not a whole non-negative count.
pub fn whole_from_decimal(value: Decimal) -> Result<u64, Error> {
    if value.is_sign_negative() && !value.is_zero() {
        return Err(Error::InvalidNumber(value.to_string(), "must not be negative"));
    }
    if !value.fract().is_zero() {
        return Err(Error::InvalidNumber(value.to_string(), "must be a whole number"));
    }
    value.to_u64().ok_or_else(|| Error::InvalidNumber(value.to_string(), "too large"))
}

/// `value` as a whole number of `10^-scale` units, the form of fixed-point columns such as
/// ClickHouse `Decimal(18, 4)`; an error if it has more decimals than `scale` can hold.
pub fn to_scaled(value: Decimal, scale: u32) -> Result<i128, Error> {
    let mut v = value.normalize();
    if v.scale() > scale {
        return Err(Error::InvalidNumber(value.to_string(), "has more decimals than the column holds"));
    }
    v.rescale(scale);
    Ok(v.mantissa())
}

/// The decimal of a whole number of `10^-scale` units.
pub fn from_scaled(units: i128, scale: u32) -> Decimal {
    Decimal::from_i128_with_scale(units, scale).normalize()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;
    use serde::{Deserialize, Serialize};

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Sample {
        #[serde(with = "decimal")]
        price: Decimal,
        #[serde(with = "whole")]
        vol: u64,
    }

    #[test]
    fn numbers_and_strings_parse_to_the_same_exact_value() {
        let a: Sample = serde_json::from_str(r#"{"price":1650.51,"vol":300}"#).unwrap();
        let b: Sample = serde_json::from_str(r#"{"price":"1650.51","vol":"300"}"#).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.price, dec!(1650.51));
    }

    #[test]
    fn digits_beyond_f64_precision_survive() {
        let s: Sample = serde_json::from_str(r#"{"price":123456789012.3456,"vol":1}"#).unwrap();
        assert_eq!(s.price, dec!(123456789012.3456));
        assert_eq!(serde_json::to_string(&s).unwrap(), r#"{"price":123456789012.3456,"vol":1}"#);
    }

    #[test]
    fn fixed_point_units_round_trip_and_refuse_lost_digits() {
        assert_eq!(to_scaled(dec!(1650.5), 4).unwrap(), 16_505_000);
        assert_eq!(from_scaled(16_505_000, 4), dec!(1650.5));
        assert_eq!(to_scaled(dec!(-0.0001), 4).unwrap(), -1);
        assert!(to_scaled(dec!(1.00001), 4).is_err());
    }

    #[test]
    fn volumes_must_be_whole_and_non_negative() {
        assert!(serde_json::from_str::<Sample>(r#"{"price":1,"vol":1.5}"#).is_err());
        assert!(serde_json::from_str::<Sample>(r#"{"price":1,"vol":-1}"#).is_err());
        assert_eq!(serde_json::from_str::<Sample>(r#"{"price":1,"vol":300.0}"#).unwrap().vol, 300);
    }
}
