//! Exact numbers at the JSON edge: prices and amounts as `Decimal`, volumes as whole shares, each
//! accepted as a JSON number or a string and never passed through `f64`.
//!
//! serde_json runs with `arbitrary_precision`, so a JSON number reaches us as its literal digits;
//! the stream payloads' scanner (`json`) hands them over the same way, to `decimal_from_text` and
//! `whole_from_text`.

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

/// `#[serde(deserialize_with = "crate::number::optional_count")]`: a count (a whole number as
/// [`deserialize_u64`] reads it, at most `u32::MAX`), or `null`.
pub fn optional_count<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u32>, D::Error> {
    let Some(value) = rust_decimal::serde::arbitrary_precision_option::deserialize(deserializer)? else {
        return Ok(None);
    };
    let whole = whole_from_decimal(value).map_err(serde::de::Error::custom)?;
    u32::try_from(whole)
        .map(Some)
        .map_err(|_| serde::de::Error::custom(format!("a count of {whole} is beyond 4294967295")))
}

/// A non-negative whole number from a JSON number (`300`, `300.0`) or string (`"300"`).
pub fn deserialize_u64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    let value = rust_decimal::serde::arbitrary_precision::deserialize(deserializer)?;
    whole_from_decimal(value).map_err(serde::de::Error::custom)
}

/// The decimal a number's literal text (or a numeric string) stands for, read exactly as
/// rust_decimal's serde reads it: plain notation, else scientific; `None` when it is neither. A plain
/// literal of at most 19 digits, the stream's every price and amount, is built directly.
pub fn decimal_from_text(text: &str) -> Option<Decimal> {
    plain_decimal(text).or_else(|| text.parse().ok().or_else(|| Decimal::from_scientific(text).ok()))
}

/// `-`? digits (`.` digits)?, at most 19 digits in all, as the decimal `Decimal::from_str` makes
/// of it (the same mantissa and scale, a negative zero kept); `None` for anything else.
fn plain_decimal(text: &str) -> Option<Decimal> {
    let (negative, int, frac) = plain_parts(text)?;
    if int.len() + frac.len() > 19 {
        return None;
    }
    let mantissa = int.iter().chain(frac).fold(0u64, |m, &b| m * 10 + u64::from(b - b'0'));
    let (lo, mid) = (mantissa as u32, (mantissa >> 32) as u32);
    Some(Decimal::from_parts(lo, mid, 0, negative, frac.len() as u32))
}

/// The parts of a plain decimal literal, `-`? digits (`.` digits)?: whether it is negative, its
/// integer digits and its fraction's; `None` for any other shape.
pub(crate) fn plain_parts(text: &str) -> Option<(bool, &[u8], &[u8])> {
    let (negative, digits) = match text.as_bytes() {
        [b'-', rest @ ..] => (true, rest),
        rest => (false, rest),
    };
    let dot = digits.iter().position(|&b| b == b'.');
    let (int, frac) = match dot {
        Some(at) => (&digits[..at], &digits[at + 1..]),
        None => (digits, &digits[digits.len()..]),
    };
    let shaped = !int.is_empty() && (dot.is_none() || !frac.is_empty());
    (shaped && int.iter().chain(frac).all(u8::is_ascii_digit)).then_some((negative, int, frac))
}

/// The whole non-negative count a number's literal text (or a numeric string) stands for, as
/// `deserialize_u64` reads it: `300`, `300.0`, `3e2` and `"300"` are all 300.
pub fn whole_from_text(text: &str) -> Result<u64, Error> {
    let value = decimal_from_text(text).ok_or(Error::InvalidNumber(text.to_owned(), "is not a number"))?;
    whole_from_decimal(value)
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
    fn texts_read_as_rust_decimal_reads_them_scale_and_sign_kept() {
        for text in [
            "0",
            "-0",
            "-0.0",
            "1650.50",
            "0.0001",
            "007.10",
            "9999999999999999999",
            "999999999999999999.9",
            "99999999999999999999",
            "1e3",
            "-2.5E-3",
            "1_000",
            "79228162514264337593543950335",
            "1.",
        ] {
            let reference = text.parse::<Decimal>().ok().or_else(|| Decimal::from_scientific(text).ok());
            let ours = decimal_from_text(text);
            assert_eq!(ours, reference, "{text}");
            assert_eq!(ours.map(|d| (d.to_string(), d.scale())), reference.map(|d| (d.to_string(), d.scale())));
        }
        for text in ["", "-", ".5x", "1e400", "abc", "1..2"] {
            assert_eq!(decimal_from_text(text), None, "{text}");
        }
    }

    #[test]
    fn whole_texts_are_counts_or_a_reason() {
        assert_eq!(whole_from_text("300").unwrap(), 300);
        assert_eq!(whole_from_text("300.0").unwrap(), 300);
        assert_eq!(whole_from_text("3e2").unwrap(), 300);
        assert_eq!(whole_from_text("9999999999999999999").unwrap(), 9_999_999_999_999_999_999);
        for bad in ["1.5", "-1", "99999999999999999999999", "", "x"] {
            assert!(whole_from_text(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn volumes_must_be_whole_and_non_negative() {
        assert!(serde_json::from_str::<Sample>(r#"{"price":1,"vol":1.5}"#).is_err());
        assert!(serde_json::from_str::<Sample>(r#"{"price":1,"vol":-1}"#).is_err());
        assert_eq!(serde_json::from_str::<Sample>(r#"{"price":1,"vol":300.0}"#).unwrap().vol, 300);
    }
}
