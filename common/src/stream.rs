//! Redis stream entry ids (`ms-seq`), ordered as Redis orders them, with one string form for
//! `Display`, `FromStr` and serde: the producer's position in the tick stream, as the producer
//! keeps it and the consumer's cleanup reports it.

use std::fmt;
use std::str::FromStr;

/// A stream entry id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct EntryId {
    pub ms: u64,
    pub seq: u64,
}

impl EntryId {
    /// The id right after this one: the exclusive start of what follows it.
    pub fn successor(self) -> EntryId {
        match self.seq.checked_add(1) {
            Some(seq) => EntryId { ms: self.ms, seq },
            None => EntryId { ms: self.ms.saturating_add(1), seq: 0 },
        }
    }
}

impl FromStr for EntryId {
    type Err = String;

    fn from_str(s: &str) -> Result<EntryId, String> {
        let (ms, seq) = s.split_once('-').unwrap_or((s, "0"));
        match (ms.parse(), seq.parse()) {
            (Ok(ms), Ok(seq)) => Ok(EntryId { ms, seq }),
            _ => Err(format!("not a stream id: {s:?}")),
        }
    }
}

impl fmt::Display for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

impl serde::Serialize for EntryId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for EntryId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<EntryId, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_order_as_redis_orders_them() {
        let a: EntryId = "1700000000000-9".parse().unwrap();
        let b: EntryId = "1700000000000-10".parse().unwrap();
        assert!(a < b);
        assert_eq!(b.to_string(), "1700000000000-10");
        assert_eq!(a.successor(), b);
        assert!("x-1".parse::<EntryId>().is_err());
        assert_eq!("5".parse::<EntryId>().unwrap(), EntryId { ms: 5, seq: 0 });
        assert_eq!(serde_json::to_string(&b).unwrap(), "\"1700000000000-10\"");
        assert_eq!(serde_json::from_str::<EntryId>("\"1700000000000-10\"").unwrap(), b);
    }
}
