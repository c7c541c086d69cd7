//! Bar periods: the five minute lengths tickbar builds.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Error;

/// A bar length in minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Period {
    M1,
    M5,
    M15,
    M30,
    M60,
}

impl Period {
    /// Every period, shortest first.
    pub const ALL: [Period; 5] = [Period::M1, Period::M5, Period::M15, Period::M30, Period::M60];

    pub const fn minutes(self) -> u16 {
        match self {
            Period::M1 => 1,
            Period::M5 => 5,
            Period::M15 => 15,
            Period::M30 => 30,
            Period::M60 => 60,
        }
    }

    /// Position in [`Period::ALL`], for per-period arrays.
    pub const fn index(self) -> usize {
        match self {
            Period::M1 => 0,
            Period::M5 => 1,
            Period::M15 => 2,
            Period::M30 => 3,
            Period::M60 => 4,
        }
    }

    pub fn from_minutes(minutes: u16) -> Result<Period, Error> {
        Period::ALL
            .into_iter()
            .find(|p| p.minutes() == minutes)
            .ok_or_else(|| Error::InvalidPeriod(minutes.to_string()))
    }
}

impl FromStr for Period {
    type Err = Error;

    /// Accepts `5`, `5m` and `5min`.
    fn from_str(s: &str) -> Result<Self, Error> {
        let digits = s.strip_suffix("min").or_else(|| s.strip_suffix('m')).unwrap_or(s);
        digits
            .parse::<u16>()
            .ok()
            .and_then(|m| Period::from_minutes(m).ok())
            .ok_or_else(|| Error::InvalidPeriod(s.to_owned()))
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
    fn the_five_periods_parse_in_every_spelling() {
        for p in Period::ALL {
            let m = p.minutes();
            for s in [format!("{m}"), format!("{m}m"), format!("{m}min")] {
                assert_eq!(s.parse::<Period>().unwrap(), p);
            }
        }
    }

    #[test]
    fn other_lengths_are_rejected() {
        for s in ["0", "2", "10", "120", "1h", "", "-5"] {
            assert!(matches!(s.parse::<Period>(), Err(Error::InvalidPeriod(_))), "{s}");
        }
    }

    #[test]
    fn serde_uses_minutes_as_a_number_and_accepts_strings() {
        assert_eq!(serde_json::to_string(&Period::M15).unwrap(), "15");
        assert_eq!(serde_json::from_str::<Period>("\"30\"").unwrap(), Period::M30);
        assert_eq!(serde_json::from_str::<Period>("60").unwrap(), Period::M60);
        assert!(serde_json::from_str::<Period>("7").is_err());
    }
}
