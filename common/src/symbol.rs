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

/// The board a security trades on, which sets its daily price limit and whether it has the
/// after-hours fixed-price session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Board {
    /// The SSE and SZSE main boards.
    Main,
    /// STAR Market: 688/689.SH.
    Star,
    /// ChiNext: 300/301.SZ.
    ChiNext,
    /// Every Beijing Stock Exchange listing.
    Beijing,
}

impl Board {
    /// The daily price limit as a fraction: 10% on the main boards (5% ST names are not told apart
    /// by the code), 20% on STAR and ChiNext, 30% in Beijing.
    pub const fn daily_limit(self) -> f64 {
        match self {
            Board::Main => 0.10,
            Board::Star | Board::ChiNext => 0.20,
            Board::Beijing => 0.30,
        }
    }

    /// Whether the board has the 15:05–15:30 after-hours fixed-price session.
    pub const fn has_after_hours(self) -> bool {
        !matches!(self, Board::Main)
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

    /// The board: the code prefix within the exchange.
    pub fn board(&self) -> Board {
        let prefixed = |a: &[u8], b: &[u8]| self.code.starts_with(a) || self.code.starts_with(b);
        match self.exchange {
            Exchange::Sh if prefixed(b"688", b"689") => Board::Star,
            Exchange::Sz if prefixed(b"300", b"301") => Board::ChiNext,
            Exchange::Bj => Board::Beijing,
            _ => Board::Main,
        }
    }

    /// Whether the board has the 15:05–15:30 after-hours fixed-price session: STAR Market
    /// (688/689.SH), ChiNext (300/301.SZ) and every Beijing listing.
    pub fn has_after_hours(&self) -> bool {
        self.board().has_after_hours()
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
        let exchange = match suffix.as_bytes() {
            [a, b] => match [a.to_ascii_uppercase(), b.to_ascii_uppercase()] {
                [b'S', b'H'] => Exchange::Sh,
                [b'S', b'Z'] => Exchange::Sz,
                [b'B', b'J'] => Exchange::Bj,
                _ => return Err(invalid()),
            },
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
    fn boards_come_from_the_code_prefix_and_set_the_daily_limit() {
        let board = |s: &str| s.parse::<Symbol>().unwrap().board();
        assert_eq!(board("600519.SH"), Board::Main);
        assert_eq!(board("000001.SZ"), Board::Main);
        assert_eq!(board("688981.SH"), Board::Star);
        assert_eq!(board("300750.SZ"), Board::ChiNext);
        assert_eq!(board("688981.SZ"), Board::Main, "688 is STAR in Shanghai only");
        assert_eq!(board("430047.BJ"), Board::Beijing);
        assert_eq!([Board::Main, Board::Star, Board::Beijing].map(Board::daily_limit), [0.10, 0.20, 0.30]);
    }

    #[test]
    fn after_hours_boards_are_star_chinext_and_beijing() {
        let has = |s: &str| s.parse::<Symbol>().unwrap().has_after_hours();
        assert!(has("688981.SH") && has("300750.SZ") && has("301029.SZ") && has("430047.BJ"));
        assert!(!has("600519.SH") && !has("000001.SZ") && !has("002594.SZ"));
    }
}
