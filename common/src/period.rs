//! Bar periods: whole-minute lengths that tile the A-share sessions, the ones tickbar stores
//! (`bars.periods`, five by default) and any other a query folds from them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Error;

/// A bar length in minutes that tiles both 120-minute sessions: one that divides 120.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Period(u16);

/// Minutes in each session (09:30–11:30, 13:00–15:00): a period divides it.
const SESSION_MINUTES: u16 = 120;

/// Every period, shortest first: the divisors of 120.
pub const TILING_PERIODS: [u16; 16] = [1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 24, 30, 40, 60, 120];

/// [`TILING_PERIODS`]' positions by minutes.
const TILING_INDEX: [u8; SESSION_MINUTES as usize + 1] = {
    let mut index = [0; SESSION_MINUTES as usize + 1];
    let mut i = 0;
    while i < TILING_PERIODS.len() {
        index[TILING_PERIODS[i] as usize] = i as u8;
        i += 1;
    }
    index
};

impl Period {
    pub const M1: Period = Period(1);
    pub const M5: Period = Period(5);
    pub const M15: Period = Period(15);
    pub const M30: Period = Period(30);
    pub const M60: Period = Period(60);

    /// The periods stored by default (`bars.periods`), shortest first.
    pub const DEFAULTS: [Period; 5] = [Period::M1, Period::M5, Period::M15, Period::M30, Period::M60];

    pub const fn minutes(self) -> u16 {
        self.0
    }

    /// The position of this period among [`TILING_PERIODS`], for tables of every period.
    pub const fn tiling_index(self) -> usize {
        TILING_INDEX[self.0 as usize] as usize
    }

    /// The period of `minutes`, when it divides the sessions.
    pub fn from_minutes(minutes: u16) -> Result<Period, Error> {
        if minutes > 0 && SESSION_MINUTES.is_multiple_of(minutes) {
            return Ok(Period(minutes));
        }
        let all: Vec<String> = TILING_PERIODS.iter().map(u16::to_string).collect();
        Err(Error::InvalidPeriod(format!(
            "{minutes}: a period must divide the 120-minute sessions so its bars tile them ({})",
            all.join(", ")
        )))
    }
}

impl FromStr for Period {
    type Err = Error;

    /// Accepts `5`, `5m` and `5min`.
    fn from_str(s: &str) -> Result<Self, Error> {
        let digits = s.strip_suffix("min").or_else(|| s.strip_suffix('m')).unwrap_or(s);
        let minutes = digits.parse::<u16>().map_err(|_| Error::InvalidPeriod(s.to_owned()))?;
        Period::from_minutes(minutes)
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.minutes())
    }
}

impl Serialize for Period {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u16(self.minutes())
    }
}

impl<'de> Deserialize<'de> for Period {
    /// A number of minutes, as a number or a string.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let minutes = crate::number::deserialize_u64(deserializer)?;
        u16::try_from(minutes)
            .map_err(|_| Error::InvalidPeriod(minutes.to_string()))
            .and_then(Period::from_minutes)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_periods_parse_in_every_spelling() {
        for p in Period::DEFAULTS {
            let m = p.minutes();
            for s in [format!("{m}"), format!("{m}m"), format!("{m}min")] {
                assert_eq!(s.parse::<Period>().unwrap(), p);
            }
        }
    }

    #[test]
    fn every_divisor_of_the_session_is_a_period_and_nothing_else() {
        for m in 1..=240u16 {
            assert_eq!(Period::from_minutes(m).is_ok(), TILING_PERIODS.contains(&m), "{m}");
        }
        assert_eq!("120m".parse::<Period>().unwrap().minutes(), 120);
        for s in ["0", "7", "90", "240", "1h", "", "-5"] {
            assert!(matches!(s.parse::<Period>(), Err(Error::InvalidPeriod(_))), "{s}");
        }
        let refused = Period::from_minutes(7).unwrap_err().to_string();
        assert!(refused.contains("7: a period must divide the 120-minute sessions"), "{refused}");
        assert_eq!(Period::from_minutes(120).unwrap().tiling_index(), TILING_PERIODS.len() - 1);
    }

    #[test]
    fn serde_uses_minutes_as_a_number_and_accepts_strings() {
        assert_eq!(serde_json::to_string(&Period::M15).unwrap(), "15");
        assert_eq!(serde_json::from_str::<Period>("\"30\"").unwrap(), Period::M30);
        assert_eq!(serde_json::from_str::<Period>("60").unwrap(), Period::M60);
        assert!(serde_json::from_str::<Period>("7").is_err());
        let keyed: std::collections::BTreeMap<Period, u64> = serde_json::from_str(r#"{"3":1,"120":2}"#).unwrap();
        assert_eq!(serde_json::to_string(&keyed).unwrap(), r#"{"3":1,"120":2}"#, "as map keys too");
    }
}
