//! A-share security identifiers: six digits and the listing exchange (`600519.SH`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Error;

/// The exchange a security is listed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Exchange {
    /// Shanghai Stock Exchange.
    Sh,
    /// Shenzhen Stock Exchange.
    Sz,
    /// Beijing Stock Exchange.
    Bj,
}

impl Exchange {
    /// The upper-case suffix used in symbols.
    pub const fn suffix(self) -> &'static str {
        match self {
            Exchange::Sh => "SH",
            Exchange::Sz => "SZ",
            Exchange::Bj => "BJ",
        }
    }
}

/// A security such as `600519.SH`. `Copy` and eight bytes, so it is a cheap map key on the hot path.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Symbol {
    code: [u8; 6],
    exchange: Exchange,
}

impl Symbol {
    /// The six-digit code (`600519`).
    pub fn code(&self) -> &str {
        std::str::from_utf8(&self.code).expect("codes are ASCII digits by construction")
    }

    pub const fn exchange(&self) -> Exchange {
        self.exchange
    }

    /// Whether the board has the 15:05–15:30 after-hours fixed-price session: STAR Market
    /// (688/689.SH), ChiNext (300/301.SZ) and every Beijing listing.
    pub fn has_after_hours(&self) -> bool {
        match self.exchange {
            Exchange::Sh => self.code.starts_with(b"688") || self.code.starts_with(b"689"),
            Exchange::Sz => self.code.starts_with(b"300") || self.code.starts_with(b"301"),
            Exchange::Bj => true,
        }
    }
}

impl FromStr for Symbol {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let invalid = || Error::InvalidSymbol(s.to_owned());
        let (code, suffix) = s.split_once('.').ok_or_else(invalid)?;
        let code: [u8; 6] = code.as_bytes().try_into().map_err(|_| invalid())?;
        if !code.iter().all(u8::is_ascii_digit) {
            return Err(invalid());
        }
        let exchange = match suffix.to_ascii_uppercase().as_str() {
            "SH" => Exchange::Sh,
            "SZ" => Exchange::Sz,
            "BJ" => Exchange::Bj,
            _ => return Err(invalid()),
        };
        Ok(Symbol { code, exchange })
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.code(), self.exchange.suffix())
    }
}

impl fmt::Debug for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Symbol {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Symbol {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_of_all_three_exchanges_parse_and_print() {
        for s in ["600519.SH", "000001.SZ", "430047.BJ"] {
            assert_eq!(s.parse::<Symbol>().unwrap().to_string(), s);
        }
    }

    #[test]
    fn lower_case_suffix_is_normalised() {
        assert_eq!("600519.sh".parse::<Symbol>().unwrap().to_string(), "600519.SH");
    }

    #[test]
    fn anything_else_is_a_typed_error() {
        for s in ["600519", "60051.SH", "6005190.SH", "60051X.SH", "600519.HK", "", ".SH", " 600519.SH"] {
            assert_eq!(s.parse::<Symbol>(), Err(Error::InvalidSymbol(s.to_owned())), "{s}");
        }
    }

    #[test]
    fn after_hours_boards_are_star_chinext_and_beijing() {
        let has = |s: &str| s.parse::<Symbol>().unwrap().has_after_hours();
        assert!(has("688981.SH") && has("300750.SZ") && has("301029.SZ") && has("430047.BJ"));
        assert!(!has("600519.SH") && !has("000001.SZ") && !has("002594.SZ"));
    }
}
