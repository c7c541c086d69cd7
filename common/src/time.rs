//! Market time: Asia/Shanghai (UTC+8, no daylight saving), trading-day numbers, and `Frame`, the
//! label instant of a bar.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Error;

/// Seconds east of UTC of market time.
pub const MARKET_OFFSET_SECS: i32 = 8 * 3600;
const SECS_PER_DAY: i64 = 86_400;
/// 1970-01-01 counted from 0001-01-01, chrono's day numbering.
const UNIX_EPOCH_DAY_CE: i32 = 719_163;

/// The market's fixed UTC offset.
pub fn market_offset() -> FixedOffset {
    FixedOffset::east_opt(MARKET_OFFSET_SECS).expect("+08:00 is a valid offset")
}

/// A market-local calendar day as a count of days since 1970-01-01: cheap to compare and index.
pub type DayNumber = i32;

/// Splits epoch milliseconds into the market-local day and second of that day.
pub fn split_ms(epoch_ms: i64) -> (DayNumber, u32) {
    let local = epoch_ms.div_euclid(1000) + i64::from(MARKET_OFFSET_SECS);
    let day = local.div_euclid(SECS_PER_DAY);
    (day as DayNumber, local.rem_euclid(SECS_PER_DAY) as u32)
}

/// Epoch milliseconds of `sec_of_day` on market-local `day`.
pub fn epoch_ms(day: DayNumber, sec_of_day: u32) -> i64 {
    (i64::from(day) * SECS_PER_DAY + i64::from(sec_of_day) - i64::from(MARKET_OFFSET_SECS)) * 1000
}

pub fn day_number(date: NaiveDate) -> DayNumber {
    date.num_days_from_ce() - UNIX_EPOCH_DAY_CE
}

pub fn date_of(day: DayNumber) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(day + UNIX_EPOCH_DAY_CE).expect("day numbers come from valid dates")
}

/// Parses a 24-hour market time: `2026-11-20T09:31:00`, `2026-11-20 09:31`, with optional fraction
/// and optional offset (`+08:00`, `+0800`, `Z`); no offset means Asia/Shanghai. Returns epoch ms.
pub fn parse_datetime(text: &str) -> Result<i64, Error> {
    let invalid = || Error::InvalidTime(text.to_owned());
    let (naive, offset) = split_offset(text).ok_or_else(invalid)?;
    let naive = parse_naive(naive).ok_or_else(invalid)?;
    let instant = offset.from_local_datetime(&naive).single().ok_or_else(invalid)?;
    Ok(instant.timestamp_millis())
}

fn split_offset(text: &str) -> Option<(&str, FixedOffset)> {
    if let Some(naive) = text.strip_suffix('Z') {
        return Some((naive, FixedOffset::east_opt(0)?));
    }
    let time_start = text.find(['T', ' '])?;
    match text[time_start..].rfind(['+', '-']) {
        None => Some((text, market_offset())),
        Some(at) => {
            let (naive, offset) = text.split_at(time_start + at);
            Some((naive, parse_offset(offset)?))
        }
    }
}

fn parse_offset(text: &str) -> Option<FixedOffset> {
    let sign = if text.starts_with('-') { -1 } else { 1 };
    let digits: String = text[1..].chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let hours: i32 = digits[..2].parse().ok()?;
    let minutes: i32 = digits[2..].parse().ok()?;
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
}

fn parse_naive(text: &str) -> Option<NaiveDateTime> {
    canonical(text).or_else(|| FORMATS.iter().find_map(|f| NaiveDateTime::parse_from_str(text, f).ok()))
}

/// The forms of a market time, as chrono formats.
const FORMATS: [&str; 4] = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"];

/// `YYYY-MM-DD HH:MM[:SS[.f]]` (or with `T`), zero-padded, up to nine fraction digits: the form
/// nearly every time comes in, read digit by digit (chrono re-reads its format string on every
/// call). Anything else is `None` and goes to [`FORMATS`], which accept this and more alike.
fn canonical(text: &str) -> Option<NaiveDateTime> {
    let b = text.as_bytes();
    if b.len() < 16 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b' ') || b[13] != b':' {
        return None;
    }
    let digits = |part: &[u8]| -> Option<u32> {
        part.iter().try_fold(0u32, |n, &c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')))
    };
    let date = NaiveDate::from_ymd_opt(digits(&b[0..4])? as i32, digits(&b[5..7])?, digits(&b[8..10])?)?;
    let (hour, minute) = (digits(&b[11..13])?, digits(&b[14..16])?);
    let (second, nanos) = match &b[16..] {
        [] => (0, 0),
        [b':', s0, s1, rest @ ..] => {
            let nanos = match rest {
                [] => 0,
                [b'.', fraction @ ..] if (1..=9).contains(&fraction.len()) => {
                    digits(fraction)? * 10u32.pow(9 - fraction.len() as u32)
                }
                _ => return None,
            };
            (digits(&[*s0, *s1])?, nanos)
        }
        _ => return None,
    };
    if second > 59 {
        return None;
    }
    date.and_hms_nano_opt(hour, minute, second, nanos)
}

/// The instant a bar is labelled with, held as epoch seconds; shown in market time.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Frame(i64);

impl Frame {
    pub const fn from_epoch_seconds(secs: i64) -> Frame {
        Frame(secs)
    }

    /// The frame at `sec_of_day` on market-local `day`.
    pub fn at(day: DayNumber, sec_of_day: u32) -> Frame {
        Frame(epoch_ms(day, sec_of_day) / 1000)
    }

    pub fn from_local(local: NaiveDateTime) -> Frame {
        Frame(local.and_utc().timestamp() - i64::from(MARKET_OFFSET_SECS))
    }

    pub const fn epoch_seconds(self) -> i64 {
        self.0
    }

    /// Market-local date and time of day.
    pub fn local(self) -> NaiveDateTime {
        DateTime::from_timestamp(self.0 + i64::from(MARKET_OFFSET_SECS), 0)
            .expect("frames come from valid instants")
            .naive_utc()
    }

    pub fn date(self) -> NaiveDate {
        self.local().date()
    }

    pub fn time(self) -> NaiveTime {
        self.local().time()
    }

    /// `2026-11-20T09:31:00+08:00`, the form of API responses.
    pub fn to_iso8601(self) -> String {
        format!("{}+08:00", self.local().format("%Y-%m-%dT%H:%M:%S"))
    }
}

/// `2023-02-01T09:30:00.120+08:00`: an instant in ms as the API writes a tick's time.
pub fn iso8601_ms(epoch_ms: i64) -> String {
    let frame = Frame::from_epoch_seconds(epoch_ms.div_euclid(1000));
    format!("{}.{:03}+08:00", frame.local().format("%Y-%m-%dT%H:%M:%S"), epoch_ms.rem_euclid(1000))
}

impl FromStr for Frame {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let ms = parse_datetime(s)?;
        if ms % 1000 != 0 {
            return Err(Error::InvalidTime(s.to_owned()));
        }
        Ok(Frame(ms / 1000))
    }
}

/// `2026-11-20 09:31:00`, market time.
impl fmt::Display for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.local().format("%Y-%m-%d %H:%M:%S"))
    }
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Frame {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_iso8601())
    }
}

impl<'de> Deserialize<'de> for Frame {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// What chrono's formats alone make of `text`.
    fn by_formats(text: &str) -> Option<NaiveDateTime> {
        FORMATS.iter().find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
    }

    #[test]
    fn a_tick_time_reads_back_to_its_millisecond() {
        let ms = parse_datetime("2023-02-01T09:30:00.120").unwrap();
        assert_eq!(iso8601_ms(ms), "2023-02-01T09:30:00.120+08:00");
        assert_eq!(parse_datetime(&iso8601_ms(ms + 1)).unwrap(), ms + 1);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        #[test]
        fn the_digit_reader_agrees_with_chrono_wherever_it_answers(
            text in "[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]{0,11})?)?[Z+0-9:]{0,3}"
        ) {
            if let Some(fast) = canonical(&text) {
                prop_assert_eq!(Some(fast), by_formats(&text), "{}", text);
            }
            prop_assert_eq!(parse_naive(&text), by_formats(&text), "{}", text);
        }

        #[test]
        fn valid_canonical_times_take_the_digit_reader(secs in 946_684_800i64..4_102_444_800, nanos in 0u32..1_000_000_000, t in any::<bool>()) {
            let time = DateTime::from_timestamp(secs, nanos).unwrap().naive_utc();
            let text = time.format(if t { "%Y-%m-%dT%H:%M:%S%.f" } else { "%Y-%m-%d %H:%M:%S%.f" }).to_string();
            prop_assert_eq!(canonical(&text), Some(time), "{}", text);
        }
    }

    fn local(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn an_iso_time_without_offset_means_asia_shanghai() {
        let expected = Frame::from_local(local("2026-11-20 09:31:00"));
        for s in [
            "2026-11-20T09:31:00",
            "2026-11-20 09:31:00",
            "2026-11-20 09:31",
            "2026-11-20T09:31:00+08:00",
            "2026-11-20T09:31:00+0800",
            "2026-11-20T01:31:00Z",
            "2026-11-20T02:31:00+01:00",
            "2026-11-19T20:31:00-05:00",
        ] {
            assert_eq!(s.parse::<Frame>().unwrap(), expected, "{s}");
        }
    }

    #[test]
    fn responses_carry_the_offset_in_24_hour_form() {
        let f = Frame::from_local(local("2026-11-20 13:01:00"));
        assert_eq!(f.to_iso8601(), "2026-11-20T13:01:00+08:00");
        assert_eq!(serde_json::to_string(&f).unwrap(), "\"2026-11-20T13:01:00+08:00\"");
        assert_eq!(f.to_string(), "2026-11-20 13:01:00");
    }

    #[test]
    fn garbage_times_are_errors() {
        for s in [
            "2026-11-20 99:99:99",
            "2026-11-20 09:31 PM",
            "2026-13-01 09:31:00",
            "09:31:00",
            "",
            "2026-11-20T09:31:00+8",
        ] {
            assert!(matches!(parse_datetime(s), Err(Error::InvalidTime(_))), "{s}");
        }
    }

    #[test]
    fn epoch_milliseconds_split_into_market_day_and_second() {
        let ms = parse_datetime("2026-11-20T00:00:01").unwrap();
        let (day, sec) = split_ms(ms);
        assert_eq!((date_of(day), sec), (NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(), 1));
        assert_eq!(epoch_ms(day, sec), ms);
        let (prev, sec) = split_ms(ms - 2000);
        assert_eq!((prev, sec), (day - 1, 86_399));
    }
}
