//! Fixed-point money: [`Price`] and [`Amount`], whole numbers of 1/10,000 yuan, the precision of
//! the ClickHouse columns (`Decimal(18, 4)`, `Decimal(22, 4)`) and of Arrow's `Decimal128(_, 4)`.
//!
//! One text form serves `Display`, `FromStr` and serde: the shortest exact decimal (`1650`,
//! `1652.3`, `0.0001`), written as a JSON number with those very digits and read from a JSON number
//! or a string without passing through `f64`. A text with more than four decimals (a float printed
//! in full, `53.310000000000002`) is rounded half away from zero to the nearest 1/10,000 yuan, which
//! recovers the price it stood for; the arithmetic below is then exact integer arithmetic.

use std::fmt;
use std::ops::{Add, AddAssign, Mul, Sub};
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::number::{decimal_from_text, plain_parts};
use crate::Error;

/// A [`Price`] from a numeric literal: `price!(1650.5)`; panics on one that is no price.
#[macro_export]
macro_rules! price {
    ($value:literal) => {
        $crate::money::Price::from_text(stringify!($value)).expect("a price literal")
    };
}

/// An [`Amount`] from a numeric literal: `amount!(198612345.5)`.
#[macro_export]
macro_rules! amount {
    ($value:literal) => {
        $crate::money::Amount::from_text(stringify!($value)).expect("an amount literal")
    };
}

/// Decimals held: values are whole numbers of `10^-SCALE` yuan.
pub const SCALE: u32 = 4;
const UNIT: i128 = 10_i128.pow(SCALE);

/// A price in 1/10,000 yuan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Price(i64);

/// An amount of money (turnover) in 1/10,000 yuan: 128 bits, so no sum of bars can overflow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(i128);

/// What both types share; `$int` is the width of the units.
macro_rules! fixed_point {
    ($name:ident, $int:ty) => {
        impl $name {
            pub const ZERO: $name = $name(0);
            pub const MIN: $name = $name(<$int>::MIN);
            pub const MAX: $name = $name(<$int>::MAX);

            /// The value of `units` 1/10,000 yuan.
            pub const fn from_units(units: $int) -> $name {
                $name(units)
            }

            /// Whole yuan.
            pub const fn yuan(yuan: $int) -> $name {
                $name(yuan * UNIT as $int)
            }

            /// The value in 1/10,000 yuan: the mantissa of a `Decimal(_, 4)` column.
            pub const fn units(self) -> $int {
                self.0
            }

            pub const fn is_zero(self) -> bool {
                self.0 == 0
            }

            pub const fn is_negative(self) -> bool {
                self.0 < 0
            }

            pub fn checked_add(self, other: $name) -> Option<$name> {
                self.0.checked_add(other.0).map($name)
            }

            pub fn saturating_add(self, other: $name) -> $name {
                $name(self.0.saturating_add(other.0))
            }

            pub fn checked_sub(self, other: $name) -> Option<$name> {
                self.0.checked_sub(other.0).map($name)
            }

            /// `value` rounded half away from zero to 1/10,000 yuan; `None` beyond the range.
            pub fn from_decimal(value: Decimal) -> Option<$name> {
                units_of_decimal(value).and_then(|u| <$int>::try_from(u).ok()).map($name)
            }

            /// The value a number's literal text (or a numeric string) stands for; `None` when it
            /// is no number or beyond the range.
            pub fn from_text(text: &str) -> Option<$name> {
                units_of_text(text).and_then(|u| <$int>::try_from(u).ok()).map($name)
            }

            /// `value`, or the end of the range on its side when it lies beyond.
            pub fn saturating_from_decimal(value: Decimal) -> $name {
                let end = if value.is_sign_negative() { $name::MIN } else { $name::MAX };
                $name::from_decimal(value).unwrap_or(end)
            }

            /// As [`Self::from_text`], but a number beyond the range is the end on its side, which
            /// every bound of a tick refuses later, in its turn.
            pub fn saturating_from_text(text: &str) -> Option<$name> {
                $name::from_text(text).or_else(|| decimal_from_text(text).map($name::saturating_from_decimal))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write_units(i128::from(self.0), f)
            }
        }

        impl FromStr for $name {
            type Err = Error;

            fn from_str(text: &str) -> Result<$name, Error> {
                $name::from_text(text).ok_or_else(|| Error::InvalidNumber(text.to_owned(), "is no amount of yuan"))
            }
        }

        impl Add for $name {
            type Output = $name;

            /// Inside the bounds a tick and a bar keep (`tick::MAX_PRICE`, `tick::MAX_AMOUNT`)
            /// no sum overflows; [`Self::checked_add`] is for sums without them.
            fn add(self, other: $name) -> $name {
                $name(self.0 + other.0)
            }
        }

        impl AddAssign for $name {
            fn add_assign(&mut self, other: $name) {
                self.0 += other.0;
            }
        }

        impl Sub for $name {
            type Output = $name;

            fn sub(self, other: $name) -> $name {
                $name(self.0 - other.0)
            }
        }

        impl std::iter::Sum for $name {
            fn sum<I: Iterator<Item = $name>>(iter: I) -> $name {
                iter.fold($name::ZERO, Add::add)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut text = Text::default();
                write_units(i128::from(self.0), &mut text).expect("a number fits the buffer");
                serialize_text(text.as_str(), serializer)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<$name, D::Error> {
                let text = deserializer.deserialize_any(NumberText)?;
                $name::from_str(&text).map_err(de::Error::custom)
            }
        }
    };
}

fixed_point!(Price, i64);
fixed_point!(Amount, i128);

impl Price {
    /// The price as a `Decimal`, for arithmetic with ratios such as adjustment factors.
    pub fn to_decimal(self) -> Decimal {
        Decimal::new(self.0, SCALE)
    }
}

impl Amount {
    /// The price per share of this amount over `shares` (a VWAP), rounded half away from zero to
    /// 1/10,000 yuan; `None` for no shares, or a quotient beyond any price.
    pub fn per_share(self, shares: u64) -> Option<Price> {
        if shares == 0 {
            return None;
        }
        let shares = i128::from(shares);
        let (quotient, remainder) = (self.0 / shares, self.0 % shares);
        let away = 2 * remainder.unsigned_abs() >= shares.unsigned_abs();
        let rounded = if away { quotient + self.0.signum() } else { quotient };
        i64::try_from(rounded).ok().map(Price)
    }
}

impl Mul<u64> for Price {
    type Output = Amount;

    /// The amount of `shares` at this price, exactly.
    fn mul(self, shares: u64) -> Amount {
        Amount(i128::from(self.0) * i128::from(shares))
    }
}

/// `units` 1/10,000 yuan in the shortest exact form: no trailing zeros, no point for whole yuan.
fn write_units(units: i128, f: &mut impl fmt::Write) -> fmt::Result {
    let sign = if units < 0 { "-" } else { "" };
    let (whole, mut frac) = (units.unsigned_abs() / UNIT as u128, units.unsigned_abs() % UNIT as u128);
    if frac == 0 {
        return write!(f, "{sign}{whole}");
    }
    let mut width = SCALE as usize;
    while frac % 10 == 0 {
        frac /= 10;
        width -= 1;
    }
    write!(f, "{sign}{whole}.{frac:0width$}")
}

/// The units a text stands for: plain `-`? digits (`.` digits)? read digit by digit, anything else
/// (an exponent, a long mantissa) through `Decimal`.
fn units_of_text(text: &str) -> Option<i128> {
    plain_units(text).or_else(|| decimal_from_text(text).and_then(units_of_decimal))
}

fn units_of_decimal(value: Decimal) -> Option<i128> {
    let rounded = value.round_dp_with_strategy(SCALE, RoundingStrategy::MidpointAwayFromZero);
    let (mantissa, scale) = (rounded.mantissa(), rounded.scale());
    mantissa.checked_mul(10_i128.pow(SCALE - scale.min(SCALE)))
}

/// Up to 18 integer digits and any number of decimals, rounded at the fifth; `None` for any other
/// shape, which [`units_of_text`] hands to `Decimal`.
fn plain_units(text: &str) -> Option<i128> {
    let (negative, int, frac) = plain_parts(text).filter(|(_, int, _)| int.len() <= 18)?;
    let number = |bytes: &[u8]| bytes.iter().fold(0i128, |n, &b| n * 10 + i128::from(b - b'0'));
    let kept = &frac[..frac.len().min(SCALE as usize)];
    let mut units = number(int) * UNIT + number(kept) * 10_i128.pow(SCALE - kept.len() as u32);
    if frac.get(SCALE as usize).is_some_and(|&b| b >= b'5') {
        units += 1;
    }
    Some(if negative { -units } else { units })
}

/// serde_json's name for a number kept as its text (`arbitrary_precision`).
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// Writes `text` (a number's exact digits) as a JSON number, the way serde_json's `Number` (built
/// with `arbitrary_precision`) serializes itself, without making a `String` of it first.
fn serialize_text<S: Serializer>(text: &str, serializer: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeStruct;
    let mut number = serializer.serialize_struct(NUMBER_TOKEN, 1)?;
    number.serialize_field(NUMBER_TOKEN, text)?;
    number.end()
}

/// The text of one number, on the stack: an `i128` of units is at most 41 characters.
struct Text {
    bytes: [u8; 48],
    len: usize,
}

impl Default for Text {
    fn default() -> Text {
        Text { bytes: [0; 48], len: 0 }
    }
}

impl Text {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len]).expect("digits, a sign and a point")
    }
}

impl fmt::Write for Text {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        self.bytes.get_mut(self.len..end).ok_or(fmt::Error)?.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Reads a number's literal text: from a string, from serde_json's exact number, or from an
/// integer or float another format hands over (a float by its shortest round-trip digits).
struct NumberText;

impl<'de> Visitor<'de> for NumberText {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number of yuan, or a string of one")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
        Ok(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<String, A::Error> {
        match map.next_key::<String>()? {
            Some(key) if key == NUMBER_TOKEN => map.next_value::<String>(),
            _ => Err(de::Error::invalid_type(de::Unexpected::Map, &self)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn price(text: &str) -> Price {
        text.parse().unwrap()
    }

    #[test]
    fn a_vwap_is_the_amount_per_share_rounded_half_away_to_the_price_precision() {
        let vwap = |amount: &str, shares| amount.parse::<Amount>().unwrap().per_share(shares);
        assert_eq!(vwap("198612345.5", 120_300), Some(price("1650.9754")), "1650.97544...");
        assert_eq!(vwap("0.0003", 2), Some(price("0.0002")), "0.00015 rounds away from zero");
        assert_eq!(vwap("0.0005", 4), Some(price("0.0001")), "0.000125 rounds down");
        assert_eq!(vwap("185498", 100), Some(price("1854.98")), "exact");
        assert_eq!(vwap("1", 0), None, "no volume, no vwap");
        assert_eq!(Amount::MAX.per_share(1), None, "beyond any price");
    }

    #[test]
    fn the_text_form_is_the_shortest_exact_decimal() {
        for (text, units, shown) in [
            ("1650", 16_500_000, "1650"),
            ("1650.0", 16_500_000, "1650"),
            ("1652.30", 16_523_000, "1652.3"),
            ("0.0001", 1, "0.0001"),
            ("-0.05", -500, "-0.05"),
            ("-0", 0, "0"),
            ("007.10", 71_000, "7.1"),
            ("1.6505e3", 16_505_000, "1650.5"),
        ] {
            assert_eq!(price(text).units(), units, "{text}");
            assert_eq!(price(text).to_string(), shown, "{text}");
        }
    }

    #[test]
    fn more_than_four_decimals_round_half_away_from_zero() {
        assert_eq!(price("53.310000000000002"), price("53.31"));
        assert_eq!(price("1836.109999999999899"), price("1836.11"));
        assert_eq!(price("0.00005").units(), 1);
        assert_eq!(price("0.00004").units(), 0);
        assert_eq!(price("-0.00005").units(), -1);
    }

    #[test]
    fn no_number_and_out_of_range_are_refused() {
        for bad in ["", "-", "1..2", "abc", "1e400", "--1"] {
            assert!(bad.parse::<Price>().is_err(), "{bad}");
        }
        assert!("922337203685477.5808".parse::<Price>().is_err(), "one unit past i64");
        assert!("922337203685477.5807".parse::<Price>().is_ok());
        assert!("100000000000000000000".parse::<Amount>().is_ok(), "amounts are wider");
    }

    #[test]
    fn json_numbers_are_written_and_read_with_their_digits() {
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct Row {
            price: Price,
            amount: Amount,
        }
        let row: Row = serde_json::from_str(r#"{"price":1650.51,"amount":123456789012345.6789}"#).unwrap();
        assert_eq!(row.amount.units(), 1_234_567_890_123_456_789);
        assert_eq!(serde_json::to_string(&row).unwrap(), r#"{"price":1650.51,"amount":123456789012345.6789}"#);
        let strings: Row = serde_json::from_str(r#"{"price":"1650.51","amount":"123456789012345.6789"}"#).unwrap();
        assert_eq!(strings, row);
        assert!(serde_json::from_str::<Row>(r#"{"price":true,"amount":1}"#).is_err());
    }

    #[test]
    fn price_times_shares_is_the_exact_amount() {
        assert_eq!(price("1650.51") * 300, "495153".parse::<Amount>().unwrap());
        assert_eq!(Price::yuan(100_000) * 1_000_000_000_000, Amount::yuan(100_000_000_000_000_000));
        assert_eq!(Amount::MAX.checked_add(Amount::from_units(1)), None);
        assert_eq!(Price::saturating_from_text("1e25"), Some(Price::MAX));
        assert_eq!(Price::saturating_from_text("-1e25"), Some(Price::MIN));
        assert_eq!(Price::saturating_from_text("x"), None);
    }

    proptest! {
        #[test]
        fn text_round_trips_and_agrees_with_decimal(units in any::<i64>()) {
            let p = Price::from_units(units);
            prop_assert_eq!(p.to_string().parse::<Price>().unwrap(), p);
            let d = p.to_decimal();
            prop_assert_eq!(d.normalize().to_string(), p.to_string());
            prop_assert_eq!(Price::from_decimal(d), Some(p));
        }

        #[test]
        fn plain_texts_read_as_rounded_decimals(int in 0u64..1_000_000_000, frac in "[0-9]{0,12}") {
            let text = if frac.is_empty() { int.to_string() } else { format!("{int}.{frac}") };
            let via_decimal = Price::from_decimal(text.parse::<Decimal>().unwrap());
            prop_assert_eq!(Price::from_text(&text), via_decimal, "{}", text);
        }
    }
}
